//! Producer → bus → RawStore → raw_events / labels, on SQLite and PostgreSQL.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{TestDatabase, runtime_config, sqlite_url, wait_until};
use sea_orm::{EntityTrait, PaginatorTrait, QuerySelect};
use vigil_actors::Runtime;
use vigil_actors::store::entity::{label, raw_event};

const LABEL_DELAY: Duration = Duration::from_millis(300);

/// Streams live events until at least `k` transactions and some labels are
/// out, stops the producer, then checks the store holds each event once
/// and every label arrived no earlier than its delay.
async fn stream_and_check(database_url: &str, k: u64) {
    let mut config = runtime_config(database_url);
    config.producer.rate = 400.0;
    config.producer.synth.fraud_rate = 0.1;
    config.producer.synth.label_delay = chrono::Duration::from_std(LABEL_DELAY).unwrap();
    let mut runtime = Runtime::start(config).await.expect("runtime starts");
    runtime.ready().await.expect("actors ready");

    let metrics = runtime.metrics.clone();
    wait_until("events and labels", Duration::from_secs(30), || {
        let m = metrics.clone();
        async move { m.transactions_produced.get() >= k && m.labels_produced.get() >= 5 }
    })
    .await;
    runtime.stop_producer().await;

    let produced = metrics.transactions_produced.get();
    assert_eq!(metrics.producer_errors.get(), 0);
    let db = runtime.store.connection();
    let ids: Vec<uuid::Uuid> = raw_event::Entity::find()
        .select_only()
        .column(raw_event::Column::TransactionId)
        .into_tuple()
        .all(db)
        .await
        .unwrap();
    assert_eq!(
        ids.len() as u64,
        produced,
        "raw_events holds every produced event"
    );
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "no duplicates");

    let labels = label::Entity::find().all(db).await.unwrap();
    assert_eq!(labels.len() as u64, metrics.labels_produced.get());
    let event_times: HashMap<_, _> = raw_event::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.transaction_id, e.event_time))
        .collect();
    let min_delay = chrono::Duration::from_std(LABEL_DELAY * 9 / 10).unwrap();
    for l in &labels {
        let event_time = event_times[&l.transaction_id];
        assert!(
            l.labeled_at - event_time >= min_delay,
            "label before its delay: {l:?}"
        );
        assert!(
            l.received_at >= l.labeled_at,
            "label published before it was due: {l:?}"
        );
        assert!(l.is_fraud);
    }
    assert_eq!(runtime.store.count_raw_events().await.unwrap(), produced);
}

#[actix_rt::test]
async fn sqlite_stores_every_event_once_and_labels_after_their_delay() {
    let dir = tempfile::tempdir().unwrap();
    stream_and_check(&sqlite_url(&dir), 600).await;
}

#[actix_rt::test]
async fn postgres_stores_every_event_once_and_labels_after_their_delay() {
    let db = TestDatabase::create().await;
    stream_and_check(&db.url, 600).await;
    db.drop_database().await;
}

#[actix_rt::test]
async fn backfill_fills_an_empty_store_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let mut config = runtime_config(&url);
    config.backfill_days = 3;
    config.producer.synth.label_delay = chrono::Duration::hours(12);
    let mut runtime = Runtime::start(config.clone()).await.unwrap();
    let report = runtime
        .backfill_finished()
        .await
        .expect("a backfill ran")
        .unwrap();
    assert!(report.transactions > 500, "{report:?}");
    assert!(report.labels > 0, "{report:?}");
    let db = runtime.store.connection();
    assert_eq!(
        raw_event::Entity::find().count(db).await.unwrap(),
        report.transactions
    );
    assert_eq!(
        label::Entity::find().count(db).await.unwrap(),
        report.labels
    );
    let now = chrono::Utc::now();
    let labels = label::Entity::find().all(db).await.unwrap();
    assert!(
        labels.iter().all(|l| l.labeled_at <= now),
        "no label from the future"
    );
    drop(runtime);

    // A second start finds history and does not backfill again.
    let mut again = Runtime::start(config).await.unwrap();
    assert!(again.backfill_finished().await.is_none());
    assert_eq!(
        again.store.count_raw_events().await.unwrap(),
        report.transactions
    );
}
