//! SIP messages as this user agent sees them: a request or response whose core header fields
//! (RFC 3261 §8.1.1: `Via`, `From`, `To`, `Call-ID`, `CSeq`, `Max-Forwards`) are parsed and
//! checked, and whose other header fields are kept as [`rsip::Header`]s.
//!
//! Invariants: a [`Request`] or [`Response`] obtained from [`parse`] has at least one `Via`,
//! exactly one each of `From`, `To`, `Call-ID`, `CSeq`, a `CSeq` method equal to the request
//! method, and a body exactly `Content-Length` long. Messages built in this crate uphold the
//! same invariants by construction, and [`Request::to_bytes`] / [`Response::to_bytes`] always
//! write a correct `Content-Length`.

mod header;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

pub use header::{BRANCH_COOKIE, CSeq, HeaderError, NameAddr, Param, Via, is_token, uri_scheme};
pub use parse::{ALLOW, Framing, MAX_MESSAGE, ParseError, Rejected, frame_stream, parse};
pub use rsip::Method;
use rsip::headers::UntypedHeader;

/// Transport a message travels on (its `Display` is the `Via` transport token).
pub use telephony::Transport;

/// A response status code, 100–699 (RFC 3261 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatusCode(u16);

impl StatusCode {
    /// 100 Trying.
    pub const TRYING: Self = Self(100);
    /// 180 Ringing.
    pub const RINGING: Self = Self(180);
    /// 200 OK.
    pub const OK: Self = Self(200);

    /// Wraps `code` when it is in 100–699.
    pub fn new(code: u16) -> Option<Self> {
        (100..=699).contains(&code).then_some(Self(code))
    }

    /// The numeric code.
    pub fn code(self) -> u16 {
        self.0
    }

    /// 1xx.
    pub fn is_provisional(self) -> bool {
        self.0 < 200
    }

    /// 2xx.
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.0)
    }

    /// 200–699.
    pub fn is_final(self) -> bool {
        self.0 >= 200
    }

    /// The RFC 3261 §21 reason phrase for codes this crate sends.
    pub fn default_reason(self) -> &'static str {
        match self.0 {
            100 => "Trying",
            180 => "Ringing",
            183 => "Session Progress",
            200 => "OK",
            202 => "Accepted",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            407 => "Proxy Authentication Required",
            408 => "Request Timeout",
            415 => "Unsupported Media Type",
            416 => "Unsupported URI Scheme",
            420 => "Bad Extension",
            480 => "Temporarily Unavailable",
            481 => "Call/Transaction Does Not Exist",
            483 => "Too Many Hops",
            486 => "Busy Here",
            487 => "Request Terminated",
            488 => "Not Acceptable Here",
            491 => "Request Pending",
            500 => "Server Internal Error",
            501 => "Not Implemented",
            503 => "Service Unavailable",
            505 => "Version Not Supported",
            603 => "Decline",
            _ => "Unknown",
        }
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Header fields shared by requests and responses that the transaction and dialog layers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreHeaders {
    /// All `Via` values, topmost first.
    pub via: Vec<Via>,
    /// `From`.
    pub from: NameAddr,
    /// `To`.
    pub to: NameAddr,
    /// `Call-ID`.
    pub call_id: String,
    /// `CSeq` number and method.
    pub cseq_seq: u32,
    /// `CSeq` method.
    pub cseq_method: Method,
}

impl CoreHeaders {
    /// The topmost `Via` (present by the type's invariant).
    pub fn top_via(&self) -> &Via {
        &self.via[0]
    }
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method (RFC 3261 §7.1).
    pub method: Method,
    /// Request-URI as written.
    pub uri: String,
    /// Core header fields.
    pub core: CoreHeaders,
    /// `Max-Forwards` (70 on requests built here, RFC 3261 §8.1.1.6).
    pub max_forwards: u8,
    /// Every other header field, in order.
    pub headers: rsip::Headers,
    /// Body octets (`Content-Length` is derived from it).
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: StatusCode,
    /// Reason phrase (may be empty).
    pub reason: String,
    /// Core header fields.
    pub core: CoreHeaders,
    /// Every other header field, in order.
    pub headers: rsip::Headers,
    /// Body octets.
    pub body: Vec<u8>,
}

/// A parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

/// Header field values by name, case-insensitive; values of headers that rsip models as
/// variants are found by their canonical name.
fn header_name(h: &rsip::Header) -> Option<&str> {
    use rsip::Header as H;
    Some(match h {
        H::Accept(_) => "Accept",
        H::Allow(_) => "Allow",
        H::Authorization(_) => "Authorization",
        H::Contact(_) => "Contact",
        H::ContentType(_) => "Content-Type",
        H::Date(_) => "Date",
        H::Expires(_) => "Expires",
        H::ProxyAuthenticate(_) => "Proxy-Authenticate",
        H::ProxyAuthorization(_) => "Proxy-Authorization",
        H::ProxyRequire(_) => "Proxy-Require",
        H::RecordRoute(_) => "Record-Route",
        H::Require(_) => "Require",
        H::Route(_) => "Route",
        H::Server(_) => "Server",
        H::Supported(_) => "Supported",
        H::Unsupported(_) => "Unsupported",
        H::UserAgent(_) => "User-Agent",
        H::WwwAuthenticate(_) => "WWW-Authenticate",
        H::Other(name, _) => name,
        _ => return None,
    })
}

fn header_value(h: &rsip::Header) -> Option<&str> {
    use rsip::Header as H;
    Some(match h {
        H::Accept(v) => v.value(),
        H::Allow(v) => v.value(),
        H::Authorization(v) => v.value(),
        H::Contact(v) => v.value(),
        H::ContentType(v) => v.value(),
        H::Date(v) => v.value(),
        H::Expires(v) => v.value(),
        H::ProxyAuthenticate(v) => v.value(),
        H::ProxyAuthorization(v) => v.value(),
        H::ProxyRequire(v) => v.value(),
        H::RecordRoute(v) => v.value(),
        H::Require(v) => v.value(),
        H::Route(v) => v.value(),
        H::Server(v) => v.value(),
        H::Supported(v) => v.value(),
        H::Unsupported(v) => v.value(),
        H::UserAgent(v) => v.value(),
        H::WwwAuthenticate(v) => v.value(),
        H::Other(_, v) => v,
        _ => return None,
    })
}

/// Makes the rsip header for `name: value` (name already in canonical long form).
pub fn make_header(name: &str, value: impl Into<String>) -> rsip::Header {
    use rsip::{Header as H, headers as h};
    let value = value.into();
    match name.to_ascii_lowercase().as_str() {
        "accept" => H::Accept(h::Accept::new(value)),
        "allow" => H::Allow(h::Allow::new(value)),
        "authorization" => H::Authorization(h::Authorization::new(value)),
        "contact" => H::Contact(h::Contact::new(value)),
        "content-type" => H::ContentType(h::ContentType::new(value)),
        "date" => H::Date(h::Date::new(value)),
        "expires" => H::Expires(h::Expires::new(value)),
        "proxy-authenticate" => H::ProxyAuthenticate(h::ProxyAuthenticate::new(value)),
        "proxy-authorization" => H::ProxyAuthorization(h::ProxyAuthorization::new(value)),
        "proxy-require" => H::ProxyRequire(h::ProxyRequire::new(value)),
        "record-route" => H::RecordRoute(h::RecordRoute::new(value)),
        "require" => H::Require(h::Require::new(value)),
        "route" => H::Route(h::Route::new(value)),
        "server" => H::Server(h::Server::new(value)),
        "supported" => H::Supported(h::Supported::new(value)),
        "unsupported" => H::Unsupported(h::Unsupported::new(value)),
        "user-agent" => H::UserAgent(h::UserAgent::new(value)),
        "www-authenticate" => H::WwwAuthenticate(h::WwwAuthenticate::new(value)),
        _ => H::Other(name.to_owned(), value),
    }
}

/// Read access to the non-core header fields of a message.
pub trait HeaderAccess {
    /// The non-core header fields.
    fn other_headers(&self) -> &rsip::Headers;

    /// Values of every header field called `name` (case-insensitive), in order.
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.other_headers()
            .iter()
            .filter(|h| header_name(h).is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .filter_map(header_value)
            .collect()
    }

    /// The first value of `name`.
    fn header(&self, name: &str) -> Option<&str> {
        self.other_headers()
            .iter()
            .find(|h| header_name(h).is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .and_then(header_value)
    }

    /// The first `Contact`, parsed.
    fn contact(&self) -> Option<NameAddr> {
        self.header("Contact").and_then(|c| NameAddr::parse(c).ok())
    }

    /// `Content-Type` without parameters, lower-cased.
    fn content_type(&self) -> Option<String> {
        self.header("Content-Type")
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }
}

impl HeaderAccess for Request {
    fn other_headers(&self) -> &rsip::Headers {
        &self.headers
    }
}

impl HeaderAccess for Response {
    fn other_headers(&self) -> &rsip::Headers {
        &self.headers
    }
}

fn write_core(out: &mut String, core: &CoreHeaders, max_forwards: Option<u8>) {
    use std::fmt::Write;
    for via in &core.via {
        let _ = write!(out, "Via: {}\r\n", via.as_str());
    }
    if let Some(mf) = max_forwards {
        let _ = write!(out, "Max-Forwards: {mf}\r\n");
    }
    let _ = write!(out, "From: {}\r\n", core.from);
    let _ = write!(out, "To: {}\r\n", core.to);
    let _ = write!(out, "Call-ID: {}\r\n", core.call_id);
    let _ = write!(out, "CSeq: {} {}\r\n", core.cseq_seq, core.cseq_method);
}

fn finish(mut head: String, headers: &rsip::Headers, body: &[u8]) -> Vec<u8> {
    use std::fmt::Write;
    for h in headers.iter() {
        let _ = write!(head, "{h}\r\n");
    }
    let _ = write!(head, "Content-Length: {}\r\n\r\n", body.len());
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

impl Request {
    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!("{} {} SIP/2.0\r\n", self.method, self.uri);
        write_core(&mut head, &self.core, Some(self.max_forwards));
        finish(head, &self.headers, &self.body)
    }

    /// Builds a response to this request with the fields RFC 3261 §8.2.6.2 copies (all `Via`,
    /// `From`, `To`, `Call-ID`, `CSeq`); `to_tag` is added to `To` when it has none. Escaped
    /// control characters in `From` and `To` are not echoed.
    pub fn response(&self, status: StatusCode, to_tag: Option<&str>) -> Response {
        let mut core = self.core.clone();
        core.from = core.from.without_controls();
        core.to = core.to.without_controls();
        if let (None, Some(tag)) = (core.to.tag(), to_tag) {
            core.to = core.to.with_tag(tag);
        }
        Response {
            status,
            reason: status.default_reason().to_owned(),
            core,
            headers: rsip::Headers::default(),
            body: Vec::new(),
        }
    }

    /// The transaction's branch: the top `Via` branch when it is an RFC 3261 one.
    pub fn branch(&self) -> Option<&str> {
        self.core.top_via().rfc3261_branch()
    }
}

impl Response {
    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let head = format!("SIP/2.0 {} {}\r\n", self.status, self.reason);
        let mut head = head;
        write_core(&mut head, &self.core, None);
        finish(head, &self.headers, &self.body)
    }

    /// Sets the body and its `Content-Type`.
    pub fn with_body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.headers.retain(|h| !matches!(h, rsip::Header::ContentType(_)));
        self.headers.push(make_header("Content-Type", content_type));
        self.body = body;
        self
    }

    /// Adds one header field.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push(make_header(name, value));
        self
    }
}

impl Message {
    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Request(r) => r.to_bytes(),
            Self::Response(r) => r.to_bytes(),
        }
    }

    /// Core header fields.
    pub fn core(&self) -> &CoreHeaders {
        match self {
            Self::Request(r) => &r.core,
            Self::Response(r) => &r.core,
        }
    }
}
