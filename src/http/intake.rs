//! The API's side of a graceful stop: counts the requests being served
//! (the stop waits for them) and, once the process drains, answers every
//! new request but health and metrics with 503 and `Retry-After`, so that
//! clients and load balancers go elsewhere while what is in flight ends.

use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};

use super::{ApiError, AppState};

/// What answers while draining: orchestrators and Prometheus watch the stop.
pub const WHILE_DRAINING: [&str; 3] = ["/health", "/health/actors", "/metrics"];

/// `Retry-After` of the answers that say "not now" (starting, stopping).
pub const RETRY_AFTER_SECONDS: u64 = 5;

/// Requests being served.
#[derive(Debug, Default)]
pub struct Requests {
    in_flight: AtomicUsize,
}

impl Requests {
    /// How many requests are being served now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self)
    }
}

/// One request being served; counted until dropped.
struct InFlight<'a>(&'a Requests);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts the request, or refuses it while draining.
pub async fn gate<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    // Counted before the drain is checked: a stop that sees no request in
    // flight has made every later one see the drain.
    let counted = state.requests.enter();
    if state.lifecycle.is_draining() && !WHILE_DRAINING.contains(&req.path()) {
        drop(counted);
        let refused = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "vigil is shutting down: retry on another instance or later",
        )
        .with_retry_after(RETRY_AFTER_SECONDS);
        return Ok(req.into_response(refused.error_response().map_into_right_body()));
    }
    let response = next.call(req).await;
    drop(counted);
    Ok(response?.map_into_left_body())
}
