//! Web security rules, pure: the cross-site request check and the security headers of every response.
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};

/// Why a request is refused as cross-site (the 403's message names the rule).
pub const CSRF_RULE: &str = "cross-site request refused: a state-changing request authenticated by the session cookie must come from this origin: an Origin (or Referer) header whose host:port equals the Host header, or, when the browser sends Origin: null or none, Sec-Fetch-Site: same-origin";

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

fn has_session_cookie(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|kv| kv.trim().split_once('=').is_some_and(|(k, _)| k == super::SESSION_COOKIE))
}

fn has_bearer(headers: &HeaderMap) -> bool {
    headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("Bearer "))
}

/// `host[:port]` of an absolute URL (`scheme://host[:port]/…`), lowercased; `None` for `null` or garbage.
fn authority_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let auth = rest.split(['/', '?', '#']).next()?;
    let auth = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    (!auth.is_empty()).then(|| auth.to_ascii_lowercase())
}

/// The cross-site request check. Safe methods pass. A request carrying `Authorization: Bearer` passes (a
/// browser never adds that header to a cross-site request by itself, and Cairn answers no CORS preflight).
/// Any other state-changing request must come from this origin:
/// - an `Origin` naming the same host:port as `Host` passes; any other real origin is refused, even without
///   the session cookie (so a foreign page cannot log a browser into another account either);
/// - `Origin: null` or no Origin: browsers send `null` for same-origin form posts and fetches too when the
///   page's policy is `Referrer-Policy: no-referrer` (Cairn's), so the browser's own `Sec-Fetch-Site:
///   same-origin` (a header pages cannot set) decides; failing that, a `Referer` naming the same host:port;
/// - with none of these, a request carrying the session cookie is refused (a browser, where only these
///   headers prove the page), and one without it passes (a script logging in with `POST /v1/session`).
pub fn check_same_origin(method: &Method, headers: &HeaderMap) -> Result<(), &'static str> {
    if is_safe(method) || has_bearer(headers) {
        return Ok(());
    }
    let get = |name: http::header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let host = get(http::header::HOST).map(str::to_ascii_lowercase);
    let same = |url: &str| matches!((authority_of(url), &host), (Some(a), Some(h)) if &a == h);
    match get(http::header::ORIGIN) {
        Some(o) if o != "null" => return if same(o) { Ok(()) } else { Err(CSRF_RULE) },
        _ => {}
    }
    match get(HeaderName::from_static("sec-fetch-site")) {
        Some("same-origin") => return Ok(()),
        Some("none") | None => {}
        // same-site (another port or subdomain) or cross-site.
        Some(_) => return Err(CSRF_RULE),
    }
    match get(http::header::REFERER) {
        Some(r) if same(r) => Ok(()),
        Some(_) => Err(CSRF_RULE),
        None if has_session_cookie(headers) || headers.contains_key(http::header::ORIGIN) => Err(CSRF_RULE),
        None => Ok(()),
    }
}

/// The Content-Security-Policy of a response whose inline scripts carry `nonce`: the app's own wasm, JS and
/// CSS only; inline scripts only with this response's nonce (Leptos's hydration bootstrap and streamed
/// resource data); no plugins, no framing, no foreign form targets or base URL.
pub fn csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
         font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The security headers of every response (UI and API). HSTS only when served over TLS.
pub fn security_headers(nonce: &str, tls: bool) -> Vec<(HeaderName, HeaderValue)> {
    let mut h = vec![
        (http::header::CONTENT_SECURITY_POLICY, HeaderValue::from_str(&csp(nonce)).expect("CSP is ASCII")),
        (http::header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (http::header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (http::header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
        (HeaderName::from_static("cross-origin-resource-policy"), HeaderValue::from_static("same-origin")),
    ];
    if tls {
        h.push((http::header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains")));
    }
    h
}

/// A fresh nonce: 16 random bytes, base64url.
pub fn new_nonce() -> String {
    use base64::Engine as _;
    let mut b = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        m
    }
    const COOKIE: (&str, &str) = ("cookie", "cairn_session=tok");
    const HOST: (&str, &str) = ("host", "cairn.example:8080");

    #[test]
    fn safe_methods_and_bearer_pass() {
        assert!(check_same_origin(&Method::GET, &h(&[COOKIE, HOST, ("origin", "https://evil.example")])).is_ok());
        assert!(check_same_origin(&Method::POST, &h(&[HOST, ("authorization", "Bearer x")])).is_ok());
        assert!(check_same_origin(&Method::DELETE, &h(&[COOKIE, HOST, ("authorization", "Bearer x")])).is_ok());
    }

    #[test]
    fn cookie_requests_need_a_matching_origin_or_referer() {
        for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(check_same_origin(&m, &h(&[COOKIE, HOST, ("origin", "http://cairn.example:8080")])).is_ok());
            assert!(check_same_origin(&m, &h(&[COOKIE, HOST, ("referer", "http://cairn.example:8080/databases/new")])).is_ok());
            assert_eq!(check_same_origin(&m, &h(&[COOKIE, HOST])), Err(CSRF_RULE));
            assert_eq!(check_same_origin(&m, &h(&[COOKIE, HOST, ("origin", "http://evil.example")])), Err(CSRF_RULE));
            // Same host, another port is another origin.
            assert_eq!(check_same_origin(&m, &h(&[COOKIE, HOST, ("origin", "http://cairn.example:8081")])), Err(CSRF_RULE));
            assert_eq!(check_same_origin(&m, &h(&[COOKIE, HOST, ("origin", "null")])), Err(CSRF_RULE));
            // Origin: null (Referrer-Policy: no-referrer) from this origin: the browser's Sec-Fetch-Site decides.
            assert!(check_same_origin(&m, &h(&[COOKIE, HOST, ("origin", "null"), ("sec-fetch-site", "same-origin")])).is_ok());
            assert!(check_same_origin(&m, &h(&[COOKIE, HOST, ("sec-fetch-site", "same-origin")])).is_ok());
            assert_eq!(check_same_origin(&m, &h(&[COOKIE, HOST, ("origin", "null"), ("sec-fetch-site", "cross-site")])), Err(CSRF_RULE));
            assert_eq!(check_same_origin(&m, &h(&[COOKIE, HOST, ("origin", "null"), ("sec-fetch-site", "same-site")])), Err(CSRF_RULE));
            // A real foreign Origin is refused whatever Sec-Fetch-Site claims.
            assert_eq!(check_same_origin(&m, &h(&[COOKIE, HOST, ("origin", "http://evil.example"), ("sec-fetch-site", "same-origin")])), Err(CSRF_RULE));
            // A cross-site Sec-Fetch-Site is not rescued by a matching Referer.
            let r = h(&[COOKIE, HOST, ("sec-fetch-site", "cross-site"), ("referer", "http://cairn.example:8080/")]);
            assert_eq!(check_same_origin(&m, &r), Err(CSRF_RULE));
            // Origin wins over a matching Referer.
            let both = h(&[COOKIE, HOST, ("origin", "http://evil.example"), ("referer", "http://cairn.example:8080/")]);
            assert_eq!(check_same_origin(&m, &both), Err(CSRF_RULE));
            // No Host header: nothing to compare with.
            assert_eq!(check_same_origin(&m, &h(&[COOKIE, ("origin", "http://cairn.example:8080")])), Err(CSRF_RULE));
        }
        // Host names compare case-insensitively.
        assert!(check_same_origin(&Method::POST, &h(&[COOKIE, ("host", "Cairn.Example:8080"), ("origin", "http://cairn.example:8080")])).is_ok());
    }

    #[test]
    fn without_cookie_only_a_foreign_origin_is_refused() {
        assert!(check_same_origin(&Method::POST, &h(&[HOST])).is_ok());
        assert!(check_same_origin(&Method::POST, &h(&[HOST, ("origin", "http://cairn.example:8080")])).is_ok());
        assert_eq!(check_same_origin(&Method::POST, &h(&[HOST, ("origin", "http://evil.example")])), Err(CSRF_RULE));
        assert_eq!(check_same_origin(&Method::POST, &h(&[HOST, ("origin", "null")])), Err(CSRF_RULE));
        assert_eq!(check_same_origin(&Method::POST, &h(&[HOST, ("sec-fetch-site", "cross-site")])), Err(CSRF_RULE));
        // Another cookie is not the session cookie.
        assert!(check_same_origin(&Method::POST, &h(&[HOST, ("cookie", "other=1")])).is_ok());
    }

    #[test]
    fn authority_parsing() {
        assert_eq!(authority_of("https://a.b:1/x?y#z").as_deref(), Some("a.b:1"));
        assert_eq!(authority_of("http://user@a.b/").as_deref(), Some("a.b"));
        assert_eq!(authority_of("null"), None);
        assert_eq!(authority_of("http:///x"), None);
    }

    #[test]
    fn headers_and_csp() {
        let c = csp("abc");
        assert!(c.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"), "{c}");
        assert!(!c.contains("unsafe-inline") && !c.contains("'unsafe-eval'"), "{c}");
        for d in ["frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'", "default-src 'self'"] {
            assert!(c.contains(d), "{d} in {c}");
        }
        let names = |tls| security_headers("n", tls).into_iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>();
        assert!(!names(false).contains(&"strict-transport-security".to_string()));
        assert!(names(true).contains(&"strict-transport-security".to_string()));
        assert_ne!(new_nonce(), new_nonce());
        assert_eq!(new_nonce().len(), 22);
    }
}
