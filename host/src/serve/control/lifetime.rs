//! How calls end without a proxy's delete: the delete delay running out,
//! and calls nobody deletes ([`crate::serve::expiry`]); and how an offer or
//! answer revives a deleted call.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{CallState, Node};
use crate::serve::expiry::{self, Countdown};

impl Node {
    /// Deletes the calls that are due: those whose delete delay is over,
    /// and those nobody deletes (see [`expiry`]); call it every second or
    /// so. Returns how many went on their own (the latter).
    pub fn expire(&mut self, now: Instant) -> usize {
        self.end_deleted(now);
        let Some((idle, expiry)) = self.expiry.clone() else {
            return 0;
        };
        // Most calls are busy: only those with something to do are listed
        // (no allocation per call and sweep), then dealt with.
        let due: Vec<(String, expiry::Step, bool)> = self
            .calls
            .iter()
            .filter(|(_, call)| call.deleting.is_none())
            .filter_map(|(call_id, call)| {
                let view = expiry::CallView {
                    answered: call.sides[1].tag.is_some(),
                    held: call.media_held(),
                    created: call.created_at,
                    idle_since: idle.all_idle_since(call.legs()),
                };
                let step = expiry::step(&expiry, now, view, call.countdown);
                (step != expiry::Step::Keep).then(|| (call_id.clone(), step, view.held))
            })
            .collect();
        let mut gone = Vec::new();
        for (call_id, step, held) in due {
            let call = &self.calls[&call_id];
            let packets = match step {
                expiry::Step::Start { .. } | expiry::Step::Check => self.packets(call),
                _ => None,
            };
            let before = call.countdown.map(|c| c.packets);
            let c = self.calls.get_mut(&call_id).expect("listed");
            match step {
                expiry::Step::Keep => {}
                expiry::Step::Start { due } => {
                    c.countdown = packets.map(|packets| Countdown { packets, due, held });
                }
                expiry::Step::Cancel => c.countdown = None,
                expiry::Step::Check => match packets {
                    Some(_) if packets == before => gone.push((call_id, expiry::Cause::NoMedia)),
                    // heard after all (a "media resumed" event lost):
                    // count down again from here
                    Some(packets) => {
                        let due = now + expiry.after(held).unwrap_or_default();
                        c.countdown = Some(Countdown { packets, due, held });
                    }
                    None => c.countdown = None,
                },
                expiry::Step::Delete(cause) => gone.push((call_id, cause)),
            }
        }
        for (call_id, cause) in &gone {
            tracing::info!(call = %call_id, cause = cause.as_str(), "call deleted by the node");
            let counter = match cause {
                expiry::Cause::NoMedia => &self.gauges.expired_no_media,
                expiry::Cause::NoAnswer => &self.gauges.expired_no_answer,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = self.remove(call_id) {
                tracing::warn!(call = %call_id, "expired call: {e:?}");
            }
        }
        gone.len()
    }

    /// Removes the deleted calls whose delete delay ended by `now`.
    fn end_deleted(&mut self, now: Instant) {
        if self.deleting == 0 {
            return;
        }
        let due: Vec<String> = self
            .calls
            .iter()
            .filter(|(_, call)| call.deleting.is_some_and(|at| at <= now))
            .map(|(call_id, _)| call_id.clone())
            .collect();
        for call_id in due {
            tracing::debug!(call = %call_id, "delete delay over: call removed");
            if let Err(e) = self.remove(&call_id) {
                tracing::warn!(call = %call_id, "deleted call: {e:?}");
            }
        }
    }

    /// Brings back `call_id` if it is in its delete delay: an offer or
    /// answer came for it (the next branch of a forked call).
    pub(super) fn revive(&mut self, call_id: &str) {
        if let Some(call) = self.calls.get_mut(call_id) {
            if call.deleting.take().is_some() {
                self.deleting -= 1;
                if let Some((idle, _)) = &self.expiry {
                    // held again as its SDPs say (`apply_sdp` noted it)
                    idle.set_deleted(call.id, false);
                }
                tracing::info!(call = %call_id, "deleted call revived by a new offer or answer");
            }
        }
    }

    /// RTP and RTCP packets received so far on the legs of `call`; `None`
    /// when the driver cannot say.
    fn packets(&self, call: &CallState) -> Option<u64> {
        let mut total = 0;
        for leg in call.legs() {
            let info = self.driver.leg_info(call.id, leg).ok()??;
            total += info.stats.packets + info.stats.rtcp_packets;
        }
        Some(total)
    }
}
