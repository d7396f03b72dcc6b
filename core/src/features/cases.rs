//! Hand-computed features: every feature, window edges, first
//! transactions, missing fields, the label-delay boundary and the late
//! transaction policy.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use uuid::Uuid;

use super::windows::{DAY, Grain, HOUR, LONGEST, MINUTE};
use super::{FeatureConfig, FeatureState, FeatureVector, HistoryEvent, compute_history};
use crate::transaction::{Channel, Label, Transaction};

const TEN_MINUTES: i64 = 10 * MINUTE;
const WEEK: i64 = 7 * DAY;

/// A Friday, noon UTC.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0)
        .single()
        .expect("valid date")
}

/// `ms` milliseconds after [`t0`] (negative: before).
fn at(ms: i64) -> DateTime<Utc> {
    t0() + TimeDelta::milliseconds(ms)
}

/// A minimal transaction: no country, device or channel.
fn tx(user: &str, merchant: &str, amount: f64, ms: i64) -> Transaction {
    Transaction::new(Uuid::new_v4(), user, merchant, amount, at(ms))
}

fn country(mut t: Transaction, c: &str) -> Transaction {
    t.country = Some(c.into());
    t
}

fn device(mut t: Transaction, d: &str) -> Transaction {
    t.device_id = Some(d.into());
    t
}

fn fraud(t: &Transaction, labeled_at_ms: i64) -> Label {
    Label {
        label_id: Uuid::new_v4(),
        transaction_id: t.transaction_id,
        is_fraud: true,
        source: "test".into(),
        labeled_at: at(labeled_at_ms),
    }
}

fn state() -> FeatureState {
    FeatureState::new(FeatureConfig::default())
}

/// Processes `history` and returns the features of `current`.
fn features_after(history: &[Transaction], current: &Transaction) -> FeatureVector {
    let mut s = state();
    for t in history {
        s.process(t);
    }
    s.process(current)
}

/// Milliseconds from [`t0`] to the start of the `buckets`-th bucket of
/// `grain` before the one of t0 (0: t0's own bucket).
fn bucket_start(grain: Grain, buckets: u32) -> i64 {
    let t0 = t0().timestamp_millis();
    grain.start(grain.of(t0) - buckets) - t0
}

/// Feeds events in the order given (labels resolved against the
/// transactions among them) and returns the transactions' features.
fn run(events: &[HistoryEvent]) -> Vec<(Uuid, FeatureVector)> {
    state().replay(events)
}

#[test]
fn first_transaction_of_a_user() {
    let t = country(device(tx("u", "m", 12.34, 0), "d"), "US");
    let f = state().process(&t);
    assert_eq!(f.amount, 12.34);
    assert_eq!(f.amount_zscore, 0.0);
    assert_eq!(f.user_avg_amount_30d, 12.34);
    for count in [
        f.user_txn_count_10m,
        f.user_txn_count_1h,
        f.user_txn_count_24h,
        f.user_txn_count_7d,
    ] {
        assert_eq!(count, 1.0);
    }
    assert_eq!(
        (f.user_amount_sum_1h, f.user_amount_sum_24h),
        (12.34, 12.34)
    );
    assert_eq!((f.unique_countries_24h, f.unique_merchants_24h), (1.0, 1.0));
    assert_eq!((f.country_change_flag, f.device_change_flag), (0.0, 0.0));
    assert_eq!(f.user_merchant_first_time, 1.0);
    assert_eq!(f.minutes_since_last_txn, 43_200.0);
    assert_eq!(f.channel_encoded, -1.0);
    assert_eq!((f.hour_of_day, f.day_of_week), (12.0, 4.0));
    assert_eq!((f.is_weekend, f.is_night), (0.0, 0.0));
    assert_eq!(f.merchant_txn_count_1d, 1.0);
    assert_eq!(f.merchant_txn_count_7d, 1.0);
    assert_eq!(f.merchant_txn_count_30d, 1.0);
    assert_eq!(f.merchant_fraud_rate_30d, 0.0);
    // Without a country the transaction counts no country.
    assert_eq!(
        state().process(&tx("u", "m", 1.0, 0)).unique_countries_24h,
        0.0
    );
}

#[test]
fn user_windows_cover_whole_buckets_and_include_the_current_transaction() {
    // Each window starts at the start of its oldest bucket: 1 ms before it
    // is out. t0 is on a whole hour, so its own minute and hour are empty.
    let (week, day) = (bucket_start(Grain::Day, 6), bucket_start(Grain::Hour, 23));
    let (hour, ten) = (
        bucket_start(Grain::Minute, 59),
        bucket_start(Grain::Minute, 9),
    );
    assert_eq!((day, hour, ten), (-23 * HOUR, -59 * MINUTE, -9 * MINUTE));
    // Amounts are powers of two so that every sum says who is in it.
    let edges = [
        (week - 1, 1.0),
        (week, 2.0),
        (day - 1, 4.0),
        (day, 8.0),
        (hour - 1, 16.0),
        (hour, 32.0),
        (ten - 1, 64.0),
        (ten, 128.0),
    ];
    let history: Vec<_> = edges
        .iter()
        .map(|&(ms, amount)| tx("u", "m", amount, ms))
        .collect();
    let f = features_after(&history, &tx("u", "m", 256.0, 0));
    assert_eq!(f.user_txn_count_10m, 2.0);
    assert_eq!(f.user_txn_count_1h, 4.0);
    assert_eq!(f.user_txn_count_24h, 6.0);
    assert_eq!(f.user_txn_count_7d, 8.0);
    assert_eq!(f.user_amount_sum_1h, 32.0 + 64.0 + 128.0 + 256.0);
    assert_eq!(
        f.user_amount_sum_24h,
        8.0 + 16.0 + 32.0 + 64.0 + 128.0 + 256.0
    );
    assert_eq!(f.minutes_since_last_txn, 9.0);
    // Other users do not count.
    let g = features_after(&history, &tx("v", "m", 1.0, 0));
    assert_eq!(g.user_txn_count_7d, 1.0);
    assert_eq!(g.merchant_txn_count_7d, 8.0);
}

#[test]
fn zscore_uses_earlier_transactions_of_six_periods_and_the_average_includes_the_current() {
    // The profile is the period of t0 and the five before it.
    let first = bucket_start(Grain::Period, 5);
    assert!((-LONGEST..=-25 * DAY).contains(&first), "{first}");
    let history = [
        tx("u", "m", 1000.0, first - 1), // before the oldest period: outside
        tx("u", "m", 10.0, first),
        tx("u", "m", 20.0, -DAY),
        tx("u", "m", 30.0, -1),
    ];
    let f = features_after(&history, &tx("u", "m", 40.0, 0));
    // mean 20, population std √(200/3)
    let expected = 20.0 / (200.0f64 / 3.0).sqrt();
    assert!(
        (f.amount_zscore - expected).abs() < 1e-12,
        "{}",
        f.amount_zscore
    );
    assert_eq!(f.user_avg_amount_30d, 25.0);
    // One earlier transaction, or no spread: 0.
    let one = features_after(&history[3..], &tx("u", "m", 40.0, 0));
    assert_eq!(one.amount_zscore, 0.0);
    let same = [tx("u", "m", 5.0, -2), tx("u", "m", 5.0, -1)];
    assert_eq!(
        features_after(&same, &tx("u", "m", 50.0, 0)).amount_zscore,
        0.0
    );
    // Below the mean is negative.
    assert!(features_after(&history, &tx("u", "m", 1.0, 0)).amount_zscore < 0.0);
}

#[test]
fn amounts_are_kept_in_cents() {
    let history = [tx("u", "m", 0.105, -2), tx("u", "m", 1234.567, -1)];
    let f = features_after(&history, &tx("u", "m", 0.004, 0));
    // 0.105 → 11 cents (rounded), 1234.567 → 123457 cents, 0.004 → 0.
    assert_eq!(f.user_amount_sum_1h, 1234.68);
    assert_eq!(f.amount, 0.004, "the amount feature is as received");
}

#[test]
fn minutes_since_last_and_the_30_day_cap() {
    let recent = [tx("u", "m", 1.0, -90_000)];
    let f = features_after(&recent, &tx("u", "m", 1.0, 0));
    assert_eq!(f.minutes_since_last_txn, 1.5);
    let old = [tx("u", "m", 1.0, -LONGEST)];
    let f = features_after(&old, &tx("u", "m", 1.0, 0));
    assert_eq!(f.minutes_since_last_txn, 43_200.0);
    assert_eq!(f.user_merchant_first_time, 1.0);
    let inside = [tx("u", "m", 1.0, -LONGEST + 1)];
    let f = features_after(&inside, &tx("u", "m", 1.0, 0));
    assert_eq!(
        f.minutes_since_last_txn,
        (LONGEST - 1) as f64 / MINUTE as f64
    );
    // The previous transaction is within exactly 30 days; the first-time
    // check looks at 30 whole days, the day of t0 and the 29 before it.
    assert_eq!(f.user_merchant_first_time, 1.0);
    let month = bucket_start(Grain::Day, 29);
    for (ms, first_time) in [(month - 1, 1.0), (month, 0.0)] {
        let f = features_after(&[tx("u", "m", 1.0, ms)], &tx("u", "m", 1.0, 0));
        assert_eq!(f.user_merchant_first_time, first_time, "{ms}");
    }
}

#[test]
fn distinct_countries_and_merchants_in_24_hours() {
    let day = bucket_start(Grain::Hour, 23);
    let history = [
        country(tx("u", "m0", 1.0, day - 1), "FR"), // outside
        country(tx("u", "m1", 1.0, day), "US"),
        country(tx("u", "m2", 1.0, -HOUR), "GB"),
        tx("u", "m1", 1.0, -2),
        country(tx("u", "m1", 1.0, -1), "US"),
    ];
    let f = features_after(&history, &tx("u", "m3", 1.0, 0));
    assert_eq!(f.unique_countries_24h, 2.0);
    assert_eq!(f.unique_merchants_24h, 3.0);
    let g = features_after(&history, &country(tx("u", "m1", 1.0, 0), "DE"));
    assert_eq!(g.unique_countries_24h, 3.0);
    assert_eq!(g.unique_merchants_24h, 2.0);
}

#[test]
fn country_change_compares_with_the_previous_transaction() {
    let cases = [
        (Some("US"), Some("GB"), 1.0),
        (Some("US"), Some("US"), 0.0),
        (None, Some("GB"), 0.0),
        (Some("US"), None, 0.0),
    ];
    for (previous, current, expected) in cases {
        let mut p = tx("u", "m", 1.0, -1);
        p.country = previous.map(str::to_string);
        let mut c = tx("u", "m", 1.0, 0);
        c.country = current.map(str::to_string);
        // An older transaction abroad does not matter: only the previous one.
        let older = country(tx("u", "m", 1.0, -2), "BR");
        let f = features_after(&[older, p], &c);
        assert_eq!(
            f.country_change_flag, expected,
            "{previous:?} → {current:?}"
        );
    }
}

#[test]
fn device_change_compares_with_the_previous_transaction_with_a_device() {
    let with_d1 = device(tx("u", "m", 1.0, -2), "d1");
    let card_present = tx("u", "m", 1.0, -1);
    let history = [with_d1, card_present];
    let f = features_after(&history, &device(tx("u", "m", 1.0, 0), "d2"));
    assert_eq!(f.device_change_flag, 1.0);
    let f = features_after(&history, &device(tx("u", "m", 1.0, 0), "d1"));
    assert_eq!(f.device_change_flag, 0.0);
    let f = features_after(&history, &tx("u", "m", 1.0, 0));
    assert_eq!(f.device_change_flag, 0.0, "no device now");
    let f = features_after(&history[1..], &device(tx("u", "m", 1.0, 0), "d2"));
    assert_eq!(f.device_change_flag, 0.0, "no earlier device");
    let old = [device(tx("u", "m", 1.0, -LONGEST), "d1")];
    let f = features_after(&old, &device(tx("u", "m", 1.0, 0), "d2"));
    assert_eq!(
        f.device_change_flag, 0.0,
        "the earlier device is 30 days old"
    );
}

#[test]
fn eviction_rounds_give_the_same_features() {
    // Three days of history: eviction rounds settle and trim the state;
    // features must not notice.
    let history = [
        device(country(tx("u", "m1", 10.0, -3 * DAY), "US"), "d1"),
        country(tx("u", "m2", 20.0, -2 * DAY), "GB"),
        tx("u", "m3", 30.0, -2 * DAY + 1),
        country(tx("other", "m4", 1.0, -HOUR), "US"),
    ];
    let currents = [
        device(country(tx("u", "m1", 5.0, 0), "FR"), "d2"),
        device(tx("u", "m2", 5.0, 0), "d1"),
        tx("u", "m9", 5.0, 0),
    ];
    for current in &currents {
        let mut folded = state();
        for t in &history {
            folded.process(t);
            folded.evict();
        }
        let f = folded.process(current);
        assert_eq!(f, features_after(&history, current));
        assert_eq!(
            f.user_merchant_first_time,
            f64::from(current.merchant_id == "m9")
        );
        assert_eq!(
            f.device_change_flag,
            f64::from(current.device_id.is_some() && current.merchant_id == "m1")
        );
        assert_eq!(
            f.country_change_flag, 0.0,
            "previous transaction had no country"
        );
        assert_eq!(f.user_txn_count_7d, 4.0);
        assert_eq!(f.unique_merchants_24h, 1.0);
    }
}

#[test]
fn merchant_windows_cover_whole_buckets() {
    let month = bucket_start(Grain::Day, 29);
    let week = bucket_start(Grain::Day, 6);
    let day = bucket_start(Grain::Hour, 23);
    let history = [
        tx("a", "m", 1.0, month - 1),
        tx("b", "m", 1.0, month),
        tx("c", "m", 1.0, week - 1),
        tx("d", "m", 1.0, week),
        tx("e", "m", 1.0, day - 1),
        tx("f", "m", 1.0, day),
        tx("g", "other", 1.0, -1),
    ];
    let f = features_after(&history, &tx("h", "m", 1.0, 0));
    assert_eq!(f.merchant_txn_count_1d, 2.0);
    assert_eq!(f.merchant_txn_count_7d, 4.0);
    assert_eq!(f.merchant_txn_count_30d, 6.0);
}

/// The merchant's 1-day fraud rate at t0 after `history` and `labels`.
fn fraud_rate_1d(history: &[Transaction], labels: &[Label]) -> f64 {
    let mut events: Vec<HistoryEvent> = history
        .iter()
        .cloned()
        .map(HistoryEvent::Transaction)
        .collect();
    events.extend(labels.iter().cloned().map(HistoryEvent::Label));
    let now = tx("now", "m", 1.0, 0);
    events.push(HistoryEvent::Transaction(now));
    run(&events).last().expect("now").1.merchant_fraud_rate_1d
}

/// Milliseconds from t0 to the start of the day of t0 − label delay: the
/// 1-day fraud window.
fn delayed_day() -> i64 {
    let d = FeatureConfig::default().label_delay.num_milliseconds();
    let t = t0().timestamp_millis() - d;
    Grain::Day.start(Grain::Day.of(t)) - t0().timestamp_millis()
}

#[test]
fn fraud_rate_windows_end_with_the_day_of_the_label_delay() {
    // The 1-day window is the day of t − D, whole.
    let day = delayed_day();
    let inside = tx("a", "m", 1.0, day); // its first ms
    let after = tx("b", "m", 1.0, day + DAY); // the next day: outside
    let start = tx("c", "m", 1.0, day - 1); // the day before: outside
    let history = [start.clone(), inside.clone(), after.clone()];
    assert_eq!(fraud_rate_1d(&history, &[fraud(&inside, -1)]), 1.0);
    assert_eq!(fraud_rate_1d(&history, &[fraud(&after, -1)]), 0.0);
    assert_eq!(fraud_rate_1d(&history, &[fraud(&start, -1)]), 0.0);
    // A second transaction inside the window (its last ms, after t − D)
    // halves the rate.
    let also_inside = tx("e", "m", 1.0, day + DAY - 1);
    let more = [start, inside.clone(), also_inside, after];
    assert_eq!(fraud_rate_1d(&more, &[fraud(&inside, -1)]), 0.5);
}

#[test]
fn fraud_labels_count_from_their_labeled_at() {
    let inside = tx("a", "m", 1.0, delayed_day());
    let history = [inside.clone()];
    // Known 1 ms before t counts; exactly at t does not (simultaneous
    // events are left out, whatever their delivery order).
    assert_eq!(fraud_rate_1d(&history, &[fraud(&inside, -1)]), 1.0);
    assert_eq!(fraud_rate_1d(&history, &[fraud(&inside, 0)]), 0.0);
    assert_eq!(fraud_rate_1d(&history, &[fraud(&inside, 1)]), 0.0);
    // Legit labels, unknown transactions and repeats change nothing.
    let mut legit = fraud(&inside, -5);
    legit.is_fraud = false;
    assert_eq!(fraud_rate_1d(&history, &[legit]), 0.0);
    let stranger = fraud(&tx("x", "m", 1.0, delayed_day()), -5);
    assert_eq!(fraud_rate_1d(&history, &[stranger]), 0.0);
    let once = fraud(&inside, -5);
    assert_eq!(fraud_rate_1d(&history, &[once.clone(), once.clone()]), 1.0);
    // An earlier label for the same transaction wins over a later one.
    assert_eq!(
        fraud_rate_1d(&history, &[fraud(&inside, 1), fraud(&inside, -1)]),
        1.0
    );
}

#[test]
fn offline_processes_transactions_before_labels_at_equal_times() {
    let inside = tx("a", "m", 1.0, delayed_day());
    let now = tx("now", "m", 1.0, 0);
    let label_now = fraud(&inside, 0);
    let label_before = fraud(&inside, -1);
    let rate = |label: &Label| {
        let events = [
            HistoryEvent::Label(label.clone()),
            HistoryEvent::Transaction(now.clone()),
            HistoryEvent::Transaction(inside.clone()),
        ];
        let out = compute_history(&FeatureConfig::default(), events);
        assert_eq!(out[0].0, inside.transaction_id, "sorted by time");
        out[1].1.merchant_fraud_rate_1d
    };
    assert_eq!(rate(&label_before), 1.0);
    // At equal times the label comes after the transaction, so it is not
    // yet observed (documented): online it would count if seen first.
    assert_eq!(rate(&label_now), 0.0);
}

#[test]
fn channels_and_calendar_through_process() {
    let mut t = tx("u", "m", 1.0, 0);
    t.timestamp = Utc
        .with_ymd_and_hms(2024, 3, 3, 23, 30, 0)
        .single()
        .expect("valid date");
    for (channel, code) in [
        (Some(Channel::Online), 0.0),
        (Some(Channel::Pos), 1.0),
        (Some(Channel::Atm), 2.0),
        (Some(Channel::Mobile), 3.0),
        (None, -1.0),
    ] {
        t.channel = channel;
        let f = state().process(&t);
        assert_eq!(f.channel_encoded, code);
        assert_eq!((f.hour_of_day, f.day_of_week), (23.0, 6.0));
        assert_eq!((f.is_weekend, f.is_night), (1.0, 1.0));
    }
}

#[test]
fn late_within_the_lateness_is_inserted_and_sees_only_earlier_events() {
    let mut s = state();
    s.process(&tx("u", "m", 1.0, 0));
    s.process(&tx("u", "m", 2.0, 5 * MINUTE));
    // Three minutes late: counted over events up to its own time.
    let late = s.process(&tx("u", "m", 4.0, 2 * MINUTE));
    assert_eq!(late.user_txn_count_10m, 2.0);
    assert_eq!(late.user_amount_sum_1h, 5.0);
    assert_eq!(late.merchant_txn_count_1d, 2.0);
    assert_eq!(late.minutes_since_last_txn, 2.0);
    assert_eq!(s.late_events(), 0);
    // It was added: the next transaction sees all three.
    let next = s.process(&tx("u", "m", 8.0, 6 * MINUTE));
    assert_eq!(next.user_txn_count_10m, 4.0);
    assert_eq!(next.user_amount_sum_1h, 15.0);
    assert_eq!(next.merchant_txn_count_1d, 4.0);
    assert_eq!(next.minutes_since_last_txn, 1.0);
}

#[test]
fn late_before_the_users_first_event() {
    let mut s = state();
    s.process(&tx("v", "m", 1.0, 5 * MINUTE));
    s.process(&tx("u", "m", 1.0, 5 * MINUTE));
    let late = s.process(&tx("u", "m", 2.0, MINUTE));
    assert_eq!(late.user_txn_count_10m, 1.0);
    let next = s.process(&tx("u", "m", 4.0, 6 * MINUTE));
    assert_eq!(next.user_txn_count_10m, 3.0);
    assert_eq!(next.user_amount_sum_1h, 7.0);
}

#[test]
fn beyond_the_lateness_features_are_computed_but_nothing_is_stored() {
    let mut s = state();
    s.process(&tx("u", "m", 1.0, 0));
    s.process(&tx("u", "m", 2.0, 30 * MINUTE));
    // Exactly at the lateness bound is still accepted.
    let edge = s.process(&tx("w", "m2", 1.0, 20 * MINUTE));
    assert_eq!(s.late_events(), 0);
    assert_eq!(edge.user_txn_count_1h, 1.0);
    // 25 minutes late: read-only.
    let late_tx = country(tx("u", "m", 4.0, 5 * MINUTE), "US");
    let late = s.process(&late_tx);
    assert_eq!(s.late_events(), 1);
    assert_eq!(late.user_txn_count_1h, 2.0);
    assert_eq!(late.user_amount_sum_1h, 5.0);
    assert_eq!(late.merchant_txn_count_1d, 2.0);
    assert_eq!(late.unique_countries_24h, 1.0);
    // Not stored: neither the user nor the merchant's last 24 hours see
    // it; only the merchant's day counts it (for the fraud rates).
    let next = s.process(&tx("u", "m", 8.0, 31 * MINUTE));
    assert_eq!(next.user_txn_count_1h, 3.0);
    assert_eq!(next.user_amount_sum_1h, 11.0);
    assert_eq!(next.merchant_txn_count_1d, 3.0);
    assert_eq!(next.merchant_txn_count_7d, 4.0);
    // A late first transaction of an unknown user creates nothing.
    let users = s.active_users();
    let stranger = s.process(&tx("nobody", "new-merchant", 1.0, 0));
    assert_eq!(stranger.user_txn_count_24h, 1.0);
    assert_eq!(stranger.merchant_txn_count_1d, 1.0);
    assert_eq!(s.active_users(), users);
    assert_eq!(s.late_events(), 2);
}

#[test]
fn eviction_drops_idle_users_and_they_come_back_as_new() {
    let mut s = state();
    for (i, user) in ["a", "b", "c"].iter().enumerate() {
        let t = country(device(tx(user, "m", 10.0 + i as f64, i as i64), "d"), "US");
        s.process(&t);
    }
    s.evict();
    assert_eq!(s.active_users(), 3);
    // 30 days + label delay + a day later, another user shows up.
    let gap = LONGEST + WEEK + 2 * DAY;
    s.process(&tx("z", "other", 1.0, gap));
    s.evict();
    assert_eq!(s.active_users(), 1);
    assert_eq!(s.active_merchants(), 1);
    let back = country(device(tx("a", "m", 99.0, gap + 1), "d2"), "GB");
    let mut fresh = state();
    fresh.process(&tx("z", "other", 1.0, gap));
    assert_eq!(s.process(&back), fresh.process(&back));
    assert!(s.approx_bytes() > 0);
}

#[test]
fn idle_users_are_dropped_only_after_30_days_and_the_lateness() {
    let mut s = state();
    s.process(&tx("a", "m", 1.0, 0));
    s.process(&tx("z", "m", 1.0, LONGEST + TEN_MINUTES));
    s.evict();
    assert_eq!(s.active_users(), 1, "a is exactly at the horizon: out");
    let mut s = state();
    s.process(&tx("a", "m", 1.0, 1));
    s.process(&tx("z", "m", 1.0, LONGEST + TEN_MINUTES));
    s.evict();
    assert_eq!(s.active_users(), 2, "1 ms inside: kept");
}

#[test]
fn simultaneous_events_do_not_depend_on_delivery_order() {
    // Two transactions of one user at one merchant in the same millisecond,
    // after some history, plus a label stamped that millisecond.
    let before = country(tx("u", "m", 10.0, -HOUR), "US");
    let a = country(device(tx("u", "m", 20.0, 0), "d1"), "FR");
    let b = country(device(tx("u", "m", 30.0, 0), "d2"), "DE");
    let label = fraud(&before, 0);
    let run = |order: &[HistoryEvent]| -> Vec<(Uuid, FeatureVector)> {
        let mut out = run(order);
        out.sort_by_key(|(id, _)| *id);
        out
    };
    let ab = run(&[
        HistoryEvent::Transaction(before.clone()),
        HistoryEvent::Transaction(a.clone()),
        HistoryEvent::Label(label.clone()),
        HistoryEvent::Transaction(b.clone()),
    ]);
    let ba = run(&[
        HistoryEvent::Transaction(before),
        HistoryEvent::Label(label),
        HistoryEvent::Transaction(b),
        HistoryEvent::Transaction(a),
    ]);
    assert_eq!(ab, ba);
    // Neither sees the other: one transaction in 10 minutes each, itself.
    assert!(ab.iter().all(|(_, f)| f.user_txn_count_10m == 1.0));
}

#[test]
fn transactions_after_simultaneous_ones_do_not_depend_on_their_order() {
    // The crash test's case: a user's two transactions of one millisecond,
    // in two countries, one with a device; the next transaction compared
    // with "the previous one" took whichever had arrived last (online:
    // delivery order, offline: transaction id order). Both are previous:
    // the flags are set when any of them differs.
    let before = country(device(tx("u", "m", 1.0, -HOUR), "d0"), "US");
    let with_device = |t, d: Option<&str>| match d {
        Some(d) => device(t, d),
        None => t,
    };
    // (a, b at 0 ms, c later): (country, device) each; expected flags of c.
    type Case<'a> = [(&'a str, Option<&'a str>); 3];
    let cases: [(Case, f64, f64); 5] = [
        (
            [("PL", Some("d1")), ("US", None), ("PL", Some("d1"))],
            1.0,
            0.0,
        ),
        (
            [("PL", Some("d1")), ("PL", None), ("PL", Some("d1"))],
            0.0,
            0.0,
        ),
        (
            [("PL", Some("d1")), ("PL", None), ("US", Some("d1"))],
            1.0,
            0.0,
        ),
        (
            [("PL", Some("d1")), ("PL", Some("d2")), ("PL", Some("d1"))],
            0.0,
            1.0,
        ),
        ([("PL", None), ("PL", None), ("PL", Some("d1"))], 0.0, 1.0),
    ];
    for ([a, b, c], country_flag, device_flag) in cases {
        for later in [1, 2 * DAY] {
            let a = with_device(country(tx("u", "m", 2.0, 0), a.0), a.1);
            let b = with_device(country(tx("u", "m", 3.0, 0), b.0), b.1);
            let c = with_device(country(tx("u", "m", 4.0, later), c.0), c.1);
            let mut seen = Vec::new();
            for (first, second) in [(&a, &b), (&b, &a)] {
                for evict in [false, true] {
                    let mut s = state();
                    for t in [&before, first, second] {
                        s.process(t);
                        if evict {
                            s.evict();
                        }
                    }
                    seen.push(s.process(&c));
                }
                let history =
                    [&before, first, second, &c].map(|t| HistoryEvent::Transaction(t.clone()));
                let offline = compute_history(&FeatureConfig::default(), history);
                seen.push(offline[3].1);
            }
            assert!(seen.iter().all(|f| *f == seen[0]), "{later} ms: {seen:?}");
            let f = seen[0];
            assert_eq!(f.country_change_flag, country_flag, "{a:?} {b:?} {c:?}");
            assert_eq!(f.device_change_flag, device_flag, "{a:?} {b:?} {c:?}");
        }
    }
}

#[test]
fn a_late_transaction_is_exact_while_the_tail_holds_what_came_after_it() {
    // Eight transactions after the late one fit the user's tail: exact.
    let mut s = state();
    s.process(&tx("u", "m", 1.0, 0));
    for i in 1..=8 {
        s.process(&tx("u", "m", 1.0, 5 * MINUTE + i));
    }
    let late = s.process(&tx("u", "m", 1.0, MINUTE));
    assert_eq!(late.user_txn_count_10m, 2.0);
    // Past the cap the oldest of them are settled into the seen lists and
    // the summary, still in the buckets: a late transaction counts those
    // of its own last bucket (documented best effort).
    let mut s = state();
    s.process(&tx("u", "m", 1.0, 0));
    for i in 1..=20 {
        s.process(&tx("u", "m", 1.0, 5 * MINUTE + i));
    }
    let late = s.process(&tx("u", "m", 1.0, 5 * MINUTE));
    assert_eq!(late.user_txn_count_10m, 2.0 + (20 - 8) as f64);
    // An in-order transaction is exact whatever the tail holds.
    let next = s.process(&tx("u", "m", 1.0, 6 * MINUTE));
    assert_eq!(next.user_txn_count_10m, 23.0);
}

#[test]
fn suspects_of_redelivery_are_those_not_newer_than_their_user() {
    let mut s = state();
    let first = tx("u", "m", 1.0, 5 * MINUTE);
    assert!(!s.may_have_processed(&first));
    s.process(&first);
    assert!(s.may_have_processed(&first), "processed");
    assert!(
        s.may_have_processed(&tx("u", "m", 1.0, 5 * MINUTE)),
        "same millisecond"
    );
    assert!(s.may_have_processed(&tx("u", "m", 1.0, MINUTE)), "late");
    assert!(!s.may_have_processed(&tx("u", "m", 1.0, 6 * MINUTE)));
    assert!(
        !s.may_have_processed(&tx("v", "m", 1.0, MINUTE)),
        "another user"
    );
    s.process(&tx("w", "m", 1.0, HOUR));
    assert!(
        s.may_have_processed(&tx("v", "m", 1.0, MINUTE)),
        "beyond the lateness"
    );
}
