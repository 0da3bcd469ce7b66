//! Dashboard version history, as Grafana keeps it: every save stores the dashboard as it was
//! saved, in `<data>/dashboards/versions/<uid>/<version>.json` (written atomically), with who,
//! when, the save message and what it was restored from. The newest [`KEEP`] versions of a
//! dashboard are kept (Grafana's `versions_to_keep` default).

use crate::json::{self, Map, Value};
use crate::store::{now_ms, rfc3339, write_atomic};
use std::path::{Path, PathBuf};

/// How many versions of one dashboard are kept.
pub const KEEP: usize = 20;

/// One stored version's metadata (the dashboard itself is read with [`read`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionMeta {
    pub version: i64,
    pub parent_version: i64,
    pub restored_from: i64,
    pub created_ms: i64,
    pub message: String,
}

fn dir_of(db_dir: &Path, uid: &str) -> PathBuf {
    db_dir.join("versions").join(uid)
}

/// Stores a saved dashboard as version `meta.version` and drops versions beyond [`KEEP`].
pub fn record(
    db_dir: &Path,
    uid: &str,
    meta: &VersionMeta,
    dashboard: &Value,
) -> Result<(), String> {
    let dir = dir_of(db_dir, uid);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut top = Map::new();
    top.insert("version", Value::from_i64(meta.version));
    top.insert("parentVersion", Value::from_i64(meta.parent_version));
    top.insert("restoredFrom", Value::from_i64(meta.restored_from));
    top.insert("created", Value::from(rfc3339(meta.created_ms)));
    top.insert("message", Value::from(meta.message.clone()));
    top.insert("dashboard", dashboard.clone());
    let path = dir.join(format!("{}.json", meta.version));
    write_atomic(&path, json::to_pretty(&Value::Object(top), "  ").as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut all = numbers(&dir);
    all.sort_unstable_by(|a, b| b.cmp(a));
    for old in all.into_iter().skip(KEEP) {
        let _ = std::fs::remove_file(dir.join(format!("{old}.json")));
    }
    Ok(())
}

/// The version numbers stored for a dashboard directory.
fn numbers(dir: &Path) -> Vec<i64> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".json")?.parse::<i64>().ok()
        })
        .filter(|n| *n > 0)
        .collect()
}

fn meta_of(v: &Value, version: i64, fallback_ms: i64) -> VersionMeta {
    let i = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
    VersionMeta {
        version,
        parent_version: i("parentVersion"),
        restored_from: i("restoredFrom"),
        created_ms: v
            .get("created")
            .and_then(Value::as_str)
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.timestamp_millis())
            .unwrap_or(fallback_ms),
        message: v
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    }
}

/// One version: its metadata and the dashboard as saved. Unreadable files count as missing.
pub fn read(db_dir: &Path, uid: &str, version: i64) -> Option<(VersionMeta, Value)> {
    if version <= 0 {
        return None;
    }
    let path = dir_of(db_dir, uid).join(format!("{version}.json"));
    let bytes = std::fs::read(&path).ok()?;
    let top = match json::parse(&bytes) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("dashboard version {}: {e}; skipped", path.display());
            return None;
        }
    };
    let dashboard = top.get("dashboard").cloned()?;
    dashboard.as_object()?;
    Some((meta_of(&top, version, now_ms()), dashboard))
}

/// Every stored version of a dashboard, newest first.
pub fn list(db_dir: &Path, uid: &str) -> Vec<VersionMeta> {
    let mut all = numbers(&dir_of(db_dir, uid));
    all.sort_unstable_by(|a, b| b.cmp(a));
    all.into_iter()
        .filter_map(|n| read(db_dir, uid, n).map(|(m, _)| m))
        .collect()
}

/// Removes a deleted dashboard's history.
pub fn remove(db_dir: &Path, uid: &str) {
    let _ = std::fs::remove_dir_all(dir_of(db_dir, uid));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dash(title: &str) -> Value {
        json::parse(format!(r#"{{"title":"{title}","panels":[]}}"#).as_bytes()).unwrap()
    }

    fn meta(version: i64) -> VersionMeta {
        VersionMeta {
            version,
            parent_version: version - 1,
            restored_from: 0,
            created_ms: 1_700_000_000_000 + version,
            message: format!("save {version}"),
        }
    }

    #[test]
    fn record_read_list_and_keep_the_newest() {
        let d = tempfile::tempdir().unwrap();
        for v in 1..=25 {
            record(d.path(), "abc", &meta(v), &dash(&format!("t{v}"))).unwrap();
        }
        let l = list(d.path(), "abc");
        assert_eq!(l.len(), KEEP);
        assert_eq!(l[0].version, 25);
        assert_eq!(l[KEEP - 1].version, 6);
        assert_eq!(l[0].message, "save 25");
        assert_eq!(l[0].created_ms, 1_700_000_000_000);
        let (m, body) = read(d.path(), "abc", 7).unwrap();
        assert_eq!(m.parent_version, 6);
        assert_eq!(body.get("title").and_then(Value::as_str), Some("t7"));
        assert!(read(d.path(), "abc", 3).is_none());
        assert!(read(d.path(), "abc", 0).is_none());
        assert!(read(d.path(), "other", 7).is_none());
        remove(d.path(), "abc");
        assert!(list(d.path(), "abc").is_empty());
    }

    #[test]
    fn broken_and_foreign_files_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        record(d.path(), "abc", &meta(1), &dash("one")).unwrap();
        let dir = d.path().join("versions").join("abc");
        std::fs::write(dir.join("2.json"), "{not json").unwrap();
        std::fs::write(dir.join("3.json"), r#"{"dashboard": 5}"#).unwrap();
        std::fs::write(dir.join("notes.txt"), "x").unwrap();
        std::fs::write(dir.join("-1.json"), "{}").unwrap();
        let l = list(d.path(), "abc");
        assert_eq!(l.iter().map(|m| m.version).collect::<Vec<_>>(), [1]);
    }
}
