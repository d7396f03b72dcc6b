//! The API key of mutating admin endpoints (`VIGIL_API_KEY`).

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;

use super::{ApiError, AppState};

/// Passes when no key is configured or the request carries
/// `Authorization: Bearer <key>`; 401 otherwise.
pub fn require_admin(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let Some(expected) = &state.api_key else {
        return Ok(());
    };
    let given = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(token) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid api key")),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this endpoint requires an api key: send Authorization: Bearer <key>",
        )),
    }
}

/// Compares without stopping at the first difference, so response time
/// does not reveal how much of a guessed key was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn compares_whole_keys() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
