//! Pure signal processing for ringwire: no IO, no clocks, no allocation per
//! frame.
//!
//! The split (design.md, principle 3): [`features`] computes fixed-point,
//! bit-exact block features (the part an FPGA can compute too); detectors
//! such as [`dtmf`] make decisions from those features only.
//!
//! ```
//! use ringwire_dsp::features::{FeatureEngine, SoftwareEngine};
//! use ringwire_dsp::dtmf::DtmfDetector;
//! use ringwire_dsp::g711::Law;
//!
//! let mut engine = SoftwareEngine::new();          // or the FPGA backend
//! let channel = engine.open_channel().unwrap();
//! let mut detector = DtmfDetector::default();
//! let (mut pcm, mut blocks) = ([0i16; 160], Vec::new());
//! for payload in [[0xFFu8; 160]; 50] {             // 1 s of µ-law packets
//!     Law::Ulaw.decode(&payload, &mut pcm);
//!     blocks.clear();
//!     engine.process(channel, &pcm, &mut blocks).unwrap();
//!     for block in &blocks {
//!         if let Some(digit) = detector.push(block) {
//!             println!("{} at sample {}", digit.digit, digit.start);
//!         }
//!     }
//! }
//! ```
//!
//! Map: [`g711`] companding; [`features`] the engine trait, block records and
//! kernels; [`dtmf`] DTMF decisions; [`signal`] generators for tests and
//! injection.
#![warn(missing_docs)]
// Loops over parallel per-bin arrays index them; zips would hide the bin.
#![allow(clippy::needless_range_loop)]

pub mod amd;
pub mod beep;
pub mod dtmf;
pub mod fastmath;
pub mod features;
pub mod g711;
pub mod signal;
pub mod tunable;
