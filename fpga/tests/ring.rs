//! The descriptor ring (`src/ring.rs`): registers, wrap, full ring,
//! back-pressure, reset mid-stream, malformed descriptors; records through
//! the ring stay bit-exact with the software engine.
#![cfg(feature = "fpga-sim")]

mod common;

use common::{assert_rings_at_base, enabled_ring, noise, software, sort};
use ringwire_dsp::features::{ChannelId, FeatureEngine};
use ringwire_fpga::regs;
use ringwire_fpga::ring::{Ring, RingError, Status, CQE_WORDS, DESC_WORDS};
use ringwire_fpga::sim::Sim;
use ringwire_fpga::FpgaSimEngine;

fn ring(sq: u32, cq: u32) -> Ring {
    enabled_ring(Sim::new().unwrap(), sq, cq)
}

#[test]
fn ring_registers() {
    let mut r = ring(4, 32);
    let c = r.card();
    assert_eq!(c.read32(regs::SQ_SIZE), 4);
    assert_eq!(c.read32(regs::CQ_SIZE), 32);
    assert_eq!(c.read32(regs::SQ_BASE), 0);
    assert_eq!(c.read32(regs::CQ_BASE), 4 * DESC_WORDS as u32);
    assert_eq!(c.read32(regs::SQ_TAIL), 0);
    assert_eq!(c.read32(regs::SQ_HEAD), 0);
    assert_eq!(c.read32(regs::CQ_TAIL), 1 << 31, "index 0, phase 1");
    assert_eq!(c.read32(regs::CQ_HEAD), 0);
    assert_eq!(c.read32(regs::RING_ERRORS), 0);
    // the RTL's registers are still there below the ring's
    assert_eq!(c.read32(regs::ID), regs::ID_VALUE);
    // read-only ring registers, bad sizes and indices: counted, ignored
    c.write32(regs::SQ_HEAD, 1).unwrap();
    c.write32(regs::CQ_TAIL, 1).unwrap();
    c.write32(regs::SQ_SIZE, 1).unwrap();
    c.write32(regs::CQ_SIZE, 0).unwrap();
    c.write32(regs::SQ_TAIL, 4).unwrap();
    c.write32(regs::CQ_HEAD, 3).unwrap(); // beyond what the device wrote
    c.write32(0x80, 1).unwrap(); // unmapped
    assert_eq!(c.read32(regs::RING_ERRORS), 7);
    assert_eq!(c.read32(regs::SQ_SIZE), 4);
    assert_eq!(c.read32(regs::SQ_TAIL), 0);
    assert_eq!(c.read32(regs::SQ_HEAD), 0);
    assert_eq!(c.read32(regs::CQ_HEAD), 0);
}

#[test]
fn wraps_many_times_bit_exact() {
    let mut r = ring(4, 32);
    let channels = 3;
    let mut inputs = vec![Vec::new(); channels];
    let mut got = vec![Vec::new(); channels];
    let mut done = Vec::new();
    let mut phases = std::collections::BTreeSet::new();
    let mut tags = Vec::new();
    let mut seed = 1u64;
    for i in 0..600u32 {
        // lengths 0..=1024 from a small LCG
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = (seed >> 33) as usize % (Ring::SLOT_SAMPLES + 1);
        let ch = (i % channels as u32) as usize;
        let x = noise(len, 3000.0, seed);
        inputs[ch].extend_from_slice(&x);
        // a full ring: take completions (the device resumes), retry
        let mut tries = 0;
        let tag = loop {
            match r.submit(ch as u32, &x) {
                Err(RingError::Full) => {
                    tries += 1;
                    assert!(tries < 100, "ring stays full");
                    r.poll_completions(&mut done, usize::MAX).unwrap();
                    tags.extend(sort(&done, &mut got));
                    done.clear();
                }
                t => break t.unwrap(),
            }
        };
        assert_eq!(tag, i);
        if i % 3 == 2 {
            r.doorbell().unwrap();
            phases.insert(r.card().read32(regs::CQ_TAIL) >> 31);
            r.poll_completions(&mut done, usize::MAX).unwrap();
            tags.extend(sort(&done, &mut got));
            done.clear();
        }
    }
    r.doorbell().unwrap();
    // drain: each poll frees slots and the stalled device goes on
    for _ in 0..100 {
        let n = r.poll_completions(&mut done, usize::MAX).unwrap();
        if n == 0 && r.in_flight() == 0 {
            break;
        }
    }
    tags.extend(sort(&done, &mut got));
    assert_eq!(phases.len(), 2, "the completion phase flipped");
    assert_eq!(tags.len(), 600);
    for (i, (tag, status, _)) in tags.iter().enumerate() {
        assert_eq!((*tag, *status), (i as u32, Status::Ok));
    }
    assert_eq!(r.card().read32(regs::RING_DESCRIPTORS), 600);
    assert_eq!(r.card().read32(regs::RING_ERRORS), 0);
    let expect = software(&inputs);
    assert!(expect.iter().map(Vec::len).sum::<usize>() > 600 * 12 / 2);
    assert_eq!(got, expect);
}

#[test]
fn full_ring_is_an_error_and_recovers() {
    let mut r = ring(4, 32);
    let x = noise(200, 2000.0, 5);
    for _ in 0..3 {
        r.submit(0, &x).unwrap();
    }
    // one slot stays empty: full at size - 1, an error, not a wait
    assert_eq!(r.submit(0, &x), Err(RingError::Full));
    assert_eq!(r.in_flight(), 3);
    r.doorbell().unwrap();
    assert_eq!(r.in_flight(), 0);
    let mut done = Vec::new();
    r.poll_completions(&mut done, usize::MAX).unwrap();
    assert_eq!(done.len(), 3 * (5 + 1));
    r.submit(0, &x).unwrap();
    // too many samples for one descriptor
    assert_eq!(
        r.submit(0, &vec![0; Ring::SLOT_SAMPLES + 1]),
        Err(RingError::TooLong {
            len: Ring::SLOT_SAMPLES + 1,
            max: Ring::SLOT_SAMPLES
        })
    );
}

#[test]
fn back_pressure_stalls_submissions_without_loss() {
    let mut r = ring(4, 32);
    let x = noise(400 * 40, 3000.0, 9);
    let mut submitted = 0;
    let mut full = 0;
    // completions are not polled: each 400-sample descriptor needs 10
    // records + 1 done entry; 31 usable slots take two, then the device
    // stalls, then the submission ring fills
    for chunk in x.chunks(400) {
        match r.submit(1, chunk) {
            Ok(_) => {
                submitted += 1;
                r.doorbell().unwrap();
            }
            Err(RingError::Full) => {
                full += 1;
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(full, 1);
    assert_eq!(submitted, 2 + 3);
    assert_eq!(r.card().read32(regs::RING_DESCRIPTORS), 2);
    assert_eq!(r.in_flight(), 3);
    assert_eq!(r.submit(1, &x[..10]), Err(RingError::Full));

    // draining resumes the device; keep feeding the rest
    let mut done = Vec::new();
    let mut got = vec![Vec::new(), Vec::new()];
    let mut ends = Vec::new();
    let mut next = submitted * 400;
    let mut rounds = 0;
    while ends.len() < x.len() / 400 {
        rounds += 1;
        assert!(rounds < 1000, "no progress");
        // poll a few at a time: frees slots, the device catches up
        r.poll_completions(&mut done, 7).unwrap();
        ends.extend(sort(&done, &mut got));
        done.clear();
        if next < x.len() {
            match r.submit(1, &x[next..next + 400]) {
                Ok(_) => {
                    next += 400;
                    r.doorbell().unwrap();
                }
                Err(RingError::Full) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
    assert!(ends.iter().all(|e| e.1 == Status::Ok && e.2 == 10));
    let expect = software(&[Vec::new(), x.clone()]);
    assert_eq!(got[1].len(), 400);
    assert_eq!(got, expect);
}

#[test]
fn reset_mid_stream_resets_indices_and_channels() {
    let mut r = ring(4, 32);
    let x = noise(1000, 4000.0, 11);
    let mut done = Vec::new();
    r.submit(2, &x[..123]).unwrap();
    r.submit(3, &x[..517]).unwrap();
    r.doorbell().unwrap();
    r.submit(2, &x[..100]).unwrap(); // submitted, no doorbell: lost by the reset
    r.poll_completions(&mut done, 3).unwrap();
    assert_ne!(r.card().read32(regs::CQ_TAIL) & 0xffff, 0);

    r.card()
        .write32(regs::CTRL, regs::CTRL_ENABLE | regs::CTRL_SOFT_RESET)
        .unwrap();
    while r.card().read32(regs::STATUS) & regs::STATUS_BUSY != 0 {
        r.card().sim().run(16).unwrap();
    }
    r.after_reset();
    assert_rings_at_base(&mut r);
    assert_eq!(r.card().read32(regs::SAMPLES), 0);

    // channels start fresh; the old completions never show up
    done.clear();
    r.submit(2, &x).unwrap();
    r.doorbell().unwrap();
    r.poll_completions(&mut done, usize::MAX).unwrap();
    let mut got = vec![Vec::new(); 3];
    let ends = sort(&done, &mut got);
    assert_eq!(ends.len(), 1);
    assert_eq!(got[2], software(std::slice::from_ref(&x))[0]);

    // hardware reset: bases and sizes programmed again by the driver
    r.submit(2, &x[..77]).unwrap();
    r.hard_reset().unwrap();
    r.card().write32(regs::CTRL, regs::CTRL_ENABLE).unwrap();
    done.clear();
    r.submit(2, &x).unwrap();
    r.doorbell().unwrap();
    r.poll_completions(&mut done, usize::MAX).unwrap();
    let mut got = vec![Vec::new(); 3];
    assert_eq!(sort(&done, &mut got).len(), 1);
    assert_eq!(got[2], software(std::slice::from_ref(&x))[0]);
}

#[test]
fn malformed_descriptors_are_answered_with_errors() {
    let mut r = ring(8, 32);
    let x = noise(80, 2000.0, 13);
    let host_len = r.card().host().len() as u32;
    r.submit(0, &x).unwrap();
    r.submit(999, &x).unwrap(); // channel beyond CHAN_COUNT
    r.submit_raw([0, 100_000, 0, 77]).unwrap(); // more records than the CQ
    r.submit_raw([0, 10, host_len - 1, 78]).unwrap(); // samples outside host memory
    r.card().write32(regs::CHAN_COUNT, 4).unwrap();
    r.submit(4, &x).unwrap(); // beyond the new CHAN_COUNT
    r.submit(3, &x).unwrap();
    r.doorbell().unwrap();
    let mut done = Vec::new();
    r.poll_completions(&mut done, usize::MAX).unwrap();
    let mut got = vec![Vec::new(); 4];
    let ends = sort(&done, &mut got);
    let statuses: Vec<Status> = ends.iter().map(|e| e.1).collect();
    assert_eq!(
        statuses,
        [
            Status::Ok,
            Status::BadChannel,
            Status::Overflow,
            Status::DmaError,
            Status::BadChannel,
            Status::Ok
        ]
    );
    assert_eq!(r.card().read32(regs::RING_ERRORS), 4);
    assert_eq!(r.card().read32(regs::RING_DESCRIPTORS), 6);
    assert_eq!(got[0], software(std::slice::from_ref(&x))[0]);
    assert_eq!(got[3], software(std::slice::from_ref(&x))[0]);
    assert_eq!(
        r.card().read32(regs::DROPS),
        0,
        "bad ids never reach the block"
    );
    // the ring is in its base state: no entry past the tail is valid
    let cq = r.card().read32(regs::CQ_BASE) as usize;
    let tail = (r.card().read32(regs::CQ_TAIL) & 0xffff) as usize;
    assert_eq!(r.card().host()[cq + tail * CQE_WORDS], 0);
}

#[test]
fn the_engine_goes_through_the_ring() {
    let mut fpga = FpgaSimEngine::new().unwrap();
    let c = fpga.open_channel().unwrap();
    let x = noise(5000, 3000.0, 17);
    let mut out = Vec::new();
    fpga.process(c, &x, &mut out).unwrap();
    assert_eq!(out, software(std::slice::from_ref(&x))[0]);
    // 5000 samples: five descriptors of at most 1024
    assert_eq!(fpga.ring().card().read32(regs::RING_DESCRIPTORS), 5);
    assert!(fpga.process(ChannelId(77), &x, &mut out).is_err());
}
