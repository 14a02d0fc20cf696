//! Fetching a lead file from a URL an admin typed, without letting that URL reach into the
//! server's own network.
//!
//! Rules, all enforced here:
//! - only `http` and `https`, no user name or password in the URL;
//! - every address the request connects to — the first host, each redirect's host, after DNS
//!   resolution (the connection uses exactly the addresses checked, so a name that resolves
//!   differently a second time cannot slip through) — must be public: loopback, private,
//!   carrier-grade NAT, link-local, unique-local, multicast, unspecified and IPv4-mapped forms of
//!   those are refused unless the admin setting lists the network (or says `all`);
//! - at most 5 redirects, a total time limit, and a size cap counted on the bytes received
//!   (a `Content-Length` above the cap is refused before reading).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Networks an admin allows URL imports to reach even though they are not public.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AllowedNetworks {
    /// Public addresses only (the default).
    #[default]
    None,
    /// Any address (a trusted, closed network).
    All,
    /// These networks as well as public addresses.
    List(Vec<Network>),
}

/// An IP network `address/prefix`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// `10.0.0.0/8`, `::1/128`, or a single address.
    pub fn parse(raw: &str) -> Result<Network, String> {
        let (a, p) = match raw.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (raw.trim(), None),
        };
        let addr: IpAddr = a.parse().map_err(|_| format!("{a:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{p:?} is not a prefix length (0–{max})"))?,
            None => max,
        };
        Ok(Network { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(i) & mask
            }
            _ => false,
        }
    }
}

impl AllowedNetworks {
    /// `""`/`none`, `all`, or a comma-separated list of networks.
    pub fn parse(raw: &str) -> Result<AllowedNetworks, String> {
        match raw.trim() {
            "" | "none" => Ok(AllowedNetworks::None),
            "all" => Ok(AllowedNetworks::All),
            list => Ok(AllowedNetworks::List(
                list.split(',').map(Network::parse).collect::<Result<_, _>>()?,
            )),
        }
    }

    /// Whether a connection to `ip` is allowed.
    pub fn permits(&self, ip: IpAddr) -> bool {
        match self {
            AllowedNetworks::All => true,
            _ if is_public(ip) => true,
            AllowedNetworks::None => false,
            AllowedNetworks::List(nets) => nets.iter().any(|n| n.contains(ip)),
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) judged as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Whether `ip` is an ordinary public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(a) => {
            let o = a.octets();
            !(a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.is_multicast()
                || a.is_documentation()
                || o[0] == 0
                // 100.64.0.0/10 carrier-grade NAT, 192.0.0.0/24 protocol assignments,
                // 198.18.0.0/15 benchmarking, 240.0.0.0/4 reserved.
                || (o[0] == 100 && (o[1] & 0xC0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xFE) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            !(a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (s[0] & 0xFE00) == 0xFC00 // fc00::/7 unique local
                || (s[0] & 0xFFC0) == 0xFE80 // fe80::/10 link-local
                || (s[0] & 0xFFC0) == 0xFEC0 // fec0::/10 old site-local
                || (s[0] == 0x2001 && s[1] == 0x0DB8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xFF9B) // NAT64 (wraps IPv4)
                || s[0] == 0x2002 // 6to4 (wraps IPv4)
                || a == Ipv4Addr::UNSPECIFIED.to_ipv6_compatible())
        }
    }
}

/// The URL rules and limits.
#[derive(Clone, Debug)]
pub struct UrlRules {
    pub allow: AllowedNetworks,
    /// The most bytes one file may have.
    pub max_bytes: u64,
    /// The whole fetch (connect, redirects, body) must finish within this.
    pub timeout: Duration,
}

impl UrlRules {
    /// The rules a configuration sets.
    pub fn from_config(config: &crate::config::Config) -> UrlRules {
        UrlRules {
            allow: config.import_allow_networks.clone(),
            max_bytes: config.import_max_bytes,
            timeout: Duration::from_secs(u64::from(config.import_url_timeout_seconds)),
        }
    }
}

/// Why a URL cannot be fetched. The messages are for the admin who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("Enter a URL starting with http:// or https://.")]
    BadUrl,
    #[error("Only http and https URLs can be fetched (not {0}:).")]
    Scheme(String),
    #[error(
        "URLs with a user name or password are not fetched; make the file downloadable without them."
    )]
    Credentials,
    #[error(
        "{0} is a private, loopback or link-local address; the server does not fetch from its own network."
    )]
    Private(String),
    #[error("The file is larger than the limit of {0} bytes.")]
    TooLarge(u64),
    #[error("The server at that URL took too long to answer.")]
    Timeout,
    #[error("The server at that URL answered {0}.")]
    Status(u16),
    #[error("Too many redirects.")]
    Redirects,
    #[error("Cannot fetch the URL: {0}")]
    Network(String),
}

/// The first checks on a URL as typed: parseable, http(s), no credentials, and not an
/// address literal outside the allowed networks.
pub fn check_url(raw: &str, allow: &AllowedNetworks) -> Result<reqwest::Url, FetchError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 2048 {
        return Err(FetchError::BadUrl);
    }
    let url = reqwest::Url::parse(raw).map_err(|_| FetchError::BadUrl)?;
    check_target(&url, allow)?;
    Ok(url)
}

/// The rules every URL in a chain of redirects must pass.
fn check_target(url: &reqwest::Url, allow: &AllowedNetworks) -> Result<(), FetchError> {
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(FetchError::Scheme(other.chars().take(20).collect())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::Credentials);
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(FetchError::BadUrl),
    };
    if let Some(ip) = literal.filter(|ip| !allow.permits(*ip)) {
        return Err(FetchError::Private(ip.to_string()));
    }
    Ok(())
}

/// Resolves names and keeps only addresses the rules allow; a name with none left fails with
/// [`FetchError::Private`], which [`classify`] finds again in reqwest's error. (Webhook
/// deliveries connect through it too.)
pub(crate) struct GuardedResolver {
    allow: AllowedNetworks,
}

impl GuardedResolver {
    pub(crate) fn new(allow: AllowedNetworks) -> GuardedResolver {
        GuardedResolver { allow }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?
                .collect();
            let first = found.first().map(|a| a.ip());
            let ok: Vec<SocketAddr> = found.into_iter().filter(|a| allow.permits(a.ip())).collect();
            if ok.is_empty() {
                let what = first.map(|ip| format!("{host} ({ip})")).unwrap_or(host);
                return Err(Box::new(FetchError::Private(what)) as Box<_>);
            }
            Ok(Box::new(ok.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Finds our own error in reqwest's chain, else describes the failure.
pub(crate) fn classify(e: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(f) = s.downcast_ref::<FetchError>() {
            return f.clone();
        }
        source = s.source();
    }
    if e.is_timeout() {
        FetchError::Timeout
    } else if e.is_redirect() {
        FetchError::Redirects
    } else {
        let mut msg = e.to_string();
        let mut s = std::error::Error::source(&e);
        while let Some(inner) = s {
            msg = format!("{msg}: {inner}");
            s = inner.source();
        }
        FetchError::Network(msg.chars().take(300).collect())
    }
}

/// A download in progress: chunks as they arrive, the size cap enforced on the way.
pub struct Download {
    response: reqwest::Response,
    received: u64,
    max: u64,
    /// The size the server announced, if any.
    pub total: Option<u64>,
}

impl Download {
    /// Checks the URL, connects (following allowed redirects) and checks the answer's status
    /// and announced size.
    pub async fn open(raw: &str, rules: &UrlRules) -> Result<Download, FetchError> {
        let url = check_url(raw, &rules.allow)?;
        let allow = rules.allow.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                return attempt.error(FetchError::Redirects);
            }
            match check_target(attempt.url(), &allow) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e),
            }
        });
        let client = reqwest::Client::builder()
            .redirect(policy)
            .dns_resolver(Arc::new(GuardedResolver::new(rules.allow.clone())))
            .timeout(rules.timeout)
            .connect_timeout(rules.timeout.min(Duration::from_secs(10)))
            .no_proxy()
            .build()
            .map_err(classify)?;
        let response = client.get(url).send().await.map_err(classify)?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let total = response.content_length();
        if total.is_some_and(|n| n > rules.max_bytes) {
            return Err(FetchError::TooLarge(rules.max_bytes));
        }
        Ok(Download { response, received: 0, max: rules.max_bytes, total })
    }

    /// The next chunk, or None at the end.
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, FetchError> {
        let c = self.response.chunk().await.map_err(classify)?;
        if let Some(c) = &c {
            self.received += c.len() as u64;
            if self.received > self.max {
                return Err(FetchError::TooLarge(self.max));
            }
        }
        Ok(c)
    }

    /// Reads up to `limit` bytes from the start (for a preview).
    pub async fn head(mut self, limit: usize) -> Result<Vec<u8>, FetchError> {
        let mut out = Vec::new();
        while out.len() < limit {
            match self.chunk().await? {
                Some(c) => out.extend_from_slice(&c[..c.len().min(limit - out.len())]),
                None => break,
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_addresses_are_not_public() {
        for a in [
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip(a)), "{a}");
        }
        for a in ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(ip(a)), "{a}");
        }
    }

    #[test]
    fn allowed_networks() {
        let none = AllowedNetworks::parse("").unwrap();
        assert!(!none.permits(ip("127.0.0.1")));
        assert!(none.permits(ip("8.8.8.8")));
        assert!(AllowedNetworks::parse("all").unwrap().permits(ip("::1")));
        let list = AllowedNetworks::parse("127.0.0.1/32, 10.0.0.0/8,fd00::/8").unwrap();
        assert!(list.permits(ip("127.0.0.1")));
        assert!(list.permits(ip("::ffff:127.0.0.1")));
        assert!(!list.permits(ip("127.0.0.2")));
        assert!(list.permits(ip("10.200.1.1")));
        assert!(list.permits(ip("fd12::1")));
        assert!(!list.permits(ip("::1")));
        assert!(AllowedNetworks::parse("10.0.0.0/33").is_err());
        assert!(AllowedNetworks::parse("localhost").is_err());
    }

    #[test]
    fn urls_are_checked_before_any_connection() {
        let none = AllowedNetworks::None;
        assert!(check_url("https://example.com/leads.csv", &none).is_ok());
        assert_eq!(check_url("ftp://example.com/x", &none), Err(FetchError::Scheme("ftp".into())));
        assert_eq!(check_url("file:///etc/passwd", &none), Err(FetchError::Scheme("file".into())));
        assert_eq!(check_url("not a url", &none), Err(FetchError::BadUrl));
        assert_eq!(check_url("", &none), Err(FetchError::BadUrl));
        assert_eq!(check_url("http://u:p@example.com/", &none), Err(FetchError::Credentials));
        for private in [
            "http://127.0.0.1/",
            "http://[::1]:8080/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::ffff:7f00:1]/",
            "http://0x7f000001/",
            "http://2130706433/",
        ] {
            assert!(matches!(check_url(private, &none), Err(FetchError::Private(_))), "{private}");
        }
    }
}
