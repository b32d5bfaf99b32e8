//! The cadence hold-off: bursts are remembered so that a tone repeating
//! one (busy, ring-back) is no beep, and a candidate is reported once its
//! hold-off has passed.

use super::grouping::{same, same_dft, within_db};
use super::{same_part, BeepDetector, BeepEvent, BLOCK, SLOTS};
use crate::features::SAMPLE_RATE;

/// Bursts of a cadence are within this many dB of each other.
const CADENCE_LEVEL_DB: f32 = 10.0;
/// A beep-like burst repeating one that ended at most this long before it
/// is a slow cadence (ring-back tones repeat every 3 to 6 s).
const SLOW_CADENCE_MS: u64 = 6000;
/// A group shorter than this (ms) with no part that passed is no burst of
/// a cadence: it neither marks a later tone at its frequency as a repeat
/// nor cancels a pending beep (a 50 ms vowel scrap at the beep's pitch just
/// before it). Short tonal bursts are (a pulsing murmur's).
pub(super) const MIN_BURST_MS: u64 = 100;
/// Samples by which a group may overlap the burst before it and still
/// follow it: parts are closed from 20 ms windows, so the next may start
/// a block or two before the last one's end.
const OVERLAP_SLACK: u64 = 2 * BLOCK;
/// A burst with a part that passed makes a later tone at its frequency a
/// repeat only from this length (ms): a pulsing murmur's 75-95 ms bursts
/// do, a 30-40 ms vowel or babble scrap does not (see [`Burst::tone_like`]).
pub(super) const MIN_PASSED_BURST_MS: u64 = 60;
/// A candidate is dropped when a burst of [`MIN_BURST_MS`] or more this
/// many times its energy (6 dB) follows it within the hold-off: it was
/// the line's noise between that signal's bursts, or a murmur inside
/// speech, not a beep (a voicemail beep is followed by silence, and babble
/// on its line is 6 dB or more under it).
const DROWNING_RATIO: f32 = 4.0;
// every burst of `MIN_BURST_MS` is long enough to make a repeat
const _: () = assert!(MIN_PASSED_BURST_MS <= MIN_BURST_MS);
/// A group at a pending candidate's frequency and level that starts at
/// most this long after the candidate ends (100 ms) takes its tone up
/// again: pink noise or babble broke one tone into groups. A cadence's
/// bursts are further apart (the shortest off times, 200-250 ms).
pub(super) const MAX_TAKE_UP_SAMPLES: u64 = 20 * BLOCK;

/// A tone group remembered for the cadence hold-off.
#[derive(Debug, Clone, Copy)]
pub(super) struct Burst {
    pub(super) freq: f32,
    /// Its first part's DFT reading, where well conditioned.
    pub(super) dft: Option<f32>,
    /// Start sample of the tone it goes on with: its own start, or that of
    /// the burst it resumed (noise may break one beep into several groups,
    /// each taking up the one before).
    pub(super) tone_start: u64,
    /// End sample.
    pub(super) end: u64,
    /// Its loudest part's mean block energy.
    pub(super) energy: f32,
    /// Whether it was not failed as a voice is (ripple, harmonics,
    /// wandering) and lasted [`MIN_PASSED_BURST_MS`] or more: only such a
    /// burst makes a later tone at its frequency a repeat, as the
    /// greeting's last words 300 ms before a beep at their pitch, or a
    /// 40 ms vowel scrap, do not. Any burst still cancels a pending
    /// candidate.
    pub(super) tone_like: bool,
    /// Whether a part of it failed as a voice's does, though the group
    /// was too short to be judged on its parts: a babble vowel at a beep's
    /// pitch half a second before it makes no cadence, but a piece of the
    /// beep itself that babble spoiled a moment before still starts it.
    pub(super) voiced: bool,
}

/// A beep waiting out its hold-off.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pending {
    pub(super) event: BeepEvent,
    /// Its first part's DFT reading, where well conditioned.
    pub(super) dft: Option<f32>,
    /// Its loudest part's mean block energy.
    pub(super) energy: f32,
    /// Block index at which it is reported.
    pub(super) due: u64,
}

/// Whether a sound of energy `loud` is [`DROWNING_RATIO`] times a pending
/// candidate's `candidate` or more: loud enough, after it, to drown it.
pub(super) fn drowns(loud: f32, candidate: f32) -> bool {
    loud >= candidate * DROWNING_RATIO
}

/// Whether two bursts' energies are within [`CADENCE_LEVEL_DB`] of each
/// other (the bursts of a cadence are one level).
pub(super) fn same_level(a: f32, b: f32) -> bool {
    within_db(a, b, CADENCE_LEVEL_DB)
}

impl BeepDetector {
    /// Whether a tone at `freq` ended within the hold-off before `start`
    /// (two blocks of slack: a detected end and start may each be a block
    /// off the tone's): a tone-like burst, not one failed as a voice.
    pub(super) fn is_recent(&self, freq: f32, start: u64, energy: f32) -> bool {
        let memory = (self.lim.holdoff + 2) * BLOCK;
        let tone = |b: &Burst| b.tone_like && !b.voiced && same(b.freq, freq, self.cfg.same_freq);
        self.burst_before(start, energy, memory, tone).is_some()
    }

    /// The start of the tone of a burst at `freq` and about `energy` that
    /// ended at most [`MAX_TAKE_UP_SAMPLES`] before `start`: far sooner than
    /// any cadence's off time, so the same tone, broken by noise (the
    /// burst's own start, or the start of the tone it took up in turn). Any
    /// burst counts, even one failed as a voice: babble spoils a beep's
    /// first piece as often as any other, and its start is then the beep's.
    /// The frequencies may agree by the lags (`freq`) or by the DFT bins
    /// (`dft`, either alias): pink noise pulls the lags of one steady tone's
    /// groups several percent apart, and the bins swap aliases.
    pub(super) fn resumed(
        &self,
        freq: f32,
        dft: Option<f32>,
        start: u64,
        energy: f32,
    ) -> Option<u64> {
        let tone = |b: &Burst| same(b.freq, freq, self.cfg.same_freq) || dft_agrees(b.dft, dft);
        self.burst_before(start, energy, MAX_TAKE_UP_SAMPLES, tone)
            .map(|b| b.tone_start)
    }

    /// A burst that `accept`s (its frequency, and what it was), at about
    /// `energy`, that ended at most `within` samples before `start` (or
    /// overlaps it by up to [`OVERLAP_SLACK`]).
    fn burst_before(
        &self,
        start: u64,
        energy: f32,
        within: u64,
        accept: impl Fn(&Burst) -> bool,
    ) -> Option<&Burst> {
        self.recent.iter().flatten().find(|b| {
            accept(b)
                && same_level(b.energy, energy)
                && start + OVERLAP_SLACK >= b.end
                && start.saturating_sub(b.end) <= within
        })
    }

    /// Whether `e` repeats a beep-like burst of about its frequency and
    /// length that ended at most [`SLOW_CADENCE_MS`] before it began.
    pub(super) fn is_slow_repeat(&self, e: &BeepEvent) -> bool {
        let memory = SLOW_CADENCE_MS * SAMPLE_RATE as u64 / 1000;
        let len = (e.end - e.start) as f32;
        self.bursts.iter().flatten().any(|b| {
            let b_len = (b.end - b.start) as f32;
            same(b.freq_hz, e.freq_hz, self.cfg.same_freq)
                && (b_len - len).abs() <= 0.25 * len.max(b_len)
                && e.start >= b.end
                && e.start - b.end <= memory
        })
    }

    pub(super) fn remember_burst(&mut self, e: BeepEvent) {
        let slot = (0..SLOTS)
            .min_by_key(|&k| self.bursts[k].map_or(0, |b| b.end + 1))
            .unwrap();
        self.bursts[slot] = Some(e);
    }

    pub(super) fn remember(&mut self, burst: Burst) {
        let slot = (0..SLOTS)
            .min_by_key(|&k| self.recent[k].map_or(0, |b| b.end + 1))
            .unwrap();
        self.recent[slot] = Some(burst);
    }

    /// Reports a candidate whose hold-off has passed, unless a tone near
    /// its frequency is sounding now (a repeat has begun: decided when its
    /// group closes).
    pub(super) fn poll(&mut self, i: u64) -> Option<BeepEvent> {
        let sounding = self.part.map(|p| (p.f_ref(), p.mean_energy()));
        for k in 0..SLOTS {
            let Some(p) = self.pending[k] else { continue };
            // a repeat of the candidate, or a far louder tone that may drown
            // it (see `close_group`)
            let holds = |f: f32, e: f32| {
                same_part(p.event.freq_hz, f, self.cfg.max_freq_jitter) || drowns(e, p.energy)
            };
            // ...is sounding: decided when its group closes
            if sounding.is_some_and(|(f, e)| holds(f, e)) && i > p.event.end / BLOCK + 1 {
                continue;
            }
            // ...or its part has closed but its group is still open
            // (waiting out the gap): decided when the group closes
            if let Some(g) = &self.group {
                if g.parts[..g.n]
                    .iter()
                    .any(|c| c.start >= p.event.end && holds(c.freq, c.energy))
                {
                    continue;
                }
            }
            if i >= p.due {
                self.pending[k] = None;
                return Some(p.event);
            }
        }
        None
    }
}

/// Whether two well-conditioned DFT readings are one tone's (within
/// [`super::grouping::CONTINUE_DFT`], directly or through the alias of
/// `cos 40w`); `false` where either is missing.
pub(super) fn dft_agrees(a: Option<f32>, b: Option<f32>) -> bool {
    a.zip(b).is_some_and(|(a, b)| same_dft(a, b))
}
