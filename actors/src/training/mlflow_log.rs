//! A training as an MLflow run: its parameters, metrics, tags, charts and
//! model, logged to the tracking server off the training path (the
//! registry in the store is the source of truth; MLflow mirrors it).

use chrono::Utc;
use serde_json::{Value, json};
use vigil_core::model::gates::Verdict;
use vigil_core::model::training::TrainingReport;
use vigil_core::model::{FraudModel, VersionMetrics};

use super::TrainingSettings;
use super::artifacts::artifacts;
use crate::mlflow::{MODEL_ARTIFACT_DIR, MlflowArtifact, MlflowClient, MlflowRun, RegisteredModel};

/// A training run to log to an MLflow tracking server.
pub struct MlflowLog {
    pub uri: String,
    pub version: i32,
    pub run: MlflowRun,
}

/// Logs the run to MLflow. MLflow is a mirror of the registry, not the
/// source of truth: a failure is logged and the training stands.
pub async fn log_to_mlflow(log: &MlflowLog) {
    let result = match MlflowClient::new(&log.uri) {
        Ok(client) => client.log_run(&log.run).await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, version = log.version, "cannot log the training to mlflow");
    }
}

pub(super) fn mlflow_run(
    version: i32,
    report: &TrainingReport,
    verdict: &Verdict,
    metrics: &VersionMetrics,
    model: &FraudModel,
    settings: &TrainingSettings,
) -> MlflowRun {
    let e = &report.evaluation;
    let p = &settings.params;
    let artifacts = artifacts(report)
        .unwrap_or_default()
        .into_iter()
        .map(|(path, body)| MlflowArtifact {
            content_type: if path.ends_with(".svg") {
                "image/svg+xml"
            } else {
                "application/json"
            }
            .into(),
            bytes: match body {
                Value::String(s) => s.into_bytes(),
                other => other.to_string().into_bytes(),
            },
            path,
        })
        .chain([
            MlflowArtifact {
                path: "metrics.json".into(),
                content_type: "application/json".into(),
                bytes: json!(metrics).to_string().into_bytes(),
            },
            MlflowArtifact {
                path: format!("{MODEL_ARTIFACT_DIR}/model.json"),
                content_type: "application/json".into(),
                bytes: model.to_bytes(),
            },
        ])
        .collect();
    MlflowRun {
        experiment: "vigil".into(),
        run_name: format!("vigil-model-v{version}"),
        started_at: Utc::now()
            - chrono::TimeDelta::milliseconds((report.train_seconds * 1e3) as i64),
        finished_at: Utc::now(),
        params: vec![
            ("iterations".into(), p.gbdt.iterations.to_string()),
            ("learning_rate".into(), p.gbdt.learning_rate.to_string()),
            ("max_depth".into(), p.gbdt.max_depth.to_string()),
            ("min_leaf_weight".into(), p.gbdt.min_leaf_weight.to_string()),
            ("l2".into(), p.gbdt.l2.to_string()),
            ("iforest_trees".into(), p.iforest.trees.to_string()),
            (
                "iforest_sample_size".into(),
                p.iforest.sample_size.to_string(),
            ),
            (
                "positive_weight".into(),
                format!("{:.4}", report.positive_weight),
            ),
            ("train_rows".into(), report.train_rows.to_string()),
            ("test_rows".into(), report.test_rows.to_string()),
        ],
        metrics: vec![
            ("roc_auc".into(), e.roc_auc.unwrap_or(f64::NAN)),
            ("pr_auc".into(), e.pr_auc.unwrap_or(f64::NAN)),
            ("precision_at_review".into(), e.at_review.precision),
            ("recall_at_review".into(), e.at_review.recall),
            ("f1_at_review".into(), e.at_review.f1),
            ("precision_at_block".into(), e.at_block.precision),
            ("recall_at_block".into(), e.at_block.recall),
            ("f1_at_block".into(), e.at_block.f1),
            (
                "card_precision_at_k".into(),
                e.card_precision_at_k.unwrap_or(f64::NAN),
            ),
            ("train_seconds".into(), report.train_seconds),
        ],
        tags: vec![
            ("vigil.version".into(), version.to_string()),
            ("vigil.promoted".into(), verdict.promote.to_string()),
            ("vigil.reason".into(), verdict.reason.clone()),
        ],
        artifacts,
        registered_model: Some(RegisteredModel {
            name: "vigil-fraud".into(),
            description: "Vigil gradient-boosted trees + Isolation Forest".into(),
        }),
    }
}
