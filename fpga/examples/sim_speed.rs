//! Simulation speed of the Verilated block, in samples per second, and
//! the cycles per sample it took (feature `fpga-sim`):
//! `cargo run -p ringwire-fpga --features fpga-sim --example sim_speed`.
use ringwire_dsp::features::FeatureEngine;
use ringwire_fpga::FpgaSimEngine;
use std::time::Instant;

fn main() {
    let channels = 64;
    let packets = 100; // 20 ms of 160 samples each: 2 s of audio
    let mut engine = FpgaSimEngine::new().expect("simulated block");
    let ids: Vec<_> = (0..channels)
        .map(|_| engine.open_channel().unwrap())
        .collect();
    let mut seed = 0x9e37_79b9u32;
    let packet: Vec<i16> = (0..160)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as i16
        })
        .collect();
    let mut out = Vec::with_capacity(8);
    let cycles0 = engine.sim().cycles();
    let start = Instant::now();
    let mut blocks = 0usize;
    for _ in 0..packets {
        for &id in &ids {
            out.clear();
            engine.process(id, &packet, &mut out).unwrap();
            blocks += out.len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let samples = (channels * packets * 160) as f64;
    let cycles = engine.sim().cycles() - cycles0;
    println!(
        "{samples} samples, {blocks} records in {secs:.3} s: {:.2} M samples/s simulated; \
         {cycles} cycles = {:.3} cycles/sample (including the per-packet pipeline drain)",
        samples / secs / 1e6,
        cycles as f64 / samples
    );
}
