//! Voicemail beep detection (work in progress: lands with the AMD issue).
use crate::features::FeatureBlock;

/// A detected beep, in samples of media time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeepEvent {
    /// First sample of the tone.
    pub start: u64,
    /// Sample just after the tone (a double or two-tone beep: after the last part).
    pub end: u64,
    /// Frequency in Hz (of the first part).
    pub freq_hz: f32,
}

/// Tunable parameters of beep detection.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BeepConfig {}

/// Streaming beep detection for one channel.
#[derive(Default)]
pub struct BeepDetector {}

impl BeepDetector {
    /// A detector with the given parameters.
    pub fn new(_cfg: BeepConfig) -> Self {
        Self {}
    }

    /// Consumes the next block; returns a beep that ended with it.
    pub fn push(&mut self, _block: &FeatureBlock) -> Option<BeepEvent> {
        None
    }

    /// Ends the stream: a beep still sounding ends here.
    pub fn finish(&mut self) -> Option<BeepEvent> {
        None
    }
}
