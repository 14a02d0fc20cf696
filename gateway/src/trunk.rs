//! SIP trunk configuration: where a carrier or PBX is, how to reach it, what it allows.

use serde::{Deserialize, Serialize};

use crate::call::TrunkId;
use crate::codec::Codec;
use crate::sip::message::Transport;

pub use telephony::CallerIdMode;

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
        }
    }
}
