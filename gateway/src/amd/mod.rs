//! Answering-machine detection, sans-IO: from the first seconds of an answered call's audio
//! (the customer's side, decoded to 8 kHz 16-bit PCM), tells a person from a machine.
//!
//! A person picks up and says something short ("Hello?", "Yes, hello", "Hi, who's this?":
//! about 0.3–1.5 s) and then waits, silent, for an answer. A machine plays a long greeting
//! ("Hi, you've reached the Johnsons, we can't come to the phone right now…"): more than two
//! seconds of words with only short gaps between them. The detector measures just that:
//!
//! - **voice activity** per 20 ms frame, by energy: a frame is voice when it stands
//!   [`Config::voice_margin_db`] above the call's own noise floor (and above
//!   [`Config::min_voice_dbfs`]). The floor adapts to the line: it is a low percentile of the
//!   levels heard so far (the pauses between words and after a greeting are noise only), and
//!   every frame heard so far is classified again whenever the floor moves, so a greeting
//!   that starts at the very first frame is measured as well as one that starts later;
//! - **words**: runs of voice frames (dips shorter than [`Config::syllable_gap`] are bridged,
//!   runs shorter than [`Config::min_word`] are clicks and ignored);
//! - **the greeting**: the first words, up to the first silence of
//!   [`Config::after_greeting_silence`]; its length, its number of words, and the silence
//!   after it.
//!
//! Verdicts: [`Verdict::Machine`] as soon as the greeting is longer than
//! [`Config::machine_greeting`] or has [`Config::max_words`] words; [`Verdict::Human`] as soon
//! as a shorter greeting is followed by [`Config::after_greeting_silence`] of silence. When
//! [`Config::window`] has passed without either (in audio heard or in time since the answer,
//! whichever comes first), the last call is made on what was heard: a greeting longer than
//! [`Config::human_greeting`] is a machine's (it started late, as machines' often do), a
//! shorter one followed by [`Config::final_silence`] is a person's, anything else —
//! including a line silent from the start — is [`Verdict::Unsure`]. Silence is not called a
//! machine (some detectors do): a person who picks up and waits for us to speak first is
//! common, and the campaign decides what an unsure call gets.
//!
//! The defaults lean towards a person: a person hung up on as a machine is an abandoned call
//! (and a lost customer), a machine passed to an agent costs a few seconds of their time.
//! `scripts/amd.sh` measures them on synthetic and spoken greetings.
//!
//! Invariants:
//! - exactly one [`Detection`] per detector ([`Detector::poll_output`] hands it out once), at
//!   most [`Config::window`] after the start: [`Detector::poll_timeout`] names the deadline
//!   until the verdict is reached, and the owner calls [`Detector::handle_timeout`] then (the
//!   window's audio arriving late in one batch is still the window's: a verdict reached on it
//!   counts as reached at the deadline);
//! - audio the far end never sent (lost packets, a carrier that sends nothing during
//!   silence) counts as silence when the deadline comes;
//! - no input panics: empty or odd-length chunks are framed as they come, full-scale audio is
//!   just loud, audio after the verdict is ignored;
//! - memory is fixed at construction (one level per frame of the window); nothing is
//!   allocated per frame.

pub mod cue;
pub mod synth;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Samples per second.
pub const RATE: u32 = 8000;
/// Samples per analysis frame (20 ms).
pub const FRAME_SAMPLES: usize = 160;
/// One analysis frame.
pub const FRAME: Duration = Duration::from_millis(20);

/// The level of a frame of digital zeros (and the lowest level a frame is given).
const FLOOR_DBFS: f32 = -96.0;

/// What the detector concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A person answered.
    Human,
    /// An answering machine or voicemail answered.
    Machine,
    /// Neither could be told in time (silence, or audio that fits neither).
    Unsure,
}

impl Verdict {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Human => "human",
            Verdict::Machine => "machine",
            Verdict::Unsure => "unsure",
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmdError {
    /// A setting out of its range.
    #[error("answering-machine detection: {0}")]
    Config(String),
}

/// The detector's settings; the defaults suit ordinary phone lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The longest the detector listens: the verdict comes at most this long after the start
    /// (at most 10 s).
    pub window: Duration,
    /// How far above the noise floor a frame must be to be voice, in dB.
    pub voice_margin_db: f32,
    /// The quietest frame that can be voice, in dBFS (RMS over the frame).
    pub min_voice_dbfs: f32,
    /// Dips in voice shorter than this belong to the word around them.
    pub syllable_gap: Duration,
    /// Voice shorter than this is a click, not a word.
    pub min_word: Duration,
    /// The silence that ends a greeting (and, after a short greeting, makes it a person's).
    pub after_greeting_silence: Duration,
    /// A greeting at least this long is a machine's.
    pub machine_greeting: Duration,
    /// A greeting with this many words is a machine's.
    pub max_words: u32,
    /// At the deadline: a greeting still going after this long is a machine's; one no longer
    /// than this and followed by [`Config::final_silence`] is a person's.
    pub human_greeting: Duration,
    /// At the deadline: the silence after a short greeting that makes it a person's.
    pub final_silence: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(3),
            voice_margin_db: 10.0,
            min_voice_dbfs: -45.0,
            syllable_gap: Duration::from_millis(60),
            min_word: Duration::from_millis(60),
            after_greeting_silence: Duration::from_millis(800),
            machine_greeting: Duration::from_millis(2000),
            max_words: 6,
            human_greeting: Duration::from_millis(1500),
            final_silence: Duration::from_millis(300),
        }
    }
}

impl Config {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), AmdError> {
        let bad = |what: &str| Err(AmdError::Config(what.to_owned()));
        if self.window < FRAME * 5 || self.window > Duration::from_secs(10) {
            return bad("the window must be between 100 ms and 10 s");
        }
        if !(0.0..=60.0).contains(&self.voice_margin_db) {
            return bad("the voice margin must be between 0 and 60 dB");
        }
        if !(-90.0..=0.0).contains(&self.min_voice_dbfs) {
            return bad("the quietest voice must be between -90 and 0 dBFS");
        }
        if self.max_words == 0 {
            return bad("a machine's greeting needs at least one word");
        }
        if self.after_greeting_silence.is_zero() || self.machine_greeting.is_zero() {
            return bad("the greeting and silence lengths must not be zero");
        }
        Ok(())
    }

    fn frames(d: Duration) -> usize {
        (d.as_millis() / FRAME.as_millis()) as usize
    }
}

/// The verdict, when it was reached, and what it rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detection {
    /// The verdict.
    pub verdict: Verdict,
    /// Time from the start to the verdict.
    pub after: Duration,
    /// The greeting's length as heard (zero when nobody spoke).
    pub greeting: Duration,
    /// Words in the greeting.
    pub words: u32,
}

/// What the frames heard so far add up to (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Analysis {
    /// First and last voice frame of the greeting (end exclusive), if anyone spoke.
    greeting: Option<(usize, usize)>,
    words: u32,
    /// Whether a silence of `after_greeting_silence` followed the greeting.
    ended: bool,
}

/// The detector: see the module docs.
#[derive(Debug)]
pub struct Detector {
    config: Config,
    started: Instant,
    deadline: Instant,
    /// Level of each frame heard, in dBFS (capacity: the window's frames).
    levels: Vec<f32>,
    /// Frames in the window.
    max_frames: usize,
    /// The same levels, sorted: the floor is read from it.
    sorted: Vec<f32>,
    /// Samples of the frame being filled.
    framer: Framer,
    detection: Option<Detection>,
    delivered: bool,
}

impl Detector {
    /// A detector that starts listening at `now` (the answer).
    pub fn new(now: Instant, config: Config) -> Result<Self, AmdError> {
        config.validate()?;
        let frames = Config::frames(config.window);
        Ok(Self {
            deadline: now + config.window,
            config,
            started: now,
            levels: Vec::with_capacity(frames),
            max_frames: frames,
            sorted: Vec::with_capacity(frames),
            framer: Framer::default(),
            detection: None,
            delivered: false,
        })
    }

    /// Takes audio heard at `now`: any number of samples (it is cut into 20 ms frames).
    /// Ignored once the verdict is reached.
    pub fn push(&mut self, now: Instant, mut samples: &[i16]) {
        while self.detection.is_none() && !samples.is_empty() {
            let frame;
            (frame, samples) = self.framer.fill(samples);
            if let Some(frame) = frame {
                self.on_frame(now, frame_level(&frame));
            }
        }
        if self.detection.is_none() && now >= self.deadline {
            self.handle_timeout(now);
        }
    }

    /// Time passed: at the deadline, the verdict is made on what was heard.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.detection.is_none() && now >= self.deadline {
            self.conclude(now, self.config.window);
        }
    }

    /// Ends listening early (the call ended): the verdict is made on what was heard, the
    /// time not heard since the start counting as silence. Nothing changes once decided.
    pub fn finish(&mut self, now: Instant) {
        if self.detection.is_none() {
            let elapsed = now.saturating_duration_since(self.started).min(self.config.window);
            self.conclude(now, elapsed);
        }
    }

    /// The detection, exactly once.
    pub fn poll_output(&mut self) -> Option<Detection> {
        if self.delivered {
            return None;
        }
        let d = self.detection?;
        self.delivered = true;
        Some(d)
    }

    /// When [`Detector::handle_timeout`] must be called; `None` once the verdict is reached.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.detection.is_none().then_some(self.deadline)
    }

    /// When the verdict is due at the latest: the start plus [`Config::window`].
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The detection, once reached (whether or not handed out).
    pub fn detection(&self) -> Option<Detection> {
        self.detection
    }

    fn on_frame(&mut self, now: Instant, level: f32) {
        self.levels.push(level);
        let at = self.sorted.partition_point(|l| *l < level);
        self.sorted.insert(at, level);
        let a = self.analyse();
        let verdict = self.early_verdict(&a);
        if let Some(verdict) = verdict {
            self.decide(now, verdict, &a);
        } else if self.levels.len() >= self.max_frames {
            // The whole window was heard (audio may come faster than real time).
            self.conclude(now, self.config.window);
        }
    }

    /// The voice threshold for the floor the levels show so far.
    fn threshold(&self) -> f32 {
        // A low percentile rather than the minimum: one odd frame does not set the floor.
        let floor = match self.sorted.len() {
            0 => FLOOR_DBFS,
            n => self.sorted[n / 10],
        };
        (floor + self.config.voice_margin_db).max(self.config.min_voice_dbfs)
    }

    /// Words and the greeting in the frames heard so far, with the current threshold.
    fn analyse(&self) -> Analysis {
        let threshold = self.threshold();
        let syllable_gap = Config::frames(self.config.syllable_gap);
        let min_word = Config::frames(self.config.min_word).max(1);
        let end_gap = Config::frames(self.config.after_greeting_silence).max(1);
        let mut a = Analysis::default();
        // The word being read: its first and last voice frame (exclusive end).
        let mut word: Option<(usize, usize)> = None;
        let close = |a: &mut Analysis, (start, end): (usize, usize)| {
            if end - start < min_word {
                return false;
            }
            match a.greeting.as_mut() {
                None => a.greeting = Some((start, end)),
                Some(g) if start - g.1 >= end_gap => {
                    a.ended = true;
                    return true;
                }
                Some(g) => g.1 = end,
            }
            a.words += 1;
            false
        };
        for (i, level) in self.levels.iter().enumerate() {
            if *level <= threshold {
                continue;
            }
            word = match word {
                Some((s, e)) if i - e <= syllable_gap => Some((s, i + 1)),
                Some(w) => {
                    if close(&mut a, w) {
                        return a;
                    }
                    Some((i, i + 1))
                }
                None => Some((i, i + 1)),
            };
        }
        if let Some(w) = word {
            let _ = close(&mut a, w);
        }
        if let Some((_, end)) = a.greeting {
            a.ended = a.ended || self.levels.len() - end >= end_gap;
        }
        a
    }

    fn early_verdict(&self, a: &Analysis) -> Option<Verdict> {
        let (start, end) = a.greeting?;
        if end - start >= Config::frames(self.config.machine_greeting)
            || a.words >= self.config.max_words
        {
            Some(Verdict::Machine)
        } else if a.ended {
            Some(Verdict::Human)
        } else {
            None
        }
    }

    /// The last call, `elapsed` after the start: audio not heard counts as silence.
    fn conclude(&mut self, now: Instant, elapsed: Duration) {
        let a = self.analyse();
        let verdict = self.early_verdict(&a).unwrap_or_else(|| match a.greeting {
            None => Verdict::Unsure,
            Some((start, end)) => {
                let heard_until = Config::frames(elapsed).max(self.levels.len());
                let silence = heard_until - end;
                if end - start > Config::frames(self.config.human_greeting) {
                    // Longer than people's hellos, and it started late: a machine's.
                    Verdict::Machine
                } else if silence >= Config::frames(self.config.final_silence) {
                    Verdict::Human
                } else {
                    Verdict::Unsure
                }
            }
        });
        self.decide(now, verdict, &a);
    }

    fn decide(&mut self, now: Instant, verdict: Verdict, a: &Analysis) {
        let greeting = a.greeting.map_or(0, |(s, e)| e - s) as u32;
        self.detection = Some(Detection {
            verdict,
            // Audio of the window that arrives late in one batch is still the window's.
            after: now.saturating_duration_since(self.started).min(self.config.window),
            greeting: FRAME * greeting,
            words: a.words,
        });
    }
}

/// Cuts audio that arrives in chunks of any length into whole 20 ms frames.
#[derive(Debug, Clone)]
pub struct Framer {
    pending: [i16; FRAME_SAMPLES],
    len: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Framer { pending: [0; FRAME_SAMPLES], len: 0 }
    }
}

impl Framer {
    /// Takes `samples` up to the end of the frame being filled: that frame when it is
    /// complete, and the samples not taken yet.
    pub fn fill<'a>(&mut self, samples: &'a [i16]) -> (Option<[i16; FRAME_SAMPLES]>, &'a [i16]) {
        let take = (FRAME_SAMPLES - self.len).min(samples.len());
        self.pending[self.len..self.len + take].copy_from_slice(&samples[..take]);
        self.len += take;
        if self.len < FRAME_SAMPLES {
            return (None, &samples[take..]);
        }
        self.len = 0;
        (Some(self.pending), &samples[take..])
    }
}

/// A frame's RMS level in dBFS (full-scale square wave = 0 dBFS).
pub fn frame_level(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return FLOOR_DBFS;
    }
    let energy: f64 = samples.iter().map(|s| f64::from(*s) * f64::from(*s)).sum();
    let mean = energy / samples.len() as f64 / (32768.0 * 32768.0);
    if mean <= 0.0 { FLOOR_DBFS } else { ((10.0 * mean.log10()) as f32).max(FLOOR_DBFS) }
}
