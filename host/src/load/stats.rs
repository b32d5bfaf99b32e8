//! Receive-side measurements: per-stream loss by RTP sequence, duplicates,
//! reordering, RFC 3550 interarrival jitter, and a latency histogram.

use serde::Serialize;

/// A histogram of latencies in microseconds: 1 µs buckets below 10 ms,
/// 100 µs buckets up to 1 s, one overflow bucket; the exact maximum kept.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    fine: Vec<u64>,
    coarse: Vec<u64>,
    over: u64,
    max: u64,
    count: u64,
}

const FINE: u64 = 10_000;
const COARSE_STEP: u64 = 100;
const COARSE_END: u64 = 1_000_000;

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        LatencyHistogram {
            fine: vec![0; FINE as usize],
            coarse: vec![0; ((COARSE_END - FINE) / COARSE_STEP) as usize],
            over: 0,
            max: 0,
            count: 0,
        }
    }

    /// Records one latency.
    pub fn record(&mut self, us: u64) {
        self.count += 1;
        self.max = self.max.max(us);
        if us < FINE {
            self.fine[us as usize] += 1;
        } else if us < COARSE_END {
            self.coarse[((us - FINE) / COARSE_STEP) as usize] += 1;
        } else {
            self.over += 1;
        }
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The largest sample (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The `q` quantile (0..=1) in µs, to the bucket's lower bound
    /// (the maximum for the overflow bucket); 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.fine.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return i as u64;
            }
        }
        for (i, &c) in self.coarse.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return FINE + i as u64 * COARSE_STEP;
            }
        }
        self.max
    }
}

/// What one receiving stream saw.
#[derive(Debug, Clone, Default)]
pub struct StreamRx {
    /// Datagrams accepted as RTP for this stream.
    pub packets: u64,
    /// Packets whose sequence was already seen.
    pub duplicates: u64,
    /// Packets older than the newest seen.
    pub out_of_order: u64,
    seen: Vec<u64>,
    last_seq: u16,
    last_index: i64,
    max_index: i64,
    started: bool,
    distinct: u64,
    transit: f64,
    /// RFC 3550 interarrival jitter, in RTP timestamp units (1/8000 s).
    pub jitter: f64,
}

impl StreamRx {
    /// Records a packet with sequence `seq` relative to the sender's first
    /// sequence `seq0`; returns its index from the first packet (extended
    /// across wraps), or `None` if it falls outside `0..planned`.
    pub fn on_packet(&mut self, seq: u16, seq0: u16, planned: u64) -> Option<u64> {
        let index = if self.started {
            self.last_index + i64::from(seq.wrapping_sub(self.last_seq) as i16)
        } else {
            i64::from(seq.wrapping_sub(seq0))
        };
        if index < 0 || index as u64 >= planned {
            return None;
        }
        self.started = true;
        self.last_seq = seq;
        self.last_index = index;
        self.packets += 1;
        let (word, bit) = ((index / 64) as usize, index % 64);
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & (1 << bit) != 0 {
            self.duplicates += 1;
        } else {
            self.seen[word] |= 1 << bit;
            self.distinct += 1;
        }
        if index < self.max_index {
            self.out_of_order += 1;
        }
        self.max_index = self.max_index.max(index);
        Some(index as u64)
    }

    /// Updates the jitter estimate with a packet's RTP timestamp and its
    /// arrival time (ns), per RFC 3550 A.8.
    pub fn on_timing(&mut self, rtp_ts: u32, arrival_ns: u64, first: bool) {
        // Arrival in timestamp units, reduced modulo 2^32 like the RTP clock.
        let arrival = (arrival_ns as u128 * 8000 / 1_000_000_000) as u32;
        let transit = arrival.wrapping_sub(rtp_ts) as i32 as f64;
        if !first {
            let d = (transit - self.transit).abs();
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = transit;
    }

    /// Distinct sequence numbers received.
    pub fn unique(&self) -> u64 {
        self.distinct
    }

    /// Packets expected so far: up to the newest index received.
    pub fn expected(&self) -> u64 {
        if self.started {
            self.max_index as u64 + 1
        } else {
            0
        }
    }
}

/// Totals of one direction (caller to callee or back).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DirectionStats {
    /// RTP packets the generator sent.
    pub sent: u64,
    /// RTP packets received (duplicates included).
    pub received: u64,
    /// Sequence numbers sent but never received.
    pub lost: u64,
    /// `lost / sent`.
    pub loss_ratio: f64,
    /// Duplicates received.
    pub duplicates: u64,
    /// Packets received after a newer one of the same stream.
    pub out_of_order: u64,
    /// Mean over streams of the RFC 3550 jitter at the end, µs.
    pub jitter_mean_us: f64,
    /// Largest stream jitter at the end, µs.
    pub jitter_max_us: f64,
}

/// Latency figures in microseconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LatencyStats {
    /// Packets with a measured latency.
    pub samples: u64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Maximum.
    pub max_us: u64,
}

impl LatencyStats {
    /// Summarises a histogram.
    pub fn from_histogram(h: &LatencyHistogram) -> Self {
        LatencyStats {
            samples: h.count(),
            p50_us: h.quantile(0.5),
            p99_us: h.quantile(0.99),
            p999_us: h.quantile(0.999),
            max_us: h.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let mut h = LatencyHistogram::new();
        for us in 1..=1000 {
            h.record(us);
        }
        h.record(50_000);
        assert_eq!(h.quantile(0.5), 501);
        assert_eq!(h.quantile(0.99), 991);
        assert_eq!(h.max(), 50_000);
        assert_eq!(h.quantile(1.0), 50_000);
    }

    #[test]
    fn sequence_loss_duplicates_wrap() {
        let mut s = StreamRx::default();
        let seq0 = 65530u16;
        for i in [0u16, 1, 2, 4, 3, 3, 9, 10, 11] {
            s.on_packet(seq0.wrapping_add(i), seq0, 12).unwrap();
        }
        assert_eq!(s.packets, 9);
        assert_eq!(s.duplicates, 1);
        assert_eq!(s.out_of_order, 2);
        assert_eq!(s.unique(), 8);
        assert_eq!(s.on_packet(seq0.wrapping_add(12), seq0, 12), None);
    }

    #[test]
    fn jitter_of_a_steady_stream_is_zero_and_grows_with_variation() {
        let mut s = StreamRx::default();
        for i in 0..100u64 {
            s.on_timing((i * 160) as u32, 1_000_000_000 + i * 20_000_000, i == 0);
        }
        assert!(s.jitter < 0.5, "{}", s.jitter);
        for i in 100..200u64 {
            let wobble = if i % 2 == 0 { 1_000_000 } else { 0 };
            s.on_timing(
                (i * 160) as u32,
                1_000_000_000 + i * 20_000_000 + wobble,
                false,
            );
        }
        assert!(s.jitter > 4.0, "{}", s.jitter); // ~8 units of 1 ms swing
    }
}
