//! The error that crosses the wire: an HTTP status and a public message naming the field and the rule.
//! Internal detail is logged, never sent.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    #[serde(skip)]
    pub status: u16,
    /// OpenEverest's error shape is `{"message": …}`.
    pub message: String,
    /// The offending field (JSON path, e.g. `spec.engine.resources.memory`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), field: None }
    }
    pub fn invalid(field: &str, rule: impl std::fmt::Display) -> Self {
        Self { status: 400, message: format!("{field}: {rule}"), field: Some(field.to_string()) }
    }
    pub fn unauthorized() -> Self {
        Self::new(401, "not logged in or session expired")
    }
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(404, format!("{what} not found"))
    }
    pub fn internal() -> Self {
        Self::new(500, "internal error; see the server log")
    }
    /// 503: the Kubernetes API server cannot be reached (or cannot answer) now; nothing was written. Sent
    /// with `Retry-After: RETRY_AFTER_SECS`.
    pub fn unavailable() -> Self {
        Self::new(503, "the Kubernetes API server is unavailable; nothing was changed, try again shortly")
    }
}

/// Seconds a client should wait before retrying a 503 (the `Retry-After` header).
pub const RETRY_AFTER_SECS: u32 = 5;

/// Whether a client error says the API server is unreachable or unable to answer now (connection refused or
/// reset, timeouts, TLS and HTTP transport failures, or a 5xx from the API server itself, e.g. etcd down),
/// as opposed to an answer about the request (4xx) or a bug of ours (serialization).
#[cfg(feature = "ssr")]
pub fn is_unavailable(e: &kube::Error) -> bool {
    match e {
        // etcd refusing an object past its size limit is a 500 too, but about the request: never retried.
        kube::Error::Api(s) => s.code >= 500 && !s.message.contains("too large"),
        kube::Error::SerdeError(_) | kube::Error::BuildRequest(_) | kube::Error::FromUtf8(_) | kube::Error::LinesCodecMaxLineLengthExceeded => false,
        _ => true,
    }
}

#[cfg(feature = "ssr")]
impl From<kube::Error> for ApiError {
    fn from(e: kube::Error) -> Self {
        match &e {
            kube::Error::Api(s) if s.code == 404 => ApiError::new(404, "not found"),
            kube::Error::Api(s) if s.code == 409 => ApiError::new(409, s.message.clone()),
            kube::Error::Api(s) if s.code == 422 || s.code == 400 => ApiError::new(400, s.message.clone()),
            kube::Error::Api(s) if s.message.contains("too large") => ApiError::new(413, "the object is too large to store"),
            e if is_unavailable(e) => {
                tracing::warn!(error = %e, "the Kubernetes API server is unavailable");
                ApiError::unavailable()
            }
            _ => {
                tracing::error!(error = %e, "kubernetes API call failed");
                ApiError::internal()
            }
        }
    }
}

#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let code = http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = (code, axum::Json(self)).into_response();
        if code == http::StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from(RETRY_AFTER_SECS));
        }
        r
    }
}

#[cfg(all(test, feature = "ssr"))]
mod unavailable_tests {
    use super::*;

    fn api(code: u16, message: &str) -> kube::Error {
        let s: kube::core::Status = serde_json::from_value(serde_json::json!({"code": code, "message": message})).unwrap();
        kube::Error::Api(Box::new(s))
    }

    #[test]
    fn an_unreachable_api_server_is_a_503_with_retry_after() {
        use axum::response::IntoResponse;
        assert!(is_unavailable(&api(503, "etcdserver: leader changed")));
        assert!(is_unavailable(&api(500, "etcdserver: request timed out")));
        assert!(!is_unavailable(&api(500, "etcdserver: request is too large")), "about the request: not retried");
        assert!(!is_unavailable(&api(404, "not found")));
        assert!(!is_unavailable(&api(409, "conflict")));
        let e = ApiError::from(api(503, "etcdserver: leader changed"));
        assert_eq!(e.status, 503);
        let r = e.into_response();
        assert_eq!(r.headers()[http::header::RETRY_AFTER], RETRY_AFTER_SECS.to_string());
        assert_eq!(ApiError::from(api(500, "etcdserver: request is too large")).status, 413);
        assert!(ApiError::from(api(400, "bad")).into_response().headers().get(http::header::RETRY_AFTER).is_none());
    }
}
