//! Call quality: the MOS of each end's RTCP reports as `query` gives it,
//! and histograms for `/metrics` of each RTP stream's loss ratio, jitter
//! and MOS, taken when its call ends, so that an operator can alert on
//! the share of calls whose audio arrived damaged (loss and jitter are the
//! node's own RFC 3550 receive statistics, no RTCP from the phones
//! needed).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ringwire_media::relay::{MosSample, MosSummary};

use super::metrics::histogram;
use crate::ng::{MediaStats, MosEntry, MosStats};

/// Unix seconds of the worker-clock time `at`, from a worker's reading
/// at `read_at` (its clock) that was at `wall`.
pub fn unix_secs(at: Duration, read_at: Duration, wall: SystemTime) -> i64 {
    let t = wall.checked_sub(read_at.saturating_sub(at)).unwrap_or(wall);
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The scores of one end's reports as `query` reports them, read by a
/// worker at `read_at` (its clock) and stamped in Unix time from `wall`
/// (the same instant); none while no report was scored.
pub fn mos_stats(m: &MosSummary, read_at: Duration, wall: SystemTime) -> Option<MosStats> {
    let unix = |at: Duration| unix_secs(at, read_at, wall);
    let entry = |s: MosSample, stamped: bool| MosEntry {
        mos_x10: s.mos_x10,
        rtt_us: s.rtt_us,
        rtt_leg_us: s.rtt_leg_us,
        jitter_ms: s.jitter_ms,
        loss_percent: s.loss_percent,
        reported_at: if stamped { unix(s.at) } else { 0 },
    };
    Some(MosStats {
        ssrc: m.reporter,
        cumulative_lost: i64::from(m.cumulative_lost),
        average: entry(m.average()?, false),
        samples: m.samples,
        lowest: entry(m.lowest?, true),
        highest: entry(m.highest?, true),
    })
}

/// Upper bounds of the loss-ratio buckets (lost / expected).
pub const LOSS_BOUNDS: [f64; 7] = [0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1];

/// Upper bounds of the jitter buckets, seconds (G.711 through a 40-60 ms
/// jitter buffer starts to suffer at about 20-30 ms).
pub const JITTER_BOUNDS: [f64; 7] = [0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1];

/// Upper bounds of the MOS buckets (G.711 scores 4.4 at best; 3.6 is
/// where many users are dissatisfied, G.107 Annex B).
pub const MOS_BOUNDS: [f64; 8] = [2.0, 2.6, 3.1, 3.6, 4.0, 4.2, 4.3, 4.4];

/// A fixed-bucket histogram safe to fill from one thread and read from
/// another; the sum is kept in millionths.
#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative), the last one past every bound.
    counts: Vec<AtomicU64>,
    sum_millionths: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_millionths: AtomicU64::new(0),
        }
    }

    fn observe(&self, v: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_millionths
            .fetch_add((v * 1e6).round() as u64, Ordering::Relaxed);
    }

    /// Writes the histogram in the Prometheus text format.
    fn render(&self, out: &mut String, name: &str, help: &str) {
        let count = |n: &AtomicU64| n.load(Ordering::Relaxed);
        let buckets = self
            .bounds
            .iter()
            .copied()
            .zip(self.counts.iter().map(count));
        let beyond = count(&self.counts[self.bounds.len()]);
        let sum = count(&self.sum_millionths) as f64 / 1e6;
        histogram(out, name, help, buckets, beyond, sum);
    }
}

/// Loss, jitter and MOS of the RTP streams of ended calls.
#[derive(Debug)]
pub struct StreamQuality {
    loss: Histogram,
    jitter: Histogram,
    mos: Histogram,
}

impl Default for StreamQuality {
    fn default() -> Self {
        StreamQuality {
            loss: Histogram::new(&LOSS_BOUNDS),
            jitter: Histogram::new(&JITTER_BOUNDS),
            mos: Histogram::new(&MOS_BOUNDS),
        }
    }
}

impl StreamQuality {
    /// Records the stream of one media section of an ended call; a stream
    /// that never carried RTP says nothing about the network and is left
    /// out, and only a peer whose reports were scored has a MOS.
    pub fn observe(&self, m: &MediaStats) {
        if let Some(mos) = &m.mos {
            self.mos.observe(f64::from(mos.average.mos_x10) / 10.0);
        }
        let q = &m.quality;
        let received = m.rtp.packets.saturating_sub(q.duplicates);
        if received == 0 {
            return;
        }
        self.loss
            .observe(q.lost as f64 / (received + q.lost) as f64);
        self.jitter.observe(q.jitter_us as f64 / 1e6);
    }

    /// Writes both histograms in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        self.loss.render(
            out,
            "ringwire_stream_loss_ratio",
            "Packets lost on the way to the node over packets expected, per RTP stream of an ended call.",
        );
        self.jitter.render(
            out,
            "ringwire_stream_jitter_seconds",
            "Interarrival jitter (RFC 3550 A.8) at the end of each RTP stream of an ended call.",
        );
        self.mos.render(
            out,
            "ringwire_stream_mos",
            "Mean MOS (simplified ITU-T G.107 E-model, as rtpengine scores) of the RTCP receiver reports each peer of an ended call sent.",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ng::{Counters, ReceiveQuality};

    fn stream(packets: u64, lost: u64, duplicates: u64, jitter_us: u64) -> MediaStats {
        MediaStats {
            rtp: Counters {
                packets,
                ..Counters::default()
            },
            quality: ReceiveQuality {
                lost,
                duplicates,
                jitter_us,
                ..ReceiveQuality::default()
            },
            ..MediaStats::default()
        }
    }

    fn sample(mos_x10: u8, loss_percent: u8, at_s: u64) -> MosSample {
        MosSample {
            mos_x10,
            rtt_us: 40_000,
            rtt_leg_us: 15_000,
            jitter_ms: 4,
            loss_percent,
            at: Duration::from_secs(at_s),
        }
    }

    #[test]
    fn scores_are_stamped_in_unix_time_from_the_workers_clock() {
        let mut m = MosSummary::default();
        (m.reporter, m.cumulative_lost) = (77, 12);
        assert_eq!(mos_stats(&m, Duration::ZERO, SystemTime::now()), None);
        m.add(sample(43, 0, 100));
        m.add(sample(38, 6, 105));
        // read at worker time 110 s, which was Unix time 1_800_000_000
        let wall = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let s = mos_stats(&m, Duration::from_secs(110), wall).unwrap();
        assert_eq!((s.ssrc, s.cumulative_lost, s.samples), (77, 12, 2));
        assert_eq!(
            (s.lowest.mos_x10, s.lowest.reported_at),
            (38, 1_799_999_995)
        );
        assert_eq!(
            (s.highest.mos_x10, s.highest.reported_at),
            (43, 1_799_999_990)
        );
        assert_eq!((s.average.mos_x10, s.average.loss_percent), (40, 3));
        assert_eq!((s.average.rtt_us, s.average.reported_at), (40_000, 0));
        // the call-end line gives the mean, the lowest and the round trip
        let line = MediaStats {
            mos: Some(s),
            ..stream(10, 0, 0, 0)
        }
        .to_string();
        assert!(
            line.ends_with(", MOS 4.0 (low 3.8, reports 2, round trip 40.0 ms)"),
            "{line}"
        );
    }

    #[test]
    fn the_mean_score_of_each_scored_stream_is_a_histogram() {
        let q = StreamQuality::default();
        let scored = |mos_x10| MediaStats {
            mos: Some(MosStats {
                average: MosEntry {
                    mos_x10,
                    ..MosEntry::default()
                },
                samples: 1,
                ..MosStats::default()
            }),
            ..stream(100, 0, 0, 0)
        };
        q.observe(&scored(44));
        q.observe(&scored(35));
        q.observe(&stream(100, 0, 0, 0)); // no reports: no score
        let mut out = String::new();
        q.render(&mut out);
        for line in [
            "ringwire_stream_mos_bucket{le=\"3.1\"} 0",
            "ringwire_stream_mos_bucket{le=\"3.6\"} 1",
            "ringwire_stream_mos_bucket{le=\"4.3\"} 1",
            "ringwire_stream_mos_bucket{le=\"4.4\"} 2",
            "ringwire_stream_mos_sum 7.9",
            "ringwire_stream_mos_count 2",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} not in:\n{out}");
        }
    }

    #[test]
    fn streams_fall_in_their_buckets_and_silent_ones_are_left_out() {
        let q = StreamQuality::default();
        q.observe(&stream(1000, 0, 0, 800)); // clean: 0 loss, 0.8 ms
        q.observe(&stream(990, 10, 0, 25_000)); // 1% loss, 25 ms
        q.observe(&stream(505, 500, 5, 200_000)); // half lost, 200 ms
        q.observe(&stream(0, 0, 0, 0)); // never heard: not a stream
        let mut out = String::new();
        q.render(&mut out);
        for line in [
            "ringwire_stream_loss_ratio_bucket{le=\"0\"} 1",
            "ringwire_stream_loss_ratio_bucket{le=\"0.005\"} 1",
            "ringwire_stream_loss_ratio_bucket{le=\"0.01\"} 2",
            "ringwire_stream_loss_ratio_bucket{le=\"0.1\"} 2",
            "ringwire_stream_loss_ratio_bucket{le=\"+Inf\"} 3",
            "ringwire_stream_loss_ratio_sum 0.51",
            "ringwire_stream_loss_ratio_count 3",
            "ringwire_stream_jitter_seconds_bucket{le=\"0.001\"} 1",
            "ringwire_stream_jitter_seconds_bucket{le=\"0.02\"} 1",
            "ringwire_stream_jitter_seconds_bucket{le=\"0.03\"} 2",
            "ringwire_stream_jitter_seconds_bucket{le=\"+Inf\"} 3",
            "ringwire_stream_jitter_seconds_sum 0.2258",
            "ringwire_stream_jitter_seconds_count 3",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} not in:\n{out}");
        }
    }
}
