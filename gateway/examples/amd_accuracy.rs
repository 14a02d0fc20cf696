//! Accuracy of the answering-machine detector on labelled greetings: a confusion matrix and
//! decision times, printed (a benchmark: it reports numbers and asserts nothing).
//!
//! Two kinds of sets:
//! - synthetic: generated here from seeds ([`gateway::amd::synth`]), people, machines and
//!   silent lines, clean and with background noise at 30, 20 and 10 dB SNR;
//! - directories of WAV files (8 kHz, mono, 16-bit), labelled by their sub-directory:
//!   `human/`, `machine/`, `silence/` (`scripts/amd.sh` makes one with espeak-ng and sox).
//!
//! Each greeting is fed to the detector 20 ms at a time in virtual time, as the gateway feeds
//! a call's audio after the answer.
//!
//! ```text
//! cargo run -p gateway --example amd-accuracy -- [--synthetic N] [--dir DIR]... [--verbose | --mistakes]
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use gateway::amd::synth::{Kind, clip};
use gateway::amd::{Config, Detection, Detector, FRAME, FRAME_SAMPLES, Verdict};

/// Which greetings' verdicts are printed one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Show {
    None,
    /// `--mistakes`: the wrong ones.
    Mistakes,
    /// `--verbose`: all.
    All,
}

const LABELS: [(&str, Kind); 3] =
    [("human", Kind::Human), ("machine", Kind::Machine), ("silence", Kind::Silence)];

/// The verdict each label should get.
fn expected(kind: Kind) -> Verdict {
    match kind {
        Kind::Human => Verdict::Human,
        Kind::Machine => Verdict::Machine,
        Kind::Silence => Verdict::Unsure,
    }
}

#[derive(Default)]
struct Tally {
    /// Per label (human, machine, silence): counts of human, machine, unsure verdicts.
    matrix: [[usize; 3]; 3],
    /// Decision times, per label.
    times: [Vec<Duration>; 3],
    /// Processor time spent in the detector (wall clock of this process).
    cpu: Duration,
}

impl Tally {
    fn add(&mut self, kind: Kind, samples: &[i16], show: Show, name: &str) -> Result<()> {
        let started = Instant::now();
        let d = detect(samples)?;
        self.cpu += started.elapsed();
        if show == Show::All || (show == Show::Mistakes && d.verdict != expected(kind)) {
            println!("    {name}: {d:?}");
        }
        self.matrix[kind as usize][d.verdict as usize] += 1;
        self.times[kind as usize].push(d.after);
        Ok(())
    }

    fn print(&self, title: &str) {
        let total: usize = self.matrix.iter().flatten().sum();
        if total == 0 {
            println!("{title}: no greetings");
            return;
        }
        println!("{title}: {total} greetings");
        println!(
            "  {:<10} {:>7} {:>7} {:>7} {:>9} {:>10} {:>9}",
            "label", "human", "machine", "unsure", "correct", "mean ms", "max ms"
        );
        let mut correct = 0;
        for (label, kind) in LABELS {
            let row = self.matrix[kind as usize];
            let n: usize = row.iter().sum();
            if n == 0 {
                continue;
            }
            let right = row[expected(kind) as usize];
            correct += right;
            let (mean, max) = mean_max(&self.times[kind as usize]);
            println!(
                "  {label:<10} {:>7} {:>7} {:>7} {:>8.1}% {mean:>10.0} {max:>9}",
                row[0],
                row[1],
                row[2],
                100.0 * right as f64 / n as f64
            );
        }
        // The costly mistakes: a person taken for a machine, a machine for a person.
        let h = self.matrix[Kind::Human as usize];
        let m = self.matrix[Kind::Machine as usize];
        let all: Vec<Duration> = self.times.iter().flatten().copied().collect();
        let (mean, max) = mean_max(&all);
        println!(
            "  accuracy {:.1}%   human→machine {}   machine→human {}   decision mean {:.0} ms, max {} ms",
            100.0 * correct as f64 / total as f64,
            h[Verdict::Machine as usize],
            m[Verdict::Human as usize],
            mean,
            max
        );
        println!(
            "  detector time {:.0} µs per greeting (this build)",
            self.cpu.as_secs_f64() * 1e6 / total as f64
        );
    }
}

/// Mean and longest of `times`, in milliseconds.
fn mean_max(times: &[Duration]) -> (f64, u128) {
    let mean = times.iter().sum::<Duration>().as_secs_f64() * 1000.0 / times.len().max(1) as f64;
    (mean, times.iter().max().copied().unwrap_or_default().as_millis())
}

/// Runs the detector over `samples` as a call's audio after the answer.
fn detect(samples: &[i16]) -> Result<Detection> {
    let start = Instant::now();
    let mut detector = Detector::new(start, Config::default())?;
    for (i, frame) in samples.chunks(FRAME_SAMPLES).enumerate() {
        if let Some(d) = detector.poll_output() {
            return Ok(d);
        }
        let now = start + FRAME * (i as u32 + 1);
        if let Some(deadline) = detector.poll_timeout().filter(|t| *t < now) {
            detector.handle_timeout(deadline);
        }
        detector.push(now, frame);
    }
    if let Some(deadline) = detector.poll_timeout() {
        detector.handle_timeout(deadline);
    }
    detector.poll_output().context("the detector reached no verdict")
}

fn read_wav(path: &Path) -> Result<Vec<i16>> {
    let reader = hound::WavReader::open(path).with_context(|| format!("{}", path.display()))?;
    let spec = reader.spec();
    if spec.sample_rate != 8000 || spec.channels != 1 || spec.bits_per_sample != 16 {
        bail!("{}: not 8 kHz mono 16-bit ({spec:?})", path.display());
    }
    reader
        .into_samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}", path.display()))
}

fn run_dir(dir: &Path, show: Show) -> Result<Tally> {
    let mut tally = Tally::default();
    for (label, kind) in LABELS {
        let sub = dir.join(label);
        if !sub.is_dir() {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&sub)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wav"))
            .collect();
        files.sort();
        for file in files {
            tally.add(kind, &read_wav(&file)?, show, &file.display().to_string())?;
        }
    }
    Ok(tally)
}

fn run_synthetic(per_condition: u64, show: Show) -> Result<Tally> {
    let mut tally = Tally::default();
    for (label, kind) in LABELS {
        for snr in [None, Some(30.0), Some(20.0), Some(10.0)] {
            for seed in 0..per_condition {
                // Machines' greetings of 3 to 6 s; the others' clips as long.
                let seconds = 3.0 + (seed % 4) as f64;
                let c = clip(kind, 1000 + seed, snr, seconds);
                let name = format!("{label} seed {} snr {snr:?}", 1000 + seed);
                tally.add(kind, &c.samples, show, &name)?;
            }
        }
    }
    Ok(tally)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("amd-accuracy: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let mut synthetic = 0u64;
    let mut dirs = Vec::new();
    let mut show = Show::None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--synthetic" => {
                synthetic = args.next().context("--synthetic needs a count")?.parse()?;
            }
            "--dir" => dirs.push(PathBuf::from(args.next().context("--dir needs a path")?)),
            "--verbose" => show = Show::All,
            "--mistakes" => show = Show::Mistakes,
            "--help" | "-h" => {
                print!(
                    "amd-accuracy: answering-machine detection on greetings (see the file's docs)\n\n  \
                     --synthetic N   synthetic greetings (25 when no --dir)\n  \
                     --dir DIR       a directory of recorded greetings (repeatable)\n  \
                     --verbose       every verdict\n  \
                     --mistakes      the wrong verdicts only\n"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other} (see --help)"),
        }
    }
    if synthetic == 0 && dirs.is_empty() {
        synthetic = 25;
    }
    let config = Config::default();
    println!(
        "answering-machine detection, window {} ms (defaults: greeting ≥ {} ms or ≥ {} words = machine; \
         {} ms of silence after a shorter one = human)",
        config.window.as_millis(),
        config.machine_greeting.as_millis(),
        config.max_words,
        config.after_greeting_silence.as_millis()
    );
    if synthetic > 0 {
        run_synthetic(synthetic, show)?.print(&format!(
            "synthetic ({synthetic} per label and noise level: clean, 30, 20, 10 dB SNR)"
        ));
    }
    for dir in dirs {
        run_dir(&dir, show)?.print(&format!("recorded {}", dir.display()));
    }
    Ok(())
}
