//! The MLflow client against a real MLflow tracking server, started by
//! `scripts/mlflow-server start DIR PORT` and named by `MLFLOW_TEST_URI`
//! (`.ci/run` does both and runs them). The server tests are ignored in a
//! plain local run and fail without `MLFLOW_TEST_URI`; the closed-port
//! test needs no server.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use vigil_actors::mlflow::{
    LoggedRun, MlflowArtifact, MlflowClient, MlflowError, MlflowRun, RegisteredModel,
};

/// The tracking server; a server test fails without one.
fn tracking_uri() -> String {
    match std::env::var("MLFLOW_TEST_URI") {
        Ok(uri) if !uri.trim().is_empty() => uri.trim().to_owned(),
        _ => panic!(
            "MLFLOW_TEST_URI is not set: start a server with `scripts/mlflow-server start DIR PORT` and set it (as .ci/run does)"
        ),
    }
}

const SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><path d="M0 10 L10 0"/></svg>"#;

fn training_run(experiment: &str, model: &str) -> MlflowRun {
    let started_at = Utc.with_ymd_and_hms(2024, 6, 1, 2, 0, 0).unwrap();
    let mut params: Vec<(String, String)> = (0..150)
        .map(|i| (format!("p{i:03}"), format!("value {i}")))
        .collect();
    params.push(("learning_rate".into(), "0.1".into()));
    let mut metrics: Vec<(String, f64)> = (0..1200)
        .map(|i| (format!("m{i:04}"), f64::from(i) / 8.0))
        .collect();
    metrics.extend([
        ("auc".to_owned(), 0.9375),
        ("precision_at_1pct".to_owned(), f64::NAN),
        ("lift".to_owned(), f64::INFINITY),
    ]);
    MlflowRun {
        experiment: experiment.to_owned(),
        run_name: "retrain-2024-06-01".into(),
        started_at,
        finished_at: started_at + chrono::Duration::seconds(95),
        params,
        metrics,
        tags: vec![
            ("vigil.trigger".into(), "schedule".into()),
            ("vigil.rows".into(), "170000".into()),
        ],
        artifacts: vec![
            MlflowArtifact {
                path: "roc.svg".into(),
                content_type: "image/svg+xml".into(),
                bytes: SVG.as_bytes().to_vec(),
            },
            MlflowArtifact {
                path: "reports/metrics.json".into(),
                content_type: "application/json".into(),
                bytes: serde_json::to_vec(&json!({"auc": 0.9375, "rows": 170000})).unwrap(),
            },
            MlflowArtifact {
                path: "model/model.json".into(),
                content_type: "application/json".into(),
                bytes: br#"{"kind":"gbdt","trees":[]}"#.to_vec(),
            },
        ],
        registered_model: Some(RegisteredModel {
            name: model.to_owned(),
            description: "Vigil fraud scorer (test)".into(),
        }),
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> reqwest::Response {
        let response = self
            .http
            .get(format!("{}/api/2.0/{path}", self.base))
            .query(query)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response
    }

    async fn json(&self, path: &str, query: &[(&str, &str)]) -> Value {
        self.get(path, query).await.json().await.unwrap()
    }

    async fn bytes(&self, path: &str) -> Vec<u8> {
        self.get(path, &[]).await.bytes().await.unwrap().to_vec()
    }
}

fn pairs(list: &Value) -> BTreeMap<String, Value> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|kv| (kv["key"].as_str().unwrap().to_owned(), kv["value"].clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn file_paths(listing: &Value) -> BTreeSet<(String, bool)> {
    listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["is_dir"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs an MLflow server: MLFLOW_TEST_URI (scripts/mlflow-server); .ci/run runs it"]
async fn a_training_run_lands_in_mlflow_with_its_artifacts_and_model_version() {
    let uri = tracking_uri();
    let client = MlflowClient::new(&format!("{uri}/")).unwrap();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let experiment = format!("vigil-test-{id}");
    let model = format!("vigil-fraud-test-{id}");
    let run = training_run(&experiment, &model);

    let logged = client.log_run(&run).await.unwrap();
    assert_eq!(logged.model_version.as_deref(), Some("1"));
    assert!(
        logged.artifact_uri.starts_with("mlflow-artifacts:/"),
        "{}",
        logged.artifact_uri
    );

    let api = Api {
        http: reqwest::Client::new(),
        base: uri.trim_end_matches('/').to_owned(),
    };

    // The experiment and the run.
    let found = api
        .json(
            "mlflow/experiments/get-by-name",
            &[("experiment_name", &experiment)],
        )
        .await;
    assert_eq!(found["experiment"]["experiment_id"], logged.experiment_id);
    let got = api
        .json("mlflow/runs/get", &[("run_id", &logged.run_id)])
        .await;
    let info = &got["run"]["info"];
    assert_eq!(info["status"], "FINISHED");
    assert_eq!(info["run_name"], "retrain-2024-06-01");
    assert_eq!(info["experiment_id"], logged.experiment_id);
    assert_eq!(info["artifact_uri"], logged.artifact_uri);
    assert_eq!(info["start_time"], run.started_at.timestamp_millis());
    assert_eq!(info["end_time"], run.finished_at.timestamp_millis());

    // Params and metrics, beyond one batch's limits; the non-finite metrics
    // skipped.
    let params = pairs(&got["run"]["data"]["params"]);
    assert_eq!(params.len(), 151, "params: {}", params.len());
    assert_eq!(params["learning_rate"], "0.1");
    assert_eq!(params["p149"], "value 149");
    let metrics = got["run"]["data"]["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 1201, "metrics: {}", metrics.len());
    let by_key: BTreeMap<&str, &Value> = metrics
        .iter()
        .map(|m| (m["key"].as_str().unwrap(), m))
        .collect();
    assert_eq!(by_key["auc"]["value"], 0.9375);
    assert_eq!(by_key["m1199"]["value"], 149.875);
    assert_eq!(by_key["auc"]["step"], 0);
    assert_eq!(
        by_key["auc"]["timestamp"],
        run.finished_at.timestamp_millis()
    );
    assert!(!by_key.contains_key("precision_at_1pct"));
    assert!(!by_key.contains_key("lift"));
    let tags = pairs(&got["run"]["data"]["tags"]);
    assert_eq!(tags["vigil.trigger"], "schedule");
    assert_eq!(tags["vigil.rows"], "170000");
    assert_eq!(tags["mlflow.runName"], "retrain-2024-06-01");

    // The artifacts: listed through both APIs, and downloaded byte for byte.
    let listing = api
        .json("mlflow/artifacts/list", &[("run_id", &logged.run_id)])
        .await;
    assert_eq!(listing["root_uri"], logged.artifact_uri);
    assert_eq!(
        file_paths(&listing),
        BTreeSet::from([
            ("model".to_owned(), true),
            ("reports".to_owned(), true),
            ("roc.svg".to_owned(), false),
        ])
    );
    let root = logged
        .artifact_uri
        .strip_prefix("mlflow-artifacts:/")
        .unwrap();
    let proxied = api
        .json(
            "mlflow-artifacts/artifacts",
            &[("path", &format!("{root}/reports"))],
        )
        .await;
    assert_eq!(
        file_paths(&proxied),
        BTreeSet::from([("metrics.json".to_owned(), false)])
    );
    assert_eq!(
        api.bytes(&format!("mlflow-artifacts/artifacts/{root}/roc.svg"))
            .await,
        SVG.as_bytes()
    );
    assert_eq!(
        api.bytes(&format!(
            "mlflow-artifacts/artifacts/{root}/reports/metrics.json"
        ))
        .await,
        run.artifacts[1].bytes
    );

    // The registered model and its version, pointing at the run's model.
    let registered = api
        .json("mlflow/registered-models/get", &[("name", &model)])
        .await;
    assert_eq!(
        registered["registered_model"]["description"],
        "Vigil fraud scorer (test)"
    );
    let version = api
        .json(
            "mlflow/model-versions/get",
            &[("name", &model), ("version", "1")],
        )
        .await;
    let version = &version["model_version"];
    assert_eq!(version["run_id"], logged.run_id);
    assert_eq!(version["source"], format!("{}/model", logged.artifact_uri));
    let model_listing = api
        .json(
            "mlflow/artifacts/list",
            &[("run_id", &logged.run_id), ("path", "model")],
        )
        .await;
    assert_eq!(
        file_paths(&model_listing),
        BTreeSet::from([("model/model.json".to_owned(), false)])
    );

    // Two more runs at once, into one new experiment and the same model:
    // the experiment is created once (whoever loses the race finds it) and
    // the model gets versions 2 and 3.
    let second_experiment = format!("{experiment}-again");
    let again = training_run(&second_experiment, &model);
    let (a, b) = tokio::join!(client.log_run(&again), client.log_run(&again));
    let (a, b): (LoggedRun, LoggedRun) = (a.unwrap(), b.unwrap());
    assert_eq!(a.experiment_id, b.experiment_id);
    assert_ne!(a.experiment_id, logged.experiment_id);
    assert_ne!(a.run_id, b.run_id);
    let versions: BTreeSet<_> = [a.model_version.unwrap(), b.model_version.unwrap()].into();
    assert_eq!(versions, BTreeSet::from(["2".to_owned(), "3".to_owned()]));
    let search = api
        .json(
            "mlflow/model-versions/search",
            &[("filter", &format!("name='{model}'"))],
        )
        .await;
    assert_eq!(search["model_versions"].as_array().unwrap().len(), 3);
}

#[tokio::test]
#[ignore = "needs an MLflow server: MLFLOW_TEST_URI (scripts/mlflow-server); .ci/run runs it"]
async fn mlflow_errors_carry_the_status_and_mlflow_error_code() {
    let uri = tracking_uri();
    let client = MlflowClient::new(&uri).unwrap();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let experiment = format!("vigil-test-{id}");
    let mut run = training_run(&experiment, "unused");
    run.registered_model = None;
    // MLflow refuses a param logged twice with different values: a 400,
    // answered at once (no retry), and the run is left FAILED.
    run.params.push(("learning_rate".into(), "0.2".into()));
    let started = Instant::now();
    let err = client.log_run(&run).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(20));
    let MlflowError::Api {
        status, error_code, ..
    } = &err
    else {
        panic!("expected an api error, got {err:?}");
    };
    assert_eq!(status.as_u16(), 400, "{err}");
    assert_eq!(
        error_code.as_deref(),
        Some("INVALID_PARAMETER_VALUE"),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message
            .starts_with("mlflow runs/log-batch: http 400 Bad Request: INVALID_PARAMETER_VALUE: "),
        "{message}"
    );
    assert!(!message.ends_with('.'), "{message}");

    let http = reqwest::Client::new();
    let base = uri.trim_end_matches('/');
    let found: Value = http
        .get(format!("{base}/api/2.0/mlflow/experiments/get-by-name"))
        .query(&[("experiment_name", &experiment)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let runs: Value = http
        .post(format!("{base}/api/2.0/mlflow/runs/search"))
        .json(&json!({"experiment_ids": [found["experiment"]["experiment_id"]]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["info"]["status"], "FAILED");
}

#[tokio::test]
async fn logging_to_a_closed_port_fails_quickly_with_a_transport_error() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = MlflowClient::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let run = training_run("vigil-unreachable", "vigil-unreachable");
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(30), client.log_run(&run))
        .await
        .expect("log_run must give up on a closed port, not hang");
    let err = result.unwrap_err();
    let MlflowError::Transport {
        endpoint, attempts, ..
    } = &err
    else {
        panic!("expected a transport error, got {err:?}");
    };
    assert_eq!(endpoint, "experiments/get-by-name");
    assert_eq!(*attempts, 4, "the first try and 3 retries: {err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let message = err.to_string();
    eprintln!("closed port: {message}");
    assert!(
        message.starts_with("mlflow experiments/get-by-name: no answer after 4 attempt(s): "),
        "{message}"
    );
    assert!(message.to_lowercase().contains("connect"), "{message}");
}
