//! The control side of a worker that both backends share: relay commands,
//! leg queries and snapshots, whatever the sockets are served by.
use std::collections::HashMap;
use std::net::UdpSocket;
use std::time::Duration;

use super::{add_stats, DriverCounters, LegInfo, Request, ShardSnapshot};
use crate::relay::{CallId, Command, Input, LegId, LegStats, LocalPort, Packet, RelayCore};

/// What a backend's worker gives the shared request handling.
pub(super) trait ShardWorker {
    /// The buffer its core relays datagrams in.
    type Buf: Packet;
    /// The relay core, the live legs of each call, and the summed
    /// statistics of closed legs.
    fn parts(
        &mut self,
    ) -> (
        &mut RelayCore<Self::Buf>,
        &mut HashMap<CallId, Vec<LegId>>,
        &LegStats,
    );
    /// Starts serving a new leg's socket on `port` for `call`.
    fn register(&mut self, call: CallId, port: LocalPort, socket: UdpSocket);
    /// Stops serving and closes every socket of `call`.
    fn release_ports(&mut self, call: CallId);
    /// Sends and queues what the core produced.
    fn drain_outputs(&mut self);
    /// The backend's IO counters.
    fn driver_counters(&self) -> DriverCounters;
}

/// What the control side may know of `leg`: statistics and remotes.
fn leg_info<B: Packet>(core: &RelayCore<B>, leg: LegId, now: Duration) -> Option<LegInfo> {
    let stats = core.leg_stats(leg)?;
    let (remote_rtp, remote_rtcp) = core.leg_remote(leg).unwrap_or_default();
    Some(LegInfo {
        stats,
        remote_rtp,
        remote_rtcp,
        clock_rate: core.leg_clock_rate(leg).unwrap_or(8000),
        mos: core.leg_mos(leg),
        last_rtp: core.leg_last_rtp(leg),
        read_at: now,
    })
}

/// Runs one control request on a worker.
pub(super) fn handle_request<W: ShardWorker>(w: &mut W, now: Duration, request: Request) {
    match request {
        Request::Relay {
            command,
            sockets,
            reply,
        } => {
            let added = match &command {
                Command::AddLeg { call, leg, .. } => Some((*call, *leg)),
                _ => None,
            };
            let deleted = match &command {
                Command::DeleteCall { call } => Some(*call),
                _ => None,
            };
            let result = w.parts().0.handle_input(now, Input::Command(command));
            if result.is_ok() {
                if let Some((call, leg)) = added {
                    w.parts().1.entry(call).or_default().push(leg);
                    for (port, socket) in sockets {
                        w.register(call, port, socket);
                    }
                }
                if let Some(call) = deleted {
                    w.parts().1.remove(&call);
                    w.release_ports(call);
                }
            }
            w.drain_outputs();
            if let Some(reply) = reply {
                let _ = reply.try_send(result);
            }
        }
        Request::LegInfo { leg, reply } => {
            let (core, _, _) = w.parts();
            let _ = reply.try_send(leg_info(core, leg, now));
        }
        Request::CallInfo { call, reply } => {
            let (core, call_legs, _) = w.parts();
            let legs = call_legs.get(&call).map(Vec::as_slice).unwrap_or_default();
            let info = legs
                .iter()
                .filter_map(|&leg| leg_info(core, leg, now).map(|i| (leg, i)))
                .collect();
            let _ = reply.try_send(info);
        }
        Request::Snapshot { reply } => {
            let driver = w.driver_counters();
            let (core, call_legs, closed) = w.parts();
            let mut total = *closed;
            for &leg in call_legs.values().flatten() {
                if let Some(s) = core.leg_stats(leg) {
                    add_stats(&mut total, &s);
                }
            }
            let c = core.counters();
            let _ = reply.try_send(ShardSnapshot {
                calls: core.call_count() as u64,
                legs: core.leg_count() as u64,
                legs_total: total,
                unknown_port: c.unknown_port,
                queue_overflows: c.queue_overflows,
                driver,
            });
        }
    }
}
