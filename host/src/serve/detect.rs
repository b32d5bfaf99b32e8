//! The control side of live detectors: installs a [`LiveTap`](crate::live::LiveTap) in every
//! relay worker, and takes their [`LiveEvent`]s on a thread of its own that
//! logs each (one `tracing` line, target `ringwire::detect`), counts it for
//! `/metrics`, keeps the last [`KEEP_PER_CALL`] of each call for the NG
//! `query` reply and pushes it to `[detectors] event_dest`
//! ([`super::push`]).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use ringwire_dsp::amd::AmdConfig;
use ringwire_dsp::beep::BeepConfig;
use ringwire_media::driver::{shard_for, DriverError, DriverHandle};
use ringwire_media::relay::{CallId, Command, LegId, TapHandle};

use crate::analyze::{DigitSource, DspBackend, Event};
use crate::live::{LiveControl, LiveEvent, TapCounters, EVENT_CAPACITY, LIVE_TAP};
use crate::ng::{DetectorEvent, EventField};
use crate::serve::push::{EventPush, PushCounters};
use crate::serve::ServeError;

/// Events kept per call for `query` (older ones are dropped first).
pub const KEEP_PER_CALL: usize = 64;

#[derive(Debug, Default)]
struct CallEvents {
    /// The SIP Call-ID.
    name: String,
    /// Tag of each leg's side, as far as known.
    tags: HashMap<LegId, usize>,
    sides: [Option<String>; 2],
    events: VecDeque<LiveEvent>,
}

/// Detector events of live calls, shared by the event thread, the control
/// layer (calls come and go, `query` reads) and metrics.
#[derive(Debug, Default)]
pub struct DetectEvents {
    calls: Mutex<HashMap<CallId, CallEvents>>,
    /// DTMF digits found (in-band and RFC 4733).
    pub dtmf: AtomicU64,
    /// AMD verdicts.
    pub amd: AtomicU64,
    /// Beeps.
    pub beep: AtomicU64,
    /// The taps' own counters (events lost to a full channel).
    pub taps: Arc<TapCounters>,
    /// Events pushed to `[detectors] event_dest`, and pushes that failed.
    pub pushed: Arc<PushCounters>,
    /// The sender to `[detectors] event_dest`, if any (a reload swaps it).
    push: Mutex<Option<EventPush>>,
}

impl DetectEvents {
    /// Pushes each event found from now on to `dests` (none: no push), from
    /// new sockets; the same destinations as now change nothing. On an
    /// error the pushes go on as before.
    pub fn push_to(&self, dests: &[std::net::SocketAddr]) -> std::io::Result<()> {
        let mut push = self.push.lock().unwrap_or_else(|p| p.into_inner());
        let now = push.as_ref().map_or(&[][..], |p| p.dests());
        if now == dests {
            return Ok(());
        }
        *push = EventPush::new(dests, self.pushed.clone())?;
        Ok(())
    }

    /// Sends `e` of call `call_id`, side `tag`, to the push destinations.
    fn push(&self, e: &LiveEvent, call_id: &str, tag: &str) {
        let mut push = self.push.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = push.as_mut() {
            p.send(e, call_id, tag);
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<CallId, CallEvents>) -> R) -> R {
        let mut g = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// Starts keeping events of `call` (SIP Call-ID `name`).
    pub fn open_call(&self, call: CallId, name: &str) {
        self.with(|m| {
            m.entry(call).or_default().name = name.to_string();
        });
    }

    /// Names side `side` of `call` by its tag.
    pub fn set_side(&self, call: CallId, side: usize, tag: &str) {
        self.with(|m| {
            if let Some(c) = m.get_mut(&call) {
                c.sides[side & 1] = Some(tag.to_string());
            }
        });
    }

    /// Says which side `leg` of `call` belongs to.
    pub fn add_leg(&self, call: CallId, leg: LegId, side: usize) {
        self.with(|m| {
            if let Some(c) = m.get_mut(&call) {
                c.tags.insert(leg, side & 1);
            }
        });
    }

    /// Stops keeping events of `call` (later ones are still logged and
    /// counted).
    pub fn close_call(&self, call: CallId) {
        self.with(|m| m.remove(&call));
    }

    /// Total events counted.
    pub fn total(&self) -> u64 {
        self.dtmf.load(Ordering::Relaxed)
            + self.amd.load(Ordering::Relaxed)
            + self.beep.load(Ordering::Relaxed)
    }

    /// Logs, counts and keeps one event; returns the SIP Call-ID of its
    /// call and the tag of its side (empty where not known).
    pub fn record(&self, e: &LiveEvent) -> (String, String) {
        let counter = match e.event {
            Event::Dtmf { .. } => &self.dtmf,
            Event::Amd { .. } => &self.amd,
            Event::Beep { .. } => &self.beep,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let (name, tag) = self.with(|m| match m.get_mut(&e.call) {
            Some(c) => {
                let tag = c
                    .tags
                    .get(&e.leg)
                    .and_then(|&s| c.sides[s].clone())
                    .unwrap_or_default();
                if c.events.len() >= KEEP_PER_CALL {
                    c.events.pop_front();
                }
                c.events.push_back(e.clone());
                (c.name.clone(), tag)
            }
            None => (String::new(), String::new()),
        });
        log_event(e, &name, &tag);
        (name, tag)
    }

    /// The kept events of `call`, oldest first, in the NG reply's shape.
    pub fn events(&self, call: CallId) -> Vec<DetectorEvent> {
        self.with(|m| {
            let Some(c) = m.get(&call) else {
                return Vec::new();
            };
            c.events
                .iter()
                .map(|e| {
                    let tag = c
                        .tags
                        .get(&e.leg)
                        .and_then(|&s| c.sides[s].clone())
                        .unwrap_or_default();
                    to_ng(e, tag)
                })
                .collect()
        })
    }
}

fn source_str(s: DigitSource) -> &'static str {
    match s {
        DigitSource::Inband => "inband",
        DigitSource::Rfc4733 => "rfc4733",
    }
}

fn to_ng(e: &LiveEvent, tag: String) -> DetectorEvent {
    let fields = match e.event {
        Event::Dtmf {
            digit,
            start_ms,
            end_ms,
            source,
        } => vec![
            ("digit", EventField::Str(digit.to_string())),
            ("source", EventField::Str(source_str(source).into())),
            ("duration", EventField::Int((end_ms - start_ms) as i64)),
        ],
        Event::Amd {
            verdict,
            cause,
            confidence,
            ..
        } => vec![
            ("verdict", EventField::Str(verdict.as_str().into())),
            ("cause", EventField::Str(cause.into())),
            ("confidence", EventField::Str(format!("{confidence:.2}"))),
        ],
        Event::Beep {
            start_ms,
            end_ms,
            freq_hz,
        } => vec![
            ("frequency", EventField::Int(freq_hz.round() as i64)),
            ("duration", EventField::Int((end_ms - start_ms) as i64)),
        ],
    };
    DetectorEvent {
        kind: e.kind(),
        tag,
        leg: e.leg.0,
        media_ms: e.media_ms,
        wall_ms: e.wall_ms,
        fields,
    }
}

fn log_event(e: &LiveEvent, name: &str, tag: &str) {
    let (call, leg, media_ms, wall_ms) = (e.call.0, e.leg.0, e.media_ms, e.wall_ms);
    match e.event {
        Event::Dtmf {
            digit,
            start_ms,
            end_ms,
            source,
        } => tracing::info!(
            target: "ringwire::detect",
            r#type = "dtmf", call_id = name, call, leg, tag, media_ms, wall_ms,
            digit = %digit, source = source_str(source), duration_ms = end_ms - start_ms,
            "detector event"
        ),
        Event::Amd {
            verdict,
            cause,
            confidence,
            ..
        } => tracing::info!(
            target: "ringwire::detect",
            r#type = "amd", call_id = name, call, leg, tag, media_ms, wall_ms,
            verdict = verdict.as_str(), cause, confidence = format_args!("{confidence:.2}"),
            "detector event"
        ),
        Event::Beep {
            start_ms,
            end_ms,
            freq_hz,
        } => tracing::info!(
            target: "ringwire::detect",
            r#type = "beep", call_id = name, call, leg, tag, media_ms, wall_ms,
            freq_hz = freq_hz.round() as i64, duration_ms = end_ms - start_ms,
            "detector event"
        ),
    }
}

/// A call id that lives on `shard` (for commands that address a shard, not
/// a call: the top of the id space, which the control layer never uses).
pub fn call_on_shard(shard: usize, shards: usize) -> CallId {
    (0..u64::from(u16::MAX))
        .map(|i| CallId(u64::MAX - i))
        .find(|&c| shard_for(c, shards) == shard)
        .unwrap_or(CallId(u64::MAX))
}

/// Installs a live tap in every shard of `driver` and starts the event
/// thread; returns the control side's handle and the shared events. Each
/// tap computes features with its own engine of `backend` and runs AMD
/// with `amd`; each event is also pushed to `push_to` as it is found
/// ([`EventPush`]).
pub fn start(
    driver: &DriverHandle,
    backend: DspBackend,
    amd: &AmdConfig,
    beep: &BeepConfig,
    push_to: &[std::net::SocketAddr],
) -> Result<(LiveControl, Arc<DetectEvents>), ServeError> {
    let (tx, rx) = mpsc::sync_channel(EVENT_CAPACITY);
    let shards = driver.shards();
    let (control, taps) = LiveControl::with_backend(shards, tx, backend)?;
    for (shard, mut tap) in taps.into_iter().enumerate() {
        tap.set_amd_config(amd.clone());
        tap.set_beep_config(beep.clone());
        let call = call_on_shard(shard, shards);
        debug_assert_eq!(driver.shard_of(call), shard);
        driver.command(
            call,
            Command::InstallTap {
                id: LIVE_TAP,
                tap: TapHandle::new(Box::new(tap)),
            },
        )?;
    }
    let events = Arc::new(DetectEvents {
        taps: control.counters.clone(),
        ..DetectEvents::default()
    });
    events.push_to(push_to).map_err(|e| DriverError::Io {
        what: "open the detector event push socket".into(),
        source: e,
    })?;
    let store = events.clone();
    std::thread::Builder::new()
        .name("ringwire-detect".into())
        .spawn(move || {
            for e in rx {
                let (call_id, tag) = store.record(&e);
                store.push(&e, &call_id, &tag);
            }
        })
        .map_err(|e| DriverError::Io {
            what: "spawn detector event thread".into(),
            source: e,
        })?;
    Ok((control, events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringwire_dsp::amd::AmdVerdict;

    #[test]
    fn shard_addressing() {
        for n in 1..6 {
            for s in 0..n {
                assert_eq!(shard_for(call_on_shard(s, n), n), s);
            }
        }
    }

    #[test]
    fn push_destinations_change_for_the_events_found_after() {
        let d = DetectEvents::default();
        let (one, two) = (
            std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
            std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
        );
        for s in [&one, &two] {
            s.set_nonblocking(true).unwrap();
        }
        let event = LiveEvent {
            call: CallId(1),
            leg: LegId(2),
            media_ms: 80,
            wall_ms: 1,
            event: Event::Dtmf {
                digit: '7',
                start_ms: 0,
                end_ms: 80,
                source: DigitSource::Inband,
            },
        };
        let got = |s: &std::net::UdpSocket| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let mut buf = [0u8; 512];
            std::iter::from_fn(|| s.recv(&mut buf).ok()).count()
        };
        d.push(&event, "c", "t");
        d.push_to(&[one.local_addr().unwrap()]).unwrap();
        d.push(&event, "c", "t");
        assert_eq!((got(&one), got(&two)), (1, 0));
        d.push_to(&[two.local_addr().unwrap()]).unwrap();
        d.push(&event, "c", "t");
        assert_eq!((got(&one), got(&two)), (0, 1));
        d.push_to(&[]).unwrap();
        d.push(&event, "c", "t");
        assert_eq!((got(&one), got(&two)), (0, 0));
        assert_eq!(d.pushed.sent.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn keeps_last_events_per_call_with_tags() {
        let d = DetectEvents::default();
        let call = CallId(4);
        d.open_call(call, "abc@host");
        d.set_side(call, 0, "from1");
        d.add_leg(call, LegId(1), 0);
        d.add_leg(call, LegId(2), 1);
        for i in 0..(KEEP_PER_CALL as u64 + 3) {
            d.record(&LiveEvent {
                call,
                leg: LegId(1),
                media_ms: i,
                wall_ms: 1,
                event: Event::Dtmf {
                    digit: '1',
                    start_ms: i,
                    end_ms: i + 80,
                    source: DigitSource::Inband,
                },
            });
        }
        d.record(&LiveEvent {
            call,
            leg: LegId(2),
            media_ms: 900,
            wall_ms: 2,
            event: Event::Amd {
                verdict: AmdVerdict::Machine,
                at_ms: 900,
                cause: "long-greeting",
                confidence: 0.9,
            },
        });
        // another call's events are counted, not kept here
        d.record(&LiveEvent {
            call: CallId(5),
            leg: LegId(9),
            media_ms: 0,
            wall_ms: 0,
            event: Event::Beep {
                start_ms: 0,
                end_ms: 300,
                freq_hz: 1000.0,
            },
        });
        let ev = d.events(call);
        assert_eq!(ev.len(), KEEP_PER_CALL);
        assert_eq!(ev[0].media_ms, 4);
        assert_eq!(ev[0].tag, "from1");
        let last = ev.last().unwrap();
        assert_eq!((last.kind, last.tag.as_str()), ("amd", ""));
        assert_eq!(d.dtmf.load(Ordering::Relaxed), KEEP_PER_CALL as u64 + 3);
        assert_eq!(d.total(), KEEP_PER_CALL as u64 + 5);
        d.close_call(call);
        assert!(d.events(call).is_empty());
    }
}
