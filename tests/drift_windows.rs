//! The drift windows the store reads are what their in-memory twin
//! (`vigil_core::drift::windows`) says, on SQLite and on PostgreSQL: the
//! same rows sampled by the same stride at the same times of the day.

mod common;

use std::ops::Bound;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use common::{TestDatabase, sqlite_url};
use vigil_actors::store::{OnExisting, Store, WindowSpec};
use vigil_core::Transaction;
use vigil_core::drift::windows::{TimesOfDay, current_floor, current_window, reference_window};
use vigil_core::features::{FeatureConfig, FeatureVector, HistoryEvent, compute_history};
use vigil_core::synth::{Generator, SynthConfig, SynthEvent};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()
}

/// Three days of 100 card holders with their features, in the store's
/// window order: (event time, transaction id).
fn history() -> Vec<(Transaction, FeatureVector)> {
    let synth = SynthConfig {
        users: 100,
        merchants: 30,
        ..SynthConfig::default()
    };
    let mut generator = Generator::new(synth.clone(), start(), synth.natural_rate_per_sec());
    let mut transactions = Vec::new();
    while let Some(event) = generator.next_before(start() + TimeDelta::days(3)) {
        if let SynthEvent::Transaction { transaction, .. } = event {
            transactions.push(transaction);
        }
    }
    let events: Vec<HistoryEvent> = transactions
        .iter()
        .cloned()
        .map(HistoryEvent::Transaction)
        .collect();
    let features: std::collections::HashMap<_, _> =
        compute_history(&FeatureConfig::default(), events)
            .into_iter()
            .collect();
    let mut rows: Vec<_> = transactions
        .into_iter()
        .map(|t| {
            let f = features[&t.transaction_id];
            (t, f)
        })
        .collect();
    rows.sort_by_key(|(t, _)| (t.timestamp, t.transaction_id));
    rows
}

async fn windows_match_their_twin(url: &str) {
    let store = Store::open(url).await.expect("store opens");
    let rows = history();
    let transactions: Vec<Transaction> = rows.iter().map(|(t, _)| t.clone()).collect();
    store
        .insert_raw_events(&transactions, "producer", &[])
        .await
        .unwrap();
    let featured: Vec<(&Transaction, FeatureVector)> = rows.iter().map(|(t, f)| (t, *f)).collect();
    store
        .insert_features(&featured, OnExisting::Keep)
        .await
        .unwrap();
    // A row is known by its time and amount.
    let all: Vec<(DateTime<Utc>, f64)> =
        rows.iter().map(|(t, _)| (t.timestamp, t.amount)).collect();
    let time = |r: &(DateTime<Utc>, f64)| r.0;
    let (oldest, newest) = (all[0].0, all[all.len() - 1].0);
    assert_eq!(
        store.feature_time_span().await.unwrap(),
        Some((oldest, newest))
    );

    for n in [50, 5_000] {
        let read = store
            .drift_rows(WindowSpec::Newest {
                after: current_floor(newest),
                n,
            })
            .await
            .unwrap();
        let read: Vec<_> = read.iter().map(|r| (r.time, r.features.amount)).collect();
        assert_eq!(read, current_window(&all, time, n).to_vec(), "newest {n}");
    }

    let span = (
        start() + TimeDelta::hours(20),
        start() + TimeDelta::hours(60),
    );
    let times = [
        TimesOfDay::ALL,
        TimesOfDay::covering(
            start() + TimeDelta::hours(9),
            start() + TimeDelta::minutes(11 * 60 + 30),
        ),
        TimesOfDay::covering(
            start() + TimeDelta::hours(22),
            start() + TimeDelta::hours(26),
        ),
    ];
    for times in times {
        for n in [40, 333, 100_000] {
            let read = store
                .drift_rows(WindowSpec::Sampled {
                    from: Bound::Included(span.0),
                    to: Bound::Included(span.1),
                    times,
                    n,
                })
                .await
                .unwrap();
            let read: Vec<_> = read.iter().map(|r| (r.time, r.features.amount)).collect();
            let twin = reference_window(&all, time, span, times, n);
            assert!(!twin.is_empty() && twin.len() as u64 <= n);
            assert_eq!(read, twin, "{times:?}, {n} rows");
        }
    }
}

#[actix_rt::test]
async fn sqlite_windows_match_their_twin() {
    let dir = tempfile::tempdir().unwrap();
    windows_match_their_twin(&sqlite_url(&dir)).await;
}

#[actix_rt::test]
async fn postgres_windows_match_their_twin() {
    let database = TestDatabase::create().await;
    windows_match_their_twin(&database.url).await;
    database.drop_database().await;
}
