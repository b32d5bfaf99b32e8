//! ringwire's host side: what the `ringwire` binary does, as a library so
//! tests can drive it without a process.
//!
//! Map: [`analyze`] runs detectors offline over files and returns events;
//! [`report`] renders them as JSON lines or text.
pub mod analyze;
pub mod report;
