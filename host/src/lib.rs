//! ringwire's host side: what the `ringwire` binary does, as a library so
//! tests can drive it without a process.
//!
//! Map: [`analyze`] runs detectors offline over files and returns events;
//! [`report`] renders them as JSON lines or text; [`plot`] draws one SVG
//! per stream; [`corpus`], [`evaluate`] and [`baseline`] generate the AMD
//! corpus and score ringwire against the classic detector; [`ng`] is the
//! sans-IO rtpengine NG control protocol (bencode, commands, SDP rewrite);
//! [`load`] drives any NG node with calls and measures the relay;
//! [`serve`] is the live node daemon (`ringwire serve`: NG socket, relay
//! workers, metrics).
#![warn(missing_docs)]
pub mod analyze;
pub mod baseline;
pub mod corpus;
pub mod evaluate;
pub mod live;
pub mod load;
pub mod logging;
pub mod ng;
pub mod plot;
pub mod report;
pub mod serve;
