//! The operator upgrade plan of a namespace (contract §2.6, REST `database-engines/upgrade-plan`): which
//! operators run older than the versions this Cairn release installs, and per database what must happen
//! first. The approval locks the namespace's engines (`everest.percona.com/upgrade-lock`): while the lock
//! holds, writes to that namespace's databases answer 412. The upgrade itself goes through the operators'
//! Helm charts: the approval runs it in the server (`cli::upgrade::upgrade_operators`, the code
//! `cairn upgrade` runs per namespace) when the namespace holds the `cairn-db-namespace` Helm release;
//! otherwise (a GitOps tool renders the chart without Helm releases, the sandbox simulates the operators)
//! whoever installed the operators upgrades them (`cairn namespaces update`, a chart bump in Git). The lock lifts once every locked engine
//! reports the target version, or after 10 minutes, or at once when the server's upgrade fails.
use super::authz::{self, authorize, res, Action};
use super::Caller;
use crate::crd::{AppState, DatabaseCluster, DatabaseEngine, EngineType};
use crate::error::ApiError;
use crate::state::State;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};

/// OpenEverest's lock annotation on a DatabaseEngine during an operator upgrade (RFC 3339 time).
pub const UPGRADE_LOCK: &str = "everest.percona.com/upgrade-lock";
/// The operator version the approval targets (Cairn's annotation beside the lock).
pub const UPGRADE_TARGET: &str = "cairn.io/upgrade-target-version";
/// How long a lock holds at most (OpenEverest's operator removes it after 10 minutes).
pub const LOCK_TTL_SECS: i64 = 600;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperatorUpgrade {
    /// The DatabaseEngine (= operator Deployment) name.
    pub name: String,
    pub current_version: String,
    pub target_version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PendingTask {
    Ready,
    NotReady,
    Restart,
    UpgradeEngine,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingAction {
    /// The database's name.
    pub name: String,
    pub message: String,
    pub pending_task: PendingTask,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradePlan {
    pub upgrades: Vec<OperatorUpgrade>,
    pub pending_actions: Vec<PendingAction>,
}

impl UpgradePlan {
    /// The databases that must be handled before the operators may be upgraded.
    pub fn blocking(&self) -> impl Iterator<Item = &PendingAction> {
        self.pending_actions.iter().filter(|a| a.pending_task != PendingTask::Ready)
    }
}

fn engine_of_alias(alias: &str) -> EngineType {
    match alias {
        "postgresql" => EngineType::Postgresql,
        "pxc" => EngineType::Pxc,
        _ => EngineType::Psmdb,
    }
}

/// The operator versions this Cairn release installs, per engine.
pub fn targets() -> Vec<(EngineType, String)> {
    crate::cli::charts::pinned_operators().into_iter().map(|o| (engine_of_alias(&o.alias), o.app_version)).collect()
}

/// The plan, from the installed operator versions, the targets and the namespace's databases (pure).
/// A database of an engine being upgraded must be `ready` (else `notReady`), and run the CR version of the
/// installed operator (else `restart`: update its CR version first, which restarts it), so that the new
/// operator takes over a settled cluster.
pub fn plan(installed: &[(EngineType, String)], targets: &[(EngineType, String)], dbs: &[DatabaseCluster]) -> UpgradePlan {
    use crate::cli::upgrade::semver;
    let mut out = UpgradePlan::default();
    // By operator name, so the plan reads the same whatever order the engines come in.
    let mut installed: Vec<&(EngineType, String)> = installed.iter().collect();
    installed.sort_by_key(|(e, _)| e.operator_name());
    for (engine, current) in installed {
        let Some((_, target)) = targets.iter().find(|(e, _)| e == engine) else { continue };
        let newer = matches!((semver(current), semver(target)), (Some(c), Some(t)) if t > c);
        if !newer {
            continue;
        }
        out.upgrades.push(OperatorUpgrade { name: engine.operator_name().into(), current_version: current.clone(), target_version: target.clone() });
        let mut mine: Vec<&DatabaseCluster> = dbs.iter().filter(|d| d.spec.engine.type_ == *engine).collect();
        mine.sort_by_key(|d| d.name_any());
        for db in mine {
            let st = db.status.clone().unwrap_or_default();
            let cr = st.cr_version.clone().unwrap_or_default();
            let (pending_task, message) = if st.status != AppState::Ready {
                (PendingTask::NotReady, format!("the database is {}; it must be ready before the operator upgrade", st.status.with_creating().as_str()))
            } else if !cr.is_empty() && cr != *current {
                (PendingTask::Restart, format!("update its CR version {cr} to {current} first (the database restarts)"))
            } else {
                (PendingTask::Ready, format!("ready for operator {target}"))
            };
            out.pending_actions.push(PendingAction { name: db.name_any(), message, pending_task });
        }
    }
    out
}

/// The plan of a namespace read from the API (the CLI): `installed` is (chart alias, version).
pub async fn for_namespace(client: &Client, ns: &str, installed: &[(String, String)]) -> anyhow::Result<UpgradePlan> {
    let dbs = match Api::<DatabaseCluster>::namespaced(client.clone(), ns).list(&Default::default()).await {
        Ok(l) => l.items,
        Err(kube::Error::Api(s)) if s.code == 404 => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let installed: Vec<(EngineType, String)> = installed.iter().map(|(a, v)| (engine_of_alias(a), v.clone())).collect();
    Ok(plan(&installed, &targets(), &dbs))
}

fn installed_from_cache(state: &State, ns: &str) -> Vec<(EngineType, String)> {
    state
        .engines
        .state()
        .iter()
        .filter(|e| e.namespace().as_deref() == Some(ns))
        .filter_map(|e| {
            let st = e.status.as_ref()?;
            (!st.operator_version.is_empty()).then(|| (e.spec.type_, st.operator_version.clone()))
        })
        .collect()
}

/// REST `GET …/database-engines/upgrade-plan`. RBAC: `database-engines` read on each engine of the namespace.
pub fn get_plan(state: &State, caller: &Caller, ns: &str) -> Result<UpgradePlan, ApiError> {
    for e in [EngineType::Postgresql, EngineType::Pxc, EngineType::Psmdb] {
        authorize(state, caller, res::DATABASE_ENGINES, Action::Read, &authz::object(ns, e.operator_name()))?;
    }
    if !state.is_managed(ns) {
        return Err(ApiError::not_found(format!("namespace {ns:?}")));
    }
    let dbs: Vec<DatabaseCluster> = state.dbs.state().iter().filter(|d| d.namespace().as_deref() == Some(ns)).map(|d| (**d).clone()).collect();
    Ok(plan(&installed_from_cache(state, ns), &targets(), &dbs))
}

/// REST `POST …/database-engines/upgrade-plan/approval`: 412 when there is nothing to upgrade or a database
/// blocks the upgrade (the message lists them); else the engines being upgraded get the lock (and the
/// target version), and the plan is returned. RBAC: `database-engines` update on each engine upgraded.
pub async fn approve(state: &State, caller: &Caller, ns: &str) -> Result<UpgradePlan, ApiError> {
    let plan = get_plan(state, caller, ns)?;
    for u in &plan.upgrades {
        authorize(state, caller, res::DATABASE_ENGINES, Action::Update, &authz::object(ns, &u.name))?;
    }
    if plan.upgrades.is_empty() {
        return Err(ApiError::new(412, format!("the operators in namespace {ns} are current; there is nothing to upgrade")));
    }
    let blocking: Vec<String> = plan.blocking().map(|a| format!("{}: {}", a.name, a.message)).collect();
    if !blocking.is_empty() {
        return Err(ApiError::new(412, format!("the operator upgrade is blocked by: {}", blocking.join("; "))));
    }
    let api: Api<DatabaseEngine> = Api::namespaced(state.client.clone(), ns);
    let now = k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    for u in &plan.upgrades {
        let patch = serde_json::json!({"metadata": {"annotations": {UPGRADE_LOCK: now, UPGRADE_TARGET: u.target_version}}});
        api.patch(&u.name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    }
    tracing::info!(target: "cairn::audit", user = %caller.username, %ns, "operator upgrade approved");
    if let Some(helm) = state.operator_upgrades.get() {
        // In the background (Helm waits for the Deployments): the answer says it started; the lock keeps the
        // namespace's writes out until the engines report the new versions.
        let (state, helm, ns) = (state.clone(), helm.clone(), ns.to_string());
        let engines: Vec<String> = plan.upgrades.iter().map(|u| u.name.clone()).collect();
        tokio::spawn(async move {
            // Operators not installed by Cairn's chart (a GitOps tool renders it without Helm releases, the
            // sandbox's simulated ones): whoever installed them upgrades them; the lock holds until the
            // engines report the target versions.
            match helm_release_exists(&state.client, &ns).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(%ns, release = crate::cli::DB_RELEASE, "no Helm release of the operators in the namespace: waiting for whoever installed them to upgrade them");
                    return;
                }
                Err(e) => tracing::warn!(%ns, error = %e, "cannot read the namespace's Helm releases; trying the upgrade"),
            }
            // Flux's helm-controller owns the release: a `helm upgrade` from here would be undone at its next
            // reconcile (and go behind its back); the upgrade is a version bump in Git.
            if let Some(hr) = flux_helm_release(&state, &ns, &engines).await {
                tracing::info!(%ns, helm_release = %hr, "the operators' release is Flux's (HelmRelease): not running Helm; waiting for the chart version to be bumped in Git");
                return;
            }
            match crate::cli::upgrade::upgrade_operators(&state.client, &helm, &state.system_namespace, &ns, false).await {
                Ok(()) => tracing::info!(%ns, "operator upgrade applied through the charts"),
                Err(e) => {
                    tracing::error!(%ns, error = %format!("{e:#}"), "operator upgrade failed; the namespace is unlocked");
                    unlock(&state, &ns, &engines).await;
                }
            }
        });
    }
    Ok(plan)
}

/// Flux's helm-controller labels every object of a HelmRelease with these (`<namespace>/<name>` of the
/// HelmRelease).
pub const FLUX_HELM_RELEASE_NAME: &str = "helm.toolkit.fluxcd.io/name";
pub const FLUX_HELM_RELEASE_NAMESPACE: &str = "helm.toolkit.fluxcd.io/namespace";

/// The Flux HelmRelease (`namespace/name`) that installed the operators of `engines` in `ns`, read from
/// their Deployments' labels.
async fn flux_helm_release(state: &State, ns: &str, engines: &[String]) -> Option<String> {
    let api: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(state.client.clone(), ns);
    for name in engines {
        let Ok(Some(d)) = api.get_opt(name).await else { continue };
        let labels = d.labels();
        if let Some(hr) = labels.get(FLUX_HELM_RELEASE_NAME) {
            return Some(format!("{}/{hr}", labels.get(FLUX_HELM_RELEASE_NAMESPACE).map(String::as_str).unwrap_or(ns)));
        }
    }
    None
}

/// Whether namespace `ns` holds the Helm release of Cairn's per-namespace chart (Helm's release records are
/// Secrets labelled `owner=helm,name=<release>`).
async fn helm_release_exists(client: &Client, ns: &str) -> Result<bool, kube::Error> {
    let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), ns);
    let lp = kube::api::ListParams::default().labels(&format!("owner=helm,name={}", crate::cli::DB_RELEASE)).limit(1);
    Ok(!api.list_metadata(&lp).await?.items.is_empty())
}

/// Lifts the lock of `engines` in `ns` (a failed upgrade: the old operators keep running, writes resume).
async fn unlock(state: &State, ns: &str, engines: &[String]) {
    let api: Api<DatabaseEngine> = Api::namespaced(state.client.clone(), ns);
    let patch = serde_json::json!({"metadata": {"annotations": {UPGRADE_LOCK: null, UPGRADE_TARGET: null}}});
    for e in engines {
        if let Err(err) = api.patch(e, &PatchParams::default(), &Patch::Merge(&patch)).await {
            tracing::warn!(%ns, engine = %e, error = %err, "could not lift the upgrade lock; it expires by itself");
        }
    }
}

/// Whether an engine's lock still holds at `now` (Unix seconds): set, younger than the TTL, and its operator
/// not yet at the target version.
pub fn lock_holds(e: &DatabaseEngine, now: i64) -> bool {
    let Some(at) = e.annotations().get(UPGRADE_LOCK) else { return false };
    let Ok(t) = at.parse::<k8s_openapi::jiff::Timestamp>() else { return false };
    if now - t.as_second() >= LOCK_TTL_SECS {
        return false;
    }
    let st = e.status.clone().unwrap_or_default();
    let target = e.annotations().get(UPGRADE_TARGET).cloned().unwrap_or_default();
    !(st.operator_version == target && st.status == crate::crd::EngineState::Installed)
}

/// 412 while an operator upgrade of `ns` is in progress (writes to its databases, backups and restores wait).
pub fn check_unlocked(state: &State, ns: &str) -> Result<(), ApiError> {
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let locked: Vec<String> =
        state.engines.state().iter().filter(|e| e.namespace().as_deref() == Some(ns) && lock_holds(e, now)).map(|e| e.name_any()).collect();
    if locked.is_empty() {
        Ok(())
    } else {
        Err(ApiError::new(412, format!("an operator upgrade is in progress in namespace {ns} ({}); try again once it has finished", locked.join(", "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::*;

    fn db(name: &str, t: EngineType, status: AppState, cr: &str) -> DatabaseCluster {
        let mut d: DatabaseCluster = serde_json::from_value(serde_json::json!({
            "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"engine": {"type": t.as_str(), "storage": {"size": "1G"}}},
        }))
        .unwrap();
        d.status = Some(DatabaseClusterStatus { status, cr_version: Some(cr.into()).filter(|c: &String| !c.is_empty()), ..Default::default() });
        d
    }

    #[test]
    fn plan_lists_older_operators_and_what_each_database_needs() {
        let installed = [(EngineType::Postgresql, "2.7.0".to_string()), (EngineType::Pxc, "1.19.0".to_string())];
        let targets = [(EngineType::Postgresql, "2.8.2".to_string()), (EngineType::Pxc, "1.19.0".to_string()), (EngineType::Psmdb, "1.21.2".to_string())];
        let dbs = [
            db("b-ready", EngineType::Postgresql, AppState::Ready, "2.7.0"),
            db("a-init", EngineType::Postgresql, AppState::Initializing, "2.7.0"),
            db("c-old-cr", EngineType::Postgresql, AppState::Ready, "2.6.0"),
            db("mysql", EngineType::Pxc, AppState::Initializing, "1.19.0"),
        ];
        let p = plan(&installed, &targets, &dbs);
        assert_eq!(p.upgrades, [OperatorUpgrade { name: "percona-postgresql-operator".into(), current_version: "2.7.0".into(), target_version: "2.8.2".into() }]);
        let tasks: Vec<_> = p.pending_actions.iter().map(|a| (a.name.as_str(), a.pending_task)).collect();
        // Only databases of the upgraded engine, sorted; the MySQL one is not part of this plan.
        assert_eq!(tasks, [("a-init", PendingTask::NotReady), ("b-ready", PendingTask::Ready), ("c-old-cr", PendingTask::Restart)]);
        assert!(p.pending_actions[2].message.contains("2.6.0 to 2.7.0"), "{}", p.pending_actions[2].message);
        assert_eq!(p.blocking().count(), 2);
        // The wire shape of the contract.
        let j = serde_json::to_value(&p).unwrap();
        assert_eq!(j["upgrades"][0]["currentVersion"], "2.7.0");
        assert_eq!(j["pendingActions"][0]["pendingTask"], "notReady");
        // Same or newer operators: nothing to do.
        assert_eq!(plan(&[(EngineType::Psmdb, "1.21.2".into())], &targets, &[]), UpgradePlan::default());
        assert_eq!(plan(&[(EngineType::Psmdb, "1.22.0".into())], &targets, &[]), UpgradePlan::default());
    }

    #[test]
    fn the_lock_holds_until_the_target_runs_or_ten_minutes_pass() {
        let mut e: DatabaseEngine = serde_json::from_value(serde_json::json!({
            "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseEngine",
            "metadata": {"name": "percona-postgresql-operator", "namespace": "ns",
                         "annotations": {UPGRADE_LOCK: "2026-01-01T00:00:00Z", UPGRADE_TARGET: "2.8.2"}},
            "spec": {"type": "postgresql"},
        }))
        .unwrap();
        let t0 = "2026-01-01T00:00:00Z".parse::<k8s_openapi::jiff::Timestamp>().unwrap().as_second();
        assert!(lock_holds(&e, t0 + 60));
        assert!(!lock_holds(&e, t0 + LOCK_TTL_SECS), "expired");
        e.status = Some(DatabaseEngineStatus { status: EngineState::Installed, operator_version: "2.8.2".into(), ..Default::default() });
        assert!(!lock_holds(&e, t0 + 60), "the target runs");
        e.metadata.annotations = None;
        assert!(!lock_holds(&e, t0));
    }
}
