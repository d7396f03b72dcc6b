//! Jensen–Shannon distance, as Evidently's `jensenshannon` stat test
//! computes it: `scipy.spatial.distance.jensenshannon(r, c)` (natural log,
//! so the distance is in [0, √ln 2]) of the bucket shares of
//! [`super::binning`], *without* Evidently's zero filling (Evidently calls
//! `get_binned_data(..., feel_zeroes=False)` for this test).

use super::binning::{Buckets, categorical_counts, numeric_buckets, percents};
use super::clean_sorted;

/// Jensen–Shannon distance between the category shares of two categorical
/// samples. `None` when either side is empty.
pub fn jensen_shannon_distance<S: AsRef<str>>(reference: &[S], current: &[S]) -> Option<f64> {
    if reference.is_empty() || current.is_empty() {
        return None;
    }
    Some(js_buckets(&categorical_counts(reference, current).1))
}

/// Jensen–Shannon distance between the bucket shares of two numeric
/// samples (Evidently's binning). NaN and ±∞ are dropped; `None` when
/// either side is then empty.
pub fn jensen_shannon_distance_numeric(reference: &[f64], current: &[f64]) -> Option<f64> {
    let r = clean_sorted(reference);
    let c = clean_sorted(current);
    if r.is_empty() || c.is_empty() {
        return None;
    }
    Some(js_buckets(&numeric_buckets(&r, &c)))
}

pub(crate) fn js_buckets(b: &Buckets) -> f64 {
    jensen_shannon_probabilities(&percents(&b.reference), &percents(&b.current))
}

/// `scipy.spatial.distance.jensenshannon(p, q)` for two non-negative
/// vectors of the same length (each normalized to sum 1 first):
/// √((KL(p‖m) + KL(q‖m)) / 2) with m = (p + q)/2, natural log.
/// NaN when a vector sums to 0 or the lengths differ.
pub fn jensen_shannon_probabilities(p: &[f64], q: &[f64]) -> f64 {
    if p.len() != q.len() {
        return f64::NAN;
    }
    let sp: f64 = p.iter().sum();
    let sq: f64 = q.iter().sum();
    let mut left = 0.0;
    let mut right = 0.0;
    for (&a, &b) in p.iter().zip(q) {
        let (a, b) = (a / sp, b / sq);
        let m = (a + b) / 2.0;
        left += rel_entr(a, m);
        right += rel_entr(b, m);
    }
    ((left + right) / 2.0).max(0.0).sqrt()
}

/// `scipy.special.rel_entr`: x·ln(x/y), 0 when x = 0.
fn rel_entr(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        // Disjoint supports: JS divergence = ln 2, distance = √ln 2.
        let d = jensen_shannon_distance(&["a"], &["b"]).unwrap();
        assert!((d - 2f64.ln().sqrt()).abs() < 1e-15);
        // scipy docs: jensenshannon([1, 0, 0], [0, 1, 0], 2.0) == 1.0, so
        // with natural log it is √ln 2.
        let d = jensen_shannon_probabilities(&[1.0, 0.0, 0.0], &[0.0, 1.0, 0.0]);
        assert!((d - 2f64.ln().sqrt()).abs() < 1e-15);
        // scipy docs: jensenshannon([1.0, 0.0], [0.5, 0.5]) == 0.46450140402245893
        let d = jensen_shannon_probabilities(&[1.0, 0.0], &[0.5, 0.5]);
        assert!((d - 0.464_501_404_022_458_93).abs() < 1e-15);
        // Unnormalized input is normalized.
        let d2 = jensen_shannon_probabilities(&[4.0, 0.0], &[3.0, 3.0]);
        assert!((d - d2).abs() < 1e-15);
    }

    #[test]
    fn identical_is_zero() {
        assert_eq!(
            jensen_shannon_distance(&["a", "b", "b"], &["b", "a", "b"]),
            Some(0.0)
        );
        let a: Vec<f64> = (0..100).map(|i| (i * i % 37) as f64).collect();
        assert_eq!(jensen_shannon_distance_numeric(&a, &a), Some(0.0));
    }

    #[test]
    fn empty() {
        assert_eq!(
            jensen_shannon_distance::<String>(&[], &["a".to_string()]),
            None
        );
        assert_eq!(jensen_shannon_distance_numeric(&[1.0], &[f64::NAN]), None);
    }
}
