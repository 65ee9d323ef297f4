//! Reconcilers (kube-runtime), one per kind, sharing the process's watches.
pub mod database_cluster;
pub mod database_cluster_backup;
pub mod database_engine;

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters exported on /metrics.
#[derive(Default)]
pub struct Metrics {
    pub reconciles: AtomicU64,
    pub reconcile_errors: AtomicU64,
    pub engine_reconciles: AtomicU64,
    pub engine_reconcile_errors: AtomicU64,
}

pub static METRICS: Metrics = Metrics {
    reconciles: AtomicU64::new(0),
    reconcile_errors: AtomicU64::new(0),
    engine_reconciles: AtomicU64::new(0),
    engine_reconcile_errors: AtomicU64::new(0),
};

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = format!(
            "# HELP cairn_reconciles_total DatabaseCluster reconciles.\n# TYPE cairn_reconciles_total counter\ncairn_reconciles_total {}\n\
             # HELP cairn_reconcile_errors_total Failed DatabaseCluster reconciles.\n# TYPE cairn_reconcile_errors_total counter\ncairn_reconcile_errors_total {}\n",
            self.reconciles.load(Ordering::Relaxed),
            self.reconcile_errors.load(Ordering::Relaxed)
        );
        out.push_str(&format!(
            "# HELP cairn_engine_reconciles_total DatabaseEngine reconciles.\n# TYPE cairn_engine_reconciles_total counter\ncairn_engine_reconciles_total {}\n\
             # HELP cairn_engine_reconcile_errors_total Failed DatabaseEngine reconciles.\n# TYPE cairn_engine_reconcile_errors_total counter\ncairn_engine_reconcile_errors_total {}\n",
            self.engine_reconciles.load(Ordering::Relaxed),
            self.engine_reconcile_errors.load(Ordering::Relaxed)
        ));
        out
    }
}
