//! Drift: `GET /drift/status`, `POST|GET /drift/run`, `GET /drift/report`
//! (HTML), `GET /drift/stats`, `GET /drift/history`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use vigil_actors::drift_checker::{DriftCheck, DriftStatus, WindowInfo, read_windows};
use vigil_actors::messages::CheckDrift;
use vigil_core::drift::stats::{CategoryWindows, NumericWindows, WindowStats};

use super::audit::audited;
use super::auth::require_admin;
use super::drift_report::render_report;
use super::error::ErrorBody;
use super::{ApiError, AppState};

/// The latest check; one is run now if there has been none.
#[utoipa::path(
    operation_id = "drift_status",
    tag = "drift",
    responses(
        (status = 200, description = "The latest check", body = DriftCheck),
        (status = 503, description = "The store is unavailable or the check failed", body = ErrorBody),
    )
)]
#[get("/drift/status")]
pub async fn status(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(latest_or_run(&state).await?))
}

/// Runs a check now and returns it (POST; GET kept for the seed's clients).
#[utoipa::path(
    operation_id = "run_drift_check",
    tag = "drift",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The new check", body = DriftCheck),
        (status = 401, description = "The API key is missing or wrong", body = ErrorBody),
        (status = 503, description = "The store is unavailable (the audit trail cannot be written) or the check failed", body = ErrorBody),
    )
)]
#[post("/drift/run")]
pub async fn run_post(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(run_audited(&req, &state).await?))
}

/// As `POST /drift/run`, for the seed's clients.
#[utoipa::path(
    operation_id = "run_drift_check_get",
    tag = "drift",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The new check", body = DriftCheck),
        (status = 401, description = "The API key is missing or wrong", body = ErrorBody),
        (status = 503, description = "The store is unavailable (the audit trail cannot be written) or the check failed", body = ErrorBody),
    )
)]
#[get("/drift/run")]
pub async fn run_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(run_audited(&req, &state).await?))
}

/// A check on an admin's request: authorised and audited.
async fn run_audited(req: &HttpRequest, state: &AppState) -> Result<DriftCheck, ApiError> {
    let caller = require_admin(req, state)?;
    audited(state, &caller, "drift.run", "drift", json!({}), run(state)).await
}

/// The latest check as a self-contained HTML page.
#[utoipa::path(
    operation_id = "drift_report",
    tag = "drift",
    responses(
        (status = 200, description = "The report page", body = String, content_type = "text/html; charset=utf-8"),
        (status = 503, description = "The store is unavailable or the check failed", body = ErrorBody),
    )
)]
#[get("/drift/report")]
pub async fn report(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let check = latest_or_run(&state).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(render_report(&check)))
}

/// Which past checks to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// 1–1000, default 50.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
}

/// Past checks.
#[derive(Debug, Serialize, ToSchema)]
pub struct DriftHistory {
    count: usize,
    /// Newest first.
    checks: Vec<PastCheck>,
}

/// A past check without its per-feature details.
#[derive(Debug, Serialize, ToSchema)]
pub struct PastCheck {
    report_id: Uuid,
    timestamp: chrono::DateTime<chrono::Utc>,
    // Written only from `DriftStatus::as_str`.
    #[schema(value_type = DriftStatus)]
    status: String,
    dataset_drift_detected: bool,
    dataset_drift_share: f64,
    num_features_checked: i32,
    num_features_drifted: i32,
    reference_rows: i64,
    current_rows: i64,
    /// `null` when the stored details do not list them.
    drifted_features: Option<Vec<String>>,
}

/// Past checks, newest first, without their per-feature details.
#[utoipa::path(
    operation_id = "drift_history",
    tag = "drift",
    params(HistoryQuery),
    responses(
        (status = 200, description = "Past checks, newest first", body = DriftHistory),
        (status = 400, description = "`limit` is malformed or out of range, or the query has an unknown parameter", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
#[get("/drift/history")]
pub async fn history(
    state: web::Data<AppState>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(
            ApiError::new(StatusCode::BAD_REQUEST, "limit must be between 1 and 1000")
                .with_detail(json!({"limit": limit})),
        );
    }
    let rows = state.store.drift_reports(limit).await?;
    let checks: Vec<PastCheck> = rows
        .into_iter()
        .map(|r| PastCheck {
            report_id: r.report_id,
            timestamp: r.checked_at,
            status: r.status,
            dataset_drift_detected: r.dataset_drift,
            dataset_drift_share: r.drift_share,
            num_features_checked: r.num_features_checked,
            num_features_drifted: r.num_features_drifted,
            reference_rows: r.reference_rows,
            current_rows: r.current_rows,
            drifted_features: r
                .details
                .get("drifted_features")
                .and_then(|v| serde_json::from_value(v.clone()).ok()),
        })
        .collect();
    Ok(HttpResponse::Ok().json(DriftHistory {
        count: checks.len(),
        checks,
    }))
}

/// What `GET /drift/stats` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct DriftStats {
    rows_with_features: u64,
    reference_window: WindowInfo,
    current_window: WindowInfo,
    reference_rows: usize,
    current_rows: usize,
    /// By feature name.
    numeric: BTreeMap<String, NumericWindows>,
    /// By feature name.
    categorical: BTreeMap<String, CategoryWindows>,
}

/// Row counts, windows and per-feature statistics of the windows a check
/// would compare now.
#[utoipa::path(
    operation_id = "drift_stats",
    tag = "drift",
    responses(
        (status = 200, description = "The windows' statistics", body = DriftStats),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
#[get("/drift/stats")]
pub async fn stats(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let windows = read_windows(&state.store, &state.drift_settings)
        .await
        .map_err(|e| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "cannot read the windows")
                .with_detail(json!(e.to_string()))
        })?;
    let total = state.store.count_feature_rows().await?;
    let WindowStats {
        numeric,
        categorical,
    } = WindowStats::of(&windows);
    Ok(HttpResponse::Ok().json(DriftStats {
        rows_with_features: total,
        reference_rows: windows.reference.len(),
        current_rows: windows.current.len(),
        reference_window: windows.reference_info,
        current_window: windows.current_info,
        numeric,
        categorical,
    }))
}

async fn run(state: &AppState) -> Result<DriftCheck, ApiError> {
    state
        .drift_checker
        .send(CheckDrift {
            trigger: "api".into(),
        })
        .await
        .map_err(|e| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "drift check failed")
                .with_detail(json!(e))
        })
}

async fn latest_or_run(state: &AppState) -> Result<DriftCheck, ApiError> {
    if let Some(row) = state.store.drift_reports(1).await?.into_iter().next()
        && let Ok(check) = serde_json::from_value::<DriftCheck>(row.details)
    {
        return Ok(check);
    }
    run(state).await
}
