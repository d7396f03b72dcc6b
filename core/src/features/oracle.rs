//! A naive oracle of the feature definitions (`mod.rs`): every feature
//! recomputed from the full list of earlier arrivals, written out as
//! plainly as possible, to check the bucketed state against.

use std::collections::HashMap;

use chrono::{Datelike, Timelike};
use uuid::Uuid;

use super::calendar::channel_code;
use super::windows::{Grain, LONGEST, Window, cents, millis};
use super::{FeatureConfig, FeatureVector};
use crate::transaction::{Label, Transaction};

/// Exact comparison, except the two features the oracle computes with
/// floats in another order (z-score and average: 1e-9).
pub(super) fn assert_close(got: &FeatureVector, expected: &FeatureVector, t: &Transaction) {
    let (g, e) = (got.to_array(), expected.to_array());
    for (i, name) in super::FEATURE_NAMES.iter().enumerate() {
        let tolerance = match *name {
            "amount_zscore" | "user_avg_amount_30d" => 1e-9 * e[i].abs().max(1.0),
            _ => 0.0,
        };
        assert!(
            (g[i] - e[i]).abs() <= tolerance,
            "{name}: got {} expected {} for {t:?}",
            g[i],
            e[i]
        );
    }
}

/// The newest of `list`: all those stamped the newest millisecond.
fn newest<'a>(list: impl Iterator<Item = &'a Stored>) -> Vec<&'a Stored> {
    let list: Vec<&Stored> = list.collect();
    let newest = list.iter().map(|s| s.time).max();
    list.into_iter()
        .filter(|s| Some(s.time) == newest)
        .collect()
}

/// Whether `current` is present and any of the previous values present and
/// different.
fn changed_from_any<'a>(
    current: Option<&String>,
    previous: impl Iterator<Item = Option<&'a String>>,
) -> bool {
    current.is_some_and(|c| previous.flatten().any(|p| p != c))
}

/// One stored transaction of the oracle.
#[derive(Clone)]
struct Stored {
    id: Uuid,
    merchant: String,
    country: Option<String>,
    device: Option<String>,
    time: i64,
    cents: u64,
    /// Taken into the state (within the lateness) rather than only counted
    /// in its merchant's day.
    accepted: bool,
}

/// Recomputes every feature from the full lists of earlier arrivals, with
/// the definitions written out as plainly as possible (`mod.rs`): a window
/// of `n` buckets holds the earlier transactions whose bucket is one of
/// the last `n` up to the transaction's own.
pub(super) struct Oracle {
    lateness: i64,
    delay: i64,
    pub newest: i64,
    pub late: u64,
    by_user: HashMap<String, Vec<Stored>>,
    by_merchant: HashMap<String, Vec<Stored>>,
    /// Earliest fraud labeled_at per stored transaction.
    labels: HashMap<Uuid, i64>,
    pub fraud_rates_seen: usize,
}

/// Whether a transaction at `ms` is in the window `w` of one at `t`.
fn in_window(w: Window, t: i64, ms: i64) -> bool {
    let (b, now) = (w.grain.of(ms), w.grain.of(t));
    b + w.buckets > now && b <= now
}

impl Oracle {
    pub fn new(config: &FeatureConfig) -> Oracle {
        Oracle {
            lateness: config.allowed_lateness.num_milliseconds(),
            delay: config.label_delay.num_milliseconds(),
            newest: i64::MIN,
            late: 0,
            by_user: HashMap::new(),
            by_merchant: HashMap::new(),
            labels: HashMap::new(),
            fraud_rates_seen: 0,
        }
    }

    pub fn observe_label(&mut self, l: &Label) {
        let known = self
            .by_merchant
            .values()
            .flatten()
            .any(|s| s.id == l.transaction_id);
        if l.is_fraud && known {
            let at = millis(l.labeled_at);
            let entry = self.labels.entry(l.transaction_id).or_insert(at);
            *entry = (*entry).min(at);
        }
    }

    /// The features of an accepted transaction; `None` beyond the lateness
    /// (then it only counts in its merchant's day).
    pub fn process(&mut self, t: &Transaction) -> Option<FeatureVector> {
        let time = millis(t.timestamp);
        self.newest = self.newest.max(time);
        let accepted = time >= self.newest - self.lateness;
        let stored = Stored {
            id: t.transaction_id,
            merchant: t.merchant_id.clone(),
            country: t.country.clone(),
            device: t.device_id.clone(),
            time,
            cents: u64::from(cents(t.amount)),
            accepted,
        };
        let v = accepted.then(|| self.features(t, &stored));
        if accepted {
            self.by_user
                .entry(t.user_id.clone())
                .or_default()
                .push(stored.clone());
        } else {
            self.late += 1;
        }
        self.by_merchant
            .entry(t.merchant_id.clone())
            .or_default()
            .push(stored);
        if let Some(v) = &v {
            self.fraud_rates_seen += usize::from(v.merchant_fraud_rate_30d > 0.0);
        }
        v
    }

    fn features(&self, t: &Transaction, cur: &Stored) -> FeatureVector {
        let time = cur.time;
        let user: Vec<&Stored> = self
            .by_user
            .get(&t.user_id)
            .map(|v| v.iter().filter(|s| s.time < time).collect())
            .unwrap_or_default();
        let within = |w: Window| -> Vec<&Stored> {
            user.iter()
                .copied()
                .filter(|s| in_window(w, time, s.time))
                .collect()
        };
        let count = |w: Window| (within(w).len() + 1) as f64;
        let sum =
            |w: Window| (within(w).iter().map(|s| s.cents).sum::<u64>() + cur.cents) as f64 / 100.0;
        let profile = within(Window::PROFILE);
        let n = profile.len() as f64;
        let c: Vec<f64> = profile.iter().map(|s| s.cents as f64).collect();
        let mean = c.iter().sum::<f64>() / n;
        let std = (c.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        let zscore = if profile.len() < 2 || std == 0.0 {
            0.0
        } else {
            (cur.cents as f64 - mean) / std
        };
        let day = within(Window::ONE_DAY);
        let mut countries: Vec<&String> = day.iter().filter_map(|s| s.country.as_ref()).collect();
        countries.extend(cur.country.as_ref());
        countries.sort();
        countries.dedup();
        let mut merchants: Vec<&String> = day.iter().map(|s| &s.merchant).collect();
        merchants.push(&cur.merchant);
        merchants.sort();
        merchants.dedup();
        let month: Vec<&Stored> = user
            .iter()
            .copied()
            .filter(|s| s.time > time - LONGEST)
            .collect();
        let previous = newest(month.iter().copied());
        let previous_device = newest(month.iter().copied().filter(|s| s.device.is_some()));
        let country_change = changed_from_any(
            cur.country.as_ref(),
            previous.iter().map(|p| p.country.as_ref()),
        );
        let device_change = changed_from_any(
            cur.device.as_ref(),
            previous_device.iter().map(|p| p.device.as_ref()),
        );
        let visited = within(Window::THIRTY_DAYS)
            .iter()
            .any(|s| s.merchant == cur.merchant);
        let (m_counts, m_rates) = self.merchant(&t.merchant_id, time);
        FeatureVector {
            amount: t.amount,
            amount_zscore: zscore,
            user_avg_amount_30d: (c.iter().sum::<f64>() + cur.cents as f64) / (n + 1.0) / 100.0,
            user_txn_count_10m: count(Window::TEN_MINUTES),
            user_txn_count_1h: count(Window::ONE_HOUR),
            user_txn_count_24h: count(Window::ONE_DAY),
            user_txn_count_7d: count(Window::SEVEN_DAYS),
            user_amount_sum_1h: sum(Window::ONE_HOUR),
            user_amount_sum_24h: sum(Window::ONE_DAY),
            unique_countries_24h: countries.len() as f64,
            unique_merchants_24h: merchants.len() as f64,
            country_change_flag: f64::from(u8::from(country_change)),
            device_change_flag: f64::from(u8::from(device_change)),
            user_merchant_first_time: f64::from(u8::from(!visited)),
            hour_of_day: f64::from(t.timestamp.hour()),
            day_of_week: f64::from(t.timestamp.weekday().num_days_from_monday()),
            is_weekend: f64::from(u8::from(t.timestamp.weekday().num_days_from_monday() >= 5)),
            is_night: f64::from(u8::from(t.timestamp.hour() < 6 || t.timestamp.hour() >= 22)),
            minutes_since_last_txn: previous
                .first()
                .map_or(43_200.0, |p| (time - p.time) as f64 / 60_000.0),
            channel_encoded: channel_code(t.channel),
            merchant_txn_count_1d: m_counts[0],
            merchant_txn_count_7d: m_counts[1],
            merchant_txn_count_30d: m_counts[2],
            merchant_fraud_rate_1d: m_rates[0],
            merchant_fraud_rate_7d: m_rates[1],
            merchant_fraud_rate_30d: m_rates[2],
        }
    }

    fn merchant(&self, merchant: &str, time: i64) -> ([f64; 3], [f64; 3]) {
        let stored: Vec<Stored> = self.by_merchant.get(merchant).cloned().unwrap_or_default();
        let earlier = |w: Window, accepted_only: bool| {
            (stored
                .iter()
                .filter(|s| s.time < time && in_window(w, time, s.time))
                .filter(|s| s.accepted || !accepted_only)
                .count()
                + 1) as f64
        };
        let counts = [
            earlier(Window::ONE_DAY, true),
            earlier(Window::SEVEN_DAYS, false),
            earlier(Window::THIRTY_DAYS, false),
        ];
        let end = Grain::Day.of(time - self.delay);
        let rates = [1, 7, 30].map(|days: u32| {
            let inside: Vec<&Stored> = stored
                .iter()
                .filter(|s| {
                    let d = Grain::Day.of(s.time);
                    s.time < time && d <= end && d + days > end
                })
                .collect();
            let fraud = inside
                .iter()
                .filter(|s| self.labels.get(&s.id).is_some_and(|&at| at < time))
                .count();
            if inside.is_empty() {
                0.0
            } else {
                fraud as f64 / inside.len() as f64
            }
        });
        (counts, rates)
    }
}
