//! One training run end to end, shared by the Retrainer actor and
//! `vigil train`: read labelled rows, split by time, train off the async
//! runtime, judge against the gates and the production model, register.
//! The caller promotes a model that earned it and logs the run to MLflow
//! when configured: the Retrainer through the Promoter and a queue of its
//! own, so that neither waits for the other.

mod artifacts;
mod mlflow_log;

pub use mlflow_log::{MlflowLog, log_to_mlflow};

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use vigil_core::model::dataset::{SplitError, time_split};
use vigil_core::model::fraud_model::input_names;
use vigil_core::model::gates::{QualityGates, Verdict, judge};
use vigil_core::model::training::{Stage, Trained, TrainingParams, evaluate_model, train};
use vigil_core::model::{FraudModel, VersionMetrics};

use self::artifacts::artifacts;
use self::mlflow_log::mlflow_run;
use crate::error::ActorError;
use crate::messages::TrainingOutcome;
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
