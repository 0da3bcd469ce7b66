//! Sends alerts to external Alertmanagers (`alerting.alertmanagers` of prometheus.yml) as
//! Prometheus' notifier does: JSON arrays POSTed to `/api/v2/alerts`, from a bounded queue
//! drained by a background thread (oldest alerts dropped when full), in batches of 64.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use model::{Alert, AlertSink};
use parking_lot::{Condvar, Mutex};

/// Queue capacity (Prometheus' `--alertmanager.notification-queue-capacity`).
pub const QUEUE_CAPACITY: usize = 10_000;
/// Alerts per request (Prometheus' `maxBatchSize`).
pub const MAX_BATCH: usize = 64;

/// One Alertmanager to send to.
#[derive(Clone, Debug)]
pub struct AlertmanagerTarget {
    /// Full URL of the alerts endpoint, e.g. `http://am:9093/api/v2/alerts`.
    pub url: String,
    pub basic_auth: Option<(String, String)>,
    pub bearer_token: Option<String>,
    pub timeout: Duration,
}

struct Shared {
    queue: Mutex<VecDeque<Alert>>,
    cv: Condvar,
    dropped: std::sync::atomic::AtomicU64,
    sent: std::sync::atomic::AtomicU64,
    errors: std::sync::atomic::AtomicU64,
    stop: std::sync::atomic::AtomicBool,
}

/// An [`AlertSink`] posting to external Alertmanagers.
pub struct HttpAlertmanagerSink {
    shared: Arc<Shared>,
}

impl HttpAlertmanagerSink {
    /// Start the sender thread for `targets`.
    pub fn new(targets: Vec<AlertmanagerTarget>) -> Self {
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            cv: Condvar::new(),
            dropped: Default::default(),
            sent: Default::default(),
            errors: Default::default(),
            stop: Default::default(),
        });
        let s2 = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("alert-notifier".into())
            .spawn(move || run(s2, targets));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the alert notifier thread");
        }
        HttpAlertmanagerSink { shared }
    }

    /// (sent, errors, dropped) counters.
    pub fn stats(&self) -> (u64, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.shared.sent.load(Relaxed),
            self.shared.errors.load(Relaxed),
            self.shared.dropped.load(Relaxed),
        )
    }
}

impl Drop for HttpAlertmanagerSink {
    /// Stops the sender thread once its queue is drained (reloads replace the sink).
    fn drop(&mut self) {
        self.shared
            .stop
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let _q = self.shared.queue.lock();
        self.shared.cv.notify_all();
    }
}

impl AlertSink for HttpAlertmanagerSink {
    fn send(&self, alerts: Vec<Alert>) {
        let mut q = self.shared.queue.lock();
        for a in alerts {
            if q.len() >= QUEUE_CAPACITY {
                q.pop_front();
                self.shared
                    .dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            q.push_back(a);
        }
        self.shared.cv.notify_one();
    }
}

fn run(shared: Arc<Shared>, targets: Vec<AlertmanagerTarget>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "alert notifier: cannot build runtime");
            return;
        }
    };
    let client = reqwest::Client::new();
    loop {
        let batch: Vec<Alert> = {
            let mut q = shared.queue.lock();
            while q.is_empty() {
                if shared.stop.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                shared.cv.wait(&mut q);
            }
            let n = q.len().min(MAX_BATCH);
            q.drain(..n).collect()
        };
        let body = match serde_json::to_vec(&batch) {
            Ok(b) => b,
            Err(_) => continue,
        };
        for t in &targets {
            let mut req = client
                .post(&t.url)
                .header("content-type", "application/json")
                .timeout(t.timeout)
                .body(body.clone());
            if let Some((u, p)) = &t.basic_auth {
                req = req.basic_auth(u, Some(p));
            }
            if let Some(tok) = &t.bearer_token {
                req = req.bearer_auth(tok);
            }
            // send() arms the timeout timer, so it must run inside the runtime.
            let res = rt.block_on(async move { req.send().await });
            use std::sync::atomic::Ordering::Relaxed;
            match res {
                Ok(r) if r.status().is_success() => {
                    shared.sent.fetch_add(batch.len() as u64, Relaxed);
                }
                Ok(r) => {
                    shared.errors.fetch_add(1, Relaxed);
                    tracing::warn!(url = %t.url, status = %r.status(), "error sending alerts");
                }
                Err(e) => {
                    shared.errors.fetch_add(1, Relaxed);
                    tracing::warn!(url = %t.url, error = %e, "error sending alerts");
                }
            }
        }
    }
}
