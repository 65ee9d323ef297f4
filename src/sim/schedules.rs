//! The operators' backup schedules, played on a clock that may run fast (tests): each enabled schedule of a
//! cluster (PXC `spec.backup.schedule[]`, PSMDB `tasks[]`, PG `repos[].schedules.full`) creates the
//! operator's backup object when its cron time passes on the simulated clock, and the oldest backups of the
//! schedule beyond its retention (PXC `retention.count`/`keep`, PSMDB `keep`, PG `repoN-retention-full`) are
//! deleted, with their data (the backups simulator runs the delete-backup finalizer of PXC and PSMDB; for PG
//! the data goes first, as pgBackRest's `expire` deletes an expired backup set).
//! PXC's binlog collector (PITR) runs on the same clock: it uploads binlogs and moves the latest backup's
//! `latestRestorableTime`.
//! Simulated time = start + real elapsed × `speed`.
use crate::upstream::pg::{PerconaPGBackup, PerconaPGBackupSpec, PerconaPGCluster};
use crate::upstream::psmdb::{PerconaServerMongoDB, PerconaServerMongoDBBackup, PerconaServerMongoDBBackupSpec};
use crate::upstream::pxc::{PerconaXtraDBCluster, PerconaXtraDBClusterBackup, PerconaXtraDBClusterBackupSpec, FINALIZER_DELETE_BACKUP};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The label the simulated operators put on a scheduled backup: the schedule's name.
pub const LABEL_SCHEDULE: &str = "percona.com/backup-ancestor-name";
/// And the cluster's.
pub const LABEL_CLUSTER: &str = "percona.com/cluster";

/// One schedule of one cluster: (schedule name, cron, storage or repo, retention count (0: keep all)).
struct Sched {
    name: String,
    cron: String,
    target: String,
    keep: i32,
}

fn pxc(c: &PerconaXtraDBCluster) -> Vec<Sched> {
    c.spec
        .backup
        .iter()
        .flat_map(|b| b.schedule.iter())
        .map(|s| Sched {
            name: s.name.clone(),
            cron: s.schedule.clone(),
            target: s.storage_name.clone(),
            keep: s.retention.as_ref().map(|r| r.count).or(s.keep).unwrap_or(0),
        })
        .collect()
}

fn psmdb(c: &PerconaServerMongoDB) -> Vec<Sched> {
    c.spec
        .backup
        .iter()
        .flat_map(|b| b.tasks.iter())
        .filter(|t| t.enabled)
        .map(|t| Sched { name: t.name.clone(), cron: t.schedule.clone(), target: t.storage_name.clone(), keep: t.keep.unwrap_or(0) })
        .collect()
}

fn pg(c: &PerconaPGCluster) -> Vec<Sched> {
    let b = &c.spec.backups.pgbackrest;
    b.repos
        .iter()
        .filter_map(|r| {
            let cron = r.schedules.as_ref()?.full.clone()?;
            let keep = b.global.get(&format!("{}-retention-full", r.name)).and_then(|k| k.parse().ok()).unwrap_or(0);
            Some(Sched { name: format!("{}-full", r.name), cron, target: r.name.clone(), keep })
        })
        .collect()
}

fn labels(cluster: &str, schedule: &str) -> std::collections::BTreeMap<String, String> {
    [(LABEL_CLUSTER.to_string(), cluster.to_string()), (LABEL_SCHEDULE.to_string(), schedule.to_string())].into()
}

/// Runs until the process stops, looking at the clusters every `tick`.
pub async fn run(client: Client, speed: u32, scope: super::Scope) {
    let start = (Instant::now(), Timestamp::now());
    let speed = speed.max(1);
    let tick = Duration::from_millis((60_000 / speed as u64).clamp(200, 5_000));
    // When each schedule last fired (or was first seen), in simulated time.
    let mut last: HashMap<String, Timestamp> = HashMap::new();
    loop {
        tokio::time::sleep(tick).await;
        let elapsed = start.0.elapsed().mul_f64(speed as f64);
        let now = start.1 + SignedDuration::try_from(elapsed).unwrap_or(SignedDuration::ZERO);
        if let Err(e) = pass(&client, &scope, now, &mut last).await {
            tracing::warn!(error = %e, "simulated schedules: a pass failed");
        }
    }
}

async fn pass(client: &Client, scope: &super::Scope, now: Timestamp, last: &mut HashMap<String, Timestamp>) -> Result<(), kube::Error> {
    for c in Api::<PerconaXtraDBCluster>::all(client.clone()).list(&ListParams::default()).await?.items {
        collect_binlogs(client, scope, &c, now, last).await?;
        for s in pxc(&c) {
            fire(client, scope, &c, &s, now, last, |cl, s| PerconaXtraDBClusterBackup::new("", PerconaXtraDBClusterBackupSpec { pxc_cluster: cl.into(), storage_name: s.target.clone() })).await?;
        }
    }
    for c in Api::<PerconaServerMongoDB>::all(client.clone()).list(&ListParams::default()).await?.items {
        for s in psmdb(&c) {
            fire(client, scope, &c, &s, now, last, |cl, s| PerconaServerMongoDBBackup::new("", PerconaServerMongoDBBackupSpec { cluster_name: cl.into(), storage_name: s.target.clone() }))
                .await?;
        }
    }
    for c in Api::<PerconaPGCluster>::all(client.clone()).list(&ListParams::default()).await?.items {
        for s in pg(&c) {
            fire(client, scope, &c, &s, now, last, |cl, s| {
                PerconaPGBackup::new("", PerconaPGBackupSpec { pg_cluster: cl.into(), repo_name: s.target.clone(), options: vec!["--type=full".into()] })
            })
            .await?;
        }
    }
    Ok(())
}

/// PXC's binlog collector, while `spec.backup.pitr` is on: every `timeBetweenUploads` (simulated; default
/// 60 s) once the cluster has a succeeded backup, it uploads a binlog object into the PITR storage entry's
/// bucket and prefix, and sets `status.latestRestorableTime` (real time: the moment up to which the binlogs
/// reach) on the cluster's latest succeeded backup, as the operator does from 1.14 on.
async fn collect_binlogs(client: &Client, scope: &super::Scope, c: &PerconaXtraDBCluster, now: Timestamp, last: &mut HashMap<String, Timestamp>) -> Result<(), kube::Error> {
    let ns = c.namespace().unwrap_or_default();
    let Some(backup) = c.spec.backup.as_ref() else { return Ok(()) };
    let Some(pitr) = backup.pitr.as_ref().filter(|p| p.enabled) else { return Ok(()) };
    if !scope.contains(&ns) || c.meta().deletion_timestamp.is_some() {
        return Ok(());
    }
    let key = format!("binlogs/{ns}/{}", c.name_any());
    let every = SignedDuration::from_secs(pitr.time_between_uploads.unwrap_or(60.0).max(1.0) as i64);
    let from = *last.entry(key.clone()).or_insert(now);
    if now < from + every {
        return Ok(());
    }
    let api: Api<PerconaXtraDBClusterBackup> = Api::namespaced(client.clone(), &ns);
    let latest = api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|b| b.spec.pxc_cluster == c.name_any() && b.status.as_ref().and_then(|s| s.state.as_deref()) == Some("Succeeded"))
        .max_by(|a, b| {
            let done = |x: &PerconaXtraDBClusterBackup| x.status.as_ref().and_then(|s| s.completed.clone());
            done(a).cmp(&done(b)).then(a.name_any().cmp(&b.name_any()))
        });
    let Some(latest) = latest else { return Ok(()) };
    last.insert(key, now);
    let Some((bucket, prefix)) = backup.storages.get(&pitr.storage_name).and_then(super::backups::pxc_entry_target) else { return Ok(()) };
    let real = Timestamp::now();
    let object = format!("{}/binlog_{}", prefix.trim_matches('/'), real.strftime("%Y%m%d%H%M%S")).trim_start_matches('/').to_string();
    let written = match super::backups::location(client, &ns, &pitr.storage_name, bucket).await {
        Ok(loc) => crate::object_storage::put(&loc, &object, b"binlog".to_vec()).await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        tracing::warn!(error = %e, %ns, cluster = %c.name_any(), "simulated binlog collector: the upload failed");
        return Ok(());
    }
    let status = serde_json::json!({"status": {"latestRestorableTime": real.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()}});
    api.patch_status(&latest.name_any(), &PatchParams::apply("cairn-engine-simulator"), &Patch::Merge(&status)).await?;
    Ok(())
}

/// Fires `s` of cluster `c` when its next run after the last one has come, then prunes beyond retention.
async fn fire<C, B>(
    client: &Client,
    scope: &super::Scope,
    c: &C,
    s: &Sched,
    now: Timestamp,
    last: &mut HashMap<String, Timestamp>,
    make: impl Fn(&str, &Sched) -> B,
) -> Result<(), kube::Error>
where
    C: Resource<DynamicType = ()>,
    B: super::backups::SimBackup + serde::Serialize,
{
    let ns = c.namespace().unwrap_or_default();
    if !scope.contains(&ns) || c.meta().deletion_timestamp.is_some() {
        return Ok(());
    }
    let cluster = c.name_any();
    let key = format!("{}/{ns}/{cluster}/{}/{}", C::kind(&()), s.name, s.cron);
    let Ok(cron) = crate::engine::schedule::parse(&s.cron) else { return Ok(()) };
    let from = *last.entry(key.clone()).or_insert(now);
    match crate::engine::schedule::next_after(&cron, from) {
        Some(next) if next <= now => {}
        _ => return Ok(()),
    }
    last.insert(key, now);
    let api: Api<B> = Api::namespaced(client.clone(), &ns);
    let mut b = make(&cluster, s);
    let stamp = now.strftime("%Y%m%d%H%M%S").to_string();
    let who: String = format!("{cluster}-{}", s.name).chars().take(40).collect();
    b.meta_mut().name = Some(format!("cron-{}-{stamp}", who.trim_end_matches('-')));
    b.meta_mut().namespace = Some(ns.clone());
    b.meta_mut().labels = Some(labels(&cluster, &s.name));
    if B::kind(&()) != "PerconaPGBackup" {
        b.meta_mut().finalizers = Some(vec![FINALIZER_DELETE_BACKUP.into()]);
    }
    match api.create(&PostParams::default(), &b).await {
        Ok(_) => tracing::info!(%ns, %cluster, schedule = %s.name, "simulated operator: scheduled backup"),
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(e),
    }
    if s.keep > 0 {
        let sel = format!("{LABEL_CLUSTER}={cluster},{LABEL_SCHEDULE}={}", s.name);
        let mut all: Vec<B> = api.list(&ListParams::default().labels(&sel)).await?.items.into_iter().filter(|b| b.meta().deletion_timestamp.is_none()).collect();
        all.sort_by(|a, b| a.meta().creation_timestamp.cmp(&b.meta().creation_timestamp).then(a.name_any().cmp(&b.name_any())));
        let excess = all.len().saturating_sub(s.keep as usize);
        for old in all.into_iter().take(excess) {
            // pgBackRest's expire deletes the backup set itself (the other operators' finalizer does it).
            if B::EXPIRES_DATA {
                if let Err(e) = super::backups::delete_data(client, &old).await {
                    tracing::warn!(error = %e, %ns, backup = %old.name_any(), "simulated operator: expiring a backup's data failed; next pass");
                    continue;
                }
            }
            match api.delete(&old.name_any(), &Default::default()).await {
                Ok(_) => tracing::info!(%ns, backup = %old.name_any(), "simulated operator: retention deleted a scheduled backup"),
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
