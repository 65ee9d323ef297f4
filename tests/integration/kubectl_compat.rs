//! Objects applied the way a `kubectl` user applies them (server-side apply with field manager `kubectl`,
//! no REST, nothing filled in by a client) behave as under OpenEverest: the DatabaseCluster gets its
//! defaults written back and the contract's finalizers, its upstream CR is created; the policies, configs,
//! storages and monitoring endpoints it names get `status.inUse` and the in-use-protection finalizer while
//! it names them; deleting goes through `foregroundDeletion` (the test control plane runs the garbage
//! collector) and a namespace deletion takes everything in it, as in a real cluster.
use crate::common;

use cairn::crd::*;
use cairn::upstream::pg::PerconaPGCluster;
use common::*;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use std::time::Duration;

const IN_USE: &str = "everest.percona.com/in-use-protection";

fn kubectl() -> PatchParams {
    PatchParams::apply("kubectl")
}

/// `kubectl apply --server-side -f -` of a minimal PostgreSQL DatabaseCluster: no version, no users
/// Secret name, no replicas, no backup section; `extra` is merged into its spec.
async fn apply_db(dbs: &Api<DatabaseCluster>, name: &str, extra: serde_json::Value) {
    let mut spec = json!({"engine": {"type": "postgresql", "storage": {"size": "1Gi"}}});
    merge(&mut spec, extra);
    let body = json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster", "metadata": {"name": name}, "spec": spec});
    dbs.patch(name, &kubectl(), &Patch::Apply(&body)).await.expect("kubectl apply");
}

fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn has<K: Resource>(o: &K, finalizer: &str) -> bool {
    o.meta().finalizers.as_ref().is_some_and(|f| f.iter().any(|x| x == finalizer))
}

#[tokio::test]
async fn a_kubectl_database_is_defaulted_finalized_mapped_and_deleted_in_the_foreground() {
    let env = TestEnv::start().await;
    let state = env.start_cairn().await;
    env.start_simulator();
    env.engines_installed(&state, env.db_ns()).await;
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let pgs: Api<PerconaPGCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    let best = cairn::service::defaults::best_version(&state.versions(EngineType::Postgresql, env.db_ns()).unwrap()).unwrap();

    apply_db(&dbs, "bare", json!({})).await;

    // Written back as OpenEverest writes them: the best version, the users Secret, 3 replicas, PITR off.
    let db = eventually(30, "defaults written back", || async {
        let d = dbs.get("bare").await.unwrap();
        d.spec.engine.version.is_some().then_some(d)
    })
    .await;
    assert_eq!(db.spec.engine.version.as_deref(), Some(best.as_str()), "the namespace engine's best version");
    assert_eq!(db.spec.engine.user_secrets_name.as_deref(), Some("everest-secrets-bare"));
    assert_eq!(db.spec.engine.replicas, Some(3));
    assert_eq!(serde_json::to_value(&db.spec.backup).unwrap(), json!({"pitr": {"enabled": false}}));
    // The user's own fields stay the user's: a re-apply of the same manifest keeps the defaults.
    apply_db(&dbs, "bare", json!({})).await;
    assert_eq!(dbs.get("bare").await.unwrap().spec.engine.version.as_deref(), Some(best.as_str()));

    // Both finalizers of the contract, and the upstream CR, owned by the database.
    let db = eventually(30, "finalizers", || async {
        let d = dbs.get("bare").await.unwrap();
        (has(&d, FINALIZER_UPSTREAM_CLEANUP) && has(&d, FINALIZER_FOREGROUND)).then_some(d)
    })
    .await;
    let pg = eventually(30, "PerconaPGCluster created", || async { pgs.get_opt("bare").await.unwrap() }).await;
    let major: i64 = best.split('.').next().unwrap().parse().unwrap();
    assert_eq!(pg.spec.postgres_version as i64, major, "the defaulted version reaches the upstream CR");
    assert_eq!(pg.spec.instances[0].replicas, Some(3));
    assert_eq!(pg.spec.users[0].secret_name.as_deref(), Some("everest-secrets-bare"));
    let owner = &pg.owner_references()[0];
    assert_eq!((owner.kind.as_str(), owner.uid.as_str(), owner.controller), ("DatabaseCluster", db.uid().unwrap().as_str(), Some(true)));
    eventually(60, "ready", || async {
        (dbs.get("bare").await.unwrap().status.map(|s| s.status) == Some(AppState::Ready)).then_some(())
    })
    .await;

    // A delete with no propagation policy (client-go's and the REST API's default) keeps the object's
    // foregroundDeletion: the database waits, deleting, until the garbage collector and Cairn's finalizer
    // (the upstream CR gone) let it go.
    // (The object the DELETE answers with: a later read can find the whole foreground deletion already
    // played out, the garbage collector having released `foregroundDeletion` once the upstream CR was gone.)
    let deleting = dbs.delete("bare", &DeleteParams::default()).await.unwrap().left().expect("still there, deleting");
    assert!(deleting.metadata.deletion_timestamp.is_some() && has(&deleting, FINALIZER_FOREGROUND), "{:?}", deleting.finalizers());
    eventually(60, "PerconaPGCluster gone", || async { pgs.get_opt("bare").await.unwrap().is_none().then_some(()) }).await;
    eventually(60, "DatabaseCluster gone (the garbage collector released foregroundDeletion)", || async {
        dbs.get_opt("bare").await.unwrap().is_none().then_some(())
    })
    .await;

    // `kubectl delete` (explicit background propagation: the API server drops foregroundDeletion) and an
    // explicit foreground delete end the same way.
    for (name, dp) in [("bg", DeleteParams::background()), ("fg", DeleteParams::foreground())] {
        apply_db(&dbs, name, json!({})).await;
        eventually(30, "upstream created", || async { pgs.get_opt(name).await.unwrap() }).await;
        eventually(30, "finalizers", || async { has(&dbs.get(name).await.unwrap(), FINALIZER_FOREGROUND).then_some(()) }).await;
        dbs.delete(name, &dp).await.unwrap();
        eventually(60, &format!("{name} and its upstream CR gone"), || async {
            (dbs.get_opt(name).await.unwrap().is_none() && pgs.get_opt(name).await.unwrap().is_none()).then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn a_version_is_defaulted_once_the_engine_is_there() {
    let env = TestEnv::start().await;
    let _state = env.start_cairn().await;
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), env.db_ns());
    // No operator (hence no DatabaseEngine versions) yet: the other defaults are written, the version waits.
    apply_db(&dbs, "early", json!({})).await;
    let d = eventually(30, "secret name written back", || async {
        let d = dbs.get("early").await.unwrap();
        d.spec.engine.user_secrets_name.is_some().then_some(d)
    })
    .await;
    assert_eq!(d.spec.engine.version, None);
    env.start_simulator();
    let d = eventually(60, "version written back once the engine is installed", || async {
        let d = dbs.get("early").await.unwrap();
        d.spec.engine.version.is_some().then_some(d)
    })
    .await;
    assert!(!d.spec.engine.version.unwrap().is_empty());
}

#[tokio::test]
async fn what_a_database_names_is_in_use_and_protected_while_it_names_it() {
    let env = TestEnv::start().await;
    let state = env.start_cairn().await;
    env.start_simulator();
    env.engines_installed(&state, env.db_ns()).await;
    let c = env.client.clone();
    let dbs: Api<DatabaseCluster> = Api::namespaced(c.clone(), env.db_ns());
    let psps: Api<PodSchedulingPolicy> = Api::all(c.clone());
    let lbcs: Api<LoadBalancerConfig> = Api::all(c.clone());
    let storages: Api<BackupStorage> = Api::namespaced(c.clone(), env.db_ns());
    let mcs: Api<MonitoringConfig> = Api::namespaced(c.clone(), env.db_ns());
    let (psp, lbc) = (env.name("spread"), env.name("nlb"));

    let apply = |kind: &str, name: &str, spec: serde_json::Value| {
        json!({"apiVersion": "everest.percona.com/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec})
    };
    psps.patch(&psp, &kubectl(), &Patch::Apply(apply("PodSchedulingPolicy", &psp, json!({"engineType": "postgresql"})))).await.unwrap();
    lbcs.patch(&lbc, &kubectl(), &Patch::Apply(apply("LoadBalancerConfig", &lbc, json!({"annotations": {"a": "b"}})))).await.unwrap();
    let bs = json!({"type": "s3", "bucket": "b", "region": "us-east-1", "endpointURL": "https://s3.example.com", "credentialsSecretName": "s3-creds"});
    storages.patch("s3", &kubectl(), &Patch::Apply(apply("BackupStorage", "s3", bs))).await.unwrap();
    let mc = json!({"type": "pmm", "credentialsSecretName": "pmm-creds", "pmm": {"url": "https://127.0.0.1:9", "image": "percona/pmm-client:2"}});
    mcs.patch("pmm", &kubectl(), &Patch::Apply(apply("MonitoringConfig", "pmm", mc))).await.unwrap();

    // Free: recorded as not in use, no protection.
    let free = eventually(30, "policy recorded free", || async {
        psps.get(&psp).await.unwrap().status.filter(|s| s.last_observed_generation == 1).map(|s| s.in_use)
    })
    .await;
    assert!(!free);
    assert!(!has(&psps.get(&psp).await.unwrap(), IN_USE));

    apply_db(
        &dbs,
        "user",
        json!({
            "podSchedulingPolicyName": psp,
            "proxy": {"expose": {"type": "LoadBalancer", "loadBalancerConfigName": lbc}},
            "backup": {"schedules": [{"enabled": true, "name": "daily", "schedule": "0 1 * * *", "backupStorageName": "s3"}]},
            "monitoring": {"monitoringConfigName": "pmm"},
        }),
    )
    .await;
    let in_use = |o: (bool, bool)| o == (true, true);
    eventually(30, "all four in use and protected", || async {
        let p = psps.get(&psp).await.unwrap();
        let l = lbcs.get(&lbc).await.unwrap();
        let s = storages.get("s3").await.unwrap();
        let m = mcs.get("pmm").await.unwrap();
        [
            (p.status.as_ref().is_some_and(|s| s.in_use), has(&p, IN_USE)),
            (l.status.as_ref().is_some_and(|s| s.in_use), has(&l, IN_USE)),
            (s.status.as_ref().is_some_and(|s| s.in_use), has(&s, IN_USE)),
            (m.status.as_ref().is_some_and(|s| s.in_use), has(&m, IN_USE)),
        ]
        .into_iter()
        .all(in_use)
        .then_some(())
    })
    .await;

    // `kubectl delete` of a policy in use: it stays (Terminating) while the database names it.
    psps.delete(&psp, &DeleteParams::default()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let p = psps.get(&psp).await.expect("a policy in use is not deleted");
    assert!(p.metadata.deletion_timestamp.is_some() && has(&p, IN_USE));
    // The database lets go of it: the deletion completes.
    dbs.patch("user", &PatchParams::default(), &Patch::Merge(json!({"spec": {"podSchedulingPolicyName": null}}))).await.unwrap();
    eventually(30, "released policy deleted", || async { psps.get_opt(&psp).await.unwrap().is_none().then_some(()) }).await;

    // The database goes: everything else is free again, its protection gone, the objects still there.
    dbs.delete("user", &DeleteParams::default()).await.unwrap();
    eventually(60, "all free again", || async {
        let l = lbcs.get(&lbc).await.unwrap();
        let s = storages.get("s3").await.unwrap();
        let m = mcs.get("pmm").await.unwrap();
        [
            (l.status.as_ref().is_some_and(|s| s.in_use), has(&l, IN_USE)),
            (s.status.as_ref().is_some_and(|s| s.in_use), has(&s, IN_USE)),
            (m.status.as_ref().is_some_and(|s| s.in_use), has(&m, IN_USE)),
        ]
        .into_iter()
        .all(|o| o == (false, false))
        .then_some(())
    })
    .await;
    lbcs.delete(&lbc, &DeleteParams::default()).await.unwrap();
    eventually(30, "free config deleted at once", || async { lbcs.get_opt(&lbc).await.unwrap().is_none().then_some(()) }).await;
}

#[tokio::test]
async fn deleting_a_namespace_takes_its_databases_and_their_upstream_objects() {
    let env = TestEnv::start().await;
    let state = env.start_cairn().await;
    env.start_simulator();
    let ns = env.managed_ns("doomed").await;
    env.engines_installed(&state, &ns).await;
    let dbs: Api<DatabaseCluster> = Api::namespaced(env.client.clone(), &ns);
    let pgs: Api<PerconaPGCluster> = Api::namespaced(env.client.clone(), &ns);
    apply_db(&dbs, "inside", json!({})).await;
    eventually(30, "upstream created", || async { pgs.get_opt("inside").await.unwrap() }).await;

    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(env.client.clone());
    nss.delete(&ns, &DeleteParams::default()).await.unwrap();
    // The namespace controller deletes the database (a namespace being deleted is no longer managed, but
    // Cairn still finishes a deletion there); Cairn's finalizer waits for the upstream cluster to go; then
    // the database, and the namespace itself, go.
    eventually(90, "upstream CR gone", || async { pgs.get_opt("inside").await.unwrap().is_none().then_some(()) }).await;
    eventually(90, "namespace gone", || async { nss.get_opt(&ns).await.unwrap().is_none().then_some(()) }).await;
}
