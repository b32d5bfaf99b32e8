//! Packets and streams for ringwire.
