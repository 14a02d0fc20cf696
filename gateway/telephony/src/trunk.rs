//! What a SIP trunk is configured with: its id, transport, where the caller ID goes, and its
//! codecs — as enums, parsed once where text comes in (an admin's form, a database row, a
//! config file), so nothing downstream guesses.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A configured SIP trunk (the server's database id; a standalone gateway's config names the
/// same number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrunkId(pub i64);

impl fmt::Display for TrunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a trunk setting was refused (the message is for people).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrunkError {
    #[error("Choose UDP or TCP.")]
    Transport,
    #[error("Choose From, or From and P-Asserted-Identity.")]
    CallerIdMode,
    #[error("{0:?} is not a codec this dialer speaks: use PCMU and/or PCMA.")]
    Codec(String),
}

impl From<TrunkError> for String {
    fn from(e: TrunkError) -> String {
        e.to_string()
    }
}

/// How SIP travels to the trunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Unreliable: the transaction layer retransmits (RFC 3261 §17.1.1.2).
    #[default]
    Udp,
    /// Reliable: no retransmissions; messages framed by `Content-Length`.
    Tcp,
}

impl Transport {
    /// The stable name stored and typed: `udp`, `tcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }

    /// `udp` or `tcp`, any case.
    pub fn parse(s: &str) -> Result<Transport, TrunkError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "udp" => Ok(Transport::Udp),
            "tcp" => Ok(Transport::Tcp),
            _ => Err(TrunkError::Transport),
        }
    }

    /// True for transports that deliver reliably (no timer A/E/G retransmissions).
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }
}

/// The protocol's own spelling, as in a `Via` header and on pages: `UDP`, `TCP`.
impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        })
    }
}

/// Whether the caller ID also goes in `P-Asserted-Identity` (RFC 3325), which many carriers
/// require from trusted peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerIdMode {
    /// Caller ID in `From` only.
    #[default]
    From,
    /// Caller ID in `From` and `P-Asserted-Identity`.
    #[serde(alias = "from_and_pai")]
    Pai,
}

impl CallerIdMode {
    /// The stable name stored and typed: `from`, `pai`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallerIdMode::From => "from",
            CallerIdMode::Pai => "pai",
        }
    }

    pub fn parse(s: &str) -> Result<CallerIdMode, TrunkError> {
        match s.trim() {
            "from" => Ok(CallerIdMode::From),
            "pai" | "from_and_pai" => Ok(CallerIdMode::Pai),
            _ => Err(TrunkError::CallerIdMode),
        }
    }

    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            CallerIdMode::From => "From",
            CallerIdMode::Pai => "From + P-Asserted-Identity",
        }
    }
}

/// A G.711 variant, the audio codecs the gateway relays (8 kHz, static RTP payload types,
/// RFC 3551 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// μ-law, payload type 0.
    Pcmu,
    /// A-law, payload type 8.
    Pcma,
}

impl Codec {
    /// Both, in the usual order of preference.
    pub const ALL: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

    /// The SDP encoding name (`a=rtpmap`), also how people write it: `PCMU`, `PCMA`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// A codec name, any case.
    pub fn parse(s: &str) -> Result<Codec, TrunkError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PCMU" => Ok(Codec::Pcmu),
            "PCMA" => Ok(Codec::Pcma),
            other => Err(TrunkError::Codec(other.to_string())),
        }
    }

    /// A comma-separated list in order of preference (`PCMA, pcmu`); repeats are dropped.
    pub fn parse_list(s: &str) -> Result<Vec<Codec>, TrunkError> {
        let mut out = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let c = Codec::parse(part)?;
            if !out.contains(&c) {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// The list written back as text: `PCMA,PCMU`.
    pub fn list_text(codecs: &[Codec]) -> String {
        codecs.iter().map(|c| c.name()).collect::<Vec<_>>().join(",")
    }

    /// Static RTP payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The codec with this static payload type.
    pub fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_from_text_and_back() {
        assert_eq!(Transport::parse(" TCP "), Ok(Transport::Tcp));
        assert_eq!(Transport::parse("tls"), Err(TrunkError::Transport));
        assert_eq!((Transport::Udp.as_str(), Transport::Udp.to_string()), ("udp", "UDP".into()));
        assert_eq!(CallerIdMode::parse("from_and_pai"), Ok(CallerIdMode::Pai));
        assert_eq!(CallerIdMode::parse("rpid"), Err(TrunkError::CallerIdMode));
        let codecs = Codec::parse_list("pcma, PCMU,pcma").unwrap();
        assert_eq!(codecs, vec![Codec::Pcma, Codec::Pcmu]);
        assert_eq!(Codec::list_text(&codecs), "PCMA,PCMU");
        assert_eq!(Codec::parse_list("PCMU,opus"), Err(TrunkError::Codec("OPUS".into())));
        let toml_like: CallerIdMode = serde_json::from_str("\"from_and_pai\"").unwrap();
        assert_eq!(toml_like, CallerIdMode::Pai);
        assert_eq!(serde_json::to_string(&Transport::Tcp).unwrap(), "\"tcp\"");
    }
}
