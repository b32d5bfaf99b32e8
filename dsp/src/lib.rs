//! Pure signal processing for ringwire: no IO, no clocks, no allocation per
//! frame.
pub mod g711;
