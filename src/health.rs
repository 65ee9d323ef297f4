//! Process health: the long-running tasks (watches, reconcilers) are supervised, and the API server's
//! reachability is tracked from the watches. Both feed `/readyz`; a task that ends makes `cairn serve` exit
//! non-zero so Kubernetes restarts it (a controller that silently stopped would leave every new database
//! without finalizer, upstream CR or status while the API stayed up).
use std::future::Future;
use std::sync::Mutex;
use tokio::sync::watch;

#[derive(Debug)]
pub struct Health {
    /// The first supervised task that ended (name and how), if any.
    failed: watch::Sender<Option<String>>,
    /// Why the API server is taken as unreachable (the last transport error of a watch), if it is.
    api_down: Mutex<Option<String>>,
}

impl Default for Health {
    fn default() -> Self {
        Health { failed: watch::channel(None).0, api_down: Mutex::new(None) }
    }
}

impl Health {
    /// Runs `fut` as a task that must live as long as the process: when it returns or panics, the process
    /// is unhealthy (`/readyz` 503 with the task's name) and [`Health::wait_failed`] resolves.
    pub fn spawn<F>(self: &std::sync::Arc<Self>, name: impl Into<String>, fut: F) -> tokio::task::JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let name = name.into();
        let inner = tokio::spawn(fut);
        let health = self.clone();
        tokio::spawn(async move {
            let how = match inner.await {
                Ok(()) => "ended".to_string(),
                Err(e) if e.is_panic() => format!("panicked: {}", panic_message(e.into_panic().as_ref())),
                Err(_) => "was cancelled".to_string(),
            };
            health.task_ended(&name, &how);
        })
    }

    /// Records that a task that should run forever ended.
    pub fn task_ended(&self, name: &str, how: &str) {
        tracing::error!(task = name, how, "a supervised task ended; the process is unhealthy and exits");
        self.failed.send_if_modified(|f| {
            if f.is_none() {
                *f = Some(format!("{name} {how}"));
                true
            } else {
                false
            }
        });
    }

    /// The first task that ended, if any.
    pub fn failure(&self) -> Option<String> {
        self.failed.borrow().clone()
    }

    /// Resolves when a supervised task ends; returns which and how.
    pub async fn wait_failed(&self) -> String {
        let mut rx = self.failed.subscribe();
        let failed = rx.wait_for(|f| f.is_some()).await.map(|f| f.clone().unwrap_or_default());
        match failed {
            Ok(f) => f,
            // The sender lives in self: unreachable while we are borrowed.
            Err(_) => std::future::pending().await,
        }
    }

    /// A watch failed with an error that says the API server cannot be reached (see
    /// [`crate::error::is_unavailable`]).
    pub fn api_unreachable(&self, reason: impl std::fmt::Display) {
        let mut d = self.api_down.lock().unwrap_or_else(|e| e.into_inner());
        if d.is_none() {
            tracing::warn!(%reason, "the Kubernetes API server is unreachable");
        }
        *d = Some(reason.to_string());
    }

    /// A watch received something: the API server answers.
    pub fn api_reachable(&self) {
        let mut d = self.api_down.lock().unwrap_or_else(|e| e.into_inner());
        if d.take().is_some() {
            tracing::info!("the Kubernetes API server is reachable again");
        }
    }

    /// Why the API server is taken as unreachable, if it is.
    pub fn api_down(&self) -> Option<String> {
        self.api_down.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Feeds a watch's outcome into the API server's reachability: errors that say the server is
    /// unreachable mark it down, anything received marks it up. Returns whether the error was such.
    pub fn observe_watch<T>(&self, ev: &Result<T, kube::runtime::watcher::Error>) -> bool {
        match ev {
            Ok(_) => {
                self.api_reachable();
                false
            }
            Err(e) => match watch_kube_error(e) {
                Some(k) if crate::error::is_unavailable(k) => {
                    self.api_unreachable(k);
                    true
                }
                _ => false,
            },
        }
    }
}

/// The client error under a watcher error, when there is one.
fn watch_kube_error(e: &kube::runtime::watcher::Error) -> Option<&kube::Error> {
    use kube::runtime::watcher::Error as W;
    match e {
        W::InitialListFailed(k) | W::WatchStartFailed(k) | W::WatchFailed(k) => Some(k),
        _ => None,
    }
}

/// The message of a panic payload (`panic!` with a literal or a formatted string).
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_task_that_panics_or_returns_marks_the_process_failed() {
        let h = Arc::new(Health::default());
        h.spawn("forever", std::future::pending::<()>());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(h.failure(), None, "a task still running is fine");
        h.spawn("DatabaseCluster controller", async { panic!("boom {}", 1) });
        let f = tokio::time::timeout(Duration::from_secs(5), h.wait_failed()).await.expect("failure seen");
        assert_eq!(f, "DatabaseCluster controller panicked: boom 1");
        h.spawn("watch", async {});
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(h.failure().as_deref(), Some("DatabaseCluster controller panicked: boom 1"), "the first failure is kept");

        let h = Arc::new(Health::default());
        h.spawn("PerconaPGCluster watch", async {});
        assert_eq!(tokio::time::timeout(Duration::from_secs(5), h.wait_failed()).await.unwrap(), "PerconaPGCluster watch ended");
    }

    #[test]
    fn api_reachability_follows_the_watches() {
        let h = Health::default();
        assert_eq!(h.api_down(), None);
        h.api_unreachable("connection refused");
        assert_eq!(h.api_down().as_deref(), Some("connection refused"));
        h.api_reachable();
        assert_eq!(h.api_down(), None);
    }
}
