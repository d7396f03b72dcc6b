//! Properties over generated streams: online equals offline, a restart
//! that replays the store equals no restart, labels known later never
//! change earlier features, eviction never changes features, and late
//! arrivals match a naive oracle that recomputes everything from scratch.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use super::calendar::channel_code;
use super::windows::{DAY, HOUR, LONGEST, MINUTE, TEN_MINUTES, WEEK, cents, millis};
use super::{
    FeatureConfig, FeatureState, FeatureVector, HistoryEvent, N, compute_history, order_history,
};
use crate::synth::{Generator, SynthConfig, SynthEvent};
use crate::transaction::{Label, Transaction};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

/// `days` of the generator's stream, in its own order.
fn generate(config: SynthConfig, days: i64) -> Vec<HistoryEvent> {
    let rate = config.natural_rate_per_sec();
    let mut generator = Generator::new(config, start(), rate);
    let end = start() + TimeDelta::days(days);
    std::iter::from_fn(|| generator.next_before(end))
        .map(|e| match e {
            SynthEvent::Transaction { transaction, .. } => HistoryEvent::Transaction(transaction),
            SynthEvent::Label(label) => HistoryEvent::Label(label),
        })
        .collect()
}

/// Ten days of the default population (over 50,000 transactions) with
/// chargebacks after about two days, so that labels keep arriving.
fn large() -> &'static [HistoryEvent] {
    static EVENTS: OnceLock<Vec<HistoryEvent>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let config = SynthConfig {
            label_delay: TimeDelta::days(2),
            ..SynthConfig::default()
        };
        generate(config, 10)
    })
}

/// A one-day label delay: labels arrive around two days after their
/// transaction, so some are known at feature time and some are not yet.
fn config() -> FeatureConfig {
    FeatureConfig {
        label_delay: TimeDelta::days(1),
        ..FeatureConfig::default()
    }
}

/// Feeds `events` one by one to `state`; the vectors of the transactions.
fn feed(state: &mut FeatureState, events: &[HistoryEvent]) -> Vec<(Uuid, FeatureVector)> {
    let mut out = Vec::new();
    for e in events {
        match e {
            HistoryEvent::Transaction(t) => out.push((t.transaction_id, state.process(t))),
            HistoryEvent::Label(l) => state.observe_label(l),
        }
    }
    out
}

/// The vectors as bits, so that equality is exact (and -0.0 ≠ 0.0).
fn bits(vectors: &[(Uuid, FeatureVector)]) -> Vec<(Uuid, [u64; N])> {
    vectors
        .iter()
        .map(|(id, v)| (*id, v.to_array().map(f64::to_bits)))
        .collect()
}

fn transactions(events: &[HistoryEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, HistoryEvent::Transaction(_)))
        .count()
}

/// How many vectors have a non-zero value of `feature`.
fn nonzero(vectors: &[(Uuid, FeatureVector)], feature: &str) -> usize {
    vectors
        .iter()
        .filter(|(_, v)| v.get(feature).is_some_and(|x| x != 0.0))
        .count()
}

#[test]
fn online_equals_offline_on_a_large_history() {
    let events = large();
    assert!(transactions(events) >= 50_000, "{}", transactions(events));
    let offline = compute_history(&config(), events.iter().cloned());
    let mut ordered = events.to_vec();
    order_history(&mut ordered);
    let mut state = FeatureState::new(config());
    let online = feed(&mut state, &ordered);
    assert_eq!(online.len(), offline.len());
    assert!(bits(&online) == bits(&offline), "online and offline differ");
    assert_eq!(state.late_events(), 0);
    // The stream exercises the stateful features.
    for feature in [
        "merchant_fraud_rate_1d",
        "merchant_fraud_rate_30d",
        "country_change_flag",
        "device_change_flag",
        "amount_zscore",
    ] {
        assert!(nonzero(&offline, feature) > 20, "{feature} is always 0");
    }
    let bytes_per_user = state.approx_bytes() / state.active_users();
    assert!(bytes_per_user < 1024, "{bytes_per_user} bytes per user");
}

#[test]
fn restart_by_replaying_the_first_half_gives_the_same_features() {
    let mut events = large().to_vec();
    order_history(&mut events);
    let whole = compute_history(&config(), events.iter().cloned());
    let (first, second) = events.split_at(events.len() / 2);
    let mut before = FeatureState::new(config());
    let mut served = feed(&mut before, first);
    // A restarted engine rebuilds its state from the store, then goes on.
    let mut rebuilt = FeatureState::new(config());
    feed(&mut rebuilt, first);
    served.extend(feed(&mut rebuilt, second));
    assert!(
        bits(&served) == bits(&whole),
        "the restart changed features"
    );
}

#[test]
fn labels_known_later_never_change_earlier_features() {
    let events = large();
    let full: HashMap<Uuid, [u64; N]> = bits(&compute_history(&config(), events.iter().cloned()))
        .into_iter()
        .collect();
    let time_of = times(events);
    let mut rng = StdRng::seed_from_u64(7);
    for day in [3, 5, 7, 9] {
        let cutoff = start() + TimeDelta::days(day);
        // Every label known after the cutoff is removed, and fake fraud
        // labels for other transactions are known 1 ms after it.
        let mut changed: Vec<HistoryEvent> = events
            .iter()
            .filter(|e| match e {
                HistoryEvent::Label(l) => l.labeled_at <= cutoff,
                HistoryEvent::Transaction(_) => true,
            })
            .cloned()
            .collect();
        let fakes: Vec<Label> = events
            .iter()
            .filter_map(|e| match e {
                HistoryEvent::Transaction(t) if t.timestamp <= cutoff && rng.random_bool(0.05) => {
                    Some(fake_label(t, cutoff + TimeDelta::milliseconds(1)))
                }
                _ => None,
            })
            .collect();
        changed.extend(fakes.into_iter().map(HistoryEvent::Label));
        let mut same = 0;
        let mut later_differs = 0;
        for (id, v) in bits(&compute_history(&config(), changed)) {
            let at = time_of[&id];
            if at <= cutoff {
                assert_eq!(
                    v, full[&id],
                    "labels after {cutoff} changed a feature at {at}"
                );
                same += 1;
            } else {
                later_differs += usize::from(v != full[&id]);
            }
        }
        assert!(same > 10_000, "{same}");
        // The changed labels do matter after the cutoff: the test can fail.
        assert!(later_differs > 0, "labels never matter after day {day}");
    }
}

#[test]
fn labels_delivered_early_change_nothing() {
    // Online, labels may be observed long before their labeled_at (a
    // replay that loads labels with their transactions). Deliver every
    // label right after its transaction, plus fake fraud labels known up
    // to three days later: the features must be those of the time-ordered
    // history, where each label only arrives at its labeled_at.
    let mut rng = StdRng::seed_from_u64(8);
    let mut ordered = large().to_vec();
    order_history(&mut ordered);
    let mut labels: HashMap<Uuid, Vec<Label>> = HashMap::new();
    for e in &ordered {
        match e {
            HistoryEvent::Label(l) => labels.entry(l.transaction_id).or_default().push(l.clone()),
            HistoryEvent::Transaction(t) if rng.random_bool(0.05) => {
                let later = TimeDelta::milliseconds(rng.random_range(1..3 * DAY));
                let fake = fake_label(t, t.timestamp + later);
                labels.entry(t.transaction_id).or_default().push(fake);
            }
            HistoryEvent::Transaction(_) => {}
        }
    }
    let mut early = Vec::new();
    let mut on_time = Vec::new();
    for e in ordered
        .iter()
        .filter(|e| matches!(e, HistoryEvent::Transaction(_)))
    {
        early.push(e.clone());
        on_time.push(e.clone());
        if let HistoryEvent::Transaction(t) = e {
            for l in labels.remove(&t.transaction_id).unwrap_or_default() {
                early.push(HistoryEvent::Label(l.clone()));
                on_time.push(HistoryEvent::Label(l));
            }
        }
    }
    let expected = compute_history(&config(), on_time);
    let got = feed(&mut FeatureState::new(config()), &early);
    assert!(
        bits(&got) == bits(&expected),
        "early labels leaked into features"
    );
    assert!(nonzero(&expected, "merchant_fraud_rate_7d") > 1_000);
}

fn fake_label(t: &Transaction, labeled_at: DateTime<Utc>) -> Label {
    Label {
        label_id: Uuid::new_v4(),
        transaction_id: t.transaction_id,
        is_fraud: true,
        source: "fake".into(),
        labeled_at,
    }
}

/// Transaction id → timestamp.
fn times(events: &[HistoryEvent]) -> HashMap<Uuid, DateTime<Utc>> {
    events
        .iter()
        .filter_map(|e| match e {
            HistoryEvent::Transaction(t) => Some((t.transaction_id, t.timestamp)),
            HistoryEvent::Label(_) => None,
        })
        .collect()
}

#[test]
fn memory_follows_active_users() {
    let mut events = large().to_vec();
    order_history(&mut events);
    let mut state = FeatureState::new(config());
    feed(&mut state, &events);
    state.evict();
    let active = state.active_users();
    assert!(active > 1_900, "{active}");
    let busy = state.approx_bytes();
    // A month and more later only one user is active.
    let later = start() + TimeDelta::days(10) + TimeDelta::milliseconds(LONGEST + WEEK + HOUR);
    let mut t = match &events[0] {
        HistoryEvent::Transaction(t) => t.clone(),
        HistoryEvent::Label(_) => panic!("a label first"),
    };
    t.timestamp = later;
    state.process(&t);
    state.evict();
    assert_eq!(state.active_users(), 1);
    assert_eq!(state.active_merchants(), 1);
    assert!(
        state.approx_bytes() * 100 < busy,
        "{} of {busy}",
        state.approx_bytes()
    );
}

/// A small, busy world for the oracle: few users and merchants, much
/// fraud, chargebacks within a day.
fn small() -> &'static [HistoryEvent] {
    static EVENTS: OnceLock<Vec<HistoryEvent>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let config = SynthConfig {
            seed: 5,
            users: 150,
            merchants: 40,
            fraud_rate: 0.05,
            label_delay: TimeDelta::hours(20),
        };
        generate(config, 6)
    })
}

/// The small stream as it arrives: each transaction up to 15 minutes after
/// its time (so some arrive beyond the 10-minute lateness), labels on time.
fn jittered() -> Vec<HistoryEvent> {
    let mut rng = StdRng::seed_from_u64(11);
    let mut arrivals: Vec<(DateTime<Utc>, HistoryEvent)> = small()
        .iter()
        .map(|e| {
            let delay = match e {
                HistoryEvent::Transaction(_) => rng.random_range(0..=15 * MINUTE),
                HistoryEvent::Label(_) => 0,
            };
            (e.time() + TimeDelta::milliseconds(delay), e.clone())
        })
        .collect();
    arrivals.sort_by_key(|(arrival, _)| *arrival);
    arrivals.into_iter().map(|(_, e)| e).collect()
}

fn oracle_config() -> FeatureConfig {
    FeatureConfig {
        label_delay: TimeDelta::hours(12),
        ..FeatureConfig::default()
    }
}

#[test]
fn late_arrivals_match_the_naive_oracle() {
    let events = jittered();
    let mut state = FeatureState::new(oracle_config());
    let mut oracle = Oracle::new(&oracle_config());
    let mut compared = 0;
    let mut late_within = 0;
    for e in &events {
        match e {
            HistoryEvent::Transaction(t) => {
                late_within += usize::from(millis(t.timestamp) < oracle.newest);
                let got = state.process(t);
                if let Some(expected) = oracle.process(t) {
                    assert_close(&got, &expected, t);
                    compared += 1;
                }
            }
            HistoryEvent::Label(l) => {
                state.observe_label(l);
                oracle.observe_label(l);
            }
        }
    }
    assert_eq!(state.late_events(), oracle.late);
    assert!(oracle.late > 50, "{} beyond the lateness", oracle.late);
    assert!(late_within > 1_000, "{late_within} late arrivals");
    assert!(compared > 2_000, "{compared}");
    assert!(oracle.fraud_rates_seen > 100, "{}", oracle.fraud_rates_seen);
}

#[test]
fn eviction_never_changes_features() {
    let events = jittered();
    let mut lazy = FeatureState::new(oracle_config());
    let expected = feed(&mut lazy, &events);
    // Evicting after every event folds details as early as possible.
    let mut eager = FeatureState::new(oracle_config());
    let mut got = Vec::new();
    for e in &events {
        got.extend(feed(&mut eager, std::slice::from_ref(e)));
        eager.evict();
    }
    assert!(bits(&got) == bits(&expected), "eviction changed features");
}

/// Exact comparison, except the two features the oracle computes with
/// floats in another order (z-score and average: 1e-9).
fn assert_close(got: &FeatureVector, expected: &FeatureVector, t: &Transaction) {
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
}

/// Recomputes every feature from the full lists of earlier arrivals, with
/// the definitions written out as plainly as possible.
struct Oracle {
    lateness: i64,
    delay: i64,
    newest: i64,
    late: u64,
    by_user: HashMap<String, Vec<Stored>>,
    by_merchant: HashMap<String, Vec<Stored>>,
    /// Earliest fraud labeled_at per stored transaction.
    labels: HashMap<Uuid, i64>,
    fraud_rates_seen: usize,
}

impl Oracle {
    fn new(config: &FeatureConfig) -> Oracle {
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

    fn observe_label(&mut self, l: &Label) {
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

    /// The features of an accepted transaction; `None` beyond the lateness.
    fn process(&mut self, t: &Transaction) -> Option<FeatureVector> {
        let time = millis(t.timestamp);
        self.newest = self.newest.max(time);
        if time < self.newest - self.lateness {
            self.late += 1;
            return None;
        }
        let stored = Stored {
            id: t.transaction_id,
            merchant: t.merchant_id.clone(),
            country: t.country.clone(),
            device: t.device_id.clone(),
            time,
            cents: u64::from(cents(t.amount)),
        };
        let v = self.features(t, &stored);
        self.fraud_rates_seen += usize::from(v.merchant_fraud_rate_30d > 0.0);
        self.by_user
            .entry(t.user_id.clone())
            .or_default()
            .push(stored.clone());
        self.by_merchant
            .entry(t.merchant_id.clone())
            .or_default()
            .push(stored);
        Some(v)
    }

    fn features(&self, t: &Transaction, cur: &Stored) -> FeatureVector {
        let time = cur.time;
        let user: Vec<&Stored> = self
            .by_user
            .get(&t.user_id)
            .map(|v| v.iter().filter(|s| s.time < time).collect())
            .unwrap_or_default();
        let within = |w: i64| -> Vec<&Stored> {
            user.iter().copied().filter(|s| s.time > time - w).collect()
        };
        let count = |w: i64| (within(w).len() + 1) as f64;
        let sum =
            |w: i64| (within(w).iter().map(|s| s.cents).sum::<u64>() + cur.cents) as f64 / 100.0;
        let month = within(LONGEST);
        let n = month.len() as f64;
        let c: Vec<f64> = month.iter().map(|s| s.cents as f64).collect();
        let mean = c.iter().sum::<f64>() / n;
        let std = (c.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        let zscore = if month.len() < 2 || std == 0.0 {
            0.0
        } else {
            (cur.cents as f64 - mean) / std
        };
        let day = within(DAY);
        let mut countries: Vec<&String> = day.iter().filter_map(|s| s.country.as_ref()).collect();
        countries.extend(cur.country.as_ref());
        countries.sort();
        countries.dedup();
        let mut merchants: Vec<&String> = day.iter().map(|s| &s.merchant).collect();
        merchants.push(&cur.merchant);
        merchants.sort();
        merchants.dedup();
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
        let (m_counts, m_rates) = self.merchant(&t.merchant_id, time);
        FeatureVector {
            amount: t.amount,
            amount_zscore: zscore,
            user_avg_amount_30d: (c.iter().sum::<f64>() + cur.cents as f64) / (n + 1.0) / 100.0,
            user_txn_count_10m: count(TEN_MINUTES),
            user_txn_count_1h: count(HOUR),
            user_txn_count_24h: count(DAY),
            user_txn_count_7d: count(WEEK),
            user_amount_sum_1h: sum(HOUR),
            user_amount_sum_24h: sum(DAY),
            unique_countries_24h: countries.len() as f64,
            unique_merchants_24h: merchants.len() as f64,
            country_change_flag: f64::from(u8::from(country_change)),
            device_change_flag: f64::from(u8::from(device_change)),
            user_merchant_first_time: f64::from(u8::from(
                !month.iter().any(|s| s.merchant == cur.merchant),
            )),
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
        let windows = [DAY, WEEK, LONGEST];
        let counts = windows.map(|w| {
            (stored
                .iter()
                .filter(|s| s.time <= time && s.time > time - w)
                .count()
                + 1) as f64
        });
        let cutoff = time - self.delay;
        let rates = windows.map(|w| {
            let inside: Vec<&Stored> = stored
                .iter()
                .filter(|s| s.time <= cutoff && s.time > cutoff - w)
                .collect();
            let fraud = inside
                .iter()
                .filter(|s| self.labels.get(&s.id).is_some_and(|&at| at <= time))
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
