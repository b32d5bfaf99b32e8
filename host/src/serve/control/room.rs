//! Room for new legs: port pairs bound before a request changes anything,
//! and the calls in their delete delay that give theirs up when ports or
//! descriptors run short.

use std::net::UdpSocket;

use ringwire_media::relay::{CallId, LocalPort};

use super::Node;
use crate::ng::ControlError;

/// A leg's RTP port and its bound sockets (RTP, and RTCP on the port
/// after it), before the leg exists.
pub(super) type BoundPair = (u16, Vec<(LocalPort, UdpSocket)>);

/// Busy pairs (bound by another program, e.g. a second node sharing the
/// range) skipped per allocation before giving up.
const BIND_ATTEMPTS: usize = 512;

impl Node {
    /// Allocates a port pair for `call` and binds its sockets; when ports
    /// or descriptors run short, the calls in their delete delay (not
    /// `call`) give theirs up first, the one due soonest first.
    fn bind_pair(&mut self, call: CallId) -> Result<BoundPair, ControlError> {
        loop {
            match self.try_bind_pair() {
                Err(ControlError::NoPorts | ControlError::NoDescriptors)
                    if self.reclaim_deleted(Some(call)) => {}
                Err(ControlError::NoDescriptors) => {
                    tracing::error!(
                        "offer refused: no file descriptor left (raise the open-descriptor limit)"
                    );
                    return Err(ControlError::NoDescriptors);
                }
                result => return result,
            }
        }
    }

    /// Ends the call in its delete delay that is due soonest, other than
    /// `except`, before its time: a new call needs its ports (or its place
    /// under `max_calls`) more than it may need reviving. Whether there
    /// was one.
    pub(super) fn reclaim_deleted(&mut self, except: Option<CallId>) -> bool {
        if self.deleting == 0 {
            return false;
        }
        let soonest = self
            .calls
            .iter()
            .filter(|(_, c)| Some(c.id) != except)
            .filter_map(|(call_id, c)| c.deleting.map(|at| (at, call_id)))
            .min()
            .map(|(_, call_id)| call_id.clone());
        let Some(call_id) = soonest else {
            return false;
        };
        tracing::info!(call = %call_id, "room needed: a deleted call ends before its delete delay");
        if let Err(e) = self.remove(&call_id) {
            tracing::warn!(call = %call_id, "deleted call: {e:?}");
        }
        true
    }

    /// Allocates a port pair and binds its sockets, skipping pairs another
    /// program holds.
    fn try_bind_pair(&mut self) -> Result<BoundPair, ControlError> {
        for _ in 0..BIND_ATTEMPTS {
            let p = self.ports.allocate().map_err(|_| ControlError::NoPorts)?;
            match self.driver.bind_pair(p, p + 1) {
                Ok(s) => return Ok((p, s)),
                Err(e) if e.is_descriptor_limit() => {
                    // not this pair's fault: every other would fail alike
                    self.ports.free(p);
                    tracing::debug!("port pair {p}: {e}");
                    return Err(ControlError::NoDescriptors);
                }
                Err(e) => {
                    tracing::warn!("port pair {p} unusable, skipped: {e}");
                    self.ports.free(p);
                }
            }
        }
        Err(ControlError::NoPorts)
    }

    /// Binds the port pairs of `n` new legs of `call`, all or none: a
    /// request that would run out of ports or descriptors midway is
    /// refused before it changes anything.
    pub(super) fn bind_pairs(
        &mut self,
        call: CallId,
        n: usize,
    ) -> Result<Vec<BoundPair>, ControlError> {
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            match self.bind_pair(call) {
                Ok(pair) => pairs.push(pair),
                Err(e) => {
                    self.free_pairs(pairs);
                    return Err(e);
                }
            }
        }
        Ok(pairs)
    }

    /// Closes bound pairs no leg took, and gives their ports back.
    pub(super) fn free_pairs(&mut self, pairs: Vec<BoundPair>) {
        for (p, sockets) in pairs {
            drop(sockets);
            self.ports.free(p);
        }
    }
}
