//! Errors as JSON: `{"error": "...", "detail": ...}` with the right status.
//! A malformed request is always a 4xx, never a 5xx.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, error, web};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::route_table::RouteTable;

/// An API error with its status and JSON body.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    status: StatusCode,
    message: String,
    detail: Value,
    /// Seconds after which the client may retry (`Retry-After`).
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `status` and a message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            detail: Value::Null,
            retry_after: None,
        }
    }

    /// Adds `Retry-After: seconds`: the condition is temporary.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Adds machine-readable detail.
    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub error: String,
    /// Machine-readable context: the offending value, the parser's
    /// message…; `null` when there is none.
    pub detail: Value,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            response.insert_header((actix_web::http::header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(ErrorBody {
            error: self.message.clone(),
            detail: self.detail.clone(),
        })
    }
}

pub(super) fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            let status = match &err {
                error::JsonPayloadError::OverflowKnownLength { .. }
                | error::JsonPayloadError::Overflow { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                error::JsonPayloadError::ContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                error::JsonPayloadError::Deserialize(e) if e.is_data() => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                _ => StatusCode::BAD_REQUEST,
            };
            ApiError::new(status, "invalid request body")
                .with_detail(json!(err.to_string()))
                .into()
        })
}

pub(super) fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid query string")
            .with_detail(json!(err.to_string()))
            .into()
    })
}

pub(super) fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        ApiError::new(StatusCode::NOT_FOUND, "invalid path")
            .with_detail(json!(err.to_string()))
            .into()
    })
}

/// The default service: 405 with `Allow` when the path exists with other
/// methods, else 404.
pub(super) async fn not_found(req: HttpRequest) -> HttpResponse {
    let mut detail = json!({"method": req.method().as_str(), "path": req.path()});
    let allowed = req
        .app_data::<web::Data<RouteTable>>()
        .and_then(|table| table.allowed(req.path()).map(|m| m.join(", ")));
    match allowed {
        Some(allow) => {
            let mut response = ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
                .with_detail({
                    detail["allow"] = json!(allow);
                    detail
                })
                .error_response();
            if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
                response
                    .headers_mut()
                    .insert(actix_web::http::header::ALLOW, value);
            }
            response
        }
        None => ApiError::new(StatusCode::NOT_FOUND, "no such endpoint")
            .with_detail(detail)
            .error_response(),
    }
}

/// A store failure is Vigil's problem, never the client's: 503, so clients
/// retry, with the cause for operators.
impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        tracing::error!(error = %err, "store error in a request");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the store is unavailable")
            .with_detail(json!(err.to_string()))
    }
}
