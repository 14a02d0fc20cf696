//! Agents' SIP phones as the agents page shows and edits them: the account (user name,
//! password, transport, codecs; the telephony vocabulary's checked types) and what the gateway
//! last said of it — registered where and until when, or its last refused registration, and
//! how the phone sounds while it carries the agent's shift.
//!
//! Invariant: a [`SipPhoneForm`] that parsed is a complete account (user name, a password or
//! "keep the current one", a transport, at least one codec).

use serde::{Deserialize, Serialize};

pub use telephony::sip_phone::{
    SipPhoneAccount, SipPhoneError, SipRegistration, SipSecret, SipUser,
};
use telephony::{Codec, Transport};

use super::error::ApiError;

/// Where a phone is registered, as the gateway accepted it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneRegistration {
    /// The `Contact` URI.
    pub contact: String,
    /// The address its REGISTER came from (`ip:port`).
    pub source: String,
    pub user_agent: Option<String>,
    /// Epoch ms the registration runs out at.
    pub until: i64,
}

/// An agent's SIP phone on the agents page (never its password).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SipPhoneSummary {
    pub user: SipUser,
    pub transport: Transport,
    pub codecs: Vec<Codec>,
    /// The registration running when the list was read, if any.
    pub registration: Option<PhoneRegistration>,
    /// The last refused registration: why, and when (epoch ms).
    pub failure: Option<(String, i64)>,
    /// How the phone sounds, while it carries the agent's shift (none: it does not, or the
    /// gateway has heard nothing of it yet).
    #[serde(default)]
    pub quality: Option<PhoneQuality>,
}

/// What the media gateway last said of a SIP phone's audio: the warnings standing (the rules
/// the browser's are judged by) and the figures of that second.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneQuality {
    pub warnings: Vec<super::quality::QualityWarning>,
    pub figures: super::quality::QualityFigures,
    /// When it was said (epoch ms).
    pub at: i64,
}

impl PhoneQuality {
    /// The figures as people read them: `jitter 2 ms · loss 0.0 % · round trip unknown`.
    pub fn figures_text(&self) -> String {
        let f = &self.figures;
        let ms = |v: Option<u32>| v.map_or_else(|| "unknown".to_string(), |v| format!("{v} ms"));
        let loss = f
            .loss_permille
            .map_or_else(|| "unknown".to_string(), |p| format!("{}.{} %", p / 10, p % 10));
        format!("jitter {} · loss {loss} · round trip {}", ms(f.jitter_ms), ms(f.rtt_ms))
    }
}

impl SipPhoneSummary {
    /// The codecs as people write them: `PCMU,PCMA`.
    pub fn codecs_text(&self) -> String {
        Codec::list_text(&self.codecs)
    }
}

/// A SIP phone as an admin sets it: `secret` none keeps the current password (an edit that
/// does not change it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipPhoneForm {
    pub user: SipUser,
    pub secret: Option<SipSecret>,
    pub transport: Transport,
    pub codecs: Vec<Codec>,
}

impl SipPhoneForm {
    /// Checks the form's fields; each error names its field.
    pub fn parse(
        user: &str,
        secret: &str,
        transport: &str,
        codecs: &str,
    ) -> Result<Self, ApiError> {
        let user = SipUser::parse(user).map_err(|e| ApiError::invalid("sip_user", e))?;
        let secret = match secret {
            "" => None,
            s => Some(SipSecret::parse(s).map_err(|e| ApiError::invalid("sip_secret", e))?),
        };
        let transport =
            Transport::parse(transport).map_err(|e| ApiError::invalid("sip_transport", e))?;
        let codecs = Codec::parse_list(codecs).map_err(|e| ApiError::invalid("sip_codecs", e))?;
        if codecs.is_empty() {
            return Err(ApiError::invalid("sip_codecs", SipPhoneError::NoCodec));
        }
        Ok(Self { user, secret, transport, codecs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_people_write_them() {
        let q = PhoneQuality {
            warnings: vec![],
            figures: super::super::quality::QualityFigures {
                rtt_ms: None,
                jitter_ms: Some(2),
                loss_permille: Some(51),
                packets_received: 50,
            },
            at: 0,
        };
        assert_eq!(q.figures_text(), "jitter 2 ms · loss 5.1 % · round trip unknown");
    }

    #[test]
    fn a_form_names_the_field_in_error() {
        let field = |r: Result<SipPhoneForm, ApiError>| match r {
            Err(ApiError::Invalid(f)) => f.field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(SipPhoneForm::parse("a b", "secret-12", "udp", "PCMU")), "sip_user");
        assert_eq!(field(SipPhoneForm::parse("ann01", "short", "udp", "PCMU")), "sip_secret");
        assert_eq!(
            field(SipPhoneForm::parse("ann01", "secret-12", "sctp", "PCMU")),
            "sip_transport"
        );
        assert_eq!(field(SipPhoneForm::parse("ann01", "secret-12", "udp", "G729")), "sip_codecs");
        assert_eq!(field(SipPhoneForm::parse("ann01", "secret-12", "udp", " ")), "sip_codecs");
        let kept = SipPhoneForm::parse("ann01", "", "TCP", "pcma,pcmu").unwrap();
        assert_eq!((kept.secret, kept.transport), (None, Transport::Tcp));
        assert_eq!(kept.codecs, vec![Codec::Pcma, Codec::Pcmu]);
    }
}
