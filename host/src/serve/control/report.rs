//! What `query` and `delete` report of a call, and the line the node logs
//! when a call ends.

use std::time::SystemTime;

use super::{CallState, Node};
use crate::ng::{CallStats, Counters, MediaStats, ReceiveQuality, TagStats};
use crate::serve::quality;

impl Node {
    /// What `query` and `delete` report of `call`: its media statistics
    /// and its detector events.
    pub(super) fn stats(&self, call: &CallState) -> CallStats {
        let mut stats = self.media_stats(call);
        if let Some(d) = &self.detect {
            stats.events = d.events.events(call.id);
        }
        stats
    }

    /// `call`'s times and each side's media statistics (no events).
    pub(super) fn media_stats(&self, call: &CallState) -> CallStats {
        let mut stats = CallStats {
            created: call.created,
            last_signal: call.last_signal,
            ..CallStats::default()
        };
        // every leg's statistics in one round trip to the call's worker
        let legs = self.driver.call_info(call.id).unwrap_or_default();
        let wall = SystemTime::now();
        for side in &call.sides {
            let Some(tag) = &side.tag else { continue };
            let mut t = TagStats {
                tag: tag.clone(),
                label: side.label.clone(),
                created: side.created,
                media: Vec::new(),
            };
            for m in side.media.iter().flatten() {
                let info = legs.iter().find(|(leg, _)| *leg == m.leg).map(|(_, i)| *i);
                let mut ms = MediaStats {
                    local_port: m.rtp,
                    codec: m.codec.map(|c| c.to_string()),
                    kind: m.kind.to_string(),
                    protocol: m.proto.to_string(),
                    sends: m.flow.is_some_and(|f| f.sends()),
                    receives: m.flow.is_some_and(|f| f.receives()),
                    rtcp_mux: m.muxed,
                    ..MediaStats::default()
                };
                if let Some(info) = info {
                    let s = info.stats;
                    ms.peer = info.remote_rtp;
                    ms.rtp = Counters {
                        packets: s.packets,
                        bytes: s.bytes,
                        errors: s.malformed + s.hijack_drops,
                    };
                    ms.rtcp = Counters {
                        packets: s.rtcp_packets,
                        bytes: s.rtcp_bytes,
                        errors: 0,
                    };
                    ms.quality = ReceiveQuality {
                        ssrc: s.ssrc,
                        lost: s.lost,
                        duplicates: s.duplicates,
                        out_of_order: s.out_of_order,
                        jitter_us: u64::from(s.jitter_q4) * 1_000_000
                            / (16 * u64::from(info.clock_rate.max(1))),
                    };
                    ms.mos = info
                        .mos
                        .and_then(|m| quality::mos_stats(&m, info.read_at, wall));
                    ms.last_packet = info
                        .last_rtp
                        .map(|at| quality::unix_secs(at, info.read_at, wall));
                }
                for (total, c) in [(&mut stats.rtp, ms.rtp), (&mut stats.rtcp, ms.rtcp)] {
                    total.packets += c.packets;
                    total.bytes += c.bytes;
                    total.errors += c.errors;
                }
                t.media.push(ms);
            }
            stats.tags.push(t);
        }
        stats
    }
}

/// Each side's media as one log field: `tag: peer -> port: counts` per
/// media section, apart by `; `.
pub(super) fn media_summary(stats: &CallStats) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for t in &stats.tags {
        for m in &t.media {
            if !out.is_empty() {
                out.push_str("; ");
            }
            let _ = write!(out, "{}: {m}", t.tag);
        }
    }
    out
}
