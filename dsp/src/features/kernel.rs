//! The per-block DFT and energy kernel, in scalar and SIMD forms that are
//! bit-exact with each other (see the arithmetic contract in the parent
//! module). The SIMD forms multiply pairs of samples by pairs of twiddles
//! (`pmaddwd`, or `vpdpwssd` with AVX-512 VNNI) into 32-bit lanes laid out as
//! `[re0, im0, re1, im1, ...]`.
use super::{twiddles, FeatureBlock, BINS, BLOCK_LEN};
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
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vnni")
            {
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
                    && std::arch::is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

/// Computes one block's features from already-shifted samples with the
/// given kernel. Falls back to the scalar kernel if `kind` is unsupported
/// by this CPU.
#[inline]
pub fn dft_block(kind: KernelKind, x: &[i16; BLOCK_LEN]) -> FeatureBlock {
    match kind {
        #[cfg(target_arch = "x86_64")]
        KernelKind::Avx512Vnni if kind.is_supported() => {
            // SAFETY: the CPU supports avx512f, avx512bw and avx512vnni
            // (checked just above).
            unsafe { x86::block_avx512vnni(x, &tables().paired) }
        }
        #[cfg(target_arch = "x86_64")]
        KernelKind::Avx2 if kind.is_supported() => {
            // SAFETY: the CPU supports avx2 (checked just above).
            unsafe { x86::block_avx2(x, &tables().paired) }
        }
        _ => dft_block_scalar(x),
    }
}

/// The scalar reference kernel.
pub fn dft_block_scalar(x: &[i16; BLOCK_LEN]) -> FeatureBlock {
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
    block
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
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

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn block_avx512vnni(
        x: &[i16; BLOCK_LEN],
        paired: &[[i16; 2 * LANES]; PAIRS],
    ) -> FeatureBlock {
        // Two accumulators halve the dependency chain through vpdpwssd.
        let mut acc = [_mm512_setzero_si512(); 2];
        for j in 0..PAIRS {
            let samples = _mm512_set1_epi32(pair(x, j));
            // SAFETY: `paired[j]` is 32 i16 = 64 bytes, one unaligned load.
            let tw = unsafe { _mm512_loadu_si512(paired[j].as_ptr().cast()) };
            acc[j & 1] = _mm512_dpwssd_epi32(acc[j & 1], samples, tw);
        }
        let sum = _mm512_add_epi32(acc[0], acc[1]);
        let mut block = FeatureBlock::default();
        // SAFETY: `block.dft` is [[i32; 2]; 8]: 64 contiguous bytes laid out
        // exactly as the lanes, [re0, im0, re1, im1, ...].
        unsafe { _mm512_storeu_si512(block.dft.as_mut_ptr().cast(), sum) };
        // Energy: 32 samples in one register, the last 8 in another.
        // SAFETY: x has 40 i16; the loads cover [0, 32) and [32, 40).
        let (head, tail) = unsafe {
            (
                _mm512_loadu_si512(x.as_ptr().cast()),
                _mm_loadu_si128(x.as_ptr().add(32).cast()),
            )
        };
        let squares = _mm512_madd_epi16(head, head);
        let tail = _mm_madd_epi16(tail, tail);
        // fold 512 -> 128 bits, add the tail, then reduce 4 lanes
        let folded = _mm256_add_epi32(
            _mm512_castsi512_si256(squares),
            _mm512_extracti64x4_epi64::<1>(squares),
        );
        let t = _mm_add_epi32(
            _mm_add_epi32(
                _mm256_castsi256_si128(folded),
                _mm256_extracti128_si256::<1>(folded),
            ),
            tail,
        );
        let t = _mm_add_epi32(t, _mm_shuffle_epi32::<0b01_00_11_10>(t));
        let t = _mm_add_epi32(t, _mm_shuffle_epi32::<0b10_11_00_01>(t));
        block.energy = _mm_cvtsi128_si32(t) as u32;
        block
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn block_avx2(
        x: &[i16; BLOCK_LEN],
        paired: &[[i16; 2 * LANES]; PAIRS],
    ) -> FeatureBlock {
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
        let mut block = FeatureBlock::default();
        // SAFETY: `block.dft` is [[i32; 2]; 8]: 64 contiguous bytes laid out
        // as the lanes; two 32-byte stores.
        unsafe {
            _mm256_storeu_si256(block.dft.as_mut_ptr().cast(), lo);
            _mm256_storeu_si256(block.dft.as_mut_ptr().add(4).cast(), hi);
        }
        block.energy = x.iter().map(|&s| (s as i32 * s as i32) as u32).sum();
        block
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
        let b = dft_block_scalar(&x);
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
    fn full_scale_blocks_do_not_overflow() {
        for k in all_kernels() {
            for v in [i16::MIN >> 3, i16::MAX >> 3] {
                let b = dft_block(k, &[v; BLOCK_LEN]);
                assert_eq!(b.energy, 40 * (v as i32 * v as i32) as u32);
                assert_eq!(b, dft_block_scalar(&[v; BLOCK_LEN]));
            }
        }
    }

    proptest! {
        #[test]
        fn simd_kernels_are_bit_exact_with_scalar(x in proptest::array::uniform32(-4096i16..=4095), y in proptest::array::uniform8(-4096i16..=4095)) {
            let mut block = [0i16; BLOCK_LEN];
            block[..32].copy_from_slice(&x);
            block[32..].copy_from_slice(&y);
            let reference = dft_block_scalar(&block);
            for k in all_kernels() {
                prop_assert_eq!(dft_block(k, &block), reference, "{:?}", k);
            }
        }
    }
}
