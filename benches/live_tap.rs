//! Cost of detection on live legs, per packet: the detector tap of one
//! relay worker (`ringwire_host::live::LiveTap`, as `ringwire serve` runs
//! it) fed a tick of [`LEGS`] legs, each its next 20 ms µ-law packet, with
//! DTMF, AMD and beep detection on every leg. Run with
//! `cargo bench --bench live_tap`.
//!
//! What it measures beside the DSP: finding each leg's state among
//! thousands (a worker's shard at carrier scale does not fit the cache)
//! and the G.711 decode. The legs' audio is a call as the detectors see it
//! while they work (speech-like greeting, then line noise); each leg
//! starts a new call every [`CALL_TICKS`] ticks, so detection never ends.
use criterion::{Criterion, Throughput};
use ringwire_dsp::g711::Law;
use ringwire_dsp::signal::{to_i16, WhiteNoise};
use ringwire_host::live::{DetectorSet, LiveControl, LiveEvent, LiveTap, TapControl};
use ringwire_media::relay::{CallId, DetectorTap, LegId, TapPacket};
use std::sync::mpsc;
use std::time::Duration;

#[path = "support/speechlike.rs"]
mod speechlike;
use speechlike::{add_speech, rms_at, MS};

/// Legs on the worker: 2,000 calls' worth.
const LEGS: usize = 4000;
const FRAME: usize = 160;
/// Ticks (20 ms) of one call: 6 s.
const CALL_TICKS: usize = 300;

/// 6 s of a call's µ-law audio: 0.5 s of line noise, a 3 s greeting, line
/// noise.
fn call_audio() -> Vec<u8> {
    let mut s = vec![0.0f64; CALL_TICKS * FRAME];
    WhiteNoise::new(rms_at(-55.0), 5).add_to(&mut s);
    add_speech(&mut s, 500 * MS, 3000 * MS, 11);
    to_i16(&s)
        .into_iter()
        .map(|v| Law::Ulaw.encode_one(v))
        .collect()
}

/// Calls on the worker (two legs each).
const CALLS: u64 = LEGS as u64 / 2;

struct Bench {
    control: LiveControl,
    tap: LiveTap,
    events: mpsc::Receiver<LiveEvent>,
    audio: Vec<u8>,
    tick: u64,
}

/// Where call `c` is at tick `t`: its generation (the how-many-th call
/// on that slot) and the 20 ms frame into it. Calls are spread over the
/// phases, so every tick holds greetings, silences and decisions alike.
fn phase(c: u64, t: u64) -> (u64, usize) {
    let p = t + (c * 149) % CALL_TICKS as u64;
    (p / CALL_TICKS as u64, (p % CALL_TICKS as u64) as usize)
}

fn call_id(c: u64, generation: u64) -> CallId {
    CallId(generation * CALLS + c)
}

impl Bench {
    fn new() -> Self {
        let (tx, events) = mpsc::sync_channel(1 << 16);
        let (control, mut taps) = LiveControl::new(1, tx);
        let tap = taps.remove(0);
        let b = Bench {
            control,
            tap,
            events,
            audio: call_audio(),
            tick: 0,
        };
        for c in 0..CALLS {
            b.start_call(c, phase(c, 0).0);
        }
        b
    }

    /// Call slot `c`'s next call (fresh detectors), the one before it gone.
    fn start_call(&self, c: u64, generation: u64) {
        if generation > 0 {
            let call = call_id(c, generation - 1);
            self.control.send(0, TapControl::Forget { call });
        }
        let call = call_id(c, generation);
        for side in 0..2 {
            self.control.send(
                0,
                TapControl::Leg {
                    call,
                    leg: LegId(call.0 * 2 + side),
                    detectors: DetectorSet {
                        dtmf: true,
                        amd: true,
                        beep: true,
                    },
                    telephone_event: Some(101),
                },
            );
        }
    }

    /// One tick: every leg's next packet.
    fn tick(&mut self) {
        let t = self.tick;
        for c in 0..CALLS {
            let (generation, k) = phase(c, t);
            if k == 0 && t > 0 {
                self.start_call(c, generation);
            }
            let call = call_id(c, generation);
            let payload = &self.audio[k * FRAME..(k + 1) * FRAME];
            for side in 0..2 {
                self.tap.on_rtp(&TapPacket {
                    call,
                    leg: LegId(call.0 * 2 + side),
                    now: Duration::from_millis(20 * t),
                    payload_type: 0,
                    marker: false,
                    sequence: k as u16,
                    timestamp: (k * FRAME) as u32,
                    ssrc: side as u32 + 1,
                    payload,
                });
            }
        }
        while self.events.try_recv().is_ok() {}
        self.tick += 1;
    }
}

fn bench(c: &mut Criterion) {
    let mut b = Bench::new();
    let mut g = c.benchmark_group("live_tap");
    g.throughput(Throughput::Elements(LEGS as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(6));
    g.bench_function("dtmf+amd+beep, 4000 legs", |bn| bn.iter(|| b.tick()));
    g.finish();
    assert_eq!(b.tap.leg_count(), LEGS, "every leg configured");
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
