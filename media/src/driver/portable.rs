//! The portable driver: one thread per shard, epoll over the shard's UDP
//! sockets and an eventfd for control requests, `recvmmsg` into pooled
//! buffers, `sendmmsg` batched per source socket.
//!
//! One wakeup of a worker:
//!
//! 1. `epoll_wait` with the core's next deadline as the timeout, or, while
//!    [pacing](super::pace), a short sleep and then `epoll_wait` without a
//!    timeout;
//! 2. for each ready socket, one `recvmmsg` of one datagram, straight into
//!    a pooled [`BytesMut`] that is handed to the core and comes back as the
//!    [`Transmit`] to send: no copy, no allocation once the pool is warm.
//!    The epoll set is level-triggered, so a socket with more queued is
//!    reported again by the next `epoll_wait(0)` of the same wakeup (up to
//!    [`MAX_ROUNDS`]), and those later rounds read up to
//!    [`DriverConfig::batch`] per `recvmmsg` (a backlog). Reading until
//!    "would block" from the start costs a failed receive per datagram, as
//!    each socket holds one at RTP rates;
//! 3. the eventfd: drain the request channel and run each request;
//! 4. the core's timeout if it is due;
//! 5. sort the pending transmits by source socket and send each run with
//!    one `sendmmsg`; the buffers go back to the pool.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::pace::Pacer;
use super::{outputs, Driver, DriverConfig, DriverCounters, DriverError, Request};
use crate::relay::{CallId, Input, LegId, LegStats, LocalPort, RelayCore, Transmit};

/// The epoll token of the eventfd (socket tokens are port numbers).
const WAKE_TOKEN: u64 = u64::MAX;
/// Most `epoll_wait` rounds per wakeup (each reads one datagram per ready
/// socket; later rounds see the sockets that still hold some).
pub const MAX_ROUNDS: usize = 16;
/// Most spare buffers kept.
const POOL_MAX: usize = 8192;
/// Ready events taken per `epoll_wait`.
const MAX_EVENTS: usize = 256;

enum Msg {
    Req(Request),
    Stop,
}

struct Shard {
    tx: mpsc::Sender<Msg>,
    wake: Arc<OwnedFd>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The portable [`Driver`]: see the [module documentation](self).
pub struct PortableDriver {
    shards: Vec<Shard>,
}

impl std::fmt::Debug for PortableDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortableDriver")
            .field("shards", &self.shards.len())
            .finish()
    }
}

fn last_os_error(what: &str) -> DriverError {
    DriverError::Io {
        what: what.to_string(),
        source: std::io::Error::last_os_error(),
    }
}

fn wake(fd: &OwnedFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64 to an eventfd we own; a failed
    // write (counter saturated) still leaves the worker woken.
    unsafe {
        libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8);
    }
}

impl PortableDriver {
    /// Starts `config.threads` workers (at least one).
    pub fn start(config: DriverConfig) -> Result<Self, DriverError> {
        let n = config.threads.max(1);
        let start = Instant::now();
        let mut shards = Vec::with_capacity(n);
        for id in 0..n {
            // SAFETY: plain system calls; the results are checked and owned
            // at once.
            let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            if epfd < 0 {
                return Err(last_os_error("epoll_create1"));
            }
            // SAFETY: `epfd` is a fresh descriptor nobody else owns.
            let epfd = unsafe { OwnedFd::from_raw_fd(epfd) };
            // SAFETY: as above.
            let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
            if efd < 0 {
                return Err(last_os_error("eventfd"));
            }
            // SAFETY: `efd` is a fresh descriptor nobody else owns.
            let wake_fd = Arc::new(unsafe { OwnedFd::from_raw_fd(efd) });
            epoll_add(&epfd, efd, WAKE_TOKEN).map_err(|e| DriverError::Io {
                what: "epoll_ctl(eventfd)".into(),
                source: e,
            })?;
            let (tx, rx) = mpsc::channel();
            let (cfg, wake) = (config.clone(), wake_fd.clone());
            // The worker is built on its own thread: its syscall arrays hold
            // raw pointers and never leave it.
            let thread = std::thread::Builder::new()
                .name(format!("ringwire-shard-{id}"))
                .spawn(move || Worker::new(id, &cfg, start, epfd, wake, rx).run())
                .map_err(|e| DriverError::Io {
                    what: "spawn worker".into(),
                    source: e,
                })?;
            shards.push(Shard {
                tx,
                wake: wake_fd,
                thread: Mutex::new(Some(thread)),
            });
        }
        Ok(PortableDriver { shards })
    }
}

impl Driver for PortableDriver {
    fn name(&self) -> &'static str {
        "portable"
    }

    fn shards(&self) -> usize {
        self.shards.len()
    }

    fn submit(&self, shard: usize, request: Request) -> Result<(), DriverError> {
        let s = self
            .shards
            .get(shard)
            .ok_or(DriverError::ShardGone(shard))?;
        s.tx.send(Msg::Req(request))
            .map_err(|_| DriverError::ShardGone(shard))?;
        wake(&s.wake);
        Ok(())
    }

    fn shutdown(&self) {
        for s in &self.shards {
            let _ = s.tx.send(Msg::Stop);
            wake(&s.wake);
        }
        for s in &self.shards {
            let handle = s.thread.lock().map(|mut t| t.take()).unwrap_or(None);
            if let Some(h) = handle {
                if h.join().is_err() {
                    tracing::error!("a shard worker panicked");
                }
            }
        }
    }
}

impl Drop for PortableDriver {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn epoll_add(epfd: &OwnedFd, fd: RawFd, token: u64) -> std::io::Result<()> {
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: token,
    };
    // SAFETY: `ev` is a live epoll_event; both descriptors are open.
    let r = unsafe { libc::epoll_ctl(epfd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn epoll_del(epfd: &OwnedFd, fd: RawFd) {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: as in `epoll_add`; a failure (not registered) changes nothing.
    unsafe {
        libc::epoll_ctl(epfd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev);
    }
}

/// Writes `addr` into `storage`; returns the length to pass the kernel.
fn write_sockaddr(addr: &SocketAddr, storage: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for
            // sockaddr_in (that is its purpose).
            unsafe { std::ptr::write((storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo().to_be(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write((storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// Reads the source address the kernel wrote into `storage`.
fn read_sockaddr(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match storage.ss_family as libc::c_int {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, and
            // sockaddr_storage is aligned for it.
            let sin =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            Some(super::ipv6_peer(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                u32::from_be(sin6.sin6_flowinfo),
                sin6.sin6_scope_id,
            ))
        }
        _ => None,
    }
}

/// The arrays `recvmmsg`/`sendmmsg` work on, allocated once per worker.
struct MsgArrays {
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_storage>,
}

impl MsgArrays {
    fn new(n: usize) -> Self {
        // SAFETY: mmsghdr, iovec and sockaddr_storage are plain C structs
        // for which all-zero bytes are valid (null pointers, zero lengths).
        let zero_hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let zero_iov: libc::iovec = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let zero_addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        MsgArrays {
            hdrs: vec![zero_hdr; n],
            iovs: vec![zero_iov; n],
            addrs: vec![zero_addr; n],
        }
    }

    /// Points header `i` at iovec `i` and address `i` (no address when
    /// `namelen` is 0: a send to a connected socket's peer).
    fn link(&mut self, i: usize, namelen: libc::socklen_t) {
        let h = &mut self.hdrs[i];
        h.msg_len = 0;
        h.msg_hdr.msg_name = if namelen == 0 {
            std::ptr::null_mut()
        } else {
            (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast()
        };
        h.msg_hdr.msg_namelen = namelen;
        h.msg_hdr.msg_iov = &mut self.iovs[i];
        h.msg_hdr.msg_iovlen = 1;
        h.msg_hdr.msg_control = std::ptr::null_mut();
        h.msg_hdr.msg_controllen = 0;
        h.msg_hdr.msg_flags = 0;
    }
}

struct Worker {
    id: usize,
    core: RelayCore,
    epfd: OwnedFd,
    wake: Arc<OwnedFd>,
    rx: mpsc::Receiver<Msg>,
    start: Instant,
    /// Local port -> socket descriptor (-1: none); the packet path's table.
    fds: Vec<RawFd>,
    /// The sockets themselves (control path only).
    sockets: HashMap<u16, UdpSocket>,
    /// The remote each port's socket is connected to ([`super::pin`]),
    /// indexed by port as `fds` is: read for every send.
    pinned: Vec<Option<SocketAddr>>,
    call_ports: HashMap<CallId, Vec<LocalPort>>,
    call_legs: HashMap<CallId, Vec<LegId>>,
    counters: DriverCounters,
    /// Events, closed legs' statistics and the next timer.
    out: outputs::CoreOutputs,
    batch: usize,
    buffer_size: usize,
    pool: Vec<BytesMut>,
    recv: MsgArrays,
    recv_bufs: Vec<BytesMut>,
    send: MsgArrays,
    pending: Vec<Transmit>,
    ready: Vec<libc::epoll_event>,
    pacer: Pacer,
    /// Datagrams handled in the current wakeup.
    handled: usize,
}

impl Worker {
    fn new(
        id: usize,
        config: &DriverConfig,
        start: Instant,
        epfd: OwnedFd,
        wake: Arc<OwnedFd>,
        rx: mpsc::Receiver<Msg>,
    ) -> Self {
        let batch = config.batch.clamp(1, 1024);
        let pending_cap = config.relay.queue_capacity.max(batch * 4);
        Worker {
            id,
            core: RelayCore::new(config.relay),
            epfd,
            wake,
            rx,
            start,
            fds: vec![-1; 1 << 16],
            sockets: HashMap::new(),
            pinned: vec![None; 1 << 16],
            call_ports: HashMap::new(),
            call_legs: HashMap::new(),
            counters: DriverCounters::default(),
            out: outputs::CoreOutputs::new(config.events.clone()),
            batch,
            buffer_size: config.buffer_size.max(64),
            pool: Vec::with_capacity(POOL_MAX),
            recv: MsgArrays::new(batch),
            recv_bufs: (0..batch).map(|_| BytesMut::new()).collect(),
            send: MsgArrays::new(batch),
            pending: Vec::with_capacity(pending_cap),
            ready: vec![libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS],
            pacer: Pacer::new(config.pace, config.pace_min_batch),
            handled: 0,
        }
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn run(mut self) {
        tracing::debug!(shard = self.id, "worker started");
        super::pace::set_timer_slack(self.pacer.window());
        let mut sleep: Option<Duration> = None;
        loop {
            let timeout_ms = if let Some(d) = sleep.take() {
                // Pacing: arrivals queue meanwhile, and wake nobody.
                std::thread::sleep(d);
                0
            } else {
                match self.out.wake_at {
                    None => -1,
                    Some(at) => {
                        let left = at.saturating_sub(self.now());
                        // Round up so the deadline has passed when we wake.
                        left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
                    }
                }
            };
            let Some(n) = self.wait(timeout_ms) else {
                return;
            };
            self.counters.wakeups += 1;
            let started = self.now();
            self.handled = 0;
            let mut stop = false;
            let mut n = n;
            for round in 0..MAX_ROUNDS {
                for k in 0..n {
                    let token = self.ready[k].u64;
                    if token == WAKE_TOKEN {
                        stop |= self.on_wake(started);
                    } else {
                        // First round: a socket holds one datagram at RTP
                        // rates, and a second receive would fail. Later
                        // rounds: it held more, so it is backlogged.
                        let max = if round == 0 { 1 } else { self.batch };
                        self.drain_socket(token as u16, started, max);
                    }
                }
                // Sockets that still hold datagrams (level-triggered).
                if n == 0 || round + 1 == MAX_ROUNDS {
                    break;
                }
                match self.wait(0) {
                    Some(m) => n = m,
                    None => return,
                }
            }
            if self.out.wake_at.is_some_and(|at| at <= started) {
                self.out.wake_at = None;
                let _ = self.core.handle_input(started, Input::Timeout);
                self.drain_outputs();
            }
            self.flush();
            if stop {
                tracing::debug!(shard = self.id, "worker stopped");
                return;
            }
            let end = self.now();
            self.counters.loop_times.record(end.saturating_sub(started));
            sleep = self
                .pacer
                .after_wakeup(started, end, self.handled)
                .map(|d| match self.out.wake_at {
                    Some(at) => d.min(at.saturating_sub(end)),
                    None => d,
                })
                .filter(|d| !d.is_zero());
        }
    }

    /// One `epoll_wait` into `ready`; `None` on a fatal error (logged).
    fn wait(&mut self, timeout_ms: i32) -> Option<usize> {
        loop {
            // SAFETY: `ready` is a live buffer of MAX_EVENTS epoll_events.
            let n = unsafe {
                libc::epoll_wait(
                    self.epfd.as_raw_fd(),
                    self.ready.as_mut_ptr(),
                    MAX_EVENTS as i32,
                    timeout_ms,
                )
            };
            if n >= 0 {
                return Some(n as usize);
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                tracing::error!(shard = self.id, "epoll_wait: {e}");
                return None;
            }
        }
    }

    /// Reads the eventfd and runs every queued request; true on `Stop`.
    fn on_wake(&mut self, now: Duration) -> bool {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our eventfd.
        unsafe {
            libc::read(self.wake.as_raw_fd(), (&mut v as *mut u64).cast(), 8);
        }
        loop {
            match self.rx.try_recv() {
                Ok(Msg::Req(r)) => self.on_request(now, r),
                Ok(Msg::Stop) | Err(mpsc::TryRecvError::Disconnected) => return true,
                Err(mpsc::TryRecvError::Empty) => return false,
            }
        }
    }

    fn on_request(&mut self, now: Duration, request: Request) {
        super::shard::handle_request(self, now, request);
    }

    fn register(&mut self, call: CallId, port: LocalPort, socket: UdpSocket) {
        let fd = socket.as_raw_fd();
        if let Err(e) = epoll_add(&self.epfd, fd, port.0 as u64) {
            tracing::error!(shard = self.id, port = port.0, "epoll_ctl: {e}");
            self.counters.recv_errors += 1;
            return;
        }
        if let Some(old) = self.sockets.insert(port.0, socket) {
            epoll_del(&self.epfd, old.as_raw_fd());
        }
        self.pinned[port.0 as usize] = None;
        self.fds[port.0 as usize] = fd;
        self.call_ports.entry(call).or_default().push(port);
    }

    fn unregister(&mut self, port: LocalPort) {
        if let Some(s) = self.sockets.remove(&port.0) {
            epoll_del(&self.epfd, s.as_raw_fd());
        }
        self.pinned[port.0 as usize] = None;
        self.fds[port.0 as usize] = -1;
    }

    fn drain_outputs(&mut self) {
        while self.out.drain(
            self.id,
            &mut self.core,
            &mut self.pending,
            &mut self.counters,
        ) {
            self.apply_pins();
            self.flush();
        }
        self.apply_pins();
    }

    /// Connects or disconnects sockets as the core asked (sends are
    /// addressed at flush time, from what is pinned then). A failure
    /// leaves the socket unpinned: its sends name their destination.
    fn apply_pins(&mut self) {
        for i in 0..self.out.pins.len() {
            let p = self.out.pins[i];
            let Some(sock) = self.sockets.get(&p.port.0) else {
                continue;
            };
            let pinned = match p.remote {
                Some(to) => super::pin::connect(sock, to).map(|on| on.then_some(to)),
                None => super::pin::disconnect(sock).map(|()| None),
            };
            self.pinned[p.port.0 as usize] = pinned.unwrap_or_else(|e| {
                tracing::warn!(shard = self.id, port = p.port.0, "pin {:?}: {e}", p.remote);
                None
            });
        }
        self.out.pins.clear();
    }

    /// Reads up to `max` datagrams from `port`'s socket with one `recvmmsg`
    /// and feeds them to the core (the caller's next `epoll_wait` reports
    /// the socket again if it holds more).
    fn drain_socket(&mut self, port: u16, now: Duration, max: usize) {
        let fd = self.fds[port as usize];
        if fd < 0 {
            return;
        }
        let max = max.clamp(1, self.batch);
        for i in 0..max {
            if self.recv_bufs[i].capacity() < self.buffer_size {
                self.recv_bufs[i] = self
                    .pool
                    .pop()
                    .unwrap_or_else(|| BytesMut::with_capacity(self.buffer_size));
            }
            let b = &mut self.recv_bufs[i];
            b.clear();
            let spare = b.spare_capacity_mut();
            self.recv.iovs[i] = libc::iovec {
                iov_base: spare.as_mut_ptr().cast(),
                iov_len: spare.len(),
            };
            self.recv.link(
                i,
                std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
            );
        }
        // SAFETY: headers `0..max` point at live iovecs over the spare
        // capacity of buffers we own and at live sockaddr_storages; none of
        // them moves until the call returns.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.recv.hdrs.as_mut_ptr(),
                max as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error().is_some_and(super::is_peer_unreachable) {
                // news of the peer (reading it cleared it): the socket is
                // fine, and epoll reports it again if datagrams wait
                self.counters.peer_unreachable += 1;
            } else if !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
            ) {
                self.counters.recv_errors += 1;
            }
            return;
        }
        for i in 0..n as usize {
            self.counters.received += 1;
            self.handled += 1;
            let h = &self.recv.hdrs[i];
            let (len, flags, namelen) = (
                h.msg_len as usize,
                h.msg_hdr.msg_flags,
                h.msg_hdr.msg_namelen,
            );
            if flags & libc::MSG_TRUNC != 0 {
                self.counters.truncated += 1;
                continue;
            }
            let Some(from) = read_sockaddr(&self.recv.addrs[i], namelen) else {
                self.counters.bad_source += 1;
                continue;
            };
            let mut data = std::mem::take(&mut self.recv_bufs[i]);
            // SAFETY: the kernel wrote `len` bytes (no more than the spare
            // capacity it was given) at the start of the spare capacity of
            // this buffer, which was empty.
            unsafe { data.set_len(len.min(data.capacity())) };
            let input = Input::Datagram {
                local: LocalPort(port),
                from,
                data,
            };
            let _ = self.core.handle_input(now, input);
            self.drain_outputs();
        }
    }

    /// Sends the pending transmits, one `sendmmsg` per run of the same
    /// source socket, and returns their buffers to the pool.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.pending.sort_unstable_by_key(|t| t.from);
        let mut i = 0;
        while i < self.pending.len() {
            let port = self.pending[i].from;
            let mut j = i;
            while j < self.pending.len() && self.pending[j].from == port && j - i < self.batch {
                j += 1;
            }
            let fd = self.fds[port.0 as usize];
            if fd < 0 {
                self.counters.send_errors += (j - i) as u64;
                i = j;
                continue;
            }
            let peer = self.pinned[port.0 as usize];
            for (k, t) in self.pending[i..j].iter().enumerate() {
                let namelen = if peer == Some(t.to) {
                    0
                } else {
                    write_sockaddr(&t.to, &mut self.send.addrs[k])
                };
                self.send.iovs[k] = libc::iovec {
                    iov_base: t.data.as_ptr() as *mut libc::c_void,
                    iov_len: t.data.len(),
                };
                self.send.link(k, namelen);
            }
            let count = j - i;
            let mut off = 0;
            while off < count {
                // SAFETY: headers `off..count` point at live iovecs over
                // the pending buffers and at live addresses; the kernel
                // only reads them.
                let r = unsafe {
                    libc::sendmmsg(
                        fd,
                        self.send.hdrs.as_mut_ptr().add(off),
                        (count - off) as libc::c_uint,
                        libc::MSG_DONTWAIT,
                    )
                };
                if r > 0 {
                    self.counters.sent += r as u64;
                    off += r as usize;
                    continue;
                }
                let e = std::io::Error::last_os_error();
                match e.kind() {
                    std::io::ErrorKind::Interrupted => continue,
                    std::io::ErrorKind::WouldBlock => {
                        // Socket buffer full: the rest of this run is lost.
                        self.counters.send_errors += (count - off) as u64;
                        break;
                    }
                    _ if e.raw_os_error().is_some_and(super::is_peer_unreachable) => {
                        // An ICMP error came back for an earlier datagram
                        // (the peer's port closed): this one is lost.
                        self.counters.send_unreachable += 1;
                        off += 1;
                    }
                    _ => {
                        // This datagram is refused (e.g. no route): skip it.
                        self.counters.send_errors += 1;
                        off += 1;
                    }
                }
            }
            i = j;
        }
        for t in self.pending.drain(..) {
            let mut d = t.data;
            if self.pool.len() < POOL_MAX && d.capacity() >= self.buffer_size {
                d.clear();
                self.pool.push(d);
            }
        }
    }
}

impl super::shard::ShardWorker for Worker {
    type Buf = bytes::BytesMut;

    fn parts(&mut self) -> (&mut RelayCore, &mut HashMap<CallId, Vec<LegId>>, &LegStats) {
        (&mut self.core, &mut self.call_legs, &self.out.closed)
    }

    fn register(&mut self, call: CallId, port: LocalPort, socket: UdpSocket) {
        Worker::register(self, call, port, socket);
    }

    fn release_ports(&mut self, call: CallId) {
        for port in self.call_ports.remove(&call).unwrap_or_default() {
            self.unregister(port);
        }
    }

    fn drain_outputs(&mut self) {
        Worker::drain_outputs(self);
    }

    fn driver_counters(&self) -> DriverCounters {
        self.counters
    }
}
