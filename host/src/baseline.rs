//! The classic energy / word-count answering-machine detector, as Asterisk's
//! `app_amd` documents it, with the values of its sample `amd.conf`: the
//! baseline that `ringwire evaluate` prints beside ringwire's detector.
//!
//! Re-implemented from the documented behaviour (the AMD() application
//! reference and `amd.conf.sample`), not from its source:
//!
//! - audio is cut into 20 ms frames; a frame is *silence* when its average
//!   absolute amplitude is below `silence_threshold` (256 of 32767);
//! - silence before any voice longer than `initial_silence` → MACHINE
//!   (INITIALSILENCE);
//! - voice of at least `min_word_length` after at least
//!   `between_words_silence` of silence starts a new word; more than
//!   `maximum_number_of_words` words (counting the one that reaches it) →
//!   MACHINE (MAXWORDS); one run of voice longer than `maximum_word_length`
//!   → MACHINE (MAXWORDLENGTH); voice in the greeting totalling more than
//!   `greeting` → MACHINE (LONGGREETING);
//! - once a greeting has started, `after_greeting_silence` of silence →
//!   HUMAN (HUMAN);
//! - nothing decided within `total_analysis_time` → NOTSURE (TOOLONG),
//!   reported here as `unknown`; the end of the audio before any decision
//!   is `unknown` too (app_amd would report HANGUP).
//!
//! The sample config's `maximum_number_of_words = 2` is used (newer Asterisk
//! releases default to 3 in code). The detector is in the word state at the
//! start, as app_amd is, so speech right at answer is only counted as a word
//! after a first gap.
use ringwire_dsp::amd::AmdVerdict;

/// Samples per 20 ms frame at 8 kHz.
pub const FRAME: usize = 160;
/// Frame length, ms.
pub const FRAME_MS: u32 = 20;

/// The app_amd parameters, in ms except the threshold.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClassicAmdConfig {
    /// Most silence before the greeting.
    pub initial_silence: u32,
    /// Longest greeting (voice time).
    pub greeting: u32,
    /// Silence after a greeting that means a person is waiting.
    pub after_greeting_silence: u32,
    /// Longest analysis.
    pub total_analysis_time: u32,
    /// Shortest voice run that is a word.
    pub min_word_length: u32,
    /// Shortest silence that separates words.
    pub between_words_silence: u32,
    /// Most words of a live greeting.
    pub maximum_number_of_words: u32,
    /// Average absolute amplitude under which a frame is silence.
    pub silence_threshold: u32,
    /// Longest single voice run.
    pub maximum_word_length: u32,
}

impl Default for ClassicAmdConfig {
    /// The sample `amd.conf`.
    fn default() -> Self {
        Self {
            initial_silence: 2500,
            greeting: 1500,
            after_greeting_silence: 800,
            total_analysis_time: 5000,
            min_word_length: 100,
            between_words_silence: 50,
            maximum_number_of_words: 2,
            silence_threshold: 256,
            maximum_word_length: 5000,
        }
    }
}

/// The baseline's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassicDecision {
    /// human, machine or unknown (NOTSURE / end of audio).
    pub verdict: AmdVerdict,
    /// app_amd's cause: INITIALSILENCE, HUMAN, LONGGREETING, MAXWORDLENGTH,
    /// MAXWORDS, TOOLONG, or END (audio ended first).
    pub cause: &'static str,
    /// Media time of the decision, ms (end of the deciding frame).
    pub at_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Word,
    Silence,
}

/// Streaming classic AMD over 20 ms frames.
pub struct ClassicAmd {
    cfg: ClassicAmdConfig,
    total_ms: u32,
    silence_ms: u32,
    voice_ms: u32,
    consecutive_voice_ms: u32,
    words: u32,
    in_initial_silence: bool,
    in_greeting: bool,
    state: State,
    decision: Option<ClassicDecision>,
}

impl ClassicAmd {
    /// A detector with the given parameters.
    pub fn new(cfg: ClassicAmdConfig) -> Self {
        Self {
            cfg,
            total_ms: 0,
            silence_ms: 0,
            voice_ms: 0,
            consecutive_voice_ms: 0,
            words: 0,
            in_initial_silence: true,
            in_greeting: false,
            state: State::Word,
            decision: None,
        }
    }

    /// The decision, once made.
    pub fn decision(&self) -> Option<ClassicDecision> {
        self.decision
    }

    fn decide(&mut self, verdict: AmdVerdict, cause: &'static str) -> Option<ClassicDecision> {
        let d = ClassicDecision {
            verdict,
            cause,
            at_ms: self.total_ms as u64,
        };
        self.decision = Some(d);
        Some(d)
    }

    /// Feeds one 20 ms frame; returns the decision when it is made (once).
    pub fn push_frame(&mut self, frame: &[i16]) -> Option<ClassicDecision> {
        if self.decision.is_some() || frame.is_empty() {
            return None;
        }
        self.total_ms += FRAME_MS;
        let avg = frame
            .iter()
            .map(|&s| (s as i32).unsigned_abs())
            .sum::<u32>()
            / frame.len() as u32;
        let silent = avg < self.cfg.silence_threshold;
        let c = &self.cfg;
        if silent {
            self.silence_ms += FRAME_MS;
            if self.silence_ms >= c.between_words_silence {
                self.state = State::Silence;
                self.consecutive_voice_ms = 0;
            }
            if self.in_initial_silence && self.silence_ms >= c.initial_silence {
                return self.decide(AmdVerdict::Machine, "INITIALSILENCE");
            }
            if self.in_greeting && self.silence_ms >= c.after_greeting_silence {
                return self.decide(AmdVerdict::Human, "HUMAN");
            }
        } else {
            self.silence_ms = 0;
            self.consecutive_voice_ms += FRAME_MS;
            self.voice_ms += FRAME_MS;
            if self.consecutive_voice_ms >= c.min_word_length && self.state == State::Silence {
                self.words += 1;
                self.state = State::Word;
            }
            if self.consecutive_voice_ms >= c.maximum_word_length {
                return self.decide(AmdVerdict::Machine, "MAXWORDLENGTH");
            }
            if self.words >= c.maximum_number_of_words {
                return self.decide(AmdVerdict::Machine, "MAXWORDS");
            }
            if self.in_greeting && self.voice_ms >= c.greeting {
                return self.decide(AmdVerdict::Machine, "LONGGREETING");
            }
            if !self.in_greeting && self.voice_ms >= c.min_word_length {
                self.in_initial_silence = false;
                self.in_greeting = true;
            }
        }
        if self.total_ms >= self.cfg.total_analysis_time {
            return self.decide(AmdVerdict::Unknown, "TOOLONG");
        }
        None
    }

    /// Ends the audio: `unknown` (END) if nothing was decided.
    pub fn finish(&mut self) -> ClassicDecision {
        match self.decision {
            Some(d) => d,
            None => self.decide(AmdVerdict::Unknown, "END").unwrap(),
        }
    }
}

/// Runs the classic detector over 8 kHz samples from answer.
pub fn classic_amd(samples: &[i16], cfg: &ClassicAmdConfig) -> ClassicDecision {
    let mut amd = ClassicAmd::new(cfg.clone());
    for frame in samples.chunks_exact(FRAME) {
        if let Some(d) = amd.push_frame(frame) {
            return d;
        }
    }
    amd.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(ms: usize, amp: f64) -> Vec<i16> {
        (0..ms * 8)
            .map(|n| (amp * (2.0 * std::f64::consts::PI * 300.0 * n as f64 / 8000.0).sin()) as i16)
            .collect()
    }

    fn silence(ms: usize) -> Vec<i16> {
        vec![0; ms * 8]
    }

    fn cat(parts: &[Vec<i16>]) -> Vec<i16> {
        parts.concat()
    }

    #[test]
    fn silence_is_a_machine_by_initial_silence() {
        let d = classic_amd(&silence(4000), &ClassicAmdConfig::default());
        assert_eq!(d.verdict, AmdVerdict::Machine);
        assert_eq!(d.cause, "INITIALSILENCE");
        assert_eq!(d.at_ms, 2500);
    }

    #[test]
    fn quiet_audio_counts_as_silence() {
        // Average |x| of a 300-amplitude sine is ~191 < 256.
        let d = classic_amd(&tone(4000, 300.0), &ClassicAmdConfig::default());
        assert_eq!(d.cause, "INITIALSILENCE");
    }

    #[test]
    fn one_short_word_then_silence_is_human() {
        let x = cat(&[silence(500), tone(400, 8000.0), silence(2000)]);
        let d = classic_amd(&x, &ClassicAmdConfig::default());
        assert_eq!(d.verdict, AmdVerdict::Human);
        assert_eq!(d.cause, "HUMAN");
        assert_eq!(d.at_ms, 500 + 400 + 800);
    }

    #[test]
    fn many_words_are_a_machine() {
        let mut parts = vec![silence(300)];
        for _ in 0..5 {
            parts.push(tone(200, 8000.0));
            parts.push(silence(160));
        }
        parts.push(silence(2000));
        let d = classic_amd(&cat(&parts), &ClassicAmdConfig::default());
        assert_eq!(d.verdict, AmdVerdict::Machine);
        assert_eq!(d.cause, "MAXWORDS");
        // The second word is counted 100 ms into it.
        assert_eq!(d.at_ms, 300 + 200 + 160 + 100);
    }

    #[test]
    fn long_voice_is_a_long_greeting() {
        let x = cat(&[silence(200), tone(3000, 8000.0)]);
        let d = classic_amd(&x, &ClassicAmdConfig::default());
        assert_eq!(d.cause, "LONGGREETING");
        assert_eq!(d.at_ms, 200 + 1500);
    }

    #[test]
    fn undecided_audio_is_unknown() {
        let d = classic_amd(&silence(1000), &ClassicAmdConfig::default());
        assert_eq!((d.verdict, d.cause), (AmdVerdict::Unknown, "END"));
    }
}
