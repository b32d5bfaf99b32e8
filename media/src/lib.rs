//! Packets and streams for ringwire.
//!
//! Map of the crate:
//!
//! - [`rtp`]: RTP header parse over `Bytes`/`&[u8]` (zero copy), in-place
//!   rewrite, builder into a caller's buffer;
//! - [`rtcp`]: sender and receiver reports read (and written for tests);
//! - [`rfc4733`]: telephone-event payloads and the sans-IO [`rfc4733::EventTracker`]
//!   (one digit per event, whatever the retransmissions);
//! - [`capture`]: pcap/pcapng files scanned for RTP without SDP
//!   ([`capture::link`] slices frames, [`capture::Scanner`] keeps candidates,
//!   [`capture::stream`] reorders, fills loss, decodes G.711);
//! - [`wav`] and [`resample`]: WAV files of any common encoding to 8 kHz;
//! - [`input`]: [`read_input`], the one entry point of offline analysis;
//! - [`relay`]: the sans-IO live relay core ([`relay::RelayCore`]: calls,
//!   legs, latching, forwarding, rewriting, per-leg statistics, taps);
//! - [`driver`]: the threads and sockets around it ([`driver::DriverHandle`]:
//!   shard workers, epoll + `recvmmsg`/`sendmmsg`, drop counters).
//!
//! The run loop of offline analysis: read, then feed each stream's audio and
//! digits to the detectors in media-time order.
//!
//! ```no_run
//! use ringwire_media::{read_input, MediaStream};
//!
//! # fn main() -> Result<(), ringwire_media::InputError> {
//! let streams: Vec<MediaStream> = read_input("call.pcap".as_ref())?;
//! for s in &streams {
//!     for frame in s.samples.chunks(160) {
//!         // 20 ms of 8 kHz audio: hand it to the DTMF/AMD detectors here.
//!         let _ = frame;
//!     }
//!     for d in &s.telephone_events {
//!         println!("{} {} {}..{} ms", s.id, d.digit, d.start_ms, d.end_ms);
//!     }
//!     println!("{}: lost {} dup {}", s.id, s.stats.lost, s.stats.duplicates);
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod capture;
pub mod driver;
pub mod input;
pub mod relay;
pub mod resample;
pub mod rfc4733;
pub mod rtcp;
pub mod rtp;
pub mod wav;

pub use input::{read_input, InputError, MediaStream, StreamStats, TelephoneEventDigit};
