//! What both drivers' workers do with their relay core's outputs: datagrams
//! into the worker's send batch, events to the node (dropped and counted
//! when its channel is full), closed legs' statistics summed, and the core's
//! next timer kept.

use std::sync::mpsc;
use std::time::Duration;

use super::{add_stats, DriverCounters};
use crate::relay::{Event, LegStats, Output, RelayCore, Transmit};

/// Where a worker keeps what the outputs other than datagrams leave.
pub(super) struct OutputSinks<'a> {
    /// The worker's shard, sent with each event.
    pub shard: usize,
    /// The node's event channel, if any.
    pub events: &'a Option<mpsc::SyncSender<(usize, Event)>>,
    /// Statistics of closed legs, summed.
    pub closed: &'a mut LegStats,
    /// The worker's counters (`events_dropped`).
    pub counters: &'a mut DriverCounters,
    /// When the core wants to be woken next.
    pub wake_at: &'a mut Option<Duration>,
}

/// Takes the core's outputs until there are none (`false`) or `pending`
/// is full (`true`: send the batch, then call again; nothing is lost).
pub(super) fn drain(
    core: &mut RelayCore,
    pending: &mut Vec<Transmit>,
    sinks: OutputSinks<'_>,
) -> bool {
    // a batch of at least one, so that a zero-capacity batch still moves
    while pending.len() < pending.capacity().max(1) {
        match core.poll_output() {
            None => return false,
            Some(Output::Transmit(t)) => pending.push(t),
            Some(Output::Event(e)) => {
                if let Event::LegClosed { stats, .. } = &e {
                    add_stats(sinks.closed, stats);
                }
                if let Some(tx) = sinks.events {
                    if tx.try_send((sinks.shard, e)).is_err() {
                        sinks.counters.events_dropped += 1;
                    }
                }
            }
            Some(Output::Timeout(at)) => *sinks.wake_at = Some(at),
        }
    }
    true
}
