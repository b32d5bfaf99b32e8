//! A finished group judged: whether its parts make a beep, and what it
//! does to the candidates waiting out their hold-off.

use super::cadence::{
    dft_agrees, drowns, same_level, Burst, Pending, MAX_TAKE_UP_SAMPLES, MIN_BURST_MS,
    MIN_PASSED_BURST_MS,
};
use super::grouping::{
    is_voice, same, within_db, Closed, Group, Reject, ABUT_SAMPLES, CONTINUE_DFT,
    CONTINUE_LEVEL_DB, CONTINUE_MIN_SAMPLES, LONG_PART_MS,
};
use super::plans::{is_signalling, is_sit};
use super::{BeepDetector, BeepEvent, BLOCK};
use crate::features::SAMPLE_RATE;

/// The parts of a group must sound at least this long together (ms,
/// three quarters of the shortest beep), whatever its span.
const MIN_SOUNDING_MS: u64 = 90;
/// Neighbouring parts of a group are one frequency within this many
/// sigmas of their difference (or [`super::BeepConfig::same_freq`]).
const NEIGHBOUR_Z: f32 = 3.5;
/// Neighbouring parts at least this far apart (relative) are a two-tone
/// beep; between one frequency and this, the group is rejected.
const NEIGHBOUR_STEP: f32 = 0.12;
/// Whether part `k` of a group of several is a lone scrap: shorter than
/// [`CONTINUE_MIN_SAMPLES`] and more than [`ABUT_SAMPLES`] from its
/// neighbours.
pub(super) fn is_lone_scrap(parts: &[Closed], k: usize) -> bool {
    let p = &parts[k];
    parts.len() > 1
        && p.end - p.start < CONTINUE_MIN_SAMPLES
        && parts[..k]
            .last()
            .is_none_or(|q| p.start > q.end + ABUT_SAMPLES)
        && parts
            .get(k + 1)
            .is_none_or(|q| q.start > p.end + ABUT_SAMPLES)
}

impl BeepDetector {
    /// Judges a finished group at block `now`.
    pub(super) fn close_group(&mut self, mut g: Group, now: u64) {
        if g.n == 0 {
            return;
        }
        // a masked stretch the tone did not come back after is what it
        // seemed: a failed part; but a scrap too short to measure well,
        // last in the group, is the tone's end that noise broke (pink
        // noise reads a steady tone's last 40 ms 7% off and weak): left out
        if let Some((m, f)) = g.masked.take() {
            if m.end - m.start >= CONTINUE_MIN_SAMPLES {
                g.failed = g.failed.or(f);
                g.append(m);
            }
        }
        let freq = g.parts[0].freq;
        let dft = g.parts[0].checked_dft();
        let verdict = self.judge(&g);
        // any tone (beep or not) may be the first of a cadence: a tone at
        // its frequency starting within the hold-off repeats it
        // (a cadence repeats at about one level: a faint noise part at the
        // frequency is not a repeat)
        let repeat = self.is_recent(freq, g.start(), g.loudest);
        // ...unless it takes up a tone that stopped a moment ago: noise
        // broke one tone into groups (the beep starts with the first)
        let resumed = self.resumed(freq, dft, g.start(), g.loudest);
        let repeat = repeat && resumed.is_none();
        let span_ms = (g.end() - g.start()) * 1000 / SAMPLE_RATE as u64;
        let long = span_ms >= MIN_BURST_MS;
        let burst = g.any_passed || long;
        if burst {
            self.remember(Burst {
                freq,
                dft,
                tone_start: resumed.unwrap_or(g.start()),
                end: g.end(),
                energy: g.loudest,
                tone_like: !is_voice(verdict.err()) && span_ms >= MIN_PASSED_BURST_MS,
                // (a group too short for a beep is judged on its length
                // first: its parts' failures say whether it was a voice)
                voiced: is_voice(g.failed) || g.glided,
            });
        }
        // a pending candidate at this frequency was a cadence too, unless
        // this group takes its tone up again sooner than any cadence's off
        // time: noise broke one tone into groups, which goes on
        let mut cancelled = false;
        let mut taken_up = false;
        let max_len = self.cfg.max_duration_ms as u64 * SAMPLE_RATE as u64 / 1000;
        for slot in self.pending.iter_mut().filter(|_| burst) {
            let Some(p) = slot else { continue };
            // ...and one far quieter than a long burst right after it is
            // the line's noise between that signal's bursts (babble in a
            // busy tone's gaps): a voicemail beep is followed by silence
            let drowned = long && g.start() >= p.event.end && drowns(g.loudest, p.energy);
            let level = same_level(p.energy, g.loudest);
            let same_tone = same(p.event.freq_hz, freq, self.cfg.same_freq) && level;
            // (taking a tone up, the DFT bins may tell it where the lags,
            // which pink noise pulls apart, do not)
            let its_tone = same_tone || (dft_agrees(p.dft, dft) && level);
            if its_tone
                && g.start() >= p.event.start
                && g.start() <= p.event.end + MAX_TAKE_UP_SAMPLES
                && g.end() <= p.event.start + max_len
            {
                p.event.end = p.event.end.max(g.end());
                p.due = p.due.max(g.end() / BLOCK + self.lim.holdoff + 2);
                taken_up = true;
            } else if same_tone || drowned {
                *slot = None;
                cancelled = true;
            }
        }
        // a beep-like burst like one heard a few seconds before is a slow
        // cadence (EU ring-back: 425 Hz, 1 s on, 4 s off), not a beep
        let verdict = match verdict {
            Ok(e) => {
                let slow_repeat = self.is_slow_repeat(&e);
                self.remember_burst(e);
                if slow_repeat {
                    Err(Reject::Cadence)
                } else {
                    Ok(e)
                }
            }
            v => v,
        };
        // (once: the part-level tracker may have reported this one)
        if verdict == Err(Reject::Sit) && !self.sit_tracked_in(&g) {
            self.sit = Some(g.start());
        }
        match verdict {
            Err(_r) => {
                #[cfg(test)]
                self.rejects.push((_r, freq));
            }
            Ok(mut event) if !repeat && !cancelled && !taken_up => {
                if let Some(start) = resumed {
                    if event.end - start <= max_len {
                        event.start = start;
                    }
                }
                // two blocks of slack, as in `is_recent`
                let due = (g.end() / BLOCK + self.lim.holdoff + 2).max(now);
                if let Some(slot) = self.pending.iter_mut().find(|s| s.is_none()) {
                    *slot = Some(Pending {
                        event,
                        dft,
                        due,
                        energy: g.loudest,
                    });
                }
            }
            Ok(_) => {}
        }
    }

    pub(super) fn judge(&self, g: &Group) -> Result<BeepEvent, Reject> {
        // first: the SIT's parts may have speech (the announcement) or
        // noise parts after them in the group
        if is_sit(&g.parts[..g.n]) || self.sit_tracked_in(g) {
            return Err(Reject::Sit);
        }
        // a lone scrap (a vowel's 30 ms, apart from the tone) is no part of
        // a double beep: the beep is what the other parts span
        let parts = &g.parts[..g.n];
        let kept = |k: &usize| !is_lone_scrap(parts, *k);
        let (Some(first), Some(last)) = ((0..g.n).find(kept), (0..g.n).rev().find(kept)) else {
            return Err(Reject::Duration);
        };
        let (start, end) = (parts[first].start, parts[last].end);
        let ms = (end - start) * 1000 / SAMPLE_RATE as u64;
        if ms < self.cfg.min_duration_ms as u64 || ms > self.cfg.max_duration_ms as u64 {
            return Err(Reject::Duration);
        }
        // pieces of one tone that noise failed may be forgiven together
        let forgiven = |r: Reject| match r {
            Reject::Weak => self.clear_together(parts),
            Reject::Harmonic => pulled_together(parts),
            _ => false,
        };
        if let Some(r) = g.failed.filter(|&r| !forgiven(r)) {
            return Err(r);
        }
        // the span may be long while the tone is not: two babble scraps of
        // 30-40 ms 150 ms apart are no double beep
        let sounding: u64 = parts[first..=last].iter().map(|c| c.end - c.start).sum();
        if sounding * 1000 < MIN_SOUNDING_MS * SAMPLE_RATE as u64 {
            return Err(Reject::Duration);
        }
        if g.overflow {
            return Err(Reject::Parts);
        }
        let signalling = is_signalling(&g.parts[..g.n], g.after_talk);
        if signalling && !self.cfg.report_signalling {
            return Err(Reject::Signalling);
        }
        // a double beep repeats one frequency, a two-tone beep steps far;
        // neighbours a few percent apart, beyond what their noise explains,
        // are a voice moving (espeak-ng de+f2 'mmm': 75 ms murmurs at 375
        // then 361 Hz)
        for w in g.parts[..g.n].windows(2) {
            let d = (w[0].freq - w[1].freq).abs() / w[0].freq.max(w[1].freq);
            let noise = NEIGHBOUR_Z * (w[0].sigma.powi(2) + w[1].sigma.powi(2)).sqrt();
            // two long steady tones at different frequencies are a
            // two-tone beep, however close: a voice does not hold two
            // pitches that long
            let long = |c: &Closed| c.end - c.start >= LONG_PART_MS * SAMPLE_RATE as u64 / 1000;
            if long(&w[0]) && long(&w[1]) {
                continue;
            }
            if d > self.cfg.same_freq.max(noise) && d < NEIGHBOUR_STEP {
                return Err(Reject::Unsteady);
            }
        }
        Ok(BeepEvent {
            start,
            end,
            freq_hz: parts[first].freq,
            signalling,
        })
    }

    /// Whether `parts`, each passed or too weak by itself, all in the
    /// line's white noise at one frequency and level, stand
    /// [`super::BeepConfig::min_line_part_snr_db`] over it together: a beep about
    /// that far over white noise scatters around the floor from piece to
    /// piece (6.7-7.6 dB), and the tracker breaks it where it dips. (In
    /// coloured noise, pieces judged together let babble's vowels through.)
    pub(super) fn clear_together(&self, parts: &[Closed]) -> bool {
        let first = parts[0];
        let one_tone = |c: &Closed| {
            (c.passed || c.strength.weak)
                && same(first.freq, c.freq, self.cfg.same_freq)
                && within_db(first.energy, c.energy, CONTINUE_LEVEL_DB)
        };
        if !parts.iter().all(one_tone) {
            return false;
        }
        let mut pooled = (0.0, 0.0);
        for c in parts {
            let Some((tone, rest)) = c.strength.line else {
                return false;
            };
            let n = (c.end - c.start) as f64;
            pooled.0 += tone as f64 * n;
            pooled.1 += rest as f64 * n;
        }
        pooled.0 >= pooled.1 * self.lim.min_line_part_snr
    }
}

/// Whether `parts` are one tone whose failed pieces failed only as
/// harmonic because coloured line noise pulled their lags down
/// ([`Strength::pulled`]): every part at the first passed one's
/// well-conditioned DFT frequency (within [`CONTINUE_DFT`]) and level
/// (within [`CONTINUE_LEVEL_DB`]), and the passed ones sounding at least
/// as long as the pulled ones (three babble scraps of a vowel, one passed
/// for 30 ms, are no beep).
///
/// [`Strength::pulled`]: super::grouping::Strength::pulled
pub(super) fn pulled_together(parts: &[Closed]) -> bool {
    let Some(tone) = parts.iter().find(|c| c.passed) else {
        return false;
    };
    let Some(f) = tone.checked_dft() else {
        return false;
    };
    let len = |c: &Closed| c.end - c.start;
    let passed: u64 = parts.iter().filter(|c| c.passed).map(len).sum();
    let pulled: u64 = parts.iter().filter(|c| !c.passed).map(len).sum();
    passed >= pulled
        && parts.iter().all(|c| {
            (c.passed || c.strength.pulled)
                && c.checked_dft().is_some_and(|d| same(d, f, CONTINUE_DFT))
                && within_db(c.energy, tone.energy, CONTINUE_LEVEL_DB)
        })
}
