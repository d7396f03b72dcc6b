//! Why a run could not be logged, and how MLflow's error answers read.

use std::fmt::Write as _;

use reqwest::StatusCode;
use serde::Deserialize;

/// Longest part of a non-JSON error body kept in an error message.
const MAX_ERROR_BODY: usize = 500;

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

    pub(super) fn transport(endpoint: &str, attempts: u32, error: reqwest::Error) -> Self {
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

/// The error an unsuccessful answer stands for, with MLflow's
/// `error_code` and `message` when its body is MLflow's JSON error.
pub(super) async fn api_error(endpoint: &str, response: reqwest::Response) -> MlflowError {
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
