//! First Wasserstein (earth mover's) distance between two samples.

use super::{clean_sorted, population_std};

/// The floor on the reference standard deviation used by
/// [`wasserstein_normed`] (Evidently's `max(np.std(reference), 0.001)`).
pub const WASSERSTEIN_STD_FLOOR: f64 = 1e-3;

/// The 1-D, unweighted Wasserstein-1 distance between the empirical
/// distributions of `reference` and `current`: ∫ |F_ref(x) − F_cur(x)| dx.
///
/// Equals `scipy.stats.wasserstein_distance(reference, current)`. NaN and
/// ±∞ are dropped first; `None` when either side then has no value.
pub fn wasserstein_distance(reference: &[f64], current: &[f64]) -> Option<f64> {
    let u = clean_sorted(reference);
    let v = clean_sorted(current);
    wasserstein_sorted(&u, &v)
}

/// [`wasserstein_distance`] divided by the population standard deviation
/// (ddof = 0) of the reference, floored at [`WASSERSTEIN_STD_FLOOR`] —
/// Evidently's `wasserstein` stat test. A constant reference therefore
/// gives `distance / 0.001`: 0 when the current window holds the same
/// constant, large as soon as it moves.
pub fn wasserstein_normed(reference: &[f64], current: &[f64]) -> Option<f64> {
    let u = clean_sorted(reference);
    let v = clean_sorted(current);
    wasserstein_normed_sorted(&u, &v)
}

pub(crate) fn wasserstein_normed_sorted(u: &[f64], v: &[f64]) -> Option<f64> {
    let distance = wasserstein_sorted(u, v)?;
    let norm = population_std(u)?.max(WASSERSTEIN_STD_FLOOR);
    Some(distance / norm)
}

/// Both inputs sorted, finite.
pub(crate) fn wasserstein_sorted(u: &[f64], v: &[f64]) -> Option<f64> {
    if u.is_empty() || v.is_empty() {
        return None;
    }
    let (nu, nv) = (u.len() as f64, v.len() as f64);
    // Walk the merged sorted values; between consecutive merged values the
    // two empirical CDFs are constant (i/nu and j/nv, counting values ≤ the
    // left end), so the integral is a sum of rectangles.
    let (mut i, mut j) = (0usize, 0usize);
    let mut sum = 0.0;
    let mut prev: Option<f64> = None;
    while i < u.len() || j < v.len() {
        let x = match (u.get(i), v.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => unreachable!(),
        };
        if let Some(p) = prev {
            sum += (i as f64 / nu - j as f64 / nv).abs() * (x - p);
        }
        while i < u.len() && u[i] <= x {
            i += 1;
        }
        while j < v.len() && v[j] <= x {
            j += 1;
        }
        prev = Some(x);
    }
    Some(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        // scipy docs: wasserstein_distance([0, 1, 3], [5, 6, 8]) == 5.0
        assert_eq!(
            wasserstein_distance(&[0.0, 1.0, 3.0], &[5.0, 6.0, 8.0]),
            Some(5.0)
        );
        // Moving a point mass: |0 − 2| = 2.
        assert_eq!(wasserstein_distance(&[0.0], &[2.0]), Some(2.0));
        // [0, 1] vs [0, 1, 2]: on [0, 1) |1/2 − 1/3| = 1/6, on [1, 2)
        // |1 − 2/3| = 1/3, so 1/2.
        let d = wasserstein_distance(&[0.0, 1.0], &[0.0, 1.0, 2.0]).unwrap();
        assert!((d - 0.5).abs() < 1e-15);
        // Symmetric and order-independent.
        let a = [3.0, -1.0, 2.5, 7.0, 0.0];
        let b = [1.0, 1.0, 9.0];
        assert_eq!(wasserstein_distance(&a, &b), wasserstein_distance(&b, &a));
    }

    #[test]
    fn identical_samples_are_zero() {
        let a = [1.0, 2.0, 2.0, 5.0, -3.0];
        assert_eq!(wasserstein_distance(&a, &a), Some(0.0));
        assert_eq!(wasserstein_normed(&a, &a), Some(0.0));
    }

    #[test]
    fn normed_divides_by_population_std() {
        // reference std (ddof 0) of [0, 2] is 1.
        let d = wasserstein_normed(&[0.0, 2.0], &[1.0, 3.0]).unwrap();
        assert!((d - 1.0).abs() < 1e-15);
        // Constant reference: norm floored at 0.001.
        assert_eq!(wasserstein_normed(&[4.0, 4.0], &[4.0]), Some(0.0));
        let d = wasserstein_normed(&[4.0, 4.0], &[4.5]).unwrap();
        assert!((d - 500.0).abs() < 1e-9);
    }

    #[test]
    fn empty_and_nan() {
        assert_eq!(wasserstein_distance(&[], &[1.0]), None);
        assert_eq!(wasserstein_distance(&[1.0], &[f64::NAN]), None);
        assert_eq!(wasserstein_normed(&[f64::NAN], &[1.0]), None);
        // NaN and infinities are dropped.
        assert_eq!(
            wasserstein_distance(
                &[0.0, f64::NAN, 1.0, f64::INFINITY],
                &[0.0, 1.0, f64::NEG_INFINITY]
            ),
            Some(0.0)
        );
    }
}
