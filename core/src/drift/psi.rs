//! Population Stability Index, as Evidently's `psi` stat test computes it.
//!
//! PSI = Σ (r_i − c_i) · ln(r_i / c_i) over the buckets of
//! [`super::binning`] (Sturges bins over the pooled range for numeric
//! features with > 20 distinct reference values, else one bucket per
//! value), `r_i`, `c_i` the shares of each side, empty buckets filled per
//! Evidently (1e-4, or `min_nonzero / 1e6` when the smallest share is
//! ≤ 1e-4).

use super::binning::{Buckets, categorical_counts, fill_zeroes, numeric_buckets, percents};
use super::clean_sorted;

/// PSI of a numeric feature. NaN and ±∞ are dropped; `None` when either
/// side is then empty.
pub fn psi(reference: &[f64], current: &[f64]) -> Option<f64> {
    let r = clean_sorted(reference);
    let c = clean_sorted(current);
    if r.is_empty() || c.is_empty() {
        return None;
    }
    Some(psi_buckets(&numeric_buckets(&r, &c)))
}

/// PSI of a categorical feature (one bucket per category of either side).
/// `None` when either side is empty.
pub fn psi_categorical<S: AsRef<str>>(reference: &[S], current: &[S]) -> Option<f64> {
    if reference.is_empty() || current.is_empty() {
        return None;
    }
    Some(psi_buckets(&categorical_counts(reference, current).1))
}

/// Both sides non-empty.
pub(crate) fn psi_buckets(b: &Buckets) -> f64 {
    let mut r = percents(&b.reference);
    let mut c = percents(&b.current);
    fill_zeroes(&mut r);
    fill_zeroes(&mut c);
    r.iter().zip(&c).map(|(r, c)| (r - c) * (r / c).ln()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        // Shares (0.5, 0.5) vs (0.25, 0.75):
        // (0.25)·ln 2 + (−0.25)·ln(2/3) = 0.25 · ln 3.
        let p = psi_categorical(&["a", "b"], &["a", "b", "b", "b"]).unwrap();
        assert!((p - 0.25 * 3f64.ln()).abs() < 1e-15);
        // A category missing from current: its share is filled with 1e-4.
        let p = psi_categorical(&["a", "b"], &["a", "a"]).unwrap();
        let want = (0.5 - 1.0) * (0.5f64 / 1.0).ln() + (0.5 - 1e-4) * (0.5f64 / 1e-4).ln();
        assert!((p - want).abs() < 1e-12);
    }

    #[test]
    fn identical_is_zero() {
        let a: Vec<f64> = (0..200).map(|i| (i as f64).sin() * 10.0).collect();
        assert_eq!(psi(&a, &a), Some(0.0));
        assert_eq!(
            psi_categorical(&["x", "y", "x"], &["x", "y", "x"]),
            Some(0.0)
        );
    }

    #[test]
    fn empty() {
        assert_eq!(psi(&[], &[1.0]), None);
        assert_eq!(psi(&[f64::NAN], &[1.0]), None);
        assert_eq!(psi_categorical::<&str>(&["a"], &[]), None);
    }
}
