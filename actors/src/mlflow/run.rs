//! What a run to log is: its parameters, metrics, tags, artifacts and the
//! model version it registers, and the checks made before anything is sent.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::MlflowError;

/// The artifact directory whose URI becomes a registered model version's
/// source: the serialized model must be uploaded under it (e.g.
/// `model/model.json`).
pub const MODEL_ARTIFACT_DIR: &str = "model";

/// Most params one `runs/log-batch` call may carry (MLflow's limit).
pub const MAX_PARAMS_PER_BATCH: usize = 100;
/// Most metrics one `runs/log-batch` call may carry (MLflow's limit, which
/// is also the limit on params + metrics + tags together).
pub const MAX_METRICS_PER_BATCH: usize = 1000;

/// One training run as MLflow should record it.
#[derive(Debug, Clone)]
pub struct MlflowRun {
    /// Experiment name; the experiment is created when missing.
    pub experiment: String,
    /// The run's display name (MLflow makes one up when empty).
    pub run_name: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Logged once each; MLflow refuses to change a param's value.
    pub params: Vec<(String, String)>,
    /// Logged at `finished_at`, step 0. Non-finite values (NaN, ±∞) are
    /// skipped with a warning: a JSON number cannot hold them, and MLflow
    /// rejects the `null` they would be encoded as.
    pub metrics: Vec<(String, f64)>,
    /// Set on the run when it is created.
    pub tags: Vec<(String, String)>,
    pub artifacts: Vec<MlflowArtifact>,
    /// When set, the run's `model/` artifact directory (see
    /// [`MODEL_ARTIFACT_DIR`]; `artifacts` must hold at least one file
    /// under it) is registered as a new version of this model.
    pub registered_model: Option<RegisteredModel>,
}

/// A file stored with the run.
#[derive(Debug, Clone)]
pub struct MlflowArtifact {
    /// Relative path under the run's artifact root, `/`-separated, e.g.
    /// `roc.svg` or `model/model.json`.
    pub path: String,
    /// MIME type sent with the upload, e.g. `image/svg+xml`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A model registry entry the run's model becomes a version of.
#[derive(Debug, Clone)]
pub struct RegisteredModel {
    pub name: String,
    /// Used only when the registered model is created; an existing one keeps
    /// its description.
    pub description: String,
}

/// What MLflow recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRun {
    pub run_id: String,
    pub experiment_id: String,
    /// The run's artifact root as MLflow names it (`mlflow-artifacts:/...`).
    pub artifact_uri: String,
    /// The registered model version created from the run, when
    /// [`MlflowRun::registered_model`] was set.
    pub model_version: Option<String>,
}

pub(super) fn validate(run: &MlflowRun) -> Result<(), MlflowError> {
    let invalid = |reason: String| Err(MlflowError::InvalidRun(reason));
    if run.experiment.trim().is_empty() {
        return invalid("the experiment name is empty".into());
    }
    if run.finished_at < run.started_at {
        return invalid(format!(
            "finished_at {} is before started_at {}",
            run.finished_at, run.started_at
        ));
    }
    let mut paths = HashSet::new();
    for artifact in &run.artifacts {
        let path = &artifact.path;
        if path.is_empty()
            || path.contains('\\')
            || path
                .split('/')
                .any(|segment| matches!(segment, "" | "." | ".."))
        {
            return invalid(format!(
                "artifact path {path:?} must be relative, `/`-separated, without empty, `.` or `..` segments"
            ));
        }
        if !paths.insert(path.as_str()) {
            return invalid(format!("artifact path {path:?} appears twice"));
        }
    }
    if let Some(model) = &run.registered_model {
        if model.name.trim().is_empty() {
            return invalid("the registered model name is empty".into());
        }
        let prefix = format!("{MODEL_ARTIFACT_DIR}/");
        if !run.artifacts.iter().any(|a| a.path.starts_with(&prefix)) {
            return invalid(format!(
                "registering model {:?} needs the serialized model among the artifacts under {prefix}",
                model.name
            ));
        }
    }
    Ok(())
}
