//! The audit trail of the admin API: each admin action is recorded with
//! the id of the key that authorised it, before it runs, and its outcome
//! after; `GET /audit` lists the entries.

use std::future::Future;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use vigil_actors::store::entity::audit_entry;
use vigil_actors::store::{AuditFilter, AuditRecord};

use super::auth::{Caller, require_admin};
use super::error::ErrorBody;
use super::{ApiError, AppState};

/// Runs `action` as `caller`, recorded as `name` on `target`. Nothing runs
/// when the entry cannot be written (503): no admin action goes
/// unrecorded.
pub async fn audited<T>(
    state: &AppState,
    caller: &Caller,
    name: &str,
    target: impl ToString,
    detail: Value,
    action: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let record = AuditRecord {
        key_id: caller.key_id.clone(),
        action: name.to_owned(),
        target: target.to_string(),
        detail,
    };
    let audit_id = state.store.begin_audit(&record).await?;
    let result = action.await;
    let outcome = match &result {
        Ok(_) => "ok".to_owned(),
        Err(err) => format!("failed: {err}"),
    };
    // The action has happened: its answer goes out even if the outcome
    // cannot be written; the entry then stays `pending`.
    if let Err(err) = state.store.finish_audit(audit_id, &outcome).await {
        tracing::error!(%audit_id, error = %err, "cannot record the outcome of an audited action");
    }
    result
}

/// Which entries to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// e.g. `model.promote`, `label.create`, `model.retrain`, `drift.run`.
    action: Option<String>,
    /// The id of the key that authorised the action.
    key_id: Option<String>,
    /// A model version, a transaction id, …
    target: Option<String>,
    /// 1–1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
}

/// The audit trail, newest first (admin).
#[utoipa::path(
    operation_id = "list_audit_entries",
    tag = "audit",
    security(("api_key" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "Entries, newest first", body = Vec<audit_entry::Model>),
        (status = 400, description = "A filter is malformed or out of range, or the query has an unknown parameter", body = ErrorBody),
        (status = 401, description = "The API key is missing or wrong", body = ErrorBody),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    )
)]
#[get("/audit")]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(
            ApiError::new(StatusCode::BAD_REQUEST, "`limit` must be 1 to 1000")
                .with_detail(json!({"limit": limit})),
        );
    }
    let filter = AuditFilter {
        action: query.action,
        key_id: query.key_id,
        target: query.target,
        limit,
    };
    Ok(HttpResponse::Ok().json(state.store.audit_log(&filter).await?))
}
