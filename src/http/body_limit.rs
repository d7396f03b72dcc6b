//! `http.max_body_bytes` on every endpoint. The JSON extractor enforces it
//! where a body is read (and catches chunked bodies as they stream); this
//! refuses a declared `Content-Length` above it up front everywhere, so an
//! endpoint that takes no body (`POST /models/retrain`) answers an
//! oversized one with the same 413 instead of ignoring it and running.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};
use serde_json::json;

use super::error::ApiError;

/// The largest request body accepted, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Answers a request whose `Content-Length` exceeds the limit with 413.
pub async fn refuse_oversized<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let limit = req.app_data::<web::Data<BodyLimit>>().map(|l| l.0);
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let (Some(limit), Some(length)) = (limit, declared)
        && length > limit as u64
    {
        let refused = ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
            .with_detail(json!({"length": length, "limit": limit}));
        return Ok(req.into_response(refused.error_response().map_into_right_body()));
    }
    Ok(next.call(req).await?.map_into_left_body())
}
