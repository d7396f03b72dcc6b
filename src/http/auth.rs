//! API keys: who may call the admin endpoints (and, when configured, every
//! other endpoint but `/health` and `/metrics`), and under which key id
//! their actions are audited.

use std::collections::BTreeMap;

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;

use super::{ApiError, AppState};

/// The id recorded for the unnamed `api_key`.
pub const DEFAULT_KEY_ID: &str = "default";
/// The id recorded when no key is configured (everyone may call).
pub const ANONYMOUS: &str = "anonymous";

/// The configured keys, by id.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: Vec<(String, String)>,
    /// Whether the read endpoints require a key too.
    protect_reads: bool,
}

/// Who is calling: the id of the key they presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub key_id: String,
}

impl ApiKeys {
    /// `api_key` (id `default`) plus the named `api_keys`.
    pub fn new(
        api_key: Option<String>,
        named: BTreeMap<String, String>,
        protect_reads: bool,
    ) -> ApiKeys {
        let keys = api_key
            .map(|key| (DEFAULT_KEY_ID.to_owned(), key))
            .into_iter()
            .chain(named)
            .collect();
        ApiKeys {
            keys,
            protect_reads,
        }
    }

    /// No key at all: every endpoint is open.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether read endpoints require a key.
    pub fn protects_reads(&self) -> bool {
        self.protect_reads && !self.is_empty()
    }

    /// The caller of `req`: anonymous when no key is configured, else the
    /// id of the key in `Authorization: Bearer <key>`; 401 otherwise.
    pub fn identify(&self, req: &HttpRequest) -> Result<Caller, ApiError> {
        if self.is_empty() {
            return Ok(Caller {
                key_id: ANONYMOUS.to_owned(),
            });
        }
        let given = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "this endpoint requires an api key: send Authorization: Bearer <key>",
                )
            })?;
        // Every key is compared, whichever matches, so timing reveals
        // neither which key nor how much of one was right.
        let mut found = None;
        for (id, key) in &self.keys {
            if constant_time_eq(given.as_bytes(), key.as_bytes()) {
                found = Some(id);
            }
        }
        found
            .map(|id| Caller { key_id: id.clone() })
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "invalid api key"))
    }
}

/// The caller of an admin endpoint, as `access` recorded it before the
/// handler ran; checked again here when it did not (defence in depth).
pub fn require_admin(req: &HttpRequest, state: &AppState) -> Result<Caller, ApiError> {
    use actix_web::HttpMessage;
    if let Some(caller) = req.extensions().get::<Caller>() {
        return Ok(caller.clone());
    }
    state.api_keys.identify(req)
}

/// Compares without stopping at the first difference, so response time
/// does not reveal how much of a guessed key was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn compares_whole_keys() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }

    fn caller(keys: &ApiKeys, header: Option<&str>) -> Result<String, StatusCode> {
        let mut req = TestRequest::default();
        if let Some(value) = header {
            req = req.insert_header((AUTHORIZATION, value));
        }
        keys.identify(&req.to_http_request())
            .map(|c| c.key_id)
            .map_err(|e| actix_web::ResponseError::status_code(&e))
    }

    #[test]
    fn names_the_key_that_matched() {
        let named = BTreeMap::from([("ops".to_owned(), "k-ops".to_owned())]);
        let keys = ApiKeys::new(Some("k-default".into()), named, false);
        assert_eq!(caller(&keys, Some("Bearer k-ops")), Ok("ops".into()));
        assert_eq!(
            caller(&keys, Some("Bearer k-default")),
            Ok("default".into())
        );
        assert_eq!(
            caller(&keys, Some("Bearer k-op")),
            Err(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(caller(&keys, Some("k-ops")), Err(StatusCode::UNAUTHORIZED));
        assert_eq!(caller(&keys, None), Err(StatusCode::UNAUTHORIZED));
    }

    #[test]
    fn without_keys_everyone_is_anonymous_and_reads_stay_open() {
        let keys = ApiKeys::new(None, BTreeMap::new(), true);
        assert_eq!(caller(&keys, None), Ok(ANONYMOUS.into()));
        assert!(!keys.protects_reads());
    }
}
