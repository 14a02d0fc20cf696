//! Configuration: defaults that work on a laptop, an optional TOML file, then `DIALER_*`
//! environment variables (which win). The README's configuration table lists every key.
//!
//! The file is `$DIALER_CONFIG` if set, else `./dialer.toml` if it exists. Its keys are the
//! environment names without the `DIALER_` prefix, in lowercase (`listen = "0.0.0.0:3000"`).

use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::lead::fetch::AllowedNetworks;

/// When the session cookie gets the `Secure` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CookieSecurity {
    /// When the request came over TLS, as a trusted proxy reports (`X-Forwarded-Proto`).
    Auto,
    Always,
    Never,
}

/// The server's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address and port to serve HTTP on.
    pub listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// The first admin's password on a fresh database (random and printed when unset).
    pub admin_password: Option<String>,
    /// How long a login lasts.
    pub session_hours: u32,
    pub secure_cookies: CookieSecurity,
    /// Whether to believe `X-Forwarded-For`/`X-Forwarded-Proto` (only behind your own proxy).
    pub trust_proxy: bool,
    /// Where the built site (`pkg/`, static files) is.
    pub site_root: PathBuf,
    /// The embedded media gateway's SIP address (UDP and TCP).
    pub sip_listen: SocketAddr,
    /// The embedded media gateway's one WebRTC (UDP) port for all agents.
    pub webrtc_listen: SocketAddr,
    /// The address browsers and trunks reach the gateway at (written into SDP and SIP).
    pub media_address: IpAddr,
    /// The built-in demo trunk's SIP address (used only while the demo trunk exists).
    pub demo_sip_listen: SocketAddr,
    /// How long an agent whose phone page went away stays logged in.
    pub phone_grace_seconds: u32,
    /// On SIGTERM or Ctrl-C: how long calls with agents (and their wrap-ups) may go on after
    /// dialling stops, before the rest is hung up. 0 stops at once.
    pub stop_grace_seconds: u32,
    /// This server instance's name (in leases, call references and its heartbeat row), when
    /// set; else [`Config::instance_name`] derives a stable one. Two servers running at once
    /// must not share a name; a restarted server keeps its name, so it takes back its own
    /// leases and calls at once.
    pub instance: Option<String>,
    /// How often this instance writes its heartbeat.
    pub heartbeat_seconds: u32,
    /// How long a silent heartbeat takes to make an instance dead (its calls closed, its
    /// leads taken back by the others). At least twice the heartbeat.
    pub dead_after_seconds: u32,
    /// Where the other instances on the same database reach this one over HTTP
    /// (`http://HOST:PORT`, `DIALER_ADDRESS`): a phone page of a campaign this instance
    /// paces, landing on another, is passed through to it. Unset: [`Config::address`]
    /// derives it from the address it listens on.
    pub address: Option<url::Url>,
    /// Standalone media gateways to drive instead of the embedded one (none: embedded), in
    /// the order given; they share one control token.
    pub gateways: Vec<gateway::remote::RemoteConfig>,
    /// Non-public networks lead files may be fetched from by URL, and campaigns' webhooks
    /// may be posted to (none by default).
    pub import_allow_networks: AllowedNetworks,
    /// The largest lead file accepted (upload or URL), in bytes.
    pub import_max_bytes: u64,
    /// How long fetching a lead file by URL may take in all.
    pub import_url_timeout_seconds: u32,
    /// The embedded gateway hangs up an answered call whose carrier sent no RTP and no
    /// RTCP for this long (a far end that died leaves no BYE); 0: never.
    pub media_timeout_seconds: u32,
    /// Where call recordings are written (`DIALER_RECORDINGS_DIR`); none: `recordings` in
    /// the data directory (see [`Config::recordings_dir`]).
    pub recordings_dir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            database_url: "sqlite://data/dialer.db".into(),
            admin_password: None,
            session_hours: 12,
            secure_cookies: CookieSecurity::Auto,
            trust_proxy: false,
            site_root: PathBuf::from("target/site"),
            sip_listen: SocketAddr::from(([127, 0, 0, 1], 5060)),
            webrtc_listen: SocketAddr::from(([127, 0, 0, 1], 40000)),
            demo_sip_listen: SocketAddr::from(([127, 0, 0, 1], 5062)),
            media_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            phone_grace_seconds: 60,
            stop_grace_seconds: 60,
            media_timeout_seconds: 30,
            instance: None,
            heartbeat_seconds: 2,
            dead_after_seconds: 7,
            address: None,
            gateways: Vec::new(),
            import_allow_networks: AllowedNetworks::None,
            import_max_bytes: 1 << 30,
            import_url_timeout_seconds: 300,
            recordings_dir: None,
        }
    }
}

impl Config {
    /// Where call recordings go: the configured directory, else `recordings` next to the
    /// SQLite database (`data/recordings` with PostgreSQL).
    pub fn recordings_dir(&self) -> PathBuf {
        self.recordings_dir
            .clone()
            .unwrap_or_else(|| crate::recording::default_dir(&self.database_url))
    }

    /// This instance's name: the configured one, else `HOST-HASH` where HASH comes from the
    /// database URL and the working directory — the same for every restart of one
    /// installation, different for two installations on one host (a relative SQLite path
    /// names a different file in each directory).
    pub fn instance_name(&self) -> String {
        if let Some(name) = &self.instance {
            return name.clone();
        }
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        let host: String = host
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(32)
            .collect();
        let dir = std::env::current_dir().unwrap_or_default();
        derived_instance(&host, &self.database_url, &dir.to_string_lossy())
    }
}

impl Config {
    /// Where the other instances reach this one (see [`Config::address`]): the one set, or
    /// `http://` and the address it listens on, `bound` (the loopback address for one
    /// listening on all interfaces: enough for instances on one machine; across machines,
    /// set it).
    pub fn address(&self, bound: SocketAddr) -> String {
        if let Some(url) = &self.address {
            return url.as_str().trim_end_matches('/').to_owned();
        }
        let mut listen = bound;
        if listen.ip().is_unspecified() {
            listen.set_ip(if listen.is_ipv4() {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
            });
        }
        format!("http://{listen}")
    }
}

/// `DIALER_ADDRESS`: an `http://` URL with a host and nothing after the port.
fn parse_address(v: String) -> Result<url::Url, ConfigError> {
    let invalid = |reason: &str| ConfigError::Value {
        name: "DIALER_ADDRESS",
        value: v.clone(),
        reason: format!(
            "{reason}; expected http://HOST:PORT, where the other instances reach this one"
        ),
    };
    let url = url::Url::parse(&v).map_err(|e| invalid(&e.to_string()))?;
    if url.scheme() != "http" {
        return Err(invalid("instances talk plain HTTP to each other (a private network)"));
    }
    if url.host().is_none() {
        return Err(invalid("no host"));
    }
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
        return Err(invalid("nothing may follow the port"));
    }
    Ok(url)
}

/// `HOST-HASH` (see [`Config::instance_name`]).
fn derived_instance(host: &str, database_url: &str, dir: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{database_url}\n{dir}").as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hash}", if host.is_empty() { "dialer" } else { host })
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the config file {path} is not valid: {message}")]
    File { path: PathBuf, message: String },
    #[error("{name}={value:?} is not valid: {reason}")]
    Value { name: &'static str, value: String, reason: String },
}

/// The file's shape: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    address: Option<String>,
    database_url: Option<String>,
    admin_password: Option<String>,
    session_hours: Option<u32>,
    secure_cookies: Option<CookieSecurity>,
    trust_proxy: Option<bool>,
    site_root: Option<PathBuf>,
    sip_listen: Option<String>,
    webrtc_listen: Option<String>,
    demo_sip_listen: Option<String>,
    media_address: Option<String>,
    phone_grace_seconds: Option<u32>,
    stop_grace_seconds: Option<u32>,
    media_timeout_seconds: Option<u32>,
    instance: Option<String>,
    heartbeat_seconds: Option<u32>,
    dead_after_seconds: Option<u32>,
    gateway_url: Option<String>,
    gateway_token: Option<String>,
    import_allow_networks: Option<String>,
    import_max_bytes: Option<u64>,
    import_url_timeout_seconds: Option<u32>,
    recordings_dir: Option<PathBuf>,
}

impl Config {
    /// Loads from the process environment and the config file.
    pub fn load() -> Result<Config, ConfigError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let path = match env("DIALER_CONFIG") {
            Some(p) => Some(PathBuf::from(p)),
            None => Some(PathBuf::from("dialer.toml")).filter(|p| p.exists()),
        };
        let file = match &path {
            Some(p) => Some((
                p.as_path(),
                std::fs::read_to_string(p)
                    .map_err(|source| ConfigError::Read { path: p.clone(), source })?,
            )),
            None => None,
        };
        Config::from_sources(file.as_ref().map(|(p, s)| (*p, s.as_str())), env)
    }

    /// Builds a config from a file's text (if any) and an environment lookup.
    pub fn from_sources(
        file: Option<(&Path, &str)>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let f: FileConfig = match file {
            Some((path, text)) => toml::from_str(text).map_err(|e| ConfigError::File {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?,
            None => FileConfig::default(),
        };
        let d = Config::default();
        // cargo-leptos sets LEPTOS_SITE_ADDR and LEPTOS_SITE_ROOT for `cargo leptos watch`.
        let listen = env("DIALER_LISTEN").or_else(|| env("LEPTOS_SITE_ADDR")).or(f.listen);
        let listen = match listen {
            Some(v) => v.parse().map_err(|e: std::net::AddrParseError| ConfigError::Value {
                name: "DIALER_LISTEN",
                value: v,
                reason: format!("{e}; expected HOST:PORT such as 127.0.0.1:3000"),
            })?,
            None => d.listen,
        };
        let session_hours = match env("DIALER_SESSION_HOURS") {
            Some(v) => parse_hours(&v)?,
            None => f.session_hours.unwrap_or(d.session_hours),
        };
        if !(1..=24 * 90).contains(&session_hours) {
            return Err(ConfigError::Value {
                name: "DIALER_SESSION_HOURS",
                value: session_hours.to_string(),
                reason: "must be between 1 and 2160 (90 days)".into(),
            });
        }
        let secure_cookies = match env("DIALER_SECURE_COOKIES") {
            Some(v) => match v.as_str() {
                "auto" => CookieSecurity::Auto,
                "always" => CookieSecurity::Always,
                "never" => CookieSecurity::Never,
                _ => {
                    return Err(ConfigError::Value {
                        name: "DIALER_SECURE_COOKIES",
                        value: v,
                        reason: "use auto, always or never".into(),
                    });
                }
            },
            None => f.secure_cookies.unwrap_or(d.secure_cookies),
        };
        let trust_proxy = match env("DIALER_TRUST_PROXY") {
            Some(v) => parse_bool("DIALER_TRUST_PROXY", v)?,
            None => f.trust_proxy.unwrap_or(d.trust_proxy),
        };
        let addr = |name: &'static str, v: Option<String>, default: SocketAddr| match v {
            Some(v) => v.parse::<SocketAddr>().map_err(|e| ConfigError::Value {
                name,
                value: v,
                reason: format!("{e}; expected HOST:PORT"),
            }),
            None => Ok(default),
        };
        let sip_listen =
            addr("DIALER_SIP_LISTEN", env("DIALER_SIP_LISTEN").or(f.sip_listen), d.sip_listen)?;
        let webrtc_listen = addr(
            "DIALER_WEBRTC_LISTEN",
            env("DIALER_WEBRTC_LISTEN").or(f.webrtc_listen),
            d.webrtc_listen,
        )?;
        let demo_sip_listen = addr(
            "DIALER_DEMO_SIP_LISTEN",
            env("DIALER_DEMO_SIP_LISTEN").or(f.demo_sip_listen),
            d.demo_sip_listen,
        )?;
        let media_address = match env("DIALER_MEDIA_ADDRESS").or(f.media_address) {
            Some(v) => v.parse::<IpAddr>().map_err(|e| ConfigError::Value {
                name: "DIALER_MEDIA_ADDRESS",
                value: v,
                reason: format!("{e}; expected an IP address"),
            })?,
            // A specific listen address is also the one to advertise.
            None if !webrtc_listen.ip().is_unspecified() => webrtc_listen.ip(),
            None => d.media_address,
        };
        let phone_grace_seconds = match env("DIALER_PHONE_GRACE_SECONDS") {
            Some(v) => v.parse().map_err(|_| ConfigError::Value {
                name: "DIALER_PHONE_GRACE_SECONDS",
                value: v,
                reason: "expected a whole number of seconds".into(),
            })?,
            None => f.phone_grace_seconds.unwrap_or(d.phone_grace_seconds),
        };
        let stop_grace_seconds = match env("DIALER_STOP_GRACE_SECONDS") {
            Some(v) => v.parse::<u32>().ok().filter(|n| *n <= 3600).ok_or(ConfigError::Value {
                name: "DIALER_STOP_GRACE_SECONDS",
                value: v,
                reason: "expected a whole number of seconds from 0 to 3600".into(),
            })?,
            None => f.stop_grace_seconds.unwrap_or(d.stop_grace_seconds).min(3600),
        };
        let media_timeout_seconds = match env("DIALER_MEDIA_TIMEOUT_SECONDS") {
            Some(v) => {
                v.parse::<u32>().ok().filter(|n| *n <= 86_400).ok_or(ConfigError::Value {
                    name: "DIALER_MEDIA_TIMEOUT_SECONDS",
                    value: v,
                    reason: "expected a whole number of seconds from 0 (off) to 86400".into(),
                })?
            }
            None => f.media_timeout_seconds.unwrap_or(d.media_timeout_seconds).min(86_400),
        };
        let seconds = |name: &'static str, file: Option<u32>, default: u32| match env(name) {
            Some(v) => {
                v.parse::<u32>().ok().filter(|n| (1..=3600).contains(n)).ok_or(ConfigError::Value {
                    name,
                    value: v,
                    reason: "expected a whole number of seconds from 1 to 3600".into(),
                })
            }
            None => Ok(file.unwrap_or(default)),
        };
        let heartbeat_seconds =
            seconds("DIALER_HEARTBEAT_SECONDS", f.heartbeat_seconds, d.heartbeat_seconds)?;
        let dead_after_seconds =
            seconds("DIALER_DEAD_AFTER_SECONDS", f.dead_after_seconds, d.dead_after_seconds)?;
        if dead_after_seconds < 2 * heartbeat_seconds {
            return Err(ConfigError::Value {
                name: "DIALER_DEAD_AFTER_SECONDS",
                value: dead_after_seconds.to_string(),
                reason: format!(
                    "must be at least twice the heartbeat ({heartbeat_seconds} s), or one late \
                     heartbeat would make a live server dead"
                ),
            });
        }
        let gateways = match env("DIALER_GATEWAY_URL").or(f.gateway_url) {
            None => Vec::new(),
            Some(list) => {
                let Some(token) = env("DIALER_GATEWAY_TOKEN").or(f.gateway_token) else {
                    return Err(ConfigError::Value {
                        name: "DIALER_GATEWAY_TOKEN",
                        value: String::new(),
                        reason: "a standalone gateway (DIALER_GATEWAY_URL) needs its control token"
                            .into(),
                    });
                };
                gateway_list(&list, &token)?
            }
        };
        let import_allow_networks =
            match env("DIALER_IMPORT_ALLOW_NETWORKS").or(f.import_allow_networks) {
                Some(v) => AllowedNetworks::parse(&v).map_err(|reason| ConfigError::Value {
                    name: "DIALER_IMPORT_ALLOW_NETWORKS",
                    value: v,
                    reason: format!("{reason}; use none, all, or networks like 10.0.0.0/8,::1"),
                })?,
                None => d.import_allow_networks.clone(),
            };
        let number =
            |name: &'static str, v: Option<String>, file: Option<u64>, default: u64| match v {
                Some(v) => v.parse::<u64>().ok().filter(|n| *n > 0).ok_or(ConfigError::Value {
                    name,
                    value: v,
                    reason: "expected a whole number above 0".into(),
                }),
                None => Ok(file.unwrap_or(default)),
            };
        let import_max_bytes = number(
            "DIALER_IMPORT_MAX_BYTES",
            env("DIALER_IMPORT_MAX_BYTES"),
            f.import_max_bytes,
            d.import_max_bytes,
        )?;
        let import_url_timeout_seconds = number(
            "DIALER_IMPORT_URL_TIMEOUT_SECONDS",
            env("DIALER_IMPORT_URL_TIMEOUT_SECONDS"),
            f.import_url_timeout_seconds.map(u64::from),
            u64::from(d.import_url_timeout_seconds),
        )?
        .min(24 * 3600) as u32;
        Ok(Config {
            gateways,
            import_allow_networks,
            import_max_bytes,
            import_url_timeout_seconds,
            sip_listen,
            webrtc_listen,
            demo_sip_listen,
            media_address,
            phone_grace_seconds,
            stop_grace_seconds,
            media_timeout_seconds,
            heartbeat_seconds,
            dead_after_seconds,
            instance: env("DIALER_INSTANCE").or(f.instance).or(d.instance),
            address: env("DIALER_ADDRESS").or(f.address).map(parse_address).transpose()?,
            listen,
            database_url: env("DATABASE_URL")
                .or_else(|| env("DIALER_DATABASE_URL"))
                .or(f.database_url)
                .unwrap_or(d.database_url),
            admin_password: env("DIALER_ADMIN_PASSWORD").or(f.admin_password),
            session_hours,
            secure_cookies,
            trust_proxy,
            site_root: env("DIALER_SITE_ROOT")
                .or_else(|| env("LEPTOS_SITE_ROOT"))
                .map(PathBuf::from)
                .or(f.site_root)
                .unwrap_or(d.site_root),
            recordings_dir: env("DIALER_RECORDINGS_DIR").map(PathBuf::from).or(f.recordings_dir),
        })
    }
}

/// `DIALER_GATEWAY_URL`: one control URL or several, separated by commas or spaces, each
/// gateway once.
fn gateway_list(
    list: &str,
    token: &str,
) -> Result<Vec<gateway::remote::RemoteConfig>, ConfigError> {
    let urls: Vec<&str> =
        list.split(|c: char| c == ',' || c.is_whitespace()).filter(|u| !u.is_empty()).collect();
    let invalid = |reason: String| ConfigError::Value {
        name: "DIALER_GATEWAY_URL",
        value: list.to_owned(),
        reason,
    };
    if urls.is_empty() {
        return Err(invalid("names no gateway".into()));
    }
    let most = crate::runtime::gateways::MAX_GATEWAYS;
    if urls.len() > most {
        return Err(invalid(format!(
            "names {} gateways; a server drives at most {most}",
            urls.len()
        )));
    }
    let mut gateways: Vec<gateway::remote::RemoteConfig> = Vec::with_capacity(urls.len());
    for url in urls {
        let checked = gateway::remote::RemoteConfig::new(url, token).map_err(|e| match e {
            gateway::remote::RemoteError::Token => ConfigError::Value {
                name: "DIALER_GATEWAY_TOKEN",
                value: "…".into(),
                reason: e.to_string(),
            },
            e => invalid(format!("{url}: {e}")),
        })?;
        if gateways.iter().any(|g| g.endpoint() == checked.endpoint()) {
            return Err(invalid(format!("{url} is named twice")));
        }
        gateways.push(checked);
    }
    Ok(gateways)
}

fn parse_hours(v: &str) -> Result<u32, ConfigError> {
    v.parse().map_err(|_| ConfigError::Value {
        name: "DIALER_SESSION_HOURS",
        value: v.to_string(),
        reason: "expected a whole number of hours".into(),
    })
}

fn parse_bool(name: &'static str, v: String) -> Result<bool, ConfigError> {
    match v.as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Value { name, value: v, reason: "use true or false".into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn defaults_work_on_a_laptop() {
        let c = Config::from_sources(None, env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.database_url, "sqlite://data/dialer.db");
        assert_eq!(c.session_hours, 12);
        assert_eq!(c.secure_cookies, CookieSecurity::Auto);
    }

    #[test]
    fn environment_wins_over_the_file() {
        let file = "listen = \"0.0.0.0:8080\"\nsession_hours = 8\ntrust_proxy = true\n";
        let c = Config::from_sources(
            Some((Path::new("dialer.toml"), file)),
            env(&[("DIALER_LISTEN", "127.0.0.1:9000"), ("DATABASE_URL", "postgres://x@h/db")]),
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(c.session_hours, 8);
        assert!(c.trust_proxy);
        assert_eq!(c.database_url, "postgres://x@h/db");
    }

    #[test]
    fn the_media_timeout_is_30_s_by_default_and_0_turns_it_off() {
        assert_eq!(Config::from_sources(None, env(&[])).unwrap().media_timeout_seconds, 30);
        let file = Some((Path::new("dialer.toml"), "media_timeout_seconds = 45\n"));
        assert_eq!(Config::from_sources(file, env(&[])).unwrap().media_timeout_seconds, 45);
        let off = env(&[("DIALER_MEDIA_TIMEOUT_SECONDS", "0")]);
        assert_eq!(Config::from_sources(file, off).unwrap().media_timeout_seconds, 0);
        let e = Config::from_sources(None, env(&[("DIALER_MEDIA_TIMEOUT_SECONDS", "soon")]))
            .unwrap_err();
        assert!(e.to_string().contains("DIALER_MEDIA_TIMEOUT_SECONDS"), "{e}");
    }

    #[test]
    fn bad_values_are_named_in_the_error() {
        let e = Config::from_sources(None, env(&[("DIALER_LISTEN", "nowhere")])).unwrap_err();
        assert!(e.to_string().contains("DIALER_LISTEN"), "{e}");
        let e = Config::from_sources(None, env(&[("DIALER_SESSION_HOURS", "0")])).unwrap_err();
        assert!(e.to_string().contains("between 1 and"), "{e}");
        let e = Config::from_sources(None, env(&[("DIALER_TRUST_PROXY", "maybe")])).unwrap_err();
        assert!(e.to_string().contains("DIALER_TRUST_PROXY"), "{e}");
        let e =
            Config::from_sources(Some((Path::new("d.toml"), "colour = 1")), env(&[])).unwrap_err();
        assert!(e.to_string().contains("d.toml"), "{e}");
        let e = Config::from_sources(None, env(&[("DIALER_IMPORT_ALLOW_NETWORKS", "lan")]))
            .unwrap_err();
        assert!(e.to_string().contains("DIALER_IMPORT_ALLOW_NETWORKS"), "{e}");
    }

    #[test]
    fn instance_names_are_stable_per_installation_unless_set() {
        let a = Config::from_sources(None, env(&[])).unwrap();
        let again = Config::from_sources(None, env(&[])).unwrap();
        assert_eq!(a.instance_name(), again.instance_name(), "a restart keeps its name");
        let other =
            Config::from_sources(None, env(&[("DATABASE_URL", "sqlite://other.db")])).unwrap();
        assert_ne!(a.instance_name(), other.instance_name(), "another database, another name");
        assert_ne!(
            derived_instance("h", "sqlite://data/dialer.db", "/srv/a"),
            derived_instance("h", "sqlite://data/dialer.db", "/srv/b"),
            "the same relative path in another directory is another installation"
        );
        assert!(derived_instance("h", "x", "/").starts_with("h-"));
        let set = Config::from_sources(None, env(&[("DIALER_INSTANCE", "east-1")])).unwrap();
        assert_eq!(set.instance_name(), "east-1");
    }

    #[test]
    fn the_address_other_instances_reach_this_one_at() {
        let c = Config::from_sources(None, env(&[("DIALER_LISTEN", "10.0.0.5:3000")])).unwrap();
        assert_eq!(c.address(c.listen), "http://10.0.0.5:3000");
        let c = Config::from_sources(None, env(&[("DIALER_LISTEN", "0.0.0.0:8080")])).unwrap();
        assert_eq!(c.address(c.listen), "http://127.0.0.1:8080");
        let c = Config::from_sources(None, env(&[("DIALER_LISTEN", "[::]:8080")])).unwrap();
        assert_eq!(c.address(c.listen), "http://[::1]:8080");
        let set =
            [("DIALER_ADDRESS", "http://east.internal:3000"), ("DIALER_LISTEN", "0.0.0.0:3000")];
        let c = Config::from_sources(None, env(&set)).unwrap();
        assert_eq!(c.address(c.listen), "http://east.internal:3000");
        for bad in [
            "https://east:3000",
            "east:3000",
            "http://east:3000/dialer",
            "http://east:3000?x=1",
            "ftp://e",
        ] {
            let err = Config::from_sources(None, env(&[("DIALER_ADDRESS", bad)])).unwrap_err();
            assert!(err.to_string().contains("DIALER_ADDRESS"), "{bad}: {err}");
        }
    }

    #[test]
    fn heartbeats_are_tunable_but_never_dead_after_one_late_beat() {
        let c = Config::from_sources(None, env(&[])).unwrap();
        assert_eq!((c.heartbeat_seconds, c.dead_after_seconds), (2, 7));
        let c = Config::from_sources(
            Some((Path::new("dialer.toml"), "heartbeat_seconds = 5\ndead_after_seconds = 20\n")),
            env(&[]),
        )
        .unwrap();
        assert_eq!((c.heartbeat_seconds, c.dead_after_seconds), (5, 20));
        let e = Config::from_sources(None, env(&[("DIALER_DEAD_AFTER_SECONDS", "3")])).unwrap_err();
        assert!(e.to_string().contains("twice the heartbeat"), "{e}");
        let e = Config::from_sources(None, env(&[("DIALER_HEARTBEAT_SECONDS", "0")])).unwrap_err();
        assert!(e.to_string().contains("DIALER_HEARTBEAT_SECONDS"), "{e}");
    }

    #[test]
    fn url_imports_reach_only_public_addresses_by_default() {
        let c = Config::from_sources(None, env(&[])).unwrap();
        assert_eq!(c.import_allow_networks, AllowedNetworks::None);
        let c = Config::from_sources(
            Some((Path::new("dialer.toml"), "import_allow_networks = \"127.0.0.1/32\"\n")),
            env(&[("DIALER_IMPORT_MAX_BYTES", "1000")]),
        )
        .unwrap();
        assert!(c.import_allow_networks.permits("127.0.0.1".parse().unwrap()));
        assert_eq!(c.import_max_bytes, 1000);
    }

    #[test]
    fn a_standalone_gateway_needs_a_ws_url_and_its_token() {
        let c = Config::from_sources(None, env(&[])).unwrap();
        assert!(c.gateways.is_empty(), "embedded by default");
        let c = Config::from_sources(
            None,
            env(&[
                ("DIALER_GATEWAY_URL", "ws://10.0.0.5:8090"),
                ("DIALER_GATEWAY_TOKEN", "s3cret"),
            ]),
        )
        .unwrap();
        let endpoints: Vec<String> = c.gateways.iter().map(|g| g.endpoint()).collect();
        assert_eq!(endpoints, ["ws://10.0.0.5:8090/control"]);
        let c = Config::from_sources(
            None,
            env(&[
                ("DIALER_GATEWAY_URL", "ws://10.0.0.5:8090, ws://10.0.0.6:8090"),
                ("DIALER_GATEWAY_TOKEN", "s3cret"),
            ]),
        )
        .unwrap();
        let endpoints: Vec<String> = c.gateways.iter().map(|g| g.endpoint()).collect();
        assert_eq!(endpoints, ["ws://10.0.0.5:8090/control", "ws://10.0.0.6:8090/control"]);
        let too_many: String =
            (0..65).map(|i| format!("ws://10.0.1.{i}:8090")).collect::<Vec<_>>().join(",");
        for (list, says) in [
            ("ws://10.0.0.5:8090,ws://10.0.0.5:8090/control", "named twice"),
            (" , ", "names no gateway"),
            ("ws://10.0.0.5:8090,http://gw", "http://gw"),
            (too_many.as_str(), "at most 64"),
        ] {
            let e = Config::from_sources(
                None,
                env(&[("DIALER_GATEWAY_URL", list), ("DIALER_GATEWAY_TOKEN", "s3cret")]),
            )
            .unwrap_err();
            assert!(e.to_string().contains(says), "{list}: {e}");
        }
        let e = Config::from_sources(None, env(&[("DIALER_GATEWAY_URL", "ws://10.0.0.5:8090")]))
            .unwrap_err();
        assert!(e.to_string().contains("DIALER_GATEWAY_TOKEN"), "{e}");
        let e = Config::from_sources(
            None,
            env(&[("DIALER_GATEWAY_URL", "https://gw"), ("DIALER_GATEWAY_TOKEN", "s3cret")]),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("DIALER_GATEWAY_URL") && e.to_string().contains("ws://"),
            "{e}"
        );
        let e = Config::from_sources(
            None,
            env(&[("DIALER_GATEWAY_URL", "ws://gw:1"), ("DIALER_GATEWAY_TOKEN", "bad\nline")]),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("bad"), "the token is not echoed: {e}");
    }
}
