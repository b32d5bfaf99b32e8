//! [`Node`]: the NG protocol's [`CallControl`] over the relay driver.
//!
//! A call has two sides: the offerer (named by the offer's `from-tag`) and
//! the answerer (named by the answer's `to-tag`). Each enabled media section
//! becomes one relay leg per side, both created and bridged at offer time:
//! the offerer's leg has the offer's address as its remote and local ports
//! the answerer will learn from the rewritten answer; the answerer's leg has
//! no remote until the answer and local ports written into the rewritten
//! offer. A repeated offer (same tag) returns the same ports and moves the
//! remote only if the SDP changed it, so latching is not undone by a
//! retransmission with a new cookie. An answer with a new `to-tag` (the
//! branch of a forked call that answered after another) takes the
//! answerer's side over. A deleted call stays for the delete delay
//! ([`Node::with_delete_delay`]), and an offer or answer revives it.
//!
//! Here: the call state and the NG commands. Beside it: `media` (an SDP's
//! checks and the legs it makes), `room` (port pairs bound up front, and
//! deleted calls giving theirs up), `lifetime` (delete delays and calls
//! nobody deletes), `report` (what `query`, `delete` and the log say of a
//! call).

mod lifetime;
mod media;
mod report;
mod room;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ringwire_media::driver::{DriverError, DriverHandle};
use ringwire_media::relay::{CallId, Command, Latching, LegId, Transport};

use super::config::Config;
use super::detect::DetectEvents;
use super::expiry::{Countdown, Expiry, MediaIdle};
use super::ports::PortAllocator;
use super::quality::StreamQuality;
use crate::live::{DetectorSet, LiveControl, TapControl};
use crate::ng::short_name::ShortName;
use crate::ng::{
    Allocation, Answer, CallControl, CallStats, ControlError, Delete, Direction, Offer, Query, Sdp,
};
use report::media_summary;

/// The longest delete delay a `delete` may ask for (its `delete-delay`
/// key), so that a proxy's typo cannot hold a call's ports for days.
pub const MAX_DELETE_DELAY: Duration = Duration::from_secs(3600);

/// One relay leg: a media section of one side.
#[derive(Debug, Clone, Copy)]
struct MediaLeg {
    leg: LegId,
    rtp: u16,
    rtcp: u16,
    /// The remote the last SDP of this side named (to spot changes).
    sdp_remote: Option<(Option<SocketAddr>, Option<SocketAddr>)>,
    /// The payload types the leg was last given (bit `pt`; 0: any).
    pt_mask: u128,
    /// What the leg carries: RTP, or T.38's UDPTL as it is.
    transport: Transport,
    /// How its remote follows its media's source (the side's last
    /// `asymmetric` or `media-handover` flag).
    latching: Latching,
    /// The last SDP of this side carried `a=rtcp-mux`.
    offers_mux: bool,
    /// The leg was told its remote multiplexes RTCP (both sides offer it).
    muxed: bool,
    /// What the last SDP of this side says of its media in this section;
    /// `None` until it names the section, or while it disables it (port 0).
    flow: Option<Direction>,
    /// The first codec the last SDP of this side names for the section.
    codec: Option<ShortName>,
    /// The section's media type (`audio`) and transport protocol
    /// (`RTP/AVP`), as this side's last SDP gives them.
    kind: ShortName,
    proto: ShortName,
}

#[derive(Debug, Default)]
struct Side {
    tag: Option<String>,
    /// The NG `label` of the offer or answer this side last sent, by
    /// which a proxy names the side (Kamailio's `mos_A_label_pv`).
    label: Option<String>,
    /// The node's address as this side's peer reaches it, written into
    /// the SDP sent to it: an interface an offer's `direction` named
    /// (`None`: the node's own address).
    address: Option<IpAddr>,
    created: i64,
    media: Vec<Option<MediaLeg>>,
}

#[derive(Debug)]
struct CallState {
    id: CallId,
    created: i64,
    last_signal: i64,
    sides: [Side; 2],
    /// Ports of legs left unpaired by a failed offer (freed with the call).
    stray_ports: Vec<u16>,
    /// Detectors on its legs (config defaults changed by the first offer's
    /// flags).
    detectors: DetectorSet,
    /// When its first offer came (for [`Expiry::unanswered`]).
    created_at: Instant,
    /// Its legs all quiet: on its way out ([`Node::expire`]).
    countdown: Option<Countdown>,
    /// Deleted by the proxy: it goes at this time unless an offer or an
    /// answer revives it first (the delete delay).
    deleting: Option<Instant>,
}

impl CallState {
    /// Whether one of its sides carries tag `tag`.
    fn has_tag(&self, tag: &str) -> bool {
        self.side_of(tag).is_some()
    }

    /// The side tagged `tag`, if either is.
    fn side_of(&self, tag: &str) -> Option<usize> {
        self.sides
            .iter()
            .position(|s| s.tag.as_deref() == Some(tag))
    }

    /// Every relay leg of the call, both sides.
    fn legs(&self) -> impl Iterator<Item = LegId> + Clone + '_ {
        self.sides
            .iter()
            .flat_map(|s| s.media.iter().flatten().map(|m| m.leg))
    }

    /// Whether the SDPs hold media back in some direction of a section
    /// both sides use (hold, mute): quiet there is expected, and the call
    /// expires after `timeouts.silent` instead (rtpengine's
    /// `silent-timeout`).
    fn media_held(&self) -> bool {
        let [a, b] = &self.sides;
        a.media.iter().zip(&b.media).any(|(x, y)| {
            match (x.and_then(|l| l.flow), y.and_then(|l| l.flow)) {
                (Some(x), Some(y)) => !(x.sends() && y.receives() && y.sends() && x.receives()),
                _ => false,
            }
        })
    }
}

/// Whether a delete naming `to_tag` ends only a branch of a forked call
/// that did not answer: the call has been answered (both sides have a
/// tag) and neither side carries `to_tag`. A delete of a call not yet
/// answered ends it whatever its To tag (no branch has media yet), as
/// rtpengine does.
fn is_losing_branch(call: &CallState, to_tag: Option<&str>) -> bool {
    let Some(to_tag) = to_tag.filter(|t| !t.is_empty()) else {
        return false;
    };
    call.sides.iter().all(|s| s.tag.is_some()) && !call.has_tag(to_tag)
}

/// Whether `from_tag`, where a delete gives one, is the tag of a side of
/// `call` (no tag, or an empty one, names the whole call).
fn names_a_side(call: &CallState, from_tag: Option<&str>) -> bool {
    from_tag
        .filter(|t| !t.is_empty())
        .is_none_or(|tag| call.has_tag(tag))
}

/// Live detectors as the node drives them.
#[derive(Debug)]
struct Detect {
    control: LiveControl,
    events: Arc<DetectEvents>,
    defaults: DetectorSet,
}

/// Gauges the node publishes for metrics (read from any thread).
#[derive(Debug, Default)]
pub struct NodeGauges {
    /// Calls the control layer knows.
    pub calls: AtomicU64,
    /// Of those, calls on hold: their SDPs hold media back in some
    /// direction (see [`MediaIdle::set_held`]).
    pub calls_held: AtomicU64,
    /// Of those, calls the proxy deleted, kept for the delete delay in
    /// case an offer or answer revives them.
    pub calls_deleting: AtomicU64,
    /// RTP/RTCP port pairs in use.
    pub port_pairs: AtomicU64,
    /// Offers refused while draining.
    pub refused_draining: AtomicU64,
    /// New calls refused at `[media] max_calls`.
    pub refused_max_calls: AtomicU64,
    /// Answered calls the node deleted after a silence ([`Expiry`]).
    pub expired_no_media: AtomicU64,
    /// Calls the node deleted for want of an answer ([`Expiry`]).
    pub expired_no_answer: AtomicU64,
    /// NG datagrams dropped: from outside `[control] allow`.
    pub ng_refused_source: AtomicU64,
    /// Config reloads (SIGHUP) taken.
    pub reloads_ok: AtomicU64,
    /// Config reloads refused (the file did not read, or did not fit).
    pub reloads_failed: AtomicU64,
    /// Whether the last reload was refused (none yet: no).
    pub last_reload_failed: AtomicBool,
    /// Loss and jitter of the RTP streams of ended calls.
    pub stream_quality: StreamQuality,
}

/// The node behind the NG server: ports, calls and the relay driver.
#[derive(Debug)]
pub struct Node {
    driver: Arc<DriverHandle>,
    ports: PortAllocator,
    address: IpAddr,
    calls: HashMap<String, CallState>,
    next_call: u64,
    next_leg: u64,
    draining: Arc<AtomicBool>,
    gauges: Arc<NodeGauges>,
    detect: Option<Detect>,
    /// Which legs are quiet, and when calls go on their own.
    expiry: Option<(Arc<MediaIdle>, Expiry)>,
    /// The most calls at once (`[media] max_calls`); 0: no limit.
    max_calls: usize,
    /// How long a deleted call stays, revivable (`[timeouts]
    /// delete_delay`, unless the delete names its own).
    delete_delay: Duration,
    /// Calls in their delete delay now.
    deleting: usize,
    /// Named media interfaces (`[media.interfaces]`): the address written
    /// into SDP for peers that an offer's `direction` puts behind each.
    interfaces: BTreeMap<String, IpAddr>,
}

/// The most media sections an SDP may have. Each enabled one takes two
/// port pairs, and an INVITE from anywhere can carry thousands of `m=`
/// lines: without a bound, a handful of them would take every port.
/// Calls use one to four (audio, video, T.38, BFCP).
pub const MAX_MEDIA_SECTIONS: usize = 16;

/// The refusal of a new call beyond `[media] max_calls`: rtpengine's words
/// for its `max-sessions`, which Kamailio knows too.
const MAX_CALLS_REACHED: &str = "Parallel session limit reached";

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn other(e: DriverError) -> ControlError {
    ControlError::Other(e.to_string())
}

impl Node {
    /// A node allocating ports in `ports`, writing `address` into SDP;
    /// while `draining` is set it refuses offers for new calls.
    pub fn new(
        driver: Arc<DriverHandle>,
        ports: PortAllocator,
        address: IpAddr,
        draining: Arc<AtomicBool>,
    ) -> Self {
        Node {
            driver,
            ports,
            address,
            calls: HashMap::new(),
            next_call: 1,
            next_leg: 1,
            draining,
            gauges: Arc::default(),
            detect: None,
            expiry: None,
            max_calls: 0,
            delete_delay: Duration::ZERO,
            deleting: 0,
            interfaces: BTreeMap::new(),
        }
    }

    /// Names the node's media interfaces: an offer's NG `direction`
    /// (`["external", "internal"]`: the offerer's interface, then the
    /// answerer's) then writes, into the SDP each side is sent, the address
    /// of the interface that side is behind. A name not here, or no
    /// `direction`, is the node's own address, as rtpengine falls back to
    /// its first interface.
    pub fn with_interfaces(mut self, interfaces: BTreeMap<String, IpAddr>) -> Self {
        self.interfaces = interfaces;
        self
    }

    /// The address of interface `name` ([`Node::with_interfaces`]).
    fn interface(&self, name: Option<&str>) -> IpAddr {
        name.and_then(|n| self.interfaces.get(n))
            .copied()
            .unwrap_or(self.address)
    }

    /// Keeps a deleted call `delay` longer (rtpengine's `delete-delay`,
    /// 30 s there by default), media and all, and brings it back if an
    /// offer or answer for it comes in that time: a forked INVITE whose
    /// first branch fails (an agent busy, or its early media ended) is
    /// deleted by the proxy before another branch answers, and the call
    /// goes on with that answer. Zero (the default here): a delete ends
    /// the call at once. A delete's own `delete-delay` key wins.
    pub fn with_delete_delay(mut self, delay: Duration) -> Self {
        self.delete_delay = delay;
        self
    }

    /// Takes at most `max_calls` calls at once (0: no limit): beyond it a
    /// new call's offer gets `load limit`, and the proxy tries its next
    /// node.
    pub fn with_max_calls(mut self, max_calls: usize) -> Self {
        self.max_calls = max_calls;
        self
    }

    /// Deletes calls nobody deletes ([`Node::expire`], module
    /// [`expiry`](super::expiry)): `idle` says which legs are quiet (fed from the
    /// driver's events), `expiry` when calls go.
    pub fn with_expiry(mut self, idle: Arc<MediaIdle>, expiry: Expiry) -> Self {
        self.expiry = Some((idle, expiry));
        self
    }

    /// Takes a reloaded config's live settings ([`super::reload`]): the
    /// call limit, delete delay, named interfaces, when calls nobody
    /// deletes go, the latching windows and media timeout (every leg's,
    /// at once), the detectors new calls get, with their AMD and beep
    /// parameters, and where detector events are pushed. Calls under way keep the interfaces and detectors they
    /// were set up with.
    pub fn reconfigure(&mut self, config: &Config) {
        self.max_calls = config.media.max_calls;
        self.delete_delay = super::config::secs(config.timeouts.delete_delay);
        self.interfaces = config.media.interfaces.clone();
        if let Some((_, expiry)) = &mut self.expiry {
            *expiry = config.expiry();
        }
        if let Some(detect) = &mut self.detect {
            detect.defaults = config.detectors.defaults();
            // the config was validated: both read
            if let (Ok(amd), Ok(beep)) = (
                config.detectors.amd_config(),
                config.detectors.beep_config(),
            ) {
                detect.control.tune(&amd, &beep);
            }
            if let Err(e) = detect.events.push_to(&config.detectors.event_dest) {
                tracing::warn!("detector events still go where they went: {e}");
            }
        }
        let relay = config.relay();
        if let Err(e) =
            self.driver
                .set_timing(relay.setup_window, relay.quiet_window, relay.media_timeout)
        {
            tracing::warn!("the media workers kept their latching and media timeouts: {e}");
        }
    }

    /// Runs live detectors on the legs of its calls: `defaults` (from the
    /// config's `[detectors]`), changed per call by the offer's flags
    /// (`detect-amd`, `no-detect-dtmf`, ...; see
    /// [`DetectorSet::with_flags`]); events land in `events`.
    pub fn with_detectors(
        mut self,
        control: LiveControl,
        events: Arc<DetectEvents>,
        defaults: DetectorSet,
    ) -> Self {
        self.detect = Some(Detect {
            control,
            events,
            defaults,
        });
        self
    }

    /// The gauges it publishes.
    pub fn gauges(&self) -> Arc<NodeGauges> {
        self.gauges.clone()
    }

    /// Calls it holds, those in their delete delay included.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Of [`Self::call_count`], the calls in their delete delay.
    pub fn deleting_count(&self) -> usize {
        self.deleting
    }

    fn publish(&self) {
        self.gauges
            .calls
            .store(self.calls.len() as u64, Ordering::Relaxed);
        self.gauges
            .calls_deleting
            .store(self.deleting as u64, Ordering::Relaxed);
        if let Some((idle, _)) = &self.expiry {
            let held = idle.held_len() as u64;
            self.gauges.calls_held.store(held, Ordering::Relaxed);
        }
        self.gauges
            .port_pairs
            .store(self.ports.in_use() as u64, Ordering::Relaxed);
    }

    /// Deletes a call from the relay and frees its ports, logging its final
    /// media statistics (as rtpengine does) at info level and adding them
    /// to the quality histograms.
    fn remove(&mut self, call_id: &str) -> Result<(), ControlError> {
        let call = self
            .calls
            .remove(call_id)
            .ok_or(ControlError::UnknownCall)?;
        if call.deleting.is_some() {
            self.deleting -= 1;
        }
        let stats = self.media_stats(&call);
        for m in stats.tags.iter().flat_map(|t| &t.media) {
            self.gauges.stream_quality.observe(m);
        }
        // (a first offer refused before it had media is no call to report)
        if stats.tags.iter().any(|t| !t.media.is_empty()) {
            tracing::info!(call = %call_id, media = %media_summary(&stats), "call ended");
        }
        let result = self
            .driver
            .command(call.id, Command::DeleteCall { call: call.id });
        for side in &call.sides {
            for m in side.media.iter().flatten() {
                self.ports.free(m.rtp);
            }
        }
        for &p in &call.stray_ports {
            self.ports.free(p);
        }
        if let Some((idle, _)) = &self.expiry {
            idle.set_held(call.id, false);
            idle.set_deleted(call.id, false);
        }
        if let Some(d) = &self.detect {
            if call.detectors.any() {
                d.control.send(
                    self.driver.shard_of(call.id),
                    TapControl::Forget { call: call.id },
                );
            }
            d.events.close_call(call.id);
        }
        self.publish();
        result.map_err(other)
    }

    /// Deletes every call (shutdown).
    pub fn delete_all(&mut self) {
        let ids: Vec<String> = self.calls.keys().cloned().collect();
        for id in ids {
            let _ = self.remove(&id);
        }
    }
}

impl CallControl for Node {
    fn offer(&mut self, offer: &Offer<'_>, sdp: &Sdp<'_>) -> Result<Allocation, ControlError> {
        let now = unix_now();
        let new_call = !self.calls.contains_key(offer.call_id);
        if new_call {
            if self.draining.load(Ordering::Relaxed) {
                self.gauges.refused_draining.fetch_add(1, Ordering::Relaxed);
                return Err(ControlError::LoadLimit(
                    "node is draining: no new calls".into(),
                ));
            }
            if self.max_calls > 0
                && self.calls.len() >= self.max_calls
                && !self.reclaim_deleted(None)
            {
                self.gauges
                    .refused_max_calls
                    .fetch_add(1, Ordering::Relaxed);
                return Err(ControlError::LoadLimit(MAX_CALLS_REACHED.into()));
            }
            let id = CallId(self.next_call);
            self.next_call += 1;
            self.driver
                .command(id, Command::CreateCall { call: id })
                .map_err(other)?;
            let detectors = match &self.detect {
                Some(d) => {
                    d.events.open_call(id, offer.call_id);
                    d.events.set_side(id, 0, offer.from_tag);
                    d.defaults.with_flags(offer.options.flags.iter().copied())
                }
                None => DetectorSet::default(),
            };
            self.calls.insert(
                offer.call_id.to_string(),
                CallState {
                    id,
                    created: now,
                    last_signal: now,
                    sides: [
                        Side {
                            tag: Some(offer.from_tag.to_string()),
                            label: None,
                            address: None,
                            created: now,
                            media: Vec::new(),
                        },
                        Side::default(),
                    ],
                    stray_ports: Vec::new(),
                    detectors,
                    created_at: Instant::now(),
                    countdown: None,
                    deleting: None,
                },
            );
        }
        let call = self.calls.get_mut(offer.call_id).expect("present");
        call.last_signal = now;
        let s = call
            .side_of(offer.from_tag)
            .ok_or(ControlError::UnknownTag)?;
        // the offerer is behind the first interface of `direction`, the
        // answerer behind the second; a re-offer without one keeps them
        let interfaces = match offer.options.direction.as_slice() {
            [from, to @ ..] => Some((
                self.interface(Some(from)),
                self.interface(to.first().copied()),
            )),
            [] => None,
        };
        let to_answerer = match interfaces {
            Some((_, answerer)) => Some(answerer),
            None => self.calls[offer.call_id].sides[1 - s].address,
        }
        .unwrap_or(self.address);
        let mut result = self.apply_sdp(offer.call_id, s, sdp, &offer.options, to_answerer);
        if new_call && result == Err(ControlError::NoDescriptors) {
            // another node may have descriptors for a new call
            result = Err(ControlError::LoadLimit(
                ControlError::NoDescriptors.to_string(),
            ));
        }
        if result.is_err()
            && (new_call
                || self.calls[offer.call_id]
                    .sides
                    .iter()
                    .all(|s| s.media.is_empty()))
        {
            // A first offer that failed leaves nothing behind.
            let _ = self.remove(offer.call_id);
        }
        if result.is_ok() {
            // what a request names for a side changes it only once the
            // node has taken the request
            self.revive(offer.call_id);
            if let Some(call) = self.calls.get_mut(offer.call_id) {
                if let Some((a, b)) = interfaces {
                    call.sides[s].address = Some(a);
                    call.sides[1 - s].address = Some(b);
                }
                if let Some(label) = offer.options.label {
                    call.sides[s].label = Some(label.to_string());
                }
            }
        }
        self.publish();
        Ok(Allocation {
            address: to_answerer,
            media: result?,
        })
    }

    fn answer(&mut self, answer: &Answer<'_>, sdp: &Sdp<'_>) -> Result<Allocation, ControlError> {
        let now = unix_now();
        let call = self
            .calls
            .get_mut(answer.call_id)
            .ok_or(ControlError::UnknownCall)?;
        call.last_signal = now;
        let offerer = call
            .side_of(answer.from_tag)
            .ok_or(ControlError::UnknownTag)?;
        let to_offerer = call.sides[offerer].address.unwrap_or(self.address);
        let media = self
            .apply_sdp(
                answer.call_id,
                1 - offerer,
                sdp,
                &answer.options,
                to_offerer,
            )
            .inspect_err(|_| {
                // ports bound and given back, a deleted call ended for the
                // room: the gauges say what is left
                self.publish();
            })?;
        // the answerer's tag and label change only once the node has taken
        // the answer
        let call = self.calls.get_mut(answer.call_id).expect("answered");
        let answerer = &mut call.sides[1 - offerer];
        if answerer.tag.as_deref() != Some(answer.to_tag) {
            answerer.tag = Some(answer.to_tag.to_string());
            answerer.label = None;
            answerer.created = now;
            if let Some(d) = &self.detect {
                d.events.set_side(call.id, 1 - offerer, answer.to_tag);
            }
        }
        if let Some(label) = answer.options.label {
            answerer.label = Some(label.to_string());
        }
        self.settle_codecs(answer.call_id, offerer);
        self.revive(answer.call_id);
        self.publish();
        Ok(Allocation {
            address: to_offerer,
            media,
        })
    }

    fn delete(&mut self, delete: &Delete<'_>) -> Result<Option<CallStats>, ControlError> {
        let call = self
            .calls
            .get(delete.call_id)
            .ok_or(ControlError::UnknownCall)?;
        if is_losing_branch(call, delete.to_tag) {
            // A forked INVITE's other branches fail once one answers (a
            // ring group's agents get CANCEL, and their 487s reach the
            // proxy's reply route, which deletes with their To tags:
            // Kamailio's `rtpengine_delete("to-tag")`): as rtpengine, the
            // call goes on with the dialogue that answered.
            tracing::info!(call = %delete.call_id, to_tag = ?delete.to_tag, "delete of a branch that did not answer: call kept");
            return Err(ControlError::UnknownTag);
        }
        if !names_a_side(call, delete.from_tag) {
            // as rtpengine: a From tag the call does not know is no
            // reason to end the call of those it does
            tracing::info!(call = %delete.call_id, from_tag = ?delete.from_tag, "delete with a From tag of neither side: call kept");
            return Err(ControlError::UnknownTag);
        }
        let stats = self.stats(call);
        let delay = delete.delete_delay.map_or(self.delete_delay, |s| {
            Duration::from_secs(s.max(0).unsigned_abs()).min(MAX_DELETE_DELAY)
        });
        if delay.is_zero() {
            self.remove(delete.call_id)?;
            return Ok(Some(stats));
        }
        // Kept, media and all, until the delay is over ([`Node::expire`]);
        // a resent delete does not put that off.
        let due = Instant::now() + delay;
        let call = self.calls.get_mut(delete.call_id).expect("present");
        match call.deleting {
            Some(at) => call.deleting = Some(at.min(due)),
            None => {
                call.deleting = Some(due);
                self.deleting += 1;
                if let Some((idle, _)) = &self.expiry {
                    // no longer a call on hold, and its quiet no trouble
                    idle.set_held(call.id, false);
                    idle.set_deleted(call.id, true);
                }
            }
        }
        tracing::debug!(call = %delete.call_id, ?delay, "call deleted: kept for the delete delay");
        self.publish();
        Ok(Some(stats))
    }

    fn query(&mut self, query: &Query<'_>) -> Result<CallStats, ControlError> {
        let call = self
            .calls
            .get(query.call_id)
            .ok_or(ControlError::UnknownCall)?;
        // as rtpengine: the To tag names the side asked about, else the
        // From tag; a side the call does not know gives no tags and zero
        // totals (a known one gives the whole call: both sides)
        let asked = query.to_tag.filter(|t| !t.is_empty()).or(query.from_tag);
        if let Some(tag) = asked.filter(|t| !t.is_empty() && !call.has_tag(t)) {
            tracing::debug!(call = %query.call_id, tag, "query names a tag of neither side");
            return Ok(CallStats {
                created: call.created,
                last_signal: call.last_signal,
                ..CallStats::default()
            });
        }
        Ok(self.stats(call))
    }
}
