//! Audio codecs the gateway relays: G.711 μ-law (PCMU) and A-law (PCMA), 8 kHz, with their
//! static RTP payload types (RFC 3551 §6).

pub use telephony::Codec;

/// G.711 sample coding for each [`Codec`].
pub trait G711: Copy + PartialEq {
    /// Encodes one 16-bit linear sample.
    fn encode(self, sample: i16) -> u8;
    /// Decodes one sample to 16-bit linear.
    fn decode(self, byte: u8) -> i16;

    /// The encoding of silence (linear 0).
    fn silence(self) -> u8 {
        self.encode(0)
    }

    /// Re-encodes a payload from `self` to `to` in place (only when two legs disagree).
    fn transcode(self, to: Self, payload: &mut [u8]) {
        if self != to {
            for b in payload {
                *b = to.encode(self.decode(*b));
            }
        }
    }
}

impl G711 for Codec {
    fn encode(self, sample: i16) -> u8 {
        match self {
            Codec::Pcmu => linear_to_ulaw(sample),
            Codec::Pcma => linear_to_alaw(sample),
        }
    }

    fn decode(self, byte: u8) -> i16 {
        match self {
            Codec::Pcmu => ulaw_to_linear(byte),
            Codec::Pcma => alaw_to_linear(byte),
        }
    }
}

/// ITU-T G.711 μ-law compression (the classic segment/bias algorithm).
fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    let exponent = (7 - (s.leading_zeros() as i32 - 17)).clamp(0, 7);
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

fn ulaw_to_linear(byte: u8) -> i16 {
    let b = !byte;
    let sign = b & 0x80;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0f);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    (if sign != 0 { -magnitude } else { magnitude }) as i16
}

/// ITU-T G.711 A-law compression.
fn linear_to_alaw(sample: i16) -> u8 {
    let mut s = i32::from(sample) >> 3;
    let sign = if s >= 0 {
        0x80
    } else {
        s = -s - 1;
        0
    };
    let s = s.min(0xfff);
    let byte = if s < 32 {
        (s >> 1) as u8
    } else {
        let exponent = (31 - s.leading_zeros() as i32) - 4;
        ((exponent << 4) | ((s >> exponent) & 0x0f)) as u8
    };
    (byte | sign) ^ 0x55
}

fn alaw_to_linear(byte: u8) -> i16 {
    let b = byte ^ 0x55;
    let exponent = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0f);
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    (if b & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_values_are_the_standard_ones() {
        assert_eq!(Codec::Pcmu.silence(), 0xff);
        assert_eq!(Codec::Pcma.silence(), 0xd5);
    }

    #[test]
    fn round_trip_error_is_within_the_quantisation_step() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            for s in (i16::MIN..=i16::MAX).step_by(97) {
                let back = codec.decode(codec.encode(s));
                let step = (i32::from(s).abs() / 16).max(16);
                assert!((i32::from(back) - i32::from(s)).abs() <= step, "{codec:?} {s} -> {back}");
            }
            // Decoding every code and encoding again is the identity (except μ-law's two zeros).
            for b in 0..=255u8 {
                let again = codec.encode(codec.decode(b));
                assert!(again == b || (codec == Codec::Pcmu && b == 0x7f), "{codec:?} {b:#x}");
            }
        }
    }

    #[test]
    fn transcoding_keeps_the_signal() {
        let mut payload: Vec<u8> =
            (0..160).map(|i| Codec::Pcmu.encode(((i * 400) % 20000) as i16)).collect();
        let original: Vec<i16> = payload.iter().map(|&b| Codec::Pcmu.decode(b)).collect();
        Codec::Pcmu.transcode(Codec::Pcma, &mut payload);
        for (b, o) in payload.iter().zip(&original) {
            let d = i32::from(Codec::Pcma.decode(*b)) - i32::from(*o);
            assert!(d.abs() <= (i32::from(*o).abs() / 8).max(64));
        }
    }
}
