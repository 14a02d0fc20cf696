//! Agent legs: one str0m `Rtc` per browser tab, in RTP mode (G.711 and telephone-event pass
//! through untouched), ICE-lite with host candidates, DTLS-SRTP — all on ONE UDP socket.
//!
//! [`Legs`] demultiplexes datagrams from that socket: first by the remote address a leg has
//! already used, then, for STUN binding requests, by the local ICE ufrag in the `USERNAME`
//! attribute (RFC 8445 §7.2.2: `local:remote` from our point of view). Anything else is
//! dropped and counted.
//!
//! Sans-IO like str0m itself: the caller moves datagrams and time in, and transmissions,
//! events and deadlines out.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::change::SdpOffer;
use str0m::format::Codec as StrCodec;
use str0m::media::{Frequency, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{Extension, RtpWrite, SeqNo};
use str0m::{Candidate, Event as RtcEvent, IceConnectionState, IceCreds, Input, Output, Rtc};
use tracing::debug;

use crate::bridge::AgentMedia;
use crate::call::AgentLegId;
use crate::codec::Codec;
use crate::rtp::Header;

/// Why an agent leg could not be created or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebrtcError {
    /// The offer is not SDP str0m understands.
    #[error("the SDP offer does not parse: {0}")]
    BadOffer(String),
    /// The offer has no audio with PCMU or PCMA.
    #[error("the offer has no PCMU/PCMA audio")]
    NoCommonCodec,
    /// str0m refused the offer or failed later.
    #[error("WebRTC error: {0}")]
    Rtc(String),
}

/// Something that happened on an agent leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegEvent {
    /// ICE and DTLS are up: media flows.
    Connected,
    /// An RTP packet from the browser.
    Rtp {
        /// Header.
        header: Header,
        /// Payload.
        payload: Arc<[u8]>,
    },
    /// The connection is gone (ICE disconnected, DTLS closed, or an error).
    Closed(String),
}

/// One agent leg.
pub struct AgentLeg {
    rtc: Rtc,
    ufrag: String,
    mid: Mid,
    media: AgentMedia,
    last_seq: Option<u64>,
    connected: bool,
    closed: bool,
    deadline: Option<Instant>,
}

impl AgentLeg {
    /// Answers a browser's offer. `local` is the shared socket's address (the one host
    /// candidate); `ufrag` must be unique among live legs.
    pub fn accept(
        now: Instant,
        offer: &str,
        local: SocketAddr,
        ufrag: String,
        pass: String,
    ) -> Result<(Self, String), WebrtcError> {
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| WebrtcError::BadOffer(e.to_string()))?;
        let mut config = Rtc::builder()
            .set_ice_lite(true)
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_pcmu(true, false)
            .enable_pcma(true, false)
            // Only the mid extension (BUNDLE demultiplexing, RFC 8843): G.711 at a fixed
            // rate needs no congestion control, so no transport-wide CC feedback to compute.
            .clear_extension_map()
            .set_extension(4, Extension::RtpMid)
            .set_local_ice_credentials(IceCreds { ufrag: ufrag.clone(), pass });
        config.codec_config().add_config(
            101.into(),
            None,
            StrCodec::Tele,
            Frequency::EIGHT_KHZ,
            None,
            Default::default(),
        );
        let mut rtc = config.build(now);
        let candidate =
            Candidate::host(local, "udp").map_err(|e| WebrtcError::Rtc(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let answer =
            rtc.sdp_api().accept_offer(offer).map_err(|e| WebrtcError::Rtc(e.to_string()))?;
        let answer = answer.to_sdp_string();
        let (mid, media) = negotiated_audio(&answer).ok_or(WebrtcError::NoCommonCodec)?;
        let leg = Self {
            rtc,
            ufrag,
            mid,
            media,
            last_seq: None,
            connected: false,
            closed: false,
            deadline: None,
        };
        Ok((leg, answer))
    }

    /// The negotiated audio: codec and payload types both sides use.
    pub fn media(&self) -> AgentMedia {
        self.media
    }

    /// The SSRC of the stream we send (the browser sees only this one).
    pub fn ssrc(&mut self) -> Option<u32> {
        let mid = self.mid;
        self.rtc.direct_api().stream_tx_by_mid(mid, None).map(|s| *s.ssrc())
    }

    /// True once ICE and DTLS are up.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Sends one RTP packet (encrypted by str0m; our header fields are kept).
    pub fn write_rtp(&mut self, now: Instant, header: Header, payload: Vec<u8>) {
        if !self.connected {
            return;
        }
        let seq = extend_seq(&mut self.last_seq, header.sequence);
        let mid = self.mid;
        let mut api = self.rtc.direct_api();
        let Some(stream) = api.stream_tx_by_mid(mid, None) else { return };
        let write = RtpWrite::new(
            header.payload_type.into(),
            SeqNo::from(seq),
            header.timestamp,
            now,
            payload,
        )
        .marker(header.marker);
        stream.write_rtp(write);
        // str0m releases queued packets against its own clock, which only moves with input:
        // move it now, or the packet waits for the next timeout.
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            debug!(error = %e, "agent leg clock update failed");
        }
    }

    /// Closes the connection (DTLS close_notify goes out on the next polls).
    pub fn close(&mut self) {
        self.rtc.disconnect();
    }
}

/// Extends a 16-bit sequence number to the 64-bit counter str0m keys SRTP on, choosing the
/// value nearest the previous one (RFC 3711 §3.3.1).
fn extend_seq(last: &mut Option<u64>, seq: u16) -> u64 {
    let ext = match *last {
        None => u64::from(seq),
        Some(prev) => {
            let delta = seq.wrapping_sub(prev as u16) as i16;
            prev.saturating_add_signed(i64::from(delta))
        }
    };
    if last.is_none_or(|l| ext > l) {
        *last = Some(ext);
    }
    ext
}

/// The mid and negotiated codec/payload types of the first audio m-line of our answer.
fn negotiated_audio(answer: &str) -> Option<(Mid, AgentMedia)> {
    let mut in_audio = false;
    let mut mid = None;
    let mut formats: Vec<u8> = Vec::new();
    let mut names: HashMap<u8, String> = HashMap::new();
    for line in answer.lines() {
        if let Some(m) = line.strip_prefix("m=") {
            if in_audio {
                break;
            }
            in_audio =
                m.starts_with("audio ") && m.split_whitespace().nth(1).is_none_or(|p| p != "0");
            formats = m.split_whitespace().skip(3).filter_map(|f| f.parse().ok()).collect();
        } else if in_audio {
            if let Some(v) = line.strip_prefix("a=mid:") {
                mid = Some(Mid::from(v.trim()));
            } else if let Some(map) = line.strip_prefix("a=rtpmap:")
                && let Some((pt, name)) = map.split_once(' ')
                && let Ok(pt) = pt.parse()
            {
                names.insert(pt, name.to_ascii_lowercase());
            }
        }
    }
    let name = |pt: &u8| names.get(pt).map(String::as_str);
    let (payload_type, codec) = formats.iter().find_map(|pt| match name(pt) {
        Some(n) if n.starts_with("pcmu/8000") => Some((*pt, Codec::Pcmu)),
        Some(n) if n.starts_with("pcma/8000") => Some((*pt, Codec::Pcma)),
        _ => None,
    })?;
    let telephone_event = formats
        .iter()
        .copied()
        .find(|pt| name(pt).is_some_and(|n| n.starts_with("telephone-event/8000")));
    Some((mid?, AgentMedia { codec, payload_type, telephone_event }))
}

/// What [`Legs`] asks of its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegsOutput {
    /// Send this datagram from the shared socket.
    Transmit {
        /// Destination.
        destination: SocketAddr,
        /// Octets.
        contents: Vec<u8>,
    },
    /// An event on a leg.
    Event {
        /// Leg.
        leg: AgentLegId,
        /// What happened.
        event: LegEvent,
    },
}

/// All agent legs on one socket.
pub struct Legs {
    local: SocketAddr,
    legs: HashMap<AgentLegId, AgentLeg>,
    by_addr: HashMap<SocketAddr, AgentLegId>,
    by_ufrag: HashMap<String, AgentLegId>,
    out: VecDeque<LegsOutput>,
    /// Datagrams no leg claimed.
    pub unclaimed: u64,
}

impl Legs {
    /// No legs yet; `local` is the shared socket's address.
    pub fn new(local: SocketAddr) -> Self {
        Self {
            local,
            legs: HashMap::new(),
            by_addr: HashMap::new(),
            by_ufrag: HashMap::new(),
            out: VecDeque::new(),
            unclaimed: 0,
        }
    }

    /// Number of live legs.
    pub fn len(&self) -> usize {
        self.legs.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.legs.is_empty()
    }

    /// Answers an offer and adds the leg; returns the SDP answer.
    pub fn create(
        &mut self,
        now: Instant,
        id: AgentLegId,
        offer: &str,
        ufrag: String,
        pass: String,
    ) -> Result<String, WebrtcError> {
        let (leg, answer) = AgentLeg::accept(now, offer, self.local, ufrag.clone(), pass)?;
        self.by_ufrag.insert(ufrag, id);
        self.legs.insert(id, leg);
        self.drive(id);
        Ok(answer)
    }

    /// The leg, if live.
    pub fn get_mut(&mut self, id: AgentLegId) -> Option<&mut AgentLeg> {
        self.legs.get_mut(&id)
    }

    /// Removes a leg (after closing it, or when it failed).
    pub fn remove(&mut self, id: AgentLegId) {
        if let Some(mut leg) = self.legs.remove(&id) {
            leg.close();
            self.by_ufrag.remove(&leg.ufrag);
            self.by_addr.retain(|_, l| *l != id);
        }
    }

    /// A datagram arrived on the shared socket.
    pub fn receive(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        let Ok(receive) = Receive::new(Protocol::Udp, source, self.local, data) else {
            self.unclaimed += 1;
            return;
        };
        let input = Input::Receive(now, receive);
        let id = self
            .by_addr
            .get(&source)
            .copied()
            .or_else(|| stun_local_ufrag(data).and_then(|u| self.by_ufrag.get(u).copied()))
            .filter(|id| self.legs.get(id).is_some_and(|l| l.rtc.accepts(&input)));
        let Some(id) = id else {
            self.unclaimed += 1;
            return;
        };
        let Some(leg) = self.legs.get_mut(&id) else { return };
        if let Err(e) = leg.rtc.handle_input(input) {
            debug!(%id, error = %e, "agent leg input refused");
        }
        self.by_addr.entry(source).or_insert(id);
        self.drive(id);
    }

    /// Sends one RTP packet on a leg.
    pub fn write_rtp(&mut self, now: Instant, id: AgentLegId, header: Header, payload: Vec<u8>) {
        if let Some(leg) = self.legs.get_mut(&id) {
            leg.write_rtp(now, header, payload);
            self.drive(id);
        }
    }

    /// Time passed: drive every leg whose deadline is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<AgentLegId> = self
            .legs
            .iter()
            .filter(|(_, l)| l.deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(leg) = self.legs.get_mut(&id)
                && let Err(e) = leg.rtc.handle_input(Input::Timeout(now))
            {
                debug!(%id, error = %e, "agent leg timeout failed");
            }
            self.drive(id);
        }
    }

    /// Polls one leg's str0m until it only has a deadline, and records that deadline.
    fn drive(&mut self, id: AgentLegId) {
        let Some(leg) = self.legs.get_mut(&id) else { return };
        loop {
            match leg.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    leg.deadline = Some(t);
                    return;
                }
                Ok(Output::Transmit(t)) => self.out.push_back(LegsOutput::Transmit {
                    destination: t.destination,
                    contents: t.contents.into(),
                }),
                Ok(Output::Event(event)) => {
                    let event = match event {
                        RtcEvent::Connected => {
                            leg.connected = true;
                            Some(LegEvent::Connected)
                        }
                        RtcEvent::RtpPacket(p) => Some(LegEvent::Rtp {
                            header: Header {
                                marker: p.header.marker,
                                payload_type: *p.header.payload_type,
                                sequence: p.header.sequence_number,
                                timestamp: p.header.timestamp,
                                ssrc: *p.header.ssrc,
                            },
                            payload: p.payload,
                        }),
                        RtcEvent::IceConnectionStateChange(IceConnectionState::Disconnected)
                        | RtcEvent::Closed
                            if !leg.closed =>
                        {
                            leg.closed = true;
                            Some(LegEvent::Closed("the browser went away".into()))
                        }
                        _ => None,
                    };
                    if let Some(event) = event {
                        self.out.push_back(LegsOutput::Event { leg: id, event });
                    }
                }
                Err(e) => {
                    leg.deadline = None;
                    if !leg.closed {
                        leg.closed = true;
                        self.out.push_back(LegsOutput::Event {
                            leg: id,
                            event: LegEvent::Closed(e.to_string()),
                        });
                    }
                    return;
                }
            }
        }
    }

    /// The earliest deadline of any leg.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.legs.values().filter_map(|l| l.deadline).min()
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<LegsOutput> {
        self.out.pop_front()
    }
}

/// The local ufrag of a STUN binding request: the part of `USERNAME` before the colon.
fn stun_local_ufrag(data: &[u8]) -> Option<&str> {
    // RFC 5389 §6: 20-octet header, magic cookie 0x2112A442, then TLV attributes.
    if data.len() < 20 || data[0] & 0xc0 != 0 || data[4..8] != [0x21, 0x12, 0xa4, 0x42] {
        return None;
    }
    let mut rest = &data[20..];
    while rest.len() >= 4 {
        let kind = u16::from_be_bytes([rest[0], rest[1]]);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let value = rest.get(4..4 + len)?;
        if kind == 0x0006 {
            let username = std::str::from_utf8(value).ok()?;
            return username.split(':').next();
        }
        rest = rest.get(4 + len.div_ceil(4) * 4..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_extend_across_wraps() {
        let mut last = None;
        assert_eq!(extend_seq(&mut last, 65534), 65534);
        assert_eq!(extend_seq(&mut last, 65535), 65535);
        assert_eq!(extend_seq(&mut last, 0), 65536);
        assert_eq!(extend_seq(&mut last, 65535), 65535, "a late packet stays before the wrap");
        assert_eq!(extend_seq(&mut last, 1), 65537);
    }

    #[test]
    fn stun_username_gives_the_local_ufrag() {
        let mut msg = vec![0x00, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42];
        msg.extend_from_slice(&[7; 12]);
        msg.extend_from_slice(&[0x00, 0x06, 0x00, 0x07]);
        msg.extend_from_slice(b"abc:xyz\0");
        assert_eq!(stun_local_ufrag(&msg), Some("abc"));
        assert_eq!(stun_local_ufrag(&msg[..25]), None);
        assert_eq!(stun_local_ufrag(b"\x80\x00 not stun at all, rtp maybe"), None);
        assert_eq!(stun_local_ufrag(&[]), None);
    }

    #[test]
    fn bad_offers_are_refused() {
        let now = Instant::now();
        let local = "127.0.0.1:9".parse().unwrap();
        let err = AgentLeg::accept(now, "not sdp", local, "u".into(), "p".repeat(24)).err();
        assert!(matches!(err, Some(WebrtcError::BadOffer(_))), "{err:?}");
    }

    #[test]
    fn answers_name_the_negotiated_codec() {
        let answer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 8 0 101\r\na=mid:0\r\na=rtpmap:8 PCMA/8000\r\n\
                      a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
        let (mid, media) = negotiated_audio(answer).unwrap();
        assert_eq!(mid, Mid::from("0"));
        assert_eq!(
            media,
            AgentMedia { codec: Codec::Pcma, payload_type: 8, telephone_event: Some(101) }
        );
        assert!(
            negotiated_audio(
                "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n"
            )
            .is_none()
        );
    }
}
