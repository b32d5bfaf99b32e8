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
//! - this file: [`RelayCore`], its [`Input`]/[`Command`] and
//!   [`Output`]/[`Event`], legs, latching and forwarding;
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

pub mod mos;
pub mod rewrite;
pub mod stats;
pub mod tap;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::ops::DerefMut;
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

/// A local socket of the node, as the driver names it (a UDP port, or any
/// socket id the driver hands out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalPort(pub u16);

/// A call, named by the caller (the control layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

/// A leg, named by the caller; unique across calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u64);

/// A detector tap registered with [`RelayCore::register_tap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TapId(pub u32);

/// Timing knobs of the relay core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayConfig {
    /// After a leg is set up (or its remote changed by command), a valid
    /// RTP packet from any source may latch it, until its remote is heard.
    pub setup_window: Duration,
    /// A leg whose remote sent no RTP for this long may latch again.
    pub quiet_window: Duration,
    /// A leg without RTP for this long raises [`Event::MediaTimeout`] once.
    pub media_timeout: Duration,
    /// Capacity the output queue is allocated with.
    pub queue_capacity: usize,
    /// Once a leg's remote is heard, ask the driver to connect the leg's
    /// RTP socket to it ([`Output::Pin`]): the kernel then sends to it
    /// without a route lookup per datagram (about 6% of a relay's CPU on
    /// loopback, `benches/RELAY.md`), and drops datagrams from any other
    /// source itself, so those are not counted in
    /// [`LegStats::hijack_drops`]. The pin is lifted once the remote has
    /// been quiet for `quiet_window`, so another source can latch as
    /// before.
    pub pin_remote: bool,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            setup_window: Duration::from_secs(2),
            quiet_window: Duration::from_secs(5),
            media_timeout: Duration::from_secs(30),
            queue_capacity: 1024,
            pin_remote: false,
        }
    }
}

/// How a leg is set up: its local sockets and what SDP says of the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegSpec {
    /// Local socket for RTP.
    pub rtp: LocalPort,
    /// Local socket for RTCP; equal to `rtp` for rtcp-mux.
    pub rtcp: LocalPort,
    /// Remote RTP address from SDP, if known. A wildcard address or port 0
    /// (`c=IN IP4 0.0.0.0`, the old way to put a call on hold) is no
    /// address: nothing is sent until the remote is heard.
    pub remote_rtp: Option<SocketAddr>,
    /// Remote RTCP address from SDP; defaults to the RTP address with the
    /// next port (the same port with rtcp-mux).
    pub remote_rtcp: Option<SocketAddr>,
    /// Payload types the remote may send (empty: any). Latching requires
    /// one of these.
    pub payload_types: Vec<u8>,
    /// RTP clock rate, for jitter and timestamp continuity (8000 for G.711).
    pub clock_rate: u32,
    /// What the leg carries: RTP and RTCP, or datagrams of another
    /// protocol forwarded as they are.
    pub transport: Transport,
    /// How its remote follows the source of its media.
    pub latching: Latching,
}

/// How a leg's remote follows the source of its media (NG flags of the
/// SDP that set up the remote).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Latching {
    /// Symmetric RTP with hijack protection (module docs): a new source
    /// takes the leg over within the setup window or once the remote has
    /// gone quiet.
    #[default]
    Protected,
    /// `media-handover`: valid RTP from a new source takes the leg over at
    /// once (a phone that moves networks mid-call, as rtpengine's
    /// userspace relay lets any source do).
    Handover,
    /// `asymmetric`: the remote stays the SDP's; valid RTP is taken from
    /// any source (a peer that sends from another port than it receives
    /// on). RTCP goes to the SDP's RTCP address too.
    Off,
}

/// What a leg carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// RTP, and RTCP on its RTP port or its own: parsed, checked, counted,
    /// rewritten and tapped as asked.
    #[default]
    Rtp,
    /// Datagrams of another protocol over UDP (T.38 fax's UDPTL) on the
    /// RTP port: forwarded as they are, never parsed, rewritten or
    /// tapped. Latching takes any datagram, within the same setup and
    /// quiet windows as RTP (there is no payload type to check).
    Opaque,
}

impl LegSpec {
    /// A leg on `rtp`/`rtcp` with the SDP remote `remote`, any payload
    /// type, at 8000 Hz.
    pub fn new(rtp: LocalPort, rtcp: LocalPort, remote: Option<SocketAddr>) -> Self {
        LegSpec {
            rtp,
            rtcp,
            remote_rtp: remote,
            remote_rtcp: None,
            payload_types: Vec::new(),
            clock_rate: 8000,
            transport: Transport::Rtp,
            latching: Latching::Protected,
        }
    }
}

/// A control command; commands may allocate, packets never do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Creates an empty call.
    CreateCall {
        /// The new call.
        call: CallId,
    },
    /// Adds a leg to a call.
    AddLeg {
        /// The call.
        call: CallId,
        /// The new leg.
        leg: LegId,
        /// Its sockets and remote.
        spec: LegSpec,
    },
    /// New remote addresses from SDP (re-offer): reopens the setup window.
    SetRemote {
        /// The leg.
        leg: LegId,
        /// Remote RTP address.
        rtp: Option<SocketAddr>,
        /// Remote RTCP address (default as in [`LegSpec::remote_rtcp`]).
        rtcp: Option<SocketAddr>,
    },
    /// New payload types the remote may send (a re-offer that changes
    /// codecs; empty: any), the set latching asks of a new source.
    SetPayloadTypes {
        /// The leg.
        leg: LegId,
        /// The types, each below 128.
        payload_types: Vec<u8>,
    },
    /// How the leg's remote follows its media's source from now on (the
    /// flags of a re-offer or an answer).
    SetLatching {
        /// The leg.
        leg: LegId,
        /// The new mode.
        latching: Latching,
    },
    /// What the leg carries from now on (a re-offer that turns an audio
    /// section into T.38, or back).
    SetTransport {
        /// The leg.
        leg: LegId,
        /// RTP, or opaque datagrams.
        transport: Transport,
    },
    /// Whether the leg's remote multiplexes RTCP onto its RTP address
    /// (rtcp-mux, RFC 5761: both SDPs of the call carry `a=rtcp-mux`):
    /// RTCP to it then goes to its RTP address, from the leg's RTP port;
    /// `false` goes back to its RTCP address. A leg also follows where its
    /// remote's RTCP arrives (RTP port or RTCP port) without this command.
    SetRtcpMux {
        /// The leg.
        leg: LegId,
        /// The remote multiplexes.
        mux: bool,
    },
    /// Bridges two legs of one call: each one's media goes out of the
    /// other. Either's previous bridge is undone.
    Bridge {
        /// One leg.
        a: LegId,
        /// The other leg.
        b: LegId,
    },
    /// Undoes a leg's bridge (both sides).
    Unbridge {
        /// The leg.
        leg: LegId,
    },
    /// Rewrites SSRC, sequence and timestamp of the RTP sent out of a leg
    /// (and the sender SSRC/timestamp of its RTCP SR/RR), or stops it.
    SetRewrite {
        /// The leg whose outgoing media is rewritten.
        leg: LegId,
        /// The rewrite, or `None` to forward untouched.
        rewrite: Option<Rewrite>,
    },
    /// Attaches a registered detector tap to a leg's incoming RTP, or
    /// detaches it.
    SetTap {
        /// The leg.
        leg: LegId,
        /// The tap, or `None`.
        tap: Option<TapId>,
    },
    /// Installs a detector tap in slot `id` (replacing any), for cores a
    /// driver owns on another thread ([`RelayCore::register_tap`] needs the
    /// core itself); attach it to legs with [`Command::SetTap`]. The tap is
    /// taken out of the handle: a handle installs once.
    InstallTap {
        /// The slot.
        id: TapId,
        /// The tap.
        tap: TapHandle,
    },
    /// New latching and media-timeout timing for every leg of the core (a
    /// config reload): deadlines already running move with it, so a
    /// shorter media timeout raises at once on a leg quiet for longer.
    SetTiming {
        /// [`RelayConfig::setup_window`].
        setup_window: Duration,
        /// [`RelayConfig::quiet_window`].
        quiet_window: Duration,
        /// [`RelayConfig::media_timeout`].
        media_timeout: Duration,
    },
    /// Deletes a call and its legs; each leg's final statistics come out as
    /// [`Event::LegClosed`].
    DeleteCall {
        /// The call.
        call: CallId,
    },
}

/// A datagram's buffer as the core takes and forwards it: bytes it may
/// rewrite in place. The core never grows, shrinks or copies it.
pub trait Packet: DerefMut<Target = [u8]> {}

impl<T: DerefMut<Target = [u8]>> Packet for T {}

/// What the driver hands the core.
#[derive(Debug)]
pub enum Input<B = BytesMut> {
    /// A datagram received on a local socket.
    Datagram {
        /// The socket it arrived on.
        local: LocalPort,
        /// Its source.
        from: SocketAddr,
        /// Its bytes; forwarded (possibly rewritten) in this same buffer.
        data: B,
    },
    /// The time given by the last [`Output::Timeout`] has come.
    Timeout,
    /// A control command.
    Command(Command),
}

/// A datagram to send.
#[derive(Debug)]
pub struct Transmit<B = BytesMut> {
    /// The local socket to send from.
    pub from: LocalPort,
    /// The destination.
    pub to: SocketAddr,
    /// The bytes: the received buffer itself.
    pub data: B,
}

/// Connect a local socket to the one remote it talks to, or undo that
/// ([`RelayConfig::pin_remote`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// The leg's RTP socket.
    pub port: LocalPort,
    /// The remote to connect to; `None`: disconnect, and take datagrams
    /// from anyone again.
    pub remote: Option<SocketAddr>,
}

/// Which of a leg's two streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// RTP.
    Rtp,
    /// RTCP.
    Rtcp,
}

/// Something the control layer wants to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A leg's remote address moved by latching.
    Latched {
        /// The call.
        call: CallId,
        /// The leg.
        leg: LegId,
        /// RTP or RTCP.
        stream: Stream,
        /// The previous remote, if any.
        old: Option<SocketAddr>,
        /// The new remote.
        new: SocketAddr,
    },
    /// A leg received no RTP for [`RelayConfig::media_timeout`] (raised
    /// once, until media resumes).
    MediaTimeout {
        /// The call.
        call: CallId,
        /// The leg.
        leg: LegId,
        /// When its last RTP arrived, if ever.
        last_rtp: Option<Duration>,
    },
    /// RTP arrived again on a leg that had timed out.
    MediaResumed {
        /// The call.
        call: CallId,
        /// The leg.
        leg: LegId,
    },
    /// A leg was removed with its call.
    LegClosed {
        /// The call.
        call: CallId,
        /// The leg.
        leg: LegId,
        /// Its final statistics.
        stats: LegStats,
    },
}

/// What the core hands the driver.
#[derive(Debug)]
pub enum Output<B = BytesMut> {
    /// Send a datagram.
    Transmit(Transmit<B>),
    /// Tell the control layer.
    Event(Event),
    /// Give the core [`Input::Timeout`] at this time (replaces any earlier
    /// request).
    Timeout(Duration),
    /// Connect or disconnect a socket ([`RelayConfig::pin_remote`]). A
    /// driver may ignore it (sends always name their destination).
    Pin(Pin),
}

/// Why a command failed. Datagrams never fail: bad ones are counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// No such call.
    #[error("no call {0:?}")]
    UnknownCall(CallId),
    /// The call exists already.
    #[error("call {0:?} exists already")]
    CallExists(CallId),
    /// No such leg.
    #[error("no leg {0:?}")]
    UnknownLeg(LegId),
    /// The leg exists already.
    #[error("leg {0:?} exists already")]
    LegExists(LegId),
    /// A local port is already used by another leg.
    #[error("local port {0:?} is in use")]
    PortInUse(LocalPort),
    /// Legs of different calls, or a leg with itself, cannot be bridged.
    #[error("cannot bridge {a:?} with {b:?}: {why}")]
    BadBridge {
        /// One leg.
        a: LegId,
        /// The other leg.
        b: LegId,
        /// Why not.
        why: &'static str,
    },
    /// A payload type above 127.
    #[error("payload type {0} is larger than 127")]
    BadPayloadType(u8),
    /// A clock rate of zero.
    #[error("clock rate must not be zero")]
    BadClockRate,
    /// No such tap.
    #[error("no tap {0:?}")]
    UnknownTap(TapId),
}

/// An RTP packet as a detector tap sees it; borrows the received buffer.
#[derive(Debug, Clone, Copy)]
pub struct TapPacket<'a> {
    /// The call.
    pub call: CallId,
    /// The leg it arrived on.
    pub leg: LegId,
    /// Arrival time (the `now` it was handed in with).
    pub now: Duration,
    /// Payload type.
    pub payload_type: u8,
    /// Marker bit.
    pub marker: bool,
    /// Sequence number as received.
    pub sequence: u16,
    /// RTP timestamp as received.
    pub timestamp: u32,
    /// SSRC as received.
    pub ssrc: u32,
    /// Payload, padding excluded (zero copy: valid during the call only;
    /// copy what must outlive it).
    pub payload: &'a [u8],
}

/// A detector fed with a leg's incoming RTP (DTMF in-band or RFC 4733,
/// AMD, beep): called synchronously, before the packet is forwarded, for
/// every accepted RTP packet that is not a duplicate.
pub trait DetectorTap: Send {
    /// One packet. Must not block; should not allocate.
    fn on_rtp(&mut self, packet: &TapPacket<'_>);
}

/// Counters of the whole core.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreCounters {
    /// Datagrams on a local port no leg owns: dropped.
    pub unknown_port: u64,
    /// Outputs queued beyond the initial queue capacity (the driver is not
    /// draining after each input).
    pub queue_overflows: u64,
}

/// The bit set of `payload_types` as a leg keeps it (bit `pt` for each;
/// 0: any), or the first type above 127.
pub fn payload_type_mask(payload_types: &[u8]) -> Result<u128, RelayError> {
    payload_types.iter().try_fold(0u128, |mask, &pt| {
        if pt > 127 {
            Err(RelayError::BadPayloadType(pt))
        } else {
            Ok(mask | 1u128 << pt)
        }
    })
}

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
