//! Speech from the moment of answer.
//!
//! The VAD's noise floor is the quietest level of the last second, so at
//! answer it starts at the first frame's level. A greeting spoken from the
//! first frame ("Evening." as the line connects) then stands no margin over
//! the floor until a quieter frame shows the line's real floor, by which
//! time its first syllables are past. The first second's levels are kept,
//! and each time the floor falls below any they were judged against, a run
//! among them that stands the margin over the new floor, as the VAD would
//! have judged it had it known, may start the greeting. This uses only the
//! frames heard so far: the decision stays causal.

/// Frames (10 ms) after answer whose levels are kept: the VAD's floor
/// window.
pub(super) const ANSWER_FRAMES: usize = 100;

/// A run of the first second's frames that stands a margin over a floor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct AnswerRun {
    /// First frame.
    pub start: u32,
    /// Last frame.
    pub end: u32,
    /// Its loudest frame, dB.
    pub peak_db: f32,
    /// Its loudest frame over its quietest after the onset, dB.
    pub swing_db: f32,
}

/// What a run must have to be speech at the talker's level.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunRule {
    /// Over the floor by this much, dB (the VAD's margin).
    pub margin_db: f32,
    /// At least this many frames.
    pub min_frames: u32,
    /// Frames at the start left out of its swing (the onset's rise).
    pub onset_frames: u32,
    /// Its level swings this much after the onset, dB (a syllable does).
    pub min_swing_db: f32,
    /// Its loudest frame reaches this level, dB (handset level).
    pub min_peak_db: f32,
    /// It starts at most this many frames after answer: talk under way
    /// when the line connected.
    pub max_start: u32,
    /// It ended at most this many frames before the floor fell: the line
    /// went quiet as the talker stopped (background talk at answer leaves
    /// troughs that lower the floor a second or more later).
    pub max_quiet_frames: u32,
    /// Its loudest frame stands this far over the floor, dB: a quiet line
    /// under the talker (background talk at answer swings 10-15 dB over
    /// its own troughs, and would start a "greeting" before the talker).
    pub min_clearance_db: f32,
}

/// The levels of the first second after answer.
#[derive(Debug, Clone)]
pub(super) struct AnswerLevels {
    /// Level of each frame, dB; `f32::MIN` for a frame that cannot be
    /// speech (a tone, or below the VAD's absolute minimum).
    levels: [f32; ANSWER_FRAMES],
    /// Frames kept so far.
    n: usize,
    /// The lowest floor the kept frames have been judged against, dB.
    judged_floor_db: f32,
}

impl Default for AnswerLevels {
    fn default() -> Self {
        Self {
            levels: [f32::MIN; ANSWER_FRAMES],
            n: 0,
            judged_floor_db: f32::MAX,
        }
    }
}

impl AnswerLevels {
    /// Keeps the next frame's level (the first [`ANSWER_FRAMES`] only);
    /// `may_be_speech` is false for a tone or an inaudible frame.
    pub fn push(&mut self, level_db: f32, may_be_speech: bool) {
        if self.n < ANSWER_FRAMES {
            self.levels[self.n] = if may_be_speech { level_db } else { f32::MIN };
            self.n += 1;
        }
    }

    /// The first run of kept frames that follows `rule` over `floor_db`,
    /// looked for only when the floor is lower than any the frames were
    /// judged against before (the VAD judged each frame against the floor
    /// of its moment, never lower than this).
    pub fn speech_under(&mut self, frame: u32, floor_db: f32, rule: &RunRule) -> Option<AnswerRun> {
        // (a run ends by the last kept frame: past that and its quiet
        // window no run can follow the rule, and there is nothing to scan)
        let too_late = frame >= self.n as u32 + rule.max_quiet_frames;
        if self.n == 0 || too_late || floor_db >= self.judged_floor_db {
            return None;
        }
        self.judged_floor_db = floor_db;
        let over = floor_db + rule.margin_db;
        let mut k = 0;
        // only talk under way at answer: a run that began later was judged
        // against a floor the line's own sound set
        while k < self.n && k <= rule.max_start as usize {
            if self.levels[k] < over {
                k += 1;
                continue;
            }
            let start = k;
            while k < self.n && self.levels[k] >= over {
                k += 1;
            }
            let run = &self.levels[start..k];
            if run.len() < rule.min_frames as usize {
                continue;
            }
            let peak_db = run.iter().copied().fold(f32::MIN, f32::max);
            let low_db = run[rule.onset_frames as usize..]
                .iter()
                .copied()
                .fold(f32::MAX, f32::min);
            let swing_db = peak_db - low_db;
            if swing_db >= rule.min_swing_db
                && peak_db >= rule.min_peak_db
                && peak_db >= floor_db + rule.min_clearance_db
                && frame < k as u32 + rule.max_quiet_frames
            {
                return Some(AnswerRun {
                    start: start as u32,
                    end: k as u32 - 1,
                    peak_db,
                    swing_db,
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: RunRule = RunRule {
        margin_db: 10.0,
        min_frames: 4,
        onset_frames: 1,
        min_swing_db: 2.0,
        min_peak_db: 30.0,
        min_clearance_db: 15.0,
        max_start: 2,
        max_quiet_frames: 30,
    };

    fn levels(v: &[f32]) -> AnswerLevels {
        let mut a = AnswerLevels::default();
        for &l in v {
            a.push(l, true);
        }
        a
    }

    #[test]
    fn a_run_over_the_new_floor_is_found_once_the_floor_falls() {
        let mut a = levels(&[52.0, 55.0, 58.0, 60.0, 57.0, 52.0, 42.0, 41.0]);
        // judged against the first frame's level: nothing stands 10 dB over
        assert_eq!(a.speech_under(8, 52.0, &RULE), None);
        let run = a.speech_under(8, 41.0, &RULE).expect("a run over 51 dB");
        assert_eq!((run.start, run.end), (0, 5));
        assert_eq!(run.peak_db, 60.0);
        assert_eq!(run.swing_db, 8.0);
        // the same floor again is no news
        assert_eq!(a.speech_under(9, 41.0, &RULE), None);
        // a floor that falls long after the run is background talk's trough
        let mut late = levels(&[52.0, 55.0, 58.0, 60.0, 57.0, 52.0, 42.0, 41.0]);
        assert_eq!(late.speech_under(60, 41.0, &RULE), None);
    }

    #[test]
    fn a_steady_or_short_or_quiet_run_is_no_speech() {
        let steady = [50.0, 50.5, 50.2, 50.4, 50.1, 40.0];
        assert_eq!(levels(&steady).speech_under(6, 38.0, &RULE), None);
        let short = [55.0, 60.0, 56.0, 40.0];
        assert_eq!(levels(&short).speech_under(6, 38.0, &RULE), None);
        // over the margin, but not clear of the floor (background talk)
        let murmur = [50.0, 52.0, 49.0, 51.0, 50.0, 38.0];
        assert_eq!(levels(&murmur).speech_under(6, 38.0, &RULE), None);
        let quiet = [25.0, 28.0, 24.0, 27.0, 25.0, 10.0];
        assert_eq!(levels(&quiet).speech_under(6, 10.0, &RULE), None);
    }

    #[test]
    fn a_tone_frame_breaks_a_run_and_only_the_first_second_is_kept() {
        let mut a = AnswerLevels::default();
        for (i, l) in [55.0, 60.0, 56.0, 58.0, 57.0, 40.0].into_iter().enumerate() {
            a.push(l, i != 2);
        }
        assert_eq!(a.speech_under(6, 40.0, &RULE), None);
        let mut long = AnswerLevels::default();
        for _ in 0..ANSWER_FRAMES + 50 {
            long.push(20.0, true);
        }
        assert_eq!(long.n, ANSWER_FRAMES);
    }
}
