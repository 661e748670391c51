//! Units and rounding shared by the engine and the search: bytes per GiB and
//! Python-compatible rounding. They live below both layers so the search
//! does not reach into the engine's memory model for arithmetic.

/// Bytes in one GiB.
pub const GIB: f64 = (1u64 << 30) as f64;

/// Round like Python's `round(x, n)` on a binary float (half to even on the decimal value).
pub fn round_half_even(x: f64, digits: i32) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let m = 10f64.powi(digits);
    let y = x * m;
    let r = y.round();
    // Exact .5 ties go to even, as Python does.
    let r = if (y - y.trunc()).abs() == 0.5 && (r % 2.0) != 0.0 {
        r - y.signum()
    } else {
        r
    };
    r / m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_rounding() {
        assert_eq!(round_half_even(0.8125, 3), 0.812);
        assert_eq!(round_half_even(2.5, 0), 2.0);
        assert_eq!(round_half_even(1.0005, 3), 1.0); // 1.0005 is below the tie in binary
        assert_eq!(round_half_even(814.6849, 3), 814.685);
    }
}
