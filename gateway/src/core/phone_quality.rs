//! How an agent's SIP phone sounds to the gateway: the RTP it sends (RFC 3550's reception
//! statistics — loss from the sequence numbers, A.3; interarrival jitter, A.8) and, when it
//! sends RTCP receiver reports about the stream we send it, the round trip from their
//! LSR/DLSR (§6.4.1; unknown without them). Sampled once a second and judged by the rules the
//! agent's browser uses ([`QualityWatch`]), so a supervisor reads a SIP phone's warnings as
//! they read a browser's.
//!
//! Sans-IO, like the rest of the core: packets and `now` in; reports and RTCP out.
//!
//! Invariants: only packets of the payload types the phone's SDP negotiated count as its
//! audio (anything else — garbage, a stray stream — is dropped and judged nothing); samples
//! are taken every [`SAMPLE_EVERY`] from the phone's answer; a report goes out at the end of
//! the first whole second that heard its audio (or earlier, when silence raised a warning
//! first), at each change of the warnings, and every [`REFRESH`] samples in between.

use std::time::{Duration, Instant};

use telephony::quality_watch::{QualityFigures, QualitySample, QualityWarning, QualityWatch};

use crate::rtp::Header;
use crate::rtp::rtcp::RtcpError;
use crate::rtp::rtcp::session::{self, Session};

/// How often the phone's figures are judged.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Samples between two reports of unchanged warnings (their figures move on).
pub const REFRESH: u32 = 10;

/// What is judged of a phone, and said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub warnings: Vec<QualityWarning>,
    pub figures: QualityFigures,
}

/// The watch over one SIP phone leg (see the module docs).
#[derive(Debug)]
pub struct PhoneQuality {
    session: Session,
    watch: QualityWatch,
    /// The negotiated audio and telephone-event payload types.
    audio: u8,
    dtmf: Option<u8>,
    next_sample: Instant,
    /// Whether a report went out yet, and samples since the last one.
    reported: bool,
    since_report: u32,
}

impl PhoneQuality {
    /// Starts at the phone's answer: the first sample is due a second later.
    pub fn new(now: Instant, audio: u8, dtmf: Option<u8>, rtcp: session::Config) -> Self {
        Self {
            session: Session::new(now, rtcp),
            watch: QualityWatch::default(),
            audio,
            dtmf,
            next_sample: now + SAMPLE_EVERY,
            reported: false,
            since_report: 0,
        }
    }

    /// The phone's media changed (a re-INVITE): these payload types from now on.
    pub fn set_payload_types(&mut self, audio: u8, dtmf: Option<u8>) {
        self.audio = audio;
        self.dtmf = dtmf;
        self.session.set_audio_payload_type(audio);
    }

    /// An RTP packet from the phone (ignored when it is not of a negotiated payload type).
    pub fn received(&mut self, now: Instant, header: &Header, payload_len: usize) {
        if header.payload_type == self.audio || Some(header.payload_type) == self.dtmf {
            self.session.rtp_received(now, header, payload_len);
        }
    }

    /// An RTP packet we sent the phone (our reports describe it).
    pub fn sent(&mut self, now: Instant, header: &Header, payload_len: usize) {
        self.session.rtp_sent(now, header, payload_len);
    }

    /// RTCP from the phone; a malformed datagram is refused and changes nothing.
    pub fn rtcp_received(&mut self, now: Instant, data: &[u8]) -> Result<(), RtcpError> {
        self.session.rtcp_received(now, data)
    }

    /// When to call [`PhoneQuality::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Instant {
        self.next_sample.min(self.session.poll_timeout())
    }

    /// Takes the sample that is due and makes the report that is due, if any; our RTCP that is
    /// due waits in [`PhoneQuality::poll_transmit`].
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Report> {
        self.session.handle_timeout(now);
        if now < self.next_sample {
            return None;
        }
        // One sample per interval, even when served late.
        while self.next_sample <= now {
            self.next_sample += SAMPLE_EVERY;
        }
        let q = self.session.quality();
        let heard = q.packets_received > 0;
        let changed = self.watch.sample(QualitySample {
            rtt_ms: q.rtt_us.map(|us| f64::from(us) / 1000.0),
            jitter_ms: heard.then(|| f64::from(q.jitter_us) / 1000.0),
            packets_received: q.packets_received,
            packets_lost: u64::try_from(q.packets_lost).unwrap_or(0),
            bytes_received: q.octets_received,
        });
        self.since_report += 1;
        // (Loss is known once a whole second was heard: the first report waits for it.)
        let whole = self.watch.figures().loss_permille.is_some();
        let due =
            if self.reported { changed || self.since_report >= REFRESH } else { whole || changed };
        if !due {
            return None;
        }
        self.reported = true;
        self.since_report = 0;
        Some(Report { warnings: self.watch.warnings(), figures: self.watch.figures() })
    }

    /// A compound RTCP report to send the phone.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.session.poll_transmit()
    }
}
