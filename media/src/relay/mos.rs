//! Call quality from the RTCP the relay forwards: each end's receiver
//! reports scored with a simplified ITU-T G.107 E-model, as rtpengine
//! scores them for the MOS that Kamailio's `mos_*_pv` read.
//!
//! Round trips come from LSR/DLSR (RFC 3550 section 6.4.1): the relay
//! notes when each sender report passed through it, and a report block
//! that names one gives the round trip between the relay and the
//! reporting end. A score needs both ends' round trips: their sum is the
//! call's end-to-end round trip.

use std::time::Duration;

use crate::rtcp::ReportBlock;

/// Sender reports remembered per leg, to match LSR against.
const SR_HISTORY: usize = 4;
/// Reports closer together than this count once (as rtpengine's do).
const MIN_REPORT_GAP: Duration = Duration::from_secs(1);
/// Round trips above this are taken for a mismatch.
const MAX_RTT: Duration = Duration::from_secs(10);
/// How much longer than the time since an SR passed an end may say it
/// held it (DLSR) and still count, as a round trip of zero: ends that
/// keep time in milliseconds overstate it by up to one, which on a LAN
/// is more than the path (rtpengine drops such reports, and scores
/// nothing on a loopback call when one end's clock rounds up).
const DLSR_SLACK: Duration = Duration::from_millis(5);

/// One scored receiver report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MosSample {
    /// The score times ten (10 to 45).
    pub mos_x10: u8,
    /// End-to-end round trip (both legs), µs.
    pub rtt_us: u32,
    /// Round trip between the relay and the reporting end, µs.
    pub rtt_leg_us: u32,
    /// Interarrival jitter the end reported, ms.
    pub jitter_ms: u32,
    /// Fraction lost since its previous report, percent.
    pub loss_percent: u8,
    /// When the report arrived (the relay's clock).
    pub at: Duration,
}

/// The scores of the reports one end sent during a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MosSummary {
    /// The SSRC the end reports from (its latest).
    pub reporter: u32,
    /// Cumulative loss of the stream it receives, from its latest report.
    pub cumulative_lost: i32,
    /// Reports scored.
    pub samples: u32,
    /// Reports that could not be scored (a round trip was not yet known).
    pub unscored: u32,
    /// The lowest score.
    pub lowest: Option<MosSample>,
    /// The highest score.
    pub highest: Option<MosSample>,
    sum_mos: u64,
    sum_rtt: u64,
    sum_rtt_leg: u64,
    sum_jitter: u64,
    sum_loss: u64,
}

impl MosSummary {
    /// The mean of the scored reports (its `at` is zero), if there was one.
    pub fn average(&self) -> Option<MosSample> {
        let n = u64::from(self.samples);
        let mean = |s: u64| (s / n.max(1)) as u32;
        (n > 0).then(|| MosSample {
            mos_x10: mean(self.sum_mos) as u8,
            rtt_us: mean(self.sum_rtt),
            rtt_leg_us: mean(self.sum_rtt_leg),
            jitter_ms: mean(self.sum_jitter),
            loss_percent: mean(self.sum_loss) as u8,
            at: Duration::ZERO,
        })
    }

    /// Adds a scored report.
    pub fn add(&mut self, s: MosSample) {
        self.samples += 1;
        self.sum_mos += u64::from(s.mos_x10);
        self.sum_rtt += u64::from(s.rtt_us);
        self.sum_rtt_leg += u64::from(s.rtt_leg_us);
        self.sum_jitter += u64::from(s.jitter_ms);
        self.sum_loss += u64::from(s.loss_percent);
        if self.lowest.is_none_or(|l| s.mos_x10 < l.mos_x10) {
            self.lowest = Some(s);
        }
        if self.highest.is_none_or(|h| s.mos_x10 > h.mos_x10) {
            self.highest = Some(s);
        }
    }
}

/// What one leg's RTCP has told so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct RtcpQuality {
    /// Sender reports from the leg's remote: NTP middle bits, arrival.
    srs: [Option<(u32, Duration)>; SR_HISTORY],
    next_sr: usize,
    /// Round trip between the relay and the leg's remote, latest.
    pub(crate) last_rtt: Option<Duration>,
    last_report_at: Option<Duration>,
    pub(crate) summary: Option<MosSummary>,
}

impl RtcpQuality {
    /// A sender report from the leg's remote passed at `now`.
    pub(crate) fn note_sr(&mut self, ntp_middle: u32, now: Duration) {
        self.srs[self.next_sr] = Some((ntp_middle, now));
        self.next_sr = (self.next_sr + 1) % SR_HISTORY;
    }

    /// When the sender report with NTP middle bits `lsr` passed, if it is
    /// one of the latest.
    pub(crate) fn sr_seen(&self, lsr: u32) -> Option<Duration> {
        if lsr == 0 {
            return None;
        }
        self.srs
            .iter()
            .flatten()
            .find(|&&(ntp, _)| ntp == lsr)
            .map(|&(_, at)| at)
    }

    /// A report block from the leg's remote (SSRC `reporter`) at `now`:
    /// `sr_at` is when the SR it names passed the other way, `peer_rtt`
    /// the other leg's latest round trip, `clock_rate` that of the stream
    /// it reports on.
    pub(crate) fn on_block(
        &mut self,
        reporter: u32,
        block: &ReportBlock,
        now: Duration,
        sr_at: Option<Duration>,
        peer_rtt: Option<Duration>,
        clock_rate: u32,
    ) {
        let hold = Duration::from_micros(u64::from(block.dlsr) * 1_000_000 / 65_536);
        let rtt = sr_at.and_then(|t| {
            let elapsed = now.checked_sub(t)?;
            // within the slack, a hold longer than the whole round trip is
            // the end's coarse clock on a short path, not a mismatch
            (hold <= elapsed + DLSR_SLACK).then(|| elapsed.saturating_sub(hold))
        });
        let rtt = rtt.filter(|r| *r <= MAX_RTT);
        if rtt.is_some() {
            self.last_rtt = rtt;
        }
        if self
            .last_report_at
            .is_some_and(|t| now.saturating_sub(t) < MIN_REPORT_GAP)
        {
            return;
        }
        self.last_report_at = Some(now);
        let summary = self.summary.get_or_insert_with(MosSummary::default);
        summary.reporter = reporter;
        summary.cumulative_lost = block.cumulative_lost;
        let (Some(leg), Some(peer)) = (self.last_rtt, peer_rtt) else {
            summary.unscored += 1;
            return;
        };
        let rtt_us = (leg + peer).as_micros().min(u32::MAX as u128) as u32;
        let jitter_ms = (u64::from(block.jitter) * 1000 / u64::from(clock_rate.max(1))) as u32;
        let loss_percent = (u32::from(block.fraction_lost) * 100 / 256) as u8;
        summary.add(MosSample {
            mos_x10: mos_x10(rtt_us, jitter_ms, loss_percent),
            rtt_us,
            rtt_leg_us: leg.as_micros().min(u32::MAX as u128) as u32,
            jitter_ms,
            loss_percent,
            at: now,
        });
    }
}

/// Delay the model adds for coding and the jitter buffer's base, ms.
const BASE_LATENCY_MS: f64 = 10.0;

/// The score times ten (10 to 45) of a report with the end-to-end round
/// trip `rtt_us`, jitter `jitter_ms` and loss `loss_percent`: the
/// simplified ITU-T G.107 E-model that rtpengine scores its reports with
/// (after PingPlotter's), so that thresholds set against rtpengine's MOS
/// carry over.
///
/// The effective latency is the round trip, twice the jitter (a jitter
/// buffer) and 10 ms; `R` is G.107's default 93.2, less a fortieth of the
/// latency up to 160 ms (a tenth of what passes 120 ms beyond), less 2.5
/// per percent lost (G.711 with concealment at modest loss); MOS is
/// G.107 Annex B's of `R` (1 at or below 0, 4.5 at or above 100), cut to
/// tenths as rtpengine cuts it.
pub fn mos_x10(rtt_us: u32, jitter_ms: u32, loss_percent: u8) -> u8 {
    let latency = f64::from(rtt_us) / 1000.0 + 2.0 * f64::from(jitter_ms) + BASE_LATENCY_MS;
    let delay_impairment = if latency < 160.0 {
        latency / 40.0
    } else {
        (latency - 120.0) / 10.0
    };
    let r = 93.2 - delay_impairment - 2.5 * f64::from(loss_percent);
    let mos = if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)
    };
    (mos * 10.0).floor().clamp(10.0, 45.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A block held `dlsr_eighths` of a second (exact in 1/65536 s).
    fn block(lsr: u32, dlsr_eighths: u32, fraction_lost: u8, jitter: u32) -> ReportBlock {
        ReportBlock {
            lsr,
            dlsr: dlsr_eighths * 65_536 / 8,
            fraction_lost,
            jitter,
            cumulative_lost: 4,
            ..ReportBlock::default()
        }
    }

    #[test]
    fn e_model_scores() {
        // a clean LAN call: R 92.9, MOS 4.40
        assert_eq!(mos_x10(200, 0, 0), 44);
        // 5% loss costs 12.5 of R: 4.04
        assert_eq!(mos_x10(200, 0, 5), 40);
        // a 50 ms round trip, then with 20 ms of jitter and 5% loss: what
        // rtpengine 10.5 scored the same reports (4.3 and 3.9)
        assert_eq!(mos_x10(50_610, 0, 0), 43);
        assert_eq!(mos_x10(50_602, 20, 5), 39);
        // 770 ms of effective latency: past the knee at 160 ms, R 28.2
        assert_eq!(mos_x10(760_000, 0, 0), 15);
        // hopeless: R below 0
        assert_eq!(mos_x10(u32::MAX, 1000, 100), 10);
    }

    #[test]
    fn a_report_naming_a_forwarded_sr_gives_the_legs_round_trip() {
        let mut sender = RtcpQuality::default();
        sender.note_sr(0x1111, ms(1000));
        sender.note_sr(0x2222, ms(6000));
        let at = sender.sr_seen(0x1111);
        assert_eq!(at, Some(ms(1000)));
        assert_eq!(sender.sr_seen(0), None);
        assert_eq!(sender.sr_seen(0x3333), None);

        let mut q = RtcpQuality::default();
        // received 145 ms after the SR passed, held 125 ms: 20 ms round trip
        q.on_block(7, &block(0x1111, 1, 0, 0), ms(1145), at, None, 8000);
        assert_eq!(q.last_rtt, Some(ms(20)));
        let s = q.summary.unwrap();
        assert_eq!((s.reporter, s.samples, s.unscored), (7, 0, 1));
        assert_eq!(s.cumulative_lost, 4);
        assert_eq!(s.average(), None);
    }

    #[test]
    fn both_round_trips_score_and_the_summary_keeps_low_high_and_mean() {
        let mut q = RtcpQuality::default();
        let peer = Some(ms(30));
        // 20 ms here plus 30 ms there; 80 ticks of jitter at 8 kHz
        q.on_block(7, &block(1, 1, 0, 80), ms(1145), Some(ms(1000)), peer, 8000);
        // within a second of the last: not counted
        q.on_block(
            7,
            &block(1, 1, 255, 80),
            ms(1500),
            Some(ms(1000)),
            peer,
            8000,
        );
        // 10% lost, round trip unknown this time: the last one holds
        q.on_block(7, &block(9, 1, 26, 80), ms(6000), None, peer, 8000);
        let s = q.summary.unwrap();
        assert_eq!((s.samples, s.unscored), (2, 0));
        let high = s.highest.unwrap();
        assert_eq!(
            (
                high.rtt_us,
                high.rtt_leg_us,
                high.jitter_ms,
                high.loss_percent
            ),
            (50_000, 20_000, 10, 0)
        );
        assert_eq!(high.mos_x10, mos_x10(50_000, 10, 0));
        assert_eq!(high.at, ms(1145));
        let low = s.lowest.unwrap();
        assert_eq!((low.loss_percent, low.at), (10, ms(6000)));
        assert!(low.mos_x10 < high.mos_x10);
        let avg = s.average().unwrap();
        assert_eq!(avg.mos_x10, (low.mos_x10 + high.mos_x10) / 2);
        assert_eq!(avg.loss_percent, 5);
    }

    #[test]
    fn implausible_round_trips_are_ignored_but_coarse_clocks_are_not() {
        let mut q = RtcpQuality::default();
        // held longer than the time since the SR passed
        q.on_block(7, &block(1, 4, 0, 0), ms(1100), Some(ms(1000)), None, 8000);
        assert_eq!(q.last_rtt, None);
        // a round trip of 19 s
        let sr_at = Some(ms(1000));
        q.on_block(7, &block(1, 0, 0, 0), ms(20_000), sr_at, None, 8000);
        assert_eq!(q.last_rtt, None);
        // but a millisecond's rounding on a short path is a round trip of 0
        q.on_block(7, &block(1, 1, 0, 0), ms(1124), Some(ms(1000)), None, 8000);
        assert_eq!(q.last_rtt, Some(Duration::ZERO));
    }
}
