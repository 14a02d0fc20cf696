//! Call-quality warnings, judged the same way wherever an agent's audio is measured: by the
//! agent's browser from its audio leg's statistics (`getStats`), and by the media gateway from
//! the RTP and RTCP of an agent's SIP phone. Once a second the measurer reads its figures into
//! a [`QualitySample`], and [`QualityWatch`] decides which warnings stand, by the rules
//! contact-center softphones use (Twilio Voice SDK's): a warning is raised when 3 of the last 5
//! samples cross its threshold — round trip over 400 ms, jitter over 30 ms, packet loss over
//! 3 %, an estimated MOS under 3.5 — or when no audio arrived for 3 samples in a row; it is
//! cleared after 5 good samples in a row. Each change reaches the server, which shows it on
//! the supervisor's floor.
//!
//! Sans-IO: samples in, warnings out; no clock (the sampling interval is the caller's), so a
//! browser tab that throttles its timers only samples less often.

use serde::{Deserialize, Serialize};

/// One reading of an audio leg's statistics. Counters are cumulative, as `getStats` (and RFC
/// 3550's reception statistics) give them; the watch works out what changed since the
/// previous sample.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct QualitySample {
    /// Round-trip time, when known.
    pub rtt_ms: Option<f64>,
    /// Jitter of the audio received, when known.
    pub jitter_ms: Option<f64>,
    pub packets_received: u64,
    pub packets_lost: u64,
    pub bytes_received: u64,
}

/// What can be wrong with the agent's audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityWarning {
    HighRtt,
    HighJitter,
    HighLoss,
    LowMos,
    NoAudio,
}

impl QualityWarning {
    pub const ALL: [QualityWarning; 5] = [
        QualityWarning::HighRtt,
        QualityWarning::HighJitter,
        QualityWarning::HighLoss,
        QualityWarning::LowMos,
        QualityWarning::NoAudio,
    ];

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            QualityWarning::HighRtt => "High latency",
            QualityWarning::HighJitter => "Jittery audio",
            QualityWarning::HighLoss => "Packet loss",
            QualityWarning::LowMos => "Poor audio quality",
            QualityWarning::NoAudio => "No audio received",
        }
    }
}

/// The figures of the latest sample as people read them (whole milliseconds, loss in tenths
/// of a percent of the packets expected since the sample before), `None` where unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityFigures {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_permille: Option<u32>,
    /// Audio packets received so far.
    #[serde(default)]
    pub packets_received: u64,
}

/// Thresholds (Twilio Voice SDK's defaults).
const MAX_RTT_MS: f64 = 400.0;
const MAX_JITTER_MS: f64 = 30.0;
const MAX_LOSS_PERCENT: f64 = 3.0;
const MIN_MOS: f64 = 3.5;
/// Samples looked at, crossings that raise a warning, good samples that clear it.
const WINDOW: usize = 5;
const RAISE: usize = 3;
/// Silent samples in a row that raise "no audio".
const SILENT_RAISE: usize = 3;

/// The mean opinion score (1–4.5) estimated from network figures by the ITU-T G.107 E-model
/// simplified as WebRTC monitors use it: the effective latency (round trip, twice the jitter,
/// 10 ms of codec) lowers the R factor, and so does each percent of loss.
pub fn mos(rtt_ms: f64, jitter_ms: f64, loss_percent: f64) -> f64 {
    let latency = rtt_ms + 2.0 * jitter_ms + 10.0;
    let r = if latency < 160.0 { 93.2 - latency / 40.0 } else { 93.2 - (latency - 120.0) / 10.0 };
    let r = (r - 2.5 * loss_percent).clamp(0.0, 100.0);
    1.0 + 0.035 * r + 0.000_007 * r * (r - 60.0) * (100.0 - r)
}

/// The warnings standing, from the samples so far.
#[derive(Clone, Debug, Default)]
pub struct QualityWatch {
    /// Per sample (newest last, at most [`WINDOW`]): which warnings it crossed.
    recent: std::collections::VecDeque<[bool; 5]>,
    active: [bool; 5],
    previous: Option<QualitySample>,
    figures: QualityFigures,
}

impl QualityWatch {
    /// Takes a sample; `true` when the warnings standing changed.
    pub fn sample(&mut self, s: QualitySample) -> bool {
        let crossed = self.crossings(&s);
        self.previous = Some(s);
        self.recent.push_back(crossed);
        if self.recent.len() > WINDOW {
            self.recent.pop_front();
        }
        let before = self.active;
        for (i, w) in QualityWarning::ALL.into_iter().enumerate() {
            let count = self.recent.iter().filter(|c| c[i]).count();
            let raise = if w == QualityWarning::NoAudio {
                self.recent.len() >= SILENT_RAISE
                    && self.recent.iter().rev().take(SILENT_RAISE).all(|c| c[i])
            } else {
                count >= RAISE
            };
            if raise {
                self.active[i] = true;
            } else if self.recent.len() == WINDOW && count == 0 {
                self.active[i] = false;
            }
        }
        self.active != before
    }

    /// A new audio leg: its counters start again from zero (the warnings stand until its own
    /// samples clear them).
    pub fn new_leg(&mut self) {
        self.previous = None;
    }

    /// The warnings standing, in a fixed order.
    pub fn warnings(&self) -> Vec<QualityWarning> {
        QualityWarning::ALL
            .into_iter()
            .zip(self.active)
            .filter(|(_, on)| *on)
            .map(|(w, _)| w)
            .collect()
    }

    /// The latest sample's figures.
    pub fn figures(&self) -> QualityFigures {
        self.figures
    }

    /// Which thresholds `s` crosses (the first sample has nothing to compare its counters to),
    /// keeping its figures.
    fn crossings(&mut self, s: &QualitySample) -> [bool; 5] {
        let (received, lost, silent) = match self.previous {
            Some(p) => (
                s.packets_received.saturating_sub(p.packets_received),
                s.packets_lost.saturating_sub(p.packets_lost),
                s.bytes_received <= p.bytes_received,
            ),
            None => (0, 0, false),
        };
        let loss = (received + lost > 0).then(|| lost as f64 * 100.0 / (received + lost) as f64);
        let rtt = s.rtt_ms.unwrap_or(0.0);
        let jitter = s.jitter_ms.unwrap_or(0.0);
        let low_mos = (s.rtt_ms.is_some() || s.jitter_ms.is_some() || loss.is_some())
            && mos(rtt, jitter, loss.unwrap_or(0.0)) < MIN_MOS;
        let whole = |v: f64| v.round().clamp(0.0, f64::from(u32::MAX)) as u32;
        self.figures = QualityFigures {
            rtt_ms: s.rtt_ms.map(whole),
            jitter_ms: s.jitter_ms.map(whole),
            loss_permille: loss.map(|l| whole(l * 10.0)),
            packets_received: s.packets_received,
        };
        [
            s.rtt_ms.is_some_and(|r| r > MAX_RTT_MS),
            s.jitter_ms.is_some_and(|j| j > MAX_JITTER_MS),
            loss.is_some_and(|l| l > MAX_LOSS_PERCENT),
            low_mos,
            silent,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A healthy second after `n` seconds: 50 packets of 160 bytes, nothing lost.
    fn good(n: u64) -> QualitySample {
        QualitySample {
            rtt_ms: Some(40.0),
            jitter_ms: Some(5.0),
            packets_received: 50 * n,
            packets_lost: 0,
            bytes_received: 8_000 * n,
        }
    }

    #[test]
    fn the_score_falls_with_latency_and_loss() {
        assert!(mos(20.0, 2.0, 0.0) > 4.3, "{}", mos(20.0, 2.0, 0.0));
        assert!(mos(300.0, 20.0, 0.0) < mos(50.0, 5.0, 0.0));
        assert!(mos(50.0, 5.0, 10.0) < MIN_MOS);
        assert!((1.0..=4.5).contains(&mos(5_000.0, 500.0, 100.0)));
    }

    #[test]
    fn a_warning_needs_three_of_five_and_clears_after_five_good() {
        let mut w = QualityWatch::default();
        let mut n = 0;
        let mut next = |rtt: f64, w: &mut QualityWatch| {
            n += 1;
            w.sample(QualitySample { rtt_ms: Some(rtt), ..good(n) })
        };
        assert!(!next(40.0, &mut w));
        assert!(!next(900.0, &mut w));
        assert!(!next(40.0, &mut w));
        assert!(!next(900.0, &mut w), "two crossings are not enough");
        assert!(next(900.0, &mut w), "the third within five raises it");
        assert!(w.warnings().contains(&QualityWarning::HighRtt));
        for _ in 0..4 {
            assert!(!next(40.0, &mut w), "still crossings in the window");
        }
        assert!(next(40.0, &mut w), "five good in a row clear it");
        assert!(w.warnings().is_empty());
    }

    #[test]
    fn no_audio_is_three_silent_samples_in_a_row() {
        let mut w = QualityWatch::default();
        assert!(!w.sample(good(1)));
        assert!(!w.sample(good(2)));
        let stuck = good(2);
        assert!(!w.sample(stuck));
        assert!(!w.sample(stuck));
        assert!(w.sample(stuck), "three seconds without a byte");
        assert_eq!(w.warnings(), [QualityWarning::NoAudio]);
        for n in 3..7 {
            assert!(!w.sample(good(n)), "not cleared before five good samples");
        }
        assert!(w.sample(good(7)));
        assert!(w.warnings().is_empty());
    }

    #[test]
    fn loss_is_counted_per_interval() {
        let mut w = QualityWatch::default();
        let lossy = |n: u64| QualitySample { packets_lost: 10 * n, ..good(n) };
        for n in 1..=4 {
            w.sample(lossy(n));
        }
        // Second 2 onwards: 10 lost of 60 (17 %): loss, and a score of about 2.6.
        assert_eq!(w.warnings(), [QualityWarning::HighLoss, QualityWarning::LowMos]);
        assert_eq!(
            w.figures(),
            QualityFigures {
                rtt_ms: Some(40),
                jitter_ms: Some(5),
                loss_permille: Some(167),
                packets_received: 200
            }
        );
    }
}
