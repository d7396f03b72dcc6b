//! PostgreSQL stopped for 30 seconds in the middle of a stream: ingestion
//! pauses (backpressure, no unbounded buffering), health reports the
//! outage, and once the server is back everything resumes by itself with
//! every event stored and featurized exactly once.

mod common;

use std::time::{Duration, Instant};

use common::postgres_cluster::PostgresCluster;
use common::{runtime_config, wait_until};
use sea_orm::{EntityTrait, PaginatorTrait};
use vigil_actors::Runtime;
use vigil_actors::health::report;
use vigil_actors::store::entity::transaction_feature;

const RATE: f64 = 500.0;
const OUTAGE: Duration = Duration::from_secs(30);

async fn produced(runtime: &Runtime) -> u64 {
    runtime.metrics.transactions_produced.get()
}

async fn wait_for_more_events(runtime: &Runtime, what: &str, more: u64) {
    let target = produced(runtime).await + more;
    let metrics = runtime.metrics.clone();
    wait_until(what, Duration::from_secs(60), || {
        let metrics = metrics.clone();
        async move { metrics.transactions_produced.get() >= target }
    })
    .await;
}

#[actix_rt::test]
async fn a_postgres_outage_pauses_ingestion_and_loses_nothing() {
    let postgres = PostgresCluster::start();
    let mut config = runtime_config(&postgres.url());
    config.producer.rate = RATE;
    let mut runtime = Runtime::start(config).await.expect("runtime starts");
    runtime.ready().await.expect("actors ready");
    wait_for_more_events(&runtime, "events before the outage", 1_000).await;

    postgres.stop_server();
    let stopped = Instant::now();
    let mut reported_unavailable = false;
    // Let in-flight batches hit the closed server, then measure how much
    // the producer still gets accepted while the store is down.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let accepted_early = produced(&runtime).await;
    while stopped.elapsed() < OUTAGE {
        let health = report(&runtime.store, &runtime.health).await;
        if !health.healthy && health.store == vigil_actors::health::StoreState::Unavailable {
            reported_unavailable = true;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let accepted_during = produced(&runtime).await - accepted_early;
    assert!(reported_unavailable, "health never reported the outage");
    // 25 s at the producer's rate would be 12,500 events: a paused
    // pipeline accepts none, give or take a batch in flight.
    assert!(
        accepted_during < 500,
        "{accepted_during} events accepted while the store was down: not backpressure"
    );
    let depth: i64 = runtime
        .health
        .snapshot()
        .iter()
        .map(|a| a.mailbox_depth)
        .sum();
    assert!(
        depth < 64,
        "mailboxes hold {depth} messages during the outage"
    );

    postgres.start_server();
    let store = runtime.store.clone();
    let health = runtime.health.clone();
    wait_until("health to recover", Duration::from_secs(30), || {
        let (store, health) = (store.clone(), health.clone());
        async move { report(&store, &health).await.healthy }
    })
    .await;
    wait_for_more_events(&runtime, "events after the outage", 2_000).await;
    runtime.stop_producer().await;

    let produced = produced(&runtime).await;
    assert_eq!(runtime.store.count_raw_events().await.unwrap(), produced);
    let featurized = transaction_feature::Entity::find()
        .count(runtime.store.connection())
        .await
        .unwrap();
    assert_eq!(featurized, produced);
    assert!(runtime.store.dead_letters().await.unwrap().is_empty());
    assert_eq!(runtime.metrics.producer_errors.get(), 0);
    for actor in runtime.health.snapshot() {
        assert_eq!(actor.failed_messages, 0, "{actor:?}");
    }
}
