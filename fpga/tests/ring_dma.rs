//! The ring engine in RTL (`rtl/rw_ring.v`) at its DMA port: slow and
//! stalling host memory, the host window, read errors, a soft reset in the
//! middle of a descriptor, set-up writes refused while a descriptor runs,
//! the stream ports held off while the ring owns the core.
#![cfg(feature = "fpga-sim")]

mod common;

use common::{assert_rings_at_base, enabled_ring as ring_with, noise, sort, DoneEntry};
use ringwire_dsp::features::FeatureBlock;
use ringwire_fpga::regs;
use ringwire_fpga::ring::{Completion, Ring, Status};
use ringwire_fpga::sim::{Sim, SimError};

/// One channel's software blocks.
fn software(x: &[i16]) -> Vec<FeatureBlock> {
    common::software(&[x]).remove(0)
}

/// Per-channel blocks and the done entries.
fn split(done: &[Completion], channels: usize) -> (Vec<Vec<FeatureBlock>>, Vec<DoneEntry>) {
    let mut blocks = vec![Vec::new(); channels];
    let ends = sort(done, &mut blocks);
    (blocks, ends)
}

/// Submits `x` of `channel` and rings the doorbell without running the
/// clock: the descriptor is under way once a few cycles have passed.
fn start_without_waiting(r: &mut Ring, channel: u32, x: &[i16]) {
    r.submit(channel, x).unwrap();
    let tail = r.card().read32(regs::SQ_TAIL);
    let size = r.card().read32(regs::SQ_SIZE);
    r.card()
        .sim()
        .write32(regs::SQ_TAIL, (tail + 1) % size)
        .unwrap();
    r.card().sim().run(64).unwrap();
    assert_ne!(r.card().read32(regs::RING_STATUS) & regs::RING_BUSY, 0);
}

#[test]
fn slow_and_stalling_host_memory_keeps_records_exact() {
    for (latency, seed) in [(1, 0), (7, 0x1234_5678), (40, 0xdead_beef)] {
        let mut r = ring_with(Sim::new().unwrap(), 8, 64);
        r.card().sim().set_dma(latency, seed);
        let inputs: Vec<Vec<i16>> = (0..6)
            .map(|c| noise(700 + 613 * c, 1500.0 + 700.0 * c as f64, 40 + c as u64))
            .collect();
        let mut done = Vec::new();
        let mut at = vec![0usize; inputs.len()];
        // odd and even pieces, several channels a doorbell
        let mut piece = 1;
        while at.iter().zip(&inputs).any(|(a, x)| *a < x.len()) {
            for (c, x) in inputs.iter().enumerate() {
                if at[c] >= x.len() {
                    continue;
                }
                let n = (piece % 1024 + 1).min(x.len() - at[c]);
                piece = (piece * 7 + 3) % 10_007;
                match r.submit(c as u32, &x[at[c]..at[c] + n]) {
                    Ok(_) => at[c] += n,
                    Err(_) => break,
                }
            }
            r.doorbell().unwrap();
            r.poll_completions(&mut done, usize::MAX).unwrap();
        }
        r.poll_completions(&mut done, usize::MAX).unwrap();
        let (blocks, ends) = split(&done, inputs.len());
        assert!(ends.iter().all(|e| e.1 == Status::Ok), "latency {latency}");
        for (c, x) in inputs.iter().enumerate() {
            assert_eq!(blocks[c], software(x), "latency {latency}, channel {c}");
        }
        assert_eq!(r.card().sim().dma_faults(), 0);
        assert_eq!(r.card().read32(regs::RING_ERRORS), 0);
    }
}

#[test]
fn samples_outside_the_host_window_are_a_dma_error_before_any_is_read() {
    let mut r = ring_with(Sim::new().unwrap(), 4, 32);
    let x = noise(500, 2000.0, 3);
    // the window ends before the sample slots (descriptors and completions
    // stay inside)
    let sq = r.card().read32(regs::SQ_SIZE) as usize * 4;
    let cq_end = sq + 32 * ringwire_fpga::ring::CQE_WORDS;
    r.card().write32(regs::HOST_WORDS, cq_end as u32).unwrap();
    r.submit(0, &x).unwrap();
    r.doorbell().unwrap();
    let mut done = Vec::new();
    r.poll_completions(&mut done, usize::MAX).unwrap();
    let (_, ends) = split(&done, 1);
    assert_eq!(ends, [(0, Status::DmaError, 0)]);
    assert_eq!(
        r.card().read32(regs::SAMPLES),
        0,
        "nothing reached the core"
    );
    assert_eq!(r.card().read32(regs::RING_ERRORS), 1);
    assert_eq!(
        r.card().sim().dma_faults(),
        0,
        "the engine never read outside"
    );
}

#[test]
fn a_read_answered_with_an_error_ends_the_descriptor() {
    let mut r = ring_with(Sim::new().unwrap(), 4, 64);
    let host = r.card().host().len() as u32;
    // a window wider than the memory behind it: the host answers the
    // reads past its end with errors
    r.card().write32(regs::HOST_WORDS, host + 4096).unwrap();
    r.submit_raw([1, 1000, host - 100, 5]).unwrap();
    let x = noise(333, 2500.0, 9);
    r.submit(2, &x).unwrap();
    r.doorbell().unwrap();
    let mut done = Vec::new();
    r.poll_completions(&mut done, usize::MAX).unwrap();
    let (blocks, ends) = split(&done, 3);
    assert_eq!(ends.len(), 2);
    assert_eq!(ends[0].1, Status::DmaError);
    // what was read before the error went through the core; its records
    // are in the ring
    assert!(ends[0].2 >= 4, "{:?}", ends[0]);
    assert_eq!(ends[1].1, Status::Ok);
    assert_eq!(blocks[2], software(&x));
    assert!(r.card().sim().dma_faults() > 0);
    assert_eq!(r.card().read32(regs::RING_ERRORS), 1);
    assert_eq!(r.card().read32(regs::RING_STATUS), 0);
}

#[test]
fn a_soft_reset_in_the_middle_of_a_descriptor_starts_clean() {
    let mut r = ring_with(Sim::new().unwrap(), 4, 64);
    r.card().sim().set_dma(30, 0x0bad_cafe);
    let x = noise(1000, 3000.0, 21);
    start_without_waiting(&mut r, 1, &x);
    r.card()
        .write32(regs::CTRL, regs::CTRL_ENABLE | regs::CTRL_SOFT_RESET)
        .unwrap();
    // the sweep, and the reads still in flight, drain
    for _ in 0..10_000 {
        let busy = r.card().read32(regs::STATUS) & regs::STATUS_BUSY != 0;
        if !busy && r.card().read32(regs::RING_STATUS) == 0 {
            break;
        }
        r.card().sim().run(16).unwrap();
    }
    assert_eq!(r.card().read32(regs::RING_STATUS), 0);
    assert_rings_at_base(&mut r);
    r.after_reset();
    let mut done = Vec::new();
    r.submit(1, &x).unwrap();
    r.doorbell().unwrap();
    r.poll_completions(&mut done, usize::MAX).unwrap();
    let (blocks, ends) = split(&done, 2);
    assert_eq!(ends.len(), 1, "the abandoned descriptor left no entry");
    assert_eq!(blocks[1], software(&x));
}

#[test]
fn ring_set_up_is_refused_while_a_descriptor_runs() {
    let mut r = ring_with(Sim::new().unwrap(), 4, 64);
    r.card().sim().set_dma(20, 0);
    let x = noise(900, 2000.0, 5);
    start_without_waiting(&mut r, 0, &x);
    let base = r.card().read32(regs::CQ_BASE);
    for reg in [
        regs::SQ_BASE,
        regs::CQ_BASE,
        regs::SQ_SIZE,
        regs::HOST_WORDS,
    ] {
        r.card().sim().write32(reg, 2).unwrap();
    }
    assert_eq!(r.card().read32(regs::CQ_BASE), base);
    assert_eq!(r.card().read32(regs::SQ_SIZE), 4);
    assert_eq!(r.card().read32(regs::RING_ERRORS), 4);
    r.card().sim().ring_run(100_000).unwrap();
    let mut done = Vec::new();
    r.poll_completions(&mut done, usize::MAX).unwrap();
    let (blocks, ends) = split(&done, 1);
    assert_eq!(ends.len(), 1);
    assert_eq!(blocks[0], software(&x));
}

#[test]
fn the_stream_ports_wait_while_the_ring_owns_the_core() {
    let mut r = ring_with(Sim::new().unwrap(), 4, 64);
    r.card().sim().set_dma(20, 0);
    let x = noise(1000, 2000.0, 6);
    start_without_waiting(&mut r, 0, &x);
    // s_tready is low while the descriptor runs
    let e = r.card().sim().push(3, &x[..10], 8).unwrap_err();
    assert_eq!(e, SimError::Timeout { pushed: 0 });
    r.card().sim().ring_run(100_000).unwrap();
    // then the ports reach the core again, and no ring record left on them
    let mut recs = Vec::new();
    r.card().sim().drain(&mut recs);
    assert!(recs.is_empty());
    let y = noise(80, 2000.0, 8);
    r.card().sim().push(3, &y, 64).unwrap();
    r.card().sim().flush(1024).unwrap();
    r.card().sim().drain(&mut recs);
    assert_eq!(recs.len(), 2);
    let mut done = Vec::new();
    r.poll_completions(&mut done, usize::MAX).unwrap();
    let (blocks, _) = split(&done, 1);
    assert_eq!(blocks[0], software(&x));
}

#[test]
fn the_reset_clears_ring_state_from_random_registers() {
    for seed in 1..=4 {
        let mut r = ring_with(Sim::with_random_init(seed).unwrap(), 4, 32);
        let x = noise(400, 2000.0, seed as u64);
        r.submit(0, &x).unwrap();
        r.doorbell().unwrap();
        let mut done = Vec::new();
        r.poll_completions(&mut done, usize::MAX).unwrap();
        let (blocks, ends) = split(&done, 1);
        assert_eq!(ends, [(0, Status::Ok, 10)], "seed {seed}");
        assert_eq!(blocks[0], software(&x));
    }
}

#[test]
fn completion_entries_outside_the_window_are_skipped_and_counted() {
    let mut r = ring_with(Sim::new().unwrap(), 4, 32);
    let host = r.card().host().len() as u32;
    // a completion ring whose third entry would end past the window
    let cq = host - 2 * ringwire_fpga::ring::CQE_WORDS as u32;
    r.card().write32(regs::CQ_BASE, cq).unwrap();
    let x = noise(400, 2000.0, 4);
    r.submit(0, &x).unwrap();
    r.doorbell().unwrap();
    // 10 records and a done entry: 2 written, 9 skipped, nothing hangs
    assert_eq!(r.card().read32(regs::RING_DESCRIPTORS), 1);
    assert_eq!(r.card().read32(regs::RING_ERRORS), 9);
    assert_eq!(r.card().read32(regs::CQ_TAIL) & 0xffff, 11);
    assert_eq!(r.card().sim().dma_faults(), 0, "no write left the window");
    let first = &r.card().host()[cq as usize..];
    assert_eq!(first[0] & 3, 1, "a record entry, phase 1");
    assert_eq!(first[1], 0);
}

#[test]
fn an_empty_descriptor_completes_with_no_records() {
    let mut r = ring_with(Sim::new().unwrap(), 4, 32);
    r.submit(1, &[]).unwrap();
    let x = noise(120, 2000.0, 12);
    r.submit(1, &x).unwrap();
    r.doorbell().unwrap();
    let mut done = Vec::new();
    r.poll_completions(&mut done, usize::MAX).unwrap();
    let (blocks, ends) = split(&done, 2);
    assert_eq!(ends, [(0, Status::Ok, 0), (1, Status::Ok, 3)]);
    assert_eq!(blocks[1], software(&x));
}
