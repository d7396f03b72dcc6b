//! The HTTP client: one tracking server, requests retried with backoff,
//! a run logged step by step.

use std::time::Duration;

use chrono::Utc;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use super::MlflowError;
use super::error::api_error;
use super::run::{
    LoggedRun, MODEL_ARTIFACT_DIR, MlflowArtifact, MlflowRun, RegisteredModel, validate,
};
use super::wire::*;

/// Every request times out after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A request is sent at most this many times: the first try and up to three
/// retries after a connect error or a 5xx answer.
pub(super) const MAX_ATTEMPTS: u32 = 4;
/// Wait before the first retry; doubled before each next one.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

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
    pub(super) async fn experiment_id(&self, name: &str) -> Result<String, MlflowError> {
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

    pub(super) fn api_url(&self, method: &str) -> Url {
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

/// The path segments under `/api/2.0/mlflow-artifacts/artifacts/` of a
/// run's artifact root `mlflow-artifacts:/1/<run id>/artifacts` (or
/// `mlflow-artifacts://host:port/...`, of which only the path is used).
pub(super) fn artifact_root(artifact_uri: &str) -> Result<Vec<String>, MlflowError> {
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
