//! Buckets shared by PSI, Jensen–Shannon and chi-square — Evidently's
//! `get_binned_data` — and the display histograms of the report.
//!
//! Numeric features whose reference has more than 20 distinct values are
//! cut into equal-width bins over the pooled (reference + current) range,
//! the number of bins chosen by Sturges' rule exactly as
//! `np.histogram_bin_edges(pooled, bins="sturges")` does (so it is
//! `ceil(log2(n_pooled) + 1)`, not a fixed 10 or 30: Evidently's `n_bins`
//! argument is unused on this path). Bins are half-open `[e_i, e_{i+1})`,
//! the last one closed, as in `np.histogram`. Numeric features with at
//! most 20 distinct reference values, and categorical features, get one
//! bucket per distinct value seen on either side.

use std::collections::BTreeMap;

/// Distinct-value count at or below which a numeric reference is bucketed
/// per value (Evidently's `n_vals > 20` test).
pub const MAX_DISCRETE_VALUES: usize = 20;

/// Reference and current counts per bucket.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Buckets {
    pub reference: Vec<u64>,
    pub current: Vec<u64>,
}

/// Evidently's buckets for a numeric feature; both inputs sorted, finite,
/// non-empty.
pub(crate) fn numeric_buckets(reference: &[f64], current: &[f64]) -> Buckets {
    if distinct_sorted(reference) > MAX_DISCRETE_VALUES {
        let edges = sturges_edges(reference, current);
        Buckets {
            reference: histogram_sorted(reference, &edges),
            current: histogram_sorted(current, &edges),
        }
    } else {
        per_value_buckets(reference, current)
    }
}

/// One bucket per distinct value of either (sorted) side.
fn per_value_buckets(reference: &[f64], current: &[f64]) -> Buckets {
    let (mut i, mut j) = (0usize, 0usize);
    let mut out = Buckets {
        reference: Vec::new(),
        current: Vec::new(),
    };
    while i < reference.len() || j < current.len() {
        let x = match (reference.get(i), current.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => unreachable!(),
        };
        let (i0, j0) = (i, j);
        while i < reference.len() && reference[i] == x {
            i += 1;
        }
        while j < current.len() && current[j] == x {
            j += 1;
        }
        out.reference.push((i - i0) as u64);
        out.current.push((j - j0) as u64);
    }
    out
}

fn distinct_sorted(values: &[f64]) -> usize {
    if values.is_empty() {
        return 0;
    }
    1 + values.windows(2).filter(|w| w[0] != w[1]).count()
}

/// `np.histogram_bin_edges(pooled, bins="sturges")`.
pub(crate) fn sturges_edges(reference: &[f64], current: &[f64]) -> Vec<f64> {
    let (lo, hi) = pooled_range(reference, current);
    let n = (reference.len() + current.len()) as f64;
    let ptp = hi - lo;
    let (first, last) = outer_edges(lo, hi);
    let width = ptp / (n.log2() + 1.0);
    let bins = if width != 0.0 {
        ((last - first) / width).ceil() as usize
    } else {
        1
    };
    linspace(first, last, bins + 1)
}

/// `np.histogram_bin_edges(pooled, bins=bins)`: equal-width bins over the
/// pooled range (±0.5 around a constant).
pub(crate) fn equal_width_edges(reference: &[f64], current: &[f64], bins: usize) -> Vec<f64> {
    let (lo, hi) = pooled_range(reference, current);
    let (first, last) = outer_edges(lo, hi);
    linspace(first, last, bins.max(1) + 1)
}

fn pooled_range(reference: &[f64], current: &[f64]) -> (f64, f64) {
    let lo = reference
        .first()
        .copied()
        .unwrap_or(f64::INFINITY)
        .min(current.first().copied().unwrap_or(f64::INFINITY));
    let hi = reference
        .last()
        .copied()
        .unwrap_or(f64::NEG_INFINITY)
        .max(current.last().copied().unwrap_or(f64::NEG_INFINITY));
    (lo, hi)
}

fn outer_edges(lo: f64, hi: f64) -> (f64, f64) {
    if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// `np.linspace(start, stop, num)` (endpoint included, computed as NumPy
/// does: `i * step + start`, the last one set to `stop`).
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let div = (num - 1) as f64;
    let step = (stop - start) / div;
    let mut out: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    if let Some(last) = out.last_mut() {
        *last = stop;
    }
    out
}

/// `np.histogram(sorted, edges)[0]`: `[e_i, e_{i+1})`, last bin closed,
/// values outside the edges not counted.
pub(crate) fn histogram_sorted(sorted: &[f64], edges: &[f64]) -> Vec<u64> {
    let mut cum: Vec<usize> = edges
        .iter()
        .map(|&e| sorted.partition_point(|&x| x < e))
        .collect();
    if let (Some(c), Some(&e)) = (cum.last_mut(), edges.last()) {
        *c = sorted.partition_point(|&x| x <= e);
    }
    cum.windows(2).map(|w| (w[1] - w[0]) as u64).collect()
}

/// Counts per category over the union of both sides, in category order.
pub(crate) fn categorical_counts<S: AsRef<str>>(
    reference: &[S],
    current: &[S],
) -> (Vec<String>, Buckets) {
    let mut map: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for s in reference {
        map.entry(s.as_ref()).or_default().0 += 1;
    }
    for s in current {
        map.entry(s.as_ref()).or_default().1 += 1;
    }
    let mut keys = Vec::with_capacity(map.len());
    let mut out = Buckets {
        reference: Vec::with_capacity(map.len()),
        current: Vec::with_capacity(map.len()),
    };
    for (k, (r, c)) in map {
        keys.push(k.to_string());
        out.reference.push(r);
        out.current.push(c);
    }
    (keys, out)
}

/// Counts over their total.
pub(crate) fn percents(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts.iter().map(|&c| c as f64 / total as f64).collect()
}

/// Evidently's `feel_zeroes`: empty buckets get `min_nonzero / 1e6` when the
/// smallest non-empty share is ≤ 1e-4, else 1e-4. (The shares then no
/// longer sum to exactly 1; Evidently does not renormalize.)
pub(crate) fn fill_zeroes(p: &mut [f64]) {
    let min_nonzero = p
        .iter()
        .copied()
        .filter(|&x| x != 0.0)
        .fold(f64::INFINITY, f64::min);
    if !min_nonzero.is_finite() {
        return;
    }
    let fill = if min_nonzero <= 1e-4 {
        min_nonzero / 1e6
    } else {
        1e-4
    };
    for x in p.iter_mut().filter(|x| **x == 0.0) {
        *x = fill;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_edges_like_numpy() {
        // np.histogram([0, 1, 1, 2, 3], bins=[0, 1, 2, 3]) -> [1, 2, 2]
        assert_eq!(
            histogram_sorted(&[0.0, 1.0, 1.0, 2.0, 3.0], &[0.0, 1.0, 2.0, 3.0]),
            vec![1, 2, 2]
        );
        // Out-of-range values are not counted.
        assert_eq!(histogram_sorted(&[-1.0, 0.5, 4.0], &[0.0, 1.0]), vec![1]);
        // np.linspace(0, 1, 5)
        assert_eq!(linspace(0.0, 1.0, 5), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    }

    #[test]
    fn sturges_bin_count() {
        // 8 pooled values over [0, 7]: width = 7 / (3 + 1), ceil(4) = 4 bins.
        let a = [0.0, 1.0, 2.0, 3.0];
        let b = [4.0, 5.0, 6.0, 7.0];
        assert_eq!(sturges_edges(&a, &b), vec![0.0, 1.75, 3.5, 5.25, 7.0]);
        // A constant pool gets one bin [x − 0.5, x + 0.5].
        assert_eq!(sturges_edges(&[2.0], &[2.0]), vec![1.5, 2.5]);
    }

    #[test]
    fn per_value_buckets_cover_the_union() {
        let b = numeric_buckets(&[1.0, 1.0, 2.0], &[2.0, 3.0]);
        assert_eq!(b.reference, vec![2, 1, 0]);
        assert_eq!(b.current, vec![0, 1, 1]);
    }

    #[test]
    fn zero_fill() {
        let mut p = vec![0.5, 0.5, 0.0];
        fill_zeroes(&mut p);
        assert_eq!(p, vec![0.5, 0.5, 1e-4]);
        let mut p = vec![0.99995, 0.00005, 0.0];
        fill_zeroes(&mut p);
        assert_eq!(p[2], 0.00005 / 1e6);
    }

    #[test]
    fn categories_are_sorted_and_counted() {
        let (keys, b) = categorical_counts(&["web", "pos", "web"], &["atm", "web"]);
        assert_eq!(keys, vec!["atm", "pos", "web"]);
        assert_eq!(b.reference, vec![0, 1, 2]);
        assert_eq!(b.current, vec![1, 0, 1]);
    }
}
