//! Leader election, for running several `cairn serve` replicas: one holds a `coordination.k8s.io` Lease and
//! runs the reconcilers; the others serve the UI, the REST API and the admission webhook from caches of their
//! own (as fresh as the leader's) and watch the lease.
//!
//! - The leader renews the lease every [`Config::renew_every`]. When it cannot for [`Config::renew_deadline`]
//!   (shorter than the lease's duration), or finds another holder, it has lost: the caller stops the process,
//!   so two replicas never reconcile at once, and Kubernetes restarts it as a follower.
//! - A follower takes the lease when its holder gave it up (a clean stop releases it at once) or when the lease
//!   has not changed for its whole duration, as this process measured it: no clock shared with the holder is
//!   assumed. The caller then restarts the process into leader mode (the restarted pod, same identity, finds
//!   the lease its own).
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where the lease is and who this process is.
#[derive(Clone, Debug)]
pub struct Config {
    pub namespace: String,
    pub name: String,
    /// This replica (the pod's name: stable across container restarts).
    pub identity: String,
    /// How long a lease not renewed stays the holder's.
    pub duration: Duration,
    /// How often the leader renews (and a follower looks).
    pub renew_every: Duration,
    /// How long the leader keeps going without a successful renewal (less than `duration`).
    pub renew_deadline: Duration,
}

impl Config {
    /// The defaults of Kubernetes' own controllers, with a slower renewal (one write per 5 s when idle):
    /// lease 15 s, renewal every 5 s, deadline 10 s.
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
            renew_deadline: Duration::from_secs(10),
        }
    }
}

pub struct Elector {
    api: Api<Lease>,
    cfg: Config,
    /// The lease's resourceVersion when this process last saw it change, and when.
    observed: Mutex<Option<(String, Instant)>>,
}

fn now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

impl Elector {
    pub fn new(client: Client, cfg: Config) -> Self {
        Self { api: Api::namespaced(client, &cfg.namespace), cfg, observed: Mutex::new(None) }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    fn spec(&self, previous: Option<&LeaseSpec>) -> LeaseSpec {
        let mine = previous.and_then(|s| s.holder_identity.as_deref()) == Some(self.cfg.identity.as_str());
        LeaseSpec {
            holder_identity: Some(self.cfg.identity.clone()),
            lease_duration_seconds: Some(self.cfg.duration.as_secs() as i32),
            acquire_time: if mine { previous.and_then(|s| s.acquire_time.clone()) } else { Some(now()) },
            renew_time: Some(now()),
            lease_transitions: Some(previous.and_then(|s| s.lease_transitions).unwrap_or(0) + i32::from(!mine && previous.is_some())),
            ..Default::default()
        }
    }

    /// Whether the lease has been left to expire: unchanged, by this process's clock, for its whole duration.
    fn expired(&self, l: &Lease) -> bool {
        let rv = l.resource_version().unwrap_or_default();
        let duration = l.spec.as_ref().and_then(|s| s.lease_duration_seconds).map(|s| Duration::from_secs(s.max(1) as u64)).unwrap_or(self.cfg.duration);
        let mut seen = self.observed.lock().unwrap();
        match &*seen {
            Some((r, since)) if *r == rv => since.elapsed() >= duration,
            _ => {
                *seen = Some((rv, Instant::now()));
                false
            }
        }
    }

    /// One attempt: Ok(true) when this replica holds the lease afterwards (taken, or renewed).
    pub async fn try_acquire(&self) -> Result<bool, kube::Error> {
        let Some(l) = self.api.get_opt(&self.cfg.name).await? else {
            let lease = Lease {
                metadata: kube::api::ObjectMeta { name: Some(self.cfg.name.clone()), namespace: Some(self.cfg.namespace.clone()), ..Default::default() },
                spec: Some(self.spec(None)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let holder = l.spec.as_ref().and_then(|s| s.holder_identity.clone()).unwrap_or_default();
        if holder != self.cfg.identity && !holder.is_empty() && !self.expired(&l) {
            return Ok(false);
        }
        let mut next = l.clone();
        next.spec = Some(self.spec(l.spec.as_ref()));
        match self.api.replace(&self.cfg.name, &PostParams::default(), &next).await {
            Ok(_) => Ok(true),
            // Someone else wrote it first (renewed, or took it).
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A follower's wait: tries every `renew_every` until this replica holds the lease.
    pub async fn wait_to_lead(&self) {
        loop {
            match self.try_acquire().await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, lease = %self.cfg.name, "reading the leader lease failed; trying again"),
            }
            tokio::time::sleep(self.cfg.renew_every).await;
        }
    }

    /// The leader's renewals, every `renew_every`. Returns why, once leadership is lost: another replica holds
    /// the lease, or no renewal succeeded for `renew_deadline` (another may take it soon).
    pub async fn hold(&self) -> String {
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(self.cfg.renew_every).await;
            match self.try_acquire().await {
                Ok(true) => renewed = Instant::now(),
                Ok(false) => return format!("another replica holds the leader lease {:?}", self.cfg.name),
                Err(e) => {
                    tracing::warn!(error = %e, lease = %self.cfg.name, "renewing the leader lease failed");
                    if renewed.elapsed() >= self.cfg.renew_deadline {
                        return format!("the leader lease {:?} was not renewed for {} s: {e}", self.cfg.name, renewed.elapsed().as_secs());
                    }
                }
            }
        }
    }

    /// Gives the lease up, when this replica holds it (a clean stop): a follower takes it at its next look.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(l) = self.api.get_opt(&self.cfg.name).await? else { return Ok(()) };
        if l.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) != Some(self.cfg.identity.as_str()) {
            return Ok(());
        }
        let patch = serde_json::json!({"metadata": {"resourceVersion": l.resource_version()}, "spec": {"holderIdentity": null, "renewTime": null}});
        match self.api.patch(&self.cfg.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }
}
