//! Notices on the agent phone and the broadcasts behind the system messages.
//!
//! A [`Notice`] is one line in the phone's notice area: a hint about the work at hand, a
//! system message (an admin's or supervisor's [`Broadcast`]), a campaign alert (turned off,
//! nothing to dial, outside calling hours, trunk unreachable) or an error.
//!
//! Invariants: a broadcast's text is a [`BroadcastText`] (trimmed, 1–500 characters, no
//! control characters but line breaks); a broadcast goes to every logged-in agent or to the
//! agents of one campaign; only a broadcast's notice has an id (dismissing it is remembered),
//! every other notice is of the moment (id 0).

use serde::{Deserialize, Serialize};

use super::ids::CampaignId;
use super::text::Name;

/// What a notice is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A hint about the work at hand ("The customer hung up.").
    Info,
    /// A message from an admin or a supervisor.
    System,
    /// Something about the agent's campaign that stops or slows their calls.
    Campaign,
    /// A request could not be done.
    Error,
}

impl NoticeKind {
    /// The word a screen reader and the page show before the text.
    pub fn label(self) -> &'static str {
        match self {
            NoticeKind::Info => "Note",
            NoticeKind::System => "Message",
            NoticeKind::Campaign => "Campaign",
            NoticeKind::Error => "Error",
        }
    }
}

/// One notice for the phone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The broadcast's id for a system message (its dismissal is remembered by the server);
    /// 0 for every other notice.
    pub id: i64,
    pub kind: NoticeKind,
    pub text: String,
    /// When it happened, Unix milliseconds.
    pub at: i64,
}

/// A broadcast's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BroadcastId(pub i64);

/// The text of a broadcast: trimmed, 1–500 characters, no control characters but line breaks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BroadcastText(String);
telephony::checked_text!(BroadcastText);

impl BroadcastText {
    pub const MAX_LEN: usize = 500;

    pub fn parse(raw: &str) -> Result<BroadcastText, String> {
        message_text(raw, Self::MAX_LEN).map(BroadcastText)
    }
}

/// A message people write to people (a broadcast, a chat message): trimmed, 1–`max`
/// characters, no control characters but line breaks (CR LF read as LF).
pub(crate) fn message_text(raw: &str, max: usize) -> Result<String, String> {
    // (A browser's form sends line breaks as CR LF.)
    let s = raw.trim().replace("\r\n", "\n");
    if s.is_empty() {
        return Err("Enter a message.".into());
    }
    if s.chars().count() > max {
        return Err(format!("A message has at most {max} characters."));
    }
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return Err("A message cannot contain control characters (tabs…).".into());
    }
    Ok(s)
}

/// A message sent to agents, as the admin portal lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broadcast {
    pub id: BroadcastId,
    /// When it was sent, Unix milliseconds.
    pub at: i64,
    /// Who sent it (their username).
    pub author: String,
    /// The campaign whose agents it is for; `None`: every logged-in agent.
    pub campaign: Option<(CampaignId, Name)>,
    pub text: BroadcastText,
}

impl Broadcast {
    /// How long after it was sent an agent who logs in still sees it.
    pub const SHOWN_FOR_MS: i64 = 60 * 60 * 1000;

    /// The notice agents see.
    pub fn notice(&self) -> Notice {
        Notice {
            id: self.id.0,
            kind: NoticeKind::System,
            text: format!("From {}: {}", self.author, self.text),
            at: self.at,
        }
    }
}

/// The admin portal's page of messages to agents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastPage {
    /// The campaigns a message can be for, by name.
    pub campaigns: Vec<(CampaignId, Name)>,
    /// The latest messages, newest first.
    pub recent: Vec<Broadcast>,
}

impl BroadcastPage {
    /// How many of the latest messages the page lists.
    pub const RECENT: i64 = 50;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_texts() {
        assert_eq!(
            BroadcastText::parse("  Team meeting at 3  ").unwrap().as_str(),
            "Team meeting at 3"
        );
        assert_eq!(BroadcastText::parse("a\r\nb").unwrap().as_str(), "a\nb");
        assert_eq!(BroadcastText::parse(" \n ").unwrap_err(), "Enter a message.");
        assert!(BroadcastText::parse(&"x".repeat(500)).is_ok());
        assert_eq!(
            BroadcastText::parse(&"x".repeat(501)).unwrap_err(),
            "A message has at most 500 characters."
        );
        assert!(BroadcastText::parse("a\tb").is_err());
        assert!(BroadcastText::parse("a\u{1b}[31m").is_err());
    }

    #[test]
    fn wire_format() {
        let n = Notice { id: 0, kind: NoticeKind::Campaign, text: "Off".into(), at: 5 };
        assert_eq!(
            serde_json::to_string(&n).unwrap(),
            r#"{"id":0,"kind":"campaign","text":"Off","at":5}"#
        );
    }
}
