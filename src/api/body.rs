//! Reading a JSON request body, with every refusal in the wire error shape: 415 unless the Content-Type is
//! JSON, 413 past [`MAX_BODY_BYTES`] (checked while reading, so a huge body is never buffered), and 400 naming
//! the JSON path of the value that does not fit the type (`spec.engine.replicas`), not a line and column.
//! Handlers call it after the RBAC checks that need no body, so an unauthorised caller learns nothing from
//! how its body is parsed.
use crate::error::{ApiError, MAX_BODY_BYTES};
use axum::body::Body;
use http::HeaderMap;
use serde::de::DeserializeOwned;

/// `application/json` or `application/<something>+json`, with any parameters (`; charset=utf-8`).
pub fn is_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let raw = headers.get(http::header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("?")).unwrap_or("");
    let essence = raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let json = essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(if raw.is_empty() { "none" } else { raw }))
    }
}

/// Reads and parses the body as `T` (`what` names it in a whole-body error: "DatabaseCluster").
pub async fn read_json<T: DeserializeOwned>(headers: &HeaderMap, body: Body, what: &str) -> Result<T, ApiError> {
    is_json(headers)?;
    let declared = headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(ApiError::payload_too_large());
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::payload_too_large()
        } else {
            ApiError::new(400, format!("could not read the request body: {e}"))
        }
    })?;
    parse_json(&bytes, what)
}

/// Parses `bytes` as `T`; an error names the JSON path where it happened.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| parse_error(e, what))?;
    de.end().map_err(|e| ApiError::new(400, format!("invalid {what}: {}", without_position(&e))))?;
    Ok(value)
}

fn parse_error(e: serde_path_to_error::Error<serde_json::Error>, what: &str) -> ApiError {
    let path = e.path().to_string();
    let inner = e.inner();
    let rule = without_position(inner);
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::new(400, format!("invalid {what}: the body is not valid JSON ({rule})"));
    }
    let path = if path == "." { String::new() } else { path };
    // "missing field `engine`" at `spec`: the field is `spec.engine`.
    let missing = rule.strip_prefix("missing field `").and_then(|r| r.strip_suffix('`'));
    let field = match (missing, path.is_empty()) {
        (Some(m), true) => m.to_string(),
        (Some(m), false) => format!("{path}.{m}"),
        (None, _) => path,
    };
    if field.is_empty() {
        return ApiError::new(400, format!("invalid {what}: {rule}"));
    }
    ApiError::invalid(&field, rule)
}

/// serde_json's message without " at line L column C" (meaningless to the caller, who gets the path).
fn without_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::DatabaseCluster;

    fn headers(ct: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ct) = ct {
            h.insert(http::header::CONTENT_TYPE, ct.parse().unwrap());
        }
        h
    }

    #[test]
    fn content_types() {
        for ok in ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"] {
            assert_eq!(is_json(&headers(Some(ok))), Ok(()), "{ok}");
        }
        for bad in [None, Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("multipart/form-data; boundary=x")] {
            assert_eq!(is_json(&headers(bad)).unwrap_err().status, 415, "{bad:?}");
        }
    }

    #[test]
    fn parse_errors_name_the_path() {
        let body = br#"{"metadata": {"name": "x"}, "spec": {"engine": {"type": "postgresql", "replicas": 2147483648, "storage": {"size": "1G"}}}}"#;
        let e = parse_json::<DatabaseCluster>(body, "DatabaseCluster").unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (400, Some("spec.engine.replicas")));
        assert!(!e.message.contains("line"), "{}", e.message);
        assert!(e.message.starts_with("spec.engine.replicas: "), "{}", e.message);

        let body = br#"{"metadata": {"name": "x"}, "spec": {"engine": {"type": "oracle", "storage": {"size": "1G"}}}}"#;
        let e = parse_json::<DatabaseCluster>(body, "DatabaseCluster").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.engine.type"), "{}", e.message);

        let body = br#"{"metadata": {"name": "x"}, "spec": {"engine": {"type": "pxc", "storage": {"size": "1G"}}, "proxy": {"expose": {"ipSourceRanges": ["1.2.3.4", 5]}}}}"#;
        let e = parse_json::<DatabaseCluster>(body, "DatabaseCluster").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.proxy.expose.ipSourceRanges[1]"), "{}", e.message);

        let body = br#"{"metadata": {"name": "x"}, "spec": {}}"#;
        let e = parse_json::<DatabaseCluster>(body, "DatabaseCluster").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.engine"), "a missing required field: {}", e.message);
        let e = parse_json::<serde_json::Map<String, serde_json::Value>>(b"[]", "login").unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (400, None), "{}", e.message);

        let e = parse_json::<DatabaseCluster>(b"{not json", "DatabaseCluster").unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (400, None));
        assert!(e.message.contains("not valid JSON") && !e.message.contains("line"), "{}", e.message);
        let e = parse_json::<DatabaseCluster>(b"{} trailing", "DatabaseCluster").unwrap_err();
        assert_eq!(e.status, 400);
    }
}
