//! Pearson's chi-square goodness-of-fit test of the current counts against
//! the reference shares, as Evidently's `chisquare` stat test computes it:
//! `scipy.stats.chisquare(f_obs=current_counts, f_exp=reference_counts ·
//! n_current / n_reference)` over the union of categories, with
//! `k − 1` degrees of freedom.

use serde::{Deserialize, Serialize};

use super::binning::categorical_counts;
use super::special::chi2_sf;

/// Result of [`chi_square`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChiSquareResult {
    /// Σ (observed − expected)² / expected; +∞ when the current window has
    /// a category the reference never saw (expected 0).
    pub statistic: f64,
    /// P(χ²_dof > statistic); 0 for an infinite statistic.
    pub p_value: f64,
    /// Number of categories − 1.
    pub dof: usize,
}

/// Chi-square test of the current category counts against the reference
/// category shares. `None` when either side is empty.
pub fn chi_square<S: AsRef<str>>(reference: &[S], current: &[S]) -> Option<ChiSquareResult> {
    let (_, b) = categorical_counts(reference, current);
    chi_square_counts(&b.reference, &b.current)
}

/// [`chi_square`] on counts per category, the two slices aligned (same
/// category at the same index; extra entries of the longer slice count as
/// 0 on the other side). Categories empty on both sides are skipped.
/// `None` when either total is 0.
///
/// With a single category the statistic is 0 and there are no degrees of
/// freedom; SciPy returns a NaN p-value there, this returns 1 (no evidence
/// of drift).
pub fn chi_square_counts(reference: &[u64], current: &[u64]) -> Option<ChiSquareResult> {
    let k = reference.len().max(current.len());
    let get = |s: &[u64], i: usize| s.get(i).copied().unwrap_or(0);
    let n_ref: u64 = reference.iter().sum();
    let n_cur: u64 = current.iter().sum();
    if n_ref == 0 || n_cur == 0 {
        return None;
    }
    let k_norm = n_cur as f64 / n_ref as f64;
    let mut statistic = 0.0;
    let mut categories = 0usize;
    for i in 0..k {
        let (r, c) = (get(reference, i), get(current, i));
        if r == 0 && c == 0 {
            continue;
        }
        categories += 1;
        let expected = r as f64 * k_norm;
        let diff = c as f64 - expected;
        statistic += if expected == 0.0 {
            f64::INFINITY
        } else {
            diff * diff / expected
        };
    }
    let dof = categories - 1;
    let p_value = if dof == 0 {
        1.0
    } else {
        chi2_sf(statistic, dof as f64)
    };
    Some(ChiSquareResult {
        statistic,
        p_value,
        dof,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        // Reference 50/50, current 30/10 of 40: expected 20/20,
        // statistic = (10² + 10²)/20 = 10, dof 1, p = erfc(√5).
        let r = chi_square_counts(&[50, 50], &[30, 10]).unwrap();
        assert_eq!(r.statistic, 10.0);
        assert_eq!(r.dof, 1);
        assert!(
            (r.p_value - 0.001_565_402_258_002_549_4).abs() < 1e-12,
            "{r:?}"
        );
        // dof 2, statistic s: p = exp(−s/2).
        let r = chi_square_counts(&[10, 10, 20], &[5, 15, 20]).unwrap();
        assert!((r.statistic - 5.0).abs() < 1e-12);
        assert!((r.p_value - (-2.5f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn new_category_is_infinite() {
        let r = chi_square(&["a", "b"], &["a", "c"]).unwrap();
        assert_eq!(r.statistic, f64::INFINITY);
        assert_eq!(r.p_value, 0.0);
    }

    #[test]
    fn identical_and_degenerate() {
        let r = chi_square(&["a", "b", "b"], &["b", "a", "b"]).unwrap();
        assert_eq!(r.statistic, 0.0);
        assert_eq!(r.p_value, 1.0);
        let one = chi_square(&["a"], &["a", "a"]).unwrap();
        assert_eq!((one.statistic, one.p_value, one.dof), (0.0, 1.0, 0));
        assert_eq!(chi_square::<&str>(&[], &["a"]), None);
    }
}
