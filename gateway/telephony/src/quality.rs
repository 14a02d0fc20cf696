//! A call's media figures: what flowed on the carrier side and how well, from the RTP the
//! gateway counted and the RTCP reports (RFC 3550 §6.4) exchanged with the far end. The
//! gateway reports them with a call's end; the dialer stores them on the call attempt.
//!
//! Integers only (microseconds, 1/256 fractions), so the figures compare exactly and store
//! the same way in every database.

use serde::{Deserialize, Serialize};

/// The carrier leg's media figures at the end of a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallQuality {
    /// RTP packets sent to the far end.
    pub packets_sent: u64,
    /// Their payload octets.
    pub octets_sent: u64,
    /// RTP packets received from the far end.
    pub packets_received: u64,
    /// Their payload octets.
    pub octets_received: u64,
    /// Packets lost on the way to us, cumulative from sequence numbers (RFC 3550 A.3);
    /// negative when duplicates outnumber the losses.
    pub packets_lost: i64,
    /// Share lost on the way to us since our last report, in 1/256 (RFC 3550 §6.4.1).
    pub fraction_lost: u8,
    /// Interarrival jitter of what we received (RFC 3550 A.8), in microseconds.
    pub jitter_us: u32,
    /// Round-trip time from the far end's last report on our reports (LSR/DLSR), in
    /// microseconds; `None` until one came.
    pub rtt_us: Option<u32>,
    /// RTCP compound packets we sent.
    pub rtcp_sent: u64,
    /// RTCP compound packets the far end sent that we accepted.
    pub rtcp_received: u64,
    /// RTCP datagrams dropped as malformed.
    pub rtcp_dropped: u64,
    /// What the far end last reported about the stream we sent, if it reported.
    pub remote: Option<RemoteReport>,
}

/// The far end's view of our stream: its last report block about us (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RemoteReport {
    /// Packets it counts as lost, cumulative.
    pub packets_lost: i64,
    /// Share lost in its last interval, in 1/256.
    pub fraction_lost: u8,
    /// Interarrival jitter it measured, in microseconds.
    pub jitter_us: u32,
}

impl CallQuality {
    /// Packets lost as a share of those expected (0.0 when nothing was expected).
    pub fn loss_ratio(&self) -> f64 {
        let expected = self.packets_received as f64 + self.packets_lost.max(0) as f64;
        if expected == 0.0 { 0.0 } else { self.packets_lost.max(0) as f64 / expected }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_ratio_counts_lost_among_expected() {
        let q = CallQuality { packets_received: 90, packets_lost: 10, ..CallQuality::default() };
        assert!((q.loss_ratio() - 0.1).abs() < 1e-9);
        assert_eq!(CallQuality::default().loss_ratio(), 0.0);
        let dup = CallQuality { packets_received: 10, packets_lost: -2, ..CallQuality::default() };
        assert_eq!(dup.loss_ratio(), 0.0);
    }
}
