//! The model registry: `GET /models`, `GET /models/{version}`,
//! `GET /models/{version}/artifacts/{name}`, `POST /models/retrain`,
//! `POST /models/{version}/promote`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use vigil_actors::messages::{Promote, PromoteOutcome, Retrain, TrainingOutcome};
use vigil_actors::store::{ModelSummary, summary};

use super::audit::audited;
use super::auth::require_admin;
use super::error::ErrorBody;
use super::{ApiError, AppState};

/// The registry.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// Newest first.
    models: Vec<ModelSummary>,
}

/// Every version, newest first.
#[utoipa::path(
    operation_id = "list_models",
    tag = "models",
    responses(
        (status = 200, description = "Every version", body = ModelList),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
#[get("/models")]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let models = state.store.models().await?;
    Ok(HttpResponse::Ok().json(ModelList { models }))
}

/// One version: stage, parameters, metrics, windows, artifact names.
#[utoipa::path(
    operation_id = "get_model",
    tag = "models",
    params(("version" = i32, Path, description = "Model version")),
    responses(
        (status = 200, description = "The version", body = ModelSummary),
        (status = 404, description = "No such version, or `version` is not a 32-bit integer", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
#[get("/models/{version}")]
pub async fn show(
    state: web::Data<AppState>,
    version: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let row = state
        .store
        .model(*version)
        .await?
        .ok_or_else(|| no_version(*version))?;
    Ok(HttpResponse::Ok().json(summary(row)))
}

/// An artifact: SVG charts as `image/svg+xml`, data as JSON.
#[utoipa::path(
    operation_id = "get_model_artifact",
    tag = "models",
    params(
        ("version" = i32, Path, description = "Model version"),
        ("name" = String, Path, description = "Artifact name, as listed in the version's `artifacts`"),
    ),
    responses(
        (status = 200, description = "The artifact: an SVG chart when `name` ends in `.svg`, JSON otherwise", content(
            (String = "image/svg+xml"),
            (Value = "application/json"),
        )),
        (status = 404, description = "No such version or artifact, or `version` is not a 32-bit integer", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
#[get("/models/{version}/artifacts/{name}")]
pub async fn artifact(
    state: web::Data<AppState>,
    path: web::Path<(i32, String)>,
) -> Result<HttpResponse, ApiError> {
    let (version, name) = path.into_inner();
    let row = state
        .store
        .model(version)
        .await?
        .ok_or_else(|| no_version(version))?;
    let body = row.artifacts.get(&name).cloned().ok_or_else(|| {
        let names: Vec<&String> = row
            .artifacts
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        ApiError::new(StatusCode::NOT_FOUND, "no such artifact")
            .with_detail(json!({"artifact": name, "available": names}))
    })?;
    Ok(match body {
        Value::String(svg) if name.ends_with(".svg") => {
            HttpResponse::Ok().content_type("image/svg+xml").body(svg)
        }
        other => HttpResponse::Ok().json(other),
    })
}

/// Trains now and answers with the outcome (version, promoted, reason,
/// metrics), or why nothing was trained.
#[utoipa::path(
    operation_id = "retrain",
    tag = "models",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "What the training did", body = TrainingOutcome),
        (status = 401, description = "The API key is missing or wrong", body = ErrorBody),
        (status = 503, description = "Training failed", body = ErrorBody),
    )
)]
#[post("/models/retrain")]
pub async fn retrain(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let caller = require_admin(&req, &state)?;
    let train = async {
        state
            .retrainer
            .send(Retrain {
                trigger: "api".into(),
            })
            .await
            .map_err(|e| {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "training failed")
                    .with_detail(json!(e))
            })
    };
    let outcome = audited(&state, &caller, "model.retrain", "model", json!({}), train).await?;
    Ok(HttpResponse::Ok().json(outcome))
}

/// Optional body of a manual promotion.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    /// Recorded as the stage reason (default `promoted manually`).
    reason: Option<String>,
}

/// Makes a version the production model now (an operator's decision: the
/// gates are not applied) and swaps it into the Decider.
#[utoipa::path(
    operation_id = "promote_model",
    tag = "models",
    security(("api_key" = [])),
    params(("version" = i32, Path, description = "Model version")),
    request_body(content = Option<PromoteRequest>, description = "Optional: no body, `null`, or a `PromoteRequest`"),
    responses(
        (status = 200, description = "The version, now in production", body = ModelSummary),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "The API key is missing or wrong", body = ErrorBody),
        (status = 404, description = "No such version, or `version` is not a 32-bit integer", body = ErrorBody),
        (status = 409, description = "The stored model cannot be loaded (corrupt artifact); the served model is unchanged", body = ErrorBody),
        (status = 413, description = "The body is larger than `http.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "A body that is not `application/json`", body = ErrorBody),
        (status = 422, description = "The body does not match the schema", body = ErrorBody),
        (status = 503, description = "Promotion failed or the store is unavailable", body = ErrorBody),
    )
)]
#[post("/models/{version}/promote")]
pub async fn promote(
    req: HttpRequest,
    state: web::Data<AppState>,
    version: web::Path<i32>,
    body: Result<web::Json<Option<PromoteRequest>>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let caller = require_admin(&req, &state)?;
    // The body is optional, but one that is sent must be a valid request.
    let request = match body {
        Ok(json) => json.into_inner().unwrap_or_default(),
        Err(_) if !has_body(&req) => PromoteRequest::default(),
        Err(refused) => return Err(refused),
    };
    let reason = request.reason.unwrap_or_else(|| "promoted manually".into());
    let detail = json!({ "reason": reason });
    let promote = async {
        let outcome = state
            .promoter
            .send(Promote {
                version: *version,
                reason,
            })
            .await
            .map_err(|e| {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "promotion failed")
                    .with_detail(json!(e))
            })?;
        match outcome {
            PromoteOutcome::Promoted => Ok(()),
            PromoteOutcome::NoSuchVersion => Err(no_version(*version)),
            PromoteOutcome::Unloadable(reason) => Err(ApiError::new(
                StatusCode::CONFLICT,
                "this model version cannot be loaded; the served model is unchanged",
            )
            .with_detail(json!({"version": *version, "reason": reason}))),
        }
    };
    audited(&state, &caller, "model.promote", *version, detail, promote).await?;
    let row = state
        .store
        .model(*version)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| no_version(*version))?;
    Ok(HttpResponse::Ok().json(summary(row)))
}

/// Whether the request carries a body at all.
fn has_body(req: &HttpRequest) -> bool {
    use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
    let length = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    length.is_some_and(|n| n > 0) || req.headers().contains_key(TRANSFER_ENCODING)
}

fn no_version(version: i32) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such model version")
        .with_detail(json!({"version": version}))
}
