//! `POST /labels`: feedback on a transaction (chargeback, analyst
//! verdict). Labels feed training and the merchant risk features.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;
use vigil_actors::messages::LabelBatch;
use vigil_core::Label;
use vigil_core::transaction::MAX_TEXT_LEN;

use super::audit::audited;
use super::auth::require_admin;
use super::error::ErrorBody;
use super::{ApiError, AppState};

/// A verdict on a stored transaction.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelRequest {
    transaction_id: Uuid,
    is_fraud: bool,
    /// Who says so, e.g. `analyst` or `chargeback` (default `api`);
    /// 1–128 characters, no NUL.
    #[schema(min_length = 1, max_length = 128, pattern = "^[^\\x00]*$")]
    source: Option<String>,
}

#[utoipa::path(
    operation_id = "create_label",
    tag = "labels",
    security(("api_key" = [])),
    request_body = LabelRequest,
    responses(
        (status = 201, description = "The label, recorded", body = Label),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "The API key is missing or wrong", body = ErrorBody),
        (status = 404, description = "No such transaction", body = ErrorBody),
        (status = 413, description = "The body is larger than `http.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "The body does not match the schema", body = ErrorBody),
        (status = 503, description = "Vigil is starting (recovery, backfill) or stopping, or the store or the bus is unavailable", body = ErrorBody),
    )
)]
#[post("/labels")]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LabelRequest>,
) -> Result<HttpResponse, ApiError> {
    let caller = require_admin(&req, &state)?;
    super::score::refuse_while_starting(&state)?;
    let body = body.into_inner();
    let source = body.source.unwrap_or_else(|| "api".into());
    if source.is_empty() || source.chars().count() > MAX_TEXT_LEN || source.contains('\0') {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("`source` must be 1 to {MAX_TEXT_LEN} characters, without NUL"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_bounds_source_as_the_handler_does() {
        let schema =
            serde_json::to_value(<LabelRequest as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["properties"]["source"]["maxLength"], MAX_TEXT_LEN);
        assert_eq!(schema["properties"]["source"]["minLength"], 1);
    }
}
