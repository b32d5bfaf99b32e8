//! One RTP stream of a capture: packets are collected as they arrive (payloads
//! copied into one growing arena, so no allocation per packet) and assembled
//! at the end: reordered by extended sequence number, duplicates dropped,
//! audio placed by RTP timestamp, gaps filled with silence, G.711 decoded and
//! RFC 4733 events tracked.

use std::net::SocketAddr;

use ringwire_dsp::g711::Law;

use crate::input::{MediaStream, StreamStats, TelephoneEventDigit};
use crate::rfc4733::{EventTracker, TelephoneEvent};

/// Largest timestamp jump filled with silence: 1 hour at 8 kHz. Larger jumps
/// are counted as discontinuities and bridged.
pub const MAX_GAP_SAMPLES: i64 = 8000 * 3600;

/// Most samples all streams of one capture may hold together (8 hours at
/// 8 kHz, 460 MB): bounds memory whatever timestamps a hostile file claims.
pub const MAX_CAPTURE_SAMPLES: usize = 8000 * 3600 * 8;

/// Samples per ms of the 8 kHz media clock.
const SAMPLES_PER_MS: u64 = 8;

/// Payload type of comfort noise (RFC 3389): silence, no note.
const PT_CN: u8 = 13;

/// What a stream is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamKey {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// RTP SSRC.
    pub ssrc: u32,
}

/// Whether a payload type may start a stream candidate.
pub fn can_start_stream(pt: u8, payload: &[u8]) -> bool {
    match pt {
        0 | 3..=18 => true,
        96..=127 => TelephoneEvent::parse(payload).is_ok(),
        _ => false,
    }
}

/// Whether a payload type may join an existing stream.
pub fn can_join_stream(pt: u8) -> bool {
    matches!(pt, 0 | 3..=18 | 96..=127)
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    seq: u16,
    ts: u32,
    pt: u8,
    off: u32,
    len: u16,
}

/// Packets of one stream, as they arrived.
#[derive(Debug)]
pub struct StreamAcc {
    /// The stream's key.
    pub key: StreamKey,
    /// Index of the first frame of the stream in the capture.
    pub first_frame: u64,
    entries: Vec<Entry>,
    arena: Vec<u8>,
}

impl StreamAcc {
    /// A stream starting at capture frame `first_frame`.
    pub fn new(key: StreamKey, first_frame: u64) -> Self {
        StreamAcc {
            key,
            first_frame,
            entries: Vec::new(),
            arena: Vec::new(),
        }
    }

    /// Number of packets collected.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no packet was collected.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds one packet (header fields and payload, copied into the arena).
    pub fn push(&mut self, seq: u16, ts: u32, pt: u8, payload: &[u8]) {
        let Ok(off) = u32::try_from(self.arena.len()) else {
            return; // 4 GiB of payload in one stream: ignore the rest.
        };
        self.entries.push(Entry {
            seq,
            ts,
            pt,
            off,
            len: payload.len().min(u16::MAX as usize) as u16,
        });
        self.arena.extend_from_slice(payload);
    }

    fn payload(&self, e: &Entry) -> &[u8] {
        &self.arena[e.off as usize..e.off as usize + e.len as usize]
    }

    /// Assembles the stream: reorder, dedup, place, decode, track events.
    /// `budget` is the number of samples the capture may still allocate; it
    /// is decreased by this stream's length (audio beyond it is dropped with
    /// a note).
    pub fn assemble(&self, id: String, malformed: u64, budget: &mut usize) -> MediaStream {
        let mut stats = StreamStats {
            packets: self.entries.len() as u64,
            bytes: self.entries.iter().map(|e| e.len as u64).sum(),
            malformed,
            ..StreamStats::default()
        };
        let order = self.sequence_order(&mut stats);

        // Dynamic payload types that carry telephone events in this stream.
        let mut event_pts = [false; 128];
        for e in &self.entries {
            if e.pt >= 96 && TelephoneEvent::parse(self.payload(e)).is_ok() {
                event_pts[e.pt as usize] = true;
            }
        }

        let mut samples: Vec<i16> = Vec::new();
        let mut tracker = EventTracker::new();
        let mut events = Vec::new();
        let mut unsupported = [false; 128];
        let mut origin: Option<(u32, i64)> = None; // (last ts, its offset)
        let mut cursor: i64 = 0;
        for &i in &order {
            let e = &self.entries[i];
            let pos = match origin {
                None => 0,
                Some((last_ts, last_pos)) => {
                    let pos = last_pos + e.ts.wrapping_sub(last_ts) as i32 as i64;
                    let end = cursor.max(samples.len() as i64);
                    if pos - end > MAX_GAP_SAMPLES || pos < -MAX_GAP_SAMPLES {
                        stats.discontinuities += 1;
                        end
                    } else {
                        pos
                    }
                }
            };
            origin = Some((e.ts, pos));
            cursor = pos;
            let payload = self.payload(e);
            match e.pt {
                0 | 8 => {
                    let law = if e.pt == 0 { Law::Ulaw } else { Law::Alaw };
                    let skip = (-pos).max(0) as usize;
                    if skip >= payload.len() {
                        continue;
                    }
                    let start = pos.max(0) as usize;
                    let end = start + payload.len() - skip;
                    if samples.len() < end {
                        let grow = end - samples.len();
                        if grow > *budget {
                            stats.notes.push(format!(
                                "media time limit of {MAX_CAPTURE_SAMPLES} samples per capture reached; rest of stream dropped"
                            ));
                            break;
                        }
                        *budget -= grow;
                        samples.resize(end, 0);
                    }
                    law.decode(&payload[skip..], &mut samples[start..end]);
                }
                PT_CN => {}
                pt if pt >= 96 && event_pts[pt as usize] => match TelephoneEvent::parse(payload) {
                    Ok(ev) => {
                        tracker.push(pos.max(0) as u32, e.seq, &ev);
                        events.extend(std::iter::from_fn(|| tracker.poll()));
                    }
                    Err(_) => stats.malformed += 1,
                },
                pt => {
                    if !unsupported[pt as usize & 127] {
                        unsupported[pt as usize & 127] = true;
                        stats.unsupported_payload_types.push(pt);
                        stats.notes.push(format!("unsupported payload type {pt}"));
                    }
                }
            }
        }
        tracker.finish();
        events.extend(std::iter::from_fn(|| tracker.poll()));
        stats.skipped_events = tracker.stats().skipped_events;
        let telephone_events = events
            .iter()
            .map(|d| TelephoneEventDigit {
                digit: d.digit,
                start_ms: d.start_ts / SAMPLES_PER_MS,
                end_ms: (d.start_ts + d.duration as u64) / SAMPLES_PER_MS,
            })
            .collect();
        MediaStream {
            id,
            samples,
            telephone_events,
            stats,
        }
    }

    /// Indices of the unique packets in extended-sequence order; counts
    /// duplicates, out-of-order arrivals and losses.
    fn sequence_order(&self, stats: &mut StreamStats) -> Vec<usize> {
        let n = self.entries.len();
        let mut ext = Vec::with_capacity(n);
        let mut highest: Option<i64> = None;
        for e in &self.entries {
            let x = match highest {
                None => e.seq as i64,
                Some(h) => h + e.seq.wrapping_sub(h as u16) as i16 as i64,
            };
            highest = Some(highest.map_or(x, |h| h.max(x)));
            ext.push(x);
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| (ext[i], i));
        let mut dup = vec![false; n];
        for w in order.windows(2) {
            if ext[w[0]] == ext[w[1]] {
                dup[w[1]] = true;
                stats.duplicates += 1;
            } else {
                stats.lost += (ext[w[1]] - ext[w[0]] - 1) as u64;
            }
        }
        let mut max_seen: Option<i64> = None;
        for i in 0..n {
            if dup[i] {
                continue;
            }
            if max_seen.is_some_and(|m| ext[i] < m) {
                stats.out_of_order += 1;
            }
            max_seen = Some(max_seen.map_or(ext[i], |m| m.max(ext[i])));
        }
        order.retain(|&i| !dup[i]);
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> StreamKey {
        StreamKey {
            src: "10.0.0.1:5000".parse().unwrap(),
            dst: "10.0.0.2:6000".parse().unwrap(),
            ssrc: 1,
        }
    }

    fn pcmu(v: u8) -> [u8; 160] {
        [v; 160]
    }

    #[test]
    fn reorders_dedups_and_fills_loss() {
        let mut acc = StreamAcc::new(key(), 0);
        let base_seq = 65534u16;
        let base_ts = u32::MAX - 200;
        // Packets 0..6 with 3 lost, 2 and 1 swapped, 4 duplicated.
        for k in [0u16, 2, 1, 4, 4, 5] {
            acc.push(
                base_seq.wrapping_add(k),
                base_ts.wrapping_add(160 * k as u32),
                0,
                &pcmu(0x80 + k as u8),
            );
        }
        let s = acc.assemble("x".into(), 0, &mut MAX_CAPTURE_SAMPLES.clone());
        assert_eq!(s.samples.len(), 6 * 160);
        assert_eq!(s.stats.duplicates, 1);
        assert_eq!(s.stats.lost, 1);
        assert_eq!(s.stats.out_of_order, 1);
        assert_eq!(s.stats.packets, 6);
        assert!(s.samples[3 * 160..4 * 160].iter().all(|&x| x == 0));
        assert_eq!(s.samples[160], Law::Ulaw.decode_one(0x81));
        assert_eq!(s.samples[2 * 160], Law::Ulaw.decode_one(0x82));
    }

    #[test]
    fn absurd_gap_is_a_discontinuity() {
        let mut acc = StreamAcc::new(key(), 0);
        acc.push(1, 0, 8, &[0xd5; 160]);
        acc.push(2, 2_000_000_000, 8, &[0xd5; 160]);
        acc.push(3, 2_000_000_160, 8, &[0xd5; 160]);
        let s = acc.assemble("x".into(), 0, &mut MAX_CAPTURE_SAMPLES.clone());
        assert_eq!(s.stats.discontinuities, 1);
        assert_eq!(s.samples.len(), 480);
    }

    #[test]
    fn sample_budget_bounds_memory() {
        let mut acc = StreamAcc::new(key(), 0);
        for k in 0..10u16 {
            // Each jump is just under the 1 hour cap.
            acc.push(
                k,
                (k as u32) * (MAX_GAP_SAMPLES as u32 - 1000),
                0,
                &[0xff; 160],
            );
        }
        let mut budget = 8000 * 3600 * 3;
        let s = acc.assemble("x".into(), 0, &mut budget);
        assert!(s.samples.len() <= 8000 * 3600 * 3);
        assert!(s.stats.notes[0].contains("limit"));
    }

    #[test]
    fn unsupported_and_events() {
        let mut acc = StreamAcc::new(key(), 0);
        acc.push(1, 0, 9, &[0; 160]);
        acc.push(2, 160, 101, &[5, 0x0a, 0, 160]);
        acc.push(3, 160, 101, &[5, 0x8a, 1, 64]);
        acc.push(4, 160, 101, &[5, 0x8a, 1, 64]);
        acc.push(5, 160, 101, &[5, 0x8a]);
        let s = acc.assemble("x".into(), 0, &mut MAX_CAPTURE_SAMPLES.clone());
        assert_eq!(s.stats.unsupported_payload_types, vec![9]);
        assert_eq!(
            s.stats.notes,
            vec!["unsupported payload type 9".to_string()]
        );
        assert_eq!(s.stats.malformed, 1);
        assert!(s.samples.is_empty());
        assert_eq!(
            s.telephone_events,
            vec![TelephoneEventDigit {
                digit: '5',
                start_ms: 20,
                end_ms: 60
            }]
        );
    }
}
