//! The webhook's HTTPS: a certificate and key from PEM files (in a cluster, a mounted kubernetes.io/tls
//! Secret), read again when either file changes, so a cert-manager renewal or an updated Secret is served
//! without a restart; and an accept loop serving an axum router over HTTP/1.1 on TLS.
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// A TLS handshake (and then the request headers) must arrive within this, so idle connections cannot pile up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The modification times of the two files: a change of either means a new pair.
type Stamp = (Option<SystemTime>, Option<SystemTime>);

/// A certificate chain and its key, kept in PEM files.
#[derive(Debug)]
pub struct CertFiles {
    cert: PathBuf,
    key: PathBuf,
    current: Mutex<Option<(Stamp, Arc<CertifiedKey>)>>,
}

impl CertFiles {
    pub fn new(cert: PathBuf, key: PathBuf) -> CertFiles {
        CertFiles { cert, key, current: Mutex::new(None) }
    }

    /// Reads and checks the pair: a chain of at least one certificate, a key rustls can sign with, and the
    /// key belonging to the first certificate. Errors name the file and what is wrong with it.
    pub fn load(&self) -> anyhow::Result<Arc<CertifiedKey>> {
        let (cert, key) = (&self.cert, &self.key);
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| anyhow::anyhow!("--webhook-tls-cert {}: {e}", cert.display()))?;
        anyhow::ensure!(!chain.is_empty(), "--webhook-tls-cert {}: holds no PEM certificate", cert.display());
        let der = PrivateKeyDer::from_pem_file(key).map_err(|e| anyhow::anyhow!("--webhook-tls-key {}: {e}", key.display()))?;
        let provider = rustls::crypto::ring::default_provider();
        let pair = CertifiedKey::from_der(chain, der, &provider)
            .map_err(|e| anyhow::anyhow!("--webhook-tls-key {} does not fit --webhook-tls-cert {}: {e}", key.display(), cert.display()))?;
        Ok(Arc::new(pair))
    }

    fn stamp(&self) -> Stamp {
        let mtime = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        (mtime(&self.cert), mtime(&self.key))
    }

    /// The pair to serve: read again when a file changed. A pair that does not load (e.g. caught between
    /// the writes of the two files) leaves the previous one in service until the next handshake retries.
    fn current(&self) -> Option<Arc<CertifiedKey>> {
        let stamp = self.stamp();
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((s, pair)) = current.as_ref() {
            if *s == stamp {
                return Some(pair.clone());
            }
        }
        match self.load() {
            Ok(pair) => {
                tracing::info!(cert = %self.cert.display(), "webhook certificate loaded");
                *current = Some((stamp, pair.clone()));
                Some(pair)
            }
            Err(e) => {
                tracing::warn!(error = %e, "webhook certificate not (re)loaded; serving the previous one");
                current.as_ref().map(|(_, pair)| pair.clone())
            }
        }
    }
}

impl ResolvesServerCert for CertFiles {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current()
    }
}

/// Serves `app` over HTTPS on `listener` until the future is dropped. One task per connection; a failed
/// handshake or a broken connection ends only that connection.
pub async fn serve(listener: tokio::net::TcpListener, files: Arc<CertFiles>, app: axum::Router) -> anyhow::Result<()> {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(files);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                tracing::warn!(error = %e, "webhook accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "webhook TLS handshake failed"),
                Err(_) => return tracing::debug!(%peer, "webhook TLS handshake timed out"),
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service);
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "webhook connection ended");
            }
        });
    }
}
