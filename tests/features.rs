//! The feature engine online (through the actors, the bus and the store)
//! equals the offline computation from raw_events + labels, with and
//! without restarts in the middle of the stream.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{runtime_config, sqlite_url, wait_until};
use vigil_actors::Runtime;
use vigil_actors::decider::rebuild_all;
use vigil_actors::faults::Fault;
use vigil_actors::store::{HistoryScope, Store};
use vigil_core::features::{FEATURE_NAMES, FeatureConfig, FeatureVector, compute_history};

/// The features the offline path computes from what is stored.
async fn offline(store: &Store, config: &FeatureConfig) -> HashMap<uuid::Uuid, FeatureVector> {
    let history = store.history(None, HistoryScope::All).await.unwrap();
    compute_history(config, history).into_iter().collect()
}

async fn assert_online_equals_offline(runtime: &Runtime, config: &FeatureConfig, at_least: usize) {
    let online = runtime.store.feature_rows().await.unwrap();
    assert!(
        online.len() >= at_least,
        "only {} feature rows",
        online.len()
    );
    assert_eq!(
        online.len() as u64,
        runtime.store.count_raw_events().await.unwrap()
    );
    let offline = offline(&runtime.store, config).await;
    assert_eq!(offline.len(), online.len());
    for (id, features) in &online {
        let expected = offline[id].to_array();
        for (i, (got, want)) in features.to_array().iter().zip(expected).enumerate() {
            assert!(
                got == &want,
                "transaction {id}: {} online {got} offline {want}",
                FEATURE_NAMES[i]
            );
        }
    }
}

#[actix_rt::test]
async fn online_features_equal_the_offline_rebuild_over_50k_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = runtime_config(&sqlite_url(&dir));
    config.producer.synth.users = 2000;
    config.producer.synth.merchants = 500;
    config.backfill_days = 9;
    let features = config.features.clone();
    let mut runtime = Runtime::start(config).await.unwrap();
    let report = runtime.backfill_finished().await.unwrap().unwrap();
    assert!(report.transactions >= 50_000, "{report:?}");
    assert!(report.labels > 0, "{report:?}");
    assert_online_equals_offline(&runtime, &features, 50_000).await;
    let unscored = runtime.metrics.features_unscored.get();
    assert_eq!(
        unscored, report.transactions,
        "every vector reached the scorer"
    );
}

#[actix_rt::test]
async fn restarts_in_the_middle_of_the_stream_do_not_change_features() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = runtime_config(&sqlite_url(&dir));
    config.backfill_days = 20;
    config.producer.batch_size = 50;
    let features = config.features.clone();
    let mut runtime = Runtime::start(config).await.unwrap();
    // Panics and errors while the backfill streams: each one rebuilds the
    // engine's state from the store.
    let metrics = runtime.metrics.clone();
    for (fault, after) in [
        (Fault::Panic, 2000),
        (Fault::Error, 5000),
        (Fault::Panic, 8000),
    ] {
        let m = metrics.clone();
        wait_until("backfill progress", Duration::from_secs(60), move || {
            let m = m.clone();
            async move { m.feature_consumer_messages.get() >= after }
        })
        .await;
        runtime.faults.inject("decider", fault);
    }
    let report = runtime.backfill_finished().await.unwrap().unwrap();
    assert!(report.transactions > 9000, "{report:?}");
    assert_eq!(runtime.faults.pending("decider"), 0);
    let engine = runtime
        .health
        .snapshot()
        .into_iter()
        .find(|a| a.name == "decider")
        .unwrap();
    assert_eq!(engine.restarts, 3, "{engine:?}");
    assert_eq!(
        runtime.store.count_raw_events().await.unwrap(),
        report.transactions
    );
    assert_online_equals_offline(&runtime, &features, 1000).await;
}

#[actix_rt::test]
async fn a_restarted_runtime_continues_with_the_same_features() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let mut config = runtime_config(&url);
    config.backfill_days = 10;
    let features = config.features.clone();
    let mut first = Runtime::start(config.clone()).await.unwrap();
    first.backfill_finished().await.unwrap().unwrap();
    drop(first);
    // The second process streams live events on top of the stored history.
    config.producer.rate = 300.0;
    let mut second = Runtime::start(config).await.unwrap();
    second.ready().await.unwrap();
    let metrics = second.metrics.clone();
    wait_until("live events", Duration::from_secs(20), || {
        let m = metrics.clone();
        async move { m.feature_consumer_messages.get() >= 300 }
    })
    .await;
    // Ten days of history rebuilt, and live events on top: a size shows.
    assert!(metrics.feature_state_bytes.get() > 100_000);
    second.stop_producer().await;
    assert_online_equals_offline(&second, &features, 1000).await;
}

#[actix_rt::test]
async fn offline_rebuild_rewrites_identical_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = runtime_config(&sqlite_url(&dir));
    config.backfill_days = 5;
    let features = config.features.clone();
    let mut runtime = Runtime::start(config).await.unwrap();
    runtime.backfill_finished().await.unwrap().unwrap();
    let before = runtime.store.feature_rows().await.unwrap();
    let report = rebuild_all(&runtime.store, &features).await.unwrap();
    assert_eq!(report.transactions, before.len());
    assert_eq!(runtime.store.feature_rows().await.unwrap(), before);
}

#[actix_rt::test]
async fn a_redelivered_batch_changes_nothing() {
    use vigil_actors::messages::{EventSource, TransactionBatch};
    use vigil_core::features::HistoryEvent;

    let dir = tempfile::tempdir().unwrap();
    let mut config = runtime_config(&sqlite_url(&dir));
    config.backfill_days = 3;
    config.producer.rate = 300.0;
    let features = config.features.clone();
    let mut runtime = Runtime::start(config).await.unwrap();
    runtime.backfill_finished().await.unwrap().unwrap();
    let metrics = runtime.metrics.clone();
    let backfilled = metrics.feature_consumer_messages.get();
    wait_until("live events", Duration::from_secs(20), || {
        let m = metrics.clone();
        async move { m.feature_consumer_messages.get() >= backfilled + 300 }
    })
    .await;
    runtime.stop_producer().await;
    let before = runtime.store.feature_rows().await.unwrap();
    let again: Vec<_> = runtime
        .store
        .history(None, HistoryScope::All)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            HistoryEvent::Transaction(t) => Some(t),
            _ => None,
        })
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        // The newest ones: within the allowed lateness, so processing them
        // again would change the state.
        .take(200)
        .collect();
    let batch = TransactionBatch {
        source: EventSource::Api,
        transactions: again,
        original_ids: Vec::new(),
    };
    runtime.bus.publish(batch.clone()).await.unwrap();
    runtime.bus.publish(batch.clone()).await.unwrap();
    assert_eq!(runtime.store.feature_rows().await.unwrap(), before);
    assert_eq!(
        runtime.store.count_raw_events().await.unwrap(),
        before.len() as u64
    );

    // Events after the redelivery see the same users and merchants: their
    // features would differ from the offline ones had the duplicates been
    // counted again.
    let mut later: Vec<_> = batch.transactions.iter().take(200).cloned().collect();
    let newest = before.len();
    for (i, t) in later.iter_mut().enumerate() {
        t.transaction_id = uuid::Uuid::new_v4();
        t.timestamp = chrono::Utc::now() + chrono::TimeDelta::milliseconds(i as i64);
    }
    let later = TransactionBatch {
        source: EventSource::Api,
        transactions: later,
        original_ids: Vec::new(),
    };
    runtime.bus.publish(later).await.unwrap();
    assert_online_equals_offline(&runtime, &features, newest + 200).await;
}

/// A transaction at a merchant, `ms` after `start`.
fn purchase(
    user: &str,
    merchant: &str,
    start: chrono::DateTime<chrono::Utc>,
    ms: i64,
) -> vigil_core::Transaction {
    vigil_core::Transaction {
        country: Some("US".into()),
        ..vigil_core::Transaction::new(
            uuid::Uuid::new_v4(),
            user,
            merchant,
            25.0,
            start + chrono::TimeDelta::milliseconds(ms),
        )
    }
}

/// The label path on a store: a chargeback that arrives seven days and four
/// hours after its transaction (more than the label delay plus the allowed
/// lateness)
/// finds the transaction's merchant and time in the store and counts once,
/// however often it is delivered and whatever earlier label replaces it;
/// the merchant's fraud rate shows it to the transactions after it, not
/// to those before, online as offline.
async fn labels_reach_their_merchant_once(url: &str) {
    use vigil_actors::messages::{EventSource, LabelBatch, TransactionBatch};

    const HOUR: i64 = 3_600_000;
    let mut config = runtime_config(url);
    config.backfill_days = 0;
    config.producer.rate = 0.0;
    let features = config.features.clone();
    let delay = features.label_delay.num_milliseconds();
    let lateness = features.allowed_lateness.num_milliseconds();
    let runtime = Runtime::start(config).await.unwrap();
    runtime.ready().await.unwrap();
    // Midnight, ten days ago: `fraud` and `legit` share a day.
    let start = (chrono::Utc::now() - chrono::TimeDelta::days(10))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let fraud = purchase("u1", "shop", start, HOUR);
    let legit = purchase("u2", "shop", start, 2 * HOUR);
    let elsewhere = purchase("u1", "elsewhere", start, 3 * HOUR);
    let publish = |transactions: Vec<vigil_core::Transaction>| TransactionBatch {
        source: EventSource::Api,
        transactions,
        original_ids: Vec::new(),
    };
    runtime
        .bus
        .publish(publish(vec![fraud.clone(), legit.clone(), elsewhere]))
        .await
        .unwrap();
    let labeled_at = start + chrono::TimeDelta::milliseconds(7 * 24 * HOUR + 5 * HOUR);
    assert!((labeled_at - fraud.timestamp).num_milliseconds() > delay + lateness);
    let label = |at| vigil_core::Label {
        label_id: uuid::Uuid::new_v4(),
        transaction_id: fraud.transaction_id,
        is_fraud: true,
        source: "chargeback".into(),
        labeled_at: at,
    };
    let chargeback = label(labeled_at);
    // A transaction just before the label is known, then the label (twice,
    // as a redelivery would), an earlier analyst label, and one for a
    // transaction nobody has seen.
    let before = purchase("u3", "shop", labeled_at, -2 * HOUR);
    runtime
        .bus
        .publish(publish(vec![before.clone()]))
        .await
        .unwrap();
    let mut stranger = label(labeled_at);
    stranger.transaction_id = uuid::Uuid::new_v4();
    for labels in [
        vec![chargeback.clone()],
        vec![chargeback.clone(), stranger],
        vec![label(labeled_at - chrono::TimeDelta::hours(1))],
    ] {
        runtime
            .bus
            .publish_labels(LabelBatch { labels })
            .await
            .unwrap();
    }
    let after = purchase("u4", "shop", labeled_at, 60_000);
    runtime
        .bus
        .publish(publish(vec![after.clone()]))
        .await
        .unwrap();

    let rows: HashMap<_, _> = runtime
        .store
        .feature_rows()
        .await
        .unwrap()
        .into_iter()
        .collect();
    // For both, the day of `fraud` is the day of t − label delay: two
    // transactions at the shop, the fraud known to `after` only.
    assert_eq!(rows[&before.transaction_id].merchant_fraud_rate_1d, 0.0);
    assert_eq!(rows[&after.transaction_id].merchant_fraud_rate_1d, 0.5);
    let targets = runtime
        .store
        .label_targets(&[fraud.transaction_id, legit.transaction_id])
        .await
        .unwrap();
    assert_eq!(
        targets[&fraud.transaction_id].fraud_known_at,
        Some(labeled_at - chrono::TimeDelta::hours(1)),
        "the earliest label"
    );
    assert_eq!(targets[&legit.transaction_id].fraud_known_at, None);
    assert_online_equals_offline(&runtime, &features, 5).await;
}

#[actix_rt::test]
async fn labels_reach_their_merchant_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    labels_reach_their_merchant_once(&sqlite_url(&dir)).await;
}

#[actix_rt::test]
async fn labels_reach_their_merchant_once_on_postgres() {
    let db = common::TestDatabase::create().await;
    labels_reach_their_merchant_once(&db.url).await;
    db.drop_database().await;
}
