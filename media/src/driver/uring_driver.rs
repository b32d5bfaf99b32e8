//! The io_uring driver: one thread per shard, each owning one
//! [`UringSockets`] (one ring, a multishot `recvmsg` per socket on a shared
//! provided-buffer ring, sends queued as SQEs) and one [`RelayCore`].
//!
//! The structure mirrors the [portable driver](super::portable); one wakeup
//! of a worker:
//!
//! 1. [`UringSockets::poll`] with the core's next deadline as the timeout:
//!    one `io_uring_enter` submits every send queued in the last wakeup and
//!    waits for the next completions, across all sockets of the shard.
//!    While [pacing](super::pace) (under load), the worker first submits the
//!    sends, sleeps out the pacing window (arrivals queue as deferred task
//!    work and wake nobody), and then polls without waiting: one wakeup per
//!    window, however many datagrams;
//! 2. every datagram that completed is copied from its ring buffer into a
//!    pooled [`BytesMut`](bytes::BytesMut) (the core takes `BytesMut`, see below), the ring
//!    buffer goes back to the kernel on the next poll, and the core gets the
//!    datagram;
//! 3. the request channel is drained and each request run;
//! 4. the core's timeout if it is due;
//! 5. the pending transmits are queued as sends (SQEs, no syscall yet); their
//!    buffers come back to the pool once the kernel is done with them.
//!
//! **Waking the worker for a control request.** The worker sleeps in
//! `io_uring_enter`, so an eventfd written by the control side would not
//! wake it unless the ring polls it. [`UringSockets`] owns its ring and
//! exposes no raw SQE, so each worker has a private loopback UDP socket in
//! its set (id [`WAKE_ID`]); [`Driver::submit`] sends it one byte after
//! queueing the request (only when no wake is pending already). The
//! datagram is an ordinary multishot completion, so no poll tick is needed;
//! the wait is still capped at [`MAX_IDLE`] as a safety net.
//!
//! **No copy.** The core relays in whatever buffer it is given
//! ([`crate::relay::Packet`]), so a datagram stays in the ring buffer the
//! kernel received it into: the [`super::uring::RecvBuf`] goes from the
//! completion through the core (which rewrites the header in place when
//! asked) into `UringSockets::send(SendData::Recv(..))`, and back to the
//! ring when the send completes (or when the core drops the datagram). A
//! relayed packet's payload is never touched in userspace.

use std::collections::HashMap;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::pace::Pacer;
use super::uring::{
    Received, RecvBuf, SendData, SocketHandle, SocketId, UringConfig, UringError, UringSockets,
};
use super::{outputs, Driver, DriverConfig, DriverCounters, DriverError, Request};
use crate::relay::{CallId, Input, LegId, LegStats, LocalPort, RelayCore, Transmit};

/// The socket id of a worker's wake socket (media sockets use their port).
pub const WAKE_ID: SocketId = u64::MAX;
/// Longest sleep without a deadline (a safety net; wakes come by datagram).
pub const MAX_IDLE: Duration = Duration::from_millis(100);
/// Bytes the kernel writes in front of each payload in a ring buffer
/// (`io_uring_recvmsg_out` and a `sockaddr_in6`).
const RECV_OVERHEAD: usize = 16 + 28;
/// Receive buffers per shard (a power of two). Enough to hold a backlog of
/// 20 ms at 2,000 calls (4,000 datagrams) and as many sends in flight,
/// which keep their buffers until they complete: a socket that finds the
/// ring empty stops receiving until it is re-armed, and with few buffers
/// (512 was tried) a node that falls behind spends its time re-arming
/// receives.
const RING_BUFFERS: u16 = 8192;
/// Most sends in flight per shard.
const MAX_INFLIGHT_SENDS: usize = 4096;

enum Msg {
    Req(Request),
    Stop,
}

struct Shard {
    tx: mpsc::Sender<Msg>,
    /// Connected to the worker's wake socket.
    wake: UdpSocket,
    /// A wake datagram is on its way and the worker has not drained yet.
    wake_pending: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Shard {
    fn wake(&self) {
        if !self.wake_pending.swap(true, Ordering::SeqCst) {
            // A failed send (full buffer) means wakes are already queued.
            let _ = self.wake.send(&[0]);
        }
    }

    fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
        self.wake_pending.store(true, Ordering::SeqCst);
        let _ = self.wake.send(&[0]);
        let handle = self.thread.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(h) = handle {
            if h.join().is_err() {
                tracing::error!("an io_uring shard worker panicked");
            }
        }
    }
}

/// Why [`UringDriver::start`] failed.
#[derive(Debug, thiserror::Error)]
pub enum UringStartError {
    /// io_uring cannot serve here (the reason says why): use the portable
    /// driver.
    #[error(transparent)]
    Uring(#[from] UringError),
    /// Something else failed (wake socket, thread spawn).
    #[error(transparent)]
    Driver(#[from] DriverError),
}

impl UringStartError {
    /// Whether this means "io_uring is not usable here, fall back".
    pub fn is_unavailable(&self) -> bool {
        matches!(self, UringStartError::Uring(UringError::Unavailable { .. }))
    }
}

impl From<UringStartError> for DriverError {
    fn from(e: UringStartError) -> Self {
        match e {
            UringStartError::Driver(e) => e,
            UringStartError::Uring(UringError::Io { op, source }) => DriverError::Io {
                what: format!("io_uring {op}"),
                source,
            },
            UringStartError::Uring(e) => DriverError::Io {
                what: "io_uring".into(),
                source: std::io::Error::other(e.to_string()),
            },
        }
    }
}

/// The io_uring [`Driver`]: see the [module documentation](self).
pub struct UringDriver {
    shards: Vec<Shard>,
}

impl std::fmt::Debug for UringDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringDriver")
            .field("shards", &self.shards.len())
            .finish()
    }
}

/// The ring settings a driver configuration asks for.
pub fn uring_config(config: &DriverConfig) -> UringConfig {
    UringConfig {
        buf_size: config.buffer_size.max(64) + RECV_OVERHEAD,
        buf_count: RING_BUFFERS,
        sq_entries: 1024,
        // Every receive buffer and every send slot may complete at once.
        cq_entries: (RING_BUFFERS as u32 + MAX_INFLIGHT_SENDS as u32).next_power_of_two(),
        max_inflight_sends: MAX_INFLIGHT_SENDS,
        send_zc: false,
        defer_taskrun: true,
        fixed_files: true,
    }
}

/// Makes the ring; without `DEFER_TASKRUN` if the kernel (before 6.1)
/// refuses it.
fn open_ring(config: UringConfig) -> Result<UringSockets, UringError> {
    match UringSockets::new(config.clone()) {
        Err(UringError::Unavailable { .. }) if config.defer_taskrun => {
            UringSockets::new(UringConfig {
                defer_taskrun: false,
                ..config
            })
        }
        r => r,
    }
}

impl UringDriver {
    /// Starts `config.threads` workers (at least one). Each makes its ring on
    /// its own thread (required by `DEFER_TASKRUN`) and reports back; the
    /// first failure stops the workers already started and is returned
    /// ([`UringStartError::is_unavailable`]: fall back to portable).
    pub fn start(config: DriverConfig) -> Result<Self, UringStartError> {
        let n = config.threads.max(1);
        let start = Instant::now();
        let mut driver = UringDriver {
            shards: Vec::with_capacity(n),
        };
        let ring_config = uring_config(&config);
        for id in 0..n {
            let io_err = |what: &str| {
                let what = what.to_string();
                move |source| DriverError::Io { what, source }
            };
            let wake_rx =
                UdpSocket::bind("127.0.0.1:0").map_err(io_err("bind wake socket 127.0.0.1"))?;
            let wake_addr = wake_rx
                .local_addr()
                .map_err(io_err("wake socket address"))?;
            let wake_tx =
                UdpSocket::bind("127.0.0.1:0").map_err(io_err("bind wake socket 127.0.0.1"))?;
            wake_tx
                .connect(wake_addr)
                .map_err(io_err("connect wake socket"))?;
            wake_tx
                .set_nonblocking(true)
                .map_err(io_err("set_nonblocking"))?;
            let (tx, rx) = mpsc::channel();
            let (init_tx, init_rx) = mpsc::sync_channel(1);
            let wake_pending = Arc::new(AtomicBool::new(false));
            let (cfg, ring_cfg, pending) =
                (config.clone(), ring_config.clone(), wake_pending.clone());
            let thread = std::thread::Builder::new()
                .name(format!("ringwire-uring-{id}"))
                .spawn(move || {
                    let io = open_ring(ring_cfg).and_then(|mut io| {
                        io.add(WAKE_ID, wake_rx)?;
                        Ok(io)
                    });
                    match io {
                        Ok(io) => {
                            let _ = init_tx.send(Ok(()));
                            Worker::new(id, &cfg, start, io, pending, rx).run();
                        }
                        Err(e) => {
                            let _ = init_tx.send(Err(e));
                        }
                    }
                })
                .map_err(io_err("spawn worker"))?;
            match init_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    let _ = thread.join();
                    return Err(e.into());
                }
                Err(_) => {
                    let _ = thread.join();
                    return Err(DriverError::ShardGone(id).into());
                }
            }
            driver.shards.push(Shard {
                tx,
                wake: wake_tx,
                wake_pending,
                thread: Mutex::new(Some(thread)),
            });
        }
        Ok(driver)
    }
}

impl Driver for UringDriver {
    fn name(&self) -> &'static str {
        "io_uring"
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
        s.wake();
        Ok(())
    }

    fn shutdown(&self) {
        for s in &self.shards {
            s.stop();
        }
    }
}

impl Drop for UringDriver {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Worker {
    id: usize,
    core: RelayCore<RecvBuf>,
    io: UringSockets,
    wake_pending: Arc<AtomicBool>,
    rx: mpsc::Receiver<Msg>,
    start: Instant,
    /// Local ports' sockets in the set (the packet path's table).
    open: Vec<Option<SocketHandle>>,
    call_ports: HashMap<CallId, Vec<LocalPort>>,
    call_legs: HashMap<CallId, Vec<LegId>>,
    counters: DriverCounters,
    /// Sends the worker could not queue (unknown socket, queue full).
    send_refused: u64,
    /// Events, closed legs' statistics and the next timer.
    out: outputs::CoreOutputs,
    received: Vec<Received>,
    pending: Vec<Transmit<RecvBuf>>,
    pacer: Pacer,
}

impl Worker {
    fn new(
        id: usize,
        config: &DriverConfig,
        start: Instant,
        io: UringSockets,
        wake_pending: Arc<AtomicBool>,
        rx: mpsc::Receiver<Msg>,
    ) -> Self {
        let pending_cap = config.relay.queue_capacity.max(config.batch * 4);
        Worker {
            id,
            core: RelayCore::new(config.relay),
            io,
            wake_pending,
            rx,
            start,
            open: vec![None; 1 << 16],
            call_ports: HashMap::new(),
            call_legs: HashMap::new(),
            counters: DriverCounters::default(),
            send_refused: 0,
            out: outputs::CoreOutputs::new(config.events.clone()),
            received: Vec::with_capacity(4 * RING_BUFFERS as usize),
            pending: Vec::with_capacity(pending_cap),
            pacer: Pacer::new(config.pace, config.pace_min_batch),
        }
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn run(mut self) {
        tracing::debug!(shard = self.id, "io_uring worker started");
        super::pace::set_timer_slack(self.pacer.window());
        let mut sleep: Option<Duration> = None;
        loop {
            let timeout = if let Some(d) = sleep.take() {
                // Pacing: hand the sends to the kernel now, then let
                // arrivals queue (they wake nobody) and take them at once.
                if let Err(e) = self.io.flush() {
                    tracing::error!(shard = self.id, "io_uring submit: {e}");
                    return;
                }
                std::thread::sleep(d);
                Duration::ZERO
            } else {
                match self.out.wake_at {
                    None => MAX_IDLE,
                    Some(at) => at.saturating_sub(self.now()).min(MAX_IDLE),
                }
            };
            match self.io.poll(Some(timeout)) {
                Ok(batch) => self.received.extend(batch),
                Err(e) => {
                    tracing::error!(shard = self.id, "io_uring poll: {e}");
                    return;
                }
            }
            self.counters.wakeups += 1;
            let now = self.now();
            let mut received = std::mem::take(&mut self.received);
            let handled = received.len();
            for r in received.drain(..) {
                self.on_datagram(now, r);
            }
            self.received = received;
            let stop = self.on_wake(now);
            if self.out.wake_at.is_some_and(|at| at <= now) {
                self.out.wake_at = None;
                let _ = self.core.handle_input(now, Input::Timeout);
                self.drain_outputs();
            }
            self.flush();
            if stop {
                // Hand the last sends to the kernel; dropping the set waits
                // for them.
                let _ = self.io.flush();
                tracing::debug!(shard = self.id, "io_uring worker stopped");
                return;
            }
            let end = self.now();
            self.counters.loop_times.record(end.saturating_sub(now));
            sleep = self
                .pacer
                .after_wakeup(now, end, handled)
                .map(|d| match self.out.wake_at {
                    Some(at) => d.min(at.saturating_sub(end)),
                    None => d,
                })
                .filter(|d| !d.is_zero());
        }
    }

    fn on_datagram(&mut self, now: Duration, r: Received) {
        if r.socket_id == WAKE_ID {
            return;
        }
        self.counters.received += 1;
        let port = r.socket_id as u16;
        let input = Input::Datagram {
            local: LocalPort(port),
            from: r.from,
            data: r.data,
        };
        let _ = self.core.handle_input(now, input);
        self.drain_outputs();
    }

    /// Runs every queued request; true on `Stop`.
    fn on_wake(&mut self, now: Duration) -> bool {
        // Cleared before draining: a request queued after the drain sees
        // `false` and sends a new wake.
        self.wake_pending.store(false, Ordering::SeqCst);
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

    /// The worker's counters merged with the ring's.
    fn driver_counters(&self) -> DriverCounters {
        let s = self.io.stats();
        DriverCounters {
            // As the portable driver counts: oversized datagrams were read
            // too (then dropped as truncated).
            received: self.counters.received + s.truncated,
            sent: s.sent,
            truncated: s.truncated,
            recv_errors: s.recv_errors,
            peer_unreachable: s.peer_unreachable,
            send_errors: s.send_errors + self.send_refused,
            send_unreachable: s.send_unreachable,
            ..self.counters
        }
    }

    fn register(&mut self, call: CallId, port: LocalPort, socket: UdpSocket) {
        let id = port.0 as SocketId;
        if self.io.contains(id) {
            // A stale socket on the same port: the new one replaces it.
            let _ = self.io.remove(id);
        }
        if let Err(e) = self.io.add(id, socket) {
            tracing::error!(shard = self.id, port = port.0, "io_uring add socket: {e}");
            self.counters.recv_errors += 1;
            return;
        }
        self.open[port.0 as usize] = self.io.handle(id);
        self.call_ports.entry(call).or_default().push(port);
    }

    fn unregister(&mut self, port: LocalPort) {
        self.open[port.0 as usize] = None;
        match self.io.remove(port.0 as SocketId) {
            Ok(socket) => drop(socket),
            Err(e) => tracing::warn!(shard = self.id, port = port.0, "io_uring remove: {e}"),
        }
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

    /// Connects or disconnects sockets as the core asked. A failure leaves
    /// the socket unpinned: its sends name their destination as before.
    fn apply_pins(&mut self) {
        for i in 0..self.out.pins.len() {
            let p = self.out.pins[i];
            if self.open[p.port.0 as usize].is_none() {
                continue;
            }
            if let Err(e) = self.io.pin(p.port.0 as SocketId, p.remote) {
                tracing::warn!(shard = self.id, port = p.port.0, "pin {:?}: {e}", p.remote);
            }
        }
        self.out.pins.clear();
    }

    /// Queues the pending transmits as sends (they reach the kernel with the
    /// next poll's single `io_uring_enter`), each from the ring buffer it
    /// was received in; the buffer goes back to the ring when its send
    /// completes.
    fn flush(&mut self) {
        for t in self.pending.drain(..) {
            let port = t.from;
            let Some(socket) = self.open[port.0 as usize] else {
                self.send_refused += 1;
                continue;
            };
            if let Err(e) = self.io.send_via(socket, t.to, SendData::Recv(t.data)) {
                self.send_refused += 1;
                tracing::trace!(shard = self.id, port = port.0, "io_uring send: {e}");
            }
        }
    }
}

impl super::shard::ShardWorker for Worker {
    type Buf = RecvBuf;

    fn parts(
        &mut self,
    ) -> (
        &mut RelayCore<RecvBuf>,
        &mut HashMap<CallId, Vec<LegId>>,
        &LegStats,
    ) {
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
        Worker::driver_counters(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uring_driver_config_leaves_room_for_the_receive_header() {
        let c = uring_config(&DriverConfig::default());
        assert_eq!(c.buf_size, 2048 + RECV_OVERHEAD);
        assert!(c.buf_count.is_power_of_two());
        assert!(c.cq_entries >= 2 * c.buf_count as u32);
    }
}
