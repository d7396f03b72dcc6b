//! `GET /metrics`: Prometheus text exposition.

use actix_web::{HttpResponse, get, web};

use super::AppState;

#[get("/metrics")]
pub async fn prometheus(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
