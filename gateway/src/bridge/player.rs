//! Audio the gateway generates: WAV playback, the hold tone, silence — as 20 ms frames of
//! 16-bit linear samples at 8 kHz.

use std::sync::Arc;

use super::stream::FRAME;

/// A sound to play: linear 16-bit samples at 8 kHz, mono.
#[derive(Debug, Clone)]
pub struct Sound(Arc<[i16]>);

impl Sound {
    /// Wraps samples.
    pub fn new(samples: Vec<i16>) -> Self {
        Self(samples.into())
    }

    /// The default hold tone: 425 Hz for 0.4 s in every 3 s at about −12 dBFS (a gentle
    /// "you are still connected" tone, not music).
    pub fn hold_tone() -> Self {
        let total = 8000 * 3;
        let on = 3200;
        let samples = (0..total)
            .map(|i| {
                if i < on {
                    let phase = 2.0 * std::f64::consts::PI * 425.0 * f64::from(i) / 8000.0;
                    (phase.sin() * 8000.0) as i16
                } else {
                    0
                }
            })
            .collect();
        Self::new(samples)
    }

    /// Length in samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Plays a [`Sound`] frame by frame, once or in a loop.
#[derive(Debug, Clone)]
pub struct Player {
    sound: Sound,
    position: usize,
    looping: bool,
}

impl Player {
    /// Plays `sound` once.
    pub fn once(sound: Sound) -> Self {
        Self { sound, position: 0, looping: false }
    }

    /// Plays `sound` until stopped.
    pub fn looping(sound: Sound) -> Self {
        Self { sound, position: 0, looping: true }
    }

    /// The next 20 ms frame (zero-padded at the end), or `None` when finished.
    pub fn next_frame(&mut self) -> Option<[i16; FRAME as usize]> {
        let samples = &self.sound.0;
        if samples.is_empty() || (!self.looping && self.position >= samples.len()) {
            return None;
        }
        let mut frame = [0i16; FRAME as usize];
        for slot in &mut frame {
            if self.position >= samples.len() {
                if !self.looping {
                    break;
                }
                self.position = 0;
            }
            *slot = samples[self.position];
            self.position += 1;
        }
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_pads_the_last_frame_then_stops() {
        let mut p = Player::once(Sound::new(vec![1; 200]));
        assert_eq!(p.next_frame().unwrap(), [1; 160]);
        let last = p.next_frame().unwrap();
        assert_eq!(&last[..40], &[1; 40]);
        assert_eq!(&last[40..], &[0; 120]);
        assert!(p.next_frame().is_none());
        assert!(Player::once(Sound::new(Vec::new())).next_frame().is_none());
    }

    #[test]
    fn looping_wraps() {
        let mut p = Player::looping(Sound::new((0..100).collect()));
        let f = p.next_frame().unwrap();
        assert_eq!((f[99], f[100], f[159]), (99, 0, 59));
        assert!(Sound::hold_tone().len() == 24_000);
    }
}
