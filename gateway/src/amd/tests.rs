//! The detector on generated greetings, in virtual time.

use std::time::{Duration, Instant};

use super::synth::{Kind, clip};
use super::*;

/// Feeds `samples` in `chunk`-sized pieces at their real pace (virtual time), serving the
/// deadline as the owner would; returns every detection handed out and when the feeding
/// stopped mattering.
fn run_chunked(samples: &[i16], chunk: usize) -> Vec<Detection> {
    let start = Instant::now();
    let mut d = Detector::new(start, Config::default()).unwrap();
    let mut out = Vec::new();
    let mut fed = 0usize;
    for piece in samples.chunks(chunk.max(1)) {
        fed += piece.len();
        let now = start + Duration::from_micros(fed as u64 * 125);
        d.push(now, piece);
        out.extend(std::iter::from_fn(|| d.poll_output()));
    }
    // Nothing more comes: the deadline decides.
    if let Some(deadline) = d.poll_timeout() {
        d.handle_timeout(deadline);
    }
    out.extend(std::iter::from_fn(|| d.poll_output()));
    assert!(d.poll_timeout().is_none(), "no deadline once decided");
    out
}

fn detect(samples: &[i16]) -> Detection {
    let all = run_chunked(samples, FRAME_SAMPLES);
    assert_eq!(all.len(), 1, "exactly one detection: {all:?}");
    assert!(all[0].after <= Duration::from_secs(3), "{:?}", all[0]);
    all[0]
}

/// Verdict counts over `seeds` clips of `kind` at `snr`.
fn tally(kind: Kind, snr: Option<f64>, seeds: std::ops::Range<u64>) -> [usize; 3] {
    let mut counts = [0; 3];
    for seed in seeds {
        let c = clip(kind, seed, snr, 4.0);
        let d = detect(&c.samples);
        counts[d.verdict as usize] += 1;
    }
    counts
}

#[test]
fn a_short_hello_then_silence_is_a_person() {
    for snr in [None, Some(30.0), Some(20.0), Some(15.0)] {
        let [human, machine, unsure] = tally(Kind::Human, snr, 0..40);
        assert_eq!(machine, 0, "snr {snr:?}: {human} human, {machine} machine, {unsure} unsure");
        assert!(human >= 38, "snr {snr:?}: {human} human, {machine} machine, {unsure} unsure");
    }
}

#[test]
fn a_long_greeting_is_a_machine() {
    for snr in [None, Some(30.0), Some(20.0), Some(15.0)] {
        let [human, machine, unsure] = tally(Kind::Machine, snr, 100..140);
        assert_eq!(human, 0, "snr {snr:?}: {human} human, {machine} machine, {unsure} unsure");
        assert!(machine >= 38, "snr {snr:?}: {human} human, {machine} machine, {unsure} unsure");
    }
}

#[test]
fn greetings_of_three_to_six_seconds_are_machines_within_three_seconds() {
    for (seed, seconds) in [(1u64, 3.0), (2, 4.0), (3, 5.0), (4, 6.0)] {
        let c = clip(Kind::Machine, seed, Some(25.0), seconds);
        let d = detect(&c.samples);
        assert_eq!(d.verdict, Verdict::Machine, "{seconds} s: {d:?}");
        assert!(d.greeting >= Duration::from_millis(1500), "{d:?}");
    }
}

#[test]
fn a_person_is_told_soon_after_the_hello() {
    let c = clip(Kind::Human, 7, Some(30.0), 4.0);
    let (_, end) = c.speech.unwrap();
    let d = detect(&c.samples);
    assert_eq!(d.verdict, Verdict::Human);
    let spoken = Duration::from_micros(end as u64 * 125);
    // The silence that ends a greeting, plus a frame or two of onset and offset.
    assert!(
        d.after <= spoken + Duration::from_millis(900),
        "{d:?} after speech ended at {spoken:?}"
    );
}

#[test]
fn silence_is_unsure_at_the_deadline() {
    for snr in [None, Some(30.0), Some(10.0)] {
        let c = clip(Kind::Silence, 5, snr, 4.0);
        let d = detect(&c.samples);
        assert_eq!(d.verdict, Verdict::Unsure, "snr {snr:?}");
        assert_eq!(d.after, Duration::from_secs(3), "the whole window was heard");
    }
    // Digital silence and no audio at all alike.
    assert_eq!(detect(&[0; 8000 * 4]).verdict, Verdict::Unsure);
    let start = Instant::now();
    let mut d = Detector::new(start, Config::default()).unwrap();
    assert_eq!(d.poll_timeout(), Some(start + Duration::from_secs(3)));
    d.handle_timeout(start + Duration::from_secs(1));
    assert_eq!(d.poll_output(), None, "not before the deadline");
    d.handle_timeout(start + Duration::from_secs(3));
    let got = d.poll_output().unwrap();
    assert_eq!((got.verdict, got.after), (Verdict::Unsure, Duration::from_secs(3)));
    assert_eq!(d.poll_output(), None, "handed out once");
}

#[test]
fn a_hello_followed_by_nothing_at_all_is_a_person_at_the_deadline() {
    // A carrier that sends no packets while the line is quiet: the hello, then nothing.
    let c = clip(Kind::Human, 11, None, 4.0);
    let (_, end) = c.speech.unwrap();
    let start = Instant::now();
    let mut d = Detector::new(start, Config::default()).unwrap();
    for (i, frame) in
        c.samples[..end.div_ceil(FRAME_SAMPLES) * FRAME_SAMPLES].chunks(FRAME_SAMPLES).enumerate()
    {
        d.push(start + FRAME * (i as u32 + 1), frame);
    }
    assert_eq!(d.poll_output(), None);
    d.handle_timeout(d.poll_timeout().unwrap());
    assert_eq!(d.poll_output().map(|d| d.verdict), Some(Verdict::Human));
}

#[test]
fn odd_chunks_give_the_same_verdicts_as_whole_frames() {
    for (kind, seed) in [(Kind::Human, 3), (Kind::Machine, 4), (Kind::Silence, 5)] {
        let c = clip(kind, seed, Some(20.0), 4.0);
        let whole = detect(&c.samples).verdict;
        for chunk in [1, 7, 159, 161, 240, 333, 4000] {
            let all = run_chunked(&c.samples, chunk);
            assert_eq!(all.len(), 1, "{kind:?} in chunks of {chunk}");
            assert_eq!(all[0].verdict, whole, "{kind:?} in chunks of {chunk}");
        }
    }
}

#[test]
fn bad_input_never_panics() {
    let start = Instant::now();
    let mut d = Detector::new(start, Config::default()).unwrap();
    d.push(start, &[]);
    d.push(start, &[i16::MIN]);
    // Clipped full-scale audio, on and off like words.
    let mut loud = Vec::new();
    for word in 0..20 {
        let on = if word % 2 == 0 { i16::MAX } else { i16::MIN };
        loud.extend(std::iter::repeat_n(on, 1600));
        loud.extend(std::iter::repeat_n(if word % 3 == 0 { i16::MIN } else { 0 }, 800));
    }
    let mut t = start;
    for piece in loud.chunks(333) {
        t += Duration::from_micros(333 * 125);
        d.push(t, piece);
    }
    let first = d.poll_output().expect("a verdict");
    assert!(first.after <= Duration::from_secs(3));
    // Audio and time after the verdict change nothing.
    d.push(t, &loud);
    d.handle_timeout(t + Duration::from_secs(60));
    d.finish(t + Duration::from_secs(61));
    assert_eq!(d.poll_output(), None);
    assert_eq!(d.detection(), Some(first));
    // A burst of audio far faster than real time stops at the window's worth.
    let mut fast = Detector::new(start, Config::default()).unwrap();
    fast.push(start, &clip(Kind::Silence, 1, Some(20.0), 10.0).samples);
    assert_eq!(fast.poll_output().map(|d| d.verdict), Some(Verdict::Unsure));
    // A clock that goes backwards.
    let mut back = Detector::new(start + Duration::from_secs(5), Config::default()).unwrap();
    back.push(start, &[100; 480]);
    back.finish(start);
    assert_eq!(
        back.poll_output().map(|d| (d.verdict, d.after)),
        Some((Verdict::Unsure, Duration::ZERO))
    );
}

#[test]
fn a_call_that_ends_early_still_gets_its_verdict() {
    let c = clip(Kind::Machine, 9, Some(30.0), 4.0);
    let start = Instant::now();
    let mut d = Detector::new(start, Config::default()).unwrap();
    // Half a second of greeting, then the far end hangs up.
    let (s, _) = c.speech.unwrap();
    for (i, frame) in c.samples[..s + 4000].chunks(FRAME_SAMPLES).enumerate() {
        d.push(start + FRAME * (i as u32 + 1), frame);
    }
    let now = start + Duration::from_micros((s + 4000) as u64 * 125);
    d.finish(now);
    let got = d.poll_output().unwrap();
    assert_eq!(got.after, now - start);
    assert_ne!(got.verdict, Verdict::Human, "a greeting cut short is no hello: {got:?}");
    assert_eq!(d.poll_output(), None);
}

#[test]
fn settings_out_of_range_are_refused() {
    let now = Instant::now();
    for bad in [
        Config { window: Duration::ZERO, ..Config::default() },
        Config { window: Duration::from_secs(60), ..Config::default() },
        Config { voice_margin_db: f32::NAN, ..Config::default() },
        Config { min_voice_dbfs: 3.0, ..Config::default() },
        Config { max_words: 0, ..Config::default() },
        Config { after_greeting_silence: Duration::ZERO, ..Config::default() },
    ] {
        assert!(matches!(Detector::new(now, bad), Err(AmdError::Config(_))));
    }
}

#[test]
fn frame_levels_are_in_dbfs() {
    assert_eq!(frame_level(&[]), -96.0);
    assert_eq!(frame_level(&[0; 160]), -96.0);
    assert!(frame_level(&[i16::MIN; 160]).abs() < 0.01);
    let sine: Vec<i16> = (0..160)
        .map(|i| (16384.0 * (2.0 * std::f64::consts::PI * i as f64 / 16.0).sin()) as i16)
        .collect();
    // Half scale sine: −6 dB for the amplitude, −3 dB for RMS.
    assert!((frame_level(&sine) + 9.03).abs() < 0.1, "{}", frame_level(&sine));
}

#[test]
fn generated_clips_are_what_they_say() {
    let human = clip(Kind::Human, 1, None, 4.0);
    let (s, e) = human.speech.unwrap();
    assert!(e - s <= 1500 * 8 && e - s >= 100 * 8, "{s}..{e}");
    let machine = clip(Kind::Machine, 1, None, 4.0);
    let (s, e) = machine.speech.unwrap();
    assert!(e - s >= 3000 * 8, "{s}..{e}");
    assert!(clip(Kind::Silence, 1, Some(20.0), 4.0).speech.is_none());
    assert_eq!(
        clip(Kind::Machine, 1, Some(20.0), 4.0).samples,
        clip(Kind::Machine, 1, Some(20.0), 4.0).samples
    );
    assert_eq!(human.samples.len(), 32000);
}
