//! RBAC with OpenEverest's casbin model and policy format.
//!
//! The policy lives in ConfigMap `everest-rbac` (system namespace), keys `enabled` ("true"|"false") and
//! `policy.csv`. Requests and policy lines are `subject, resource, action, object`; `g, user, role` lines
//! give users roles (roles may have roles). Resource, action and object of a policy line are glob patterns
//! (`*` never crosses a `/`, so namespaced objects are written `*/*`, `dev/*`, `dev/orders`).
//!
//! Unlike OpenEverest, which panics on an invalid policy, a policy that does not validate is rejected with
//! a logged error naming the line, and the last good policy stays in force (visible in `/metrics`).
use casbin::{CoreApi, DefaultModel, Enforcer, MgmtApi, RbacApi, StringAdapter};
use k8s_openapi::api::core::v1::ConfigMap;
use std::sync::{Arc, Mutex, RwLock};

pub const RBAC_CONFIGMAP: &str = "everest-rbac";
pub const ENABLED_KEY: &str = "enabled";
pub const POLICY_KEY: &str = "policy.csv";
/// The chart's default policy, as OpenEverest ships it.
pub const DEFAULT_POLICY: &str = "g, admin, role:admin";
/// The built-in role with every action on every resource.
pub const ADMIN_ROLE: &str = "role:admin";

/// OpenEverest's `model.conf` semantics: allow when some policy line allows and none denies; the subject
/// matches through role inheritance, the rest by glob.
pub const MODEL: &str = r#"
[request_definition]
r = sub, res, act, obj

[policy_definition]
p = sub, res, act, obj

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = g(r.sub, p.sub) && globMatch(r.res, p.res) && globMatch(r.act, p.act) && globMatch(r.obj, p.obj)
"#;

/// Resources whose objects are `<namespace>/<name>`.
pub const NAMESPACED_RESOURCES: &[&str] = &[
    "backup-storages",
    "database-clusters",
    "database-cluster-backups",
    "database-cluster-credentials",
    "database-cluster-restores",
    "database-engines",
    "monitoring-instances",
    "data-import-jobs",
    "enginefeatures/split-horizon-dns-configs",
];
/// Resources whose objects are a name (or `*`).
pub const GLOBAL_RESOURCES: &[&str] = &["namespaces", "pod-scheduling-policies", "load-balancer-configs", "data-importers"];
pub const ACTIONS: &[&str] = &["create", "read", "update", "delete"];

pub fn is_namespaced(resource: &str) -> bool {
    NAMESPACED_RESOURCES.contains(&resource)
}

pub fn is_known_resource(resource: &str) -> bool {
    is_namespaced(resource) || GLOBAL_RESOURCES.contains(&resource)
}

/// A policy that was refused: the line (1-based; 0 for the ConfigMap itself), its text and the rule it broke.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct PolicyError {
    pub line: usize,
    pub text: String,
    pub rule: String,
}

impl PolicyError {
    fn at(line: usize, text: &str, rule: impl Into<String>) -> Self {
        Self { line, text: text.to_string(), rule: rule.into() }
    }
    fn describe(&self) -> String {
        if self.line == 0 {
            self.rule.clone()
        } else {
            format!("{POLICY_KEY} line {}: {} (line: {:?})", self.line, self.rule, self.text)
        }
    }
}

/// One validated line of `policy.csv`.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// `p, subject, resource, action, object`
    P([String; 4]),
    /// `g, user, role`
    G(String, String),
}

/// The glob matcher casbin's `globMatch` builds (a `*` does not cross a `/`).
fn glob(pattern: &str) -> Result<globset::GlobMatcher, globset::Error> {
    Ok(globset::GlobBuilder::new(pattern).literal_separator(true).build()?.compile_matcher())
}

/// `globMatch(value, pattern)`; an invalid pattern matches nothing (validated policies have none).
pub fn glob_match(value: &str, pattern: &str) -> bool {
    glob(pattern).map(|g| g.is_match(value)).unwrap_or(false)
}

/// Parses and checks `policy.csv`. Blank lines and `#` comments are skipped. Every other line is
/// `p, subject, resource, action, object` or `g, user, role`; resources and actions must exist (or be a
/// pattern matching one that exists), namespaced objects are `<namespace>/<name>` and global ones a name.
pub fn parse_policy(csv: &str) -> Result<Vec<Rule>, PolicyError> {
    let mut rules = Vec::new();
    for (i, raw) in csv.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.contains('"') {
            return Err(PolicyError::at(n, line, "quoted fields are not supported"));
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.iter().any(|x| x.is_empty()) {
            return Err(PolicyError::at(n, line, "a field is empty"));
        }
        match f[0] {
            "p" => {
                if f.len() != 5 {
                    return Err(PolicyError::at(n, line, format!("a p line has 5 fields (p, subject, resource, action, object), this one has {}", f.len())));
                }
                let (sub, res, act, obj) = (f[1], f[2], f[3], f[4]);
                for (what, pat) in [("resource", res), ("action", act), ("object", obj)] {
                    if let Err(e) = glob(pat) {
                        return Err(PolicyError::at(n, line, format!("{what} {pat:?} is not a valid pattern: {}", e.kind())));
                    }
                }
                let known: Vec<&str> = NAMESPACED_RESOURCES.iter().chain(GLOBAL_RESOURCES).copied().collect();
                if !known.iter().any(|r| glob_match(r, res)) {
                    return Err(PolicyError::at(n, line, format!("unknown resource {res:?} (resources: {})", known.join(", "))));
                }
                if act != "*" && !ACTIONS.contains(&act) {
                    return Err(PolicyError::at(n, line, format!("unknown action {act:?} (actions: create, read, update, delete, *)")));
                }
                if is_namespaced(res) && !is_ns_object(obj) {
                    return Err(PolicyError::at(n, line, format!("the object of {res} is <namespace>/<name> (e.g. */*, dev/*), not {obj:?}")));
                }
                if GLOBAL_RESOURCES.contains(&res) && obj.contains('/') {
                    return Err(PolicyError::at(n, line, format!("the object of {res} is a name or *, not {obj:?}")));
                }
                rules.push(Rule::P([sub.into(), res.into(), act.into(), obj.into()]));
            }
            "g" => {
                if f.len() != 3 {
                    return Err(PolicyError::at(n, line, format!("a g line has 3 fields (g, user, role), this one has {}", f.len())));
                }
                rules.push(Rule::G(f[1].into(), f[2].into()));
            }
            other => return Err(PolicyError::at(n, line, format!("a line starts with p or g, not {other:?}"))),
        }
    }
    Ok(rules)
}

fn is_ns_object(obj: &str) -> bool {
    matches!(obj.split_once('/'), Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/'))
}

/// The built-in `role:admin`: every action on every resource.
fn admin_rules() -> impl Iterator<Item = String> {
    NAMESPACED_RESOURCES
        .iter()
        .map(|r| format!("p, {ADMIN_ROLE}, {r}, *, */*"))
        .chain(GLOBAL_RESOURCES.iter().map(|r| format!("p, {ADMIN_ROLE}, {r}, *, *")))
}

/// `enabled` and `policy.csv` of the ConfigMap. `enabled` is "true" or "false" (absent means false).
pub fn read_config_map(cm: &ConfigMap) -> Result<(bool, String), PolicyError> {
    let data = cm.data.clone().unwrap_or_default();
    let enabled = match data.get(ENABLED_KEY).map(|s| s.trim()) {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(PolicyError::at(0, "", format!("{ENABLED_KEY}: must be \"true\" or \"false\", not {other:?}"))),
    };
    Ok((enabled, data.get(POLICY_KEY).cloned().unwrap_or_default()))
}

/// A `p` line with its patterns compiled once.
struct CompiledRule {
    res: globset::GlobMatcher,
    act: globset::GlobMatcher,
    obj: globset::GlobMatcher,
}

/// A loaded policy.
///
/// Casbin holds the model, the policy and the role graph. Decisions evaluate the model's matcher
/// (`g(r.sub, p.sub) && globMatch(r.res, p.res) && globMatch(r.act, p.act) && globMatch(r.obj, p.obj)`,
/// allow-only effect) over an index: the subject's roles come from casbin's role manager, and only the
/// policy lines of the subject and those roles are matched, with their globs compiled at load. Casbin's own
/// `enforce` runs the matcher script over every line and compiles each glob on every call (milliseconds
/// per check with a few hundred lines), too slow for filtering lists per item; the unit tests check that
/// both give the same answers.
pub struct Policy {
    pub enabled: bool,
    /// None until the first policy is loaded: then every check is denied.
    enforcer: Option<Enforcer>,
    rules: std::collections::HashMap<String, Vec<CompiledRule>>,
}

impl Policy {
    /// Fails closed: every check is denied (used until the ConfigMap has been read).
    pub fn deny_all() -> Policy {
        Policy { enabled: true, enforcer: None, rules: Default::default() }
    }

    /// Validates `csv` and builds the enforcer (with the built-in `role:admin`).
    pub async fn build(enabled: bool, csv: &str) -> Result<Policy, PolicyError> {
        let parsed = parse_policy(csv)?;
        let mut text: Vec<String> = admin_rules().collect();
        for r in &parsed {
            text.push(match r {
                Rule::P([s, r, a, o]) => format!("p, {s}, {r}, {a}, {o}"),
                Rule::G(u, r) => format!("g, {u}, {r}"),
            });
        }
        let model = DefaultModel::from_str(MODEL).await.map_err(|e| PolicyError::at(0, "", format!("model: {e}")))?;
        let enforcer = Enforcer::new(model, StringAdapter::new(text.join("\n")))
            .await
            .map_err(|e| PolicyError::at(0, "", format!("policy: {e}")))?;
        let mut rules: std::collections::HashMap<String, Vec<CompiledRule>> = Default::default();
        let compile = |p: &str| glob(p).map_err(|e| PolicyError::at(0, "", format!("pattern {p:?}: {}", e.kind())));
        for line in enforcer.get_policy() {
            let [s, r, a, o]: [String; 4] = line.try_into().map_err(|_| PolicyError::at(0, "", "policy: a p line without 4 fields"))?;
            rules.entry(s).or_default().push(CompiledRule { res: compile(&r)?, act: compile(&a)?, obj: compile(&o)? });
        }
        Ok(Policy { enabled, enforcer: Some(enforcer), rules })
    }

    /// Whether the policy allows `subject` to do `action` on `resource` `object`, regardless of `enabled`.
    pub fn allows(&self, subject: &str, resource: &str, action: &str, object: &str) -> bool {
        let Some(e) = &self.enforcer else { return false };
        let roles = e.get_implicit_roles_for_user(subject, None);
        std::iter::once(subject)
            .chain(roles.iter().map(String::as_str))
            .filter_map(|s| self.rules.get(s))
            .flatten()
            .any(|r| r.res.is_match(resource) && r.act.is_match(action) && r.obj.is_match(object))
    }

    /// Casbin's own `enforce` on the same model and policy (the reference the tests compare with).
    #[cfg(test)]
    fn casbin_enforce(&self, subject: &str, resource: &str, action: &str, object: &str) -> bool {
        self.enforcer.as_ref().is_some_and(|e| e.enforce((subject, resource, action, object)).unwrap())
    }

    /// The decision the server applies: everything is allowed while RBAC is disabled.
    pub fn can(&self, subject: &str, resource: &str, action: &str, object: &str) -> bool {
        !self.enabled || self.allows(subject, resource, action, object)
    }

    /// The policy lines that apply to `subject` (its own and its roles', transitively):
    /// `[subject-or-role, resource, action, object]`.
    pub fn permissions(&self, subject: &str) -> Vec<[String; 4]> {
        let Some(e) = &self.enforcer else { return vec![] };
        let mut v: Vec<[String; 4]> = e
            .get_implicit_permissions_for_user(subject, None)
            .into_iter()
            .filter_map(|p| <[String; 4]>::try_from(p).ok())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Whether the subject may do `action` on `resource` for some object (a global resource: whether to offer
    /// "Create" at all; the server still checks the object's name).
    pub fn can_any(&self, subject: &str, resource: &str, action: &str) -> bool {
        !self.enabled || self.permissions(subject).iter().any(|[_, r, a, _]| glob_match(resource, r) && glob_match(action, a))
    }

    /// Whether the subject may do `action` on `resource` for some object in `namespace` (a namespaced
    /// resource): some permission's resource and action match and its object's namespace part matches.
    /// For the UI (which namespaces to offer); the server still checks the full object.
    pub fn can_in_namespace(&self, subject: &str, resource: &str, action: &str, namespace: &str) -> bool {
        if !self.enabled {
            return true;
        }
        self.permissions(subject).iter().any(|[_, r, a, o]| {
            glob_match(resource, r)
                && glob_match(action, a)
                && o.split_once('/').is_some_and(|(ns, _)| glob_match(namespace, ns))
        })
    }
}

/// What `/metrics` reports about the policy.
#[derive(Debug, Default, Clone)]
pub struct RbacStatus {
    /// The ConfigMap has been read once (or found absent).
    pub loaded: bool,
    /// The policy in force came from the ConfigMap (false: the chart default, no ConfigMap).
    pub from_config_map: bool,
    pub enabled: bool,
    pub reloads: u64,
    pub rejected: u64,
    /// Why the last update was refused (None once a good one is loaded).
    pub last_error: Option<String>,
}

/// The policy in force, swapped as a whole on every accepted update.
pub struct Rbac {
    current: RwLock<Arc<Policy>>,
    status: Mutex<RbacStatus>,
    /// Bumped on every accepted change (the live list re-filters on it).
    version: tokio::sync::watch::Sender<u64>,
}

impl Default for Rbac {
    fn default() -> Self {
        Rbac { current: RwLock::new(Arc::new(Policy::deny_all())), status: Default::default(), version: tokio::sync::watch::channel(0).0 }
    }
}

impl Rbac {
    pub fn policy(&self) -> Arc<Policy> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn status(&self) -> RbacStatus {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.version.subscribe()
    }

    fn install(&self, p: Policy, from_config_map: bool) {
        let enabled = p.enabled;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(p);
        let mut st = self.status.lock().unwrap_or_else(|e| e.into_inner());
        st.loaded = true;
        st.from_config_map = from_config_map;
        st.enabled = enabled;
        st.reloads += 1;
        st.last_error = None;
        drop(st);
        self.version.send_modify(|v| *v += 1);
    }

    fn reject(&self, e: &PolicyError) {
        tracing::error!(configmap = RBAC_CONFIGMAP, line = e.line, text = %e.text, rule = %e.rule,
            "RBAC policy rejected; the last good policy stays in force");
        let mut st = self.status.lock().unwrap_or_else(|e| e.into_inner());
        st.rejected += 1;
        st.last_error = Some(e.to_string());
    }

    /// Applies the ConfigMap's content. An absent ConfigMap means the chart default (RBAC disabled) until a
    /// policy was loaded from it; once one was, a deleted ConfigMap keeps it in force (logged). Still no
    /// ConfigMap where there was none (a relist after an API server restart) changes nothing.
    pub async fn apply(&self, cm: Option<&ConfigMap>) -> Result<(), PolicyError> {
        let from_config_map = cm.is_some();
        let (enabled, csv) = match cm {
            Some(cm) => match read_config_map(cm) {
                Ok(v) => v,
                Err(e) => {
                    self.reject(&e);
                    return Err(e);
                }
            },
            None if self.status().from_config_map => {
                let e = PolicyError::at(0, "", format!("ConfigMap {RBAC_CONFIGMAP} was deleted"));
                self.reject(&e);
                return Err(e);
            }
            None if self.status().loaded => return Ok(()),
            None => {
                tracing::info!(configmap = RBAC_CONFIGMAP, "no RBAC ConfigMap: RBAC is disabled (the chart default)");
                (false, DEFAULT_POLICY.to_string())
            }
        };
        match Policy::build(enabled, &csv).await {
            Ok(p) => {
                tracing::info!(enabled, "RBAC policy loaded");
                self.install(p, from_config_map);
                Ok(())
            }
            Err(e) => {
                self.reject(&e);
                Err(e)
            }
        }
    }

    /// Prometheus lines for `/metrics`.
    pub fn render_metrics(&self) -> String {
        let st = self.status();
        format!(
            "# HELP cairn_rbac_enabled Whether the RBAC policy in force is enabled.\n# TYPE cairn_rbac_enabled gauge\ncairn_rbac_enabled {}\n\
             # HELP cairn_rbac_policy_valid Whether the last update of ConfigMap everest-rbac was accepted (when not, the last good policy stays in force).\n# TYPE cairn_rbac_policy_valid gauge\ncairn_rbac_policy_valid {}\n\
             # HELP cairn_rbac_policy_loads_total RBAC policy updates by result.\n# TYPE cairn_rbac_policy_loads_total counter\n\
             cairn_rbac_policy_loads_total{{result=\"accepted\"}} {}\ncairn_rbac_policy_loads_total{{result=\"rejected\"}} {}\n",
            u8::from(st.enabled),
            u8::from(st.last_error.is_none()),
            st.reloads,
            st.rejected,
        )
    }
}

/// ConfigMap `everest-rbac` of the system namespace, if it exists.
pub async fn fetch_config_map(client: &kube::Client, ns: &str) -> Result<Option<ConfigMap>, kube::Error> {
    kube::Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(RBAC_CONFIGMAP).await
}

/// Validates and writes ConfigMap `everest-rbac` (created if absent); `None` keeps a key's current value
/// (or the chart default when the ConfigMap does not exist). Nothing is written when the result is invalid.
pub async fn store_config_map(client: &kube::Client, ns: &str, enabled: Option<bool>, policy: Option<&str>) -> anyhow::Result<(bool, String)> {
    let api = kube::Api::<ConfigMap>::namespaced(client.clone(), ns);
    let current = api.get_opt(RBAC_CONFIGMAP).await?;
    let (cur_enabled, cur_policy) = match &current {
        Some(cm) => read_config_map(cm).unwrap_or((false, DEFAULT_POLICY.into())),
        None => (false, DEFAULT_POLICY.into()),
    };
    let enabled = enabled.unwrap_or(cur_enabled);
    let policy = policy.map(str::to_string).unwrap_or(cur_policy);
    Policy::build(enabled, &policy).await?;
    let cm = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": RBAC_CONFIGMAP, "namespace": ns},
        "data": {ENABLED_KEY: enabled.to_string(), POLICY_KEY: policy},
    });
    // Server-side apply with force: the CLI owns these two keys from now on (the chart's values set them at
    // install only).
    api.patch(RBAC_CONFIGMAP, &kube::api::PatchParams::apply("cairn").force(), &kube::api::Patch::Apply(&cm)).await?;
    Ok((enabled, policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "
# OpenEverest's example policy
p, role:readonly, database-clusters, read, */*
p, role:readonly, namespaces, read, *
p, role:devteam, database-clusters, *, dev/*
p, role:devteam, database-engines, read, dev/*
p, role:devteam, namespaces, read, dev
g, alice, role:readonly
g, bob, role:devteam
g, carol, team:leads
g, team:leads, role:devteam
g, admin, role:admin
";

    async fn policy(enabled: bool, csv: &str) -> Policy {
        Policy::build(enabled, csv).await.unwrap()
    }

    #[test]
    fn glob_matching_follows_casbin() {
        assert!(glob_match("dev/orders", "*/*"));
        assert!(glob_match("dev/orders", "dev/*"));
        assert!(!glob_match("prod/orders", "dev/*"));
        // `*` never crosses a `/`: a namespaced object needs `*/*`.
        assert!(!glob_match("dev/orders", "*"));
        assert!(glob_match("dev", "*"));
        assert!(glob_match("dev/orders-1", "dev/orders-*"));
        assert!(glob_match("read", "*"));
        assert!(glob_match("enginefeatures/split-horizon-dns-configs", "enginefeatures/*"));
    }

    #[tokio::test]
    async fn roles_groups_and_globs() {
        let p = policy(true, GOOD).await;
        // read-only: read everywhere, nothing else.
        assert!(p.can("alice", "database-clusters", "read", "prod/orders"));
        assert!(!p.can("alice", "database-clusters", "create", "prod/orders"));
        assert!(!p.can("alice", "database-clusters", "delete", "dev/x"));
        assert!(p.can("alice", "namespaces", "read", "prod"));
        // a team role: everything in dev, nothing elsewhere.
        for act in ["create", "read", "update", "delete"] {
            assert!(p.can("bob", "database-clusters", act, "dev/orders"), "{act}");
            assert!(!p.can("bob", "database-clusters", act, "prod/orders"), "{act}");
        }
        assert!(p.can("bob", "database-engines", "read", "dev/percona-postgresql-operator"));
        assert!(!p.can("bob", "database-engines", "update", "dev/percona-postgresql-operator"));
        assert!(p.can("bob", "namespaces", "read", "dev"));
        assert!(!p.can("bob", "namespaces", "read", "prod"));
        // role inheritance through a group.
        assert!(p.can("carol", "database-clusters", "delete", "dev/orders"));
        assert!(!p.can("carol", "database-clusters", "delete", "prod/orders"));
        // the built-in admin role covers every resource and action.
        for r in NAMESPACED_RESOURCES {
            assert!(p.can("admin", r, "delete", "any/thing"), "{r}");
        }
        for r in GLOBAL_RESOURCES {
            assert!(p.can("admin", r, "create", "anything"), "{r}");
        }
    }

    #[tokio::test]
    async fn deny_by_default_when_enabled() {
        let p = policy(true, GOOD).await;
        assert!(!p.can("nobody", "database-clusters", "read", "dev/orders"));
        assert!(!p.can("nobody", "namespaces", "read", "dev"));
        assert!(!p.can("", "database-clusters", "read", "dev/orders"));
        // a role name is not a user that can log in, but it is not special either: no policy, no access.
        assert!(!p.can("role:nothing", "database-clusters", "read", "dev/orders"));
        // Not loaded yet: fail closed.
        assert!(!Policy::deny_all().can("admin", "database-clusters", "read", "dev/orders"));
    }

    #[tokio::test]
    async fn disabled_allows_everything_but_still_evaluates() {
        let p = policy(false, DEFAULT_POLICY).await;
        assert!(p.can("nobody", "database-clusters", "delete", "prod/orders"));
        assert!(p.can_in_namespace("nobody", "database-clusters", "create", "prod"));
        // `allows` is the policy itself (what `cairn settings rbac can` answers).
        assert!(!p.allows("nobody", "database-clusters", "delete", "prod/orders"));
        assert!(p.allows("admin", "database-clusters", "delete", "prod/orders"));
    }

    #[tokio::test]
    async fn permissions_are_the_subjects_and_its_roles() {
        let p = policy(true, GOOD).await;
        let bob = p.permissions("bob");
        assert_eq!(
            bob,
            vec![
                ["role:devteam", "database-clusters", "*", "dev/*"].map(String::from),
                ["role:devteam", "database-engines", "read", "dev/*"].map(String::from),
                ["role:devteam", "namespaces", "read", "dev"].map(String::from),
            ]
        );
        assert_eq!(p.permissions("carol"), bob);
        assert!(p.permissions("nobody").is_empty());
        assert!(p.can_in_namespace("bob", "database-clusters", "create", "dev"));
        assert!(!p.can_in_namespace("bob", "database-clusters", "create", "prod"));
        assert!(!p.can_in_namespace("alice", "database-clusters", "create", "dev"));
        assert!(p.can_in_namespace("alice", "database-clusters", "read", "dev"));
    }

    /// The indexed decision equals casbin's `enforce` on every combination of these requests.
    #[tokio::test]
    async fn same_answers_as_casbin_enforce() {
        let p = policy(true, &format!("{GOOD}\np, role:x, database-cluster*, read, ev*/db-?\np, team:leads, namespaces, *, p*\ng, role:devteam, role:x\n")).await;
        let subjects = ["admin", "alice", "bob", "carol", "nobody", "role:devteam", "team:leads"];
        let resources = ["database-clusters", "database-cluster-backups", "database-engines", "namespaces", "backup-storages"];
        let actions = ["create", "read", "update", "delete"];
        let objects = ["dev/orders", "prod/orders", "everest/db-1", "everest/db-12", "dev", "prod", "dev/a/b", "*/*", "*"];
        let mut n = 0;
        for s in subjects {
            for r in resources {
                for a in actions {
                    for o in objects {
                        assert_eq!(p.allows(s, r, a, o), p.casbin_enforce(s, r, a, o), "{s} {r} {a} {o}");
                        n += usize::from(p.allows(s, r, a, o));
                    }
                }
            }
        }
        assert!(n > 100, "a meaningful share is allowed: {n}");
    }

    #[test]
    fn invalid_policies_name_the_line_and_the_rule() {
        let cases = [
            ("p, role:x, database-clusters, read", 1, "5 fields"),
            ("\n\ng, alice", 3, "3 fields"),
            ("x, alice, role:x", 1, "starts with p or g"),
            ("p, role:x, databases, read, */*", 1, "unknown resource \"databases\""),
            ("p, role:x, database-clusters, write, */*", 1, "unknown action \"write\""),
            ("p, role:x, database-clusters, read, *", 1, "<namespace>/<name>"),
            ("p, role:x, database-clusters, read, dev", 1, "<namespace>/<name>"),
            ("p, role:x, namespaces, read, dev/x", 1, "a name or *"),
            ("p, role:x, database-clusters, read, dev/[", 1, "not a valid pattern"),
            ("p, , database-clusters, read, */*", 1, "a field is empty"),
            ("p, \"role:x\", database-clusters, read, */*", 1, "quoted"),
        ];
        for (csv, line, rule) in cases {
            let e = parse_policy(csv).unwrap_err();
            assert_eq!(e.line, line, "{csv}: {e}");
            assert!(e.to_string().contains(rule), "{csv}: {e}");
            assert!(e.to_string().contains(&format!("line {line}")), "{e}");
        }
        // Patterns over resources are fine when they match a resource.
        assert_eq!(parse_policy("p, role:x, database-cluster*, read, */*").unwrap().len(), 1);
        assert_eq!(parse_policy("p, role:x, *, *, */*").unwrap().len(), 1);
    }

    #[test]
    fn config_map_enabled_values() {
        let cm = |enabled: Option<&str>| ConfigMap {
            data: Some(
                [(POLICY_KEY.to_string(), DEFAULT_POLICY.to_string())]
                    .into_iter()
                    .chain(enabled.map(|e| (ENABLED_KEY.to_string(), e.to_string())))
                    .collect(),
            ),
            ..Default::default()
        };
        assert_eq!(read_config_map(&cm(Some("true"))).unwrap(), (true, DEFAULT_POLICY.into()));
        assert_eq!(read_config_map(&cm(Some("false"))).unwrap().0, false);
        assert_eq!(read_config_map(&cm(None)).unwrap().0, false);
        let e = read_config_map(&cm(Some("yes"))).unwrap_err();
        assert!(e.to_string().contains("enabled: must be \"true\" or \"false\""), "{e}");
    }

    #[tokio::test]
    async fn no_config_map_twice_is_no_change_and_no_error() {
        // The chart default (no ConfigMap), then a relist after an API server restart that again finds none:
        // not a deletion, nothing rejected, nothing reloaded.
        let rbac = Rbac::default();
        rbac.apply(None).await.unwrap();
        assert!(!rbac.policy().enabled);
        rbac.apply(None).await.unwrap();
        let st = rbac.status();
        assert_eq!((st.loaded, st.from_config_map, st.reloads, st.rejected, st.last_error), (true, false, 1, 0, None));
    }

    #[tokio::test]
    async fn an_invalid_update_keeps_the_last_good_policy() {
        let rbac = Rbac::default();
        assert!(!rbac.policy().can("alice", "database-clusters", "read", "dev/x"), "fails closed before loading");
        let cm = |enabled: &str, csv: &str| ConfigMap {
            data: Some([(ENABLED_KEY.to_string(), enabled.to_string()), (POLICY_KEY.to_string(), csv.to_string())].into()),
            ..Default::default()
        };
        rbac.apply(Some(&cm("true", GOOD))).await.unwrap();
        assert!(rbac.policy().can("alice", "database-clusters", "read", "dev/x"));
        let mut version = rbac.subscribe();
        version.borrow_and_update();

        let e = rbac.apply(Some(&cm("false", "p, role:x, nope, read, */*"))).await.unwrap_err();
        assert_eq!(e.line, 1);
        // Still the good, enabled policy.
        let p = rbac.policy();
        assert!(p.enabled && p.can("alice", "database-clusters", "read", "dev/x") && !p.can("alice", "database-clusters", "delete", "dev/x"));
        let st = rbac.status();
        assert_eq!((st.reloads, st.rejected), (1, 1));
        assert!(st.last_error.as_deref().unwrap().contains("unknown resource"), "{st:?}");
        assert!(rbac.render_metrics().lines().any(|l| l == "cairn_rbac_policy_valid 0"));
        assert!(!version.has_changed().unwrap());

        // Deleting the ConfigMap after a policy was loaded keeps that policy.
        assert!(rbac.apply(None).await.is_err());
        assert!(rbac.policy().enabled);
        assert_eq!(rbac.status().rejected, 2);

        // A good update is taken and clears the error.
        rbac.apply(Some(&cm("false", DEFAULT_POLICY))).await.unwrap();
        assert!(!rbac.policy().enabled);
        assert!(rbac.render_metrics().lines().any(|l| l == "cairn_rbac_policy_valid 1"));
        assert!(version.has_changed().unwrap());
    }
}
