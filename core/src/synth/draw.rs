//! Small sampling helpers that never panic, whatever their input.

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use rand_distr::{Exp1, StandardNormal};

/// True with probability `p`; a `p` outside [0, 1] or NaN saturates instead
/// of panicking like `random_bool` would.
pub(crate) fn chance(rng: &mut impl Rng, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// An index drawn in proportion to `weights`; non-positive and non-finite
/// weights never win. Returns 0 when no weight is positive.
pub(crate) fn pick_weighted(weights: &[f64], rng: &mut impl Rng) -> usize {
    let usable = |w: f64| w.is_finite() && w > 0.0;
    let total: f64 = weights.iter().copied().filter(|w| usable(*w)).sum();
    let mut x = rng.random::<f64>() * total;
    let mut last = 0;
    for (i, w) in weights.iter().copied().enumerate() {
        if !usable(w) {
            continue;
        }
        if x < w {
            return i;
        }
        x -= w;
        last = i;
    }
    // Only reached through floating-point rounding or when nothing is usable.
    last
}

/// A uniformly chosen element of a non-empty slice; `None` when it is empty.
pub(crate) fn pick<T: Copy>(items: &[T], rng: &mut impl Rng) -> Option<T> {
    if items.is_empty() {
        return None;
    }
    items.get(rng.random_range(0..items.len())).copied()
}

/// A log-normal factor with median 1: multiplicative noise keeps amounts and
/// rates positive and right-skewed like real spending.
pub(crate) fn spread(rng: &mut impl Rng, sigma: f64) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    (sigma * z).exp()
}

/// Uniform in `[low, high)`; `low` when the interval is empty.
pub(crate) fn between(rng: &mut impl Rng, low: f64, high: f64) -> f64 {
    low + (high - low).max(0.0) * rng.random::<f64>()
}

/// Rounds to cents, keeping the amount finite and strictly positive.
pub(crate) fn cents(amount: f64) -> f64 {
    if !amount.is_finite() {
        return 0.01;
    }
    ((amount * 100.0).round() / 100.0).max(0.01)
}

/// Rounds a cash amount to whole notes of 20, at least one note.
pub(crate) fn notes_of_20(amount: f64) -> f64 {
    if !amount.is_finite() {
        return 20.0;
    }
    ((amount / 20.0).round() * 20.0).max(20.0)
}

/// `t` moved forward by `seconds` (millisecond resolution, saturating).
pub(crate) fn after_seconds(t: DateTime<Utc>, seconds: f64) -> DateTime<Utc> {
    let ms = (seconds * 1000.0).clamp(0.0, 1.0e15) as i64;
    t.checked_add_signed(TimeDelta::milliseconds(ms))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The next arrival of a Poisson process with `rate` per second after `t`;
/// `None` when the rate is zero or the arrival would lie beyond any date.
pub(crate) fn next_arrival(
    t: DateTime<Utc>,
    rate: f64,
    rng: &mut impl Rng,
) -> Option<DateTime<Utc>> {
    if !(rate.is_finite() && rate > 0.0) {
        return None;
    }
    let gap: f64 = rng.sample::<f64, _>(Exp1) / rate;
    let nanos = gap * 1.0e9;
    // Beyond about 285 years the gap no longer fits in nanoseconds.
    if nanos >= 9.0e18 {
        return None;
    }
    t.checked_add_signed(TimeDelta::nanoseconds(nanos as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn pick_weighted_follows_weights_and_skips_bad_ones() {
        let mut rng = StdRng::seed_from_u64(1);
        let weights = [0.0, 3.0, f64::NAN, 1.0, -2.0];
        let mut counts = [0usize; 5];
        for _ in 0..40_000 {
            counts[pick_weighted(&weights, &mut rng)] += 1;
        }
        assert_eq!(counts[0] + counts[2] + counts[4], 0);
        let share = counts[1] as f64 / 40_000.0;
        assert!((share - 0.75).abs() < 0.01, "{share}");
        assert_eq!(pick_weighted(&[], &mut rng), 0);
        assert_eq!(pick_weighted(&[0.0, 0.0], &mut rng), 0);
    }

    #[test]
    fn chance_saturates() {
        let mut rng = StdRng::seed_from_u64(2);
        assert!(!chance(&mut rng, f64::NAN));
        assert!(!chance(&mut rng, -1.0));
        assert!(chance(&mut rng, 2.0));
    }

    #[test]
    fn amounts_are_positive_cents_and_notes() {
        assert_eq!(cents(12.345), 12.35);
        assert_eq!(cents(0.0), 0.01);
        assert_eq!(cents(f64::INFINITY), 0.01);
        assert_eq!(notes_of_20(55.0), 60.0);
        assert_eq!(notes_of_20(3.0), 20.0);
    }

    #[test]
    fn poisson_gaps_have_the_right_mean_and_zero_rate_never_arrives() {
        let mut rng = StdRng::seed_from_u64(3);
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(next_arrival(t0, 0.0, &mut rng), None);
        assert_eq!(next_arrival(t0, f64::NAN, &mut rng), None);
        let n = 20_000;
        let total: f64 = (0..n)
            .filter_map(|_| next_arrival(t0, 4.0, &mut rng))
            .map(|t| (t - t0).as_seconds_f64())
            .sum();
        let mean = total / n as f64;
        assert!((mean - 0.25).abs() < 0.01, "{mean}");
    }
}
