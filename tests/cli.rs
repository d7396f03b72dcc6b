//! The `vigil` binary: configuration errors, `vigil config`, `vigil migrate`,
//! `vigil train`, the warning of an exposed API without a key.

mod common;

use std::process::Command;

fn vigil(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command.current_dir(dir);
    // The tests' own environment must not leak configuration in.
    for (key, _) in std::env::vars() {
        if key.starts_with("VIGIL_") || key == "MLFLOW_TRACKING_URI" || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    command
}

#[test]
fn an_unknown_key_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vigil.toml"), "[producer]\nrat = 5\n").unwrap();
    let output = vigil(dir.path()).arg("serve").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rat"), "{stderr}");

    let output = vigil(dir.path())
        .arg("config")
        .env("VIGIL_PRODUCER_SPEED", "3")
        .arg("--config")
        .arg("/dev/null")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("speed"));
}

#[test]
fn config_prints_the_effective_layers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vigil.toml"),
        "seed = 7\n[producer]\nrate = 2.0\n",
    )
    .unwrap();
    let output = vigil(dir.path())
        .env("VIGIL_PRODUCER_RATE", "3")
        .args(["config", "--backfill-days", "4"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: toml::Table = toml::from_str(&String::from_utf8_lossy(&output.stdout)).unwrap();
    assert_eq!(printed["seed"].as_integer(), Some(7));
    assert_eq!(printed["producer"]["rate"].as_float(), Some(3.0));
    assert_eq!(printed["backfill"]["days"].as_integer(), Some(4));
    assert_eq!(printed["http"]["addr"].as_str(), Some("127.0.0.1:8000"));
}

/// A bad value stops start-up naming its own key, whichever layer set it.
#[test]
fn a_bad_value_names_its_own_key() {
    let dir = tempfile::tempdir().unwrap();
    for (variable, value, key) in [
        ("VIGIL_MODEL_IFOREST_TREES", "0", "model.iforest_trees"),
        ("VIGIL_MODEL_MAX_DEPTH", "0", "model.max_depth"),
        ("VIGIL_DRIFT_MIN_ROWS", "0", "drift.min_rows"),
        ("VIGIL_SHUTDOWN_TIMEOUT", "soon", "shutdown.timeout"),
    ] {
        let output = vigil(dir.path())
            .arg("config")
            .env(variable, value)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{variable}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(key), "{variable}={value}: {stderr}");
        assert!(
            !stderr.contains("model.iterations"),
            "{variable}={value}: {stderr}"
        );
    }
}

/// Dependencies log at `warn` by default: the migrations of a fresh store
/// are one line of Vigil's, not a screen of sea-orm's; with
/// `log.format = json` every line is a JSON object.
#[test]
fn migrations_are_one_log_line_in_text_and_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let output = vigil(dir.path())
        .args(["migrate", "--data-dir", "text"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("migrations applied").count(), 1, "{stderr}");
    assert!(!stderr.contains("sea_orm_migration"), "{stderr}");
    assert!(!stderr.contains("Applying migration"), "{stderr}");

    let output = vigil(dir.path())
        .args(["migrate", "--data-dir", "json"])
        .env("VIGIL_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let applied: Vec<_> = lines
        .iter()
        .filter(|l| l["message"] == "migrations applied")
        .collect();
    assert_eq!(applied.len(), 1, "{stderr}");
    assert!(applied[0]["count"].as_u64().unwrap() >= 1, "{stderr}");
}

#[test]
fn migrate_creates_the_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let status = vigil(dir.path())
        .args(["migrate", "--data-dir", "store"])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(dir.path().join("store/vigil.db").exists());
}

#[test]
fn train_prints_the_metrics_table_and_logs_to_mlflow_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Two weeks of history, written by a runtime that does not train itself.
    actix_rt::System::new().block_on(async {
        let mut config = common::trained_config(&vigil_actors::store::sqlite_url(&data));
        config.model.train_on_start = false;
        let mut runtime = vigil_actors::Runtime::start(vigil::app::runtime_config(&config))
            .await
            .unwrap();
        runtime.backfill_finished().await.unwrap().unwrap();
    });
    let started_ms = chrono::Utc::now().timestamp_millis();
    let mlflow = std::env::var("MLFLOW_TEST_URI").ok();
    let mut command = vigil(dir.path());
    command
        .args(["train", "--data-dir", "data"])
        .env("VIGIL_FEATURES_LABEL_DELAY", "2days")
        // The data depend on the start time and now and then miss the
        // default gates (recall 0.2976 < 0.30 once): promotion is not
        // what this test is about.
        .env("VIGIL_MODEL_MIN_RECALL", "0")
        .env("VIGIL_MODEL_MIN_PR_AUC", "0");
    if let Some(uri) = &mlflow {
        command.env("MLFLOW_TRACKING_URI", uri);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("model version 1: promoted to production"),
        "{stdout}"
    );
    for row in [
        "roc_auc",
        "pr_auc",
        "recall at_review (0.3)",
        "confusion at_block",
        "card_precision@20",
    ] {
        assert!(stdout.contains(row), "{row} missing from\n{stdout}");
    }

    let Some(uri) = mlflow else {
        // Under CI the server must be there: a missing one fails.
        assert!(
            !common::in_ci(),
            "MLFLOW_TEST_URI is not set under CI: {}",
            common::MLFLOW_HOW
        );
        eprintln!("MLFLOW_TEST_URI not set: the run's mirror in MLflow is not checked");
        return;
    };
    let runs: serde_json::Value = actix_rt::System::new().block_on(async {
        let http = reqwest::Client::new();
        let experiment: serde_json::Value = http
            .get(format!("{uri}/api/2.0/mlflow/experiments/get-by-name"))
            .query(&[("experiment_name", "vigil")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = experiment["experiment"]["experiment_id"].clone();
        http.post(format!("{uri}/api/2.0/mlflow/runs/search"))
            .json(&serde_json::json!({
                "experiment_ids": [id],
                "filter": format!("attributes.start_time >= {}", started_ms - 60_000),
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let run = &runs["runs"][0];
    let metrics = run["data"]["metrics"]
        .as_array()
        .expect("the run has metrics");
    assert!(metrics.iter().any(|m| m["key"] == "pr_auc"), "{run}");
    assert_eq!(run["info"]["status"], "FINISHED", "{run}");
}

#[test]
fn serve_warns_when_it_listens_beyond_loopback_without_an_api_key() {
    let dir = tempfile::tempdir().unwrap();
    // An unusable data directory ends start-up right after the warning.
    let start = |addr: &str, key: Option<&str>| {
        let mut command = vigil(dir.path());
        command
            .arg("serve")
            .env("VIGIL_HTTP_ADDR", addr)
            .env("VIGIL_DATA_DIR", "/dev/null/vigil");
        if let Some(key) = key {
            command.env("VIGIL_API_KEY", key);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let exposed = start("0.0.0.0:0", None);
    assert!(exposed.contains("WITHOUT an API key"), "{exposed}");
    let with_key = start("0.0.0.0:0", Some("secret"));
    assert!(!with_key.contains("WITHOUT an API key"), "{with_key}");
    let loopback = start("127.0.0.1:0", None);
    assert!(!loopback.contains("WITHOUT an API key"), "{loopback}");
}
