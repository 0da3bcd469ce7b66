//! Starred dashboards (Grafana's `/api/user/stars`): one set of uids for the one pharos user,
//! kept in `<data>/dashboards/stars.json` (a JSON array, written atomically).

use crate::json::{self, Value};
use crate::store::write_atomic;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn path_of(db_dir: &Path) -> PathBuf {
    db_dir.join("stars.json")
}

/// The starred uids on disk; a missing or broken file is no stars (logged).
pub fn load(db_dir: &Path) -> BTreeSet<String> {
    let path = path_of(db_dir);
    let Ok(bytes) = std::fs::read(&path) else {
        return BTreeSet::new();
    };
    match json::parse(&bytes) {
        Ok(v) => v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
        Err(e) => {
            tracing::warn!("{}: {e}; no dashboards starred", path.display());
            BTreeSet::new()
        }
    }
}

/// Writes the starred uids.
pub fn save(db_dir: &Path, stars: &BTreeSet<String>) -> Result<(), String> {
    let path = path_of(db_dir);
    let v = Value::Array(stars.iter().map(|s| Value::from(s.clone())).collect());
    write_atomic(&path, json::to_pretty(&v, "  ").as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_broken_file() {
        let d = tempfile::tempdir().unwrap();
        assert!(load(d.path()).is_empty());
        let set: BTreeSet<String> = ["b", "a"].iter().map(|s| s.to_string()).collect();
        save(d.path(), &set).unwrap();
        assert_eq!(load(d.path()), set);
        std::fs::write(d.path().join("stars.json"), "[1, \"x\", null]").unwrap();
        assert_eq!(load(d.path()).into_iter().collect::<Vec<_>>(), ["x"]);
        std::fs::write(d.path().join("stars.json"), "{").unwrap();
        assert!(load(d.path()).is_empty());
    }
}
