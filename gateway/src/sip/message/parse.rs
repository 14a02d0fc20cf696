//! From octets to [`Message`]: stream framing, header unfolding and compact forms, and the
//! checks RFC 3261 §7/§8.2 and RFC 4475 §3.1.2 ask of a receiver.
//!
//! rsip's tokenizer does not unfold continuation lines, expand compact header names, split
//! comma-separated `Via`/`Contact`/`Route` values or accept unknown methods, so the raw layer
//! here does that first and keeps rsip for what it models well (methods, header variants).
//! A refused request comes back as [`Rejected`] with the response to send (400, 416, 501 or
//! 505); a refused response or ACK has none and is dropped (RFC 3261 §17.1.3, §17.2.1).

use super::header::{CSeq, HeaderError, NameAddr, Via, is_token, uri_scheme};
use super::{CoreHeaders, Message, Method, Request, Response, StatusCode, make_header};

/// Largest message accepted: far above any INVITE with SDP this gateway exchanges, small
/// enough that a hostile peer cannot make a TCP connection buffer without bound.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Methods this user agent implements, for `Allow` (RFC 3261 §20.5).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, REGISTER";

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing but whitespace, or bytes that are not SIP at all.
    #[error("not a SIP message")]
    NotSip,
    /// No blank line ends the header section.
    #[error("header section not terminated")]
    Unterminated,
    /// Over [`MAX_MESSAGE`].
    #[error("message larger than {MAX_MESSAGE} bytes")]
    TooLarge,
    /// Header section not UTF-8 (RFC 3261 §7.3.1 header values are UTF-8 TEXT).
    #[error("header section is not UTF-8")]
    NotUtf8,
    /// Request-Line or Status-Line breaks RFC 3261 §7.1/§7.2 (one SP between elements).
    #[error("malformed start line: {0:?}")]
    StartLine(String),
    /// A SIP version other than 2.0 (RFC 3261 §8.2.1… answered 505).
    #[error("unsupported SIP version {0:?}")]
    Version(String),
    /// A header line with no colon or a non-token name.
    #[error("malformed header line: {0:?}")]
    HeaderLine(String),
    /// A control character (other than HTAB) in the start line or a header field (RFC 3261
    /// §25.1: TEXT-UTF8 and the header grammars exclude them). Names where, never echoes it.
    #[error("control character in {0}")]
    Control(String),
    /// A header value that fails its grammar.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A mandatory header field is absent (RFC 3261 §8.1.1; RFC 4475 §3.3.1 insuf).
    #[error("missing {0} header")]
    Missing(&'static str),
    /// A single-valued header field appears twice (RFC 4475 §3.3.9 multi01, §3.3.10 mcl01).
    #[error("more than one {0} header")]
    Duplicate(&'static str),
    /// `Content-Length` not a number, or larger than what arrived (RFC 4475 §3.1.2.2 clerr).
    #[error("bad Content-Length: {0}")]
    ContentLength(String),
    /// `Max-Forwards` not a number in 0–255.
    #[error("bad Max-Forwards: {0:?}")]
    MaxForwards(String),
    /// `Date` not in RFC 1123 GMT form (RFC 4475 §3.1.2.13 baddate).
    #[error("bad Date: {0:?}")]
    Date(String),
    /// `CSeq` method differs from the request method (RFC 4475 §3.1.2.19/20).
    #[error("CSeq method {cseq:?} does not match request method {method:?}")]
    CSeqMismatch {
        /// Method on the Request-Line.
        method: String,
        /// Method in `CSeq`.
        cseq: String,
    },
    /// A Request-URI that is not a URI, or a SIP URI with headers (RFC 4475 §3.1.2.11).
    #[error("bad Request-URI: {0:?}")]
    RequestUri(String),
    /// A Request-URI scheme other than sip, sips, tel (answered 416, RFC 3261 §8.2.2.1).
    #[error("unsupported URI scheme {0:?}")]
    UriScheme(String),
    /// A well-formed request with a method this user agent does not know (answered 501).
    #[error("method {0:?} not implemented")]
    UnknownMethod(String),
}

impl ParseError {
    /// The status a request refused for this reason gets.
    pub fn status(&self) -> StatusCode {
        let code = match self {
            Self::Version(_) => 505,
            Self::UriScheme(_) => 416,
            Self::UnknownMethod(_) => 501,
            _ => 400,
        };
        StatusCode::new(code).unwrap_or(StatusCode(400))
    }
}

/// A message that was refused, with the response to send back when it was a request that can
/// be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Why.
    pub error: ParseError,
    /// The response to send to the source address, if any (never for responses or ACK).
    pub reply: Option<Vec<u8>>,
}

/// The result of looking for one message at the start of a stream buffer (TCP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// `n` leading CRLF octets to discard (RFC 5626 §3.5.1 keep-alives, RFC 3261 §7.5).
    Skip(usize),
    /// A complete message occupies the first `n` octets.
    Message(usize),
    /// More octets are needed.
    Incomplete,
    /// The stream cannot be framed (no/bad `Content-Length`, too large): close it.
    Invalid(ParseError),
}

/// Finds the first message in a stream buffer. On streams `Content-Length` is mandatory
/// (RFC 3261 §18.3).
pub fn frame_stream(buf: &[u8]) -> Framing {
    let skip = buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    if skip > 0 {
        return Framing::Skip(skip);
    }
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return if buf.len() > MAX_MESSAGE {
            Framing::Invalid(ParseError::TooLarge)
        } else {
            Framing::Incomplete
        };
    };
    let Ok(head) = std::str::from_utf8(&buf[..head_end]) else {
        return Framing::Invalid(ParseError::NotUtf8);
    };
    let lines = match unfold(head) {
        Ok(lines) => lines,
        Err(e) => return Framing::Invalid(e),
    };
    let mut length = None;
    for (name, value) in lines.iter().skip(1).filter_map(|l| split_header(l).ok()) {
        if name == "Content-Length" {
            match parse_length(value) {
                Ok(n) if length.is_none() => length = Some(n),
                Ok(_) => return Framing::Invalid(ParseError::Duplicate("Content-Length")),
                Err(e) => return Framing::Invalid(e),
            }
        }
    }
    let Some(length) = length else {
        return Framing::Invalid(ParseError::Missing("Content-Length"));
    };
    let total = head_end + 4 + length;
    if total > MAX_MESSAGE {
        Framing::Invalid(ParseError::TooLarge)
    } else if buf.len() < total {
        Framing::Incomplete
    } else {
        Framing::Message(total)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_length(value: &str) -> Result<usize, ParseError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::ContentLength(format!("{value:?} is not a number")));
    }
    value.parse().map_err(|_| ParseError::ContentLength(format!("{value:?} too large")))
}

/// Splits the header section into logical lines, joining continuation lines (RFC 3261 §7.3.1:
/// a line starting with SP or HTAB continues the previous one).
fn unfold(head: &str) -> Result<Vec<String>, ParseError> {
    let mut lines: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            // A continuation of the start line is not allowed.
            if lines.len() < 2 {
                return Err(ParseError::HeaderLine(line.to_owned()));
            }
            let Some(last) = lines.last_mut() else {
                return Err(ParseError::HeaderLine(line.to_owned()));
            };
            last.push(' ');
            last.push_str(line.trim_start());
        } else {
            lines.push(line.to_owned());
        }
    }
    Ok(lines)
}

/// `name HCOLON value` → canonical long name and trimmed value.
fn split_header(line: &str) -> Result<(&'static str, &str), ParseError> {
    let (name, value) =
        line.split_once(':').ok_or_else(|| ParseError::HeaderLine(line.to_owned()))?;
    let name = name.trim_end_matches([' ', '\t']);
    if !is_token(name) {
        return Err(ParseError::HeaderLine(line.to_owned()));
    }
    Ok((canonical_name(name), value.trim_matches([' ', '\t'])))
}

/// Long form of a header name, expanding RFC 3261 §7.3.3 compact forms; names this module
/// does not single out are leaked into `'static` only through [`OTHER`].
fn canonical_name(name: &str) -> &'static str {
    const KNOWN: &[(&str, &str)] = &[
        ("i", "Call-ID"),
        ("call-id", "Call-ID"),
        ("m", "Contact"),
        ("contact", "Contact"),
        ("l", "Content-Length"),
        ("content-length", "Content-Length"),
        ("c", "Content-Type"),
        ("content-type", "Content-Type"),
        ("f", "From"),
        ("from", "From"),
        ("t", "To"),
        ("to", "To"),
        ("v", "Via"),
        ("via", "Via"),
        ("cseq", "CSeq"),
        ("max-forwards", "Max-Forwards"),
        ("date", "Date"),
        ("route", "Route"),
        ("record-route", "Record-Route"),
        ("s", "Subject"),
        ("k", "Supported"),
        ("r", "Refer-To"),
        ("e", "Content-Encoding"),
        ("o", "Event"),
    ];
    KNOWN.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, long)| *long).unwrap_or(OTHER)
}

/// Marker for header names kept as written.
const OTHER: &str = "";

/// Header fields whose values may be comma-separated lists that RFC 3261 §7.3.1 lets us split.
const LIST_HEADERS: &[&str] = &["Via", "Contact", "Route", "Record-Route"];

/// Splits `a, b` at commas outside quotes and angle brackets.
fn split_list(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quoted, mut angle, mut escaped, mut start) = (false, false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                parts.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(value[start..].trim());
    parts
}

/// The header section split into (canonical or original name, value) pairs.
struct RawMessage<'a> {
    start: String,
    headers: Vec<(String, String)>,
    body: &'a [u8],
}

impl RawMessage<'_> {
    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn single(&self, name: &'static str) -> Result<Option<&str>, ParseError> {
        let mut it = self.all(name);
        let first = it.next();
        if it.next().is_some() {
            return Err(ParseError::Duplicate(name));
        }
        Ok(first)
    }

    fn required(&self, name: &'static str) -> Result<&str, ParseError> {
        self.single(name)?.ok_or(ParseError::Missing(name))
    }
}

fn split_raw(data: &[u8]) -> Result<RawMessage<'_>, ParseError> {
    if data.len() > MAX_MESSAGE {
        return Err(ParseError::TooLarge);
    }
    let skip = data.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    let data = &data[skip..];
    if data.is_empty() {
        return Err(ParseError::NotSip);
    }
    let head_end = find(data, b"\r\n\r\n").ok_or(ParseError::Unterminated)?;
    let head = std::str::from_utf8(&data[..head_end]).map_err(|_| ParseError::NotUtf8)?;
    let mut lines = unfold(head)?.into_iter();
    let start = lines.next().ok_or(ParseError::NotSip)?;
    let mut headers = Vec::new();
    for line in lines {
        let (canonical, value) = split_header(&line)?;
        let name = if canonical == OTHER {
            line.split_once(':').map(|(n, _)| n.trim_end().to_owned()).unwrap_or_default()
        } else {
            canonical.to_owned()
        };
        if LIST_HEADERS.contains(&canonical) {
            for part in split_list(value) {
                headers.push((name.clone(), part.to_owned()));
            }
        } else {
            headers.push((name, value.to_owned()));
        }
    }
    Ok(RawMessage { start, headers, body: &data[head_end + 4..] })
}

/// The body as `Content-Length` delimits it. On a datagram extra octets are ignored (RFC 4475
/// §3.1.1.12 dblreq) and a shortfall is an error (RFC 3261 §18.3, RFC 4475 §3.1.2.2 clerr).
fn body<'a>(raw: &RawMessage<'a>) -> Result<&'a [u8], ParseError> {
    match raw.single("Content-Length")? {
        Some(v) => {
            let n = parse_length(v)?;
            raw.body.get(..n).ok_or_else(|| {
                ParseError::ContentLength(format!("{n} declared, {} received", raw.body.len()))
            })
        }
        None => Ok(raw.body),
    }
}

/// Parses one message (a whole UDP datagram, or one framed stream message).
pub fn parse(data: &[u8]) -> Result<Message, Rejected> {
    let raw = match split_raw(data) {
        Ok(raw) => raw,
        // Without a parsed header section there is no Via to answer along.
        Err(error) => return Err(Rejected { error, reply: None }),
    };
    let is_response = raw.start.starts_with("SIP/");
    build(&raw).map_err(|error| {
        let reply = (!is_response).then(|| reject_reply(&raw, &error)).flatten();
        Rejected { error, reply }
    })
}

fn build(raw: &RawMessage<'_>) -> Result<Message, ParseError> {
    if has_control(&raw.start) {
        return Err(ParseError::Control("the start line".into()));
    }
    // Only fields that may hold quoted strings may hold escaped control characters: the ones
    // a response copies besides From and To never may.
    const STRICT: &[&str] = &["Via", "Call-ID", "CSeq", "Max-Forwards", "Content-Length"];
    let bad = |(n, v): &&(String, String)| {
        has_control(n)
            || if STRICT.iter().any(|s| s.eq_ignore_ascii_case(n)) {
                has_control(v)
            } else {
                has_bare_control(v)
            }
    };
    if let Some((name, _)) = raw.headers.iter().find(bad) {
        let name = if has_control(name) { "a header name".to_owned() } else { name.clone() };
        return Err(ParseError::Control(name));
    }
    if let Some(status_line) = raw.start.strip_prefix("SIP/") {
        build_response(raw, status_line)
    } else {
        build_request(raw)
    }
}

/// Parses and checks the core header fields; the CSeq method is resolved by the caller.
fn core(raw: &RawMessage<'_>) -> Result<(CoreHeaders, CSeq), ParseError> {
    let via = raw.all("Via").map(Via::parse).collect::<Result<Vec<_>, _>>()?;
    if via.is_empty() {
        return Err(ParseError::Missing("Via"));
    }
    let from = NameAddr::parse(raw.required("From")?)?;
    let to = NameAddr::parse(raw.required("To")?)?;
    let call_id = raw.required("Call-ID")?;
    if call_id.is_empty() || call_id.contains(char::is_whitespace) {
        return Err(ParseError::Missing("Call-ID"));
    }
    let cseq = CSeq::parse(raw.required("CSeq")?)?;
    if let Some(date) = raw.single("Date")?
        && !date.ends_with(" GMT")
    {
        return Err(ParseError::Date(date.to_owned()));
    }
    raw.single("Content-Type")?;
    // Address lists this user agent follows (remote target, route set) must be well-formed.
    for name in ["Contact", "Route", "Record-Route"] {
        for value in raw.all(name).filter(|v| !(name == "Contact" && *v == "*")) {
            NameAddr::parse(value)?;
        }
    }
    let core = CoreHeaders {
        via,
        from,
        to,
        call_id: call_id.to_owned(),
        cseq_seq: cseq.seq,
        // Resolved by the caller once the method is known to be one rsip models.
        cseq_method: Method::Options,
    };
    Ok((core, cseq))
}

/// rsip's method for `token` when the spelling is exact (methods are case-sensitive,
/// RFC 3261 §7.1).
fn known_method(token: &str) -> Option<Method> {
    token.parse::<Method>().ok().filter(|m| m.to_string() == token)
}

fn other_headers(raw: &RawMessage<'_>) -> rsip::Headers {
    const CORE: &[&str] =
        &["Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Length"];
    let mut headers = rsip::Headers::default();
    for (name, value) in &raw.headers {
        if !CORE.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            headers.push(make_header(name, value.clone()));
        }
    }
    headers
}

fn build_request(raw: &RawMessage<'_>) -> Result<Message, ParseError> {
    let start_error = || ParseError::StartLine(raw.start.clone());
    let mut parts = raw.start.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(start_error());
    };
    if !is_token(method) {
        return Err(start_error());
    }
    check_version(version)?;
    check_request_uri(uri)?;
    let max_forwards = match raw.single("Max-Forwards")? {
        None => 70,
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            v.parse::<u8>().map_err(|_| ParseError::MaxForwards(v.to_owned()))?
        }
        Some(v) => return Err(ParseError::MaxForwards(v.to_owned())),
    };
    let (mut core, cseq) = core(raw)?;
    if cseq.method != method {
        return Err(ParseError::CSeqMismatch { method: method.to_owned(), cseq: cseq.method });
    }
    let body = body(raw)?;
    let method = known_method(method).ok_or_else(|| ParseError::UnknownMethod(method.into()))?;
    core.cseq_method = method;
    Ok(Message::Request(Request {
        method,
        uri: uri.to_owned(),
        core,
        max_forwards,
        headers: other_headers(raw),
        body: body.to_vec(),
    }))
}

fn check_version(version: &str) -> Result<(), ParseError> {
    if version == "SIP/2.0" {
        return Ok(());
    }
    let numeric =
        version.strip_prefix("SIP/").and_then(|v| v.split_once('.')).is_some_and(|(a, b)| {
            !a.is_empty() && !b.is_empty() && (a.to_owned() + b).bytes().all(|c| c.is_ascii_digit())
        });
    if numeric {
        Err(ParseError::Version(version.to_owned()))
    } else {
        Err(ParseError::StartLine(version.to_owned()))
    }
}

fn check_request_uri(uri: &str) -> Result<(), ParseError> {
    let bad = || ParseError::RequestUri(uri.to_owned());
    if uri.contains(['<', '>', '"']) {
        return Err(bad());
    }
    let scheme = uri_scheme(uri).ok_or_else(bad)?;
    match scheme.as_str() {
        "sip" | "sips" => {
            // RFC 3261 §19.1.1 table 1: no headers component in a Request-URI. A '?' may
            // appear in the user part (RFC 4475 §3.1.1.3 intmeth), so look after the '@'.
            let host_part = uri.rsplit_once('@').map_or(uri, |(_, h)| h);
            if host_part.contains('?') { Err(bad()) } else { Ok(()) }
        }
        "tel" => Ok(()),
        _ => Err(ParseError::UriScheme(scheme)),
    }
}

fn build_response(raw: &RawMessage<'_>, status_line: &str) -> Result<Message, ParseError> {
    let start_error = || ParseError::StartLine(raw.start.clone());
    let (version, rest) = status_line.split_once(' ').ok_or_else(start_error)?;
    check_version(&format!("SIP/{version}"))?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(start_error());
    }
    let status = code.parse().ok().and_then(StatusCode::new).ok_or_else(start_error)?;
    let (mut core, cseq) = core(raw)?;
    // A response to a method we never send cannot match one of our transactions.
    core.cseq_method = known_method(&cseq.method).ok_or(ParseError::UnknownMethod(cseq.method))?;
    let body = body(raw)?;
    Ok(Message::Response(Response {
        status,
        reason: reason.to_owned(),
        core,
        headers: other_headers(raw),
        body: body.to_vec(),
    }))
}

/// True when `s` holds a control character other than HTAB (CR and LF included: inside a
/// logical header line they can only be bare ones).
fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\t')
}

/// True when `value` holds a control character other than HTAB that is not escaped in a
/// quoted string: RFC 3261 §25.1 `quoted-pair` allows `\` before any octet but CR and LF
/// (RFC 4475 §3.1.1.3 intmeth has a BEL, a NUL and a DEL so escaped).
fn has_bare_control(value: &str) -> bool {
    let (mut quoted, mut escaped) = (false, false);
    for c in value.chars() {
        match c {
            '\r' | '\n' => return true,
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c.is_control() && c != '\t' => return true,
            _ => {}
        }
    }
    false
}

/// `value` when it holds no control character (escaped or not: none is ever echoed).
fn readable(value: &str) -> Option<&str> {
    (!has_control(value)).then_some(value)
}

/// Longest `From`, `To`, `Call-ID` or `CSeq` value a reply to a refused request echoes;
/// a longer one is replaced like an unreadable one. Real values are far shorter, and a reply
/// must stay within [`MAX_MESSAGE`] (and a datagram) whatever the request held.
const ECHO_MAX: usize = 1024;

/// `value` when it may be echoed: readable and not overlong.
fn echoable(value: &str) -> Option<&str> {
    readable(value).filter(|v| v.len() <= ECHO_MAX)
}

/// Characters of the refusal reason a reply's `Warning` carries at most.
const WARNING_MAX: usize = 160;

/// Stands in for a `From` or `To` that cannot be read (RFC 3261 §8.1.1.3's anonymous URI):
/// the response still carries every mandatory header field, and never the unreadable text.
const UNREADABLE_ADDRESS: &str = "<sip:anonymous@anonymous.invalid>";

/// The response to a refused request, built from the raw header fields that identify it
/// (RFC 3261 §8.2.6.2). `None` for ACK (never answered) or when there is no readable `Via`
/// to follow.
///
/// Invariant: the response is at most [`MAX_MESSAGE`] long, holds no control character but
/// the CRLF line ends, and echoes
/// only values that pass their grammar: an unreadable `From`/`To` is replaced by an
/// anonymous address, an unreadable `Call-ID` by one derived from the request's octets, an
/// unreadable `CSeq` by `0` and the Request-Line's method (left out when that is unreadable
/// too).
fn reject_reply(raw: &RawMessage<'_>, error: &ParseError) -> Option<Vec<u8>> {
    use std::fmt::Write;
    if raw.start.starts_with("ACK ") {
        return None;
    }
    // Every Via must be readable: the response retraces them (RFC 3261 §18.2.2). One of
    // another SIP version is still echoed (RFC 4475 §3.3.4 badvers gets its 505).
    let vias = raw.all("Via").map(readable).collect::<Option<Vec<&str>>>()?;
    if vias.is_empty() {
        return None;
    }
    let status = error.status();
    let mut out = format!("SIP/2.0 {} {}\r\n", status, status.default_reason());
    for via in vias {
        let _ = write!(out, "Via: {via}\r\n");
    }
    let address = |name: &str| {
        raw.all(name)
            .next()
            .and_then(echoable)
            .filter(|v| NameAddr::parse(v).is_ok())
            .map(str::to_owned)
    };
    let from = address("From").unwrap_or_else(|| UNREADABLE_ADDRESS.to_owned());
    let call_id = raw
        .all("Call-ID")
        .next()
        .and_then(echoable)
        .filter(|v| !v.is_empty() && !v.contains(char::is_whitespace))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let seed: String = raw.headers.iter().map(|(n, v)| format!("{n}:{v}")).collect();
            format!("unreadable-{:x}@gateway", fnv1a(seed.as_bytes()))
        });
    let mut to = address("To").unwrap_or_else(|| UNREADABLE_ADDRESS.to_owned());
    // RFC 3261 §8.2.6.2: a UAS adds a To tag to final responses; derive it from the Call-ID
    // so that a retransmitted bad request gets the same answer.
    if NameAddr::parse(&to).ok().and_then(|a| a.tag().map(str::to_owned)).is_none() {
        let _ = write!(to, ";tag=rej{:x}", fnv1a(call_id.as_bytes()));
    }
    let cseq = raw
        .all("CSeq")
        .next()
        .and_then(echoable)
        .and_then(|v| CSeq::parse(v).ok())
        .map(|c| c.to_string())
        .or_else(|| {
            let method = raw.start.split(' ').next().filter(|m| is_token(m))?;
            Some(format!("0 {method}"))
        });
    let _ = write!(out, "From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n");
    if let Some(cseq) = cseq {
        let _ = write!(out, "CSeq: {cseq}\r\n");
    }
    if status.code() == 501 || status.code() == 405 {
        let _ = write!(out, "Allow: {ALLOW}\r\n");
    }
    // The reason names the offending value, which may be most of the request: a bounded
    // excerpt keeps the reply about as small as what it answers (no amplification).
    let reason = error.to_string();
    let mut warning: String = reason
        .chars()
        .take(WARNING_MAX)
        .map(|c| if c == '"' || c == '\\' || c.is_control() { '\'' } else { c })
        .collect();
    if reason.chars().nth(WARNING_MAX).is_some() {
        warning.push('…');
    }
    let _ = write!(out, "Warning: 399 gateway \"{warning}\"\r\nContent-Length: 0\r\n\r\n");
    // Only the Vias, echoed whole (the reply retraces them), can still make it too large for
    // any peer to take: then there is no reply.
    (out.len() <= MAX_MESSAGE).then(|| out.into_bytes())
}

/// FNV-1a: a stable, dependency-free hash for deriving tags.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}
