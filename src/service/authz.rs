//! Authorization: the one check every service function makes, against the RBAC policy in force
//! (`auth::rbac`, hot-reloaded from ConfigMap `everest-rbac`). While RBAC is disabled every logged-in user
//! may do everything, as in OpenEverest.
//!
//! Objects are `<namespace>/<name>` for namespaced resources and the name for global ones (`namespaces`, `pod-scheduling-policies`, `load-balancer-configs`).
use super::Caller;
use crate::error::ApiError;
use crate::state::State;

/// Resource names of the policy (OpenEverest's `x-everest-resource-name`s).
pub mod res {
    pub const DATABASE_CLUSTERS: &str = "database-clusters";
    pub const DATABASE_ENGINES: &str = "database-engines";
    pub const DATABASE_CLUSTER_BACKUPS: &str = "database-cluster-backups";
    pub const DATABASE_CLUSTER_RESTORES: &str = "database-cluster-restores";
    pub const DATABASE_CLUSTER_CREDENTIALS: &str = "database-cluster-credentials";
    pub const BACKUP_STORAGES: &str = "backup-storages";
    pub const MONITORING_INSTANCES: &str = "monitoring-instances";
    pub const NAMESPACES: &str = "namespaces";
    /// Global (cluster-scoped) resources: the object is the name.
    pub const POD_SCHEDULING_POLICIES: &str = "pod-scheduling-policies";
    pub const LOAD_BALANCER_CONFIGS: &str = "load-balancer-configs";
    pub const DATA_IMPORTERS: &str = "data-importers";
    /// Namespaced: `<namespace>/<name>`.
    pub const DATA_IMPORT_JOBS: &str = "data-import-jobs";
    pub const SPLIT_HORIZON_DNS_CONFIGS: &str = "enginefeatures/split-horizon-dns-configs";
}

/// The policy's actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Create,
    Read,
    Update,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// The object of a namespaced resource: `<namespace>/<name>`.
pub fn object(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// Whether the caller may do `action` on `resource` `object` (for filtering lists and showing actions).
pub fn can(state: &State, caller: &Caller, resource: &str, action: Action, object: &str) -> bool {
    state.rbac.policy().can(caller.subject(), resource, action.as_str(), object)
}

/// Who a check is made for: a Cairn user, whom the RBAC policy governs, or [`Admission`].
pub trait Principal {
    /// The name logs and refusals give.
    fn subject(&self) -> &str;
    /// Whether it may do `action` on `resource` `object`.
    fn may(&self, state: &State, resource: &str, action: Action, object: &str) -> bool;
}

impl Principal for Caller {
    fn subject(&self) -> &str {
        Caller::subject(self)
    }
    fn may(&self, state: &State, resource: &str, action: Action, object: &str) -> bool {
        can(state, self, resource, action, object)
    }
}

/// A write reviewed by the admission webhook (`kubectl`, GitOps, any Kubernetes client): Kubernetes RBAC
/// already authorised it, and Cairn's policy governs only Cairn's own front doors (UI, REST), so the
/// validation shared with them runs without its RBAC checks.
pub struct Admission;

impl Principal for Admission {
    fn subject(&self) -> &str {
        "admission review"
    }
    fn may(&self, _: &State, _: &str, _: Action, _: &str) -> bool {
        true
    }
}

/// Like [`can`], but a refusal is the wire error: 403 naming the resource, the action and the object.
pub fn authorize(state: &State, caller: &(impl Principal + ?Sized), resource: &str, action: Action, object: &str) -> Result<(), ApiError> {
    if caller.may(state, resource, action, object) {
        Ok(())
    } else {
        Err(refusal(caller.subject(), resource, action, object))
    }
}

/// Like [`can_in_namespace`], but a refusal is the wire error (object `<namespace>/*`). The check a write
/// makes before it reads its body, when the object's name is in the body: a caller who may not write
/// anything there is refused before the body is parsed; the write is checked again on its full object.
pub fn authorize_in_namespace(state: &State, caller: &Caller, resource: &str, action: Action, namespace: &str) -> Result<(), ApiError> {
    if can_in_namespace(state, caller, resource, action, namespace) {
        Ok(())
    } else {
        Err(refusal(caller.subject(), resource, action, &object(namespace, "*")))
    }
}

/// A lookup by name whose RBAC object comes from the object found (a backup's or a restore's database):
/// found, it is checked on that object; missing, the 404 goes only to a caller who may `action` something
/// of `resource` in `namespace`, others get 403 (a refusal comes before "not found": a caller learns
/// nothing about what exists where it may not look).
pub fn authorize_found<T>(
    state: &State,
    caller: &Caller,
    resource: &str,
    action: Action,
    namespace: &str,
    found: Result<T, ApiError>,
    object_of: impl FnOnce(&T) -> String,
) -> Result<T, ApiError> {
    match found {
        Ok(t) => {
            authorize(state, caller, resource, action, &object_of(&t))?;
            Ok(t)
        }
        Err(e) => {
            authorize_in_namespace(state, caller, resource, action, namespace)?;
            Err(e)
        }
    }
}

/// 403 naming the resource, the action and the object (logged).
fn refusal(subject: &str, resource: &str, action: Action, object: &str) -> ApiError {
    tracing::info!(user = subject, resource, action = action.as_str(), object, "RBAC denied");
    ApiError::forbidden(format!("forbidden: {subject} may not {} {resource} {object:?}", action.as_str()))
}

/// Whether the caller may do `action` on some `resource` object in `namespace` (UI hints only: which
/// namespaces the create form offers; the write itself is checked with the full object).
pub fn can_in_namespace(state: &State, caller: &Caller, resource: &str, action: Action, namespace: &str) -> bool {
    state.rbac.policy().can_in_namespace(caller.subject(), resource, action.as_str(), namespace)
}

/// `GET /v1/permissions`: `{enabled, permissions: [[subject, resource, action, object], …]}`, the policy
/// lines that apply to the caller (its own and its roles').
pub fn permissions(state: &State, caller: &Caller) -> crate::model::Permissions {
    let p = state.rbac.policy();
    crate::model::Permissions { enabled: p.enabled, permissions: p.permissions(caller.subject()) }
}
