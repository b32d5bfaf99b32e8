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

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ringwire_media::driver::{DriverError, DriverHandle};
use ringwire_media::relay::{
    payload_type_mask, CallId, Command, Latching, LegId, LegSpec, LocalPort, Transport,
};

use super::config::Config;
use super::detect::DetectEvents;
use super::expiry::{self, Countdown, Expiry, MediaIdle};
use super::ports::PortAllocator;
use super::quality::{self, StreamQuality};
use crate::live::{telephone_event_pt, DetectorSet, LiveControl, TapControl, LIVE_TAP};
use crate::ng::codec::first_codec;
use crate::ng::command::AddressFamily;
use crate::ng::short_name::ShortName;
use crate::ng::{
    Allocation, Answer, CallControl, CallStats, ControlError, Counters, Delete, Direction,
    MediaPorts, MediaStats, Offer, Options, Query, ReceiveQuality, Sdp, TagStats,
};

/// A leg's RTP port and its bound sockets (RTP, and RTCP on the port
/// after it), before the leg exists.
type BoundPair = (u16, Vec<(LocalPort, UdpSocket)>);

/// Busy pairs (bound by another program, e.g. a second node sharing the
/// range) skipped per allocation before giving up.
const BIND_ATTEMPTS: usize = 512;

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
        self.sides.iter().any(|s| s.tag.as_deref() == Some(tag))
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

/// Remote RTP and RTCP of media section `i` as the SDP gives them.
/// The peer's RTP and RTCP addresses for media section `i`: from the SDP,
/// or at `peer_ip` (with the SDP's ports) when the request names the peer
/// ([`peer_ip`]).
fn sdp_remote(
    sdp: &Sdp<'_>,
    i: usize,
    peer_ip: Option<IpAddr>,
) -> (Option<SocketAddr>, Option<SocketAddr>) {
    let rtp = match peer_ip {
        Some(ip) => Some(SocketAddr::new(ip, sdp.media[i].port)),
        None => sdp.remote_rtp(i),
    };
    let rtcp = sdp.media[i].rtcp.as_ref().and_then(|(port, conn)| {
        let ip = peer_ip
            .or(conn.as_ref().and_then(|c| c.ip))
            .or(rtp.map(|a| a.ip()))?;
        Some(SocketAddr::new(ip, *port))
    });
    (rtp, rtcp)
}

/// Refuses a `transport-protocol` other than an enabled section's own:
/// the node relays media as it is and does not translate between RTP
/// profiles (RTP and SRTP, AVP and AVPF), as rtpengine would.
fn check_transport(sdp: &Sdp<'_>, wanted: &str) -> Result<(), ControlError> {
    for (i, m) in sdp.media.iter().enumerate() {
        if m.port != 0 && !m.proto.eq_ignore_ascii_case(wanted) {
            return Err(ControlError::Other(format!(
                "transport-protocol {wanted} asked for, but media section {} is {}: \
                 this node relays media as offered and does not translate profiles",
                i + 1,
                m.proto
            )));
        }
    }
    Ok(())
}

/// What the relay carries for an `m=` line's transport protocol: RTP
/// (any profile: `RTP/AVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVP`, ...), or
/// datagrams forwarded as they are for another protocol over UDP (T.38
/// fax's `udptl`, `UDP/BFCP`); `None` for what is not over UDP
/// (`TCP/MSRP`, `TCP/TLS/BFCP`), which the node cannot relay.
fn section_transport(proto: &str) -> Option<Transport> {
    let mut tokens = proto.split('/');
    if tokens.clone().any(|t| t.eq_ignore_ascii_case("RTP")) {
        Some(Transport::Rtp)
    } else if proto.eq_ignore_ascii_case("udptl")
        || tokens.next().is_some_and(|t| t.eq_ignore_ascii_case("UDP"))
    {
        Some(Transport::Opaque)
    } else {
        None
    }
}

/// Refuses an enabled section the relay cannot carry (see
/// [`section_transport`]): accepted, its media would be lost without a
/// word.
fn check_relayable(sdp: &Sdp<'_>) -> Result<(), ControlError> {
    for (i, m) in sdp.media.iter().enumerate() {
        if m.port != 0 && section_transport(m.proto).is_none() {
            return Err(ControlError::Other(format!(
                "media section {} ({} {}) is not over UDP: this node relays RTP and \
                 UDP datagrams only",
                i + 1,
                m.kind,
                m.proto
            )));
        }
    }
    Ok(())
}

/// Whether an `m=` line's transport protocol carries SRTP (a profile
/// ending in `SAVP` or `SAVPF`, RFC 3711/5124), whose payloads the node
/// cannot read.
fn is_srtp(proto: &str) -> bool {
    let profile = proto.rsplit('/').next().unwrap_or(proto);
    profile.eq_ignore_ascii_case("SAVP") || profile.eq_ignore_ascii_case("SAVPF")
}

/// How the legs of the side whose SDP a request carries follow their
/// media's source: rtpengine's `asymmetric` flag (the peer sends from
/// elsewhere than it receives: never latch) or `media-handover` (a new
/// source takes over at once); without either, symmetric RTP with hijack
/// protection. Each offer or answer says it anew.
fn latching_asked(options: &Options<'_>) -> Latching {
    if options.has_flag("asymmetric") {
        Latching::Off
    } else if options.has_flag("media-handover") {
        Latching::Handover
    } else {
        Latching::Protected
    }
}

/// Where the request says the peer's media is, over the SDP's addresses:
/// `media address`, else, with the flag `SIP-source-address`, the
/// `received-from` address (rtpengine's rules; its default, as here, is
/// to trust the SDP).
fn peer_ip(options: &Options<'_>) -> Option<IpAddr> {
    options.media_address.or_else(|| {
        options
            .has_flag("SIP-source-address")
            .then_some(options.received_from)
            .flatten()
    })
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
    /// [`expiry`]): `idle` says which legs are quiet (fed from the
    /// driver's events), `expiry` when calls go.
    pub fn with_expiry(mut self, idle: Arc<MediaIdle>, expiry: Expiry) -> Self {
        self.expiry = Some((idle, expiry));
        self
    }

    /// Takes a reloaded config's live settings ([`super::reload`]): the
    /// call limit, delete delay, named interfaces, when calls nobody
    /// deletes go, the latching windows and media timeout (every leg's,
    /// at once), and the detectors new calls get. Calls under way keep
    /// the interfaces and detectors they were set up with.
    pub fn reconfigure(&mut self, config: &Config) {
        self.max_calls = config.media.max_calls;
        self.delete_delay = super::config::secs(config.timeouts.delete_delay);
        self.interfaces = config.media.interfaces.clone();
        if let Some((_, expiry)) = &mut self.expiry {
            *expiry = config.expiry();
        }
        if let Some(detect) = &mut self.detect {
            detect.defaults = config.detectors.defaults();
        }
        let relay = config.relay();
        if let Err(e) =
            self.driver
                .set_timing(relay.setup_window, relay.quiet_window, relay.media_timeout)
        {
            tracing::warn!("the media workers kept their latching and media timeouts: {e}");
        }
    }

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
    fn revive(&mut self, call_id: &str) {
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

    /// Configures the live tap for `leg` (side `side`) and attaches it;
    /// a failure is logged, never fails the call.
    fn attach_tap(
        &self,
        call: CallId,
        set: DetectorSet,
        leg: LegId,
        side: usize,
        telephone_event: Option<u8>,
    ) {
        let Some(d) = &self.detect else { return };
        if !set.any() {
            return;
        }
        d.events.add_leg(call, leg, side);
        d.control.send(
            self.driver.shard_of(call),
            TapControl::Leg {
                call,
                leg,
                detectors: set,
                telephone_event,
            },
        );
        let r = self.driver.command(
            call,
            Command::SetTap {
                leg,
                tap: Some(LIVE_TAP),
            },
        );
        if let Err(e) = r {
            tracing::warn!(call = call.0, leg = leg.0, "detectors not attached: {e}");
        }
    }

    /// New SDP for a leg already tapped: its telephone-event type may move.
    fn retune_tap(&self, call: CallId, set: DetectorSet, leg: LegId, telephone_event: Option<u8>) {
        let Some(d) = &self.detect else { return };
        if set.any() {
            d.control.send(
                self.driver.shard_of(call),
                TapControl::Leg {
                    call,
                    leg,
                    detectors: set,
                    telephone_event,
                },
            );
        }
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

    /// Allocates a port pair for `call` and binds its sockets; when ports
    /// or descriptors run short, the calls in their delete delay (not
    /// `call`) give theirs up first, the one due soonest first.
    fn bind_pair(
        &mut self,
        call: CallId,
    ) -> Result<(u16, Vec<(LocalPort, UdpSocket)>), ControlError> {
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
    fn reclaim_deleted(&mut self, except: Option<CallId>) -> bool {
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
    fn try_bind_pair(&mut self) -> Result<(u16, Vec<(LocalPort, UdpSocket)>), ControlError> {
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
    fn bind_pairs(&mut self, call: CallId, n: usize) -> Result<Vec<BoundPair>, ControlError> {
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
    fn free_pairs(&mut self, pairs: Vec<BoundPair>) {
        for (p, sockets) in pairs {
            drop(sockets);
            self.ports.free(p);
        }
    }

    /// Adds one leg to `call` on a pair bound for it ([`Node::bind_pairs`]).
    fn add_leg(
        &mut self,
        call: CallId,
        (p, sockets): BoundPair,
        remote: (Option<SocketAddr>, Option<SocketAddr>),
        payload_types: Vec<u8>,
        clock_rate: u32,
        transport: Transport,
    ) -> Result<MediaLeg, ControlError> {
        let leg = LegId(self.next_leg);
        self.next_leg += 1;
        let spec = LegSpec {
            rtp: LocalPort(p),
            rtcp: LocalPort(p + 1),
            remote_rtp: remote.0,
            remote_rtcp: remote.1,
            payload_types: payload_types.clone(),
            clock_rate,
            transport,
            latching: Latching::Protected,
        };
        if let Err(e) = self.driver.add_leg(call, leg, spec, sockets) {
            self.ports.free(p);
            return Err(other(e));
        }
        Ok(MediaLeg {
            leg,
            rtp: p,
            rtcp: p + 1,
            sdp_remote: remote.0.is_some().then_some(remote),
            // the driver took these types: all below 128
            pt_mask: payload_type_mask(&payload_types).unwrap_or_default(),
            transport,
            latching: Latching::Protected,
            offers_mux: false,
            muxed: false,
            flow: None,
            codec: None,
            kind: ShortName::default(),
            proto: ShortName::default(),
        })
    }

    /// Tells both legs of section `i` of `call_id` what they carry now.
    fn set_transport(
        &mut self,
        call_id: &str,
        i: usize,
        transport: Transport,
    ) -> Result<(), ControlError> {
        let call = self
            .calls
            .get_mut(call_id)
            .ok_or(ControlError::UnknownCall)?;
        let id = call.id;
        let mut legs = Vec::with_capacity(2);
        for side in &mut call.sides {
            if let Some(Some(m)) = side.media.get_mut(i) {
                m.transport = transport;
                legs.push(m.leg);
            }
        }
        for leg in legs {
            self.driver
                .command(id, Command::SetTransport { leg, transport })
                .map_err(other)?;
        }
        Ok(())
    }

    /// RTCP multiplexing for section `i` of a call: both sides' SDPs carry
    /// `a=rtcp-mux` (the node passes it through, so they negotiate it with
    /// each other, RFC 5761); each leg is told when that changes.
    fn negotiate_rtcp_mux(
        &mut self,
        call_id: &str,
        i: usize,
        legs: [(usize, MediaLeg); 2],
    ) -> Result<(), ControlError> {
        let id = self.calls[call_id].id;
        let mux = legs.iter().all(|(_, l)| l.offers_mux);
        for (side, mut leg) in legs {
            if leg.muxed == mux {
                continue;
            }
            self.driver
                .command(id, Command::SetRtcpMux { leg: leg.leg, mux })
                .map_err(other)?;
            leg.muxed = mux;
            self.calls.get_mut(call_id).expect("checked").sides[side].media[i] = Some(leg);
        }
        Ok(())
    }

    /// Refuses, before anything changes, an SDP whose media the node's
    /// sockets cannot exchange datagrams with (an IPv6 peer of an IPv4
    /// node, or the reverse): relaying it would only count send errors.
    fn check_reachable(&self, sdp: &Sdp<'_>, peer_ip: Option<IpAddr>) -> Result<(), ControlError> {
        for (i, m) in sdp.media.iter().enumerate() {
            let Some(remote) = sdp_remote(sdp, i, peer_ip)
                .0
                .filter(|a| m.port != 0 && !a.ip().is_unspecified())
            else {
                continue;
            };
            if !self.driver.reaches(remote.ip()) {
                return Err(ControlError::Other(format!(
                    "media section {} is at {}, which this node's media sockets \
                     (bound on {}) cannot reach: another address family",
                    i + 1,
                    remote.ip(),
                    self.driver.bind_address()
                )));
            }
        }
        Ok(())
    }

    /// Makes sure every enabled section of `sdp` has a bridged pair of legs
    /// and sets side `s`'s remotes from it, after the request's checks
    /// (address family, transport, reachable peers). `written` is the
    /// address the SDP passed on will carry (the other side's interface).
    /// Returns the ports of the other side, one entry per section.
    fn apply_sdp(
        &mut self,
        call_id: &str,
        s: usize,
        sdp: &Sdp<'_>,
        options: &Options<'_>,
        written: IpAddr,
    ) -> Result<Vec<MediaPorts>, ControlError> {
        let call = self.calls.get(call_id).ok_or(ControlError::UnknownCall)?;
        let id = call.id;
        if sdp.media.len() > MAX_MEDIA_SECTIONS {
            return Err(ControlError::Other(format!(
                "the SDP has {} media sections; this node takes at most {MAX_MEDIA_SECTIONS}",
                sdp.media.len()
            )));
        }
        if let Some(family) = options.address_family {
            let ours = AddressFamily::of(written);
            if family != ours {
                return Err(ControlError::Other(format!(
                    "address family {} asked for, but this node's media address {} is {}",
                    family.as_str(),
                    written,
                    ours.as_str()
                )));
            }
        }
        check_relayable(sdp)?;
        if let Some(wanted) = options.transport_protocol {
            check_transport(sdp, wanted)?;
        }
        if options.record_call == Some(true) {
            // accepted (the call itself must not fail), but said plainly
            tracing::warn!(
                call = call_id,
                "record-call asked for: this node does not record calls"
            );
        }
        let peer_ip = peer_ip(options);
        self.check_reachable(sdp, peer_ip)?;
        // every pair the request needs, bound before anything changes
        let new_sections = sdp
            .media
            .iter()
            .enumerate()
            .filter(|(i, m)| {
                m.port != 0 && matches!(call.sides[s].media.get(*i), None | Some(None))
            })
            .count();
        let mut bound = self.bind_pairs(id, 2 * new_sections)?;
        let result = self.apply_sections(call_id, s, sdp, options, &mut bound);
        // left over only where a worker failed midway
        self.free_pairs(bound);
        result
    }

    /// [`Node::apply_sdp`] once its checks have passed, each new leg on a
    /// pair of `bound`.
    fn apply_sections(
        &mut self,
        call_id: &str,
        s: usize,
        sdp: &Sdp<'_>,
        options: &Options<'_>,
        bound: &mut Vec<BoundPair>,
    ) -> Result<Vec<MediaPorts>, ControlError> {
        let call = &self.calls[call_id];
        let (id, call_set) = (call.id, call.detectors);
        let peer_ip = peer_ip(options);
        let latching = latching_asked(options);
        let mut out = Vec::with_capacity(sdp.media.len());
        for (i, m) in sdp.media.iter().enumerate() {
            if m.port == 0 {
                let media = &mut self.calls.get_mut(call_id).expect("checked").sides[s].media;
                if let Some(Some(leg)) = media.get_mut(i) {
                    leg.flow = None;
                }
                out.push(MediaPorts { rtp: 0, rtcp: None });
                continue;
            }
            let remote = sdp_remote(sdp, i, peer_ip);
            let te = telephone_event_pt(
                m.payload_types
                    .iter()
                    .map(|p| (p.pt, p.encoding, p.clock_rate)),
            );
            // Detectors listen to audio. Encrypted media (SRTP: RTP/SAVP,
            // RTP/SAVPF, UDP/TLS/RTP/SAVP, ...) is relayed as it is; they
            // cannot read it, and would report on noise.
            let readable = m.kind.eq_ignore_ascii_case("audio") && !is_srtp(m.proto);
            let set = if !readable {
                DetectorSet::default()
            } else {
                call_set
            };
            let pts: Vec<u8> = m
                .formats
                .iter()
                .filter_map(|f| f.parse::<u8>().ok())
                .filter(|&pt| pt < 128)
                .collect();
            // relayable: checked above
            let transport = section_transport(m.proto).unwrap_or_default();
            let existing = self.calls[call_id].sides[s].media.get(i).copied().flatten();
            let mut mine = match existing {
                Some(mut leg) => {
                    if leg.transport != transport {
                        // a re-offer that turns the section into T.38 (a fax
                        // gateway's m=image in place of m=audio), or back:
                        // both legs of the section carry it
                        self.set_transport(call_id, i, transport)?;
                        leg.transport = transport;
                    }
                    // a re-offer that changes codecs: latching asks the new ones
                    let mask =
                        payload_type_mask(&pts).map_err(|e| ControlError::Other(e.to_string()))?;
                    if leg.pt_mask != mask {
                        leg.pt_mask = mask;
                        let payload_types = pts;
                        self.driver
                            .command(
                                id,
                                Command::SetPayloadTypes {
                                    leg: leg.leg,
                                    payload_types,
                                },
                            )
                            .map_err(other)?;
                    }
                    if leg.sdp_remote != Some(remote) {
                        self.driver
                            .command(
                                id,
                                Command::SetRemote {
                                    leg: leg.leg,
                                    rtp: remote.0,
                                    rtcp: remote.1,
                                },
                            )
                            .map_err(other)?;
                        leg.sdp_remote = Some(remote);
                    }
                    self.retune_tap(id, set, leg.leg, te);
                    leg
                }
                None => {
                    let rate = m
                        .payload_types
                        .first()
                        .map_or(8000, |p| p.clock_rate.max(1));
                    if !readable && call_set.any() {
                        tracing::info!(
                            call = call_id,
                            section = i + 1,
                            kind = m.kind,
                            proto = m.proto,
                            "no detectors on this section: not audio, or encrypted"
                        );
                    }
                    let (mine_pair, their_pair) = match (bound.pop(), bound.pop()) {
                        (Some(m), Some(t)) => (m, t),
                        _ => unreachable!("two pairs were bound for each new section"),
                    };
                    let mine = match self.add_leg(id, mine_pair, remote, pts, rate, transport) {
                        Ok(m) => m,
                        Err(e) => {
                            self.free_pairs(vec![their_pair]);
                            return Err(e);
                        }
                    };
                    let theirs = match self.add_leg(
                        id,
                        their_pair,
                        (None, None),
                        Vec::new(),
                        rate,
                        transport,
                    ) {
                        Ok(t) => t,
                        Err(e) => {
                            let call = self.calls.get_mut(call_id).expect("checked");
                            call.stray_ports.push(mine.rtp);
                            return Err(e);
                        }
                    };
                    if let Err(e) = self.driver.command(
                        id,
                        Command::Bridge {
                            a: mine.leg,
                            b: theirs.leg,
                        },
                    ) {
                        // both pairs go back with the call
                        let call = self.calls.get_mut(call_id).expect("checked");
                        call.stray_ports.extend([mine.rtp, theirs.rtp]);
                        return Err(other(e));
                    }
                    // The answerer's leg gets the offer's telephone-event
                    // type until its own SDP says otherwise.
                    self.attach_tap(id, set, mine.leg, s, te);
                    self.attach_tap(id, set, theirs.leg, 1 - s, te);
                    let sides = &mut self.calls.get_mut(call_id).expect("checked").sides;
                    for (side, leg) in [(s, mine), (1 - s, theirs)] {
                        let media = &mut sides[side].media;
                        if media.len() <= i {
                            media.resize(i + 1, None);
                        }
                        media[i] = Some(leg);
                    }
                    mine
                }
            };
            if mine.latching != latching {
                let leg = mine.leg;
                self.driver
                    .command(id, Command::SetLatching { leg, latching })
                    .map_err(other)?;
                mine.latching = latching;
            }
            mine.offers_mux = m.rtcp_mux;
            mine.codec = first_codec(m);
            (mine.kind, mine.proto) = (ShortName::new(m.kind), ShortName::new(m.proto));
            mine.flow = Some(match remote.0 {
                Some(a) if !a.ip().is_unspecified() => sdp.direction(i),
                _ => sdp.direction(i).without_receiving(),
            });
            let sides = &mut self.calls.get_mut(call_id).expect("checked").sides;
            sides[s].media[i] = Some(mine);
            let theirs = sides[1 - s].media[i].expect("legs come in pairs");
            self.negotiate_rtcp_mux(call_id, i, [(s, mine), (1 - s, theirs)])?;
            out.push(MediaPorts {
                rtp: theirs.rtp,
                rtcp: Some(theirs.rtcp),
            });
        }
        if let (Some((idle, _)), Some(call)) = (&self.expiry, self.calls.get(call_id)) {
            idle.set_held(call.id, call.media_held());
        }
        Ok(out)
    }

    /// After an answer, each section's codec is the answerer's for the
    /// offerer too (RFC 3264: the answerer picks from the offer), as
    /// rtpengine reports it once a call is answered.
    fn settle_codecs(&mut self, call_id: &str, offerer: usize) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        let [a, b] = &mut call.sides;
        let (offered, answered) = if offerer == 0 { (a, b) } else { (b, a) };
        for (o, ans) in offered.media.iter_mut().zip(&answered.media) {
            if let (Some(o), Some(Some(codec))) = (o, ans.map(|l| l.codec)) {
                o.codec = Some(codec);
            }
        }
    }

    /// What `query` and `delete` report of `call`: its media statistics
    /// and its detector events.
    fn stats(&self, call: &CallState) -> CallStats {
        let mut stats = self.media_stats(call);
        if let Some(d) = &self.detect {
            stats.events = d.events.events(call.id);
        }
        stats
    }

    /// `call`'s times and each side's media statistics (no events).
    fn media_stats(&self, call: &CallState) -> CallStats {
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
            .sides
            .iter()
            .position(|side| side.tag.as_deref() == Some(offer.from_tag))
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
            .sides
            .iter()
            .position(|side| side.tag.as_deref() == Some(answer.from_tag))
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

/// Each side's media as one log field: `tag: peer -> port: counts` per
/// media section, apart by `; `.
fn media_summary(stats: &CallStats) -> String {
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
