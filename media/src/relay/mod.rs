//! The sans-IO relay core: calls, legs, latching, forwarding, rewriting,
//! statistics, media timeouts and detector taps. No sockets, no clocks:
//! the driver gives it datagrams, commands and the time, and takes back
//! datagrams to send, events and the next time to wake it.
//!
//! The run loop of a driver (time is a [`Duration`] since any start the
//! driver picks, e.g. a monotonic clock read once per wakeup):
//!
//! ```no_run
//! # use ringwire_media::relay::*;
//! # fn recv() -> (std::time::Duration, Input) { unimplemented!() }
//! # fn send(_: LocalPort, _: std::net::SocketAddr, _: bytes::BytesMut) {}
//! let mut core = RelayCore::new(RelayConfig::default());
//! let mut wake_at = None;
//! loop {
//!     // A datagram on a local port, a command, or Input::Timeout at `wake_at`.
//!     let (now, input) = recv();
//!     let _ = core.handle_input(now, input); // Err only for bad commands
//!     while let Some(out) = core.poll_output() {
//!         match out {
//!             Output::Transmit(t) => send(t.from, t.to, t.data), // same buffer
//!             Output::Event(e) => println!("{e:?}"),
//!             Output::Timeout(at) => wake_at = Some(at),
//!             Output::Pin(_) => {} // optional: connect the socket (pin_remote)
//!         }
//!     }
//! #   let _ = wake_at;
//! }
//! ```
//!
//! Map of the module:
//!
//! - this file: [`RelayCore`]: legs, latching and forwarding;
//! - `api`: what it takes and gives ([`Input`], [`Command`], [`Output`],
//!   [`Event`], [`LegSpec`], [`RelayConfig`], [`RelayError`]), re-exported
//!   here;
//! - [`stats`]: [`LegStats`] and the receive state behind them (extended
//!   sequence numbers, RFC 3550 A.8 jitter);
//! - [`rewrite`]: SSRC/sequence/timestamp rewriting in place, with
//!   continuity across source changes;
//! - [`mos`]: round trips and E-model scores from the RTCP reports each
//!   leg's remote sends ([`RelayCore::leg_mos`]);
//! - [`DetectorTap`]: where host plugs DTMF/AMD/beep detectors into a leg.
//!
//! Latching (symmetric RTP) and hijack protection: a leg starts with the
//! remote address from SDP (or none). A packet from another source moves
//! the remote there only if it is valid RTP (parses, version 2, a payload
//! type the leg expects) and either the leg has not yet heard its remote
//! and is within [`RelayConfig::setup_window`] of its setup, or its remote
//! has been quiet for [`RelayConfig::quiet_window`]. Anything else from
//! another source is dropped and counted in [`LegStats::hijack_drops`].
//! That is [`Latching::Protected`], the default; a leg may instead follow
//! any new source at once ([`Latching::Handover`]) or never latch
//! ([`Latching::Off`]: an asymmetric peer's media from anywhere, sent to
//! where SDP says).
//! A leg of another protocol over UDP ([`Transport::Opaque`]: T.38's
//! UDPTL) has no RTP to check: any datagram latches, within the same
//! windows, and is forwarded as it is.
//!
//! Allocation: nothing on the packet path allocates. The output queue is
//! sized at [`RelayConfig::queue_capacity`] and drained after each input;
//! the port and leg tables are only touched by commands. A forwarded
//! datagram is the caller's own buffer (any [`Packet`]: a [`BytesMut`] by
//! default, or the io_uring driver's receive buffer itself), rewritten in
//! place (header bytes only) when rewriting is on; a dropped datagram's
//! buffer is dropped (which gives a pooled buffer back).

mod api;
pub mod mos;
pub mod rewrite;
pub mod stats;
pub mod tap;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;

use crate::rtcp::{read_reports, Reports};
use crate::rtp::{is_rtcp_like, RtpHeader};
use mos::RtcpQuality;
pub use mos::{mos_x10, MosSample, MosSummary};
pub use rewrite::Rewrite;
use rewrite::RewriteState;
pub use stats::LegStats;
use stats::{ticks, RecvState, SeqClass};
pub use tap::TapHandle;

pub use api::*;

/// Marks a local port no leg owns.
const NO_LEG: u32 = u32::MAX;

/// One leg's state.
#[derive(Debug)]
struct Leg {
    id: LegId,
    call: CallId,
    rtp_port: LocalPort,
    rtcp_port: LocalPort,
    remote_rtp: Option<SocketAddr>,
    remote_rtcp: Option<SocketAddr>,
    /// Remote RTCP given by SDP or latched, rather than derived from RTP.
    rtcp_pinned: bool,
    /// The remote multiplexes RTCP on its RTP address (rtcp-mux, RFC 5761)
    /// although the leg has an RTCP port of its own: RTCP to the remote
    /// leaves from the RTP port, as the remote expects.
    rtcp_muxed: bool,
    /// Bit `pt` set: payload type `pt` expected; 0: any.
    pt_mask: u128,
    /// It carries datagrams of another protocol ([`Transport::Opaque`]).
    opaque: bool,
    latching: Latching,
    clock_rate: u32,
    /// Start of the setup window.
    setup_at: Duration,
    /// The remote has been heard since setup.
    heard: bool,
    last_rtp_at: Option<Duration>,
    timed_out: bool,
    /// The remote the RTP socket is pinned to ([`Output::Pin`]).
    pinned: Option<SocketAddr>,
    peer: Option<usize>,
    rewrite: Option<RewriteState>,
    tap: Option<TapId>,
    recv: RecvState,
    stats: LegStats,
    /// What its remote's RTCP reports told (boxed when the leg is added:
    /// the RTP path never reads it, and RTCP allocates nothing).
    rtcp: Box<RtcpQuality>,
}

impl Leg {
    /// When the media timeout falls due, unless it was raised already.
    fn timeout_deadline(&self, timeout: Duration) -> Option<Duration> {
        (!self.timed_out).then(|| self.last_rtp_at.unwrap_or(self.setup_at) + timeout)
    }

    /// When the pin is lifted: the remote quiet for `quiet`.
    fn unpin_deadline(&self, quiet: Duration) -> Option<Duration> {
        self.pinned
            .map(|_| self.last_rtp_at.unwrap_or(self.setup_at) + quiet)
    }

    /// The earliest time the core must look at this leg again.
    fn deadline(&self, config: &RelayConfig) -> Option<Duration> {
        let t = self.timeout_deadline(config.media_timeout);
        match (t, self.unpin_deadline(config.quiet_window)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn set_remote(&mut self, now: Duration, rtp: Option<SocketAddr>, rtcp: Option<SocketAddr>) {
        // Sent to, 0.0.0.0 would reach this host itself.
        let usable = |a: &SocketAddr| !a.ip().is_unspecified() && a.port() != 0;
        let (rtp, rtcp) = (rtp.filter(usable), rtcp.filter(usable));
        self.remote_rtp = rtp;
        self.rtcp_pinned = rtcp.is_some();
        // a multiplexing remote takes RTCP on its RTP address, whatever
        // RTCP port its SDP names
        self.remote_rtcp = match rtp {
            Some(a) if self.rtcp_muxed => Some(a),
            _ => rtcp.or_else(|| rtp.map(|a| self.derived_rtcp(a))),
        };
        self.setup_at = now;
        self.heard = false;
    }

    /// [`Command::SetRtcpMux`]: no effect on a leg without an RTCP port of
    /// its own (it is multiplexed already).
    fn set_rtcp_mux(&mut self, mux: bool) {
        if self.rtcp_port == self.rtp_port || self.rtcp_muxed == mux {
            return;
        }
        self.rtcp_muxed = mux;
        self.remote_rtcp = match (mux, self.remote_rtp) {
            (true, rtp @ Some(_)) => rtp,
            (false, Some(rtp)) if self.remote_rtcp == Some(rtp) => Some(self.derived_rtcp(rtp)),
            _ => self.remote_rtcp,
        };
    }

    fn derived_rtcp(&self, rtp: SocketAddr) -> SocketAddr {
        if self.rtcp_port == self.rtp_port || self.rtcp_muxed {
            rtp
        } else {
            SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))
        }
    }

    fn expects(&self, pt: u8) -> bool {
        self.pt_mask == 0 || self.pt_mask & (1u128 << pt) != 0
    }

    /// Whether a datagram on the RTP port whose second byte reads as an
    /// RTCP packet type is RTP after all: a marked packet of a type 64-95
    /// that the remote's SDP named, on a leg whose remote does not
    /// multiplex RTCP (RFC 5761 section 4 keeps those types out of
    /// multiplexed sessions only).
    fn sends_marked_type(&self, second_byte: u8) -> bool {
        let split = self.rtcp_port != self.rtp_port;
        split && !self.rtcp_muxed && self.pt_mask != 0 && self.expects(second_byte & 0x7f)
    }
}

/// The relay core: see the [module documentation](self).
pub struct RelayCore<B = BytesMut> {
    config: RelayConfig,
    calls: HashMap<CallId, Vec<usize>>,
    legs: Vec<Option<Leg>>,
    free: Vec<usize>,
    by_id: HashMap<LegId, usize>,
    /// Local port -> leg slot, indexed directly (`NO_LEG`: none); 256 KiB
    /// per core buys a packet path without hashing.
    ports: Vec<u32>,
    taps: Vec<Option<Box<dyn DetectorTap>>>,
    queue: VecDeque<Output<B>>,
    counters: CoreCounters,
    /// A lower bound of the earliest media-timeout deadline.
    next_timeout: Option<Duration>,
    timeout_dirty: bool,
}

impl<B> std::fmt::Debug for RelayCore<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayCore")
            .field("config", &self.config)
            .field("calls", &self.calls.len())
            .field("legs", &self.by_id.len())
            .field("queued", &self.queue.len())
            .field("counters", &self.counters)
            .finish()
    }
}

impl<B: Packet> RelayCore<B> {
    /// An empty core.
    pub fn new(config: RelayConfig) -> Self {
        RelayCore {
            config,
            calls: HashMap::new(),
            legs: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            ports: vec![NO_LEG; 1 << 16],
            taps: Vec::new(),
            queue: VecDeque::with_capacity(config.queue_capacity),
            counters: CoreCounters::default(),
            next_timeout: None,
            timeout_dirty: false,
        }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &RelayConfig {
        &self.config
    }

    /// Registers a detector tap; attach it to legs with [`Command::SetTap`].
    pub fn register_tap(&mut self, tap: Box<dyn DetectorTap>) -> TapId {
        self.taps.push(Some(tap));
        TapId((self.taps.len() - 1) as u32)
    }

    /// Takes a tap back (e.g. to read its results); legs using it stop
    /// feeding it.
    pub fn take_tap(&mut self, id: TapId) -> Option<Box<dyn DetectorTap>> {
        self.taps.get_mut(id.0 as usize).and_then(Option::take)
    }

    /// A leg's statistics.
    pub fn leg_stats(&self, leg: LegId) -> Option<LegStats> {
        self.leg(leg).map(|l| l.stats)
    }

    /// The scores of the receiver reports a leg's remote sent, once one
    /// came ([`mos`]).
    pub fn leg_mos(&self, leg: LegId) -> Option<MosSummary> {
        self.leg(leg).and_then(|l| l.rtcp.summary)
    }

    /// When a leg's remote last sent an RTP packet the leg took, if it has.
    pub fn leg_last_rtp(&self, leg: LegId) -> Option<Duration> {
        self.leg(leg).and_then(|l| l.last_rtp_at)
    }

    /// The RTP clock rate a leg's timestamps (and its jitter) count in.
    pub fn leg_clock_rate(&self, leg: LegId) -> Option<u32> {
        self.leg(leg).map(|l| l.clock_rate)
    }

    /// A leg's current remote RTP and RTCP addresses.
    pub fn leg_remote(&self, leg: LegId) -> Option<(Option<SocketAddr>, Option<SocketAddr>)> {
        self.leg(leg).map(|l| (l.remote_rtp, l.remote_rtcp))
    }

    /// Counters of the whole core.
    pub fn counters(&self) -> CoreCounters {
        self.counters
    }

    /// Number of calls.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Number of legs.
    pub fn leg_count(&self) -> usize {
        self.by_id.len()
    }

    fn leg(&self, leg: LegId) -> Option<&Leg> {
        self.by_id.get(&leg).and_then(|&i| self.legs[i].as_ref())
    }

    fn slot(&self, leg: LegId) -> Result<usize, RelayError> {
        self.by_id
            .get(&leg)
            .copied()
            .ok_or(RelayError::UnknownLeg(leg))
    }

    /// The one way in. `now` never goes backwards. Datagrams and timeouts
    /// always succeed (bad datagrams are counted); commands may fail, and a
    /// failed command changes nothing.
    pub fn handle_input(&mut self, now: Duration, input: Input<B>) -> Result<(), RelayError> {
        match input {
            Input::Datagram { local, from, data } => {
                self.on_datagram(now, local, from, data);
                Ok(())
            }
            Input::Timeout => {
                self.on_timeout(now);
                Ok(())
            }
            Input::Command(c) => {
                let r = self.on_command(now, c);
                self.recompute_timeout();
                r
            }
        }
    }

    /// The one way out: call until `None` after each input.
    pub fn poll_output(&mut self) -> Option<Output<B>> {
        if let Some(o) = self.queue.pop_front() {
            return Some(o);
        }
        if self.timeout_dirty {
            self.timeout_dirty = false;
            if let Some(at) = self.next_timeout {
                return Some(Output::Timeout(at));
            }
        }
        None
    }

    fn push(&mut self, o: Output<B>) {
        if self.queue.len() == self.queue.capacity() {
            self.counters.queue_overflows += 1;
        }
        self.queue.push_back(o);
    }

    fn on_command(&mut self, now: Duration, c: Command) -> Result<(), RelayError> {
        match c {
            Command::CreateCall { call } => {
                if self.calls.contains_key(&call) {
                    return Err(RelayError::CallExists(call));
                }
                self.calls.insert(call, Vec::new());
            }
            Command::AddLeg { call, leg, spec } => self.add_leg(now, call, leg, spec)?,
            Command::SetRemote { leg, rtp, rtcp } => {
                let i = self.slot(leg)?;
                let l = self.legs[i].as_mut().expect("indexed leg");
                l.set_remote(now, rtp, rtcp);
                // A new setup window: anyone may latch again.
                if l.pinned.take().is_some() {
                    let port = l.rtp_port;
                    self.push(Output::Pin(Pin { port, remote: None }));
                }
            }
            Command::SetPayloadTypes { leg, payload_types } => {
                let mask = payload_type_mask(&payload_types)?;
                let i = self.slot(leg)?;
                self.legs[i].as_mut().expect("indexed leg").pt_mask = mask;
            }
            Command::SetLatching { leg, latching } => {
                let i = self.slot(leg)?;
                let l = self.legs[i].as_mut().expect("indexed leg");
                l.latching = latching;
                // only a protected leg's socket hears its remote alone
                if latching != Latching::Protected && l.pinned.take().is_some() {
                    let port = l.rtp_port;
                    self.push(Output::Pin(Pin { port, remote: None }));
                }
            }
            Command::SetTransport { leg, transport } => {
                let i = self.slot(leg)?;
                self.legs[i].as_mut().expect("indexed leg").opaque = transport == Transport::Opaque;
            }
            Command::SetRtcpMux { leg, mux } => {
                let i = self.slot(leg)?;
                self.legs[i]
                    .as_mut()
                    .expect("indexed leg")
                    .set_rtcp_mux(mux);
            }
            Command::Bridge { a, b } => {
                let (ia, ib) = (self.slot(a)?, self.slot(b)?);
                if ia == ib {
                    return Err(RelayError::BadBridge {
                        a,
                        b,
                        why: "a leg cannot be bridged with itself",
                    });
                }
                if self.legs[ia].as_ref().map(|l| l.call) != self.legs[ib].as_ref().map(|l| l.call)
                {
                    return Err(RelayError::BadBridge {
                        a,
                        b,
                        why: "legs of different calls",
                    });
                }
                self.unbridge(ia);
                self.unbridge(ib);
                self.legs[ia].as_mut().expect("indexed leg").peer = Some(ib);
                self.legs[ib].as_mut().expect("indexed leg").peer = Some(ia);
            }
            Command::Unbridge { leg } => {
                let i = self.slot(leg)?;
                self.unbridge(i);
            }
            Command::SetRewrite { leg, rewrite } => {
                let i = self.slot(leg)?;
                self.legs[i].as_mut().expect("indexed leg").rewrite =
                    rewrite.map(RewriteState::new);
            }
            Command::SetTap { leg, tap } => {
                let i = self.slot(leg)?;
                if let Some(t) = tap {
                    if !matches!(self.taps.get(t.0 as usize), Some(Some(_))) {
                        return Err(RelayError::UnknownTap(t));
                    }
                }
                self.legs[i].as_mut().expect("indexed leg").tap = tap;
            }
            Command::InstallTap { id, tap } => {
                let t = tap.take().ok_or(RelayError::UnknownTap(id))?;
                let i = id.0 as usize;
                if self.taps.len() <= i {
                    self.taps.resize_with(i + 1, || None);
                }
                self.taps[i] = Some(t);
            }
            Command::SetTiming {
                setup_window,
                quiet_window,
                media_timeout,
            } => {
                self.config.setup_window = setup_window;
                self.config.quiet_window = quiet_window;
                self.config.media_timeout = media_timeout;
            }
            Command::DeleteCall { call } => {
                let slots = self
                    .calls
                    .remove(&call)
                    .ok_or(RelayError::UnknownCall(call))?;
                for i in slots {
                    self.unbridge(i);
                    if let Some(l) = self.legs[i].take() {
                        self.ports[l.rtp_port.0 as usize] = NO_LEG;
                        self.ports[l.rtcp_port.0 as usize] = NO_LEG;
                        self.by_id.remove(&l.id);
                        self.free.push(i);
                        self.push(Output::Event(Event::LegClosed {
                            call,
                            leg: l.id,
                            stats: l.stats,
                        }));
                    }
                }
            }
        }
        Ok(())
    }

    fn add_leg(
        &mut self,
        now: Duration,
        call: CallId,
        id: LegId,
        spec: LegSpec,
    ) -> Result<(), RelayError> {
        if !self.calls.contains_key(&call) {
            return Err(RelayError::UnknownCall(call));
        }
        if self.by_id.contains_key(&id) {
            return Err(RelayError::LegExists(id));
        }
        for p in [spec.rtp, spec.rtcp] {
            if self.ports[p.0 as usize] != NO_LEG {
                return Err(RelayError::PortInUse(p));
            }
        }
        if spec.clock_rate == 0 {
            return Err(RelayError::BadClockRate);
        }
        let pt_mask = payload_type_mask(&spec.payload_types)?;
        let mut leg = Leg {
            id,
            call,
            rtp_port: spec.rtp,
            rtcp_port: spec.rtcp,
            remote_rtp: None,
            remote_rtcp: None,
            rtcp_pinned: false,
            rtcp_muxed: false,
            pt_mask,
            opaque: spec.transport == Transport::Opaque,
            latching: spec.latching,
            clock_rate: spec.clock_rate,
            setup_at: now,
            heard: false,
            last_rtp_at: None,
            timed_out: false,
            pinned: None,
            peer: None,
            rewrite: None,
            tap: None,
            recv: RecvState::default(),
            stats: LegStats::default(),
            rtcp: Box::default(),
        };
        leg.set_remote(now, spec.remote_rtp, spec.remote_rtcp);
        let i = match self.free.pop() {
            Some(i) => {
                self.legs[i] = Some(leg);
                i
            }
            None => {
                self.legs.push(Some(leg));
                self.legs.len() - 1
            }
        };
        self.ports[spec.rtp.0 as usize] = i as u32;
        self.ports[spec.rtcp.0 as usize] = i as u32;
        self.by_id.insert(id, i);
        self.calls.get_mut(&call).expect("checked").push(i);
        Ok(())
    }

    fn unbridge(&mut self, i: usize) {
        if let Some(p) = self.legs[i].as_mut().and_then(|l| l.peer.take()) {
            if let Some(pl) = self.legs[p].as_mut() {
                if pl.peer == Some(i) {
                    pl.peer = None;
                }
            }
        }
    }

    fn recompute_timeout(&mut self) {
        let config = self.config;
        let next = self
            .legs
            .iter()
            .flatten()
            .filter_map(|l| l.deadline(&config))
            .min();
        if next != self.next_timeout {
            self.next_timeout = next;
            self.timeout_dirty = true;
        }
    }

    fn on_timeout(&mut self, now: Duration) {
        let (t, quiet) = (self.config.media_timeout, self.config.quiet_window);
        for i in 0..self.legs.len() {
            let Some(l) = self.legs[i].as_mut() else {
                continue;
            };
            if l.unpin_deadline(quiet).is_some_and(|d| d <= now) {
                // Quiet long enough to latch anew: let other sources in.
                l.pinned = None;
                let port = l.rtp_port;
                self.push(Output::Pin(Pin { port, remote: None }));
            }
            let Some(l) = self.legs[i].as_mut() else {
                continue;
            };
            if l.timeout_deadline(t).is_some_and(|d| d <= now) {
                l.timed_out = true;
                let e = Event::MediaTimeout {
                    call: l.call,
                    leg: l.id,
                    last_rtp: l.last_rtp_at,
                };
                self.push(Output::Event(e));
            }
        }
        self.recompute_timeout();
        // Woken early (deadlines moved on with media): ask again.
        if self.next_timeout.is_some() {
            self.timeout_dirty = true;
        }
    }

    fn on_datagram(&mut self, now: Duration, local: LocalPort, from: SocketAddr, data: B) {
        let i = self.ports[local.0 as usize];
        if i == NO_LEG {
            self.counters.unknown_port += 1;
            return;
        }
        let i = i as usize;
        let Some(leg) = self.legs[i].as_ref() else {
            self.counters.unknown_port += 1;
            return;
        };
        if leg.opaque {
            if local == leg.rtp_port {
                self.on_opaque(now, i, from, data);
            } else {
                // an opaque protocol has no RTCP
                self.legs[i].as_mut().expect("indexed leg").stats.malformed += 1;
            }
            return;
        }
        // RTCP on the RTP port is told apart by its packet type (RFC 5761
        // section 4), whether or not the leg has an RTCP port of its own.
        let split = leg.rtcp_port != leg.rtp_port;
        if split && local == leg.rtcp_port {
            self.on_rtcp(now, i, from, data, false);
        } else if is_rtcp_like(&data) && !leg.sends_marked_type(data[1]) {
            self.on_rtcp(now, i, from, data, split);
        } else {
            self.on_rtp(now, i, from, data);
        }
    }

    fn on_rtp(&mut self, now: Duration, i: usize, from: SocketAddr, data: B) {
        let leg = self.legs[i].as_mut().expect("indexed leg");
        let h = match RtpHeader::parse(&data) {
            Ok(h) => h,
            Err(_) => {
                leg.stats.malformed += 1;
                return;
            }
        };
        let expected = leg.expects(h.payload_type);
        if !self.accept_source(now, i, from, expected) {
            return;
        }
        let leg = self.legs[i].as_mut().expect("indexed leg");
        let arrival = ticks(now, leg.clock_rate);
        let class = leg
            .recv
            .on_rtp(h.ssrc, h.sequence, h.timestamp, arrival, &mut leg.stats);
        self.heard(now, i, from, data.len());
        let leg = self.legs[i].as_mut().expect("indexed leg");
        if let (Some(t), true) = (leg.tap, class != SeqClass::Duplicate) {
            if let Some(Some(tap)) = self.taps.get_mut(t.0 as usize) {
                tap.on_rtp(&TapPacket {
                    call: leg.call,
                    leg: leg.id,
                    now,
                    payload_type: h.payload_type,
                    marker: h.marker,
                    sequence: h.sequence,
                    timestamp: h.timestamp,
                    ssrc: h.ssrc,
                    payload: &data[h.payload_range()],
                });
            }
        }
        self.forward(now, i, Stream::Rtp, data);
    }

    /// A datagram of an opaque protocol ([`Transport::Opaque`]) from leg
    /// `i`'s remote: forwarded as it is.
    fn on_opaque(&mut self, now: Duration, i: usize, from: SocketAddr, data: B) {
        if !self.accept_source(now, i, from, true) {
            return;
        }
        self.heard(now, i, from, data.len());
        self.forward(now, i, Stream::Rtp, data);
    }

    /// Whether media from `from` may come in on leg `i`: from its remote,
    /// or from a new source it then latches to (within the setup window,
    /// or once the remote has gone quiet, and only with a payload type the
    /// leg `expected`); counts a hijack drop otherwise.
    #[inline]
    fn accept_source(&mut self, now: Duration, i: usize, from: SocketAddr, expected: bool) -> bool {
        let cfg = self.config;
        let leg = self.legs[i].as_mut().expect("indexed leg");
        if leg.remote_rtp == Some(from) {
            return true;
        }
        let may_latch = match leg.latching {
            Latching::Protected => {
                let quiet_since = leg.last_rtp_at.unwrap_or(leg.setup_at);
                let in_setup = !leg.heard && now.saturating_sub(leg.setup_at) < cfg.setup_window;
                in_setup || now.saturating_sub(quiet_since) >= cfg.quiet_window
            }
            Latching::Handover => true,
            // taken from anywhere, the remote left where SDP put it
            Latching::Off if expected => return true,
            Latching::Off => false,
        };
        if !(expected && may_latch) {
            leg.stats.hijack_drops += 1;
            return false;
        }
        let old = leg.remote_rtp.replace(from);
        if !leg.rtcp_pinned {
            leg.remote_rtcp = Some(leg.derived_rtcp(from));
        }
        leg.stats.latches += 1;
        let e = Event::Latched {
            call: leg.call,
            leg: leg.id,
            stream: Stream::Rtp,
            old,
            new: from,
        };
        self.push(Output::Event(e));
        true
    }

    /// Notes media of `len` bytes from leg `i`'s remote `from` at `now`:
    /// heard, counted, its socket pinned to it, a timed-out leg resumed.
    #[inline]
    fn heard(&mut self, now: Duration, i: usize, from: SocketAddr, len: usize) {
        let cfg = self.config;
        let leg = self.legs[i].as_mut().expect("indexed leg");
        leg.heard = true;
        leg.last_rtp_at = Some(now);
        // a connected socket hears no other source: no handover, and no
        // asymmetric peer's
        let protected = leg.latching == Latching::Protected;
        let pin = (cfg.pin_remote && protected && leg.pinned != Some(from)).then(|| {
            leg.pinned = Some(from);
            leg.rtp_port
        });
        leg.stats.packets += 1;
        leg.stats.bytes += len as u64;
        if leg.timed_out {
            leg.timed_out = false;
            let deadline = now + cfg.media_timeout;
            if self.next_timeout.is_none_or(|t| deadline < t) {
                self.next_timeout = Some(deadline);
                self.timeout_dirty = true;
            }
            let e = Event::MediaResumed {
                call: leg.call,
                leg: leg.id,
            };
            self.push(Output::Event(e));
        }
        if let Some(port) = pin {
            let unpin_at = now + cfg.quiet_window;
            if self.next_timeout.is_none_or(|t| unpin_at < t) {
                self.next_timeout = Some(unpin_at);
                self.timeout_dirty = true;
            }
            let remote = Some(from);
            self.push(Output::Pin(Pin { port, remote }));
        }
    }

    /// RTCP from leg `i`'s remote; `muxed`: it came to the RTP port of a
    /// leg that has an RTCP port of its own (the remote uses rtcp-mux).
    fn on_rtcp(&mut self, now: Duration, i: usize, from: SocketAddr, data: B, muxed: bool) {
        let cfg = self.config;
        let leg = self.legs[i].as_mut().expect("indexed leg");
        if data.len() < 8 || !is_rtcp_like(&data) {
            leg.stats.malformed += 1;
            return;
        }
        if leg.remote_rtcp != Some(from) && leg.latching != Latching::Off {
            // RTCP follows RTP: it latches from the RTP remote's address,
            // or from anywhere while RTP could still latch at setup (an
            // asymmetric leg's goes to the SDP's RTCP address, from
            // anywhere).
            let same_host = leg.remote_rtp.is_some_and(|a| a.ip() == from.ip());
            let in_setup = !leg.heard && now.saturating_sub(leg.setup_at) < cfg.setup_window;
            if !(same_host && leg.heard || in_setup) {
                leg.stats.hijack_drops += 1;
                return;
            }
            let old = leg.remote_rtcp.replace(from);
            leg.rtcp_pinned = true;
            let e = Event::Latched {
                call: leg.call,
                leg: leg.id,
                stream: Stream::Rtcp,
                old,
                new: from,
            };
            self.push(Output::Event(e));
        }
        let leg = self.legs[i].as_mut().expect("indexed leg");
        leg.rtcp_muxed = muxed;
        leg.stats.rtcp_packets += 1;
        leg.stats.rtcp_bytes += data.len() as u64;
        if let Ok(reports) = read_reports(&data) {
            self.note_reports(now, i, &reports);
        }
        self.forward(now, i, Stream::Rtcp, data);
    }

    /// Notes an SR from leg `i`'s remote for the round trips, and scores
    /// its first report block ([`mos`]).
    fn note_reports(&mut self, now: Duration, i: usize, reports: &Reports) {
        let leg = self.legs[i].as_mut().expect("indexed leg");
        if let Some(ntp) = reports.ntp {
            leg.rtcp.note_sr(ntp.middle(), now);
        }
        let (Some(reporter), Some(block)) = (reports.sender, reports.block) else {
            return;
        };
        // the block reports on what the peer's remote sent: the SR it
        // names passed through the peer leg, in that stream's clock
        let leg = self.legs[i].as_ref().expect("indexed leg");
        let peer = leg.peer.and_then(|p| self.legs[p].as_ref());
        let (sr_at, peer_rtt, clock_rate) = match peer {
            Some(p) => (p.rtcp.sr_seen(block.lsr), p.rtcp.last_rtt, p.clock_rate),
            None => (None, None, leg.clock_rate),
        };
        let leg = self.legs[i].as_mut().expect("indexed leg");
        leg.rtcp
            .on_block(reporter, &block, now, sr_at, peer_rtt, clock_rate);
    }

    /// Sends `data`, received on leg `i`, out of its bridged peer.
    fn forward(&mut self, now: Duration, i: usize, stream: Stream, mut data: B) {
        let peer = self.legs[i].as_ref().and_then(|l| l.peer);
        let Some(p) = peer else {
            self.legs[i]
                .as_mut()
                .expect("indexed leg")
                .stats
                .not_forwarded += 1;
            return;
        };
        let out = self.legs[p].as_mut().expect("bridged leg");
        let (from, to) = match stream {
            Stream::Rtp => (out.rtp_port, out.remote_rtp),
            Stream::Rtcp if out.rtcp_muxed => (out.rtp_port, out.remote_rtcp),
            Stream::Rtcp => (out.rtcp_port, out.remote_rtcp),
        };
        let Some(to) = to else {
            self.legs[i]
                .as_mut()
                .expect("indexed leg")
                .stats
                .not_forwarded += 1;
            return;
        };
        if let Some(rw) = out.rewrite.as_mut().filter(|_| !out.opaque) {
            match stream {
                Stream::Rtp => rw.apply_rtp(&mut data, now, out.clock_rate),
                Stream::Rtcp => rw.apply_rtcp(&mut data),
            }
        }
        out.stats.sent_packets += 1;
        out.stats.sent_bytes += data.len() as u64;
        self.push(Output::Transmit(Transmit { from, to, data }));
    }
}
