//! Dashboards as code: provisioned folders (Grafana's `provisioning/dashboards` idea). Every
//! `*.json` under a provider's folder (recursively; hidden files and folders skipped) is a
//! dashboard, bare or API-wrapped. [`Store::rescan`] compares modification times and sizes (and
//! a content hash when those moved), so an edited, added or removed file shows up on the next
//! scan with a higher version; a broken file is logged with its line and column and skipped
//! (the last good version stays). A writable provider takes saves back into the dashboard's
//! own file, atomically, in the file's key order and indentation, so a Git diff shows only
//! what changed.

use crate::grafana::{self, fnv64, slugify, stable_uid, validate_uid};
use crate::json::{self, Value};
use crate::store::{now_ms, write_atomic, Entry, Origin, Store};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One provisioned folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    /// The folder to load (already resolved against pharos.yml's directory).
    pub path: PathBuf,
    /// Whether saves through the API are written back into the files.
    pub writable: bool,
    /// Grafana folder the dashboards appear in (`""` = General).
    pub folder: String,
}

impl Provider {
    /// The uid of the provider's folder: its slug when that is a valid uid, else derived.
    pub fn folder_uid(&self) -> String {
        if self.folder.is_empty() {
            return String::new();
        }
        let slug = slugify(&self.folder);
        if validate_uid(&slug).is_ok() {
            slug
        } else {
            stable_uid(&format!("folder:{}", self.folder))
        }
    }
}

/// Where a provisioned dashboard lives and what its file looked like.
#[derive(Clone, Debug)]
pub struct FileOrigin {
    /// Index into the store's providers.
    pub provider: usize,
    pub path: PathBuf,
    /// Path relative to the provider folder, `/`-separated (Grafana's provisionedExternalId).
    pub rel: String,
    pub writable: bool,
    /// The file's top level when it is the wrapped form (`{"dashboard": ...}`).
    pub(crate) wrapper: Option<Value>,
    /// The file's own `id` (`None`: the file has no `id` key).
    pub(crate) file_id: Option<Value>,
    pub(crate) had_uid: bool,
    pub(crate) had_version: bool,
    pub(crate) indent: String,
}

/// What the last scan saw of a file.
#[derive(Clone, Debug)]
pub(crate) struct FileState {
    pub(crate) provider: usize,
    pub(crate) mtime: Option<SystemTime>,
    pub(crate) len: u64,
    pub(crate) hash: u64,
    /// The dashboard the file provides (`None`: broken or conflicting).
    pub(crate) uid: Option<String>,
}

const HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// `*.json` files under `root`, sorted; hidden entries skipped, symlinks followed (Kubernetes
/// ConfigMap volumes are symlinks) up to a depth that stops loops.
fn walk(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    fn go(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        if depth > 16 {
            return;
        }
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let hidden = e.file_name().to_string_lossy().starts_with('.');
            if hidden {
                continue;
            }
            let Ok(md) = std::fs::metadata(&p) else {
                continue;
            };
            if md.is_dir() {
                go(&p, depth + 1, out);
            } else if md.is_file() && p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    std::fs::metadata(root)?;
    let mut out = Vec::new();
    go(root, 0, &mut out);
    out.sort();
    Ok(out)
}

fn rel_path(root: &Path, p: &Path) -> String {
    let rel = p.strip_prefix(root).unwrap_or(p);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn ms_of(t: Option<SystemTime>) -> i64 {
    t.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .unwrap_or_else(now_ms)
}

/// Writes a provisioned dashboard back to its file: `id` and `uid` as the file had them (or
/// absent), `version` only when the file keeps one, the wrapper kept, the file's indentation,
/// a trailing newline. Returns the dashboard as now in the file and the file's new state.
pub(crate) fn write_back(f: &FileOrigin, served: &Value) -> std::io::Result<(Value, FileState)> {
    let mut d = served.clone();
    if let Some(m) = d.as_object_mut() {
        match &f.file_id {
            Some(v) => m.insert("id", v.clone()),
            None => {
                m.remove("id");
            }
        }
        if !f.had_uid {
            m.remove("uid");
        }
        if !f.had_version {
            m.remove("version");
        }
    }
    let top = match &f.wrapper {
        Some(w) => {
            let mut w = w.clone();
            grafana::set_key(&mut w, "dashboard", d.clone());
            w
        }
        None => d.clone(),
    };
    let text = json::to_pretty(&top, &f.indent);
    write_atomic(&f.path, text.as_bytes())?;
    let md = std::fs::metadata(&f.path)?;
    Ok((
        d,
        FileState {
            provider: f.provider,
            mtime: md.modified().ok(),
            len: md.len(),
            hash: fnv64(text.as_bytes(), HASH_SEED),
            uid: None,
        },
    ))
}

impl Store {
    /// Replaces the provisioning providers (at start and on a config reload) and loads them.
    pub fn set_providers(&self, providers: Vec<Provider>) {
        {
            let mut inner = self.inner.write();
            if inner.providers == providers {
                drop(inner);
                self.rescan();
                return;
            }
            for p in &providers {
                if p.path == self.db_dir() {
                    tracing::error!(
                        "dashboards provider {} is pharos' own dashboard directory; skipped",
                        p.path.display()
                    );
                }
            }
            inner.entries.retain(|_, e| !e.is_provisioned());
            inner.files.clear();
            inner.providers = providers;
        }
        self.rescan();
    }

    /// Looks at every provisioned file once; returns how many dashboards changed.
    pub fn rescan(&self) -> usize {
        let (providers, db_dir) = {
            let inner = self.inner.read();
            (inner.providers.clone(), self.db_dir().to_path_buf())
        };
        let mut seen: HashSet<PathBuf> = HashSet::new();
        let mut changed = 0;
        for (idx, p) in providers.iter().enumerate() {
            if p.path == db_dir {
                continue;
            }
            let files = match walk(&p.path) {
                Ok(f) => f,
                Err(e) => {
                    let mut inner = self.inner.write();
                    let marker = p.path.clone();
                    if !inner.files.contains_key(&marker) {
                        tracing::warn!(
                            "dashboards provider folder {}: {e}; nothing to load",
                            p.path.display()
                        );
                        // Remember the warning (a directory path is never a dashboard file).
                        inner.files.insert(
                            marker.clone(),
                            FileState {
                                provider: idx,
                                mtime: None,
                                len: 0,
                                hash: 0,
                                uid: None,
                            },
                        );
                    }
                    seen.insert(marker);
                    continue;
                }
            };
            for path in files {
                if !seen.insert(path.clone()) {
                    continue;
                }
                let Ok(md) = std::fs::metadata(&path) else {
                    continue;
                };
                let mtime = md.modified().ok();
                {
                    let inner = self.inner.read();
                    if let Some(st) = inner.files.get(&path) {
                        if st.provider == idx && st.mtime == mtime && st.len == md.len() {
                            continue;
                        }
                    }
                }
                let bytes = match std::fs::read(&path) {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!("dashboard file {}: {e}", path.display());
                        continue;
                    }
                };
                let hash = fnv64(&bytes, HASH_SEED);
                let mut inner = self.inner.write();
                if let Some(st) = inner.files.get_mut(&path) {
                    if st.provider == idx && st.hash == hash {
                        st.mtime = mtime;
                        st.len = md.len();
                        continue;
                    }
                }
                let rel = rel_path(&p.path, &path);
                let prev_uid = inner.files.get(&path).and_then(|s| s.uid.clone());
                let mut state = FileState {
                    provider: idx,
                    mtime,
                    len: md.len(),
                    hash,
                    uid: prev_uid,
                };
                match json::parse(&bytes) {
                    Err(e) => {
                        tracing::warn!(
                            "dashboard file {}:{}:{}: {}; skipped",
                            path.display(),
                            e.line,
                            e.column,
                            e.message
                        );
                    }
                    Ok(top) => {
                        let text = String::from_utf8_lossy(&bytes);
                        let loaded = LoadedFile {
                            provider_idx: idx,
                            provider: p,
                            path: &path,
                            rel: &rel,
                            top,
                            indent: json::detect_indent(&text),
                            mtime_ms: ms_of(mtime),
                        };
                        state.uid = apply_file(&mut inner, loaded, state.uid.take());
                        changed += 1;
                    }
                }
                inner.files.insert(path, state);
            }
        }
        // Files that went away take their dashboards with them.
        let mut inner = self.inner.write();
        let gone: Vec<PathBuf> = inner
            .files
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for path in gone {
            if let Some(st) = inner.files.remove(&path) {
                if let Some(uid) = st.uid {
                    let owned = matches!(
                        inner.entries.get(&uid).map(|e| &e.origin),
                        Some(Origin::File(f)) if f.path == path
                    );
                    if owned {
                        inner.entries.remove(&uid);
                        changed += 1;
                    }
                }
            }
        }
        changed
    }
}

struct LoadedFile<'a> {
    provider_idx: usize,
    provider: &'a Provider,
    path: &'a Path,
    rel: &'a str,
    top: Value,
    indent: String,
    mtime_ms: i64,
}

/// Puts a freshly read file into the store; returns the uid it provides.
fn apply_file(
    inner: &mut crate::store::Inner,
    f: LoadedFile<'_>,
    prev_uid: Option<String>,
) -> Option<String> {
    let wrapped = grafana::is_wrapped(&f.top);
    let dashboard = grafana::unwrap_dashboard(f.top.clone());
    if dashboard.as_object().is_none() {
        tracing::warn!(
            "dashboard file {}: not a dashboard (a JSON object); skipped",
            f.path.display()
        );
        return prev_uid;
    }
    let file_uid = dashboard.get("uid").and_then(Value::as_str).unwrap_or("");
    let had_uid = !file_uid.is_empty();
    let uid = if had_uid {
        match validate_uid(file_uid) {
            Ok(()) => file_uid.to_string(),
            Err(e) => {
                tracing::warn!(
                    "dashboard file {}: uid {file_uid:?}: {e}; skipped",
                    f.path.display()
                );
                return prev_uid;
            }
        }
    } else {
        stable_uid(&format!("{}/{}", f.provider.folder, f.rel))
    };
    if grafana::title_of(&dashboard).is_none() {
        tracing::warn!("dashboard file {}: no title", f.path.display());
    }
    // The file now provides another uid: the old dashboard goes.
    if let Some(old) = prev_uid.filter(|u| *u != uid) {
        let owned = matches!(
            inner.entries.get(&old).map(|e| &e.origin),
            Some(Origin::File(o)) if o.path == f.path
        );
        if owned {
            inner.entries.remove(&old);
        }
    }
    let existing = inner.entries.get(&uid).cloned();
    if let Some(e) = &existing {
        match &e.origin {
            Origin::File(o) if o.path != f.path => {
                tracing::warn!(
                    "dashboard file {}: uid {uid} is already provisioned from {}; skipped",
                    f.path.display(),
                    o.path.display()
                );
                return None;
            }
            Origin::Db => tracing::warn!(
                "dashboard file {} replaces the saved dashboard with uid {uid}",
                f.path.display()
            ),
            _ => {}
        }
    }
    let file_version = dashboard
        .get("version")
        .and_then(Value::as_i64)
        .filter(|v| *v > 0);
    let (id, version, created_ms) = match &existing {
        Some(e) => (
            e.id,
            (e.version + 1).max(file_version.unwrap_or(0)),
            e.created_ms,
        ),
        None => (inner.alloc_id(), file_version.unwrap_or(1), f.mtime_ms),
    };
    let origin = FileOrigin {
        provider: f.provider_idx,
        path: f.path.to_path_buf(),
        rel: f.rel.to_string(),
        writable: f.provider.writable,
        wrapper: wrapped.then(|| f.top.clone()),
        file_id: dashboard.get("id").cloned(),
        had_uid,
        had_version: dashboard.get("version").is_some(),
        indent: f.indent,
    };
    inner.entries.insert(
        uid.clone(),
        Entry {
            id,
            uid: uid.clone(),
            dashboard,
            version,
            created_ms,
            updated_ms: f.mtime_ms,
            folder_uid: f.provider.folder_uid(),
            message: String::new(),
            origin: Origin::File(origin),
        },
    );
    Some(uid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SaveRequest, StoreError};

    fn provider(dir: &Path, writable: bool) -> Provider {
        Provider {
            path: dir.to_path_buf(),
            writable,
            folder: String::new(),
        }
    }

    const FILE: &str = r#"{
  "title": "Service A",
  "uid": "svc-a",
  "tags": ["code"],
  "panels": [
    {
      "type": "timeseries",
      "title": "Requests",
      "targets": [{"expr": "sum(rate(http_requests_total[5m]))"}]
    }
  ],
  "zeta": 1,
  "alpha": 2,
  "version": 4
}
"#;

    #[test]
    fn loads_watches_and_removes() {
        let data = tempfile::tempdir().unwrap();
        let prov = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(prov.path().join("team/.hidden")).unwrap();
        std::fs::write(prov.path().join("a.json"), FILE).unwrap();
        std::fs::write(
            prov.path().join("team/b.json"),
            r#"{"dashboard":{"title":"B","panels":[]},"overwrite":true}"#,
        )
        .unwrap();
        std::fs::write(prov.path().join("team/.hidden/c.json"), r#"{"title":"C"}"#).unwrap();
        std::fs::write(prov.path().join("broken.json"), "{\n  \"title\": \"x\",\n}").unwrap();
        std::fs::write(prov.path().join("notes.txt"), "not json").unwrap();
        let s = Store::open(data.path(), vec![provider(prov.path(), false)]).unwrap();
        assert_eq!(s.counts().dashboards, 2);
        let a = s.get("svc-a").unwrap();
        assert_eq!(a.entry.version, 4);
        assert_eq!(a.provisioned_external_id, "a.json");
        assert_eq!(a.provisioned_writable, Some(false));
        // The wrapped file without uid gets a stable one.
        let b_uid = stable_uid("/team/b.json");
        let b = s.get(&b_uid).unwrap();
        assert_eq!(b.entry.title(), "B");
        assert_eq!(b.provisioned_external_id, "team/b.json");

        // Nothing changed: no version bump.
        assert_eq!(s.rescan(), 0);
        // Edit a file: new content, higher version.
        std::fs::write(
            prov.path().join("a.json"),
            FILE.replace("Service A", "Service A2"),
        )
        .unwrap();
        // Size changes, so the edit is seen whatever the mtime granularity.
        assert_eq!(s.rescan(), 1);
        let a2 = s.get("svc-a").unwrap();
        assert_eq!(a2.entry.title(), "Service A2");
        assert_eq!(a2.entry.version, 5);
        assert_eq!(a2.entry.id, a.entry.id);
        // A broken edit keeps the last good version.
        std::fs::write(prov.path().join("a.json"), "{ \"title\": ").unwrap();
        s.rescan();
        assert_eq!(s.get("svc-a").unwrap().entry.title(), "Service A2");
        // Remove a file.
        std::fs::remove_file(prov.path().join("team/b.json")).unwrap();
        s.rescan();
        assert!(s.get(&b_uid).is_none());
        // Add one.
        std::fs::write(
            prov.path().join("team/d.json"),
            r#"{"title":"D","uid":"d"}"#,
        )
        .unwrap();
        s.rescan();
        assert_eq!(s.get("d").unwrap().entry.version, 1);
    }

    #[test]
    fn read_only_provider_refuses_saves_and_deletes() {
        let data = tempfile::tempdir().unwrap();
        let prov = tempfile::tempdir().unwrap();
        std::fs::write(prov.path().join("a.json"), FILE).unwrap();
        let s = Store::open(data.path(), vec![provider(prov.path(), false)]).unwrap();
        let v = s.get("svc-a").unwrap();
        let e = s
            .save(SaveRequest {
                dashboard: v.dashboard,
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e, StoreError::ProvisionedReadOnly);
        assert_eq!(e.message(), "Cannot save provisioned dashboard");
        assert_eq!(
            s.delete("svc-a").unwrap_err(),
            StoreError::CannotDeleteProvisioned
        );
        assert_eq!(
            std::fs::read_to_string(prov.path().join("a.json")).unwrap(),
            FILE
        );
    }

    #[test]
    fn writable_save_is_a_minimal_diff() {
        let data = tempfile::tempdir().unwrap();
        let prov = tempfile::tempdir().unwrap();
        let path = prov.path().join("a.json");
        // A file as Grafana exports it (JSON.stringify(d, null, 2)).
        let before = json::to_pretty(&json::parse(FILE.as_bytes()).unwrap(), "  ");
        std::fs::write(&path, &before).unwrap();
        let s = Store::open(data.path(), vec![provider(prov.path(), true)]).unwrap();
        let mut d = s.get("svc-a").unwrap().dashboard;
        grafana::set_key(&mut d, "title", Value::from("Service B"));
        let saved = s
            .save(SaveRequest {
                dashboard: d,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(saved.version, 5);
        assert_eq!(saved.written_file.as_deref(), Some(path.as_path()));
        let after = std::fs::read_to_string(&path).unwrap();
        let changed: Vec<(&str, &str)> = before
            .lines()
            .zip(after.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(before.lines().count(), after.lines().count());
        assert_eq!(
            changed,
            vec![
                ("  \"title\": \"Service A\",", "  \"title\": \"Service B\","),
                ("  \"version\": 4", "  \"version\": 5"),
            ]
        );
        assert!(after.ends_with("}\n"));
        // The watcher does not count our own write as an edit.
        assert_eq!(s.rescan(), 0);
        assert_eq!(s.get("svc-a").unwrap().entry.version, 5);
        // No temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(prov.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["a.json".to_string()]);
    }

    #[test]
    fn writable_save_keeps_wrapper_and_absent_keys() {
        let data = tempfile::tempdir().unwrap();
        let prov = tempfile::tempdir().unwrap();
        let path = prov.path().join("w.json");
        let text = "{\n    \"dashboard\": {\n        \"title\": \"W\",\n        \"panels\": []\n    },\n    \"folderUid\": \"x\"\n}\n";
        std::fs::write(&path, text).unwrap();
        let s = Store::open(data.path(), vec![provider(prov.path(), true)]).unwrap();
        let uid = stable_uid("/w.json");
        let v = s.get(&uid).unwrap();
        assert_eq!(v.entry.version, 1);
        s.save(SaveRequest {
            dashboard: v.dashboard,
            ..Default::default()
        })
        .unwrap();
        // Same content: id, uid and version are the store's, not the file's.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert_eq!(s.get(&uid).unwrap().entry.version, 2);
    }

    #[test]
    fn provider_folders() {
        let data = tempfile::tempdir().unwrap();
        let prov = tempfile::tempdir().unwrap();
        std::fs::write(prov.path().join("a.json"), FILE).unwrap();
        let s = Store::open(
            data.path(),
            vec![Provider {
                path: prov.path().to_path_buf(),
                writable: false,
                folder: "Team A".into(),
            }],
        )
        .unwrap();
        let v = s.get("svc-a").unwrap();
        assert_eq!(v.folder.as_ref().map(|f| f.title.as_str()), Some("Team A"));
        assert_eq!(v.folder.as_ref().map(|f| f.uid.as_str()), Some("team-a"));
        assert_eq!(s.folders().len(), 1);
        // A missing provider folder is not an error.
        s.set_providers(vec![provider(&prov.path().join("nope"), false)]);
        assert_eq!(s.counts().dashboards, 0);
    }
}
