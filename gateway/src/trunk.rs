//! SIP trunk configuration: where a carrier or PBX is, how to reach it, what it allows, and
//! which inbound requests are taken to come from it.
//!
//! Who is a trunk ([`Trunk::is_source`]): a request comes from a trunk when its source is the
//! trunk's resolved address **and port** — any other process on the trunk's host (for the
//! built-in demo trunk: any local process) is a stranger. Only a trunk that says
//! [`Trunk::any_port`] is matched by address alone (a carrier whose cluster sends from
//! several ports, or one that opens a new TCP connection per request from an ephemeral
//! port). A trunk with [`Trunk::inbound_digest`] set must also prove its credentials on each
//! inbound INVITE (RFC 3261 §22, see [`crate::sip::auth`]); without credentials configured
//! such a trunk can place no inbound call at all (fail closed).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::call::TrunkId;
use crate::codec::Codec;
use crate::sip::message::Transport;

pub use telephony::CallerIdMode;

/// Which way a call went when a trunk's credentials were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthDirection {
    /// We called out and the trunk challenged us.
    Outbound,
    /// The trunk called in and we challenged it.
    Inbound,
}

/// One configured SIP trunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trunk {
    /// The trunk's id in commands and events (the server's database id).
    pub id: TrunkId,
    /// Host name or IP address of the trunk's SIP server.
    pub host: String,
    /// SIP port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Transport for signalling.
    #[serde(default = "default_transport")]
    pub transport: Transport,
    /// Digest user name, when the trunk challenges (401/407).
    #[serde(default)]
    pub username: Option<String>,
    /// Digest password.
    #[serde(default)]
    pub password: Option<String>,
    /// Where the caller ID goes.
    #[serde(default)]
    pub caller_id_mode: CallerIdMode,
    /// Codecs offered, in order of preference.
    #[serde(default = "default_codecs")]
    pub codecs: Vec<Codec>,
    /// Concurrent calls allowed (0: no limit).
    #[serde(default)]
    pub max_channels: u32,
    /// New calls per second allowed (0: no limit).
    #[serde(default)]
    pub max_calls_per_second: u32,
    /// Seconds between OPTIONS keep-alives (0: none).
    #[serde(default)]
    pub keepalive_secs: u32,
    /// Accept requests from the trunk's address at any source port (default: only from
    /// `host:port`).
    #[serde(default)]
    pub any_port: bool,
    /// Challenge inbound INVITEs (401) and accept only those whose digest response proves
    /// `username`/`password` (RFC 3261 §22.4).
    #[serde(default)]
    pub inbound_digest: bool,
}

fn default_port() -> u16 {
    5060
}

fn default_transport() -> Transport {
    Transport::Udp
}

fn default_codecs() -> Vec<Codec> {
    vec![Codec::Pcmu, Codec::Pcma]
}

impl Trunk {
    /// A trunk at `host:port` over `transport` with the defaults for everything else.
    pub fn new(id: TrunkId, host: &str, port: u16, transport: Transport) -> Self {
        Self {
            id,
            host: host.to_owned(),
            port,
            transport,
            username: None,
            password: None,
            caller_id_mode: CallerIdMode::From,
            codecs: default_codecs(),
            max_channels: 0,
            max_calls_per_second: 0,
            keepalive_secs: 0,
            any_port: false,
            inbound_digest: false,
        }
    }

    /// True when a request from `source` comes from this trunk, resolved to `addr`: the same
    /// address and port, or the same address when the trunk allows [`Trunk::any_port`].
    /// (IPv4-mapped IPv6 sources count as their IPv4 address: a dual-stack socket reports
    /// them so.)
    pub fn is_source(&self, addr: SocketAddr, source: SocketAddr) -> bool {
        let canonical = |a: SocketAddr| a.ip().to_canonical();
        canonical(addr) == canonical(source) && (self.any_port || addr.port() == source.port())
    }

    /// The digest credentials inbound INVITEs must prove, when the trunk asks for that:
    /// `Some(None)` when it asks but has none configured (then nothing is accepted).
    pub fn inbound_credentials(&self) -> Option<Option<(&str, &str)>> {
        self.inbound_digest.then(|| self.username.as_deref().zip(self.password.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_trunk_is_its_address_and_port_unless_it_allows_any_port() {
        let mut trunk = Trunk::new(TrunkId(1), "127.0.0.1", 5080, Transport::Udp);
        let at = addr("127.0.0.1:5080");
        assert!(trunk.is_source(at, addr("127.0.0.1:5080")));
        assert!(!trunk.is_source(at, addr("127.0.0.1:5081")), "another process on the host");
        assert!(!trunk.is_source(at, addr("127.0.0.2:5080")), "another host");
        assert!(trunk.is_source(at, addr("[::ffff:127.0.0.1]:5080")), "dual-stack socket");
        trunk.any_port = true;
        assert!(trunk.is_source(at, addr("127.0.0.1:40000")));
        assert!(!trunk.is_source(at, addr("127.0.0.2:5080")), "any port, not any host");
    }

    #[test]
    fn inbound_credentials_fail_closed() {
        let mut trunk = Trunk::new(TrunkId(1), "127.0.0.1", 5080, Transport::Udp);
        assert_eq!(trunk.inbound_credentials(), None, "not asked for");
        trunk.inbound_digest = true;
        assert_eq!(trunk.inbound_credentials(), Some(None), "asked for, none configured");
        trunk.username = Some("carrier".into());
        trunk.password = Some("secret".into());
        assert_eq!(trunk.inbound_credentials(), Some(Some(("carrier", "secret"))));
    }
}
