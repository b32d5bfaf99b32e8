//! `ringwire load`: a load generator for any rtpengine-NG media node
//! (ringwire, rtpengine, ...).
//!
//! It creates N calls through the node's NG control port (`offer` with an
//! SDP naming the caller endpoint, `answer` with the callee's; the reply
//! SDPs give the node's port for each side), then plays 20 ms G.711 RTP on
//! both legs of every call with real pacing for S seconds, measures what
//! comes back, and deletes the calls:
//!
//! ```text
//! setup:  for each call, at --cps:  offer(A) -> node port for B;  answer(B) -> node port for A
//! media:  every 1 ms tick, the calls whose phase (index mod 20) is due send
//!         A->node and B->node packets in sendmmsg batches; a receiver
//!         thread drains everything with recvmmsg (kernel arrival times)
//! report: per direction sent/received/lost/jitter, added latency, node CPU,
//!         and whether the generator kept up (late ticks, its own drops)
//! ```
//!
//! Map: [`ng_client`] speaks NG; [`net`] is the single loopback socket that
//! serves every endpoint (one loopback address per endpoint, `IP_PKTINFO`);
//! [`stats`] measures loss, jitter and latency; [`audio`] makes the DTMF
//! and speech-like payloads; [`rtcp`] writes the phones' reports with
//! `--rtcp`; [`cpu`] reads the node's CPU time from `/proc`; [`drops`]
//! tells loss in the generator's own socket from the node's.

pub mod audio;
pub mod cpu;
pub mod drops;
pub mod net;
pub mod ng_client;
pub mod rtcp;
pub mod stats;

use std::io::{self, Write};
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ringwire_dsp::g711::Law;
use serde::Serialize;
use thiserror::Error;

use crate::ng::bencode::Dict;
use crate::ng::Sdp;
use audio::Frame;
use net::{endpoint_addr, endpoint_index, MediaSocket, RecvBatch, SendBatch};
use ng_client::{NgClient, NgClientError};
use stats::{DirectionStats, LatencyHistogram, LatencyStats, StreamRx};

/// The codec of the generated media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// G.711 µ-law, payload type 0.
    Pcmu,
    /// G.711 A-law, payload type 8.
    Pcma,
}

impl Codec {
    /// RTP payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// SDP encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The G.711 law.
    pub fn law(self) -> Law {
        match self {
            Codec::Pcmu => Law::Ulaw,
            Codec::Pcma => Law::Alaw,
        }
    }
}

/// Options of `ringwire load`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// The node's NG control address (a loopback address).
    #[arg(long, default_value = "127.0.0.1:2223")]
    pub ng: SocketAddr,
    /// Concurrent calls to create.
    #[arg(long, default_value_t = 100)]
    pub calls: usize,
    /// Seconds of media on every call once all are set up.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Calls set up per second.
    #[arg(long, default_value_t = 500.0)]
    pub cps: f64,
    /// Codec of the generated media.
    #[arg(long, value_enum, default_value = "pcmu")]
    pub codec: Codec,
    /// Play in-band DTMF digits on the caller leg of every other call.
    #[arg(long)]
    pub dtmf: bool,
    /// Play speech-like greeting audio on the callee leg of every call.
    #[arg(long)]
    pub amd_audio: bool,
    /// Send an RTCP sender report every 5 s on each leg, as phones do
    /// (multiplexed on the RTP port, `a=rtcp-mux`), with a report block
    /// on the stream the leg receives (loss, jitter, LSR/DLSR); the report
    /// then gives the MOS the node scored from them.
    #[arg(long)]
    pub rtcp: bool,
    /// The node's process id for CPU time (default: the owner of the NG port).
    #[arg(long)]
    pub node_pid: Option<u32>,
    /// After draining its socket, the receiver sleeps this many
    /// microseconds before it waits again, so that relayed packets queue
    /// instead of waking it one by one. On loopback the kernel delivers a
    /// datagram in the sender's context, so each wakeup of a sleeping
    /// receiver (and its inter-core interrupt) is charged to the node that
    /// relayed it: a cost of the harness, not of a node sending to the
    /// network. Latency and jitter use kernel receive timestamps and are
    /// not affected. 0: block and wake at every arrival.
    #[arg(long, default_value_t = 200)]
    pub recv_pace_us: u64,
    /// Print the figures as one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// Why a load run failed.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The NG address is not a loopback address.
    #[error("the NG address {0} is not a loopback address")]
    NotLoopback(SocketAddr),
    /// Bad options.
    #[error("{0}")]
    Options(String),
    /// The node did not answer a ping.
    #[error("the node at {addr} does not answer NG ping: {source}")]
    NoNode {
        /// The NG address.
        addr: SocketAddr,
        /// What failed.
        source: NgClientError,
    },
    /// The NG client failed outside a call (socket error).
    #[error(transparent)]
    Ng(#[from] NgClientError),
    /// The media socket failed.
    #[error("media socket: {0}")]
    Io(#[from] io::Error),
    /// No call could be set up.
    #[error("no call could be set up; first error: {0}")]
    NoCalls(String),
}

/// Everything `ringwire load` measured; `--json` prints it as one object.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// The node's NG address.
    pub ng: String,
    /// Codec used.
    pub codec: Codec,
    /// Calls asked for.
    pub calls_requested: usize,
    /// Calls set up (offer and answer answered with usable SDP).
    pub calls_established: usize,
    /// Calls whose setup failed.
    pub setup_failures: usize,
    /// The first setup error, if any.
    pub first_setup_error: Option<String>,
    /// Seconds the setup took.
    pub setup_seconds: f64,
    /// Calls playing DTMF (caller leg).
    pub dtmf_calls: usize,
    /// Calls playing a greeting (callee leg).
    pub amd_calls: usize,
    /// Seconds from the first packet sent to the end of the receive drain.
    pub media_seconds: f64,
    /// Caller endpoint to callee endpoint.
    pub caller_to_callee: DirectionStats,
    /// Callee endpoint to caller endpoint.
    pub callee_to_caller: DirectionStats,
    /// Total packets sent, both directions.
    pub sent: u64,
    /// Total packets relayed back to the generator, both directions.
    pub received: u64,
    /// `1 - unique received / sent`, both directions.
    pub loss_ratio: f64,
    /// Added latency (generator send to generator kernel arrival).
    pub latency: LatencyStats,
    /// Relayed packets per wall-clock second of the media phase.
    pub relayed_pps: f64,
    /// The node's process id, when known.
    pub node_pid: Option<u32>,
    /// The node's CPU seconds (user + system) during the media phase.
    pub node_cpu_seconds: Option<f64>,
    /// Relayed packets per CPU-second of the node.
    pub relayed_per_node_cpu_second: Option<f64>,
    /// The generator's own CPU seconds during the media phase.
    pub generator_cpu_seconds: Option<f64>,
    /// RTCP reports sent (`--rtcp`), both directions.
    pub rtcp_sent: u64,
    /// RTCP datagrams relayed back to the generator.
    pub rtcp_received: u64,
    /// The node's scores of the reports (`--rtcp`), from its `delete`
    /// replies; none when it scored none.
    pub mos: Option<MosFigures>,
    /// Sends the kernel refused.
    pub send_errors: u64,
    /// Datagrams that were not RTP for one of our endpoints and streams.
    pub stray_packets: u64,
    /// Deletes the node refused or did not answer.
    pub delete_failures: usize,
    /// Whether the media socket was restricted to the loopback device.
    pub loopback_only: bool,
    /// The receiver's sleep after each drain, in microseconds
    /// ([`LoadArgs::recv_pace_us`]).
    pub recv_pace_us: u64,
    /// Relayed packets the generator's own socket dropped (its receiver
    /// fell behind): loss that is the generator's, not the node's.
    pub generator_rx_drops: Option<u64>,
    /// UDP receive-buffer drops elsewhere on the host during the media
    /// phase (on loopback, the node's sockets).
    pub other_rx_drops: Option<u64>,
    /// 1 ms send ticks that began a whole tick or more after their time:
    /// the generator could not keep the pacing it offers.
    pub sender_late_ticks: u64,
    /// Ticks sent in all.
    pub sender_ticks: u64,
    /// How late the latest tick began, in microseconds.
    pub sender_late_max_us: u64,
}

/// What a node made of the generator's RTCP reports: the average MOS of
/// each leg it scored (the `SSRC` entries of its `delete` replies).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MosFigures {
    /// Legs scored.
    pub scored: usize,
    /// The mean of their average scores.
    pub mean: f64,
    /// The lowest of them.
    pub min: f64,
}

impl MosFigures {
    /// The figures of the scores times ten, `None` for none.
    pub fn of(scores_x10: &[i64]) -> Option<MosFigures> {
        let n = scores_x10.len();
        (n > 0).then(|| MosFigures {
            scored: n,
            mean: scores_x10.iter().sum::<i64>() as f64 / n as f64 / 10.0,
            min: *scores_x10.iter().min().expect("not empty") as f64 / 10.0,
        })
    }
}

struct Call {
    /// Where the caller endpoint sends (node port for side A).
    a_dest: SocketAddrV4,
    /// Where the callee endpoint sends (node port for side B).
    b_dest: SocketAddrV4,
    index: usize,
}

/// What the sender and the receiver share.
struct Shared {
    /// Per stream, 64 slots indexed by packet index: `(index & 0xffff) << 48 | send µs`.
    send_times: Vec<AtomicU64>,
    seq0: Vec<u16>,
    planned: u64,
    epoch_ns: u64,
    stop: AtomicBool,
    /// What the receiver saw for the reports (`--rtcp` only).
    rtcp: Option<rtcp::RtcpShared>,
}

const SLOTS: usize = 64;

fn seq0_of(stream: usize) -> u16 {
    (stream as u32).wrapping_mul(40503) as u16
}

fn call_id(run: &str, c: usize) -> String {
    format!("{run}-{c}")
}

fn sdp_for(addr: SocketAddrV4, codec: Codec, session: usize, rtcp_mux: bool) -> String {
    let ip = addr.ip();
    let pt = codec.payload_type();
    let mux = if rtcp_mux { "a=rtcp-mux\r\n" } else { "" };
    format!(
        "v=0\r\no=- {session} 1 IN IP4 {ip}\r\ns=ringwire-load\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {pt}\r\na=rtpmap:{pt} {name}/8000\r\na=ptime:20\r\na=sendrecv\r\n{mux}",
        port = addr.port(),
        name = codec.name()
    )
}

fn node_port(sdp: Option<&[u8]>) -> Result<SocketAddrV4, String> {
    let sdp = sdp.ok_or("reply without SDP")?;
    let parsed = Sdp::parse(sdp).map_err(|e| format!("reply SDP: {e}"))?;
    match parsed.remote_rtp(0) {
        Some(SocketAddr::V4(a)) if a.port() != 0 => {
            // A node listening on the wildcard may write 0.0.0.0: use loopback.
            let ip = if a.ip().is_unspecified() {
                std::net::Ipv4Addr::LOCALHOST
            } else {
                *a.ip()
            };
            Ok(SocketAddrV4::new(ip, a.port()))
        }
        Some(a) => Err(format!("reply SDP names {a}, not an IPv4 address and port")),
        None => Err("reply SDP has no audio address".into()),
    }
}

fn setup_call(
    ng: &mut NgClient,
    run: &str,
    c: usize,
    port: u16,
    codec: Codec,
    rtcp_mux: bool,
) -> Result<Call, String> {
    let a = SocketAddrV4::new(endpoint_addr(2 * c), port);
    let b = SocketAddrV4::new(endpoint_addr(2 * c + 1), port);
    let id = call_id(run, c);
    let (from, to) = (format!("a{c}"), format!("b{c}"));
    let offer_sdp = sdp_for(a, codec, c, rtcp_mux);
    let mut d = Dict::new();
    d.insert("command", "offer")
        .insert("call-id", id.as_str())
        .insert("from-tag", from.as_str())
        .insert("sdp", offer_sdp.as_str());
    let reply = ng.request_ok(&d).map_err(|e| e.to_string())?;
    let b_dest = node_port(reply.sdp.as_deref()).map_err(|e| format!("offer: {e}"))?;
    let answer_sdp = sdp_for(b, codec, c, rtcp_mux);
    let mut d = Dict::new();
    d.insert("command", "answer")
        .insert("call-id", id.as_str())
        .insert("from-tag", from.as_str())
        .insert("to-tag", to.as_str())
        .insert("sdp", answer_sdp.as_str());
    let reply = ng.request_ok(&d).map_err(|e| e.to_string())?;
    let a_dest = node_port(reply.sdp.as_deref()).map_err(|e| format!("answer: {e}"))?;
    Ok(Call {
        a_dest,
        b_dest,
        index: c,
    })
}

/// Deletes call `c`; the average MOS of each leg the node scored, or
/// `None` if the node refused or did not answer.
fn delete_call(ng: &mut NgClient, run: &str, c: usize) -> Option<Vec<i64>> {
    let id = call_id(run, c);
    let from = format!("a{c}");
    let mut d = Dict::new();
    d.insert("command", "delete")
        .insert("call-id", id.as_str())
        .insert("from-tag", from.as_str());
    ng.request_ok(&d).ok().map(|r| r.mos_x10)
}

fn write_rtp(
    buf: &mut [u8; net::PACKET],
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: &Frame,
) -> usize {
    buf[0] = 0x80;
    buf[1] = pt;
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&ts.to_be_bytes());
    buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    buf[12..].copy_from_slice(payload);
    net::PACKET
}

struct SenderOut {
    /// Ticks begun 1 ms or more after their time, and the most late (µs).
    late_ticks: u64,
    late_max_us: u64,
    ticks: u64,
    sent: Vec<u64>,
    rtcp_sent: u64,
    errors: u64,
    first_error: Option<io::Error>,
}

/// Marks an RTCP report among the datagrams of a send batch.
const RTCP_MARK: usize = usize::MAX;

/// The SSRC of stream `s`.
fn ssrc_of(s: usize) -> u32 {
    0x5257_0000u32.wrapping_add(s as u32)
}

/// The RTP timestamp of packet `n` of stream `s`.
fn timestamp_of(s: usize, n: u64) -> u32 {
    (s as u32)
        .wrapping_mul(7919)
        .wrapping_add((n as u32).wrapping_mul(160))
}

fn send_media(
    socket: &MediaSocket,
    shared: &Shared,
    calls: &[Call],
    payloads: &[&[Frame]],
    codec: Codec,
) -> SenderOut {
    let streams = calls.len() * 2;
    let mut out = SenderOut {
        late_ticks: 0,
        late_max_us: 0,
        ticks: 0,
        sent: vec![0; streams],
        rtcp_sent: 0,
        errors: 0,
        first_error: None,
    };
    // each leg reports every 5 s, the legs spread over the interval, the
    // first a second or more into the media
    let mut reports_due: Vec<Vec<usize>> = vec![Vec::new(); rtcp::INTERVAL_MS as usize];
    if shared.rtcp.is_some() {
        for s in 0..streams {
            reports_due[(1000 + s * 997) % rtcp::INTERVAL_MS as usize].push(s);
        }
    }
    let mut reporters = vec![rtcp::Reporter::default(); streams];
    let mut report = Vec::with_capacity(64);
    let mut by_phase: Vec<Vec<usize>> = vec![Vec::new(); 20];
    for (i, call) in calls.iter().enumerate() {
        by_phase[call.index % 20].push(i);
    }
    let pt = codec.payload_type();
    let mut batch = SendBatch::new();
    let mut pending: Vec<(usize, u64)> = Vec::with_capacity(net::BATCH);
    let flush = |batch: &mut SendBatch, pending: &mut Vec<(usize, u64)>, out: &mut SenderOut| {
        let us = (net::now_ns().saturating_sub(shared.epoch_ns)) / 1000;
        for &(s, n) in pending.iter().filter(|(s, _)| *s != RTCP_MARK) {
            shared.send_times[s * SLOTS + (n as usize % SLOTS)].store(
                ((n & 0xffff) << 48) | (us & ((1 << 48) - 1)),
                Ordering::Release,
            );
        }
        let (done, err) = batch.flush(socket);
        for &(s, _) in &pending[..done] {
            match s {
                RTCP_MARK => out.rtcp_sent += 1,
                s => out.sent[s] += 1,
            }
        }
        if let Some(e) = err {
            out.errors += (pending.len() - done) as u64;
            out.first_error.get_or_insert(e);
        }
        pending.clear();
    };
    let start = Instant::now();
    let ticks = shared.planned * 20;
    for k in 0..ticks {
        let due = start + Duration::from_millis(k);
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        } else {
            let late = (now - due).as_micros() as u64;
            out.late_max_us = out.late_max_us.max(late);
            if late >= 1000 {
                out.late_ticks += 1;
            }
        }
        out.ticks += 1;
        let n = k / 20;
        for &i in &by_phase[(k % 20) as usize] {
            let call = &calls[i];
            for (side, dest) in [(0usize, call.a_dest), (1, call.b_dest)] {
                let s = 2 * i + side;
                let frames = payloads[s];
                let frame = &frames[(n as usize) % frames.len()];
                let seq = shared.seq0[s].wrapping_add(n as u16);
                let ts = timestamp_of(s, n);
                batch.push(endpoint_addr(2 * call.index + side), dest, |b| {
                    write_rtp(b, pt, seq, ts, ssrc_of(s), frame)
                });
                pending.push((s, n));
                if batch.is_full() {
                    flush(&mut batch, &mut pending, &mut out);
                }
            }
        }
        if let Some(shared_rtcp) = &shared.rtcp {
            for &s in &reports_due[(k % rtcp::INTERVAL_MS) as usize] {
                let (call, side) = (&calls[s / 2], s % 2);
                let dest = if side == 0 { call.a_dest } else { call.b_dest };
                let sent = rtcp::Sent {
                    ssrc: ssrc_of(s),
                    rtp_timestamp: timestamp_of(s, n),
                    packets: n as u32,
                    peer_ssrc: ssrc_of(s ^ 1),
                    peer_seq0: shared.seq0[s ^ 1],
                };
                reporters[s].report(shared_rtcp, s, sent, net::now_ns(), &mut report);
                batch.push(endpoint_addr(2 * call.index + side), dest, |b| {
                    b[..report.len()].copy_from_slice(&report);
                    report.len()
                });
                pending.push((RTCP_MARK, 0));
                if batch.is_full() {
                    flush(&mut batch, &mut pending, &mut out);
                }
            }
        }
        if !batch.is_empty() {
            flush(&mut batch, &mut pending, &mut out);
        }
    }
    out
}

struct ReceiverOut {
    rx: Vec<StreamRx>,
    latency: LatencyHistogram,
    stray: u64,
    rtcp: u64,
}

fn receive_media(
    socket: &MediaSocket,
    shared: &Shared,
    endpoint_of: &[usize],
    streams: usize,
    pace: Duration,
) -> io::Result<ReceiverOut> {
    // endpoint_of: endpoint index -> stream slot (usize::MAX: not ours).
    let mut out = ReceiverOut {
        rx: vec![StreamRx::default(); streams],
        latency: LatencyHistogram::new(),
        stray: 0,
        rtcp: 0,
    };
    yield_to_sender();
    let mut batch = RecvBatch::new();
    let mut drained = false;
    loop {
        if drained && !pace.is_zero() {
            // Let the next packets queue (see `LoadArgs::recv_pace_us`).
            thread::sleep(pace);
        }
        let n = batch.recv(socket)?;
        if n == 0 && shared.stop.load(Ordering::Acquire) {
            return Ok(out);
        }
        drained = n > 0 && n < net::BATCH;
        for i in 0..n {
            let p = batch.get(i);
            let slot = p
                .dest
                .and_then(endpoint_index)
                .and_then(|e| endpoint_of.get(e).copied())
                .filter(|&s| s < streams);
            let Some(r) = slot else {
                out.stray += 1;
                continue;
            };
            let d = p.data;
            let arrival = p.arrival_ns.unwrap_or_else(net::now_ns);
            if ringwire_media::rtp::is_rtcp_packet(d) {
                out.rtcp += 1;
                if let Some(shared_rtcp) = &shared.rtcp {
                    shared_rtcp.on_rtcp(r, d, arrival);
                }
                continue;
            }
            if d.len() < 12 || d[0] >> 6 != 2 {
                out.stray += 1;
                continue;
            }
            let seq = u16::from_be_bytes([d[2], d[3]]);
            let ts = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
            let s = r ^ 1; // the stream sent by the other side of the call
            let Some(index) = out.rx[r].on_packet(seq, shared.seq0[s], shared.planned) else {
                out.stray += 1;
                continue;
            };
            let first = out.rx[r].packets == 1;
            out.rx[r].on_timing(ts, arrival, first);
            if let Some(shared_rtcp) = &shared.rtcp {
                let rx = &out.rx[r];
                shared_rtcp.on_rtp(r, rx.expected(), rx.unique(), rx.jitter as u32);
            }
            let packed =
                shared.send_times[s * SLOTS + index as usize % SLOTS].load(Ordering::Acquire);
            if packed >> 48 == index & 0xffff && packed != 0 {
                let sent_us = packed & ((1 << 48) - 1);
                let arr_us = arrival.saturating_sub(shared.epoch_ns) / 1000;
                out.latency.record(arr_us.saturating_sub(sent_us));
            }
        }
    }
}

/// Under a real-time policy (`chrt -f`, as `benches/relay.sh RT=10` runs
/// the generator), puts the calling receiver thread one priority below the
/// sender. At equal priority a running thread is not preempted by a woken
/// one, so a long drain would hold back the sender's next tick and the
/// offered pacing with it; the receiver's lateness costs nothing, since
/// arrival times are the kernel's and its socket buffer holds 160 ms of
/// traffic. A normal-policy run is left alone.
fn yield_to_sender() {
    // SAFETY: both calls act on the calling thread (pid 0) with a
    // `sched_param` that lives across the call.
    unsafe {
        let policy = libc::sched_getscheduler(0);
        if policy != libc::SCHED_FIFO && policy != libc::SCHED_RR {
            return;
        }
        let mut param: libc::sched_param = std::mem::zeroed();
        if libc::sched_getparam(0, &mut param) != 0 || param.sched_priority <= 1 {
            return;
        }
        param.sched_priority -= 1;
        // Lowering one's own priority needs no privilege; if it fails the
        // run goes on at equal priority.
        libc::sched_setscheduler(0, policy, &param);
    }
}

/// Runs the whole load: setup, media, teardown. Progress notes go to
/// stderr unless `quiet`.
pub fn run(args: &LoadArgs, quiet: bool) -> Result<LoadReport, LoadError> {
    if !args.ng.ip().is_loopback() {
        return Err(LoadError::NotLoopback(args.ng));
    }
    let positive = |x: f64| x.is_finite() && x > 0.0;
    if args.calls == 0 || !positive(args.duration) || !positive(args.cps) {
        return Err(LoadError::Options(
            "--calls, --duration and --cps must be positive".into(),
        ));
    }
    let note = |msg: String| {
        if !quiet {
            eprintln!("ringwire load: {msg}");
        }
    };
    let mut ng = NgClient::connect(args.ng)?;
    ng.ping().map_err(|source| LoadError::NoNode {
        addr: args.ng,
        source,
    })?;
    let socket = Arc::new(MediaSocket::open()?);
    let node_pid = args
        .node_pid
        .or_else(|| cpu::find_udp_owner(args.ng.port()));
    if node_pid.is_none() {
        note(format!(
            "node process not found from port {} (try --node-pid): no CPU figures",
            args.ng.port()
        ));
    }
    let run_id = format!(
        "rwload-{}-{}",
        std::process::id(),
        net::now_ns() % 1_000_000_007
    );

    // Setup at --cps.
    let setup_start = Instant::now();
    let mut calls = Vec::with_capacity(args.calls);
    let mut failures = 0usize;
    let mut first_error = None;
    for c in 0..args.calls {
        let due = setup_start + Duration::from_secs_f64(c as f64 / args.cps);
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        match setup_call(&mut ng, &run_id, c, socket.port(), args.codec, args.rtcp) {
            Ok(call) => calls.push(call),
            Err(e) => {
                failures += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    let setup_seconds = setup_start.elapsed().as_secs_f64();
    note(format!(
        "{} of {} calls set up in {setup_seconds:.2} s",
        calls.len(),
        args.calls
    ));
    if calls.is_empty() {
        return Err(LoadError::NoCalls(first_error.unwrap_or_default()));
    }

    // Payloads per stream: caller = 2i, callee = 2i+1.
    let law = args.codec.law();
    let (silence, dtmf, greeting) = (
        audio::silence(law),
        audio::dtmf_loop(law),
        audio::greeting_loop(law),
    );
    let mut payloads: Vec<&[Frame]> = Vec::with_capacity(calls.len() * 2);
    let (mut dtmf_calls, mut amd_calls) = (0, 0);
    for call in &calls {
        let caller: &[Frame] = if args.dtmf && call.index % 2 == 0 {
            dtmf_calls += 1;
            &dtmf
        } else {
            &silence
        };
        let callee: &[Frame] = if args.amd_audio {
            amd_calls += 1;
            &greeting
        } else {
            &silence
        };
        payloads.push(caller);
        payloads.push(callee);
    }

    let streams = calls.len() * 2;
    let planned = (args.duration * 50.0).round().max(1.0) as u64;
    let shared = Arc::new(Shared {
        send_times: (0..streams * SLOTS).map(|_| AtomicU64::new(0)).collect(),
        seq0: (0..streams).map(seq0_of).collect(),
        planned,
        epoch_ns: net::now_ns(),
        stop: AtomicBool::new(false),
        rtcp: args.rtcp.then(|| rtcp::RtcpShared::new(streams)),
    });
    let mut endpoint_of = vec![usize::MAX; 2 * args.calls];
    for (i, call) in calls.iter().enumerate() {
        endpoint_of[2 * call.index] = 2 * i;
        endpoint_of[2 * call.index + 1] = 2 * i + 1;
    }

    let cpu_of = |pid: Option<u32>| pid.and_then(|p| cpu::process_cpu_seconds(p).ok());
    let node_cpu0 = cpu_of(node_pid);
    let gen_cpu0 = cpu_of(Some(std::process::id()));
    let gen_drops0 = drops::socket_drops(&*socket).ok();
    let host_drops0 = drops::udp_rcvbuf_errors().ok();
    let media_start = Instant::now();
    let receiver = {
        let (socket, shared) = (socket.clone(), shared.clone());
        let pace = Duration::from_micros(args.recv_pace_us.min(10_000));
        thread::Builder::new()
            .name("load-rx".into())
            .spawn(move || receive_media(&socket, &shared, &endpoint_of, streams, pace))?
    };
    note(format!(
        "media: {} streams for {:.1} s",
        streams, args.duration
    ));
    let sender = send_media(&socket, &shared, &calls, &payloads, args.codec);
    // Let the last packets come back, then stop the receiver.
    thread::sleep(Duration::from_millis(250));
    shared.stop.store(true, Ordering::Release);
    let rx = receiver
        .join()
        .map_err(|_| io::Error::other("receiver thread panicked"))??;
    let media_seconds = media_start.elapsed().as_secs_f64();
    let generator_rx_drops = gen_drops0
        .zip(drops::socket_drops(&*socket).ok())
        .map(|(a, b)| b.saturating_sub(a));
    let other_rx_drops = host_drops0
        .zip(drops::udp_rcvbuf_errors().ok())
        .zip(generator_rx_drops)
        .map(|((a, b), own)| b.saturating_sub(a).saturating_sub(own));
    let node_cpu = node_cpu0.zip(cpu_of(node_pid)).map(|(a, b)| b - a);
    let gen_cpu = gen_cpu0
        .zip(cpu_of(Some(std::process::id())))
        .map(|(a, b)| b - a);
    if let Some(e) = &sender.first_error {
        note(format!("{} sends failed, first: {e}", sender.errors));
    }

    let mut delete_failures = 0;
    let mut scores = Vec::new();
    for call in &calls {
        match delete_call(&mut ng, &run_id, call.index) {
            Some(mos) => scores.extend(mos),
            None => delete_failures += 1,
        }
    }

    let mut dirs = [DirectionStats::default(), DirectionStats::default()];
    let mut jitter_sum = [0.0f64; 2];
    let mut unique_total = 0u64;
    for r in 0..streams {
        let s = r ^ 1;
        let dir = &mut dirs[s % 2];
        let rx_s = &rx.rx[r];
        let unique = rx_s.unique();
        unique_total += unique;
        dir.sent += sender.sent[s];
        dir.received += rx_s.packets;
        dir.lost += sender.sent[s].saturating_sub(unique);
        dir.duplicates += rx_s.duplicates;
        dir.out_of_order += rx_s.out_of_order;
        let j_us = rx_s.jitter * 125.0;
        jitter_sum[s % 2] += j_us;
        dir.jitter_max_us = dir.jitter_max_us.max(j_us);
    }
    for (d, j) in dirs.iter_mut().zip(jitter_sum) {
        d.loss_ratio = if d.sent > 0 {
            d.lost as f64 / d.sent as f64
        } else {
            0.0
        };
        d.jitter_mean_us = j / calls.len() as f64;
    }
    let sent = dirs[0].sent + dirs[1].sent;
    let received = dirs[0].received + dirs[1].received;
    let [caller_to_callee, callee_to_caller] = dirs;
    Ok(LoadReport {
        ng: args.ng.to_string(),
        codec: args.codec,
        calls_requested: args.calls,
        calls_established: calls.len(),
        setup_failures: failures,
        first_setup_error: first_error,
        setup_seconds,
        dtmf_calls,
        amd_calls,
        media_seconds,
        caller_to_callee,
        callee_to_caller,
        sent,
        received,
        loss_ratio: if sent > 0 {
            1.0 - unique_total as f64 / sent as f64
        } else {
            0.0
        },
        latency: LatencyStats::from_histogram(&rx.latency),
        relayed_pps: received as f64 / media_seconds,
        node_pid,
        node_cpu_seconds: node_cpu,
        relayed_per_node_cpu_second: node_cpu.filter(|&c| c > 0.0).map(|c| received as f64 / c),
        generator_cpu_seconds: gen_cpu,
        rtcp_sent: sender.rtcp_sent,
        rtcp_received: rx.rtcp,
        mos: MosFigures::of(&scores),
        send_errors: sender.errors,
        stray_packets: rx.stray,
        delete_failures,
        loopback_only: socket.loopback_only,
        recv_pace_us: args.recv_pace_us.min(10_000),
        generator_rx_drops,
        other_rx_drops,
        sender_late_ticks: sender.late_ticks,
        sender_ticks: sender.ticks,
        sender_late_max_us: sender.late_max_us,
    })
}

/// Writes the human summary of a report.
pub fn write_summary(out: &mut impl Write, r: &LoadReport) -> io::Result<()> {
    writeln!(
        out,
        "node {} ({}), {} codec",
        r.ng,
        r.node_pid
            .map_or("pid unknown".into(), |p| format!("pid {p}")),
        r.codec.name()
    )?;
    writeln!(
        out,
        "calls: {} of {} set up in {:.2} s ({} failed{}); dtmf on {}, greeting on {}",
        r.calls_established,
        r.calls_requested,
        r.setup_seconds,
        r.setup_failures,
        r.first_setup_error
            .as_deref()
            .map_or(String::new(), |e| format!(": {e}")),
        r.dtmf_calls,
        r.amd_calls
    )?;
    writeln!(out, "media: {:.2} s", r.media_seconds)?;
    for (name, d) in [
        ("caller->callee", &r.caller_to_callee),
        ("callee->caller", &r.callee_to_caller),
    ] {
        writeln!(
            out,
            "  {name}: sent {} received {} lost {} ({:.4}%) dup {} reordered {} jitter mean {:.1} µs max {:.1} µs",
            d.sent,
            d.received,
            d.lost,
            d.loss_ratio * 100.0,
            d.duplicates,
            d.out_of_order,
            d.jitter_mean_us,
            d.jitter_max_us
        )?;
    }
    let l = &r.latency;
    writeln!(
        out,
        "added latency: p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs ({} samples)",
        l.p50_us, l.p99_us, l.p999_us, l.max_us, l.samples
    )?;
    writeln!(
        out,
        "relayed: {:.0} pps, loss {:.4}%",
        r.relayed_pps,
        r.loss_ratio * 100.0
    )?;
    if r.rtcp_sent > 0 {
        write!(
            out,
            "rtcp: {} reports sent, {} relayed; ",
            r.rtcp_sent, r.rtcp_received
        )?;
        match &r.mos {
            Some(m) => writeln!(
                out,
                "the node scored {} legs: MOS mean {:.2}, lowest {:.1}",
                m.scored, m.mean, m.min
            )?,
            None => writeln!(out, "the node scored none")?,
        }
    }
    match (r.node_cpu_seconds, r.relayed_per_node_cpu_second) {
        (Some(c), Some(p)) => writeln!(
            out,
            "node CPU: {c:.2} s ({:.0}% of one core); {p:.0} relayed packets per node CPU-second",
            100.0 * c / r.media_seconds
        )?,
        (Some(c), None) => writeln!(out, "node CPU: {c:.2} s")?,
        _ => writeln!(out, "node CPU: unknown")?,
    }
    if let Some(g) = r.generator_cpu_seconds {
        writeln!(
            out,
            "generator CPU: {g:.2} s ({:.0}% of one core)",
            100.0 * g / r.media_seconds
        )?;
    }
    if let Some(d) = r.generator_rx_drops.filter(|&d| d > 0) {
        writeln!(
            out,
            "generator: its own socket dropped {d} relayed packets (its receiver fell behind): \
             that loss is the generator's, not the node's"
        )?;
    }
    if let Some(d) = r.other_rx_drops.filter(|&d| d > 0) {
        writeln!(
            out,
            "other UDP sockets on the host (the node's) dropped {d} packets for a full receive buffer"
        )?;
    }
    if r.sender_late_ticks > 0 {
        writeln!(
            out,
            "generator: {} of {} send ticks began 1 ms or more late (latest by {:.1} ms): \
             it could not keep the pacing",
            r.sender_late_ticks,
            r.sender_ticks,
            r.sender_late_max_us as f64 / 1000.0
        )?;
    }
    if r.send_errors + r.stray_packets > 0 || r.delete_failures > 0 {
        writeln!(
            out,
            "send errors {}, stray packets {}, failed deletes {}",
            r.send_errors, r.stray_packets, r.delete_failures
        )?;
    }
    Ok(())
}

/// `ringwire load`: runs the load and prints the summary, or the JSON
/// object with `--json`.
pub fn run_command(args: &LoadArgs) -> Result<(), LoadError> {
    let report = run(args, args.json)?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer(&mut out, &report).map_err(io::Error::other)?;
        writeln!(out)?;
    } else {
        write_summary(&mut out, &report)?;
    }
    Ok(())
}
