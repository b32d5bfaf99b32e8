//! Feature extraction: the fixed-point, bit-exact half of the DSP.
//!
//! Audio is cut into blocks of [`BLOCK_LEN`] samples (5 ms at 8 kHz: every
//! common packet time, 10/20/30 ms, is a whole number of blocks). For each
//! block a [`FeatureBlock`] holds
//!
//! - the single-bin DFT (what a Goertzel filter computes) at each of the
//!   eight DTMF frequencies, as complex integers,
//! - the block energy, and
//! - the lag-1 and lag-2 autocorrelation of the block (with the energy, the
//!   order-2 linear prediction of the block: a pure tone's frequency and how
//!   pure it is, for beep detection, and the spectral tilt voice activity
//!   detection uses), and
//! - the number of zero crossings (sign changes) in the block.
//!
//! The decisions (DTMF validation, later AMD and beep state machines) run on
//! these records only, so any backend that produces the same records (the
//! software kernels here, or the FPGA block) yields the same events.
//!
//! # Arithmetic (the contract every backend implements bit-exactly)
//!
//! 1. Input samples are 16-bit linear PCM. The engine uses `x = s >> 3`
//!    (arithmetic shift, a 13-bit value in -4096..=4095). A-law audio loses
//!    nothing (its decoded values are multiples of 8); µ-law loses the last
//!    bit of its 14-bit resolution above the first segment, an error 70 dB
//!    below the signal.
//! 2. Twiddles are `round(8192 * cos(w_k n))` and `round(-8192 * sin(w_k n))`
//!    for n = 0..BLOCK_LEN-1 (Q13, in -8192..=8192), `w_k = 2 pi f_k / 8000`,
//!    phase origin at the first sample of the block ([`twiddles`]).
//! 3. `re_k = sum x[n] * cos_k[n]`, `im_k = sum x[n] * sin_k[n]`,
//!    `energy = sum x[n]^2`, `acf[0] = sum_{n>=1} x[n] x[n-1]` and
//!    `acf[1] = sum_{n>=2} x[n] x[n-2]` (within the block only), exactly, in
//!    32-bit two's complement. The bounds (|sum| <= 40 * 4096 * 8192 < 2^31,
//!    energy and |acf| <= 40 * 2^24) mean no sum can overflow, so the order
//!    of additions does not matter.
//! 4. `zero_crossings` counts n in 1..40 with `(x[n] < 0) != (x[n-1] < 0)`.
//!
//! There is no feedback and no rounding inside a block: the same result
//! comes from a scalar loop, SIMD multiply-accumulate, or parallel DSP slices.
use crate::g711::Law;

mod kernel;
mod software;

pub use kernel::{dft_block_scalar, feature_block, BlockSource, KernelKind};
pub use software::SoftwareEngine;

/// Samples per feature block (5 ms at 8 kHz).
pub const BLOCK_LEN: usize = 40;

/// Sample rate of all feature extraction, in Hz.
pub const SAMPLE_RATE: u32 = 8000;

/// Number of DFT bins per block.
pub const BINS: usize = 8;

/// Bin frequencies in Hz: the DTMF row tones, then the column tones.
pub const BIN_FREQS: [f64; BINS] = [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0];

/// Scale of the twiddles: 2^13.
pub const TWIDDLE_SCALE: f64 = 8192.0;

/// Right shift applied to input samples before any arithmetic.
pub const INPUT_SHIFT: u32 = 3;

/// The features of one block of one channel.
///
/// `repr(C)`: the kernels store `energy`, `acf` and `zero_crossings` as one
/// 16-byte word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C)]
pub struct FeatureBlock {
    /// Complex DFT value per bin, `[re, im]`, in units of input LSB (after
    /// the shift) times 2^13.
    pub dft: [[i32; 2]; BINS],
    /// Sum of the squared (shifted) samples of the block.
    pub energy: u32,
    /// Autocorrelation of the block at lags 1 and 2.
    pub acf: [i32; 2],
    /// Sign changes between consecutive samples of the block.
    pub zero_crossings: u32,
}

impl FeatureBlock {
    /// Whether the block looks like a DTMF tone pair: a row bin and a
    /// column bin each hold at least a quarter of the power a lone on-bin
    /// sine of the block's energy would put there (a silent block holds
    /// no tone).
    #[inline]
    pub fn looks_like_dtmf(&self) -> bool {
        // an on-bin sine of energy E gives |X|^2 = E * (BLOCK_LEN / 2) * S^2
        let full = self.energy as f64 * (BLOCK_LEN as f64 / 2.0) * TWIDDLE_SCALE * TWIDDLE_SCALE;
        let row = (0..4).map(|k| self.power(k)).max().unwrap_or(0) as f64;
        let col = (4..BINS).map(|k| self.power(k)).max().unwrap_or(0) as f64;
        self.energy > 0 && row >= 0.25 * full && col >= 0.25 * full
    }

    /// Power of bin `k` (|X|^2), exact.
    #[inline]
    pub fn power(&self, k: usize) -> u64 {
        let [re, im] = self.dft[k];
        (re as i64 * re as i64 + im as i64 * im as i64) as u64
    }
}

/// The Q13 twiddle table: `[bin][n] = (cos, -sin)` at sample `n` of a block.
pub fn twiddles() -> [[(i16, i16); BLOCK_LEN]; BINS] {
    let mut table = [[(0i16, 0i16); BLOCK_LEN]; BINS];
    for (k, row) in table.iter_mut().enumerate() {
        let w = 2.0 * std::f64::consts::PI * BIN_FREQS[k] / SAMPLE_RATE as f64;
        for (n, t) in row.iter_mut().enumerate() {
            let phase = w * n as f64;
            *t = (
                (TWIDDLE_SCALE * phase.cos()).round() as i16,
                (-TWIDDLE_SCALE * phase.sin()).round() as i16,
            );
        }
    }
    table
}

/// Identifies one channel (one audio stream) inside a [`FeatureEngine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u32);

/// Why a feature engine refused work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EngineError {
    /// The channel id was never opened or is already closed.
    #[error("unknown channel {0}")]
    UnknownChannel(u32),
    /// The engine has no room for another channel.
    #[error("no free channel (capacity {capacity})")]
    NoFreeChannel {
        /// How many channels the engine can hold.
        capacity: usize,
    },
    /// The backend failed (hardware error, simulation stopped, ...).
    #[error("feature backend failed: {0}")]
    Backend(String),
}

/// A backend that turns audio into [`FeatureBlock`]s, for many channels.
///
/// Software and hardware (FPGA) backends implement this; the decision logic
/// consumes its output and cannot tell them apart.
pub trait FeatureEngine {
    /// Opens a channel; its first block starts at its first sample.
    fn open_channel(&mut self) -> Result<ChannelId, EngineError>;

    /// Closes a channel, dropping any partial block.
    fn close_channel(&mut self, channel: ChannelId) -> Result<(), EngineError>;

    /// Feeds a channel's next samples (any length; partial blocks are
    /// carried to the next call) and appends every completed block to `out`
    /// in order. Does not allocate once `out` has grown to its working size.
    fn process(
        &mut self,
        channel: ChannelId,
        samples: &[i16],
        out: &mut Vec<FeatureBlock>,
    ) -> Result<(), EngineError>;

    /// Feeds a channel's next G.711 payload bytes: the same as decoding
    /// them with [`Law::decode`] and calling [`FeatureEngine::process`], which
    /// is what this default does; backends may fuse the decode.
    fn process_g711(
        &mut self,
        channel: ChannelId,
        law: Law,
        payload: &[u8],
        out: &mut Vec<FeatureBlock>,
    ) -> Result<(), EngineError> {
        let mut pcm = [0i16; 160];
        for chunk in payload.chunks(pcm.len()) {
            let n = law.decode(chunk, &mut pcm);
            self.process(channel, &pcm[..n], out)?;
        }
        Ok(())
    }

    /// A short name for logs and metrics ("software", "fpga-sim").
    fn name(&self) -> &'static str;
}
