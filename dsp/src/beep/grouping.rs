//! From parts to groups. A closed part is judged by the part rules (band,
//! strength, and the rules a voice fails); it then continues a tone that
//! noise broke, is held aside as the tone masked for a moment, is left out
//! as line noise, or joins the open group.

use super::part::Part;
use super::plans::LAG_PULL_DOWN;
use super::{BeepDetector, BLOCK, MIN_PART_BLOCKS};
use crate::features::{BLOCK_LEN, SAMPLE_RATE};

/// A tone starting at most this long (150 ms) after louder talk ended
/// may have had its start hidden by that talk (a recorder warning's last
/// 140 ms came clear 135 ms after the last part the talk over it left).
const TALK_HIDES_SAMPLES: u64 = 30 * BLOCK;
/// Most parts in a group.
const MAX_PARTS: usize = 4;
/// A part is unsteady only when its drift is also this many times what
/// white noise at the part's SNR explains.
const DRIFT_Z: f64 = 6.0;
/// A part shorter than this (the shortest beep, [`LONG_PART_MS`]) does not
/// start a two-tone group with a part at another frequency: each tone of a
/// two-tone beep is a beep's length (a 110 ms nasal ending the greeting,
/// 180 ms before a beep, made a "two-tone beep" at the nasal's pitch).
const MIN_MERGE_SAMPLES: u64 = LONG_PART_MS * SAMPLE_RATE as u64 / 1000;
/// The band check's tolerance, in the weighted estimate's sigmas.
const BAND_Z: f64 = 3.0;
/// The lag/DFT agreement tolerance, in the difference's sigmas.
const AGREE_Z: f64 = 4.5;
/// Parts at least this long (ms, the shortest beep) are long enough to be
/// told from a voice moving by their steadiness alone: two of them at
/// different frequencies are a two-tone beep.
pub(super) const LONG_PART_MS: u64 = 120;
/// A failed part whose mean block energy is below this share of the group's
/// loudest passing part (-10 dB) is noise around the tone, not part of it.
const QUIET_PART: f32 = 1.0 / 10.0;
/// A failed part after a group's tone this far below it (6 dB) is line noise.
const TRAIL_QUIET: f32 = 0.25;
/// A part starting at most this long after a passed part ended (40 ms:
/// the tracker's two failing windows and a block) may continue its tone.
pub(super) const ABUT_SAMPLES: u64 = 8 * BLOCK;
/// A tone that parts may continue has lasted this long already (50 ms; a
/// babble vowel scrap is shorter)...
pub(super) const CONTINUE_MIN_SAMPLES: u64 = 10 * BLOCK;
/// ...a part continuing it is within this many dB of its level...
pub(super) const CONTINUE_LEVEL_DB: f32 = 3.0;
/// ...and at its DFT frequency within this (relative).
pub(super) const CONTINUE_DFT: f32 = 0.01;
/// The longest stretch of failed parts (150 ms, a syllable or two) held
/// aside as the tone masked by noise, forgiven when the tone takes up
/// again after it.
const MAX_MASK_SAMPLES: u64 = 30 * BLOCK;

/// How near (relative) two parts' lag frequencies must be for the second
/// to be the first's tone again past a group's fourth part, where the DFT
/// recurrence is ill-conditioned (near multiples of 100 Hz): a steady
/// beep's pieces in noise read within about 1%.
const SAME_TONE_LAGS: f32 = 0.015;
/// A part at least this long (ms) in low-pass line noise is allowed
/// [`LONG_TONE_RIPPLE`] times the ripple ([`BeepDetector::max_ripple`]).
const LONG_TONE_MS: u64 = 400;
/// See [`LONG_TONE_MS`].
const LONG_TONE_RIPPLE: f64 = 3.0;
/// Largest lag-1 or lag-2 autocorrelation of white line noise, relative to
/// its power (pink noise reads 0.5 or more).
const WHITE_LAGS: f64 = 0.2;

/// A closed part, as the group keeps it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Closed {
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) freq: f32,
    /// Expected relative error of `freq`.
    pub(super) sigma: f32,
    /// The DFT recurrence's frequency, if measured (near multiples of
    /// 100 Hz only to a few Hz).
    pub(super) freq_dft: Option<f32>,
    /// Whether `freq_dft` is well conditioned (not near a multiple of
    /// 100 Hz, where it may be off by 1% or more).
    pub(super) dft_checked: bool,
    /// Mean block energy.
    pub(super) energy: f32,
    /// Whether it passed the part rules.
    pub(super) passed: bool,
    /// Its tone's strength, for judging pieces of one tone together.
    pub(super) strength: Strength,
}

impl Closed {
    /// Its DFT reading where well conditioned.
    pub(super) fn checked_dft(&self) -> Option<f32> {
        self.freq_dft.filter(|_| self.dft_checked)
    }
}

/// What judging the pieces of one tone together needs of a part (see
/// [`BeepDetector::clear_together`] and [`super::judge::pulled_together`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Strength {
    /// Its tone and rest powers per sample where the rest was the line's
    /// white noise.
    pub(super) line: Option<(f32, f32)>,
    /// Whether the part failed only as too weak (it passed the rules a
    /// voice fails).
    pub(super) weak: bool,
    /// Whether the part failed only as harmonic, with its lags' frequency
    /// below its well-conditioned DFT reading by what coloured line noise
    /// explains: pink noise and babble pull the lags down, not the bins.
    pub(super) pulled: bool,
}

/// Why a group is not a beep (for tests and tracing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reject {
    /// Shorter than the shortest or longer than the longest beep.
    Duration,
    /// A part's block energies ripple (beating tones, pitch pulses).
    Ripple,
    /// A part's frequency is outside the band.
    Band,
    /// A part's tone does not stand far enough above the rest.
    Weak,
    /// The lags and the DFT bins disagree on a part's frequency (several
    /// harmonics).
    Harmonic,
    /// A part's frequency wanders (vibrato, drifting voice).
    Unsteady,
    /// More parts than a double or two-tone beep has.
    Parts,
    /// The special information tone sequence.
    Sit,
    /// A burst repeating one heard a few seconds before (a slow cadence).
    Cadence,
    /// A signalling tone of a live call: the North American call-waiting
    /// tone (440 Hz, 300 ms) or the recorder warning (1400 Hz, 500 ms).
    Signalling,
}

/// Parts less than a gap apart.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Group {
    pub(super) parts: [Closed; MAX_PARTS],
    pub(super) n: usize,
    pub(super) overflow: bool,
    /// The first rule a part failed.
    pub(super) failed: Option<Reject>,
    /// Whether any part passed the part rules.
    pub(super) any_passed: bool,
    /// Mean block energy of the loudest part that passed.
    pub(super) loudest_passed: f32,
    /// Mean block energy of the loudest part.
    pub(super) loudest: f32,
    /// A short failed part at the tone's level right after it, held aside
    /// until a part shows whether the tone goes on after it.
    pub(super) masked: Option<(Closed, Option<Reject>)>,
    /// Whether its first part began within [`TALK_HIDES_SAMPLES`] of a
    /// louder failed part (talk) ending: a tone whose start the talker's
    /// voice may have hidden.
    pub(super) after_talk: bool,
    /// Whether it was closed by its last part, a blip, running straight on
    /// into a part at another pitch: a syllable gliding, as a voice does.
    pub(super) glided: bool,
}

impl Group {
    /// Adds a part; past [`MAX_PARTS`] the last one is stretched to it, and
    /// the group marked overflowing unless both passed at one DFT frequency
    /// and level: a steady tone that noise (babble, pink noise near its
    /// level) broke into more pieces than a double or two-tone beep has.
    pub(super) fn append(&mut self, c: Closed) {
        if self.n < MAX_PARTS {
            self.parts[self.n] = c;
            self.n += 1;
        } else {
            let last = &mut self.parts[MAX_PARTS - 1];
            if !same_tone_again(last, &c) {
                self.overflow = true;
            }
            last.end = c.end;
        }
    }

    pub(super) fn start(&self) -> u64 {
        self.parts[0].start
    }
    pub(super) fn end(&self) -> u64 {
        self.parts[self.n - 1].end
    }
}

/// Whether a rule failed a part or group as a voice is failed: its energy
/// ripples with pitch pulses, its harmonics pull the estimates apart, or
/// its pitch wanders.
pub(super) fn is_voice(r: Option<Reject>) -> bool {
    matches!(
        r,
        Some(Reject::Ripple | Reject::Harmonic | Reject::Unsteady)
    )
}

/// Whether two DFT-recurrence frequencies are one tone's: within
/// [`CONTINUE_DFT`], directly or through the alias of `cos 40w`.
pub(super) fn same_dft(a: f32, b: f32) -> bool {
    same(a, b, CONTINUE_DFT) || same(a, dft_alias(b), CONTINUE_DFT)
}

/// Whether `next` is `last`'s tone again after a gap: both passed, at one
/// DFT frequency (or its alias; the lags' within [`SAME_TONE_LAGS`] where
/// either has none, or either's is ill-conditioned: a 2031 Hz beep's
/// pieces in babble read 2013-2037 Hz from the bins, 2017-2033 Hz from the
/// lags) and level.
fn same_tone_again(last: &Closed, next: &Closed) -> bool {
    let same_freq = match (last.checked_dft(), next.checked_dft()) {
        (Some(a), Some(b)) => same_dft(a, b),
        _ => same(last.freq, next.freq, SAME_TONE_LAGS),
    };
    last.passed
        && next.passed
        && same_freq
        && within_db(last.energy, next.energy, CONTINUE_LEVEL_DB)
}

/// Whether part `next` continues the tone of the passed part `last` (of
/// [`CONTINUE_MIN_SAMPLES`] or more, or shorter when `next` passed too): it starts at most [`ABUT_SAMPLES`]
/// after `last` ends (or after the masked stretch held aside after it,
/// ending at `masked_end`), within [`CONTINUE_LEVEL_DB`] of its level, at
/// its DFT frequency (within [`CONTINUE_DFT`]).
pub(super) fn continues_tone(last: &Closed, next: &Closed, masked_end: Option<u64>) -> bool {
    let end = masked_end.map_or(last.end, |m| m.max(last.end));
    match (last.freq_dft, next.freq_dft) {
        (Some(a), Some(b)) => {
            last.passed
                && (last.end - last.start >= CONTINUE_MIN_SAMPLES || next.passed)
                && next.start <= end + ABUT_SAMPLES
                && next.end > last.end
                && same_dft(a, b)
                && within_db(last.energy, next.energy, CONTINUE_LEVEL_DB)
        }
        _ => false,
    }
}

/// Whether the failed part `m` may be the passed tone `last` masked for a
/// moment by louder noise: it starts at most [`ABUT_SAMPLES`] after `last`
/// (of [`CONTINUE_MIN_SAMPLES`] or more) ends, lasts at most
/// [`MAX_MASK_SAMPLES`] and is within [`CONTINUE_LEVEL_DB`] of its level.
pub(super) fn masks_tone(last: &Closed, m: &Closed) -> bool {
    last.passed
        && last.end - last.start >= CONTINUE_MIN_SAMPLES
        && m.start <= last.end + ABUT_SAMPLES
        && m.end > last.end
        && m.end - m.start <= MAX_MASK_SAMPLES
        && within_db(last.energy, m.energy, CONTINUE_LEVEL_DB)
}

/// The other frequency with the same `cos 40w` as `f` near it: its mirror
/// about the nearest multiple of 100 Hz (the recurrence measures `cos 40w`,
/// and the lags, which pick between the two, may be pulled a few percent).
fn dft_alias(f: f32) -> f32 {
    2.0 * (f / 100.0).round() * 100.0 - f
}

#[inline]
pub(super) fn same(a: f32, b: f32, rel: f32) -> bool {
    (a - b).abs() <= rel * a.max(b)
}

/// Whether energies `a` and `b` are within `db` of each other.
pub(super) fn within_db(a: f32, b: f32, db: f32) -> bool {
    let r = 10f32.powf(db / 10.0);
    a <= b * r && b <= a * r
}

impl BeepDetector {
    pub(super) fn close_part(&mut self, p: Part) {
        let blocks = (p.last_loud + 1).saturating_sub(p.start) as u32;
        if blocks < MIN_PART_BLOCKS {
            return;
        }
        let s = p.summary(self.noise.lags());
        #[cfg(test)]
        self.summaries.push(s);
        // the band's edges widen by what the estimate's noise explains (a
        // 120 ms 350 Hz beep in 12 dB noise reads 338 Hz from the lags one
        // time in thirty; a 300 Hz tone is still 4 sigma out)
        let slack = 0.02 + BAND_Z * s.sigma_best.min(0.05);
        let band = self.cfg.min_freq_hz * (1.0 - slack as f32)
            ..=self.cfg.max_freq_hz * (1.0 + slack as f32);
        let agree = (0.03 * (500.0 / s.freq as f64).max(1.0))
            .max(AGREE_Z * (s.sigma_lag.powi(2) + s.sigma_dft.powi(2)).sqrt());
        // the rules a voice fails (judged on weak parts too, so that
        // pieces of one tone may be judged together on their strength)
        let voice = if s.ripple > self.max_ripple(blocks) {
            Some(Reject::Ripple)
        } else if s.dft_checked && ((s.freq_dft - s.freq).abs() / s.freq) as f64 > agree {
            // a lone tone gives the same frequency from the lags and from
            // the DFT bins' block-to-block rotation; several harmonics
            // (a voice) pull the two apart
            Some(Reject::Harmonic)
        } else if s.drift > self.cfg.max_drift as f64 && s.drift_z > DRIFT_Z {
            Some(Reject::Unsteady)
        } else {
            None
        };
        let line_noise = self.is_line_noise(s.rest);
        let failed = if !band.contains(&s.best) {
            Some(Reject::Band)
        } else if s.snr < self.lim.min_part_snr
            && s.local_snr < self.lim.min_part_snr
            && !(s.snr >= self.lim.min_line_part_snr && line_noise)
        {
            Some(Reject::Weak)
        } else {
            voice
        };
        let closed = Closed {
            start: p.start * BLOCK,
            end: (p.last_loud + 1) * BLOCK,
            // the DFT recurrence is the finer estimate where it is well
            // conditioned (50 Hz off the multiples of 100 Hz most); the
            // lags' elsewhere
            freq: s.best,
            sigma: s.sigma_best as f32,
            freq_dft: s.dft_any.then_some(s.freq_dft),
            dft_checked: s.dft_checked,
            energy: p.mean_energy(),
            passed: failed.is_none(),
            strength: Strength {
                line: line_noise.then_some(((s.snr * s.rest) as f32, s.rest as f32)),
                weak: failed == Some(Reject::Weak) && voice.is_none(),
                pulled: failed == Some(Reject::Harmonic)
                    && self.is_low_pass_noise()
                    && s.dft_checked
                    && s.freq < s.freq_dft
                    && s.freq_dft - s.freq <= LAG_PULL_DOWN * s.freq_dft,
            },
        };
        self.track_sit(&closed);
        if failed.is_some() {
            self.last_failed = Some((closed.end, closed.energy));
        }
        // Babble under a steady beep pulls the lag estimate of a window or
        // two a few percent off (the DFT bins, narrow and away from most
        // of the babble, do not move): the tracker then breaks the tone into
        // parts, and the pieces measured on the lags fail as weak, harmonic
        // or unsteady. A part that takes up where a passed one ended, at
        // its level and at its DFT frequency, is that tone going on.
        // Louder babble masks the tone for a syllable: a short failed part
        // at the tone's level right after it is held aside, and forgiven
        // when the tone takes up again after it.
        if let Some(g) = &mut self.group {
            let masked_end = g.masked.map(|(m, _)| m.end);
            if let Some(last) = g.parts[..g.n].last_mut() {
                if continues_tone(last, &closed, masked_end)
                    && matches!(
                        failed,
                        None | Some(Reject::Weak | Reject::Harmonic | Reject::Unsteady)
                    )
                {
                    last.end = last.end.max(closed.end);
                    g.masked = None;
                    return;
                }
                // a scrap too short to measure well that passed at another
                // DFT frequency, after a long steady tone, is a noise swell
                // over the tone, as a failed part is (after a short one it
                // may be a voice moving)
                let long_ms = LONG_PART_MS * SAMPLE_RATE as u64 / 1000;
                let scrap = closed.end - closed.start < CONTINUE_MIN_SAMPLES
                    && last.end - last.start >= long_ms;
                if failed.is_some() || scrap {
                    // the stretch held aside grows with each failed part
                    // (or scrap) that follows it at the tone's level
                    let (stretch, why, adjoins) = match g.masked {
                        Some((m, why)) => (
                            Closed {
                                end: m.end.max(closed.end),
                                ..m
                            },
                            why.or(failed),
                            closed.start <= m.end + ABUT_SAMPLES
                                && within_db(last.energy, closed.energy, CONTINUE_LEVEL_DB),
                        ),
                        None => (closed, failed, true),
                    };
                    if adjoins && masks_tone(last, &stretch) {
                        g.masked = Some((stretch, why));
                        return;
                    }
                }
            }
            if let Some((m, f)) = g.masked.take() {
                self.join_group(m, f);
            }
        }
        self.join_group(closed, failed);
    }

    /// Whether a tone's residual power per sample, `rest`, is the line's
    /// noise, and that noise white: within [`super::LINE_REST_DB`] of the noise
    /// measured before the tone, whose lags are near zero. In coloured
    /// noise (pink, babble) the Pisarenko split of tone and rest is biased,
    /// and a window pulled off the tone must not extend it.
    pub(super) fn is_line_noise(&self, rest: f64) -> bool {
        let [r0, r1, r2] = self.noise.lags();
        let floor = r0 / BLOCK_LEN as f64;
        floor > 0.0
            && rest <= floor * self.lim.line_rest
            && r1.abs().max(r2.abs()) <= WHITE_LAGS * r0
    }

    /// The most ripple a part of `blocks` blocks may show:
    /// [`super::BeepConfig::max_ripple`], or [`LONG_TONE_RIPPLE`] times it
    /// for a part of [`LONG_TONE_MS`] or more in low-pass line noise.
    /// Babble's syllables swing a steady tone's block energies by 0.02-0.06
    /// (the white-noise allowance takes out only what white noise at the
    /// part's ratio explains), and no voice holds one steady part that
    /// long; shorter parts keep the strict test, which is what tells a held
    /// vowel from a tone.
    fn max_ripple(&self, blocks: u32) -> f64 {
        let max = self.cfg.max_ripple as f64;
        let long = blocks as u64 * BLOCK * 1000 >= LONG_TONE_MS * SAMPLE_RATE as u64;
        if long && self.is_low_pass_noise() {
            max * LONG_TONE_RIPPLE
        } else {
            max
        }
    }

    /// Whether the line noise heard before the tone holds its power low,
    /// as pink noise and babble do (its lag-1 correlation over
    /// [`WHITE_LAGS`]): such noise pulls a tone's lag frequency down.
    fn is_low_pass_noise(&self) -> bool {
        let [r0, r1, _] = self.noise.lags();
        r0 > 0.0 && r1 > WHITE_LAGS * r0
    }

    /// Adds a closed part to the open group, or starts a group with it,
    /// closing the open one first when the part is past its gap.
    pub(super) fn join_group(&mut self, closed: Closed, failed: Option<Reject>) {
        // a part after the gap ends the previous group; so does a part at
        // another frequency after a blip too short to be half of a two-tone
        // beep (a syllable that looked tonal just before the real beep)
        if let Some(g) = &self.group {
            let last = g.parts[g.n.saturating_sub(1)];
            let blip = last.end - last.start < MIN_MERGE_SAMPLES
                && !same(last.freq, closed.freq, self.cfg.same_freq);
            if closed.start > g.end() + self.lim.gap_blocks * BLOCK || blip {
                let mut g = self.group.take().unwrap();
                g.glided = blip && closed.start <= last.end + ABUT_SAMPLES;
                self.close_group(g, closed.start / BLOCK);
            }
        }
        let g = self.group.get_or_insert_with(Group::default);
        // A part far quieter than a tone of the group is the line noise
        // around it (pink or babble noise has short tonal stretches between
        // and after a beep's parts), not a voice going on or a beep's part
        // (a beep's parts are one level): it neither joins nor spoils the
        // group; and a tone far louder than all the group so far makes the
        // parts before it noise.
        let e = closed.energy;
        // A failed part after the group's tone has ended, well below it,
        // is the line noise after the beep (babble's tonal scraps), not a
        // voice going on: it neither joins nor spoils the group; nor does
        // a scrap too short to be a beep's part there, passed or not.
        let trailing = g.parts[..g.n].iter().rev().find(|c| c.passed);
        let scrap = closed.end - closed.start < CONTINUE_MIN_SAMPLES;
        if (failed.is_some() || scrap)
            && trailing.is_some_and(|c| closed.start >= c.end)
            && e < g.loudest_passed * TRAIL_QUIET
        {
            return;
        }
        if g.any_passed && e < g.loudest_passed * QUIET_PART {
            return;
        }
        if failed.is_none() && g.n > 0 && g.loudest < e * QUIET_PART {
            *g = Group::default();
        }
        // Failed parts (speech, noise) just before a tone do not spoil it: a
        // voicemail beep often follows the greeting's last syllable by
        // 100-200 ms. A failed part after a tonal one does spoil the group.
        // They are closed as a group of their own all the same: a burst of
        // a cadence that background talk spoiled still repeats the one
        // before it (a busy tone's burst in babble).
        if failed.is_none() && g.n > 0 && g.failed.is_some() && !g.any_passed {
            let before = std::mem::take(g);
            self.close_group(before, closed.start / BLOCK);
        }
        let g = self.group.get_or_insert_with(Group::default);
        if failed.is_none() {
            g.loudest_passed = g.loudest_passed.max(e);
        }
        g.loudest = g.loudest.max(e);
        g.any_passed |= failed.is_none();
        g.failed = g.failed.or(failed);
        if g.n == 0 {
            g.after_talk = self.last_failed.is_some_and(|(end, energy)| {
                end < closed.end
                    && closed.start <= end + TALK_HIDES_SAMPLES
                    && energy >= closed.energy
            });
        }
        g.append(closed);
    }
}
