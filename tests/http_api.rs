//! `/health`, `/health/actors`, `/metrics` and JSON errors.

mod common;

use actix_web::{App, test};
use common::{runtime_config, sqlite_url, wait_until};
use serde_json::Value;
use std::time::Duration;
use vigil::http::{AppState, configure};
use vigil_actors::Runtime;

#[actix_rt::test]
async fn health_actors_and_metrics_describe_the_running_system() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = runtime_config(&sqlite_url(&dir));
    config.producer.rate = 200.0;
    let mut runtime = Runtime::start(config).await.unwrap();
    runtime.ready().await.unwrap();
    let metrics = runtime.metrics.clone();
    wait_until("some traffic", Duration::from_secs(10), || {
        let m = metrics.clone();
        async move { m.stream_consumer_messages.get() >= 50 }
    })
    .await;
    runtime.stop_producer().await;
    let app =
        test::init_service(App::new().configure(configure(AppState::of(&runtime, None), 65536)))
            .await;

    let response =
        test::call_service(&app, test::TestRequest::get().uri("/health").to_request()).await;
    assert_eq!(response.status(), 200);
    let health: Value = test::read_body_json(response).await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["store"], "ok");
    assert_eq!(health["actors"]["raw_store"], "running");

    let actors: Value = test::call_and_read_body_json(
        &app,
        test::TestRequest::get().uri("/health/actors").to_request(),
    )
    .await;
    let raw_store = actors["actors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "raw_store")
        .expect("raw_store reported")
        .clone();
    for key in [
        "state",
        "restarts",
        "last_error",
        "processed",
        "mailbox_depth",
        "last_activity",
    ] {
        assert!(raw_store.get(key).is_some(), "missing {key} in {raw_store}");
    }
    assert!(raw_store["processed"].as_u64().unwrap() > 0);
    assert_eq!(raw_store["mailbox_depth"], 0);
    assert!(raw_store["last_activity"].is_string());

    let response =
        test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    let produced = runtime.metrics.transactions_produced.get();
    assert!(
        text.contains(&format!("fraud_transactions_produced_total {produced}")),
        "{text}"
    );
    for name in [
        "fraud_producer_errors_total",
        "fraud_stream_consumer_messages_total",
        "fraud_actor_restarts_total",
        "fraud_actor_mailbox_depth{actor=\"raw_store\"}",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
}

#[actix_rt::test]
async fn unknown_paths_get_a_json_404() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::start(runtime_config(&sqlite_url(&dir)))
        .await
        .unwrap();
    let app =
        test::init_service(App::new().configure(configure(AppState::of(&runtime, None), 65536)))
            .await;
    let response =
        test::call_service(&app, test::TestRequest::get().uri("/nope").to_request()).await;
    assert_eq!(response.status(), 404);
    let body: Value = test::read_body_json(response).await;
    assert_eq!(body["error"], "no such endpoint");
    assert_eq!(body["detail"]["path"], "/nope");
}
