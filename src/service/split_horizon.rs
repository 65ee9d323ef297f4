//! Split-horizon DNS configs (contract §1.10, §3.1: `/namespaces/{ns}/engine-features/split-horizon-dns-configs`)
//! through the one front door. RBAC resource `enginefeatures/split-horizon-dns-configs`, object
//! `<ns>/<name>`. The CA given in `spec.tls.certificate` is write-only: it is moved into the Secret
//! `spec.tls.secretName` (`ca.crt`, `ca.key`) and blanked. `status.inUse` is what the cache says now.
use super::authz::{self, authorize, can, res, Action, Principal};
use super::validation::reference;
use super::Caller;
use crate::crd::*;
use crate::error::ApiError;
use crate::state::State;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

fn users(state: &State, ns: &str, name: &str) -> Vec<String> {
    super::policies::users_of(state, |d| {
        d.namespace().as_deref() == Some(ns) && crate::controller::database_cluster::split_horizon_name(d) == Some(name)
    })
}

fn with_in_use(state: &State, mut c: SplitHorizonDNSConfig) -> SplitHorizonDNSConfig {
    let in_use = !users(state, &c.namespace().unwrap_or_default(), &c.name_any()).is_empty();
    c.status.get_or_insert_with(Default::default).in_use = in_use;
    c
}

fn managed(state: &State, ns: &str) -> Result<(), ApiError> {
    if state.is_managed(ns) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("namespace {ns:?}")))
    }
}

pub fn list(state: &State, caller: &Caller, ns: &str) -> Result<Vec<SplitHorizonDNSConfig>, ApiError> {
    managed(state, ns)?;
    let mut v: Vec<SplitHorizonDNSConfig> = state
        .split_horizon_dns_configs
        .state()
        .iter()
        .filter(|c| c.namespace().as_deref() == Some(ns))
        .filter(|c| can(state, caller, res::SPLIT_HORIZON_DNS_CONFIGS, Action::Read, &authz::object(ns, &c.name_any())))
        .map(|c| with_in_use(state, (**c).clone()))
        .collect();
    v.sort_by_key(|c| c.name_any());
    Ok(v)
}

pub fn get(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<SplitHorizonDNSConfig, ApiError> {
    authorize(state, caller, res::SPLIT_HORIZON_DNS_CONFIGS, Action::Read, &authz::object(ns, name))?;
    managed(state, ns)?;
    state
        .split_horizon_dns_configs
        .get(&ObjectRef::new(name).within(ns))
        .map(|c| with_in_use(state, (*c).clone()))
        .ok_or_else(|| ApiError::not_found(format!("split-horizon DNS config {ns}/{name}")))
}

/// The spec's rules: a domain suffix (lowercase DNS name with at least one dot), a Secret name, and a CA
/// given whole (both PEM halves) or not at all.
pub fn validate(spec: &SplitHorizonDNSConfigSpec) -> Result<(), ApiError> {
    let f = "spec.baseDomainNameSuffix";
    let d = spec.base_domain_name_suffix.as_str();
    let label_ok = |p: &str| {
        !p.is_empty() && p.len() <= 63 && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') && !p.starts_with('-') && !p.ends_with('-')
    };
    if d.is_empty() {
        return Err(ApiError::invalid(f, "is required (e.g. mongo.example.com)"));
    }
    if d.len() > 253 || !d.contains('.') || !d.split('.').all(label_ok) {
        return Err(ApiError::invalid(f, format!("{d:?} must be a lowercase domain name such as mongo.example.com")));
    }
    if spec.tls.secret_name.is_empty() {
        return Err(ApiError::invalid("spec.tls.secretName", "is required"));
    }
    reference("spec.tls.secretName", Some(&spec.tls.secret_name))?;
    if let Some(c) = &spec.tls.certificate {
        for (k, v) in [("ca.crt", &c.ca_crt), ("ca.key", &c.ca_key)] {
            let field = format!("spec.tls.certificate[{k:?}]");
            match v.as_deref() {
                None | Some("") => return Err(ApiError::invalid(&field, "is required with the other half of the CA")),
                Some(pem) if !pem.trim_start().starts_with("-----BEGIN ") => return Err(ApiError::invalid(&field, "must be PEM (-----BEGIN …)")),
                Some(_) => {}
            }
        }
        // The members' certificates are signed with it: a CA, valid now, with its own key.
        if let Err((half, m)) = crate::controller::split_horizon_tls::parse_ca(c.ca_crt.as_deref().unwrap_or(""), c.ca_key.as_deref().unwrap_or("")) {
            return Err(ApiError::invalid(&format!("spec.tls.certificate[{half:?}]"), m));
        }
    }
    Ok(())
}

/// A changed spec: valid, and the domain suffix fixed while a database uses the config (its members'
/// names would change under it). The REST `PATCH` and the admission webhook.
pub fn admit_update(state: &State, ns: &str, name: &str, old: &SplitHorizonDNSConfigSpec, new: &SplitHorizonDNSConfigSpec) -> Result<(), ApiError> {
    validate(new)?;
    let used = users(state, ns, name);
    if new.base_domain_name_suffix != old.base_domain_name_suffix && !used.is_empty() {
        return Err(ApiError::on_field(409, "spec.baseDomainNameSuffix", format!("cannot change while databases use the config ({})", used.join(", "))));
    }
    Ok(())
}

/// Writes a given CA into the Secret and blanks it in the object; without one, the Secret must exist.
async fn store_certificate(state: &State, ns: &str, spec: &mut SplitHorizonDNSConfigSpec) -> Result<(), ApiError> {
    let api: Api<Secret> = Api::namespaced(state.client.clone(), ns);
    let secret = spec.tls.secret_name.clone();
    match spec.tls.certificate.take() {
        Some(c) => {
            let s = serde_json::json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": secret, "namespace": ns},
                "stringData": {"ca.crt": c.ca_crt, "ca.key": c.ca_key},
            });
            api.patch(&secret, &PatchParams::apply("cairn").force(), &Patch::Apply(&s)).await?;
        }
        None => {
            if api.get_opt(&secret).await?.is_none() {
                return Err(ApiError::invalid("spec.tls.certificate", format!("is required: Secret {secret:?} does not exist in namespace {ns:?}")));
            }
        }
    }
    Ok(())
}

async fn until_cached(state: &State, ns: &str, name: &str, rv: Option<&str>) {
    super::until_cached(&state.split_horizon_dns_configs, &ObjectRef::new(name).within(ns), rv).await
}

pub async fn create(state: &State, caller: &Caller, ns: &str, mut c: SplitHorizonDNSConfig) -> Result<SplitHorizonDNSConfig, ApiError> {
    let name = c.name_any();
    authorize(state, caller, res::SPLIT_HORIZON_DNS_CONFIGS, Action::Create, &authz::object(ns, &name))?;
    managed(state, ns)?;
    super::policies::validate_object_name(&name)?;
    if let Some(n) = c.metadata.namespace.as_deref().filter(|n| !n.is_empty() && *n != ns) {
        return Err(ApiError::invalid("metadata.namespace", format!("must match the path namespace {ns:?} (got {n:?})")));
    }
    validate(&c.spec)?;
    store_certificate(state, ns, &mut c.spec).await?;
    c.metadata = kube::api::ObjectMeta { name: Some(name.clone()), namespace: Some(ns.into()), labels: c.metadata.labels, ..Default::default() };
    c.status = None;
    let api: Api<SplitHorizonDNSConfig> = Api::namespaced(state.client.clone(), ns);
    let created = api.create(&PostParams { field_manager: Some("cairn".into()), ..Default::default() }, &c).await.map_err(|e| match e {
        kube::Error::Api(s) if s.code == 409 => ApiError::on_field(409, "metadata.name", format!("a split-horizon DNS config named {name:?} already exists")),
        e => e.into(),
    })?;
    until_cached(state, ns, &name, created.metadata.resource_version.as_deref()).await;
    Ok(with_in_use(state, created))
}

/// `PATCH`: a JSON merge patch of the spec (`{"spec": {...}}`). The domain suffix cannot change while a
/// database uses the config (its members' names would change under it).
pub async fn patch(state: &State, caller: &Caller, ns: &str, name: &str, body: serde_json::Value) -> Result<SplitHorizonDNSConfig, ApiError> {
    authorize(state, caller, res::SPLIT_HORIZON_DNS_CONFIGS, Action::Update, &authz::object(ns, name))?;
    let current = get(state, caller, ns, name)?;
    let mut spec = serde_json::to_value(&current.spec).map_err(|_| ApiError::internal())?;
    let Some(change) = body.get("spec") else { return Err(ApiError::invalid("spec", "is required (a merge patch of the spec)")) };
    json_patch::merge(&mut spec, change);
    let mut spec: SplitHorizonDNSConfigSpec = serde_json::from_value(spec).map_err(|e| ApiError::invalid("spec", e))?;
    admit_update(state, ns, name, &current.spec, &spec)?;
    store_certificate(state, ns, &mut spec).await?;
    let api: Api<SplitHorizonDNSConfig> = Api::namespaced(state.client.clone(), ns);
    let p: json_patch::Patch = serde_json::from_value(serde_json::json!([{"op": "replace", "path": "/spec", "value": spec}])).map_err(|_| ApiError::internal())?;
    let updated = api.patch(name, &PatchParams { field_manager: Some("cairn".into()), ..Default::default() }, &Patch::<()>::Json(p)).await?;
    until_cached(state, ns, name, updated.metadata.resource_version.as_deref()).await;
    Ok(with_in_use(state, updated))
}

/// Refused (409) while a database names the config.
pub async fn delete(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<(), ApiError> {
    authorize(state, caller, res::SPLIT_HORIZON_DNS_CONFIGS, Action::Delete, &authz::object(ns, name))?;
    get(state, caller, ns, name)?;
    let used = users(state, ns, name);
    if !used.is_empty() {
        return Err(ApiError::new(409, format!("split-horizon DNS config {name:?} is in use by {}; change those databases first", used.join(", "))));
    }
    Api::<SplitHorizonDNSConfig>::namespaced(state.client.clone(), ns).delete(name, &DeleteParams::default()).await?;
    until_cached(state, ns, name, None).await;
    Ok(())
}

/// The checks of a database naming a config: psmdb only, unsharded, the config exists in its namespace,
/// and the caller may read it (OpenEverest's compound check for engine features).
pub fn validate_reference(state: &State, caller: &impl Principal, db: &DatabaseCluster) -> Result<(), ApiError> {
    let Some(name) = crate::controller::database_cluster::split_horizon_name(db) else { return Ok(()) };
    let field = "spec.engineFeatures.psmdb.splitHorizonDnsConfigName";
    if db.spec.engine.type_ != EngineType::Psmdb {
        return Err(ApiError::invalid(field, "split-horizon DNS is only available for psmdb"));
    }
    if db.spec.sharding.as_ref().is_some_and(|s| s.enabled) {
        return Err(ApiError::invalid(field, "split-horizon DNS is only available for unsharded clusters"));
    }
    let ns = db.namespace().unwrap_or_default();
    authorize(state, caller, res::SPLIT_HORIZON_DNS_CONFIGS, Action::Read, &authz::object(&ns, name))?;
    if state.split_horizon_dns_configs.get(&ObjectRef::new(name).within(&ns)).is_none() {
        return Err(ApiError::invalid(field, format!("split-horizon DNS config {name:?} does not exist in namespace {ns:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::split_horizon_dns_config::*;

    #[test]
    fn spec_rules() {
        let spec = |d: &str, cert: Option<(&str, &str)>| SplitHorizonDNSConfigSpec {
            base_domain_name_suffix: d.into(),
            tls: SplitHorizonTls {
                secret_name: "ca".into(),
                certificate: cert.map(|(c, k)| SplitHorizonCertificate { ca_crt: Some(c.into()), ca_key: Some(k.into()) }),
            },
        };
        let (crt, key) = crate::controller::split_horizon_tls::new_ca("t");
        assert!(validate(&spec("mongo.example.com", None)).is_ok());
        assert!(validate(&spec("mongo.example.com", Some((&crt, &key)))).is_ok());
        let e = validate(&spec("mongo.example.com", Some(("-----BEGIN CERTIFICATE-----", "-----BEGIN PRIVATE KEY-----")))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.tls.certificate[\"ca.crt\"]"), "not a certificate");
        let (_, other_key) = crate::controller::split_horizon_tls::new_ca("u");
        let e = validate(&spec("mongo.example.com", Some((&crt, &other_key)))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.tls.certificate[\"ca.key\"]"), "another CA's key");
        for bad in ["", "localhost", "Mongo.example.com", "-a.example.com", "a..b"] {
            assert_eq!(validate(&spec(bad, None)).unwrap_err().field.as_deref(), Some("spec.baseDomainNameSuffix"), "{bad:?}");
        }
        let e = validate(&spec("a.b", Some(("-----BEGIN CERTIFICATE-----", "")))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.tls.certificate[\"ca.key\"]"));
        let e = validate(&spec("a.b", Some(("not pem", "-----BEGIN KEY")))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("spec.tls.certificate[\"ca.crt\"]"));
    }
}
