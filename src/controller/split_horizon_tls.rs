//! Split-horizon DNS member certificates (contract §1.10). A MongoDB client that connects by a member's
//! external name (`<db>-rs0-<i>-<namespace>.<baseDomainNameSuffix>`) checks that name against the
//! member's TLS certificate, so the members serve a certificate signed by the SplitHorizonDNSConfig's CA
//! (the Secret `spec.tls.secretName`: `ca.crt`, `ca.key`) that carries every member's external name, and
//! the in-cluster names, as subject alternative names. Cairn issues it into the Secret
//! `<db>-split-horizon-ssl` (type `kubernetes.io/tls`: `tls.crt`, `tls.key`, `ca.crt`, owned by the
//! DatabaseCluster) and the PSMDB CR names that Secret in `spec.secrets.ssl` (the upstream field for the
//! members' external TLS certificate; `sslInternal` stays the operator's).
//!
//! The Secret records what it was issued for (annotation [`ANNOTATION_ISSUED_FOR`]: a digest of the CA
//! certificate and the names) and is issued again when the CA, the members (replicas) or the names (base
//! domain) change, when it was removed or altered, and [`RENEW_BEFORE`] its expiry.
use crate::crd::DatabaseCluster;
use crate::engine::psmdb::{split_horizon_domain, REPLSET};
use crate::engine::SplitHorizonInput;
use crate::state::State;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use rcgen::{CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SerialNumber};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;

/// On the member Secret: the digest of the CA certificate and the names it was issued for.
pub const ANNOTATION_ISSUED_FOR: &str = "cairn.io/split-horizon-issued-for";
/// How long an issued certificate is valid (at most as long as the CA).
pub const VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// A certificate this close to its expiry is issued again.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);
const MANAGER: &str = "cairn-split-horizon";

/// The Secret holding a database's member certificate (`spec.secrets.ssl` of its PSMDB CR).
pub use crate::engine::psmdb::split_horizon_ssl_secret as secret_name;

/// The names the member certificate carries: every member's external name, then the in-cluster names a
/// client inside the cluster uses (the replica set's headless Service and its pods, each member's own
/// Service when exposed) and `localhost`.
pub fn hostnames(db: &DatabaseCluster, suffix: &str) -> Vec<String> {
    let (name, ns) = (db.name_any(), db.namespace().unwrap_or_default());
    let rs = format!("{name}-{REPLSET}");
    let mut out: Vec<String> = (0..db.replicas()).map(|i| split_horizon_domain(db, i, suffix)).collect();
    for host in std::iter::once(rs.clone()).chain(std::iter::once(format!("*.{rs}"))).chain((0..db.replicas()).map(|i| format!("{rs}-{i}"))) {
        out.extend([host.clone(), format!("{host}.{ns}"), format!("{host}.{ns}.svc"), format!("{host}.{ns}.svc.cluster.local")]);
    }
    out.push("localhost".into());
    out
}

/// What a certificate was issued for: the CA certificate and the names (hex SHA-256).
pub fn issued_for(ca_crt: &str, names: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(ca_crt.trim().as_bytes());
    for n in names {
        h.update(b"\n");
        h.update(n.as_bytes());
    }
    hex::encode(h.finalize())
}

/// A CA that can sign: its certificate (PEM, as given) and key, and when it expires.
pub struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
    not_after: OffsetDateTime,
}

/// Reads a CA from its PEM halves and checks it can sign member certificates: a certificate marked as a
/// CA, valid now, and an unencrypted PKCS#8 key belonging to it. The error names the half (`ca.crt` or
/// `ca.key`) and what is wrong with it.
pub fn parse_ca(crt: &str, key: &str) -> Result<Ca, (&'static str, String)> {
    let bad_crt = |m: String| ("ca.crt", m);
    let (_, pem) = x509_parser::pem::parse_x509_pem(crt.as_bytes()).map_err(|e| bad_crt(format!("is not a PEM certificate: {e}")))?;
    if pem.label != "CERTIFICATE" {
        return Err(bad_crt(format!("must be a PEM CERTIFICATE (found {:?})", pem.label)));
    }
    let x509 = pem.parse_x509().map_err(|e| bad_crt(format!("is not a valid X.509 certificate: {e}")))?;
    if !x509.is_ca() {
        return Err(bad_crt("is not a CA certificate (basicConstraints CA:TRUE is missing)".into()));
    }
    let validity = x509.validity();
    if !validity.is_valid() {
        return Err(bad_crt(format!("is not valid now (valid from {} until {})", validity.not_before, validity.not_after)));
    }
    let not_after = OffsetDateTime::from_unix_timestamp(validity.not_after.timestamp()).map_err(|e| bad_crt(e.to_string()))?;
    if !key.trim_start().starts_with("-----BEGIN PRIVATE KEY-----") {
        return Err(("ca.key", "must be an unencrypted PKCS#8 key (-----BEGIN PRIVATE KEY-----; convert with `openssl pkcs8 -topk8 -nocrypt`)".into()));
    }
    let key_pair = KeyPair::from_pem(key).map_err(|e| ("ca.key", format!("is not a usable RSA, ECDSA P-256/P-384 or Ed25519 key: {e}")))?;
    if key_pair.der_bytes() != &*x509.public_key().subject_public_key.data {
        return Err(("ca.key", "does not belong to the certificate in ca.crt".into()));
    }
    let issuer = Issuer::from_ca_cert_der(&pem.contents.clone().into(), key_pair).map_err(|e| bad_crt(e.to_string()))?;
    Ok(Ca { pem: crt.trim().to_string() + "\n", issuer, not_after })
}

/// A member certificate and its key (PEM), and its expiry.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub not_after: OffsetDateTime,
}

/// Issues a server (and client: members also connect to each other) certificate for `names`, signed by
/// `ca`, with a new ECDSA P-256 key, valid from an hour ago (clock skew) for [`VALIDITY`] or until the CA
/// expires.
pub fn issue(ca: &Ca, common_name: &str, names: &[String], now: OffsetDateTime) -> Result<Issued, String> {
    let mut p = CertificateParams::new(names.to_vec()).map_err(|e| format!("the member names cannot be put in a certificate: {e}"))?;
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, common_name.chars().take(64).collect::<String>());
    p.not_before = now - time::Duration::hours(1);
    p.not_after = (now + VALIDITY).min(ca.not_after);
    let mut serial = *uuid::Uuid::new_v4().as_bytes();
    serial[0] &= 0x7f;
    p.serial_number = Some(SerialNumber::from_slice(&serial));
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    p.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = p.signed_by(&key, &ca.issuer).map_err(|e| format!("signing the member certificate: {e}"))?;
    Ok(Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem(), not_after: p.not_after })
}

/// When a PEM certificate expires (None: not a certificate).
fn expiry(cert_pem: &[u8]) -> Option<OffsetDateTime> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem).ok()?;
    let x509 = pem.parse_x509().ok()?;
    OffsetDateTime::from_unix_timestamp(x509.validity().not_after.timestamp()).ok()
}

fn data<'a>(s: &'a Secret, key: &str) -> Option<&'a [u8]> {
    s.data.as_ref()?.get(key).map(|b| b.0.as_slice()).filter(|b| !b.is_empty())
}

/// Makes the database's member certificate Secret current (see the module doc). `Ok(Ok(d))`: it is, and
/// needs renewing in `d`; `Ok(Err(message))`: the CA cannot be used (the database's status shows it).
pub async fn sync(state: &State, db: &DatabaseCluster, config: &SplitHorizonInput) -> Result<Result<Duration, String>, kube::Error> {
    let ns = db.namespace().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(state.client.clone(), &ns);
    let field = "spec.engineFeatures.psmdb.splitHorizonDnsConfigName";
    let ca_name = &config.tls_secret_name;
    let Some(ca_secret) = api.get_opt(ca_name).await? else {
        return Ok(Err(format!("{field}: the CA Secret {ca_name:?} of the split-horizon DNS config does not exist in namespace {ns:?}")));
    };
    let text = |k: &str| data(&ca_secret, k).map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
    let (ca_crt, ca_key) = (text("ca.crt"), text("ca.key"));
    let names = hostnames(db, &config.base_domain_name_suffix);
    let wanted = issued_for(&ca_crt, &names);
    let name = secret_name(&db.name_any());
    let now = OffsetDateTime::now_utc();
    if let Some(current) = api.get_opt(&name).await? {
        let same = current.annotations().get(ANNOTATION_ISSUED_FOR) == Some(&wanted)
            && data(&current, "tls.key").is_some()
            && data(&current, "ca.crt") == Some(ca_crt.as_bytes());
        if let Some(expires) = data(&current, "tls.crt").and_then(expiry).filter(|_| same) {
            let left = Duration::try_from(expires - now).unwrap_or_default();
            if left > RENEW_BEFORE {
                return Ok(Ok(left - RENEW_BEFORE));
            }
        }
    }
    let ca = match parse_ca(&ca_crt, &ca_key) {
        Ok(ca) => ca,
        Err((half, m)) => return Ok(Err(format!("{field}: {half} in the CA Secret {ca_name:?} {m}"))),
    };
    let issued = match issue(&ca, &format!("{}-{REPLSET}", db.name_any()), &names, now) {
        Ok(i) => i,
        Err(m) => return Ok(Err(format!("{field}: {m}"))),
    };
    let mut secret = Secret {
        type_: Some("kubernetes.io/tls".into()),
        data: Some(BTreeMap::from([
            ("tls.crt".to_string(), ByteString(issued.cert_pem.into_bytes())),
            ("tls.key".to_string(), ByteString(issued.key_pem.into_bytes())),
            ("ca.crt".to_string(), ByteString(ca.pem.clone().into_bytes())),
        ])),
        ..Default::default()
    };
    secret.metadata.name = Some(name.clone());
    secret.metadata.namespace = Some(ns.clone());
    secret.metadata.annotations = Some(BTreeMap::from([(ANNOTATION_ISSUED_FOR.to_string(), issued_for(&ca.pem, &names))]));
    secret.metadata.owner_references = db.controller_owner_ref(&()).map(|o| vec![o]);
    let mut v = serde_json::to_value(&secret).map_err(kube::Error::SerdeError)?;
    v["apiVersion"] = "v1".into();
    v["kind"] = "Secret".into();
    api.patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&v)).await?;
    tracing::info!(db = %db.name_any(), namespace = %ns, secret = %name, "split-horizon member certificate issued");
    Ok(Ok(Duration::try_from(issued.not_after - now).unwrap_or_default().saturating_sub(RENEW_BEFORE)))
}

/// A new self-signed CA (certificate, PKCS#8 key; PEM) named `name`: what a user uploads (tests, sandbox).
pub fn new_ca(name: &str) -> (String, String) {
    let key = KeyPair::generate().expect("a P-256 key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("no names");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    (p.self_signed(&key).expect("self-signed").pem(), key.serialize_pem())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_ca() -> (String, String) {
        new_ca("Test CA")
    }

    fn db(replicas: i32) -> DatabaseCluster {
        let mut d: DatabaseCluster = serde_json::from_value(serde_json::json!({
            "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster", "metadata": {"name": "mg", "namespace": "ns"},
            "spec": {"engine": {"type": "psmdb", "replicas": replicas, "storage": {"size": "1G"}}}
        }))
        .unwrap();
        d.metadata.uid = Some("u".into());
        d
    }

    #[test]
    fn names_cover_every_member_and_the_cluster_names() {
        let names = hostnames(&db(3), "mongo.example.com");
        assert_eq!(names[..3], ["mg-rs0-0-ns.mongo.example.com", "mg-rs0-1-ns.mongo.example.com", "mg-rs0-2-ns.mongo.example.com"]);
        for n in ["mg-rs0.ns.svc.cluster.local", "*.mg-rs0.ns.svc.cluster.local", "mg-rs0-2.ns", "localhost"] {
            assert!(names.iter().any(|x| x == n), "{n} in {names:?}");
        }
        assert_ne!(issued_for("ca", &names), issued_for("ca", &hostnames(&db(5), "mongo.example.com")), "members change it");
        assert_ne!(issued_for("ca", &names), issued_for("ca", &hostnames(&db(3), "other.example.com")), "the domain changes it");
        assert_ne!(issued_for("ca", &names), issued_for("another ca", &names), "the CA changes it");
    }

    #[test]
    fn issued_certificates_name_the_ca_and_carry_the_names() {
        let (crt, key) = test_ca();
        let ca = parse_ca(&crt, &key).unwrap();
        let names = hostnames(&db(3), "mongo.example.com");
        let now = OffsetDateTime::now_utc();
        let out = issue(&ca, "mg-rs0", &names, now).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(out.cert_pem.as_bytes()).unwrap();
        let x = pem.parse_x509().unwrap();
        let (_, ca_pem) = x509_parser::pem::parse_x509_pem(crt.as_bytes()).unwrap();
        let ca_x = ca_pem.parse_x509().unwrap();
        assert_eq!(x.issuer(), ca_x.subject());
        let sans: Vec<String> = x
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|g| match g {
                x509_parser::extensions::GeneralName::DNSName(d) => d.to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(sans, names);
        assert!(!x.is_ca());
        assert!(out.not_after <= now + VALIDITY && out.not_after > now + RENEW_BEFORE);
        assert!(out.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    }

    #[test]
    fn unusable_cas_are_refused_with_the_half_named() {
        let (crt, key) = test_ca();
        let (_, other_key) = test_ca();
        assert_eq!(parse_ca("not pem", &key).err().unwrap().0, "ca.crt");
        assert_eq!(parse_ca(&crt, "-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n").err().unwrap().0, "ca.key");
        let e = parse_ca(&crt, &other_key).err().unwrap();
        assert_eq!(e.0, "ca.key");
        assert!(e.1.contains("does not belong"), "{e:?}");
        // A leaf (not a CA) certificate.
        let ca = parse_ca(&crt, &key).unwrap();
        let leaf = issue(&ca, "x", &["a.example.com".into()], OffsetDateTime::now_utc()).unwrap();
        let e = parse_ca(&leaf.cert_pem, &leaf.key_pem).err().unwrap();
        assert_eq!(e.0, "ca.crt");
        assert!(e.1.contains("not a CA"), "{e:?}");
    }
}
