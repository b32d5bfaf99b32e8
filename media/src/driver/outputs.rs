//! What both drivers' workers do with their relay core's outputs: datagrams
//! into the worker's send batch, events to the node (dropped and counted
//! when its channel is full), closed legs' statistics summed, socket pins
//! kept for the worker to apply, and the core's next timer kept.

use std::sync::mpsc;
use std::time::Duration;

use super::{add_stats, DriverCounters};
use crate::relay::{Event, LegStats, Output, Packet, Pin, RelayCore, Transmit};

/// What a worker keeps of its core's outputs other than datagrams.
pub(super) struct CoreOutputs {
    /// The node's event channel, if any.
    pub events: Option<mpsc::SyncSender<(usize, Event)>>,
    /// Statistics of closed legs, summed.
    pub closed: LegStats,
    /// When the core wants to be woken next.
    pub wake_at: Option<Duration>,
    /// Sockets to connect or disconnect, in the core's order: the worker
    /// applies them after each [`CoreOutputs::drain`].
    pub pins: Vec<Pin>,
}

impl CoreOutputs {
    /// Nothing kept yet; events go to `events`.
    pub fn new(events: Option<mpsc::SyncSender<(usize, Event)>>) -> Self {
        CoreOutputs {
            events,
            closed: LegStats::default(),
            wake_at: None,
            pins: Vec::with_capacity(64),
        }
    }

    /// Takes `core`'s outputs until there are none (`false`) or `pending`
    /// is full (`true`: send the batch, then call again; nothing is lost).
    /// Events go out tagged with `shard`; those the channel refuses are
    /// counted in `counters.events_dropped`.
    pub fn drain<B: Packet>(
        &mut self,
        shard: usize,
        core: &mut RelayCore<B>,
        pending: &mut Vec<Transmit<B>>,
        counters: &mut DriverCounters,
    ) -> bool {
        // a batch of at least one, so that a zero-capacity batch still moves
        while pending.len() < pending.capacity().max(1) {
            match core.poll_output() {
                None => return false,
                Some(Output::Transmit(t)) => pending.push(t),
                Some(Output::Event(e)) => {
                    if let Event::LegClosed { stats, .. } = &e {
                        add_stats(&mut self.closed, stats);
                    }
                    if let Some(tx) = &self.events {
                        if tx.try_send((shard, e)).is_err() {
                            counters.events_dropped += 1;
                        }
                    }
                }
                Some(Output::Timeout(at)) => self.wake_at = Some(at),
                Some(Output::Pin(p)) => self.pins.push(p),
            }
        }
        true
    }
}
