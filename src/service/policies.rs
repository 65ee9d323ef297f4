//! The cluster-scoped policies DatabaseClusters name (contract §1.7, §1.8, §3.1): PodSchedulingPolicies and
//! LoadBalancerConfigs, through the one front door. Reads come from the shared caches; writes are checked
//! (RBAC on the policy resource with the object's name, validation with the field named), refused on the
//! defaults (the `readonly-protection` finalizer marks them) and, for a delete, while a database uses them.
//!
//! `status.inUse` is reported as Cairn sees it now (a DatabaseCluster in the cache names the object), not
//! as a reconciler last wrote it, so a list never says "free" for a policy that is in use.
use super::authz::{authorize, can, res, Action};
use super::Caller;
use crate::crd::*;
use crate::error::ApiError;
use crate::state::State;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The finalizer of the read-only defaults (OpenEverest's chart sets it on `everest-default-*` and
/// `eks-default`).
pub const READONLY_FINALIZER: &str = "everest.percona.com/readonly-protection";

/// Whether an object is one of the read-only defaults.
pub fn is_default<K: Resource>(obj: &K) -> bool {
    obj.meta().finalizers.as_ref().is_some_and(|f| f.iter().any(|f| f == READONLY_FINALIZER))
}

/// Filters of `GET /pod-scheduling-policies` (`?engineType=&hasRules=`).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyFilter {
    pub engine_type: Option<String>,
    pub has_rules: Option<bool>,
}

/// The names of the DatabaseClusters (`<ns>/<name>`) that use an object, from the cache.
pub fn users_of(state: &State, uses: impl Fn(&DatabaseCluster) -> bool) -> Vec<String> {
    let mut v: Vec<String> = state
        .dbs
        .state()
        .iter()
        .filter(|d| d.metadata.deletion_timestamp.is_none() && uses(d))
        .map(|d| format!("{}/{}", d.namespace().unwrap_or_default(), d.name_any()))
        .collect();
    v.sort();
    v
}

pub fn psp_users(state: &State, name: &str) -> Vec<String> {
    users_of(state, |d| d.spec.pod_scheduling_policy_name.as_deref() == Some(name))
}

pub fn lbc_users(state: &State, name: &str) -> Vec<String> {
    users_of(state, |d| {
        d.spec.proxy.as_ref().and_then(|p| p.expose.as_ref()).and_then(|e| e.load_balancer_config_name.as_deref()) == Some(name)
    })
}

/// Whether a policy holds any affinity rule for its engine's components.
pub fn has_rules(p: &PodSchedulingPolicySpec) -> bool {
    let c = p.for_engine("", p.engine_type).unwrap_or_default();
    [c.engine, c.proxy, c.config_server].into_iter().flatten().any(|a| a != Default::default())
}

/// A cluster-scoped object's name: an RFC 1123 subdomain (what the API server accepts), so the error
/// names the field before the API server answers with its own words.
pub fn validate_object_name(name: &str) -> Result<(), ApiError> {
    let field = "metadata.name";
    if name.is_empty() {
        return Err(ApiError::invalid(field, "is required"));
    }
    if name.len() > 253 {
        return Err(ApiError::invalid(field, "must be at most 253 characters"));
    }
    let ok = name.split('.').all(|part| {
        !part.is_empty()
            && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !part.starts_with('-')
            && !part.ends_with('-')
    });
    if !ok {
        return Err(ApiError::invalid(
            field,
            format!("{name:?} must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"),
        ));
    }
    Ok(())
}

/// A PodSchedulingPolicy's rules: the affinity section is the engine's own; every term names a topology key
/// and every preferred term has a weight of 1–100 (what the scheduler accepts).
pub fn validate_psp(spec: &PodSchedulingPolicySpec) -> Result<(), ApiError> {
    let c = spec.affinity_config.clone().unwrap_or_default();
    let others = [("pxc", c.pxc.is_some()), ("postgresql", c.postgresql.is_some()), ("psmdb", c.psmdb.is_some())];
    for (section, present) in others {
        if present && section != spec.engine_type.as_str() {
            return Err(ApiError::invalid(
                &format!("spec.affinityConfig.{section}"),
                format!("a policy for {} may only hold spec.affinityConfig.{}", spec.engine_type.as_str(), spec.engine_type.as_str()),
            ));
        }
    }
    let comps = spec.for_engine("", spec.engine_type).unwrap_or_default();
    let e = spec.engine_type.as_str();
    for (comp, aff) in [("engine", comps.engine), ("proxy", comps.proxy), ("configServer", comps.config_server)] {
        let Some(aff) = aff else { continue };
        let base = format!("spec.affinityConfig.{e}.{comp}");
        for (kind, pa) in [("podAffinity", aff.pod_affinity.map(|p| (p.required_during_scheduling_ignored_during_execution, p.preferred_during_scheduling_ignored_during_execution))),
            ("podAntiAffinity", aff.pod_anti_affinity.map(|p| (p.required_during_scheduling_ignored_during_execution, p.preferred_during_scheduling_ignored_during_execution)))]
        {
            let Some((required, preferred)) = pa else { continue };
            for (i, t) in required.unwrap_or_default().iter().enumerate() {
                if t.topology_key.trim().is_empty() {
                    return Err(ApiError::invalid(
                        &format!("{base}.{kind}.requiredDuringSchedulingIgnoredDuringExecution[{i}].topologyKey"),
                        "is required (e.g. kubernetes.io/hostname)",
                    ));
                }
            }
            for (i, t) in preferred.unwrap_or_default().iter().enumerate() {
                let f = format!("{base}.{kind}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
                if !(1..=100).contains(&t.weight) {
                    return Err(ApiError::invalid(&format!("{f}.weight"), format!("must be 1–100 (got {})", t.weight)));
                }
                if t.pod_affinity_term.topology_key.trim().is_empty() {
                    return Err(ApiError::invalid(&format!("{f}.podAffinityTerm.topologyKey"), "is required (e.g. kubernetes.io/hostname)"));
                }
            }
        }
        if let Some(na) = aff.node_affinity {
            for (i, t) in na.preferred_during_scheduling_ignored_during_execution.unwrap_or_default().iter().enumerate() {
                if !(1..=100).contains(&t.weight) {
                    return Err(ApiError::invalid(
                        &format!("{base}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[{i}].weight"),
                        format!("must be 1–100 (got {})", t.weight),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A LoadBalancerConfig's annotations: each key a Kubernetes qualified name (optional DNS prefix and '/',
/// then 1–63 characters of letters, digits, '-', '_' and '.', beginning and ending alphanumeric).
pub fn validate_lbc(spec: &LoadBalancerConfigSpec) -> Result<(), ApiError> {
    for key in spec.annotations.keys() {
        let field = format!("spec.annotations[{key:?}]");
        let (prefix, name) = match key.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, key.as_str()),
        };
        if let Some(p) = prefix {
            if p.is_empty() || validate_object_name(p).is_err() {
                return Err(ApiError::invalid(&field, format!("the prefix {p:?} must be a DNS subdomain (e.g. service.beta.kubernetes.io)")));
            }
        }
        let alnum = |c: char| c.is_ascii_alphanumeric();
        let ok = !name.is_empty()
            && name.len() <= 63
            && name.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
            && name.starts_with(alnum)
            && name.ends_with(alnum);
        if !ok {
            return Err(ApiError::invalid(
                &field,
                "a key is an optional DNS prefix and '/', then 1–63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
            ));
        }
    }
    Ok(())
}

/// A LoadBalancerConfig written by any client (the admission webhook): the REST API's rules, the name's
/// on create. (The defaults' read-only protection stays with the REST API and the finalizer: the chart
/// itself updates them.)
pub fn admit_load_balancer_config(c: &LoadBalancerConfig, creating: bool) -> Result<(), ApiError> {
    if creating {
        validate_object_name(&c.name_any())?;
    }
    validate_lbc(&c.spec)
}

/// What differs per kind in the shared CRUD below.
trait Policy: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static {
    /// The RBAC resource (`pod-scheduling-policies`, `load-balancer-configs`).
    const RESOURCE: &'static str;
    /// How users call it in messages.
    const WHAT: &'static str;
    fn cache(state: &State) -> &kube::runtime::reflector::Store<Self>;
    fn users(state: &State, name: &str) -> Vec<String>;
    fn validate(&self) -> Result<(), ApiError>;
    fn spec_json(&self) -> serde_json::Value;
    /// Sets `status.inUse` to what the cache says now.
    fn set_in_use(&mut self, in_use: bool);
}

impl Policy for PodSchedulingPolicy {
    const RESOURCE: &'static str = res::POD_SCHEDULING_POLICIES;
    const WHAT: &'static str = "pod scheduling policy";
    fn cache(state: &State) -> &kube::runtime::reflector::Store<Self> {
        &state.pod_scheduling_policies
    }
    fn users(state: &State, name: &str) -> Vec<String> {
        psp_users(state, name)
    }
    fn validate(&self) -> Result<(), ApiError> {
        validate_psp(&self.spec)
    }
    fn spec_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.spec).unwrap_or_default()
    }
    fn set_in_use(&mut self, in_use: bool) {
        self.status.get_or_insert_with(Default::default).in_use = in_use;
    }
}

impl Policy for LoadBalancerConfig {
    const RESOURCE: &'static str = res::LOAD_BALANCER_CONFIGS;
    const WHAT: &'static str = "load balancer config";
    fn cache(state: &State) -> &kube::runtime::reflector::Store<Self> {
        &state.load_balancer_configs
    }
    fn users(state: &State, name: &str) -> Vec<String> {
        lbc_users(state, name)
    }
    fn validate(&self) -> Result<(), ApiError> {
        validate_lbc(&self.spec)
    }
    fn spec_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.spec).unwrap_or_default()
    }
    fn set_in_use(&mut self, in_use: bool) {
        self.status.get_or_insert_with(Default::default).in_use = in_use;
    }
}

fn with_in_use<K: Policy>(state: &State, mut obj: K) -> K {
    let used = !K::users(state, &obj.name_any()).is_empty();
    obj.set_in_use(used);
    obj
}

fn list<K: Policy>(state: &State, caller: &Caller, keep: impl Fn(&K) -> bool) -> Vec<K> {
    let mut v: Vec<K> = K::cache(state)
        .state()
        .iter()
        .filter(|o| can(state, caller, K::RESOURCE, Action::Read, &o.name_any()) && keep(o))
        .map(|o| with_in_use(state, (**o).clone()))
        .collect();
    v.sort_by_key(|o| o.name_any());
    v
}

fn get<K: Policy>(state: &State, caller: &Caller, name: &str) -> Result<K, ApiError> {
    authorize(state, caller, K::RESOURCE, Action::Read, name)?;
    K::cache(state)
        .get(&ObjectRef::new(name))
        .map(|o| with_in_use(state, (*o).clone()))
        .ok_or_else(|| ApiError::not_found(format!("{} {name:?}", K::WHAT)))
}

/// Waits (briefly) until the shared cache shows `name` at `resource_version` (None: gone), so a page that
/// reads right after a write sees it. The write already succeeded; a slow watch only delays, never fails.
async fn until_cached<K: Policy>(state: &State, name: &str, resource_version: Option<&str>) {
    super::until_cached(K::cache(state), &ObjectRef::new(name), resource_version).await
}

fn conflict(field: Option<&str>, message: String) -> ApiError {
    ApiError { status: 409, message, field: field.map(String::from), retry_after: None }
}

async fn create<K: Policy>(state: &State, caller: &Caller, mut obj: K) -> Result<K, ApiError> {
    let name = obj.name_any();
    authorize(state, caller, K::RESOURCE, Action::Create, &name)?;
    validate_object_name(&name)?;
    obj.validate()?;
    let meta = obj.meta_mut();
    meta.resource_version = None;
    meta.uid = None;
    meta.namespace = None;
    meta.creation_timestamp = None;
    meta.managed_fields = None;
    // Only the chart's defaults carry the read-only finalizer; a user cannot make one.
    if let Some(f) = meta.finalizers.as_mut() {
        f.retain(|f| f != READONLY_FINALIZER);
    }
    let api: Api<K> = Api::all(state.client.clone());
    let pp = PostParams { field_manager: Some("cairn".into()), ..Default::default() };
    let mut created = api.create(&pp, &obj).await.map_err(|e| match e {
        kube::Error::Api(s) if s.code == 409 => {
            conflict(Some("metadata.name"), format!("metadata.name: a {} named {name:?} already exists", K::WHAT))
        }
        e => e.into(),
    })?;
    until_cached::<K>(state, &name, created.meta().resource_version.as_deref()).await;
    created.set_in_use(false);
    Ok(created)
}

async fn update<K: Policy>(state: &State, caller: &Caller, name: &str, new: K) -> Result<K, ApiError> {
    authorize(state, caller, K::RESOURCE, Action::Update, name)?;
    let current = get::<K>(state, caller, name)?;
    if let Some(n) = new.meta().name.as_deref().filter(|n| !n.is_empty() && *n != name) {
        return Err(ApiError::invalid("metadata.name", format!("must match the path name {name:?} (got {n:?})")));
    }
    if is_default(&current) {
        return Err(conflict(None, format!("{} {name:?} is a default and read-only; create your own instead", K::WHAT)));
    }
    new.validate()?;
    let mut ops = Vec::new();
    if let Some(rv) = new.meta().resource_version.as_deref().filter(|r| !r.is_empty()) {
        ops.push(serde_json::json!({ "op": "replace", "path": "/metadata/resourceVersion", "value": rv }));
    }
    ops.push(serde_json::json!({ "op": "replace", "path": "/spec", "value": new.spec_json() }));
    let patch: json_patch::Patch = serde_json::from_value(serde_json::Value::Array(ops)).map_err(|e| {
        tracing::error!(error = %e, "building the update patch");
        ApiError::internal()
    })?;
    let api: Api<K> = Api::all(state.client.clone());
    let pp = PatchParams { field_manager: Some("cairn".into()), ..Default::default() };
    let updated = api.patch(name, &pp, &Patch::<()>::Json(patch)).await.map_err(|e| match e {
        kube::Error::Api(s) if s.code == 409 => conflict(
            Some("metadata.resourceVersion"),
            format!("metadata.resourceVersion: {} {name:?} changed since it was read; read it again", K::WHAT),
        ),
        e => e.into(),
    })?;
    until_cached::<K>(state, name, updated.meta().resource_version.as_deref()).await;
    Ok(with_in_use(state, updated))
}

async fn delete<K: Policy>(state: &State, caller: &Caller, name: &str) -> Result<(), ApiError> {
    authorize(state, caller, K::RESOURCE, Action::Delete, name)?;
    let current = get::<K>(state, caller, name)?;
    if is_default(&current) {
        return Err(conflict(None, format!("{} {name:?} is a default and read-only; it cannot be deleted", K::WHAT)));
    }
    let users = K::users(state, name);
    if !users.is_empty() {
        return Err(conflict(
            None,
            format!("{} {name:?} is in use by {} ({}); change those databases first", K::WHAT, if users.len() == 1 { "1 database".to_string() } else { format!("{} databases", users.len()) }, users.join(", ")),
        ));
    }
    Api::<K>::all(state.client.clone()).delete(name, &DeleteParams::default()).await?;
    until_cached::<K>(state, name, None).await;
    Ok(())
}

// --- PodSchedulingPolicy ---

/// `GET /pod-scheduling-policies?engineType=&hasRules=`: those the caller may read (per item).
pub fn list_pod_scheduling_policies(state: &State, caller: &Caller, filter: &PolicyFilter) -> Result<Vec<PodSchedulingPolicy>, ApiError> {
    let engine = match filter.engine_type.as_deref().filter(|e| !e.is_empty()) {
        None => None,
        Some(e) => Some(serde_json::from_value::<EngineType>(serde_json::Value::String(e.into())).ok().ok_or_else(|| ApiError::invalid("engineType", format!("{e:?} is not pxc, postgresql or psmdb")))?),
    };
    Ok(list::<PodSchedulingPolicy>(state, caller, |p| {
        engine.is_none_or(|e| p.spec.engine_type == e) && filter.has_rules.is_none_or(|want| has_rules(&p.spec) == want)
    }))
}

pub fn get_pod_scheduling_policy(state: &State, caller: &Caller, name: &str) -> Result<PodSchedulingPolicy, ApiError> {
    get(state, caller, name)
}

pub async fn create_pod_scheduling_policy(state: &State, caller: &Caller, p: PodSchedulingPolicy) -> Result<PodSchedulingPolicy, ApiError> {
    create(state, caller, p).await
}

/// Replaces the spec (`engineType` may not change while a database uses the policy).
pub async fn update_pod_scheduling_policy(state: &State, caller: &Caller, name: &str, p: PodSchedulingPolicy) -> Result<PodSchedulingPolicy, ApiError> {
    if let Ok(cur) = get::<PodSchedulingPolicy>(state, caller, name) {
        if cur.spec.engine_type != p.spec.engine_type && !psp_users(state, name).is_empty() {
            return Err(conflict(
                Some("spec.engineType"),
                format!("spec.engineType: cannot change while databases use the policy ({})", psp_users(state, name).join(", ")),
            ));
        }
    }
    update(state, caller, name, p).await
}

pub async fn delete_pod_scheduling_policy(state: &State, caller: &Caller, name: &str) -> Result<(), ApiError> {
    delete::<PodSchedulingPolicy>(state, caller, name).await
}

// --- LoadBalancerConfig ---

pub fn list_load_balancer_configs(state: &State, caller: &Caller) -> Vec<LoadBalancerConfig> {
    list::<LoadBalancerConfig>(state, caller, |_| true)
}

pub fn get_load_balancer_config(state: &State, caller: &Caller, name: &str) -> Result<LoadBalancerConfig, ApiError> {
    get(state, caller, name)
}

pub async fn create_load_balancer_config(state: &State, caller: &Caller, c: LoadBalancerConfig) -> Result<LoadBalancerConfig, ApiError> {
    create(state, caller, c).await
}

pub async fn update_load_balancer_config(state: &State, caller: &Caller, name: &str, c: LoadBalancerConfig) -> Result<LoadBalancerConfig, ApiError> {
    update(state, caller, name, c).await
}

pub async fn delete_load_balancer_config(state: &State, caller: &Caller, name: &str) -> Result<(), ApiError> {
    delete::<LoadBalancerConfig>(state, caller, name).await
}

/// Who uses an object, for the settings pages ("in use by …").
pub fn pod_scheduling_policy_users(state: &State, name: &str) -> Vec<String> {
    psp_users(state, name)
}

pub fn load_balancer_config_users(state: &State, name: &str) -> Vec<String> {
    lbc_users(state, name)
}

// --- The settings editor: rules and annotations one at a time, each write through update() above ---

use crate::model::{AffinityRule, LoadBalancerView, PoliciesPage, PolicyRow, SchedulingPolicyView};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    PodAffinity, PodAffinityTerm, PodAntiAffinity, PreferredSchedulingTerm, WeightedPodAffinityTerm,
};

/// The affinity of one component (`engine`, `proxy`, `configServer`) of a policy, mutable.
fn component_mut<'a>(spec: &'a mut PodSchedulingPolicySpec, component: &str) -> Option<&'a mut Option<Affinity>> {
    let c = spec.affinity_config.get_or_insert_with(Default::default);
    match (spec.engine_type, component) {
        (EngineType::Pxc, "engine") => Some(&mut c.pxc.get_or_insert_with(Default::default).engine),
        (EngineType::Pxc, "proxy") => Some(&mut c.pxc.get_or_insert_with(Default::default).proxy),
        (EngineType::Postgresql, "engine") => Some(&mut c.postgresql.get_or_insert_with(Default::default).engine),
        (EngineType::Postgresql, "proxy") => Some(&mut c.postgresql.get_or_insert_with(Default::default).proxy),
        (EngineType::Psmdb, "engine") => Some(&mut c.psmdb.get_or_insert_with(Default::default).engine),
        (EngineType::Psmdb, "proxy") => Some(&mut c.psmdb.get_or_insert_with(Default::default).proxy),
        (EngineType::Psmdb, "configServer") => Some(&mut c.psmdb.get_or_insert_with(Default::default).config_server),
        _ => None,
    }
}

fn label_rule(component: &str, kind: &str, priority: &str, weight: Option<i32>, term: &PodAffinityTerm) -> AffinityRule {
    let first = term.label_selector.as_ref().and_then(|l| l.match_expressions.as_ref()).and_then(|e| e.first().cloned()).unwrap_or_default();
    let (key, operator, values) = if first.key.is_empty() {
        // A `matchLabels` selector reads as `key In (value)`.
        match term.label_selector.as_ref().and_then(|l| l.match_labels.as_ref()).and_then(|m| m.iter().next()) {
            Some((k, v)) => (k.clone(), "In".to_string(), vec![v.clone()]),
            None => (String::new(), String::new(), vec![]),
        }
    } else {
        (first.key, first.operator, first.values.unwrap_or_default())
    };
    AffinityRule { component: component.into(), kind: kind.into(), priority: priority.into(), weight, topology_key: term.topology_key.clone(), key, operator, values }
}

fn node_rule(component: &str, priority: &str, weight: Option<i32>, term: &NodeSelectorTerm) -> AffinityRule {
    let first = term.match_expressions.as_ref().and_then(|e| e.first().cloned()).unwrap_or_default();
    AffinityRule {
        component: component.into(),
        kind: "nodeAffinity".into(),
        priority: priority.into(),
        weight,
        topology_key: String::new(),
        key: first.key,
        operator: first.operator,
        values: first.values.unwrap_or_default(),
    }
}

/// The rules of a policy in a fixed order (component, kind, required before preferred), the order
/// [`without_rule`] counts in.
pub fn rules_of(spec: &PodSchedulingPolicySpec) -> Vec<AffinityRule> {
    let c = spec.for_engine("", spec.engine_type).unwrap_or_default();
    let mut out = Vec::new();
    for (component, aff) in [("engine", c.engine), ("proxy", c.proxy), ("configServer", c.config_server)] {
        let Some(aff) = aff else { continue };
        for (kind, terms) in [
            ("podAntiAffinity", aff.pod_anti_affinity.as_ref().map(|p| (&p.required_during_scheduling_ignored_during_execution, &p.preferred_during_scheduling_ignored_during_execution))),
            ("podAffinity", aff.pod_affinity.as_ref().map(|p| (&p.required_during_scheduling_ignored_during_execution, &p.preferred_during_scheduling_ignored_during_execution))),
        ] {
            let Some((req, pref)) = terms else { continue };
            out.extend(req.iter().flatten().map(|t| label_rule(component, kind, "required", None, t)));
            out.extend(pref.iter().flatten().map(|t| label_rule(component, kind, "preferred", Some(t.weight), &t.pod_affinity_term)));
        }
        if let Some(na) = &aff.node_affinity {
            let req = na.required_during_scheduling_ignored_during_execution.as_ref().map(|r| r.node_selector_terms.clone()).unwrap_or_default();
            out.extend(req.iter().map(|t| node_rule(component, "required", None, t)));
            out.extend(na.preferred_during_scheduling_ignored_during_execution.iter().flatten().map(|t| node_rule(component, "preferred", Some(t.weight), &t.preference)));
        }
    }
    out
}

/// Checks a rule as the editor sends it; errors name the editor's field.
pub fn validate_rule(engine: EngineType, r: &AffinityRule) -> Result<(), ApiError> {
    if !crate::model::policy_components(engine.as_str()).iter().any(|(c, _)| *c == r.component) {
        return Err(ApiError::invalid("component", format!("{:?} is not a component of {}", r.component, engine.as_str())));
    }
    if !crate::model::AFFINITY_KINDS.iter().any(|(k, _)| *k == r.kind) {
        return Err(ApiError::invalid("kind", "must be podAntiAffinity, podAffinity or nodeAffinity"));
    }
    match (r.priority.as_str(), r.weight) {
        ("required", _) => {}
        ("preferred", Some(w)) if (1..=100).contains(&w) => {}
        ("preferred", _) => return Err(ApiError::invalid("weight", "a preferred rule needs a weight of 1–100")),
        _ => return Err(ApiError::invalid("priority", "must be required or preferred")),
    }
    let node = r.kind == "nodeAffinity";
    if !node && r.topology_key.trim().is_empty() {
        return Err(ApiError::invalid("topology_key", "is required for pod (anti-)affinity (e.g. kubernetes.io/hostname)"));
    }
    if node && r.key.trim().is_empty() {
        return Err(ApiError::invalid("key", "a node affinity rule needs a node label key (e.g. topology.kubernetes.io/zone)"));
    }
    if !r.key.trim().is_empty() {
        let ops: &[&str] = if node { &["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"] } else { &["In", "NotIn", "Exists", "DoesNotExist"] };
        if !ops.contains(&r.operator.as_str()) {
            return Err(ApiError::invalid("operator", format!("must be one of {}", ops.join(", "))));
        }
        let needs_values = !matches!(r.operator.as_str(), "Exists" | "DoesNotExist");
        if needs_values && r.values.is_empty() {
            return Err(ApiError::invalid("values", format!("{} needs at least one value", r.operator)));
        }
        if !needs_values && !r.values.is_empty() {
            return Err(ApiError::invalid("values", format!("{} takes no values", r.operator)));
        }
    }
    Ok(())
}

/// The policy with `rule` added to its component.
pub fn with_rule(mut spec: PodSchedulingPolicySpec, r: &AffinityRule) -> Result<PodSchedulingPolicySpec, ApiError> {
    validate_rule(spec.engine_type, r)?;
    let slot = component_mut(&mut spec, &r.component).ok_or_else(|| ApiError::invalid("component", "unknown component"))?;
    let aff = slot.get_or_insert_with(Default::default);
    let values = (!r.values.is_empty()).then(|| r.values.clone());
    if r.kind == "nodeAffinity" {
        let term = NodeSelectorTerm {
            match_expressions: Some(vec![NodeSelectorRequirement { key: r.key.trim().into(), operator: r.operator.clone(), values }]),
            ..Default::default()
        };
        let na = aff.node_affinity.get_or_insert_with(NodeAffinity::default);
        if r.priority == "required" {
            na.required_during_scheduling_ignored_during_execution
                .get_or_insert_with(|| NodeSelector { node_selector_terms: vec![] })
                .node_selector_terms
                .push(term);
        } else {
            na.preferred_during_scheduling_ignored_during_execution
                .get_or_insert_with(Vec::new)
                .push(PreferredSchedulingTerm { weight: r.weight.unwrap_or(1), preference: term });
        }
    } else {
        let label_selector = (!r.key.trim().is_empty()).then(|| LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement { key: r.key.trim().into(), operator: r.operator.clone(), values }]),
            ..Default::default()
        });
        let term = PodAffinityTerm { topology_key: r.topology_key.trim().into(), label_selector, ..Default::default() };
        let (req, pref) = if r.kind == "podAffinity" {
            let p = aff.pod_affinity.get_or_insert_with(PodAffinity::default);
            (&mut p.required_during_scheduling_ignored_during_execution, &mut p.preferred_during_scheduling_ignored_during_execution)
        } else {
            let p = aff.pod_anti_affinity.get_or_insert_with(PodAntiAffinity::default);
            (&mut p.required_during_scheduling_ignored_during_execution, &mut p.preferred_during_scheduling_ignored_during_execution)
        };
        if r.priority == "required" {
            req.get_or_insert_with(Vec::new).push(term);
        } else {
            pref.get_or_insert_with(Vec::new).push(WeightedPodAffinityTerm { weight: r.weight.unwrap_or(1), pod_affinity_term: term });
        }
    }
    Ok(spec)
}

/// The policy without its `index`-th rule (in [`rules_of`] order).
pub fn without_rule(spec: &PodSchedulingPolicySpec, index: usize) -> Result<PodSchedulingPolicySpec, ApiError> {
    let rules = rules_of(spec);
    if index >= rules.len() {
        return Err(ApiError::invalid("index", format!("there is no rule {index} (the policy has {})", rules.len())));
    }
    let mut out = PodSchedulingPolicySpec { engine_type: spec.engine_type, affinity_config: None };
    // Rebuild from the remaining rules, keeping every component's section present as before.
    for (i, r) in rules.iter().enumerate() {
        if i != index {
            // A rule read from the object may break the editor's rules (e.g. a weight the scheduler would
            // refuse); it is kept as read.
            out = with_rule(out.clone(), r).unwrap_or(out);
        }
    }
    Ok(out)
}

fn row<K: Policy>(state: &State, caller: &Caller, obj: &K, engine: &str, items: usize) -> PolicyRow {
    let name = obj.name_any();
    let default = is_default(obj);
    PolicyRow {
        engine: engine.into(),
        default,
        used_by: K::users(state, &name),
        items,
        can_update: !default && can(state, caller, K::RESOURCE, Action::Update, &name),
        can_delete: !default && can(state, caller, K::RESOURCE, Action::Delete, &name),
        name,
    }
}

fn psp_row(state: &State, caller: &Caller, p: &PodSchedulingPolicy) -> PolicyRow {
    row(state, caller, p, p.spec.engine_type.as_str(), rules_of(&p.spec).len())
}

fn lbc_row(state: &State, caller: &Caller, c: &LoadBalancerConfig) -> PolicyRow {
    row(state, caller, c, "", c.spec.annotations.len())
}

/// Both lists of the policies page (only what the caller may read) and what it may create.
pub fn policies_page(state: &State, caller: &Caller) -> PoliciesPage {
    PoliciesPage {
        scheduling: list::<PodSchedulingPolicy>(state, caller, |_| true).iter().map(|p| psp_row(state, caller, p)).collect(),
        load_balancers: list::<LoadBalancerConfig>(state, caller, |_| true).iter().map(|c| lbc_row(state, caller, c)).collect(),
        can_create_scheduling: state.rbac.policy().can_any(caller.subject(), res::POD_SCHEDULING_POLICIES, Action::Create.as_str()),
        can_create_load_balancer: state.rbac.policy().can_any(caller.subject(), res::LOAD_BALANCER_CONFIGS, Action::Create.as_str()),
    }
}

pub fn scheduling_policy_view(state: &State, caller: &Caller, name: &str) -> Result<SchedulingPolicyView, ApiError> {
    let p = get::<PodSchedulingPolicy>(state, caller, name)?;
    Ok(SchedulingPolicyView { row: psp_row(state, caller, &p), rules: rules_of(&p.spec) })
}

pub fn load_balancer_view(state: &State, caller: &Caller, name: &str) -> Result<LoadBalancerView, ApiError> {
    let c = get::<LoadBalancerConfig>(state, caller, name)?;
    Ok(LoadBalancerView { row: lbc_row(state, caller, &c), annotations: c.spec.annotations.clone().into_iter().collect() })
}

/// Writes a changed spec of `name` (RBAC update, read-only defaults, validation: [`update`]).
/// A read-modify-write of one policy for a UI action (add a rule, set an annotation). When the object moved
/// since the cache showed it but its spec did not (Cairn's own in-use status write right after a create),
/// the change is made again on the object as it is now, up to three times, instead of refusing the person's
/// click with "changed since it was read". A changed spec is still refused: the person acted on what they saw
/// (a rule's position, say), which is no longer there.
async fn edit<K: Policy>(state: &State, caller: &Caller, name: &str, change: impl Fn(&mut K) -> Result<(), ApiError>) -> Result<(), ApiError> {
    authorize(state, caller, K::RESOURCE, Action::Update, name)?;
    let seen = get::<K>(state, caller, name)?;
    let mut obj = seen.clone();
    let mut attempt = 1;
    loop {
        change(&mut obj)?;
        match update(state, caller, name, obj).await {
            Err(e) if e.status == 409 && e.field.as_deref() == Some("metadata.resourceVersion") && attempt < 3 => {
                let now = Api::<K>::all(state.client.clone()).get(name).await?;
                if now.spec_json() != seen.spec_json() {
                    return Err(e);
                }
                attempt += 1;
                obj = now;
            }
            r => return r.map(|_| ()),
        }
    }
}

async fn write_psp(state: &State, caller: &Caller, name: &str, change: impl Fn(&PodSchedulingPolicySpec) -> Result<PodSchedulingPolicySpec, ApiError>) -> Result<(), ApiError> {
    edit::<PodSchedulingPolicy>(state, caller, name, |p| {
        p.spec = change(&p.spec)?;
        Ok(())
    })
    .await
}

pub async fn add_affinity_rule(state: &State, caller: &Caller, name: &str, rule: &AffinityRule) -> Result<(), ApiError> {
    write_psp(state, caller, name, |s| with_rule(s.clone(), rule)).await
}

pub async fn remove_affinity_rule(state: &State, caller: &Caller, name: &str, index: usize) -> Result<(), ApiError> {
    write_psp(state, caller, name, |s| without_rule(s, index)).await
}

async fn write_lbc(state: &State, caller: &Caller, name: &str, change: impl Fn(&mut LoadBalancerConfigSpec) -> Result<(), ApiError>) -> Result<(), ApiError> {
    edit::<LoadBalancerConfig>(state, caller, name, |c| change(&mut c.spec)).await
}

/// Adds or replaces one annotation.
pub async fn set_annotation(state: &State, caller: &Caller, name: &str, key: &str, value: &str) -> Result<(), ApiError> {
    let key = key.trim();
    if key.is_empty() {
        return Err(ApiError::invalid("key", "is required"));
    }
    write_lbc(state, caller, name, |s| {
        s.annotations.insert(key.into(), value.into());
        validate_lbc(s).map_err(|e| ApiError::invalid("key", e.message.split_once(": ").map(|x| x.1).unwrap_or(&e.message)))
    })
    .await
}

pub async fn remove_annotation(state: &State, caller: &Caller, name: &str, key: &str) -> Result<(), ApiError> {
    write_lbc(state, caller, name, |s| {
        s.annotations.remove(key).map(|_| ()).ok_or_else(|| ApiError::invalid("key", format!("{key:?} is not set")))
    })
    .await
}

/// A new, empty policy of `engine` (rules are added on its page).
pub fn new_scheduling_policy(name: &str, engine: &str) -> Result<PodSchedulingPolicy, ApiError> {
    let engine_type = serde_json::from_value::<EngineType>(serde_json::Value::String(engine.into()))
        .map_err(|_| ApiError::invalid("spec.engineType", format!("{engine:?} is not pxc, postgresql or psmdb")))?;
    Ok(PodSchedulingPolicy::new(name.trim(), PodSchedulingPolicySpec { engine_type, affinity_config: None }))
}

pub fn new_load_balancer_config(name: &str) -> LoadBalancerConfig {
    LoadBalancerConfig::new(name.trim(), Default::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Affinity, PodAffinityTerm, PodAntiAffinity, WeightedPodAffinityTerm};

    fn anti(weight: i32, key: &str) -> Affinity {
        Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
                    weight,
                    pod_affinity_term: PodAffinityTerm { topology_key: key.into(), ..Default::default() },
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pg_policy(engine: Option<Affinity>) -> PodSchedulingPolicySpec {
        PodSchedulingPolicySpec {
            engine_type: EngineType::Postgresql,
            affinity_config: Some(AffinityConfig { postgresql: Some(PostgresqlAffinity { engine, proxy: None }), ..Default::default() }),
        }
    }

    #[test]
    fn psp_rules() {
        assert!(validate_psp(&pg_policy(Some(anti(1, "kubernetes.io/hostname")))).is_ok());
        let e = validate_psp(&pg_policy(Some(anti(0, "kubernetes.io/hostname")))).unwrap_err();
        assert_eq!(
            e.field.as_deref(),
            Some("spec.affinityConfig.postgresql.engine.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight")
        );
        let e = validate_psp(&pg_policy(Some(anti(5, " ")))).unwrap_err();
        assert!(e.field.unwrap().ends_with("podAffinityTerm.topologyKey"));
        let mut wrong = pg_policy(None);
        wrong.affinity_config.as_mut().unwrap().pxc = Some(Default::default());
        assert_eq!(validate_psp(&wrong).unwrap_err().field.as_deref(), Some("spec.affinityConfig.pxc"));
    }

    #[test]
    fn rules_present() {
        assert!(has_rules(&pg_policy(Some(anti(1, "kubernetes.io/hostname")))));
        assert!(!has_rules(&pg_policy(None)));
        assert!(!has_rules(&pg_policy(Some(Affinity::default()))));
        assert!(!has_rules(&PodSchedulingPolicySpec { engine_type: EngineType::Pxc, affinity_config: None }));
    }

    #[test]
    fn lbc_keys() {
        let spec = |k: &str| LoadBalancerConfigSpec { annotations: [(k.to_string(), "v".to_string())].into() };
        assert!(validate_lbc(&spec("service.beta.kubernetes.io/aws-load-balancer-type")).is_ok());
        assert!(validate_lbc(&spec("simple_key.1")).is_ok());
        for bad in ["", "-x", "Bad Prefix/x", "a/", "/x", &"k".repeat(64)] {
            let e = validate_lbc(&spec(bad)).unwrap_err();
            assert_eq!(e.status, 400, "{bad:?}");
            assert!(e.field.unwrap().starts_with("spec.annotations["), "{bad:?}");
        }
    }

    #[test]
    fn rules_round_trip() {
        let rule = |component: &str, kind: &str, priority: &str, weight: Option<i32>, key: &str, op: &str, values: &[&str]| AffinityRule {
            component: component.into(),
            kind: kind.into(),
            priority: priority.into(),
            weight,
            topology_key: if kind == "nodeAffinity" { String::new() } else { "kubernetes.io/hostname".into() },
            key: key.into(),
            operator: op.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        let a = rule("engine", "podAntiAffinity", "preferred", Some(1), "app", "In", &["db"]);
        let b = rule("proxy", "nodeAffinity", "required", None, "topology.kubernetes.io/zone", "In", &["a", "b"]);
        let c = rule("configServer", "podAffinity", "required", None, "", "", &[]);
        let mut spec = PodSchedulingPolicySpec { engine_type: EngineType::Psmdb, affinity_config: None };
        for r in [&a, &b, &c] {
            spec = with_rule(spec, r).unwrap();
        }
        assert_eq!(rules_of(&spec), vec![a.clone(), b.clone(), c.clone()]);
        assert!(validate_psp(&spec).is_ok());
        assert_eq!(rules_of(&without_rule(&spec, 1).unwrap()), vec![a.clone(), c.clone()]);
        assert_eq!(without_rule(&spec, 3).unwrap_err().field.as_deref(), Some("index"));
        // The editor's rules, each naming its field.
        let pg = PodSchedulingPolicySpec { engine_type: EngineType::Postgresql, affinity_config: None };
        for (bad, field) in [
            (rule("configServer", "podAffinity", "required", None, "", "", &[]), "component"),
            (rule("engine", "podAffinity", "preferred", None, "", "", &[]), "weight"),
            (rule("engine", "nodeAffinity", "required", None, "", "", &[]), "key"),
            (rule("engine", "podAffinity", "required", None, "app", "In", &[]), "values"),
            (rule("engine", "podAffinity", "required", None, "app", "Exists", &["x"]), "values"),
            (rule("engine", "podAffinity", "required", None, "app", "Gt", &["1"]), "operator"),
            (AffinityRule { topology_key: " ".into(), ..rule("engine", "podAffinity", "required", None, "", "", &[]) }, "topology_key"),
        ] {
            assert_eq!(with_rule(pg.clone(), &bad).unwrap_err().field.as_deref(), Some(field), "{bad:?}");
        }
    }

    #[test]
    fn names() {
        assert!(validate_object_name("my-policy.v2").is_ok());
        for bad in ["", "Upper", "-x", "x-", "a..b", "under_score"] {
            assert_eq!(validate_object_name(bad).unwrap_err().field.as_deref(), Some("metadata.name"), "{bad:?}");
        }
    }
}
