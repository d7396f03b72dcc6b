//! The user features of a transaction, computed from the user's state as
//! it was before the transaction (the transaction itself is added in).

use std::ops::Range;

use super::calendar::flag;
use super::intern::{MISSING, MIXED};
use super::ledger::Moments;
use super::user::{Detail, UserState, merge};
use super::windows::{DAY, HOUR, LONGEST, MINUTE, TEN_MINUTES, WEEK};

/// The transaction the user features are computed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Query {
    /// Event time, ms since the epoch.
    pub t: i64,
    pub cents: u32,
    pub merchant: u32,
    pub country: u32,
    pub device: u32,
}

/// The user features of one transaction (see [`super::FeatureVector`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct UserFeatures {
    pub amount_zscore: f64,
    pub avg_amount_30d: f64,
    pub count_10m: f64,
    pub count_1h: f64,
    pub count_24h: f64,
    pub count_7d: f64,
    pub amount_sum_1h: f64,
    pub amount_sum_24h: f64,
    pub unique_countries_24h: f64,
    pub unique_merchants_24h: f64,
    pub country_change: f64,
    pub device_change: f64,
    pub merchant_first_time: f64,
    pub minutes_since_last: f64,
}

/// Where each window `(t − w, t)` starts in the ledger: the user's earlier
/// transactions in it are `start_w .. end`, where `end` counts those with
/// time < t. Transactions stamped the very millisecond of `t` are left out:
/// their order relative to the current one depends on delivery, and
/// leaving them out makes every feature independent of it.
#[derive(Debug)]
struct Windows {
    end: usize,
    start_10m: usize,
    start_1h: usize,
    start_24h: usize,
    start_7d: usize,
    start_30d: usize,
}

impl Windows {
    fn of(user: &UserState, rel: i64) -> Windows {
        let start = |span: i64| user.ledger.count_le(rel.saturating_sub(span));
        Windows {
            end: user.ledger.count_le(rel - 1),
            start_10m: start(TEN_MINUTES),
            start_1h: start(HOUR),
            start_24h: start(DAY),
            start_7d: start(WEEK),
            start_30d: start(LONGEST),
        }
    }

    /// Earlier transactions in the window starting at `start`.
    fn count(&self, start: usize) -> usize {
        self.end - start
    }
}

/// `count` earlier transactions plus the current one.
fn with_current(count: usize) -> f64 {
    (count + 1) as f64
}

impl UserState {
    /// The user features of `q`, over the transactions with time < `q.t`
    /// (anything already stored at or after it is ignored).
    pub fn features(&self, q: &Query) -> UserFeatures {
        let rel = q.t.saturating_sub(self.base);
        let w = Windows::of(self, rel);
        let month = self.ledger.moments(w.start_30d..w.end);
        let recent_24h = self.details(w.start_24h..w.end);
        let previous = w.end.checked_sub(1).filter(|&p| p >= w.start_30d);
        let cents = u64::from(q.cents);
        UserFeatures {
            amount_zscore: zscore(month, q.cents),
            avg_amount_30d: dollars(month.sum + cents) / (month.n + 1) as f64,
            count_10m: with_current(w.count(w.start_10m)),
            count_1h: with_current(w.count(w.start_1h)),
            count_24h: with_current(w.count(w.start_24h)),
            count_7d: with_current(w.count(w.start_7d)),
            amount_sum_1h: dollars(self.ledger.sum(w.start_1h..w.end) + cents),
            amount_sum_24h: dollars(self.ledger.sum(w.start_24h..w.end) + cents),
            unique_countries_24h: distinct(recent_24h, q.country, |d| d.country) as f64,
            unique_merchants_24h: distinct(recent_24h, q.merchant, |d| d.merchant) as f64,
            country_change: flag(changed(q.country, self.previous_country(previous))),
            device_change: flag(changed(q.device, self.previous_device(&w, rel))),
            merchant_first_time: flag(!self.visited(q.merchant, &w, rel)),
            minutes_since_last: self.minutes_since(previous, rel),
        }
    }

    /// The details of the ledger records in `range` that still have them.
    fn details(&self, range: Range<usize>) -> &[Detail] {
        let start = self.recent_start();
        let from = range.start.max(start) - start;
        let to = range.end.max(start) - start;
        self.recent.get(from..to).unwrap_or(&[])
    }

    /// Country of the ledger record `previous` and of the records stamped
    /// the same millisecond, merged with [`merge`] (their order depends on
    /// delivery, so none of them is "the" previous one): from their
    /// details, or from the fold summary when they are the newest folded
    /// records.
    fn previous_country(&self, previous: Option<usize>) -> u32 {
        let Some(p) = previous else {
            return MISSING;
        };
        let start = self.recent_start();
        if p >= start {
            self.simultaneous(p)
                .iter()
                .fold(MISSING, |s, d| merge(s, d.country))
        } else if p + 1 == start {
            self.folded_country
        } else {
            // Only for a transaction beyond the lateness: details are gone.
            MISSING
        }
    }

    /// Device of the newest earlier transaction in 30 days that had one, and
    /// of the others with one stamped the same millisecond, merged with
    /// [`merge`].
    fn previous_device(&self, w: &Windows, rel: i64) -> u32 {
        let from = w.start_30d.max(self.recent_start());
        let in_window = self.details(w.start_30d..w.end);
        if let Some(i) = in_window.iter().rposition(|d| d.device != MISSING) {
            return self
                .simultaneous(from + i)
                .iter()
                .fold(MISSING, |s, d| merge(s, d.device));
        }
        let at = i64::from(self.folded_device_at);
        if w.start_30d < self.recent_start() && at > rel - LONGEST && at < rel {
            self.folded_device
        } else {
            MISSING
        }
    }

    /// The details of the ledger record `p` (which has details) and of the
    /// records before it stamped the same millisecond. Those all have
    /// details too: a fold never splits a millisecond.
    fn simultaneous(&self, p: usize) -> &[Detail] {
        let start = self.recent_start();
        if p < start {
            return &[];
        }
        let time = self.ledger.time(p);
        let mut first = p;
        while first > start && self.ledger.time(first - 1) == time {
            first -= 1;
        }
        self.recent.get(first - start..=p - start).unwrap_or(&[])
    }

    /// Whether the user has an earlier transaction at `merchant` in 30 days.
    fn visited(&self, merchant: u32, w: &Windows, rel: i64) -> bool {
        let recent = self.details(w.start_30d..w.end);
        recent.iter().any(|d| d.merchant == merchant)
            || self.seen.iter().any(|s| {
                let last = i64::from(s.last);
                s.merchant == merchant && last > rel - LONGEST && last < rel
            })
    }

    /// Minutes since the record `previous`, or 30 days' worth without one.
    fn minutes_since(&self, previous: Option<usize>, rel: i64) -> f64 {
        match previous.and_then(|p| self.ledger.time(p)) {
            Some(time) => (rel - i64::from(time)) as f64 / MINUTE as f64,
            None => (LONGEST / MINUTE) as f64,
        }
    }
}

/// (x − mean) / population std of the earlier amounts, from exact integer
/// moments: with n·mean = Σ and n²·var = n·Σx² − Σ², the z-score is
/// (n·x − Σ) / √(n·Σx² − Σ²), where both sides are exact integers.
///
/// The earlier transactions only, not the current one: a sample that
/// includes the value is pulled towards it, so an outlier would score
/// lower the fewer transactions the user has.
fn zscore(earlier: Moments, cents: u32) -> f64 {
    if earlier.n < 2 {
        return 0.0;
    }
    let n = u128::from(earlier.n);
    let sum = u128::from(earlier.sum);
    let spread = (n * earlier.squares).saturating_sub(sum * sum);
    if spread == 0 {
        return 0.0;
    }
    let deviation = n as i128 * i128::from(cents) - sum as i128;
    deviation as f64 / (spread as f64).sqrt()
}

/// Cents as dollars.
fn dollars(cents: u64) -> f64 {
    cents as f64 / 100.0
}

/// Distinct values among the details and the current value, ignoring
/// [`MISSING`]. Quadratic, which is the fastest for the handful of
/// transactions a day has.
fn distinct(details: &[Detail], current: u32, key: impl Fn(&Detail) -> u32) -> usize {
    let mut count = usize::from(current != MISSING);
    for (i, d) in details.iter().enumerate() {
        let v = key(d);
        let repeated = v == current || details[..i].iter().any(|e| key(e) == v);
        if v != MISSING && !repeated {
            count += 1;
        }
    }
    count
}

/// Both present and different; [`MIXED`] (simultaneous previous
/// transactions with different values) differs from every value.
fn changed(current: u32, previous: u32) -> bool {
    current != MISSING && previous != MISSING && (previous == MIXED || current != previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(cents: &[u32]) -> Moments {
        let mut m = Moments::default();
        cents.iter().for_each(|&c| m.add(c));
        m
    }

    #[test]
    fn zscore_matches_the_float_formula() {
        let earlier = [1000, 2000, 3000, 4000];
        // mean 2500, population std √1,250,000 ≈ 1118.03
        let z = zscore(moments(&earlier), 5000);
        assert!((z - 2500.0 / 1_250_000f64.sqrt()).abs() < 1e-12, "{z}");
        assert!(zscore(moments(&earlier), 1000) < 0.0);
        assert_eq!(zscore(moments(&[1000]), 9000), 0.0);
        assert_eq!(zscore(moments(&[1000, 1000, 1000]), 9000), 0.0);
    }

    #[test]
    fn distinct_ignores_missing_and_counts_the_current_value() {
        let d = |c| Detail {
            merchant: 0,
            country: c,
            device: MISSING,
        };
        let details = [d(1), d(MISSING), d(2), d(1)];
        assert_eq!(distinct(&details, 3, |d| d.country), 3);
        assert_eq!(distinct(&details, 2, |d| d.country), 2);
        assert_eq!(distinct(&details, MISSING, |d| d.country), 2);
        assert_eq!(distinct(&[], MISSING, |d| d.country), 0);
    }

    #[test]
    fn changed_needs_both_values() {
        assert!(changed(1, 2));
        assert!(!changed(1, 1));
        assert!(!changed(MISSING, 2));
        assert!(!changed(1, MISSING));
        assert!(changed(1, MIXED));
        assert!(!changed(MISSING, MIXED));
    }
}
