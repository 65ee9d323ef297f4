//! Split-horizon DNS member certificates on a real API server (contract §1.10): a psmdb database naming a
//! SplitHorizonDNSConfig gets the Secret `<db>-split-horizon-ssl` (kubernetes.io/tls) with a certificate
//! that chains to the config's CA (verified by rustls' WebPKI path validation, as a TLS client would) for
//! every member's external name and the in-cluster names, and its PSMDB CR names it in
//! `spec.secrets.ssl` (accepted by the real CRD). The certificate is issued again when the members change
//! (replicas), when the CA changes, and when the Secret is removed; a CA that cannot sign is reported on
//! the database's status with the field named.
use crate::common;

use cairn::controller::split_horizon_tls::{new_ca, secret_name};
use cairn::crd::*;
use common::rest::Rest;
use common::*;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::Api;
use serde_json::json;
use std::sync::Arc;

/// Whether `cert_pem` is a valid server certificate for `host` under the root `ca_pem` (chain, validity,
/// key usage and name, as rustls checks a server).
fn verify(cert_pem: &[u8], ca_pem: &[u8], host: &str) -> Result<(), String> {
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca_pem).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build().map_err(|e| e.to_string())?;
    let leaf = CertificateDer::from_pem_slice(cert_pem).map_err(|e| e.to_string())?;
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    verifier.verify_server_cert(&leaf, &[], &name, &[], UnixTime::now()).map(|_| ()).map_err(|e| e.to_string())
}

fn data(s: &Secret, k: &str) -> Vec<u8> {
    s.data.as_ref().and_then(|d| d.get(k)).map(|b| b.0.clone()).unwrap_or_default()
}

#[tokio::test]
async fn member_certificates_are_signed_by_the_config_ca_for_every_member_name() {
    let (env, state, base) = crate::split_horizon::setup().await;
    let ns = env.db_ns().to_string();
    let c = env.client.clone();
    let rest = Rest::new(&state);
    let secrets: Api<Secret> = Api::namespaced(c.clone(), &ns);

    let (ca1, key1) = new_ca("first CA");
    let config = json!({"apiVersion": "enginefeatures.everest.percona.com/v1alpha1", "kind": "SplitHorizonDNSConfig",
        "metadata": {"name": "shtls"}, "spec": {"baseDomainNameSuffix": "db.example.com",
            "tls": {"secretName": "shtls-ca", "certificate": {"ca.crt": ca1, "ca.key": key1}}}});
    let (s, out) = rest.admin("POST", &base, Some(config)).await;
    assert_eq!(s, 200, "{out}");
    let db = json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster", "metadata": {"name": "shtls-mg"},
        "spec": {"engine": {"type": "psmdb", "version": "8.0.12-4", "replicas": 3, "storage": {"size": "2G"}, "resources": {"cpu": "1", "memory": "2G"}},
            "engineFeatures": {"psmdb": {"splitHorizonDnsConfigName": "shtls"}}}});
    let (s, out) = rest.admin("POST", &format!("/v1/namespaces/{ns}/database-clusters"), Some(db)).await;
    assert_eq!(s, 200, "{out}");

    let member = |i: i32| format!("shtls-mg-rs0-{i}-{ns}.db.example.com");
    let name = secret_name("shtls-mg");
    assert_eq!(name, "shtls-mg-split-horizon-ssl");
    // Waits until the Secret holds a certificate the CA `ca` signed for all of `hosts`.
    let valid_for = |ca: String, hosts: Vec<String>, what: &'static str| {
        let (secrets, name) = (secrets.clone(), name.clone());
        async move {
            eventually(90, what, || async {
                let s = secrets.get_opt(&name).await.unwrap()?;
                let crt = data(&s, "tls.crt");
                hosts.iter().all(|h| verify(&crt, ca.as_bytes(), h).is_ok()).then_some(s)
            })
            .await
        }
    };

    // Issued for the three members' external names and the in-cluster names, signed by the CA.
    let hosts: Vec<String> = (0..3).map(member).chain([format!("shtls-mg-rs0.{ns}.svc.cluster.local"), format!("shtls-mg-rs0-1.{ns}.svc.cluster.local")]).collect();
    let s = valid_for(ca1.clone(), hosts.clone(), "the member certificate signed by the first CA").await;
    assert_eq!(s.type_.as_deref(), Some("kubernetes.io/tls"));
    assert_eq!(data(&s, "ca.crt"), ca1.trim().as_bytes().iter().chain(b"\n").copied().collect::<Vec<u8>>(), "the CA beside it");
    assert!(String::from_utf8(data(&s, "tls.key")).unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
    let owner = s.metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(owner.iter().map(|o| (o.kind.as_str(), o.name.as_str())).collect::<Vec<_>>(), [("DatabaseCluster", "shtls-mg")], "owned by the database");
    let crt = data(&s, "tls.crt");
    let e = verify(&crt, ca1.as_bytes(), &member(3)).unwrap_err();
    assert!(e.contains("not valid for name"), "no fourth member yet: {e}");
    assert!(verify(&crt, ca1.as_bytes(), &format!("shtls-mg-rs0-0-{ns}.other.example.com")).is_err(), "another domain");
    let (other_ca, _) = new_ca("first CA");
    assert!(verify(&crt, other_ca.as_bytes(), &member(0)).is_err(), "a CA of the same name but another key does not verify it");

    // The PSMDB CR names it for the members' TLS (the real CRD accepted it: it was applied).
    let mdbs: Api<cairn::upstream::psmdb::PerconaServerMongoDB> = Api::namespaced(c.clone(), &ns);
    let up = eventually(60, "the PSMDB CR", || async { mdbs.get_opt("shtls-mg").await.unwrap() }).await;
    assert_eq!(up.spec.secrets.and_then(|s| s.ssl).as_deref(), Some(name.as_str()));

    // Five members: issued again with the two new names.
    let dbs: Api<DatabaseCluster> = Api::namespaced(c.clone(), &ns);
    dbs.patch("shtls-mg", &PatchParams::default(), &Patch::Merge(json!({"spec": {"engine": {"replicas": 5}}}))).await.unwrap();
    valid_for(ca1.clone(), (0..5).map(member).collect(), "issued again for five members").await;

    // A new CA (through REST): issued again, signed by it; the old CA no longer verifies it.
    let (ca2, key2) = new_ca("second CA");
    let (s, out) = rest.admin("PATCH", &format!("{base}/shtls"), Some(json!({"spec": {"tls": {"certificate": {"ca.crt": ca2, "ca.key": key2}}}}))).await;
    assert_eq!(s, 200, "{out}");
    let s = valid_for(ca2.clone(), (0..5).map(member).collect(), "issued again by the second CA").await;
    assert!(verify(&data(&s, "tls.crt"), ca1.as_bytes(), &member(0)).is_err(), "the first CA no longer signs it");

    // Removed: issued again.
    let before = data(&s, "tls.crt");
    secrets.delete(&name, &DeleteParams::default()).await.unwrap();
    let s = valid_for(ca2.clone(), vec![member(4)], "issued again after its removal").await;
    assert_ne!(data(&s, "tls.crt"), before);

    // A CA Secret whose key is not the certificate's (written past Cairn, as kubectl would): the database
    // reports it, naming the field and the half.
    let (_, stranger) = new_ca("stranger");
    let bad = json!({"stringData": {"ca.key": stranger}});
    secrets.patch("shtls-ca", &PatchParams::default(), &Patch::Merge(bad)).await.unwrap();
    secrets.delete(&name, &DeleteParams::default()).await.unwrap();
    let message = eventually(90, "the error on the database", || async {
        let st = dbs.get("shtls-mg").await.unwrap().status?;
        (st.status == AppState::Error).then(|| st.message.unwrap_or_default())
    })
    .await;
    assert!(message.starts_with("spec.engineFeatures.psmdb.splitHorizonDnsConfigName:") && message.contains("ca.key") && message.contains("does not belong"), "{message}");
    assert!(secrets.get_opt(&name).await.unwrap().is_none(), "nothing issued with a broken CA");
}
