//! ITU-T G.711 µ-law and A-law companding, bit-exact to the reference
//! implementation of ITU-T G.191 (`g711.c`).
//!
//! Linear samples are 16-bit, left-justified as G.191 has them: µ-law uses the
//! top 14 bits and A-law the top 13. References disagree on a few small
//! negative inputs (whether -1 is "negative zero"); this module follows G.191,
//! which takes the one's complement of negative inputs, and the exhaustive
//! tests pin that choice.
//!
//! Decoding goes through 256-entry tables built at compile time, so decoding a
//! frame is one load per sample and never allocates.

/// The companding law of a G.711 stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law (PCMU, RTP payload type 0).
    Ulaw,
    /// A-law (PCMA, RTP payload type 8).
    Alaw,
}

impl Law {
    /// Decodes `src` into `dst` (which must be at least as long); returns the
    /// number of samples written. Never allocates.
    #[inline]
    pub fn decode(self, src: &[u8], dst: &mut [i16]) -> usize {
        decode_with(self.table(), 0, src, dst)
    }

    /// Decodes `src` into `dst` and shifts every sample right by `shift`
    /// (arithmetically) in the same pass; returns the samples written.
    #[inline]
    pub fn decode_shifted(self, src: &[u8], dst: &mut [i16], shift: u32) -> usize {
        decode_with(self.table(), shift.min(15), src, dst)
    }

    /// The 256-entry decode table of this law.
    pub fn table(self) -> &'static [i16; 256] {
        match self {
            Law::Ulaw => &ULAW_TO_LINEAR,
            Law::Alaw => &ALAW_TO_LINEAR,
        }
    }

    /// Encodes `src` into `dst`; returns the number of codes written.
    #[inline]
    pub fn encode(self, src: &[i16], dst: &mut [u8]) -> usize {
        let n = src.len().min(dst.len());
        let f = match self {
            Law::Ulaw => linear_to_ulaw,
            Law::Alaw => linear_to_alaw,
        };
        for (out, &s) in dst[..n].iter_mut().zip(&src[..n]) {
            *out = f(s);
        }
        n
    }

    /// Decodes one code.
    #[inline]
    pub fn decode_one(self, code: u8) -> i16 {
        match self {
            Law::Ulaw => ulaw_to_linear(code),
            Law::Alaw => alaw_to_linear(code),
        }
    }

    /// Encodes one sample.
    #[inline]
    pub fn encode_one(self, sample: i16) -> u8 {
        match self {
            Law::Ulaw => linear_to_ulaw(sample),
            Law::Alaw => linear_to_alaw(sample),
        }
    }

    /// The code a silent (all-zero) sample encodes to: what lost audio is
    /// filled with.
    pub const fn silence(self) -> u8 {
        match self {
            Law::Ulaw => 0xFF,
            Law::Alaw => 0xD5,
        }
    }
}

/// Decodes `src` into `dst` through a 256-entry table that is odd in the
/// sign bit (`table[c] == -table[c | 0x80]` for `c < 0x80`, as both G.711
/// laws are), then shifts right by `shift`; returns the samples written.
/// With AVX-512BW, 32 codes are looked up per instruction pair (`vpermt2w`
/// on the 128-entry magnitude half); otherwise one load each.
#[inline]
fn decode_with(table: &[i16; 256], shift: u32, src: &[u8], dst: &mut [i16]) -> usize {
    let n = src.len().min(dst.len());
    let (src, dst) = (&src[..n], &mut dst[..n]);
    #[cfg(target_arch = "x86_64")]
    if n >= 32 && simd::available() {
        // SAFETY: avx512f and avx512bw were detected just above.
        unsafe { simd::decode_avx512(table, shift, src, dst) };
        return n;
    }
    for (out, &code) in dst.iter_mut().zip(src) {
        *out = table[code as usize] >> shift;
    }
    n
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod simd {
    use std::arch::x86_64::*;
    use std::sync::atomic::{AtomicU8, Ordering};

    /// Whether AVX-512BW is there, detected once (0 = unknown, 1 = no, 2 = yes).
    pub(crate) fn available() -> bool {
        static STATE: AtomicU8 = AtomicU8::new(0);
        match STATE.load(Ordering::Relaxed) {
            0 => {
                let yes = std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw");
                STATE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
                yes
            }
            v => v == 2,
        }
    }

    /// A G.711 table's positive half in four registers, for [`expand`].
    #[derive(Clone, Copy)]
    pub(crate) struct Magnitudes([__m512i; 4]);

    impl Magnitudes {
        /// Loads `table[0x80..]`; the table must be odd in the sign bit.
        #[target_feature(enable = "avx512f")]
        pub(crate) fn load(table: &[i16; 256]) -> Self {
            debug_assert!((0..128).all(|c| table[c] == table[c | 0x80].wrapping_neg()));
            // SAFETY: 0x80 + 4 * 32 = 256 entries, all inside `table`.
            unsafe {
                let p = table.as_ptr().add(0x80);
                Self([
                    _mm512_loadu_si512(p.cast()),
                    _mm512_loadu_si512(p.add(32).cast()),
                    _mm512_loadu_si512(p.add(64).cast()),
                    _mm512_loadu_si512(p.add(96).cast()),
                ])
            }
        }
    }

    /// Decodes 32 codes (zero-extended to 16-bit lanes) and shifts them
    /// right by `shift`.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub(crate) fn expand(mag: Magnitudes, codes: __m512i, shift: u32) -> __m512i {
        let [m0, m1, m2, m3] = mag.0;
        // vpermt2w indexes 64 words with the low 6 bits of each code
        let low = _mm512_permutex2var_epi16(m0, codes, m1);
        let high = _mm512_permutex2var_epi16(m2, codes, m3);
        let bit6 = _mm512_test_epi16_mask(codes, _mm512_set1_epi16(0x40));
        let magnitude = _mm512_mask_blend_epi16(bit6, low, high);
        let negative = !_mm512_test_epi16_mask(codes, _mm512_set1_epi16(0x80));
        let value = _mm512_mask_sub_epi16(magnitude, negative, _mm512_setzero_si512(), magnitude);
        _mm512_sra_epi16(value, _mm_cvtsi32_si128(shift as i32))
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn decode_avx512(
        table: &[i16; 256],
        shift: u32,
        src: &[u8],
        dst: &mut [i16],
    ) {
        debug_assert_eq!(src.len(), dst.len());
        let mag = Magnitudes::load(table);
        let full = src.len() / 32 * 32;
        let mut i = 0;
        while i < full {
            // SAFETY: i + 32 <= full <= src.len() == dst.len().
            let codes =
                _mm512_cvtepu8_epi16(unsafe { _mm256_loadu_si256(src.as_ptr().add(i).cast()) });
            let value = expand(mag, codes, shift);
            // SAFETY: as above, 32 i16 fit at dst[i..].
            unsafe { _mm512_storeu_si512(dst.as_mut_ptr().add(i).cast(), value) };
            i += 32;
        }
        for (out, &code) in dst[full..].iter_mut().zip(&src[full..]) {
            *out = table[code as usize] >> shift;
        }
    }
}

/// µ-law code to 16-bit linear, as G.191's `ulaw_expand`.
#[inline]
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_TO_LINEAR[code as usize]
}

/// A-law code to 16-bit linear, as G.191's `alaw_expand`.
#[inline]
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_TO_LINEAR[code as usize]
}

/// 16-bit linear to µ-law, as G.191's `ulaw_compress`.
#[inline]
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let x = sample as i32;
    // One's complement for negative inputs, then 14-bit right-justified,
    // biased by 33 (the offset between the µ-law and A-law thresholds).
    let biased = (if x < 0 { (!x) >> 2 } else { x >> 2 } + 33).min(0x1FFF);
    // Segment number 1..=8: position of the highest set bit above bit 5.
    let segno = 32 - ((biased >> 6) as u32).leading_zeros() + 1;
    let high = 8 - segno as i32;
    let low = 0x0F - ((biased >> segno) & 0x0F);
    let code = (high << 4) | low;
    (if x >= 0 { code | 0x80 } else { code }) as u8
}

/// 16-bit linear to A-law, as G.191's `alaw_compress`.
#[inline]
pub fn linear_to_alaw(sample: i16) -> u8 {
    let x = sample as i32;
    let mut ix = if x < 0 { (!x) >> 4 } else { x >> 4 };
    if ix > 15 {
        let mut exp = 1;
        while ix > 16 + 15 {
            ix >>= 1;
            exp += 1;
        }
        ix -= 16;
        ix += exp << 4;
    }
    if x >= 0 {
        ix |= 0x80;
    }
    (ix ^ 0x55) as u8
}

const fn ulaw_expand(code: u8) -> i16 {
    let inverted = !code;
    let exponent = ((inverted >> 4) & 0x07) as i32;
    let mantissa = (inverted & 0x0F) as i32;
    let step = 4 << (exponent + 1);
    let magnitude = (0x80 << exponent) + step * mantissa + step / 2 - 4 * 33;
    if code < 0x80 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn alaw_expand(code: u8) -> i16 {
    let ix = ((code ^ 0x55) & 0x7F) as i32;
    let exponent = ix >> 4;
    let mut mantissa = ix & 0x0F;
    if exponent > 0 {
        mantissa += 16;
    }
    mantissa = (mantissa << 4) + 0x08;
    if exponent > 1 {
        mantissa <<= exponent - 1;
    }
    if code > 127 {
        mantissa as i16
    } else {
        -mantissa as i16
    }
}

macro_rules! build_table {
    ($expand:ident) => {{
        let mut table = [0i16; 256];
        let mut i = 0;
        while i < 256 {
            table[i] = $expand(i as u8);
            i += 1;
        }
        table
    }};
}

/// µ-law decode table (code to 16-bit linear).
pub static ULAW_TO_LINEAR: [i16; 256] = build_table!(ulaw_expand);
/// A-law decode table (code to 16-bit linear).
pub static ALAW_TO_LINEAR: [i16; 256] = build_table!(alaw_expand);

#[cfg(test)]
mod tests {
    //! The expectations here are written from the segment tables of ITU-T
    //! G.711 (Tables 1 and 2: decision and reconstruction values per segment
    //! and step), independently of the G.191 arithmetic above.
    use super::*;

    /// µ-law: (segment s, step q) reconstructs at 2^s (2q + 33) - 33 on the
    /// 14-bit scale; its interval's upper decision value is 2^s (2q + 34) - 33.
    fn ulaw_reference_decode(code: u8) -> i16 {
        let inverted = !code;
        let s = ((inverted >> 4) & 7) as i32;
        let q = (inverted & 15) as i32;
        let magnitude14 = (1 << s) * (2 * q + 33) - 33;
        let v = (magnitude14 * 4) as i16;
        if code & 0x80 != 0 {
            v
        } else {
            -v
        }
    }

    fn ulaw_reference_encode(x: i16) -> u8 {
        // G.191 treats negatives by one's complement: -1 is magnitude 0.
        let negative = x < 0;
        let m = if negative {
            (-(x as i32) - 1) >> 2
        } else {
            (x as i32) >> 2
        };
        let mut code_index = 127; // the largest magnitude if no interval holds it
        'outer: for s in 0..8 {
            for q in 0..16 {
                let upper = (1 << s) * (2 * q + 34) - 33;
                if m < upper {
                    code_index = s * 16 + q;
                    break 'outer;
                }
            }
        }
        let code = !(code_index as u8) & 0x7F;
        if negative {
            code
        } else {
            code | 0x80
        }
    }

    /// A-law: segment 0 and 1 have step 2 (13-bit scale), segment s > 1 has
    /// step 2^s; reconstruction at the middle of each interval.
    fn alaw_reference_interval(s: i32, q: i32) -> (i32, i32) {
        // [lower, upper) on the 13-bit magnitude scale
        if s == 0 {
            (2 * q, 2 * q + 2)
        } else {
            let step = 1 << s;
            let base = 16 << s;
            (base + step * q, base + step * (q + 1))
        }
    }

    fn alaw_reference_decode(code: u8) -> i16 {
        let ix = (code ^ 0x55) & 0x7F;
        let (lo, hi) = alaw_reference_interval((ix >> 4) as i32, (ix & 15) as i32);
        // middle of the interval, scaled from 13 to 16 bits
        let v = ((lo + hi) * 8 / 2) as i16;
        if code & 0x80 != 0 {
            v
        } else {
            -v
        }
    }

    fn alaw_reference_encode(x: i16) -> u8 {
        let negative = x < 0;
        let m = if negative {
            (-(x as i32) - 1) >> 3
        } else {
            (x as i32) >> 3
        };
        let mut index = 127;
        'outer: for s in 0..8 {
            for q in 0..16 {
                let (_, hi) = alaw_reference_interval(s, q);
                if m < hi {
                    index = s * 16 + q;
                    break 'outer;
                }
            }
        }
        let code = (index as u8) ^ 0x55;
        if negative {
            code & 0x7F
        } else {
            code | 0x80
        }
    }

    #[test]
    fn ulaw_decodes_all_256_codes_as_the_standard_table() {
        for code in 0..=255u8 {
            assert_eq!(
                ulaw_to_linear(code),
                ulaw_reference_decode(code),
                "code {code:#04x}"
            );
        }
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
    }

    #[test]
    fn alaw_decodes_all_256_codes_as_the_standard_table() {
        for code in 0..=255u8 {
            assert_eq!(
                alaw_to_linear(code),
                alaw_reference_decode(code),
                "code {code:#04x}"
            );
        }
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
    }

    #[test]
    fn ulaw_encodes_the_whole_16_bit_range_as_the_standard_table() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(linear_to_ulaw(x), ulaw_reference_encode(x), "input {x}");
        }
    }

    #[test]
    fn alaw_encodes_the_whole_16_bit_range_as_the_standard_table() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(linear_to_alaw(x), alaw_reference_encode(x), "input {x}");
        }
    }

    #[test]
    fn small_negative_inputs_follow_g191() {
        // G.191 one's complement: -1..-4 share µ-law magnitude 0 and sign "-".
        assert_eq!(linear_to_ulaw(-1), 0x7F);
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(linear_to_alaw(0), 0xD5);
    }

    #[test]
    fn every_code_survives_decode_then_encode() {
        for law in [Law::Ulaw, Law::Alaw] {
            for code in 0..=255u8 {
                let back = law.encode_one(law.decode_one(code));
                // µ-law has two zeros (0x7F and 0xFF); both decode to 0, which
                // encodes to the positive one.
                if law == Law::Ulaw && code == 0x7F {
                    assert_eq!(back, 0xFF);
                } else {
                    assert_eq!(back, code, "{law:?} code {code:#04x}");
                }
            }
        }
    }

    #[test]
    fn frame_decode_matches_the_table_at_every_length() {
        let src: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).chain(0..77).collect();
        for law in [Law::Ulaw, Law::Alaw] {
            for len in [0, 1, 31, 32, 33, 160, 200, src.len()] {
                let mut dst = vec![7i16; len];
                assert_eq!(law.decode(&src[..len], &mut dst), len);
                for (i, &code) in src[..len].iter().enumerate() {
                    assert_eq!(dst[i], law.decode_one(code), "{law:?} len {len} at {i}");
                }
                assert_eq!(law.decode_shifted(&src[..len], &mut dst, 3), len);
                for (i, &code) in src[..len].iter().enumerate() {
                    assert_eq!(
                        dst[i],
                        law.decode_one(code) >> 3,
                        "{law:?} shifted, len {len} at {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn frame_decode_writes_min_of_lengths() {
        let src = [0xFFu8; 160];
        let mut dst = [1i16; 100];
        assert_eq!(Law::Ulaw.decode(&src, &mut dst), 100);
        assert!(dst.iter().all(|&s| s == 0));
    }
}
