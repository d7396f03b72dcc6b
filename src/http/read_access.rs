//! Optional protection of the read endpoints (`http.protect_reads`): with
//! it, every endpoint needs a valid API key except the few that
//! orchestrators, scrapers and API clients must reach without one.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};

use super::AppState;

/// Liveness for Docker/Kubernetes, Prometheus's scrape, the API's docs.
pub const OPEN_PATHS: [&str; 4] = ["/health", "/metrics", "/openapi.json", "/docs"];

/// Answers a request to a protected path without a valid key with the
/// 401 JSON error itself. Admin endpoints check their key themselves,
/// protected reads or not.
pub async fn require_key_for_reads<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let keys = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.api_keys.clone());
    if let Some(keys) = keys
        && keys.protects_reads()
        && !OPEN_PATHS.contains(&req.path())
        && let Err(refused) = keys.identify(req.request())
    {
        let response = refused.error_response().map_into_right_body();
        return Ok(req.into_response(response));
    }
    Ok(next.call(req).await?.map_into_left_body())
}
