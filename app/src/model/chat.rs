//! Chat between the people of the contact center: one to one, and a room per campaign.
//!
//! Invariants:
//! - a message's text is a [`ChatText`]: trimmed, 1–[`ChatText::MAX_LEN`] characters, no
//!   control characters but line breaks; pages show it as text, never as markup;
//! - who may write to whom is [`may_write`], who is in a campaign's room [`in_room`]: pure
//!   rules over [`Member`]s, so the server and its tests read the same rule;
//! - only supervisors and admins broadcast into a room ([`may_broadcast`]); agents talk in
//!   their own campaigns' rooms;
//! - a conversation is named the same way by both sides of it ([`Conversation`]): a room by
//!   its campaign, a one-to-one conversation by the other person.

use serde::{Deserialize, Serialize};

use super::ids::CampaignId;
use super::user::{Role, UserId};

/// The text of a chat message: trimmed, 1–2,000 characters, no control characters but line
/// breaks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChatText(String);
telephony::checked_text!(ChatText);

impl ChatText {
    pub const MAX_LEN: usize = 2000;

    pub fn parse(raw: &str) -> Result<ChatText, String> {
        super::notice::message_text(raw, Self::MAX_LEN).map(ChatText)
    }
}

/// A conversation as its reader names it: with one person, or a campaign's room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conversation {
    Direct(UserId),
    Room(CampaignId),
}

impl Conversation {
    /// The form pages and server functions pass it in: `user:7`, `room:3`.
    pub fn key(self) -> String {
        match self {
            Conversation::Direct(u) => format!("user:{}", u.0),
            Conversation::Room(c) => format!("room:{}", c.0),
        }
    }

    pub fn parse(key: &str) -> Result<Conversation, String> {
        let bad = || "That conversation does not exist.".to_string();
        let (kind, id) = key.split_once(':').ok_or_else(bad)?;
        let id: i64 = id.parse().map_err(|_| bad())?;
        match kind {
            "user" => Ok(Conversation::Direct(UserId(id))),
            "room" => Ok(Conversation::Room(CampaignId(id))),
            _ => Err(bad()),
        }
    }
}

/// One message as a reader sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: i64,
    /// When it was sent, Unix milliseconds.
    pub at: i64,
    pub from: UserId,
    /// The sender's name as colleagues see it.
    pub author: String,
    /// The campaign's room it was written in; `None` for a one-to-one message.
    pub room: Option<CampaignId>,
    /// Whom a one-to-one message is for; `None` in a room.
    pub to: Option<UserId>,
    pub text: String,
    /// A supervisor's (or admin's) broadcast to the room: shown so that it stands out.
    pub broadcast: bool,
}

impl ChatMessage {
    /// The conversation this message is in, for `reader`.
    pub fn conversation(&self, reader: UserId) -> Conversation {
        match (self.room, self.to) {
            (Some(room), _) => Conversation::Room(room),
            (None, Some(to)) if self.from == reader => Conversation::Direct(to),
            _ => Conversation::Direct(self.from),
        }
    }
}

/// Someone the reader can chat with, or a room they are in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatContact {
    pub conversation: Conversation,
    /// The person's name (with their role), or the room's ("Sales room").
    pub name: String,
    /// Messages to the reader they have not read yet.
    pub unread: u32,
    /// Whether the reader may broadcast here (a room, for supervisors and admins).
    pub can_broadcast: bool,
}

/// The reader's rooms and people, rooms first, then those with unread messages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatOverview {
    pub me: Option<UserId>,
    pub contacts: Vec<ChatContact>,
}

impl ChatOverview {
    /// Unread messages in all.
    pub fn unread(&self) -> u32 {
        self.contacts.iter().map(|c| c.unread).sum()
    }
}

/// A page of a conversation's history, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatPage {
    pub messages: Vec<ChatMessage>,
    /// Whether there are older messages (load them with the first one's id as `before`).
    pub earlier: bool,
}

impl ChatPage {
    /// How many messages a page holds.
    pub const SIZE: u32 = 50;
}

/// What the rules need to know of a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: UserId,
    pub role: Role,
    /// The campaigns they are assigned to (agents and supervisors).
    pub campaigns: Vec<CampaignId>,
}

impl Member {
    fn shares_a_campaign(&self, other: &Member) -> bool {
        self.campaigns.iter().any(|c| other.campaigns.contains(c))
    }
}

/// Whether `from` may write to `to` one to one. Supervisors and admins may write to anyone;
/// an agent to the admins, and to the agents and supervisors of their own campaigns — and
/// back to anyone who wrote to them first (`wrote_to_them`: `to` has written to `from`), so a
/// supervisor of another floor who asks something gets an answer.
pub fn may_write(from: &Member, to: &Member, wrote_to_them: bool) -> bool {
    if from.id == to.id {
        return false;
    }
    match from.role {
        Role::Admin | Role::Supervisor => true,
        Role::Agent => to.role == Role::Admin || from.shares_a_campaign(to) || wrote_to_them,
    }
}

/// Whether `who` is in `campaign`'s room: its agents and assigned supervisors, and admins.
pub fn in_room(who: &Member, campaign: CampaignId) -> bool {
    who.role == Role::Admin || who.campaigns.contains(&campaign)
}

/// Whether `who` may broadcast into `campaign`'s room: its supervisors, and admins.
pub fn may_broadcast(who: &Member, campaign: CampaignId) -> bool {
    who.role != Role::Agent && in_room(who, campaign)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: i64, role: Role, campaigns: &[i64]) -> Member {
        Member {
            id: UserId(id),
            role,
            campaigns: campaigns.iter().map(|c| CampaignId(*c)).collect(),
        }
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(ChatText::parse("  hi there \n").unwrap().as_str(), "hi there");
        assert_eq!(ChatText::parse("a\r\nb").unwrap().as_str(), "a\nb");
        assert_eq!(ChatText::parse(&"x".repeat(2000)).unwrap().as_str().len(), 2000);
        // Characters, not bytes.
        assert!(ChatText::parse(&"é".repeat(2000)).is_ok());
        let long = ChatText::parse(&"x".repeat(2001)).unwrap_err();
        assert!(long.contains("at most 2000"), "{long}");
        assert_eq!(ChatText::parse("").unwrap_err(), "Enter a message.");
        assert_eq!(ChatText::parse(" \n\t ").unwrap_err(), "Enter a message.");
        assert!(ChatText::parse("a\tb").unwrap_err().contains("control characters"));
        assert!(ChatText::parse("a\u{7}b").unwrap_err().contains("control characters"));
        assert!(ChatText::parse("a\u{0}b").is_err());
        // Markup is text like any other: pages show it as it was typed.
        assert_eq!(ChatText::parse("<b>x</b>").unwrap().as_str(), "<b>x</b>");
    }

    #[test]
    fn text_read_back_is_checked_again() {
        let t: ChatText = serde_json::from_str(r#""hello""#).unwrap();
        assert_eq!(t.as_str(), "hello");
        assert!(serde_json::from_str::<ChatText>(r#""""#).is_err());
    }

    #[test]
    fn conversations_have_one_name_each() {
        for c in [Conversation::Direct(UserId(7)), Conversation::Room(CampaignId(3))] {
            assert_eq!(Conversation::parse(&c.key()).unwrap(), c);
        }
        assert_eq!(Conversation::parse("room:3").unwrap(), Conversation::Room(CampaignId(3)));
        for bad in ["", "room", "room:x", "team:3", "user:"] {
            assert!(Conversation::parse(bad).is_err(), "{bad}");
        }
        let m = ChatMessage {
            id: 1,
            at: 0,
            from: UserId(1),
            author: "Ann".into(),
            room: None,
            to: Some(UserId(2)),
            text: "hi".into(),
            broadcast: false,
        };
        assert_eq!(m.conversation(UserId(1)), Conversation::Direct(UserId(2)));
        assert_eq!(m.conversation(UserId(2)), Conversation::Direct(UserId(1)));
        let r = ChatMessage { room: Some(CampaignId(4)), to: None, ..m };
        assert_eq!(r.conversation(UserId(9)), Conversation::Room(CampaignId(4)));
    }

    #[test]
    fn agents_reach_their_floor_and_the_admins() {
        let ann = member(1, Role::Agent, &[10]);
        let bob = member(2, Role::Agent, &[10, 11]);
        let cy = member(3, Role::Agent, &[11]);
        let sue = member(4, Role::Supervisor, &[10]);
        let sam = member(5, Role::Supervisor, &[11]);
        let ada = member(6, Role::Admin, &[]);
        assert!(may_write(&ann, &bob, false), "a colleague of the same campaign");
        assert!(!may_write(&ann, &cy, false), "an agent of another campaign");
        assert!(may_write(&ann, &sue, false), "their campaign's supervisor");
        assert!(!may_write(&ann, &sam, false), "another campaign's supervisor");
        assert!(may_write(&ann, &sam, true), "…who wrote to them first");
        assert!(may_write(&ann, &ada, false), "an admin");
        assert!(may_write(&sam, &ann, false), "supervisors reach everyone");
        assert!(may_write(&ada, &cy, false), "admins reach everyone");
        assert!(may_write(&sue, &sam, false));
        assert!(!may_write(&ann, &ann, true), "nobody writes to themself");
    }

    #[test]
    fn rooms_are_their_campaigns_people_and_admins() {
        let ann = member(1, Role::Agent, &[10]);
        let sue = member(4, Role::Supervisor, &[10]);
        let sam = member(5, Role::Supervisor, &[11]);
        let ada = member(6, Role::Admin, &[]);
        let (ten, eleven) = (CampaignId(10), CampaignId(11));
        assert!(in_room(&ann, ten));
        assert!(!in_room(&ann, eleven));
        assert!(in_room(&sue, ten) && !in_room(&sue, eleven));
        assert!(in_room(&ada, eleven));
        assert!(!may_broadcast(&ann, ten), "agents talk, they do not broadcast");
        assert!(may_broadcast(&sue, ten));
        assert!(!may_broadcast(&sam, ten), "not their campaign");
        assert!(may_broadcast(&ada, ten));
    }
}
