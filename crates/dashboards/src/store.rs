//! The dashboard store: every dashboard in memory by uid, the saved ones persisted one file per
//! dashboard as `<data>/dashboards/<uid>.json` (the API-wrapped form plus pharos' `meta`),
//! written atomically. Saving follows Grafana's `POST /api/dashboards/db` rules (uid and id
//! assignment, version check, same title in a folder, provisioned dashboards); search, tags and
//! folders follow Grafana's search API. Provisioned dashboards (files in watched folders) are
//! kept here too; loading and writing them back is in `provision`.

use crate::grafana::{self, slugify, tags_of, title_of, validate_uid};
use crate::json::{self, Map, Value};
use crate::provision::{FileOrigin, FileState, Provider};
use parking_lot::RwLock;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Where a dashboard comes from.
#[derive(Clone, Debug)]
pub enum Origin {
    /// Saved through the API, persisted under `<data>/dashboards/`.
    Db,
    /// Loaded from a provisioned folder.
    File(FileOrigin),
}

/// One dashboard and what Grafana keeps beside it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: i64,
    pub uid: String,
    /// The dashboard JSON: for saved ones as saved (with `id`, `uid`, `version`); for
    /// provisioned ones as their file has it.
    pub(crate) dashboard: Value,
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub folder_uid: String,
    pub message: String,
    pub origin: Origin,
}

impl Entry {
    pub fn title(&self) -> &str {
        title_of(&self.dashboard).unwrap_or("")
    }

    pub fn slug(&self) -> String {
        slugify(self.title())
    }

    pub fn url(&self) -> String {
        grafana::dashboard_url(&self.uid, &self.slug())
    }

    pub fn tags(&self) -> Vec<String> {
        tags_of(&self.dashboard)
    }

    pub fn is_provisioned(&self) -> bool {
        matches!(self.origin, Origin::File(_))
    }

    /// The dashboard as the API serves it: `id`, `uid` and `version` set to the store's.
    pub fn served_dashboard(&self) -> Value {
        let mut d = self.dashboard.clone();
        grafana::set_key(&mut d, "id", Value::from_i64(self.id));
        grafana::set_key(&mut d, "uid", Value::from(self.uid.clone()));
        grafana::set_key(&mut d, "version", Value::from_i64(self.version));
        d
    }
}

/// A folder, as Grafana's folder and search APIs list it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folder {
    pub id: i64,
    pub uid: String,
    pub title: String,
}

impl Folder {
    pub fn url(&self) -> String {
        format!("/dashboards/f/{}/{}", self.uid, slugify(&self.title))
    }
}

/// A `POST /api/dashboards/db` request.
#[derive(Clone, Debug, Default)]
pub struct SaveRequest {
    /// The dashboard, bare or wrapped.
    pub dashboard: Value,
    pub overwrite: bool,
    /// `None` keeps the current folder (`""` is the General folder).
    pub folder_uid: Option<String>,
    pub message: String,
    /// For a restore: the version restored (kept in the version history).
    pub restored_from: i64,
}

/// What a save stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    pub id: i64,
    pub uid: String,
    pub version: i64,
    pub slug: String,
    pub url: String,
    pub title: String,
    pub folder_uid: String,
    /// For provisioned dashboards: the file written.
    pub written_file: Option<PathBuf>,
}

/// Why a save or delete was refused, with Grafana's messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// 400.
    BadRequest(String),
    /// 400 "Dashboard title cannot be empty".
    TitleEmpty,
    /// 412, status `version-mismatch`.
    VersionMismatch,
    /// 412, status `name-exists`.
    NameExists,
    /// 400: a provisioned dashboard whose provider is not writable.
    ProvisionedReadOnly,
    /// 400: provisioned dashboards are deleted by removing their file.
    CannotDeleteProvisioned,
    /// 404.
    NotFound,
    /// 409 (folders: same uid or title).
    Conflict(String),
    /// 500: the disk refused.
    Io(String),
}

impl StoreError {
    /// Grafana's message for the error.
    pub fn message(&self) -> String {
        match self {
            StoreError::BadRequest(m) => m.clone(),
            StoreError::TitleEmpty => "Dashboard title cannot be empty".into(),
            StoreError::VersionMismatch => "The dashboard has been changed by someone else".into(),
            StoreError::NameExists => {
                "A dashboard with the same name in the folder already exists".into()
            }
            StoreError::ProvisionedReadOnly => "Cannot save provisioned dashboard".into(),
            StoreError::CannotDeleteProvisioned => "provisioned dashboard cannot be deleted".into(),
            StoreError::NotFound => "Dashboard not found".into(),
            StoreError::Conflict(m) => m.clone(),
            StoreError::Io(m) => m.clone(),
        }
    }

    /// Grafana's `status` field for 412 answers.
    pub fn status(&self) -> Option<&'static str> {
        match self {
            StoreError::VersionMismatch => Some("version-mismatch"),
            StoreError::NameExists => Some("name-exists"),
            _ => None,
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// A search: Grafana's `/api/search` parameters.
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    /// Case-insensitive substring of the title.
    pub query: String,
    /// Every tag must be present.
    pub tags: Vec<String>,
    /// `dash-db`, `dash-folder` or both (`None`).
    pub kind: Option<HitKind>,
    pub dashboard_uids: Vec<String>,
    pub dashboard_ids: Vec<i64>,
    /// Folders to search in (`""` or `general` = the General folder).
    pub folder_uids: Vec<String>,
    pub starred: bool,
    /// 0 = Grafana's default of 1000.
    pub limit: usize,
    /// 1-based.
    pub page: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HitKind {
    Dashboard,
    Folder,
}

impl HitKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            HitKind::Dashboard => "dash-db",
            HitKind::Folder => "dash-folder",
        }
    }
}

/// One search result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub id: i64,
    pub uid: String,
    pub title: String,
    pub slug: String,
    pub url: String,
    pub kind: HitKind,
    pub tags: Vec<String>,
    pub folder: Option<Folder>,
    pub provisioned: bool,
}

/// Counts for the overview page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub dashboards: usize,
    pub provisioned: usize,
}

pub(crate) struct Inner {
    pub(crate) entries: BTreeMap<String, Entry>,
    pub(crate) next_id: i64,
    pub(crate) providers: Vec<Provider>,
    pub(crate) files: HashMap<PathBuf, FileState>,
    folder_ids: HashMap<String, i64>,
    /// Folders created through the folder API: uid → title.
    created_folders: BTreeMap<String, String>,
}

impl Inner {
    pub(crate) fn alloc_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn uid_by_id(&self, id: i64) -> Option<String> {
        self.entries
            .values()
            .find(|e| e.id == id)
            .map(|e| e.uid.clone())
    }

    fn fresh_uid(&self) -> String {
        loop {
            let u = grafana::new_uid();
            if !self.entries.contains_key(&u) {
                return u;
            }
        }
    }

    /// The folder of a uid: a provider's folder, or a folder only named by saved dashboards.
    fn folder(&mut self, uid: &str) -> Option<Folder> {
        if uid.is_empty() || uid == "general" {
            return None;
        }
        let title = self
            .providers
            .iter()
            .find(|p| p.folder_uid() == uid)
            .map(|p| p.folder.clone())
            .or_else(|| self.created_folders.get(uid).cloned())
            .unwrap_or_else(|| uid.to_string());
        let id = match self.folder_ids.get(uid) {
            Some(id) => *id,
            None => {
                let id = self.alloc_id();
                self.folder_ids.insert(uid.to_string(), id);
                id
            }
        };
        Some(Folder {
            id,
            uid: uid.to_string(),
            title,
        })
    }

    /// The folder uid a dashboard goes into.
    fn folder_uid_of(&self, e: &Entry) -> String {
        match &e.origin {
            Origin::File(f) => self
                .providers
                .get(f.provider)
                .map(Provider::folder_uid)
                .unwrap_or_default(),
            Origin::Db => e.folder_uid.clone(),
        }
    }
}

/// The dashboard store. Share it behind an `Arc`.
pub struct Store {
    db_dir: PathBuf,
    pub(crate) inner: RwLock<Inner>,
    stars: RwLock<std::collections::BTreeSet<String>>,
}

/// A dashboard with its metadata, as `GET /api/dashboards/uid/{uid}` needs it.
#[derive(Clone, Debug)]
pub struct DashboardView {
    pub dashboard: Value,
    pub entry: Entry,
    pub folder: Option<Folder>,
    /// The provider's `writable`, for provisioned dashboards.
    pub provisioned_writable: Option<bool>,
    /// Path of the provisioned file relative to its provider folder.
    pub provisioned_external_id: String,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

fn current_meta(e: &Entry) -> crate::versions::VersionMeta {
    crate::versions::VersionMeta {
        version: e.version,
        parent_version: e.version - 1,
        restored_from: 0,
        created_ms: e.updated_ms,
        message: e.message.clone(),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader (or a crash) sees the old or the new file, never half of one. Keeps the permissions
/// of the file it replaces.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dashboard".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        if let Ok(m) = std::fs::metadata(path) {
            let _ = std::fs::set_permissions(&tmp, m.permissions());
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

impl Store {
    /// Opens the store: loads the saved dashboards of `db_dir` (created if missing), then the
    /// provisioned folders. Broken files are logged and skipped.
    pub fn open(db_dir: &Path, providers: Vec<Provider>) -> Result<Store, String> {
        std::fs::create_dir_all(db_dir)
            .map_err(|e| format!("cannot create {}: {e}", db_dir.display()))?;
        let store = Store {
            db_dir: db_dir.to_path_buf(),
            inner: RwLock::new(Inner {
                entries: BTreeMap::new(),
                next_id: 1,
                providers: Vec::new(),
                files: HashMap::new(),
                folder_ids: HashMap::new(),
                created_folders: crate::folders::load(db_dir),
            }),
            stars: RwLock::new(crate::stars::load(db_dir)),
        };
        store.load_db()?;
        store.set_providers(providers);
        Ok(store)
    }

    /// The directory of saved dashboards.
    pub fn db_dir(&self) -> &Path {
        &self.db_dir
    }

    fn load_db(&self) -> Result<(), String> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&self.db_dir)
            .map_err(|e| format!("cannot read {}: {e}", self.db_dir.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
            .collect();
        paths.sort();
        let mut loaded: Vec<Entry> = Vec::new();
        for p in paths {
            match load_db_file(&p) {
                Ok(e) => loaded.push(e),
                Err(e) => tracing::warn!("dashboard file {}: {e}; skipped", p.display()),
            }
        }
        let mut inner = self.inner.write();
        let mut used = std::collections::HashSet::new();
        let mut need_id = Vec::new();
        for mut e in loaded {
            if inner.entries.contains_key(&e.uid) {
                tracing::warn!("dashboard uid {} saved twice; keeping the first", e.uid);
                continue;
            }
            if e.id > 0 && used.insert(e.id) {
                inner.next_id = inner.next_id.max(e.id + 1);
            } else {
                e.id = 0;
                need_id.push(e.uid.clone());
            }
            inner.entries.insert(e.uid.clone(), e);
        }
        for uid in need_id {
            let id = inner.alloc_id();
            if let Some(e) = inner.entries.get_mut(&uid) {
                e.id = id;
                grafana::set_key(&mut e.dashboard, "id", Value::from_i64(id));
            }
        }
        Ok(())
    }

    /// The dashboard with its metadata.
    pub fn get(&self, uid: &str) -> Option<DashboardView> {
        let mut inner = self.inner.write();
        let e = inner.entries.get(uid)?.clone();
        let folder_uid = inner.folder_uid_of(&e);
        let folder = inner.folder(&folder_uid);
        let (writable, rel) = match &e.origin {
            Origin::File(f) => (Some(f.writable), f.rel.clone()),
            Origin::Db => (None, String::new()),
        };
        Some(DashboardView {
            dashboard: e.served_dashboard(),
            entry: e,
            folder,
            provisioned_writable: writable,
            provisioned_external_id: rel,
        })
    }

    /// Every dashboard (for exports and counts), in uid order.
    pub fn entries(&self) -> Vec<Entry> {
        self.inner.read().entries.values().cloned().collect()
    }

    pub fn counts(&self) -> Counts {
        let inner = self.inner.read();
        Counts {
            dashboards: inner.entries.len(),
            provisioned: inner
                .entries
                .values()
                .filter(|e| e.is_provisioned())
                .count(),
        }
    }

    /// Creates or updates a dashboard with Grafana's rules.
    pub fn save(&self, req: SaveRequest) -> Result<Saved, StoreError> {
        let mut dash = grafana::unwrap_dashboard(req.dashboard);
        if dash.as_object().is_none() {
            return Err(StoreError::BadRequest(
                "dashboard must be a JSON object".into(),
            ));
        }
        let title = title_of(&dash).ok_or(StoreError::TitleEmpty)?.to_string();
        let posted_uid = dash
            .get("uid")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .map(String::from);
        if let Some(u) = &posted_uid {
            validate_uid(u).map_err(StoreError::BadRequest)?;
        }
        let posted_id = dash.get("id").and_then(Value::as_i64).filter(|i| *i > 0);
        let posted_version = dash.get("version").and_then(Value::as_i64).unwrap_or(0);

        let mut inner = self.inner.write();
        let mut uid = posted_uid.or_else(|| posted_id.and_then(|id| inner.uid_by_id(id)));
        let mut existing = uid.as_ref().and_then(|u| inner.entries.get(u)).cloned();
        let folder_uid = match &existing {
            Some(e) if e.is_provisioned() => inner.folder_uid_of(e),
            Some(e) => req
                .folder_uid
                .clone()
                .unwrap_or_else(|| e.folder_uid.clone()),
            None => req.folder_uid.clone().unwrap_or_default(),
        };
        let folder_uid = if folder_uid == "general" {
            String::new()
        } else {
            folder_uid
        };
        // Another dashboard with the same title in the same folder.
        let same_title = inner
            .entries
            .values()
            .find(|o| {
                Some(&o.uid) != uid.as_ref()
                    && inner.folder_uid_of(o) == folder_uid
                    && o.title() == title
            })
            .cloned();
        if let Some(other) = same_title {
            if !req.overwrite {
                return Err(StoreError::NameExists);
            }
            if existing.is_none() {
                uid = Some(other.uid.clone());
                existing = Some(other);
            }
        }
        if let Some(e) = &existing {
            if let Origin::File(f) = &e.origin {
                if !f.writable {
                    return Err(StoreError::ProvisionedReadOnly);
                }
            }
            if posted_version != e.version && !req.overwrite {
                return Err(StoreError::VersionMismatch);
            }
        }
        let uid = uid.unwrap_or_else(|| inner.fresh_uid());
        let now = now_ms();
        let (id, version, created_ms) = match &existing {
            Some(e) => (e.id, e.version + 1, e.created_ms),
            None => (inner.alloc_id(), 1, now),
        };
        grafana::set_key(&mut dash, "id", Value::from_i64(id));
        grafana::set_key(&mut dash, "uid", Value::from(uid.clone()));
        grafana::set_key(&mut dash, "version", Value::from_i64(version));
        let mut entry = Entry {
            id,
            uid: uid.clone(),
            dashboard: dash,
            version,
            created_ms,
            updated_ms: now,
            folder_uid: folder_uid.clone(),
            message: req.message,
            origin: existing
                .as_ref()
                .map(|e| e.origin.clone())
                .unwrap_or(Origin::Db),
        };
        let mut written_file = None;
        match &entry.origin {
            Origin::File(f) => {
                let f = f.clone();
                let (file_dashboard, state) = crate::provision::write_back(&f, &entry.dashboard)
                    .map_err(|e| {
                        StoreError::Io(format!("cannot write {}: {e}", f.path.display()))
                    })?;
                entry.dashboard = file_dashboard;
                let mut state = state;
                state.uid = Some(uid.clone());
                inner.files.insert(f.path.clone(), state);
                written_file = Some(f.path.clone());
            }
            Origin::Db => {
                self.persist(&entry).map_err(StoreError::Io)?;
            }
        }
        let meta = crate::versions::VersionMeta {
            version,
            parent_version: existing.as_ref().map(|e| e.version).unwrap_or(0),
            restored_from: req.restored_from,
            created_ms: now,
            message: entry.message.clone(),
        };
        if let Err(e) = crate::versions::record(&self.db_dir, &uid, &meta, &entry.dashboard) {
            tracing::warn!("dashboard {uid}: version {version} not kept in the history: {e}");
        }
        let saved = Saved {
            id,
            uid: uid.clone(),
            version,
            slug: entry.slug(),
            url: entry.url(),
            title,
            folder_uid,
            written_file,
        };
        inner.entries.insert(uid, entry);
        Ok(saved)
    }

    /// Writes a saved dashboard's file.
    fn persist(&self, e: &Entry) -> Result<(), String> {
        let mut meta = Map::new();
        meta.insert("created", Value::from(rfc3339(e.created_ms)));
        meta.insert("updated", Value::from(rfc3339(e.updated_ms)));
        meta.insert("folderUid", Value::from(e.folder_uid.clone()));
        meta.insert("message", Value::from(e.message.clone()));
        let mut top = Map::new();
        top.insert("dashboard", e.dashboard.clone());
        top.insert("meta", Value::Object(meta));
        let path = self.db_dir.join(format!("{}.json", e.uid));
        write_atomic(&path, json::to_pretty(&Value::Object(top), "  ").as_bytes())
            .map_err(|err| format!("cannot write {}: {err}", path.display()))
    }

    /// Deletes a saved dashboard (provisioned ones go away with their file).
    pub fn delete(&self, uid: &str) -> Result<Entry, StoreError> {
        let mut inner = self.inner.write();
        let e = inner.entries.get(uid).ok_or(StoreError::NotFound)?;
        if e.is_provisioned() {
            return Err(StoreError::CannotDeleteProvisioned);
        }
        let path = self.db_dir.join(format!("{uid}.json"));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StoreError::Io(format!(
                    "cannot delete {}: {e}",
                    path.display()
                )))
            }
        }
        crate::versions::remove(&self.db_dir, uid);
        {
            let mut stars = self.stars.write();
            if stars.remove(uid) {
                let _ = crate::stars::save(&self.db_dir, &stars);
            }
        }
        inner.entries.remove(uid).ok_or(StoreError::NotFound)
    }

    /// Creates a folder (Grafana's `POST /api/folders`); a missing uid gets a fresh one.
    pub fn create_folder(&self, uid: Option<String>, title: &str) -> Result<Folder, StoreError> {
        let title = title.trim();
        if title.is_empty() {
            return Err(StoreError::BadRequest(
                "folder title cannot be empty".into(),
            ));
        }
        if let Some(u) = &uid {
            validate_uid(u).map_err(StoreError::BadRequest)?;
            if u == "general" {
                return Err(StoreError::BadRequest(
                    "uid general is the General folder".into(),
                ));
            }
        }
        let existing = self.folders();
        if uid
            .as_ref()
            .is_some_and(|u| existing.iter().any(|f| &f.uid == u))
        {
            return Err(StoreError::Conflict(
                "a folder with the same uid already exists".into(),
            ));
        }
        if existing.iter().any(|f| f.title == title) {
            return Err(StoreError::Conflict(
                "a folder or dashboard in the general folder with the same name already exists"
                    .into(),
            ));
        }
        let mut inner = self.inner.write();
        let uid = uid.unwrap_or_else(|| inner.fresh_uid());
        let mut next = inner.created_folders.clone();
        next.insert(uid.clone(), title.to_string());
        crate::folders::save(&self.db_dir, &next).map_err(StoreError::Io)?;
        inner.created_folders = next;
        inner.folder(&uid).ok_or(StoreError::NotFound)
    }

    /// Renames a created folder (`PUT /api/folders/{uid}`).
    pub fn rename_folder(&self, uid: &str, title: &str) -> Result<Folder, StoreError> {
        let title = title.trim();
        if title.is_empty() {
            return Err(StoreError::BadRequest(
                "folder title cannot be empty".into(),
            ));
        }
        if self
            .folders()
            .iter()
            .any(|f| f.title == title && f.uid != uid)
        {
            return Err(StoreError::Conflict(
                "a folder with the same name already exists".into(),
            ));
        }
        let mut inner = self.inner.write();
        if inner.providers.iter().any(|p| p.folder_uid() == uid) {
            return Err(StoreError::BadRequest(
                "a provisioned folder is renamed in pharos.yml (dashboards: folder)".into(),
            ));
        }
        let named = inner.entries.values().any(|e| e.folder_uid == uid);
        if !inner.created_folders.contains_key(uid) && !named {
            return Err(StoreError::NotFound);
        }
        let mut next = inner.created_folders.clone();
        next.insert(uid.to_string(), title.to_string());
        crate::folders::save(&self.db_dir, &next).map_err(StoreError::Io)?;
        inner.created_folders = next;
        inner.folder(uid).ok_or(StoreError::NotFound)
    }

    /// Deletes a folder and the saved dashboards in it, as Grafana does
    /// (`DELETE /api/folders/{uid}`); provisioned folders go with their provider.
    pub fn delete_folder(&self, uid: &str) -> Result<Folder, StoreError> {
        let (folder, dashboards) = {
            let mut inner = self.inner.write();
            if inner.providers.iter().any(|p| p.folder_uid() == uid) {
                return Err(StoreError::BadRequest(
                    "a provisioned folder is removed from pharos.yml, not deleted".into(),
                ));
            }
            let named: Vec<String> = inner
                .entries
                .values()
                .filter(|e| e.folder_uid == uid && !e.is_provisioned())
                .map(|e| e.uid.clone())
                .collect();
            if !inner.created_folders.contains_key(uid) && named.is_empty() {
                return Err(StoreError::NotFound);
            }
            (inner.folder(uid).ok_or(StoreError::NotFound)?, named)
        };
        for d in dashboards {
            self.delete(&d)?;
        }
        let mut inner = self.inner.write();
        let mut next = inner.created_folders.clone();
        if next.remove(uid).is_some() {
            crate::folders::save(&self.db_dir, &next).map_err(StoreError::Io)?;
            inner.created_folders = next;
        }
        Ok(folder)
    }

    /// Stars a dashboard (`false`: no such dashboard).
    pub fn star(&self, uid: &str, on: bool) -> Result<(), StoreError> {
        if !self.inner.read().entries.contains_key(uid) {
            return Err(StoreError::NotFound);
        }
        let mut stars = self.stars.write();
        let changed = if on {
            stars.insert(uid.to_string())
        } else {
            stars.remove(uid)
        };
        if changed {
            crate::stars::save(&self.db_dir, &stars).map_err(StoreError::Io)?;
        }
        Ok(())
    }

    pub fn is_starred(&self, uid: &str) -> bool {
        self.stars.read().contains(uid)
    }

    /// The starred dashboards' uids.
    pub fn starred(&self) -> Vec<String> {
        self.stars.read().iter().cloned().collect()
    }

    /// The version history of a dashboard, newest first (`None`: no such dashboard). A
    /// dashboard saved before histories were kept shows its current version.
    pub fn versions(&self, uid: &str) -> Option<Vec<crate::versions::VersionMeta>> {
        let e = self.inner.read().entries.get(uid)?.clone();
        let mut list = crate::versions::list(&self.db_dir, uid);
        if !list.iter().any(|m| m.version == e.version) {
            list.insert(0, current_meta(&e));
        }
        Some(list)
    }

    /// One version of a dashboard and the dashboard as it was then.
    pub fn version(
        &self,
        uid: &str,
        version: i64,
    ) -> Option<(crate::versions::VersionMeta, Value)> {
        let e = self.inner.read().entries.get(uid)?.clone();
        crate::versions::read(&self.db_dir, uid, version)
            .or_else(|| (version == e.version).then(|| (current_meta(&e), e.served_dashboard())))
    }

    /// Saves an old version as the newest one (Grafana's restore).
    pub fn restore(&self, uid: &str, version: i64) -> Result<Saved, StoreError> {
        let current = self
            .inner
            .read()
            .entries
            .get(uid)
            .map(|e| e.version)
            .ok_or(StoreError::NotFound)?;
        let (_, mut dashboard) = self.version(uid, version).ok_or_else(|| {
            StoreError::BadRequest(format!("dashboard {uid} has no version {version}"))
        })?;
        grafana::set_key(&mut dashboard, "uid", Value::from(uid.to_string()));
        grafana::set_key(&mut dashboard, "version", Value::from_i64(current));
        self.save(SaveRequest {
            dashboard,
            overwrite: false,
            folder_uid: None,
            message: format!("Restored from version {version}"),
            restored_from: version,
        })
    }

    /// Folders: those of the provisioning providers and those saved dashboards name.
    pub fn folders(&self) -> Vec<Folder> {
        let mut inner = self.inner.write();
        let mut uids: Vec<String> = inner.providers.iter().map(Provider::folder_uid).collect();
        let named: Vec<String> = inner
            .entries
            .values()
            .map(|e| e.folder_uid.clone())
            .collect();
        uids.extend(named);
        uids.extend(inner.created_folders.keys().cloned());
        uids.sort();
        uids.dedup();
        let mut out: Vec<Folder> = uids.iter().filter_map(|u| inner.folder(u)).collect();
        out.sort_by_key(|f| f.title.to_lowercase());
        out
    }

    /// Grafana's search: folders (when asked for and not filtered by tag) then dashboards,
    /// each sorted by title.
    pub fn search(&self, q: &SearchQuery) -> Vec<Hit> {
        let needle = q.query.to_lowercase();
        let in_folder = |f: &str| {
            q.folder_uids.is_empty()
                || q.folder_uids.iter().any(|u| {
                    let u = if u == "general" { "" } else { u.as_str() };
                    u == f
                })
        };
        let mut hits = Vec::new();
        let starred = q.starred.then(|| self.stars.read().clone());
        let want_folders = starred.is_none()
            && matches!(q.kind, None | Some(HitKind::Folder))
            && q.tags.is_empty()
            && q.dashboard_uids.is_empty()
            && q.dashboard_ids.is_empty()
            && q.folder_uids.is_empty();
        if want_folders {
            for f in self.folders() {
                if f.title.to_lowercase().contains(&needle) {
                    hits.push(Hit {
                        id: f.id,
                        uid: f.uid.clone(),
                        title: f.title.clone(),
                        slug: slugify(&f.title),
                        url: f.url(),
                        kind: HitKind::Folder,
                        tags: vec![],
                        folder: None,
                        provisioned: false,
                    });
                }
            }
        }
        if matches!(q.kind, None | Some(HitKind::Dashboard)) {
            let mut inner = self.inner.write();
            let entries: Vec<Entry> = inner.entries.values().cloned().collect();
            let mut dash_hits = Vec::new();
            for e in entries {
                let tags = e.tags();
                let folder_uid = inner.folder_uid_of(&e);
                if !e.title().to_lowercase().contains(&needle)
                    || !q.tags.iter().all(|t| tags.contains(t))
                    || (!q.dashboard_uids.is_empty() && !q.dashboard_uids.contains(&e.uid))
                    || (!q.dashboard_ids.is_empty() && !q.dashboard_ids.contains(&e.id))
                    || !in_folder(&folder_uid)
                    || starred.as_ref().is_some_and(|st| !st.contains(&e.uid))
                {
                    continue;
                }
                dash_hits.push(Hit {
                    id: e.id,
                    uid: e.uid.clone(),
                    title: e.title().to_string(),
                    slug: e.slug(),
                    url: e.url(),
                    kind: HitKind::Dashboard,
                    tags,
                    folder: inner.folder(&folder_uid),
                    provisioned: e.is_provisioned(),
                });
            }
            dash_hits.sort_by(|a, b| {
                a.title
                    .to_lowercase()
                    .cmp(&b.title.to_lowercase())
                    .then_with(|| a.uid.cmp(&b.uid))
            });
            hits.extend(dash_hits);
        }
        let limit = match q.limit {
            0 => 1000,
            n => n.min(5000),
        };
        let skip = q.page.saturating_sub(1).saturating_mul(limit);
        hits.into_iter().skip(skip).take(limit).collect()
    }

    /// Every tag with the number of dashboards carrying it, sorted by tag.
    pub fn tags(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for e in self.inner.read().entries.values() {
            let mut tags = e.tags();
            tags.sort();
            tags.dedup();
            for t in tags {
                *counts.entry(t).or_default() += 1;
            }
        }
        counts.into_iter().collect()
    }
}

/// Reads one file of the saved-dashboards directory.
fn load_db_file(p: &Path) -> Result<Entry, String> {
    let bytes = std::fs::read(p).map_err(|e| e.to_string())?;
    let top = json::parse(&bytes).map_err(|e| e.to_string())?;
    let mtime_ms = std::fs::metadata(p)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .unwrap_or_else(now_ms);
    let meta = top.get("meta").cloned().unwrap_or_default();
    let dashboard = grafana::unwrap_dashboard(top);
    if dashboard.as_object().is_none() {
        return Err("not a dashboard object".into());
    }
    let stem = p
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let uid = dashboard
        .get("uid")
        .and_then(Value::as_str)
        .filter(|u| validate_uid(u).is_ok())
        .map(String::from)
        .or_else(|| validate_uid(&stem).ok().map(|_| stem.clone()))
        .ok_or("no valid uid")?;
    let ms = |k: &str| meta.get(k).and_then(Value::as_str).and_then(parse_rfc3339);
    let mut dashboard = dashboard;
    grafana::set_key(&mut dashboard, "uid", Value::from(uid.clone()));
    let version = dashboard
        .get("version")
        .and_then(Value::as_i64)
        .filter(|v| *v > 0)
        .unwrap_or(1);
    Ok(Entry {
        id: dashboard.get("id").and_then(Value::as_i64).unwrap_or(0),
        uid,
        version,
        created_ms: ms("created").unwrap_or(mtime_ms),
        updated_ms: ms("updated").unwrap_or(mtime_ms),
        folder_uid: meta
            .get("folderUid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        message: meta
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        dashboard,
        origin: Origin::Db,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    fn req(text: &str, overwrite: bool) -> SaveRequest {
        SaveRequest {
            dashboard: parse(text.as_bytes()).unwrap(),
            overwrite,
            folder_uid: None,
            message: String::new(),
            restored_from: 0,
        }
    }

    #[test]
    fn save_assigns_uid_id_version_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), vec![]).unwrap();
        let a = s
            .save(req(
                r#"{"title":"Production Overview","tags":["a","b"],"panels":[]}"#,
                false,
            ))
            .unwrap();
        assert_eq!(a.version, 1);
        assert_eq!(a.slug, "production-overview");
        assert_eq!(a.url, format!("/d/{}/production-overview", a.uid));
        assert!(dir.path().join(format!("{}.json", a.uid)).exists());
        let v = s.get(&a.uid).unwrap();
        let keys: Vec<&String> = v.dashboard.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["title", "tags", "panels", "id", "uid", "version"]);
        // Update with the current version.
        let b = s
            .save(req(
                &format!(
                    r#"{{"uid":"{}","title":"Production Overview","version":1}}"#,
                    a.uid
                ),
                false,
            ))
            .unwrap();
        assert_eq!((b.id, b.version), (a.id, 2));
        // Stale version.
        let e = s
            .save(req(
                &format!(r#"{{"uid":"{}","title":"P","version":1}}"#, a.uid),
                false,
            ))
            .unwrap_err();
        assert_eq!(e, StoreError::VersionMismatch);
        assert_eq!(e.status(), Some("version-mismatch"));
        // Overwrite wins.
        let c = s
            .save(req(
                &format!(r#"{{"uid":"{}","title":"P","version":1}}"#, a.uid),
                true,
            ))
            .unwrap();
        assert_eq!(c.version, 3);
        // Survives a reopen.
        drop(s);
        let s = Store::open(dir.path(), vec![]).unwrap();
        let v = s.get(&a.uid).unwrap();
        assert_eq!(v.entry.version, 3);
        assert_eq!(v.entry.id, a.id);
        assert_eq!(v.entry.title(), "P");
        let d = s.save(req(r#"{"title":"Other"}"#, false)).unwrap();
        assert_ne!(d.id, a.id);
    }

    #[test]
    fn title_and_uid_errors() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), vec![]).unwrap();
        assert_eq!(
            s.save(req(r#"{"panels":[]}"#, false)).unwrap_err(),
            StoreError::TitleEmpty
        );
        assert_eq!(
            s.save(req(r#"{"title":"  "}"#, false)).unwrap_err(),
            StoreError::TitleEmpty
        );
        assert!(matches!(
            s.save(req(r#"{"title":"x","uid":"../../etc/passwd"}"#, false)),
            Err(StoreError::BadRequest(_))
        ));
        assert!(matches!(
            s.save(req(r#"[1]"#, false)),
            Err(StoreError::BadRequest(_))
        ));
    }

    #[test]
    fn same_title_in_folder() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), vec![]).unwrap();
        let a = s.save(req(r#"{"title":"Same"}"#, false)).unwrap();
        assert_eq!(
            s.save(req(r#"{"title":"Same"}"#, false)).unwrap_err(),
            StoreError::NameExists
        );
        // Overwrite replaces the one with that title.
        let b = s
            .save(req(r#"{"title":"Same","panels":[]}"#, true))
            .unwrap();
        assert_eq!(b.uid, a.uid);
        assert_eq!(b.version, 2);
        // Another folder is fine.
        let mut r = req(r#"{"title":"Same"}"#, false);
        r.folder_uid = Some("team".into());
        let c = s.save(r).unwrap();
        assert_ne!(c.uid, a.uid);
        assert_eq!(s.folders().len(), 1);
    }

    #[test]
    fn wrapped_form_and_id_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), vec![]).unwrap();
        let a = s
            .save(req(
                r#"{"dashboard":{"title":"W","panels":[{"title":"p"}]}}"#,
                false,
            ))
            .unwrap();
        let v = s.get(&a.uid).unwrap();
        assert_eq!(v.entry.title(), "W");
        // Update by id, without uid.
        let b = s
            .save(req(
                &format!(r#"{{"id":{},"title":"W2","version":1}}"#, a.id),
                false,
            ))
            .unwrap();
        assert_eq!(b.uid, a.uid);
    }

    #[test]
    fn search_tags_delete() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), vec![]).unwrap();
        let a = s
            .save(req(r#"{"title":"beta api","tags":["api","prod"]}"#, false))
            .unwrap();
        s.save(req(r#"{"title":"Alpha","tags":["prod"]}"#, false))
            .unwrap();
        s.save(req(r#"{"title":"gamma"}"#, false)).unwrap();
        let titles =
            |q: &SearchQuery| -> Vec<String> { s.search(q).into_iter().map(|h| h.title).collect() };
        assert_eq!(
            titles(&SearchQuery::default()),
            ["Alpha", "beta api", "gamma"]
        );
        assert_eq!(
            titles(&SearchQuery {
                query: "API".into(),
                ..Default::default()
            }),
            ["beta api"]
        );
        assert_eq!(
            titles(&SearchQuery {
                tags: vec!["prod".into()],
                ..Default::default()
            }),
            ["Alpha", "beta api"]
        );
        assert_eq!(
            titles(&SearchQuery {
                limit: 1,
                page: 2,
                ..Default::default()
            }),
            ["beta api"]
        );
        assert_eq!(
            s.tags(),
            vec![("api".to_string(), 1), ("prod".to_string(), 2)]
        );
        let gone = s.delete(&a.uid).unwrap();
        assert_eq!(gone.title(), "beta api");
        assert!(!dir.path().join(format!("{}.json", a.uid)).exists());
        assert_eq!(s.delete(&a.uid).unwrap_err(), StoreError::NotFound);
        assert!(s.get(&a.uid).is_none());
    }

    #[test]
    fn broken_saved_file_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.json"), "{ nope").unwrap();
        std::fs::write(
            dir.path().join("good.json"),
            r#"{"title":"From disk","id":7}"#,
        )
        .unwrap();
        let s = Store::open(dir.path(), vec![]).unwrap();
        let v = s.get("good").unwrap();
        assert_eq!(v.entry.id, 7);
        assert_eq!(s.counts().dashboards, 1);
        let n = s.save(req(r#"{"title":"new"}"#, false)).unwrap();
        assert_eq!(n.id, 8);
    }
}
