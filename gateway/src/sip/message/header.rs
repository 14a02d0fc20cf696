//! Typed values of the header fields the transaction and dialog layers depend on: `Via`,
//! `From`/`To`/`Contact`/`Route` (name-addr), and `CSeq`.
//!
//! rsip keeps header values as strings and its typed parsers accept much that RFC 3261 §25
//! forbids (unbalanced quotes, spaces inside `<…>`, unquoted display names with commas), which
//! RFC 4475 §3.1.2 says a receiver must reject. These parsers are the strict gate: a value that
//! parses here is well-formed for every use this crate makes of it, and the original text is
//! kept so that copying a header into a response (RFC 3261 §8.2.6.2) is byte-exact.

use std::fmt;

/// Why a header value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// `Via` value that is not `SIP/2.0/<transport> <sent-by>[;params]`.
    #[error("malformed Via: {0}")]
    Via(String),
    /// name-addr / addr-spec (`From`, `To`, `Contact`, `Route`) that breaks RFC 3261 §25.1.
    #[error("malformed address: {0}")]
    Address(String),
    /// `CSeq` that is not `<number below 2^31> <method>`.
    #[error("malformed CSeq: {0}")]
    CSeq(String),
    /// A `;name[=value]` parameter list with an empty or non-token name.
    #[error("malformed parameter list: {0}")]
    Params(String),
}

/// RFC 3261 §25.1 `token` characters.
pub fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// True when `s` is a non-empty RFC 3261 token.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

/// A `;name[=value]` generic parameter (RFC 3261 §25.1 `generic-param`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Parameter name as received (compare case-insensitively).
    pub name: String,
    /// Value, without surrounding quotes if it was a quoted string.
    pub value: Option<String>,
}

/// Parses `;a=b;c` (leading `;` required for each, whitespace allowed around separators).
fn parse_params(mut s: &str) -> Result<Vec<Param>, HeaderError> {
    let mut params = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return Ok(params);
        }
        let Some(rest) = s.strip_prefix(';') else {
            return Err(HeaderError::Params(format!("expected ';' at {s:?}")));
        };
        let rest = rest.trim_start();
        let name_len = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        let name = &rest[..name_len];
        if name.is_empty() {
            return Err(HeaderError::Params("empty parameter".into()));
        }
        let mut rest = rest[name_len..].trim_start();
        let value = if let Some(after_eq) = rest.strip_prefix('=') {
            let after_eq = after_eq.trim_start();
            if after_eq.starts_with('"') {
                let (quoted, tail) = split_quoted(after_eq)
                    .ok_or_else(|| HeaderError::Params(format!("unterminated quote in {name}")))?;
                rest = tail;
                Some(quoted)
            } else {
                // token / host / IPv6reference: anything up to the next separator.
                let end = after_eq.find([';', ' ', '\t']).unwrap_or(after_eq.len());
                let v = &after_eq[..end];
                if v.is_empty() {
                    return Err(HeaderError::Params(format!("empty value for {name}")));
                }
                rest = &after_eq[end..];
                Some(v.to_owned())
            }
        } else {
            None
        };
        params.push(Param { name: name.to_owned(), value });
        s = rest;
    }
}

/// Splits a leading quoted-string off `s` (which starts with `"`): returns the unescaped
/// content and the rest after the closing quote. `None` when the quote is not closed.
fn split_quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, &s[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

fn find_param<'a>(params: &'a [Param], name: &str) -> Option<&'a Param> {
    params.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// The RFC 3261 §8.1.1.7 magic cookie that marks a branch as globally unique.
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// A parsed `Via` header value (one hop).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Transport token, upper-cased (`UDP`, `TCP`, `TLS`, …).
    pub transport: String,
    /// `host[:port]` as written, lower-cased for comparison (RFC 3261 §17.2.3 matches it).
    pub sent_by: String,
    /// All parameters in order.
    pub params: Vec<Param>,
    raw: String,
}

impl Via {
    /// Parses one `Via` value.
    pub fn parse(raw: &str) -> Result<Self, HeaderError> {
        let bad = |why: &str| HeaderError::Via(format!("{why}: {raw:?}"));
        let s = raw.trim();
        let mut parts = s.splitn(3, '/');
        let (Some(name), Some(version), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("no sent-protocol"));
        };
        if !name.trim().eq_ignore_ascii_case("SIP") || version.trim() != "2.0" {
            return Err(bad("not SIP/2.0"));
        }
        let rest = rest.trim_start();
        let transport_len = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        let transport = &rest[..transport_len];
        if transport.is_empty() {
            return Err(bad("no transport"));
        }
        let rest = &rest[transport_len..];
        if !rest.starts_with([' ', '\t']) {
            return Err(bad("no sent-by"));
        }
        let rest = rest.trim_start();
        let sent_by_len = rest.find([';', ' ', '\t']).unwrap_or(rest.len());
        let sent_by = &rest[..sent_by_len];
        if !is_host_port(sent_by) {
            return Err(bad("bad sent-by"));
        }
        let params = parse_params(&rest[sent_by_len..]).map_err(|e| bad(&e.to_string()))?;
        Ok(Self {
            transport: transport.to_ascii_uppercase(),
            sent_by: sent_by.to_ascii_lowercase(),
            params,
            raw: s.to_owned(),
        })
    }

    /// The `branch` parameter, if any.
    pub fn branch(&self) -> Option<&str> {
        find_param(&self.params, "branch").and_then(|p| p.value.as_deref())
    }

    /// The branch when it is an RFC 3261 one: it starts with the magic cookie and has
    /// something after it (RFC 4475 §3.2.1 `badbranch`: a bare cookie is not unique).
    pub fn rfc3261_branch(&self) -> Option<&str> {
        self.branch().filter(|b| b.starts_with(BRANCH_COOKIE) && b.len() > BRANCH_COOKIE.len())
    }

    /// The value exactly as received (or as [`Via::stamped`] rewrote it).
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The sent-by host (without brackets for IPv6) and port, if one was written.
    pub fn host_port(&self) -> (&str, Option<u16>) {
        if let Some(v6) = self.sent_by.strip_prefix('[') {
            let (host, rest) = v6.split_once(']').unwrap_or((v6, ""));
            return (host, rest.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
        match self.sent_by.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().ok()),
            None => (&self.sent_by, None),
        }
    }

    /// True when the `rport` parameter is present (RFC 3581 §3: the sender asks for
    /// responses to its source port).
    pub fn wants_rport(&self) -> bool {
        find_param(&self.params, "rport").is_some()
    }

    /// This hop as a server transport records it on receipt from `source`: `received=` when
    /// the sent-by host is not the source address (RFC 3261 §18.2.1) and `rport=` with the
    /// source port when `rport` came empty (RFC 3581 §4). Unchanged otherwise.
    pub fn stamped(&self, source: std::net::SocketAddr) -> Self {
        let mut out = self.clone();
        let ip = source.ip();
        let same_host = self.host_port().0.parse::<std::net::IpAddr>().is_ok_and(|h| h == ip);
        let mut changed = false;
        if !same_host {
            out.params.retain(|p| !p.name.eq_ignore_ascii_case("received"));
            out.params.push(Param { name: "received".into(), value: Some(ip.to_string()) });
            changed = true;
        }
        if let Some(rport) = out
            .params
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case("rport") && p.value.is_none())
        {
            rport.value = Some(source.port().to_string());
            changed = true;
        }
        if changed {
            let head = self.raw.split(';').next().unwrap_or(&self.raw).trim_end();
            out.raw = format!("{head}{}", render_params(&out.params));
        }
        out
    }
}

/// `;name[=value]` for each parameter, quoting values that are not tokens or hosts.
fn render_params(params: &[Param]) -> String {
    let mut s = String::new();
    for p in params {
        s.push(';');
        s.push_str(&p.name);
        if let Some(v) = &p.value {
            s.push('=');
            if v.chars().all(|c| is_token_char(c) || "[]:".contains(c)) && !v.is_empty() {
                s.push_str(v);
            } else {
                s.push('"');
                s.push_str(&v.replace('\\', "\\\\").replace('"', "\\\""));
                s.push('"');
            }
        }
    }
    s
}

/// `host[:port]` where host is a hostname, an IPv4 address or a bracketed IPv6 reference.
fn is_host_port(s: &str) -> bool {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let Some(end) = v6.find(']') else { return false };
        if v6[..end].parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        (None, &v6[end + 1..])
    } else {
        match s.rsplit_once(':') {
            Some((h, _)) => (Some(h), &s[h.len()..]),
            None => (Some(s), ""),
        }
    };
    if let Some(host) = host {
        let host = host.strip_suffix('.').unwrap_or(host);
        if host.is_empty()
            || !host.split('.').all(|label| {
                !label.is_empty()
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
            })
        {
            return false;
        }
    }
    match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(p) => {
            !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && p.parse::<u16>().is_ok()
        }
    }
}

/// A `name-addr` or `addr-spec` with header parameters: the value of `From`, `To`,
/// `Contact`, `Route`, `Record-Route`, `P-Asserted-Identity` (RFC 3261 §20, §25.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name, unquoted.
    pub display: Option<String>,
    /// The URI as written between `<` and `>` (or the bare addr-spec).
    pub uri: String,
    /// Header parameters after the URI (`tag`, `expires`, …).
    pub params: Vec<Param>,
    raw: String,
}

impl NameAddr {
    /// Parses one address value.
    pub fn parse(raw: &str) -> Result<Self, HeaderError> {
        let bad = |why: &str| HeaderError::Address(format!("{why}: {raw:?}"));
        let s = raw.trim();
        let (display, rest) = if s.starts_with('"') {
            let (name, rest) = split_quoted(s).ok_or_else(|| bad("unbalanced quotes"))?;
            let rest = rest.trim_start();
            if !rest.starts_with('<') {
                return Err(bad("display name without <uri>"));
            }
            (Some(name), rest)
        } else if let Some(lt) = s.find('<') {
            let name = s[..lt].trim();
            // RFC 3261 §25.1: an unquoted display name is *(token LWS) (RFC 4475 §3.1.2.15).
            if !name.split_whitespace().all(is_token) {
                return Err(bad("display name must be tokens or a quoted string"));
            }
            (Some(name.to_owned()).filter(|n| !n.is_empty()), &s[lt..])
        } else {
            (None, s)
        };
        let (uri, params) = if let Some(inner) = rest.strip_prefix('<') {
            let gt = inner.find('>').ok_or_else(|| bad("no closing >"))?;
            let uri = &inner[..gt];
            // RFC 4475 §3.1.2.14: no whitespace inside the angle brackets.
            if uri.is_empty() || uri.contains(char::is_whitespace) {
                return Err(bad("whitespace or nothing inside <>"));
            }
            (uri, &inner[gt + 1..])
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            let uri = rest[..end].trim_end();
            // RFC 3261 §20: an addr-spec with ',', '?' or ';' must be in angle brackets
            // (RFC 4475 §3.1.2.11 regbadct).
            if uri.is_empty() || uri.contains([',', '?', ' ', '\t', '>', '"']) {
                return Err(bad("URI with reserved characters must be in <>"));
            }
            (uri, &rest[end..])
        };
        check_uri_syntax(uri).map_err(&bad)?;
        let params = parse_params(params).map_err(|e| bad(&e.to_string()))?;
        Ok(Self { display, uri: uri.to_owned(), params, raw: s.to_owned() })
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&str> {
        find_param(&self.params, "tag").and_then(|p| p.value.as_deref())
    }

    /// The value exactly as received.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// This value with `;tag=` set to `tag` (used by a UAS on `To`, RFC 3261 §8.2.6.2), and
    /// without control characters: it is rewritten to be sent (see [`Self::without_controls`]).
    pub fn with_tag(&self, tag: &str) -> Self {
        let mut out = self.without_controls();
        out.params.retain(|p| !p.name.eq_ignore_ascii_case("tag"));
        out.params.push(Param { name: "tag".into(), value: Some(tag.to_owned()) });
        out.raw = out.render();
        out
    }

    /// Builds `<uri>` with no display name or parameters.
    pub fn from_uri(uri: &str) -> Result<Self, HeaderError> {
        Self::parse(&format!("<{uri}>"))
    }

    /// Builds `"display" <uri>`.
    pub fn with_display(display: Option<&str>, uri: &str) -> Result<Self, HeaderError> {
        match display {
            Some(d) => {
                let escaped = d.replace('\\', "\\\\").replace('"', "\\\"");
                Self::parse(&format!("\"{escaped}\" <{uri}>"))
            }
            None => Self::from_uri(uri),
        }
    }

    /// This value without control characters, for echoing in a response: RFC 3261 §25.1
    /// lets a quoted string carry any escaped octet (RFC 4475 intmeth has a NUL in a display
    /// name), but nothing we send carries one. The URI and the tag are unchanged; the text is
    /// kept as received when it has none.
    pub fn without_controls(&self) -> Self {
        if !self.raw.chars().any(char::is_control) {
            return self.clone();
        }
        let strip = |s: &str| s.chars().filter(|c| !c.is_control()).collect::<String>();
        let mut out = self.clone();
        out.display = self.display.as_deref().map(strip);
        for p in &mut out.params {
            p.value = p.value.as_deref().map(strip);
        }
        out.raw = out.render();
        out
    }

    fn render(&self) -> String {
        let mut s = String::new();
        if let Some(d) = &self.display {
            s.push('"');
            s.push_str(&d.replace('\\', "\\\\").replace('"', "\\\""));
            s.push_str("\" ");
        }
        s.push('<');
        s.push_str(&self.uri);
        s.push('>');
        s.push_str(&render_params(&self.params));
        s
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// `scheme ":" rest` with an RFC 3986 scheme and a non-empty rest.
fn check_uri_syntax(uri: &str) -> Result<(), &'static str> {
    let (scheme, rest) = uri.split_once(':').ok_or("URI without scheme")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
        return Err("bad URI scheme");
    }
    if rest.is_empty() {
        return Err("empty URI");
    }
    // RFC 3986 §2 / RFC 3261 §25.1: these are never part of a URI unescaped. A peer's
    // Contact becomes the Request-URI of our ACK and BYE, which must be valid.
    if rest.contains(['"', '<', '>', '\\'])
        || rest.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("characters not allowed in a URI");
    }
    Ok(())
}

/// The URI scheme, lower-cased (`sip`, `sips`, `tel`, …).
pub fn uri_scheme(uri: &str) -> Option<String> {
    check_uri_syntax(uri).ok()?;
    uri.split_once(':').map(|(s, _)| s.to_ascii_lowercase())
}

/// A parsed `CSeq` value (RFC 3261 §20.16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number, below 2^31 (RFC 3261 §8.1.1.5).
    pub seq: u32,
    /// The method token, exactly as written.
    pub method: String,
}

impl CSeq {
    /// Parses `"<seq> <METHOD>"`.
    pub fn parse(raw: &str) -> Result<Self, HeaderError> {
        let bad = |why: &str| HeaderError::CSeq(format!("{why}: {raw:?}"));
        let mut parts = raw.split_whitespace();
        let (Some(seq), Some(method), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected number and method"));
        };
        if !seq.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("not a number"));
        }
        let seq: u32 = seq.parse().map_err(|_| bad("number too large"))?;
        if seq >= 1 << 31 {
            return Err(bad("number not below 2^31"));
        }
        if !is_token(method) {
            return Err(bad("method is not a token"));
        }
        Ok(Self { seq, method: method.to_owned() })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_parses_branch_and_sent_by() {
        let v = Via::parse("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc;rport").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.sent_by, "192.0.2.1:5060");
        assert_eq!(v.branch(), Some("z9hG4bKabc"));
        assert_eq!(v.rfc3261_branch(), Some("z9hG4bKabc"));
        let v6 = Via::parse("SIP/2.0/TCP [2001:db8::9]:5061;branch=z9hG4bK1").unwrap();
        assert_eq!(v6.sent_by, "[2001:db8::9]:5061");
    }

    #[test]
    fn via_rejects_empty_params_and_other_versions() {
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(Via::parse("SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/2.0/UDP host:99999").is_err());
    }

    #[test]
    fn via_is_stamped_with_received_and_rport() {
        let source: std::net::SocketAddr = "192.0.2.7:40001".parse().unwrap();
        let v = Via::parse("SIP/2.0/UDP pbx.example.com:5070;branch=z9hG4bKa;rport").unwrap();
        assert_eq!(v.host_port(), ("pbx.example.com", Some(5070)));
        let stamped = v.stamped(source);
        assert_eq!(
            stamped.as_str(),
            "SIP/2.0/UDP pbx.example.com:5070;branch=z9hG4bKa;rport=40001;received=192.0.2.7"
        );
        assert_eq!(Via::parse(stamped.as_str()).unwrap(), stamped, "the stamp parses back");
        // Same host, no rport: nothing to add, the text stays byte-exact.
        let plain = Via::parse("SIP/2.0/UDP 192.0.2.7:5060 ;branch=z9hG4bKb").unwrap();
        assert_eq!(plain.stamped(source).as_str(), plain.as_str());
        // Same host with rport: only rport is filled; a filled rport is left alone.
        let asked = Via::parse("SIP/2.0/TCP 192.0.2.7;rport;branch=z9hG4bKc").unwrap();
        assert_eq!(
            asked.stamped(source).as_str(),
            "SIP/2.0/TCP 192.0.2.7;rport=40001;branch=z9hG4bKc"
        );
        let filled = Via::parse("SIP/2.0/UDP 192.0.2.7;rport=9;branch=z9hG4bKd").unwrap();
        assert_eq!(filled.stamped(source).as_str(), filled.as_str());
        let v6 = Via::parse("SIP/2.0/UDP [2001:db8::1]:5062;branch=z9hG4bKe").unwrap();
        assert_eq!(v6.host_port(), ("2001:db8::1", Some(5062)));
        assert!(v6.stamped(source).as_str().ends_with(";received=192.0.2.7"));
    }

    #[test]
    fn bare_cookie_branch_is_not_rfc3261() {
        let v = Via::parse("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK").unwrap();
        assert_eq!(v.rfc3261_branch(), None);
    }

    #[test]
    fn name_addr_forms() {
        let a = NameAddr::parse("\"Bob \\\"B\\\"\" <sip:bob@example.com>;tag=x1").unwrap();
        assert_eq!(a.display.as_deref(), Some("Bob \"B\""));
        assert_eq!(a.uri, "sip:bob@example.com");
        assert_eq!(a.tag(), Some("x1"));
        let b = NameAddr::parse("sip:caller@example.net;tag=134161461246").unwrap();
        assert_eq!(b.uri, "sip:caller@example.net");
        assert_eq!(b.tag(), Some("134161461246"));
        let c = NameAddr::parse("token1~` token2'+_ <sip:mundane@example.com>").unwrap();
        assert_eq!(c.display.as_deref(), Some("token1~` token2'+_"));
        let t = NameAddr::parse("<sip:a@b>").unwrap().with_tag("zz");
        assert_eq!(t.as_str(), "<sip:a@b>;tag=zz");
        assert_eq!(NameAddr::parse(t.as_str()).unwrap().tag(), Some("zz"));
    }

    #[test]
    fn name_addr_rejects_rfc4475_shapes() {
        for bad in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            "Watson, Thomas <sip:t.watson@example.org>",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "<sip:a@b",
            "<sip:\"far@127.0.0.1>",
            "<sip:a<b@example.com>",
            "<sip:a\\b@example.com>",
            "<>",
            "nocolon",
        ] {
            assert!(NameAddr::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn cseq_limits() {
        assert_eq!(CSeq::parse("8 INVITE").unwrap(), CSeq { seq: 8, method: "INVITE".into() });
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("2147483648 INVITE").is_err());
        assert!(CSeq::parse("-1 INVITE").is_err());
        assert!(CSeq::parse("1").is_err());
    }
}
