//! CRM integration of a campaign: the address of the customer's record in the company's CRM,
//! opened in a panel of the phone page for each call, and the webhook the dialer posts call
//! events to (answered, ended with its disposition), with the log of those deliveries.
//!
//! Invariants:
//! - a [`CrmUrlTemplate`] is an `http://` or `https://` address of at most
//!   [`CrmUrlTemplate::MAX_LEN`] characters, without spaces or control characters, whose
//!   scheme and host are written out (placeholders only in the path, query and fragment, so a
//!   lead's data can never send the agent's browser to another site), and whose `{field}`
//!   placeholders all name a lead field: the scripts' vocabulary ([`super::script::placeholders`],
//!   [`super::lead::Lead::field`]: phone, status, the contact fields, custom fields) plus
//!   `lead_id`;
//! - rendering percent-encodes every value (RFC 3986 §2.3: only unreserved characters stay as
//!   they are), so a value can never add a parameter or change the path; a field the lead
//!   does not have becomes empty;
//! - a [`WebhookSecret`] has [`WebhookSecret::MIN_LEN`] to [`WebhookSecret::MAX_LEN`]
//!   characters and no control characters. It is never sent back to the browser.
//!
//! The webhook's address is checked on the server (it is fetched from there, so it must not
//! reach into the server's own network: see the server's `lead::fetch` rules); the CRM
//! address is opened by the agent's browser only, never fetched by the server, so a CRM on
//! the company's private network is fine.

use serde::{Deserialize, Serialize};

use super::ids::CampaignId;
use super::lead::Lead;
use super::text::Name;

/// The placeholder a CRM address may use besides the scripts' ones: the lead's id in the
/// dialer (a script reads names to a customer; a CRM link needs the record's key).
pub const LEAD_ID: &str = "lead_id";

/// The built-in placeholders a CRM address can use (custom fields come on top).
pub fn builtin_placeholders() -> Vec<&'static str> {
    let mut v = vec![LEAD_ID];
    v.extend(super::script::placeholders());
    v
}

/// Why a CRM address template is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("The CRM address is longer than {} characters.", CrmUrlTemplate::MAX_LEN)]
    TooLong,
    #[error("The CRM address must start with http:// or https:// (not {0:?}).")]
    Scheme(String),
    #[error("The CRM address has no host after {0}.")]
    NoHost(&'static str),
    #[error("The CRM address cannot contain spaces or control characters; write a space as %20.")]
    Whitespace,
    #[error(
        "Placeholders go in the path or query of the CRM address, not in its host: the lead's data must not choose the site the agent opens."
    )]
    PlaceholderInHost,
    #[error("A {{ in the CRM address has no closing }}: write placeholders like {{phone}}.")]
    Unclosed,
    #[error("A }} in the CRM address closes no placeholder: write placeholders like {{phone}}.")]
    StrayClose,
    #[error(
        "{{{0}}} is not a placeholder: a placeholder is a field name of letters, digits and _."
    )]
    BadName(String),
    #[error("{}", unknown_message(.name, .custom))]
    Unknown { name: String, custom: Vec<String> },
}

/// What an unknown placeholder's error says: the name and every field that can be used.
fn unknown_message(name: &str, custom: &[String]) -> String {
    let list = |names: &mut dyn Iterator<Item = &str>| {
        names.map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(" ")
    };
    let known = list(&mut builtin_placeholders().into_iter());
    let custom = if custom.is_empty() {
        " (this campaign's leads have no custom fields yet)".to_string()
    } else {
        format!(
            ", or a custom field of this campaign's leads: {}",
            list(&mut custom.iter().map(String::as_str))
        )
    };
    format!("{{{name}}} is not a lead field. Use one of: {known}{custom}.")
}

/// A part of a template: literal text or a placeholder's field name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part<'a> {
    Text(&'a str),
    Field(&'a str),
}

/// A campaign's CRM address with `{field}` placeholders, checked (see the module's
/// invariants).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrmUrlTemplate(String);

impl CrmUrlTemplate {
    pub const MAX_LEN: usize = 2048;

    /// Checks `raw`; `custom` are the custom field names the campaign's leads have (a
    /// placeholder must be a built-in field or one of them).
    pub fn parse(raw: &str, custom: &[String]) -> Result<CrmUrlTemplate, TemplateError> {
        let s = raw.trim();
        if s.chars().count() > Self::MAX_LEN {
            return Err(TemplateError::TooLong);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(TemplateError::Whitespace);
        }
        let lower = s.to_ascii_lowercase();
        let scheme = ["https://", "http://"].into_iter().find(|p| lower.starts_with(p));
        let Some(scheme) = scheme else {
            let shown = s.split(':').next().filter(|x| x.len() < s.len()).unwrap_or(s);
            return Err(TemplateError::Scheme(shown.chars().take(20).collect()));
        };
        let rest = &s[scheme.len()..];
        let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let host = &rest[..host_end];
        if host.contains(['{', '}']) {
            return Err(TemplateError::PlaceholderInHost);
        }
        if host.is_empty() || host.starts_with(':') || host.ends_with('@') {
            return Err(TemplateError::NoHost(scheme));
        }
        for part in parts(s)? {
            if let Part::Field(name) = part
                && !builtin_placeholders().contains(&name)
                && !custom.iter().any(|c| c == name)
            {
                return Err(TemplateError::Unknown {
                    name: name.to_string(),
                    custom: custom.to_vec(),
                });
            }
        }
        Ok(CrmUrlTemplate(s.to_string()))
    }

    /// A template stored earlier (checked when it was saved): only the syntax is checked
    /// again, since the custom fields it names may have no lead right now.
    pub fn stored(raw: &str) -> Option<CrmUrlTemplate> {
        parts(raw).ok().map(|_| CrmUrlTemplate(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address for a call with `lead`: each placeholder replaced by the lead's value,
    /// percent-encoded; a field the lead does not have is empty.
    pub fn render(&self, lead: &Lead) -> String {
        let mut out = String::with_capacity(self.0.len() + 64);
        // A stored template has been parsed: its parts are well-formed.
        for part in parts(&self.0).unwrap_or_default() {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(LEAD_ID) => out.push_str(&lead.id.0.to_string()),
                Part::Field(name) => encode_into(&mut out, lead.field(name).unwrap_or("")),
            }
        }
        out
    }
}

/// Splits a template into text and placeholders; braces must pair up around field names.
fn parts(s: &str) -> Result<Vec<Part<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(['{', '}']) {
        if rest.as_bytes()[i] == b'}' {
            return Err(TemplateError::StrayClose);
        }
        if i > 0 {
            out.push(Part::Text(&rest[..i]));
        }
        let after = &rest[i + 1..];
        let close = after.find('}').ok_or(TemplateError::Unclosed)?;
        let name = &after[..close];
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(TemplateError::BadName(name.chars().take(40).collect()));
        }
        out.push(Part::Field(name));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Part::Text(rest));
    }
    Ok(out)
}

/// Percent-encodes `value` for any part of a URL: RFC 3986 unreserved characters stay, every
/// other byte of its UTF-8 is `%XX`.
fn encode_into(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xF)] as char);
        }
    }
}

/// The key that signs a campaign's webhook deliveries (HMAC-SHA256), shared with the receiver.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

impl WebhookSecret {
    pub const MIN_LEN: usize = 16;
    pub const MAX_LEN: usize = 256;

    pub fn parse(raw: &str) -> Result<WebhookSecret, String> {
        let n = raw.chars().count();
        if n < Self::MIN_LEN {
            return Err(format!(
                "The webhook secret needs at least {} characters: the receiver checks each delivery's signature with it.",
                Self::MIN_LEN
            ));
        }
        if n > Self::MAX_LEN {
            return Err(format!("The webhook secret has at most {} characters.", Self::MAX_LEN));
        }
        if raw.chars().any(char::is_control) {
            return Err("The webhook secret cannot contain control characters.".into());
        }
        Ok(WebhookSecret(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a webhook delivery reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WebhookEvent {
    /// The customer answered and is talking to an agent.
    #[serde(rename = "call.answered")]
    CallAnswered,
    /// The agent finished the call: its disposition and notes.
    #[serde(rename = "call.ended")]
    CallEnded,
}

impl WebhookEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::CallAnswered => "call.answered",
            WebhookEvent::CallEnded => "call.ended",
        }
    }

    pub fn parse(s: &str) -> Option<WebhookEvent> {
        [WebhookEvent::CallAnswered, WebhookEvent::CallEnded].into_iter().find(|e| e.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            WebhookEvent::CallAnswered => "Call answered",
            WebhookEvent::CallEnded => "Call ended",
        }
    }
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not delivered yet: waiting for its first or next try.
    Pending,
    /// The receiver answered with a 2xx status.
    Delivered,
    /// Every try failed; no more tries.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Failed]
            .into_iter()
            .find(|d| d.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            DeliveryState::Pending => "Pending",
            DeliveryState::Delivered => "Delivered",
            DeliveryState::Failed => "Failed",
        }
    }
}

/// One webhook delivery, as the log shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub id: i64,
    pub event: WebhookEvent,
    /// The call it is about (its attempt's reference).
    pub call_ref: String,
    pub url: String,
    /// When the event happened (Unix ms).
    pub occurred_at: i64,
    pub state: DeliveryState,
    /// Tries made so far.
    pub tries: u32,
    /// The receiver's HTTP status at the last try, if it answered.
    pub last_status: Option<u16>,
    /// Why the last try failed, in words.
    pub last_error: Option<String>,
    /// When the next try is due (Unix ms), while pending.
    pub next_try_at: Option<i64>,
    /// When it was delivered or given up (Unix ms).
    pub finished_at: Option<i64>,
}

/// A campaign's CRM settings as the page shows them (the secret is never sent back).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmSettings {
    /// The CRM address template; empty: no CRM panel.
    pub url_template: String,
    /// The webhook's address; empty: no webhook.
    pub webhook_url: String,
    /// Whether a webhook secret is stored.
    pub secret_set: bool,
}

/// The CRM page of a campaign: its settings, what placeholders its template may use, and the
/// latest webhook deliveries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmPage {
    pub campaign: CampaignId,
    pub name: Name,
    pub settings: CrmSettings,
    /// The custom field names the campaign's leads have (usable as placeholders).
    pub custom_fields: Vec<String>,
    /// The latest deliveries, newest first.
    pub deliveries: Vec<WebhookDelivery>,
}

/// The CRM form as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmForm {
    pub campaign: i64,
    #[serde(default)]
    pub url_template: String,
    #[serde(default)]
    pub webhook_url: String,
    /// A new secret; empty keeps the stored one.
    #[serde(default)]
    pub webhook_secret: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::script::sample_lead;

    fn custom() -> Vec<String> {
        vec!["plan".to_string()]
    }

    fn parse(s: &str) -> Result<CrmUrlTemplate, TemplateError> {
        CrmUrlTemplate::parse(s, &custom())
    }

    #[test]
    fn templates_are_checked() {
        assert!(parse("https://crm.example/customer?phone={phone}&lead={lead_id}").is_ok());
        assert!(parse("http://10.0.0.5:8080/c/{lead_id}#{plan}").is_ok());
        assert!(parse("  HTTPS://crm.example/x  ").is_ok());
        assert_eq!(parse("javascript:alert(1)"), Err(TemplateError::Scheme("javascript".into())));
        assert_eq!(parse("ftp://crm.example/"), Err(TemplateError::Scheme("ftp".into())));
        assert_eq!(parse("crm.example/x"), Err(TemplateError::Scheme("crm.example/x".into())));
        assert_eq!(parse("https:///x"), Err(TemplateError::NoHost("https://")));
        assert_eq!(parse("https://{city}.crm.example/"), Err(TemplateError::PlaceholderInHost));
        assert_eq!(parse("https://crm.example/a b"), Err(TemplateError::Whitespace));
        assert_eq!(parse("https://crm.example/?p={phone"), Err(TemplateError::Unclosed));
        assert_eq!(parse("https://crm.example/?p=phone}"), Err(TemplateError::StrayClose));
        assert_eq!(parse("https://crm.example/?p={first name}"), Err(TemplateError::Whitespace));
        assert_eq!(
            parse("https://crm.example/?p={a-b}"),
            Err(TemplateError::BadName("a-b".into()))
        );
        assert_eq!(parse("https://crm.example/?p={}"), Err(TemplateError::BadName("".into())));
        let unknown = parse("https://crm.example/?p={frist_name}").unwrap_err();
        assert_eq!(unknown, TemplateError::Unknown { name: "frist_name".into(), custom: custom() });
        let message = unknown.to_string();
        assert!(message.starts_with("{frist_name} is not a lead field."), "{message}");
        assert!(message.contains("{first_name}") && message.contains("{plan}"), "{message}");
        let none = CrmUrlTemplate::parse("https://x.example/{plan}", &[]).unwrap_err();
        assert!(none.to_string().contains("no custom fields yet"), "{none}");
        assert_eq!(
            parse(&format!("https://x.example/{}", "a".repeat(2048))),
            Err(TemplateError::TooLong)
        );
    }

    #[test]
    fn rendering_encodes_every_value() {
        let mut lead = sample_lead();
        lead.id = crate::model::LeadId(42);
        lead.contact.last_name = "O'Brien & Sons/Ltd?x=1#y".into();
        lead.contact.city = "Zürich".into();
        let t = parse(
            "https://crm.example/customer?phone={phone}&lead={lead_id}&n={last_name}&c={city}&plan={plan}",
        )
        .unwrap();
        assert_eq!(
            t.render(&lead),
            "https://crm.example/customer?phone=%2B442079460958&lead=42\
             &n=O%27Brien%20%26%20Sons%2FLtd%3Fx%3D1%23y&c=Z%C3%BCrich&plan=Gold"
        );
    }

    #[test]
    fn a_missing_value_is_empty() {
        let mut lead = sample_lead();
        lead.custom.clear();
        lead.contact.email.clear();
        let t = parse("https://crm.example/?plan={plan}&e={email}&s={status}").unwrap();
        assert_eq!(t.render(&lead), "https://crm.example/?plan=&e=&s=NEW");
    }

    #[test]
    fn secrets() {
        assert!(WebhookSecret::parse("0123456789abcdef").is_ok());
        assert!(WebhookSecret::parse("short").unwrap_err().contains("at least 16"));
        assert!(WebhookSecret::parse(&"x".repeat(257)).is_err());
        assert!(WebhookSecret::parse("0123456789abcdef\u{0}").is_err());
        assert_eq!(
            format!("{:?}", WebhookSecret::parse("0123456789abcdef").unwrap()),
            "WebhookSecret(…)"
        );
    }

    #[test]
    fn events_and_states_round_trip() {
        for e in [WebhookEvent::CallAnswered, WebhookEvent::CallEnded] {
            assert_eq!(WebhookEvent::parse(e.as_str()), Some(e));
            assert_eq!(serde_json::to_string(&e).unwrap(), format!("\"{}\"", e.as_str()));
        }
        for s in [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Failed] {
            assert_eq!(DeliveryState::parse(s.as_str()), Some(s));
        }
    }
}
