//! Each operator's observable shapes: sizes, status and the users Secret, as the real operators write them.
use super::{random_password, Simulated};
use crate::upstream::{pg::PerconaPGCluster, psmdb::PerconaServerMongoDB, pxc::PerconaXtraDBCluster};
use kube::ResourceExt;
use serde_json::json;
use std::collections::BTreeMap;

fn secret(pairs: Vec<(String, String)>) -> BTreeMap<String, String> {
    pairs.into_iter().collect()
}

impl Simulated for PerconaPGCluster {
    fn pods(&self) -> ((&'static str, &'static str), Vec<super::pods::SimPod>) {
        let sets: Vec<(String, i32)> = self.spec.instances.iter().map(|i| (i.name.clone(), i.replicas.unwrap_or(1))).collect();
        let pods = super::pods::pg(&self.name_any(), &sets, bouncer_size(self), self.spec.image.as_deref().unwrap_or("percona/percona-postgresql"));
        (("percona-postgresql", "percona-postgresql-operator"), pods)
    }
    fn paused(&self) -> bool {
        self.spec.pause == Some(true)
    }
    fn state(&self) -> String {
        self.status.as_ref().and_then(|s| s.state.clone()).unwrap_or_default()
    }
    fn sizes_match(&self) -> bool {
        let st = self.status.clone().unwrap_or_default();
        st.postgres.map(|p| p.size) == Some(pg_size(self)) && st.pgbouncer.map(|p| p.size) == Some(bouncer_size(self))
    }
    fn version_matches(&self) -> bool {
        let running = self.status.as_ref().and_then(|s| s.postgres.as_ref()).and_then(|p| p.image_id.clone());
        running == self.spec.image
    }
    fn volume_size(&self) -> Option<String> {
        claim_size(self.spec.instances.first().map(|i| &i.data_volume_claim_spec))
    }
    fn status(&self, state: &str, ready: bool, resizing: bool) -> serde_json::Value {
        let (ps, bs) = (pg_size(self), bouncer_size(self));
        // Ready pods run the spec's image; until then, the one they ran before.
        let image = if ready {
            self.spec.image.clone()
        } else {
            self.status.as_ref().and_then(|s| s.postgres.as_ref()).and_then(|p| p.image_id.clone())
        };
        let conditions: Vec<serde_json::Value> = if resizing {
            vec![json!({"type": "PersistentVolumeResizing", "status": "True", "reason": "Resizing",
                "message": "", "lastTransitionTime": super::chrono_like_now()})]
        } else {
            vec![]
        };
        let pg_ready = if ready { ps } else { 0 };
        let bouncer_ready = if ready || state == "stopping" { bs } else { 0 };
        let mut st = json!({
            "state": state,
            "host": format!("{}-pgbouncer.{}.svc", self.name_any(), self.namespace().unwrap_or_default()),
            "postgres": {"size": ps, "ready": pg_ready, "version": self.spec.postgres_version,
                "instances": self.spec.instances.iter().map(|i| {
                    let n = i.replicas.unwrap_or(1);
                    json!({"name": i.name, "size": n, "ready": if ready { n } else { 0 }})
                }).collect::<Vec<_>>()},
            "pgbouncer": {"size": bs, "ready": bouncer_ready},
            "conditions": conditions,
        });
        if let Some(i) = image {
            st["postgres"]["imageID"] = json!(i);
        }
        st
    }
    fn user_secrets(&self) -> Vec<(String, BTreeMap<String, String>)> {
        let (name, ns) = (self.name_any(), self.namespace().unwrap_or_default());
        let users: Vec<(String, Option<String>)> = if self.spec.users.is_empty() {
            vec![(name.clone(), None)]
        } else {
            self.spec.users.iter().map(|u| (u.name.clone(), u.secret_name.clone())).collect()
        };
        users
            .into_iter()
            .map(|(user, secret_name)| {
                let pw = random_password();
                let host = format!("{name}-primary.{ns}.svc");
                let bouncer = format!("{name}-pgbouncer.{ns}.svc");
                let db = if user == "postgres" { "postgres".to_string() } else { user.clone() };
                let data = secret(vec![
                    ("user".into(), user.clone()),
                    ("password".into(), pw.clone()),
                    ("host".into(), host.clone()),
                    ("port".into(), "5432".into()),
                    ("dbname".into(), db.clone()),
                    ("uri".into(), format!("postgresql://{user}:{pw}@{host}:5432/{db}")),
                    ("pgbouncer-host".into(), bouncer.clone()),
                    ("pgbouncer-port".into(), "5432".into()),
                    ("pgbouncer-uri".into(), format!("postgresql://{user}:{pw}@{bouncer}:5432/{db}")),
                ]);
                (secret_name.unwrap_or_else(|| format!("{name}-pguser-{user}")), data)
            })
            .collect()
    }
}

fn pg_size(pg: &PerconaPGCluster) -> i32 {
    pg.spec.instances.iter().map(|i| i.replicas.unwrap_or(1)).sum()
}

fn bouncer_size(pg: &PerconaPGCluster) -> i32 {
    pg.spec.proxy.as_ref().map(|p| p.pg_bouncer.replicas.unwrap_or(1)).unwrap_or(0)
}

/// (proxy kind, proxy size) of the enabled PXC proxy.
fn pxc_proxy(c: &PerconaXtraDBCluster) -> (&'static str, i32) {
    if let Some(h) = c.spec.haproxy.as_ref().filter(|h| h.enabled == Some(true)) {
        return ("haproxy", h.size.unwrap_or(0));
    }
    if let Some(p) = c.spec.proxysql.as_ref().filter(|p| p.enabled == Some(true)) {
        return ("proxysql", p.size.unwrap_or(0));
    }
    ("", 0)
}

impl Simulated for PerconaXtraDBCluster {
    fn pods(&self) -> ((&'static str, &'static str), Vec<super::pods::SimPod>) {
        let (kind, proxies) = pxc_proxy(self);
        let size = self.spec.pxc.as_ref().and_then(|p| p.size).unwrap_or(0);
        let image = self.spec.pxc.as_ref().and_then(|p| p.image.clone()).unwrap_or_else(|| "percona/percona-xtradb-cluster".into());
        (("percona-xtradb-cluster", "percona-xtradb-cluster-operator"), super::pods::pxc(&self.name_any(), size, kind, proxies, &image))
    }
    fn paused(&self) -> bool {
        self.spec.pause == Some(true)
    }
    fn state(&self) -> String {
        self.status.as_ref().and_then(|s| s.state.clone()).unwrap_or_default()
    }
    fn sizes_match(&self) -> bool {
        let st = self.status.clone().unwrap_or_default();
        let (kind, n) = pxc_proxy(self);
        let proxy = match kind {
            "haproxy" => st.haproxy.map(|p| p.size),
            "proxysql" => st.proxysql.map(|p| p.size),
            _ => Some(0),
        };
        st.pxc.map(|p| p.size) == self.spec.pxc.as_ref().and_then(|p| p.size) && proxy == Some(n)
    }
    fn version_matches(&self) -> bool {
        let running = self.status.as_ref().and_then(|s| s.pxc.as_ref()).and_then(|p| p.version.clone());
        running == pxc_version(self)
    }
    fn volume_size(&self) -> Option<String> {
        claim_size(self.spec.pxc.as_ref().and_then(|p| p.volume_spec.as_ref()).and_then(|v| v.persistent_volume_claim.as_ref()))
    }
    fn resize_annotation(&self) -> Option<&'static str> {
        Some(crate::engine::pxc::ANNOTATION_PVC_RESIZE_IN_PROGRESS)
    }
    fn status(&self, state: &str, ready: bool, _resizing: bool) -> serde_json::Value {
        let size = self.spec.pxc.as_ref().and_then(|p| p.size).unwrap_or(0);
        let version = if ready {
            pxc_version(self)
        } else {
            self.status.as_ref().and_then(|s| s.pxc.as_ref()).and_then(|p| p.version.clone())
        };
        let (kind, proxy) = pxc_proxy(self);
        let r = |n: i32| if ready { n } else { 0 };
        let (name, ns) = (self.name_any(), self.namespace().unwrap_or_default());
        let host = if kind.is_empty() { format!("{name}-pxc.{ns}") } else { format!("{name}-{kind}.{ns}") };
        let mut st = json!({
            "state": state, "host": host, "size": size + proxy, "ready": r(size + proxy),
            "pxc": {"size": size, "ready": r(size), "status": state},
        });
        if let Some(v) = version {
            st["pxc"]["version"] = json!(v);
        }
        if !kind.is_empty() {
            st[kind] = json!({"size": proxy, "ready": r(proxy), "status": state});
        }
        st
    }
    fn user_secrets(&self) -> Vec<(String, BTreeMap<String, String>)> {
        let name = self.spec.secrets_name.clone().unwrap_or_else(|| format!("{}-secrets", self.name_any()));
        let users = ["root", "xtrabackup", "monitor", "proxyadmin", "operator", "replication"];
        vec![(name, secret(users.iter().map(|u| (u.to_string(), random_password())).collect()))]
    }
}

/// (name, size) of every replica set the operator runs, config servers included.
fn psmdb_sets(c: &PerconaServerMongoDB) -> Vec<(String, i32)> {
    let mut v: Vec<(String, i32)> =
        c.spec.replsets.iter().map(|r| (r.name.clone().unwrap_or_else(|| "rs0".into()), r.size)).collect();
    if let Some(cfg) = c.spec.sharding.as_ref().filter(|s| s.enabled).and_then(|s| s.configsvr_repl_set.as_ref()) {
        v.push(("cfg".into(), cfg.size));
    }
    v
}

fn mongos_size(c: &PerconaServerMongoDB) -> Option<i32> {
    c.spec.sharding.as_ref().filter(|s| s.enabled).map(|s| s.mongos.as_ref().and_then(|m| m.size).unwrap_or(0))
}

impl Simulated for PerconaServerMongoDB {
    fn pods(&self) -> ((&'static str, &'static str), Vec<super::pods::SimPod>) {
        let pods = super::pods::psmdb(&self.name_any(), &psmdb_sets(self), mongos_size(self).unwrap_or(0), &self.spec.image);
        (("percona-server-mongodb", "percona-server-mongodb-operator"), pods)
    }
    fn paused(&self) -> bool {
        self.spec.pause == Some(true)
    }
    fn state(&self) -> String {
        self.status.as_ref().and_then(|s| s.state.clone()).unwrap_or_default()
    }
    fn sizes_match(&self) -> bool {
        let st = self.status.clone().unwrap_or_default();
        psmdb_sets(self).iter().all(|(n, s)| st.replsets.get(n).map(|r| r.size) == Some(*s))
            && st.mongos.map(|m| m.size) == mongos_size(self)
    }
    fn version_matches(&self) -> bool {
        self.status.as_ref().and_then(|s| s.mongo_version.clone()) == Some(mongo_version(self))
    }
    fn resize_statefulset(&self) -> Option<String> {
        Some(format!("{}-rs0", self.name_any()))
    }
    fn volume_size(&self) -> Option<String> {
        claim_size(self.spec.replsets.first().and_then(|r| r.volume_spec.as_ref()).and_then(|v| v.persistent_volume_claim.as_ref()))
    }
    fn status(&self, state: &str, ready: bool, _resizing: bool) -> serde_json::Value {
        let r = |n: i32| if ready { n } else { 0 };
        let (name, ns) = (self.name_any(), self.namespace().unwrap_or_default());
        let sets = psmdb_sets(self);
        let version = if ready { Some(mongo_version(self)) } else { self.status.as_ref().and_then(|s| s.mongo_version.clone()) };
        let mut replsets = serde_json::Map::new();
        let (mut size, mut ready_n) = (0, 0);
        for (n, s) in &sets {
            replsets.insert(n.clone(), json!({"size": s, "ready": r(*s), "status": state, "initialized": ready}));
            size += s;
            ready_n += r(*s);
        }
        let first = sets.first().map(|(n, _)| n.clone()).unwrap_or_else(|| "rs0".into());
        let mut st = json!({
            "state": state, "size": size, "ready": ready_n, "replsets": replsets,
            "host": format!("{name}-{first}.{ns}.svc.cluster.local"),
        });
        if let Some(m) = mongos_size(self) {
            st["mongos"] = json!({"size": m, "ready": r(m), "status": state});
            st["host"] = json!(format!("{name}-mongos.{ns}.svc.cluster.local"));
            st["size"] = json!(size + m);
            st["ready"] = json!(ready_n + r(m));
        }
        if let Some(v) = version {
            st["mongoVersion"] = json!(v);
        }
        if let Some(h) = backup_config_hash(self) {
            st["backupConfigHash"] = json!(h);
        }
        st
    }
    fn status_current(&self) -> bool {
        backup_config_hash(self).is_none_or(|h| self.status.as_ref().and_then(|s| s.backup_config_hash.as_ref()) == Some(&h))
    }
    fn user_secrets(&self) -> Vec<(String, BTreeMap<String, String>)> {
        let name = self
            .spec
            .secrets
            .as_ref()
            .and_then(|s| s.users.clone())
            .unwrap_or_else(|| format!("{}-secrets", self.name_any()));
        let mut data = Vec::new();
        for (role, user) in [
            ("BACKUP", "backup"),
            ("CLUSTER_ADMIN", "clusterAdmin"),
            ("CLUSTER_MONITOR", "clusterMonitor"),
            ("DATABASE_ADMIN", "databaseAdmin"),
            ("USER_ADMIN", "userAdmin"),
        ] {
            data.push((format!("MONGODB_{role}_USER"), user.to_string()));
            data.push((format!("MONGODB_{role}_PASSWORD"), random_password()));
        }
        vec![(name, secret(data))]
    }
}

/// The hash of the backup storages the PSMDB operator has applied to PBM (`status.backupConfigHash`, 1.20.0
/// on): any stable digest of the section will do for the simulator. None without storages.
fn backup_config_hash(c: &PerconaServerMongoDB) -> Option<String> {
    use std::hash::{Hash, Hasher};
    let storages = &c.spec.backup.as_ref()?.storages;
    if storages.is_empty() {
        return None;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(storages).unwrap_or_default().hash(&mut h);
    Some(format!("{:016x}", h.finish()))
}

fn claim_size(c: Option<&k8s_openapi::api::core::v1::PersistentVolumeClaimSpec>) -> Option<String> {
    c.and_then(|c| c.resources.as_ref()).and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage")).map(|q| q.0.clone())
}

/// The tag of an image reference ("percona/percona-xtradb-cluster:8.0.42-33.1" → "8.0.42-33.1").
fn tag(image: &str) -> Option<String> {
    image.rsplit_once(':').map(|(_, t)| t.to_string())
}

/// The version the PXC operator reports (`status.pxc.version`): the engine image's tag.
fn pxc_version(c: &PerconaXtraDBCluster) -> Option<String> {
    c.spec.pxc.as_ref().and_then(|p| p.image.as_deref()).and_then(tag)
}

/// The version the PSMDB operator reports (`status.mongoVersion`): the image tag without a "-multi" suffix.
fn mongo_version(c: &PerconaServerMongoDB) -> String {
    let t = tag(&c.spec.image).unwrap_or_default();
    t.strip_suffix("-multi").map(String::from).unwrap_or(t)
}
