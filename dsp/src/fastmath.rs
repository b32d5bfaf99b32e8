//! `log10` and `acos` for the detectors' per-frame paths, in plain `f32`
//! arithmetic: a few times cheaper than the C library's (which the AMD
//! called over a million times in its bench's 400 ticks), within a few
//! units in the last place of it, and the same bits on every machine
//! whatever its libm, since no fused multiply-add or library call is used.
//!
//! They serve levels in dB and the angles of normalised lags, where a
//! relative error of 1e-6 is far below what any threshold resolves.

use std::f32::consts::{FRAC_PI_2, LN_2, LOG10_E, PI, SQRT_2};

/// `log10(x)` for `x > 0`, within 2 units in the last place of the
/// result (of 1, for results under 1). As `f32::log10`: zero gives
/// `-inf`, a negative or NaN input NaN, `+inf` `+inf`.
#[inline]
pub fn log10(x: f32) -> f32 {
    ln(x) * LOG10_E
}

/// `ln(x)` for `x > 0` (see [`log10`]): the exponent's multiple of `ln 2`
/// plus `ln m` of the mantissa `m` in `[sqrt(1/2), sqrt(2))`, from the
/// series `ln m = 2 atanh(s)`, `s = (m - 1) / (m + 1)`, `|s| < 0.172`,
/// whose first five terms leave under 1e-9.
#[inline]
pub fn ln(x: f32) -> f32 {
    if !(f32::MIN_POSITIVE..f32::INFINITY).contains(&x) {
        // zero, subnormals, negatives, infinities and NaN: rare, and the
        // library gets their conventions right
        return x.ln();
    }
    ln_of_normal(x)
}

/// [`log10`] of a positive, normal, finite `x` (what else it gets gives a
/// meaningless number): with no branch to the library, a loop of these
/// compiles to vector instructions.
#[inline]
pub fn log10_of_normal(x: f32) -> f32 {
    ln_of_normal(x) * LOG10_E
}

/// [`ln`] of a positive, normal, finite `x`, branch-free.
#[inline]
fn ln_of_normal(x: f32) -> f32 {
    debug_assert!(x.is_normal() && x > 0.0, "ln_of_normal({x})");
    let bits = x.to_bits();
    let mut exponent = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let high = m >= SQRT_2;
    let m = if high { m * 0.5 } else { m };
    exponent += high as i32;
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let series = 1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0))));
    exponent as f32 * LN_2 + 2.0 * s * series
}

/// `acos(x)` in radians for `x` in `[-1, 1]`, within 4e-7 rad (under 2
/// units in the last place at pi); NaN outside it, as `f32::acos`.
/// Through `asin` on `[0, 1/2]`: `acos x = pi/2 - asin x` there, and
/// `2 asin(sqrt((1 - |x|) / 2))` beyond.
#[inline]
pub fn acos(x: f32) -> f32 {
    if !(-1.0..=1.0).contains(&x) {
        return f32::NAN;
    }
    let a = x.abs();
    if a <= 0.5 {
        return FRAC_PI_2 - asin_small(x);
    }
    let half = 2.0 * asin_small(((1.0 - a) * 0.5).sqrt());
    if x > 0.0 {
        half
    } else {
        PI - half
    }
}

/// `asin(z)` for `|z| <= 1/2`: `z + z^3 P(z^2)`, `P` a least-squares fit
/// of degree 4, weighted by `z^3` (numpy's `lstsq` on 4,001 points of
/// `(0, 1/2]`; its largest error there is 5e-9 rad before rounding).
#[inline]
fn asin_small(z: f32) -> f32 {
    let w = z * z;
    let p = ASIN_P[0] + w * (ASIN_P[1] + w * (ASIN_P[2] + w * (ASIN_P[3] + w * ASIN_P[4])));
    z + z * w * p
}

/// The coefficients of [`asin_small`]'s `P`, lowest power first.
const ASIN_P: [f32; 5] = [
    1.666_678_5e-1,
    7.494_407e-2,
    4.555_027_2e-2,
    2.389_357_4e-2,
    4.251_375_4e-2,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Largest error of `f` against `exact` (in `f64`) over `xs`, relative
    /// where `relative`, else absolute.
    fn worst(
        xs: impl Iterator<Item = f32>,
        f: fn(f32) -> f32,
        exact: fn(f64) -> f64,
        relative: bool,
    ) -> f64 {
        xs.map(|x| {
            let (got, want) = (f(x) as f64, exact(x as f64));
            let err = (got - want).abs();
            if relative {
                err / want.abs().max(1e-30)
            } else {
                err
            }
        })
        .fold(0.0, f64::max)
    }

    #[test]
    fn log10_is_within_a_few_ulp_over_the_detectors_range() {
        // levels of 13-bit mean squares, frame energies, bin shares
        let xs = (0..200_000).map(|i| 10f32.powf(-6.0 + 18.0 * i as f32 / 200_000.0));
        // two units in the last place of the result (or of 1 below it):
        // under 1e-5 dB on levels
        for x in xs {
            let (got, want) = (log10(x) as f64, (x as f64).log10());
            let ulp = 2f64.powi(-23) * want.abs().max(1.0);
            assert!(
                (got - want).abs() <= 2.0 * ulp,
                "log10({x}) = {got}, not {want}"
            );
        }
        // near 1, where log10 is near 0, relative error still small
        let near_one = (0..20_000).map(|i| 0.99 + 0.02 * i as f32 / 20_000.0);
        let err = worst(near_one.filter(|&x| x != 1.0), log10, f64::log10, true);
        assert!(err < 1e-5, "relative error near 1: {err}");
        assert_eq!(log10(1.0), 0.0);
        let samples = (0..1000).map(|i| 1e-3 + i as f32 * 7.77);
        for x in samples {
            assert_eq!(log10_of_normal(x), log10(x));
        }
    }

    #[test]
    fn log10_keeps_the_library_conventions_off_the_positive_normals() {
        assert_eq!(log10(0.0), f32::NEG_INFINITY);
        assert!(log10(-1.0).is_nan());
        assert!(log10(f32::NAN).is_nan());
        assert_eq!(log10(f32::INFINITY), f32::INFINITY);
        let tiny = f32::MIN_POSITIVE / 4.0; // subnormal
        assert!((log10(tiny) - tiny.log10()).abs() < 1e-5);
    }

    #[test]
    fn acos_is_within_4e_7_rad_over_its_domain() {
        let xs = (0..=400_000).map(|i| -1.0 + 2.0 * i as f32 / 400_000.0);
        let err = worst(xs, acos, f64::acos, false);
        assert!(err < 4e-7, "absolute error {err}");
        assert_eq!(acos(1.0), 0.0);
        assert!((acos(-1.0) - PI).abs() < 1e-7);
        assert!(acos(1.5).is_nan() && acos(f32::NAN).is_nan());
    }
}
