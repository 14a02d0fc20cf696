//! Inbound queues: the numbers customers call (DIDs), and the campaigns whose agents take
//! those calls, as an admin sets them up.
//!
//! A call to one of a queue's numbers waits in the queue, hearing its music, until the
//! longest-waiting ready agent of any of its campaigns is free; a caller nobody takes within
//! the longest wait hears the closed message (when there is one) and the call ends, as it does
//! at once when nobody of the queue's campaigns is logged in.
//!
//! Invariants of [`QueueSettings`]: a [`Name`]; 1 to [`QueueSettings::MAX_NUMBERS`] numbers,
//! each E.164 and each once; 1 to [`QueueSettings::MAX_CAMPAIGNS`] campaigns, each once, in
//! the order the admin chose (the first owns a call nobody has taken yet); a longest wait of
//! [`QueueSettings::MIN_WAIT`] to [`QueueSettings::MAX_WAIT`] seconds; sound files are `.wav`
//! paths. That no number belongs to two queues is the database's to keep (it is unique there).

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
        Ok(QueueSettings {
            name,
            numbers,
            campaigns,
            max_wait_seconds,
            music_file: super::campaign::wav_file("music_file", &self.music_file)?,
            closed_file: super::campaign::wav_file("closed_file", &self.closed_file)?,
        })
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
        assert_eq!(s.to_form().parse().unwrap(), s);
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
