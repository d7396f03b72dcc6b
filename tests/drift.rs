//! Drift end to end: checks on request and on schedule, the status,
//! history and stats APIs, the HTML report and the metrics.

mod common;

use std::time::Duration;

use common::{app, get, post, sqlite_url, trained_config, trained_runtime, wait_until};
use serde_json::{Value, json};
use vigil_actors::Runtime;
use vigil_actors::messages::{EventSource, TransactionBatch};

#[actix_rt::test]
async fn a_check_is_stored_reported_as_json_and_html_and_exported_as_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = trained_runtime(&trained_config(&sqlite_url(&dir))).await;
    let app = app(&runtime, None).await;

    let (status, check) = post(&app, "/drift/run", json!({})).await;
    assert_eq!(status, 200, "{check}");
    assert_ne!(check["status"], "insufficient_data", "{check}");
    for key in [
        "timestamp",
        "dataset_drift_detected",
        "dataset_drift_share",
        "num_features_checked",
        "num_features_drifted",
        "reference_rows",
        "current_rows",
        "drifted_features",
        "feature_details",
    ] {
        assert!(check.get(key).is_some(), "missing {key}");
    }
    assert_eq!(check["num_features_checked"], 11);
    assert_eq!(
        check["reference_window"]["source"],
        "production_model_training_window"
    );
    let amount = check["feature_details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["feature"] == "amount")
        .unwrap()
        .clone();
    for key in [
        "drift_detected",
        "drift_score",
        "stattest",
        "reference_mean",
        "current_mean",
    ] {
        assert!(amount.get(key).is_some(), "missing {key} in {amount}");
    }
    assert_eq!(amount["stattest"], "wasserstein");

    let (_, latest) = get(&app, "/drift/status").await;
    assert_eq!(latest["report_id"], check["report_id"]);
    let (_, again) = get(&app, "/drift/run").await;
    assert_ne!(again["report_id"], check["report_id"]);
    let (_, history) = get(&app, "/drift/history?limit=10").await;
    assert_eq!(history["count"], 2, "{history}");
    assert_eq!(history["checks"][0]["report_id"], again["report_id"]);
    let (status, _) = get(&app, "/drift/history?limit=0").await;
    assert_eq!(status, 400);

    let (_, stats) = get(&app, "/drift/stats").await;
    assert!(
        stats["numeric"]["amount"]["reference"]["mean"]
            .as_f64()
            .unwrap()
            > 0.0,
        "{stats}"
    );
    assert!(
        stats["categorical"]["channel"]["current"]
            .as_object()
            .unwrap()
            .len()
            > 1
    );

    let response = actix_web::test::call_service(
        &app,
        actix_web::test::TestRequest::get()
            .uri("/drift/report")
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = String::from_utf8(actix_web::test::read_body(response).await.to_vec()).unwrap();
    // Well-formed markup (the page is XHTML-compatible), one histogram per
    // monitored feature and model output.
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let document =
        roxmltree::Document::parse_with_options(&html, options).expect("the report is well-formed");
    let svgs = document
        .descendants()
        .filter(|n| n.has_tag_name("svg"))
        .count();
    let monitored = again["feature_details"].as_array().unwrap().len()
        + again["prediction_details"].as_array().unwrap().len();
    assert_eq!(svgs, monitored);
    for feature in ["amount", "hour_of_day", "channel", "country"] {
        assert!(
            html.contains(&format!("<h3>{feature}</h3>")),
            "{feature} missing"
        );
    }

    let metrics = runtime.metrics.render();
    for name in [
        "fraud_drift_detected",
        "fraud_drift_share",
        "fraud_drift_feature_score{feature=\"amount\"}",
        "fraud_drift_check_duration_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "{name} missing");
    }
}

#[actix_rt::test]
async fn an_empty_store_gets_a_clear_status_and_the_schedule_runs_checks() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(&sqlite_url(&dir));
    config.drift.schedule = "*/1 * * * * *".into();
    let runtime = Runtime::start(vigil::app::runtime_config(&config))
        .await
        .unwrap();
    runtime.ready().await.unwrap();
    let app = app(&runtime, None).await;

    let (status, check) = post(&app, "/drift/run", json!({})).await;
    assert_eq!(status, 200, "{check}");
    assert_eq!(check["status"], "insufficient_data");
    assert_eq!(check["dataset_drift_detected"], false);
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("not enough data")
    );

    let store = runtime.store.clone();
    wait_until("scheduled checks", Duration::from_secs(10), || {
        let store = store.clone();
        async move { store.drift_reports(10).await.unwrap().len() >= 3 }
    })
    .await;
    let (_, history) = get(&app, "/drift/history").await;
    let statuses: Vec<&Value> = history["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["status"])
        .collect();
    assert!(
        statuses.iter().all(|s| *s == "insufficient_data"),
        "{statuses:?}"
    );
}

#[actix_rt::test]
async fn dataset_drift_triggers_one_retraining_per_cooldown() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = trained_config(&sqlite_url(&dir));
    config.drift.retrain_on_drift = true;
    // One drifted feature is enough.
    config.drift.share_threshold = 0.01;
    let runtime = trained_runtime(&config).await;
    let app = app(&runtime, None).await;
    // The reference compares like times of day, so a stationary stream
    // does not drift: shift one. 500 purchases of 20 times the usual
    // amount, stamped now, make half of the current window (the newest
    // 1,000 rows).
    let shifted: Vec<vigil_core::Transaction> = (0..500)
        .map(|i| {
            let mut t: vigil_core::Transaction = serde_json::from_value(common::new_transaction(
                &format!("shifted_{}", i % 50),
                2_000.0 + i as f64,
            ))
            .unwrap();
            t.timestamp -= chrono::TimeDelta::milliseconds(i);
            t
        })
        .collect();
    let before = runtime.store.count_feature_rows().await.unwrap();
    runtime
        .bus
        .publish(TransactionBatch {
            source: EventSource::Api,
            transactions: shifted,
            original_ids: Vec::new(),
        })
        .await
        .unwrap();
    let store = runtime.store.clone();
    wait_until(
        "the shifted purchases featurized",
        Duration::from_secs(30),
        || {
            let store = store.clone();
            async move { store.count_feature_rows().await.unwrap() >= before + 500 }
        },
    )
    .await;
    for _ in 0..2 {
        let (_, check) = post(&app, "/drift/run", json!({})).await;
        assert_eq!(check["dataset_drift_detected"], true, "{check}");
    }
    wait_until(
        "a drift-triggered training",
        Duration::from_secs(60),
        || {
            let store = store.clone();
            async move { store.models().await.unwrap().len() >= 2 }
        },
    )
    .await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let models = runtime.store.models().await.unwrap();
    assert_eq!(models.len(), 2, "the second drift is within the cooldown");
    assert_eq!(models[0].params["trigger"], "drift");
}
