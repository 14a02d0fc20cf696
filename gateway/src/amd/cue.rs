//! When to leave a message on an answering machine: after its beep, sans-IO.
//!
//! A machine plays its greeting, then most beep — a steady tone, most between 400 Hz and
//! 2 kHz, a tenth of a second to a second or two — and then record. A message started before
//! the beep ends is cut short or lost, so the message waits for its cue, listening to the
//! customer's side (decoded to 8 kHz 16-bit PCM) from the machine verdict on:
//!
//! - **the beep's end**: a run of at least [`MIN_BEEP`] of tonal frames — loud enough
//!   ([`MIN_TONE_DBFS`]) and with nearly all of the frame's energy at one frequency, the same
//!   within [`TONE_DRIFT_HZ`] from frame to frame — followed by a frame that is not. Voiced
//!   speech has its energy spread over a pitch's harmonics and a pitch that moves, so words
//!   do not pass for a beep;
//! - **silence**: [`SILENCE`] without a sound (a machine that does not beep, or one whose beep
//!   was before the cue started listening) — counted in time as well as in audio, so a line
//!   that sends nothing during silence is silent too;
//! - at the latest **[`MAX_WAIT`]** after the start (a greeting that never ends).
//!
//! Invariants: the cue comes once ([`Cue::fired`] stays set); [`Cue::poll_timeout`] names
//! when time alone could bring it, and is `None` after; memory is fixed (one frame being
//! filled); no input panics: chunks of any length are framed as they come.

use std::time::{Duration, Instant};

use super::{FRAME_SAMPLES, Framer, RATE, frame_level};

/// The shortest tone taken for a beep.
pub const MIN_BEEP: Duration = Duration::from_millis(100);
/// Quiet this long and the message starts.
pub const SILENCE: Duration = Duration::from_millis(2500);
/// The message starts this long after the cue began listening, whatever was heard.
pub const MAX_WAIT: Duration = Duration::from_secs(20);
/// A beep is at least this loud (RMS over the frame).
pub const MIN_TONE_DBFS: f32 = -35.0;
/// A sound is at least this loud; anything quieter is silence.
pub const MIN_SOUND_DBFS: f32 = -42.0;
/// A beep's pitch moves at most this much from frame to frame.
pub const TONE_DRIFT_HZ: f64 = 60.0;
/// The share of a frame's energy at its strongest frequency that makes it a tone.
const TONE_SHARE: f64 = 0.7;
/// The frequencies a beep is looked for at: 350 Hz to 2.5 kHz in 25 Hz steps.
const LOWEST_HZ: f64 = 350.0;
const HIGHEST_HZ: f64 = 2500.0;
const STEP_HZ: f64 = 25.0;

/// Why the message may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A beep has just ended.
    Beep,
    /// Nothing was heard for [`SILENCE`].
    Silence,
    /// [`MAX_WAIT`] has passed.
    MaxWait,
}

/// Listens for the moment to start a message: see the module docs.
#[derive(Debug)]
pub struct Cue {
    started: Instant,
    /// When the last sound was heard (the start, before any).
    last_sound: Instant,
    framer: Framer,
    /// Tonal frames in a row, and the frequency of the last one.
    tone_frames: u32,
    tone_hz: f64,
    fired: Option<Reason>,
}

impl Cue {
    /// A cue that starts listening at `now`.
    pub fn new(now: Instant) -> Self {
        Cue {
            started: now,
            last_sound: now,
            framer: Framer::default(),
            tone_frames: 0,
            tone_hz: 0.0,
            fired: None,
        }
    }

    /// Why the message may start, once it may.
    pub fn fired(&self) -> Option<Reason> {
        self.fired
    }

    /// When time alone brings the cue (silence, or the longest wait); `None` once it came.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.fired.is_some() {
            return None;
        }
        Some((self.last_sound + SILENCE).min(self.started + MAX_WAIT))
    }

    /// Time has passed: the cue comes if the silence or the wait is long enough.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.fired.is_some() {
            return;
        }
        if now >= self.started + MAX_WAIT {
            self.fired = Some(Reason::MaxWait);
        } else if now >= self.last_sound + SILENCE {
            self.fired = Some(Reason::Silence);
        }
    }

    /// The customer's audio heard at `now`.
    pub fn push(&mut self, now: Instant, mut samples: &[i16]) {
        while self.fired.is_none() && !samples.is_empty() {
            let frame;
            (frame, samples) = self.framer.fill(samples);
            if let Some(frame) = frame {
                self.frame(now, &frame);
            }
        }
        self.handle_timeout(now);
    }

    fn frame(&mut self, now: Instant, frame: &[i16; FRAME_SAMPLES]) {
        let level = frame_level(frame);
        if level >= MIN_SOUND_DBFS {
            self.last_sound = now;
        }
        let tone = (level >= MIN_TONE_DBFS).then(|| tone_of(frame)).flatten();
        match tone {
            Some(hz) if self.tone_frames == 0 || (hz - self.tone_hz).abs() <= TONE_DRIFT_HZ => {
                self.tone_frames += 1;
                self.tone_hz = hz;
            }
            // A new tone at another pitch: a run of its own.
            Some(hz) => {
                self.tone_frames = 1;
                self.tone_hz = hz;
            }
            None => {
                let beep = super::FRAME * self.tone_frames >= MIN_BEEP;
                self.tone_frames = 0;
                if beep {
                    self.fired = Some(Reason::Beep);
                }
            }
        }
    }
}

/// The frequency holding nearly all of the frame's energy, if one does (Goertzel at each
/// candidate frequency).
fn tone_of(frame: &[i16; FRAME_SAMPLES]) -> Option<f64> {
    let energy: f64 = frame.iter().map(|s| f64::from(*s) * f64::from(*s)).sum();
    if energy <= 0.0 {
        return None;
    }
    let mut best = (0.0, 0.0);
    let mut hz = LOWEST_HZ;
    while hz <= HIGHEST_HZ {
        let w = 2.0 * std::f64::consts::PI * hz / f64::from(RATE);
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for x in frame {
            let s0 = f64::from(*x) + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        if power > best.0 {
            best = (power, hz);
        }
        hz += STEP_HZ;
    }
    // A pure tone at the frequency looked at gives 1.
    let share = 2.0 * best.0 / (FRAME_SAMPLES as f64 * energy);
    (share >= TONE_SHARE).then_some(best.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amd::synth::{Kind, clip};

    /// A sine of `hz` at `dbfs` RMS, `ms` long.
    fn tone(hz: f64, dbfs: f64, ms: u32) -> Vec<i16> {
        let amplitude = 32768.0 * 10f64.powf(dbfs / 20.0) * std::f64::consts::SQRT_2;
        (0..(ms * RATE / 1000))
            .map(|i| {
                let t = f64::from(i) / f64::from(RATE);
                (amplitude * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16
            })
            .collect()
    }

    /// Feeds `audio` in 20 ms packets from `start`; returns when (ms from the start) and why
    /// the cue came, if it did.
    fn listen(audio: &[i16], start: Instant) -> (Cue, Option<(u64, Reason)>) {
        let mut cue = Cue::new(start);
        for (i, packet) in audio.chunks(FRAME_SAMPLES).enumerate() {
            let now = start + super::super::FRAME * (i as u32 + 1);
            cue.push(now, packet);
            if let Some(r) = cue.fired() {
                return (cue, Some(((now - start).as_millis() as u64, r)));
            }
        }
        (cue, None)
    }

    #[test]
    fn the_message_starts_just_after_the_beep() {
        let start = Instant::now();
        for (seed, hz) in [(1u64, 1000.0), (2, 440.0), (3, 1400.0), (4, 2000.0), (5, 853.0)] {
            // The rest of a greeting, the beep, then the machine records (line noise).
            let mut audio = clip(Kind::Machine, seed, Some(30.0), 3.0).samples;
            audio.extend(tone(hz, -18.0, 400));
            let beep_end = audio.len() as u64 * 1000 / u64::from(RATE);
            audio.extend(clip(Kind::Silence, seed, Some(30.0), 2.0).samples);
            let (_, cue) = listen(&audio, start);
            let (at, why) = cue.expect("a cue");
            assert_eq!(why, Reason::Beep, "seed {seed}, {hz} Hz");
            assert!(
                at > beep_end && at <= beep_end + 60,
                "seed {seed}: at {at} ms, beep ended {beep_end}"
            );
        }
    }

    #[test]
    fn words_are_not_a_beep() {
        let start = Instant::now();
        for seed in 0..30 {
            for snr in [None, Some(20.0)] {
                let audio = clip(Kind::Machine, seed, snr, 12.0).samples;
                let (_, cue) = listen(&audio, start);
                assert_eq!(
                    cue, None,
                    "seed {seed}: a greeting with no beep gives no cue while it goes on"
                );
            }
        }
    }

    #[test]
    fn a_click_is_too_short_for_a_beep() {
        let start = Instant::now();
        let mut audio = tone(1000.0, -12.0, 60);
        audio.extend(vec![0i16; 800]);
        let (cue, fired) = listen(&audio, start);
        assert_eq!(fired, None);
        assert_eq!(cue.poll_timeout(), Some(start + super::super::FRAME * 3 + SILENCE));
    }

    #[test]
    fn without_a_beep_silence_starts_the_message() {
        let start = Instant::now();
        let mut audio = clip(Kind::Machine, 7, None, 2.0).samples;
        audio.extend(vec![0i16; 4 * RATE as usize]);
        let (_, fired) = listen(&audio, start);
        let (at, why) = fired.expect("a cue");
        assert_eq!(why, Reason::Silence);
        assert!((2000 + 2400..=2000 + 2600).contains(&at), "{at} ms");
    }

    #[test]
    fn a_line_that_sends_nothing_is_silent_and_a_greeting_that_never_ends_is_waited_out() {
        let start = Instant::now();
        let mut quiet = Cue::new(start);
        assert_eq!(quiet.poll_timeout(), Some(start + SILENCE));
        quiet.handle_timeout(start + SILENCE - Duration::from_millis(1));
        assert_eq!(quiet.fired(), None);
        quiet.handle_timeout(start + SILENCE);
        assert_eq!(quiet.fired(), Some(Reason::Silence));
        assert_eq!(quiet.poll_timeout(), None);

        let endless = clip(Kind::Machine, 9, None, 25.0).samples;
        let (cue, fired) = listen(&endless, start);
        assert_eq!(fired.map(|f| f.1), Some(Reason::MaxWait));
        assert_eq!(cue.fired(), Some(Reason::MaxWait));
    }

    #[test]
    fn odd_chunks_and_loud_audio_do_not_panic() {
        let start = Instant::now();
        let mut cue = Cue::new(start);
        cue.push(start, &[]);
        cue.push(start, &[i16::MAX; 7]);
        cue.push(start, &[i16::MIN; 333]);
        let beep = tone(1000.0, -6.0, 200);
        for chunk in beep.chunks(37) {
            cue.push(start + Duration::from_millis(10), chunk);
        }
        cue.push(start + Duration::from_millis(300), &[0; 160]);
        assert_eq!(cue.fired(), Some(Reason::Beep));
        cue.push(start + Duration::from_secs(30), &[0; 160]);
        assert_eq!(cue.fired(), Some(Reason::Beep), "once");
    }
}
