//! `GET /alerts`: REVIEW and BLOCK decisions, newest first.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use vigil_actors::store::AlertFilter;
use vigil_core::model::Decision;

use super::{ApiError, AppState};

/// Most alerts one request returns.
const MAX_LIMIT: u64 = 1000;

/// Filters; all optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// REVIEW or BLOCK.
    decision: Option<String>,
    /// e.g. `open`.
    status: Option<String>,
    /// RFC 3339 time: only alerts created at or after it.
    since: Option<DateTime<Utc>>,
    /// 1–1000, default 100.
    limit: Option<u64>,
}

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
    Ok(HttpResponse::Ok().json(json!({ "count": alerts.len(), "alerts": alerts })))
}
