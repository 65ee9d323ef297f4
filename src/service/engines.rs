//! DatabaseEngines through the one front door: list and read from the cache; an update may change only
//! `spec.allowedVersions`, and every listed version must be one the installed operator can run.
use super::authz::{self, authorize, can, res, Action};
use super::Caller;
use crate::crd::database_engine::engine_info;
use crate::crd::{DatabaseEngine, EngineType};
use crate::engine::versions::{self, EngineVersions};
use crate::error::ApiError;
use crate::state::State;
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

fn managed(state: &State, ns: &str) -> Result<(), ApiError> {
    if state.is_managed(ns) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("namespace {ns:?}")))
    }
}

/// The DatabaseEngines of a managed namespace the caller may read (RBAC `database-engines` read on
/// `<ns>/<name>`, per item), sorted by name.
pub fn list_engines(state: &State, caller: &Caller, ns: &str) -> Result<Vec<DatabaseEngine>, ApiError> {
    managed(state, ns)?;
    let mut v: Vec<DatabaseEngine> = state
        .engines
        .state()
        .iter()
        .filter(|e| e.namespace().as_deref() == Some(ns))
        .filter(|e| can(state, caller, res::DATABASE_ENGINES, Action::Read, &authz::object(ns, &e.name_any())))
        .map(|e| (**e).clone())
        .collect();
    v.sort_by_key(|e| e.name_any());
    Ok(v)
}

pub fn get_engine(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<DatabaseEngine, ApiError> {
    authorize(state, caller, res::DATABASE_ENGINES, Action::Read, &authz::object(ns, name))?;
    managed(state, ns)?;
    state
        .engines
        .get(&ObjectRef::new(name).within(ns))
        .map(|e| (*e).clone())
        .ok_or_else(|| ApiError::not_found(format!("database engine {ns}/{name}")))
}

/// Every engine version the installed operator can run, before `allowedVersions` narrows it: the version
/// service's last answer for that operator version, else the status (when no restriction applies to it),
/// else the built-in catalog.
pub fn full_catalog(state: &State, de: &DatabaseEngine) -> EngineVersions {
    let st = de.status.clone().unwrap_or_default();
    if let Some(v) = state.version_service.last_good(engine_info(de.spec.type_).product, &st.operator_version) {
        return v;
    }
    if de.spec.allowed_versions.is_empty() && !st.available_versions.engine.is_empty() {
        return st.available_versions;
    }
    versions::builtin(de.spec.type_)
}

/// The rules for an update: only `spec.allowedVersions` may change; each entry names a version of the
/// catalog, once.
pub fn validate_update(current: &DatabaseEngine, new: &DatabaseEngine, catalog: &EngineVersions) -> Result<(), ApiError> {
    if new.spec.type_ != current.spec.type_ {
        return Err(ApiError::invalid("spec.type", format!("is immutable (it is {:?})", current.spec.type_.as_str())));
    }
    if new.spec.secret_keys.is_some() && new.spec.secret_keys != current.spec.secret_keys {
        return Err(ApiError::invalid("spec.secretKeys", "cannot be changed (only spec.allowedVersions can)"));
    }
    let mut seen = std::collections::HashSet::new();
    for v in &new.spec.allowed_versions {
        if !catalog.engine.contains_key(v) {
            return Err(ApiError::invalid(
                "spec.allowedVersions",
                format!(
                    "{v:?} is not a {} version the installed operator offers (available: {})",
                    crate::model::engine_label(new.spec.type_.as_str()),
                    catalog.ordered_engine_versions().join(", ")
                ),
            ));
        }
        if !seen.insert(v) {
            return Err(ApiError::invalid("spec.allowedVersions", format!("{v:?} is listed twice")));
        }
    }
    Ok(())
}

/// The RBAC checks of an update (REST makes them before it reads the body): `database-engines` update and
/// read on `<ns>/<name>`. Returns the stored object.
pub fn authorize_update(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<DatabaseEngine, ApiError> {
    authorize(state, caller, res::DATABASE_ENGINES, Action::Update, &authz::object(ns, name))?;
    get_engine(state, caller, ns, name)
}

/// `PUT .../database-engines/{name}`: writes `spec.allowedVersions` (nothing else) after validation. A
/// `metadata.resourceVersion` in the body makes the write conditional on it.
/// RBAC: `database-engines` update on `<ns>/<name>` (and read, to see the current object).
pub async fn update_engine(state: &State, caller: &Caller, ns: &str, name: &str, new: DatabaseEngine) -> Result<DatabaseEngine, ApiError> {
    let current = authorize_update(state, caller, ns, name)?;
    if let Some(n) = new.metadata.name.as_deref().filter(|n| !n.is_empty() && *n != name) {
        return Err(ApiError::invalid("metadata.name", format!("must match the path name {name:?} (got {n:?})")));
    }
    if let Some(n) = new.metadata.namespace.as_deref().filter(|n| !n.is_empty() && *n != ns) {
        return Err(ApiError::invalid("metadata.namespace", format!("must match the path namespace {ns:?} (got {n:?})")));
    }
    validate_update(&current, &new, &full_catalog(state, &current))?;
    let mut patch = serde_json::json!({ "spec": { "allowedVersions": new.spec.allowed_versions } });
    if let Some(rv) = super::validation::resource_version(new.metadata.resource_version.as_deref())? {
        patch["metadata"] = serde_json::json!({ "resourceVersion": rv });
    }
    let api: Api<DatabaseEngine> = Api::namespaced(state.client.clone(), ns);
    api.patch(name, &PatchParams { field_manager: Some("cairn".into()), ..Default::default() }, &Patch::Merge(&patch))
        .await
        .map_err(|e| match e {
            kube::Error::Api(s) if s.code == 409 => ApiError::stale(format!("database engine {ns}/{name}")),
            e => e.into(),
        })
}

/// The engines a new database can use in `ns` (installed operators), for the create form.
pub fn installed_engines(state: &State, ns: &str) -> Vec<(EngineType, EngineVersions)> {
    [EngineType::Postgresql, EngineType::Pxc, EngineType::Psmdb]
        .into_iter()
        .filter_map(|e| state.versions(e, ns).ok().map(|v| (e, v)))
        .filter(|(_, v)| !v.ordered_engine_versions().is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_rules() {
        let cur = DatabaseEngine::for_engine(EngineType::Postgresql, "everest");
        let cat = versions::builtin_postgresql();
        let mut new = cur.clone();
        new.spec.allowed_versions = vec!["16.9".into(), "17.5.2".into()];
        assert!(validate_update(&cur, &new, &cat).is_ok());
        new.spec.allowed_versions = vec![];
        assert!(validate_update(&cur, &new, &cat).is_ok(), "clearing the list allows every version");

        new.spec.allowed_versions = vec!["16.9".into(), "9.6".into()];
        let e = validate_update(&cur, &new, &cat).unwrap_err();
        assert_eq!((e.status, e.field.as_deref()), (400, Some("spec.allowedVersions")));
        assert!(e.message.contains("\"9.6\"") && e.message.contains("17.5.2"), "{}", e.message);

        new.spec.allowed_versions = vec!["16.9".into(), "16.9".into()];
        assert!(validate_update(&cur, &new, &cat).unwrap_err().message.contains("listed twice"));

        let mut other = cur.clone();
        other.spec.type_ = EngineType::Pxc;
        assert_eq!(validate_update(&cur, &other, &cat).unwrap_err().field.as_deref(), Some("spec.type"));
        let mut keys = DatabaseEngine::for_engine(EngineType::Pxc, "everest");
        let cur_pxc = keys.clone();
        keys.spec.secret_keys = None;
        assert!(validate_update(&cur_pxc, &keys, &cat).is_ok(), "omitting secretKeys keeps them");
        keys.spec.secret_keys = Some(Default::default());
        assert_eq!(validate_update(&cur_pxc, &keys, &cat).unwrap_err().field.as_deref(), Some("spec.secretKeys"));
    }
}
