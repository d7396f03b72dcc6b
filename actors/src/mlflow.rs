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

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode, Url};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

/// The artifact directory whose URI becomes a registered model version's
/// source: the serialized model must be uploaded under it (e.g.
/// `model/model.json`).
pub const MODEL_ARTIFACT_DIR: &str = "model";

/// Most params one `runs/log-batch` call may carry (MLflow's limit).
pub const MAX_PARAMS_PER_BATCH: usize = 100;
/// Most metrics one `runs/log-batch` call may carry (MLflow's limit, which
/// is also the limit on params + metrics + tags together).
pub const MAX_METRICS_PER_BATCH: usize = 1000;

/// Every request times out after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A request is sent at most this many times: the first try and up to three
/// retries after a connect error or a 5xx answer.
const MAX_ATTEMPTS: u32 = 4;
/// Wait before the first retry; doubled before each next one.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest part of a non-JSON error body kept in an error message.
const MAX_ERROR_BODY: usize = 500;

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

/// Why a run could not be logged.
#[derive(Debug, thiserror::Error)]
pub enum MlflowError {
    #[error("invalid mlflow tracking uri {uri:?}: {reason}")]
    InvalidUri { uri: String, reason: String },
    #[error("invalid mlflow run: {0}")]
    InvalidRun(String),
    #[error("could not build the http client: {0}")]
    Client(#[source] reqwest::Error),
    /// No answer: connection refused, timeout, broken connection. `detail`
    /// holds the whole cause chain.
    #[error("mlflow {endpoint}: no answer after {attempts} attempt(s): {detail}")]
    Transport {
        endpoint: String,
        attempts: u32,
        detail: String,
        error: reqwest::Error,
    },
    /// MLflow answered with an error status. `error_code` and `message` come
    /// from its JSON error body (`message` is the raw body when it is not
    /// JSON).
    #[error("mlflow {endpoint}: http {status}{}", api_detail(.error_code, .message))]
    Api {
        endpoint: String,
        status: StatusCode,
        error_code: Option<String>,
        message: String,
    },
    #[error("mlflow {endpoint}: unexpected response: {reason}")]
    Decode { endpoint: String, reason: String },
    #[error("mlflow experiment {0:?} is deleted: restore it or log to another experiment")]
    ExperimentDeleted(String),
    #[error(
        "run artifact uri {0:?} is not served by the tracking server: start it with --artifacts-destination"
    )]
    UnsupportedArtifactUri(String),
}

fn api_detail(error_code: &Option<String>, message: &str) -> String {
    match (error_code, message.is_empty()) {
        (Some(code), false) => format!(": {code}: {message}"),
        (Some(code), true) => format!(": {code}"),
        (None, false) => format!(": {message}"),
        (None, true) => String::new(),
    }
}

impl MlflowError {
    /// MLflow's `error_code` (e.g. `RESOURCE_ALREADY_EXISTS`), for an error
    /// answer that had one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            MlflowError::Api { error_code, .. } => error_code.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status of an error answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            MlflowError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    fn transport(endpoint: &str, attempts: u32, error: reqwest::Error) -> Self {
        let error = error.without_url();
        let mut detail = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            let _ = write!(detail, ": {cause}");
            source = cause.source();
        }
        MlflowError::Transport {
            endpoint: endpoint.to_owned(),
            attempts,
            detail,
            error,
        }
    }
}

/// Talks to one MLflow tracking server.
#[derive(Debug, Clone)]
pub struct MlflowClient {
    base: Url,
    http: reqwest::Client,
}

impl MlflowClient {
    /// A client for the tracking server at `tracking_uri` (`http://` or
    /// `https://`, optionally with a path prefix; a trailing slash is
    /// ignored). Each request times out after 30 s.
    pub fn new(tracking_uri: &str) -> Result<Self, MlflowError> {
        let invalid = |reason: &str| MlflowError::InvalidUri {
            uri: tracking_uri.to_owned(),
            reason: reason.to_owned(),
        };
        let mut base = Url::parse(tracking_uri.trim()).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if base.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no host"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid("a query or fragment is not allowed"));
        }
        let path = base.path().trim_end_matches('/').to_owned();
        base.set_path(&path);
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(MlflowError::Client)?;
        Ok(MlflowClient { base, http })
    }

    /// The tracking server's URI as given to [`MlflowClient::new`], without
    /// a trailing slash.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Logs `run`: finds or creates its experiment, creates the run, logs
    /// its params and metrics in batches within MLflow's limits, uploads its
    /// artifacts, registers the model version when asked, and marks the run
    /// `FINISHED` with `finished_at` as end time.
    ///
    /// When a step after the run's creation fails, the run is marked
    /// `FAILED` (best effort) and the step's error returned. Connect errors
    /// and 5xx answers are retried up to 3 times with backoff, 4xx answers
    /// are not; so a retried request that had in fact been processed may
    /// log a metric point twice.
    pub async fn log_run(&self, run: &MlflowRun) -> Result<LoggedRun, MlflowError> {
        validate(run)?;
        let experiment_id = self.experiment_id(&run.experiment).await?;
        let created: CreateRunResponse = self
            .post(
                "runs/create",
                &CreateRun {
                    experiment_id: &experiment_id,
                    run_name: (!run.run_name.is_empty()).then_some(run.run_name.as_str()),
                    start_time: run.started_at.timestamp_millis(),
                    tags: key_values(&run.tags),
                },
            )
            .await?;
        let info = created.run.info;
        tracing::debug!(run_id = %info.run_id, experiment_id, "mlflow run created");

        match self.fill_run(run, &info).await {
            Ok(model_version) => {
                tracing::info!(
                    run_id = %info.run_id,
                    experiment = %run.experiment,
                    model_version = model_version.as_deref().unwrap_or("-"),
                    "mlflow run logged"
                );
                Ok(LoggedRun {
                    run_id: info.run_id,
                    experiment_id,
                    artifact_uri: info.artifact_uri,
                    model_version,
                })
            }
            Err(err) => {
                let end_time = Utc::now().timestamp_millis();
                if let Err(mark) = self.update_run(&info.run_id, "FAILED", end_time).await {
                    tracing::warn!(run_id = %info.run_id, error = %mark, "could not mark the mlflow run failed");
                }
                Err(err)
            }
        }
    }

    /// Everything after the run's creation; the registered model version.
    async fn fill_run(
        &self,
        run: &MlflowRun,
        info: &RunInfo,
    ) -> Result<Option<String>, MlflowError> {
        let timestamp = run.finished_at.timestamp_millis();
        let metrics: Vec<Metric<'_>> = run
            .metrics
            .iter()
            .filter(|(key, value)| {
                let finite = value.is_finite();
                if !finite {
                    tracing::warn!(metric = %key, %value, "skipping a non-finite metric: json cannot carry it");
                }
                finite
            })
            .map(|(key, value)| Metric {
                key,
                value: *value,
                timestamp,
                step: 0,
            })
            .collect();
        for batch in batches(key_values(&run.params), metrics) {
            let _: IgnoredAny = self
                .post(
                    "runs/log-batch",
                    &LogBatch {
                        run_id: &info.run_id,
                        params: batch.0,
                        metrics: batch.1,
                    },
                )
                .await?;
        }

        if !run.artifacts.is_empty() {
            let root = artifact_root(&info.artifact_uri)?;
            for artifact in &run.artifacts {
                self.upload(&root, artifact).await?;
            }
        }

        let model_version = match &run.registered_model {
            Some(model) => Some(self.register(model, info).await?),
            None => None,
        };
        self.update_run(&info.run_id, "FINISHED", run.finished_at.timestamp_millis())
            .await?;
        Ok(model_version)
    }

    /// The id of the experiment named `name`, created when missing.
    async fn experiment_id(&self, name: &str) -> Result<String, MlflowError> {
        if let Some(id) = self.experiment_by_name(name).await? {
            return Ok(id);
        }
        match self
            .post::<_, CreateExperimentResponse>("experiments/create", &CreateExperiment { name })
            .await
        {
            Ok(created) => {
                tracing::info!(experiment = name, id = %created.experiment_id, "mlflow experiment created");
                Ok(created.experiment_id)
            }
            // Someone else created it between our look-up and our create.
            Err(err) if err.error_code() == Some("RESOURCE_ALREADY_EXISTS") => {
                self.experiment_by_name(name).await?.ok_or(err)
            }
            Err(err) => Err(err),
        }
    }

    async fn experiment_by_name(&self, name: &str) -> Result<Option<String>, MlflowError> {
        match self
            .get::<GetExperimentResponse>("experiments/get-by-name", &[("experiment_name", name)])
            .await
        {
            Ok(found) if found.experiment.lifecycle_stage.as_deref() == Some("deleted") => {
                Err(MlflowError::ExperimentDeleted(name.to_owned()))
            }
            Ok(found) => Ok(Some(found.experiment.experiment_id)),
            Err(err) if err.error_code() == Some("RESOURCE_DOES_NOT_EXIST") => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn update_run(
        &self,
        run_id: &str,
        status: &str,
        end_time: i64,
    ) -> Result<(), MlflowError> {
        let _: IgnoredAny = self
            .post(
                "runs/update",
                &UpdateRun {
                    run_id,
                    status,
                    end_time,
                },
            )
            .await?;
        Ok(())
    }

    async fn upload(&self, root: &[String], artifact: &MlflowArtifact) -> Result<(), MlflowError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("an http url has a path")
            .pop_if_empty()
            .extend(["api", "2.0", "mlflow-artifacts", "artifacts"])
            .extend(root)
            .extend(artifact.path.split('/'));
        let endpoint = format!("mlflow-artifacts/artifacts/{}", artifact.path);
        let content_type = if artifact.content_type.is_empty() {
            "application/octet-stream"
        } else {
            artifact.content_type.as_str()
        };
        self.send(&endpoint, || {
            self.http
                .put(url.clone())
                .header(CONTENT_TYPE, content_type)
                .body(artifact.bytes.clone())
        })
        .await?;
        tracing::debug!(path = %artifact.path, bytes = artifact.bytes.len(), "mlflow artifact uploaded");
        Ok(())
    }

    /// Creates the registered model when missing and a version of it from
    /// the run's model directory; the version number.
    async fn register(
        &self,
        model: &RegisteredModel,
        info: &RunInfo,
    ) -> Result<String, MlflowError> {
        let created = self
            .post::<_, IgnoredAny>(
                "registered-models/create",
                &CreateRegisteredModel {
                    name: &model.name,
                    description: &model.description,
                },
            )
            .await;
        match created {
            Ok(_) => tracing::info!(model = %model.name, "mlflow registered model created"),
            Err(err) if err.error_code() == Some("RESOURCE_ALREADY_EXISTS") => {}
            Err(err) => return Err(err),
        }
        let source = format!(
            "{}/{MODEL_ARTIFACT_DIR}",
            info.artifact_uri.trim_end_matches('/')
        );
        let version: CreateModelVersionResponse = self
            .post(
                "model-versions/create",
                &CreateModelVersion {
                    name: &model.name,
                    source: &source,
                    run_id: &info.run_id,
                },
            )
            .await?;
        Ok(version.model_version.version)
    }

    fn api_url(&self, method: &str) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("an http url has a path")
            .pop_if_empty()
            .extend(["api", "2.0", "mlflow"])
            .extend(method.split('/'));
        url
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        body: &B,
    ) -> Result<T, MlflowError> {
        let url = self.api_url(method);
        let body = serde_json::to_vec(body).map_err(|e| MlflowError::InvalidRun(e.to_string()))?;
        let response = self
            .send(method, || {
                self.http
                    .request(Method::POST, url.clone())
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        decode(method, response).await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        method: &str,
        query: &[(&str, &str)],
    ) -> Result<T, MlflowError> {
        let mut url = self.api_url(method);
        url.query_pairs_mut().extend_pairs(query);
        let response = self.send(method, || self.http.get(url.clone())).await?;
        decode(method, response).await
    }

    /// Sends the request `build` makes, again after a connect error or a 5xx
    /// answer (up to [`MAX_ATTEMPTS`] in all); a successful response, or the
    /// error.
    async fn send(
        &self,
        endpoint: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, MlflowError> {
        let mut attempt = 0;
        let mut backoff = FIRST_BACKOFF;
        loop {
            attempt += 1;
            let failure = match build().send().await {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let retry = response.status().is_server_error();
                    let err = api_error(endpoint, response).await;
                    if !retry || attempt >= MAX_ATTEMPTS {
                        return Err(err);
                    }
                    err
                }
                Err(err) => {
                    let retry = err.is_connect();
                    let err = MlflowError::transport(endpoint, attempt, err);
                    if !retry || attempt >= MAX_ATTEMPTS {
                        return Err(err);
                    }
                    err
                }
            };
            tracing::warn!(error = %failure, attempt, ?backoff, "mlflow request failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
}

/// Checks what can be checked before anything is sent.
fn validate(run: &MlflowRun) -> Result<(), MlflowError> {
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

/// The path segments under `/api/2.0/mlflow-artifacts/artifacts/` of a
/// run's artifact root `mlflow-artifacts:/1/<run id>/artifacts` (or
/// `mlflow-artifacts://host:port/...`, of which only the path is used).
fn artifact_root(artifact_uri: &str) -> Result<Vec<String>, MlflowError> {
    let unsupported = || MlflowError::UnsupportedArtifactUri(artifact_uri.to_owned());
    let rest = artifact_uri
        .strip_prefix("mlflow-artifacts:")
        .ok_or_else(unsupported)?;
    let path = match rest.strip_prefix("//") {
        Some(authority_and_path) => authority_and_path
            .find('/')
            .map_or("", |slash| &authority_and_path[slash..]),
        None => rest,
    };
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if segments.is_empty() {
        return Err(unsupported());
    }
    Ok(segments)
}

/// Splits params and metrics into `runs/log-batch` calls within MLflow's
/// limits: at most 100 params, and at most 1000 params + metrics, per call.
fn batches<'a>(
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

fn key_values(pairs: &[(String, String)]) -> Vec<KeyValue<'_>> {
    pairs
        .iter()
        .map(|(key, value)| KeyValue { key, value })
        .collect()
}

async fn decode<T: DeserializeOwned>(
    endpoint: &str,
    response: reqwest::Response,
) -> Result<T, MlflowError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|e| MlflowError::transport(endpoint, 1, e))?;
    serde_json::from_slice(&bytes).map_err(|e| MlflowError::Decode {
        endpoint: endpoint.to_owned(),
        reason: e.to_string(),
    })
}

/// The error an unsuccessful answer stands for, with MLflow's
/// `error_code` and `message` when its body is MLflow's JSON error.
async fn api_error(endpoint: &str, response: reqwest::Response) -> MlflowError {
    #[derive(Deserialize)]
    struct ErrorBody {
        error_code: Option<String>,
        message: Option<String>,
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let (error_code, message) = match serde_json::from_str::<ErrorBody>(&body) {
        Ok(parsed) if parsed.error_code.is_some() || parsed.message.is_some() => {
            let message = parsed.message.unwrap_or_default();
            (
                parsed.error_code,
                message.trim_end().trim_end_matches('.').to_owned(),
            )
        }
        _ => {
            let text = body.trim();
            let cut = text
                .char_indices()
                .nth(MAX_ERROR_BODY)
                .map_or(text.len(), |(i, _)| i);
            (None, text[..cut].trim_end_matches('.').to_owned())
        }
    };
    MlflowError::Api {
        endpoint: endpoint.to_owned(),
        status,
        error_code,
        message,
    }
}

#[derive(Serialize)]
struct KeyValue<'a> {
    key: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct Metric<'a> {
    key: &'a str,
    value: f64,
    timestamp: i64,
    step: i64,
}

#[derive(Serialize)]
struct CreateExperiment<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct CreateRun<'a> {
    experiment_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_name: Option<&'a str>,
    start_time: i64,
    tags: Vec<KeyValue<'a>>,
}

#[derive(Serialize)]
struct LogBatch<'a> {
    run_id: &'a str,
    params: Vec<KeyValue<'a>>,
    metrics: Vec<Metric<'a>>,
}

#[derive(Serialize)]
struct UpdateRun<'a> {
    run_id: &'a str,
    status: &'a str,
    end_time: i64,
}

#[derive(Serialize)]
struct CreateRegisteredModel<'a> {
    name: &'a str,
    description: &'a str,
}

#[derive(Serialize)]
struct CreateModelVersion<'a> {
    name: &'a str,
    source: &'a str,
    run_id: &'a str,
}

#[derive(Deserialize)]
struct GetExperimentResponse {
    experiment: Experiment,
}

#[derive(Deserialize)]
struct Experiment {
    experiment_id: String,
    lifecycle_stage: Option<String>,
}

#[derive(Deserialize)]
struct CreateExperimentResponse {
    experiment_id: String,
}

#[derive(Deserialize)]
struct CreateRunResponse {
    run: CreatedRun,
}

#[derive(Deserialize)]
struct CreatedRun {
    info: RunInfo,
}

#[derive(Deserialize)]
struct RunInfo {
    run_id: String,
    artifact_uri: String,
}

#[derive(Deserialize)]
struct CreateModelVersionResponse {
    model_version: ModelVersion,
}

#[derive(Deserialize)]
struct ModelVersion {
    version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(
            split.iter().all(|(p, m)| p.len() <= MAX_PARAMS_PER_BATCH
                && p.len() + m.len() <= MAX_METRICS_PER_BATCH)
        );
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
}
