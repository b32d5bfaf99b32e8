//! Prometheus text metrics at `/metrics`: a tiny HTTP/1.0 responder on its
//! own thread (one short request at a time is all a scraper needs).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringwire_media::driver::{DriverHandle, LoopTimes, ShardSnapshot, LOOP_BUCKETS_US};

use super::control::NodeGauges;
use super::EventCounters;
use crate::ng::NgStats;

/// What the metrics come from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The relay workers.
    pub driver: Arc<DriverHandle>,
    /// The control layer's gauges.
    pub node: Arc<NodeGauges>,
    /// NG server counters, published by the NG loop.
    pub ng: Arc<Mutex<NgStats>>,
    /// Counts of relay events.
    pub events: Arc<EventCounters>,
    /// Detector events of live legs, when detectors run.
    pub detect: Option<Arc<super::detect::DetectEvents>>,
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, v) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {v}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
}

/// Writes a histogram: `buckets` pairs each upper bound with the count in
/// that bucket alone (not cumulative), `beyond` counts what passed every
/// bound; the text format's buckets are cumulative.
pub(crate) fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    buckets: impl IntoIterator<Item = (f64, u64)>,
    beyond: u64,
    sum: f64,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    let mut below = 0;
    for (le, n) in buckets {
        below += n;
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {below}");
    }
    let count = below + beyond;
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum {sum}");
    let _ = writeln!(out, "{name}_count {count}");
}

/// A histogram of the workers' loop times, in seconds.
fn loop_histogram(out: &mut String, name: &str, help: &str, h: &LoopTimes) {
    let bounds = LOOP_BUCKETS_US.iter().map(|&us| us as f64 / 1e6);
    let beyond = h.counts[LOOP_BUCKETS_US.len()];
    histogram(
        out,
        name,
        help,
        bounds.zip(h.counts),
        beyond,
        h.sum_ns as f64 / 1e9,
    );
}

/// Renders every metric in the Prometheus text format (0.0.4).
pub fn render(src: &Sources) -> String {
    let snap = src.driver.snapshot().unwrap_or_else(|e| {
        tracing::warn!("metrics: a shard did not answer: {e}");
        ShardSnapshot::default()
    });
    let ng = src.ng.lock().map(|g| *g).unwrap_or_default();
    let l = &snap.legs_total;
    let d = &snap.driver;
    let mut out = String::with_capacity(4096);
    let info = format!("driver=\"{}\"", src.driver.name());
    metric(
        &mut out,
        "ringwire_info",
        "gauge",
        "The IO driver in use.",
        &[(&info, 1)],
    );
    metric(
        &mut out,
        "ringwire_shards",
        "gauge",
        "Relay worker threads.",
        &[("", src.driver.shards() as u64)],
    );
    metric(
        &mut out,
        "ringwire_calls",
        "gauge",
        "Calls on the relay.",
        &[("", snap.calls)],
    );
    metric(
        &mut out,
        "ringwire_calls_held",
        "gauge",
        "Calls on hold: their SDPs hold media back in some direction (sendonly, recvonly, inactive, or c= 0.0.0.0).",
        &[("", src.node.calls_held.load(Ordering::Relaxed))],
    );
    metric(
        &mut out,
        "ringwire_calls_deleting",
        "gauge",
        "Calls the proxy deleted, kept for timeouts.delete_delay in case an offer or answer revives them (counted in ringwire_calls).",
        &[("", src.node.calls_deleting.load(Ordering::Relaxed))],
    );
    metric(
        &mut out,
        "ringwire_legs",
        "gauge",
        "Legs on the relay.",
        &[("", snap.legs)],
    );
    metric(
        &mut out,
        "ringwire_port_pairs_in_use",
        "gauge",
        "RTP/RTCP port pairs allocated.",
        &[("", src.node.port_pairs.load(Ordering::Relaxed))],
    );
    metric(
        &mut out,
        "ringwire_datagrams_received_total",
        "counter",
        "Datagrams read from media sockets.",
        &[("", d.received)],
    );
    metric(
        &mut out,
        "ringwire_datagrams_sent_total",
        "counter",
        "Datagrams handed to the kernel.",
        &[("", d.sent)],
    );
    metric(
        &mut out,
        "ringwire_rtp_packets_received_total",
        "counter",
        "RTP packets accepted from remotes.",
        &[("", l.packets)],
    );
    metric(
        &mut out,
        "ringwire_rtcp_packets_received_total",
        "counter",
        "RTCP packets accepted from remotes.",
        &[("", l.rtcp_packets)],
    );
    metric(
        &mut out,
        "ringwire_packets_relayed_total",
        "counter",
        "RTP and RTCP packets relayed out of legs.",
        &[("", l.sent_packets)],
    );
    metric(
        &mut out,
        "ringwire_bytes_relayed_total",
        "counter",
        "Bytes relayed out of legs.",
        &[("", l.sent_bytes)],
    );
    metric(
        &mut out,
        "ringwire_rtp_lost_total",
        "counter",
        "RTP packets lost on the way to the node.",
        &[("", l.lost)],
    );
    metric(
        &mut out,
        "ringwire_drops_total",
        "counter",
        "Datagrams dropped, by cause.",
        &[
            ("cause=\"malformed\"", l.malformed),
            ("cause=\"hijack\"", l.hijack_drops),
            ("cause=\"not_forwarded\"", l.not_forwarded),
            ("cause=\"unknown_port\"", snap.unknown_port),
            ("cause=\"truncated\"", d.truncated),
            ("cause=\"bad_source\"", d.bad_source),
            ("cause=\"send_error\"", d.send_errors),
            ("cause=\"peer_unreachable\"", d.send_unreachable),
        ],
    );
    metric(
        &mut out,
        "ringwire_recv_errors_total",
        "counter",
        "Failed receive system calls.",
        &[("", d.recv_errors)],
    );
    metric(
        &mut out,
        "ringwire_peer_unreachable_total",
        "counter",
        "ICMP errors about leg peers (port closed, host unreachable) read on leg sockets; a send refused for one is a drop, cause peer_unreachable.",
        &[("", d.peer_unreachable)],
    );
    metric(
        &mut out,
        "ringwire_worker_wakeups_total",
        "counter",
        "Wakeups of the relay workers.",
        &[("", d.wakeups)],
    );
    loop_histogram(
        &mut out,
        "ringwire_worker_loop_seconds",
        "Time the relay workers spend per wakeup, from the wait's return to the next wait.",
        &d.loop_times,
    );
    src.node.stream_quality.render(&mut out);
    metric(
        &mut out,
        "ringwire_events_dropped_total",
        "counter",
        "Relay events lost to a full channel.",
        &[("", d.events_dropped)],
    );
    metric(
        &mut out,
        "ringwire_media_timeouts_total",
        "counter",
        "Legs that went without RTP for the media timeout, by whether their call was on hold (quiet expected).",
        &[
            ("held=\"false\"", src.events.timeouts.load(Ordering::Relaxed)),
            ("held=\"true\"", src.events.timeouts_held.load(Ordering::Relaxed)),
        ],
    );
    metric(
        &mut out,
        "ringwire_latches_total",
        "counter",
        "Remote addresses moved by latching.",
        &[("", l.latches)],
    );
    metric(
        &mut out,
        "ringwire_ng_requests_total",
        "counter",
        "NG commands executed, by command.",
        &[
            ("command=\"ping\"", ng.pings),
            ("command=\"offer\"", ng.offers),
            ("command=\"answer\"", ng.answers),
            ("command=\"delete\"", ng.deletes),
            ("command=\"query\"", ng.queries),
        ],
    );
    metric(
        &mut out,
        "ringwire_ng_datagrams_total",
        "counter",
        "NG datagrams received.",
        &[("", ng.datagrams)],
    );
    metric(
        &mut out,
        "ringwire_ng_errors_total",
        "counter",
        "NG error replies sent.",
        &[("", ng.errors)],
    );
    metric(
        &mut out,
        "ringwire_ng_dropped_total",
        "counter",
        "NG datagrams without a cookie, dropped.",
        &[("", ng.dropped)],
    );
    metric(
        &mut out,
        "ringwire_ng_retransmits_total",
        "counter",
        "NG replies served from the retransmission cache.",
        &[("", ng.retransmits)],
    );
    metric(
        &mut out,
        "ringwire_ng_refused_draining_total",
        "counter",
        "Offers refused while draining.",
        &[("", src.node.refused_draining.load(Ordering::Relaxed))],
    );
    metric(
        &mut out,
        "ringwire_ng_refused_max_calls_total",
        "counter",
        "New calls refused at [media] max_calls.",
        &[("", src.node.refused_max_calls.load(Ordering::Relaxed))],
    );
    metric(
        &mut out,
        "ringwire_ng_refused_source_total",
        "counter",
        "NG datagrams dropped: their source is outside [control] allow.",
        &[("", src.node.ng_refused_source.load(Ordering::Relaxed))],
    );
    let node = &src.node;
    metric(
        &mut out,
        "ringwire_config_reloads_total",
        "counter",
        "Config reloads (SIGHUP) by result: taken, or refused and nothing changed.",
        &[
            ("result=\"ok\"", node.reloads_ok.load(Ordering::Relaxed)),
            (
                "result=\"error\"",
                node.reloads_failed.load(Ordering::Relaxed),
            ),
        ],
    );
    metric(
        &mut out,
        "ringwire_config_last_reload_successful",
        "gauge",
        "1 unless the last config reload was refused (the node runs on the config before it).",
        &[(
            "",
            u64::from(!node.last_reload_failed.load(Ordering::Relaxed)),
        )],
    );
    metric(
        &mut out,
        "ringwire_calls_expired_total",
        "counter",
        "Calls the node deleted itself: answered, with no RTP for timeouts.call; \
         or never answered within timeouts.offer.",
        &[
            (
                "cause=\"no_media\"",
                src.node.expired_no_media.load(Ordering::Relaxed),
            ),
            (
                "cause=\"no_answer\"",
                src.node.expired_no_answer.load(Ordering::Relaxed),
            ),
        ],
    );
    if let Some(det) = &src.detect {
        metric(
            &mut out,
            "ringwire_detector_events_total",
            "counter",
            "Detector events on live legs, by detector.",
            &[
                ("type=\"dtmf\"", det.dtmf.load(Ordering::Relaxed)),
                ("type=\"amd\"", det.amd.load(Ordering::Relaxed)),
                ("type=\"beep\"", det.beep.load(Ordering::Relaxed)),
            ],
        );
        metric(
            &mut out,
            "ringwire_detector_events_dropped_total",
            "counter",
            "Detector events lost to a full channel.",
            &[("", det.taps.dropped.load(Ordering::Relaxed))],
        );
        metric(
            &mut out,
            "ringwire_detector_events_pushed_total",
            "counter",
            "Detector event datagrams sent to [detectors] event_dest, and sends that failed.",
            &[
                ("result=\"sent\"", det.pushed.sent.load(Ordering::Relaxed)),
                (
                    "result=\"error\"",
                    det.pushed.errors.load(Ordering::Relaxed),
                ),
            ],
        );
        metric(
            &mut out,
            "ringwire_detector_packets_total",
            "counter",
            "RTP packets fed to live detectors (published every 1024 per worker).",
            &[("", det.taps.packets.load(Ordering::Relaxed))],
        );
    }
    let v4 = std::fs::read_to_string("/proc/net/snmp")
        .ok()
        .and_then(|snmp| udp_no_ports(&snmp));
    let v6 = std::fs::read_to_string("/proc/net/snmp6")
        .ok()
        .and_then(|snmp6| udp6_no_ports(&snmp6));
    if v4.is_some() || v6.is_some() {
        metric(
            &mut out,
            "ringwire_host_udp_no_ports_total",
            "counter",
            "UDP datagrams the host's kernel found no socket for (IPv4 and IPv6, \
             all processes; includes those from other sources to a leg pinned to \
             its remote).",
            &[("", v4.unwrap_or(0) + v6.unwrap_or(0))],
        );
    }
    out
}

/// The `NoPorts` counter of the `Udp:` lines of `/proc/net/snmp` (a line
/// of names, then a line of values).
fn udp_no_ports(snmp: &str) -> Option<u64> {
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (names, values) = (udp.next()?, udp.next()?);
    let at = names.split_whitespace().position(|n| n == "NoPorts")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// `Udp6NoPorts` of `/proc/net/snmp6` (a name and a value per line).
fn udp6_no_ports(snmp6: &str) -> Option<u64> {
    snmp6.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        (f.next() == Some("Udp6NoPorts")).then(|| f.next()?.parse().ok())?
    })
}

/// Serves `/metrics` on `listener` until the process ends.
pub fn serve(listener: TcpListener, src: Sources) {
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                if let Err(e) = respond(stream, &src) {
                    tracing::debug!("metrics connection: {e}");
                }
            }
            Err(e) => tracing::debug!("metrics accept: {e}"),
        }
    }
}

/// How long a client has to send its whole request head: one slower (a
/// stalled or hostile client trickling bytes) is dropped, so it cannot
/// hold the endpoint's one thread from the next scrape for longer.
const REQUEST_DEADLINE: Duration = Duration::from_secs(2);

/// Reads an HTTP request head (to its blank line, at most 8 KiB) from
/// `stream`, all of it within `within`; a `TimedOut` error after that.
fn read_head(stream: &mut TcpStream, within: Duration) -> std::io::Result<Vec<u8>> {
    let deadline = Instant::now() + within;
    let mut req = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 8192 {
        let too_slow =
            || std::io::Error::new(std::io::ErrorKind::TimedOut, "request head too slow");
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(too_slow());
        }
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut buf) {
            // the read's timeout (Linux says "would block") is the deadline
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Err(too_slow()),
            r => r?,
        };
        if n == 0 {
            break;
        }
        req.extend_from_slice(&buf[..n]);
    }
    Ok(req)
}

fn respond(mut stream: TcpStream, src: &Sources) -> std::io::Result<()> {
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let req = read_head(&mut stream, REQUEST_DEADLINE)?;
    let line = req.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, ctype, body) = match (method, path.split('?').next().unwrap_or("")) {
        ("GET", "/metrics") => ("200 OK", "text/plain; version=0.0.4", render(src)),
        ("GET", _) => (
            "404 Not Found",
            "text/plain",
            "not found: try /metrics\n".into(),
        ),
        _ => ("405 Method Not Allowed", "text/plain", "GET only\n".into()),
    };
    let head = format!(
        "HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_trickling_its_request_is_dropped_at_the_deadline() {
        // One byte every 50 ms never ends a head: without a deadline for
        // the whole head (a timeout per read only), such a client holds
        // the metrics thread for as long as it likes.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            for _ in 0..40 {
                if c.write_all(b"G").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let (mut conn, _) = listener.accept().unwrap();
        let t = Instant::now();
        let e = read_head(&mut conn, Duration::from_millis(300)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert!(
            t.elapsed() < Duration::from_millis(1000),
            "{:?}",
            t.elapsed()
        );
        drop(conn);
        client.join().unwrap();
        // a client in time gets its head read
        let client = std::thread::spawn(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
        });
        let (mut conn, _) = listener.accept().unwrap();
        let head = read_head(&mut conn, Duration::from_millis(300)).unwrap();
        assert!(head.starts_with(b"GET /metrics"));
        client.join().unwrap();
    }

    #[test]
    fn no_ports_is_read_from_the_udp_lines() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\n\
                    Udp: InDatagrams NoPorts InErrors\nUdp: 120 7 0\n\
                    UdpLite: InDatagrams NoPorts\nUdpLite: 0 0\n";
        assert_eq!(udp_no_ports(snmp), Some(7));
        assert_eq!(udp_no_ports("Udp: InDatagrams\nUdp: 1\n"), None);
        assert_eq!(udp_no_ports(""), None);
        let snmp6 = "Udp6InDatagrams                 \t120\nUdp6NoPorts                     \t5\n\
                     Udp6InErrors                    \t0\n";
        assert_eq!(udp6_no_ports(snmp6), Some(5));
        assert_eq!(udp6_no_ports("Udp6NoPorts\n"), None);
        assert_eq!(udp6_no_ports(""), None);
    }
}
