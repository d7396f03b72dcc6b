//! The memory bounds the module docs state, under volumes no real card or
//! shop reaches: one card with 100,000 transactions in a day, one merchant
//! with 2,000,000 in a month. The state of each must stay under its bound,
//! whatever the volume.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use uuid::Uuid;

use super::user::SEEN_CAP;
use super::{FeatureConfig, FeatureState};
use crate::transaction::{Label, Transaction};

/// The per-user bound of the module docs, without the seen lists: 71
/// minute, 26 hour, 8 day and 7 period buckets, the tail (8 records), the
/// inline state and its id map entry.
const USER_BOUND: usize = 2_560;
/// Each merchant or country seen costs 8 bytes (plus slack).
const PER_SEEN: usize = 9;
/// The per-merchant bound of the module docs, without recent labels.
const MERCHANT_BOUND: usize = 1_536;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

fn tx(user: String, merchant: String, country: &str, ms: i64) -> Transaction {
    Transaction {
        country: Some(country.into()),
        device_id: Some("phone".into()),
        ..Transaction::new(
            Uuid::new_v4(),
            user,
            merchant,
            12.5 + (ms % 1000) as f64,
            start() + TimeDelta::milliseconds(ms),
        )
    }
}

/// One card's day of `n` transactions over `merchants` merchants; the most
/// the user part of the state held after any of them.
fn busy_card(n: i64, merchants: i64) -> usize {
    let mut state = FeatureState::new(FeatureConfig::default());
    let step = 86_400_000 / n;
    let mut most = 0;
    for i in 0..n {
        let merchant = format!("m{}", i % merchants);
        let country = ["US", "FR", "DE"][(i % 3) as usize];
        state.process(&tx("card".into(), merchant, country, i * step));
        if i % 1_000 == 0 {
            most = most.max(state.memory().users);
        }
    }
    most.max(state.memory().users)
}

#[test]
fn a_card_with_100_000_transactions_a_day_stays_under_its_bound() {
    let most = busy_card(100_000, 50);
    let bound = USER_BOUND + 53 * PER_SEEN;
    assert!(most <= bound, "{most} bytes > {bound}");
    // Card testing: every transaction at a new merchant. The seen list is
    // capped.
    let most = busy_card(100_000, 100_000);
    let bound = USER_BOUND + (SEEN_CAP + 3) * PER_SEEN;
    assert!(most <= bound, "{most} bytes > {bound}");
}

#[test]
fn a_merchant_with_2_000_000_transactions_a_month_stays_under_its_bound() {
    let mut state = FeatureState::new(FeatureConfig::default());
    let n: i64 = 2_000_000;
    let step = 30 * 86_400_000 / n;
    let mut most = 0;
    let mut labels = 0;
    for i in 0..n {
        // 2,000 cardholders, so that the users' part stays small.
        let t = tx(format!("u{}", i % 2_000), "shop".into(), "US", i * step);
        state.process(&t);
        if i % 100 == 0 {
            // One in a hundred is reported as fraud a week later, in time
            // order as the producer publishes chargebacks (applied here at
            // once: only the merchant's counters and recent labels grow).
            let label = Label {
                label_id: Uuid::new_v4(),
                transaction_id: t.transaction_id,
                is_fraud: true,
                source: "test".into(),
                labeled_at: t.timestamp,
            };
            let effect = super::LabelEffect::of(&label, None);
            if let Some(fraud) = effect.resolve(&label, "shop", t.timestamp) {
                state.observe_fraud(&fraud);
                labels += 1;
            }
        }
        if i % 10_000 == 0 {
            most = most.max(state.memory().merchants);
        }
    }
    assert_eq!(labels, n / 100);
    assert!(most <= MERCHANT_BOUND, "{most} bytes > {MERCHANT_BOUND}");
    let recent_labels = state.memory().labels;
    assert!(recent_labels <= 256 * 32, "{recent_labels}");
    assert_eq!(state.active_merchants(), 1);
}
