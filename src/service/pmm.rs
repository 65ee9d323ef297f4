//! The PMM server client Cairn uses when a monitoring endpoint is added or changed, the way OpenEverest
//! obtains a key (contract §1.5): read the server version first (`GET /v1/version`), then
//! - PMM 2: a legacy Grafana API key, `POST /graph/api/auth/keys {name, role: Admin}`;
//! - PMM 3: a service account and a token, `POST /graph/api/serviceaccounts {name, role: Admin}` then
//!   `POST /graph/api/serviceaccounts/<id>/tokens {name}`;
//!
//! or, with an API key given, check that key against the server. Every failure says which one it is: the URL
//! (unreachable, not PMM), the credentials, TLS, or a timeout.
use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Answers are small; anything bigger is not PMM.
const MAX_BODY: usize = 1 << 20;

/// How to reach the server.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Base URL, without a trailing slash.
    pub url: String,
    pub verify_tls: bool,
    /// PEM bundle of a private CA the server's certificate comes from (trusted besides the system's roots).
    pub ca_pem: Option<String>,
    pub timeout: Duration,
}

/// How to authenticate.
#[derive(Clone, Debug)]
pub enum Auth {
    Basic { user: String, password: String },
    Key(String),
}

/// Why talking to the PMM server failed; the message names the field the user should look at.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PmmError {
    #[error("url: {0}")]
    Url(String),
    #[error("pmm: {0}")]
    Credentials(String),
    #[error("url: TLS: {0}")]
    Tls(String),
    #[error("caCert: {0}")]
    Ca(String),
    #[error("url: the PMM server did not answer within {0} s")]
    Timeout(u64),
}

impl PmmError {
    /// The DTO field the error concerns.
    pub fn field(&self) -> &'static str {
        match self {
            PmmError::Url(_) | PmmError::Tls(_) | PmmError::Timeout(_) => "url",
            PmmError::Credentials(_) => "pmm",
            PmmError::Ca(_) => "caCert",
        }
    }
}

/// Accepts any certificate (verifyTLS: false), still checking the handshake signatures.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(&self, _: &CertificateDer<'_>, _: &[CertificateDer<'_>], _: &ServerName<'_>, _: &[u8], _: UnixTime) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The certificates of a PEM bundle; an error when it holds none or a broken one.
pub fn parse_ca(pem: &str) -> Result<Vec<CertificateDer<'static>>, PmmError> {
    use rustls::pki_types::pem::PemObject;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem.as_bytes()).collect();
    match certs {
        Ok(c) if !c.is_empty() => Ok(c),
        Ok(_) => Err(PmmError::Ca("no PEM certificate (-----BEGIN CERTIFICATE-----) found".into())),
        Err(e) => Err(PmmError::Ca(format!("not a valid PEM certificate bundle: {e}"))),
    }
}

fn tls_config(ep: &Endpoint) -> Result<rustls::ClientConfig, PmmError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| PmmError::Tls(e.to_string()))?;
    if !ep.verify_tls {
        return Ok(builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider))).with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(c);
    }
    if let Some(pem) = ep.ca_pem.as_deref().filter(|p| !p.trim().is_empty()) {
        for c in parse_ca(pem)? {
            roots.add(c).map_err(|e| PmmError::Ca(format!("unusable CA certificate: {e}")))?;
        }
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// Checks the URL's shape: http(s), a host, no query.
pub fn check_url(url: &str) -> Result<String, PmmError> {
    let trimmed = url.trim().trim_end_matches('/');
    let uri: http::Uri = trimmed.parse().map_err(|_| PmmError::Url(format!("{url:?} is not a URL")))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(PmmError::Url(format!("{url:?} must start with https:// (or http://)"))),
    }
    if uri.host().is_none_or(|h| h.is_empty()) {
        return Err(PmmError::Url(format!("{url:?} has no host")));
    }
    if uri.query().is_some() {
        return Err(PmmError::Url(format!("{url:?} must not have a query")));
    }
    Ok(trimmed.to_string())
}

pub use crate::engine::monitoring::server_host;

/// The chain of causes of an error, for classifying a failure and for the message.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

async fn call(ep: &Endpoint, auth: &Auth, method: http::Method, path: &str, body: Option<Value>) -> Result<(u16, Value), PmmError> {
    let url = check_url(&ep.url)?;
    let tls = tls_config(ep)?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().build();
    let client: Client<_, Full<bytes::Bytes>> = Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
    let authorization = match auth {
        Auth::Basic { user, password } => format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))),
        Auth::Key(k) => format!("Bearer {k}"),
    };
    let req = http::Request::builder()
        .method(method)
        .uri(format!("{url}{path}"))
        .header(http::header::AUTHORIZATION, authorization)
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, concat!("cairn/", env!("CARGO_PKG_VERSION")))
        .body(Full::new(bytes::Bytes::from(body.map(|b| b.to_string()).unwrap_or_default())))
        .map_err(|e| PmmError::Url(e.to_string()))?;
    let fut = async {
        let resp = client.request(req).await.map_err(|e| {
            let why = causes(&e);
            let lower = why.to_lowercase();
            if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") || lower.contains("invalidcontenttype") || lower.contains("corrupt message") {
                PmmError::Tls(format!("{why} (set a CA bundle for a private CA, or turn verifyTLS off)"))
            } else {
                PmmError::Url(format!("cannot reach {url}: {why}"))
            }
        })?;
        let status = resp.status().as_u16();
        let bytes = Limited::new(resp.into_body(), MAX_BODY).collect().await.map_err(|e| PmmError::Url(format!("reading the answer of {url}: {e}")))?;
        Ok((status, serde_json::from_slice(&bytes.to_bytes()).unwrap_or(Value::Null)))
    };
    tokio::time::timeout(ep.timeout, fut).await.map_err(|_| PmmError::Timeout(ep.timeout.as_secs().max(1)))?
}

fn refused(status: u16, what: &str) -> PmmError {
    match status {
        401 => PmmError::Credentials(format!("the PMM server refused the {what} (HTTP 401)")),
        403 => PmmError::Credentials(format!("the {what} lack the Admin role on the PMM server (HTTP 403)")),
        s => PmmError::Url(format!("the PMM server answered HTTP {s}")),
    }
}

/// The server's version (`GET /v1/version`, `version` or `server.version`).
pub async fn server_version(ep: &Endpoint, auth: &Auth) -> Result<String, PmmError> {
    let what = match auth {
        Auth::Basic { .. } => "user and password",
        Auth::Key(_) => "API key",
    };
    let (status, body) = call(ep, auth, http::Method::GET, "/v1/version", None).await?;
    match status {
        200 => body["version"]
            .as_str()
            .or(body["server"]["version"].as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| PmmError::Url(format!("{} does not look like a PMM server (no version in /v1/version)", ep.url))),
        404 => Err(PmmError::Url(format!("{} does not look like a PMM server (/v1/version not found)", ep.url))),
        s => Err(refused(s, what)),
    }
}

/// A new key named `name` with the Admin role: a PMM 2 API key, or a PMM 3 service account token.
pub async fn create_key(ep: &Endpoint, user: &str, password: &str, name: &str, major: u32) -> Result<String, PmmError> {
    let auth = Auth::Basic { user: user.into(), password: password.into() };
    let key_of = |status: u16, body: &Value| -> Result<String, PmmError> {
        match status {
            200 | 201 => body["key"].as_str().map(str::to_string).ok_or_else(|| PmmError::Url("the PMM server returned no key".into())),
            s => Err(refused(s, "user and password")),
        }
    };
    if major < 3 {
        let (s, body) = call(ep, &auth, http::Method::POST, "/graph/api/auth/keys", Some(json!({"name": name, "role": "Admin"}))).await?;
        return key_of(s, &body);
    }
    let (s, sa) = call(ep, &auth, http::Method::POST, "/graph/api/serviceaccounts", Some(json!({"name": name, "role": "Admin", "isDisabled": false}))).await?;
    if !(200..300).contains(&s) {
        return Err(refused(s, "user and password"));
    }
    let id = sa["id"].as_u64().ok_or_else(|| PmmError::Url("the PMM server returned no service account id".into()))?;
    let (s, body) = call(ep, &auth, http::Method::POST, &format!("/graph/api/serviceaccounts/{id}/tokens"), Some(json!({"name": name}))).await?;
    key_of(s, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(check_url("https://pmm.example.com/").unwrap(), "https://pmm.example.com");
        assert_eq!(check_url(" http://10.0.0.1:8443 ").unwrap(), "http://10.0.0.1:8443");
        assert!(matches!(check_url("pmm.example.com"), Err(PmmError::Url(_))));
        assert!(matches!(check_url("ftp://pmm"), Err(PmmError::Url(_))));
        assert!(matches!(check_url("https://p?x=1"), Err(PmmError::Url(_))));
        assert_eq!(server_host("https://pmm.example.com"), "pmm.example.com");
        assert_eq!(server_host("https://pmm.example.com:8443/x"), "pmm.example.com:8443");
        assert_eq!(server_host("https://u:p@pmm:443"), "pmm:443");
    }

    #[test]
    fn ca_bundle_must_hold_certificates() {
        assert_eq!(parse_ca("hello").unwrap_err().field(), "caCert");
        assert!(parse_ca("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n").is_err());
    }

    /// Against the PMM stand-in: each major version's key API, and each failure classified.
    #[cfg(feature = "sim")]
    #[tokio::test]
    async fn keys_from_pmm_2_and_3() {
        use crate::sim::pmm::{serve, Pmm};
        let ep = |url: String| Endpoint { url, verify_tls: true, ca_pem: None, timeout: Duration::from_secs(5) };
        for (version, calls) in [
            ("2.44.1", vec!["GET /v1/version", "POST /graph/api/auth/keys"]),
            ("3.1.0", vec!["GET /v1/version", "POST /graph/api/serviceaccounts", "POST /graph/api/serviceaccounts/2/tokens"]),
        ] {
            let pmm = Pmm::new(version, "admin", "pw");
            let url = format!("http://{}", serve(pmm.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap());
            let basic = Auth::Basic { user: "admin".into(), password: "pw".into() };
            let v = server_version(&ep(url.clone()), &basic).await.unwrap();
            assert_eq!(v, version);
            let key = create_key(&ep(url.clone()), "admin", "pw", "everest-x-1", crate::crd::monitoring_config::pmm_major(&v)).await.unwrap();
            assert_eq!(pmm.call_lines(), calls, "{version}");
            assert_eq!(server_version(&ep(url.clone()), &Auth::Key(key)).await.unwrap(), version, "the new key works");
            let wrong = Auth::Basic { user: "admin".into(), password: "no".into() };
            assert!(matches!(server_version(&ep(url.clone()), &wrong).await, Err(PmmError::Credentials(_))));
            assert!(matches!(server_version(&ep(url.replace("http://", "https://")), &basic).await, Err(PmmError::Tls(_))));
            pmm.set_delay(Duration::from_secs(3));
            let slow = Endpoint { timeout: Duration::from_secs(1), ..ep(url) };
            assert_eq!(server_version(&slow, &basic).await, Err(PmmError::Timeout(1)));
        }
    }

    #[test]
    fn errors_name_their_field() {
        assert_eq!(PmmError::Timeout(3).to_string(), "url: the PMM server did not answer within 3 s");
        assert_eq!(refused(401, "user and password").field(), "pmm");
        assert_eq!(refused(502, "x").field(), "url");
    }
}
