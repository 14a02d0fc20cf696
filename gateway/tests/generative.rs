//! Generative tests of everything the gateway reads from the network: the SIP parser and
//! stream framing, SDP offers and answers, and the SIP user agent fed generated and mutated
//! traffic in virtual time.
//!
//! Properties (each over generated input, never a fixed list):
//! - any octets: the parser and the framer never panic; a refused request gets a clean reply
//!   (no control character, the mandatory header fields, one stream message long);
//! - well-formed messages (random spellings: compact names, folding, case, spacing) parse to
//!   what was generated; anything parsed serialises and parses back to the same message;
//! - mutated messages (byte flips, cuts, duplicated or dropped lines, huge values, control
//!   characters) either parse — and round-trip — or are refused cleanly;
//! - SDP: any octets never panic; generated offers give the codec, address, telephone-event
//!   and direction they state, and our answer agrees with them (RFC 3264 §6.1);
//! - the user agent: whatever arrives, at most a few datagrams answer each one, everything it
//!   sends is well-formed, every call ends exactly once, and nothing is left once the timers
//!   have run out.
//!
//! Each property runs `PROPTEST_CASES` cases (default [`CASES`]): bounded in CI;
//! `scripts/fuzz.sh` runs the same properties with many more.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway::call::{CallId, CallerId, PhoneNumber, TrunkId};
use gateway::codec::Codec;
use gateway::sdp::{self, Direction, LocalDescription, SessionDescription};
use gateway::sip::message::{
    Framing, HeaderError, Message, NameAddr, ParseError, Rejected, StatusCode, Transport,
    frame_stream, parse,
};
use gateway::sip::rate::RateLimit;
use gateway::sip::transaction::Timers;
use gateway::sip::ua::{self, Event, Input, Originate, Output, UserAgent};
use gateway::trunk::Trunk;
use proptest::prelude::*;
use proptest::sample::Index;

/// Cases per property when `PROPTEST_CASES` is not set.
const CASES: u32 = 256;

fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

// ----- generated SIP messages -----

/// Octets as text for failure reports: lossy UTF-8, runs of one character shortened.
fn show(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let mut n = 1;
        while chars.peek() == Some(&c) {
            chars.next();
            n += 1;
        }
        if n > 8 {
            out.push_str(&format!("{}×{n}", c.escape_debug()));
        } else {
            out.extend(std::iter::repeat_n(c, n).flat_map(char::escape_debug));
        }
    }
    out
}

/// A message as generated, with the values the parser must find in it.
#[derive(Clone)]
struct Generated {
    wire: Vec<u8>,
    method: Option<String>,
    status: Option<u16>,
    call_id: String,
    cseq: u32,
    vias: usize,
    body: Vec<u8>,
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.!%*_+`'~-]{1,10}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("127.0.0.1".to_owned()),
        "192\\.0\\.2\\.[0-9]{1,2}",
        "[a-z]{1,8}(\\.[a-z0-9][a-z0-9-]{0,5}){0,2}",
        "\\[2001:db8::[1-9a-f]{1,4}\\]",
    ]
}

fn host_port() -> impl Strategy<Value = String> {
    (host(), prop::option::of(1u16..)).prop_map(|(h, p)| match p {
        Some(p) => format!("{h}:{p}"),
        None => h,
    })
}

fn sip_uri() -> impl Strategy<Value = String> {
    ("(sip|sips|SIP)", "[a-z0-9+]{1,8}", host_port(), prop::option::of(";transport=(udp|tcp)"))
        .prop_map(|(scheme, user, hp, param)| {
            format!("{scheme}:{user}@{hp}{}", param.unwrap_or_default())
        })
}

/// A quoted display name: any printable text, with `"` and `\` escaped, and now and then an
/// escaped control character (RFC 3261 §25.1 quoted-pair allows any octet but CR and LF).
fn quoted_display() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            8 => "\\PC".prop_map(|c| c.replace('\\', "\\\\").replace('"', "\\\"")),
            1 => prop::sample::select(vec!["\\\u{0}", "\\\u{7}", "\\\u{7f}", "\\\t"]).prop_map(str::to_owned),
        ],
        0..12,
    )
    .prop_map(|parts| format!("\"{}\"", parts.concat()))
}

fn name_addr(tag: Option<String>) -> impl Strategy<Value = String> {
    let display = prop_oneof![
        Just(String::new()),
        "[A-Za-z]{1,8}( [A-Za-z]{1,8})? ",
        quoted_display().prop_map(|d| format!("{d} ")),
    ];
    let params = prop::collection::vec(
        prop_oneof![
            token().prop_map(|t| format!(";x{t}")),
            "[a-z]{1,5}=[a-z0-9]{1,5}".prop_map(|p| format!(";{p}"))
        ],
        0..3,
    );
    (display, sip_uri(), params, any::<bool>()).prop_map(move |(display, uri, params, angle)| {
        let tag = tag.as_ref().map(|t| format!(";tag={t}")).unwrap_or_default();
        if angle || !display.is_empty() || uri.contains(';') {
            format!("{display}<{uri}>{}{tag}", params.concat())
        } else {
            format!("{uri}{}{tag}", params.concat())
        }
    })
}

fn via() -> impl Strategy<Value = String> {
    let protocol =
        prop::sample::select(vec!["SIP/2.0/UDP", "SIP/2.0/TCP", "sip/2.0/udp", "SIP / 2.0 / UDP"]);
    let extra = prop::collection::vec(
        prop::sample::select(vec![
            ";rport",
            ";rport=5060",
            ";received=192.0.2.1",
            ";maddr=10.0.0.1",
            ";ttl=1",
        ]),
        0..3,
    );
    (protocol, host_port(), token(), extra)
        .prop_map(|(p, hp, b, extra)| format!("{p} {hp};branch=z9hG4bK{b}{}", extra.concat()))
}

const METHODS: &[&str] =
    &["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REFER", "NOTIFY", "INFO", "UPDATE"];

fn sdp_body() -> Vec<u8> {
    b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n".to_vec()
}

/// How a header name is written: long, compact (RFC 3261 §7.3.3) or in another case.
fn spell(name: &str, style: u8) -> String {
    let compact = match name {
        "Via" => "v",
        "From" => "f",
        "To" => "t",
        "Call-ID" => "i",
        "Content-Length" => "l",
        "Contact" => "m",
        "Content-Type" => "c",
        _ => name,
    };
    match style % 4 {
        0 | 1 => name.to_owned(),
        2 => compact.to_owned(),
        _ => name.to_ascii_uppercase(),
    }
}

/// One header line (without CRLF), written in one of several equivalent ways.
fn line(name: &str, value: &str, style: u8) -> String {
    let sep = match style / 4 % 4 {
        0 | 1 => ": ",
        2 => " :\t",
        _ => ":",
    };
    let mut value = value.to_owned();
    // RFC 3261 §7.3.1 folding: a line break before white space continues the line.
    if style >= 16
        && let Some(i) = value.find(' ')
    {
        value.replace_range(i..i + 1, "\r\n ");
    }
    format!("{}{sep}{value}", spell(name, style))
}

fn message() -> impl Strategy<Value = Generated> {
    let start =
        prop_oneof![
            (prop::sample::select(METHODS), sip_uri()).prop_map(|(m, u)| (
                Some(m.to_owned()),
                None::<u16>,
                u
            )),
            (100u16..700, "[A-Za-z ]{0,16}", prop::sample::select(METHODS))
                .prop_map(|(c, r, m)| (Some(m.to_owned()), Some(c), r)),
        ];
    let extra = prop::collection::vec(
        (
            prop::sample::select(vec![
                "Subject",
                "User-Agent",
                "X-Note",
                "Allow",
                "Supported",
                "Accept",
                "Server",
            ]),
            "[ -~&&[^\\\\]]{0,24}",
        ),
        0..4,
    );
    (
        start,
        prop::collection::vec(via(), 1..4),
        name_addr(Some("f1".into())),
        prop::option::of(token()),
        name_addr(None),
        (token(), prop::option::of(host())),
        0u32..(1 << 31),
        prop::option::of(0u8..=255),
        prop::option::of(name_addr(None)),
        extra,
        prop_oneof![Just(Vec::new()), Just(sdp_body()), prop::collection::vec(any::<u8>(), 0..64)],
        (prop::collection::vec(any::<u8>(), 16), any::<bool>()),
    )
        .prop_map(
            |(
                (method, status, uri_or_reason),
                vias,
                from,
                to_tag,
                to,
                (id, id_host),
                cseq,
                max_forwards,
                contact,
                extra,
                body,
                (styles, separate_vias),
            )| {
                let method = method.unwrap_or_default();
                let start = match status {
                    Some(code) => format!("SIP/2.0 {code} {uri_or_reason}"),
                    None => format!("{method} {uri_or_reason} SIP/2.0"),
                };
                let call_id = match id_host {
                    Some(h) => format!("{id}@{h}"),
                    None => id,
                };
                let to = match to_tag {
                    Some(t) => format!("{to};tag={t}"),
                    None => to,
                };
                let mut style = styles.iter().copied().cycle();
                let mut lines = vec![start];
                if separate_vias {
                    for v in &vias {
                        lines.push(line("Via", v, style.next().unwrap_or(0)));
                    }
                } else {
                    lines.push(line("Via", &vias.join(", "), style.next().unwrap_or(0) % 16));
                }
                if let (Some(mf), None) = (max_forwards, status) {
                    lines.push(line("Max-Forwards", &mf.to_string(), style.next().unwrap_or(0)));
                }
                lines.push(line("From", &from, style.next().unwrap_or(0) % 16));
                lines.push(line("To", &to, style.next().unwrap_or(0) % 16));
                lines.push(line("Call-ID", &call_id, style.next().unwrap_or(0) % 16));
                lines.push(line("CSeq", &format!("{cseq} {method}"), style.next().unwrap_or(0)));
                if let Some(c) = contact {
                    lines.push(line("Contact", &c, style.next().unwrap_or(0) % 16));
                }
                for (name, value) in &extra {
                    lines.push(line(name, value, style.next().unwrap_or(0)));
                }
                if !body.is_empty() {
                    lines.push(line("Content-Type", "application/sdp", style.next().unwrap_or(0)));
                }
                lines.push(line(
                    "Content-Length",
                    &body.len().to_string(),
                    style.next().unwrap_or(0) % 16,
                ));
                let mut wire = lines.join("\r\n").into_bytes();
                wire.extend_from_slice(b"\r\n\r\n");
                wire.extend_from_slice(&body);
                Generated {
                    wire,
                    method: status.is_none().then(|| method.clone()),
                    status,
                    call_id,
                    cseq,
                    vias: vias.len(),
                    body,
                }
            },
        )
}

impl std::fmt::Debug for Generated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{}\"", show(&self.wire))
    }
}

/// A change a hostile or broken peer makes to a message.
#[derive(Clone)]
enum Mutation {
    Flip(Index, u8),
    Cut(Index),
    Insert(Index, Vec<u8>),
    DuplicateLine(Index),
    DropLine(Index),
    SwapLines(Index, Index),
}

impl std::fmt::Debug for Mutation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Flip(i, x) => write!(f, "Flip({i:?}, {x:#04x})"),
            Self::Cut(i) => write!(f, "Cut({i:?})"),
            Self::Insert(i, b) => write!(f, "Insert({i:?}, \"{}\")", show(b)),
            Self::DuplicateLine(i) => write!(f, "DuplicateLine({i:?})"),
            Self::DropLine(i) => write!(f, "DropLine({i:?})"),
            Self::SwapLines(i, j) => write!(f, "SwapLines({i:?}, {j:?})"),
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let insert = prop_oneof![
        prop::sample::select(vec![
            b"\0".to_vec(),
            b"\x08".to_vec(),
            b"\x7f".to_vec(),
            b"\r".to_vec(),
            b"\n".to_vec(),
            b"\r\n".to_vec(),
            b"\r\n\r\n".to_vec(),
            b",".to_vec(),
            b";".to_vec(),
            b"\"".to_vec(),
            b"<".to_vec(),
            b":".to_vec(),
            b" ".to_vec(),
            "é".as_bytes().to_vec(),
            vec![0xff],
        ]),
        (1usize..70_000).prop_map(|n| vec![b'a'; n]),
        prop::collection::vec(any::<u8>(), 1..16),
    ];
    prop_oneof![
        (any::<Index>(), 1u8..).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<Index>().prop_map(Mutation::Cut),
        (any::<Index>(), insert).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        any::<Index>().prop_map(Mutation::DropLine),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn mutate(wire: &[u8], m: &Mutation) -> Vec<u8> {
    let mut out = wire.to_vec();
    match m {
        Mutation::Flip(i, x) if !out.is_empty() => {
            let i = i.index(out.len());
            out[i] ^= x;
        }
        Mutation::Cut(i) => out.truncate(i.index(wire.len() + 1)),
        Mutation::Insert(i, bytes) => {
            let i = i.index(out.len() + 1);
            out.splice(i..i, bytes.iter().copied());
        }
        Mutation::DuplicateLine(i) | Mutation::DropLine(i) | Mutation::SwapLines(i, _) => {
            let mut lines: Vec<Vec<u8>> = out.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            let a = i.index(lines.len());
            match m {
                Mutation::DuplicateLine(_) => lines.insert(a, lines[a].clone()),
                Mutation::DropLine(_) => drop(lines.remove(a)),
                Mutation::SwapLines(_, j) => {
                    let b = j.index(lines.len());
                    lines.swap(a, b);
                }
                _ => {}
            }
            out = lines.join(&b'\n');
        }
        _ => {}
    }
    out
}

// ----- checks -----

/// Everything the parser and framer promise about `bytes`, whatever they are.
fn check_any(bytes: &[u8]) -> Result<(), TestCaseError> {
    match parse(bytes) {
        Ok(message) => check_round_trip(&message)?,
        Err(rejected) => check_rejected(bytes, &rejected)?,
    }
    match frame_stream(bytes) {
        Framing::Skip(n) => {
            prop_assert!(n > 0 && n <= bytes.len());
            prop_assert!(bytes[..n].iter().all(|&b| b == b'\r' || b == b'\n'));
        }
        Framing::Message(n) => {
            prop_assert!(n > 0 && n <= bytes.len());
            // The framed message is what a TCP connection hands to the parser.
            let _ = parse(&bytes[..n]);
        }
        Framing::Incomplete | Framing::Invalid(_) => {}
    }
    Ok(())
}

/// A parsed message serialises to octets that parse back to the same message, and that
/// serialise to the same octets again.
fn check_round_trip(message: &Message) -> Result<(), TestCaseError> {
    let wire = message.to_bytes();
    let again = parse(&wire).map_err(|r| {
        TestCaseError::fail(format!(
            "our own serialisation is refused ({}): {}",
            r.error,
            String::from_utf8_lossy(&wire)
        ))
    })?;
    prop_assert_eq!(&again, message, "round trip of {}", String::from_utf8_lossy(&wire));
    prop_assert_eq!(again.to_bytes(), wire);
    prop_assert_eq!(frame_stream(&message.to_bytes()), Framing::Message(message.to_bytes().len()));
    Ok(())
}

fn is_ack(bytes: &[u8]) -> bool {
    let start = bytes.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(bytes.len());
    bytes[start..].starts_with(b"ACK ")
}

/// A refused message: responses and ACKs get no reply; a reply is clean and complete.
fn check_rejected(bytes: &[u8], rejected: &Rejected) -> Result<(), TestCaseError> {
    let Some(reply) = &rejected.reply else { return Ok(()) };
    prop_assert!(!is_ack(bytes), "an ACK is never answered");
    let text = std::str::from_utf8(reply).map_err(|_| TestCaseError::fail("reply not UTF-8"))?;
    let head =
        text.strip_suffix("\r\n\r\n").ok_or_else(|| TestCaseError::fail("reply not terminated"))?;
    let status = rejected.error.status();
    prop_assert!(head.starts_with(&format!("SIP/2.0 {status} ")), "{head}");
    for l in head.split("\r\n") {
        prop_assert!(!l.chars().any(|c| c.is_control() && c != '\t'), "control character in {l:?}");
    }
    let value = |name: &str| {
        head.split("\r\n").find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(": ")))
    };
    for name in ["Via", "From", "To", "Call-ID"] {
        prop_assert!(value(name).is_some(), "{name} missing from {head}");
    }
    let to = NameAddr::parse(value("To").unwrap_or_default())
        .map_err(|e| TestCaseError::fail(format!("To: {e}")))?;
    prop_assert!(to.tag().is_some(), "a final response has a To tag: {head}");
    prop_assert_eq!(value("Content-Length"), Some("0"));
    // No amplification: what a reply echoes comes from the request, once, and the rest is of
    // bounded size.
    prop_assert!(
        reply.len() <= bytes.len() + 1024,
        "a {} octet reply to {} octets",
        reply.len(),
        bytes.len()
    );
    prop_assert_eq!(frame_stream(reply), Framing::Message(reply.len()));
    // The reply parses as the response it is, unless what it had to echo could not be
    // parsed: a Via of another shape (echoed so the sender can match it), or a CSeq with an
    // unknown or unreadable method.
    match parse(reply) {
        Ok(Message::Response(r)) => prop_assert_eq!(r.status, status),
        Ok(Message::Request(_)) => prop_assert!(false, "a reply that parses as a request: {head}"),
        Err(e) => prop_assert!(
            matches!(
                e.error,
                ParseError::Header(HeaderError::Via(_))
                    | ParseError::Missing("CSeq")
                    | ParseError::UnknownMethod(_)
            ),
            "our reply is refused ({}): {head}",
            e.error
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn any_octets_are_parsed_or_refused_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_any(&bytes)?;
    }

    #[test]
    fn sip_shaped_text_is_parsed_or_refused_cleanly(
        start in "(INVITE|ACK|OPTIONS|BYE|SIP/2.0 [0-9]{3}) [ -~]{0,20}",
        lines in prop::collection::vec("[A-Za-z-]{1,12} ?: ?[ -~]{0,30}", 0..10),
        body in "[ -~]{0,20}",
    ) {
        let text = format!("{start}\r\n{}\r\n\r\n{body}", lines.join("\r\n"));
        check_any(text.as_bytes())?;
    }

    #[test]
    fn generated_messages_parse_to_what_was_written(g in message()) {
        let parsed = parse(&g.wire).map_err(|r| TestCaseError::fail(format!(
            "refused ({}): {}", r.error, String::from_utf8_lossy(&g.wire))))?;
        let core = parsed.core();
        prop_assert_eq!(&core.call_id, &g.call_id);
        prop_assert_eq!(core.cseq_seq, g.cseq);
        prop_assert_eq!(core.via.len(), g.vias);
        match &parsed {
            Message::Request(r) => {
                prop_assert_eq!(Some(r.method.to_string()), g.method.clone());
                prop_assert_eq!(&r.body, &g.body);
            }
            Message::Response(r) => {
                prop_assert_eq!(Some(r.status.code()), g.status);
                prop_assert_eq!(&r.body, &g.body);
            }
        }
        check_round_trip(&parsed)?;
        // On a stream: framed exactly, whatever follows; never refused while incomplete.
        let mut stream = g.wire.clone();
        stream.extend_from_slice(b"\r\n\r\nOPTIONS");
        prop_assert_eq!(frame_stream(&stream), Framing::Message(g.wire.len()));
    }

    #[test]
    fn a_message_cut_short_on_a_stream_waits_for_the_rest(g in message(), cut in any::<Index>()) {
        let n = cut.index(g.wire.len());
        let framed = frame_stream(&g.wire[..n]);
        prop_assert_eq!(framed, Framing::Incomplete, "the first {} of {} octets", n, g.wire.len());
    }

    #[test]
    fn mutated_messages_are_parsed_or_refused_cleanly(
        g in message(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut wire = g.wire;
        for m in &mutations {
            wire = mutate(&wire, m);
        }
        check_any(&wire)?;
    }
}

// ----- SDP -----

/// An offer as generated, with what negotiation must find in it.
#[derive(Debug, Clone)]
struct Offer {
    text: String,
    rtp: SocketAddr,
    formats: Vec<(u8, Option<Codec>)>,
    telephone_event: Option<u8>,
    direction: Direction,
}

fn direction() -> impl Strategy<Value = Direction> {
    prop::sample::select(vec![
        Direction::SendRecv,
        Direction::SendOnly,
        Direction::RecvOnly,
        Direction::Inactive,
    ])
}

fn attribute(d: Direction) -> &'static str {
    match d {
        Direction::SendRecv => "sendrecv",
        Direction::SendOnly => "sendonly",
        Direction::RecvOnly => "recvonly",
        Direction::Inactive => "inactive",
    }
}

/// A payload type in an offer: static G.711, another static type, or a dynamic one mapped
/// to a name (and what it means to us).
fn format() -> impl Strategy<Value = (u8, Option<&'static str>, Option<Codec>, bool)> {
    prop_oneof![
        Just((0u8, None::<&'static str>, Some(Codec::Pcmu), false)),
        Just((8, None, Some(Codec::Pcma), false)),
        Just((0, Some("PCMU/8000"), Some(Codec::Pcmu), false)),
        Just((18, Some("G729/8000"), None, false)),
        Just((9, Some("G722/8000"), None, false)),
        (96u8..128).prop_map(|pt| (pt, Some("PCMA/8000"), Some(Codec::Pcma), false)),
        (96u8..128).prop_map(|pt| (pt, Some("pcmu/8000/1"), Some(Codec::Pcmu), false)),
        (96u8..128).prop_map(|pt| (pt, Some("opus/48000/2"), None, false)),
        (96u8..128).prop_map(|pt| (pt, Some("telephone-event/8000"), None, true)),
    ]
}

fn offer() -> impl Strategy<Value = Offer> {
    (
        prop_oneof![
            any::<[u8; 4]>().prop_map(std::net::IpAddr::from),
            any::<[u16; 8]>().prop_map(std::net::IpAddr::from),
        ],
        1u16..,
        prop::collection::vec(format(), 1..6),
        prop::option::of(direction()),
        prop::option::of(direction()),
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(ip, port, fmts, session_dir, media_dir, media_level_c, video_first, version)| {
            // Payload types are unique in an m= line: keep the first meaning of each.
            let mut seen = HashSet::new();
            let fmts: Vec<_> = fmts.into_iter().filter(|f| seen.insert(f.0)).collect();
            let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
            let mut s = format!("v=0\r\no=peer 42 {version} IN {family} {ip}\r\ns=call\r\n");
            if !media_level_c {
                s.push_str(&format!("c=IN {family} {ip}\r\n"));
            }
            s.push_str("t=0 0\r\n");
            if let Some(d) = session_dir {
                s.push_str(&format!("a={}\r\n", attribute(d)));
            }
            if video_first {
                s.push_str("m=video 5000 RTP/AVP 96\r\nc=IN IP4 192.0.2.99\r\na=rtpmap:96 H264/90000\r\na=recvonly\r\n");
            }
            let pts: Vec<String> = fmts.iter().map(|f| f.0.to_string()).collect();
            s.push_str(&format!("m=audio {port} RTP/AVP {}\r\n", pts.join(" ")));
            if media_level_c {
                s.push_str(&format!("c=IN {family} {ip}\r\n"));
            }
            for (pt, name, _, _) in &fmts {
                if let Some(n) = name {
                    s.push_str(&format!("a=rtpmap:{pt} {n}\r\n"));
                }
            }
            s.push_str("a=ptime:20\r\n");
            if let Some(d) = media_dir {
                s.push_str(&format!("a={}\r\n", attribute(d)));
            }
            Offer {
                text: s,
                rtp: SocketAddr::new(ip, port),
                formats: fmts.iter().map(|f| (f.0, f.2)).collect(),
                telephone_event: fmts.iter().find(|f| f.3).map(|f| f.0),
                direction: media_dir.or(session_dir).unwrap_or_default(),
            }
        })
}

/// Everything the SDP functions promise about any octets: no panic; changing the direction
/// of a usable description gives that direction and a higher version.
fn check_sdp(bytes: &[u8]) -> Result<(), TestCaseError> {
    let parsed = SessionDescription::parse(bytes);
    if let Ok(d) = &parsed {
        let _ = d.negotiate(&[Codec::Pcmu, Codec::Pcma]);
    }
    let version = sdp::version_of(bytes);
    let _ = sdp::with_version_above(bytes, version.unwrap_or(0));
    for want in [Direction::SendRecv, Direction::SendOnly, Direction::RecvOnly, Direction::Inactive]
    {
        let changed = sdp::with_direction(bytes, want);
        if let Some(before) = sdp::direction_of(bytes) {
            prop_assert_eq!(sdp::direction_of(&changed), Some(want));
            if before != want
                && let Some(v) = version
            {
                prop_assert!(
                    sdp::version_of(&changed).is_some_and(|n| n > v || v == u64::MAX),
                    "version raised"
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn any_octets_as_sdp_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        check_sdp(&bytes)?;
    }

    #[test]
    fn sdp_shaped_text_never_panics(lines in prop::collection::vec("[a-z]=[ -~]{0,40}", 0..16)) {
        check_sdp(lines.join("\r\n").as_bytes())?;
    }

    #[test]
    fn offers_give_their_codec_address_and_direction(
        o in offer(),
        mutations in prop::collection::vec(mutation(), 0..3),
        ours in prop::sample::select(vec![vec![Codec::Pcmu, Codec::Pcma], vec![Codec::Pcma], vec![Codec::Pcmu]]),
    ) {
        let parsed = SessionDescription::parse(o.text.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e}: {}", o.text)))?;
        prop_assert_eq!(parsed.audio.rtp, o.rtp);
        prop_assert_eq!(&parsed.audio.formats, &o.formats);
        prop_assert_eq!(parsed.audio.telephone_event, o.telephone_event);
        prop_assert_eq!(parsed.audio.direction, o.direction);
        check_sdp(o.text.as_bytes())?;
        let expected = o.formats.iter().find_map(|&(pt, c)| c.filter(|c| ours.contains(c)).map(|c| (pt, c)));
        match (parsed.negotiate(&ours), expected) {
            (Ok(n), Some((pt, codec))) => {
                prop_assert_eq!((n.payload_type, n.codec, n.remote), (pt, codec, o.rtp));
                prop_assert_eq!(n.telephone_event, o.telephone_event);
                // Our answer: the chosen codec, the peer's telephone-event type, and the
                // direction RFC 3264 §6.1 gives the offer's.
                let local: SocketAddr = "192.0.2.200:7000".parse().expect("an address");
                let answer = LocalDescription::answer(9, local, &n).to_bytes();
                let back = SessionDescription::parse(&answer)
                    .map_err(|e| TestCaseError::fail(format!("our answer is refused: {e}")))?;
                let mut formats = vec![(pt, Some(codec))];
                if let Some(te) = o.telephone_event {
                    formats.push((te, None));
                }
                prop_assert_eq!(&back.audio.formats, &formats);
                prop_assert_eq!(back.audio.rtp, local);
                prop_assert_eq!(back.audio.direction, Direction::SendRecv.answer_to(o.direction));
                let agreed = back.negotiate(&[codec]).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!((agreed.codec, agreed.payload_type), (codec, pt));
            }
            (Err(sdp::SdpError::NoCommonCodec { .. }), None) => {}
            (got, want) => prop_assert!(false, "negotiated {got:?}, expected {want:?}"),
        }
        let mut wire = o.text.into_bytes();
        for m in &mutations {
            wire = mutate(&wire, m);
        }
        check_sdp(&wire)?;
    }
}

// ----- the user agent under generated traffic -----

const TRUNK: &str = "127.0.0.1:5080";
const STRANGER: &str = "198.51.100.7:5060";

/// One thing that happens to the user agent.
#[derive(Debug, Clone)]
enum Step {
    /// A generated (and maybe mutated) message arrives from the trunk or a stranger, over
    /// UDP or TCP. Its Call-ID is one of a few, so messages meet each other's dialogs.
    Receive { message: Generated, call: u8, stranger: bool, tcp: bool, mutations: Vec<Mutation> },
    /// The trunk answers the last request the user agent sent with this status.
    Answer { status: u16, mutations: Vec<Mutation> },
    /// An inbound call waiting for the application is answered or rejected.
    Decide { answer: bool },
    /// We place a call.
    Originate,
    /// Time passes.
    Wait(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (message(), 0u8..3, prop::bool::weighted(0.2), any::<bool>(), prop::collection::vec(mutation(), 0..2))
            .prop_map(|(message, call, stranger, tcp, mutations)| Step::Receive { message, call, stranger, tcp, mutations }),
        3 => (prop::sample::select(vec![100u16, 180, 183, 200, 200, 401, 407, 486, 491, 500, 503, 603]), prop::collection::vec(mutation(), 0..2))
            .prop_map(|(status, mutations)| Step::Answer { status, mutations }),
        1 => any::<bool>().prop_map(|answer| Step::Decide { answer }),
        1 => Just(Step::Originate),
        2 => prop_oneof![0u64..1000, 1000u64..40_000].prop_map(Step::Wait),
    ]
}

/// Replaces the generated Call-ID with one of a few, so that requests hit live dialogs.
fn with_call_id(g: &Generated, call: u8) -> Vec<u8> {
    let text = String::from_utf8_lossy(&g.wire);
    text.replacen(&g.call_id, &format!("call{call}@192.0.2.1"), 1).into_bytes()
}

struct Agent {
    ua: UserAgent,
    now: Instant,
    next_call: u64,
    offered: Vec<CallId>,
    offered_all: HashSet<CallId>,
    placed: HashSet<CallId>,
    ended: HashMap<CallId, usize>,
    last_request: Option<gateway::sip::message::Request>,
    /// What arrived, for failure reports.
    trace: Vec<String>,
}

impl Agent {
    fn new() -> Self {
        let now = Instant::now();
        let addr: SocketAddr = "127.0.0.1:5060".parse().expect("an address");
        let mut ua = UserAgent::new(ua::Config {
            udp_addr: addr,
            tcp_addr: Some(addr),
            user_agent: "gateway-generative".into(),
            timers: Timers::default(),
            seed: 11,
            rate_limit: RateLimit::default(),
        });
        let trunk = Trunk::new(TrunkId(1), "127.0.0.1", 5080, Transport::Udp);
        ua.add_trunk(now, trunk, TRUNK.parse().expect("an address"));
        let mut agent = Self {
            ua,
            now,
            next_call: 1,
            offered: Vec::new(),
            offered_all: HashSet::new(),
            placed: HashSet::new(),
            ended: HashMap::new(),
            last_request: None,
            trace: Vec::new(),
        };
        let _ = agent.pump(None);
        agent
    }

    /// Takes every output; checks what is sent; returns how many datagrams were sent.
    fn pump(&mut self, refused_input: Option<&[u8]>) -> Result<usize, TestCaseError> {
        let mut sent = 0;
        while let Some(out) = self.ua.poll_output() {
            match out {
                Output::Transmit(t) => {
                    sent += 1;
                    match parse(&t.data) {
                        Ok(Message::Request(r)) => self.last_request = Some(r),
                        Ok(Message::Response(_)) => {}
                        // Only the reply to a message we refused may carry what could not be
                        // read (it is checked by `check_rejected`).
                        Err(e) => prop_assert!(
                            refused_input.is_some(),
                            "the user agent sent bad SIP ({}): {}",
                            e.error,
                            String::from_utf8_lossy(&t.data)
                        ),
                    }
                }
                Output::Event(Event::Offered { call, .. }) => {
                    self.offered.push(call);
                    self.offered_all.insert(call);
                }
                Output::Event(Event::Ended { call, .. }) => {
                    *self.ended.entry(call).or_default() += 1
                }
                Output::Event(_) => {}
            }
        }
        Ok(sent)
    }

    fn receive(&mut self, source: &str, tcp: bool, data: &[u8]) -> Result<(), TestCaseError> {
        let source: SocketAddr = source.parse().expect("an address");
        let transport = if tcp { Transport::Tcp } else { Transport::Udp };
        self.trace.push(show(data));
        self.ua.handle(self.now, Input::Received { transport, source, data });
        let refused = parse(data).is_err().then_some(data);
        let sent = self.pump(refused)?;
        // No amplification: one message in, at most a provisional and a final response (or
        // a request and its ACK) out.
        prop_assert!(
            sent <= 3,
            "{sent} datagrams for one message: {}",
            String::from_utf8_lossy(data)
        );
        Ok(())
    }

    fn advance(&mut self, d: Duration) -> Result<(), TestCaseError> {
        let until = self.now + d;
        for _ in 0..100_000 {
            match self.ua.poll_timeout() {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.ua.handle(self.now, Input::Timeout);
                    self.pump(None)?;
                }
                _ => {
                    self.now = until;
                    return Ok(());
                }
            }
        }
        // A deadline that firing does not move would spin the runtime at full CPU.
        Err(TestCaseError::fail("a timer that never clears"))
    }

    fn step(&mut self, step: &Step) -> Result<(), TestCaseError> {
        match step {
            Step::Receive { message, call, stranger, tcp, mutations } => {
                let mut wire = with_call_id(message, *call);
                for m in mutations {
                    wire = mutate(&wire, m);
                }
                self.receive(if *stranger { STRANGER } else { TRUNK }, *tcp, &wire)?;
            }
            Step::Answer { status, mutations } => {
                let Some(request) = self.last_request.clone() else { return Ok(()) };
                let code = StatusCode::new(*status).unwrap_or(StatusCode::OK);
                let mut response = request.response(code, Some("far"));
                if *status == 200 && request.method == gateway::sip::message::Method::Invite {
                    response = response
                        .with_header("Contact", "<sip:far@127.0.0.1:5080>")
                        .with_body("application/sdp", sdp_body());
                }
                let mut wire = response.to_bytes();
                for m in mutations {
                    wire = mutate(&wire, m);
                }
                self.receive(TRUNK, false, &wire)?;
            }
            Step::Decide { answer } => {
                if let Some(call) = self.offered.pop() {
                    // The call may have ended meanwhile (CANCEL, BYE): then it is refused.
                    let _ = if *answer {
                        self.ua.answer(self.now, call, sdp_body())
                    } else {
                        self.ua.reject(self.now, call, 486)
                    };
                    self.pump(None)?;
                }
            }
            Step::Originate => {
                let call = CallId(self.next_call);
                self.next_call += 1;
                let placed = self.ua.originate(
                    self.now,
                    Originate {
                        call,
                        trunk: TrunkId(1),
                        to: PhoneNumber::parse("+15551234")
                            .map_err(|e| TestCaseError::fail(e.to_string()))?,
                        caller_id: CallerId::parse("1000")
                            .map_err(|e| TestCaseError::fail(e.to_string()))?,
                        caller_name: None,
                        asserted_identity: None,
                        sdp: sdp_body(),
                        ring_timeout: Duration::from_secs(30),
                    },
                );
                if placed.is_ok() {
                    self.placed.insert(call);
                }
                self.pump(None)?;
            }
            Step::Wait(ms) => self.advance(Duration::from_millis(*ms))?,
        }
        Ok(())
    }

    /// Ends what the application still holds, lets every timer run out, and checks that
    /// nothing is left and that every call ended exactly once.
    fn settle(&mut self) -> Result<(), TestCaseError> {
        for call in std::mem::take(&mut self.offered) {
            let _ = self.ua.reject(self.now, call, 480);
        }
        for &call in &self.placed {
            let _ = self.ua.hangup(self.now, call);
            let _ = self.ua.cancel(self.now, call);
        }
        self.pump(None)?;
        // Hang up calls that were answered meanwhile, then wait out every timer.
        for _ in 0..3 {
            self.advance(Duration::from_secs(40))?;
            let live: Vec<CallId> =
                self.placed.iter().copied().filter(|c| self.ua.call_state(*c).is_some()).collect();
            for call in live {
                let _ = self.ua.hangup(self.now, call);
            }
            let offered: Vec<CallId> = (CallId::GATEWAY_FIRST..CallId::GATEWAY_FIRST + 64)
                .map(CallId)
                .filter(|c| self.ua.call_state(*c).is_some())
                .collect();
            for call in offered {
                let _ = self.ua.hangup(self.now, call);
                let _ = self.ua.reject(self.now, call, 480);
            }
            self.pump(None)?;
        }
        self.advance(Duration::from_secs(300))?;
        prop_assert_eq!(self.ua.call_count(), 0, "no call left after {:#?}", self.trace);
        prop_assert_eq!(
            self.ua.transaction_count(),
            0,
            "no transaction left after {:#?}",
            self.trace
        );
        for (call, n) in &self.ended {
            prop_assert_eq!(*n, 1, "call {} ended {} times", call, n);
        }
        for call in self.placed.iter().chain(&self.offered_all) {
            prop_assert!(self.ended.contains_key(call), "call {call} never ended");
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(config(CASES / 2))]

    #[test]
    fn the_user_agent_survives_generated_traffic(steps in prop::collection::vec(step(), 1..24)) {
        let mut agent = Agent::new();
        for s in &steps {
            agent.step(s)?;
        }
        agent.settle()?;
    }
}
