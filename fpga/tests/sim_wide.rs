//! The wide build (`Model::Wide`: `CH_BITS=15`, 32,768 channel slots, the
//! 250 MHz sizing) whose accumulator RAM is 8 banks of 4,096 with a
//! registered bank multiplexer: read latency 3, so the read moves a stage
//! earlier and the near-repeat window grows to 4. Bit-exact against the
//! software engine on sample-by-sample interleavings (channels in
//! different banks at the same bank address), the stall rule exactly, and
//! one cycle per sample in packet order. Needs `--features fpga-sim`.
#![cfg(feature = "fpga-sim")]

use proptest::prelude::*;
use ringwire_dsp::features::{FeatureBlock, FeatureEngine, SoftwareEngine};
use ringwire_dsp::signal::{to_i16, WhiteNoise};
use ringwire_fpga::regs;
use ringwire_fpga::sim::{Model, Record, Sim, SimError};
use ringwire_fpga::FpgaSimEngine;

const RD_LAT: u32 = 3;
const DRAIN: u64 = regs::LATENCY_CYCLES as u64 + 8;
/// Channel ids in four of the eight banks, three of them at the same
/// address within their bank (5): a wrong bank decode mixes them.
const CHANS: [u32; 4] = [5, 4096 + 5, 7 * 4096 + 5, 32767];

fn noise(len: usize, rms: f64, seed: u64) -> Vec<i16> {
    let mut x = vec![0.0; len];
    WhiteNoise::new(rms, seed).add_to(&mut x);
    to_i16(&x)
}

fn wide() -> Sim {
    let mut sim = Sim::with_model(Model::Wide, 0).unwrap();
    sim.write32(regs::CTRL, regs::CTRL_ENABLE).unwrap();
    sim
}

/// The software engine's blocks for this channel's samples, and the
/// block's records of that channel.
fn check_channel(records: &[Record], channel: u32, samples: &[i16]) {
    let mut sw = SoftwareEngine::new();
    let id = sw.open_channel().unwrap();
    let mut expect = Vec::new();
    sw.process(id, samples, &mut expect).unwrap();
    let got: Vec<FeatureBlock> = records
        .iter()
        .filter(|r| r.channel == channel)
        .map(|r| ringwire_fpga::engine::feature_block(&r.words))
        .collect();
    assert_eq!(got, expect, "channel {channel}");
}

/// Cycles the core takes to accept samples of these channels, one offered
/// per cycle, at accumulator read latency `rd_lat`: one each, plus the
/// stall of a near-repeat (the channel had a sample 2 to
/// `near_repeat_window(rd_lat)` cycles earlier, not 1 cycle earlier).
fn expected_cycles(chans: &[u32], rd_lat: u32) -> u64 {
    let window = regs::near_repeat_window(rd_lat) as u64;
    let mut issued: Vec<(u64, u32)> = Vec::new();
    let mut next = 0u64;
    for &c in chans {
        let at = |issued: &[(u64, u32)], t: u64, d: u64| {
            issued
                .iter()
                .rev()
                .take(window as usize)
                .any(|&(u, ch)| u + d == t && ch == c)
        };
        let mut t = next;
        while !at(&issued, t, 1) && (2..=window).any(|d| at(&issued, t, d)) {
            t += 1;
        }
        assert!(t - next <= regs::max_stall_cycles(rd_lat) as u64);
        issued.push((t, c));
        next = t + 1;
    }
    next
}

#[test]
fn wide_build_reports_its_read_latency() {
    let mut sim = wide();
    assert_eq!(sim.model(), Model::Wide);
    assert_eq!(sim.read32(regs::ID), regs::ID_VALUE);
    assert_eq!(sim.read32(regs::VERSION), regs::VERSION_VALUE);
    assert_eq!(sim.read32(regs::CAPACITY), 32768);
    assert_eq!(sim.read32(regs::ACC_RD_LAT), RD_LAT);
    assert_eq!(regs::max_stall_cycles(RD_LAT), regs::MAX_STALL_CYCLES);
    sim.write32(regs::ACC_RD_LAT, 2).unwrap();
    assert_eq!(sim.read32(regs::ERRORS), 1, "read-only");
    assert_eq!(sim.read32(regs::ACC_RD_LAT), RD_LAT);

    let mut small = Sim::new().unwrap();
    assert_eq!(small.model(), Model::Default);
    assert_eq!(small.read32(regs::VERSION), regs::VERSION_VALUE);
    assert_eq!(small.read32(regs::ACC_RD_LAT), regs::DEFAULT_ACC_RD_LAT);
    assert_eq!(
        regs::near_repeat_window(regs::DEFAULT_ACC_RD_LAT),
        regs::NEAR_REPEAT_WINDOW
    );
}

#[test]
fn near_repeats_stall_as_documented_at_read_latency_3() {
    let x = noise(64, 3000.0, 5);
    let [a, b, c, d] = CHANS;
    for (chans, extra) in [
        (vec![a, b, a], 3u64),
        (vec![a, b, c, a], 2),
        (vec![a, b, c, d, a], 1),
        (vec![a, b, c, d, 9, a], 0),
        (vec![a, a, b, b, a, a], 2),
        (vec![a, b, a, b, a, b], 6),
        (vec![d, d, d, d], 0),
    ] {
        let mut sim = wide();
        let before = sim.cycles();
        sim.push_tagged(&chans, &x[..chans.len()], 1 + regs::MAX_STALL_CYCLES as u64)
            .unwrap();
        let took = sim.cycles() - before;
        assert_eq!(took, chans.len() as u64 + extra, "{chans:?}");
        assert_eq!(took, expected_cycles(&chans, RD_LAT), "{chans:?}");
        // and the default build on the same stream: its own rule
        let mut small = Sim::new().unwrap();
        small.write32(regs::CTRL, regs::CTRL_ENABLE).unwrap();
        let chans: Vec<u32> = chans
            .iter()
            .map(|c| CHANS.iter().position(|x| x == c).unwrap_or(9) as u32)
            .collect();
        let before = small.cycles();
        small
            .push_tagged(&chans, &x[..chans.len()], 1 + regs::MAX_STALL_CYCLES as u64)
            .unwrap();
        assert_eq!(
            small.cycles() - before,
            expected_cycles(&chans, regs::DEFAULT_ACC_RD_LAT),
            "{chans:?} (default build)"
        );
    }
}

/// The driver's order at the wide build: 20 ms packets of 48 channels
/// spread over all eight banks; one cycle per sample while samples flow,
/// each sample offered for one cycle only.
#[test]
fn packet_order_is_one_cycle_per_sample_at_read_latency_3() {
    let channels: Vec<u32> = (0..48u32).map(|i| (i * 683 + 5) % 32768).collect();
    let rounds = 3;
    let mut sim = wide();
    let signals: Vec<Vec<i16>> = (0..channels.len())
        .map(|i| noise(160 * rounds, 2500.0, 200 + i as u64))
        .collect();
    let len = |r: usize, i: usize| if (r + i) % 7 == 3 { 97 } else { 160 };
    let before = sim.cycles();
    for r in 0..rounds {
        for (i, &c) in channels.iter().enumerate() {
            sim.push(c, &signals[i][r * 160..][..len(r, i)], 1).unwrap();
        }
    }
    let samples = sim.read32(regs::SAMPLES) as u64;
    assert_eq!(sim.cycles() - before, samples, "one cycle per sample");
    sim.flush(DRAIN).unwrap();
    let total = sim.cycles() - before;
    assert!(total <= samples + regs::LATENCY_CYCLES as u64, "{total}");
    let mut records = Vec::new();
    sim.drain(&mut records);
    assert_eq!(records.len() as u32, sim.read32(regs::RECORDS));
    for (i, &c) in channels.iter().enumerate() {
        let mine: Vec<i16> = (0..rounds)
            .flat_map(|r| signals[i][r * 160..][..len(r, i)].to_vec())
            .collect();
        check_channel(&records, c, &mine);
    }
}

#[test]
fn back_pressure_at_read_latency_3_loses_nothing() {
    let mut sim = wide();
    sim.set_out_ready(false);
    let fifo = regs::OUT_FIFO_RECORDS as usize;
    let x = noise((fifo + 3) * 40, 2000.0, 7);
    let ch = CHANS[2];
    let pushed = match sim.push(ch, &x, 100) {
        Err(SimError::Timeout { pushed }) => pushed,
        other => panic!("expected a stall, got {other:?}"),
    };
    assert_eq!(pushed, fifo * 40);
    sim.set_out_ready(true);
    sim.push(ch, &x[pushed..], 4).unwrap();
    sim.flush(DRAIN).unwrap();
    let mut records = Vec::new();
    sim.drain(&mut records);
    check_channel(&records, ch, &x);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Channels switching at every sample across banks: the P feedback
    /// (same channel on consecutive cycles), every near-repeat distance
    /// (stalls of 1 to 3 cycles), plain reads from each bank; the cycles
    /// are exactly one per sample plus the RD_LAT = 3 rule's stalls.
    #[test]
    fn sample_by_sample_interleaving_is_bit_exact_at_read_latency_3(
        stream in proptest::collection::vec((0usize..4, any::<i16>()), 0..1200)
    ) {
        let mut sim = wide();
        let chans: Vec<u32> = stream.iter().map(|s| CHANS[s.0]).collect();
        let samples: Vec<i16> = stream.iter().map(|s| s.1).collect();
        let before = sim.cycles();
        sim.push_tagged(&chans, &samples, 1 + regs::MAX_STALL_CYCLES as u64).unwrap();
        prop_assert_eq!(sim.cycles() - before, expected_cycles(&chans, RD_LAT));
        sim.flush(DRAIN).unwrap();
        let mut records = Vec::new();
        sim.drain(&mut records);
        for (i, &c) in CHANS.iter().enumerate() {
            let mine: Vec<i16> = stream.iter().filter(|s| s.0 == i).map(|s| s.1).collect();
            check_channel(&records, c, &mine);
        }
    }

    /// Through the driver and the descriptor ring (random chunks, channels
    /// interleaved), as the default build's test does.
    #[test]
    fn driver_on_the_wide_build_is_bit_exact(
        chunks in proptest::collection::vec(
            (0usize..3, proptest::collection::vec(any::<i16>(), 0..130)),
            1..20,
        )
    ) {
        let mut fpga = FpgaSimEngine::from_sim(Sim::with_model(Model::Wide, 0).unwrap()).unwrap();
        let mut sw = SoftwareEngine::new();
        let ids_sw: Vec<_> = (0..3).map(|_| sw.open_channel().unwrap()).collect();
        let ids_hw: Vec<_> = (0..3).map(|_| fpga.open_channel().unwrap()).collect();
        let mut out_sw = vec![Vec::new(); 3];
        let mut out_hw = vec![Vec::new(); 3];
        for (c, samples) in &chunks {
            sw.process(ids_sw[*c], samples, &mut out_sw[*c]).unwrap();
            fpga.process(ids_hw[*c], samples, &mut out_hw[*c]).unwrap();
        }
        prop_assert_eq!(out_hw, out_sw);
    }
}
