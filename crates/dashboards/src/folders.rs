//! Folders created through Grafana's folder API (`POST/PUT/DELETE /api/folders`): their uid
//! and title, kept in `<data>/dashboards/folders.json` (written atomically). Provisioned
//! folders come from the providers and are not stored here.

use crate::json::{self, Map, Value};
use crate::store::write_atomic;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn path_of(db_dir: &Path) -> PathBuf {
    db_dir.join("folders.json")
}

/// uid → title of the created folders; a missing or broken file is none (logged).
pub fn load(db_dir: &Path) -> BTreeMap<String, String> {
    let path = path_of(db_dir);
    let Ok(bytes) = std::fs::read(&path) else {
        return BTreeMap::new();
    };
    match json::parse(&bytes) {
        Ok(v) => v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| {
                        let uid = f.get("uid")?.as_str()?;
                        let title = f.get("title")?.as_str()?;
                        (!uid.is_empty()).then(|| (uid.to_string(), title.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        Err(e) => {
            tracing::warn!("{}: {e}; no folders loaded", path.display());
            BTreeMap::new()
        }
    }
}

pub fn save(db_dir: &Path, folders: &BTreeMap<String, String>) -> Result<(), String> {
    let path = path_of(db_dir);
    let v = Value::Array(
        folders
            .iter()
            .map(|(uid, title)| {
                let mut m = Map::new();
                m.insert("uid", Value::from(uid.clone()));
                m.insert("title", Value::from(title.clone()));
                Value::Object(m)
            })
            .collect(),
    );
    write_atomic(&path, json::to_pretty(&v, "  ").as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_entries() {
        let d = tempfile::tempdir().unwrap();
        assert!(load(d.path()).is_empty());
        let mut f = BTreeMap::new();
        f.insert("ops".to_string(), "Operations".to_string());
        save(d.path(), &f).unwrap();
        assert_eq!(load(d.path()), f);
        std::fs::write(
            d.path().join("folders.json"),
            r#"[{"uid":"a","title":"A"},{"uid":"","title":"x"},{"title":"no uid"},5]"#,
        )
        .unwrap();
        assert_eq!(load(d.path()).len(), 1);
        std::fs::write(d.path().join("folders.json"), "[").unwrap();
        assert!(load(d.path()).is_empty());
    }
}
