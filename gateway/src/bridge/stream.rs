//! One outgoing RTP stream with a fixed SSRC whose sequence numbers and timestamps stay
//! continuous while its sources change (RFC 3550 §5.1, §8.2 would otherwise make the receiver
//! treat a new source as a new stream and reset its jitter buffer).
//!
//! A source is an incoming stream (one SSRC from one leg) or the gateway's own generator
//! (silence, tones, playback). Within one source, gaps and reordering pass through (the
//! offsets stay the same); on a change of source the offsets are recomputed so that the next
//! packet follows the last one sent, its timestamp advanced by the wall-clock time between.

use std::time::{Duration, Instant};

use crate::rtp::Header;

/// Samples per 20 ms frame at 8 kHz.
pub const FRAME: u32 = 160;

/// Who feeds the stream at the moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Packets relayed from an incoming stream with this SSRC.
    Relay(u32),
    /// Frames the gateway generates.
    Generated,
}

/// The rewriting state of an outgoing stream.
#[derive(Debug, Clone)]
pub struct OutStream {
    ssrc: u32,
    source: Option<Source>,
    seq_offset: u16,
    ts_offset: u32,
    last: Option<(u16, u32, Instant)>,
    generated_seq: u16,
    generated_ts: u32,
}

impl OutStream {
    /// A stream with this SSRC, starting at these sequence number and timestamp.
    pub fn new(ssrc: u32, first_seq: u16, first_ts: u32) -> Self {
        Self {
            ssrc,
            source: None,
            seq_offset: 0,
            ts_offset: 0,
            last: None,
            generated_seq: first_seq,
            generated_ts: first_ts,
        }
    }

    /// The SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Packets sent so far (for tests and stats).
    pub fn last_sent(&self) -> Option<(u16, u32)> {
        self.last.map(|(s, t, _)| (s, t))
    }

    /// Whether the stream has relayed nothing for `gap`: its source is the generator (or it
    /// has sent nothing yet), or the incoming stream it relays has fallen silent.
    pub fn relay_quiet(&self, now: Instant, gap: Duration) -> bool {
        match (self.source, self.last) {
            (Some(Source::Relay(_)), Some((_, _, at))) => now.saturating_duration_since(at) >= gap,
            _ => true,
        }
    }

    /// The header for a relayed packet from incoming stream `ssrc` with sequence `seq` and
    /// timestamp `ts`, payload type `pt`.
    pub fn relay(
        &mut self,
        now: Instant,
        ssrc: u32,
        seq: u16,
        ts: u32,
        pt: u8,
        marker: bool,
    ) -> Header {
        let source = Source::Relay(ssrc);
        let switched = self.source != Some(source);
        if switched {
            self.rebase(now, seq, ts);
            self.source = Some(source);
        }
        self.emit(
            now,
            seq.wrapping_add(self.seq_offset),
            ts.wrapping_add(self.ts_offset),
            pt,
            marker || switched,
        )
    }

    /// The header for the next generated 20 ms frame.
    pub fn generate(&mut self, now: Instant, pt: u8) -> Header {
        let switched = self.source != Some(Source::Generated);
        if switched {
            self.rebase(now, self.generated_seq, self.generated_ts);
            self.source = Some(Source::Generated);
        }
        let (seq, ts) = (self.generated_seq, self.generated_ts);
        self.generated_seq = seq.wrapping_add(1);
        self.generated_ts = ts.wrapping_add(FRAME);
        self.emit(
            now,
            seq.wrapping_add(self.seq_offset),
            ts.wrapping_add(self.ts_offset),
            pt,
            switched,
        )
    }

    /// The header for a generated event packet sharing the timestamp `event_ts` of its
    /// event's start (RFC 4733), with a fresh sequence number.
    pub fn generate_event(&mut self, now: Instant, pt: u8, event_start: bool) -> (Header, u32) {
        let header = self.generate(now, pt);
        (Header { marker: event_start, ..header }, header.timestamp)
    }

    /// Makes `seq`/`ts` of the new source map right after the last packet sent.
    fn rebase(&mut self, now: Instant, seq: u16, ts: u32) {
        let (next_seq, next_ts) = match self.last {
            Some((last_seq, last_ts, at)) => {
                let elapsed = now.saturating_duration_since(at);
                // Whole frames of wall-clock time since the last packet, at least one.
                let frames = ((elapsed.as_micros() / 20_000) as u32).max(1);
                (last_seq.wrapping_add(1), last_ts.wrapping_add(frames * FRAME))
            }
            None => (self.generated_seq, self.generated_ts),
        };
        self.seq_offset = next_seq.wrapping_sub(seq);
        self.ts_offset = next_ts.wrapping_sub(ts);
    }

    fn emit(&mut self, now: Instant, seq: u16, ts: u32, pt: u8, marker: bool) -> Header {
        let newer = self.last.is_none_or(|(last, _, _)| (seq.wrapping_sub(last) as i16) > 0);
        if newer {
            self.last = Some((seq, ts, now));
        }
        Header { marker, payload_type: pt, sequence: seq, timestamp: ts, ssrc: self.ssrc }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn streams_stay_continuous_across_sources() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut out = OutStream::new(77, 1000, 5000);
        // Silence while unbridged.
        let a = out.generate(ms(0), 0);
        let b = out.generate(ms(20), 0);
        assert_eq!((a.sequence, a.timestamp, b.sequence, b.timestamp), (1000, 5000, 1001, 5160));
        // First call: its own numbering is hidden.
        let c = out.relay(ms(40), 0xaaaa, 40_000, 9_999_999, 0, false);
        assert_eq!((c.sequence, c.timestamp, c.ssrc), (1002, 5320, 77));
        assert!(c.marker, "new talkspurt on a source change");
        let d = out.relay(ms(60), 0xaaaa, 40_001, 10_000_159, 0, false);
        assert_eq!((d.sequence, d.timestamp), (1003, 5480));
        // A lost packet stays a gap, reordering stays reordering.
        let f = out.relay(ms(100), 0xaaaa, 40_003, 10_000_479, 0, false);
        let e = out.relay(ms(101), 0xaaaa, 40_002, 10_000_319, 0, false);
        assert_eq!((e.sequence, f.sequence), (1004, 1005));
        // Second call after 1 s of silence-less gap: timestamps follow wall-clock time.
        let g = out.relay(ms(1100), 0xbbbb, 7, 123, 0, false);
        assert_eq!(g.sequence, 1006);
        assert_eq!(g.timestamp, 5800 + 50 * FRAME);
        // Wrapping numbers are fine.
        let h = out.relay(ms(1120), 0xbbbb, 8, 283, 0, false);
        assert_eq!((h.sequence, h.timestamp), (1007, 5800 + 51 * FRAME));
    }
}
