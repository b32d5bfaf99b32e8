//! Answering-machine detection: decides `human` or `machine` as early as the
//! audio allows, from feature blocks only (the FPGA backend serves them too).
//!
//! (Work in progress: the decision logic lands with the AMD issue.)
use crate::features::{FeatureBlock, BLOCK_LEN, SAMPLE_RATE};

/// What answered the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AmdVerdict {
    /// A live person.
    Human,
    /// An answering machine or voicemail system.
    Machine,
    /// Nothing could be decided within the maximum analysis time.
    Unknown,
}

impl AmdVerdict {
    /// `human`, `machine` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            AmdVerdict::Human => "human",
            AmdVerdict::Machine => "machine",
            AmdVerdict::Unknown => "unknown",
        }
    }
}

/// The one decision an [`AmdDetector`] makes per stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AmdDecision {
    /// The verdict.
    pub verdict: AmdVerdict,
    /// Media time of the decision, in samples from the stream's start: only
    /// audio before it was used.
    pub at: u64,
    /// Which rule decided (e.g. "short-greeting", "long-greeting", "beep").
    pub cause: &'static str,
    /// 0..1, how sure the rule is.
    pub confidence: f32,
}

/// Tunable parameters of the AMD decisions.
#[derive(Debug, Clone, PartialEq)]
pub struct AmdConfig {
    /// Give up with `unknown` after this much audio, in ms.
    pub max_analysis_ms: u32,
    /// Trades false "machine" against false "human": -1 favours "human"
    /// (fewer live people lost), +1 favours "machine"; 0 is the tuned point.
    pub bias: f32,
}

impl Default for AmdConfig {
    fn default() -> Self {
        Self { max_analysis_ms: 6000, bias: 0.0 }
    }
}

/// Streaming AMD for one channel: feed it the channel's feature blocks from
/// the moment of answer.
pub struct AmdDetector {
    cfg: AmdConfig,
    blocks: u64,
    decided: bool,
}

impl AmdDetector {
    /// A detector with the given parameters.
    pub fn new(cfg: AmdConfig) -> Self {
        Self { cfg, blocks: 0, decided: false }
    }

    /// Consumes the next block; returns the decision when it is made (once).
    pub fn push(&mut self, _block: &FeatureBlock) -> Option<AmdDecision> {
        self.blocks += 1;
        let limit = self.cfg.max_analysis_ms as u64 * SAMPLE_RATE as u64 / 1000;
        if !self.decided && self.blocks * BLOCK_LEN as u64 >= limit {
            self.decided = true;
            return Some(AmdDecision {
                verdict: AmdVerdict::Unknown,
                at: self.blocks * BLOCK_LEN as u64,
                cause: "max-analysis-time",
                confidence: 0.0,
            });
        }
        None
    }

    /// Tells the detector a beep was heard (a strong machine cue).
    pub fn note_beep(&mut self, _start: u64) {}

    /// Ends the stream: the decision, if none was made yet (`unknown`).
    pub fn finish(&mut self) -> Option<AmdDecision> {
        if self.decided {
            return None;
        }
        self.decided = true;
        Some(AmdDecision {
            verdict: AmdVerdict::Unknown,
            at: self.blocks * BLOCK_LEN as u64,
            cause: "end-of-stream",
            confidence: 0.0,
        })
    }
}
