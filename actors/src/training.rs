//! One training run end to end, shared by the Retrainer actor and
//! `vigil train`: read labelled rows, split by time, train off the async
//! runtime, judge against the gates and the production model, register.
//! The caller promotes a model that earned it and logs the run to MLflow
//! when configured: the Retrainer through the Promoter and a queue of its
//! own, so that neither waits for the other.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use vigil_core::model::dataset::{SplitError, time_split};
use vigil_core::model::fraud_model::input_names;
use vigil_core::model::gates::{QualityGates, Verdict, judge};
use vigil_core::model::training::{Stage, Trained, TrainingParams, evaluate_model, train};
use vigil_core::model::{FraudModel, VersionMetrics, plots};

use crate::error::ActorError;
use crate::messages::TrainingOutcome;
use crate::mlflow::{MODEL_ARTIFACT_DIR, MlflowArtifact, MlflowClient, MlflowRun, RegisteredModel};
use crate::store::{NewModel, Store};

/// How to train and when to promote.
#[derive(Debug, Clone)]
pub struct TrainingSettings {
    pub params: TrainingParams,
    pub gates: QualityGates,
    /// MLflow tracking server, when runs should also be logged there.
    pub mlflow_uri: Option<String>,
}

/// The algorithm name kept in the registry.
pub const ALGORITHM: &str = "gbdt+isolation_forest";

/// A finished run: what to answer, the model to promote if it earned it,
/// and the run to log to MLflow.
pub struct TrainingRun {
    pub outcome: TrainingOutcome,
    /// A registered model that passed the gates: to promote.
    pub promote: Option<Candidate>,
    /// The run for MLflow, when a tracking server is configured.
    pub mlflow: Option<MlflowLog>,
}

/// A registered model that passed the gates.
pub struct Candidate {
    pub version: i32,
    pub model: Arc<FraudModel>,
    pub registered_at: DateTime<Utc>,
    /// The gates' verdict, recorded as the stage reason.
    pub reason: String,
}

/// A training run to log to an MLflow tracking server.
pub struct MlflowLog {
    pub uri: String,
    pub version: i32,
    pub run: MlflowRun,
}

/// Trains, judges and registers a model. `progress` hears each stage
/// (from a blocking thread).
pub async fn train_and_register(
    store: &Store,
    settings: &TrainingSettings,
    trigger: &str,
    progress: impl FnMut(Stage) + Send + 'static,
) -> Result<TrainingRun, ActorError> {
    let rows = store.labeled_rows().await?;
    let Some(now) = rows.iter().map(|r| r.time).max() else {
        return Ok(skipped("no transactions with features yet".into()));
    };
    let champion = store.production_model().await?;
    let params = settings.params;
    // Minutes of CPU on a blocking thread: no stall of the calling actor.
    let computed = crate::supervisor::protect(tokio::task::spawn_blocking(move || {
        let mut progress = progress;
        let split = time_split(rows, now, &params.split)?;
        let trained = train(&split, &params, &mut progress)
            .map_err(|e| TrainingFailure::Model(e.to_string()))?;
        // The champion is judged on the challenger's test window, so the
        // comparison is like for like.
        // A production model that no longer decodes cannot be a champion:
        // the challenger is judged on the gates alone and may replace it.
        let champion = champion.and_then(|row| match FraudModel::from_bytes(&row.artifact) {
            Ok(m) => Some((row.version, evaluate_model(&m, &split.test, &params))),
            Err(e) => {
                tracing::warn!(version = row.version, error = %e, "the production model does not decode");
                None
            }
        });
        Ok::<_, TrainingFailure>((trained, champion))
    }))
    .await
    .map_err(|e| ActorError::Failed(format!("training task failed: {e}")))?;
    let (trained, champion) = match computed {
        Ok(done) => done,
        Err(TrainingFailure::Split(e)) => return Ok(skipped(e.to_string())),
        Err(TrainingFailure::Model(e)) => return Err(ActorError::Failed(e)),
    };

    let verdict = judge(
        &settings.gates,
        &trained.report.evaluation,
        champion.as_ref().map(|(_, e)| e),
    );
    let metrics = VersionMetrics::new(&trained.report, champion.as_ref().map(|(v, e)| (*v, e)));
    let (version, registered_at) = store
        .register_model(new_model(&trained, settings, &verdict, trigger, &metrics)?)
        .await?;
    let model = Arc::new(trained.model);
    let mlflow = settings.mlflow_uri.as_ref().map(|uri| MlflowLog {
        uri: uri.clone(),
        version,
        run: mlflow_run(
            version,
            &trained.report,
            &verdict,
            &metrics,
            &model,
            settings,
        ),
    });
    let promote = verdict.promote.then(|| Candidate {
        version,
        model,
        registered_at,
        reason: verdict.reason.clone(),
    });
    Ok(TrainingRun {
        outcome: TrainingOutcome::Trained {
            version,
            promoted: verdict.promote,
            reason: verdict.reason,
            metrics: Box::new(metrics),
            train_seconds: trained.report.train_seconds,
        },
        promote,
        mlflow,
    })
}

enum TrainingFailure {
    Split(SplitError),
    Model(String),
}

impl From<SplitError> for TrainingFailure {
    fn from(e: SplitError) -> Self {
        TrainingFailure::Split(e)
    }
}

fn skipped(reason: String) -> TrainingRun {
    tracing::info!(reason, "training skipped");
    TrainingRun {
        outcome: TrainingOutcome::Skipped { reason },
        promote: None,
        mlflow: None,
    }
}

fn new_model(
    trained: &Trained,
    settings: &TrainingSettings,
    verdict: &Verdict,
    trigger: &str,
    metrics: &VersionMetrics,
) -> Result<NewModel, ActorError> {
    let r = &trained.report;
    Ok(NewModel {
        algorithm: ALGORITHM.to_owned(),
        params: json!({"training": settings.params, "gates": settings.gates, "trigger": trigger}),
        metrics: json!(metrics),
        feature_schema: json!(input_names()),
        model: trained.model.to_bytes(),
        artifacts: artifacts(r)?,
        train_start: r.train_window.start,
        train_end: r.train_window.end,
        test_start: r.test_window.start,
        test_end: r.test_window.end,
        train_rows: r.train_rows as i64,
        test_rows: r.test_rows as i64,
        stage_reason: verdict.reason.clone(),
    })
}

/// Artifact name → body: the SVG charts, and the data behind them as JSON.
fn artifacts(
    r: &vigil_core::model::training::TrainingReport,
) -> Result<serde_json::Map<String, Value>, ActorError> {
    let plot = |e: plots::PlotError| ActorError::Failed(format!("cannot draw artifact: {e}"));
    let base_rate = r.test_frauds as f64 / r.test_rows.max(1) as f64;
    let mut map = serde_json::Map::new();
    map.insert(
        "roc_curve.svg".into(),
        Value::String(plots::roc_svg(&r.roc_curve, r.evaluation.roc_auc).map_err(plot)?),
    );
    map.insert(
        "pr_curve.svg".into(),
        Value::String(plots::pr_svg(&r.pr_curve, r.evaluation.pr_auc, base_rate).map_err(plot)?),
    );
    map.insert(
        "feature_importance.svg".into(),
        Value::String(plots::importance_svg(&r.importance).map_err(plot)?),
    );
    map.insert("feature_importance.json".into(), json!(r.importance));
    map.insert(
        "curves.json".into(),
        json!({"roc": r.roc_curve, "pr": r.pr_curve}),
    );
    Ok(map)
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

fn mlflow_run(
    version: i32,
    report: &vigil_core::model::training::TrainingReport,
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
