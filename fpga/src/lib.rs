//! ringwire's FPGA DSP block: RTL (`rtl/`), its Verilator simulation
//! (`sim/`, behind the `fpga-sim` feature) and the Rust driver.
//!
//! The block implements the arithmetic contract stated in
//! [`ringwire_dsp::features`] bit-exactly; `FpgaSimEngine` (with the
//! `fpga-sim` feature) drives the simulated block through the same
//! [`FeatureEngine`] trait as the software path.
#![warn(missing_docs)]
pub use ringwire_dsp::features::FeatureEngine;

pub mod regs;
pub mod rom;

#[cfg(feature = "fpga-sim")]
pub mod engine;
#[cfg(feature = "fpga-sim")]
pub mod ring;
#[cfg(feature = "fpga-sim")]
pub mod sim;

#[cfg(feature = "fpga-sim")]
pub use engine::FpgaSimEngine;
