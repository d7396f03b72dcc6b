//! One merchant's state: its transaction times and the fraud labels of
//! those transactions, enough for counts and label-delayed fraud rates.

use super::ledger::shrink;
use super::windows::{DAY, LONGEST, WEEK};

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

/// A fraud label attached to one of the merchant's transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fraud {
    /// When the transaction happened (ms).
    time: i64,
    /// When the label became known (ms).
    labeled_at: i64,
}

/// Transactions and fraud labels of one merchant, times in ms.
#[derive(Debug, Default)]
pub(super) struct MerchantState {
    /// Transaction times, sorted.
    times: Vec<i64>,
    /// Fraud labels, sorted by transaction time.
    frauds: Vec<Fraud>,
    /// Where each window bound was found last time (see [`locate`]).
    hints: [usize; BOUNDS],
}

/// The three merchant windows.
const WINDOWS: [i64; 3] = [DAY, WEEK, LONGEST];
/// Window bounds searched per transaction: the start of each count window
/// and the start and end of each fraud-rate window.
const BOUNDS: usize = 7;
/// Steps a bound may move from its hint before falling back to a binary
/// search; in-order streams move each bound by about one transaction.
const WALK: usize = 4;

impl MerchantState {
    /// Whether no transaction is retained.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Adds a transaction time at its sorted position.
    pub fn insert(&mut self, t: i64) {
        let pos = self.count_le(t);
        self.times.insert(pos, t);
    }

    /// Records that the transaction at `time` is fraud, known since
    /// `labeled_at`; `previous` is the earlier-recorded (later) labeled_at
    /// of the same transaction, which this label replaces.
    pub fn record_fraud(&mut self, time: i64, labeled_at: i64, previous: Option<i64>) {
        if let Some(old) = previous {
            let found = self.frauds.iter().position(|f| {
                *f == Fraud {
                    time,
                    labeled_at: old,
                }
            });
            if let Some(i) = found {
                self.frauds.remove(i);
            }
        }
        let pos = self.frauds.partition_point(|f| f.time <= time);
        self.frauds.insert(pos, Fraud { time, labeled_at });
    }

    /// Drops transactions and labels at or before `horizon`.
    pub fn maintain(&mut self, horizon: i64) {
        let gone = self.times.partition_point(|&t| t <= horizon);
        self.times.drain(..gone);
        for h in &mut self.hints {
            *h = h.saturating_sub(gone);
        }
        let old = self.frauds.partition_point(|f| f.time <= horizon);
        self.frauds.drain(..old);
    }

    /// Releases capacity slack.
    pub fn shrink(&mut self) {
        // The times grow by doubling; shrinking them at less than half full
        // would only make the next insert reallocate and copy them again.
        if self.times.capacity() > 2 * self.times.len() + 16 {
            self.times.shrink_to_fit();
        }
        shrink(&mut self.frauds);
    }

    /// Heap bytes held (capacities).
    pub fn heap_bytes(&self) -> usize {
        self.times.capacity() * size_of::<i64>() + self.frauds.capacity() * size_of::<Fraud>()
    }

    /// The merchant features at `t` for a label delay of `delay` ms: counts
    /// over `(t − w, t)` and fraud rates over `(t − delay − w, t − delay]`
    /// with labels known before `t`. The current transaction is counted on
    /// top of the stored ones with time < `t`: like the user features, the
    /// features leave out what is stamped the very millisecond of `t`, so
    /// they do not depend on the delivery order of simultaneous events.
    /// Takes `&mut` only to update the search hints.
    pub fn features(&mut self, t: i64, delay: i64) -> MerchantFeatures {
        let end = self.count_le(t - 1);
        let cutoff = t - delay;
        let bounds = [
            t - DAY,
            t - WEEK,
            t - LONGEST,
            cutoff,
            cutoff - DAY,
            cutoff - WEEK,
            cutoff - LONGEST,
        ];
        let mut at = [0; BOUNDS];
        for ((pos, hint), bound) in at.iter_mut().zip(&mut self.hints).zip(bounds) {
            *pos = locate(&self.times, hint, bound);
        }
        if delay == 0 {
            // Without delay the rate windows end at `t`, simultaneous
            // transactions excluded as for the counts.
            at[3] = end;
        }
        let [count_1d, count_7d, count_30d] = [at[0], at[1], at[2]].map(|p| (end - p + 1) as f64);
        let frauds = self.known_frauds(t, cutoff);
        // The current transaction is in the fraud-rate windows only without delay.
        let current = usize::from(delay == 0);
        let rates: [f64; 3] =
            std::array::from_fn(|i| share(frauds[i], at[3] - at[4 + i] + current));
        MerchantFeatures {
            count_1d,
            count_7d,
            count_30d,
            fraud_rate_1d: rates[0],
            fraud_rate_7d: rates[1],
            fraud_rate_30d: rates[2],
        }
    }

    /// Number of transactions with time ≤ `t`; the common case of a
    /// transaction at or after the newest is answered without a search.
    fn count_le(&self, t: i64) -> usize {
        match self.times.last() {
            Some(&last) if last > t => self.times.partition_point(|&s| s <= t),
            _ => self.times.len(),
        }
    }

    /// Per window, the fraud labels known before `t` of transactions in
    /// `(cutoff − w, cutoff]`.
    fn known_frauds(&self, t: i64, cutoff: i64) -> [usize; 3] {
        let from = self.frauds.partition_point(|f| f.time <= cutoff - LONGEST);
        let mut counts = [0; 3];
        let in_range = self.frauds[from..].iter().take_while(|f| f.time <= cutoff);
        for f in in_range.filter(|f| f.labeled_at < t) {
            for (count, w) in counts.iter_mut().zip(WINDOWS) {
                *count += usize::from(f.time > cutoff - w);
            }
        }
        counts
    }
}

/// Number of `times` at or before `bound`, starting from where it was last
/// time (`hint`): a few steps forward at most, else a binary search.
fn locate(times: &[i64], hint: &mut usize, bound: i64) -> usize {
    let mut p = (*hint).min(times.len());
    let mut steps = 0;
    while steps < WALK && times.get(p).is_some_and(|&s| s <= bound) {
        p += 1;
        steps += 1;
    }
    let after_ok = times.get(p).is_none_or(|&s| s > bound);
    let before_ok = p == 0 || times.get(p - 1).is_some_and(|&s| s <= bound);
    if !(after_ok && before_ok) {
        p = times.partition_point(|&s| s <= bound);
    }
    *hint = p;
    p
}

/// `part / total`, 0 for an empty total.
fn share(part: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::windows::HOUR;

    #[test]
    fn counts_and_rates_over_half_open_windows() {
        let mut m = MerchantState::default();
        let t = 100 * DAY;
        let delay = WEEK;
        for time in [t - DAY, t - DAY + 1, t - HOUR, t] {
            m.insert(time);
        }
        let f = m.features(t, delay);
        // t − 1 d is outside the day, t − 1 d + 1 ms inside, another
        // transaction at exactly t is left out; + the current one.
        assert_eq!((f.count_1d, f.count_7d, f.count_30d), (3.0, 4.0, 4.0));
        assert_eq!(f.fraud_rate_30d, 0.0);

        // Transactions around the delayed cutoff t − D.
        let cutoff = t - delay;
        for time in [cutoff, cutoff + 1, cutoff - 2 * DAY] {
            m.insert(time);
        }
        m.record_fraud(cutoff, t - 1, None);
        m.record_fraud(cutoff + 1, t - 5, None);
        m.record_fraud(cutoff - 2 * DAY, t + 1, None);
        let f = m.features(t, delay);
        // 1d window (cutoff − 1d, cutoff]: only `cutoff`, labelled before t: 1/1.
        assert_eq!(f.fraud_rate_1d, 1.0);
        // 7d/30d: `cutoff` and `cutoff − 2d` (whose label comes at t + 1 ms).
        assert_eq!((f.fraud_rate_7d, f.fraud_rate_30d), (0.5, 0.5));
        // At t + 1 ms `cutoff + 1` enters the windows (labelled: 2 of 3) but
        // the t + 1 ms label is simultaneous, so still unknown; 1 ms later
        // it counts too.
        assert_eq!(m.features(t + 1, delay).fraud_rate_7d, 2.0 / 3.0);
        assert_eq!(m.features(t + 2, delay).fraud_rate_7d, 1.0);
    }

    #[test]
    fn an_earlier_label_replaces_the_later_one() {
        let mut m = MerchantState::default();
        m.insert(0);
        m.record_fraud(0, 50, None);
        m.record_fraud(0, 20, Some(50));
        assert_eq!(m.frauds.len(), 1);
        assert_eq!(m.features(30, 10).fraud_rate_1d, 1.0);
        assert_eq!(m.features(19, 10).fraud_rate_1d, 0.0);
    }

    #[test]
    fn without_delay_the_current_transaction_is_in_the_rate() {
        let mut m = MerchantState::default();
        m.insert(0);
        m.record_fraud(0, 0, None);
        let f = m.features(HOUR, 0);
        assert_eq!(f.fraud_rate_1d, 0.5);
    }

    #[test]
    fn locate_agrees_with_a_binary_search_from_any_hint() {
        let times: Vec<i64> = (0..50).map(|i| i / 3 * 10).collect();
        for hint in 0..=55 {
            for bound in -5..=175 {
                let mut h = hint;
                let expected = times.partition_point(|&s| s <= bound);
                assert_eq!(locate(&times, &mut h, bound), expected, "{hint} {bound}");
                assert_eq!(h, expected);
            }
        }
    }

    #[test]
    fn maintenance_drops_old_times_and_labels() {
        let mut m = MerchantState::default();
        for time in [1, 2, 3] {
            m.insert(time);
        }
        m.record_fraud(2, 10, None);
        m.maintain(2);
        assert_eq!(m.times, [3]);
        assert!(m.hints.iter().all(|&h| h <= 1));
        assert!(m.frauds.is_empty());
        m.maintain(3);
        assert!(m.is_empty());
    }
}
