//! RTP (RFC 3550) packets as the gateway relays them: header parsing with the checks a
//! receiver needs to drop garbage, header writing, and RFC 4733 telephone-event payloads.
//!
//! The media path parses a header, rewrites SSRC/sequence/timestamp, and forwards the
//! payload untouched; nothing here allocates on that path except the output buffer.

pub mod dtmf;
pub mod rtcp;

/// Fixed RTP header length.
pub const HEADER_LEN: usize = 12;

/// Why a datagram is not an RTP packet we can relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Shorter than a header, or than the header's CSRC list/extension/padding claim.
    #[error("truncated RTP packet")]
    Truncated,
    /// Version other than 2.
    #[error("not RTP version 2")]
    Version,
    /// Payload types 72–76 are RTCP packet types (RFC 5761 §4): not media.
    #[error("RTCP, not RTP")]
    Rtcp,
}

/// The fields of an RTP header the gateway uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Marker bit (start of a talkspurt; first packet of a DTMF event).
    pub marker: bool,
    /// Payload type.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp (8 kHz units for G.711).
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

/// A parsed packet borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Header.
    pub header: Header,
    /// Payload, without CSRCs, extension or padding.
    pub payload: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Parses `data` (RFC 3550 §5.1).
    pub fn parse(data: &'a [u8]) -> Result<Self, RtpError> {
        if data.len() < HEADER_LEN {
            return Err(RtpError::Truncated);
        }
        if data[0] >> 6 != 2 {
            return Err(RtpError::Version);
        }
        let payload_type = data[1] & 0x7f;
        if (72..=76).contains(&payload_type) {
            return Err(RtpError::Rtcp);
        }
        let csrc_count = usize::from(data[0] & 0x0f);
        let mut start = HEADER_LEN + 4 * csrc_count;
        if data[0] & 0x10 != 0 {
            let ext = data.get(start..start + 4).ok_or(RtpError::Truncated)?;
            start += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        }
        let mut end = data.len();
        if data[0] & 0x20 != 0 {
            let pad = usize::from(*data.last().ok_or(RtpError::Truncated)?);
            end = end.checked_sub(pad).ok_or(RtpError::Truncated)?;
        }
        let payload = data.get(start..end).ok_or(RtpError::Truncated)?;
        Ok(Self {
            header: Header {
                marker: data[1] & 0x80 != 0,
                payload_type,
                sequence: u16::from_be_bytes([data[2], data[3]]),
                timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
                ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
            },
            payload,
        })
    }
}

impl Header {
    /// Appends this header (no CSRCs, no extension) and `payload` to `out`.
    pub fn write(&self, payload: &[u8], out: &mut Vec<u8>) {
        out.reserve(HEADER_LEN + payload.len());
        out.push(0x80);
        out.push(u8::from(self.marker) << 7 | (self.payload_type & 0x7f));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = Header {
            marker: true,
            payload_type: 8,
            sequence: 65535,
            timestamp: 0xdead_beef,
            ssrc: 42,
        };
        let mut buf = Vec::new();
        h.write(&[1, 2, 3], &mut buf);
        let p = Packet::parse(&buf).unwrap();
        assert_eq!(p.header, h);
        assert_eq!(p.payload, [1, 2, 3]);
    }

    #[test]
    fn csrc_extension_and_padding_are_skipped() {
        let mut buf = vec![0x80 | 0x20 | 0x10 | 1, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        buf.extend_from_slice(&[9, 9, 9, 9]); // one CSRC
        buf.extend_from_slice(&[0xbe, 0xde, 0, 1, 7, 7, 7, 7]); // extension, one word
        buf.extend_from_slice(&[0xaa, 0xbb]); // payload
        buf.extend_from_slice(&[0, 0, 3]); // padding
        assert_eq!(Packet::parse(&buf).unwrap().payload, [0xaa, 0xbb]);
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        assert_eq!(Packet::parse(&[0x80; 5]), Err(RtpError::Truncated));
        assert_eq!(Packet::parse(&[0x40; 20]), Err(RtpError::Version));
        assert_eq!(Packet::parse(&[0x80, 0xc8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Err(RtpError::Rtcp));
        // Padding longer than the packet, CSRCs past the end, extension past the end.
        assert_eq!(
            Packet::parse(&[0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff]),
            Err(RtpError::Truncated)
        );
        assert_eq!(
            Packet::parse(&[0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(RtpError::Truncated)
        );
        assert_eq!(
            Packet::parse(&[0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(RtpError::Truncated)
        );
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = Packet::parse(&junk);
        }
    }
}
