//! `POST /labels`: feedback on a transaction (chargeback, analyst
//! verdict). Labels feed training and the merchant risk features.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;
use vigil_actors::messages::LabelBatch;
use vigil_core::Label;
use vigil_core::transaction::MAX_TEXT_LEN;

use super::audit::audited;
use super::auth::require_admin;
use super::{ApiError, AppState};

/// A verdict on a stored transaction.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelRequest {
    transaction_id: Uuid,
    is_fraud: bool,
    /// Who says so, e.g. `analyst` or `chargeback` (default `api`).
    source: Option<String>,
}

#[post("/labels")]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LabelRequest>,
) -> Result<HttpResponse, ApiError> {
    let caller = require_admin(&req, &state)?;
    let body = body.into_inner();
    let source = body.source.unwrap_or_else(|| "api".into());
    if source.is_empty() || source.len() > MAX_TEXT_LEN {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("`source` must be 1 to {MAX_TEXT_LEN} bytes"),
        ));
    }
    if !state.store.has_transaction(body.transaction_id).await? {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no such transaction")
            .with_detail(json!({"transaction_id": body.transaction_id})));
    }
    let label = Label {
        label_id: Uuid::new_v4(),
        transaction_id: body.transaction_id,
        is_fraud: body.is_fraud,
        source,
        labeled_at: Utc::now(),
    };
    let detail = json!({
        "label_id": label.label_id,
        "is_fraud": label.is_fraud,
        "source": label.source,
    });
    let publish = async {
        state
            .bus
            .publish_labels(LabelBatch {
                labels: vec![label.clone()],
            })
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the label could not be recorded",
                )
                .with_detail(json!(e))
            })
    };
    audited(
        &state,
        &caller,
        "label.create",
        label.transaction_id,
        detail,
        publish,
    )
    .await?;
    Ok(HttpResponse::Created().json(label))
}
