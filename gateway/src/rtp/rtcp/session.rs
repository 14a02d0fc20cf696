//! One call's RTCP session on the carrier side, sans-IO: it is told of every RTP packet we
//! send and receive and every RTCP datagram that arrives (with `now`), and hands back the
//! compound reports to send ([`Session::poll_transmit`]), when it next needs waking
//! ([`Session::poll_timeout`]) and the call's figures ([`Session::quality`]).
//!
//! What it keeps (RFC 3550): per received source the extended sequence number, packets
//! expected and lost (A.1, A.3) and the interarrival jitter (A.8); what we sent (for our SRs);
//! the far end's last SR (for the LSR/DLSR of our report blocks) and its last report block
//! about us (its view of loss and jitter, and the round-trip time from the LSR/DLSR it
//! echoes, §6.4.1).
//!
//! Invariants: reports go out about every [`REPORT_INTERVAL`], each interval drawn from 0.5–1.5
//! of it (§6.2's randomisation; with one peer the bandwidth share never lengthens it), the
//! first after half an interval; each is an SR when we sent RTP since the previous report,
//! else an RR, followed by an SDES with our CNAME (§6.1); a datagram that is not a valid
//! compound is counted and changes nothing.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use telephony::{CallQuality, RemoteReport};

use super::{Packet, ReportBlock, RtcpError, SenderInfo};
use crate::rtp::Header;

/// The nominal time between our reports.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// The RTP clock of every codec the trunk legs carry (G.711 and telephone-event).
const CLOCK_RATE: u64 = 8000;

/// RFC 3550 A.1's limits: a jump ahead of more than this restarts the count after two
/// sequential packets; one behind by at most `MAX_MISORDER` is a late packet.
const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;
const SEQ_MOD: u32 = 1 << 16;

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// Wall-clock time as NTP timestamps, anchored once so the session never reads a clock.
#[derive(Debug, Clone, Copy)]
pub struct NtpClock {
    at: Instant,
    ntp: u64,
}

impl NtpClock {
    /// The clock that reads `wall` at `at`.
    pub fn new(at: Instant, wall: SystemTime) -> Self {
        let since_unix = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
        Self { at, ntp: to_ntp(since_unix + Duration::from_secs(NTP_UNIX_OFFSET)) }
    }

    /// The NTP timestamp of `now`.
    pub fn ntp(&self, now: Instant) -> u64 {
        self.ntp.wrapping_add(to_ntp(now.saturating_duration_since(self.at)))
    }
}

/// A duration as a 32.32 fixed-point NTP value.
fn to_ntp(d: Duration) -> u64 {
    (d.as_secs() << 32).wrapping_add((u64::from(d.subsec_nanos()) << 32) / 1_000_000_000)
}

/// The middle 32 bits of an NTP timestamp (the LSR format, §6.4.1).
fn middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// A 1/65536-second count (DLSR, RTT) in microseconds.
fn units_to_us(units: u32) -> u32 {
    (u64::from(units) * 1_000_000 / 65_536) as u32
}

/// Timestamp units (1/8000 s) in microseconds.
fn ticks_to_us(ticks: f64) -> u32 {
    (ticks * 1_000_000.0 / CLOCK_RATE as f64).round().min(f64::from(u32::MAX)) as u32
}

/// What the session is built from.
#[derive(Debug, Clone)]
pub struct Config {
    /// The SSRC of the stream we send.
    pub ssrc: u32,
    /// Our canonical name (SDES CNAME).
    pub cname: String,
    /// Wall-clock time for our SRs.
    pub clock: NtpClock,
    /// The negotiated audio payload type: jitter is measured on it alone (telephone-event
    /// packets repeat one timestamp across an event and would read as jitter).
    pub audio_payload_type: u8,
    /// Seeds the report interval's randomisation.
    pub seed: u64,
}

/// Reception state of one source (RFC 3550 A.1).
#[derive(Debug, Clone)]
struct Source {
    ssrc: u32,
    max_seq: u16,
    /// Sequence number wraps, in units of 2^16.
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// The previous audio packet's relative transit time, in timestamp units (wrapping).
    transit: Option<u32>,
    /// Interarrival jitter estimate, in timestamp units.
    jitter: f64,
}

impl Source {
    fn new(ssrc: u32, seq: u16) -> Self {
        let mut s = Self {
            ssrc,
            max_seq: seq,
            cycles: 0,
            base_seq: 0,
            bad_seq: 0,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter: 0.0,
        };
        s.init(seq);
        s
    }

    fn init(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// A.1's `update_seq`: whether the packet counts.
    fn update(&mut self, seq: u16) -> bool {
        let udelta = seq.wrapping_sub(self.max_seq);
        if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(SEQ_MOD);
            }
            self.max_seq = seq;
        } else if u32::from(udelta) <= SEQ_MOD - u32::from(MAX_MISORDER) {
            // A large jump: two sequential packets mean the sender restarted.
            if u32::from(seq) == self.bad_seq {
                self.init(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (SEQ_MOD - 1);
                return false;
            }
        }
        // Else a duplicate or a late packet: counted, the maximum stays.
        self.received += 1;
        true
    }

    fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    fn expected(&self) -> u64 {
        u64::from(self.extended_max().wrapping_sub(self.base_seq)) + 1
    }

    /// A.3: expected minus received (negative with duplicates).
    fn lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// A.3's fraction lost since the previous call, in 1/256; moves the interval on.
    fn take_fraction(&mut self) -> u8 {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        }
    }
}

/// The sans-IO RTCP session of one call (see the module docs).
#[derive(Debug)]
pub struct Session {
    config: Config,
    rng: SmallRng,
    next_report: Instant,
    source: Option<Source>,
    /// Losses of sources that were replaced (a far end that changed SSRC).
    lost_before: i64,
    packets_received: u64,
    octets_received: u64,
    packets_sent: u64,
    octets_sent: u64,
    /// Packets sent when the previous report went out: SR or RR.
    sent_at_last_report: u64,
    /// Our latest packet: when, and its RTP timestamp (to date our SRs in RTP time).
    last_sent: Option<(Instant, u32)>,
    /// The far end's latest SR: its NTP middle bits and when it came.
    last_sr: Option<(u32, Instant)>,
    fraction_lost: u8,
    remote: Option<RemoteReport>,
    rtt_us: Option<u32>,
    rtcp_sent: u64,
    rtcp_received: u64,
    rtcp_dropped: u64,
    remote_cname: Option<String>,
    remote_bye: bool,
    last_heard: Option<Instant>,
    out: VecDeque<Vec<u8>>,
}

impl Session {
    /// A session whose first report is due after half an interval.
    pub fn new(now: Instant, config: Config) -> Self {
        let mut rng = SmallRng::seed_from_u64(config.seed);
        let first = interval(&mut rng) / 2;
        Self {
            config,
            rng,
            next_report: now + first,
            source: None,
            lost_before: 0,
            packets_received: 0,
            octets_received: 0,
            packets_sent: 0,
            octets_sent: 0,
            sent_at_last_report: 0,
            last_sent: None,
            last_sr: None,
            fraction_lost: 0,
            remote: None,
            rtt_us: None,
            rtcp_sent: 0,
            rtcp_received: 0,
            rtcp_dropped: 0,
            remote_cname: None,
            remote_bye: false,
            last_heard: None,
            out: VecDeque::new(),
        }
    }

    /// The negotiated audio payload type changed (a re-INVITE).
    pub fn set_audio_payload_type(&mut self, pt: u8) {
        self.config.audio_payload_type = pt;
    }

    /// An RTP packet from the far end, with its payload length.
    pub fn rtp_received(&mut self, now: Instant, header: &Header, payload_len: usize) {
        self.last_heard = Some(now);
        self.packets_received += 1;
        self.octets_received += payload_len as u64;
        let source = match &mut self.source {
            Some(s) if s.ssrc == header.ssrc => {
                if !s.update(header.sequence) {
                    return;
                }
                s
            }
            other => {
                // A new source (A.1 without probation: the SDP told us who sends): the old
                // one's losses stay in the call's figures.
                if let Some(old) = other.take() {
                    self.lost_before += old.lost();
                }
                let s = other.insert(Source::new(header.ssrc, header.sequence));
                s.received = 1;
                s
            }
        };
        if header.payload_type == self.config.audio_payload_type {
            // A.8: arrival in timestamp units; only differences matter, so it wraps.
            let elapsed = now.saturating_duration_since(self.config.clock.at);
            let arrival = (elapsed.as_nanos() * u128::from(CLOCK_RATE) / 1_000_000_000) as u32;
            let transit = arrival.wrapping_sub(header.timestamp);
            if let Some(previous) = source.transit {
                let d = f64::from((transit.wrapping_sub(previous) as i32).unsigned_abs());
                source.jitter += (d - source.jitter) / 16.0;
            }
            source.transit = Some(transit);
        }
    }

    /// An RTP packet we sent to the far end, with its payload length.
    pub fn rtp_sent(&mut self, now: Instant, header: &Header, payload_len: usize) {
        self.config.ssrc = header.ssrc;
        self.packets_sent += 1;
        self.octets_sent += payload_len as u64;
        self.last_sent = Some((now, header.timestamp));
    }

    /// An RTCP datagram from the far end; a malformed one is counted and refused.
    pub fn rtcp_received(&mut self, now: Instant, data: &[u8]) -> Result<(), RtcpError> {
        let packets = super::parse(data).inspect_err(|_| self.rtcp_dropped += 1)?;
        self.last_heard = Some(now);
        self.rtcp_received += 1;
        for packet in packets {
            match packet {
                Packet::SenderReport { info, blocks, .. } => {
                    self.last_sr = Some((middle(info.ntp), now));
                    self.on_blocks(now, &blocks);
                }
                Packet::ReceiverReport { blocks, .. } => self.on_blocks(now, &blocks),
                Packet::SourceDescription(chunks) => {
                    if let Some(cname) = chunks.into_iter().find_map(|(_, c)| c) {
                        self.remote_cname = Some(cname);
                    }
                }
                Packet::Goodbye(_) => self.remote_bye = true,
                Packet::Other(_) => {}
            }
        }
        Ok(())
    }

    /// The far end's report blocks: the one about our stream is its view of it, and its
    /// LSR/DLSR give the round trip (§6.4.1: A − LSR − DLSR).
    fn on_blocks(&mut self, now: Instant, blocks: &[ReportBlock]) {
        let Some(b) = blocks.iter().find(|b| b.ssrc == self.config.ssrc) else { return };
        self.remote = Some(RemoteReport {
            packets_lost: i64::from(b.cumulative_lost),
            fraction_lost: b.fraction_lost,
            jitter_us: ticks_to_us(f64::from(b.jitter)),
        });
        if b.lsr != 0 {
            let arrival = middle(self.config.clock.ntp(now));
            let rtt = arrival.wrapping_sub(b.lsr).wrapping_sub(b.dlsr);
            // A negative result (clock steps, a bogus echo) wraps to the upper half.
            if rtt < 1 << 31 {
                self.rtt_us = Some(units_to_us(rtt));
            }
        }
    }

    /// Sends the report that is due, if one is.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_report {
            return;
        }
        let report = self.report(now);
        self.out.push_back(report);
        self.next_report = now + interval(&mut self.rng);
    }

    /// A compound report for `now`: SR or RR, then SDES.
    fn report(&mut self, now: Instant) -> Vec<u8> {
        let info = (self.packets_sent > self.sent_at_last_report).then(|| {
            let rtp_timestamp = self.last_sent.map_or(0, |(at, ts)| {
                let ticks = now.saturating_duration_since(at).as_micros() * u128::from(CLOCK_RATE)
                    / 1_000_000;
                ts.wrapping_add(ticks as u32)
            });
            SenderInfo {
                ntp: self.config.clock.ntp(now),
                rtp_timestamp,
                // Modular counts, as the wire has them (§6.4.1).
                packets: self.packets_sent as u32,
                octets: self.octets_sent as u32,
            }
        });
        self.sent_at_last_report = self.packets_sent;
        let block = self.source.as_mut().map(|s| ReportBlock {
            ssrc: s.ssrc,
            fraction_lost: s.take_fraction(),
            cumulative_lost: s.lost().clamp(-0x80_0000, 0x7f_ffff) as i32,
            highest_seq: s.extended_max(),
            jitter: s.jitter as u32,
            lsr: self.last_sr.map_or(0, |(lsr, _)| lsr),
            dlsr: self.last_sr.map_or(0, |(_, at)| {
                let d = now.saturating_duration_since(at);
                (d.as_micros() * 65_536 / 1_000_000).min(u128::from(u32::MAX)) as u32
            }),
        });
        if let Some(b) = &block {
            self.fraction_lost = b.fraction_lost;
        }
        let mut packet = Vec::with_capacity(96);
        super::write_report(&mut packet, self.config.ssrc, info, block.as_slice());
        super::write_sdes(&mut packet, self.config.ssrc, &self.config.cname);
        self.rtcp_sent += 1;
        packet
    }

    /// The last compound when we leave the call: a report, our CNAME and a BYE (§6.6).
    pub fn goodbye(&mut self, now: Instant) -> Vec<u8> {
        let mut packet = self.report(now);
        super::write_bye(&mut packet, self.config.ssrc);
        packet
    }

    /// A compound report to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// When the next report is due.
    pub fn poll_timeout(&self) -> Instant {
        self.next_report
    }

    /// When we last heard from the far end (RTP or valid RTCP).
    pub fn last_heard(&self) -> Option<Instant> {
        self.last_heard
    }

    /// The far end's CNAME, once it sent one.
    pub fn remote_cname(&self) -> Option<&str> {
        self.remote_cname.as_deref()
    }

    /// Whether the far end sent an RTCP BYE.
    pub fn remote_bye(&self) -> bool {
        self.remote_bye
    }

    /// The call's figures so far.
    pub fn quality(&self) -> CallQuality {
        let (lost, jitter) = self.source.as_ref().map_or((0, 0.0), |s| (s.lost(), s.jitter));
        CallQuality {
            packets_sent: self.packets_sent,
            octets_sent: self.octets_sent,
            packets_received: self.packets_received,
            octets_received: self.octets_received,
            packets_lost: self.lost_before + lost,
            fraction_lost: self.fraction_lost,
            jitter_us: ticks_to_us(jitter),
            rtt_us: self.rtt_us,
            rtcp_sent: self.rtcp_sent,
            rtcp_received: self.rtcp_received,
            rtcp_dropped: self.rtcp_dropped,
            remote: self.remote,
        }
    }
}

/// One report interval: [`REPORT_INTERVAL`] times a factor drawn from 0.5–1.5 (§6.3.1).
fn interval(rng: &mut SmallRng) -> Duration {
    REPORT_INTERVAL.mul_f64(rng.random_range(0.5..1.5))
}
