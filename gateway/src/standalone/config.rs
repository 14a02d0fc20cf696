//! Configuration of the standalone `gateway` binary: defaults that work on a laptop, an
//! optional TOML file, then `DIALER_GATEWAY_*` environment variables (which win).
//!
//! The file is `$DIALER_GATEWAY_CONFIG` if set, else `./gateway.toml` if it exists. Its
//! keys are the environment names without the prefix, in lowercase, plus `[[trunks]]`
//! tables (trunks exist only in the file: they are lists).
//!
//! SIP over TCP limits: `tcp_max_connections` (1024), `tcp_max_per_peer` (32),
//! `tcp_idle_timeout_secs` (300), `tcp_header_timeout_secs` (10). Per-source rate limit on
//! SIP requests from addresses that are not trunks: `sip_rate_per_second` (20, 0 for none) and
//! `sip_rate_burst` (40). An answered call whose trunk sent no RTP and no RTCP for
//! `media_timeout_secs` (30, 0 for never) is hung up. When no server has been connected to
//! the control API for `orphan_timeout_secs` (3, 0 for never), every call is hung up and
//! every agent leg closed: their server died, and another recovers their leads — a call left
//! up could be dialled again elsewhere while it lasts. Keep it below the servers'
//! `DIALER_DEAD_AFTER_SECONDS`. Call recordings are written to
//! `recordings` (`DIALER_GATEWAY_RECORDINGS`, default `./recordings`) and served from there.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use std::time::Duration;

use serde::Deserialize;

use crate::sip::rate::RateLimit;
use crate::transport::TcpLimits;
use crate::trunk::Trunk;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("the config file {path} is not valid: {message}")]
    File {
        /// File.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
    /// An environment variable has a bad value.
    #[error("{name}={value:?} is not valid: {reason}")]
    Env {
        /// Variable.
        name: String,
        /// Its value.
        value: String,
        /// Why.
        reason: String,
    },
}

/// The binary's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// HTTP: `/metrics`, `/healthz`, `/control` (WebSocket).
    pub http: SocketAddr,
    /// SIP over UDP and TCP.
    pub sip: SocketAddr,
    /// The WebRTC socket shared by all agent legs.
    pub webrtc: SocketAddr,
    /// Address announced in SIP, SDP and ICE when listening on a wildcard.
    pub advertise: IpAddr,
    /// Shared secret for the control API; random (and printed) when unset.
    pub token: Option<String>,
    /// Hold music (8 kHz mono 16-bit WAV).
    pub hold_music: Option<PathBuf>,
    /// Trunks.
    pub trunks: Vec<Trunk>,
    /// Limits on SIP over TCP.
    pub tcp: TcpLimits,
    /// Per-source rate limit on SIP requests from addresses that are not trunks.
    pub sip_rate: RateLimit,
    /// How long an answered call may go without RTP from its trunk; `None`: never.
    pub media_timeout: Option<Duration>,
    /// How long calls outlive the last control connection (none: for ever).
    pub orphan_timeout: Option<Duration>,
    /// Where call recordings are written (and served from).
    pub recordings: PathBuf,
}

/// The default media-inactivity timeout: a far end that died leaves no BYE behind.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(30);
/// The default orphan timeout: a server restarting is back sooner (and ends its predecessor's
/// calls itself); one that died is declared so after 7 s by default.
pub const ORPHAN_TIMEOUT: Duration = Duration::from_secs(3);

/// `secs` as a timeout, where 0 means none.
fn timeout_secs(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            http: SocketAddr::from(([127, 0, 0, 1], 8088)),
            sip: SocketAddr::from(([0, 0, 0, 0], 5060)),
            webrtc: SocketAddr::from(([0, 0, 0, 0], 40000)),
            advertise: IpAddr::from([127, 0, 0, 1]),
            token: None,
            hold_music: None,
            trunks: Vec::new(),
            tcp: TcpLimits::default(),
            sip_rate: RateLimit::default(),
            media_timeout: Some(MEDIA_TIMEOUT),
            orphan_timeout: Some(ORPHAN_TIMEOUT),
            recordings: PathBuf::from("recordings"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    http: Option<SocketAddr>,
    sip: Option<SocketAddr>,
    webrtc: Option<SocketAddr>,
    advertise: Option<IpAddr>,
    token: Option<String>,
    hold_music: Option<PathBuf>,
    tcp_max_connections: Option<usize>,
    tcp_max_per_peer: Option<usize>,
    tcp_idle_timeout_secs: Option<u64>,
    tcp_header_timeout_secs: Option<u64>,
    sip_rate_per_second: Option<u32>,
    sip_rate_burst: Option<u32>,
    media_timeout_secs: Option<u64>,
    orphan_timeout_secs: Option<u64>,
    recordings: Option<PathBuf>,
    #[serde(default)]
    trunks: Vec<Trunk>,
}

impl Settings {
    /// Loads from the process environment and the config file.
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_sources(|name| std::env::var(name).ok(), Path::new("gateway.toml"))
    }

    /// Loads with `env` as the environment and `default_file` used when it exists and
    /// `DIALER_GATEWAY_CONFIG` is unset.
    pub fn from_sources(
        env: impl Fn(&str) -> Option<String>,
        default_file: &Path,
    ) -> Result<Self, ConfigError> {
        let mut s = Self::default();
        let path = env("DIALER_GATEWAY_CONFIG")
            .map(PathBuf::from)
            .or_else(|| default_file.is_file().then(|| default_file.to_owned()));
        if let Some(path) = path {
            let text = std::fs::read_to_string(&path)
                .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
            let file: File = toml::from_str(&text)
                .map_err(|e| ConfigError::File { path: path.clone(), message: e.to_string() })?;
            s.http = file.http.unwrap_or(s.http);
            s.sip = file.sip.unwrap_or(s.sip);
            s.webrtc = file.webrtc.unwrap_or(s.webrtc);
            s.advertise = file.advertise.unwrap_or(s.advertise);
            s.token = file.token.or(s.token);
            s.hold_music = file.hold_music.or(s.hold_music);
            s.trunks = file.trunks;
            s.tcp.max_connections = file.tcp_max_connections.unwrap_or(s.tcp.max_connections);
            s.tcp.max_per_peer = file.tcp_max_per_peer.unwrap_or(s.tcp.max_per_peer);
            if let Some(secs) = file.tcp_idle_timeout_secs {
                s.tcp.idle_timeout = Duration::from_secs(secs);
            }
            if let Some(secs) = file.tcp_header_timeout_secs {
                s.tcp.header_timeout = Duration::from_secs(secs);
            }
            s.sip_rate.per_second = file.sip_rate_per_second.unwrap_or(s.sip_rate.per_second);
            s.sip_rate.burst = file.sip_rate_burst.unwrap_or(s.sip_rate.burst);
            if let Some(secs) = file.media_timeout_secs {
                s.media_timeout = timeout_secs(secs);
            }
            if let Some(secs) = file.orphan_timeout_secs {
                s.orphan_timeout = timeout_secs(secs);
            }
            s.recordings = file.recordings.unwrap_or(s.recordings);
        }
        fn parse<T: std::str::FromStr>(name: &str, value: String) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value.parse().map_err(|e: T::Err| ConfigError::Env {
                name: name.into(),
                value,
                reason: e.to_string(),
            })
        }
        if let Some(v) = env("DIALER_GATEWAY_HTTP") {
            s.http = parse("DIALER_GATEWAY_HTTP", v)?;
        }
        if let Some(v) = env("DIALER_GATEWAY_SIP") {
            s.sip = parse("DIALER_GATEWAY_SIP", v)?;
        }
        if let Some(v) = env("DIALER_GATEWAY_WEBRTC") {
            s.webrtc = parse("DIALER_GATEWAY_WEBRTC", v)?;
        }
        if let Some(v) = env("DIALER_GATEWAY_ADVERTISE") {
            s.advertise = parse("DIALER_GATEWAY_ADVERTISE", v)?;
        }
        if let Some(v) = env("DIALER_GATEWAY_TOKEN") {
            if v.len() < 16 {
                return Err(ConfigError::Env {
                    name: "DIALER_GATEWAY_TOKEN".into(),
                    value: "…".into(),
                    reason: "use at least 16 characters".into(),
                });
            }
            s.token = Some(v);
        }
        if let Some(v) = env("DIALER_GATEWAY_HOLD_MUSIC") {
            s.hold_music = Some(PathBuf::from(v));
        }
        if let Some(v) = env("DIALER_GATEWAY_TCP_MAX_CONNECTIONS") {
            s.tcp.max_connections = parse("DIALER_GATEWAY_TCP_MAX_CONNECTIONS", v)?;
        }
        if let Some(v) = env("DIALER_GATEWAY_TCP_MAX_PER_PEER") {
            s.tcp.max_per_peer = parse("DIALER_GATEWAY_TCP_MAX_PER_PEER", v)?;
        }
        if let Some(v) = env("DIALER_GATEWAY_TCP_IDLE_TIMEOUT_SECS") {
            s.tcp.idle_timeout =
                Duration::from_secs(parse("DIALER_GATEWAY_TCP_IDLE_TIMEOUT_SECS", v)?);
        }
        if let Some(v) = env("DIALER_GATEWAY_TCP_HEADER_TIMEOUT_SECS") {
            s.tcp.header_timeout =
                Duration::from_secs(parse("DIALER_GATEWAY_TCP_HEADER_TIMEOUT_SECS", v)?);
        }
        if let Some(v) = env("DIALER_GATEWAY_SIP_RATE_PER_SECOND") {
            s.sip_rate.per_second = parse("DIALER_GATEWAY_SIP_RATE_PER_SECOND", v)?;
        }
        if let Some(v) = env("DIALER_GATEWAY_SIP_RATE_BURST") {
            s.sip_rate.burst = parse("DIALER_GATEWAY_SIP_RATE_BURST", v)?;
        }
        if let Some(v) = env("DIALER_GATEWAY_MEDIA_TIMEOUT_SECS") {
            s.media_timeout = timeout_secs(parse("DIALER_GATEWAY_MEDIA_TIMEOUT_SECS", v)?);
        }
        if let Some(v) = env("DIALER_GATEWAY_ORPHAN_TIMEOUT_SECS") {
            s.orphan_timeout = timeout_secs(parse("DIALER_GATEWAY_ORPHAN_TIMEOUT_SECS", v)?);
        }
        if let Some(v) = env("DIALER_GATEWAY_RECORDINGS") {
            if v.trim().is_empty() {
                return Err(ConfigError::Env {
                    name: "DIALER_GATEWAY_RECORDINGS".into(),
                    value: v,
                    reason: "name a directory".into(),
                });
            }
            s.recordings = PathBuf::from(v);
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_wins_over_file_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gw.toml");
        std::fs::write(
            &file,
            "sip = \"127.0.0.1:5070\"\nhttp = \"127.0.0.1:9000\"\ntcp_max_per_peer = 8\ntcp_idle_timeout_secs = 60\nsip_rate_burst = 100\nmedia_timeout_secs = 0\n\n[[trunks]]\nid = 3\nhost = \"sip.example.net\"\ntransport = \"tcp\"\ncaller_id_mode = \"from_and_pai\"\nmax_channels = 30\n",
        )
        .unwrap();
        let file_str = file.to_str().unwrap().to_owned();
        let env = |name: &str| match name {
            "DIALER_GATEWAY_CONFIG" => Some(file_str.clone()),
            "DIALER_GATEWAY_HTTP" => Some("127.0.0.1:9100".into()),
            "DIALER_GATEWAY_TCP_MAX_CONNECTIONS" => Some("200".into()),
            "DIALER_GATEWAY_RECORDINGS" => Some("/var/spool/calls".into()),
            _ => None,
        };
        let s = Settings::from_sources(env, Path::new("/nonexistent")).unwrap();
        assert_eq!(s.http, "127.0.0.1:9100".parse().unwrap());
        assert_eq!(s.recordings, PathBuf::from("/var/spool/calls"));
        assert_eq!(s.sip, "127.0.0.1:5070".parse().unwrap());
        assert_eq!(
            s.tcp,
            TcpLimits {
                max_connections: 200,
                max_per_peer: 8,
                idle_timeout: Duration::from_secs(60),
                ..TcpLimits::default()
            }
        );
        assert_eq!(s.sip_rate, RateLimit { per_second: 20, burst: 100 });
        assert_eq!(s.media_timeout, None, "0 switches the media timeout off");
        let seconds = |name: &str| match name {
            "DIALER_GATEWAY_CONFIG" => Some(file_str.clone()),
            "DIALER_GATEWAY_MEDIA_TIMEOUT_SECS" => Some("45".into()),
            "DIALER_GATEWAY_ORPHAN_TIMEOUT_SECS" => Some("0".into()),
            _ => None,
        };
        let s45 = Settings::from_sources(seconds, Path::new("/nonexistent")).unwrap();
        assert_eq!(s45.media_timeout, Some(Duration::from_secs(45)), "the environment wins");
        assert_eq!(s45.orphan_timeout, None, "0: calls outlive the control connection");
        assert_eq!(s.trunks.len(), 1);
        assert_eq!(s.trunks[0].port, 5060);
        assert_eq!(s.trunks[0].transport, crate::sip::message::Transport::Tcp);
        assert_eq!(s.trunks[0].max_channels, 30);
        assert_eq!(s.trunks[0].id, crate::call::TrunkId(3));
        assert_eq!(s.trunks[0].caller_id_mode, crate::trunk::CallerIdMode::Pai);

        let bad = |name: &str| (name == "DIALER_GATEWAY_SIP").then(|| "not-an-address".to_owned());
        let err = Settings::from_sources(bad, Path::new("/nonexistent")).unwrap_err();
        assert!(err.to_string().starts_with("DIALER_GATEWAY_SIP=\"not-an-address\""), "{err}");
        let short = |name: &str| (name == "DIALER_GATEWAY_TOKEN").then(|| "short".to_owned());
        assert!(Settings::from_sources(short, Path::new("/nonexistent")).is_err());
        let blank = |name: &str| (name == "DIALER_GATEWAY_RECORDINGS").then(|| " ".to_owned());
        let err = Settings::from_sources(blank, Path::new("/nonexistent")).unwrap_err();
        assert!(err.to_string().contains("DIALER_GATEWAY_RECORDINGS"), "{err}");
        std::fs::write(&file, "nonsense = 1\n").unwrap();
        let err = Settings::from_sources(env, Path::new("/nonexistent")).unwrap_err();
        assert!(matches!(err, ConfigError::File { .. }), "{err}");
    }

    #[test]
    fn defaults_work_on_a_laptop() {
        let s = Settings::from_sources(|_| None, Path::new("/nonexistent")).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.media_timeout, Some(Duration::from_secs(30)));
        assert_eq!(s.orphan_timeout, Some(Duration::from_secs(3)));
        assert_eq!(s.recordings, PathBuf::from("recordings"));
    }
}
