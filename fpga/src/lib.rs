//! ringwire's FPGA DSP block: placeholder until its issue (see README.md).
//!
//! The block will implement [`ringwire_dsp::features::FeatureEngine`] with
//! the arithmetic contract stated in `ringwire_dsp::features`.
#![warn(missing_docs)]
pub use ringwire_dsp::features::FeatureEngine;
