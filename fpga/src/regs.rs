//! The register map of the feature block (`rtl/rw_regs.v`): byte offsets
//! of 32-bit registers on its AXI-Lite-like bus.

/// Reads [`ID_VALUE`].
pub const ID: u32 = 0x00;
/// Reads [`VERSION_VALUE`] (major in the high half, minor in the low).
pub const VERSION: u32 = 0x04;
/// Bit 0: enable; bit 1: soft reset (write 1; clears every channel's
/// state, the pending record and the counters; reads 0).
pub const CTRL: u32 = 0x08;
/// Bit 0: enabled; bit 1: busy (reset sweep); bit 2: record pending;
/// bit 3: an operation in the pipeline.
pub const STATUS: u32 = 0x0C;
/// Channels in use: samples for ids at or above it are dropped.
pub const CHAN_COUNT: u32 = 0x10;
/// Channel slots of the block (read-only).
pub const CAPACITY: u32 = 0x14;
/// Samples per feature block (read-only, 40).
pub const BLOCK_LEN: u32 = 0x18;
/// DFT bins per record (read-only, 8).
pub const BINS: u32 = 0x1C;
/// Write a channel id to clear its state (write-only).
pub const CHAN_CLEAR: u32 = 0x20;
/// Samples accepted since reset.
pub const SAMPLES: u32 = 0x24;
/// Records emitted since reset.
pub const RECORDS: u32 = 0x28;
/// Samples dropped (bad channel id, or block not enabled).
pub const DROPS: u32 = 0x2C;
/// Bus errors: writes to read-only or unmapped registers, bad values.
pub const ERRORS: u32 = 0x30;
/// The accumulator RAM's read latency in cycles, 2 or 3 (read-only, since
/// version 2.0): 3 in builds above 4,096 channel slots, whose banked RAM
/// has a registered bank multiplexer. It sets the near-repeat rule
/// ([`near_repeat_window`], [`max_stall_cycles`]).
pub const ACC_RD_LAT: u32 = 0x34;

/// The value of [`ID`]: "RWFB".
pub const ID_VALUE: u32 = 0x5257_4642;
/// The value of [`VERSION`]: 3.0. Version 3 adds the descriptor ring
/// engine and DMA master in RTL ([`RING_STATUS`], [`HOST_WORDS`]); 2.0 was
/// the 7-stage pipeline ([`LATENCY_CYCLES`]), the 8-record output FIFO
/// ([`OUT_FIFO_RECORDS`]) and the [`ACC_RD_LAT`] register; 1.0 the
/// 2-stage core with a 2-record FIFO. `FpgaSimEngine` refuses another
/// major version.
pub const VERSION_VALUE: u32 = 0x0003_0000;

/// [`CTRL`] bit: enable.
pub const CTRL_ENABLE: u32 = 1 << 0;
/// [`CTRL`] bit: soft reset.
pub const CTRL_SOFT_RESET: u32 = 1 << 1;
/// [`STATUS`] bit: enabled.
pub const STATUS_ENABLED: u32 = 1 << 0;
/// [`STATUS`] bit: reset sweep in progress.
pub const STATUS_BUSY: u32 = 1 << 1;
/// [`STATUS`] bit: a record waits on the output stream.
pub const STATUS_RECORD_PENDING: u32 = 1 << 2;

/// [`STATUS`] bit: a sample or clear is still in the pipeline.
pub const STATUS_IN_FLIGHT: u32 = 1 << 3;

/// Clock cycles per sample of the RTL core (all bins in parallel), for any
/// order in which a channel, once left, does not come back within
/// [`near_repeat_window`] samples (packets of one channel, as the driver
/// sends them). A near-repeat (A, B, A or A, B, C, A) waits at most
/// [`max_stall_cycles`] more. Any build, either read latency.
pub const CYCLES_PER_SAMPLE: u32 = 1;

/// [`ACC_RD_LAT`] of the default build (`CH_BITS` up to 12: one bank).
pub const DEFAULT_ACC_RD_LAT: u32 = 2;

/// [`ACC_RD_LAT`] of the largest builds (`CH_BITS` above 12: banked, the
/// bank multiplexer registered), the highest the RTL has.
pub const MAX_ACC_RD_LAT: u32 = 3;

/// A sample stalls at the input when its channel had a sample 2 to
/// `near_repeat_window(rd_lat)` cycles earlier but not 1 cycle earlier: the
/// accumulator word written by that sample is not yet back in block RAM
/// (see `rtl/rw_feature_core.v`). `rd_lat` is what [`ACC_RD_LAT`] reads:
/// window 3 at read latency 2, 4 at read latency 3.
pub const fn near_repeat_window(rd_lat: u32) -> u32 {
    rd_lat + 1
}

/// The longest a sample waits at the input for a near-repeat of its
/// channel (the output stream being ready), for the [`ACC_RD_LAT`] the
/// block reports: 2 cycles at read latency 2 (A, B, A), 3 at read
/// latency 3.
pub const fn max_stall_cycles(rd_lat: u32) -> u32 {
    rd_lat
}

/// [`near_repeat_window`] of the default build ([`DEFAULT_ACC_RD_LAT`]).
pub const NEAR_REPEAT_WINDOW: u32 = near_repeat_window(DEFAULT_ACC_RD_LAT);

/// [`max_stall_cycles`] of any build (at [`MAX_ACC_RD_LAT`]): a bound a
/// driver may wait per sample without reading [`ACC_RD_LAT`].
pub const MAX_STALL_CYCLES: u32 = max_stall_cycles(MAX_ACC_RD_LAT);

/// Cycles from a sample's acceptance (the cycle its handshake fires) to
/// its record on the output stream, when it ends a block (pipeline stages
/// S0-S6, then the output FIFO). Either read latency: at 3 the
/// accumulator read moves one stage earlier.
pub const LATENCY_CYCLES: u32 = 7;

/// Records the output FIFO holds; the input stalls only when records
/// still possible in the pipeline could overflow it.
pub const OUT_FIFO_RECORDS: u32 = 8;

// The ring engine's registers (rtl/rw_ring.v: queue manager and DMA
// master). Indices count entries; host addresses are word indices into
// host memory.

/// Submission ring base (host word address).
pub const SQ_BASE: u32 = 0x40;
/// Submission ring entries (2..=65536; a write resets both rings' indices).
pub const SQ_SIZE: u32 = 0x44;
/// Submission producer index: the doorbell (host writes).
pub const SQ_TAIL: u32 = 0x48;
/// Submission consumer index (device advances; read-only).
pub const SQ_HEAD: u32 = 0x4C;
/// Completion ring base (host word address).
pub const CQ_BASE: u32 = 0x50;
/// Completion ring entries (2..=65536; a write resets both rings' indices).
pub const CQ_SIZE: u32 = 0x54;
/// Completion producer index (device advances; bit 31: its current phase).
pub const CQ_TAIL: u32 = 0x58;
/// Completion consumer index (host writes after polling: frees slots).
pub const CQ_HEAD: u32 = 0x5C;
/// Ring errors: bad descriptors (channel, overflow, DMA), bad index or
/// size writes, writes to read-only ring registers.
pub const RING_ERRORS: u32 = 0x60;
/// Descriptors completed since reset.
pub const RING_DESCRIPTORS: u32 = 0x64;
/// Ring engine state (read-only): the `RING_*` bits below.
pub const RING_STATUS: u32 = 0x68;
/// Words of host memory the engine may reach: every descriptor is checked
/// against this window before any of its samples is read.
pub const HOST_WORDS: u32 = 0x6C;

/// `RING_STATUS`: a descriptor is under way.
pub const RING_BUSY: u32 = 1 << 0;
/// `RING_STATUS`: stalled, waiting for completion room.
pub const RING_STALLED: u32 = 1 << 1;
/// `RING_STATUS`: DMA reads outstanding.
pub const RING_READS: u32 = 1 << 2;
/// `RING_STATUS`: descriptors pending (`SQ_HEAD != SQ_TAIL`).
pub const RING_PENDING: u32 = 1 << 3;
