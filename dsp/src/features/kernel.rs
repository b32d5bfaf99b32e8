//! The per-block DFT and energy kernel, in scalar and SIMD forms that are
//! bit-exact with each other (see the arithmetic contract in the parent
//! module). The SIMD forms multiply pairs of samples by pairs of twiddles
//! (`pmaddwd`, or `vpdpwssd` with AVX-512 VNNI) into 32-bit lanes laid out as
//! `[re0, im0, re1, im1, ...]`.
use super::{twiddles, FeatureBlock, BINS, BLOCK_LEN, INPUT_SHIFT};
use crate::g711::Law;
use std::sync::OnceLock;

const PAIRS: usize = BLOCK_LEN / 2;
const LANES: usize = 2 * BINS;

/// Twiddles arranged for the kernels.
struct Tables {
    /// `[bin][n] = (cos, -sin)`.
    plain: [[(i16, i16); BLOCK_LEN]; BINS],
    /// Per sample pair `j`: 16 lanes of `(t(2j), t(2j+1))`, lane `2k` for
    /// the real part of bin `k` and `2k+1` for its imaginary part.
    paired: [[i16; 2 * LANES]; PAIRS],
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let plain = twiddles();
        let mut paired = [[0i16; 2 * LANES]; PAIRS];
        for (j, row) in paired.iter_mut().enumerate() {
            for k in 0..BINS {
                for part in 0..2 {
                    let lane = 2 * k + part;
                    let pick = |n: usize| {
                        if part == 0 {
                            plain[k][n].0
                        } else {
                            plain[k][n].1
                        }
                    };
                    row[2 * lane] = pick(2 * j);
                    row[2 * lane + 1] = pick(2 * j + 1);
                }
            }
        }
        Tables { plain, paired }
    })
}

/// Which implementation of the kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelKind {
    /// Portable scalar code: the reference.
    Scalar,
    /// AVX2 `vpmaddwd`, two 256-bit accumulators.
    Avx2,
    /// AVX-512 VNNI `vpdpwssd`, one 512-bit accumulator per pair stream.
    Avx512Vnni,
}

impl KernelKind {
    /// The fastest kernel this CPU runs.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if KernelKind::Avx512Vnni.is_supported() {
                return KernelKind::Avx512Vnni;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return KernelKind::Avx2;
            }
        }
        KernelKind::Scalar
    }

    /// Whether this CPU can run the kernel.
    pub fn is_supported(self) -> bool {
        match self {
            KernelKind::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            KernelKind::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            KernelKind::Avx512Vnni => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512vnni")
                    && std::arch::is_x86_feature_detected!("popcnt")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

/// Where one block's 40 samples come from.
#[derive(Debug, Clone, Copy)]
pub enum BlockSource<'a> {
    /// Already on the engine's 13-bit scale (`s >> 3`).
    Scaled(&'a [i16; BLOCK_LEN]),
    /// 16-bit linear PCM; the kernel shifts it.
    Linear(&'a [i16; BLOCK_LEN]),
    /// G.711 codes; the kernel decodes and shifts them.
    G711(Law, &'a [u8; BLOCK_LEN]),
}

impl BlockSource<'_> {
    /// The block's last two samples on the 13-bit scale: the next block's
    /// history.
    #[inline]
    pub fn last_two(self) -> [i16; 2] {
        let n = BLOCK_LEN - 2;
        match self {
            BlockSource::Scaled(x) => [x[n], x[n + 1]],
            BlockSource::Linear(s) => [s[n] >> INPUT_SHIFT, s[n + 1] >> INPUT_SHIFT],
            BlockSource::G711(law, c) => [
                law.decode_one(c[n]) >> INPUT_SHIFT,
                law.decode_one(c[n + 1]) >> INPUT_SHIFT,
            ],
        }
    }

    /// The block on the engine's 13-bit scale.
    fn scaled(self) -> [i16; BLOCK_LEN] {
        match self {
            BlockSource::Scaled(x) => *x,
            BlockSource::Linear(s) => s.map(|v| v >> INPUT_SHIFT),
            BlockSource::G711(law, codes) => codes.map(|c| law.decode_one(c) >> INPUT_SHIFT),
        }
    }
}

/// Computes one block's features with the given kernel (the scalar one if
/// this CPU lacks it). The SIMD kernels convert the input in registers, so
/// a block read straight from a packet or frame never round-trips through
/// memory.
///
/// `history` is the two samples before the block (oldest first, 13-bit
/// scale; zeros at a stream's start), for the lag products across the block
/// boundary.
#[inline]
pub fn feature_block(kind: KernelKind, source: BlockSource, history: [i16; 2]) -> FeatureBlock {
    let kind = if kind.is_supported() {
        kind
    } else {
        KernelKind::Scalar
    };
    let mut block = FeatureBlock::default();
    // SAFETY: `kind` is supported by this CPU (checked just above).
    unsafe { feature_block_into(kind, source, history, &mut block) };
    block
}

/// [`feature_block`] into a caller's record (written in place, so a record
/// in a vector is never copied through a stalled reload), without the CPU
/// check, for callers that made it once.
///
/// # Safety
/// The CPU must support `kind` ([`KernelKind::is_supported`]).
#[inline]
pub(crate) unsafe fn feature_block_into(
    kind: KernelKind,
    source: BlockSource,
    history: [i16; 2],
    block: &mut FeatureBlock,
) {
    match kind {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller guarantees avx512f/bw/vl/vnni and popcnt.
        KernelKind::Avx512Vnni => unsafe {
            x86::block_avx512vnni(source, history, &tables().paired, block)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller guarantees avx2.
        KernelKind::Avx2 => unsafe {
            x86::block_avx2(&source.scaled(), history, &tables().paired, block)
        },
        _ => *block = dft_block_scalar(&source.scaled(), history),
    }
}

/// The scalar reference kernel; `history` is the two samples before the
/// block (oldest first).
pub fn dft_block_scalar(x: &[i16; BLOCK_LEN], history: [i16; 2]) -> FeatureBlock {
    let t = &tables().plain;
    let mut block = FeatureBlock::default();
    for k in 0..BINS {
        let (mut re, mut im) = (0i32, 0i32);
        for n in 0..BLOCK_LEN {
            re = re.wrapping_add(x[n] as i32 * t[k][n].0 as i32);
            im = im.wrapping_add(x[n] as i32 * t[k][n].1 as i32);
        }
        block.dft[k] = [re, im];
    }
    block.energy = x.iter().map(|&s| (s as i32 * s as i32) as u32).sum();
    block.acf = lag_sums(x, history);
    block.zero_crossings = zero_crossings(x);
    block
}

/// The lag-1 and lag-2 products across the block boundary.
#[inline(always)]
fn boundary_products(x: &[i16; BLOCK_LEN], [h0, h1]: [i16; 2]) -> [i32; 2] {
    let (x0, x1) = (x[0] as i32, x[1] as i32);
    [x0 * h1 as i32, x0 * h0 as i32 + x1 * h1 as i32]
}

/// Both lag sums of a block with its history.
#[inline(always)]
fn lag_sums(x: &[i16; BLOCK_LEN], history: [i16; 2]) -> [i32; 2] {
    let [b1, b2] = boundary_products(x, history);
    [
        lag_sum::<1>(x, 1).wrapping_add(b1),
        lag_sum::<2>(x, 2).wrapping_add(b2),
    ]
}

/// Sign changes between consecutive samples of a block.
#[inline(always)]
fn zero_crossings(x: &[i16; BLOCK_LEN]) -> u32 {
    x.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count() as u32
}

/// `sum x[n] x[n-LAG]` for n from `from.max(LAG)` to the end of the block.
#[inline(always)]
fn lag_sum<const LAG: usize>(x: &[i16; BLOCK_LEN], from: usize) -> i32 {
    let mut sum = 0i32;
    for n in from.max(LAG)..BLOCK_LEN {
        sum = sum.wrapping_add(x[n] as i32 * x[n - LAG] as i32);
    }
    sum
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use crate::g711::simd as g711simd;
    use std::arch::x86_64::*;

    /// Broadcasts the `j`-th pair of samples (little-endian: `x[2j]` in the
    /// low half of each lane) straight from memory.
    #[inline(always)]
    fn pair(x: &[i16; BLOCK_LEN], j: usize) -> i32 {
        debug_assert!(2 * j + 1 < BLOCK_LEN);
        // SAFETY: 2j+1 < BLOCK_LEN, so the 4 bytes read lie inside `x`;
        // read_unaligned has no alignment requirement.
        let word = unsafe { x.as_ptr().add(2 * j).cast::<u32>().read_unaligned() };
        u32::from_le(word) as i32
    }

    /// Loads a block into registers on the 13-bit scale: samples 0..32 in
    /// a 512-bit register, 32..40 in a 128-bit one.
    #[target_feature(enable = "avx512f,avx512bw")]
    fn load_block(source: BlockSource) -> (__m512i, __m128i) {
        let shift = _mm_cvtsi32_si128(INPUT_SHIFT as i32);
        // SAFETY (all loads): each source holds 40 elements; the loads
        // cover [0, 32) and [32, 40).
        match source {
            BlockSource::Scaled(x) => unsafe {
                (
                    _mm512_loadu_si512(x.as_ptr().cast()),
                    _mm_loadu_si128(x.as_ptr().add(32).cast()),
                )
            },
            BlockSource::Linear(s) => unsafe {
                (
                    _mm512_sra_epi16(_mm512_loadu_si512(s.as_ptr().cast()), shift),
                    _mm_sra_epi16(_mm_loadu_si128(s.as_ptr().add(32).cast()), shift),
                )
            },
            BlockSource::G711(law, codes) => {
                let mag = g711simd::Magnitudes::load(law.table());
                let (head, tail) = unsafe {
                    (
                        _mm256_loadu_si256(codes.as_ptr().cast()),
                        _mm_loadl_epi64(codes.as_ptr().add(32).cast()),
                    )
                };
                let head = g711simd::expand(mag, _mm512_cvtepu8_epi16(head), INPUT_SHIFT);
                let tail = g711simd::expand(
                    mag,
                    _mm512_cvtepu8_epi16(_mm256_zextsi128_si256(tail)),
                    INPUT_SHIFT,
                );
                (head, _mm512_castsi512_si128(tail))
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,popcnt")]
    pub(super) unsafe fn block_avx512vnni(
        source: BlockSource,
        history: [i16; 2],
        paired: &[[i16; 2 * LANES]; PAIRS],
        block: &mut FeatureBlock,
    ) {
        let (head, tail) = load_block(source);
        // Keep a copy in memory for the pair broadcasts: each 4-byte read
        // lies inside one of these two stores, so it is forwarded at once.
        let mut x = [0i16; BLOCK_LEN];
        // SAFETY: x holds 40 i16: [0, 32) and [32, 40).
        unsafe {
            _mm512_storeu_si512(x.as_mut_ptr().cast(), head);
            _mm_storeu_si128(x.as_mut_ptr().add(32).cast(), tail);
        }
        // Two accumulators halve the dependency chain through vpdpwssd.
        // Written as assembly: LLVM otherwise splits vpdpwssd into
        // vpmaddwd + vpaddd and builds the broadcasts with shuffles, where
        // one instruction with a broadcast memory operand does it all.
        let mut acc = [_mm512_setzero_si512(); 2];
        for j in 0..PAIRS {
            // SAFETY: `paired[j]` is 32 i16 = 64 bytes, one unaligned load.
            let tw = unsafe { _mm512_loadu_si512(paired[j].as_ptr().cast()) };
            let pair_ptr = x[2 * j..].as_ptr();
            // SAFETY: vpdpwssd reads 4 bytes at `pair_ptr` (x[2j], x[2j+1],
            // inside `x` since 2j+1 < BLOCK_LEN) and broadcasts them; it
            // writes only the accumulator register. avx512vnni is enabled.
            unsafe {
                std::arch::asm!(
                    "vpdpwssd {acc}, {tw}, dword ptr [{p}]{{1to16}}",
                    acc = inout(zmm_reg) acc[j & 1],
                    tw = in(zmm_reg) tw,
                    p = in(reg) pair_ptr,
                    options(pure, readonly, nostack, preserves_flags),
                );
            }
        }
        let sum = _mm512_add_epi32(acc[0], acc[1]);
        // SAFETY: `block.dft` is [[i32; 2]; 8]: 64 contiguous bytes laid out
        // exactly as the lanes, [re0, im0, re1, im1, ...].
        unsafe { _mm512_storeu_si512(block.dft.as_mut_ptr().cast(), sum) };

        // Energy and lags, in registers. Lane n of next_k is x[n + k].
        let wide_tail = _mm512_zextsi128_si512(tail);
        let idx = |k: i16| {
            _mm512_add_epi16(
                _mm512_set_epi16(
                    31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12,
                    11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
                ),
                _mm512_set1_epi16(k),
            )
        };
        let next1 = _mm512_permutex2var_epi16(head, idx(1), wide_tail);
        let next2 = _mm512_permutex2var_epi16(head, idx(2), wide_tail);
        // tail products: x[n]x[n+1] and x[n]x[n+2] for n in 32..40, with
        // zeros shifted in past the block's end
        let tail1 = _mm_srli_si128::<2>(tail);
        let tail2 = _mm_srli_si128::<4>(tail);
        let sums = reduce3(
            _mm512_add_epi32(
                _mm512_madd_epi16(head, head),
                _mm512_zextsi128_si512(_mm_madd_epi16(tail, tail)),
            ),
            _mm512_add_epi32(
                _mm512_madd_epi16(head, next1),
                _mm512_zextsi128_si512(_mm_madd_epi16(tail, tail1)),
            ),
            _mm512_add_epi32(
                _mm512_madd_epi16(head, next2),
                _mm512_zextsi128_si512(_mm_madd_epi16(tail, tail2)),
            ),
        );
        // Zero crossings: sign bits of all 40 samples as one mask.
        let negative = _mm512_movepi16_mask(head) as u64 | ((_mm_movepi16_mask(tail) as u64) << 32);
        let crossings = ((negative ^ (negative >> 1)) & ((1u64 << 39) - 1)).count_ones();
        let [b1, b2] = boundary_products(&x, history);
        let tail_word = _mm_add_epi32(
            _mm_insert_epi32::<3>(sums, crossings as i32),
            _mm_set_epi32(0, b2, b1, 0),
        );
        // SAFETY: FeatureBlock is repr(C): energy, acf[0], acf[1] and
        // zero_crossings are 16 contiguous bytes after `dft`.
        unsafe { _mm_storeu_si128((&mut block.energy as *mut u32).cast(), tail_word) };
    }

    /// Horizontal sums of three vectors of 16 lanes, as `[a, b, c, 0]`.
    #[target_feature(enable = "avx512f")]
    fn reduce3(a: __m512i, b: __m512i, c: __m512i) -> __m128i {
        // Interleave partial sums so each 128-bit lane holds [a, b, c, 0],
        // then fold the four 128-bit lanes once for all three.
        let zero = _mm512_setzero_si512();
        let ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
        let c0 = _mm512_add_epi32(
            _mm512_unpacklo_epi32(c, zero),
            _mm512_unpackhi_epi32(c, zero),
        );
        let abc = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, c0), _mm512_unpackhi_epi64(ab, c0));
        let half = _mm256_add_epi32(
            _mm512_castsi512_si256(abc),
            _mm512_extracti64x4_epi64::<1>(abc),
        );
        _mm_add_epi32(
            _mm256_castsi256_si128(half),
            _mm256_extracti128_si256::<1>(half),
        )
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn block_avx2(
        x: &[i16; BLOCK_LEN],
        history: [i16; 2],
        paired: &[[i16; 2 * LANES]; PAIRS],
        block: &mut FeatureBlock,
    ) {
        let mut lo = _mm256_setzero_si256();
        let mut hi = _mm256_setzero_si256();
        for j in 0..PAIRS {
            let samples = _mm256_set1_epi32(pair(x, j));
            // SAFETY: `paired[j]` is 64 bytes: two 32-byte unaligned loads.
            let (tlo, thi) = unsafe {
                (
                    _mm256_loadu_si256(paired[j].as_ptr().cast()),
                    _mm256_loadu_si256(paired[j].as_ptr().add(16).cast()),
                )
            };
            lo = _mm256_add_epi32(lo, _mm256_madd_epi16(samples, tlo));
            hi = _mm256_add_epi32(hi, _mm256_madd_epi16(samples, thi));
        }
        // SAFETY: `block.dft` is [[i32; 2]; 8]: 64 contiguous bytes laid out
        // as the lanes; two 32-byte stores.
        unsafe {
            _mm256_storeu_si256(block.dft.as_mut_ptr().cast(), lo);
            _mm256_storeu_si256(block.dft.as_mut_ptr().add(4).cast(), hi);
        }
        // Energy, lags and zero crossings on a zero-padded copy, so the
        // shifted loads x[n+1], x[n+2] stay in bounds.
        let mut padded = [0i16; 56];
        padded[..BLOCK_LEN].copy_from_slice(x);
        let load = |at: usize| {
            debug_assert!(at + 16 <= padded.len());
            // SAFETY: at + 16 <= 56: the 32 bytes read lie inside `padded`.
            unsafe { _mm256_loadu_si256(padded.as_ptr().add(at).cast()) }
        };
        let ones = _mm256_set1_epi16(1);
        // sign changes count for n in 0..39 only (pair n, n+1 inside the block)
        let keep = _mm256_setr_epi16(1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        let (mut e, mut a1, mut a2, mut zc) = (
            _mm256_setzero_si256(),
            _mm256_setzero_si256(),
            _mm256_setzero_si256(),
            _mm256_setzero_si256(),
        );
        for (i, at) in [0usize, 16, 32].into_iter().enumerate() {
            let (v, n1, n2) = (load(at), load(at + 1), load(at + 2));
            e = _mm256_add_epi32(e, _mm256_madd_epi16(v, v));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(v, n1));
            a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(v, n2));
            let mut changes = _mm256_srli_epi16::<15>(_mm256_xor_si256(v, n1));
            if i == 2 {
                changes = _mm256_and_si256(changes, keep);
            }
            zc = _mm256_add_epi32(zc, _mm256_madd_epi16(changes, ones));
        }
        // [e, a1, a2, zc] summed across lanes in one pass
        let q = _mm256_hadd_epi32(_mm256_hadd_epi32(e, a1), _mm256_hadd_epi32(a2, zc));
        let sums = _mm_add_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256::<1>(q));
        let [b1, b2] = boundary_products(x, history);
        let word = _mm_add_epi32(sums, _mm_setr_epi32(0, b1, b2, 0));
        // SAFETY: FeatureBlock is repr(C): energy, acf[0], acf[1] and
        // zero_crossings are 16 contiguous bytes after `dft`.
        unsafe { _mm_storeu_si128((&mut block.energy as *mut u32).cast(), word) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive_dft(x: &[i16; BLOCK_LEN], k: usize) -> (f64, f64) {
        let w = 2.0 * std::f64::consts::PI * super::super::BIN_FREQS[k] / 8000.0;
        x.iter().enumerate().fold((0.0, 0.0), |(re, im), (n, &s)| {
            let p = w * n as f64;
            (re + s as f64 * p.cos(), im - s as f64 * p.sin())
        })
    }

    fn all_kernels() -> Vec<KernelKind> {
        [KernelKind::Scalar, KernelKind::Avx2, KernelKind::Avx512Vnni]
            .into_iter()
            .filter(|k| k.is_supported())
            .collect()
    }

    #[test]
    fn scalar_matches_a_floating_point_dft() {
        let mut x = [0i16; BLOCK_LEN];
        for (n, s) in x.iter_mut().enumerate() {
            *s = ((n as f64 * 0.61).sin() * 3000.0 + (n as f64 * 1.7).cos() * 900.0) as i16;
        }
        let b = dft_block_scalar(&x, [0, 0]);
        for k in 0..BINS {
            let (re, im) = naive_dft(&x, k);
            // Q13 twiddles: error at most 0.5 LSB per product.
            let tol = 0.5 * x.iter().map(|&s| (s as f64).abs()).sum::<f64>() + 1.0;
            assert!(
                (b.dft[k][0] as f64 - re * 8192.0).abs() <= tol,
                "bin {k} re"
            );
            assert!(
                (b.dft[k][1] as f64 - im * 8192.0).abs() <= tol,
                "bin {k} im"
            );
        }
    }

    #[test]
    fn lags_include_the_products_across_the_block_boundary() {
        let mut x = [0i16; BLOCK_LEN];
        for (n, s) in x.iter_mut().enumerate() {
            *s = (n as i16 * 97 % 200) - 100;
        }
        let history = [-77i16, 1234];
        let b = dft_block_scalar(&x, history);
        let ext: Vec<i32> = history.iter().chain(x.iter()).map(|&v| v as i32).collect();
        let naive = |lag: usize| (2..ext.len()).map(|n| ext[n] * ext[n - lag]).sum::<i32>();
        assert_eq!(b.acf, [naive(1), naive(2)]);
    }

    #[test]
    fn zero_crossings_count_sign_changes() {
        let mut x = [5i16; BLOCK_LEN];
        assert_eq!(dft_block_scalar(&x, [0, 0]).zero_crossings, 0);
        x[10] = -1; // two changes
        x[39] = 0; // none: 0 counts as non-negative
        x[38] = -3; // two more (37->38, 38->39)
        assert_eq!(dft_block_scalar(&x, [0, 0]).zero_crossings, 4);
    }

    #[test]
    fn full_scale_blocks_do_not_overflow() {
        for k in all_kernels() {
            for v in [i16::MIN >> 3, i16::MAX >> 3] {
                let b = feature_block(k, BlockSource::Scaled(&[v; BLOCK_LEN]), [v, v]);
                assert_eq!(b.energy, 40 * (v as i32 * v as i32) as u32);
                assert_eq!(b, dft_block_scalar(&[v; BLOCK_LEN], [v, v]));
            }
        }
    }

    proptest! {
        #[test]
        fn simd_kernels_are_bit_exact_with_scalar(x in proptest::array::uniform32(-4096i16..=4095), y in proptest::array::uniform8(-4096i16..=4095)) {
            let mut block = [0i16; BLOCK_LEN];
            block[..32].copy_from_slice(&x);
            block[32..].copy_from_slice(&y);
            let history = [y[6], y[7]];
            let reference = dft_block_scalar(&block, history);
            for k in all_kernels() {
                prop_assert_eq!(feature_block(k, BlockSource::Scaled(&block), history), reference, "{:?}", k);
                let raw = block.map(|v| (v << 3) | (v & 7));
                prop_assert_eq!(feature_block(k, BlockSource::Linear(&raw), history), reference, "{:?} linear", k);
            }
        }

        #[test]
        fn g711_blocks_are_bit_exact_with_scalar(codes in proptest::collection::vec(any::<u8>(), BLOCK_LEN)) {
            let codes: [u8; BLOCK_LEN] = codes.try_into().unwrap();
            for law in [Law::Ulaw, Law::Alaw] {
                let scaled = codes.map(|c| law.decode_one(c) >> 3);
                let history = [scaled[3], scaled[9]];
                let reference = dft_block_scalar(&scaled, history);
                for k in all_kernels() {
                    prop_assert_eq!(feature_block(k, BlockSource::G711(law, &codes), history), reference, "{:?} {:?}", k, law);
                }
            }
        }
    }
}
