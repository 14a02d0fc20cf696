//! Inbound queues: the numbers customers call (DIDs), and the campaigns whose agents take
//! those calls, as an admin sets them up.
//!
//! A call to one of a queue's numbers waits in the queue, hearing its music (and, when the
//! queue has position prompts, its place in line every [`ANNOUNCE_EVERY_SECONDS`] seconds),
//! until the longest-ready agent of any of its campaigns is free. A caller nobody takes —
//! nobody of the queue's campaigns is logged in, or the longest wait is over — goes where the
//! queue's [`Overflow`] says: the closed message and the end, a voicemail, or another queue.
//!
//! Invariants of [`QueueSettings`]: a [`Name`]; 1 to [`QueueSettings::MAX_NUMBERS`] numbers,
//! each E.164 and each once; 1 to [`QueueSettings::MAX_CAMPAIGNS`] campaigns, each once, in
//! the order the admin chose (the first owns a call nobody has taken yet); a longest wait of
//! [`QueueSettings::MIN_WAIT`] to [`QueueSettings::MAX_WAIT`] seconds; sound files are `.wav`
//! paths; a voicemail overflow has its greeting. That no number belongs to two queues, and
//! that a queue overflows to another queue that exists, are the database's to keep.

use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::ids::{CampaignId, QueueId};
use super::text::{Name, PhoneNumber};

/// A queue's settings, checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSettings {
    pub name: Name,
    /// The numbers customers call, E.164.
    pub numbers: Vec<PhoneNumber>,
    /// The campaigns whose agents take its calls, first one first.
    pub campaigns: Vec<CampaignId>,
    /// How long a caller waits for an agent before the call ends (seconds).
    pub max_wait_seconds: u32,
    /// Waiting music (a `.wav` on the server); none: a gentle hold tone.
    pub music_file: Option<String>,
    /// Played to a caller nobody can take (nobody logged in, or the longest wait is over),
    /// before the call ends; none: the call just ends.
    pub closed_file: Option<String>,
    /// Where a caller nobody can take goes.
    pub overflow: Overflow,
    /// Played before a voicemail is recorded ("… leave a message after the tone", the tone
    /// included).
    pub voicemail_greeting: Option<String>,
    /// A folder of `position-1.wav` … `position-9.wav` and `position-more.wav` telling a
    /// caller their place in line; none: no announcements.
    pub position_prompts: Option<String>,
}

/// How often a waiting caller hears their place in line.
pub const ANNOUNCE_EVERY_SECONDS: u64 = 30;

/// How many times a caller may overflow to another queue; then the last queue's closed
/// message plays (a ring of queues overflowing to each other ends).
pub const MAX_OVERFLOWS: u8 = 3;

/// The places in line with a prompt of their own; further back is `position-more.wav`.
pub const ANNOUNCED_POSITIONS: usize = 9;

/// The prompt telling a caller they are `position` (1: next) in line, in `folder`.
pub fn position_prompt(folder: &str, position: usize) -> String {
    let folder = folder.trim_end_matches('/');
    match position {
        1..=ANNOUNCED_POSITIONS => format!("{folder}/position-{position}.wav"),
        _ => format!("{folder}/position-more.wav"),
    }
}

/// Where a caller nobody can take goes: nobody of the queue's campaigns is logged in when
/// they call, or nobody took them within the longest wait.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Overflow {
    /// The closed message, when there is one; then the call ends.
    #[default]
    Close,
    /// The caller leaves a message after the greeting; the agents of the queue's campaigns
    /// find it under Voicemails.
    Voicemail,
    /// The caller moves to another queue and waits there.
    Queue(QueueId),
}

impl Overflow {
    /// The form's word for it (`queue` needs the queue chosen besides).
    pub fn kind(self) -> &'static str {
        match self {
            Overflow::Close => "close",
            Overflow::Voicemail => "voicemail",
            Overflow::Queue(_) => "queue",
        }
    }

    /// The queue it moves callers to, if any.
    pub fn queue(self) -> Option<QueueId> {
        match self {
            Overflow::Queue(q) => Some(q),
            _ => None,
        }
    }
}

/// A caller waiting in a queue right now, longest waiting first where listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingCaller {
    /// The caller's call: what an agent on a call asks for to take them on a new line.
    pub call: u64,
    pub queue: QueueId,
    /// The queue's name (as it was when the caller called).
    pub queue_name: Name,
    /// The campaigns whose agents take the queue's calls.
    pub campaigns: Vec<CampaignId>,
    pub phone: PhoneNumber,
    /// The caller's lead's name (empty: a lead made for the call).
    pub lead_name: String,
    /// Waiting since (Unix ms): in this queue, or in the one they overflowed from.
    pub since: i64,
}

/// A stored queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    pub id: QueueId,
    pub settings: QueueSettings,
}

/// The queue form as typed: numbers one per line, campaign ids chosen in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueForm {
    pub name: String,
    pub numbers: String,
    pub campaigns: Vec<i64>,
    pub max_wait_seconds: String,
    pub music_file: String,
    pub closed_file: String,
    /// `close`, `voicemail` or `queue`.
    pub overflow: String,
    /// The queue for `overflow` = `queue`.
    pub overflow_queue: i64,
    pub voicemail_greeting: String,
    pub position_prompts: String,
}

impl QueueSettings {
    pub const MAX_NUMBERS: usize = 50;
    pub const MAX_CAMPAIGNS: usize = 20;
    pub const MIN_WAIT: u32 = 10;
    pub const MAX_WAIT: u32 = 3600;

    /// The form's text as it would be typed again (numbers one per line).
    pub fn to_form(&self) -> QueueForm {
        QueueForm {
            name: self.name.to_string(),
            numbers: self.numbers.iter().map(|n| format!("{n}\n")).collect(),
            campaigns: self.campaigns.iter().map(|c| c.0).collect(),
            max_wait_seconds: self.max_wait_seconds.to_string(),
            music_file: self.music_file.clone().unwrap_or_default(),
            closed_file: self.closed_file.clone().unwrap_or_default(),
            overflow: self.overflow.kind().to_string(),
            overflow_queue: self.overflow.queue().map_or(0, |q| q.0),
            voicemail_greeting: self.voicemail_greeting.clone().unwrap_or_default(),
            position_prompts: self.position_prompts.clone().unwrap_or_default(),
        }
    }
}

impl QueueForm {
    /// Checks every field; the first bad one is refused, named, with why.
    pub fn parse(&self) -> Result<QueueSettings, ApiError> {
        let name = Name::parse(&self.name).map_err(|m| ApiError::invalid("name", m))?;
        let numbers = parse_numbers(&self.numbers).map_err(|m| ApiError::invalid("numbers", m))?;
        let mut campaigns: Vec<CampaignId> = Vec::new();
        for &c in &self.campaigns {
            if c <= 0 {
                return Err(ApiError::invalid("campaigns", "Choose campaigns from the list."));
            }
            if campaigns.contains(&CampaignId(c)) {
                return Err(ApiError::invalid("campaigns", "A campaign is chosen twice."));
            }
            campaigns.push(CampaignId(c));
        }
        if campaigns.is_empty() {
            return Err(ApiError::invalid(
                "campaigns",
                "Choose at least one campaign whose agents take these calls.",
            ));
        }
        if campaigns.len() > QueueSettings::MAX_CAMPAIGNS {
            let m = format!("At most {} campaigns.", QueueSettings::MAX_CAMPAIGNS);
            return Err(ApiError::invalid("campaigns", m));
        }
        let wait = self.max_wait_seconds.trim();
        let max_wait_seconds = wait
            .parse::<u32>()
            .ok()
            .filter(|w| (QueueSettings::MIN_WAIT..=QueueSettings::MAX_WAIT).contains(w))
            .ok_or_else(|| {
                ApiError::invalid(
                    "max_wait_seconds",
                    format!(
                        "The longest wait is {} to {} seconds.",
                        QueueSettings::MIN_WAIT,
                        QueueSettings::MAX_WAIT
                    ),
                )
            })?;
        let voicemail_greeting =
            super::campaign::wav_file("voicemail_greeting", &self.voicemail_greeting)?;
        let overflow = match self.overflow.trim() {
            "" | "close" => Overflow::Close,
            "voicemail" if voicemail_greeting.is_none() => {
                return Err(ApiError::invalid(
                    "voicemail_greeting",
                    "A voicemail needs its greeting: a .wav asking for a message after the tone.",
                ));
            }
            "voicemail" => Overflow::Voicemail,
            "queue" if self.overflow_queue > 0 => Overflow::Queue(QueueId(self.overflow_queue)),
            "queue" => {
                return Err(ApiError::invalid(
                    "overflow_queue",
                    "Choose the queue callers move to.",
                ));
            }
            other => {
                let m = format!("{other:?} is not a choice here: close, voicemail or queue.");
                return Err(ApiError::invalid("overflow", m));
            }
        };
        Ok(QueueSettings {
            name,
            numbers,
            campaigns,
            max_wait_seconds,
            music_file: super::campaign::wav_file("music_file", &self.music_file)?,
            closed_file: super::campaign::wav_file("closed_file", &self.closed_file)?,
            overflow,
            voicemail_greeting,
            position_prompts: prompts_folder(&self.position_prompts)?,
        })
    }
}

/// A folder of position prompts as typed: a path of at most 255 characters, no control
/// characters; empty: none.
fn prompts_folder(raw: &str) -> Result<Option<String>, ApiError> {
    match raw.trim() {
        "" => Ok(None),
        f if f.chars().count() > 255 || f.chars().any(char::is_control) => Err(ApiError::invalid(
            "position_prompts",
            "The folder is a path of at most 255 characters.",
        )),
        f => Ok(Some(f.to_string())),
    }
}

/// Reads the numbers, one per line (blank lines skipped; the spaces, dashes, dots and
/// parentheses people type are dropped). The first bad line is refused with its number.
fn parse_numbers(text: &str) -> Result<Vec<PhoneNumber>, String> {
    let mut out: Vec<PhoneNumber> = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let typed: String =
            line.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
        let phone = PhoneNumber::parse(&typed).map_err(|_| {
            format!(
                "Line {}: a number is + and the country code with the number (e.g. +1 202 555 0150).",
                i + 1
            )
        })?;
        if out.contains(&phone) {
            return Err(format!("Line {}: {phone} is there twice.", i + 1));
        }
        out.push(phone);
        if out.len() > QueueSettings::MAX_NUMBERS {
            return Err(format!("At most {} numbers.", QueueSettings::MAX_NUMBERS));
        }
    }
    if out.is_empty() {
        return Err("Enter the numbers customers call, one per line.".into());
    }
    Ok(out)
}

/// Whether a called number as the carrier sent it (`to`: digits, with or without `+` and the
/// country code) is `number`: the same digits, or `number`'s national part (at least six
/// digits) when the carrier leaves the country code out.
pub fn dialled(number: &PhoneNumber, to: &str) -> bool {
    let to: String = to.chars().filter(char::is_ascii_digit).collect();
    let ours: String = number.as_str().chars().filter(char::is_ascii_digit).collect();
    !to.is_empty() && (ours == to || (to.len() >= 6 && ours.ends_with(&to)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> QueueForm {
        QueueForm {
            name: "Support".into(),
            numbers: "+1 (202) 555-0150\n\n+442079460123\n".into(),
            campaigns: vec![3, 1],
            max_wait_seconds: "120".into(),
            music_file: "/srv/music.wav".into(),
            closed_file: String::new(),
            overflow: "queue".into(),
            overflow_queue: 7,
            voicemail_greeting: String::new(),
            position_prompts: "/srv/prompts/".into(),
        }
    }

    #[test]
    fn a_form_becomes_settings_and_back() {
        let s = form().parse().unwrap();
        assert_eq!(s.name.as_str(), "Support");
        assert_eq!(
            s.numbers.iter().map(PhoneNumber::as_str).collect::<Vec<_>>(),
            ["+12025550150", "+442079460123"]
        );
        assert_eq!(s.campaigns, [CampaignId(3), CampaignId(1)], "in the admin's order");
        assert_eq!((s.max_wait_seconds, s.music_file.as_deref()), (120, Some("/srv/music.wav")));
        assert_eq!(s.closed_file, None);
        assert_eq!(s.overflow, Overflow::Queue(QueueId(7)));
        assert_eq!(s.to_form().parse().unwrap(), s);
        let mut v = form();
        (v.overflow, v.voicemail_greeting) = ("voicemail".into(), "/srv/vm.wav".into());
        let v = v.parse().unwrap();
        assert_eq!(
            (v.overflow, v.voicemail_greeting.as_deref()),
            (Overflow::Voicemail, Some("/srv/vm.wav"))
        );
        assert_eq!(v.to_form().parse().unwrap(), v);
    }

    #[test]
    fn position_prompts_are_named_by_place() {
        assert_eq!(position_prompt("/srv/prompts/", 1), "/srv/prompts/position-1.wav");
        assert_eq!(position_prompt("/srv/prompts", 9), "/srv/prompts/position-9.wav");
        assert_eq!(position_prompt("/srv/prompts", 10), "/srv/prompts/position-more.wav");
    }

    #[test]
    fn each_bad_field_is_named() {
        let bad = |f: fn(&mut QueueForm), field: &str| {
            let mut q = form();
            f(&mut q);
            match q.parse() {
                Err(e) if e.field() == Some(field) => {}
                other => panic!("{field}: {other:?}"),
            }
        };
        bad(|q| q.name = " ".into(), "name");
        bad(|q| q.numbers = String::new(), "numbers");
        bad(|q| q.numbers = "2025550150".into(), "numbers");
        bad(|q| q.numbers = "+12025550150\n+1 202 555 0150".into(), "numbers");
        bad(|q| q.numbers = "call us".into(), "numbers");
        bad(|q| q.campaigns = vec![], "campaigns");
        bad(|q| q.campaigns = vec![1, 1], "campaigns");
        bad(|q| q.campaigns = vec![0], "campaigns");
        bad(|q| q.max_wait_seconds = "5".into(), "max_wait_seconds");
        bad(|q| q.max_wait_seconds = "3601".into(), "max_wait_seconds");
        bad(|q| q.max_wait_seconds = "-1".into(), "max_wait_seconds");
        bad(|q| q.max_wait_seconds = "soon".into(), "max_wait_seconds");
        bad(|q| q.music_file = "/srv/music.mp3".into(), "music_file");
        bad(|q| q.closed_file = "x\u{1}.wav".into(), "closed_file");
        bad(|q| q.overflow = "pray".into(), "overflow");
        bad(|q| q.overflow_queue = 0, "overflow_queue");
        bad(|q| q.overflow = "voicemail".into(), "voicemail_greeting");
        bad(
            |q| (q.overflow, q.voicemail_greeting) = ("voicemail".into(), "vm.mp3".into()),
            "voicemail_greeting",
        );
        bad(|q| q.position_prompts = "a\u{7}b".into(), "position_prompts");
    }

    #[test]
    fn a_called_number_matches_with_or_without_its_country_code() {
        let n = PhoneNumber::parse("+12025550150").unwrap();
        for to in ["+12025550150", "12025550150", "2025550150"] {
            assert!(dialled(&n, to), "{to}");
        }
        for to in ["", "0150", "+12025550151", "442025550150", "x"] {
            assert!(!dialled(&n, to), "{to}");
        }
    }
}
