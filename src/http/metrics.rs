//! `GET /metrics`: Prometheus text exposition.

use actix_web::{HttpResponse, get, web};

use super::AppState;

/// The exposition format's media type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[utoipa::path(
    operation_id = "metrics",
    tag = "health",
    responses((
        status = 200,
        description = "Every metric in the Prometheus text format",
        body = String,
        content_type = "text/plain; version=0.0.4; charset=utf-8",
    ))
)]
#[get("/metrics")]
pub async fn prometheus(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(state.metrics.render())
}
