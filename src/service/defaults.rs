//! The defaults OpenEverest gives a DatabaseCluster, whoever created it (REST, `kubectl`, GitOps): the
//! engine version its defaulting webhook fills in (contract §1.11: the best version of the namespace's
//! DatabaseEngine), and what its reconciler writes back (§2 step 4, §1.1): `engine.userSecretsName`
//! (`everest-secrets-<name>`), `engine.replicas` 3 when unset or 0, and `backup.pitr.enabled: false` when
//! no PITR section is given. The REST create fills them before it writes; the DatabaseCluster reconciler
//! writes back those still missing on objects created by other clients.
use crate::crd::bounds::own_user_secret;
use crate::crd::{Backup, DatabaseCluster, DatabaseClusterSpec, PitrSpec};
use crate::engine::versions::EngineVersions;
use crate::error::ApiError;
use crate::state::State;
use kube::ResourceExt;

/// The best version `versions` offers (recommended first, then available, newest first).
pub fn best_version(versions: &EngineVersions) -> Option<String> {
    versions.ordered_engine_versions().into_iter().next()
}

/// The engine's versions in the database's namespace (Err when the engine is not installed there: no
/// DatabaseEngine, as OpenEverest's webhook refuses), with `spec.engine.version` defaulted to the best one
/// when empty.
pub fn default_version(state: &State, db: &mut DatabaseCluster) -> Result<EngineVersions, ApiError> {
    let versions = state.versions(db.spec.engine.type_, &db.namespace().unwrap_or_default())?;
    if db.spec.engine.version.as_deref().unwrap_or("").is_empty() {
        db.spec.engine.version = best_version(&versions);
    }
    Ok(versions)
}

/// Fills the written-back defaults that are missing (pure; the version is [`default_version`]'s).
pub fn fill(db: &mut DatabaseCluster) {
    let name = db.name_any();
    let engine = &mut db.spec.engine;
    if engine.user_secrets_name.as_deref().unwrap_or("").is_empty() {
        engine.user_secrets_name = Some(own_user_secret(&name));
    }
    // Unset or 0 only: a negative count is bad input, refused by validation naming the field.
    if matches!(engine.replicas, None | Some(0)) {
        engine.replicas = Some(3);
    }
    let backup = db.spec.backup.get_or_insert_with(Backup::default);
    backup.pitr.get_or_insert_with(PitrSpec::default);
}

/// The defaults of a change (the admission webhook's UPDATE): a version the new object leaves out keeps the
/// stored one (leaving it out of a `kubectl replace` is never an upgrade), else the best one when the engine
/// offers one; the written-back defaults are filled as on create.
pub fn fill_update(state: &State, old: &DatabaseCluster, new: &mut DatabaseCluster) {
    if new.spec.engine.version.as_deref().unwrap_or("").is_empty() {
        new.spec.engine.version = old.spec.engine.version.clone();
    }
    let _ = default_version(state, new);
    fill(new);
}

/// The merge patch of `spec` that sets the defaulted fields `after` has and `before` lacks (None: nothing
/// to set). Only those paths: a field of the stored object that our types do not know is never touched.
pub fn spec_patch(before: &DatabaseClusterSpec, after: &DatabaseClusterSpec) -> Option<serde_json::Value> {
    let mut engine = serde_json::Map::new();
    if before.engine.version != after.engine.version {
        engine.insert("version".into(), after.engine.version.clone().into());
    }
    if before.engine.user_secrets_name != after.engine.user_secrets_name {
        engine.insert("userSecretsName".into(), after.engine.user_secrets_name.clone().into());
    }
    if before.engine.replicas != after.engine.replicas {
        engine.insert("replicas".into(), after.engine.replicas.into());
    }
    let mut spec = serde_json::Map::new();
    if !engine.is_empty() {
        spec.insert("engine".into(), engine.into());
    }
    let pitr = |s: &DatabaseClusterSpec| s.backup.as_ref().and_then(|b| b.pitr.clone());
    if pitr(before).is_none() {
        if let Some(p) = pitr(after) {
            spec.insert("backup".into(), serde_json::json!({"pitr": p}));
        }
    }
    (!spec.is_empty()).then(|| spec.into())
}

/// The merge patch that writes the missing defaults into a stored DatabaseCluster (None: nothing
/// missing). The version is defaulted only when the namespace's engine offers one; otherwise it stays
/// unset (the status says so) and the engine's arrival brings another reconcile. The patch carries the
/// object's resourceVersion, so it never overwrites a change made meanwhile (409: the next event retries).
pub fn write_back(state: &State, db: &DatabaseCluster) -> Option<serde_json::Value> {
    let mut next = db.clone();
    fill(&mut next);
    let _ = default_version(state, &mut next);
    let spec = spec_patch(&db.spec, &next.spec)?;
    Some(serde_json::json!({
        "metadata": {"resourceVersion": db.metadata.resource_version},
        "spec": spec,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::DatabaseClusterSpec;

    #[test]
    fn fill_writes_what_openeverest_writes_back_and_keeps_what_is_set() {
        let mut db = DatabaseCluster::new("orders", DatabaseClusterSpec::default());
        fill(&mut db);
        assert_eq!(db.spec.engine.user_secrets_name.as_deref(), Some("everest-secrets-orders"));
        assert_eq!(db.spec.engine.replicas, Some(3));
        let pitr = db.spec.backup.as_ref().and_then(|b| b.pitr.as_ref()).expect("pitr");
        assert!(!pitr.enabled && pitr.backup_storage_name.is_none());
        assert_eq!(serde_json::to_value(&db.spec.backup).unwrap(), serde_json::json!({"pitr": {"enabled": false}}));

        let mut set = DatabaseCluster::new("orders", DatabaseClusterSpec::default());
        set.spec.engine.replicas = Some(1);
        set.spec.backup = Some(Backup { pitr: Some(PitrSpec { enabled: true, backup_storage_name: Some("s3".into()), ..Default::default() }), ..Default::default() });
        let before = set.clone();
        fill(&mut set);
        assert_eq!(set.spec.engine.replicas, Some(1));
        assert_eq!(set.spec.backup, before.spec.backup);
    }

    #[test]
    fn the_patch_sets_only_the_defaulted_fields() {
        let before = DatabaseCluster::new("orders", DatabaseClusterSpec::default());
        let mut after = before.clone();
        fill(&mut after);
        let patch = spec_patch(&before.spec, &after.spec).expect("defaults to set");
        assert_eq!(
            patch,
            serde_json::json!({"engine": {"userSecretsName": "everest-secrets-orders", "replicas": 3}, "backup": {"pitr": {"enabled": false}}})
        );
        assert_eq!(spec_patch(&after.spec, &after.spec), None, "nothing missing, nothing to write");
    }
}
