//! Reconcilers (kube-runtime), one per kind, sharing the process's watches.
pub mod database_cluster;
pub mod database_engine;
pub mod database_monitoring;
pub mod monitoring_config;

use std::sync::atomic::{AtomicU64, Ordering};
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
        Histogram {
            buckets: [const { AtomicU64::new(0) }; 11],
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
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

/// Counters exported on /metrics, per reconciled kind.
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
};

impl Metrics {
    fn kinds(&self) -> [(&'static str, &AtomicU64, &AtomicU64, &Histogram); 3] {
        [
            ("DatabaseCluster", &self.reconciles, &self.reconcile_errors, &self.reconcile_duration),
            ("DatabaseEngine", &self.engine_reconciles, &self.engine_reconcile_errors, &self.engine_reconcile_duration),
            ("MonitoringConfig", &self.monitoring_reconciles, &self.monitoring_reconcile_errors, &self.monitoring_reconcile_duration),
        ]
    }

    /// `cairn_reconciles_total`, `cairn_reconcile_errors_total` and `cairn_reconcile_duration_seconds`, each
    /// labelled with the reconciled `kind`.
    pub fn render(&self) -> String {
        let mut out = String::from("# HELP cairn_reconciles_total Reconciles, by kind.\n# TYPE cairn_reconciles_total counter\n");
        for (kind, n, _, _) in self.kinds() {
            out.push_str(&format!("cairn_reconciles_total{{kind=\"{kind}\"}} {}\n", n.load(Ordering::Relaxed)));
        }
        out.push_str("# HELP cairn_reconcile_errors_total Failed reconciles, by kind.\n# TYPE cairn_reconcile_errors_total counter\n");
        for (kind, _, e, _) in self.kinds() {
            out.push_str(&format!("cairn_reconcile_errors_total{{kind=\"{kind}\"}} {}\n", e.load(Ordering::Relaxed)));
        }
        out.push_str("# HELP cairn_reconcile_duration_seconds Time one reconcile takes, by kind.\n# TYPE cairn_reconcile_duration_seconds histogram\n");
        for (kind, _, _, h) in self.kinds() {
            h.render("cairn_reconcile_duration_seconds", &format!("kind=\"{kind}\""), &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
