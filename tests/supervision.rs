//! Every actor survives injected panics, errors and hangs while events
//! flow, reports its restarts (a hang as `stalled` first), and loses or
//! duplicates nothing.

mod common;

use std::time::Duration;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, test};
use common::{runtime_config, sqlite_url, wait_until};
use serde_json::Value;
use vigil::http::{AppState, configure};
use vigil_actors::Runtime;
use vigil_actors::faults::Fault;
use vigil_actors::health::ActorState;

const ACTORS: [&str; 6] = [
    "producer",
    "raw_store",
    "decider",
    "retrainer",
    "drift_checker",
    "promoter",
];

async fn streaming_runtime(dir: &tempfile::TempDir) -> Runtime {
    let mut config = runtime_config(&sqlite_url(dir));
    config.producer.rate = 300.0;
    let runtime = Runtime::start(config).await.expect("runtime starts");
    runtime.ready().await.expect("actors ready");
    runtime
}

async fn actors_json(runtime: &Runtime) -> Vec<Value> {
    let app =
        test::init_service(App::new().configure(configure(AppState::of(runtime, None), 65536)))
            .await;
    let body: Value = test::call_and_read_body_json(
        &app,
        test::TestRequest::get().uri("/health/actors").to_request(),
    )
    .await;
    body["actors"].as_array().expect("actors array").clone()
}

#[actix_rt::test]
async fn every_actor_restarts_after_a_panic_and_an_error_without_losing_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut runtime = streaming_runtime(&dir).await;
    for fault in [Fault::Panic, Fault::Error] {
        for actor in ACTORS {
            runtime.faults.inject(actor, fault);
        }
        // Idle actors handle only probes: send them one each.
        runtime
            .ready()
            .await
            .expect("probes are answered after the restart");
        let faults = runtime.faults.clone();
        wait_until("every fault to fire", Duration::from_secs(10), || {
            let faults = faults.clone();
            async move { ACTORS.iter().all(|a| faults.pending(a) == 0) }
        })
        .await;
    }
    let metrics = runtime.metrics.clone();
    let before = metrics.transactions_produced.get();
    wait_until("events to keep flowing", Duration::from_secs(10), || {
        let m = metrics.clone();
        async move { m.transactions_produced.get() > before + 100 }
    })
    .await;
    runtime.stop_producer().await;

    let actors = actors_json(&runtime).await;
    assert_eq!(actors.len(), ACTORS.len());
    for actor in &actors {
        assert_eq!(actor["restarts"], 2, "{actor}");
        assert_eq!(actor["failed_messages"], 0, "{actor}");
        assert_ne!(actor["state"], "failed", "{actor}");
        assert!(actor["last_error"].is_string(), "{actor}");
    }
    let produced = runtime.metrics.transactions_produced.get();
    assert!(produced > 0);
    assert_eq!(runtime.metrics.producer_errors.get(), 0);
    assert_eq!(runtime.store.count_raw_events().await.unwrap(), produced);
    assert!(runtime.store.dead_letters().await.unwrap().is_empty());
    let text = runtime.metrics.render();
    assert!(
        text.contains("fraud_actor_restarts_total{actor=\"raw_store\"} 2"),
        "{text}"
    );
}

#[actix_rt::test]
async fn a_message_failing_twice_is_dead_lettered_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let mut runtime = streaming_runtime(&dir).await;
    runtime.faults.inject("decider", Fault::Error);
    runtime.faults.inject("decider", Fault::Panic);
    let faults = runtime.faults.clone();
    wait_until("both faults to fire", Duration::from_secs(10), || {
        let faults = faults.clone();
        async move { faults.pending("decider") == 0 }
    })
    .await;
    // One batch from the producer (a transaction batch fails, or a label
    // batch): wait for more traffic so the failed one is long done.
    tokio::time::sleep(Duration::from_millis(200)).await;
    runtime.stop_producer().await;

    let letters = runtime.store.dead_letters().await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(letter.actor, "decider");
    assert_eq!(letter.attempts, 2);
    assert!(letter.reason.contains("panicked"), "{}", letter.reason);
    let payload: Value = serde_json::from_slice(&letter.payload).unwrap();
    let in_letter = payload["transactions"].as_array().map_or(0, Vec::len) as u64;

    // The Decider stores a batch's raw events with its decisions: the
    // dead-lettered batch is in the letter (and counted as a producer
    // error), every delivered one in the store.
    let stored = runtime.store.count_raw_events().await.unwrap();
    assert_eq!(stored, runtime.metrics.transactions_produced.get());
    assert_eq!(in_letter, runtime.metrics.producer_errors.get());
    assert_eq!(runtime.store.count_feature_rows().await.unwrap(), stored);
    let decider = runtime
        .health
        .snapshot()
        .into_iter()
        .find(|a| a.name == "decider")
        .unwrap();
    assert_eq!(decider.failed_messages, 1);
}

#[actix_rt::test]
async fn too_many_restarts_mark_an_actor_failed_and_health_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = runtime_config(&sqlite_url(&dir));
    config.restart_budget.max_restarts = 3;
    let runtime = Runtime::start(config).await.unwrap();
    runtime.ready().await.unwrap();
    let app =
        test::init_service(App::new().configure(configure(AppState::of(&runtime, None), 65536)))
            .await;
    let health =
        test::call_service(&app, test::TestRequest::get().uri("/health").to_request()).await;
    assert_eq!(health.status(), 200);

    for _ in 0..3 {
        runtime.faults.inject("decider", Fault::Error);
    }
    // Two failures dead-letter the first probe; the third fails the next.
    assert!(runtime.ready().await.is_err());
    runtime
        .ready()
        .await
        .expect("the decider keeps answering after restarts");

    let decider = runtime
        .health
        .snapshot()
        .into_iter()
        .find(|a| a.name == "decider")
        .unwrap();
    assert_eq!(decider.state, ActorState::Failed);
    let response =
        test::call_service(&app, test::TestRequest::get().uri("/health").to_request()).await;
    assert_eq!(response.status(), 503);
    let body: Value = test::read_body_json(response).await;
    assert_eq!(body["status"], "unhealthy");
    assert!(
        body["reasons"][0].as_str().unwrap().contains("decider"),
        "{body}"
    );
}

#[actix_rt::test]
async fn repeated_faults_in_every_actor_at_a_high_rate_lose_and_duplicate_nothing() {
    const ROUNDS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let mut config = runtime_config(&sqlite_url(&dir));
    config.producer.rate = 3000.0;
    // Many restarts in a minute are the point here, not a failure.
    config.restart_budget.max_restarts = 10 * ROUNDS;
    let mut runtime = Runtime::start(config).await.expect("runtime starts");
    runtime.ready().await.expect("actors ready");
    for round in 0..ROUNDS {
        let fault = if round % 2 == 0 {
            Fault::Panic
        } else {
            Fault::Error
        };
        for actor in ACTORS {
            runtime.faults.inject(actor, fault);
        }
        runtime
            .ready()
            .await
            .expect("probes answered after restarts");
        let faults = runtime.faults.clone();
        // Restarts back off 5 ms to 100 ms here: a round takes well under
        // a second; the bound only catches a restart that never comes.
        wait_until("every fault to fire", Duration::from_secs(5), || {
            let faults = faults.clone();
            async move { ACTORS.iter().all(|a| faults.pending(a) == 0) }
        })
        .await;
    }
    // Faults fire within milliseconds; stream a while longer so that the
    // counts below cover thousands of events.
    let metrics = runtime.metrics.clone();
    wait_until("thousands of events", Duration::from_secs(30), || {
        let metrics = metrics.clone();
        async move { metrics.transactions_produced.get() > 3000 }
    })
    .await;
    runtime.stop_producer().await;

    let actors = actors_json(&runtime).await;
    for actor in &actors {
        assert_eq!(actor["restarts"], ROUNDS, "{actor}");
        assert_eq!(actor["failed_messages"], 0, "{actor}");
        assert_ne!(actor["state"], "failed", "{actor}");
    }
    let produced = runtime.metrics.transactions_produced.get();
    assert_eq!(runtime.metrics.producer_errors.get(), 0);
    assert_eq!(runtime.store.count_raw_events().await.unwrap(), produced);
    let features = runtime.store.feature_rows().await.unwrap();
    assert_eq!(
        features.len() as u64,
        produced,
        "each event featurized once"
    );
    assert!(runtime.store.dead_letters().await.unwrap().is_empty());
}

/// The status and body of `GET /health`.
async fn health(
    app: &impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
) -> (u16, Value) {
    let response =
        test::call_service(app, test::TestRequest::get().uri("/health").to_request()).await;
    let status = response.status().as_u16();
    let body: Value = test::read_body_json(response).await;
    (status, body)
}

/// A handler that awaits something that never comes: the actor is
/// reported `stalled` (and `/health` answers 503 naming it) once it has
/// made no progress for the stall timeout, then restarted; the message it
/// held is retried, and every event is still featurized once.
#[actix_rt::test]
async fn a_hung_actor_is_reported_stalled_then_restarted_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = runtime_config(&sqlite_url(&dir));
    config.producer.rate = 300.0;
    config.stall_timeout = Duration::from_millis(500);
    let mut runtime = Runtime::start(config).await.expect("runtime starts");
    runtime.ready().await.expect("actors ready");
    let app =
        test::init_service(App::new().configure(configure(AppState::of(&runtime, None), 65536)))
            .await;
    wait_until("running and healthy", Duration::from_secs(30), || async {
        health(&app).await.0 == 200
    })
    .await;

    runtime.faults.inject("decider", Fault::Hang);
    let mut reported = None;
    let start = std::time::Instant::now();
    while reported.is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never reported stalled"
        );
        let (status, body) = health(&app).await;
        if status == 503
            && body["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r.as_str().unwrap().contains("actor decider stalled"))
        {
            reported = Some(body);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(reported.unwrap()["actors"]["decider"], "stalled");

    let registry = runtime.health.clone();
    wait_until(
        "the stalled actor restarted",
        Duration::from_secs(10),
        || {
            let registry = registry.clone();
            async move {
                registry.snapshot().iter().any(|a| {
                    a.name == "decider" && a.restarts == 1 && a.state == ActorState::Running
                })
            }
        },
    )
    .await;
    let metrics = runtime.metrics.clone();
    let before = metrics.transactions_produced.get();
    wait_until("events to keep flowing", Duration::from_secs(10), || {
        let m = metrics.clone();
        async move { m.transactions_produced.get() > before + 300 }
    })
    .await;
    runtime.stop_producer().await;
    assert_eq!(health(&app).await.0, 200);

    let engine = runtime
        .health
        .snapshot()
        .into_iter()
        .find(|a| a.name == "decider")
        .unwrap();
    assert!(
        engine.last_error.as_deref().unwrap().contains("stalled"),
        "{engine:?}"
    );
    assert_eq!(engine.failed_messages, 0);
    let produced = runtime.metrics.transactions_produced.get();
    assert_eq!(runtime.store.count_raw_events().await.unwrap(), produced);
    assert_eq!(
        runtime.store.feature_rows().await.unwrap().len() as u64,
        produced,
        "each event featurized once"
    );
    assert!(runtime.store.dead_letters().await.unwrap().is_empty());
}
