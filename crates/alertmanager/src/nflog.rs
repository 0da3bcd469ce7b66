//! The notification log: for every (aggregation group, receiver integration) the fingerprints of
//! the firing and resolved alerts last notified and when. The dedup stage consults it so
//! identical groups are not re-sent inside `repeat_interval`; it is snapshotted under
//! `<data>/alerting/nflog.json` after every successful notification so a restart neither
//! re-sends nor forgets.

use crate::persist;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

/// How long entries are kept after their last notification.
pub const RETENTION_MS: i64 = 120 * 3_600_000;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub firing: BTreeSet<u64>,
    pub resolved: BTreeSet<u64>,
    pub timestamp_ms: i64,
}

/// The log, keyed by `group key` + receiver integration.
pub struct NotificationLog {
    entries: HashMap<String, Entry>,
    path: Option<PathBuf>,
}

impl NotificationLog {
    pub fn open(dir: Option<PathBuf>) -> Result<Self, String> {
        let path = dir.map(|d| d.join("nflog.json"));
        let mut entries = HashMap::new();
        if let Some(p) = &path {
            if let Some(bytes) = persist::read(p).map_err(|e| format!("{}: {e}", p.display()))? {
                entries = serde_json::from_slice(&bytes).map_err(|e| {
                    format!("{}: corrupt notification log snapshot: {e}", p.display())
                })?;
            }
        }
        Ok(NotificationLog { entries, path })
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// Records a notification and persists the log.
    pub fn log(&mut self, key: String, entry: Entry) -> Result<(), String> {
        self.entries.insert(key, entry);
        self.save()
    }

    fn save(&self) -> Result<(), String> {
        let Some(p) = &self.path else { return Ok(()) };
        let bytes = serde_json::to_vec(&self.entries).map_err(|e| e.to_string())?;
        persist::write_atomic(p, &bytes).map_err(|e| format!("persisting {}: {e}", p.display()))
    }

    pub fn gc(&mut self, now: i64) {
        let before = self.entries.len();
        self.entries
            .retain(|_, e| e.timestamp_ms + RETENTION_MS > now);
        if before != self.entries.len() {
            let _ = self.save();
        }
    }
}

/// Alertmanager's dedup decision (`DedupStage.needsUpdate`).
pub fn needs_update(
    entry: Option<&Entry>,
    firing: &BTreeSet<u64>,
    resolved: &BTreeSet<u64>,
    send_resolved: bool,
    repeat_ms: i64,
    now: i64,
) -> bool {
    let Some(e) = entry else {
        return !firing.is_empty();
    };
    if !firing.is_subset(&e.firing) {
        return true;
    }
    if firing.is_empty() {
        // All resolved: notify (even without send_resolved, to clear the log) only when the
        // receiver was told about firing alerts before.
        return !e.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&e.resolved) {
        return true;
    }
    e.timestamp_ms + repeat_ms <= now
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[u64]) -> BTreeSet<u64> {
        v.iter().copied().collect()
    }

    #[test]
    fn dedup_rules() {
        assert!(needs_update(None, &set(&[1]), &set(&[]), false, 100, 0));
        assert!(!needs_update(None, &set(&[]), &set(&[1]), true, 100, 0));
        let e = Entry {
            firing: set(&[1, 2]),
            resolved: set(&[]),
            timestamp_ms: 1000,
        };
        assert!(!needs_update(
            Some(&e),
            &set(&[1]),
            &set(&[]),
            false,
            100,
            1050
        ));
        assert!(needs_update(
            Some(&e),
            &set(&[1, 3]),
            &set(&[]),
            false,
            100,
            1050
        ));
        assert!(needs_update(
            Some(&e),
            &set(&[1]),
            &set(&[2]),
            true,
            100,
            1050
        ));
        assert!(!needs_update(
            Some(&e),
            &set(&[1]),
            &set(&[2]),
            false,
            100,
            1050
        ));
        assert!(needs_update(
            Some(&e),
            &set(&[1]),
            &set(&[]),
            false,
            100,
            1100
        ));
        assert!(needs_update(
            Some(&e),
            &set(&[]),
            &set(&[1, 2]),
            false,
            100,
            1050
        ));
        let gone = Entry {
            firing: set(&[]),
            resolved: set(&[1]),
            timestamp_ms: 0,
        };
        assert!(!needs_update(
            Some(&gone),
            &set(&[]),
            &set(&[1]),
            true,
            100,
            5000
        ));
    }

    #[test]
    fn persists() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = NotificationLog::open(Some(dir.path().to_path_buf())).unwrap();
        l.log(
            "k".into(),
            Entry {
                firing: set(&[7]),
                resolved: set(&[]),
                timestamp_ms: 5,
            },
        )
        .unwrap();
        let l2 = NotificationLog::open(Some(dir.path().to_path_buf())).unwrap();
        assert_eq!(l2.get("k").unwrap().firing, set(&[7]));
    }
}
