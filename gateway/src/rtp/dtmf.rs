//! RFC 4733 telephone-event payloads: DTMF digits as RTP events.
//!
//! A digit is sent as a run of packets with the same timestamp (the event start) and a growing
//! duration; the first has the marker bit, the last three repeat with the end bit (§2.5.1.4).

/// Why a DTMF digit or payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DtmfError {
    /// A character that is not 0-9, *, #, A-D.
    #[error("{0:?} is not a DTMF digit (0-9, *, #, A-D)")]
    BadDigit(char),
    /// Fewer than 4 octets.
    #[error("telephone-event payload shorter than 4 octets")]
    Truncated,
}

/// One DTMF digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digit(u8);

impl Digit {
    /// The digit for a keypad character.
    pub fn from_char(c: char) -> Result<Self, DtmfError> {
        let code = match c {
            '0'..='9' => c as u8 - b'0',
            '*' => 10,
            '#' => 11,
            'A'..='D' => c as u8 - b'A' + 12,
            'a'..='d' => c as u8 - b'a' + 12,
            _ => return Err(DtmfError::BadDigit(c)),
        };
        Ok(Self(code))
    }

    /// The keypad character.
    pub fn to_char(self) -> char {
        match self.0 {
            0..=9 => (b'0' + self.0) as char,
            10 => '*',
            11 => '#',
            n => (b'A' + n - 12) as char,
        }
    }

    /// The RFC 4733 event code.
    pub fn event(self) -> u8 {
        self.0
    }

    /// The digit for an event code (0–15), if it is one.
    pub fn from_event(event: u8) -> Option<Self> {
        (event <= 15).then_some(Self(event))
    }
}

/// A telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Event code.
    pub event: u8,
    /// End of the event.
    pub end: bool,
    /// Volume, 0 to -63 dBm0 as 0–63.
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl Event {
    /// Parses a payload.
    pub fn parse(payload: &[u8]) -> Result<Self, DtmfError> {
        let [event, flags, d0, d1, ..] = *payload else { return Err(DtmfError::Truncated) };
        Ok(Self {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    /// The 4-octet payload.
    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [self.event, u8::from(self.end) << 7 | (self.volume & 0x3f), d[0], d[1]]
    }
}

/// The payloads for one digit of `duration_ms`, one every 20 ms (160 samples), ending with
/// three end packets. All share the event's start timestamp; the first has the marker.
pub fn digit_payloads(digit: Digit, duration_ms: u32) -> Vec<[u8; 4]> {
    let total = (duration_ms.clamp(40, 2000) * 8) as u16;
    let mut out = Vec::new();
    let mut d = 160u16;
    while d < total {
        out.push(Event { event: digit.event(), end: false, volume: 10, duration: d }.to_bytes());
        d += 160;
    }
    for _ in 0..3 {
        out.push(Event { event: digit.event(), end: true, volume: 10, duration: total }.to_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_map_to_rfc4733_codes() {
        for (c, code) in [('0', 0), ('9', 9), ('*', 10), ('#', 11), ('A', 12), ('d', 15)] {
            let d = Digit::from_char(c).unwrap();
            assert_eq!(d.event(), code);
            assert_eq!(d.to_char(), c.to_ascii_uppercase());
        }
        assert_eq!(Digit::from_char('x'), Err(DtmfError::BadDigit('x')));
        assert_eq!(Digit::from_event(16), None);
    }

    #[test]
    fn payload_round_trip_and_digit_run() {
        let e = Event { event: 5, end: true, volume: 10, duration: 800 };
        assert_eq!(Event::parse(&e.to_bytes()).unwrap(), e);
        assert_eq!(Event::parse(&[1, 2]), Err(DtmfError::Truncated));
        let run = digit_payloads(Digit::from_char('5').unwrap(), 100);
        assert_eq!(run.len(), 4 + 3);
        assert!(run[..4].iter().all(|p| !Event::parse(p).unwrap().end));
        assert!(run[4..].iter().all(|p| Event::parse(p).unwrap()
            == Event { event: 5, end: true, volume: 10, duration: 800 }));
    }
}
