//! The io_uring socket layer: many UDP sockets served by one io_uring.
//!
//! [`UringSockets`] owns a set of UDP sockets (added and removed by a caller's
//! [`SocketId`]) and one ring. Each socket has a multishot `recvmsg` armed with
//! buffer select on a provided-buffer ring backed by our own slab; every
//! datagram that arrives on any socket becomes one completion, and one
//! [`UringSockets::poll`] hands out everything that completed in that wakeup.
//! Sends are queued as SQEs and go to the kernel in the same `io_uring_enter`
//! that waits for the next receive: one syscall per tick, however many sockets.
//!
//! ```no_run
//! use std::net::UdpSocket;
//! use std::time::Duration;
//! use ringwire_media::driver::uring::{UringConfig, UringSockets};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut io = UringSockets::new(UringConfig::default())?; // Err(Unavailable): use the portable driver
//! io.add(7, UdpSocket::bind("127.0.0.1:40000")?)?;
//! loop {
//!     // `Received` holds a pooled buffer: relay it from the same memory.
//!     let batch: Vec<_> = io.poll(Some(Duration::from_millis(10)))?.collect();
//!     for r in batch {
//!         io.send(r.socket_id, r.from, r.data)?; // echo; leaves on the next poll
//!     }
//! }
//! # }
//! ```
//!
//! Parts: [`UringSockets`] (sockets, ring, send slots, poll), [`RecvBuf`] (the
//! zero-copy buffer guard, in `uring/pool.rs` with the slab and the buffer
//! ring), [`SendData`] (what a send may carry), [`UringStats`] (counted drops
//! and errors), [`UringError`] (typed errors; [`UringError::Unavailable`] means
//! "fall back to the portable driver").
//!
//! Drops are counted, never fatal: `ENOBUFS` (every buffer is held by the
//! caller, so the kernel has none to fill) stops a socket's receive until
//! buffers come back, the datagrams meanwhile wait in the socket's own queue,
//! which the kernel trims as usual when it overflows.

mod pool;

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use io_uring::{cqueue, opcode, squeue, types, IoUring};

pub use pool::RecvBuf;
use pool::{BufRing, Pool};

/// The caller's name for a socket in the set.
pub type SocketId = u64;

/// The buffer group id of our provided-buffer ring.
const BGID: u16 = 0;

/// `user_data` layout: kind in the top 4 bits, then a 28-bit generation and
/// a 32-bit slot index.
const KIND_SHIFT: u32 = 60;
const KIND_RECV: u64 = 1;
const KIND_SEND: u64 = 2;
const KIND_CANCEL: u64 = 3;
const GEN_MASK: u32 = (1 << 28) - 1;

/// `IORING_NOTIF_USAGE_ZC_COPIED`: the zero-copy send fell back to copying.
const NOTIF_USAGE_ZC_COPIED: u32 = 1 << 31;
/// `IORING_CQE_F_NOTIF`: the completion is a send-zc notification.
const CQE_F_NOTIF: u32 = 1 << 3;

/// Room for the source address in front of every payload (`sockaddr_in6`).
const NAME_LEN: usize = std::mem::size_of::<libc::sockaddr_in6>();
/// `struct io_uring_recvmsg_out`.
const RECVMSG_OUT_LEN: usize = 16;

/// Consecutive receive errors (other than `ENOBUFS`) after which a socket's
/// receive is not re-armed any more (e.g. a socket the kernel considers dead).
const MAX_CONSECUTIVE_RECV_ERRORS: u32 = 64;

/// Sizes and options of a [`UringSockets`].
#[derive(Debug, Clone)]
pub struct UringConfig {
    /// Size of one receive buffer in bytes. A datagram gets
    /// `buf_size - 44` bytes (the kernel writes a 16-byte header and the
    /// 28-byte source address in front of it); longer ones are dropped and
    /// counted as truncated.
    pub buf_size: usize,
    /// Number of receive buffers: a power of two, at most 32768.
    pub buf_count: u16,
    /// Submission queue entries (the most sends queued between two submits
    /// without an extra syscall).
    pub sq_entries: u32,
    /// Completion queue entries; at least `2 * buf_count` keeps a full ring
    /// of receives plus sends from overflowing.
    pub cq_entries: u32,
    /// Most sends in flight (queued or submitted, not completed) at once.
    pub max_inflight_sends: usize,
    /// Send with `IORING_OP_SEND_ZC` (the payload stays pinned until the
    /// kernel's notification). On loopback the kernel copies anyway.
    pub send_zc: bool,
    /// `IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN`: completions
    /// are processed only when the owner polls (fewer interruptions, larger
    /// batches). The set must then be used from the thread that created it.
    pub defer_taskrun: bool,
    /// Register every socket in the ring's file table (as many as the
    /// descriptor limit allows), so no operation takes a file reference of
    /// its own; the rest, or all when off, go by descriptor.
    pub fixed_files: bool,
}

impl Default for UringConfig {
    fn default() -> Self {
        UringConfig {
            buf_size: 2048,
            buf_count: 4096,
            sq_entries: 1024,
            cq_entries: 16384,
            max_inflight_sends: 4096,
            send_zc: false,
            defer_taskrun: false,
            fixed_files: true,
        }
    }
}

/// What can go wrong in the io_uring layer.
#[derive(Debug, thiserror::Error)]
pub enum UringError {
    /// io_uring cannot be used here (no kernel support, disabled by the
    /// `kernel.io_uring_disabled` sysctl, blocked by seccomp, or a kernel too
    /// old for multishot receive and buffer rings): use the portable driver.
    #[error("io_uring unavailable: {reason}")]
    Unavailable {
        /// Why, in words.
        reason: String,
        /// The system error behind it, if any.
        #[source]
        source: Option<io::Error>,
    },
    /// The configuration is unusable (names the field).
    #[error("invalid io_uring configuration: {0}")]
    Config(&'static str),
    /// [`UringSockets::add`] with an id already in the set.
    #[error("socket id {0} is already in the set")]
    DuplicateId(SocketId),
    /// An id not in the set.
    #[error("socket id {0} is not in the set")]
    UnknownSocket(SocketId),
    /// A [`SocketHandle`] of a socket removed since.
    #[error("socket handle of a removed socket")]
    StaleHandle,
    /// Every send slot is in flight; the payload was dropped (count it).
    #[error("send queue full ({0} sends in flight)")]
    SendQueueFull(usize),
    /// A system call on the ring or a socket failed.
    #[error("io_uring {op}: {source}")]
    Io {
        /// The operation that failed.
        op: &'static str,
        /// The system error.
        #[source]
        source: io::Error,
    },
}

fn io_err(op: &'static str) -> impl FnOnce(io::Error) -> UringError {
    move |source| UringError::Io { op, source }
}

/// Classifies an `io_uring_setup` failure: the errors that mean "not here"
/// become [`UringError::Unavailable`].
fn setup_error(e: io::Error) -> UringError {
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(0);
    match e.raw_os_error() {
        Some(libc::ENOSYS) => UringError::Unavailable {
            reason: "the kernel has no io_uring (ENOSYS)".into(),
            source: Some(e),
        },
        Some(libc::EPERM) | Some(libc::EACCES) => UringError::Unavailable {
            reason: if disabled != 0 {
                format!("disabled by the kernel.io_uring_disabled sysctl ({disabled})")
            } else {
                "not permitted (seccomp, a container profile or io_uring_group)".into()
            },
            source: Some(e),
        },
        Some(libc::ENOMEM) => UringError::Unavailable {
            reason: "cannot allocate the ring (ENOMEM; RLIMIT_MEMLOCK on old kernels)".into(),
            source: Some(e),
        },
        Some(libc::EINVAL) => UringError::Unavailable {
            reason: "the kernel rejects the ring setup flags (too old)".into(),
            source: Some(e),
        },
        _ => UringError::Io {
            op: "setup",
            source: e,
        },
    }
}

/// Counters of a [`UringSockets`], cumulative since creation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UringStats {
    /// Datagrams handed out by `poll`.
    pub received: u64,
    /// Their payload bytes.
    pub received_bytes: u64,
    /// Of `received`, those a plain receive took on a connected socket
    /// ([`UringSockets::pin`]): the kernel wrote no source address for them.
    pub received_connected: u64,
    /// Receives that found the buffer ring empty (`ENOBUFS`): each stops one
    /// socket's receive until buffers return (a drop cause).
    pub enobufs: u64,
    /// Datagrams dropped because they did not fit a buffer.
    pub truncated: u64,
    /// Datagrams dropped because they arrived on a socket being removed.
    pub dropped_removed: u64,
    /// Receive completions with an error other than `ENOBUFS`/cancel or
    /// an ICMP error about the peer.
    pub recv_errors: u64,
    /// Receive completions with an ICMP error about the socket's peer
    /// ([`super::is_peer_unreachable`]); the receive is re-armed.
    pub peer_unreachable: u64,
    /// Multishot receives re-armed after they ended.
    pub rearms: u64,
    /// Sends completed successfully.
    pub sent: u64,
    /// Their bytes.
    pub sent_bytes: u64,
    /// Sends completed with an error other than an ICMP error about the
    /// peer.
    pub send_errors: u64,
    /// Sends refused with an ICMP error about the peer
    /// ([`super::is_peer_unreachable`]).
    pub send_unreachable: u64,
    /// Zero-copy sends the kernel served by copying.
    pub zc_copied: u64,
}

/// A datagram received on one of the set's sockets.
#[derive(Debug)]
pub struct Received {
    /// The socket it arrived on.
    pub socket_id: SocketId,
    /// Its source address.
    pub from: SocketAddr,
    /// Its payload, in a pooled buffer.
    pub data: RecvBuf,
}

/// A send payload; its memory stays alive until the kernel is done with it.
#[derive(Debug)]
pub enum SendData {
    /// A received buffer, sent from the same memory (relay).
    Recv(RecvBuf),
    /// Any `Bytes`.
    Bytes(Bytes),
    /// An owned vector.
    Vec(Vec<u8>),
    /// Static bytes.
    Static(&'static [u8]),
}

impl SendData {
    fn as_slice(&self) -> &[u8] {
        match self {
            SendData::Recv(b) => b,
            SendData::Bytes(b) => b,
            SendData::Vec(v) => v,
            SendData::Static(s) => s,
        }
    }
}

impl From<RecvBuf> for SendData {
    fn from(b: RecvBuf) -> Self {
        SendData::Recv(b)
    }
}
impl From<Bytes> for SendData {
    fn from(b: Bytes) -> Self {
        SendData::Bytes(b)
    }
}
impl From<Vec<u8>> for SendData {
    fn from(v: Vec<u8>) -> Self {
        SendData::Vec(v)
    }
}
impl From<&'static [u8]> for SendData {
    fn from(s: &'static [u8]) -> Self {
        SendData::Static(s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecvState {
    /// A multishot recvmsg is in flight.
    Armed,
    /// Ended with `ENOBUFS`: re-armed once buffers are back.
    Starved,
    /// Too many errors in a row: left alone.
    Failed,
    /// Removal requested; waiting for the final completion.
    Cancelling,
    /// No operation in flight (removal may finish).
    Done,
}

struct SockEntry {
    id: SocketId,
    sock: UdpSocket,
    gen: u32,
    state: RecvState,
    errors_in_row: u32,
    /// Registered in the ring's file table at the entry's slot: its
    /// operations name the slot, and the kernel takes no file reference per
    /// operation (`fget`, an atomic increment and decrement each).
    fixed: bool,
    /// The remote the socket is connected to ([`UringSockets::pin`]):
    /// sends to it go without an address, which spares the kernel a route
    /// lookup per datagram.
    peer: Option<SocketAddr>,
    /// The kind of receive in flight: `Some(peer)` a plain multishot recv,
    /// armed while the socket was connected to `peer` (every datagram it
    /// takes is `peer`'s, and the kernel writes no header or source address
    /// for it); `None` a multishot recvmsg (each datagram names its source).
    armed_from: Option<SocketAddr>,
}

/// Where a socket sits in a [`UringSockets`] set ([`UringSockets::handle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketHandle {
    slot: u32,
    gen: u32,
}

/// A destination address with a stable home for the kernel to read.
enum Dest {
    V4(libc::sockaddr_in),
    V6(libc::sockaddr_in6),
}

impl Dest {
    fn new(to: SocketAddr) -> Dest {
        match to {
            SocketAddr::V4(a) => Dest::V4(libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            }),
            SocketAddr::V6(a) => Dest::V6(libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            }),
        }
    }

    fn ptr_len(&self) -> (*const libc::sockaddr, libc::socklen_t) {
        match self {
            Dest::V4(a) => (
                (a as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ),
            Dest::V6(a) => (
                (a as *const libc::sockaddr_in6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            ),
        }
    }
}

/// One send in flight: the address and payload the kernel reads.
struct SendSlot {
    dest: Dest,
    data: Option<SendData>,
    /// Send-zc: the result came with `F_MORE`, a notification will follow.
    await_notif: bool,
}

/// The `msghdr` template of the multishot receives (only its lengths are
/// read by the kernel; every pointer is null).
struct RecvHdr(Box<libc::msghdr>);

// SAFETY: every pointer in the header is null, so moving it across threads
// shares nothing.
unsafe impl Send for RecvHdr {}

/// Many UDP sockets served by one io_uring (see the module doc).
///
/// Not `Sync`: one worker thread owns a set (a shard of legs); with
/// [`UringConfig::defer_taskrun`] it must stay on the thread that made it.
pub struct UringSockets {
    // Field order matters: the ring is dropped (and the kernel done with the
    // buffer ring and send payloads) before the memory they point into.
    ring: IoUring,
    bufring: BufRing,
    pool: Arc<Pool>,
    /// Boxed: the kernel holds pointers into a slot while `send_slots` grows.
    #[allow(clippy::vec_box)]
    send_slots: Vec<Box<SendSlot>>,
    free_sends: Vec<u32>,
    inflight_sends: usize,
    recv_hdr: RecvHdr,
    socks: Vec<Option<SockEntry>>,
    free_socks: Vec<u32>,
    by_id: HashMap<SocketId, u32>,
    next_gen: u32,
    starved: Vec<u32>,
    ready: Vec<Received>,
    cqes: Vec<(u64, i32, u32)>,
    stats: UringStats,
    config: UringConfig,
    /// Slots of the registered (sparse) file table; 0 when the kernel
    /// refused one (sockets then go by descriptor).
    fixed_slots: u32,
}

impl std::fmt::Debug for UringSockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringSockets")
            .field("sockets", &self.by_id.len())
            .field("buffers_in_ring", &self.bufring.in_ring())
            .field("sends_in_flight", &self.inflight_sends)
            .field("stats", &self.stats)
            .finish()
    }
}

impl UringSockets {
    /// Sets up the ring, the buffer slab and the provided-buffer ring.
    ///
    /// Returns [`UringError::Unavailable`] where io_uring cannot serve (see
    /// its doc): the caller then uses the portable driver.
    pub fn new(config: UringConfig) -> Result<UringSockets, UringError> {
        if !config.buf_count.is_power_of_two() || config.buf_count > 32768 {
            return Err(UringError::Config(
                "buf_count must be a power of two, at most 32768",
            ));
        }
        if config.buf_size < RECVMSG_OUT_LEN + NAME_LEN + 1 || config.buf_size > u32::MAX as usize {
            return Err(UringError::Config(
                "buf_size must leave room for the 44-byte receive header",
            ));
        }
        if config.sq_entries == 0 || config.cq_entries < config.sq_entries {
            return Err(UringError::Config(
                "sq_entries must be > 0 and cq_entries >= sq_entries",
            ));
        }
        if config.max_inflight_sends == 0 || config.max_inflight_sends > u32::MAX as usize {
            return Err(UringError::Config("max_inflight_sends must be > 0"));
        }

        let mut builder = IoUring::builder();
        builder.setup_cqsize(config.cq_entries);
        if config.defer_taskrun {
            builder.setup_single_issuer().setup_defer_taskrun();
        }
        let ring = builder.build(config.sq_entries).map_err(setup_error)?;

        let mut probe = io_uring::Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(|e| UringError::Unavailable {
                reason: "cannot probe io_uring opcodes (kernel older than 5.6?)".into(),
                source: Some(e),
            })?;
        // SEND_ZC arrived in 6.0 with multishot recvmsg and send-with-address.
        for (code, name) in [
            (opcode::RecvMsg::CODE, "RECVMSG"),
            (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
            (
                opcode::SendZc::CODE,
                "SEND_ZC (kernel 6.0, multishot recvmsg)",
            ),
        ] {
            if !probe.is_supported(code) {
                return Err(UringError::Unavailable {
                    reason: format!("io_uring lacks {name}"),
                    source: None,
                });
            }
        }

        let pool = Pool::new(config.buf_size, config.buf_count)
            .ok_or(UringError::Config("buffer slab too large"))?;
        let mut bufring =
            BufRing::new(config.buf_count).ok_or(UringError::Config("buffer ring too large"))?;
        // SAFETY: the ring memory holds `buf_count` entries, is page aligned,
        // and lives in `bufring`, which `UringSockets` drops after `ring`.
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(bufring.addr(), config.buf_count, BGID, 0)
        }
        .map_err(|e| match e.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => {
                UringError::Unavailable {
                    reason: "no provided-buffer rings (kernel older than 5.19)".into(),
                    source: Some(e),
                }
            }
            _ => UringError::Io {
                op: "register buffer ring",
                source: e,
            },
        })?;
        for bid in 0..config.buf_count {
            bufring.push(&pool, bid);
        }
        bufring.publish();

        // SAFETY: `msghdr` is plain data for which all-zero is valid (null
        // pointers, zero lengths).
        let mut hdr: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        hdr.msg_namelen = NAME_LEN as libc::socklen_t;

        // A sparse file table, one slot per socket slot: as many as the
        // descriptor limit allows (the kernel's bound for the table), at
        // most FIXED_FILES. Without one every socket goes by descriptor.
        let soft = super::open_file_limit().map_or(0, |(soft, _)| soft);
        let want = soft.min(FIXED_FILES as u64) as u32;
        let fixed_slots = match config.fixed_files {
            false => 0,
            true => match ring.submitter().register_files_sparse(want) {
                Ok(()) => want,
                Err(e) => {
                    tracing::debug!(
                        "io_uring: no registered file table ({e}): sockets by descriptor"
                    );
                    0
                }
            },
        };

        let cq = config.cq_entries as usize;
        Ok(UringSockets {
            ring,
            bufring,
            pool,
            send_slots: Vec::new(),
            free_sends: Vec::new(),
            inflight_sends: 0,
            recv_hdr: RecvHdr(hdr),
            socks: Vec::new(),
            free_socks: Vec::new(),
            by_id: HashMap::new(),
            next_gen: 0,
            starved: Vec::new(),
            ready: Vec::with_capacity(cq),
            cqes: Vec::with_capacity(cq),
            stats: UringStats::default(),
            config,
            fixed_slots,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &UringConfig {
        &self.config
    }

    /// Counters since creation.
    pub fn stats(&self) -> UringStats {
        self.stats
    }

    /// Number of sockets in the set.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the set has no socket.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: SocketId) -> bool {
        self.by_id.contains_key(&id)
    }

    /// Receive buffers the kernel can fill right now.
    pub fn buffers_available(&self) -> usize {
        self.bufring.in_ring()
    }

    /// Sends queued or in flight.
    pub fn sends_in_flight(&self) -> usize {
        self.inflight_sends
    }

    /// Adds a bound UDP socket under `id` and arms its receive (it takes
    /// effect on the next `poll` or `flush`). The socket is made non-blocking.
    pub fn add(&mut self, id: SocketId, sock: UdpSocket) -> Result<(), UringError> {
        if self.by_id.contains_key(&id) {
            return Err(UringError::DuplicateId(id));
        }
        sock.set_nonblocking(true)
            .map_err(io_err("set_nonblocking"))?;
        let gen = self.next_gen;
        self.next_gen = (self.next_gen + 1) & GEN_MASK;
        let slot = self.free_socks.pop().unwrap_or(self.socks.len() as u32);
        // a slot past the table, or a refused update: by descriptor
        let fixed = slot < self.fixed_slots
            && self
                .ring
                .submitter()
                .register_files_update(slot, &[sock.as_raw_fd()])
                .is_ok();
        let entry = SockEntry {
            id,
            sock,
            gen,
            state: RecvState::Armed,
            errors_in_row: 0,
            fixed,
            peer: None,
            armed_from: None,
        };
        if slot as usize == self.socks.len() {
            self.socks.push(Some(entry));
        } else {
            self.socks[slot as usize] = Some(entry);
        }
        self.by_id.insert(id, slot);
        self.arm(slot)
    }

    /// Removes `id` from the set and gives its socket back, after its
    /// receive is cancelled (waits up to a second for the kernel to confirm).
    /// Datagrams of this socket not yet handed out by `poll` are dropped
    /// (counted in `dropped_removed`); the returned socket receives whatever
    /// arrives later.
    pub fn remove(&mut self, id: SocketId) -> Result<UdpSocket, UringError> {
        let slot = *self.by_id.get(&id).ok_or(UringError::UnknownSocket(id))?;
        self.by_id.remove(&id);
        let Some(e) = self.socks[slot as usize].as_mut() else {
            return Err(UringError::UnknownSocket(id));
        };
        match e.state {
            RecvState::Armed => {
                e.state = RecvState::Cancelling;
                let target = recv_user_data(slot, e.gen);
                let sqe = opcode::AsyncCancel::new(target)
                    .build()
                    .user_data(KIND_CANCEL << KIND_SHIFT);
                self.push_sqe(&sqe)?;
            }
            RecvState::Cancelling => {}
            RecvState::Starved | RecvState::Failed | RecvState::Done => {
                e.state = RecvState::Done;
            }
        }
        self.starved.retain(|&s| s != slot);
        self.ready.retain(|r| r.socket_id != id);
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.socks[slot as usize].as_ref().map(|e| e.state) == Some(RecvState::Cancelling) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(UringError::Io {
                    op: "cancel receive",
                    source: io::Error::from(io::ErrorKind::TimedOut),
                });
            }
            self.enter(Some(left.min(Duration::from_millis(100))))?;
            self.reap();
        }
        self.ready.retain(|r| r.socket_id != id);
        let e = self.socks[slot as usize]
            .take()
            .ok_or(UringError::UnknownSocket(id))?;
        if e.fixed {
            // the table holds a reference to the socket: without this it
            // would stay open (and its port bound) after the caller drops it.
            // Sends still queued name the slot: submit them first (the kernel
            // resolves the slot at issue), so none lands on the socket that
            // takes the slot next.
            self.ring.submit().map_err(io_err("submit"))?;
            self.ring
                .submitter()
                .register_files_update(slot, &[-1])
                .map_err(io_err("unregister file"))?;
        }
        self.free_socks.push(slot);
        Ok(e.sock)
    }

    /// The handle of socket `id`, for [`UringSockets::send_via`]; valid
    /// until the socket is removed.
    pub fn handle(&self, id: SocketId) -> Option<SocketHandle> {
        let slot = *self.by_id.get(&id)?;
        let e = self.socks[slot as usize].as_ref()?;
        Some(SocketHandle { slot, gen: e.gen })
    }

    /// Queues a datagram to `to` from socket `id`. It reaches the kernel on
    /// the next [`UringSockets::poll`] or [`UringSockets::flush`] (one submit
    /// for the whole batch). The payload is kept alive until the kernel is
    /// done with it; a failed send is counted in `send_errors`.
    pub fn send(
        &mut self,
        id: SocketId,
        to: SocketAddr,
        data: impl Into<SendData>,
    ) -> Result<(), UringError> {
        let handle = self.handle(id).ok_or(UringError::UnknownSocket(id))?;
        self.send_via(handle, to, data)
    }

    /// [`UringSockets::send`] by handle: no lookup of the id (a hash probe
    /// whose cache miss was three quarters of a relayed send's userspace
    /// cost).
    pub fn send_via(
        &mut self,
        handle: SocketHandle,
        to: SocketAddr,
        data: impl Into<SendData>,
    ) -> Result<(), UringError> {
        let slot = handle.slot;
        let (fd, fixed, connected) = match self.socks.get(slot as usize) {
            Some(Some(e)) if e.gen == handle.gen => {
                (e.sock.as_raw_fd(), e.fixed, e.peer == Some(to))
            }
            _ => return Err(UringError::StaleHandle),
        };
        let data = data.into();
        if self.free_sends.is_empty() && self.send_slots.len() >= self.config.max_inflight_sends {
            // Collect finished sends without waiting, then try again.
            self.enter(Some(Duration::ZERO))?;
            self.reap();
            if self.free_sends.is_empty() {
                return Err(UringError::SendQueueFull(self.inflight_sends));
            }
        }
        let sidx = match self.free_sends.pop() {
            Some(s) => {
                let s_ref = &mut self.send_slots[s as usize];
                s_ref.dest = Dest::new(to);
                s_ref.data = Some(data);
                s_ref.await_notif = false;
                s
            }
            None => {
                self.send_slots.push(Box::new(SendSlot {
                    dest: Dest::new(to),
                    data: Some(data),
                    await_notif: false,
                }));
                (self.send_slots.len() - 1) as u32
            }
        };
        let s = &self.send_slots[sidx as usize];
        let payload = s.data.as_ref().map(SendData::as_slice).unwrap_or(&[]);
        let (addr, addr_len) = s.dest.ptr_len();
        let ud = (KIND_SEND << KIND_SHIFT) | sidx as u64;
        let (ptr, len) = (payload.as_ptr(), payload.len() as u32);
        // To the connected peer: no address (the kernel's fast path).
        let (addr, addr_len) = if connected {
            (std::ptr::null(), 0)
        } else {
            (addr, addr_len)
        };
        macro_rules! send_sqe {
            ($target:expr) => {
                if self.config.send_zc {
                    opcode::SendZc::new($target, ptr, len)
                        .dest_addr(addr)
                        .dest_addr_len(addr_len)
                        .build()
                } else {
                    opcode::Send::new($target, ptr, len)
                        .dest_addr(addr)
                        .dest_addr_len(addr_len)
                        .build()
                }
            };
        }
        let sqe = if fixed {
            send_sqe!(types::Fixed(slot))
        } else {
            send_sqe!(types::Fd(fd))
        }
        .user_data(ud);
        self.inflight_sends += 1;
        if let Err(e) = self.push_sqe(&sqe) {
            self.release_send(sidx);
            return Err(e);
        }
        Ok(())
    }

    /// Connects socket `id` to `peer` (sends to it then go without an
    /// address, and the kernel drops datagrams from anyone else), or with
    /// `None` disconnects it (datagrams from anyone again). Sends queued
    /// before a disconnect are submitted first, so that none goes out
    /// addressless from a disconnected socket. Sockets bound to a wildcard
    /// address are left alone: connecting would fix their receive address
    /// to the route's source.
    pub fn pin(&mut self, id: SocketId, peer: Option<SocketAddr>) -> Result<(), UringError> {
        let slot = *self.by_id.get(&id).ok_or(UringError::UnknownSocket(id))?;
        let current = match &self.socks[slot as usize] {
            Some(e) => e.peer,
            None => return Err(UringError::UnknownSocket(id)),
        };
        if current == peer {
            return Ok(());
        }
        if current.is_some() {
            self.ring.submit().map_err(io_err("submit"))?;
        }
        // A plain recv armed for the old peer would take the new one's (or
        // anyone's) datagrams as the old peer's: cancel it before the
        // connection changes (the cancel takes effect as it is submitted;
        // the receive is re-armed, of the kind the new state wants, when
        // its last completion comes).
        if self.armed_plain(slot) {
            self.cancel_recv(slot)?;
            self.ring.submit().map_err(io_err("submit"))?;
        }
        let e = self.socks[slot as usize].as_mut().expect("checked slot");
        e.peer = None;
        match peer {
            Some(to) => {
                if super::pin::connect(&e.sock, to).map_err(io_err("connect"))? {
                    e.peer = Some(to);
                }
            }
            None => super::pin::disconnect(&e.sock).map_err(io_err("disconnect"))?,
        }
        // A recvmsg armed before the connection goes on working, but a
        // plain recv is cheaper (no header, no source address per datagram):
        // switch at its re-arm. Best effort: the socket is pinned either
        // way, and with the queue full the recvmsg simply stays.
        let switch = e.peer.is_some() && e.state == RecvState::Armed && e.armed_from.is_none();
        if switch && self.cancel_recv(slot).is_err() {
            tracing::debug!(socket = id, "plain receive deferred: submission queue full");
        }
        Ok(())
    }

    /// Whether socket `slot` has a plain recv in flight.
    fn armed_plain(&self, slot: u32) -> bool {
        self.socks[slot as usize]
            .as_ref()
            .is_some_and(|e| e.state == RecvState::Armed && e.armed_from.is_some())
    }

    /// Queues the cancel of socket `slot`'s receive; its state stays armed,
    /// so that its last completion re-arms it.
    fn cancel_recv(&mut self, slot: u32) -> Result<(), UringError> {
        let Some(e) = self.socks[slot as usize].as_ref() else {
            return Ok(());
        };
        let sqe = opcode::AsyncCancel::new(recv_user_data(slot, e.gen))
            .build()
            .user_data(KIND_CANCEL << KIND_SHIFT);
        self.push_sqe(&sqe)
    }

    /// Submits queued sends and re-arms now, without waiting.
    pub fn flush(&mut self) -> Result<(), UringError> {
        self.recycle();
        self.enter(Some(Duration::ZERO))
    }

    /// Submits what is queued, waits up to `timeout` (`None`: until something
    /// completes; `Some(ZERO)`: not at all) for completions, and returns every
    /// datagram that completed, across all sockets, in completion order.
    ///
    /// One `io_uring_enter` per call when nothing is ready yet; none is
    /// needed when completions are already waiting and nothing is queued.
    pub fn poll(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<std::vec::Drain<'_, Received>, UringError> {
        self.recycle();
        let cq_ready = !self.ring.completion().is_empty();
        if self.ready.is_empty() && !cq_ready {
            self.enter(timeout)?;
        } else if !self.ring.submission().is_empty() {
            self.enter(Some(Duration::ZERO))?;
        }
        self.reap();
        Ok(self.ready.drain(..))
    }

    /// Re-publishes buffers given back by dropped [`RecvBuf`]s and re-arms
    /// sockets starved by `ENOBUFS` once enough are back.
    fn recycle(&mut self) {
        let (pool, bufring) = (&self.pool, &mut self.bufring);
        let before = bufring.in_ring();
        pool.take_returned(|bid| bufring.push(pool, bid));
        if bufring.in_ring() != before {
            bufring.publish();
        }
        let threshold = (self.pool.count() as usize / 16).max(1);
        if !self.starved.is_empty() && self.bufring.in_ring() >= threshold {
            let mut starved = std::mem::take(&mut self.starved);
            for slot in starved.drain(..) {
                let Some(e) = self.socks[slot as usize].as_mut() else {
                    continue;
                };
                if e.state != RecvState::Starved {
                    continue;
                }
                e.state = RecvState::Armed;
                self.stats.rearms += 1;
                // A full SQ leaves it starved, retried by the next recycle.
                if self.arm(slot).is_err() {
                    if let Some(e) = self.socks[slot as usize].as_mut() {
                        e.state = RecvState::Starved;
                    }
                    self.starved.push(slot);
                }
            }
            if self.starved.is_empty() {
                self.starved = starved; // keep the allocation
            }
        }
    }

    /// One `io_uring_enter`: submit everything queued, wait for at least one
    /// completion unless `timeout` is zero.
    fn enter(&mut self, timeout: Option<Duration>) -> Result<(), UringError> {
        let submitter = self.ring.submitter();
        let r = match timeout {
            // With DEFER_TASKRUN, completions that arrived meanwhile are
            // only posted by an enter that asks for events, and each enter
            // runs at most max(20, wanted) of them: ask for a whole CQ's
            // worth with a zero timeout (ETIME when fewer), so that one
            // enter takes everything that queued while the caller slept.
            Some(d) if d.is_zero() && self.config.defer_taskrun => {
                let ts = types::Timespec::new();
                let args = types::SubmitArgs::new().timespec(&ts);
                submitter.submit_with_args(self.config.cq_entries as usize, &args)
            }
            Some(d) if d.is_zero() => submitter.submit(),
            None => submitter.submit_and_wait(1),
            Some(d) => {
                let ts = types::Timespec::from(d);
                let args = types::SubmitArgs::new().timespec(&ts);
                submitter.submit_with_args(1, &args)
            }
        };
        match r {
            Ok(_) => Ok(()),
            Err(e) => match e.raw_os_error() {
                // Timed out, interrupted, or the CQ must be drained first.
                Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN) => {
                    Ok(())
                }
                _ => Err(UringError::Io {
                    op: "enter",
                    source: e,
                }),
            },
        }
    }

    /// Pushes one SQE, submitting first when the queue is full.
    fn push_sqe(&mut self, sqe: &squeue::Entry) -> Result<(), UringError> {
        for _ in 0..2 {
            // SAFETY: every pointer in our SQEs (send payload and address,
            // the receive header) lives in memory we keep until the
            // operation's final completion (send slots, `recv_hdr`).
            if unsafe { self.ring.submission().push(sqe) }.is_ok() {
                return Ok(());
            }
            self.ring.submit().map_err(io_err("submit"))?;
        }
        Err(UringError::Io {
            op: "submission queue full",
            source: io::Error::from(io::ErrorKind::WouldBlock),
        })
    }

    /// Queues the multishot receive of socket `slot`: a plain recv when the
    /// socket is connected (its datagrams are all its peer's), else a
    /// recvmsg that reports each datagram's source.
    fn arm(&mut self, slot: u32) -> Result<(), UringError> {
        let Some(e) = self.socks[slot as usize].as_mut() else {
            return Ok(());
        };
        let fd = e.sock.as_raw_fd();
        // one byte more than a recvmsg's payload room: a datagram that
        // fills it is too long for either kind
        let plain_len = payload_room(&self.config) as u32 + 1;
        let sqe = match (e.peer, e.fixed) {
            (Some(_), true) => opcode::RecvMulti::new(types::Fixed(slot), BGID)
                .len(plain_len)
                .build(),
            (Some(_), false) => opcode::RecvMulti::new(types::Fd(fd), BGID)
                .len(plain_len)
                .build(),
            (None, true) => {
                opcode::RecvMsgMulti::new(types::Fixed(slot), &*self.recv_hdr.0, BGID).build()
            }
            (None, false) => {
                opcode::RecvMsgMulti::new(types::Fd(fd), &*self.recv_hdr.0, BGID).build()
            }
        }
        .user_data(recv_user_data(slot, e.gen));
        e.armed_from = e.peer;
        self.push_sqe(&sqe)
    }

    fn release_send(&mut self, sidx: u32) {
        let s = &mut self.send_slots[sidx as usize];
        s.data = None;
        s.await_notif = false;
        self.free_sends.push(sidx);
        self.inflight_sends -= 1;
    }

    /// Takes every completion off the CQ and dispatches it.
    fn reap(&mut self) {
        loop {
            self.cqes.clear();
            self.cqes.extend(
                self.ring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            if self.cqes.is_empty() {
                return;
            }
            let cqes = std::mem::take(&mut self.cqes);
            for &(ud, res, flags) in &cqes {
                match ud >> KIND_SHIFT {
                    KIND_RECV => self.on_recv(ud, res, flags),
                    KIND_SEND => self.on_send(ud, res, flags),
                    _ => {} // cancel results: the target's completion tells all
                }
            }
            self.cqes = cqes;
        }
    }

    fn on_send(&mut self, ud: u64, res: i32, flags: u32) {
        let sidx = (ud & 0xffff_ffff) as u32;
        if sidx as usize >= self.send_slots.len() {
            return;
        }
        if flags & CQE_F_NOTIF != 0 {
            if res as u32 & NOTIF_USAGE_ZC_COPIED != 0 {
                self.stats.zc_copied += 1;
            }
            self.release_send(sidx);
            return;
        }
        if res < 0 && super::is_peer_unreachable(-res) {
            self.stats.send_unreachable += 1;
        } else if res < 0 {
            self.stats.send_errors += 1;
        } else {
            self.stats.sent += 1;
            self.stats.sent_bytes += res as u64;
        }
        if cqueue::more(flags) {
            // Send-zc: the payload stays pinned until the notification.
            self.send_slots[sidx as usize].await_notif = true;
        } else {
            self.release_send(sidx);
        }
    }

    fn on_recv(&mut self, ud: u64, res: i32, flags: u32) {
        let slot = (ud & 0xffff_ffff) as u32;
        let gen = ((ud >> 32) as u32) & GEN_MASK;
        let bid = cqueue::buffer_select(flags);
        if bid.is_some() {
            self.bufring.consumed();
        }
        let more = cqueue::more(flags);
        let entry = self.socks.get_mut(slot as usize).and_then(|e| e.as_mut());
        let Some(e) = entry.filter(|e| e.gen == gen) else {
            // Not ours any more (cannot happen while slots are freed only
            // after the final completion): just recycle the buffer.
            if let Some(bid) = bid {
                self.bufring.push(&self.pool, bid);
                self.bufring.publish();
            }
            return;
        };
        let (id, state, armed_from) = (e.id, e.state, e.armed_from);
        if res >= 0 {
            e.errors_in_row = 0;
        }
        match (bid, res) {
            (Some(bid), n) if n >= 0 => {
                if state == RecvState::Cancelling {
                    self.stats.dropped_removed += 1;
                    self.bufring.push(&self.pool, bid);
                    self.bufring.publish();
                } else {
                    self.deliver(id, armed_from, bid, n as usize);
                }
            }
            (Some(bid), _) => {
                self.bufring.push(&self.pool, bid);
                self.bufring.publish();
            }
            (None, n) if n == -libc::ENOBUFS => self.stats.enobufs += 1,
            (None, n) if n == -libc::ECANCELED => {}
            // the peer's port closed (or its host unreachable): the socket
            // is fine, and the peer may come back; re-armed below whatever
            // the count of such errors
            (None, n) if n < 0 && super::is_peer_unreachable(-n) => {
                self.stats.peer_unreachable += 1;
            }
            (None, n) if n < 0 => {
                self.stats.recv_errors += 1;
                if let Some(e) = self.socks[slot as usize].as_mut() {
                    e.errors_in_row += 1;
                }
            }
            (None, _) => {}
        }
        if more {
            return;
        }
        // The multishot ended: re-arm, park, or finish a removal.
        let Some(e) = self.socks[slot as usize].as_mut() else {
            return;
        };
        match e.state {
            RecvState::Cancelling => e.state = RecvState::Done,
            _ if res == -libc::ENOBUFS => {
                e.state = RecvState::Starved;
                self.starved.push(slot);
            }
            _ if e.errors_in_row >= MAX_CONSECUTIVE_RECV_ERRORS => {
                e.state = RecvState::Failed;
                tracing::warn!(
                    socket = e.id,
                    error = %std::io::Error::from_raw_os_error(-res),
                    "receive failed {MAX_CONSECUTIVE_RECV_ERRORS} times in a row: the socket hears nothing more"
                );
            }
            _ => {
                self.stats.rearms += 1;
                if self.arm(slot).is_err() {
                    if let Some(e) = self.socks[slot as usize].as_mut() {
                        e.state = RecvState::Starved;
                    }
                    self.starved.push(slot);
                }
            }
        }
    }

    /// Queues the datagram in buffer `bid` (`n` bytes written) for `poll`:
    /// for a plain recv armed while connected to `plain_from`, the payload
    /// from the buffer's start; for a recvmsg, parsed from its
    /// `io_uring_recvmsg_out` layout with its source. A datagram too long
    /// for the buffer is a counted drop.
    fn deliver(&mut self, id: SocketId, plain_from: Option<SocketAddr>, bid: u16, n: usize) {
        let parsed = match plain_from {
            Some(from) => (n <= payload_room(&self.config)).then_some((from, 0, n)),
            None => {
                // SAFETY: the completion just handed buffer `bid` to us.
                let buf = unsafe { self.pool.buffer(bid) };
                let buf = &buf[..n.min(buf.len())];
                types::RecvMsgOut::parse(buf, &self.recv_hdr.0)
                    .ok()
                    .filter(|m| !m.is_payload_truncated())
                    .and_then(|m| {
                        let from = parse_sockaddr(m.name_data())?;
                        let start = m.payload_data().as_ptr() as usize - buf.as_ptr() as usize;
                        Some((from, start, m.payload_data().len()))
                    })
            }
        };
        match parsed {
            Some((from, start, len)) => {
                self.stats.received += 1;
                self.stats.received_connected += plain_from.is_some() as u64;
                self.stats.received_bytes += len as u64;
                // SAFETY: ownership of `bid` moves into the guard; `start +
                // len <= n <= buf_size` by construction of the parse, or
                // `len <= payload_room < buf_size` for a plain recv.
                let data = unsafe { RecvBuf::new(self.pool.clone(), bid, start, len) };
                self.ready.push(Received {
                    socket_id: id,
                    from,
                    data,
                });
            }
            None => {
                self.stats.truncated += 1;
                self.bufring.push(&self.pool, bid);
                self.bufring.publish();
            }
        }
    }

    /// Cancels every receive and waits (bounded) until the kernel has
    /// finished with receive buffers and send payloads.
    fn quiesce(&mut self) -> bool {
        for slot in 0..self.socks.len() as u32 {
            if let Some(e) = self.socks[slot as usize].as_mut() {
                if e.state == RecvState::Armed {
                    e.state = RecvState::Cancelling;
                    let sqe = opcode::AsyncCancel::new(recv_user_data(slot, e.gen))
                        .build()
                        .user_data(KIND_CANCEL << KIND_SHIFT);
                    if self.push_sqe(&sqe).is_err() {
                        return false;
                    }
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let busy = self.inflight_sends > 0
                || self
                    .socks
                    .iter()
                    .flatten()
                    .any(|e| e.state == RecvState::Cancelling);
            if !busy {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero()
                || self
                    .enter(Some(left.min(Duration::from_millis(50))))
                    .is_err()
            {
                return false;
            }
            self.reap();
        }
    }
}

impl Drop for UringSockets {
    fn drop(&mut self) {
        self.ready.clear();
        if !self.quiesce() {
            // The kernel may still touch this memory: leak it rather than
            // risk a write into freed memory.
            self.bufring.leak = true;
            std::mem::forget(self.pool.clone());
            std::mem::forget(std::mem::take(&mut self.send_slots));
        }
    }
}

/// Most slots of a ring's registered file table.
const FIXED_FILES: u32 = 65536;

/// The most payload a recvmsg completion holds in a buffer of `config`
/// (the buffer less its header and source address); plain recvs accept
/// the same.
fn payload_room(config: &UringConfig) -> usize {
    config.buf_size - RECVMSG_OUT_LEN - NAME_LEN
}

fn recv_user_data(slot: u32, gen: u32) -> u64 {
    (KIND_RECV << KIND_SHIFT) | (((gen & GEN_MASK) as u64) << 32) | slot as u64
}

/// Reads a `sockaddr_in`/`sockaddr_in6` from the bytes the kernel wrote.
fn parse_sockaddr(name: &[u8]) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes(name.get(0..2)?.try_into().ok()?) as i32;
    let port = u16::from_be_bytes(name.get(2..4)?.try_into().ok()?);
    match family {
        libc::AF_INET => {
            let ip: [u8; 4] = name.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        libc::AF_INET6 => {
            let flow = u32::from_ne_bytes(name.get(4..8)?.try_into().ok()?);
            let ip: [u8; 16] = name.get(8..24)?.try_into().ok()?;
            let scope = u32::from_ne_bytes(name.get(24..28)?.try_into().ok()?);
            Some(super::ipv6_peer(Ipv6Addr::from(ip), port, flow, scope))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uring_setup_errors_that_mean_fall_back_are_unavailable() {
        for errno in [libc::ENOSYS, libc::EPERM, libc::EACCES, libc::ENOMEM] {
            let e = setup_error(io::Error::from_raw_os_error(errno));
            assert!(matches!(e, UringError::Unavailable { .. }), "{errno}: {e}");
        }
        let e = setup_error(io::Error::from_raw_os_error(libc::EFAULT));
        assert!(matches!(e, UringError::Io { .. }));
    }

    #[test]
    fn uring_sockaddr_parse() {
        let d = Dest::new("127.0.0.1:5004".parse().unwrap());
        let Dest::V4(a) = d else { panic!() };
        // SAFETY: `sockaddr_in` is plain data; viewing its bytes is sound.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&a as *const libc::sockaddr_in).cast::<u8>(),
                std::mem::size_of::<libc::sockaddr_in>(),
            )
        };
        assert_eq!(
            parse_sockaddr(bytes),
            Some("127.0.0.1:5004".parse().unwrap())
        );
        let v6: SocketAddr = "[::1]:6000".parse().unwrap();
        let Dest::V6(a) = Dest::new(v6) else { panic!() };
        // SAFETY: as above.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&a as *const libc::sockaddr_in6).cast::<u8>(),
                std::mem::size_of::<libc::sockaddr_in6>(),
            )
        };
        assert_eq!(parse_sockaddr(bytes), Some(v6));
        // an IPv4 peer of a dual-stack socket is known by its IPv4 address
        let mapped: SocketAddr = "[::ffff:192.0.2.7]:6002".parse().unwrap();
        let Dest::V6(a) = Dest::new(mapped) else {
            panic!()
        };
        // SAFETY: as above.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&a as *const libc::sockaddr_in6).cast::<u8>(),
                std::mem::size_of::<libc::sockaddr_in6>(),
            )
        };
        assert_eq!(
            parse_sockaddr(bytes),
            Some("192.0.2.7:6002".parse().unwrap())
        );
        assert_eq!(parse_sockaddr(&[0; 3]), None);
    }

    #[test]
    fn uring_config_is_checked() {
        let c = UringConfig {
            buf_count: 100,
            ..UringConfig::default()
        };
        assert!(matches!(UringSockets::new(c), Err(UringError::Config(_))));
    }
}
