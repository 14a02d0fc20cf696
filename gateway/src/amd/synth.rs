//! Speech-like audio for the detector's tests and its accuracy benchmark: what a phone line
//! carries when a person or a machine answers, made from a seed.
//!
//! Speech here is voiced syllables: a pitch (95–230 Hz, drifting and falling over a word)
//! with its harmonics up to the telephone band's 3.4 kHz, shaped by two vowel formants that
//! change with every syllable, under a syllable envelope (rise, hold, fall), with a breath of
//! noise for consonants. Syllables make words, words are separated by short gaps, sentences
//! by longer pauses. The level is a phone line's (−28 to −16 dBFS RMS while speaking),
//! background noise can be added at a given signal-to-noise ratio, and the result goes
//! through G.711 μ-law and back, as it would on a call.
//!
//! - [`Kind::Human`]: after 0.15–0.9 s, one to three short words ("Hello?", "Yes, hello",
//!   "Hi, who's this?") lasting 0.3–1.4 s, then silence (the line's noise) for the rest.
//! - [`Kind::Machine`]: after 0.1–0.8 s, a greeting that goes on to the end of the clip:
//!   words of one to three syllables, gaps of 30–180 ms between them, a pause of
//!   250–500 ms every four to eight words.
//! - [`Kind::Silence`]: the line's noise only.
//!
//! The same kind, seed and noise always give the same samples.

use std::f64::consts::PI;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::RATE;
use crate::codec::{Codec, G711};

/// Who answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A person: a short hello, then silence.
    Human,
    /// A machine: a long greeting.
    Machine,
    /// Nobody says anything.
    Silence,
}

/// A generated clip.
#[derive(Debug, Clone)]
pub struct Clip {
    /// 8 kHz mono samples.
    pub samples: Vec<i16>,
    /// Where speech starts and ends, in samples (`None` for silence).
    pub speech: Option<(usize, usize)>,
}

/// A clip of `seconds` (at most 30) of what `kind` sounds like with this `seed`; with
/// `snr_db`, background noise that much below the speech level (without, a clean line).
pub fn clip(kind: Kind, seed: u64, snr_db: Option<f64>, seconds: f64) -> Clip {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5eed_a11d_0000_0000);
    let len = (seconds.clamp(0.0, 30.0) * f64::from(RATE)) as usize;
    let mut out = vec![0.0f64; len];
    let level_dbfs = rng.random_range(-28.0..-16.0);
    let amplitude = 32768.0 * 10f64.powf(level_dbfs / 20.0);
    let speaker = Speaker::new(&mut rng);
    let words = match kind {
        Kind::Human => human_plan(&mut rng),
        Kind::Machine => machine_plan(&mut rng, len),
        Kind::Silence => Vec::new(),
    };
    let mut speech: Option<(usize, usize)> = None;
    for word in &words {
        let mut at = word.start;
        let n = word.syllables.len();
        for (i, &length) in word.syllables.iter().enumerate() {
            // Pitch falls over a word; a question ("Hello?") rises at its end instead.
            let progress = i as f64 / n.max(1) as f64;
            let f0 = speaker.f0
                * if word.question { 1.0 + 0.25 * progress } else { 1.0 - 0.15 * progress }
                * rng.random_range(0.93..1.07);
            let end = (at + length).min(len);
            if at < end {
                speaker.syllable(&mut rng, &mut out[at..end], f0, amplitude);
                speech = Some(speech.map_or((at, end), |(s, _)| (s, end)));
            }
            at = end;
        }
    }
    if let Some(snr) = snr_db {
        let rms = amplitude * 10f64.powf(-snr / 20.0);
        for s in out.iter_mut() {
            *s += rms * gaussian(&mut rng);
        }
    }
    let samples = out
        .iter()
        .map(|s| {
            let linear = s.round().clamp(-32768.0, 32767.0) as i16;
            Codec::Pcmu.decode(Codec::Pcmu.encode(linear))
        })
        .collect();
    Clip { samples, speech }
}

/// A word: when it starts (in samples), its syllables' lengths, whether it is asked.
struct Word {
    start: usize,
    syllables: Vec<usize>,
    question: bool,
}

fn ms(rng: &mut SmallRng, low: u32, high: u32) -> usize {
    (rng.random_range(low..=high) * RATE / 1000) as usize
}

fn human_plan(rng: &mut SmallRng) -> Vec<Word> {
    let mut at = ms(rng, 150, 900);
    let limit = at + ms(rng, 300, 1400);
    let count = rng.random_range(1..=3);
    let mut words = Vec::new();
    for i in 0..count {
        let syllables: Vec<usize> =
            (0..rng.random_range(1..=2)).map(|_| ms(rng, 140, 260)).collect();
        let length: usize = syllables.iter().sum();
        if i > 0 && at + length > limit {
            break;
        }
        words.push(Word { start: at, syllables, question: i + 1 == count });
        at += length + ms(rng, 60, 300);
    }
    words
}

fn machine_plan(rng: &mut SmallRng, len: usize) -> Vec<Word> {
    let mut at = ms(rng, 100, 800);
    let mut words = Vec::new();
    let mut sentence = rng.random_range(4..=8);
    while at < len {
        let syllables: Vec<usize> =
            (0..rng.random_range(1..=3)).map(|_| ms(rng, 110, 220)).collect();
        let length: usize = syllables.iter().sum();
        words.push(Word { start: at, syllables, question: false });
        sentence -= 1;
        let gap = if sentence == 0 {
            sentence = rng.random_range(4..=8);
            ms(rng, 250, 500)
        } else {
            ms(rng, 30, 180)
        };
        at += length + gap;
    }
    words
}

/// A voice: its pitch and how breathy it is.
struct Speaker {
    f0: f64,
    breath: f64,
}

impl Speaker {
    fn new(rng: &mut SmallRng) -> Self {
        Self { f0: rng.random_range(95.0..230.0), breath: rng.random_range(0.02..0.12) }
    }

    /// Adds one syllable at pitch `f0` (RMS about `amplitude` at its loudest) to `out`.
    fn syllable(&self, rng: &mut SmallRng, out: &mut [f64], f0: f64, amplitude: f64) {
        let f1 = rng.random_range(300.0..800.0);
        let f2 = rng.random_range(900.0..2300.0);
        let harmonics: Vec<(f64, f64)> = (1..)
            .map(|k| f64::from(k) * f0)
            .take_while(|f| *f < 3400.0)
            .map(|f| {
                let formants = 1.0
                    + 4.0 * (-((f - f1) / 150.0).powi(2)).exp()
                    + 2.5 * (-((f - f2) / 250.0).powi(2)).exp();
                (f, formants * f0 / f)
            })
            .collect();
        let power: f64 = harmonics.iter().map(|(_, a)| a * a / 2.0).sum();
        let scale = amplitude / power.sqrt().max(1e-9);
        let n = out.len() as f64;
        let phase0: f64 = rng.random_range(0.0..2.0 * PI);
        for (i, s) in out.iter_mut().enumerate() {
            let t = i as f64 / f64::from(RATE);
            // Rise over the first fifth, hold, fall over the last third.
            let x = i as f64 / n;
            let envelope = if x < 0.2 {
                (x / 0.2 * PI / 2.0).sin()
            } else if x > 0.67 {
                ((1.0 - x) / 0.33 * PI / 2.0).sin()
            } else {
                1.0
            };
            // A slow wobble in the pitch, as in a real voice.
            let vibrato = 1.0 + 0.01 * (2.0 * PI * 5.0 * t).sin();
            let voiced: f64 = harmonics
                .iter()
                .map(|(f, a)| a * (2.0 * PI * f * vibrato * t + phase0 * f / f0).sin())
                .sum();
            *s += envelope * (scale * voiced + self.breath * amplitude * gaussian(rng));
        }
    }
}

/// A standard normal sample (Box–Muller).
fn gaussian(rng: &mut SmallRng) -> f64 {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    let v: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u.ln()).sqrt() * (2.0 * PI * v).cos()
}
