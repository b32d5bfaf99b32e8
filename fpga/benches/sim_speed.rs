//! Simulation speed of the Verilated feature block, in samples per second
//! (criterion's element throughput), through [`FpgaSimEngine`] and the
//! descriptor ring, beside [`SoftwareEngine`] on the same input in the
//! same run:
//!
//! `cargo bench -p ringwire-fpga --features fpga-sim --bench sim_speed`
//!
//! The load is the driver's real order: 64 channels, 20 ms packets (160
//! samples, one descriptor each), 25 packets per channel per iteration
//! (0.5 s of audio on every channel, 256,000 samples). The simulated
//! clock cycles per sample are printed once (they do not depend on the
//! host machine).
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringwire_dsp::features::{ChannelId, FeatureBlock, FeatureEngine, SoftwareEngine};
use ringwire_fpga::FpgaSimEngine;
use std::hint::black_box;
use std::time::Duration;

const CHANNELS: usize = 64;
const PACKET: usize = 160;
const PACKETS: usize = 25;

/// Each channel's audio for one iteration (xorshift noise, full scale).
fn audio() -> Vec<Vec<i16>> {
    let mut seed = 0x9e37_79b9u32;
    (0..CHANNELS)
        .map(|_| {
            (0..PACKET * PACKETS)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as i16
                })
                .collect()
        })
        .collect()
}

/// One iteration: every channel's packets, round robin. Returns the
/// records produced.
fn feed<E: FeatureEngine>(
    engine: &mut E,
    ids: &[ChannelId],
    audio: &[Vec<i16>],
    out: &mut Vec<FeatureBlock>,
) -> usize {
    let mut records = 0;
    for p in 0..PACKETS {
        for (id, x) in ids.iter().zip(audio) {
            out.clear();
            engine
                .process(*id, &x[p * PACKET..][..PACKET], out)
                .unwrap();
            records += out.len();
        }
    }
    records
}

fn open<E: FeatureEngine>(engine: &mut E) -> Vec<ChannelId> {
    (0..CHANNELS)
        .map(|_| engine.open_channel().unwrap())
        .collect()
}

fn sim_speed(c: &mut Criterion) {
    let audio = audio();
    let samples = (CHANNELS * PACKETS * PACKET) as u64;
    let mut out = Vec::with_capacity(8);

    let mut fpga = FpgaSimEngine::new().expect("simulated block");
    let fpga_ids = open(&mut fpga);
    let cycles0 = fpga.sim().cycles();
    feed(&mut fpga, &fpga_ids, &audio, &mut out);
    let cycles = fpga.sim().cycles() - cycles0;
    println!(
        "fpga-sim: {cycles} simulated cycles for {samples} samples = {:.4} cycles/sample \
         (the ring engine fetches, drains the pipeline and writes the done entry for each 160-sample descriptor)",
        cycles as f64 / samples as f64
    );

    let mut sw = SoftwareEngine::new();
    let sw_ids = open(&mut sw);

    let mut group = c.benchmark_group("feature_engine");
    group.throughput(Throughput::Elements(samples));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("fpga-sim", |b| {
        b.iter(|| black_box(feed(&mut fpga, &fpga_ids, &audio, &mut out)))
    });
    group.bench_function("software", |b| {
        b.iter(|| black_box(feed(&mut sw, &sw_ids, &audio, &mut out)))
    });
    group.finish();
}

criterion_group!(benches, sim_speed);
criterion_main!(benches);
