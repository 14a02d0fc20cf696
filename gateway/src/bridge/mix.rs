//! Mixing for calls with a supervisor on them (listen, whisper, barge): each voice's decoded
//! samples wait in a short queue, and every 20 ms tick each listener gets the sum of the
//! voices it may hear, one frame from each.
//!
//! Invariants: a queue never holds more than [`MAX_QUEUED`] samples (a voice that runs fast,
//! or a listener that went away, cannot make memory grow; the oldest samples go first); a
//! voice with nothing queued adds silence, so a late packet costs a gap, never a stall; sums
//! saturate at the limits of 16-bit audio instead of wrapping.

use std::collections::VecDeque;

use super::stream::FRAME;

/// At most this many samples wait per voice (200 ms): enough for network jitter, short
/// enough that a supervisor hears the call as it happens.
pub const MAX_QUEUED: usize = FRAME as usize * 10;

/// What a supervisor does on a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorMode {
    /// Hears the customer and the agent; nobody hears the supervisor.
    Listen,
    /// Hears both; the agent hears the supervisor, the customer does not.
    Whisper,
    /// Hears both; both hear the supervisor (a three-way call).
    Barge,
}

impl MonitorMode {
    /// Whether the agent hears the supervisor.
    pub fn agent_hears(self) -> bool {
        matches!(self, MonitorMode::Whisper | MonitorMode::Barge)
    }

    /// Whether the customer hears the supervisor.
    pub fn customer_hears(self) -> bool {
        self == MonitorMode::Barge
    }
}

/// One voice's samples waiting for the next ticks.
#[derive(Debug, Default, Clone)]
pub struct Voice(VecDeque<i16>);

impl Voice {
    /// Queues decoded samples, dropping the oldest beyond [`MAX_QUEUED`].
    pub fn push(&mut self, samples: impl IntoIterator<Item = i16>) {
        self.0.extend(samples);
        let excess = self.0.len().saturating_sub(MAX_QUEUED);
        self.0.drain(..excess);
    }

    /// The next 20 ms, silence where nothing came.
    pub fn take_frame(&mut self) -> [i16; FRAME as usize] {
        let mut frame = [0; FRAME as usize];
        for (slot, s) in frame.iter_mut().zip(self.0.drain(..self.0.len().min(FRAME as usize))) {
            *slot = s;
        }
        frame
    }

    /// Samples waiting.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `frames` added sample by sample, saturating.
pub fn sum<'a>(
    frames: impl IntoIterator<Item = &'a [i16; FRAME as usize]>,
) -> [i16; FRAME as usize] {
    let mut out = [0i16; FRAME as usize];
    for f in frames {
        for (o, s) in out.iter_mut().zip(f) {
            *o = o.saturating_add(*s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voice_gives_frames_in_order_and_silence_when_dry() {
        let mut v = Voice::default();
        v.push((0..200).map(|i| i as i16));
        let first = v.take_frame();
        assert_eq!((first[0], first[159]), (0, 159));
        let second = v.take_frame();
        assert_eq!(&second[..40], &(160..200).map(|i| i as i16).collect::<Vec<_>>()[..]);
        assert!(second[40..].iter().all(|&s| s == 0), "the rest is silence");
        assert_eq!(v.take_frame(), [0; FRAME as usize]);
    }

    #[test]
    fn a_voice_keeps_only_the_newest_samples() {
        let mut v = Voice::default();
        v.push((0..MAX_QUEUED + 500).map(|i| (i % 30_000) as i16));
        assert_eq!(v.len(), MAX_QUEUED);
        assert_eq!(v.take_frame()[0], 500, "the oldest 500 went");
    }

    #[test]
    fn sums_saturate() {
        let a = [30_000i16; FRAME as usize];
        let b = [10_000i16; FRAME as usize];
        let c = [-5i16; FRAME as usize];
        assert_eq!(sum([&a, &b])[0], i16::MAX);
        assert_eq!(sum([&b, &c])[7], 9_995);
        assert_eq!(sum([] as [&[i16; FRAME as usize]; 0]), [0; FRAME as usize]);
        assert_eq!(sum([&[i16::MIN; FRAME as usize], &c])[0], i16::MIN);
    }

    #[test]
    fn who_hears_the_supervisor() {
        assert!(!MonitorMode::Listen.agent_hears() && !MonitorMode::Listen.customer_hears());
        assert!(MonitorMode::Whisper.agent_hears() && !MonitorMode::Whisper.customer_hears());
        assert!(MonitorMode::Barge.agent_hears() && MonitorMode::Barge.customer_hears());
    }
}
