//! Drift: `GET /drift/status`, `POST|GET /drift/run`, `GET /drift/report`
//! (HTML), `GET /drift/stats`, `GET /drift/history`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use vigil_actors::drift_checker::{
    CATEGORICAL_FEATURES, DriftCheck, NUMERIC_FEATURES, read_windows,
};
use vigil_actors::messages::CheckDrift;
use vigil_actors::store::DriftRow;

use super::audit::audited;
use super::auth::require_admin;
use super::drift_report::render_report;
use super::{ApiError, AppState};

/// The latest check; one is run now if there has been none.
#[get("/drift/status")]
pub async fn status(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(latest_or_run(&state).await?))
}

/// Runs a check now and returns it (POST; GET kept for the seed's clients).
#[post("/drift/run")]
pub async fn run_post(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(run_audited(&req, &state).await?))
}

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
#[get("/drift/report")]
pub async fn report(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let check = latest_or_run(&state).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(render_report(&check)))
}

/// Which past checks to list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// 1–1000, default 50.
    limit: Option<u64>,
}

/// Past checks, newest first, without their per-feature details.
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
    let checks: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({
                "report_id": r.report_id,
                "timestamp": r.checked_at,
                "status": r.status,
                "dataset_drift_detected": r.dataset_drift,
                "dataset_drift_share": r.drift_share,
                "num_features_checked": r.num_features_checked,
                "num_features_drifted": r.num_features_drifted,
                "reference_rows": r.reference_rows,
                "current_rows": r.current_rows,
                "drifted_features": r.details.get("drifted_features").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "count": checks.len(), "checks": checks })))
}

/// Summary statistics of one numeric feature in one window.
#[derive(Debug, Serialize)]
struct NumericSummary {
    count: usize,
    mean: Option<f64>,
    std: Option<f64>,
    min: Option<f64>,
    p25: Option<f64>,
    median: Option<f64>,
    p75: Option<f64>,
    max: Option<f64>,
}

/// Row counts, windows and per-feature statistics of the windows a check
/// would compare now.
#[get("/drift/stats")]
pub async fn stats(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let windows = read_windows(&state.store, &state.drift_settings)
        .await
        .map_err(|e| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "cannot read the windows")
                .with_detail(json!(e.to_string()))
        })?;
    let total = state.store.count_feature_rows().await?;
    let numeric: serde_json::Map<String, Value> = NUMERIC_FEATURES
        .iter()
        .map(|name| {
            let pick = |rows: &[DriftRow]| {
                numeric_summary(
                    rows.iter()
                        .map(|r| r.features.get(name).unwrap_or(f64::NAN)),
                )
            };
            (
                name.to_string(),
                json!({"reference": pick(&windows.reference), "current": pick(&windows.current)}),
            )
        })
        .collect();
    let categorical: serde_json::Map<String, Value> = CATEGORICAL_FEATURES
        .iter()
        .map(|name| {
            let pick = |rows: &[DriftRow]| {
                let mut counts = std::collections::BTreeMap::<String, u64>::new();
                for r in rows {
                    let value = if *name == "channel" {
                        &r.channel
                    } else {
                        &r.country
                    };
                    *counts
                        .entry(value.clone().unwrap_or_else(|| "(missing)".into()))
                        .or_default() += 1;
                }
                counts
            };
            (
                name.to_string(),
                json!({"reference": pick(&windows.reference), "current": pick(&windows.current)}),
            )
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "rows_with_features": total,
        "reference_window": windows.reference_info,
        "current_window": windows.current_info,
        "reference_rows": windows.reference.len(),
        "current_rows": windows.current.len(),
        "numeric": numeric,
        "categorical": categorical,
    })))
}

fn numeric_summary(values: impl Iterator<Item = f64>) -> NumericSummary {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let quantile = |q: f64| (n > 0).then(|| v[((n - 1) as f64 * q).round() as usize]);
    let mean = (n > 0).then(|| v.iter().sum::<f64>() / n as f64);
    let std = mean.map(|m| (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64).sqrt());
    NumericSummary {
        count: n,
        mean,
        std,
        min: v.first().copied(),
        p25: quantile(0.25),
        median: quantile(0.5),
        p75: quantile(0.75),
        max: v.last().copied(),
    }
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
