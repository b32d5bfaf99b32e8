//! Helpers the ring tests share: input, the software reference and the
//! sorting of completions.
#![allow(dead_code)] // each test binary uses its own subset

use ringwire_dsp::features::{FeatureBlock, FeatureEngine, SoftwareEngine};
use ringwire_dsp::signal::{to_i16, WhiteNoise};
use ringwire_fpga::engine::feature_block;
use ringwire_fpga::regs;
use ringwire_fpga::ring::{Completion, Ring, Status};
use ringwire_fpga::sim::Sim;

/// A done entry: tag, status, records produced.
pub type DoneEntry = (u32, Status, u32);

/// `len` samples of white noise at `rms`.
pub fn noise(len: usize, rms: f64, seed: u64) -> Vec<i16> {
    let mut n = WhiteNoise::new(rms, seed);
    to_i16(&(0..len).map(|_| n.next_sample()).collect::<Vec<_>>())
}

/// A ring of `sq` descriptors and `cq` completions on `sim`, the block enabled.
pub fn enabled_ring(sim: Sim, sq: u32, cq: u32) -> Ring {
    let mut r = Ring::new(sim, sq, cq).unwrap();
    r.card().write32(regs::CTRL, regs::CTRL_ENABLE).unwrap();
    r
}

/// The software engine's blocks for each channel's whole input.
pub fn software<T: AsRef<[i16]>>(per_channel: &[T]) -> Vec<Vec<FeatureBlock>> {
    let mut sw = SoftwareEngine::new();
    per_channel
        .iter()
        .map(|x| {
            let c = sw.open_channel().unwrap();
            let mut out = Vec::new();
            sw.process(c, x.as_ref(), &mut out).unwrap();
            out
        })
        .collect()
}

/// Sorts completions into per-channel blocks; returns the done entries.
pub fn sort(done: &[Completion], blocks: &mut [Vec<FeatureBlock>]) -> Vec<DoneEntry> {
    let mut ends = Vec::new();
    for c in done {
        match c {
            Completion::Record { channel, words, .. } => {
                blocks[*channel as usize].push(feature_block(words))
            }
            Completion::Done {
                tag,
                status,
                records,
                ..
            } => ends.push((*tag, *status, *records)),
        }
    }
    ends
}

/// After a reset: both rings' indices and the error count are 0, the
/// engine's phase 1.
pub fn assert_rings_at_base(r: &mut Ring) {
    for reg in [
        regs::SQ_TAIL,
        regs::SQ_HEAD,
        regs::CQ_HEAD,
        regs::RING_ERRORS,
    ] {
        assert_eq!(r.card().read32(reg), 0);
    }
    assert_eq!(r.card().read32(regs::CQ_TAIL), 1 << 31);
}
