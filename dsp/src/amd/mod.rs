//! Answering-machine detection: decides `human` or `machine` as early as the
//! audio allows, from feature blocks only (the FPGA backend serves them too).
//!
//! A noise-adaptive voice activity detector ([`vad`]) turns 10 ms frames into
//! speech and silence; a small state machine over the greeting decides:
//!
//! - **human**: the greeting stopped and the line stayed quiet for a while
//!   (a live person says "Hello?" and waits for the caller), and the beep
//!   detector has no beep on its way ([`AmdDetector::note_beep_in_flight`]:
//!   a beep the VAD read as speech ends in what looks like that silence). The wait
//!   needed grows with the greeting's length (a 4 s receptionist greeting
//!   gets more patience than "Hello?"), so short greetings are decided
//!   within half a second of their end. A "greeting" whose level never
//!   swung as a voice does (a busy tone that the line's noise hid from the
//!   VAD's tone test), or whose loudest frame never stood 15 dB over the
//!   noise floor (background talk before anyone spoke: babble sets its
//!   own floor), is no greeting: it is dropped and the analysis time
//!   starts after it. A ring-back's beating pair of tones (US, UK), which
//!   the VAD's 10 ms test reads as speech, is marked by its 100 ms test
//!   ([`vad::VadFrame::call_progress`]): no voice, and a "greeting" that
//!   began with it is dropped. Speech whose loudest frame is
//!   far below the greeting's ([`AmdConfig::talker_range_db`]) is other
//!   voices (babble, a television), not the talker going on; and a voice
//!   that far louder than all the "greeting" before it is the talker at
//!   last, so the greeting starts with it (babble on the line had made a
//!   3.4 s live greeting "longer than any live greeting").
//! - **machine**: the speaker paused the way one does between sentences (a
//!   pause that a syllable at the talker's level, too short to confirm as
//!   speech, does not split) and went on, with a run whose level swings like speech (a recorded
//!   greeting reads several sentences without waiting for an answer; a
//!   tone that coloured noise made read as speech stays at one level); or
//!   spoke without stopping for longer than any live greeting; or a steady
//!   tone standing clear of the noise (a beep, not a held vowel) followed
//!   the greeting, or the beep detector reported one
//!   ([`AmdDetector::note_beep`]); or the greeting said "message", "tone"
//!   or "beep" the way voicemail greetings do ([`keyword`], a small
//!   trained spotter, heeded only on a greeting well above the noise
//!   floor): the one cue of a short machine greeting without a beep
//!   ("Leave a message." and a wait, which timing alone cannot tell from
//!   "Hello?" and a wait).
//! - A tone after the greeting at the frequency of the call-progress tone
//!   heard before it is that ring-back going on: the "greeting" was the
//!   room's talk between its bursts, and is dropped.
//! - **unknown**: no speech at all within the maximum analysis time.
//!
//! Every decision uses past audio only: its `at` is the end of the block
//! that decided, and the same audio cut there gives the same verdict.
use crate::beep::{CALL_WAITING_MAX_MS, RECORDER_WARNING_MAX_MS};
use crate::features::{FeatureBlock, BLOCK_LEN, SAMPLE_RATE};
use std::ops::ControlFlow;

mod answer;
mod config;
pub mod keyword;
mod keyword_model;
pub mod thresholds;
pub mod vad;
use answer::AnswerLevels;
use config::Limits;
pub use config::{AmdConfig, AmdConfigError};
use keyword::KeywordSpotter;
use vad::{Framer, Vad, VadFrame};

/// Frame length in ms.
const FRAME_MS: u32 = 10;

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
    /// Which rule decided: `greeting-then-silence`, `multi-sentence`,
    /// `long-greeting`, `tone-after-greeting`, `beep`, `voicemail-phrase`, `no-speech`,
    /// `max-analysis-time`.
    pub cause: &'static str,
    /// 0..1, how sure the rule is.
    pub confidence: f32,
}

/// Frames after the decision for which the talker's speech is still
/// tracked (see [`AmdDetector::track_after_decision`]): a beep after a
/// "human" verdict comes within a few seconds of it, when AMD was wrong.
const TRACK_AFTER_DECISION_FRAMES: u32 = 10_000 / FRAME_MS;

/// Frames of consecutive speech that confirm speech: long enough for the
/// VAD to have recognised a steady tone (which then is not speech).
const CONFIRM_FRAMES: u32 = vad::TONE_DELAY_FRAMES as u32 + 1;

/// Most tone frames in a row that carry a run of speech on before a
/// greeting (see [`AmdDetector::track_frame`]): fewer than the shortest
/// beep (120 ms) shows once the VAD knows it for a tone.
const MAX_VOWEL_TONE_FRAMES: u32 = 120 / FRAME_MS - vad::TONE_DELAY_FRAMES as u32 - 1;

/// A run of speech that a frame ended: its frames (0: none ended) and its
/// loudest and quietest levels, dB (the quietest past its onset frames).
#[derive(Debug, Clone, Copy)]
struct EndedRun {
    frames: u32,
    peak_db: f32,
    low_db: f32,
}

impl Default for EndedRun {
    fn default() -> Self {
        EndedRun {
            frames: 0,
            peak_db: f32::MIN,
            low_db: f32::MAX,
        }
    }
}

/// A run of frames and the span of their levels.
#[derive(Debug, Clone, Copy)]
struct LevelRun {
    /// Frames in the run.
    frames: u32,
    /// Their quietest and loudest levels, dB.
    low_db: f32,
    high_db: f32,
}

impl Default for LevelRun {
    fn default() -> Self {
        LevelRun {
            frames: 0,
            low_db: f32::MAX,
            high_db: f32::MIN,
        }
    }
}

impl LevelRun {
    /// Adds a frame at `level_db`.
    fn push(&mut self, level_db: f32) {
        self.frames += 1;
        self.low_db = self.low_db.min(level_db);
        self.high_db = self.high_db.max(level_db);
    }

    /// Whether the run held one level (within [`STEADY_SOUND_RANGE_DB`]),
    /// as a tone does: speech and babble swing by more.
    fn holds_one_level(&self) -> bool {
        self.high_db - self.low_db <= STEADY_SOUND_RANGE_DB
    }
}

/// A run of tone frames before any greeting.
#[derive(Debug, Clone, Copy, Default)]
struct PreTone {
    /// Its frames and their levels.
    run: LevelRun,
    /// Sum of their frequencies, Hz.
    hz_sum: f32,
    /// Sum of their levels, dB.
    level_sum: f32,
    /// Whether the VAD's call-progress test marked any of them.
    marked: bool,
}

impl PreTone {
    /// Whether the run may be a ring-back or busy burst: the VAD's
    /// call-progress test marked it, or it held one level. A held vowel at
    /// answer ("Uh, hello?") reads as a tone too, but swells as it starts;
    /// taken for the ring-back, its frequency in the greeting after it
    /// dropped that greeting as talk between bursts.
    fn is_ringing(&self) -> bool {
        self.marked || self.run.holds_one_level()
    }
}

/// A call-progress tone as heard: its mean frequency and level.
#[derive(Debug, Clone, Copy)]
struct HeardTone {
    hz: f32,
    level_db: f32,
}

/// Where the greeting stands.
#[derive(Debug, Clone, Copy)]
struct Greeting {
    /// Frame at which it started.
    start: u32,
    /// Last frame of confirmed speech.
    last_speech: u32,
    /// Last frame of a steady tone after the greeting started.
    last_tone: Option<u32>,
    /// `last_tone` before the current run of tone began.
    tone_before: Option<u32>,
    /// Consecutive tone frames up to `last_tone`.
    tone_frames: u32,
    /// Sum of those frames' tone frequencies, Hz (one 30 ms estimate
    /// scatters by a few percent; their mean does not).
    tone_hz_sum: f32,
    /// Sum of those frames' tone-to-rest ratios, dB.
    tone_snr_sum: f32,
    /// Sum of those frames' levels, dB.
    tone_level_sum: f32,
    /// Loudest frame of the greeting's speech, dB: the talker's level.
    peak_db: f32,
    /// `peak_db` before the talker's current run of speech...
    base_db: f32,
    /// ...and the frame at which that run started.
    run_start: u32,
    /// The current run of speech came after a sentence pause: it makes a
    /// second sentence once its level swings like speech.
    after_break: bool,
    /// The frame at which a run after a sentence pause first made a
    /// second sentence, and the tone frames since: the verdict
    /// waits [`SECOND_SENTENCE_WAIT_FRAMES`] for the frames that lifted
    /// it to turn out a tone's onset.
    second_sentence: Option<(u32, u32)>,
    /// The largest swing in level of any of its runs so far, dB.
    swing_db: f32,
    /// The last run of speech too short to confirm, at the talker's level
    /// (first and last frame): a weak syllable, which splits a pause.
    syllable: Option<(u32, u32)>,
    /// The last frame of the last such run that was no DTMF digit and no
    /// tone's onset: a short word in noise, so the talker is still talking.
    last_word: Option<u32>,
    /// The spotter's best score during the greeting and just after it.
    phrase_peak: f32,
}

impl Greeting {
    /// A greeting whose first run of speech (from frame `start`, confirmed
    /// at `frame`) peaked at `peak_db` and swung `swing_db`.
    fn starting(start: u32, frame: u32, peak_db: f32, swing_db: f32) -> Greeting {
        Greeting {
            start,
            last_speech: frame,
            last_tone: None,
            tone_before: None,
            tone_frames: 0,
            tone_hz_sum: 0.0,
            tone_snr_sum: 0.0,
            tone_level_sum: 0.0,
            peak_db,
            base_db: peak_db,
            run_start: start,
            after_break: false,
            second_sentence: None,
            swing_db,
            syllable: None,
            last_word: None,
            phrase_peak: 0.0,
        }
    }

    /// Whether sound peaking at `level_db` is as loud as the talker
    /// (within [`AmdConfig::talker_range_db`] of the greeting's loudest
    /// frame); anything quieter is background (babble, a television).
    fn at_talker_level(&self, level_db: f32, l: &Limits) -> bool {
        level_db >= self.peak_db - l.talker_range_db
    }

    /// Notes the spotter's `score` of the greeting, which stands
    /// `clearance_db` over the noise floor; returns whether the score
    /// means "machine" (`needed` or more, heeded only once the greeting
    /// stands [`AmdConfig::voicemail_phrase_min_snr_db`] over the floor:
    /// babble before the talker can fire it). Any score counts towards
    /// the maybe that waits for a beep, which costs only latency: a short
    /// greeting in 12 dB noise ("Talk after the tone.") waits too.
    fn note_phrase(&mut self, score: f32, clearance_db: f32, needed: f32, l: &Limits) -> bool {
        self.phrase_peak = self.phrase_peak.max(score);
        clearance_db >= l.voicemail_phrase_min_snr_db && score >= needed
    }
}

/// Streaming AMD for one channel: feed it the channel's feature blocks from
/// the moment of answer.
pub struct AmdDetector {
    cfg: AmdConfig,
    limits: Limits,
    vad: Vad,
    blocks: u64,
    framer: Framer,
    keyword: KeywordSpotter,
    /// Whether the spotter heard a voicemail phrase during the greeting.
    phrase_heard: bool,
    /// One bit per recent block: whether it looked like DTMF.
    dtmf_history: u32,
    frames: u32,
    /// Frame from which the maximum analysis time runs: after the last
    /// call-progress tone (ring-back heard before anyone spoke).
    clock_start: u32,
    speech_run: u32,
    /// Tone frames in a row, up to the last, that carried a run of speech
    /// on as a vowel held steady (see [`AmdDetector::track_frame`]).
    vowel_frames: u32,
    /// One bit per recent frame, newest in bit 0: whether the VAD called
    /// it speech.
    speech_history: u64,
    /// Loudest frame of the current speech run, dB.
    run_peak_db: f32,
    /// Quietest frame of the current speech run after its onset, dB.
    run_low_db: f32,
    /// The talker's recent runs of speech, `(first, last)` frames, oldest
    /// first (for placing a beep against the greeting).
    runs: [(u32, u32); RUNS],
    greeting: Option<Greeting>,
    /// The current run of tone before any greeting.
    pre_tone: PreTone,
    /// The last call-progress tone (ring-back, busy) heard before a
    /// greeting: the same tone after "speech" means the line is still
    /// ringing and the speech was not a greeting.
    call_progress: Option<HeardTone>,
    /// Last frame of a call-progress tone (marked by the VAD, or a tone at
    /// `call_progress`'s frequency): a run of "speech" that began before
    /// [`RINGING_HOLD_FRAMES`] after it is that tone's burst going on
    /// (babble broke its marks), not a greeting.
    last_ringing: Option<u32>,
    /// Frames of the current run of call-progress marks that the frame
    /// test does not take for one tone: a beating pair, unless...
    pair_frames: u32,
    /// ...the frame test took a frame of the run for one tone: a single
    /// tone (call waiting) whose frame test babble breaks now and then,
    /// where a pair's beat never passes it.
    pair_broken: bool,
    /// The current run of sound before any greeting (frames over the floor
    /// by the VAD's hold margin, speech or not). A long run at one level
    /// is a tone that the line's noise hid from the tone tests (a
    /// ring-back 8 dB over white noise).
    steady: LevelRun,
    pending_beep: bool,
    /// The beep detector may report a beep soon: no "human" verdict yet.
    beep_in_flight: bool,
    /// A tone that may be a beep is sounding ([`Self::note_tone_sounding`]).
    tone_sounding: bool,
    pending_sit: bool,
    decided: bool,
    /// Frame at which the decision was made.
    decided_frame: u32,
    /// First frame of the talker's latest run of speech that began after
    /// the decision.
    talk_after_decision: Option<u32>,
    verdict: Option<AmdVerdict>,
    /// The VAD's noise floor at the last frame, dB.
    floor_db: f32,
    /// The first second's levels, for a greeting spoken from the moment
    /// of answer.
    answer: AnswerLevels,
}

impl AmdDetector {
    /// A detector with the given parameters.
    pub fn new(cfg: AmdConfig) -> Self {
        Self {
            limits: Limits::new(&cfg),
            vad: Self::vad_for(&cfg),
            cfg,
            blocks: 0,
            framer: Framer::default(),
            keyword: KeywordSpotter::default(),
            phrase_heard: false,
            dtmf_history: 0,
            frames: 0,
            clock_start: 0,
            speech_run: 0,
            speech_history: 0,
            vowel_frames: 0,
            run_peak_db: f32::MIN,
            run_low_db: f32::MAX,
            runs: [(u32::MAX, u32::MAX); RUNS],
            greeting: None,
            pre_tone: PreTone::default(),
            call_progress: None,
            last_ringing: None,
            pair_frames: 0,
            pair_broken: false,
            steady: LevelRun::default(),
            pending_beep: false,
            beep_in_flight: false,
            tone_sounding: false,
            pending_sit: false,
            decided: false,
            decided_frame: 0,
            talk_after_decision: None,
            verdict: None,
            floor_db: 0.0,
            answer: AnswerLevels::default(),
        }
    }

    /// The voice activity detector this configuration uses (for traces).
    pub fn vad_for(cfg: &AmdConfig) -> Vad {
        Vad::new(cfg.vad_margin_db, MIN_SPEECH_DB).with_hold(cfg.vad_hold_db)
    }

    /// The parameters in use.
    pub fn config(&self) -> &AmdConfig {
        &self.cfg
    }

    /// Whether the one decision has been made.
    pub fn is_decided(&self) -> bool {
        self.decided
    }

    /// The verdict, once decided.
    pub fn verdict(&self) -> Option<AmdVerdict> {
        self.verdict
    }

    /// Whether the detector still follows the talker: undecided, or within
    /// the 10 s after its decision in which it tells a voicemail beep from
    /// a tone with talk after it ([`Self::note_beep`]).
    pub fn is_tracking(&self) -> bool {
        !self.decided || self.frames < self.decided_frame + TRACK_AFTER_DECISION_FRAMES
    }

    /// Whether speech (a greeting) has been heard so far.
    pub fn has_heard_speech(&self) -> bool {
        self.greeting.is_some()
    }

    /// Consumes the next block; returns the decision when it is made (once).
    pub fn push(&mut self, block: &FeatureBlock) -> Option<AmdDecision> {
        self.blocks += 1;
        if self.decided {
            self.track_after_decision(block);
            return None;
        }
        self.dtmf_history = (self.dtmf_history << 1) | block.looks_like_dtmf() as u32;
        // the spotter listens only to a greeting's speech and the moment
        // after it, where a keyword ends (scoring costs about as much as the
        // rest of the detector)
        if self.keyword.push(block) && self.speech_history & PHRASE_AFTER_SPEECH_MASK != 0 {
            if let (Some(g), Some(needed)) =
                (self.greeting.as_mut(), self.limits.voicemail_phrase_score)
            {
                let clearance_db = g.peak_db - self.floor_db;
                self.phrase_heard |=
                    g.note_phrase(self.keyword.score(), clearance_db, needed, &self.limits);
            }
        }
        let (frame, vad) = self.next_frame(block)?;
        let decision = self.on_frame(frame, vad);
        if let Some(d) = &decision {
            self.decided = true;
            self.decided_frame = frame;
            self.verdict = Some(d.verdict);
        }
        decision
    }

    /// After the decision, and for [`TRACK_AFTER_DECISION_FRAMES`], goes on
    /// noting where the talker's runs of speech start (nothing else), so
    /// that [`Self::note_beep`] still sees talk after a tone: a vowel held
    /// in a live caller's next words, or a tone under them, is no beep.
    fn track_after_decision(&mut self, block: &FeatureBlock) {
        if self.frames >= self.decided_frame + TRACK_AFTER_DECISION_FRAMES {
            return;
        }
        let Some((frame, vad)) = self.next_frame(block) else {
            return;
        };
        let speech = self.is_talker_speech(&vad);
        self.advance_speech_run(speech, vad.level_db);
        let Some(g) = &self.greeting else { return };
        if self.speech_run >= CONFIRM_FRAMES && g.at_talker_level(self.run_peak_db, &self.limits) {
            self.talk_after_decision = Some(frame + 1 - self.speech_run);
        }
    }

    /// The next 10 ms frame's index and voice activity, once `block`
    /// completes one.
    fn next_frame(&mut self, block: &FeatureBlock) -> Option<(u32, VadFrame)> {
        let frame_features = self.framer.push(block)?;
        let frame = self.frames;
        self.frames += 1;
        let vad = self.vad.push_frame(frame_features);
        self.floor_db = vad.floor_db;
        Some((frame, vad))
    }

    /// Whether `vad`'s frame is the talker's speech: a run of a greeting's
    /// speech carries on through held frames (before a greeting they start
    /// nothing: babble, unrecognised tones), and a call-progress tone (a
    /// ring-back's beating pair) is no voice.
    fn is_talker_speech(&self, vad: &VadFrame) -> bool {
        (vad.speech || (vad.held && self.speech_run > 0 && self.greeting.is_some()))
            && !vad.call_progress
    }

    /// Extends the current run of speech by a frame at `level_db`, or ends
    /// it.
    fn advance_speech_run(&mut self, speech: bool, level_db: f32) {
        self.speech_run = if speech { self.speech_run + 1 } else { 0 };
        self.speech_history = (self.speech_history << 1) | speech as u64;
        self.run_peak_db = if speech {
            self.run_peak_db.max(level_db)
        } else {
            f32::MIN
        };
    }

    /// Tells the detector a beep was heard from sample `start` to `end`;
    /// returns whether it counts as a voicemail beep: it follows the
    /// greeting (after a gap) and no speech follows it. If undecided, such
    /// a beep means "machine" at the next block. A beep that overlaps the
    /// greeting is a held vowel, and one with speech after it a tone in a
    /// conversation: neither is a voicemail prompt. "Speech" that starts
    /// with the beep is the beep itself (a tone in coloured noise can read
    /// as speech to the VAD).
    pub fn note_beep(&mut self, start: u64, end: u64) -> bool {
        if self.greeting.is_none() {
            return false;
        }
        let frame_samples = FRAME_MS as u64 * SAMPLE_RATE as u64 / 1000;
        let (first, last) = (start / frame_samples, end.div_ceil(frame_samples));
        let slack = BEEP_RUN_SLACK_FRAMES;
        let mut greeting_before = false;
        let mut follows_greeting = true;
        for &(a, b) in self.runs.iter().filter(|r| r.0 != u32::MAX) {
            let (a, b) = (a as u64, b as u64);
            if a + slack < first {
                // the greeting: it must have ended before the beep
                greeting_before = true;
                let speech_end = (b + 1) * frame_samples;
                follows_greeting &= speech_end + BEEP_GAP_SAMPLES <= start;
            } else if a > last + slack {
                follows_greeting = false; // talk after the tone
            }
        }
        // the talker spoke again after the tone (noted after the decision)
        if self
            .talk_after_decision
            .is_some_and(|a| a as u64 > last + slack)
        {
            follows_greeting = false;
        }
        let follows_greeting = follows_greeting && greeting_before;
        if follows_greeting && !self.decided {
            self.pending_beep = true;
        }
        follows_greeting
    }

    /// Tells the detector whether the beep detector may report a beep soon
    /// ([`crate::beep::BeepDetector::beep_in_flight`]): while it may, the
    /// silence after a greeting does not yet mean "human" (a beep that the
    /// VAD read as speech ends, and its report comes after a hold-off).
    pub fn note_beep_in_flight(&mut self, in_flight: bool) {
        self.beep_in_flight = in_flight;
    }

    /// Tells the detector whether a tone that may yet be a beep is sounding
    /// ([`crate::beep::BeepDetector::tone_sounding`]): while one is, the
    /// silence after a greeting does not yet mean "human" (a beep the VAD
    /// reads as silence, whose report comes only after it ends).
    ///
    /// Only the "human" verdict waits: a "greeting" that was no voice is
    /// still dropped when its silence runs out.
    pub fn note_tone_sounding(&mut self, sounding: bool) {
        self.tone_sounding = sounding;
    }

    /// Tells the detector a special information tone sequence was heard (a
    /// carrier intercept: "number not in service"): if undecided, that
    /// means "machine" at the next block, whatever the announcement after it.
    pub fn note_sit(&mut self) {
        if !self.decided {
            self.pending_sit = true;
        }
    }

    /// Ends the stream: the decision, if none was made yet.
    pub fn finish(&mut self) -> Option<AmdDecision> {
        if self.decided {
            return None;
        }
        self.decided = true;
        self.verdict = Some(AmdVerdict::Unknown);
        Some(match self.greeting {
            None => self.decision(AmdVerdict::Unknown, "no-speech", 0.5),
            Some(_) => self.decision(AmdVerdict::Unknown, "end-of-stream", 0.3),
        })
    }

    fn decision(&self, verdict: AmdVerdict, cause: &'static str, confidence: f32) -> AmdDecision {
        AmdDecision {
            verdict,
            at: self.blocks * BLOCK_LEN as u64,
            cause,
            confidence,
        }
    }

    /// Records that the talker spoke from frame `start` (the run's first
    /// confirmed start) through `frame`.
    fn note_run(runs: &mut [(u32, u32); RUNS], start: u32, frame: u32) {
        let newest = runs[RUNS - 1];
        if newest.0 != u32::MAX && start <= newest.1 + 1 {
            runs[RUNS - 1].1 = frame;
        } else {
            runs.rotate_left(1);
            runs[RUNS - 1] = (start, frame);
        }
    }

    /// Counts a frame of tone before any greeting (`marked`: by the VAD's
    /// call-progress test, not only as a tone); a run of
    /// [`CALL_PROGRESS_FRAMES`] is a call-progress tone, whose frequency is
    /// remembered, when a frame of it was marked or its level held steady.
    fn note_call_progress(&mut self, hz: f32, level_db: f32, marked: bool) {
        let t = &mut self.pre_tone;
        t.run.push(level_db);
        t.hz_sum += hz;
        t.level_sum += level_db;
        t.marked |= marked;
        if t.run.frames >= CALL_PROGRESS_FRAMES && t.is_ringing() {
            let n = t.run.frames as f32;
            self.call_progress = Some(HeardTone {
                hz: t.hz_sum / n,
                level_db: t.level_sum / n,
            });
        }
    }

    /// Whether the call-progress tone at `frame` (marked by the VAD, or,
    /// `at_known_hz`, a tone at the one heard before) means the line is
    /// still ringing, so greeting `g` was none: it started with the tone
    /// (whose first frames read as speech) or right after one of its
    /// bursts (which babble broke into pieces), or the tone is the one
    /// heard before the greeting (ring-back going on after talk between
    /// its bursts), or it is a beating pair (ring-back or busy: nobody
    /// talks on such a line). A single tone after a greeting is a voice's
    /// line signalling (call waiting) or a beep, and only silence here;
    /// a marked tone [`AmdConfig::talker_range_db`] or more under the
    /// greeting's loudest frame is background talk, and silence too.
    fn is_ringing(&self, frame: u32, g: Greeting, vad: &VadFrame, at_known_hz: bool) -> bool {
        let after_ring = self
            .last_ringing
            .is_some_and(|r| (r..=r + RINGING_HOLD_FRAMES + CONFIRM_FRAMES).contains(&g.start));
        if !vad.call_progress {
            return at_known_hz && after_ring;
        }
        if !g.at_talker_level(vad.level_db, &self.limits) {
            // as far under the greeting as background talk: babble that
            // the 100 ms test marked, which says nothing of the line
            return false;
        }
        let tone_start = (frame + 1).saturating_sub(vad::CALL_PROGRESS_SPAN_FRAMES as u32);
        // a beating pair (no single tone: not call waiting, not a beep,
        // whose last frame may fall out of the frame test)
        let pair = self.pair_frames >= PAIR_FRAMES && !self.pair_broken;
        pair || after_ring
            || g.start + RINGING_START_SLACK_FRAMES >= tone_start
            || self
                .call_progress
                .is_some_and(|t| same_tone(vad.call_progress_hz, t.hz))
    }

    /// Whether the sound before any greeting has held one level (within
    /// [`STEADY_SOUND_RANGE_DB`]) for [`STEADY_SOUND_FRAMES`] or more: a
    /// call-progress tone the tone tests missed in noise.
    fn is_steady_sound(&self) -> bool {
        self.steady.frames >= STEADY_SOUND_FRAMES && self.steady.holds_one_level()
    }

    /// The rules, once per 10 ms frame.
    fn on_frame(&mut self, frame: u32, vad: VadFrame) -> Option<AmdDecision> {
        if let Some(d) = self.decision_pending() {
            return Some(d);
        }
        let (vad, ended) = self.track_frame(frame, vad);
        if self.greeting.is_none() {
            self.await_greeting(frame, &vad)
        } else {
            self.follow_greeting(frame, &vad, ended)
        }
    }

    /// A decision already due from what was noted between frames: a beep,
    /// a special information tone, a voicemail phrase.
    fn decision_pending(&self) -> Option<AmdDecision> {
        if self.pending_beep {
            return Some(self.decision(AmdVerdict::Machine, "beep", 0.95));
        }
        if self.pending_sit {
            return Some(self.decision(AmdVerdict::Machine, "sit", 0.95));
        }
        if self.phrase_heard {
            return Some(self.decision(AmdVerdict::Machine, "voicemail-phrase", 0.9));
        }
        None
    }

    /// Brings the per-frame state up to date with `vad`: the levels since
    /// answer, the runs of speech and of one level, and call-progress
    /// tones (a ringing line drops its "greeting"). Returns the frame with
    /// `speech` meaning the talker's speech, and the run of speech the
    /// frame ended (none: 0 frames).
    fn track_frame(&mut self, frame: u32, vad: VadFrame) -> (VadFrame, EndedRun) {
        self.answer.push(
            vad.level_db,
            !vad.tone && !vad.call_progress && vad.level_db >= MIN_SPEECH_DB,
        );
        let speech = self.is_talker_speech(&vad);
        if self.greeting.is_none() && (vad.held || vad.speech) {
            self.steady.push(vad.level_db);
        } else {
            self.steady = LevelRun::default();
        }
        let vad = VadFrame { speech, ..vad };
        // before any greeting, tone frames right after speech, fewer than
        // the shortest beep shows, are the talker's vowel held steady for
        // a moment, however clear of the rest (9.4-12.9 dB): they carry the
        // run on ("Mark" in white noise 13 dB under it read speech, tone,
        // speech, tone, speech, or 6 frames of speech, 4 of tone and 4 of
        // speech, and no run was long enough to start a greeting); a beep
        // outlasts them and ends the run as before
        let vowel = self.greeting.is_none()
            && !speech
            && vad.tone
            && self.speech_run > 0
            && self.vowel_frames < MAX_VOWEL_TONE_FRAMES;
        self.vowel_frames = if vowel { self.vowel_frames + 1 } else { 0 };
        // the run of speech that this frame ended, if any
        let ended = if speech || vowel {
            EndedRun::default()
        } else {
            EndedRun {
                frames: self.speech_run,
                peak_db: self.run_peak_db,
                low_db: self.run_low_db,
            }
        };
        if vowel {
            // the run carries on through the held vowel, which adds no
            // frames to it: speech is confirmed by speech
            self.speech_history <<= 1;
        } else {
            self.advance_speech_run(speech, vad.level_db);
        }
        self.run_low_db = match self.speech_run {
            0 => f32::MAX,
            r if r > ONSET_FRAMES => self.run_low_db.min(vad.level_db),
            _ => self.run_low_db,
        };
        if !vad.tone && !vad.call_progress {
            self.pre_tone = PreTone::default();
        }
        let ringing_tone = vad.tone
            && vad::in_call_progress_band(vad.tone_hz)
            && self
                .call_progress
                .is_some_and(|t| same_tone(vad.tone_hz, t.hz));
        (self.pair_frames, self.pair_broken) = match (vad.call_progress, vad.tone) {
            (false, _) => (0, false),
            (true, true) => (self.pair_frames, true),
            (true, false) => (self.pair_frames + 1, self.pair_broken),
        };
        if vad.call_progress || ringing_tone {
            let ringing = self
                .greeting
                .is_none_or(|g| self.is_ringing(frame, g, &vad, ringing_tone));
            if ringing {
                // the "greeting" was the ring-back's first 200 ms (before
                // its 100 ms windows could agree) or talk between its
                // bursts: the line is still ringing
                self.greeting = None;
                self.runs = [(u32::MAX, u32::MAX); RUNS];
                self.last_ringing = Some(frame);
                if vad.call_progress {
                    // 190 ms steady: a call-progress tone, whose return
                    // (its next burst, read as a tone or not) drops what
                    // came between
                    self.call_progress = Some(HeardTone {
                        hz: vad.call_progress_hz,
                        level_db: vad.level_db,
                    });
                }
            }
        }
        (vad, ended)
    }

    /// Before any greeting: starts one on a confirmed run of speech (or on
    /// talk under way at answer), restarts the analysis clock while the
    /// line still rings, and gives up when the analysis time has run out.
    fn await_greeting(&mut self, frame: u32, vad: &VadFrame) -> Option<AmdDecision> {
        let l = &self.limits;
        let confirmed = self.speech_run >= CONFIRM_FRAMES;
        // a greeting swells and fades from syllable to syllable; a
        // run of "speech" at one level is a tone the VAD has not
        // recognised (a ring-back's beating pair)
        let run_start = frame + 1 - self.speech_run;
        let after_ringing = self
            .last_ringing
            .is_none_or(|r| run_start > r + RINGING_HOLD_FRAMES);
        if confirmed
            && after_ringing
            && self.run_peak_db - self.run_low_db >= GREETING_SWING_DB
            && self.run_peak_db >= l.min_talker_db
        {
            let start = frame + 1 - CONFIRM_FRAMES;
            self.greeting = Some(Greeting::starting(
                start,
                frame,
                self.run_peak_db,
                self.run_peak_db - self.run_low_db,
            ));
            Self::note_run(&mut self.runs, start, frame);
        } else if let Some(run) = self
            .last_ringing
            .is_none()
            .then(|| {
                self.answer
                    .speech_under(frame, vad.floor_db, &l.answer_rule)
            })
            .flatten()
        {
            // talk from the moment of answer, which the floor of
            // its moment hid ([`answer`])
            self.greeting = Some(Greeting::starting(
                run.start,
                run.end,
                run.peak_db,
                run.swing_db,
            ));
            Self::note_run(&mut self.runs, run.start, run.end);
        } else if (vad.tone || vad.call_progress) && l.may_restart_clock(frame) {
            // ring-back still playing: the call is not answered
            // in earnest yet, the analysis time starts after it
            self.clock_start = frame + 1;
            let hz = if vad.call_progress {
                vad.call_progress_hz
            } else {
                vad.tone_hz
            };
            self.note_call_progress(hz, vad.level_db, vad.call_progress);
        } else if self.is_steady_sound() && l.may_restart_clock(frame) {
            // a tone all the same (its frequency unknown)
            self.clock_start = frame + 1;
        } else if frame + 1 - self.clock_start >= l.max_frames {
            return Some(self.decision(AmdVerdict::Unknown, "no-speech", 0.5));
        }
        None
    }

    /// During and after the greeting: follows tones, the talker's runs of
    /// speech and the silence after them, until one of them decides.
    fn follow_greeting(
        &mut self,
        frame: u32,
        vad: &VadFrame,
        ended: EndedRun,
    ) -> Option<AmdDecision> {
        let g = self.greeting.as_mut()?;
        if self.speech_run == 0 {
            g.after_break = false;
        }
        // DTMF keyed after a greeting is a person at the keypad:
        // neither a beep nor the talker going on, and the silence
        // that means "human" runs on through it
        let dtmf = (self.dtmf_history & 0xFF_FFFF).count_ones() >= 12;
        let keying = (self.dtmf_history & 0xF).count_ones() >= 2;
        if let ControlFlow::Break(d) = self.follow_tone(frame, vad, dtmf, keying) {
            return d;
        }
        if let ControlFlow::Break(d) = self.confirm_second_sentence(frame, vad, dtmf) {
            return d;
        }
        let l = &self.limits;
        let confirmed = self.speech_run >= CONFIRM_FRAMES;
        let g = self.greeting.as_mut()?;
        // speech far below the greeting's level is another voice
        // (babble, a television), not the talker going on
        if (1..CONFIRM_FRAMES).contains(&ended.frames) && g.at_talker_level(ended.peak_db, l) {
            g.syllable = Some((frame - ended.frames, frame - 1));
            // (not a DTMF digit, nor a tone's first frames, read
            // as speech until the tone test knew them)
            if !dtmf && !keying && !vad.tone {
                g.last_word = Some(frame - 1);
                // its rise and fall is the voice's as much as a
                // confirmed run's ("Mark" in white noise: one run
                // of 8 frames swinging 2.9 dB, then its vowel read
                // as a tone, then syllables falling 10 dB)
                g.swing_db = g.swing_db.max(ended.peak_db - ended.low_db);
            }
        }
        let talker = confirmed && !keying && g.at_talker_level(self.run_peak_db, l);
        let step = if talker {
            self.follow_talker(frame, vad)
        } else if !vad.speech || confirmed {
            self.judge_silence(frame, vad)
        } else {
            ControlFlow::Continue(())
        };
        if let ControlFlow::Break(d) = step {
            return d;
        }
        self.out_of_time(frame)
    }

    /// A tone during or after the greeting: a steady one after it, clear
    /// of the talker, is a voicemail beep; a live call's signalling tone
    /// that did not outlast its signature is the line's; the ring-back
    /// heard before, going on, was no greeting. `dtmf`: half of the last
    /// 120 ms of blocks looked like DTMF; `keying`: two of the last four.
    fn follow_tone(
        &mut self,
        frame: u32,
        vad: &VadFrame,
        dtmf: bool,
        keying: bool,
    ) -> ControlFlow<Option<AmdDecision>> {
        let l = &self.limits;
        let Some(g) = self.greeting.as_mut() else {
            return ControlFlow::Continue(());
        };
        let tone_going_on = g.last_tone == Some(frame.wrapping_sub(1));
        if tone_going_on && !vad.tone && g.tone_frames > 0 {
            // a tone just ended: one with a live call's signalling
            // signature that did not outlast it (the recorder
            // warning, call waiting) is the line's, not a beep,
            // and does not restart the silence after the greeting
            // (after a greeting long enough to be one: a tenth of a
            // second of babble and the tone's own first frames,
            // read as speech, are no greeting to be silent after)
            let hz = g.tone_hz_sum / g.tone_frames as f32;
            let needed = signalling_tone_frames(hz);
            if needed > 0
                && g.tone_frames + (vad::TONE_DELAY_FRAMES as u32) < needed
                && g.last_speech + 1 - g.start >= MIN_GREETING_BEFORE_BEEP_FRAMES
            {
                g.last_tone = g.tone_before;
            }
        }
        // a "tone" far below the greeting (a vowel of babble held
        // for a few frames) is background, as such speech is
        let audible_tone = vad.level_db >= g.peak_db - TONE_RANGE_DB;
        if vad.tone && !dtmf && !keying && audible_tone {
            // A steady tone after the greeting is a voicemail beep
            // (the beep detector confirms its frequency and length
            // later; the verdict needs only that it is a tone).
            if !tone_going_on {
                g.tone_before = g.last_tone;
            }
            (
                g.tone_frames,
                g.tone_hz_sum,
                g.tone_snr_sum,
                g.tone_level_sum,
            ) = if tone_going_on {
                (
                    g.tone_frames + 1,
                    g.tone_hz_sum + vad.tone_hz,
                    g.tone_snr_sum + vad.tone_snr_db,
                    g.tone_level_sum + vad.level_db,
                )
            } else {
                (1, vad.tone_hz, vad.tone_snr_db, vad.level_db)
            };
            g.last_tone = Some(frame);
            let tone_start =
                (frame + 1).saturating_sub(g.tone_frames + vad::TONE_DELAY_FRAMES as u32);
            // a live call's signalling tone (call waiting, recorder
            // warning) counts only once it outlasts its signature
            let hz = g.tone_hz_sum / g.tone_frames as f32;
            let level_db = g.tone_level_sum / g.tone_frames as f32;
            let clear = g.tone_snr_sum / g.tone_frames as f32 >= l.tone_after_greeting_snr_db;
            if g.tone_frames >= CALL_PROGRESS_MATCH_FRAMES
                && l.may_restart_clock(frame)
                && clear
                && self.call_progress.is_some_and(|t| {
                    same_tone(hz, t.hz) && (level_db - t.level_db).abs() <= RINGBACK_LEVEL_DB
                })
            {
                // the ring-back heard before goes on, at its level (a
                // voice's harmonic at its frequency comes at the voice's)
                // and clear of the rest as a lone tone is (such a harmonic
                // reads 10 dB clear, the ring-back 28-90 dB): what came
                // between its bursts (babble) was no greeting
                self.greeting = None;
                self.clock_start = frame + 1;
                return ControlFlow::Break(None);
            }
            let needed = signalling_tone_frames(hz).max(l.tone_after_greeting);
            if g.tone_frames + vad::TONE_DELAY_FRAMES as u32 >= needed
                && clear
                && g.last_speech + 1 - g.start >= MIN_GREETING_BEFORE_BEEP_FRAMES
                // (talk that never stood clear of the floor it set is
                // background before anyone spoke, no greeting, and a
                // ring-back burst after it no beep)
                && g.peak_db - vad.floor_db >= MIN_GREETING_CLEARANCE_DB
                && paused_before_tone(self.speech_history, g.last_speech, tone_start, frame)
            {
                return ControlFlow::Break(Some(self.decision(
                    AmdVerdict::Machine,
                    "tone-after-greeting",
                    0.85,
                )));
            }
        }
        ControlFlow::Continue(())
    }

    /// A run of the talker's speech: it may end a sentence pause (a second
    /// sentence is a machine's), outlast any live greeting, or show that
    /// what came before was background and the talker starts now.
    fn follow_talker(&mut self, frame: u32, vad: &VadFrame) -> ControlFlow<Option<AmdDecision>> {
        let l = &self.limits;
        let Some(g) = self.greeting.as_mut() else {
            return ControlFlow::Continue(());
        };
        // the pause that just ended, before this run of speech
        let run_start = frame + 1 - self.speech_run.min(CONFIRM_FRAMES);
        // a syllable too short to confirm, at the talker's
        // level, splits the pause (a weak syllable in noise):
        // the longer part is the pause
        let pause = match g.syllable {
            Some((a, b)) if a > g.last_speech => {
                (a - (g.last_speech + 1)).max(run_start.saturating_sub(b + 1))
            }
            _ => run_start.saturating_sub(g.last_speech + 1),
        };
        let before = g.last_speech + 1 - g.start;
        if g.last_speech + 1 < frame {
            (g.base_db, g.run_start) = (g.peak_db, run_start);
        }
        g.peak_db = g.peak_db.max(vad.level_db);
        g.swing_db = g.swing_db.max(self.run_peak_db - self.run_low_db);
        g.last_speech = frame;
        Self::note_run(&mut self.runs, run_start, frame);
        // a voice far louder than all the "greeting" before it
        // ([`AmdConfig::talker_restart_db`]) is the talker at
        // last: what came before was background (babble, a
        // television), and the greeting starts with this run
        if g.run_start > g.start && self.run_peak_db >= g.base_db + l.talker_restart_db {
            g.start = g.run_start;
            return ControlFlow::Break(None);
        }
        if pause >= l.sentence_pause && before >= l.multi_sentence_min {
            g.after_break = true;
        }
        // a sentence swells and fades from syllable to
        // syllable; a run at one level is a tone the VAD did
        // not recognise in coloured noise (call waiting in pink
        // noise), not the greeting going on; and it comes back near
        // the level the talker had reached (babble 12-15 dB under the
        // talker, going on after a short live greeting, peaks 9-11 dB
        // under it)
        if g.after_break
            && self.run_peak_db - self.run_low_db >= SENTENCE_SWING_DB
            && self.run_peak_db >= g.base_db - SECOND_SENTENCE_RANGE_DB
        {
            g.second_sentence.get_or_insert((frame, 0));
        }
        if frame + 1 - g.start >= l.machine_greeting {
            return ControlFlow::Break(Some(self.decision(
                AmdVerdict::Machine,
                "long-greeting",
                0.85,
            )));
        }
        ControlFlow::Continue(())
    }

    /// A second sentence heard [`SECOND_SENTENCE_WAIT_FRAMES`] ago is a
    /// machine's, unless more tone than a held vowel shows (more than
    /// [`MAX_VOWEL_TONE_FRAMES`] tone frames, which babble may break up) or
    /// a DTMF digit came since: its loud first frames, read as speech until
    /// the tone test knew them, had lifted a run of babble to the talker's
    /// level.
    fn confirm_second_sentence(
        &mut self,
        frame: u32,
        vad: &VadFrame,
        dtmf: bool,
    ) -> ControlFlow<Option<AmdDecision>> {
        let Some(g) = self.greeting.as_mut() else {
            return ControlFlow::Continue(());
        };
        let Some((heard, tones)) = g.second_sentence else {
            return ControlFlow::Continue(());
        };
        let tones = tones + vad.tone as u32;
        if dtmf || tones > MAX_VOWEL_TONE_FRAMES {
            g.second_sentence = None;
            return ControlFlow::Continue(());
        }
        g.second_sentence = Some((heard, tones));
        if frame >= heard + SECOND_SENTENCE_WAIT_FRAMES {
            return ControlFlow::Break(Some(self.decision(
                AmdVerdict::Machine,
                "multi-sentence",
                0.8,
            )));
        }
        ControlFlow::Continue(())
    }

    /// Silence after the greeting: long enough, it means a live person
    /// waiting for an answer, unless the "greeting" was no voice at all.
    fn judge_silence(&mut self, frame: u32, vad: &VadFrame) -> ControlFlow<Option<AmdDecision>> {
        let l = &self.limits;
        let Some(g) = self.greeting.as_mut() else {
            return ControlFlow::Continue(());
        };
        let greeting = g.last_speech + 1 - g.start;
        // a word too short to confirm as speech, at the
        // talker's level, is the talker still talking ("got"
        // in "you've got the..." in noise)
        let last_sound = g
            .last_tone
            .map_or(g.last_speech, |t| t.max(g.last_speech))
            .max(g.last_word.unwrap_or(0));
        let silence = frame - last_sound;
        if silence as f32 >= l.human_silence_after(greeting, g.phrase_peak) && !self.beep_in_flight
        {
            if g.swing_db < MIN_GREETING_SWING_DB
                || g.peak_db - vad.floor_db < MIN_GREETING_CLEARANCE_DB
            {
                // one level throughout, like no voice: a
                // dual tone (busy) that the line's noise hid
                // from the VAD's tone test; or never clear of
                // the floor as a talker at the handset is:
                // background talk before anyone spoke. No
                // greeting, and the analysis time starts
                // after it
                self.greeting = None;
                if l.may_restart_clock(frame) {
                    self.clock_start = frame + 1;
                }
                return ControlFlow::Break(None);
            }
            if self.tone_sounding {
                // a beep the VAD reads as silence: wait for its report
                return ControlFlow::Continue(());
            }
            return ControlFlow::Break(Some(self.decision(
                AmdVerdict::Human,
                "greeting-then-silence",
                0.85,
            )));
        }
        ControlFlow::Continue(())
    }

    /// "machine" once the analysis time has run out with a greeting still
    /// going (a greeting that began late is given its time to be judged).
    fn out_of_time(&self, frame: u32) -> Option<AmdDecision> {
        let l = &self.limits;
        let g = self.greeting.as_ref()?;
        // a greeting that began in the second half of the analysis
        // time (after a ring-back the tone tests could not hear in
        // the line's noise, or a long silence) is given the time to
        // be judged as any other, within the same bound from answer
        let late = g.start >= self.clock_start + l.max_frames / 2;
        let judging_late_greeting =
            late && frame + 1 - g.start < l.machine_greeting && l.may_restart_clock(frame);
        if frame + 1 - self.clock_start >= l.max_frames && !judging_late_greeting {
            return Some(self.decision(AmdVerdict::Machine, "max-analysis-time", 0.5));
        }
        None
    }
}

/// How long a tone must have sounded before the silence after a greeting
/// waits for it to end ([`AmdDetector::note_tone_sounding`]), ms: two of
/// the beep tracker's 20 ms windows. Over held-out seeds 1-90 (2026-12-07),
/// 20 ms kept 7 more machines but put two more seeds' human latency past
/// the targets; 80 ms kept 6 fewer.
pub const TONE_SOUNDING_MS: u32 = 40;

/// A tone more than this many dB below the greeting's loudest frame is
/// background (see `audible_tone`).
const TONE_RANGE_DB: f32 = 25.0;

/// A tone after the greeting is a beep only after a greeting at least this
/// long (frames): the shortest voicemail prompt ("Leave a message.") lasts
/// most of a second, while a tenth of a second of background talk just
/// before a ring-back's first burst can read as a "greeting".
const MIN_GREETING_BEFORE_BEEP_FRAMES: u32 = 30;

/// A tone after the greeting is a beep only when this many frames just
/// before it were not speech: a voicemail beep follows a pause, while a
/// vowel held at one pitch (which the VAD reads as a steady tone) comes
/// straight out of a syllable.
const QUIET_BEFORE_TONE_FRAMES: u32 = 3;

/// A tone after the greeting is a beep only when the talker's confirmed
/// speech ended at least this many frames (70 ms) before it: a voicemail
/// beep follows a pause, while a consonant's closure between a syllable
/// and a vowel held at one pitch lasts 30-60 ms (held-out seeds 58 and 59:
/// "Hello, can I help you?" in babble, "Good evening" in pink noise).
const PAUSE_BEFORE_BEEP_FRAMES: u32 = 7;

/// Whether a tone that started at frame `tone_start` (now `frame`) came
/// after a pause, as a voicemail beep does: the talker's confirmed speech
/// ended [`PAUSE_BEFORE_BEEP_FRAMES`] or more before it (at `last_speech`),
/// and the [`QUIET_BEFORE_TONE_FRAMES`] just before it held no speech at
/// all (`history`: bit `k`, speech `k` frames ago).
fn paused_before_tone(history: u64, last_speech: u32, tone_start: u32, frame: u32) -> bool {
    tone_start >= last_speech + 1 + PAUSE_BEFORE_BEEP_FRAMES
        && quiet_before(history, frame - tone_start, QUIET_BEFORE_TONE_FRAMES)
}

/// Whether the `gap` frames before the one `back` frames ago were not
/// speech, from `history` (bit `k`: `k` frames ago); unknown (true) past
/// its 64 frames.
fn quiet_before(history: u64, back: u32, gap: u32) -> bool {
    if gap == 0 || back + gap >= 64 {
        return true;
    }
    let mask = ((1u64 << gap) - 1) << (back + 1);
    history & mask == 0
}

/// Whether a tone measured at `hz` is the tone of frequency `f`: within 3%
/// (the tone plans' 1.5% and a 30 ms estimate's scatter in noise).
fn same_tone(hz: f32, f: f32) -> bool {
    (hz - f).abs() <= 0.03 * f
}

/// Frames a tone at `hz` must last before it can be a beep: as long as the
/// beep detector's signature of the live-call signalling tone it may be
/// (North American call waiting, 440 Hz 300 ms; the recorder warning,
/// 1400 Hz 500 ms), else 0. The
/// warning's window reaches 5% down: talk under it (babble) pulls its
/// estimate towards the voices' low harmonics (read 1351-1366 Hz).
fn signalling_tone_frames(hz: f32) -> u32 {
    let near = |f: f32| same_tone(hz, f);
    let frames = |ms: u64| (ms / FRAME_MS as u64) as u32;
    if near(440.0) {
        frames(CALL_WAITING_MAX_MS)
    } else if (0.95 * 1400.0..=1.03 * 1400.0).contains(&hz) {
        frames(RECORDER_WARNING_MAX_MS)
    } else {
        0
    }
}

/// Frames at the start of a run of speech left out of its level swing (the
/// onset frame is only partly filled).
const ONSET_FRAMES: u32 = 2;

/// The least swing in level, dB, over a run of speech that starts a greeting.
const GREETING_SWING_DB: f32 = 2.0;

/// The least swing in level, dB, of some run of a greeting that ends as a
/// live person's: a voice swells and fades from syllable to syllable (the
/// flattest live greetings swing 4 dB), a busy tone in white or pink noise
/// the VAD's tone test missed stays within about 2 dB.
const MIN_GREETING_SWING_DB: f32 = 3.5;

/// The least height, dB, of a greeting's loudest frame over the noise
/// floor when the silence after it would mean "human". A talker 12 dB (RMS)
/// over white noise peaks 18 dB or more over the floor; background talk
/// (babble of three or four voices) read as a "greeting" before anyone
/// spoke peaks 5-14 dB over the floor it sets itself.
const MIN_GREETING_CLEARANCE_DB: f32 = 15.0;

/// Frames a second sentence waits before it means "machine": as long as
/// the shortest signalling tone or beep lasts (120 ms), by when the tone
/// test has known a tone for longer than a held vowel, so that a tone's
/// onset (call waiting, the recorder warning, a beep, a DTMF digit, in
/// babble) that lifted a run of background talk to the talker's level is
/// seen for what it was.
const SECOND_SENTENCE_WAIT_FRAMES: u32 = vad::TONE_DELAY_FRAMES as u32 + MAX_VOWEL_TONE_FRAMES + 1;

/// The least swing in level, dB, over the run of speech after a sentence
/// pause that makes it a second sentence (a syllable's rise or fall; a
/// tone in coloured noise wavers by a dB or two).
const SENTENCE_SWING_DB: f32 = 4.0;

/// A run after a sentence pause is a second sentence only once it peaks
/// within this many dB of the greeting's loudest frame before it: the
/// talker again, not babble at the edge of the talker's range (chosen
/// over 6-12 dB on held-out seeds 1-90 and the tune splits).
const SECOND_SENTENCE_RANGE_DB: f32 = 10.0;

/// A run of sound before any greeting this long (frames, 300 ms)...
const STEADY_SOUND_FRAMES: u32 = 30;

/// ...whose level stays within this range (dB) is a tone, which restarts
/// the analysis time as a recognised one does: speech and babble swing by
/// more from syllable to syllable.
const STEADY_SOUND_RANGE_DB: f32 = 3.0;

/// Tones before any speech restart the analysis time only within this many
/// maximum analysis times from answer, so every stream is decided.
const MAX_CLOCK_RESTART: u32 = 2;

/// Frames of one tone before any greeting that make it a call-progress
/// tone (a ring-back or busy burst; the shortest, EU busy, is 200 ms).
const CALL_PROGRESS_FRAMES: u32 = 10;

/// A greeting that started at most this many frames before a call-progress
/// tone was marked as steady started with the tone (the marks come
/// [`vad::CALL_PROGRESS_SPAN_FRAMES`] after its onset; the greeting starts
/// once the tone's first frames read as speech, or a syllable of babble
/// just before).
const RINGING_START_SLACK_FRAMES: u32 = 10;

/// Frames of a call-progress tone outside the frame test's single tones
/// that make it a beating pair (a single tone's fading last frame may
/// leave that test; babble breaks a UK ring-back's marks into runs of 3-6).
const PAIR_FRAMES: u32 = 3;

/// See [`AmdDetector::last_ringing`]: 200 ms, the UK ring-back's gap
/// (a person answers 300 ms or more after the last ring).
const RINGING_HOLD_FRAMES: u32 = 20;

/// A tone after the greeting at the ring-back's frequency is that
/// ring-back going on only within this many dB of its level (mean over
/// the tone's frames): a ring-back holds one level, while a voice's
/// harmonic at its frequency (a high voice's second near 425 Hz) comes at
/// the voice's, swinging with it.
const RINGBACK_LEVEL_DB: f32 = 4.0;

/// Frames of a tone after the greeting whose mean frequency is compared
/// with the call-progress tone's (3%, as for the signalling tones).
const CALL_PROGRESS_MATCH_FRAMES: u32 = 3;

/// The spotter scores only while one of the last 200 ms (bits of
/// `speech_history`) was speech: a keyword ends with its speech, and the
/// VAD may have let its last consonant go a little before.
const PHRASE_AFTER_SPEECH_MASK: u64 = (1 << 20) - 1;

/// Runs of speech remembered for placing a beep.
const RUNS: usize = 8;

/// A run of "speech" starting this close to a beep's start (frames) or
/// later, up to its end, is the beep itself, misread by the VAD.
const BEEP_RUN_SLACK_FRAMES: u64 = 6;

/// A voicemail beep starts at least this long after the greeting (20 ms).
const BEEP_GAP_SAMPLES: u64 = 160;

/// Lowest level that can be speech, dB on the 13-bit scale (about -50 dBFS).
const MIN_SPEECH_DB: f32 = vad::FULL_SCALE_DB - 50.0;

/// Converts ms of media time to samples.
pub fn ms_to_samples(ms: u64) -> u64 {
    ms * SAMPLE_RATE as u64 / 1000
}

#[cfg(test)]
mod tests;
