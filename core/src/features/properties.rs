//! Property test: for random streams of a few cards and shops — bursts,
//! simultaneous transactions, gaps of days, late arrivals within and
//! beyond the allowed lateness, fraud labels — the bucketed state gives
//! the features the naive oracle recomputes from the raw list of earlier
//! transactions, for every transaction within the lateness.

use chrono::{TimeDelta, TimeZone, Utc};
use proptest::prelude::*;
use uuid::Uuid;

use super::oracle::{Oracle, assert_close};
use super::streams::{Store, feed};
use super::windows::{DAY, MINUTE};
use super::{FeatureConfig, FeatureState, HistoryEvent};
use crate::transaction::{Label, Transaction};

/// How far the next event moves the clock.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Forward by this many ms (0: the same millisecond).
    Forward(i64),
    /// Back by this many ms: a late arrival.
    Back(i64),
}

/// One generated event before it is placed in time.
#[derive(Debug, Clone)]
enum Draw {
    Transaction {
        step: Step,
        user: u8,
        merchant: u8,
        country: Option<u8>,
        device: Option<u8>,
        cents: u32,
    },
    /// A fraud label, at the current clock, for the `pick`-th transaction so far.
    Label { pick: usize },
}

const LATENESS: i64 = 2 * MINUTE;

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => Just(Step::Forward(0)),
        10 => (1i64..30_000).prop_map(Step::Forward),
        10 => (30_000i64..20 * MINUTE).prop_map(Step::Forward),
        4 => (20 * MINUTE..3 * DAY).prop_map(Step::Forward),
        3 => (1i64..LATENESS).prop_map(Step::Back),
        1 => (LATENESS..3 * LATENESS).prop_map(Step::Back),
    ]
}

fn draw() -> impl Strategy<Value = Draw> {
    let transaction = (
        step(),
        0u8..3,
        0u8..4,
        proptest::option::weighted(0.8, 0u8..3),
        proptest::option::weighted(0.5, 0u8..2),
        prop_oneof![1u32..20_000, 60_000u32..70_000, Just(u32::MAX)],
    )
        .prop_map(
            |(step, user, merchant, country, device, cents)| Draw::Transaction {
                step,
                user,
                merchant,
                country,
                device,
                cents,
            },
        );
    prop_oneof![9 => transaction, 1 => any::<usize>().prop_map(|pick| Draw::Label { pick })]
}

/// Places the draws on a clock: transactions at their step, labels at the
/// newest time so far (as chargebacks arrive, known from now on).
fn events(draws: &[Draw]) -> Vec<HistoryEvent> {
    let start = Utc
        .with_ymd_and_hms(2024, 3, 1, 23, 50, 0)
        .single()
        .expect("date");
    let mut newest = 0i64;
    let mut transactions: Vec<Transaction> = Vec::new();
    let mut out = Vec::new();
    for d in draws {
        match d {
            Draw::Transaction {
                step,
                user,
                merchant,
                country,
                device,
                cents,
            } => {
                let clock = match *step {
                    Step::Forward(ms) => newest + ms,
                    Step::Back(ms) => newest - ms,
                };
                newest = newest.max(clock);
                let t = Transaction {
                    country: country.map(|c| format!("C{c}")),
                    device_id: device.map(|d| format!("D{d}")),
                    ..Transaction::new(
                        Uuid::new_v4(),
                        format!("u{user}"),
                        format!("m{merchant}"),
                        f64::from(*cents) / 100.0,
                        start + TimeDelta::milliseconds(clock),
                    )
                };
                transactions.push(t.clone());
                out.push(HistoryEvent::Transaction(t));
            }
            Draw::Label { pick } if !transactions.is_empty() => {
                let t = &transactions[pick % transactions.len()];
                out.push(HistoryEvent::Label(Label {
                    label_id: Uuid::new_v4(),
                    transaction_id: t.transaction_id,
                    is_fraud: true,
                    source: "test".into(),
                    labeled_at: start + TimeDelta::milliseconds(newest),
                }));
            }
            Draw::Label { .. } => {}
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_state_matches_the_naive_oracle(draws in proptest::collection::vec(draw(), 1..250)) {
        let config = FeatureConfig {
            label_delay: TimeDelta::hours(6),
            allowed_lateness: TimeDelta::milliseconds(LATENESS),
        };
        let mut state = FeatureState::new(config.clone());
        let mut store = Store::default();
        let mut oracle = Oracle::new(&config);
        for e in &events(&draws) {
            let got = feed(&mut state, &mut store, std::slice::from_ref(e));
            match e {
                HistoryEvent::Transaction(t) => {
                    if let Some(expected) = oracle.process(t) {
                        assert_close(&got[0].1, &expected, t);
                    }
                }
                HistoryEvent::Label(l) => oracle.observe_label(l),
                HistoryEvent::Fraud(_) => {}
            }
        }
        prop_assert_eq!(state.late_events(), oracle.late);
    }
}
