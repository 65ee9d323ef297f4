//! All access to backup storage, through one crate (`object_store`: S3, Azure Blob, GCS): the BackupStorage
//! access check, the engine simulator's backup objects, the tests' look into the bucket.
//!
//! The endpoint's scheme is the one the user wrote: an `http://` endpoint is spoken to over HTTP
//! (OpenEverest's check used HTTPS against HTTP endpoints, contract §6.4), `verifyTLS: false` accepts any
//! certificate, and a CA bundle (PEM) is trusted besides the system roots.
use crate::crd::backup_storage::{BackupStorage, BackupStorageType, SECRET_ACCESS_KEY_ID, SECRET_CA_BUNDLE, SECRET_SECRET_ACCESS_KEY};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Everything needed to reach a storage: its spec and the credentials from its Secret.
#[derive(Clone, Debug, PartialEq)]
pub struct Location {
    pub type_: BackupStorageType,
    pub bucket: String,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub verify_tls: bool,
    pub force_path_style: bool,
    /// S3 access key id; Azure account name; GCS client email.
    pub access_key: String,
    /// S3 secret key; Azure account key; GCS private key (PEM).
    pub secret_key: String,
    pub ca_bundle: Option<String>,
}

impl Location {
    /// From a BackupStorage and the data of its credentials Secret (decoded).
    pub fn new(bs: &BackupStorage, secret: &BTreeMap<String, String>) -> Location {
        Location {
            type_: bs.spec.type_,
            bucket: bs.spec.bucket.clone(),
            region: bs.spec.region.clone().filter(|r| !r.is_empty()),
            endpoint: bs.spec.endpoint_url.clone().filter(|e| !e.is_empty()),
            verify_tls: bs.verify_tls(),
            force_path_style: bs.force_path_style(),
            access_key: secret.get(SECRET_ACCESS_KEY_ID).cloned().unwrap_or_default(),
            secret_key: secret.get(SECRET_SECRET_ACCESS_KEY).cloned().unwrap_or_default(),
            ca_bundle: secret.get(SECRET_CA_BUNDLE).cloned().filter(|c| !c.trim().is_empty()),
        }
    }

    /// The URL of `path` in this storage, as the operators write destinations: `s3://bucket/path`,
    /// `azure://container/path`, `gs://bucket/path`.
    pub fn url(&self, path: &str) -> String {
        let scheme = match self.type_ {
            BackupStorageType::S3 => "s3",
            BackupStorageType::Azure => "azure",
            BackupStorageType::Gcs => "gs",
        };
        format!("{scheme}://{}/{}", self.bucket, path.trim_start_matches('/'))
    }

    fn client_options(&self) -> Result<ClientOptions, AccessError> {
        let mut o = ClientOptions::new()
            .with_allow_http(self.endpoint.as_deref().is_some_and(|e| e.starts_with("http://")))
            .with_allow_invalid_certificates(!self.verify_tls)
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(30));
        if let Some(pem) = &self.ca_bundle {
            let certs = object_store::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| AccessError::Invalid { field: "caBundle", message: format!("not a PEM certificate bundle: {e}") })?;
            if certs.is_empty() {
                return Err(AccessError::Invalid { field: "caBundle", message: "holds no PEM certificate".into() });
            }
            for c in certs {
                o = o.with_root_certificate(c);
            }
        }
        Ok(o)
    }

    /// A client for the bucket. Network errors are not retried much: the access check must answer quickly.
    pub fn store(&self) -> Result<Arc<dyn ObjectStore>, AccessError> {
        let retry = RetryConfig { max_retries: 1, retry_timeout: Duration::from_secs(10), ..Default::default() };
        let invalid = |field: &'static str| move |e: object_store::Error| AccessError::Invalid { field, message: e.to_string() };
        match self.type_ {
            BackupStorageType::S3 => {
                let mut b = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(&self.bucket)
                    .with_region(self.region.clone().unwrap_or_else(|| "us-east-1".into()))
                    .with_access_key_id(&self.access_key)
                    .with_secret_access_key(&self.secret_key)
                    .with_virtual_hosted_style_request(!self.force_path_style)
                    .with_client_options(self.client_options()?)
                    .with_retry(retry);
                if let Some(e) = &self.endpoint {
                    b = b.with_endpoint(s3_endpoint(e, &self.bucket, self.force_path_style).map_err(|m| AccessError::Invalid { field: "url", message: m })?);
                }
                Ok(Arc::new(b.build().map_err(invalid("url"))?))
            }
            BackupStorageType::Azure => {
                let mut b = object_store::azure::MicrosoftAzureBuilder::new()
                    .with_account(&self.access_key)
                    .with_access_key(&self.secret_key)
                    .with_container_name(&self.bucket)
                    .with_client_options(self.client_options()?)
                    .with_retry(retry);
                if let Some(e) = &self.endpoint {
                    b = b.with_endpoint(e.trim_end_matches('/').to_string());
                }
                Ok(Arc::new(b.build().map_err(|e| AccessError::BadCredentials(format!("the account key is not valid: {e}")))?))
            }
            BackupStorageType::Gcs => {
                let key = serde_json::json!({
                    "private_key": self.secret_key,
                    "private_key_id": "",
                    "client_email": self.access_key,
                    "gcs_base_url": self.endpoint,
                });
                let b = object_store::gcp::GoogleCloudStorageBuilder::new()
                    .with_bucket_name(&self.bucket)
                    .with_service_account_key(key.to_string())
                    .with_client_options(self.client_options()?)
                    .with_retry(retry);
                Ok(Arc::new(b.build().map_err(|e| AccessError::BadCredentials(format!("the service account key is not valid: {e}")))?))
            }
        }
    }
}

/// The endpoint `object_store` wants: path style appends the bucket itself; virtual-hosted style wants the
/// bucket in the host already (`https://<bucket>.<host>`).
pub fn s3_endpoint(endpoint: &str, bucket: &str, path_style: bool) -> Result<String, String> {
    let e = endpoint.trim_end_matches('/');
    let Some((scheme, rest)) = e.split_once("://") else {
        return Err(format!("{endpoint:?} is not a URL with a scheme (http:// or https://)"));
    };
    if !matches!(scheme, "http" | "https") || rest.is_empty() {
        return Err(format!("{endpoint:?}: the scheme must be http:// or https://"));
    }
    Ok(if path_style { e.to_string() } else { format!("{scheme}://{bucket}.{rest}") })
}

/// Why a storage cannot be used, each naming the DTO field it concerns.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AccessError {
    #[error("the storage refused the credentials: {0}")]
    BadCredentials(String),
    #[error("the bucket does not exist: {0}")]
    MissingBucket(String),
    #[error("the endpoint cannot be reached: {0}")]
    Unreachable(String),
    #[error("the endpoint's TLS certificate is not trusted: {0}")]
    Tls(String),
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
    #[error("the storage answered with an error: {0}")]
    Other(String),
}

impl AccessError {
    /// The field of the REST DTO (`backup-storages`) the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            AccessError::BadCredentials(_) => "accessKey",
            AccessError::MissingBucket(_) => "bucketName",
            AccessError::Unreachable(_) | AccessError::Tls(_) | AccessError::Other(_) => "url",
            AccessError::Invalid { field, .. } => field,
        }
    }

    /// Classifies an `object_store` error by its HTTP status and, for transport errors, its source chain.
    pub fn classify(e: &object_store::Error) -> AccessError {
        let chain = error_chain(e);
        let code = xml_code(&chain);
        let detail = code.clone().unwrap_or_else(|| short(&chain));
        match e {
            object_store::Error::NotFound { .. } => AccessError::MissingBucket(detail),
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
                if code.as_deref().is_some_and(|c| c.contains("NoSuchBucket") || c.contains("ContainerNotFound")) {
                    AccessError::MissingBucket(detail)
                } else {
                    AccessError::BadCredentials(detail)
                }
            }
            _ if code.as_deref().is_some_and(|c| c.contains("NoSuchBucket") || c.contains("ContainerNotFound")) => {
                AccessError::MissingBucket(detail)
            }
            _ if code.as_deref().is_some_and(|c| {
                ["InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthenticationFailed", "AccessDenied", "AuthorizationFailure"]
                    .iter()
                    .any(|k| c.contains(k))
            }) =>
            {
                AccessError::BadCredentials(detail)
            }
            _ if chain.contains("certificate") || chain.contains("UnknownIssuer") || chain.contains("tls") && chain.contains("handshake") => {
                AccessError::Tls(short(&chain))
            }
            _ if chain.contains("error sending request") || chain.contains("connect") || chain.contains("dns") || chain.contains("timed out") => {
                AccessError::Unreachable(short(&chain))
            }
            _ => AccessError::Other(short(&chain)),
        }
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The `<Code>` of an S3/Azure XML error body, when the message carries one.
fn xml_code(s: &str) -> Option<String> {
    let start = s.find("<Code>")? + "<Code>".len();
    let end = s[start..].find("</Code>")? + start;
    Some(s[start..end].to_string())
}

fn short(s: &str) -> String {
    let s = s.replace('\n', " ");
    if s.len() > 300 {
        format!("{}…", &s[..s.char_indices().nth(300).map(|(i, _)| i).unwrap_or(s.len())])
    } else {
        s
    }
}

/// The live access check: put, list, get and delete of a probe object (what the operators need: PG lists
/// objects to find destinations, contract §6.4). The first failure says which.
pub async fn access_check(loc: &Location) -> Result<(), AccessError> {
    let store = loc.store()?;
    let path = Path::from(format!(".cairn-access-check/{}", uuid::Uuid::new_v4()));
    let body = b"cairn access check";
    let cl = |e: object_store::Error| AccessError::classify(&e);
    store.put(&path, PutPayload::from_static(body)).await.map_err(cl)?;
    let listed: Vec<_> = store.list(Some(&Path::from(".cairn-access-check"))).try_collect().await.map_err(cl)?;
    if !listed.iter().any(|m| m.location == path) {
        return Err(AccessError::Other("the probe object written was not listed".into()));
    }
    let got = store.get(&path).await.map_err(cl)?.bytes().await.map_err(cl)?;
    if got.as_ref() != body {
        return Err(AccessError::Other("the probe object read back differs from what was written".into()));
    }
    store.delete(&path).await.map_err(cl)?;
    Ok(())
}

/// Every object under `prefix` (paths relative to the bucket).
pub async fn list(loc: &Location, prefix: &str) -> Result<Vec<String>, AccessError> {
    let store = loc.store()?;
    let p = Path::from(prefix);
    let items: Vec<_> = store.list(Some(&p)).try_collect().await.map_err(|e| AccessError::classify(&e))?;
    Ok(items.into_iter().map(|m| m.location.to_string()).collect())
}

/// Writes one object.
pub async fn put(loc: &Location, path: &str, data: Vec<u8>) -> Result<(), AccessError> {
    loc.store()?.put(&Path::from(path), PutPayload::from(data)).await.map_err(|e| AccessError::classify(&e))?;
    Ok(())
}

/// Deletes every object under `prefix`; returns how many.
pub async fn delete_prefix(loc: &Location, prefix: &str) -> Result<usize, AccessError> {
    let store = loc.store()?;
    let p = Path::from(prefix);
    let items: Vec<_> = store.list(Some(&p)).try_collect().await.map_err(|e| AccessError::classify(&e))?;
    for m in &items {
        store.delete(&m.location).await.map_err(|e| AccessError::classify(&e))?;
    }
    Ok(items.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_endpoints_follow_the_style() {
        assert_eq!(s3_endpoint("http://127.0.0.1:9000/", "b", true).unwrap(), "http://127.0.0.1:9000");
        assert_eq!(s3_endpoint("https://s3.example.com", "b", false).unwrap(), "https://b.s3.example.com");
        assert!(s3_endpoint("s3.example.com", "b", true).unwrap_err().contains("scheme"));
        assert!(s3_endpoint("ftp://x", "b", true).unwrap_err().contains("http"));
    }

    #[test]
    fn xml_codes_are_read_from_error_bodies() {
        assert_eq!(xml_code("403: <Error><Code>SignatureDoesNotMatch</Code></Error>").as_deref(), Some("SignatureDoesNotMatch"));
        assert_eq!(xml_code("no body"), None);
    }

    #[test]
    fn urls_use_each_storage_scheme() {
        let mut l = Location {
            type_: BackupStorageType::S3,
            bucket: "b".into(),
            region: None,
            endpoint: None,
            verify_tls: true,
            force_path_style: false,
            access_key: String::new(),
            secret_key: String::new(),
            ca_bundle: None,
        };
        assert_eq!(l.url("/db/uid/x"), "s3://b/db/uid/x");
        l.type_ = BackupStorageType::Azure;
        assert_eq!(l.url("p"), "azure://b/p");
        l.type_ = BackupStorageType::Gcs;
        assert_eq!(l.url("p"), "gs://b/p");
    }

    #[test]
    fn a_bad_ca_bundle_names_its_field() {
        let l = Location {
            type_: BackupStorageType::S3,
            bucket: "b".into(),
            region: None,
            endpoint: Some("https://x".into()),
            verify_tls: true,
            force_path_style: true,
            access_key: "a".into(),
            secret_key: "s".into(),
            ca_bundle: Some("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".into()),
        };
        assert_eq!(l.store().err().map(|e| e.field()), Some("caBundle"));
    }
}
