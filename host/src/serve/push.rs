//! Pushes each live detector event, the moment it is found, as one JSON
//! datagram to the addresses of `[detectors] event_dest` (as rtpengine's
//! `dtmf-log-dest` does for digits): a dialer learns "human" without
//! polling `query`, in time to put an agent on before the caller hangs up.
//!
//! One datagram per event per address: the identity of the call (`call_id`,
//! `tag`, `call`, `leg`, `media_ms`, `wall_ms`), then the event's fields
//! exactly as `ringwire analyze --format json` writes them (`type`, and
//! `digit`/`source`, `verdict`/`at_ms`/`cause`/`confidence`, or
//! `start_ms`/`end_ms`/`freq_hz`).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;

use crate::live::LiveEvent;
use crate::report::JsonEvent;

/// Events pushed, and pushes that failed (counted, never retried: a
/// dialer that was down gets the rest from `query`).
#[derive(Debug, Default)]
pub struct PushCounters {
    /// Datagrams sent.
    pub sent: AtomicU64,
    /// Datagrams the kernel refused (buffer full, no route).
    pub errors: AtomicU64,
}

/// One pushed event: who, when, what.
#[derive(Serialize)]
struct Pushed<'a> {
    call_id: &'a str,
    tag: &'a str,
    call: u64,
    leg: u64,
    media_ms: u64,
    wall_ms: u64,
    #[serde(flatten)]
    event: JsonEvent,
}

/// The sender the detector event thread owns.
#[derive(Debug)]
pub struct EventPush {
    /// One socket per address family among the destinations (IPv4, IPv6).
    v4: Option<UdpSocket>,
    v6: Option<UdpSocket>,
    dests: Vec<SocketAddr>,
    buf: Vec<u8>,
    counters: Arc<PushCounters>,
}

/// A non-blocking UDP socket on an ephemeral port of `any`'s family.
fn socket_on(any: SocketAddr) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(any)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

impl EventPush {
    /// A sender to `dests` (none: `None`), from an ephemeral port of each
    /// address family they use.
    pub fn new(dests: &[SocketAddr], counters: Arc<PushCounters>) -> io::Result<Option<Self>> {
        if dests.is_empty() {
            return Ok(None);
        }
        let v4 = match dests.iter().any(|d| d.is_ipv4()) {
            true => Some(socket_on(([0, 0, 0, 0], 0).into())?),
            false => None,
        };
        let v6 = match dests.iter().any(|d| d.is_ipv6()) {
            true => Some(socket_on(([0u16; 8], 0).into())?),
            false => None,
        };
        Ok(Some(EventPush {
            v4,
            v6,
            dests: dests.to_vec(),
            buf: Vec::with_capacity(512),
            counters,
        }))
    }

    /// The addresses it pushes to.
    pub fn dests(&self) -> &[SocketAddr] {
        &self.dests
    }

    /// Sends `e` of call `call_id`, found on the side tagged `tag`, to
    /// every destination.
    pub fn send(&mut self, e: &LiveEvent, call_id: &str, tag: &str) {
        self.buf.clear();
        let line = Pushed {
            call_id,
            tag,
            call: e.call.0,
            leg: e.leg.0,
            media_ms: e.media_ms,
            wall_ms: e.wall_ms,
            event: JsonEvent::from(&e.event),
        };
        if serde_json::to_writer(&mut self.buf, &line).is_err() {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
        for dest in &self.dests {
            let socket = if dest.is_ipv4() { &self.v4 } else { &self.v6 };
            let Some(socket) = socket else { continue };
            match socket.send_to(&self.buf, dest) {
                Ok(_) => self.counters.sent.fetch_add(1, Ordering::Relaxed),
                Err(err) => {
                    tracing::debug!(%dest, "detector event not pushed: {err}");
                    self.counters.errors.fetch_add(1, Ordering::Relaxed)
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::Event;
    use ringwire_dsp::amd::AmdVerdict;
    use ringwire_media::relay::{CallId, LegId};
    use std::time::Duration;

    #[test]
    fn an_amd_verdict_reaches_each_destination_as_one_json_datagram() {
        let (d1, d2) = (
            UdpSocket::bind("127.0.0.1:0").unwrap(),
            UdpSocket::bind("127.0.0.1:0").unwrap(),
        );
        let dests = [d1.local_addr().unwrap(), d2.local_addr().unwrap()];
        let counters = Arc::new(PushCounters::default());
        let mut push = EventPush::new(&dests, counters.clone()).unwrap().unwrap();
        push.send(
            &LiveEvent {
                call: CallId(7),
                leg: LegId(3),
                media_ms: 2140,
                wall_ms: 1_796_000_000_000,
                event: Event::Amd {
                    verdict: AmdVerdict::Human,
                    at_ms: 2140,
                    cause: "greeting-then-silence",
                    confidence: 0.876,
                },
            },
            "abc@host",
            "callee",
        );
        for d in [&d1, &d2] {
            d.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut b = [0u8; 1024];
            let n = d.recv(&mut b).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&b[..n]).unwrap();
            assert_eq!(
                v,
                serde_json::json!({
                    "call_id": "abc@host", "tag": "callee", "call": 7, "leg": 3,
                    "media_ms": 2140, "wall_ms": 1_796_000_000_000u64,
                    "type": "amd", "verdict": "human", "at_ms": 2140,
                    "cause": "greeting-then-silence", "confidence": 0.88
                })
            );
        }
        assert_eq!(counters.sent.load(Ordering::Relaxed), 2);
        assert_eq!(counters.errors.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn ipv4_and_ipv6_destinations_each_get_the_event() {
        let d4 = UdpSocket::bind("127.0.0.1:0").unwrap();
        let Ok(d6) = UdpSocket::bind("[::1]:0") else {
            return; // no IPv6 loopback here
        };
        let dests = [d4.local_addr().unwrap(), d6.local_addr().unwrap()];
        let counters = Arc::new(PushCounters::default());
        let mut push = EventPush::new(&dests, counters.clone()).unwrap().unwrap();
        let e = LiveEvent {
            call: CallId(1),
            leg: LegId(2),
            media_ms: 0,
            wall_ms: 0,
            event: Event::Beep {
                start_ms: 6120,
                end_ms: 6620,
                freq_hz: 1000.0,
            },
        };
        push.send(&e, "c", "t");
        for d in [&d4, &d6] {
            d.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut b = [0u8; 512];
            let n = d.recv(&mut b).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&b[..n]).unwrap();
            assert_eq!((&v["type"], &v["freq_hz"]), (&"beep".into(), &1000.into()));
        }
        assert_eq!(counters.sent.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn no_destination_no_sender() {
        let counters = Arc::new(PushCounters::default());
        assert!(EventPush::new(&[], counters).unwrap().is_none());
    }
}
