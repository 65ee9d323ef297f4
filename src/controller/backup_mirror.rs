//! The reverse sync of contract §2.4: backups the operators create by themselves (from `spec.backup`'s
//! schedules) get a DatabaseClusterBackup of the same name, so the UI and the REST API list them; when the
//! operator deletes one (retention), its DatabaseClusterBackup goes too (see the backup reconciler).
//! A mirrored DatabaseClusterBackup carries [`LABEL_MIRRORED`].
use crate::crd::database_cluster_backup::LABEL_CLUSTER_NAME;
use crate::crd::*;
use crate::state::State;
use crate::upstream::pg::PerconaPGBackup;
use crate::upstream::psmdb::PerconaServerMongoDBBackup;
use crate::upstream::pxc::PerconaXtraDBClusterBackup;
use futures::StreamExt;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

/// On a DatabaseClusterBackup made for a backup the operator created (a scheduled one): it follows the
/// upstream object, and goes when the operator deletes that.
pub const LABEL_MIRRORED: &str = "everest.percona.com/scheduled";

/// What the mirror reads of an upstream backup: its cluster and the BackupStorage it went to.
pub(crate) trait Mirrored:
    Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static
{
    fn cluster(&self) -> String;
    fn storage(&self, state: &State) -> Option<String>;
}

impl Mirrored for PerconaXtraDBClusterBackup {
    fn cluster(&self) -> String {
        self.spec.pxc_cluster.clone()
    }
    fn storage(&self, _: &State) -> Option<String> {
        Some(self.spec.storage_name.clone())
    }
}

impl Mirrored for PerconaServerMongoDBBackup {
    fn cluster(&self) -> String {
        self.spec.cluster_name.clone()
    }
    fn storage(&self, _: &State) -> Option<String> {
        Some(self.spec.storage_name.clone())
    }
}

impl Mirrored for PerconaPGBackup {
    fn cluster(&self) -> String {
        self.spec.pg_cluster.clone()
    }
    /// The BackupStorage whose location is the repository's.
    fn storage(&self, state: &State) -> Option<String> {
        let ns = self.namespace().unwrap_or_default();
        let pg = state.pgs.get(&ObjectRef::new(&self.spec.pg_cluster).within(&ns))?;
        let repo = pg.spec.backups.pgbackrest.repos.iter().find(|r| r.name == self.spec.repo_name)?.clone();
        state
            .backup_storages
            .state()
            .iter()
            .filter(|s| s.namespace().as_deref() == Some(ns.as_str()))
            .find(|s| crate::engine::backup::pg_repo_of(std::slice::from_ref(&repo), &s.spec).is_some())
            .map(|s| s.name_any())
    }
}

/// Runs the three mirrors until the process stops.
pub async fn run(state: State) {
    tokio::join!(mirror::<PerconaXtraDBClusterBackup>(state.clone()), mirror::<PerconaServerMongoDBBackup>(state.clone()), mirror::<PerconaPGBackup>(state));
}

async fn mirror<K: Mirrored>(state: State) {
    // Streaming lists and slim objects, as the shared caches.
    let (store, objects) = crate::state::slim_reflector(Api::<K>::all(state.client.clone())).await;
    Controller::for_stream(objects, store)
        .run(
            |u, state| super::guarded("BackupMirror", reconcile(u, state)),
            |_, e: &super::database_cluster_restore::Error, _| {
                tracing::warn!(error = %e, "backup mirror failed; retrying");
                Action::requeue(Duration::from_secs(5))
            },
            Arc::new(state),
        )
        .for_each(|_| async {})
        .await;
}

async fn reconcile<K: Mirrored>(u: Arc<K>, state: Arc<State>) -> Result<Action, super::database_cluster_restore::Error> {
    let ns = u.namespace().unwrap_or_default();
    let name = u.name_any();
    // Ours already (a DatabaseClusterBackup made it, or mirrors it), or on its way out.
    let owned = u.owner_references().iter().any(|o| o.kind == "DatabaseClusterBackup");
    if owned || u.meta().deletion_timestamp.is_some() || !state.is_managed(&ns) || state.backups.get(&ObjectRef::new(&name).within(&ns)).is_some() {
        return Ok(Action::await_change());
    }
    let db = u.cluster();
    if state.dbs.get(&ObjectRef::new(&db).within(&ns)).is_none() {
        return Ok(Action::await_change());
    }
    let Some(storage) = u.storage(&state) else { return Ok(Action::requeue(Duration::from_secs(5))) };
    let body: DatabaseClusterBackup = serde_json::from_value(serde_json::json!({
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseClusterBackup",
        "metadata": {"name": name, "namespace": ns, "labels": {LABEL_CLUSTER_NAME: db, LABEL_MIRRORED: "true"}},
        "spec": {"dbClusterName": db, "backupStorageName": storage},
    }))
    .expect("a DatabaseClusterBackup");
    let api: Api<DatabaseClusterBackup> = Api::namespaced(state.client.clone(), &ns);
    match api.create(&Default::default(), &body).await {
        Ok(_) => tracing::info!(backup = %name, %ns, "scheduled backup mirrored as a DatabaseClusterBackup"),
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Action::await_change())
}
