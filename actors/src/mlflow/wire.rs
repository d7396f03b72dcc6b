//! The REST API's request and response bodies, and the batching of
//! params and metrics within its limits.

use serde::{Deserialize, Serialize};

use super::run::{MAX_METRICS_PER_BATCH, MAX_PARAMS_PER_BATCH};

/// Splits params and metrics into `runs/log-batch` calls within MLflow's
/// limits: at most 100 params, and at most 1000 params + metrics, per call.
pub(super) fn batches<'a>(
    mut params: Vec<KeyValue<'a>>,
    mut metrics: Vec<Metric<'a>>,
) -> Vec<(Vec<KeyValue<'a>>, Vec<Metric<'a>>)> {
    let mut out = Vec::new();
    while !params.is_empty() || !metrics.is_empty() {
        let p: Vec<_> = params
            .drain(..params.len().min(MAX_PARAMS_PER_BATCH))
            .collect();
        let room = MAX_METRICS_PER_BATCH - p.len();
        let m: Vec<_> = metrics.drain(..metrics.len().min(room)).collect();
        out.push((p, m));
    }
    out
}

pub(super) fn key_values(pairs: &[(String, String)]) -> Vec<KeyValue<'_>> {
    pairs
        .iter()
        .map(|(key, value)| KeyValue { key, value })
        .collect()
}

#[derive(Serialize)]
pub(super) struct KeyValue<'a> {
    pub(super) key: &'a str,
    pub(super) value: &'a str,
}

#[derive(Serialize)]
pub(super) struct Metric<'a> {
    pub(super) key: &'a str,
    pub(super) value: f64,
    pub(super) timestamp: i64,
    pub(super) step: i64,
}

#[derive(Serialize)]
pub(super) struct CreateExperiment<'a> {
    pub(super) name: &'a str,
}

#[derive(Serialize)]
pub(super) struct CreateRun<'a> {
    pub(super) experiment_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) run_name: Option<&'a str>,
    pub(super) start_time: i64,
    pub(super) tags: Vec<KeyValue<'a>>,
}

#[derive(Serialize)]
pub(super) struct LogBatch<'a> {
    pub(super) run_id: &'a str,
    pub(super) params: Vec<KeyValue<'a>>,
    pub(super) metrics: Vec<Metric<'a>>,
}

#[derive(Serialize)]
pub(super) struct UpdateRun<'a> {
    pub(super) run_id: &'a str,
    pub(super) status: &'a str,
    pub(super) end_time: i64,
}

#[derive(Serialize)]
pub(super) struct CreateRegisteredModel<'a> {
    pub(super) name: &'a str,
    pub(super) description: &'a str,
}

#[derive(Serialize)]
pub(super) struct CreateModelVersion<'a> {
    pub(super) name: &'a str,
    pub(super) source: &'a str,
    pub(super) run_id: &'a str,
}

#[derive(Deserialize)]
pub(super) struct GetExperimentResponse {
    pub(super) experiment: Experiment,
}

#[derive(Deserialize)]
pub(super) struct Experiment {
    pub(super) experiment_id: String,
    pub(super) lifecycle_stage: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct CreateExperimentResponse {
    pub(super) experiment_id: String,
}

#[derive(Deserialize)]
pub(super) struct CreateRunResponse {
    pub(super) run: CreatedRun,
}

#[derive(Deserialize)]
pub(super) struct CreatedRun {
    pub(super) info: RunInfo,
}

#[derive(Deserialize)]
pub(super) struct RunInfo {
    pub(super) run_id: String,
    pub(super) artifact_uri: String,
}

#[derive(Deserialize)]
pub(super) struct CreateModelVersionResponse {
    pub(super) model_version: ModelVersion,
}

#[derive(Deserialize)]
pub(super) struct ModelVersion {
    pub(super) version: String,
}
