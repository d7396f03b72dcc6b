//! End to end with every default: the default generator (population, fraud
//! mix, label delay) through the producer, the bus, the audit log and the
//! feature engine into the store; the default training parameters and
//! quality gates; promotion; scoring through the API.
//!
//! The other end-to-end tests open the gates so that a model always
//! serves. Here they stay closed, so the data must not depend on the day
//! the test runs: the default length of history is generated over a fixed
//! window, which makes the events, the time split and the model the same
//! on every run (the generator is seeded, training single-threaded and
//! seeded). The test asserts that the gates pass, not any metric's value.

mod common;

use chrono::{TimeDelta, TimeZone, Utc};
use common::{app, post, sqlite_url};
use serde_json::json;
use vigil::config::Config;
use vigil_actors::Runtime;
use vigil_actors::messages::{Retrain, TrainingOutcome};

#[actix_rt::test]
async fn the_default_generator_trains_a_model_that_passes_the_default_gates() {
    let dir = tempfile::tempdir().unwrap();
    let defaults = Config::default();
    let mut config = Config::default();
    config.database.url = Some(sqlite_url(&dir));
    // The history is generated below, over a fixed window; no live traffic.
    config.backfill.days = 0;
    config.producer.rate = Some(0.0);
    config.model.train_on_start = false;
    config.model.retrain_schedule = String::new();
    config.drift.schedule = String::new();
    let runtime = Runtime::start(vigil::app::runtime_config(&config))
        .await
        .unwrap();
    runtime.ready().await.unwrap();

    // A Monday at midnight UTC: the calendar features do not depend on
    // when the test runs.
    let from = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
    let to = from + TimeDelta::days(i64::from(defaults.backfill.days));
    let report = runtime.backfill(from, to).await.unwrap();
    assert!(report.transactions > 0 && report.labels > 0, "{report:?}");

    let outcome = runtime
        .retrainer
        .send(Retrain {
            trigger: "test".into(),
        })
        .await
        .unwrap();
    let version = match &outcome {
        TrainingOutcome::Trained {
            version,
            promoted: true,
            reason,
            ..
        } => {
            eprintln!("promoted with the default gates: {reason}");
            *version
        }
        other => panic!("the default gates refused the model: {other:?}"),
    };

    // It serves: a stored fraud scored through the API gets its decision.
    let fraud = runtime
        .store
        .labeled_rows()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.is_fraud)
        .expect("a labelled fraud");
    let app = app(&runtime, None).await;
    let metrics = runtime.metrics.clone();
    common::wait_until(
        "the scorer to serve it",
        std::time::Duration::from_secs(30),
        || {
            let metrics = metrics.clone();
            async move { metrics.model_version.get() == i64::from(version) }
        },
    )
    .await;
    let (status, body) = post(
        &app,
        "/score",
        json!({"transaction_id": fraud.transaction_id}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model_version"], version);
}
