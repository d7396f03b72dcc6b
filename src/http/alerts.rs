//! `GET /alerts`: REVIEW and BLOCK decisions, newest first.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use vigil_actors::store::AlertFilter;
use vigil_actors::store::entity::fraud_alert;
use vigil_core::model::Decision;

use super::error::ErrorBody;
use super::{ApiError, AppState};

/// Most alerts one request returns.
const MAX_LIMIT: u64 = 1000;

/// Filters; all optional.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// REVIEW or BLOCK, in any case.
    #[param(pattern = "^([Rr][Ee][Vv][Ii][Ee][Ww]|[Bb][Ll][Oo][Cc][Kk])$")]
    decision: Option<String>,
    /// e.g. `open`.
    status: Option<String>,
    /// RFC 3339 time: only alerts created at or after it.
    since: Option<DateTime<Utc>>,
    /// 1–1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
}

/// The matching alerts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertList {
    count: usize,
    /// Newest first.
    #[schema(value_type = Vec<fraud_alert::Model>)]
    alerts: Vec<fraud_alert::Model>,
}

#[utoipa::path(
    operation_id = "list_alerts",
    tag = "alerts",
    params(AlertQuery),
    responses(
        (status = 200, description = "Alerts, newest first", body = AlertList),
        (status = 400, description = "A filter is malformed or out of range, or the query has an unknown parameter", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
#[get("/alerts")]
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<AlertQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let decision = match query.decision.as_deref() {
        None => None,
        Some(name) => match Decision::parse(name) {
            Some(d @ (Decision::Review | Decision::Block)) => Some(d.as_str().to_owned()),
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "decision must be REVIEW or BLOCK",
                )
                .with_detail(json!({"decision": name})));
            }
        },
    };
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(
            ApiError::new(StatusCode::BAD_REQUEST, "limit must be between 1 and 1000")
                .with_detail(json!({"limit": limit})),
        );
    }
    let filter = AlertFilter {
        decision,
        status: query.status,
        since: query.since,
        limit,
    };
    let alerts = state.store.alerts(&filter).await?;
    Ok(HttpResponse::Ok().json(AlertList {
        count: alerts.len(),
        alerts,
    }))
}
