//! A manual promotion does not queue behind a running training, nor behind
//! MLflow logging (here an MLflow server that accepts connections and never
//! answers); and a training does not wait for MLflow either.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::{app, post, sqlite_url, trained_config, trained_runtime, wait_until};
use futures::future::{Either, select};
use serde_json::json;

/// An address that accepts connections and never answers them.
fn unresponsive_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
    format!("http://{addr}")
}

#[actix_rt::test]
async fn a_manual_promotion_does_not_wait_for_a_training_or_mlflow() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = trained_config(&sqlite_url(&dir));
    config.mlflow.tracking_uri = Some(unresponsive_server());
    // Trainings long enough that a promotion surely lands inside one.
    config.model.iterations = 400;
    let runtime = trained_runtime(&config).await;
    let app = app(&runtime, None).await;
    // The start-up training's MLflow logging is stuck on the server, and
    // version 1 serves.

    let training = Box::pin(post(&app, "/models/retrain", json!(null)));
    let registry = runtime.health.clone();
    let promotion = Box::pin(async {
        wait_until("the retrainer to train", Duration::from_secs(30), || {
            let registry = registry.clone();
            async move {
                registry
                    .snapshot()
                    .iter()
                    .any(|a| a.name == "retrainer" && a.busy)
            }
        })
        .await;
        post(&app, "/models/1/promote", json!({"reason": "rollback"})).await
    });
    let ((status, promoted), training) = match select(promotion, training).await {
        Either::Left(done) => done,
        Either::Right(((status, body), _)) => {
            panic!("the training ({status} {body}) finished before the promotion answered")
        }
    };
    assert_eq!(status, 200, "{promoted}");
    assert_eq!(promoted["stage"], "production");
    assert_eq!(promoted["stage_reason"], "rollback");

    // The training then finishes without waiting for MLflow, which has not
    // answered the first run yet.
    let (status, outcome) = tokio::time::timeout(Duration::from_secs(120), training)
        .await
        .expect("the training waits for MLflow");
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome["status"], "trained", "{outcome}");
    assert_eq!(outcome["version"], 2, "{outcome}");
}
