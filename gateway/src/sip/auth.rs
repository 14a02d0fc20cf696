//! HTTP digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616 §3.4), both ways:
//!
//! - as a client: answering a `WWW-Authenticate` (401) or `Proxy-Authenticate` (407)
//!   challenge with MD5, MD5-sess, SHA-256 or SHA-256-sess, with or without `qop=auth`
//!   ([`Challenge`]);
//! - as a server: challenging a trunk's inbound requests and checking its answers
//!   ([`Verifier`]): fresh nonces that expire, `stale=true` for a right answer to an expired
//!   nonce (RFC 2617 §3.2.1), each nonce accepted once (a captured INVITE cannot be replayed).
//!
//! Sans-IO: the caller supplies the client nonce, the nonce count, the server's random
//! numbers and the current time, so every result is deterministic and testable.
//!
//! Invariants: the verifier holds at most [`Verifier::CAPACITY`] nonces; it accepts a request
//! only when the nonce is one it issued, unexpired and unused, the realm and user name are the
//! expected ones, and the response proves the password; hostile credentials (oversized,
//! control characters, missing fields) are refused, never accepted and never a panic.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest, Sha256};

/// Why a challenge could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not a `Digest` challenge.
    #[error("unsupported authentication scheme in {0:?}")]
    Scheme(String),
    /// A required parameter (`realm`, `nonce`) is missing or a parameter list is malformed.
    #[error("malformed digest challenge: {0}")]
    Malformed(String),
    /// An algorithm other than MD5/SHA-256 (and their -sess forms).
    #[error("unsupported digest algorithm {0:?}")]
    Algorithm(String),
    /// `qop` offered, but not `auth` (`auth-int` is not supported).
    #[error("unsupported qop {0:?}")]
    Qop(String),
}

/// Digest hash algorithms (RFC 7616 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// MD5 (the RFC 2617 default).
    Md5,
    /// MD5-sess.
    Md5Sess,
    /// SHA-256.
    Sha256,
    /// SHA-256-sess.
    Sha256Sess,
}

impl Algorithm {
    fn parse(s: &str) -> Result<Self, AuthError> {
        match s.to_ascii_uppercase().as_str() {
            "MD5" => Ok(Self::Md5),
            "MD5-SESS" => Ok(Self::Md5Sess),
            "SHA-256" => Ok(Self::Sha256),
            "SHA-256-SESS" => Ok(Self::Sha256Sess),
            _ => Err(AuthError::Algorithm(s.to_owned())),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
        }
    }

    fn hash(self, data: &str) -> String {
        match self {
            Self::Md5 | Self::Md5Sess => hex(&Md5::digest(data.as_bytes())),
            Self::Sha256 | Self::Sha256Sess => hex(&Sha256::digest(data.as_bytes())),
        }
    }

    fn is_session(self) -> bool {
        matches!(self, Self::Md5Sess | Self::Sha256Sess)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A parsed digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Protection space.
    pub realm: String,
    /// Server nonce.
    pub nonce: String,
    /// Opaque value to echo.
    pub opaque: Option<String>,
    /// Hash algorithm.
    pub algorithm: Algorithm,
    /// True when the server offered `qop=auth`.
    pub qop_auth: bool,
    /// `stale=true`: the nonce expired, the credentials were right (RFC 2617 §3.2.1).
    pub stale: bool,
}

impl Challenge {
    /// Parses a `WWW-Authenticate` / `Proxy-Authenticate` value.
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        let params = Params::digest(value)?;
        let get = |name: &str| params.get(name);
        let (realm, nonce) = (params.need("realm")?, params.need("nonce")?);
        let algorithm = params.algorithm()?;
        let qop_auth = match get("qop") {
            None => false,
            Some(qop) if qop.split(',').any(|q| q.trim().eq_ignore_ascii_case("auth")) => true,
            Some(qop) => return Err(AuthError::Qop(qop)),
        };
        Ok(Self {
            realm,
            nonce,
            opaque: get("opaque"),
            algorithm,
            qop_auth,
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The `Authorization` / `Proxy-Authorization` value answering this challenge for a
    /// request `method` to `uri`. `cnonce` and `nc` are used when `qop=auth` was offered.
    pub fn answer(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
        nc: u32,
    ) -> String {
        let alg = self.algorithm;
        let mut ha1 = alg.hash(&format!("{username}:{}:{password}", self.realm));
        if alg.is_session() {
            ha1 = alg.hash(&format!("{ha1}:{}:{cnonce}", self.nonce));
        }
        let ha2 = alg.hash(&format!("{method}:{uri}"));
        let nc = format!("{nc:08x}");
        let response = if self.qop_auth {
            alg.hash(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce))
        } else {
            alg.hash(&format!("{ha1}:{}:{ha2}", self.nonce))
        };
        let mut out = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", \
             response=\"{response}\", algorithm={}",
            quote(username),
            quote(&self.realm),
            quote(&self.nonce),
            alg.name()
        );
        if self.qop_auth {
            out.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{}\"", quote(cnonce)));
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(&format!(", opaque=\"{}\"", quote(opaque)));
        }
        out
    }
}

/// Credentials from an `Authorization` header (RFC 3261 §22.4, RFC 2617 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Who claims to send.
    pub username: String,
    /// Protection space the credentials are for.
    pub realm: String,
    /// The server nonce answered.
    pub nonce: String,
    /// The `digest-uri` the response was computed over.
    pub uri: String,
    /// The request digest (hex).
    pub response: String,
    /// Hash algorithm.
    pub algorithm: Algorithm,
    /// `(nc, cnonce)` when the client used `qop=auth`.
    pub qop: Option<(String, String)>,
}

/// Longest `Authorization` value considered: real ones are a few hundred bytes.
const MAX_CREDENTIALS_LEN: usize = 4096;

impl Credentials {
    /// Parses an `Authorization` / `Proxy-Authorization` value.
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        if value.len() > MAX_CREDENTIALS_LEN {
            return Err(AuthError::Malformed(format!("{} bytes is too long", value.len())));
        }
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(AuthError::Malformed("control characters".into()));
        }
        let params = Params::digest(value)?;
        let need = |name: &str| params.need(name);
        let qop = match params.get("qop") {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => Some((need("nc")?, need("cnonce")?)),
            Some(q) => return Err(AuthError::Qop(q)),
        };
        Ok(Self {
            username: need("username")?,
            realm: need("realm")?,
            nonce: need("nonce")?,
            uri: need("uri")?,
            response: need("response")?,
            algorithm: params.algorithm()?,
            qop,
        })
    }

    /// True when the response proves `password` for a request with `method` (the response
    /// the client must have computed, RFC 2617 §3.2.2.1, compared in constant time).
    pub fn proves(&self, password: &str, method: &str) -> bool {
        let alg = self.algorithm;
        let cnonce = self.qop.as_ref().map_or("", |(_, c)| c.as_str());
        let mut ha1 = alg.hash(&format!("{}:{}:{password}", self.username, self.realm));
        if alg.is_session() {
            ha1 = alg.hash(&format!("{ha1}:{}:{cnonce}", self.nonce));
        }
        let ha2 = alg.hash(&format!("{method}:{}", self.uri));
        let expected = match &self.qop {
            Some((nc, cnonce)) => {
                alg.hash(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce))
            }
            None => alg.hash(&format!("{ha1}:{}:{ha2}", self.nonce)),
        };
        constant_time_eq(expected.as_bytes(), self.response.to_ascii_lowercase().as_bytes())
    }
}

/// Equality that takes as long whatever the first differing byte (a timing side channel
/// would otherwise tell an attacker how much of a guessed response was right).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// What a server does with a request after checking its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials are proven: go on.
    Accept,
    /// Answer 401 with this `WWW-Authenticate` value (no credentials, another realm, a nonce
    /// we do not know, or — with `stale=true` — the right answer to an expired nonce).
    Challenge(String),
    /// Answer 403: wrong user name or password (or credentials for another request).
    Refuse(&'static str),
    /// Answer 400: the `Authorization` header does not parse, or names another request URI.
    Malformed(String),
}

/// The server side of digest authentication for one protection space (realm).
#[derive(Debug)]
pub struct Verifier {
    realm: String,
    lifetime: Duration,
    /// Issued, unused nonces and when they were issued.
    issued: HashMap<String, Instant>,
    /// The same, oldest first (issue times only grow), to forget the oldest.
    order: VecDeque<(Instant, String)>,
}

impl Verifier {
    /// Most nonces held at once: a flood of unanswered challenges forgets the oldest ones
    /// (their senders get a fresh challenge) instead of growing memory.
    pub const CAPACITY: usize = 4096;

    /// A verifier for `realm` whose nonces are fresh for `lifetime` (and reported stale for
    /// as long again, then forgotten).
    pub fn new(realm: &str, lifetime: Duration) -> Self {
        Self { realm: realm.to_owned(), lifetime, issued: HashMap::new(), order: VecDeque::new() }
    }

    /// Nonces held (for leak tests).
    pub fn len(&self) -> usize {
        self.issued.len()
    }

    /// True when no nonce is held.
    pub fn is_empty(&self) -> bool {
        self.issued.is_empty()
    }

    /// Checks the `authorization` of a request (`None`: it had none) with `method` to
    /// `request_uri` against `username`/`password`. `random` makes the nonce of a new
    /// challenge (from the caller's random source).
    #[allow(clippy::too_many_arguments, reason = "each is one fact of the check")]
    pub fn check(
        &mut self,
        now: Instant,
        authorization: Option<&str>,
        method: &str,
        request_uri: &str,
        username: &str,
        password: &str,
        random: u128,
    ) -> Verdict {
        self.forget_old(now);
        let credentials = match authorization.map(Credentials::parse) {
            None | Some(Err(AuthError::Scheme(_) | AuthError::Algorithm(_))) => {
                return self.challenge(now, random, false);
            }
            Some(Err(e)) => return Verdict::Malformed(e.to_string()),
            Some(Ok(c)) => c,
        };
        // RFC 2617 §3.2.2: credentials for another protection space are no answer to ours.
        if credentials.realm != self.realm {
            return self.challenge(now, random, false);
        }
        let Some(&issued_at) = self.issued.get(&credentials.nonce) else {
            // Never ours, already used, or long forgotten: ask again.
            return self.challenge(now, random, false);
        };
        if credentials.username != username {
            return Verdict::Refuse("unknown user name");
        }
        // RFC 2617 §3.2.2.5: the digest-uri must be the request's (else an answer captured for
        // one request could be replayed for another); a mismatch SHOULD get 400.
        if !credentials.uri.eq_ignore_ascii_case(request_uri) {
            return Verdict::Malformed("the digest uri is not the Request-URI".into());
        }
        if !credentials.proves(password, method) {
            return Verdict::Refuse("wrong password");
        }
        self.forget(&credentials.nonce);
        if now >= issued_at + self.lifetime {
            // Right password, old nonce: the client retries without asking its user.
            return self.challenge(now, random, true);
        }
        Verdict::Accept
    }

    fn challenge(&mut self, now: Instant, random: u128, stale: bool) -> Verdict {
        let nonce = format!("{random:032x}");
        while self.issued.len() >= Self::CAPACITY {
            let Some((at, oldest)) = self.order.pop_front() else { break };
            if self.issued.get(&oldest) == Some(&at) {
                self.issued.remove(&oldest);
            }
        }
        self.issued.insert(nonce.clone(), now);
        self.order.push_back((now, nonce.clone()));
        let stale = if stale { ", stale=true" } else { "" };
        Verdict::Challenge(format!(
            "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\"{stale}",
            quote(&self.realm)
        ))
    }

    fn forget(&mut self, nonce: &str) {
        self.issued.remove(nonce);
    }

    /// Drops nonces past their stale window (twice their lifetime).
    fn forget_old(&mut self, now: Instant) {
        while let Some((at, nonce)) = self.order.front() {
            if now < *at + self.lifetime * 2 && self.order.len() <= Self::CAPACITY {
                break;
            }
            if self.issued.get(nonce) == Some(at) {
                self.issued.remove(nonce);
            }
            self.order.pop_front();
        }
    }
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The parameters of a `Digest` challenge or credentials.
struct Params(Vec<(String, String)>);

impl Params {
    /// `Digest a=b, c="d"` → its parameters; another scheme is refused.
    fn digest(value: &str) -> Result<Self, AuthError> {
        let value = value.trim();
        let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::Scheme(scheme.to_owned()));
        }
        parse_auth_params(rest).map(Self)
    }

    fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }

    fn need(&self, name: &str) -> Result<String, AuthError> {
        self.get(name).ok_or_else(|| AuthError::Malformed(format!("no {name}")))
    }

    /// The algorithm, MD5 when none is named (RFC 2617 §3.2.1).
    fn algorithm(&self) -> Result<Algorithm, AuthError> {
        self.get("algorithm").map_or(Ok(Algorithm::Md5), |a| Algorithm::parse(&a))
    }
}

/// `a=b, c="d,e"` → pairs, unquoting quoted values.
fn parse_auth_params(s: &str) -> Result<Vec<(String, String)>, AuthError> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let (name, after) =
            rest.split_once('=').ok_or_else(|| AuthError::Malformed(format!("at {rest:?}")))?;
        let name = name.trim().to_owned();
        let after = after.trim_start();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end = end.ok_or_else(|| AuthError::Malformed("unterminated quote".into()))?;
            (value, &quoted[end..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        out.push((name, value));
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param<'a>(header: &'a str, name: &str) -> &'a str {
        let start = header.find(&format!("{name}=")).unwrap() + name.len() + 1;
        let v = &header[start..];
        let v = v.strip_prefix('"').unwrap_or(v);
        &v[..v.find(['"', ',']).unwrap_or(v.len())]
    }

    #[test]
    fn rfc2617_md5_with_qop_vector() {
        // RFC 2617 §3.5 (the method and URI of an HTTP request, same arithmetic as SIP).
        let c = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        let h = c.answer("Mufasa", "Circle Of Life", "GET", "/dir/index.html", "0a4f113b", 1);
        assert_eq!(param(&h, "response"), "6629fae49393a05397450978507c4ef1");
        assert_eq!(param(&h, "nc"), "00000001");
        assert_eq!(param(&h, "opaque"), "5ccc069c403ebaf9f0171e9517f40e41");
    }

    #[test]
    fn rfc7616_sha256_and_md5_vectors() {
        let challenge = |alg: &str| {
            Challenge::parse(&format!(
                "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
                 algorithm={alg}, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
                 opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
            ))
            .unwrap()
        };
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let sha = challenge("SHA-256").answer(
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            cnonce,
            1,
        );
        assert_eq!(
            param(&sha, "response"),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        let md5 = challenge("MD5").answer(
            "Mufasa",
            "Circle of Life",
            "GET",
            "/dir/index.html",
            cnonce,
            1,
        );
        assert_eq!(param(&md5, "response"), "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn no_qop_uses_rfc2069_form() {
        let c = Challenge::parse("Digest realm=\"r\", nonce=\"n\"").unwrap();
        let h = c.answer("u", "p", "INVITE", "sip:1@h", "ignored", 1);
        let ha1 = Algorithm::Md5.hash("u:r:p");
        let ha2 = Algorithm::Md5.hash("INVITE:sip:1@h");
        assert_eq!(param(&h, "response"), Algorithm::Md5.hash(&format!("{ha1}:n:{ha2}")));
        assert!(!h.contains("qop"));
    }

    const URI: &str = "sip:2000@127.0.0.1:5060";
    const LIFE: Duration = Duration::from_secs(30);

    /// Issues a challenge and returns it parsed.
    fn challenged(v: &mut Verifier, now: Instant, random: u128) -> Challenge {
        match v.check(now, None, "INVITE", URI, "carrier", "secret", random) {
            Verdict::Challenge(h) => Challenge::parse(&h).unwrap(),
            other => panic!("expected a challenge, got {other:?}"),
        }
    }

    fn answer(c: &Challenge, user: &str, password: &str) -> String {
        c.answer(user, password, "INVITE", URI, "c0ffee", 1)
    }

    #[test]
    fn a_right_answer_to_a_fresh_nonce_is_accepted_once() {
        let t0 = Instant::now();
        let mut v = Verifier::new("gateway", LIFE);
        let c = challenged(&mut v, t0, 7);
        assert_eq!((c.realm.as_str(), c.qop_auth, c.stale), ("gateway", true, false));
        assert_eq!(c.nonce, format!("{:032x}", 7));
        let auth = answer(&c, "carrier", "secret");
        let check =
            |v: &mut Verifier, at| v.check(at, Some(&auth), "INVITE", URI, "carrier", "secret", 8);
        assert_eq!(check(&mut v, t0 + Duration::from_secs(1)), Verdict::Accept);
        assert!(v.is_empty(), "the nonce is used up");
        // The same INVITE replayed: its nonce is no longer known, so it is only challenged.
        assert!(matches!(check(&mut v, t0 + Duration::from_secs(2)), Verdict::Challenge(_)));
    }

    #[test]
    fn the_rfc2069_form_without_qop_is_accepted_too() {
        let t0 = Instant::now();
        let mut v = Verifier::new("gateway", LIFE);
        let mut c = challenged(&mut v, t0, 1);
        c.qop_auth = false;
        let auth = answer(&c, "carrier", "secret");
        assert!(!auth.contains("qop"));
        assert_eq!(
            v.check(t0, Some(&auth), "INVITE", URI, "carrier", "secret", 2),
            Verdict::Accept
        );
    }

    #[test]
    fn an_expired_nonce_with_the_right_password_is_stale_and_then_forgotten() {
        let t0 = Instant::now();
        let mut v = Verifier::new("gateway", LIFE);
        let c = challenged(&mut v, t0, 1);
        let auth = answer(&c, "carrier", "secret");
        let late = t0 + LIFE;
        let Verdict::Challenge(h) =
            v.check(late, Some(&auth), "INVITE", URI, "carrier", "secret", 2)
        else {
            panic!("stale nonce not challenged")
        };
        let again = Challenge::parse(&h).unwrap();
        assert!(again.stale, "{h}");
        assert_ne!(again.nonce, c.nonce, "a fresh nonce");
        // The wrong password with an expired nonce is refused, not told it is stale.
        let c3 = challenged(&mut v, late, 3);
        let wrong = answer(&c3, "carrier", "guess");
        let at = late + LIFE;
        assert_eq!(
            v.check(at, Some(&wrong), "INVITE", URI, "carrier", "secret", 4),
            Verdict::Refuse("wrong password")
        );
        // Past twice the lifetime a nonce is forgotten altogether.
        v.check(late + LIFE * 3, None, "INVITE", URI, "carrier", "secret", 5);
        assert_eq!(v.len(), 1, "only the newest challenge is held");
    }

    #[test]
    fn wrong_credentials_are_refused_and_foreign_ones_challenged() {
        let t0 = Instant::now();
        let mut v = Verifier::new("gateway", LIFE);
        let c = challenged(&mut v, t0, 1);
        let check = |v: &mut Verifier, auth: &str| {
            v.check(t0, Some(auth), "INVITE", URI, "carrier", "secret", 9)
        };
        assert_eq!(
            check(&mut v, &answer(&c, "carrier", "guess")),
            Verdict::Refuse("wrong password")
        );
        assert_eq!(
            check(&mut v, &answer(&c, "mallory", "secret")),
            Verdict::Refuse("unknown user name")
        );
        let other_uri = c.answer("carrier", "secret", "INVITE", "sip:9@x", "c", 1);
        assert!(matches!(check(&mut v, &other_uri), Verdict::Malformed(_)));
        // A response computed for another method does not prove this one.
        let bye = c.answer("carrier", "secret", "BYE", URI, "c", 1);
        assert_eq!(check(&mut v, &bye), Verdict::Refuse("wrong password"));
        let mut foreign = c.clone();
        foreign.realm = "elsewhere".into();
        assert!(matches!(
            check(&mut v, &answer(&foreign, "carrier", "secret")),
            Verdict::Challenge(_)
        ));
        let mut unknown = c.clone();
        unknown.nonce = "feed".into();
        assert!(matches!(
            check(&mut v, &answer(&unknown, "carrier", "secret")),
            Verdict::Challenge(_)
        ));
        assert!(matches!(check(&mut v, "Basic Y2FycmllcjpzZWNyZXQ="), Verdict::Challenge(_)));
    }

    #[test]
    fn hostile_authorization_headers_are_refused_without_panic() {
        let t0 = Instant::now();
        let mut v = Verifier::new("gateway", LIFE);
        let c = challenged(&mut v, t0, 1);
        let n = &c.nonce;
        let huge = format!("Digest username=\"{}\"", "a".repeat(100_000));
        let cases = [
            format!("Digest realm=\"gateway\", nonce=\"{n}\", uri=\"{URI}\", response=\"0\""),
            format!("Digest username=\"carrier\", realm=\"gateway\", nonce=\"{n}\""),
            format!(
                "Digest username=\"carrier\", realm=\"gateway\", nonce=\"{n}\", uri=\"{URI}\", response=\"0\", qop=auth"
            ),
            format!("Digest username=\"car\u{0}rier\", realm=\"gateway\", nonce=\"{n}\""),
            "Digest username=\"unterminated".to_owned(),
            "Digest garbage".to_owned(),
            "Digest ====".to_owned(),
            "Digest".to_owned(),
            String::new(),
            huge,
            format!(
                "Digest username=\"carrier\", realm=\"gateway\", nonce=\"{n}\", uri=\"{URI}\", response=\"{}\"",
                "f".repeat(32)
            ),
        ];
        for case in &cases {
            let verdict = v.check(t0, Some(case), "INVITE", URI, "carrier", "secret", 2);
            assert!(
                !matches!(verdict, Verdict::Accept),
                "accepted {:?}",
                &case[..case.len().min(80)]
            );
        }
        assert!(matches!(
            v.check(t0, Some(&cases[0]), "INVITE", URI, "carrier", "secret", 2),
            Verdict::Malformed(_)
        ));
    }

    #[test]
    fn a_flood_of_challenges_keeps_a_bounded_number_of_nonces() {
        let t0 = Instant::now();
        let mut v = Verifier::new("gateway", LIFE);
        let first = challenged(&mut v, t0, 0);
        for i in 1..(Verifier::CAPACITY as u128 + 100) {
            challenged(&mut v, t0, i);
        }
        assert_eq!(v.len(), Verifier::CAPACITY);
        // The oldest was forgotten: its answer only gets a new challenge.
        let auth = answer(&first, "carrier", "secret");
        assert!(matches!(
            v.check(t0, Some(&auth), "INVITE", URI, "carrier", "secret", 1),
            Verdict::Challenge(_)
        ));
    }

    #[test]
    fn bad_challenges_are_refused() {
        assert!(matches!(Challenge::parse("Basic realm=\"x\""), Err(AuthError::Scheme(_))));
        assert!(matches!(Challenge::parse("Digest nonce=\"n\""), Err(AuthError::Malformed(_))));
        assert!(matches!(
            Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512"),
            Err(AuthError::Algorithm(_))
        ));
        assert!(matches!(
            Challenge::parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\""),
            Err(AuthError::Qop(_))
        ));
        assert!(Challenge::parse("Digest realm=\"unterminated").is_err());
        let stale = Challenge::parse("Digest realm=\"r\", nonce=\"n\", stale=TRUE").unwrap();
        assert!(stale.stale);
    }
}
