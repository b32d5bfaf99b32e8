//! Noise-adaptive voice activity detection on 10 ms frames of feature
//! blocks.
//!
//! The frame level is the mean square of the (13-bit) samples, in dB. The
//! noise floor is the minimum of the level, smoothed over ~25 ms, across the
//! last second (minimum statistics: speech always dips between syllables
//! within a second, noise does not dip below itself). A frame is speech when
//! it stands a margin above that floor and above an absolute minimum.

/// Frames of 10 ms kept for the floor: 1 s in 10 chunks of 100 ms.
const FLOOR_CHUNKS: usize = 10;
const FRAMES_PER_CHUNK: u32 = 10;

/// The level of a frame whose mean square is `mean_square` (13-bit units).
#[inline]
pub fn level_db(mean_square: f32) -> f32 {
    10.0 * (mean_square + 1.0).log10()
}

/// Level in dB of a full-scale sine on the engine's 13-bit scale.
pub const FULL_SCALE_DB: f32 = 69.24; // 10 log10(4096^2 / 2)

/// Voice activity detector state for one channel.
#[derive(Debug, Clone)]
pub struct Vad {
    /// Speech needs this many dB above the noise floor.
    margin_db: f32,
    /// ...and at least this level (dB on the 13-bit scale).
    min_level_db: f32,
    smoothed: f32,
    chunk_min: [f32; FLOOR_CHUNKS],
    chunk: usize,
    frames_in_chunk: u32,
    frames: u64,
}

/// What the VAD says about one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadFrame {
    /// The frame's level, dB.
    pub level_db: f32,
    /// The noise floor estimate, dB.
    pub floor_db: f32,
    /// Whether the frame is speech.
    pub speech: bool,
}

impl Vad {
    /// A detector with the given margin above the floor and absolute minimum
    /// (both dB; the minimum on the engine's 13-bit scale).
    pub fn new(margin_db: f32, min_level_db: f32) -> Self {
        Self {
            margin_db,
            min_level_db,
            smoothed: 0.0,
            chunk_min: [f32::MAX; FLOOR_CHUNKS],
            chunk: 0,
            frames_in_chunk: 0,
            frames: 0,
        }
    }

    /// Classifies the next frame, given its mean square.
    pub fn push(&mut self, mean_square: f32) -> VadFrame {
        let level = level_db(mean_square);
        // ~25 ms smoothing for the floor only; the decision uses the frame.
        self.smoothed = if self.frames == 0 {
            level
        } else {
            self.smoothed + 0.35 * (level - self.smoothed)
        };
        self.frames += 1;
        let slot = &mut self.chunk_min[self.chunk];
        *slot = slot.min(self.smoothed);
        self.frames_in_chunk += 1;
        if self.frames_in_chunk == FRAMES_PER_CHUNK {
            self.frames_in_chunk = 0;
            self.chunk = (self.chunk + 1) % FLOOR_CHUNKS;
            self.chunk_min[self.chunk] = f32::MAX;
        }
        let floor = self.chunk_min.iter().copied().fold(f32::MAX, f32::min);
        let speech = level >= floor + self.margin_db && level >= self.min_level_db;
        VadFrame {
            level_db: level,
            floor_db: floor,
            speech,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_noise_is_not_speech_and_bursts_above_it_are() {
        let mut vad = Vad::new(9.0, 15.0);
        let noise = 10f32.powf(3.0); // 30 dB
        for _ in 0..200 {
            assert!(!vad.push(noise).speech);
        }
        let loud = 10f32.powf(5.0); // 50 dB
        assert!(vad.push(loud).speech);
        // seconds of speech with pauses between words keep the floor low
        for i in 0..300 {
            let f = vad.push(if i % 40 < 8 { noise } else { loud });
            assert!(
                (f.floor_db - 30.0).abs() < 3.0,
                "floor {} at {i}",
                f.floor_db
            );
        }
    }

    #[test]
    fn floor_follows_a_rising_noise_within_about_a_second() {
        let mut vad = Vad::new(9.0, 15.0);
        for _ in 0..100 {
            vad.push(1000.0);
        }
        let mut last = None;
        for _ in 0..130 {
            last = Some(vad.push(100_000.0));
        }
        let f = last.unwrap();
        assert!(!f.speech, "steady louder noise becomes the floor: {f:?}");
    }

    #[test]
    fn silence_below_the_absolute_minimum_is_never_speech() {
        let mut vad = Vad::new(9.0, 15.0);
        for _ in 0..100 {
            vad.push(0.0);
        }
        assert!(!vad.push(10.0).speech); // 10 dB: above floor, below minimum
    }
}
