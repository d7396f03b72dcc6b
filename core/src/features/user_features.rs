//! The user features of a transaction, computed from the user's state as
//! it was before the transaction (the transaction itself is added in).
//!
//! Buckets hold every transaction the state took; the tail's records
//! stamped at or after the transaction's time are taken out again, so only
//! *earlier* transactions count (for an in-order stream, those are the
//! ones of the same millisecond, whose order depends on delivery).

use super::calendar::flag;
use super::intern::{MISSING, MIXED};
use super::user::{Distinct24h, Recent, Seen, UserState, merge};
use super::windows::{LONGEST, MINUTE, Window};

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
    /// The distinct counts above as the state keeps them for the next
    /// transaction (see [`Distinct24h`]).
    pub distinct: Distinct24h,
}

/// Count, sum and sum of squares of amounts in cents, exact in integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Moments {
    pub n: u64,
    pub sum: u64,
    pub squares: u128,
}

impl UserState {
    /// The user features of `q`, over the user's transactions stamped
    /// before `q.t` in each window.
    pub fn features(&self, q: &Query) -> UserFeatures {
        let later = self.tail.from(q.t);
        let (count_10m, _) = self.minute_window(Window::TEN_MINUTES, q.t, later);
        let (count_1h, sum_1h) = self.minute_window(Window::ONE_HOUR, q.t, later);
        let (count_24h, sum_24h) = self.hour_window(q.t, later);
        let profile = self.profile(q.t, later);
        let cents = u64::from(q.cents);
        let previous = self.previous(q.t);
        // One lookup per seen list, shared by the distinct counts and the
        // first-time flag.
        let merchant_seen = UserState::seen_hour(&self.merchants, q.merchant);
        let country_seen = UserState::seen_hour(&self.countries, q.country);
        let merchants = self.distinct(q.t, q.merchant, merchant_seen, Distinct::Merchants);
        let countries = self.distinct(q.t, q.country, country_seen, Distinct::Countries);
        UserFeatures {
            amount_zscore: zscore(profile, q.cents),
            avg_amount_30d: dollars(profile.sum + cents) / (profile.n + 1) as f64,
            count_10m: with_current(count_10m),
            count_1h: with_current(count_1h),
            count_24h: with_current(count_24h),
            count_7d: with_current(self.day_window(q.t, later)),
            amount_sum_1h: dollars(sum_1h + cents),
            amount_sum_24h: dollars(sum_24h + cents),
            unique_countries_24h: f64::from(countries),
            unique_merchants_24h: f64::from(merchants),
            country_change: flag(changed(q.country, previous.map_or(MISSING, |p| p.1))),
            device_change: flag(changed(q.device, self.previous_device(q.t))),
            merchant_first_time: flag(!self.visited(q.merchant, merchant_seen, q.t)),
            minutes_since_last: previous.map_or((LONGEST / MINUTE) as f64, |(time, _)| {
                (q.t - time) as f64 / MINUTE as f64
            }),
            distinct: Distinct24h {
                first_hour: Window::ONE_DAY.first(q.t),
                merchants,
                countries,
            },
        }
    }

    /// Count and cents of earlier transactions in a window of minutes.
    fn minute_window(&self, w: Window, t: i64, later: &[Recent]) -> (u64, u64) {
        let (mut n, mut c) = (0u64, 0u64);
        for b in self.minutes.range(w.first(t), w.last(t)) {
            n += u64::from(b.count);
            c += b.cents;
        }
        take_out(n, c, later, w, t)
    }

    /// Count and cents of earlier transactions in the last 24 hours.
    fn hour_window(&self, t: i64, later: &[Recent]) -> (u64, u64) {
        let w = Window::ONE_DAY;
        let (mut n, mut c) = (0u64, 0u64);
        for b in self.hours.range(w.first(t), w.last(t)) {
            n += u64::from(b.count);
            c += b.cents;
        }
        take_out(n, c, later, w, t)
    }

    /// Earlier transactions in the last 7 days.
    fn day_window(&self, t: i64, later: &[Recent]) -> u64 {
        let w = Window::SEVEN_DAYS;
        let n: u64 = self
            .days
            .range(w.first(t), w.last(t))
            .iter()
            .map(|b| u64::from(b.count))
            .sum();
        n - later.iter().filter(|e| w.covers(t, e.time)).count() as u64
    }

    /// Moments of the earlier transactions' amounts in the profile window.
    fn profile(&self, t: i64, later: &[Recent]) -> Moments {
        let w = Window::PROFILE;
        let mut m = Moments::default();
        for b in self.periods.range(w.first(t), w.last(t)) {
            m.n += u64::from(b.n);
            m.sum += b.sum;
            m.squares += b.squares;
        }
        for e in later.iter().filter(|e| w.covers(t, e.time)) {
            let c = u64::from(e.cents);
            m.n -= 1;
            m.sum -= c;
            m.squares -= u128::from(c * c);
        }
        m
    }

    /// Distinct merchants or countries among the earlier transactions of
    /// the last 24 hours and the current one: those whose newest settled
    /// transaction is in the window (counted per hour), plus the tail's.
    /// `current_seen` is the hour the current value was last seen settled.
    fn distinct(&self, t: i64, current: u32, current_seen: Option<u32>, kind: Distinct) -> u32 {
        let w = Window::ONE_DAY;
        let (first, last) = (w.first(t), w.last(t));
        let seen = kind.seen(self);
        let settled_in_window = |hour: Option<u32>| hour.is_some_and(|h| h >= first && h <= last);
        let earlier = self.tail.before(t);
        let start = w.grain.start(first);
        let recent = &earlier[earlier.partition_point(|e| e.time < start)..];
        let current_is_new = current != MISSING
            && !settled_in_window(current_seen)
            && !recent.iter().any(|e| kind.value(e) == current);
        let known = self.distinct;
        if t > self.newest && known.first_hour == first {
            // Every transaction held is earlier and the window is the one
            // the newest was counted in: only the current value can add.
            return kind.known(known) + u32::from(current_is_new);
        }
        let mut count: u32 = self
            .hours
            .range(first, last)
            .iter()
            .map(|b| kind.counter(b))
            .sum();
        // The tail's earlier transactions in the window end the tail's
        // earlier part; at most a few, so repeats are found by looking back.
        for (i, e) in recent.iter().enumerate() {
            let v = kind.value(e);
            let repeated = recent[..i].iter().any(|f| kind.value(f) == v);
            if v != MISSING && !repeated && !settled_in_window(UserState::seen_hour(seen, v)) {
                count += 1;
            }
        }
        count + u32::from(current_is_new)
    }

    /// Whether the user has an earlier transaction at `merchant` in the
    /// last 30 days.
    /// `seen` is the hour it was last seen settled.
    fn visited(&self, merchant: u32, seen: Option<u32>, t: i64) -> bool {
        let w = Window::THIRTY_DAYS;
        let settled = seen.is_some_and(|h| h / 24 >= w.first(t));
        settled
            || self
                .tail
                .before(t)
                .iter()
                .any(|e| e.merchant == merchant && w.covers(t, e.time))
    }

    /// Time and merged country of the user's newest earlier transactions
    /// (all those of that millisecond) within 30 days.
    fn previous(&self, t: i64) -> Option<(i64, u32)> {
        let earlier = self.tail.before(t);
        let settled = (self.settled.time < t).then_some(self.settled.time);
        let p = earlier.last().map(|e| e.time).max(settled)?;
        let country = same_ms(earlier, p).fold(MISSING, |s, e| merge(s, e.country));
        let country = if settled == Some(p) {
            merge(country, self.settled.country)
        } else {
            country
        };
        (p > t - LONGEST).then_some((p, country))
    }

    /// Merged device of the newest earlier transactions with a device
    /// within 30 days.
    fn previous_device(&self, t: i64) -> u32 {
        let earlier = self.tail.before(t);
        let in_tail = earlier.iter().rposition(|e| e.device != MISSING);
        let settled = (self.settled.device_time < t).then_some(self.settled.device_time);
        let Some(p) = in_tail.map(|i| earlier[i].time).max(settled) else {
            return MISSING;
        };
        let with_device = &earlier[..in_tail.map_or(0, |i| i + 1)];
        let device = same_ms(with_device, p).fold(MISSING, |s, e| merge(s, e.device));
        let device = if settled == Some(p) {
            merge(device, self.settled.device)
        } else {
            device
        };
        if p > t - LONGEST { device } else { MISSING }
    }
}

/// Which distinct count.
#[derive(Debug, Clone, Copy)]
enum Distinct {
    Merchants,
    Countries,
}

impl Distinct {
    fn seen(self, u: &UserState) -> &[Seen] {
        match self {
            Distinct::Merchants => &u.merchants,
            Distinct::Countries => &u.countries,
        }
    }

    fn counter(self, b: &super::user::HourBucket) -> u32 {
        match self {
            Distinct::Merchants => b.merchants,
            Distinct::Countries => b.countries,
        }
    }

    fn known(self, d: Distinct24h) -> u32 {
        match self {
            Distinct::Merchants => d.merchants,
            Distinct::Countries => d.countries,
        }
    }

    fn value(self, e: &Recent) -> u32 {
        match self {
            Distinct::Merchants => e.merchant,
            Distinct::Countries => e.country,
        }
    }
}

/// The events of `events` (sorted) stamped at `p`, which end the slice.
fn same_ms(events: &[Recent], p: i64) -> impl Iterator<Item = &Recent> {
    events.iter().rev().take_while(move |e| e.time == p)
}

/// Takes the later events that fall in the window's last bucket out of a
/// count and a sum.
fn take_out(n: u64, cents: u64, later: &[Recent], w: Window, t: i64) -> (u64, u64) {
    later
        .iter()
        .filter(|e| w.covers(t, e.time))
        .fold((n, cents), |(n, c), e| (n - 1, c - u64::from(e.cents)))
}

/// `count` earlier transactions plus the current one.
fn with_current(count: u64) -> f64 {
    (count + 1) as f64
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
        for &c in cents {
            let c = u64::from(c);
            m.n += 1;
            m.sum += c;
            m.squares += u128::from(c * c);
        }
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
        let big = zscore(moments(&[u32::MAX, u32::MAX, 0]), u32::MAX);
        assert!(big.is_finite() && big > 0.0);
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
