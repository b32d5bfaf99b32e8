//! What the relay core takes and gives: the ids of calls, legs, sockets
//! and taps, its configuration, how a leg is set up, the commands, inputs,
//! outputs and events, its errors, and the detector-tap interface.

use std::net::SocketAddr;
use std::ops::DerefMut;
use std::time::Duration;

use bytes::BytesMut;

use super::rewrite::Rewrite;
use super::stats::LegStats;
use super::tap::TapHandle;

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

/// A detector tap registered with
/// [`RelayCore::register_tap`](super::RelayCore::register_tap).
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
    /// driver owns on another thread
    /// ([`RelayCore::register_tap`](super::RelayCore::register_tap) needs
    /// the core itself); attach it to legs with [`Command::SetTap`]. The
    /// tap is taken out of the handle: a handle installs once.
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
