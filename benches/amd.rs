//! Throughput of answering-machine and beep detection together, in 8 kHz
//! channels per core (target: at least 20,000). Run with
//! `cargo bench --bench amd`. With `RINGWIRE_BENCH_TICKS=N` in the
//! environment it runs exactly N ticks and no timing, a fixed workload for
//! counting instructions (`valgrind --tool=callgrind`) where the shared
//! machine's timing cannot resolve a few percent.
//!
//! One timed iteration is a worker's media tick: [`CHANNELS`] channels, each
//! fed its next 20 ms frame through the feature engine, then the AMD and
//! beep detectors. The peer, measured in the same run on the same input, is
//! the classic app_amd algorithm (`ringwire_host::baseline`, the
//! evaluation's baseline: an energy threshold and word counting per 20 ms
//! frame, no beep detection). The input is a call as the detectors see it while they
//! work: leading silence, a greeting of speech-like audio (harmonic vowels,
//! fricative noise, pauses), a beep, line noise. A channel whose AMD has
//! decided starts a new call (fresh detectors), so every channel is always
//! analysing: the measured cost is the cost during analysis, not after it.
use criterion::{Criterion, Throughput};
use ringwire_dsp::amd::{AmdConfig, AmdDetector, TONE_SOUNDING_MS};
use ringwire_dsp::beep::{BeepConfig, BeepDetector};
use ringwire_dsp::features::{ChannelId, FeatureBlock, FeatureEngine, SoftwareEngine};
use ringwire_dsp::signal::{to_i16, Sine, WhiteNoise};
use ringwire_host::baseline::{ClassicAmd, ClassicAmdConfig};
use std::time::{Duration, Instant};

#[path = "support/speechlike.rs"]
mod speechlike;
use speechlike::{add_speech, rms_at, MS};

const CHANNELS: usize = 256;
const FRAME: usize = 160;
const INPUT_LEN: usize = 8 * 8000;
const NFRAMES: usize = INPUT_LEN / FRAME;

/// 8 s of a machine-answered call: 0.6 s silence, 4 s of speech-like
/// greeting, a 1 kHz beep of 400 ms, then line noise.
fn input() -> Vec<i16> {
    let mut s = vec![0.0f64; INPUT_LEN];
    WhiteNoise::new(rms_at(-55.0), 9).add_to(&mut s);
    add_speech(&mut s, 600 * MS, 4000 * MS, 3);
    let mut beep = Sine::new(1000.0, 8000.0, 6000.0, 0.0);
    for v in &mut s[4900 * MS..5300 * MS] {
        *v += beep.next_sample();
    }
    to_i16(&s)
}

struct Worker {
    engine: SoftwareEngine,
    channels: Vec<ChannelId>,
    amd: Vec<AmdDetector>,
    beep: Vec<BeepDetector>,
    blocks: Vec<FeatureBlock>,
    tick: usize,
    decisions: u64,
}

impl Worker {
    fn new() -> Self {
        let mut engine = SoftwareEngine::new();
        let channels = (0..CHANNELS)
            .map(|_| engine.open_channel().unwrap())
            .collect();
        Self {
            engine,
            channels,
            amd: (0..CHANNELS)
                .map(|_| AmdDetector::new(AmdConfig::default()))
                .collect(),
            beep: (0..CHANNELS)
                .map(|_| BeepDetector::new(BeepConfig::default()))
                .collect(),
            blocks: Vec::with_capacity(8),
            tick: 0,
            decisions: 0,
        }
    }

    fn tick(&mut self, input: &[i16]) {
        for ch in 0..CHANNELS {
            let frame = (self.tick + ch * 7) % NFRAMES;
            let pcm = &input[frame * FRAME..(frame + 1) * FRAME];
            self.blocks.clear();
            self.engine
                .process(self.channels[ch], pcm, &mut self.blocks)
                .unwrap();
            for b in &self.blocks {
                let (amd, beep) = (&mut self.amd[ch], &mut self.beep[ch]);
                if let Some(heard) = beep.push(b) {
                    amd.note_beep(heard.start, heard.end);
                }
                // what the live path tells the AMD of the beep detector
                // at every block (`CallDetectors::push`)
                if beep.take_sit().is_some() {
                    amd.note_sit();
                }
                amd.note_beep_in_flight(beep.beep_in_flight());
                amd.note_tone_sounding(beep.tone_sounding(TONE_SOUNDING_MS));
                if amd.push(b).is_some() {
                    self.decisions += 1;
                    // next call on this channel
                    self.amd[ch] = AmdDetector::new(AmdConfig::default());
                    self.beep[ch] = BeepDetector::new(BeepConfig::default());
                }
            }
        }
        self.tick += 1;
    }
}

/// The peer: the classic app_amd detector on the same channels and input.
struct ClassicWorker {
    amd: Vec<ClassicAmd>,
    tick: usize,
    decisions: u64,
}

impl ClassicWorker {
    fn new() -> Self {
        Self {
            amd: (0..CHANNELS)
                .map(|_| ClassicAmd::new(ClassicAmdConfig::default()))
                .collect(),
            tick: 0,
            decisions: 0,
        }
    }

    fn tick(&mut self, input: &[i16]) {
        for ch in 0..CHANNELS {
            let frame = (self.tick + ch * 7) % NFRAMES;
            if self.amd[ch]
                .push_frame(&input[frame * FRAME..(frame + 1) * FRAME])
                .is_some()
            {
                self.decisions += 1;
                self.amd[ch] = ClassicAmd::new(ClassicAmdConfig::default());
            }
        }
        self.tick += 1;
    }
}

/// Best rate of `tick` over five 400 ms slices, in 8 kHz channels.
fn channels_per_core(mut tick: impl FnMut()) -> f64 {
    let mut best = 0.0f64;
    for _ in 0..5 {
        let start = Instant::now();
        let mut ticks = 0u64;
        while start.elapsed() < Duration::from_millis(400) {
            tick();
            ticks += 1;
        }
        let rate = (ticks as f64 * (CHANNELS * FRAME) as f64) / start.elapsed().as_secs_f64();
        best = best.max(rate);
    }
    best / 8000.0
}

fn main() {
    let input = input();
    // a fixed workload, for instruction counts (valgrind --tool=callgrind)
    if let Some(ticks) = std::env::var("RINGWIRE_BENCH_TICKS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        let mut worker = Worker::new();
        for _ in 0..ticks {
            worker.tick(&input);
        }
        println!("{ticks} ticks, {} decisions", worker.decisions);
        return;
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .configure_from_args();
    let mut group = c.benchmark_group("amd_beep");
    group.throughput(Throughput::Elements((CHANNELS * FRAME) as u64));
    let mut worker = Worker::new();
    group.bench_function("engine+amd+beep", |b| b.iter(|| worker.tick(&input)));
    let mut classic = ClassicWorker::new();
    group.bench_function("classic app_amd", |b| b.iter(|| classic.tick(&input)));
    group.finish();
    c.final_summary();

    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--list") {
        // plain timed loops, best of five 400 ms slices each, back to back
        let (mut worker, mut classic) = (Worker::new(), ClassicWorker::new());
        let ours = channels_per_core(|| worker.tick(&input));
        let peer = channels_per_core(|| classic.tick(&input));
        println!(
            "summary amd+beep: {ours:.0} channels/core ({} decisions made), target >= 20000; \
             classic app_amd (no beep detection) in the same run: {peer:.0} channels/core \
             ({} decisions), {:.3}x ours",
            worker.decisions,
            classic.decisions,
            peer / ours
        );
    }
}
