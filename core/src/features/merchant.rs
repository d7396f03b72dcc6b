//! One merchant's state: transaction counts per hour and per day, fraud
//! labels counted in the day of their transaction, and the newest
//! transactions and labels one by one (those a late transaction must not
//! see).
//!
//! Bound per merchant, whatever its volume: 26 hour buckets, `31 + label
//! delay + lateness` day buckets (38 with the defaults), at most
//! [`TAIL_CAP`] recent transaction times (plus those of one millisecond)
//! and [`LABELS_CAP`] recent labels: about 1.5 KB plus 8 KB of labels.

use uuid::Uuid;

use super::buckets::{Bucket, Buckets};
use super::memory::{grow, shrink};
use super::tail::Tail;
use super::windows::{Grain, Horizons, Window};

/// Most transaction times a merchant keeps one by one.
pub(super) const TAIL_CAP: usize = 32;
/// Most recent fraud labels a merchant keeps one by one; past it the
/// oldest counts as known for every transaction (a late one may see it
/// early).
pub(super) const LABELS_CAP: usize = 256;

/// The merchant features of one transaction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct MerchantFeatures {
    pub count_1d: f64,
    pub count_7d: f64,
    pub count_30d: f64,
    pub fraud_rate_1d: f64,
    pub fraud_rate_7d: f64,
    pub fraud_rate_30d: f64,
}

/// Transactions of one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HourCount {
    index: u32,
    count: u32,
}

/// Transactions of one day, and how many of them carry a fraud label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DayCount {
    index: u32,
    count: u32,
    frauds: u32,
}

impl Bucket for HourCount {
    fn empty(index: u32) -> Self {
        HourCount { index, count: 0 }
    }
    fn index(&self) -> u32 {
        self.index
    }
}

impl Bucket for DayCount {
    fn empty(index: u32) -> Self {
        DayCount {
            index,
            count: 0,
            frauds: 0,
        }
    }
    fn index(&self) -> u32 {
        self.index
    }
}

/// A fraud label counted in its day but not yet known to every
/// transaction the state accepts (labeled at or after the accept horizon).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RecentLabel {
    transaction: Uuid,
    labeled_at: i64,
    day: u32,
}

/// The merchant fraud-rate windows, in days before the day of t − delay.
const FRAUD_WINDOWS: [u32; 3] = [1, 7, 30];

/// Counts and fraud labels of one merchant.
#[derive(Debug, Clone, Default)]
pub(super) struct MerchantState {
    hours: Buckets<HourCount>,
    days: Buckets<DayCount>,
    tail: Tail<i64>,
    labels: Vec<RecentLabel>,
}

impl MerchantState {
    /// Whether no transaction is held.
    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// Adds a transaction the state accepts.
    pub fn insert(&mut self, t: i64, h: &Horizons) {
        self.hours.at(Grain::Hour.of(t)).count += 1;
        self.days.at(Grain::Day.of(t)).count += 1;
        self.tail.insert(t);
        self.tail.settle(h.accept, TAIL_CAP, |_| {});
        self.hours.drop_before(h.keep_from(Window::ONE_DAY));
        self.days.drop_before(h.merchant_day());
    }

    /// Counts a transaction beyond the allowed lateness in its day only (if
    /// the merchant still holds that day), so that a fraud label on it has
    /// a transaction to count against; the recent windows (hours, tail)
    /// stay as they were served.
    pub fn count_late(&mut self, t: i64, h: &Horizons) {
        let day = Grain::Day.of(t);
        if day >= h.merchant_day() {
            self.days.at(day).count += 1;
        }
    }

    /// Counts a fraud label of the merchant's transaction at `time`, known
    /// since `labeled_at`. `replaces` is the later labeled_at of the same
    /// transaction's fraud label counted before, if any: the transaction
    /// still counts once, from the earlier time. A label for a day the
    /// merchant no longer holds changes nothing.
    pub fn record_fraud(
        &mut self,
        transaction: Uuid,
        time: i64,
        labeled_at: i64,
        replaces: Option<i64>,
        h: &Horizons,
    ) {
        let day = Grain::Day.of(time);
        if replaces.is_some() {
            if let Some(l) = self
                .labels
                .iter_mut()
                .find(|l| l.transaction == transaction)
            {
                l.labeled_at = l.labeled_at.min(labeled_at);
            }
            // Not found: the earlier count is settled, known to all.
            return;
        }
        let Some(bucket) = self.days.get_mut(day) else {
            return;
        };
        bucket.frauds += 1;
        if labeled_at >= h.accept {
            grow(&mut self.labels);
            self.labels.push(RecentLabel {
                transaction,
                labeled_at,
                day,
            });
            if self.labels.len() > LABELS_CAP {
                self.settle_oldest_label();
            }
        }
    }

    /// Drops what no accepted transaction can look at (eviction rounds).
    pub fn maintain(&mut self, h: &Horizons) {
        self.tail.settle(h.accept, TAIL_CAP, |_| {});
        self.hours.drop_before(h.keep_from(Window::ONE_DAY));
        self.days.drop_before(h.merchant_day());
        self.labels.retain(|l| l.labeled_at >= h.accept);
        if self.days.is_empty() {
            *self = MerchantState::default();
        }
    }

    /// Releases capacity slack.
    pub fn shrink(&mut self) {
        self.hours.shrink();
        self.days.shrink();
        self.tail.shrink();
        shrink(&mut self.labels);
    }

    /// Heap bytes of the counts and recent transactions.
    pub fn heap_bytes(&self) -> usize {
        self.hours.heap_bytes() + self.days.heap_bytes() + self.tail.heap_bytes()
    }

    /// Heap bytes of the recent labels.
    pub fn label_bytes(&self) -> usize {
        self.labels.capacity() * size_of::<RecentLabel>()
    }

    /// The merchant features at `t` for a label delay of `delay` ms: counts
    /// of the earlier transactions over the last day (hours) and 7 and 30
    /// days (days), plus the current one; fraud rates over the days ending
    /// with the day of `t − delay`, with labels known before `t`.
    pub fn features(&self, t: i64, delay: i64) -> MerchantFeatures {
        let later = self.tail.from(t);
        let count = |w: Window, sum: u64| {
            let later = later.iter().filter(|&&x| w.covers(t, x)).count() as u64;
            (sum - later + 1) as f64
        };
        let hours = Window::ONE_DAY;
        let in_day: u64 = self
            .hours
            .range(hours.first(t), hours.last(t))
            .iter()
            .map(|b| u64::from(b.count))
            .sum();
        let in_days = |w: Window| -> u64 {
            self.days
                .range(w.first(t), w.last(t))
                .iter()
                .map(|b| u64::from(b.count))
                .sum()
        };
        let rates = self.fraud_rates(t, delay, later);
        MerchantFeatures {
            count_1d: count(hours, in_day),
            count_7d: count(Window::SEVEN_DAYS, in_days(Window::SEVEN_DAYS)),
            count_30d: count(Window::THIRTY_DAYS, in_days(Window::THIRTY_DAYS)),
            fraud_rate_1d: rates[0],
            fraud_rate_7d: rates[1],
            fraud_rate_30d: rates[2],
        }
    }

    /// Per fraud window: the share of the merchant's earlier transactions
    /// in the `w` days ending with the day of `t − delay` that carry a fraud
    /// label known before `t`. (With a delay under a day the window can
    /// reach the transaction's own day: what is stamped at or after `t` is
    /// taken out, as for the counts.)
    fn fraud_rates(&self, t: i64, delay: i64, later: &[i64]) -> [f64; 3] {
        let end = Grain::Day.of(t.saturating_sub(delay));
        FRAUD_WINDOWS.map(|days| {
            let (first, last) = ((end + 1).saturating_sub(days), end);
            let in_days = |day: u32| day >= first && day <= last;
            let (mut count, mut frauds) = (0u64, 0u64);
            for b in self.days.range(first, last) {
                count += u64::from(b.count);
                frauds += u64::from(b.frauds);
            }
            count -= later.iter().filter(|&&x| in_days(Grain::Day.of(x))).count() as u64;
            let unknown = self
                .labels
                .iter()
                .filter(|l| l.labeled_at >= t && in_days(l.day))
                .count() as u64;
            share(frauds - unknown, count)
        })
    }

    /// Forgets the oldest recent label: from now on every transaction sees
    /// it (only a late transaction can tell the difference).
    fn settle_oldest_label(&mut self) {
        if let Some(i) = self
            .labels
            .iter()
            .enumerate()
            .min_by_key(|(_, l)| (l.labeled_at, l.transaction))
            .map(|(i, _)| i)
        {
            self.labels.remove(i);
        }
    }
}

/// `part / total`, 0 for an empty total.
fn share(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::windows::{DAY, HOUR, MINUTE};

    fn h(newest: i64) -> Horizons {
        Horizons::new(newest, 10 * MINUTE, 7 * DAY)
    }

    #[test]
    fn counts_over_hours_and_days_leave_out_later_transactions() {
        let mut m = MerchantState::default();
        let t = 100 * DAY + 12 * HOUR;
        for time in [t - DAY, t - 23 * HOUR, t - HOUR, t, t] {
            m.insert(time, &h(t));
        }
        let f = m.features(t, 7 * DAY);
        // The hour of t − 1 d is outside the last 24 hours, that of
        // t − 23 h inside; the two at t are left out; + the current one.
        assert_eq!((f.count_1d, f.count_7d, f.count_30d), (3.0, 4.0, 4.0));
        assert_eq!(f.fraud_rate_30d, 0.0);
    }

    #[test]
    fn fraud_rates_count_the_days_up_to_the_delay_with_known_labels() {
        let mut m = MerchantState::default();
        let delay = 7 * DAY;
        let t = 100 * DAY + 12 * HOUR;
        // Day 93 is the day of t − delay: the 1-day window; day 94 is in
        // no fraud window.
        let (d94, d93, d90) = (94 * DAY + HOUR, 93 * DAY + HOUR, 90 * DAY + HOUR);
        for time in [d94, d93, d93 + 1, d90] {
            m.insert(time, &h(time));
        }
        m.insert(t, &h(t));
        let id = |n: u128| Uuid::from_u128(n);
        m.record_fraud(id(1), d94, t - 5, None, &h(t));
        m.record_fraud(id(2), d93, t - 1, None, &h(t));
        m.record_fraud(id(3), d90, t + 1, None, &h(t));
        let f = m.features(t, delay);
        assert_eq!(f.fraud_rate_1d, 0.5, "day 93: 1 of 2, labelled before t");
        // Days 87–93: three transactions; the day-90 label comes after t.
        assert_eq!((f.fraud_rate_7d, f.fraud_rate_30d), (1.0 / 3.0, 1.0 / 3.0));
        assert_eq!(m.features(t + 2, delay).fraud_rate_7d, 2.0 / 3.0);
        // An earlier label of transaction 3 replaces the later one.
        m.record_fraud(id(3), d90, t - 10, Some(t + 1), &h(t));
        assert_eq!(m.features(t, delay).fraud_rate_7d, 2.0 / 3.0);
        // Once the horizon passes, labels are known to every transaction.
        m.maintain(&h(t + DAY));
        assert!(m.labels.is_empty());
    }

    #[test]
    fn buckets_are_bounded_by_the_windows() {
        let mut m = MerchantState::default();
        let t0 = 100 * DAY;
        for i in 0..(60 * 24) {
            let t = t0 + i * HOUR;
            m.insert(t, &h(t));
        }
        assert!(m.hours.len() <= 25, "{}", m.hours.len());
        assert!(m.days.len() <= 38, "{}", m.days.len());
        m.maintain(&h(t0 + 200 * DAY));
        assert!(m.is_empty());
    }
}
