//! The keypad of a broadcast campaign: what a customer's key press does while (or just after)
//! the message plays — "press 1 to speak to an agent", "press 9 to be taken off our list",
//! "press 2 to hear this again" — and what became of a press, as the call's attempt records it.
//!
//! Invariants: a [`KeyMap`] gives each key at most one action, and only keys a phone's keypad
//! sends as RFC 4733 events it can carry (`0`–`9`, `*`, `#`); it is written and read back as
//! the same text (`1=agent, 2=repeat, 9=dnc`).

use serde::{Deserialize, Serialize};

/// What a key does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyAction {
    /// The message stops and the customer goes to a ready agent of the linked campaign.
    Agent,
    /// The number goes on the do-not-call list; a confirmation plays if there is one, then
    /// the call ends.
    Dnc,
    /// The message plays again from the start.
    Repeat,
}

impl KeyAction {
    pub const ALL: [KeyAction; 3] = [KeyAction::Agent, KeyAction::Dnc, KeyAction::Repeat];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyAction::Agent => "agent",
            KeyAction::Dnc => "dnc",
            KeyAction::Repeat => "repeat",
        }
    }

    pub fn parse(s: &str) -> Result<KeyAction, String> {
        let s = s.trim().to_ascii_lowercase();
        KeyAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a key action: use agent, dnc or repeat."))
    }
}

/// A broadcast campaign's keys and their actions (empty: key presses are ignored, and the
/// call ends when the message has played).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyMap(Vec<(char, KeyAction)>);

impl KeyMap {
    /// Parses `1=agent, 2=repeat, 9=dnc` (commas or spaces between pairs; empty: no keys).
    pub fn parse(s: &str) -> Result<KeyMap, String> {
        let mut keys: Vec<(char, KeyAction)> = Vec::new();
        for pair in s.split([',', ' ', ';', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, action)) = pair.split_once('=') else {
                return Err(format!(
                    "{pair:?} is not a key and its action: write it as 1=agent (a key, =, then agent, dnc or repeat)."
                ));
            };
            let mut chars = key.trim().chars();
            let (Some(key), None) = (chars.next(), chars.next()) else {
                return Err(format!("{:?} is not one key: use 0-9, * or #.", key.trim()));
            };
            if !(key.is_ascii_digit() || key == '*' || key == '#') {
                return Err(format!("{key:?} is not a keypad key: use 0-9, * or #."));
            }
            let action = KeyAction::parse(action)?;
            if let Some((_, first)) = keys.iter().find(|(k, _)| *k == key) {
                return Err(format!(
                    "Key {key} has two actions ({} and {}): give each key one.",
                    first.as_str(),
                    action.as_str()
                ));
            }
            keys.push((key, action));
        }
        keys.sort_by_key(|(k, _)| *k);
        Ok(KeyMap(keys))
    }

    /// What `key` does, if anything.
    pub fn action(&self, key: char) -> Option<KeyAction> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, a)| *a)
    }

    /// Whether some key has `action`.
    pub fn has(&self, action: KeyAction) -> bool {
        self.0.iter().any(|(_, a)| *a == action)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text [`KeyMap::parse`] reads back.
    pub fn to_text(&self) -> String {
        let pairs: Vec<String> =
            self.0.iter().map(|(k, a)| format!("{k}={}", a.as_str())).collect();
        pairs.join(", ")
    }
}

/// What became of a key press on a broadcast call, as its attempt records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyOutcome {
    /// Pressed 1; waiting for an agent of the linked campaign.
    Waiting,
    /// Pressed 1 and talked to an agent.
    Connected,
    /// Pressed 1 and no agent took the call within the safe-harbor wait (or the customer hung
    /// up waiting): abandoned, in the linked campaign's count.
    Abandoned,
    /// Pressed 1 while nobody of the linked campaign was logged in.
    NoAgent,
    /// Pressed 9: the number is on the do-not-call list.
    Dnc,
}

impl KeyOutcome {
    pub const ALL: [KeyOutcome; 5] = [
        KeyOutcome::Waiting,
        KeyOutcome::Connected,
        KeyOutcome::Abandoned,
        KeyOutcome::NoAgent,
        KeyOutcome::Dnc,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyOutcome::Waiting => "waiting",
            KeyOutcome::Connected => "connected",
            KeyOutcome::Abandoned => "abandoned",
            KeyOutcome::NoAgent => "no_agent",
            KeyOutcome::Dnc => "dnc",
        }
    }

    pub fn parse(s: &str) -> Result<KeyOutcome, String> {
        KeyOutcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a key outcome"))
    }

    /// For people to read (the calls report).
    pub fn label(self) -> &'static str {
        match self {
            KeyOutcome::Waiting => "pressed 1, waiting",
            KeyOutcome::Connected => "pressed 1, connected",
            KeyOutcome::Abandoned => "pressed 1, abandoned",
            KeyOutcome::NoAgent => "pressed 1, nobody logged in",
            KeyOutcome::Dnc => "pressed DNC key",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_map_reads_back_as_written() {
        let m = KeyMap::parse("9=dnc, 1=agent 2=Repeat").unwrap();
        assert_eq!(m.action('1'), Some(KeyAction::Agent));
        assert_eq!(m.action('9'), Some(KeyAction::Dnc));
        assert_eq!(m.action('2'), Some(KeyAction::Repeat));
        assert_eq!(m.action('5'), None);
        assert_eq!(m.to_text(), "1=agent, 2=repeat, 9=dnc");
        assert_eq!(KeyMap::parse(&m.to_text()).unwrap(), m);
        assert!(KeyMap::parse("  ").unwrap().is_empty());
        assert_eq!(KeyMap::parse("*=repeat,#=dnc").unwrap().action('#'), Some(KeyAction::Dnc));
    }

    #[test]
    fn bad_key_maps_say_what_is_wrong() {
        for (bad, says) in [
            ("1=agent, 1=dnc", "two actions"),
            ("A=agent", "not a keypad key"),
            ("12=agent", "not one key"),
            ("1=transfer", "not a key action"),
            ("1", "not a key and its action"),
            ("=dnc", "not one key"),
        ] {
            let e = KeyMap::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn outcomes_read_back() {
        for o in KeyOutcome::ALL {
            assert_eq!(KeyOutcome::parse(o.as_str()), Ok(o));
        }
        assert!(KeyOutcome::parse("maybe").is_err());
    }
}
