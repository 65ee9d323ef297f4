//! Reconcilers (kube-runtime), one per kind, sharing the process's watches.
pub mod apply;
pub mod data_import_job;
pub mod backup_mirror;
pub mod database_cluster;
pub mod database_cluster_backup;
pub mod database_cluster_restore;
pub mod database_engine;
pub mod database_monitoring;
pub mod in_use;
pub mod monitoring_config;
pub mod split_horizon_tls;

use futures::{FutureExt, Stream};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the reconcile-duration histogram's buckets.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A Prometheus histogram of durations, lock-free.
pub struct Histogram {
    buckets: [AtomicU64; 11],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    const fn new() -> Self {
        Histogram { buckets: [const { AtomicU64::new(0) }; 11], count: AtomicU64::new(0), sum_micros: AtomicU64::new(0) }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, name: &str, labels: &str, out: &mut String) {
        for (i, le) in BUCKETS.iter().enumerate() {
            out.push_str(&format!("{name}_bucket{{{labels},le=\"{le}\"}} {}\n", self.buckets[i].load(Ordering::Relaxed)));
        }
        let count = self.count();
        out.push_str(&format!("{name}_bucket{{{labels},le=\"+Inf\"}} {count}\n"));
        out.push_str(&format!("{name}_sum{{{labels}}} {}\n", self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6));
        out.push_str(&format!("{name}_count{{{labels}}} {count}\n"));
    }
}

/// Counters exported on /metrics.
pub struct Metrics {
    pub reconciles: AtomicU64,
    pub reconcile_errors: AtomicU64,
    pub reconcile_duration: Histogram,
    pub engine_reconciles: AtomicU64,
    pub engine_reconcile_errors: AtomicU64,
    pub engine_reconcile_duration: Histogram,
    pub monitoring_reconciles: AtomicU64,
    pub monitoring_reconcile_errors: AtomicU64,
    pub monitoring_reconcile_duration: Histogram,
    /// (family, kind) → count, for the families labelled by kind (see [`Metrics::inc`]).
    by_kind: Mutex<BTreeMap<(&'static str, String), u64>>,
}

pub static METRICS: Metrics = Metrics {
    reconciles: AtomicU64::new(0),
    reconcile_errors: AtomicU64::new(0),
    reconcile_duration: Histogram::new(),
    engine_reconciles: AtomicU64::new(0),
    engine_reconcile_errors: AtomicU64::new(0),
    engine_reconcile_duration: Histogram::new(),
    monitoring_reconciles: AtomicU64::new(0),
    monitoring_reconcile_errors: AtomicU64::new(0),
    monitoring_reconcile_duration: Histogram::new(),
    by_kind: Mutex::new(BTreeMap::new()),
};

/// Failed reconciles by kind (errors and panics alike; each is retried with back-off).
pub const RECONCILE_FAILURES: &str = "cairn_reconcile_failures_total";
/// Reconciles that panicked, by kind (caught: the controller goes on; counted in the failures too).
pub const RECONCILE_PANICS: &str = "cairn_reconcile_panics_total";
/// Watch errors by kind (the watch retries with back-off; a growing count means a cache is not following).
pub const WATCH_ERRORS: &str = "cairn_watch_errors_total";
/// Periodic resyncs (every object of the kind re-reconciled from the cache), by kind.
pub const RESYNCS: &str = "cairn_resyncs_total";

const FAMILIES: [(&str, &str); 4] = [
    (RECONCILE_FAILURES, "Failed reconciles by kind (errors and panics; each retried with back-off)."),
    (RECONCILE_PANICS, "Reconciles that panicked, by kind (caught; the controller goes on)."),
    (WATCH_ERRORS, "Watch errors by kind (each watch retries with back-off)."),
    (RESYNCS, "Periodic resyncs by kind (every object re-reconciled from the cache)."),
];

impl Metrics {
    /// Adds one to `family{kind="<kind>"}`.
    pub fn inc(&self, family: &'static str, kind: &str) {
        let mut m = self.by_kind.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry((family, kind.to_string())).or_insert(0) += 1;
    }

    /// The current value of `family{kind="<kind>"}`.
    pub fn get(&self, family: &'static str, kind: &str) -> u64 {
        let m = self.by_kind.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&(family, kind.to_string())).copied().unwrap_or(0)
    }

    fn kinds(&self) -> [(&'static str, &AtomicU64, &AtomicU64, &Histogram); 3] {
        [
            ("DatabaseCluster", &self.reconciles, &self.reconcile_errors, &self.reconcile_duration),
            ("DatabaseEngine", &self.engine_reconciles, &self.engine_reconcile_errors, &self.engine_reconcile_duration),
            ("MonitoringConfig", &self.monitoring_reconciles, &self.monitoring_reconcile_errors, &self.monitoring_reconcile_duration),
        ]
    }

    /// `cairn_reconciles_total`, `cairn_reconcile_errors_total` and `cairn_reconcile_duration_seconds` by the
    /// reconciled `kind`, then the families of [`Metrics::inc`].
    pub fn render(&self) -> String {
        let mut out = String::from("# HELP cairn_reconciles_total Reconciles, by kind.\n# TYPE cairn_reconciles_total counter\n");
        for (kind, n, _, _) in self.kinds() {
            out.push_str(&format!("cairn_reconciles_total{{kind=\"{kind}\"}} {}\n", n.load(Ordering::Relaxed)));
        }
        out.push_str("# HELP cairn_reconcile_errors_total Reconciles that returned an error, by kind.\n# TYPE cairn_reconcile_errors_total counter\n");
        for (kind, _, e, _) in self.kinds() {
            out.push_str(&format!("cairn_reconcile_errors_total{{kind=\"{kind}\"}} {}\n", e.load(Ordering::Relaxed)));
        }
        out.push_str("# HELP cairn_reconcile_duration_seconds Time one reconcile takes, by kind.\n# TYPE cairn_reconcile_duration_seconds histogram\n");
        for (kind, _, _, h) in self.kinds() {
            h.render("cairn_reconcile_duration_seconds", &format!("kind=\"{kind}\""), &mut out);
        }
        out.push_str("# HELP cairn_upstream_applies_total Server-side applies of upstream objects: sent, or skipped because the live object already carried the desired hash.\n# TYPE cairn_upstream_applies_total counter\n");
        for (result, n) in [("sent", &apply::APPLIES_SENT), ("skipped", &apply::APPLIES_SKIPPED)] {
            out.push_str(&format!("cairn_upstream_applies_total{{result=\"{result}\"}} {}\n", n.load(Ordering::Relaxed)));
        }
        let m = self.by_kind.lock().unwrap_or_else(|e| e.into_inner());
        for (family, help) in FAMILIES {
            out.push_str(&format!("# HELP {family} {help}\n# TYPE {family} counter\n"));
            for ((_, kind), n) in m.iter().filter(|((f, _), _)| *f == family) {
                out.push_str(&format!("{family}{{kind=\"{kind}\"}} {n}\n"));
            }
        }
        out
    }
}

/// A reconcile that panicked (the panic is caught so the controller goes on; see [`guarded`]).
#[derive(Debug, thiserror::Error)]
#[error("reconcile panicked: {0}")]
pub struct Panicked(pub String);

/// Runs a reconcile future so that a panic in it becomes an error for that one object (logged, counted in
/// `cairn_reconcile_panics_total{kind}`, retried with back-off) instead of ending the controller's task.
pub async fn guarded<T, E>(kind: &str, fut: impl std::future::Future<Output = Result<T, E>>) -> Result<T, E>
where
    E: From<Panicked>,
{
    match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r,
        Err(p) => {
            let msg = crate::health::panic_message(p.as_ref());
            METRICS.inc(RECONCILE_PANICS, kind);
            tracing::error!(kind, panic = %msg, "reconcile panicked; retrying with back-off");
            Err(Panicked(msg).into())
        }
    }
}

/// Per-object exponential back-off for failed reconciles: 1 s doubling to 5 min, with ±10 % jitter, and
/// reset by the object's next successful reconcile.
#[derive(Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

impl Backoff {
    /// The delay before retrying `key` after one more failure.
    pub fn failed(&self, key: &str) -> Duration {
        let n = {
            let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
            let n = f.entry(key.to_string()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        let base = BACKOFF_FIRST.saturating_mul(1u32 << (n - 1).min(16)).min(BACKOFF_MAX);
        jittered(base, 0.1)
    }

    /// `key` reconciled: its next failure starts again from the first delay.
    pub fn succeeded(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

/// `d` scaled by a random factor in [1 − spread, 1 + spread].
pub fn jittered(d: Duration, spread: f64) -> Duration {
    use rand::Rng;
    let f = rand::thread_rng().gen_range((1.0 - spread)..=(1.0 + spread));
    d.mul_f64(f)
}

/// Ticks every `period` (±10 % jitter, so replicas and restarts do not resync in step), forever; never
/// when `period` is zero (resync off). Fed to `Controller::reconcile_all_on`, each tick re-reconciles every
/// object from the reflector cache: no API call beyond the watches, and a lost event heals by the next tick.
pub fn resync_ticks(kind: &'static str, period: Duration) -> impl Stream<Item = ()> + Send {
    futures::stream::unfold((), move |()| async move {
        if period.is_zero() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(jittered(period, 0.1)).await;
        METRICS.inc(RESYNCS, kind);
        tracing::debug!(kind, "periodic resync");
        Some(((), ()))
    })
}

/// How often every object is re-reconciled from the cache by default (`--resync-period`).
pub const DEFAULT_RESYNC: Duration = Duration::from_secs(600);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E(String);
    impl From<Panicked> for E {
        fn from(p: Panicked) -> E {
            E(p.to_string())
        }
    }

    #[tokio::test]
    async fn a_panicking_reconcile_is_an_error_and_counted() {
        let before = METRICS.get(RECONCILE_PANICS, "Test");
        let r: Result<(), E> = guarded("Test", async { panic!("index out of bounds: {}", 7) }).await;
        assert_eq!(r.unwrap_err().0, "reconcile panicked: index out of bounds: 7");
        assert_eq!(METRICS.get(RECONCILE_PANICS, "Test"), before + 1);
        let r: Result<u8, E> = guarded("Test", async { Ok(3) }).await;
        assert_eq!(r.unwrap(), 3);
        assert!(METRICS.render().contains("cairn_reconcile_panics_total{kind=\"Test\"}"));
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::new();
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_millis(300));
        let mut out = String::new();
        h.render("x", "kind=\"K\"", &mut out);
        assert!(out.contains("x_bucket{kind=\"K\",le=\"0.005\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{kind=\"K\",le=\"0.5\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{kind=\"K\",le=\"+Inf\"} 2\n"), "{out}");
        assert!(out.contains("x_count{kind=\"K\"} 2\n"), "{out}");
        assert!(out.contains("x_sum{kind=\"K\"} 0.303\n"), "{out}");
    }

    #[test]
    fn backoff_grows_caps_and_resets() {
        let b = Backoff::default();
        let within = |d: Duration, base: f64| d.as_secs_f64() >= base * 0.9 - 1e-9 && d.as_secs_f64() <= base * 1.1 + 1e-9;
        assert!(within(b.failed("a"), 1.0));
        assert!(within(b.failed("a"), 2.0));
        assert!(within(b.failed("a"), 4.0));
        assert!(within(b.failed("b"), 1.0), "per object");
        for _ in 0..40 {
            b.failed("a");
        }
        assert!(within(b.failed("a"), 300.0), "capped at 5 min, no overflow");
        b.succeeded("a");
        assert!(within(b.failed("a"), 1.0), "reset by a success");
    }

    #[tokio::test]
    async fn resync_ticks_are_jittered_around_the_period() {
        use futures::StreamExt;
        let mut s = std::pin::pin!(resync_ticks("Test", Duration::from_millis(300)));
        for i in 1..=3 {
            let start = tokio::time::Instant::now();
            s.next().await;
            let t = start.elapsed().as_millis();
            // 270..330 ms, plus scheduling slack on a busy machine.
            assert!((269..=450).contains(&t), "tick {i} after {t} ms");
        }
        let mut off = std::pin::pin!(resync_ticks("Test", Duration::ZERO));
        assert!(tokio::time::timeout(Duration::from_millis(500), off.next()).await.is_err(), "0 turns resync off");
    }
}
