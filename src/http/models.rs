//! The model registry: `GET /models`, `GET /models/{version}`,
//! `GET /models/{version}/artifacts/{name}`, `POST /models/retrain`,
//! `POST /models/{version}/promote`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::{Value, json};
use vigil_actors::messages::{Promote, PromoteOutcome, Retrain};
use vigil_actors::store::summary;

use super::audit::audited;
use super::auth::require_admin;
use super::{ApiError, AppState};

/// Every version, newest first.
#[get("/models")]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let models = state.store.models().await?;
    Ok(HttpResponse::Ok().json(json!({ "models": models })))
}

/// One version: stage, parameters, metrics, windows, artifact names.
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
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    reason: Option<String>,
}

/// Makes a version the production model now (an operator's decision: the
/// gates are not applied) and swaps it into the Scorer.
#[post("/models/{version}/promote")]
pub async fn promote(
    req: HttpRequest,
    state: web::Data<AppState>,
    version: web::Path<i32>,
    body: Option<web::Json<PromoteRequest>>,
) -> Result<HttpResponse, ApiError> {
    let caller = require_admin(&req, &state)?;
    let reason = body
        .and_then(|b| b.into_inner().reason)
        .unwrap_or_else(|| "promoted manually".into());
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
        .await?
        .ok_or_else(|| no_version(*version))?;
    Ok(HttpResponse::Ok().json(summary(row)))
}

fn no_version(version: i32) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such model version")
        .with_detail(json!({"version": version}))
}
