//! The recent notification attempts, for people: every delivery attempt (first tries and
//! retries) with its receiver, integration, group, alerts, outcome and error text, in a bounded
//! in-memory ring (the newest [`CAPACITY`]). The deduplicating notification log (`nflog`) keeps
//! only what dedup needs and survives restarts; this ring explains what happened and does not.

use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};

/// Attempts kept.
pub const CAPACITY: usize = 1000;

/// One alert of a notification.
#[derive(Clone, Debug, PartialEq)]
pub struct NotifiedAlert {
    pub labels: BTreeMap<String, String>,
    /// `firing` or `resolved` at the time of sending.
    pub status: &'static str,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    /// Alertmanager's fingerprint, hex.
    pub fingerprint: String,
}

/// One delivery attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct Attempt {
    /// Increasing number of the attempt since start.
    pub seq: u64,
    /// When the attempt started, Unix ms.
    pub time_ms: i64,
    pub duration_ms: i64,
    pub receiver: String,
    /// `slack`, `pagerduty`, `webhook` or `email`.
    pub integration: &'static str,
    /// Index of the integration within the receiver's list of that kind.
    pub integration_index: usize,
    pub group_key: String,
    pub group_labels: BTreeMap<String, String>,
    pub alerts: Vec<NotifiedAlert>,
    /// 1 for the first try of a notification, then 2, 3, ... for retries.
    pub attempt: u32,
    pub success: bool,
    /// The integration's error, when it failed.
    pub error: Option<String>,
    /// Whether a failure was retried (5xx, 429, network) or final.
    pub retryable: bool,
}

/// The ring of attempts.
#[derive(Default)]
pub struct History {
    ring: Mutex<(u64, VecDeque<Attempt>)>,
}

impl History {
    /// Records an attempt (its `seq` is assigned here).
    pub fn record(&self, mut a: Attempt) {
        let mut g = self.ring.lock();
        g.0 += 1;
        a.seq = g.0;
        if g.1.len() == CAPACITY {
            g.1.pop_front();
        }
        g.1.push_back(a);
    }

    /// The newest `limit` attempts, newest first.
    pub fn recent(&self, limit: usize) -> Vec<Attempt> {
        let g = self.ring.lock();
        g.1.iter().rev().take(limit).cloned().collect()
    }

    /// Attempts recorded since start (also those the ring has forgotten).
    pub fn total(&self) -> u64 {
        self.ring.lock().0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(receiver: &str, success: bool) -> Attempt {
        Attempt {
            seq: 0,
            time_ms: 1,
            duration_ms: 0,
            receiver: receiver.into(),
            integration: "webhook",
            integration_index: 0,
            group_key: "{}:{}".into(),
            group_labels: BTreeMap::new(),
            alerts: vec![],
            attempt: 1,
            success,
            error: (!success).then(|| "boom".to_string()),
            retryable: false,
        }
    }

    #[test]
    fn bounded_newest_first() {
        let h = History::default();
        for i in 0..CAPACITY + 5 {
            h.record(attempt(&format!("r{i}"), i % 2 == 0));
        }
        assert_eq!(h.total(), (CAPACITY + 5) as u64);
        let all = h.recent(usize::MAX);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all[0].receiver, format!("r{}", CAPACITY + 4));
        assert_eq!(all[0].seq, (CAPACITY + 5) as u64);
        assert_eq!(all[CAPACITY - 1].receiver, "r5");
        let two = h.recent(2);
        assert_eq!(two.len(), 2);
        assert!(two[1].error.is_some());
    }
}
