//! The AMD's settings: the operator's knobs and tuned thresholds
//! ([`AmdConfig`], checked against [`super::thresholds`]), and the same
//! turned into frames after the bias ([`Limits`]), as the rules use them.

use super::{
    answer, thresholds, vad, CONFIRM_FRAMES, FRAME_MS, GREETING_SWING_DB, MAX_CLOCK_RESTART,
    ONSET_FRAMES,
};

/// Tunable parameters of the AMD decisions. Times in ms.
#[derive(Debug, Clone, PartialEq)]
pub struct AmdConfig {
    /// Give up (with `unknown` if no speech was heard, else the best guess)
    /// after this much audio, counted from the last call-progress tone
    /// heard before any speech (ring-back after answer), at most twice
    /// this from answer; a greeting that began in the second half of it is
    /// given the time a long machine greeting takes to be judged, within
    /// that bound.
    pub max_analysis_ms: u32,
    /// Trades false "machine" against false "human": -1 favours "human"
    /// (fewer live people lost), +1 favours "machine"; 0 is the tuned point.
    /// It scales the silence a live greeting needs and the greeting lengths
    /// that mean "machine".
    pub bias: f32,
    /// Speech must stand this many dB above the noise floor.
    pub vad_margin_db: f32,
    /// Inside a greeting, a run of speech goes on through frames up to
    /// this many dB short of that margin: the fading ends of syllables, which
    /// line noise would otherwise turn into pauses as long as a sentence
    /// break.
    pub vad_hold_db: f32,
    /// Silence after a short greeting that means "human".
    pub human_silence_ms: u32,
    /// Silence after a greeting of `long_human_greeting_ms` or more.
    pub human_silence_long_ms: u32,
    /// The greeting length from which the silence that means "human" is
    /// `human_silence_long_ms`; shorter greetings wait in proportion from
    /// `human_silence_ms`.
    pub long_human_greeting_ms: u32,
    /// A greeting at least this long may be a short machine greeting
    /// ("Leave a message after the tone.")...
    pub beep_wait_greeting_ms: u32,
    /// ...so the silence after it that means "human" is at least this long,
    /// to give a voicemail beep the time to sound.
    pub beep_wait_ms: u32,
    /// A pause at least this long, followed by more speech, is a sentence
    /// boundary...
    pub sentence_pause_ms: u32,
    /// ...which means "machine" once the greeting before it is this long.
    pub multi_sentence_min_ms: u32,
    /// Continuous greeting this long means "machine".
    pub machine_greeting_ms: u32,
    /// A steady tone this long after the greeting (a beep) means "machine"...
    pub tone_after_greeting_ms: u32,
    /// ...when it stands this far above the rest (dB, mean over its 30 ms
    /// estimates): a beep stands clear of the line noise, while a vowel
    /// held for a syllable ("it's") reads as a tone with its harmonics
    /// about 10 dB down. A weaker beep is left to the beep detector.
    pub tone_after_greeting_snr_db: f32,
    /// Speech whose loudest frame is more than this many dB below the
    /// greeting's loudest is background (babble), not the talker; speech
    /// this much louder than all the greeting so far restarts it.
    pub talker_range_db: f32,
    /// Speech this much louder than all the greeting before it (dB) is
    /// the talker at last, and the greeting starts again with it: what
    /// came before was background talk loud enough to start a "greeting"
    /// (babble 12 dB under a talker peaks 9-11 dB under the talker's
    /// loudest).
    pub talker_restart_db: f32,
    /// A greeting starts only with a 10 ms frame at least this loud (dBFS,
    /// 0 = a full-scale sine): quieter "speech" is background (babble, a
    /// distant television), not someone at the handset. Greetings of -30
    /// dBFS RMS peak near -20 dBFS.
    pub min_talker_dbfs: f32,
    /// Whether the voicemail-phrase spotter runs (it is trained on English
    /// speech: turn it off for campaigns in other languages).
    pub voicemail_phrases: bool,
    /// The spotter's score (0..1) that means the greeting said "message",
    /// "tone" or "beep" as voicemail greetings do.
    pub voicemail_phrase_score: f32,
    /// The spotter's "machine" is heeded only once the greeting's loudest
    /// frame stands this far (dB) over the noise floor: nearer the floor
    /// its spectral summaries are mostly the line's noise, and babble
    /// (several voices at once) can score as a keyword. Its maybe
    /// (`voicemail_phrase_wait_score`) counts at any level.
    pub voicemail_phrase_min_snr_db: f32,
    /// A spotter score this high during a greeting, short of
    /// `voicemail_phrase_score`, is a maybe: the silence after the greeting
    /// that means "human" waits `beep_wait_ms` for a beep whatever the
    /// greeting's length ("Talk after the tone." is as short as "Hello, can
    /// I help you?"). It costs a live caller the spotter half-hears some
    /// latency, never the verdict.
    pub voicemail_phrase_wait_score: f32,
    /// A spotter score this high during a greeting (short of
    /// `voicemail_phrase_score`, or not heeded in noise) is a likely
    /// voicemail phrase...
    pub voicemail_phrase_likely_score: f32,
    /// ...so the silence after the greeting that means "human" waits at
    /// least this long, for a beep that sounds up to a second after the
    /// greeting; few live greetings score this high, so few live callers
    /// wait it.
    pub beep_wait_likely_ms: u32,
}

impl Default for AmdConfig {
    fn default() -> Self {
        Self {
            max_analysis_ms: 8000,
            bias: 0.0,
            vad_margin_db: 10.0,
            vad_hold_db: 4.0,
            human_silence_ms: 380,
            human_silence_long_ms: 750,
            long_human_greeting_ms: 4000,
            beep_wait_greeting_ms: 1200,
            beep_wait_ms: 920,
            sentence_pause_ms: 455,
            multi_sentence_min_ms: 850,
            machine_greeting_ms: 4800,
            tone_after_greeting_ms: 120,
            tone_after_greeting_snr_db: 12.0,
            talker_range_db: 12.0,
            talker_restart_db: 9.0,
            min_talker_dbfs: -34.0,
            voicemail_phrases: true,
            voicemail_phrase_score: 0.93,
            voicemail_phrase_min_snr_db: 16.0,
            voicemail_phrase_wait_score: 0.2,
            voicemail_phrase_likely_score: 0.8,
            beep_wait_likely_ms: 1100,
        }
    }
}

/// A settable AMD parameter out of its range (see [`AmdConfig::check`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AmdConfigError {
    /// `bias` outside -1..=1 (or not a number).
    #[error("the AMD bias must be -1..=1, not {0}")]
    Bias(f32),
    /// `max_analysis_ms` outside 1000..=60000.
    #[error("the AMD maximum analysis time must be 1000..=60000 ms, not {0}")]
    MaxAnalysis(u32),
    /// No threshold has this name (see [`thresholds::THRESHOLDS`]).
    #[error("no AMD threshold is called `{0}` (known: {known})", known = thresholds::names())]
    UnknownThreshold(String),
    /// A threshold outside its range, or not whole where it counts ms.
    #[error("the AMD threshold `{name}` must be {min}..={max} {unit}{whole}, not {value}", unit = unit.as_str(), whole = if *unit == thresholds::Unit::Ms { ", whole" } else { "" })]
    Threshold {
        /// The threshold.
        name: &'static str,
        /// The value given.
        value: f64,
        /// Its lowest value.
        min: f64,
        /// Its highest value.
        max: f64,
        /// Its unit.
        unit: thresholds::Unit,
    },
}

impl AmdConfig {
    /// A configuration with the operator's two knobs set and the tuned
    /// thresholds, or the knob that is out of range.
    pub fn with_knobs(max_analysis_ms: u32, bias: f32) -> Result<Self, AmdConfigError> {
        let cfg = AmdConfig {
            max_analysis_ms,
            bias,
            ..AmdConfig::default()
        };
        cfg.check()?;
        Ok(cfg)
    }

    /// Whether the operator's knobs are in range (`bias` -1..=1,
    /// `max_analysis_ms` 1000..=60000), and every threshold in its range
    /// ([`thresholds::THRESHOLDS`]).
    pub fn check(&self) -> Result<(), AmdConfigError> {
        if !(-1.0..=1.0).contains(&self.bias) {
            return Err(AmdConfigError::Bias(self.bias));
        }
        if !(1000..=60_000).contains(&self.max_analysis_ms) {
            return Err(AmdConfigError::MaxAnalysis(self.max_analysis_ms));
        }
        self.check_thresholds()
    }
}

/// Thresholds in frames, after the bias.
#[derive(Debug, Clone)]
pub(super) struct Limits {
    pub(super) max_frames: u32,
    pub(super) human_silence: f32,
    pub(super) human_silence_long: f32,
    pub(super) long_human_greeting: f32,
    pub(super) beep_wait_greeting: u32,
    pub(super) beep_wait: f32,
    pub(super) sentence_pause: u32,
    pub(super) multi_sentence_min: u32,
    pub(super) machine_greeting: u32,
    pub(super) tone_after_greeting: u32,
    pub(super) tone_after_greeting_snr_db: f32,
    pub(super) talker_range_db: f32,
    pub(super) talker_restart_db: f32,
    pub(super) min_talker_db: f32,
    /// `None` with the spotter off.
    pub(super) voicemail_phrase_score: Option<f32>,
    pub(super) voicemail_phrase_min_snr_db: f32,
    pub(super) voicemail_phrase_wait_score: f32,
    pub(super) voicemail_phrase_likely_score: f32,
    pub(super) beep_wait_likely: f32,
    /// What talk heard from the moment of answer needs to start a
    /// greeting ([`answer`]).
    pub(super) answer_rule: answer::RunRule,
}

impl Limits {
    pub(super) fn new(cfg: &AmdConfig) -> Self {
        let b = cfg.bias.clamp(-1.0, 1.0);
        let frames = |ms: u32| ms.div_ceil(FRAME_MS);
        // favouring "machine" (b > 0): humans need a longer silence, and
        // shorter greetings already count as machine-like
        let scale = |ms: u32, k: f32| (ms as f32 * (1.0 + k * b)) / FRAME_MS as f32;
        let min_talker_db = vad::FULL_SCALE_DB + cfg.min_talker_dbfs;
        Self {
            max_frames: frames(cfg.max_analysis_ms),
            human_silence: scale(cfg.human_silence_ms, 0.3),
            human_silence_long: scale(cfg.human_silence_long_ms, 0.3),
            long_human_greeting: frames(cfg.long_human_greeting_ms) as f32,
            beep_wait_greeting: frames(cfg.beep_wait_greeting_ms),
            beep_wait: scale(cfg.beep_wait_ms, 0.3),
            sentence_pause: scale(cfg.sentence_pause_ms, -0.2).round() as u32,
            multi_sentence_min: scale(cfg.multi_sentence_min_ms, -0.3).round() as u32,
            machine_greeting: scale(cfg.machine_greeting_ms, -0.3).round() as u32,
            tone_after_greeting: frames(cfg.tone_after_greeting_ms),
            tone_after_greeting_snr_db: cfg.tone_after_greeting_snr_db,
            talker_range_db: cfg.talker_range_db,
            talker_restart_db: cfg.talker_restart_db,
            min_talker_db,
            // favouring "machine" lowers the score a phrase needs towards
            // 0.9, favouring "human" raises it towards 0.995
            voicemail_phrase_score: cfg.voicemail_phrases.then(|| {
                let s = cfg.voicemail_phrase_score;
                if b >= 0.0 {
                    s - b * (s - 0.9).max(0.0)
                } else {
                    s - b * (0.995 - s).max(0.0)
                }
            }),
            voicemail_phrase_min_snr_db: cfg.voicemail_phrase_min_snr_db,
            voicemail_phrase_wait_score: cfg.voicemail_phrase_wait_score,
            voicemail_phrase_likely_score: cfg.voicemail_phrase_likely_score,
            beep_wait_likely: scale(cfg.beep_wait_likely_ms, 0.3),
            answer_rule: answer_rule(cfg, min_talker_db),
        }
    }

    /// Whether the analysis time may still restart at `frame` (after a tone
    /// or a dropped "greeting"): only within [`MAX_CLOCK_RESTART`] maximum
    /// analysis times from answer, so every stream is decided.
    pub(super) fn may_restart_clock(&self, frame: u32) -> bool {
        frame + 1 < MAX_CLOCK_RESTART * self.max_frames
    }

    /// Silence, in frames, that ends a greeting of `greeting` frames, in
    /// which the spotter's best score was `phrase_peak`, as human.
    pub(super) fn human_silence_after(&self, greeting: u32, phrase_peak: f32) -> f32 {
        let t = (greeting as f32 / self.long_human_greeting).min(1.0);
        let wait = self.human_silence + t * (self.human_silence_long - self.human_silence);
        // each reason to wait for a beep sets a floor of its own, so an
        // operator's shorter likely-phrase wait never cuts another short
        let mut floor = 0.0f32;
        if greeting >= self.beep_wait_greeting || phrase_peak >= self.voicemail_phrase_wait_score {
            floor = self.beep_wait;
        }
        if phrase_peak >= self.voicemail_phrase_likely_score {
            floor = floor.max(self.beep_wait_likely);
        }
        wait.max(floor)
    }
}

/// What a run of the first second's frames, which the floor at answer hid,
/// needs to start a greeting ([`answer`]): what a greeting's first run
/// needs, on a quiet line (none is looked for once ringing was heard: the
/// line was not answered yet).
fn answer_rule(cfg: &AmdConfig, min_talker_db: f32) -> answer::RunRule {
    answer::RunRule {
        margin_db: cfg.vad_margin_db,
        min_frames: CONFIRM_FRAMES,
        onset_frames: ONSET_FRAMES,
        min_swing_db: GREETING_SWING_DB,
        min_peak_db: min_talker_db,
        min_clearance_db: ANSWER_CLEARANCE_DB,
        max_start: ANSWER_TALK_START_FRAMES,
        max_quiet_frames: ANSWER_QUIET_FRAMES,
    }
}

/// How far talk heard from the moment of answer must stand over the floor
/// found after it to start a greeting there, dB: only a quiet line shows
/// that it was the talker (babble at answer swings 10-15 dB over its own
/// troughs).
const ANSWER_CLEARANCE_DB: f32 = 25.0;

/// Talk heard from the moment of answer starts within this many frames of
/// it (one 10 ms frame of the onset's rise either side of the first).
const ANSWER_TALK_START_FRAMES: u32 = 2;

/// The floor that shows talk at answer for what it was falls within this
/// many frames of its end (300 ms): the line went quiet as the talker
/// stopped.
const ANSWER_QUIET_FRAMES: u32 = 30;
