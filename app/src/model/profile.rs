//! My Profile: what a user chooses about themself — the name colleagues see, the interface
//! theme, and the phone's audio devices.
//!
//! Invariants: a [`DisplayName`] is trimmed, 1–60 characters, without control characters (it
//! is shown in other people's transfer lists and on the supervisors' floor, so a line break or
//! a bidi control could not disguise it as someone else's row); a [`Theme`] is one of the
//! three the style sheet defines; a [`DeviceId`] is 1–256 characters without control
//! characters, kept exactly as the browser gave it (browsers compare ids byte for byte). A
//! profile belongs to one user: nothing here names another.

use serde::{Deserialize, Serialize};

/// The name shown to colleagues instead of the login name: see the module invariants.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DisplayName(String);
telephony::checked_text!(DisplayName);

impl DisplayName {
    /// Longest accepted display name, in characters.
    pub const MAX_LEN: usize = 60;

    /// Trims and checks a name typed by a person.
    pub fn parse(raw: &str) -> Result<DisplayName, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter the name your colleagues see.".into());
        }
        if s.chars().count() > Self::MAX_LEN {
            return Err(format!("A display name has at most {} characters.", Self::MAX_LEN));
        }
        if s.chars().any(is_disguising) {
            return Err(
                "A display name cannot contain control characters (tabs, line breaks…).".into()
            );
        }
        Ok(DisplayName(s.to_string()))
    }
}

/// Control characters, and the invisible formatting ones that reorder or hide text (bidi
/// overrides, zero-width joiners): a name with them can read as another person's.
fn is_disguising(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The interface's colours, remembered per user and applied by the server-rendered page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Theme {
    /// Dark text on light backgrounds (the default).
    #[default]
    Light,
    /// Light text on dark backgrounds.
    Dark,
    /// White and yellow on black, every text at 7:1 or more (WCAG AAA).
    HighContrast,
}

impl Theme {
    /// Every theme, in the order the profile page offers them.
    pub const ALL: [Theme; 3] = [Theme::Light, Theme::Dark, Theme::HighContrast];

    /// The stable name stored in the database, sent by forms and set as the page's
    /// `data-theme` attribute (the style sheet's selectors use it).
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
            Theme::HighContrast => "high-contrast",
        }
    }

    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Theme::Light => "Light",
            Theme::Dark => "Dark",
            Theme::HighContrast => "High contrast",
        }
    }

    /// Parses the stored/form name.
    pub fn parse(s: &str) -> Result<Theme, String> {
        Theme::ALL
            .into_iter()
            .find(|t| t.as_str() == s.trim())
            .ok_or_else(|| "Choose a theme: light, dark or high-contrast.".to_string())
    }
}

/// A browser's id of an audio device (`MediaDeviceInfo.deviceId`): see the module invariants.
/// The id is the browser's, per site; another browser has other ids, so a saved id may be
/// missing where the user signs in next, and the phone then falls back to the default device.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeviceId(String);
telephony::checked_text!(DeviceId);

impl DeviceId {
    /// Longest accepted id (Chromium's are 64 hexadecimal digits; Firefox's are shorter).
    pub const MAX_LEN: usize = 256;

    /// Checks an id the browser gave; `""` is not an id (callers map it to "the default
    /// device" before parsing).
    pub fn parse(raw: &str) -> Result<DeviceId, String> {
        if raw.is_empty() {
            return Err("Choose a device.".into());
        }
        if raw.chars().count() > Self::MAX_LEN {
            return Err(format!("A device id has at most {} characters.", Self::MAX_LEN));
        }
        if raw.chars().any(char::is_control) {
            return Err("A device id cannot contain control characters.".into());
        }
        Ok(DeviceId(raw.to_string()))
    }

    /// A form's choice: empty for the browser's default device, otherwise an id.
    pub fn parse_choice(raw: &str) -> Result<Option<DeviceId>, String> {
        if raw.is_empty() { Ok(None) } else { DeviceId::parse(raw).map(Some) }
    }
}

/// The phone's preferred microphone and speaker; `None` is the browser's default device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioDevices {
    pub input: Option<DeviceId>,
    pub output: Option<DeviceId>,
}

/// Everything a user chose about themself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The name colleagues see; `None` until chosen (they see the username).
    pub display_name: Option<DisplayName>,
    pub theme: Theme,
    pub audio: AudioDevices,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ana Pérez ").unwrap().as_str(), "Ana Pérez");
        assert!(DisplayName::parse("").unwrap_err().contains("Enter the name"));
        assert!(DisplayName::parse(" \t ").is_err());
        assert_eq!(DisplayName::parse(&"é".repeat(60)).unwrap().as_str().chars().count(), 60);
        assert!(DisplayName::parse(&"é".repeat(61)).unwrap_err().contains("at most 60"));
    }

    #[test]
    fn display_names_refuse_control_and_disguising_characters() {
        for bad in ["a\nb", "a\tb", "a\u{0}b", "a\u{7f}b", "a\u{202E}b", "a\u{200B}b"] {
            assert!(DisplayName::parse(bad).unwrap_err().contains("control"), "{bad:?}");
        }
        // Markup is text: it is escaped wherever it is shown.
        assert!(DisplayName::parse("<b>Bo</b>").is_ok());
    }

    #[test]
    fn display_name_deserialisation_validates() {
        assert!(serde_json::from_str::<DisplayName>("\"\"").is_err());
        assert_eq!(serde_json::from_str::<DisplayName>("\" Bo \"").unwrap().as_str(), "Bo");
    }

    #[test]
    fn themes_round_trip_and_refuse_others() {
        for t in Theme::ALL {
            assert_eq!(Theme::parse(t.as_str()), Ok(t));
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{}\"", t.as_str()));
        }
        for bad in ["", "Dark", "contrast", "solarized"] {
            assert!(Theme::parse(bad).unwrap_err().contains("Choose a theme"), "{bad:?}");
        }
        assert_eq!(Theme::default(), Theme::Light);
    }

    #[test]
    fn device_ids_are_kept_exactly_and_bounded() {
        let chromium = "a".repeat(64);
        assert_eq!(DeviceId::parse(&chromium).unwrap().as_str(), chromium);
        assert_eq!(DeviceId::parse(" x ").unwrap().as_str(), " x ");
        assert!(DeviceId::parse(&"a".repeat(257)).unwrap_err().contains("at most 256"));
        assert!(DeviceId::parse("a\nb").is_err());
        assert_eq!(DeviceId::parse_choice(""), Ok(None));
        assert_eq!(DeviceId::parse_choice("default").unwrap().unwrap().as_str(), "default");
    }
}
