//! IO drivers: the threads and sockets around the sans-IO
//! [`RelayCore`](crate::relay::RelayCore).
//!
//! A driver runs N shard workers. Each worker owns one
//! [`RelayCore`](crate::relay::RelayCore) and the UDP sockets of the legs
//! of its calls, waits on all of them at once, reads many datagrams per
//! wakeup, feeds the core with the time of a monotonic clock and sends
//! what the core hands back in batches. A call lives on the
//! shard [`shard_for`] picks from its id, so its legs never cross threads.
//!
//! The control side (the NG server, tests) talks to the workers through a
//! [`DriverHandle`]: each [`Request`] goes down a channel and wakes the
//! worker (an eventfd); the worker answers on a one-shot channel. Nothing on
//! the packet path takes a lock or touches the control thread.
//!
//! ```no_run
//! # use ringwire_media::driver::*;
//! # use ringwire_media::relay::*;
//! # fn main() -> Result<(), DriverError> {
//! let driver = DriverHandle::start(DriverKind::Auto, DriverConfig::default())?;
//! let call = CallId(1);
//! driver.command(call, Command::CreateCall { call })?;
//! let sockets = driver.bind_pair(30000, 30001)?; // RTP and RTCP, non-blocking
//! let spec = LegSpec::new(LocalPort(30000), LocalPort(30001), None);
//! driver.add_leg(call, LegId(1), spec, sockets)?;
//! // ... a second leg, Command::Bridge, media flows ...
//! let snapshot = driver.snapshot()?; // counters for metrics
//! # let _ = snapshot;
//! driver.command(call, Command::DeleteCall { call })?; // closes its sockets
//! driver.shutdown();
//! # Ok(()) }
//! ```
//!
//! Map: this file holds what every backend shares ([`Driver`], [`Request`],
//! [`DriverHandle`], [`ShardSnapshot`], the drop counters); [`portable`] is
//! the epoll + `recvmmsg`/`sendmmsg` backend; [`uring_driver`] (over
//! [`uring`]) the io_uring one; both implement [`Driver`]; [`pace`] is the
//! optional wakeup pacing both use.

mod outputs;
pub mod pace;
mod pin;
pub mod portable;
mod shard;
#[cfg(test)]
mod tests;
#[cfg(target_os = "linux")]
pub mod uring;
#[cfg(target_os = "linux")]
pub mod uring_driver;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::sync::mpsc;
use std::time::Duration;

use thiserror::Error;

use crate::relay::{
    CallId, Command, Event, LegId, LegSpec, LegStats, LocalPort, MosSummary, RelayConfig,
    RelayError,
};

/// Which IO backend runs the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DriverKind {
    /// The default the benchmark picked: io_uring where the kernel offers
    /// it, else portable. `benches/relay.sh` with `NODES="ringwire-portable
    /// ringwire-io_uring"` on the AMD EPYC hosts of 2026-12-02 and 12-06
    /// measured io_uring 7-20% ahead in relayed packets per CPU-second at
    /// 500 and 1,000 paced calls, and calm near saturation where portable
    /// fell behind (p99 0.5 ms against 18 ms at 1,000 calls); on an Intel
    /// Xeon host of 12-01 portable was 5-15% ahead (benches/RELAY.md).
    #[default]
    Auto,
    /// epoll with `recvmmsg`/`sendmmsg`: runs on any Linux.
    Portable,
    /// io_uring (multishot receive, buffer ring, batched sends); falls
    /// back to portable with a warning where io_uring is unavailable.
    IoUring,
}

impl std::str::FromStr for DriverKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(DriverKind::Auto),
            "portable" => Ok(DriverKind::Portable),
            "io_uring" | "io-uring" | "uring" => Ok(DriverKind::IoUring),
            other => Err(format!(
                "unknown driver `{other}` (expected auto, portable or io_uring)"
            )),
        }
    }
}

/// Settings of a driver.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Shard workers (at least 1).
    pub threads: usize,
    /// Address the media sockets bind on.
    pub bind: IpAddr,
    /// Timing knobs of each shard's core.
    pub relay: RelayConfig,
    /// Datagrams sent per `sendmmsg` (portable driver; its receives take
    /// one datagram per ready socket per `epoll_wait` round).
    pub batch: usize,
    /// Receive buffer size; larger datagrams are dropped and counted as
    /// truncated.
    pub buffer_size: usize,
    /// Where the cores' events go ([`Event::LegClosed`], timeouts,
    /// latching); events that find the channel full are counted and dropped.
    pub events: Option<mpsc::SyncSender<(usize, Event)>>,
    /// Wakeup pacing window ([`pace`]): under load a worker sleeps up to
    /// this long between wakeups so that each serves many datagrams; each
    /// datagram may wait up to this long. Zero: wake at every arrival.
    pub pace: Duration,
    /// Pacing starts when the arrival rate brings at least this many
    /// datagrams per [`DriverConfig::pace`] window (and stops below it).
    pub pace_min_batch: u32,
}

/// The default [`DriverConfig::pace`]: off. `benches/relay.sh` measured a
/// 250 µs window at 15-20% fewer relayed packets per CPU-second at 500
/// calls and no gain at 2,000 (its generator sends each millisecond's
/// packets in bursts, which already batch the wakeups; see
/// `benches/RELAY.md`). Pacing stays available for arrivals without such
/// bursts.
pub const DEFAULT_PACE: Duration = Duration::ZERO;
/// The default [`DriverConfig::pace_min_batch`].
pub const DEFAULT_PACE_MIN_BATCH: u32 = 8;

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            threads: 1,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            relay: RelayConfig::default(),
            batch: 32,
            buffer_size: 2048,
            events: None,
            pace: DEFAULT_PACE,
            pace_min_batch: DEFAULT_PACE_MIN_BATCH,
        }
    }
}

/// Why a driver could not do what was asked.
#[derive(Debug, Error)]
pub enum DriverError {
    /// A system call failed (epoll, eventfd, bind, thread spawn).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error (in the message, so logs show it).
        source: std::io::Error,
    },
    /// The relay core refused the command.
    #[error(transparent)]
    Relay(#[from] RelayError),
    /// The worker is gone (shut down or crashed).
    #[error("shard {0} is not running")]
    ShardGone(usize),
    /// The worker did not answer in time.
    #[error("shard {0} did not answer within {1:?}")]
    Timeout(usize, Duration),
}

impl DriverError {
    /// Whether the process (EMFILE) or the system (ENFILE) ran out of file
    /// descriptors: no other port would do better.
    pub fn is_descriptor_limit(&self) -> bool {
        matches!(self, DriverError::Io { source, .. }
            if matches!(source.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE)))
    }

    fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        DriverError::Io {
            what: what.into(),
            source,
        }
    }
}

/// The process's soft and hard limits on open descriptors
/// (`RLIMIT_NOFILE`): every media socket takes one.
pub fn open_file_limit() -> std::io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// What one leg looks like from outside: statistics and current remotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegInfo {
    /// Its statistics so far.
    pub stats: LegStats,
    /// Remote RTP address (after latching).
    pub remote_rtp: Option<SocketAddr>,
    /// Remote RTCP address (after latching).
    pub remote_rtcp: Option<SocketAddr>,
    /// The RTP clock rate of its media (jitter counts in its ticks).
    pub clock_rate: u32,
    /// The scores of the RTCP receiver reports its remote sent, once one
    /// came ([`crate::relay::mos`]).
    pub mos: Option<MosSummary>,
    /// When its remote's last RTP packet came, if one did (the driver's
    /// clock).
    pub last_rtp: Option<Duration>,
    /// When the worker read all this, on the clock of `last_rtp` and the
    /// scores' `at` (the driver's, from its start).
    pub read_at: Duration,
}

/// Counters a worker keeps beside its core's: drops the driver itself
/// makes, and its own work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverCounters {
    /// Datagrams read from sockets.
    pub received: u64,
    /// Datagrams handed to the kernel to send.
    pub sent: u64,
    /// Datagrams larger than the receive buffer: dropped.
    pub truncated: u64,
    /// Datagrams whose source address could not be read: dropped.
    pub bad_source: u64,
    /// Receive system calls that failed with something other than
    /// "would block" or news of an unreachable peer.
    pub recv_errors: u64,
    /// ICMP errors about a leg's peer (its port closed, its host or
    /// network unreachable) that a receive returned ([`is_peer_unreachable`]):
    /// news, not a fault; the socket goes on receiving.
    pub peer_unreachable: u64,
    /// Datagrams the kernel refused to send (full socket buffer, no route):
    /// dropped.
    pub send_errors: u64,
    /// Datagrams the kernel refused to send because an ICMP error had come
    /// back for an earlier one to the same peer (its port closed, as a
    /// phone's after hanging up): dropped.
    pub send_unreachable: u64,
    /// Core events dropped because the event channel was full or closed.
    pub events_dropped: u64,
    /// Wakeups of the worker.
    pub wakeups: u64,
    /// How long each wakeup's work took.
    pub loop_times: LoopTimes,
}

/// Whether `errno`, from a receive or a send on a UDP socket, is how the
/// kernel reports an ICMP error about an earlier datagram to the socket's
/// peer (a connected socket gets them: port unreachable is
/// `ECONNREFUSED`, host, network and administratively prohibited are
/// `EHOSTUNREACH`, `ENETUNREACH`, `EHOSTDOWN`, `ENONET`, `EACCES`,
/// protocol unreachable `ENOPROTOOPT`, a parameter problem `EPROTO`).
/// Such an error is news about the peer, which may come back (a phone
/// restarting its media socket, a NAT binding renewed), never a reason
/// to stop receiving on the socket.
pub fn is_peer_unreachable(errno: i32) -> bool {
    matches!(
        errno,
        libc::ECONNREFUSED
            | libc::EHOSTUNREACH
            | libc::ENETUNREACH
            | libc::EHOSTDOWN
            | libc::ENONET
            | libc::EACCES
            | libc::ENOPROTOOPT
            | libc::EPROTO
    )
}

/// Upper bounds of the [`LoopTimes`] buckets, µs; one more bucket takes
/// everything longer.
pub const LOOP_BUCKETS_US: [u64; 12] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000,
];

/// A histogram of a worker's loop time: from a wait's return (a wakeup)
/// to the next wait, the datagrams received, relayed and sent in
/// between. Its tail is the latency the loop adds to the last datagram of
/// a busy wakeup; a worker near saturation shows in it before it drops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopTimes {
    /// Wakeups per bucket: `counts[i]` took at most `LOOP_BUCKETS_US[i]`
    /// (and more than the bucket before); the last, longer than all.
    pub counts: [u64; LOOP_BUCKETS_US.len() + 1],
    /// The wakeups' total time, ns.
    pub sum_ns: u64,
}

impl LoopTimes {
    /// Counts one wakeup that took `d`.
    #[inline]
    pub fn record(&mut self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        let bucket = LOOP_BUCKETS_US.partition_point(|&b| b < us);
        self.counts[bucket] += 1;
        self.sum_ns = self
            .sum_ns
            .saturating_add(d.as_nanos().min(u64::MAX as u128) as u64);
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &LoopTimes) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.sum_ns = self.sum_ns.saturating_add(other.sum_ns);
    }

    /// Wakeups counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Everything a shard counts, summed for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardSnapshot {
    /// Calls on the shard.
    pub calls: u64,
    /// Legs on the shard.
    pub legs: u64,
    /// Leg statistics summed over live and closed legs.
    pub legs_total: LegStats,
    /// Datagrams on a port no leg owns (core).
    pub unknown_port: u64,
    /// Outputs queued past the core's queue capacity.
    pub queue_overflows: u64,
    /// The driver's own counters.
    pub driver: DriverCounters,
}

impl ShardSnapshot {
    /// Adds `other` into `self` (for a node-wide total).
    pub fn merge(&mut self, other: &ShardSnapshot) {
        self.calls += other.calls;
        self.legs += other.legs;
        add_stats(&mut self.legs_total, &other.legs_total);
        self.unknown_port += other.unknown_port;
        self.queue_overflows += other.queue_overflows;
        let (d, o) = (&mut self.driver, &other.driver);
        d.received += o.received;
        d.sent += o.sent;
        d.truncated += o.truncated;
        d.bad_source += o.bad_source;
        d.recv_errors += o.recv_errors;
        d.peer_unreachable += o.peer_unreachable;
        d.send_errors += o.send_errors;
        d.send_unreachable += o.send_unreachable;
        d.events_dropped += o.events_dropped;
        d.wakeups += o.wakeups;
        d.loop_times.merge(&o.loop_times);
    }
}

/// Adds the counters of `b` into `a` (jitter: the larger of the two).
pub fn add_stats(a: &mut LegStats, b: &LegStats) {
    a.packets += b.packets;
    a.bytes += b.bytes;
    a.lost += b.lost;
    a.duplicates += b.duplicates;
    a.out_of_order += b.out_of_order;
    a.jitter = a.jitter.max(b.jitter);
    a.jitter_q4 = a.jitter_q4.max(b.jitter_q4);
    a.malformed += b.malformed;
    a.hijack_drops += b.hijack_drops;
    a.latches += b.latches;
    a.ssrc_changes += b.ssrc_changes;
    a.rtcp_packets += b.rtcp_packets;
    a.rtcp_bytes += b.rtcp_bytes;
    a.not_forwarded += b.not_forwarded;
    a.sent_packets += b.sent_packets;
    a.sent_bytes += b.sent_bytes;
}

/// A one-shot reply channel.
pub type Reply<T> = mpsc::SyncSender<T>;

/// What the control side asks a worker.
#[derive(Debug)]
pub enum Request {
    /// A relay command. With [`Command::AddLeg`], `sockets` are the leg's
    /// bound, non-blocking sockets (one per distinct local port): the
    /// worker owns them from now on and closes them when the call is
    /// deleted (or at once if the command fails).
    Relay {
        /// The command.
        command: Command,
        /// Sockets that come with an `AddLeg`.
        sockets: Vec<(LocalPort, UdpSocket)>,
        /// Where the result goes.
        reply: Option<Reply<Result<(), RelayError>>>,
    },
    /// A leg's statistics and remotes.
    LegInfo {
        /// The leg.
        leg: LegId,
        /// Where the answer goes (`None`: no such leg).
        reply: Reply<Option<LegInfo>>,
    },
    /// The statistics and remotes of every live leg of a call, in the
    /// order they were added (empty: no such call).
    CallInfo {
        /// The call.
        call: CallId,
        /// Where the answer goes.
        reply: Reply<Vec<(LegId, LegInfo)>>,
    },
    /// The shard's counters.
    Snapshot {
        /// Where the answer goes.
        reply: Reply<ShardSnapshot>,
    },
}

/// A running set of shard workers, whatever the IO backend.
pub trait Driver: Send + Sync {
    /// The backend's name, for logs and metrics (`portable`, `io_uring`).
    fn name(&self) -> &'static str;
    /// Number of shards.
    fn shards(&self) -> usize;
    /// Queues `request` for `shard` and wakes its worker.
    fn submit(&self, shard: usize, request: Request) -> Result<(), DriverError>;
    /// Stops the workers (each finishes its current wakeup) and waits for
    /// them. Idempotent.
    fn shutdown(&self);
}

/// The shard a call lives on: a hash of its id, modulo `shards`.
pub fn shard_for(call: CallId, shards: usize) -> usize {
    // splitmix64 finaliser: consecutive ids spread evenly.
    let mut z = call.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z % shards.max(1) as u64) as usize
}

/// Whether a UDP socket bound on `::` here also carries IPv4 (its
/// `IPV6_V6ONLY` is off, the Linux default): probed on a socket of its own.
fn ipv6_sockets_take_ipv4() -> bool {
    use std::os::fd::AsRawFd;
    let Ok(probe) = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0)) else {
        return false;
    };
    let mut v: libc::c_int = 1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt on an open socket writes at most `len` bytes into
    // the live c_int behind the pointer, and its length into `len`.
    let r = unsafe {
        libc::getsockopt(
            probe.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    r == 0 && v == 0
}

/// A peer's address as the kernel gave it in IPv6 form, as the relay core
/// should know it: an IPv4-mapped address (an IPv4 peer of a dual-stack
/// socket bound on `::`) becomes plain IPv4, so that it matches the IPv4
/// address SDP gave for that peer; the kernel sends to and connects to a
/// plain IPv4 address from such a socket as well.
pub(crate) fn ipv6_peer(ip: Ipv6Addr, port: u16, flowinfo: u32, scope_id: u32) -> SocketAddr {
    match ip.to_ipv4_mapped() {
        Some(v4) => SocketAddr::from((v4, port)),
        None => SocketAddr::V6(SocketAddrV6::new(ip, port, flowinfo, scope_id)),
    }
}

/// Makes an IPv4 UDP socket send with the don't-fragment bit and ignore
/// the path MTU (`IP_PMTUDISC_PROBE`; a no-op for IPv6, which has no IP
/// id). Why: an IPv4 datagram without DF needs a fresh IP id, which the
/// kernel draws per packet from a hashed, shared table (`__ip_select_ident`,
/// 4% of the node's CPU at 2,000 calls); with DF the id of an unconnected
/// socket is 0. RTP packets are far below any MTU, so nothing is lost.
pub fn set_dont_fragment(socket: &UdpSocket) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    if !socket.local_addr()?.is_ipv4() {
        return Ok(());
    }
    let v: libc::c_int = libc::IP_PMTUDISC_PROBE;
    // SAFETY: passes a live c_int and its size to setsockopt on an open
    // socket; the kernel only reads it.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// How long the control side waits for a worker's answer.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The control side's view of a running driver: typed request/reply calls
/// over [`Driver::submit`].
pub struct DriverHandle {
    driver: Box<dyn Driver>,
    bind: IpAddr,
    /// Whether sockets bound on `::` also carry IPv4 (`IPV6_V6ONLY` off).
    dual_stack: bool,
}

impl std::fmt::Debug for DriverHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverHandle")
            .field("driver", &self.driver.name())
            .field("shards", &self.driver.shards())
            .field("bind", &self.bind)
            .finish()
    }
}

impl DriverHandle {
    /// Starts the workers of the backend `kind` names. `IoUring` and
    /// `Auto` try io_uring and fall back to the portable driver when it is
    /// unavailable here, saying why (a warning when io_uring was asked for
    /// by name, a note for `Auto`).
    pub fn start(kind: DriverKind, config: DriverConfig) -> Result<Self, DriverError> {
        let bind = config.bind;
        #[cfg(target_os = "linux")]
        if kind != DriverKind::Portable {
            match uring_driver::UringDriver::start(config.clone()) {
                Ok(d) => return Ok(DriverHandle::from_driver(Box::new(d), bind)),
                Err(e) if e.is_unavailable() => {
                    if kind == DriverKind::IoUring {
                        tracing::warn!("{e}; using the portable driver");
                    } else {
                        tracing::info!("{e}; using the portable driver");
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        #[cfg(not(target_os = "linux"))]
        if kind == DriverKind::IoUring {
            tracing::warn!("io_uring is Linux only; using the portable driver");
        }
        let driver = portable::PortableDriver::start(config)?;
        Ok(DriverHandle::from_driver(Box::new(driver), bind))
    }

    /// Wraps an already running driver.
    pub fn from_driver(driver: Box<dyn Driver>, bind: IpAddr) -> Self {
        let dual_stack = bind == IpAddr::V6(Ipv6Addr::UNSPECIFIED) && ipv6_sockets_take_ipv4();
        DriverHandle {
            driver,
            bind,
            dual_stack,
        }
    }

    /// The backend's name.
    pub fn name(&self) -> &'static str {
        self.driver.name()
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.driver.shards()
    }

    /// The address media sockets bind on.
    pub fn bind_address(&self) -> IpAddr {
        self.bind
    }

    /// The shard of `call`.
    pub fn shard_of(&self, call: CallId) -> usize {
        shard_for(call, self.driver.shards())
    }

    /// Whether the media sockets can exchange datagrams with a peer at `ip`:
    /// an IPv4 bind reaches IPv4 peers, an IPv6 one IPv6 peers, and `::`
    /// both unless the host makes IPv6 sockets IPv6-only
    /// (`net.ipv6.bindv6only`).
    pub fn reaches(&self, ip: IpAddr) -> bool {
        match (self.bind, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => true,
            (IpAddr::V6(_), IpAddr::V4(_)) => self.dual_stack,
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
        }
    }

    /// Binds a non-blocking UDP socket on the media address and `port`,
    /// sending with the don't-fragment bit (see [`set_dont_fragment`]).
    pub fn bind(&self, port: u16) -> Result<UdpSocket, DriverError> {
        let addr = SocketAddr::new(self.bind, port);
        let s = UdpSocket::bind(addr).map_err(|e| DriverError::io(format!("bind {addr}"), e))?;
        s.set_nonblocking(true)
            .map_err(|e| DriverError::io("set_nonblocking", e))?;
        set_dont_fragment(&s).map_err(|e| DriverError::io("IP_MTU_DISCOVER", e))?;
        Ok(s)
    }

    /// Binds the RTP and RTCP sockets of a leg (one socket when the ports
    /// are equal, rtcp-mux).
    pub fn bind_pair(
        &self,
        rtp: u16,
        rtcp: u16,
    ) -> Result<Vec<(LocalPort, UdpSocket)>, DriverError> {
        let mut v = vec![(LocalPort(rtp), self.bind(rtp)?)];
        if rtcp != rtp {
            v.push((LocalPort(rtcp), self.bind(rtcp)?));
        }
        Ok(v)
    }

    fn ask<T>(
        &self,
        shard: usize,
        make: impl FnOnce(Reply<T>) -> Request,
    ) -> Result<T, DriverError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.driver.submit(shard, make(tx))?;
        rx.recv_timeout(REPLY_TIMEOUT).map_err(|e| match e {
            mpsc::RecvTimeoutError::Timeout => DriverError::Timeout(shard, REPLY_TIMEOUT),
            mpsc::RecvTimeoutError::Disconnected => DriverError::ShardGone(shard),
        })
    }

    /// Runs a relay command on `call`'s shard and waits for its result.
    pub fn command(&self, call: CallId, command: Command) -> Result<(), DriverError> {
        self.command_on(self.shard_of(call), command)
    }

    /// Runs a relay command on `shard` and waits for its result.
    fn command_on(&self, shard: usize, command: Command) -> Result<(), DriverError> {
        self.ask(shard, |reply| Request::Relay {
            command,
            sockets: Vec::new(),
            reply: Some(reply),
        })?
        .map_err(DriverError::from)
    }

    /// Adds leg `leg` to `call` with its bound sockets (see
    /// [`DriverHandle::bind_pair`]); on failure the sockets are closed.
    pub fn add_leg(
        &self,
        call: CallId,
        leg: LegId,
        spec: LegSpec,
        sockets: Vec<(LocalPort, UdpSocket)>,
    ) -> Result<(), DriverError> {
        let shard = self.shard_of(call);
        self.ask(shard, |reply| Request::Relay {
            command: Command::AddLeg { call, leg, spec },
            sockets,
            reply: Some(reply),
        })?
        .map_err(DriverError::from)
    }

    /// Statistics and remotes of `leg` of `call`.
    pub fn leg_info(&self, call: CallId, leg: LegId) -> Result<Option<LegInfo>, DriverError> {
        let shard = self.shard_of(call);
        self.ask(shard, |reply| Request::LegInfo { leg, reply })
    }

    /// Statistics and remotes of every live leg of `call`, in one round
    /// trip to its worker (in the order the legs were added).
    pub fn call_info(&self, call: CallId) -> Result<Vec<(LegId, LegInfo)>, DriverError> {
        let shard = self.shard_of(call);
        self.ask(shard, |reply| Request::CallInfo { call, reply })
    }

    /// Gives every shard new latching and media-timeout timing
    /// ([`Command::SetTiming`]): a config reload.
    pub fn set_timing(
        &self,
        setup_window: Duration,
        quiet_window: Duration,
        media_timeout: Duration,
    ) -> Result<(), DriverError> {
        let timing = Command::SetTiming {
            setup_window,
            quiet_window,
            media_timeout,
        };
        for shard in 0..self.shards() {
            self.command_on(shard, timing.clone())?;
        }
        Ok(())
    }

    /// Counters of every shard, summed.
    pub fn snapshot(&self) -> Result<ShardSnapshot, DriverError> {
        let mut total = ShardSnapshot::default();
        for shard in 0..self.shards() {
            let s = self.ask(shard, |reply| Request::Snapshot { reply })?;
            total.merge(&s);
        }
        Ok(total)
    }

    /// Stops the workers and waits for them.
    pub fn shutdown(&self) {
        self.driver.shutdown();
    }
}

impl Drop for DriverHandle {
    fn drop(&mut self) {
        self.driver.shutdown();
    }
}
