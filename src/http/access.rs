//! Who may call what, decided before anything reads the request: a route
//! whose OpenAPI operation requires the key (the admin endpoints, and with
//! `http.protect_reads` every endpoint but the open ones) answers a
//! request without a valid key with 401 before its body is read, parsed or
//! validated. The caller is left in the request for the audit trail.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};

use super::AppState;
use super::route_table::RouteTable;

/// Liveness for Docker/Kubernetes, Prometheus's scrape, the API's docs:
/// open even with protected reads.
pub const OPEN_PATHS: [&str; 4] = ["/health", "/metrics", "/openapi.json", "/docs"];

/// Answers a request to a route that requires a key, without a valid one,
/// with the 401 JSON error itself; records the caller otherwise.
pub async fn require_key<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let keys = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.api_keys.clone());
    let requires_key = req
        .app_data::<web::Data<RouteTable>>()
        .is_some_and(|table| table.requires_key(req.path(), req.method().as_str()));
    if let Some(keys) = keys
        && requires_key
    {
        match keys.identify(req.request()) {
            Ok(caller) => {
                req.extensions_mut().insert(caller);
            }
            Err(refused) => {
                let response = refused.error_response().map_into_right_body();
                return Ok(req.into_response(response));
            }
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}
