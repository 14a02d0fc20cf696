//! SDP offer/answer for trunk legs (RFC 4566 syntax, RFC 3264 negotiation): one audio stream,
//! G.711 (PCMU/PCMA) and telephone-event (RFC 4733).
//!
//! Parsing keeps only what negotiation needs and refuses descriptions that cannot describe a
//! usable audio stream. [`answer`] picks the first codec of the offer we support (RFC 3264
//! §6.1 lets the answerer choose; keeping the offerer's preference avoids transcoding on the
//! far side) and fails with [`SdpError::NoCommonCodec`], which the caller turns into 488.

use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};

use crate::codec::Codec;

/// Dynamic payload type we offer for telephone-event.
pub const TELEPHONE_EVENT_PT: u8 = 101;

/// Why a description was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// Not UTF-8, or a line that is not `x=value`.
    #[error("malformed SDP: {0}")]
    Malformed(String),
    /// No `m=audio` line with an RTP/AVP transport.
    #[error("no RTP audio stream in the SDP")]
    NoAudio,
    /// No connection address for the audio stream.
    #[error("no connection address in the SDP")]
    NoConnection,
    /// None of the offered codecs is one we relay.
    #[error("no common codec (we relay {ours}; the peer offered {theirs})")]
    NoCommonCodec {
        /// Ours, comma-separated.
        ours: String,
        /// Theirs, as payload types and names.
        theirs: String,
    },
}

/// Media direction attribute (RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Both ways.
    #[default]
    SendRecv,
    /// The description's owner only sends (e.g. puts the other on hold).
    SendOnly,
    /// The description's owner only receives.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    fn attribute(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    fn from_attribute(value: &str) -> Option<Self> {
        Some(match value {
            "sendrecv" => Self::SendRecv,
            "sendonly" => Self::SendOnly,
            "recvonly" => Self::RecvOnly,
            "inactive" => Self::Inactive,
            _ => return None,
        })
    }

    /// The direction an answer takes to this offer direction.
    pub fn reversed(self) -> Self {
        match self {
            Self::SendOnly => Self::RecvOnly,
            Self::RecvOnly => Self::SendOnly,
            d => d,
        }
    }

    /// The description's owner sends media.
    pub fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }

    /// The description's owner receives media.
    pub fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }

    fn from_flags(sends: bool, receives: bool) -> Self {
        match (sends, receives) {
            (true, true) => Self::SendRecv,
            (true, false) => Self::SendOnly,
            (false, true) => Self::RecvOnly,
            (false, false) => Self::Inactive,
        }
    }

    /// Our answer's direction to an offer of `offer` when we want `self` (RFC 3264 §6.1): we
    /// send only if we want to and the offerer receives, and receive only if we want to and
    /// the offerer sends. So `sendonly` is answered `recvonly`, `recvonly` `sendonly`,
    /// `inactive` `inactive`; and while we hold (`sendonly`) a `sendrecv` offer still gets
    /// `sendonly`.
    pub fn answer_to(self, offer: Direction) -> Self {
        let theirs = offer.reversed();
        Self::from_flags(self.sends() && theirs.sends(), self.receives() && theirs.receives())
    }
}

/// The audio direction a description states (media level, else session level, else
/// `sendrecv`); `None` when it is not a usable description.
pub fn direction_of(sdp: &[u8]) -> Option<Direction> {
    SessionDescription::parse(sdp).ok().map(|d| d.audio.direction)
}

/// The `o=` line's session version (RFC 4566 §5.2), if there is one.
pub fn version_of(sdp: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(sdp).ok()?;
    let origin = text.lines().find_map(|l| l.strip_prefix("o="))?;
    origin[version_field(origin)?].parse().ok()
}

/// Where the session version is in an `o=` value: its third field, fields being separated
/// by any white space. Reading and rewriting the version use this one definition, so a
/// version that reads as a number is the one that is raised.
fn version_field(origin: &str) -> Option<std::ops::Range<usize>> {
    let mut field = 0;
    let mut start = None;
    for (i, c) in origin.char_indices().chain(std::iter::once((origin.len(), ' '))) {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                if field == 2 {
                    return Some(s..i);
                }
                field += 1;
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    None
}

/// `origin` with its version rewritten by `change` (unchanged when it has none).
fn rewrite_version(origin: &str, change: impl FnOnce(u64) -> u64) -> String {
    match version_field(origin) {
        Some(range) => match origin[range.clone()].parse::<u64>() {
            Ok(v) => format!("{}{}{}", &origin[..range.start], change(v), &origin[range.end..]),
            Err(_) => origin.to_owned(),
        },
        None => origin.to_owned(),
    }
}

/// `sdp` with an `o=` version above `floor` (RFC 3264 §8: each description we send has a
/// higher version than the one before, whoever built it); unchanged when it already has.
pub fn with_version_above(sdp: &[u8], floor: u64) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(sdp) else { return sdp.to_vec() };
    // A version at the top of its range cannot be raised: the description stays as it is.
    let Some(next) = floor.checked_add(1) else { return sdp.to_vec() };
    if version_of(sdp).is_none_or(|v| v > floor) {
        return sdp.to_vec();
    }
    let mut out = String::with_capacity(text.len() + 4);
    for line in text.split_inclusive('\n') {
        match line.strip_prefix("o=") {
            Some(origin) => {
                out.push_str("o=");
                out.push_str(&rewrite_version(origin, |_| next));
            }
            None => out.push_str(line),
        }
    }
    out.into_bytes()
}

/// Our description `sdp` with its audio stream's direction set to `direction`: the stream's
/// own direction attributes are replaced by one at the end of its section (a media-level
/// attribute wins over a session-level one, RFC 4566 §6); the session level and other media
/// are left alone. When that changes the direction, the `o=` version is incremented (RFC 3264
/// §8: a changed description has a higher version); otherwise, or when `sdp` is no usable
/// description, it comes back as it was.
pub fn with_direction(sdp: &[u8], direction: Direction) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(sdp) else { return sdp.to_vec() };
    if direction_of(sdp).is_none_or(|d| d == direction) {
        return sdp.to_vec();
    }
    let attribute = format!("a={}\r\n", direction.attribute());
    let mut out = String::with_capacity(text.len() + 16);
    // In the section of the audio stream `direction_of` reads (the first RTP audio one).
    let (mut in_audio, mut seen_audio) = (false, false);
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\r', '\n']);
        let eol = &line[bare.len()..];
        if let Some(media) = bare.strip_prefix("m=") {
            if in_audio {
                end_line(&mut out);
                out.push_str(&attribute);
            }
            in_audio = !seen_audio && is_rtp_audio(media);
            seen_audio |= in_audio;
            out.push_str(line);
        } else if let Some(origin) = bare.strip_prefix("o=") {
            out.push_str("o=");
            // At the top of the range the version stays (it cannot grow further).
            out.push_str(&rewrite_version(origin, |v| v.saturating_add(1)));
            out.push_str(eol);
        } else if in_audio
            && bare.trim_end().strip_prefix("a=").and_then(Direction::from_attribute).is_some()
        {
            // Replaced by the one written at the end of the section.
        } else {
            out.push_str(line);
        }
    }
    if in_audio {
        end_line(&mut out);
        out.push_str(&attribute);
    }
    out.into_bytes()
}

/// Ends the text with a line break if it has none.
fn end_line(out: &mut String) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str("\r\n");
    }
}

/// True when an `m=` line's value describes an RTP audio stream.
fn is_rtp_audio(media: &str) -> bool {
    let mut parts = media.split_whitespace();
    parts.next() == Some("audio") && parts.nth(1).is_some_and(|p| p.starts_with("RTP/AVP"))
}

/// The audio stream of a parsed description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    /// Where to send RTP (connection address and media port).
    pub rtp: SocketAddr,
    /// Offered payload types in order, with the G.711 codec each maps to, if any.
    pub formats: Vec<(u8, Option<Codec>)>,
    /// Payload type of telephone-event/8000, if offered.
    pub telephone_event: Option<u8>,
    /// Direction.
    pub direction: Direction,
    /// Where to send RTCP when it says so (`a=rtcp`, RFC 3605); else the RTP port + 1.
    pub rtcp: Option<SocketAddr>,
    /// `a=rtcp-mux` (RFC 5761): RTCP shares the RTP port.
    pub rtcp_mux: bool,
}

/// A parsed session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// The first RTP audio stream.
    pub audio: Audio,
}

/// The result of negotiation: what both sides send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The codec.
    pub codec: Codec,
    /// Its payload type.
    pub payload_type: u8,
    /// telephone-event payload type, when both sides have it.
    pub telephone_event: Option<u8>,
    /// Where the peer receives RTP.
    pub remote: SocketAddr,
    /// The peer's direction.
    pub remote_direction: Direction,
    /// Where the peer receives RTCP: its RTP address when muxed, its `a=rtcp` address,
    /// else the port after its RTP port (RFC 3550 §11); `None` when there is no such port.
    pub remote_rtcp: Option<SocketAddr>,
    /// Whether RTCP is multiplexed on the RTP port (RFC 5761: we always offer it, so the
    /// peer's `a=rtcp-mux` decides, in its offer or its answer).
    pub rtcp_mux: bool,
}

impl SessionDescription {
    /// Parses the parts of an SDP body negotiation needs.
    pub fn parse(body: &[u8]) -> Result<Self, SdpError> {
        let text =
            std::str::from_utf8(body).map_err(|_| SdpError::Malformed("not UTF-8".into()))?;
        let mut session_addr = None;
        let mut audio: Option<(u16, Vec<u8>)> = None;
        let mut media_addr = None;
        let mut in_audio = false;
        let mut seen_audio = false;
        let mut rtpmap: Vec<(u8, String)> = Vec::new();
        // RFC 4566 §6: a direction attribute at session level applies to every medium that
        // does not say otherwise.
        let mut session_direction = Direction::SendRecv;
        let mut media_direction = None;
        let mut any_media = false;
        let mut rtcp_port = None;
        let mut rtcp_addr = None;
        let mut rtcp_mux = false;
        for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
            let (kind, value) = line
                .split_once('=')
                .filter(|(k, _)| k.len() == 1)
                .ok_or_else(|| SdpError::Malformed(format!("line {line:?}")))?;
            match kind {
                // RFC 4566 §5.7: a c= line before the first m= line is the session's; one
                // inside a media description is that medium's only (a video stream's
                // address is not the audio's).
                "c" if !any_media => session_addr = Some(parse_connection(value)?),
                "c" if in_audio => media_addr = Some(parse_connection(value)?),
                "m" => {
                    in_audio = false;
                    any_media = true;
                    if seen_audio {
                        continue;
                    }
                    let mut parts = value.split_whitespace();
                    let (Some(media), Some(port), Some(proto)) =
                        (parts.next(), parts.next(), parts.next())
                    else {
                        return Err(SdpError::Malformed(format!("m= line {value:?}")));
                    };
                    if media != "audio" || !proto.starts_with("RTP/AVP") {
                        continue;
                    }
                    let port = port
                        .split('/')
                        .next()
                        .and_then(|p| p.parse::<u16>().ok())
                        .ok_or_else(|| SdpError::Malformed(format!("port {port:?}")))?;
                    let formats = parts
                        .map(|f| {
                            f.parse::<u8>()
                                .map_err(|_| SdpError::Malformed(format!("format {f:?}")))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    audio = Some((port, formats));
                    in_audio = true;
                    seen_audio = true;
                }
                "a" if in_audio => {
                    if let Some(map) = value.strip_prefix("rtpmap:") {
                        if let Some((pt, name)) = map.split_once(' ')
                            && let Ok(pt) = pt.parse::<u8>()
                        {
                            rtpmap.push((pt, name.trim().to_ascii_lowercase()));
                        }
                    } else if let Some(d) = Direction::from_attribute(value) {
                        media_direction = Some(d);
                    } else if value == "rtcp-mux" {
                        rtcp_mux = true;
                    } else if let Some(rtcp) = value.strip_prefix("rtcp:") {
                        // RFC 3605: `a=rtcp:port [nettype addrtype address]`; one we cannot
                        // read is ignored (the default port still works).
                        let (port, addr) = rtcp.trim().split_once(' ').unwrap_or((rtcp.trim(), ""));
                        rtcp_port = port.parse::<u16>().ok();
                        rtcp_addr =
                            (!addr.is_empty()).then(|| parse_connection(addr).ok()).flatten();
                    }
                }
                "a" if !any_media => {
                    if let Some(d) = Direction::from_attribute(value) {
                        session_direction = d;
                    }
                }
                _ => {}
            }
        }
        let direction = media_direction.unwrap_or(session_direction);
        let (port, pts) = audio.ok_or(SdpError::NoAudio)?;
        let ip = media_addr.or(session_addr).ok_or(SdpError::NoConnection)?;
        let name_of = |pt: u8| rtpmap.iter().find(|(p, _)| *p == pt).map(|(_, n)| n.as_str());
        let formats = pts
            .iter()
            .map(|&pt| {
                let codec = match name_of(pt) {
                    Some("pcmu/8000") | Some("pcmu/8000/1") => Some(Codec::Pcmu),
                    Some("pcma/8000") | Some("pcma/8000/1") => Some(Codec::Pcma),
                    // RFC 3551 static types need no rtpmap.
                    None => Codec::from_payload_type(pt),
                    Some(_) => None,
                };
                (pt, codec)
            })
            .collect();
        let telephone_event = pts
            .iter()
            .copied()
            .find(|&pt| name_of(pt).is_some_and(|n| n.starts_with("telephone-event/8000")));
        let rtcp = rtcp_port.map(|p| SocketAddr::new(rtcp_addr.unwrap_or(ip), p));
        Ok(Self {
            audio: Audio {
                rtp: SocketAddr::new(ip, port),
                formats,
                telephone_event,
                direction,
                rtcp,
                rtcp_mux,
            },
        })
    }

    /// Negotiates against our codec list (as an answerer, or reading the answer to our offer).
    pub fn negotiate(&self, ours: &[Codec]) -> Result<Negotiated, SdpError> {
        let (payload_type, codec) = self
            .audio
            .formats
            .iter()
            .find_map(|&(pt, c)| c.filter(|c| ours.contains(c)).map(|c| (pt, c)))
            .ok_or_else(|| SdpError::NoCommonCodec {
                ours: ours.iter().map(|c| c.name()).collect::<Vec<_>>().join(", "),
                theirs: self
                    .audio
                    .formats
                    .iter()
                    .map(|(pt, c)| c.map_or(pt.to_string(), |c| c.name().to_owned()))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        Ok(Negotiated {
            codec,
            payload_type,
            telephone_event: self.audio.telephone_event,
            remote: self.audio.rtp,
            remote_direction: self.audio.direction,
            remote_rtcp: self.remote_rtcp(),
            rtcp_mux: self.audio.rtcp_mux,
        })
    }

    /// Where the peer receives RTCP (see [`Negotiated::remote_rtcp`]).
    fn remote_rtcp(&self) -> Option<SocketAddr> {
        let rtp = self.audio.rtp;
        if self.audio.rtcp_mux {
            return Some(rtp);
        }
        self.audio.rtcp.or_else(|| {
            rtp.port()
                .checked_add(1)
                .filter(|_| rtp.port() != 0)
                .map(|p| SocketAddr::new(rtp.ip(), p))
        })
    }
}

fn parse_connection(value: &str) -> Result<IpAddr, SdpError> {
    let mut parts = value.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some("IN"), Some("IP4" | "IP6"), Some(addr)) => addr
            .split('/')
            .next()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| SdpError::Malformed(format!("address {addr:?}"))),
        _ => Err(SdpError::Malformed(format!("c= {value:?}"))),
    }
}

/// Builds our description: an offer listing `codecs` (with telephone-event), or an answer
/// naming the negotiated codec and the peer's telephone-event type.
#[derive(Debug, Clone)]
pub struct LocalDescription {
    /// Session id (`o=` line), stable for the call.
    pub session_id: u64,
    /// Version, incremented for every changed description (RFC 3264 §8).
    pub version: u64,
    /// Where we receive RTP.
    pub rtp: SocketAddr,
    /// Formats: payload type and codec, in preference order.
    pub codecs: Vec<(u8, Codec)>,
    /// telephone-event payload type, if any.
    pub telephone_event: Option<u8>,
    /// Our direction.
    pub direction: Direction,
    /// Whether we say `a=rtcp-mux`: always in offers (we take RTCP on both ports, so
    /// offering it is safe, RFC 5761 §5.1.1), in answers when the offer had it.
    pub rtcp_mux: bool,
}

impl LocalDescription {
    /// An offer for `codecs` with their static payload types.
    pub fn offer(session_id: u64, rtp: SocketAddr, codecs: &[Codec]) -> Self {
        Self {
            session_id,
            version: 1,
            rtp,
            codecs: codecs.iter().map(|c| (c.payload_type(), *c)).collect(),
            telephone_event: Some(TELEPHONE_EVENT_PT),
            direction: Direction::SendRecv,
            rtcp_mux: true,
        }
    }

    /// The answer to a negotiated offer.
    pub fn answer(session_id: u64, rtp: SocketAddr, negotiated: &Negotiated) -> Self {
        Self {
            session_id,
            version: 1,
            rtp,
            codecs: vec![(negotiated.payload_type, negotiated.codec)],
            telephone_event: negotiated.telephone_event,
            direction: negotiated.remote_direction.reversed(),
            rtcp_mux: negotiated.rtcp_mux,
        }
    }

    /// The SDP text.
    pub fn to_bytes(&self) -> Vec<u8> {
        let ip = self.rtp.ip();
        let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
        let mut s = String::new();
        let _ = write!(
            s,
            "v=0\r\no=gateway {} {} IN {family} {ip}\r\ns=-\r\nc=IN {family} {ip}\r\nt=0 0\r\n",
            self.session_id, self.version
        );
        let mut pts: Vec<String> = self.codecs.iter().map(|(pt, _)| pt.to_string()).collect();
        if let Some(te) = self.telephone_event {
            pts.push(te.to_string());
        }
        let _ = write!(s, "m=audio {} RTP/AVP {}\r\n", self.rtp.port(), pts.join(" "));
        for (pt, codec) in &self.codecs {
            let _ = write!(s, "a=rtpmap:{pt} {}/8000\r\n", codec.name());
        }
        if let Some(te) = self.telephone_event {
            let _ = write!(s, "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-16\r\n");
        }
        let _ = write!(s, "a=ptime:20\r\na={}\r\n", self.direction.attribute());
        if self.rtcp_mux {
            s.push_str("a=rtcp-mux\r\n");
        }
        s.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIPP_OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
        c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

    #[test]
    fn answers_reverse_the_offered_direction_within_what_we_want() {
        use Direction::*;
        // RFC 3264 §6.1 as the answerer who wants both ways.
        for (offer, answer) in
            [(SendOnly, RecvOnly), (RecvOnly, SendOnly), (Inactive, Inactive), (SendRecv, SendRecv)]
        {
            assert_eq!(SendRecv.answer_to(offer), answer, "{offer:?}");
        }
        // While we hold the peer, we keep only sending.
        assert_eq!(SendOnly.answer_to(SendRecv), SendOnly);
        assert_eq!(SendOnly.answer_to(SendOnly), Inactive);
    }

    #[test]
    fn session_level_direction_applies_unless_the_medium_says_otherwise() {
        let held = format!("{SIPP_OFFER}a=sendonly\r\n");
        assert_eq!(direction_of(held.as_bytes()), Some(Direction::SendOnly));
        let session = SIPP_OFFER.replace("t=0 0\r\n", "t=0 0\r\na=inactive\r\n");
        assert_eq!(direction_of(session.as_bytes()), Some(Direction::Inactive));
        let both = format!("{session}a=recvonly\r\n");
        assert_eq!(direction_of(both.as_bytes()), Some(Direction::RecvOnly));
        assert_eq!(direction_of(SIPP_OFFER.as_bytes()), Some(Direction::SendRecv));
    }

    #[test]
    fn changing_our_direction_bumps_the_version_once() {
        let ours = LocalDescription::offer(7, "192.0.2.9:4000".parse().unwrap(), &[Codec::Pcmu]);
        let sdp = ours.to_bytes();
        assert_eq!(version_of(&sdp), Some(1));
        let held = with_direction(&sdp, Direction::RecvOnly);
        assert_eq!(direction_of(&held), Some(Direction::RecvOnly));
        assert_eq!(version_of(&held), Some(2));
        let text = String::from_utf8(held.clone()).unwrap();
        assert_eq!(text.matches("a=recvonly").count(), 1);
        assert!(!text.contains("a=sendrecv"));
        assert_eq!(with_direction(&held, Direction::RecvOnly), held, "unchanged: same version");
        // A description with no direction attribute gets one.
        let bare = with_direction(SIPP_OFFER.as_bytes(), Direction::Inactive);
        assert_eq!(direction_of(&bare), Some(Direction::Inactive));
        assert_eq!(version_of(&bare), Some(2353687638));
    }

    #[test]
    fn the_direction_is_set_on_the_audio_stream_only() {
        let sdp = "v=0\r\no=peer 1 5 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
                   a=inactive\r\nm=video 5000 RTP/AVP 96\r\na=recvonly\r\n\
                   m=audio 4000 RTP/AVP 0\r\na=sendonly\r\na=ptime:20\r\nm=text 6000 RTP/AVP 98\r\n";
        let held = with_direction(sdp.as_bytes(), Direction::RecvOnly);
        assert_eq!(direction_of(&held), Some(Direction::RecvOnly));
        assert_eq!(version_of(&held), Some(6));
        let text = String::from_utf8(held).unwrap();
        assert!(text.contains("m=video 5000 RTP/AVP 96\r\na=recvonly\r\n"), "video untouched");
        assert!(text.contains("t=0 0\r\na=inactive\r\n"), "session level untouched");
        assert!(
            text.contains("m=audio 4000 RTP/AVP 0\r\na=ptime:20\r\na=recvonly\r\nm=text"),
            "{text}"
        );
        assert!(!text.contains("sendonly"));
    }

    #[test]
    fn versions_are_raised_above_a_floor_only_when_needed() {
        let sdp = SIPP_OFFER.as_bytes();
        assert_eq!(with_version_above(sdp, 1), sdp, "already above");
        let raised = with_version_above(sdp, 2353687640);
        assert_eq!(version_of(&raised), Some(2353687641));
        assert_eq!(
            String::from_utf8(raised).unwrap(),
            SIPP_OFFER.replace(" 2353687637 ", " 2353687641 "),
            "nothing else changes"
        );
    }

    #[test]
    fn the_version_is_found_the_same_way_it_is_read() {
        // Fields separated by a tab and a stray carriage return: still the third field.
        let odd = SIPP_OFFER
            .replace("o=user1 53655765 2353687637 IN", "o=user1\t53655765 2353687637\r IN");
        assert_eq!(version_of(odd.as_bytes()), Some(2353687637));
        let held = with_direction(odd.as_bytes(), Direction::SendOnly);
        assert_eq!(version_of(&held), Some(2353687638));
        let raised = with_version_above(odd.as_bytes(), 2353687640);
        assert_eq!(version_of(&raised), Some(2353687641));
    }

    #[test]
    fn the_largest_version_never_overflows() {
        let top = SIPP_OFFER.replace(" 2353687637 ", &format!(" {} ", u64::MAX));
        let held = with_direction(top.as_bytes(), Direction::SendOnly);
        assert_eq!(direction_of(&held), Some(Direction::SendOnly));
        assert_eq!(version_of(&held), Some(u64::MAX));
        assert_eq!(with_version_above(top.as_bytes(), u64::MAX), top.as_bytes());
    }

    #[test]
    fn static_payload_types_need_no_rtpmap() {
        let sdp =
            SessionDescription::parse(b"v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 8 0\r\n")
                .unwrap();
        let n = sdp.negotiate(&[Codec::Pcmu, Codec::Pcma]).unwrap();
        assert_eq!(n.codec, Codec::Pcma, "offerer's order wins");
        assert_eq!(n.remote, "192.0.2.1:4000".parse().unwrap());
    }

    #[test]
    fn answer_to_sipp_offer() {
        let offer = SessionDescription::parse(SIPP_OFFER.as_bytes()).unwrap();
        let n = offer.negotiate(&[Codec::Pcma, Codec::Pcmu]).unwrap();
        assert_eq!((n.codec, n.payload_type, n.telephone_event), (Codec::Pcmu, 0, None));
        let answer = LocalDescription::answer(7, "127.0.0.1:7000".parse().unwrap(), &n).to_bytes();
        let parsed = SessionDescription::parse(&answer).unwrap();
        assert_eq!(parsed.audio.formats, [(0, Some(Codec::Pcmu))]);
        assert_eq!(parsed.audio.rtp, "127.0.0.1:7000".parse().unwrap());
    }

    #[test]
    fn offer_round_trips_with_telephone_event_and_direction() {
        let mut offer =
            LocalDescription::offer(1, "[::1]:5004".parse().unwrap(), &[Codec::Pcmu, Codec::Pcma]);
        offer.direction = Direction::SendOnly;
        let parsed = SessionDescription::parse(&offer.to_bytes()).unwrap();
        assert_eq!(parsed.audio.telephone_event, Some(TELEPHONE_EVENT_PT));
        assert_eq!(parsed.audio.direction, Direction::SendOnly);
        assert_eq!(
            parsed.audio.formats,
            [(0, Some(Codec::Pcmu)), (8, Some(Codec::Pcma)), (101, None)]
        );
        let n = parsed.negotiate(&[Codec::Pcma]).unwrap();
        assert_eq!(n.remote_direction.reversed(), Direction::RecvOnly);
    }

    #[test]
    fn media_level_connection_wins_and_dynamic_types_map_by_name() {
        let sdp = SessionDescription::parse(
            b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=video 5000 RTP/AVP 96\r\nm=audio 4000 RTP/AVP 97 101\r\n\
              c=IN IP4 10.0.0.2\r\na=rtpmap:97 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
        )
        .unwrap();
        assert_eq!(sdp.audio.rtp, "10.0.0.2:4000".parse().unwrap());
        let n = sdp.negotiate(&[Codec::Pcma]).unwrap();
        assert_eq!((n.payload_type, n.telephone_event), (97, Some(101)));
    }

    #[test]
    fn another_mediums_connection_is_not_the_sessions() {
        // Video (with its own c=) before audio: the audio uses the session's address.
        let sdp = SessionDescription::parse(
            b"v=0\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\nc=IN IP4 10.0.0.9\r\n\
              m=audio 4000 RTP/AVP 0\r\n",
        )
        .unwrap();
        assert_eq!(sdp.audio.rtp, "10.0.0.1:4000".parse().unwrap());
        // Without a session address, audio with none of its own has none.
        assert_eq!(
            SessionDescription::parse(
                b"v=0\r\nm=video 5000 RTP/AVP 96\r\nc=IN IP4 10.0.0.9\r\nm=audio 4000 RTP/AVP 0\r\n"
            ),
            Err(SdpError::NoConnection)
        );
    }

    #[test]
    fn unusable_descriptions_are_refused() {
        let opus = b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n";
        let err = SessionDescription::parse(opus).unwrap().negotiate(&[Codec::Pcmu]).unwrap_err();
        assert!(matches!(err, SdpError::NoCommonCodec { .. }), "{err}");
        assert!(err.to_string().contains("opus") || err.to_string().contains("111"));
        assert_eq!(
            SessionDescription::parse(b"v=0\r\nc=IN IP4 1.2.3.4\r\n"),
            Err(SdpError::NoAudio)
        );
        assert_eq!(
            SessionDescription::parse(b"v=0\r\nm=audio 1 RTP/AVP 0\r\n"),
            Err(SdpError::NoConnection)
        );
        assert!(SessionDescription::parse(b"garbage").is_err());
        assert!(SessionDescription::parse(&[0xff, 0xfe]).is_err());
        assert!(
            SessionDescription::parse(b"v=0\r\nc=IN IP4 x\r\nm=audio 1 RTP/AVP 0\r\n").is_err()
        );
    }

    #[test]
    fn rtcp_goes_to_the_next_port_the_rtcp_attribute_or_the_rtp_port_when_muxed() {
        let ours = [Codec::Pcmu];
        let plain = SessionDescription::parse(SIPP_OFFER.as_bytes()).unwrap();
        let n = plain.negotiate(&ours).unwrap();
        assert_eq!((n.remote_rtcp, n.rtcp_mux), (Some("127.0.0.1:6001".parse().unwrap()), false));
        let port = format!("{SIPP_OFFER}a=rtcp:7000\r\n");
        let n = SessionDescription::parse(port.as_bytes()).unwrap().negotiate(&ours).unwrap();
        assert_eq!(n.remote_rtcp, Some("127.0.0.1:7000".parse().unwrap()));
        let addr = format!("{SIPP_OFFER}a=rtcp:7002 IN IP4 192.0.2.5\r\n");
        let n = SessionDescription::parse(addr.as_bytes()).unwrap().negotiate(&ours).unwrap();
        assert_eq!(n.remote_rtcp, Some("192.0.2.5:7002".parse().unwrap()));
        // Unreadable: the default port.
        let junk = format!("{SIPP_OFFER}a=rtcp:lots\r\n");
        let n = SessionDescription::parse(junk.as_bytes()).unwrap().negotiate(&ours).unwrap();
        assert_eq!(n.remote_rtcp, Some("127.0.0.1:6001".parse().unwrap()));
        let mux = format!("{SIPP_OFFER}a=rtcp-mux\r\na=rtcp:7000\r\n");
        let n = SessionDescription::parse(mux.as_bytes()).unwrap().negotiate(&ours).unwrap();
        assert_eq!((n.remote_rtcp, n.rtcp_mux), (Some("127.0.0.1:6000".parse().unwrap()), true));
        // We offer mux, and answer it only when offered.
        let offer = LocalDescription::offer(1, "192.0.2.9:4000".parse().unwrap(), &ours);
        assert!(String::from_utf8(offer.to_bytes()).unwrap().contains("a=rtcp-mux\r\n"));
        let answer = LocalDescription::answer(1, offer.rtp, &n);
        assert!(String::from_utf8(answer.to_bytes()).unwrap().contains("a=rtcp-mux\r\n"));
        let plain = plain.negotiate(&ours).unwrap();
        let answer = LocalDescription::answer(1, offer.rtp, &plain);
        assert!(!String::from_utf8(answer.to_bytes()).unwrap().contains("rtcp-mux"));
    }
}
