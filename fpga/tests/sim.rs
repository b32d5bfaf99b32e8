//! The Verilated RTL against the software feature engine, bit for bit,
//! and the block's registers, drops, back-pressure and resets.
//! Needs `--features fpga-sim` (and Verilator).
#![cfg(feature = "fpga-sim")]

use proptest::prelude::*;
use ringwire_dsp::features::{
    ChannelId, EngineError, FeatureBlock, FeatureEngine, SoftwareEngine, BLOCK_LEN,
};
use ringwire_dsp::g711::Law;
use ringwire_dsp::signal::{to_i16, DtmfTone, WhiteNoise};
use ringwire_fpga::regs;
use ringwire_fpga::sim::{Sim, SimError};
use ringwire_fpga::FpgaSimEngine;

/// Feeds the same chunks (channel index, samples) to both engines and
/// compares every channel's blocks.
fn compare(channels: usize, chunks: &[(usize, Vec<i16>)], fpga: &mut FpgaSimEngine) {
    let mut sw = SoftwareEngine::new();
    let ids_sw: Vec<ChannelId> = (0..channels).map(|_| sw.open_channel().unwrap()).collect();
    let ids_hw: Vec<ChannelId> = (0..channels)
        .map(|_| fpga.open_channel().unwrap())
        .collect();
    let mut out_sw = vec![Vec::new(); channels];
    let mut out_hw = vec![Vec::new(); channels];
    for (c, samples) in chunks {
        sw.process(ids_sw[*c], samples, &mut out_sw[*c]).unwrap();
        fpga.process(ids_hw[*c], samples, &mut out_hw[*c]).unwrap();
    }
    for c in 0..channels {
        assert_eq!(out_hw[c], out_sw[c], "channel {c}");
    }
    for id in ids_hw {
        fpga.close_channel(id).unwrap();
    }
}

/// Cycles enough to drain the pipeline (and its output FIFO) after the
/// last sample.
const DRAIN: u64 = regs::LATENCY_CYCLES as u64 + 8;

fn noise(len: usize, rms: f64, seed: u64) -> Vec<i16> {
    let mut x = vec![0.0; len];
    WhiteNoise::new(rms, seed).add_to(&mut x);
    to_i16(&x)
}

#[test]
fn register_map_identifies_the_block() {
    let mut sim = Sim::new().unwrap();
    assert_eq!(sim.read32(regs::ID), regs::ID_VALUE);
    assert_eq!(sim.read32(regs::VERSION), regs::VERSION_VALUE);
    assert_eq!(sim.read32(regs::BLOCK_LEN), BLOCK_LEN as u32);
    assert_eq!(sim.read32(regs::BINS), 8);
    assert_eq!(sim.read32(regs::CAPACITY), 256);
    assert_eq!(sim.read32(regs::CHAN_COUNT), 256);
    assert_eq!(sim.read32(regs::CTRL), 0, "disabled after reset");
    assert_eq!(sim.read32(regs::STATUS), 0);
    for r in [regs::SAMPLES, regs::RECORDS, regs::DROPS, regs::ERRORS] {
        assert_eq!(sim.read32(r), 0);
    }
    assert_eq!(sim.read32(0xFC), 0, "unmapped reads 0");

    sim.write32(regs::CTRL, regs::CTRL_ENABLE).unwrap();
    assert_eq!(sim.read32(regs::CTRL), regs::CTRL_ENABLE);
    assert_eq!(sim.read32(regs::STATUS), regs::STATUS_ENABLED);

    // writes to read-only or unmapped registers, and bad values, are errors
    sim.write32(regs::ID, 1).unwrap();
    sim.write32(regs::BLOCK_LEN, 80).unwrap();
    sim.write32(0x3C, 1).unwrap();
    assert_eq!(sim.read32(regs::ERRORS), 3);
    // 0x40 and up are the ring engine's: its own error counter
    sim.write32(0xFC, 1).unwrap();
    sim.write32(regs::SQ_HEAD, 1).unwrap();
    assert_eq!(sim.read32(regs::ERRORS), 3);
    assert_eq!(sim.read32(regs::RING_ERRORS), 2);
    assert_eq!(sim.read32(regs::BLOCK_LEN), 40);
    sim.write32(regs::CHAN_COUNT, 1000).unwrap();
    assert_eq!(sim.read32(regs::CHAN_COUNT), 256, "clamped");
    sim.write32(regs::CHAN_CLEAR, 256).unwrap();
    assert_eq!(sim.read32(regs::ERRORS), 5);
    sim.write32(regs::CHAN_COUNT, 4).unwrap();
    assert_eq!(sim.read32(regs::CHAN_COUNT), 4);
    assert_eq!(sim.read32(regs::ERRORS), 5);

    // soft reset clears the counters, keeps the configuration
    sim.write32(regs::CTRL, regs::CTRL_ENABLE | regs::CTRL_SOFT_RESET)
        .unwrap();
    sim.run(300).unwrap();
    assert_eq!(sim.read32(regs::ERRORS), 0);
    assert_eq!(sim.read32(regs::CTRL), regs::CTRL_ENABLE);
    assert_eq!(sim.read32(regs::CHAN_COUNT), 4);
}

#[test]
fn one_sample_per_clock() {
    let mut sim = Sim::new().unwrap();
    sim.write32(regs::CTRL, regs::CTRL_ENABLE).unwrap();
    let x = noise(4000, 3000.0, 1);
    let before = sim.cycles();
    for ch in 0..10u32 {
        sim.push(ch, &x[ch as usize * 400..][..400], 1).unwrap();
    }
    assert_eq!(sim.cycles() - before, 4000, "one cycle per sample");
    sim.flush(DRAIN).unwrap();
    assert_eq!(sim.read32(regs::SAMPLES), 4000);
    assert_eq!(sim.read32(regs::RECORDS), 100);
    assert_eq!(regs::CYCLES_PER_SAMPLE, 1);
}

#[test]
fn bad_channel_ids_are_dropped_and_counted() {
    let mut sim = Sim::new().unwrap();
    // not enabled: accepted and dropped
    sim.push(0, &[100; 40], 4).unwrap();
    assert_eq!(sim.read32(regs::DROPS), 40);
    sim.write32(regs::CTRL, regs::CTRL_ENABLE).unwrap();
    sim.write32(regs::CHAN_COUNT, 4).unwrap();
    sim.push(4, &[100; 40], 4).unwrap();
    sim.push(300, &[100; 40], 4).unwrap();
    sim.push(0xFFFF, &[100; 3], 4).unwrap();
    sim.flush(DRAIN).unwrap();
    assert_eq!(sim.read32(regs::DROPS), 123);
    assert_eq!(sim.read32(regs::RECORDS), 0);
    assert_eq!(sim.pending_records(), 0);
    sim.push(3, &[100; 40], 4).unwrap();
    sim.flush(DRAIN).unwrap();
    assert_eq!(sim.read32(regs::RECORDS), 1);
    assert_eq!(sim.read32(regs::SAMPLES), 163);

    // the driver refuses unknown channels without touching the block
    let mut fpga = FpgaSimEngine::new().unwrap();
    let mut out = Vec::new();
    assert_eq!(
        fpga.process(ChannelId(9999), &[1; 40], &mut out),
        Err(EngineError::UnknownChannel(9999))
    );
    assert_eq!(
        fpga.process(ChannelId(3), &[1; 40], &mut out),
        Err(EngineError::UnknownChannel(3))
    );
    let id = fpga.open_channel().unwrap();
    fpga.close_channel(id).unwrap();
    assert_eq!(
        fpga.close_channel(id),
        Err(EngineError::UnknownChannel(id.0))
    );
    assert_eq!(
        fpga.process(id, &[1; 40], &mut out),
        Err(EngineError::UnknownChannel(id.0))
    );
    assert!(out.is_empty());
    assert_eq!(fpga.sim().read32(regs::SAMPLES), 0);
}

#[test]
fn channel_slots_run_out_with_an_error() {
    let mut fpga = FpgaSimEngine::new().unwrap();
    for _ in 0..fpga.capacity() {
        fpga.open_channel().unwrap();
    }
    assert_eq!(
        fpga.open_channel(),
        Err(EngineError::NoFreeChannel { capacity: 256 })
    );
    fpga.close_channel(ChannelId(17)).unwrap();
    assert_eq!(fpga.open_channel(), Ok(ChannelId(17)));
}

#[test]
fn back_pressure_stalls_the_input_without_hanging() {
    let mut sim = Sim::new().unwrap();
    sim.write32(regs::CTRL, regs::CTRL_ENABLE).unwrap();
    sim.set_out_ready(false);
    let fifo = regs::OUT_FIFO_RECORDS as usize;
    let blocks = fifo + 3;
    let x = noise(blocks * 40, 2000.0, 7);
    sim.push(0, &x[..40], 4).unwrap();
    sim.run(regs::LATENCY_CYCLES as u64).unwrap();
    assert_eq!(
        sim.read32(regs::STATUS) & regs::STATUS_RECORD_PENDING,
        regs::STATUS_RECORD_PENDING
    );
    // the records cannot leave: the input slows down as the output FIFO
    // fills (it counts records still possible in the pipeline) and stalls
    // (bounded) once it is full: at block fifo + 1
    let pushed = match sim.push(0, &x[40..], 100) {
        Err(SimError::Timeout { pushed }) => pushed,
        other => panic!("expected a stall, got {other:?}"),
    };
    assert_eq!(pushed, (fifo - 1) * 40);
    assert_eq!(sim.flush(50), Err(SimError::Timeout { pushed: 0 }));
    sim.set_out_ready(true);
    sim.push(0, &x[40 + pushed..], 4).unwrap();
    sim.flush(DRAIN).unwrap();
    let mut records = Vec::new();
    sim.drain(&mut records);
    assert_eq!(records.len(), blocks);

    let mut sw = SoftwareEngine::new();
    let c = sw.open_channel().unwrap();
    let mut expect = Vec::new();
    sw.process(c, &x, &mut expect).unwrap();
    let got: Vec<FeatureBlock> = records
        .iter()
        .map(|r| ringwire_fpga::engine::feature_block(&r.words))
        .collect();
    assert_eq!(got, expect);
}

#[test]
fn dtmf_tones_match_the_software_engine() {
    let mut fpga = FpgaSimEngine::new().unwrap();
    let digits = "0123456789*#ABCD";
    let mut chunks = Vec::new();
    let mut signals = Vec::new();
    for (i, d) in digits.chars().enumerate() {
        let mut x = vec![0.0; 1600];
        let mut tone = DtmfTone::new(d, -3.0 - i as f64);
        tone.low_deviation = 0.01 * (i as f64 - 8.0) / 8.0;
        assert!(tone.add_to(&mut x, 0.3 * i as f64));
        WhiteNoise::new(30.0, i as u64).add_to(&mut x);
        signals.push(to_i16(&x));
    }
    // four channels at a time, 20 ms packets interleaved
    for group in signals.chunks(4) {
        chunks.clear();
        for p in 0..10 {
            for (c, s) in group.iter().enumerate() {
                chunks.push((c, s[p * 160..(p + 1) * 160].to_vec()));
            }
        }
        compare(group.len(), &chunks, &mut fpga);
    }
}

#[test]
fn full_scale_input_matches() {
    let mut fpga = FpgaSimEngine::new().unwrap();
    let chunks = vec![
        (0, vec![i16::MIN; 200]),
        (1, vec![i16::MAX; 200]),
        (
            2,
            (0..200)
                .map(|n| if n % 2 == 0 { i16::MIN } else { i16::MAX })
                .collect(),
        ),
        (
            3,
            (0..200).map(|n| if n % 3 == 0 { -8 } else { 7 }).collect(),
        ),
    ];
    compare(4, &chunks, &mut fpga);
}

#[test]
fn g711_input_matches() {
    let mut fpga = FpgaSimEngine::new().unwrap();
    let mut sw = SoftwareEngine::new();
    let mut state = 0x1234_5678u32;
    let payload: Vec<u8> = (0..4000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    for law in [Law::Ulaw, Law::Alaw] {
        let (a, b) = (sw.open_channel().unwrap(), fpga.open_channel().unwrap());
        let (mut oa, mut ob) = (Vec::new(), Vec::new());
        // all 256 codes, then random payloads in odd sizes
        let all: Vec<u8> = (0..=255).collect();
        sw.process_g711(a, law, &all, &mut oa).unwrap();
        fpga.process_g711(b, law, &all, &mut ob).unwrap();
        for chunk in payload.chunks(173) {
            sw.process_g711(a, law, chunk, &mut oa).unwrap();
            fpga.process_g711(b, law, chunk, &mut ob).unwrap();
        }
        assert_eq!(ob, oa, "{law:?}");
        assert_eq!(oa.len(), (256 + payload.len()) / BLOCK_LEN);
    }
}

#[test]
fn reset_mid_stream_starts_fresh_blocks() {
    let x = noise(400, 4000.0, 3);
    let mut fpga = FpgaSimEngine::new().unwrap();
    let c = fpga.open_channel().unwrap();
    let d = fpga.open_channel().unwrap();
    let mut out = Vec::new();
    fpga.process(c, &x[..123], &mut out).unwrap();
    fpga.process(d, &x[..57], &mut out).unwrap();
    assert_eq!(out.len(), 4);
    fpga.soft_reset().unwrap();
    assert_eq!(fpga.sim().read32(regs::SAMPLES), 0);
    out.clear();
    fpga.process(c, &x, &mut out).unwrap();

    // the same as a fresh channel of the software engine
    let mut sw = SoftwareEngine::new();
    let s = sw.open_channel().unwrap();
    let mut expect = Vec::new();
    sw.process(s, &x, &mut expect).unwrap();
    assert_eq!(out, expect);

    // and the hardware reset, then re-enabling
    let mut sim = Sim::new().unwrap();
    sim.write32(regs::CTRL, regs::CTRL_ENABLE).unwrap();
    sim.push(5, &x[..77], 4).unwrap();
    sim.reset().unwrap();
    assert_eq!(sim.read32(regs::CTRL), 0);
    let mut fpga = FpgaSimEngine::from_sim(sim).unwrap();
    for _ in 0..6 {
        fpga.open_channel().unwrap();
    }
    out.clear();
    fpga.process(ChannelId(5), &x, &mut out).unwrap();
    assert_eq!(out, expect);
}

#[test]
fn random_initial_state_is_cleared_by_reset() {
    // raw block, no channel clears: only the reset sweep cleans up
    let x = noise(200, 5000.0, 11);
    let mut sw = SoftwareEngine::new();
    let s = sw.open_channel().unwrap();
    let mut expect = Vec::new();
    sw.process(s, &x, &mut expect).unwrap();
    for seed in [3u32, 0x1234_5678] {
        let mut sim = Sim::with_random_init(seed).unwrap();
        sim.write32(regs::CTRL, regs::CTRL_ENABLE).unwrap();
        for ch in [0u32, 9, 255] {
            sim.push(ch, &x, 4).unwrap();
            sim.flush(DRAIN).unwrap();
            let mut records = Vec::new();
            sim.drain(&mut records);
            let got: Vec<FeatureBlock> = records
                .iter()
                .map(|r| ringwire_fpga::engine::feature_block(&r.words))
                .collect();
            assert_eq!(got, expect, "seed {seed} channel {ch}");
        }
    }
    for seed in [1u32, 0xdead_beef, 77] {
        let sim = Sim::with_random_init(seed).unwrap();
        let mut fpga = FpgaSimEngine::from_sim(sim).unwrap();
        let chunks: Vec<(usize, Vec<i16>)> = (0..6)
            .map(|i| (i % 3, noise(130, 5000.0, seed as u64 + i as u64)))
            .collect();
        compare(3, &chunks, &mut fpga);
    }
}

#[test]
fn reopened_channels_start_fresh() {
    let mut fpga = FpgaSimEngine::new().unwrap();
    let x = noise(300, 3000.0, 9);
    let c = fpga.open_channel().unwrap();
    let mut out = Vec::new();
    fpga.process(c, &x[..61], &mut out).unwrap();
    fpga.close_channel(c).unwrap();
    let c2 = fpga.open_channel().unwrap();
    assert_eq!(c2, c, "slot reused");
    out.clear();
    fpga.process(c2, &x, &mut out).unwrap();
    let mut sw = SoftwareEngine::new();
    let s = sw.open_channel().unwrap();
    let mut expect = Vec::new();
    sw.process(s, &x, &mut expect).unwrap();
    assert_eq!(out, expect);
}

/// Cycles the core takes to accept samples of these channels, one offered
/// per cycle: one each, plus the documented stall of a near-repeat (the
/// channel had a sample 2 or 3 cycles earlier, not 1 cycle earlier).
fn expected_cycles(chans: &[u32]) -> u64 {
    let mut issued: Vec<(u64, u32)> = Vec::new();
    let mut next = 0u64;
    for &c in chans {
        let at = |issued: &[(u64, u32)], t: u64, d: u64| {
            issued
                .iter()
                .rev()
                .take(3)
                .any(|&(u, ch)| u + d == t && ch == c)
        };
        let mut t = next;
        while !at(&issued, t, 1) && (at(&issued, t, 2) || at(&issued, t, 3)) {
            t += 1;
        }
        assert!(t - next <= regs::MAX_STALL_CYCLES as u64);
        issued.push((t, c));
        next = t + 1;
    }
    next
}

#[test]
fn near_repeats_stall_as_documented() {
    let x = noise(64, 3000.0, 5);
    for (chans, extra) in [
        (vec![0u32, 1, 0], 2u64),
        (vec![0, 1, 2, 0], 1),
        (vec![0, 1, 2, 3, 0], 0),
        (vec![0, 0, 1, 1, 0, 0], 1),
        (vec![0, 1, 0, 1, 0, 1], 4),
        (vec![5, 5, 5, 5], 0),
    ] {
        let mut sim = Sim::new().unwrap();
        sim.write32(regs::CTRL, regs::CTRL_ENABLE).unwrap();
        let before = sim.cycles();
        sim.push_tagged(&chans, &x[..chans.len()], 1 + regs::MAX_STALL_CYCLES as u64)
            .unwrap();
        let took = sim.cycles() - before;
        assert_eq!(took, chans.len() as u64 + extra, "{chans:?}");
        assert_eq!(took, expected_cycles(&chans), "{chans:?}");
    }
}

/// The order the driver produces: 20 ms packets (160 samples) of one
/// channel after another, many channels. Exactly one cycle per sample
/// while samples flow (no stall at all: each sample is offered for one
/// cycle only), plus the pipeline latency to drain at the end.
#[test]
fn packet_order_is_one_cycle_per_sample() {
    let channels = 48u32;
    let rounds = 5;
    let mut sim = Sim::new().unwrap();
    sim.write32(regs::CTRL, regs::CTRL_ENABLE).unwrap();
    let signals: Vec<Vec<i16>> = (0..channels)
        .map(|c| noise(160 * rounds, 2500.0, 100 + c as u64))
        .collect();
    let before = sim.cycles();
    for r in 0..rounds {
        for c in 0..channels {
            // short packets now and then: channel switches off block edges
            let len = if (r + c as usize) % 7 == 3 { 97 } else { 160 };
            sim.push(c, &signals[c as usize][r * 160..][..len], 1)
                .unwrap();
        }
    }
    let samples = sim.read32(regs::SAMPLES) as u64;
    assert_eq!(sim.cycles() - before, samples, "one cycle per sample");
    sim.flush(DRAIN).unwrap();
    let total = sim.cycles() - before;
    assert!(
        total <= samples + regs::LATENCY_CYCLES as u64,
        "{total} cycles"
    );
    println!(
        "{samples} samples in 160-sample packets of {channels} channels: {total} cycles, \
         {:.4} cycles/sample including the drain",
        total as f64 / samples as f64
    );
    let mut records = Vec::new();
    sim.drain(&mut records);
    assert_eq!(records.len() as u32, sim.read32(regs::RECORDS));
    for c in 0..channels {
        let mine: Vec<i16> = (0..rounds)
            .flat_map(|r| {
                let len = if (r + c as usize) % 7 == 3 { 97 } else { 160 };
                signals[c as usize][r * 160..][..len].to_vec()
            })
            .collect();
        let mut sw = SoftwareEngine::new();
        let id = sw.open_channel().unwrap();
        let mut expect = Vec::new();
        sw.process(id, &mine, &mut expect).unwrap();
        let got: Vec<FeatureBlock> = records
            .iter()
            .filter(|r| r.channel == c)
            .map(|r| ringwire_fpga::engine::feature_block(&r.words))
            .collect();
        assert_eq!(got, expect, "channel {c}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Channels switching at every sample: exercises the ctl forwarding
    /// (same channel 1 and 2 cycles apart), the accumulators' P feedback
    /// (same channel on consecutive cycles), the near-repeat stall (A, B,
    /// A) and plain reads; the cycles taken are exactly one per sample plus
    /// the documented stalls.
    #[test]
    fn sample_by_sample_interleaving_is_bit_exact(
        stream in proptest::collection::vec((0u32..4, any::<i16>()), 0..1500)
    ) {
        let mut sim = Sim::new().unwrap();
        sim.write32(regs::CTRL, regs::CTRL_ENABLE).unwrap();
        let (chans, samples): (Vec<u32>, Vec<i16>) = stream.iter().copied().unzip();
        let before = sim.cycles();
        sim.push_tagged(&chans, &samples, 1 + regs::MAX_STALL_CYCLES as u64).unwrap();
        prop_assert_eq!(sim.cycles() - before, expected_cycles(&chans));
        sim.flush(DRAIN).unwrap();
        let mut records = Vec::new();
        sim.drain(&mut records);
        for c in 0..4u32 {
            let mine: Vec<i16> = stream.iter().filter(|s| s.0 == c).map(|s| s.1).collect();
            let mut sw = SoftwareEngine::new();
            let id = sw.open_channel().unwrap();
            let mut expect = Vec::new();
            sw.process(id, &mine, &mut expect).unwrap();
            let got: Vec<FeatureBlock> = records
                .iter()
                .filter(|r| r.channel == c)
                .map(|r| ringwire_fpga::engine::feature_block(&r.words))
                .collect();
            prop_assert_eq!(got, expect, "channel {}", c);
        }
    }

    #[test]
    fn random_interleaved_input_is_bit_exact(
        chunks in proptest::collection::vec(
            (0usize..5, proptest::collection::vec(any::<i16>(), 0..130)),
            1..40,
        )
    ) {
        let mut fpga = FpgaSimEngine::new().unwrap();
        compare(5, &chunks, &mut fpga);
    }
}
