//! Unit tests of the MLflow client (no server: the live ones are in
//! `tests/mlflow.rs`).

use chrono::Utc;
use reqwest::StatusCode;

use super::client::*;
use super::error::*;
use super::run::*;
use super::wire::*;

fn run() -> MlflowRun {
    let now = Utc::now();
    MlflowRun {
        experiment: "e".into(),
        run_name: "r".into(),
        started_at: now,
        finished_at: now,
        params: vec![],
        metrics: vec![],
        tags: vec![],
        artifacts: vec![],
        registered_model: None,
    }
}

fn artifact(path: &str) -> MlflowArtifact {
    MlflowArtifact {
        path: path.into(),
        content_type: "text/plain".into(),
        bytes: b"x".to_vec(),
    }
}

#[test]
fn new_accepts_http_and_https_and_trims_the_trailing_slash() {
    let client = MlflowClient::new("http://127.0.0.1:5000/").unwrap();
    assert_eq!(
        client.api_url("runs/create").as_str(),
        "http://127.0.0.1:5000/api/2.0/mlflow/runs/create"
    );
    let client = MlflowClient::new("https://mlflow.example/prefix/").unwrap();
    assert_eq!(client.base().as_str(), "https://mlflow.example/prefix");
    assert_eq!(
        client.api_url("experiments/get-by-name").as_str(),
        "https://mlflow.example/prefix/api/2.0/mlflow/experiments/get-by-name"
    );
    for bad in [
        "file:///tmp/mlruns",
        "127.0.0.1:5000",
        "",
        "http://h/?q=1",
        "databricks",
    ] {
        let err = MlflowClient::new(bad).unwrap_err();
        assert!(
            matches!(err, MlflowError::InvalidUri { .. }),
            "{bad}: {err}"
        );
    }
}

#[test]
fn batches_respect_mlflow_limits() {
    let keys: Vec<String> = (0..2500).map(|i| format!("k{i}")).collect();
    let params: Vec<_> = keys[..250]
        .iter()
        .map(|k| KeyValue { key: k, value: "v" })
        .collect();
    let metrics: Vec<_> = keys
        .iter()
        .map(|k| Metric {
            key: k,
            value: 1.0,
            timestamp: 0,
            step: 0,
        })
        .collect();
    let split = batches(params, metrics);
    assert!(split.iter().all(
        |(p, m)| p.len() <= MAX_PARAMS_PER_BATCH && p.len() + m.len() <= MAX_METRICS_PER_BATCH
    ));
    assert_eq!(split.iter().map(|(p, _)| p.len()).sum::<usize>(), 250);
    assert_eq!(split.iter().map(|(_, m)| m.len()).sum::<usize>(), 2500);
    assert_eq!(split.len(), 3);
    assert!(batches(vec![], vec![]).is_empty());
}

#[test]
fn artifact_root_is_the_path_of_the_mlflow_artifacts_uri() {
    assert_eq!(
        artifact_root("mlflow-artifacts:/1/abc/artifacts").unwrap(),
        ["1", "abc", "artifacts"]
    );
    assert_eq!(
        artifact_root("mlflow-artifacts://host:5000/1/abc/artifacts").unwrap(),
        ["1", "abc", "artifacts"]
    );
    for unsupported in [
        "file:///tmp/mlruns/1/abc/artifacts",
        "s3://b/1",
        "mlflow-artifacts:/",
    ] {
        assert!(matches!(
            artifact_root(unsupported),
            Err(MlflowError::UnsupportedArtifactUri(_))
        ));
    }
}

#[test]
fn validate_rejects_bad_paths_and_a_model_without_its_file() {
    assert!(validate(&run()).is_ok());
    for bad in ["", "/abs", "a/../b", "a//b", "./a", "a\\b", "dir/"] {
        let mut r = run();
        r.artifacts = vec![artifact(bad)];
        assert!(validate(&r).is_err(), "{bad:?}");
    }
    let mut r = run();
    r.artifacts = vec![artifact("a.txt"), artifact("a.txt")];
    assert!(validate(&r).is_err());

    let mut r = run();
    r.registered_model = Some(RegisteredModel {
        name: "m".into(),
        description: String::new(),
    });
    r.artifacts = vec![artifact("model.json")];
    let err = validate(&r).unwrap_err().to_string();
    assert!(err.contains("model/"), "{err}");
    r.artifacts = vec![artifact("model/model.json")];
    assert!(validate(&r).is_ok());

    let mut r = run();
    r.finished_at = r.started_at - chrono::Duration::seconds(1);
    assert!(validate(&r).is_err());
}

/// A server on 127.0.0.1 that answers each request with the next of
/// `answers` (status, body), then the last one again; the number of
/// requests it got.
async fn fake_server(
    answers: Vec<(u16, &'static str)>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let served = count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buf = [0; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let n = served.fetch_add(1, Ordering::SeqCst);
            let (status, body) = answers[n.min(answers.len() - 1)];
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });
    (uri, count)
}

const FOUND: &str = r#"{"experiment": {"experiment_id": "7", "lifecycle_stage": "active"}}"#;

#[tokio::test]
async fn server_errors_are_retried_and_client_errors_are_not() {
    use std::sync::atomic::Ordering;
    let (uri, count) = fake_server(vec![(503, "busy"), (502, ""), (200, FOUND)]).await;
    let client = MlflowClient::new(&uri).unwrap();
    assert_eq!(client.experiment_id("e").await.unwrap(), "7");
    assert_eq!(count.load(Ordering::SeqCst), 3);

    let (uri, count) = fake_server(vec![(
        500,
        r#"{"error_code": "INTERNAL_ERROR", "message": "boom."}"#,
    )])
    .await;
    let err = MlflowClient::new(&uri)
        .unwrap()
        .experiment_id("e")
        .await
        .unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), MAX_ATTEMPTS as usize);
    assert_eq!(
        err.to_string(),
        "mlflow experiments/get-by-name: http 500 Internal Server Error: INTERNAL_ERROR: boom"
    );

    let (uri, count) = fake_server(vec![(
        403,
        r#"{"error_code": "PERMISSION_DENIED", "message": "no"}"#,
    )])
    .await;
    let err = MlflowClient::new(&uri)
        .unwrap()
        .experiment_id("e")
        .await
        .unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
    assert_eq!(err.error_code(), Some("PERMISSION_DENIED"));

    let (uri, _) = fake_server(vec![(
        200,
        r#"{"experiment": {"experiment_id": "7", "lifecycle_stage": "deleted"}}"#,
    )])
    .await;
    let err = MlflowClient::new(&uri)
        .unwrap()
        .experiment_id("e")
        .await
        .unwrap_err();
    assert!(matches!(err, MlflowError::ExperimentDeleted(_)), "{err}");

    let (uri, _) = fake_server(vec![(502, "<html>Bad Gateway</html>")]).await;
    let err = MlflowClient::new(&uri)
        .unwrap()
        .experiment_id("e")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "mlflow experiments/get-by-name: http 502 Bad Gateway: <html>Bad Gateway</html>"
    );
}

#[test]
fn api_errors_name_the_status_code_and_message() {
    let err = MlflowError::Api {
        endpoint: "experiments/create".into(),
        status: StatusCode::BAD_REQUEST,
        error_code: Some("RESOURCE_ALREADY_EXISTS".into()),
        message: "Experiment(name=x) already exists".into(),
    };
    assert_eq!(
        err.to_string(),
        "mlflow experiments/create: http 400 Bad Request: RESOURCE_ALREADY_EXISTS: Experiment(name=x) already exists"
    );
    assert_eq!(err.error_code(), Some("RESOURCE_ALREADY_EXISTS"));
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
}
