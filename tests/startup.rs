//! The API answers from the first moment: during the backfill and the
//! start-up training, `/health` says which phase and how far (503),
//! `/health/actors`, `/metrics` and the docs answer, and `/score` answers
//! 503 with `Retry-After` (taking nothing in) until a model serves.

mod common;

use std::time::Duration;

use actix_web::test;
use common::{app, config, get, new_transaction, sqlite_url, wait_until};
use serde_json::{Value, json};
use vigil_actors::Runtime;

#[actix_rt::test]
async fn the_api_answers_during_the_backfill_and_the_first_training() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&sqlite_url(&dir));
    config.producer.users = 600;
    config.producer.fraud_rate = 0.02;
    config.producer.label_delay = Duration::from_secs(2 * 24 * 3600);
    config.features.label_delay = Duration::from_secs(2 * 24 * 3600);
    config.backfill.days = 14;
    config.model.min_pr_auc = 0.0;
    config.model.min_recall = 0.0;
    let mut runtime = Runtime::start(vigil::app::runtime_config(&config))
        .await
        .unwrap();
    let app = app(&runtime, None).await;

    // At once, before the backfill is over.
    let (status, health) = get(&app, "/health").await;
    assert_eq!(status, 503, "{health}");
    assert_eq!(health["status"], "starting", "{health}");
    assert!(
        ["recovering", "backfilling"].contains(&health["phase"].as_str().unwrap()),
        "{health}"
    );
    for uri in ["/health/actors", "/metrics", "/openapi.json"] {
        let response =
            test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(response.status(), 200, "{uri}");
    }
    let response =
        test::call_service(&app, test::TestRequest::get().uri("/docs/").to_request()).await;
    assert_eq!(response.status(), 200);

    // New events wait for the history: 503 with Retry-After, not stored.
    let transaction = new_transaction("u_early", 12.0);
    let id: uuid::Uuid = transaction["transaction_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let request = test::TestRequest::post()
        .uri("/score")
        .set_json(json!({"transaction": transaction}))
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("5")
    );
    let body: Value = test::read_body_json(response).await;
    assert!(body["detail"]["phase"].is_string(), "{body}");

    // The backfill's progress is reported while it runs.
    let mut seen = Vec::new();
    let mut progress = Vec::new();
    let start = std::time::Instant::now();
    loop {
        let (_, health) = get(&app, "/health").await;
        let phase = health["phase"].as_str().unwrap().to_owned();
        if phase == "backfilling"
            && let Some(fraction) = health["progress"]["fraction"].as_f64()
        {
            progress.push(fraction);
        }
        if seen.last() != Some(&phase) {
            seen.push(phase.clone());
        }
        if phase == "running" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(300), "{health}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen.contains(&"backfilling".to_owned()), "{seen:?}");
    assert!(!progress.is_empty(), "{seen:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    runtime.backfill_finished().await.unwrap().unwrap();
    assert!(!runtime.store.has_transaction(id).await.unwrap());

    // Once a model serves, /score answers.
    let metrics = runtime.metrics.clone();
    wait_until("the model to serve", Duration::from_secs(60), || {
        let metrics = metrics.clone();
        async move { metrics.model_version.get() > 0 }
    })
    .await;
    let (status, health) = get(&app, "/health").await;
    assert_eq!(status, 200, "{health}");
    let transaction = new_transaction("u_later", 12.0);
    let (status, body) = common::post(&app, "/score", json!({"transaction": transaction})).await;
    assert_eq!(status, 200, "{body}");
}

/// Until a model serves, `/score` answers 503 with `Retry-After`.
#[actix_rt::test]
async fn score_answers_503_with_retry_after_until_a_model_serves() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::start(common::runtime_config(&sqlite_url(&dir)))
        .await
        .unwrap();
    runtime.ready().await.unwrap();
    let app = app(&runtime, None).await;
    let state = runtime.lifecycle.clone();
    wait_until("the start-up sequence", Duration::from_secs(30), || {
        let state = state.clone();
        async move { state.phase() == vigil_actors::lifecycle::Phase::Running }
    })
    .await;
    let request = test::TestRequest::post()
        .uri("/score")
        .set_json(json!({"transaction": new_transaction("u_1", 30.0)}))
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = test::read_body_json(response).await;
    assert!(
        body["error"].as_str().unwrap().contains("no model"),
        "{body}"
    );
}

/// Once the process drains, new requests get 503 with `Retry-After`, while
/// health (saying `stopping`), the actors' health and the metrics still
/// answer; with nothing in flight the stop is clean at once.
#[actix_rt::test]
async fn a_stopping_runtime_refuses_new_work_and_still_reports_its_health() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::start(common::runtime_config(&sqlite_url(&dir)))
        .await
        .unwrap();
    runtime.ready().await.unwrap();
    let app = app(&runtime, None).await;
    runtime.lifecycle.drain();

    for (method, uri) in [
        ("GET", "/models"),
        ("POST", "/score"),
        ("GET", "/openapi.json"),
    ] {
        let request = match method {
            "GET" => test::TestRequest::get(),
            _ => test::TestRequest::post()
                .set_json(json!({"transaction": new_transaction("u", 1.0)})),
        }
        .uri(uri)
        .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), 503, "{method} {uri}");
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap()),
            Some("5"),
            "{method} {uri}"
        );
    }
    let (status, health) = get(&app, "/health").await;
    assert_eq!(status, 503);
    assert_eq!(health["status"], "stopping", "{health}");
    for uri in ["/health/actors", "/metrics"] {
        let response =
            test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(response.status(), 200, "{uri}");
    }
    let report = runtime.shutdown(Duration::from_secs(10), || 0).await;
    assert!(report.is_clean(), "{report:?}");
}
