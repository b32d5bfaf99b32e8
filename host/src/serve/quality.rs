//! Call-quality histograms for `/metrics`: each RTP stream's loss ratio and
//! jitter, taken when its call ends, so that an operator can alert on the
//! share of calls whose audio arrived damaged (the node's own RFC 3550
//! receive statistics, no RTCP from the phones needed).

use std::sync::atomic::{AtomicU64, Ordering};

use super::metrics::histogram;
use crate::ng::MediaStats;

/// Upper bounds of the loss-ratio buckets (lost / expected).
pub const LOSS_BOUNDS: [f64; 7] = [0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1];

/// Upper bounds of the jitter buckets, seconds (G.711 through a 40-60 ms
/// jitter buffer starts to suffer at about 20-30 ms).
pub const JITTER_BOUNDS: [f64; 7] = [0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1];

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

/// Loss and jitter of the RTP streams of ended calls.
#[derive(Debug)]
pub struct StreamQuality {
    loss: Histogram,
    jitter: Histogram,
}

impl Default for StreamQuality {
    fn default() -> Self {
        StreamQuality {
            loss: Histogram::new(&LOSS_BOUNDS),
            jitter: Histogram::new(&JITTER_BOUNDS),
        }
    }
}

impl StreamQuality {
    /// Records the stream of one media section of an ended call; a stream
    /// that never carried RTP says nothing about the network and is left
    /// out.
    pub fn observe(&self, m: &MediaStats) {
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
