//! Engine simulator (sandbox and tests only): plays the Percona PostgreSQL operator's observable part on the
//! API, since no kubelet runs pods here. It creates the users Secret as the operator does, moves
//! `status.state` through the operator's real states (`initializing` → `ready`, and `stopping` → `paused`
//! when paused) with the operator's size/ready counters, and on deletion runs the operator's finalizers.
use crate::upstream::pg::*;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FIELD_MANAGER: &str = "cairn-engine-simulator";

pub struct Options {
    /// How long each state lasts before the next transition.
    pub step: Duration,
}

struct Ctx {
    client: Client,
    step: Duration,
    /// When each cluster entered its current simulated state.
    since: Mutex<HashMap<(String, String), (String, Instant)>>,
}

pub async fn run(client: Client, opts: Options) {
    let ctx = Arc::new(Ctx { client: client.clone(), step: opts.step, since: Mutex::new(HashMap::new()) });
    Controller::new(Api::<PerconaPGCluster>::all(client), watcher::Config::default())
        .run(reconcile, |_, e, _| {
            tracing::warn!(error = %e, "simulator step failed");
            Action::requeue(Duration::from_secs(2))
        }, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::warn!(error = %e, "simulator controller error");
            }
        })
        .await;
}

fn random_password() -> String {
    use rand::{distributions::Alphanumeric, Rng};
    rand::thread_rng().sample_iter(&Alphanumeric).take(24).map(char::from).collect()
}

async fn ensure_user_secrets(pg: &PerconaPGCluster, client: &Client) -> Result<(), kube::Error> {
    let ns = pg.namespace().unwrap_or_default();
    let name = pg.name_any();
    let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let users = if pg.spec.users.is_empty() { vec![PgUser { name: name.clone(), secret_name: None }] } else { pg.spec.users.clone() };
    for u in users {
        let secret_name = u.secret_name.clone().unwrap_or_else(|| format!("{name}-pguser-{}", u.name));
        if api.get_opt(&secret_name).await?.is_some() {
            continue;
        }
        let pw = random_password();
        let host = format!("{name}-primary.{ns}.svc");
        let bouncer = format!("{name}-pgbouncer.{ns}.svc");
        let dbname = if u.name == "postgres" { "postgres".to_string() } else { u.name.clone() };
        let data: BTreeMap<String, ByteString> = [
            ("user", u.name.clone()),
            ("password", pw.clone()),
            ("host", host.clone()),
            ("port", "5432".into()),
            ("dbname", dbname.clone()),
            ("uri", format!("postgresql://{}:{pw}@{host}:5432/{dbname}", u.name)),
            ("pgbouncer-host", bouncer.clone()),
            ("pgbouncer-port", "5432".into()),
            ("pgbouncer-uri", format!("postgresql://{}:{pw}@{bouncer}:5432/{dbname}", u.name)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), ByteString(v.into_bytes())))
        .collect();
        let s = Secret {
            metadata: ObjectMeta {
                name: Some(secret_name),
                namespace: Some(ns.clone()),
                labels: Some(BTreeMap::from([
                    ("postgres-operator.crunchydata.com/cluster".to_string(), name.clone()),
                    ("postgres-operator.crunchydata.com/pguser".to_string(), u.name.clone()),
                    ("postgres-operator.crunchydata.com/role".to_string(), "pguser".to_string()),
                ])),
                owner_references: pg.controller_owner_ref(&()).map(|o| vec![o]),
                ..Default::default()
            },
            data: Some(data),
            ..Default::default()
        };
        match api.create(&PostParams::default(), &s).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn reconcile(pg: Arc<PerconaPGCluster>, ctx: Arc<Ctx>) -> Result<Action, kube::Error> {
    let ns = pg.namespace().unwrap_or_default();
    let name = pg.name_any();
    let api: Api<PerconaPGCluster> = Api::namespaced(ctx.client.clone(), &ns);
    let key = (ns.clone(), name.clone());

    if pg.metadata.deletion_timestamp.is_some() {
        // The operator's own finalizers: it deletes PVCs and TLS secrets, then lets go.
        let fins: Vec<String> = pg.finalizers().iter().filter(|f| !f.starts_with("percona.com/")).cloned().collect();
        if fins.len() != pg.finalizers().len() {
            let patch = serde_json::json!({"metadata": {"finalizers": fins, "resourceVersion": pg.resource_version()}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        }
        ctx.since.lock().unwrap().remove(&key);
        return Ok(Action::await_change());
    }

    ensure_user_secrets(&pg, &ctx.client).await?;

    let status = pg.status.clone().unwrap_or_default();
    let state = status.state.clone().unwrap_or_default();
    let pg_size: i32 = pg.spec.instances.iter().map(|i| i.replicas.unwrap_or(1)).sum();
    let bouncer_size = pg.spec.proxy.as_ref().map(|p| p.pg_bouncer.replicas.unwrap_or(1)).unwrap_or(0);
    let elapsed = {
        let mut since = ctx.since.lock().unwrap();
        let e = since.entry(key.clone()).or_insert_with(|| (state.clone(), Instant::now()));
        if e.0 != state {
            *e = (state.clone(), Instant::now());
        }
        e.1.elapsed()
    };
    let wait = ctx.step.saturating_sub(elapsed);
    let host = format!("{name}-pgbouncer.{ns}.svc");
    let paused = pg.spec.pause == Some(true);

    let set = |state: &str, pg_ready: i32, bouncer_ready: i32| {
        serde_json::json!({"status": {
            "state": state,
            "host": host,
            "postgres": {"size": pg_size, "ready": pg_ready,
                "instances": pg.spec.instances.iter().map(|i| serde_json::json!({"name": i.name, "size": i.replicas.unwrap_or(1), "ready": if pg_ready == pg_size { i.replicas.unwrap_or(1) } else { 0 }})).collect::<Vec<_>>(),
                "version": pg.spec.postgres_version},
            "pgbouncer": {"size": bouncer_size, "ready": bouncer_ready},
        }})
    };
    let sizes_match = status.postgres.as_ref().map(|p| p.size) == Some(pg_size)
        && status.pgbouncer.as_ref().map(|p| p.size) == Some(bouncer_size);

    tracing::debug!(%ns, %name, %state, sizes_match, ?wait, paused, "simulator step");
    let next = if paused {
        match state.as_str() {
            "paused" => None,
            "stopping" if wait.is_zero() => Some(set("paused", 0, 0)),
            "stopping" => return Ok(Action::requeue(wait)),
            _ => Some(set("stopping", 0, bouncer_size)),
        }
    } else {
        match state.as_str() {
            "ready" if sizes_match => None,
            "initializing" if sizes_match && wait.is_zero() => Some(set("ready", pg_size, bouncer_size)),
            "initializing" if sizes_match => return Ok(Action::requeue(wait)),
            _ => Some(set("initializing", 0, 0)),
        }
    };
    if let Some(patch) = next {
        api.patch_status(&name, &PatchParams::apply(FIELD_MANAGER), &Patch::Merge(&patch)).await?;
        return Ok(Action::requeue(ctx.step));
    }
    Ok(Action::await_change())
}
