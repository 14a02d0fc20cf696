//! RTCP (RFC 3550 §6) for the trunk legs: compound packets parsed and written here, and a
//! sans-IO [`session::Session`] per call that turns the RTP and RTCP seen on the carrier side
//! into reports of our own and the call's media figures.
//!
//! Parsing applies RFC 3550 A.2's validity checks to a whole compound packet: every packet
//! is version 2, its length field stays inside the datagram and the lengths add up to it
//! exactly, only the last packet may be padded, and the first is a sender or receiver report
//! (RFC 5761 §4 also lets a reduced-size or feedback packet start one when muxed; those are
//! skipped like any type we do not use). A compound that fails any check is refused as a
//! whole with an [`RtcpError`]; the caller drops and counts it. Nothing here panics on input.

pub mod session;
#[cfg(test)]
mod tests;

/// Sender report (RFC 3550 §6.4.1).
pub const SR: u8 = 200;
/// Receiver report (§6.4.2).
pub const RR: u8 = 201;
/// Source description (§6.5).
pub const SDES: u8 = 202;
/// Goodbye (§6.6).
pub const BYE: u8 = 203;

/// The SDES item type of a canonical name.
const CNAME: u8 = 1;
/// Report blocks one packet can hold (its 5-bit count).
const MAX_BLOCKS: usize = 31;

/// Why a datagram is not an RTCP compound packet we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    /// Shorter than a header, or than what a packet's length or counts claim.
    #[error("truncated RTCP packet")]
    Truncated,
    /// Version other than 2.
    #[error("not RTCP version 2")]
    Version,
    /// The length fields do not add up to the datagram, or padding is not where it may be.
    #[error("RTCP lengths do not add up")]
    Length,
    /// The compound does not start with a report (RFC 3550 §6.1).
    #[error("RTCP compound packet does not start with SR or RR")]
    First,
}

/// One reception report block (RFC 3550 §6.4.1): what a receiver says about one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source reported on.
    pub ssrc: u32,
    /// Lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (signed 24-bit: duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received from the source (0: none).
    pub lsr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub dlsr: u32,
}

/// The sender information of an SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// NTP timestamp (RFC 5905 format: seconds since 1900 in the upper 32 bits).
    pub ntp: u64,
    /// The RTP timestamp of the same instant.
    pub rtp_timestamp: u32,
    /// Packets sent since the stream started.
    pub packets: u32,
    /// Payload octets sent since the stream started.
    pub octets: u32,
}

/// One packet of a compound, as far as the gateway uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// SR.
    SenderReport {
        /// Sender.
        ssrc: u32,
        /// Its sending figures.
        info: SenderInfo,
        /// Its reception reports.
        blocks: Vec<ReportBlock>,
    },
    /// RR.
    ReceiverReport {
        /// Sender.
        ssrc: u32,
        /// Its reception reports.
        blocks: Vec<ReportBlock>,
    },
    /// SDES: each chunk's source and its CNAME, if it has one.
    SourceDescription(Vec<(u32, Option<String>)>),
    /// BYE: the sources leaving.
    Goodbye(Vec<u32>),
    /// A type we do not use (APP, feedback, XR…): skipped.
    Other(u8),
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses and checks a compound packet (see the module docs).
pub fn parse(data: &[u8]) -> Result<Vec<Packet>, RtcpError> {
    let mut packets = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err(RtcpError::Truncated);
        }
        if rest[0] >> 6 != 2 {
            return Err(RtcpError::Version);
        }
        let len = 4 * (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1);
        let raw = rest.get(..len).ok_or(RtcpError::Truncated)?;
        rest = &rest[len..];
        let mut body = &raw[4..];
        if raw[0] & 0x20 != 0 {
            // A.2: only the last packet of a compound may be padded.
            if !rest.is_empty() {
                return Err(RtcpError::Length);
            }
            let pad = usize::from(raw[len - 1]);
            if pad == 0 || pad > body.len() {
                return Err(RtcpError::Length);
            }
            body = &body[..body.len() - pad];
        }
        let count = usize::from(raw[0] & 0x1f);
        let packet_type = raw[1];
        if packets.is_empty() && !matches!(packet_type, SR | RR | 205 | 206) {
            return Err(RtcpError::First);
        }
        packets.push(match packet_type {
            SR => {
                let head = body.get(..24).ok_or(RtcpError::Truncated)?;
                let info = SenderInfo {
                    ntp: u64::from(be32(head, 4)) << 32 | u64::from(be32(head, 8)),
                    rtp_timestamp: be32(head, 12),
                    packets: be32(head, 16),
                    octets: be32(head, 20),
                };
                Packet::SenderReport {
                    ssrc: be32(head, 0),
                    info,
                    blocks: blocks(&body[24..], count)?,
                }
            }
            RR => {
                let head = body.get(..4).ok_or(RtcpError::Truncated)?;
                Packet::ReceiverReport { ssrc: be32(head, 0), blocks: blocks(&body[4..], count)? }
            }
            SDES => Packet::SourceDescription(chunks(body, count)?),
            BYE => {
                let ssrcs = body.get(..4 * count).ok_or(RtcpError::Truncated)?;
                Packet::Goodbye(ssrcs.chunks_exact(4).map(|c| be32(c, 0)).collect())
            }
            other => Packet::Other(other),
        });
    }
    if packets.is_empty() {
        return Err(RtcpError::Truncated);
    }
    Ok(packets)
}

fn blocks(body: &[u8], count: usize) -> Result<Vec<ReportBlock>, RtcpError> {
    let body = body.get(..24 * count).ok_or(RtcpError::Truncated)?;
    Ok(body
        .chunks_exact(24)
        .map(|b| {
            let lost = be32(b, 4) & 0x00ff_ffff;
            // Sign-extend the 24-bit field.
            let cumulative_lost = ((lost << 8) as i32) >> 8;
            ReportBlock {
                ssrc: be32(b, 0),
                fraction_lost: b[4],
                cumulative_lost,
                highest_seq: be32(b, 8),
                jitter: be32(b, 12),
                lsr: be32(b, 16),
                dlsr: be32(b, 20),
            }
        })
        .collect())
}

/// SDES chunks (RFC 3550 §6.5): an SSRC, items of type/length/text, a zero type ending the
/// list, padding to the next 32-bit boundary.
fn chunks(body: &[u8], count: usize) -> Result<Vec<(u32, Option<String>)>, RtcpError> {
    let mut out = Vec::with_capacity(count);
    let mut at = 0;
    for _ in 0..count {
        let ssrc = be32(body.get(at..at + 4).ok_or(RtcpError::Truncated)?, 0);
        at += 4;
        let mut cname = None;
        loop {
            let kind = *body.get(at).ok_or(RtcpError::Truncated)?;
            if kind == 0 {
                // The end of the list, then padding to a word boundary.
                at = (at + 4) & !3;
                break;
            }
            let len = usize::from(*body.get(at + 1).ok_or(RtcpError::Truncated)?);
            let text = body.get(at + 2..at + 2 + len).ok_or(RtcpError::Truncated)?;
            if kind == CNAME {
                cname = Some(String::from_utf8_lossy(text).into_owned());
            }
            at += 2 + len;
        }
        if at > body.len() {
            return Err(RtcpError::Truncated);
        }
        out.push((ssrc, cname));
    }
    Ok(out)
}

/// True when a datagram on an RTP port is RTCP (RFC 5761 §4: the second octet of an RTCP
/// packet is its type, 192–223, which RTP payload types 64–95 with the marker set would
/// collide with; those types are never used for audio).
pub fn is_rtcp(data: &[u8]) -> bool {
    data.len() >= 4 && data[0] >> 6 == 2 && (192..=223).contains(&data[1])
}

/// Appends one packet's header, with `words` 32-bit words after it.
fn header(out: &mut Vec<u8>, count: usize, packet_type: u8, words: usize) {
    out.push(0x80 | (count as u8 & 0x1f));
    out.push(packet_type);
    // Every packet we write is far below 2^16 words.
    out.extend_from_slice(&(words as u16).to_be_bytes());
}

/// Appends an SR (with `info`) or, without it, an RR, with up to 31 `blocks`.
pub fn write_report(
    out: &mut Vec<u8>,
    ssrc: u32,
    info: Option<SenderInfo>,
    blocks: &[ReportBlock],
) {
    let blocks = &blocks[..blocks.len().min(MAX_BLOCKS)];
    let words = 1 + if info.is_some() { 5 } else { 0 } + 6 * blocks.len();
    header(out, blocks.len(), if info.is_some() { SR } else { RR }, words);
    out.extend_from_slice(&ssrc.to_be_bytes());
    if let Some(i) = info {
        out.extend_from_slice(&i.ntp.to_be_bytes());
        out.extend_from_slice(&i.rtp_timestamp.to_be_bytes());
        out.extend_from_slice(&i.packets.to_be_bytes());
        out.extend_from_slice(&i.octets.to_be_bytes());
    }
    for b in blocks {
        out.extend_from_slice(&b.ssrc.to_be_bytes());
        let lost = (b.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32) & 0x00ff_ffff;
        out.extend_from_slice(&(u32::from(b.fraction_lost) << 24 | lost).to_be_bytes());
        out.extend_from_slice(&b.highest_seq.to_be_bytes());
        out.extend_from_slice(&b.jitter.to_be_bytes());
        out.extend_from_slice(&b.lsr.to_be_bytes());
        out.extend_from_slice(&b.dlsr.to_be_bytes());
    }
}

/// Appends an SDES packet with one chunk: `ssrc` and its CNAME (at most 255 octets).
pub fn write_sdes(out: &mut Vec<u8>, ssrc: u32, cname: &str) {
    let text = &cname.as_bytes()[..cname.len().min(255)];
    // SSRC, type, length, text, then at least one zero octet up to a word boundary.
    let chunk = 4 + 2 + text.len();
    let padded = (chunk + 4) & !3;
    header(out, 1, SDES, padded / 4);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.push(CNAME);
    out.push(text.len() as u8);
    out.extend_from_slice(text);
    out.resize(out.len() + padded - chunk, 0);
}

/// Appends a BYE for `ssrc` (no reason).
pub fn write_bye(out: &mut Vec<u8>, ssrc: u32) {
    header(out, 1, BYE, 1);
    out.extend_from_slice(&ssrc.to_be_bytes());
}
