//! A client for MLflow's tracking server: logs one model training run —
//! parameters, metrics, tags, artifacts and, optionally, a registered model
//! version — through the REST API 2.0.
//!
//! Artifacts are uploaded through the tracking server's artifact proxy
//! (`PUT /api/2.0/mlflow-artifacts/artifacts/...`), so the server must be
//! started with `--artifacts-destination` (its runs' artifact URIs are then
//! `mlflow-artifacts:/...`); a server that hands out other artifact URIs
//! (`file:`, `s3:`, ... with `--default-artifact-root` or `--no-serve-artifacts`)
//! gets [`MlflowError::UnsupportedArtifactUri`] for a run with artifacts.
//!
//! Checked against MLflow 3.17.
//!
//! ```no_run
//! # async fn log(model_json: Vec<u8>) -> Result<(), vigil_actors::mlflow::MlflowError> {
//! use vigil_actors::mlflow::*;
//! let now = chrono::Utc::now();
//! let client = MlflowClient::new("http://127.0.0.1:5000")?;
//! let logged = client
//!     .log_run(&MlflowRun {
//!         experiment: "vigil-retraining".into(),
//!         run_name: "retrain-2024-06-01".into(),
//!         started_at: now,
//!         finished_at: now,
//!         params: vec![("learning_rate".into(), "0.1".into())],
//!         metrics: vec![("auc".into(), 0.93)],
//!         tags: vec![],
//!         artifacts: vec![MlflowArtifact {
//!             path: "model/model.json".into(),
//!             content_type: "application/json".into(),
//!             bytes: model_json,
//!         }],
//!         registered_model: Some(RegisteredModel {
//!             name: "vigil-fraud".into(),
//!             description: "Vigil's fraud scorer".into(),
//!         }),
//!     })
//!     .await?;
//! println!("run {} version {:?}", logged.run_id, logged.model_version);
//! # Ok(()) }
//! ```

mod client;
mod error;
mod queue;
mod run;
mod wire;

pub use client::MlflowClient;
pub use error::MlflowError;
pub use queue::MlflowQueue;
pub use run::{
    LoggedRun, MAX_METRICS_PER_BATCH, MAX_PARAMS_PER_BATCH, MODEL_ARTIFACT_DIR, MlflowArtifact,
    MlflowRun, RegisteredModel,
};

#[cfg(test)]
mod tests;
