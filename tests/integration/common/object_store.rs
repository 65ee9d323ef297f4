//! Real object storage for the tests: one S3 server (moto, signature checking on) and one Azurite per test
//! binary, started on first use by `scripts/object_store.py` (installed by `scripts/bootstrap.sh` into
//! `$CAIRN_CACHE`). They stop when the test process exits (the launcher watches its standard input, which
//! only this process holds). Tests share the buckets and keep apart by object paths (a database's UID is in
//! every backup path) and by their own storage names.
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The buckets (S3) and containers (Azure) the launcher creates.
pub const BUCKET: &str = "cairn-backups";
pub const OTHER_BUCKET: &str = "cairn-other";

#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3 {
    pub endpoint: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
}

#[derive(Clone, Debug, serde::Deserialize)]
pub struct Azure {
    /// `http://127.0.0.1:PORT/<account>`
    pub endpoint: String,
    pub account: String,
    pub key: String,
}

#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStores {
    pub s3: S3,
    pub azure: Azure,
    pub startup_seconds: f64,
}

static STORES: OnceLock<ObjectStores> = OnceLock::new();
static CHILD: Mutex<Option<Child>> = Mutex::new(None);

pub(crate) fn cache() -> PathBuf {
    std::env::var("CAIRN_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/cairn"))
}

/// The object stores of this test binary (started on the first call).
pub fn stores() -> &'static ObjectStores {
    STORES.get_or_init(|| {
        let python = cache().join("object-store-venv/bin/python");
        let azurite = cache().join("azurite/node_modules/.bin/azurite-blob");
        assert!(python.exists() && azurite.exists(), "object storage servers missing ({}, {}): run scripts/bootstrap.sh", python.display(), azurite.display());
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/object_store.py");
        let mut child = Command::new(python)
            .arg(script)
            .args(["--bucket", BUCKET, "--bucket", OTHER_BUCKET, "--container", BUCKET, "--container", OTHER_BUCKET])
            .arg("--azurite")
            .arg(azurite)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start scripts/object_store.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("read the object store launcher's output");
        let stores: ObjectStores = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("object store launcher said {line:?}: {e}"));
        *CHILD.lock().unwrap() = Some(child);
        stores
    })
}

/// The GCS-compatible server (`testgcs/`: fake-gcs-server's storage with GCS's XML upload and its checking of
/// a service account's signed tokens), its one service account and a well-formed key of no account.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gcs {
    pub endpoint: String,
    pub client_email: String,
    pub private_key: String,
    pub other_private_key: String,
}

/// The bucket the GCS server is started with.
pub const GCS_BUCKET: &str = "cairn-gcs-backups";

static GCS: OnceLock<Gcs> = OnceLock::new();
static GCS_CHILD: Mutex<Option<Child>> = Mutex::new(None);

/// The GCS server of this test binary (built by `testgcs/build.sh` when missing, started on the first call;
/// it stops when the test process exits, its standard input closing).
pub fn gcs() -> &'static Gcs {
    GCS.get_or_init(|| {
        let bin = super::built_by("testgcs/build.sh");
        let mut child = Command::new(&bin)
            .args(["-bucket", GCS_BUCKET])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("read the GCS server's output");
        let gcs: Gcs = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("the GCS server said {line:?}: {e}"));
        *GCS_CHILD.lock().unwrap() = Some(child);
        gcs
    })
}

/// A `cairn::object_storage::Location` for the GCS server and `bucket`.
pub fn gcs_location(bucket: &str) -> cairn::object_storage::Location {
    let g = gcs();
    cairn::object_storage::Location {
        type_: cairn::crd::BackupStorageType::Gcs,
        bucket: bucket.into(),
        region: None,
        endpoint: Some(g.endpoint.clone()),
        verify_tls: true,
        force_path_style: false,
        access_key: g.client_email.clone(),
        secret_key: g.private_key.clone(),
        ca_bundle: None,
    }
}

/// The REST DTO for the GCS server: the service account's client email and private key.
pub fn gcs_dto(name: &str, bucket: &str) -> serde_json::Value {
    let g = gcs();
    serde_json::json!({
        "name": name, "type": "gcs", "bucketName": bucket, "url": g.endpoint,
        "accessKey": g.client_email, "secretKey": g.private_key,
    })
}

/// A `cairn::object_storage::Location` for the S3 server and `bucket` (path style, plain HTTP).
pub fn s3_location(bucket: &str) -> cairn::object_storage::Location {
    let s = &stores().s3;
    cairn::object_storage::Location {
        type_: cairn::crd::BackupStorageType::S3,
        bucket: bucket.into(),
        region: Some(s.region.clone()),
        endpoint: Some(s.endpoint.clone()),
        verify_tls: true,
        force_path_style: true,
        access_key: s.access_key.clone(),
        secret_key: s.secret_key.clone(),
        ca_bundle: None,
    }
}

/// The same for Azurite and `container`.
pub fn azure_location(container: &str) -> cairn::object_storage::Location {
    let a = &stores().azure;
    cairn::object_storage::Location {
        type_: cairn::crd::BackupStorageType::Azure,
        bucket: container.into(),
        region: None,
        endpoint: Some(a.endpoint.clone()),
        verify_tls: true,
        force_path_style: false,
        access_key: a.account.clone(),
        secret_key: a.key.clone(),
        ca_bundle: None,
    }
}

/// The REST DTO (`backup-storages` POST body) for the S3 server.
pub fn s3_dto(name: &str, bucket: &str) -> serde_json::Value {
    let s = &stores().s3;
    serde_json::json!({
        "name": name, "type": "s3", "bucketName": bucket, "url": s.endpoint, "region": s.region,
        "accessKey": s.access_key, "secretKey": s.secret_key, "forcePathStyle": true, "verifyTLS": true,
    })
}

/// The REST DTO for Azurite.
pub fn azure_dto(name: &str, container: &str) -> serde_json::Value {
    let a = &stores().azure;
    serde_json::json!({
        "name": name, "type": "azure", "bucketName": container, "url": a.endpoint,
        "accessKey": a.account, "secretKey": a.key,
    })
}

/// What the backup and restore tests start from: this test's namespaces, an admin, Cairn with the simulator
/// and its operators installed, and an S3 BackupStorage (named `env.name(base)`) on the real S3 server,
/// created over REST and seen in Cairn's cache. Returns (env, Cairn's state, REST as admin, storage name).
pub async fn backup_env(base: &str) -> (super::TestEnv, cairn::state::State, super::rest::Rest, String) {
    backup_env_on(base, |name| s3_dto(name, BUCKET)).await
}

/// The same with the storage `dto(name)` describes (e.g. [`gcs_dto`]).
pub async fn backup_env_on(base: &str, dto: impl FnOnce(&str) -> serde_json::Value) -> (super::TestEnv, cairn::state::State, super::rest::Rest, String) {
    use kube::ResourceExt;
    stores();
    let env = super::TestEnv::start().await;
    let ns = env.db_ns().to_string();
    cairn::auth::ensure_admin(&env.client, env.system_ns()).await.unwrap();
    let state = env.start_cairn().await;
    env.start_simulator();
    env.engines_installed(&state, &ns).await;
    let rest = super::rest::Rest::new(&state);
    super::eventually(30, "admin seen", || async { (state.auth.min_iat("admin") > 0).then_some(()) }).await;
    let storage = env.name(base);
    let (st, body) = rest.admin("POST", &format!("/v1/namespaces/{ns}/backup-storages"), Some(dto(&storage))).await;
    assert_eq!(st, 200, "{body}");
    super::eventually(30, "storage cached", || async { state.backup_storages.state().iter().any(|s| s.name_any() == storage).then_some(()) }).await;
    (env, state, rest, storage)
}
