//! The error that crosses the wire: an HTTP status, a public message naming the field and the rule, the
//! field's JSON path when there is one, and how long to wait before retrying when that is known.
//! Internal detail is logged, never sent.
//!
//! Wire shape: `{"message": "...", "field": "spec.engine.replicas"}` (`field` only when there is one), and a
//! `Retry-After: <seconds>` header when [`ApiError::retry_after`] is set (429, 503). Build errors with the
//! constructors below rather than struct literals, so new fields do not break callers.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[error("{message}")]
pub struct ApiError {
    #[serde(skip)]
    pub status: u16,
    /// OpenEverest's error shape is `{"message": …}`.
    pub message: String,
    /// The offending field (JSON path, e.g. `spec.engine.resources.memory`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds the client should wait before trying again; sent as the `Retry-After` header.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

/// Bodies of REST requests larger than this are refused with 413 before they are parsed (1 MiB: well under
/// etcd's 1.5 MiB request limit, and far above any valid object, whose strings are all bounded).
pub const MAX_BODY_BYTES: usize = 1 << 20;

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), field: None, retry_after: None }
    }
    /// 400: `field` breaks `rule`; the message is `"<field>: <rule>"`.
    pub fn invalid(field: &str, rule: impl std::fmt::Display) -> Self {
        Self::new(400, format!("{field}: {rule}")).with_field(field)
    }
    /// Any status about one field (409 on `metadata.resourceVersion`, …): the message is `"<field>: <what>"`.
    pub fn on_field(status: u16, field: &str, what: impl std::fmt::Display) -> Self {
        Self::new(status, format!("{field}: {what}")).with_field(field)
    }
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    /// Adds `Retry-After`: whole seconds, at least 1.
    pub fn with_retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(whole_seconds(wait));
        self
    }
    pub fn unauthorized() -> Self {
        Self::new(401, "not logged in or session expired")
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(404, format!("{what} not found"))
    }
    /// 409 on `metadata.resourceVersion`: the object changed since the client read it.
    pub fn stale(what: impl std::fmt::Display) -> Self {
        Self::on_field(409, "metadata.resourceVersion", format!("{what} changed since it was read; read it again"))
    }
    /// 413: the body is larger than [`MAX_BODY_BYTES`].
    pub fn payload_too_large() -> Self {
        Self::new(413, format!("request body too large: at most {MAX_BODY_BYTES} bytes"))
    }
    /// 415: a JSON endpoint was sent something else.
    pub fn unsupported_media_type(got: &str) -> Self {
        Self::new(415, format!("Content-Type must be application/json (got {got:?})"))
    }
    /// 429 with `Retry-After` (`what`: "requests", "login attempts").
    pub fn too_many(what: &str, wait: std::time::Duration) -> Self {
        Self::new(429, format!("too many {what}; try again in {} s", whole_seconds(wait))).with_retry_after(wait)
    }
    pub fn internal() -> Self {
        Self::new(500, "internal error; see the server log")
    }
    /// 503: the Kubernetes API server cannot be reached (or cannot answer) now; nothing was written. Sent
    /// with `Retry-After: RETRY_AFTER_SECS`.
    pub fn unavailable() -> Self {
        Self::new(503, "the Kubernetes API server is unavailable; nothing was changed, try again shortly")
            .with_retry_after(std::time::Duration::from_secs(RETRY_AFTER_SECS as u64))
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

/// Whole seconds to wait, rounded up, at least 1 (what `Retry-After` and the messages say).
pub fn whole_seconds(wait: std::time::Duration) -> u64 {
    (wait.as_millis().div_ceil(1000).max(1)) as u64
}

/// The field an API server refusal names: `… is invalid: spec.engine.config: Too long …` → `spec.engine.config`.
pub fn field_of_api_server_message(message: &str) -> Option<String> {
    let rest = message.split_once(" is invalid: ")?.1.trim_start_matches('[');
    let (field, _) = rest.split_once(": ")?;
    let ok = !field.is_empty() && field.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | '_' | '-'));
    ok.then(|| field.to_string())
}

#[cfg(feature = "ssr")]
impl From<kube::Error> for ApiError {
    fn from(e: kube::Error) -> Self {
        match &e {
            kube::Error::Api(s) if s.code == 404 => ApiError::new(404, "not found"),
            kube::Error::Api(s) if s.code == 409 => ApiError::new(409, s.message.clone()),
            kube::Error::Api(s) if s.code == 413 => ApiError::new(413, format!("the object is too large to store: {}", s.message)),
            kube::Error::Api(s) if s.code == 422 || s.code == 400 => {
                let mut err = ApiError::new(400, s.message.clone());
                err.field = field_of_api_server_message(&s.message);
                err
            }
            kube::Error::Api(s) if s.message.contains("too large") => ApiError::new(413, format!("the object is too large to store: {}", s.message)),
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
        let retry_after = self.retry_after;
        let mut resp = (code, axum::Json(self)).into_response();
        if let Some(secs) = retry_after {
            resp.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape() {
        let e = ApiError::invalid("spec.engine.replicas", "must be at most 9");
        assert_eq!(serde_json::to_value(&e).unwrap(), serde_json::json!({"message": "spec.engine.replicas: must be at most 9", "field": "spec.engine.replicas"}));
        let e = ApiError::too_many("requests", std::time::Duration::from_millis(1200));
        assert_eq!((e.status, e.retry_after, e.message.as_str()), (429, Some(2), "too many requests; try again in 2 s"));
        assert_eq!(serde_json::to_value(&e).unwrap(), serde_json::json!({"message": "too many requests; try again in 2 s"}));
        assert_eq!(whole_seconds(std::time::Duration::ZERO), 1);
    }

    #[test]
    fn api_server_fields() {
        let m = r#"DatabaseCluster.everest.percona.com "x" is invalid: spec.engine.config: Too long: may not be more than 65536 bytes"#;
        assert_eq!(field_of_api_server_message(m).as_deref(), Some("spec.engine.config"));
        let m = r#"DatabaseCluster.everest.percona.com "x" is invalid: [spec.engine.replicas: Invalid value: 99, spec: Invalid value]"#;
        assert_eq!(field_of_api_server_message(m).as_deref(), Some("spec.engine.replicas"));
        assert_eq!(field_of_api_server_message("etcdserver: request is too large"), None);
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
        let r = ApiError::from(api(503, "etcdserver: leader changed")).into_response();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()[http::header::RETRY_AFTER], RETRY_AFTER_SECS.to_string());
        assert_eq!(ApiError::from(api(500, "etcdserver: request is too large")).status, 413);
        assert!(ApiError::from(api(400, "bad")).into_response().headers().get(http::header::RETRY_AFTER).is_none());
    }
}
