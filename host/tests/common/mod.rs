//! The harness the `ringwire serve` end-to-end tests share: the node as a
//! child process, an NG client, SDP and metrics helpers.
#![allow(dead_code)] // each test binary uses its own part of it

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ringwire_host::ng::bencode::{decode, Dict, Value};

pub const WAIT: Duration = Duration::from_secs(3);

/// Kills the node if a test fails half way.
pub struct Node {
    pub child: Child,
    pub log: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends the node `signal` (SIGHUP, SIGTERM, ...).
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid; no memory is touched.
        let r = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(r, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Waits up to [`WAIT`] for the log to hold `text` more than `seen`
    /// times (0: at all).
    pub fn wait_for_log(&self, text: &str, seen: usize) {
        let t = Instant::now();
        while self.log().matches(text).count() <= seen {
            assert!(
                t.elapsed() < WAIT,
                "no {text:?} in the log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ringwire-serve-test-{}-{name}", std::process::id()))
}

pub fn spawn(config: &str, name: &str) -> Node {
    spawn_with(config, name, None)
}

/// [`spawn`], with the soft and hard open-descriptor limits set to `nofile`
/// when given (through the shell's `ulimit -n`).
pub fn spawn_with(config: &str, name: &str, nofile: Option<u32>) -> Node {
    spawn_node(config, name, nofile, Some("info"))
}

/// [`spawn`], logging at the config's `[log] level` (no `RINGWIRE_LOG`).
pub fn spawn_at_config_level(config: &str, name: &str) -> Node {
    spawn_node(config, name, None, None)
}

fn spawn_node(config: &str, name: &str, nofile: Option<u32>, log_env: Option<&str>) -> Node {
    let path = temp_path(&format!("{name}.toml"));
    std::fs::write(&path, config).unwrap();
    let log = temp_path(&format!("{name}.log"));
    let bin = env!("CARGO_BIN_EXE_ringwire");
    let mut cmd = match nofile {
        None => Command::new(bin),
        Some(n) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                .arg(bin);
            c
        }
    };
    match log_env {
        Some(level) => cmd.env("RINGWIRE_LOG", level),
        None => cmd.env_remove("RINGWIRE_LOG"),
    };
    let child = cmd
        .args(["serve", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    Node { child, log }
}

/// A `ringwire serve` on loopback (NG and metrics on free ports, 20
/// media ports from `port_base`) with `extra` config appended; its NG
/// port and metrics address, once it answers pings.
#[allow(dead_code)] // not every test binary starts its nodes this way
pub fn start_node(name: &str, port_base: u16, extra: &str) -> (Node, u16, SocketAddr) {
    let (ng_port, metrics_port) = (free_udp_port(), free_tcp_port());
    let config = format!(
        "[control]\nng = \"127.0.0.1:{ng_port}\"\n\
         [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\
         [media]\nport_min = {port_base}\nport_max = {}\n{extra}",
        port_base + 19
    );
    let node = spawn(&config, name);
    let ng_addr: SocketAddr = format!("127.0.0.1:{ng_port}").parse().unwrap();
    wait_for_pong(&mut Ng::new(ng_addr), &node);
    let metrics = format!("127.0.0.1:{metrics_port}").parse().unwrap();
    (node, ng_port, metrics)
}

/// An NG client: one socket, a counter for cookies.
pub struct Ng {
    pub socket: UdpSocket,
    pub node: SocketAddr,
    n: u32,
}

impl Ng {
    pub fn new(node: SocketAddr) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        Ng { socket, node, n: 0 }
    }

    pub fn raw(&mut self, datagram: &[u8]) -> Vec<u8> {
        self.socket.send_to(datagram, self.node).unwrap();
        let mut buf = vec![0u8; 65536];
        let (n, _) = self
            .socket
            .recv_from(&mut buf)
            .expect("an NG reply in time");
        buf.truncate(n);
        buf
    }

    /// Sends `dict` with a fresh cookie; returns the reply's body.
    pub fn request(&mut self, dict: &Dict<'_>) -> Vec<u8> {
        self.n += 1;
        let cookie = format!("c{}_{}", std::process::id(), self.n);
        let mut d = cookie.clone().into_bytes();
        d.push(b' ');
        dict.encode(&mut d);
        let reply = self.raw(&d);
        let prefix = format!("{cookie} ");
        assert!(reply.starts_with(prefix.as_bytes()), "cookie echoed");
        reply[prefix.len()..].to_vec()
    }
}

pub fn field<'a>(reply: &'a [u8], key: &str) -> Option<&'a [u8]> {
    match decode(reply).ok()? {
        Value::Dict(d) => d.get(key.as_bytes()).and_then(|v| v.as_bytes()),
        _ => None,
    }
}

pub fn result(reply: &[u8]) -> String {
    String::from_utf8_lossy(field(reply, "result").unwrap_or(b"?")).into_owned()
}

pub fn sdp(rtp: u16, rtcp: u16, sess: u32) -> String {
    format!(
        "v=0\r\no=- {sess} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=rtcp:{rtcp}\r\na=sendrecv\r\n"
    )
}

/// The address and RTP port a rewritten SDP points at.
pub fn sdp_target(sdp: &[u8]) -> SocketAddr {
    let text = String::from_utf8_lossy(sdp);
    let ip = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("c=IN IP4 "))
        .expect("c= line");
    let port = text
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split_whitespace().next())
        .expect("m= line");
    format!("{ip}:{port}").parse().unwrap()
}

pub fn endpoint() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

pub fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = s
        .recv_from(&mut buf)
        .expect("media through the node in time");
    (buf[..n].to_vec(), from)
}

pub fn scrape(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect_timeout(&addr, WAIT).expect("metrics listening");
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    assert!(body.starts_with("HTTP/1.0 200"), "{body}");
    body
}

pub fn metric(body: &str, series: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{body}"))
        .trim()
        .parse()
        .unwrap()
}

/// Waits up to [`WAIT`] for the counter `series` at `metrics` to reach
/// `at_least` (counts a worker has not yet taken in lag the traffic a
/// moment); fails with the node's log if it does not.
pub fn wait_for_metric(metrics: SocketAddr, series: &str, at_least: u64, node: &Node) {
    let t = Instant::now();
    loop {
        let value = metric(&scrape(metrics), series);
        if value >= at_least {
            return;
        }
        assert!(
            t.elapsed() < WAIT,
            "{series} is {value}, not {at_least} or more:\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Pings until the node answers (it is still starting), at most 10 s.
pub fn wait_for_pong(ng: &mut Ng, node: &Node) {
    ng.socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    loop {
        let mut ping = Dict::new();
        ping.insert("command", "ping");
        let mut d = b"ping1 ".to_vec();
        ping.encode(&mut d);
        ng.socket.send_to(&d, ng.node).unwrap();
        let mut buf = [0u8; 512];
        if let Ok((n, _)) = ng.socket.recv_from(&mut buf) {
            assert_eq!(result(&buf[6..n]), "pong");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "node never answered ping; log:\n{}",
            node.log()
        );
    }
    ng.socket.set_read_timeout(Some(WAIT)).unwrap();
}

/// The top-level `SSRC` dict of a `query` or `delete` reply body,
/// flattened to `(ssrc, "dict/key", value)` in order (an entry with
/// nothing scored is `(ssrc, "", 0)`); rtpengine's `MOS progression`,
/// which ringwire does not write, is left out.
pub fn ssrc_entries(reply: &[u8]) -> Vec<(String, String, i64)> {
    let Ok(Value::Dict(r)) = decode(reply) else {
        panic!("a reply dict")
    };
    let ssrcs = r
        .get(b"SSRC".as_slice())
        .and_then(|d| d.as_dict())
        .expect("an SSRC dict");
    let mut out = Vec::new();
    for (ssrc, entry) in ssrcs.iter() {
        let ssrc = String::from_utf8_lossy(ssrc).into_owned();
        let entry = entry.as_dict().expect("an entry dict");
        if entry.iter().next().is_none() {
            out.push((ssrc.clone(), String::new(), 0));
        }
        for (k, v) in entry.iter() {
            let k = String::from_utf8_lossy(k).into_owned();
            match v {
                Value::Dict(_) if k == "MOS progression" => {}
                Value::Dict(d) => {
                    for (kk, vv) in d.iter() {
                        let kk = String::from_utf8_lossy(kk);
                        out.push((ssrc.clone(), format!("{k}/{kk}"), vv.as_int().unwrap()));
                    }
                }
                v => out.push((ssrc.clone(), k, v.as_int().expect("a number"))),
            }
        }
    }
    out.sort();
    out
}
