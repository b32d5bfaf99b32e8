//! Packets and streams for ringwire.
pub mod rfc4733;
pub mod rtp;
