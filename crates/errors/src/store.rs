//! The error store: projects and their keys, events made durable in a write-ahead log before
//! they are acknowledged, and the issue index (grouping, counts, users, tag breakdowns, status,
//! regressions) rebuilt from that log at start. Issue statuses and API-created projects live in
//! `state.json` beside the log (written atomically). Retention drops whole log segments by age
//! or total size, and the events and issues they held.

use crate::envelope::{self, Envelope};
use crate::event::{self, rfc3339};
use crate::grouping;
use crate::hooks::{ErrorHooks, IssueEvent, IssueEventKind};
use crate::limits::RateLimiter;
use crate::scrub::{self, ScrubOptions};
use parking_lot::{Mutex, RwLock};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Distinct values kept per tag of an issue (the rest are counted under `other`).
const MAX_TAG_VALUES: usize = 1000;

/// A public key of a project.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectKey {
    pub public: String,
    /// Events per second accepted with this key (all categories); None = no key limit.
    pub rate_limit: Option<f64>,
}

/// A project: where events are sent (`/api/<id>/...`) and the keys allowed to send them.
#[derive(Clone, Debug, PartialEq)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub keys: Vec<ProjectKey>,
    /// Keep `send_default_pii` data (user ip, e-mail, cookies).
    pub allow_pii: bool,
    /// Per-second limits by category (error, transaction, session, attachment, ...).
    pub rate_limits: HashMap<String, f64>,
    /// Declared in pharos.yml (else created through the API and kept in state.json).
    pub from_config: bool,
}

/// Store settings.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Events older than this (by arrival) are dropped; 0 = keep forever.
    pub retention_secs: f64,
    /// Total log size kept; 0 = no limit.
    pub retention_bytes: u64,
    /// Largest event (uncompressed JSON) accepted.
    pub max_event_bytes: usize,
    /// Error events per second per project (unless the project sets its own); 0 = no limit.
    pub events_per_second: f64,
    pub segment_bytes: u64,
    pub fsync: bool,
    /// Full event bodies kept per issue (the newest); older events keep their summary.
    pub max_event_bodies_per_issue: usize,
    pub scrub_enabled: bool,
    pub scrub_fields: Vec<String>,
    /// Keep attachments under `<dir>/attachments/` (else they are acknowledged and dropped).
    pub store_attachments: bool,
    /// How long a delete request can be cancelled before its events leave the log.
    pub delete_cancel_period_ms: i64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            retention_secs: 30.0 * 86400.0,
            retention_bytes: 0,
            max_event_bytes: 1 << 20,
            events_per_second: 1000.0,
            segment_bytes: 16 << 20,
            fsync: true,
            max_event_bodies_per_issue: 1000,
            scrub_enabled: true,
            scrub_fields: vec![],
            store_attachments: false,
            delete_cancel_period_ms: crate::deletes::DEFAULT_CANCEL_PERIOD_MS,
        }
    }
}

/// An issue's triage status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Unresolved,
    Resolved,
    ResolvedInNextRelease,
    Ignored,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unresolved => "unresolved",
            Status::Resolved => "resolved",
            Status::ResolvedInNextRelease => "resolved_in_next_release",
            Status::Ignored => "ignored",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "unresolved" => Status::Unresolved,
            "resolved" => Status::Resolved,
            "resolved_in_next_release" | "resolvedInNextRelease" => Status::ResolvedInNextRelease,
            "ignored" | "muted" | "archived" => Status::Ignored,
            _ => return None,
        })
    }
}

/// Removes events from the index: their issues' counts, hourly buckets and event lists, the
/// trace index, and issues left without events (retention and delete requests).
fn drop_events(inner: &mut Inner, gone: &[String]) {
    let gone_set: HashSet<&String> = gone.iter().collect();
    let mut touched = HashSet::new();
    for id in gone {
        if let Some(r) = inner.events.get(id) {
            touched.insert(r.issue);
            if let Some(i) = inner.issues.get_mut(&r.issue) {
                i.count = i.count.saturating_sub(1);
                let h = (r.timestamp / 3600.0).floor() as i64;
                if let Some(c) = i.hourly.get_mut(&h) {
                    *c = c.saturating_sub(1);
                    if *c == 0 {
                        i.hourly.remove(&h);
                    }
                }
            }
            if let Some(t) = &r.trace_id {
                if let Some(v) = inner.by_trace.get_mut(t) {
                    v.retain(|e| e != id);
                    if v.is_empty() {
                        inner.by_trace.remove(t);
                    }
                }
            }
        }
    }
    for iid in touched {
        let empty = match inner.issues.get_mut(&iid) {
            Some(i) => {
                let before = i.events.len();
                i.events.retain(|e| !gone_set.contains(e));
                i.bodies_from = i.bodies_from.saturating_sub(before - i.events.len());
                i.events.is_empty()
            }
            None => false,
        };
        if empty {
            inner.issues.remove(&iid);
        }
    }
    for id in gone {
        inner.events.remove(id);
    }
}

/// Calls `f(stored bytes, record)` for every intact, decodable record of a log segment's bytes
/// (stops at a torn tail or when `f` returns false).
fn for_each_record(
    data: &[u8],
    framing: wal::Framing,
    mut f: impl FnMut(&[u8], &mut Value) -> bool,
) {
    let mut at = 0;
    while let wal::frame::Next::Record(stored, end) = wal::frame::next(data, at) {
        let raw = &data[at..end];
        at = end;
        let Some(bytes) = wal::frame::decode(framing, stored) else {
            continue;
        };
        let Ok(mut r) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        if !f(raw, &mut r) {
            break;
        }
    }
}

/// What a delete rewrite leaves in place of a removed event's record (padded with spaces to
/// the record's length, see `wal::frame::filler`).
const FILLER: &[u8] = b"{}";

/// A removed event's place in the log: an empty object.
fn is_filler(r: &Value) -> bool {
    r.as_object().is_some_and(|o| o.is_empty())
}

/// A refusal with the HTTP status and Sentry's `detail` message.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    pub status: u16,
    pub detail: String,
    /// For 429: seconds to wait, and the limited categories.
    pub retry_after: Option<(u64, Vec<String>)>,
}

impl Rejection {
    pub fn new(status: u16, detail: impl Into<String>) -> Rejection {
        Rejection {
            status,
            detail: detail.into(),
            retry_after: None,
        }
    }
}

/// What became of an envelope.
#[derive(Clone, Debug, Default)]
pub struct EnvelopeOutcome {
    /// The event id (of the event item, else the envelope header's).
    pub id: Option<String>,
    /// Categories dropped by rate limits, with seconds to wait.
    pub limited: Vec<(String, u64)>,
    pub accepted: usize,
}

struct EventRec {
    issue: u64,
    timestamp: f64,
    received: f64,
    seq: u64,
    message: String,
    release: Option<String>,
    environment: Option<String>,
    trace_id: Option<String>,
    level: String,
    title: String,
    body: Option<Arc<str>>,
}

struct Issue {
    id: u64,
    project: String,
    title: String,
    culprit: String,
    level: String,
    platform: String,
    status: Status,
    regressed: bool,
    resolved_at: Option<f64>,
    resolved_release: Option<String>,
    first_seen: f64,
    last_seen: f64,
    count: u64,
    users: HashSet<String>,
    tags: BTreeMap<String, HashMap<String, u64>>,
    hourly: BTreeMap<i64, u64>,
    events: Vec<String>,
    /// Index in `events` of the oldest event still holding its body.
    bodies_from: usize,
    last_release: Option<String>,
}

#[derive(Default)]
struct Inner {
    projects: BTreeMap<String, Project>,
    issues: HashMap<u64, Issue>,
    events: HashMap<String, EventRec>,
    by_trace: HashMap<String, Vec<String>>,
    /// Newest arrival time per log segment, for retention.
    seg_newest: BTreeMap<u64, f64>,
    /// Issue states read from state.json, applied when the issue appears during replay.
    pending_state: HashMap<u64, Value>,
}

#[derive(Default)]
struct Counters {
    items: Mutex<BTreeMap<(String, String), u64>>,
    discarded: Mutex<BTreeMap<(String, String), u64>>,
    events_stored: AtomicU64,
}

/// The error store.
pub struct ErrorStore {
    dir: PathBuf,
    opts: StoreOptions,
    wal: wal::Wal,
    inner: RwLock<Inner>,
    limiter: RateLimiter,
    hooks: RwLock<Arc<dyn ErrorHooks>>,
    counters: Counters,
    state_lock: Mutex<()>,
    deletes: crate::deletes::ErrorDeletes,
    /// One delete pass or retention pass at a time.
    purge_lock: Mutex<()>,
}

/// Unix seconds now.
pub fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The id of the issue a fingerprint makes in a project (stable across restarts, < 2^52).
pub fn issue_id(project: &str, fingerprint: &str) -> u64 {
    let h = grouping::md5_hex(format!("{project}\0{fingerprint}").as_bytes());
    u64::from_str_radix(&h[..13], 16).unwrap_or(0).max(1)
}

fn opt_str(v: &Value, k: &str) -> Option<String> {
    v.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

impl ErrorStore {
    /// Opens the store in `dir` (created if needed) with the projects of the configuration,
    /// replaying the log.
    pub fn open(
        dir: &Path,
        opts: StoreOptions,
        projects: Vec<Project>,
    ) -> io::Result<Arc<ErrorStore>> {
        std::fs::create_dir_all(dir)?;
        let wal = wal::Wal::open(
            &dir.join("wal"),
            wal::WalOptions {
                segment_bytes: opts.segment_bytes,
                fsync: opts.fsync,
                naming: wal::SegmentNaming::with_suffix(".wal"),
                framing: wal::Framing::Flagged(wal::Compression::Zstd(1)),
            },
        )?;
        let mut inner = Inner::default();
        // state.json: API-created projects and issue statuses.
        let state_path = dir.join("state.json");
        if let Ok(text) = std::fs::read_to_string(&state_path) {
            match serde_json::from_str::<Value>(&text) {
                Ok(state) => {
                    for p in state
                        .get("projects")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(p) = project_from_json(p) {
                            inner.projects.insert(p.id.clone(), p);
                        }
                    }
                    if let Some(Value::Object(m)) = state.get("issues") {
                        for (k, v) in m {
                            if let Ok(id) = k.parse::<u64>() {
                                inner.pending_state.insert(id, v.clone());
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(path = %state_path.display(), "error store state is unreadable, issue statuses reset: {e}")
                }
            }
        }
        for p in projects {
            inner.projects.insert(
                p.id.clone(),
                Project {
                    from_config: true,
                    ..p
                },
            );
        }
        let deletes = crate::deletes::ErrorDeletes::open(dir, opts.delete_cancel_period_ms)?;
        let store = ErrorStore {
            deletes,
            purge_lock: Mutex::new(()),
            dir: dir.to_path_buf(),
            opts,
            wal,
            inner: RwLock::new(inner),
            limiter: RateLimiter::new(1.0),
            hooks: RwLock::new(Arc::new(crate::hooks::NoHooks)),
            counters: Counters::default(),
            state_lock: Mutex::new(()),
        };
        let mut n = 0u64;
        let mut bad = 0u64;
        store
            .wal
            .replay(|pos, rec| match serde_json::from_slice::<Value>(rec) {
                Ok(mut r) => {
                    let project = opt_str(&r, "p").unwrap_or_default();
                    let fp = opt_str(&r, "f").unwrap_or_default();
                    let received = r.get("r").and_then(Value::as_f64).unwrap_or(0.0);
                    let ev = r.get_mut("e").map(Value::take).unwrap_or(Value::Null);
                    if ev.is_object() {
                        store.apply(&project, received, ev, &fp, pos.seq);
                        n += 1;
                    } else if !is_filler(&r) {
                        bad += 1;
                    }
                }
                Err(_) => bad += 1,
            })?;
        store.inner.write().pending_state.clear();
        if n > 0 || bad > 0 {
            tracing::info!(
                events = n,
                undecodable = bad,
                "error store replayed its log"
            );
        }
        let store = Arc::new(store);
        store.enforce_retention(now_secs())?;
        Ok(store)
    }

    /// Installs the hooks called on new events and non-error items.
    pub fn set_hooks(&self, hooks: Arc<dyn ErrorHooks>) {
        *self.hooks.write() = hooks;
    }

    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    // ----- projects and auth -----

    /// Every project, by id.
    pub fn projects(&self) -> Vec<Project> {
        let mut v: Vec<Project> = self.inner.read().projects.values().cloned().collect();
        v.sort_by_key(|p| natural_id(&p.id));
        v
    }

    pub fn project(&self, id: &str) -> Option<Project> {
        self.inner.read().projects.get(id).cloned()
    }

    /// Creates a project with a fresh key (persisted in state.json).
    pub fn create_project(&self, name: &str) -> Result<Project, Rejection> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(Rejection::new(
                400,
                "a project needs a \"name\" of 1 to 200 characters",
            ));
        }
        let p = {
            let mut inner = self.inner.write();
            if inner.projects.values().any(|p| p.name == name) {
                return Err(Rejection::new(
                    409,
                    format!("a project named {name:?} already exists"),
                ));
            }
            let next = inner
                .projects
                .keys()
                .filter_map(|k| k.parse::<u64>().ok())
                .max()
                .unwrap_or(0)
                + 1;
            let p = Project {
                id: next.to_string(),
                name: name.to_string(),
                keys: vec![ProjectKey {
                    public: event::new_event_id(),
                    rate_limit: None,
                }],
                allow_pii: false,
                rate_limits: HashMap::new(),
                from_config: false,
            };
            inner.projects.insert(p.id.clone(), p.clone());
            p
        };
        self.save_state()
            .map_err(|e| Rejection::new(500, format!("cannot save the project: {e}")))?;
        Ok(p)
    }

    /// Checks that `key` may send to `project_id`: 401 without or with an unknown key, 403 for
    /// an unknown project or a key of another project.
    pub fn authenticate(&self, project_id: &str, key: Option<&str>) -> Result<Project, Rejection> {
        let inner = self.inner.read();
        let Some(key) = key.filter(|k| !k.is_empty()) else {
            return Err(Rejection::new(401, "missing authorization information"));
        };
        let owner = inner
            .projects
            .values()
            .find(|p| p.keys.iter().any(|k| k.public == key));
        match (owner, inner.projects.get(project_id)) {
            (None, _) => Err(Rejection::new(401, format!("unknown public key {key:?}"))),
            (Some(_), None) => Err(Rejection::new(
                403,
                format!("project {project_id:?} does not exist"),
            )),
            (Some(o), Some(p)) if o.id != p.id => Err(Rejection::new(
                403,
                format!("the public key is not valid for project {project_id:?}"),
            )),
            (Some(_), Some(p)) => Ok(p.clone()),
        }
    }

    /// One unit of `category` for (project, key): Ok, or Err(seconds to wait).
    pub fn rate_check(&self, project: &Project, key: &str, category: &str) -> Result<(), u64> {
        let project_rate = project
            .rate_limits
            .get(category)
            .copied()
            .or_else(|| (category == "error").then_some(self.opts.events_per_second));
        let mut wait = 0.0f64;
        if let Some(r) = project_rate {
            if let Err(w) = self
                .limiter
                .take(&format!("p\0{}\0{category}", project.id), r)
            {
                wait = wait.max(w);
            }
        }
        if let Some(r) = project
            .keys
            .iter()
            .find(|k| k.public == key)
            .and_then(|k| k.rate_limit)
        {
            if let Err(w) = self.limiter.take(&format!("k\0{key}"), r) {
                wait = wait.max(w);
            }
        }
        if wait > 0.0 {
            Err(wait.ceil().max(1.0) as u64)
        } else {
            Ok(())
        }
    }

    fn count_item(&self, ty: &str, outcome: &str) {
        *self
            .counters
            .items
            .lock()
            .entry((ty.to_string(), outcome.to_string()))
            .or_default() += 1;
    }

    // ----- ingest -----

    /// The scrubbing settings for `project`'s data.
    fn scrub_options(&self, project: &Project) -> ScrubOptions {
        ScrubOptions {
            enabled: self.opts.scrub_enabled,
            extra_fields: self.opts.scrub_fields.clone(),
            allow_pii: project.allow_pii,
        }
    }

    /// Stores one event payload (a legacy store body or an envelope's event item).
    pub fn ingest_event(
        &self,
        project: &Project,
        payload: &[u8],
        fallback_id: Option<&str>,
    ) -> Result<String, Rejection> {
        if payload.len() > self.opts.max_event_bytes {
            self.count_item("event", "too_large");
            return Err(Rejection::new(
                413,
                format!(
                    "event of {} bytes exceeds the maximum event size of {} bytes",
                    payload.len(),
                    self.opts.max_event_bytes
                ),
            ));
        }
        let v: Value = serde_json::from_slice(payload).map_err(|e| {
            self.count_item("event", "invalid");
            Rejection::new(
                400,
                format!("invalid event: the payload is not valid JSON: {e}"),
            )
        })?;
        let received = now_secs();
        let mut ev = event::normalize(v, received, fallback_id).map_err(|e| {
            self.count_item("event", "invalid");
            Rejection::new(400, format!("invalid event: {e}"))
        })?;
        scrub::scrub(&mut ev, &self.scrub_options(project));
        let id = opt_str(&ev, "event_id").unwrap_or_default();
        if self.inner.read().events.contains_key(&id) {
            // Sentry drops duplicates of an event id, and still answers with it.
            self.count_item("event", "duplicate");
            return Ok(id);
        }
        let fp = grouping::fingerprint(&ev);
        let rec = json!({"p": project.id, "r": received, "f": fp, "e": ev});
        let bytes = serde_json::to_vec(&rec).map_err(|e| Rejection::new(500, e.to_string()))?;
        let pos = self
            .wal
            .append(&bytes)
            .map_err(|e| Rejection::new(503, format!("cannot write the event to the log: {e}")))?;
        let Value::Object(mut rec) = rec else {
            unreachable!("built as an object")
        };
        let ev = rec.remove("e").unwrap_or(Value::Null);
        let hook = self.apply(&project.id, received, ev, &fp, pos.seq);
        self.counters.events_stored.fetch_add(1, Ordering::Relaxed);
        self.count_item("event", "accepted");
        if let Some(h) = hook {
            if h.kind == IssueEventKind::Regression {
                if let Err(e) = self.save_state() {
                    tracing::warn!("cannot save the error store state: {e}");
                }
            }
            let hooks = self.hooks.read().clone();
            hooks.on_issue_event(&h);
        }
        Ok(id)
    }

    /// Handles every item of an envelope for an authenticated project. Rate-limited items are
    /// dropped and reported; when every countable item was limited the whole request is a 429.
    pub fn ingest_envelope(
        &self,
        project: &Project,
        key: &str,
        env: &Envelope,
    ) -> Result<EnvelopeOutcome, Rejection> {
        let mut out = EnvelopeOutcome {
            id: env.event_id().and_then(event::canonical_id),
            ..Default::default()
        };
        let header_id = out.id.clone();
        let hooks = self.hooks.read().clone();
        let mut countable = 0usize;
        // Size checks first, so an oversized event fails the request before anything is stored.
        for it in &env.items {
            if matches!(it.ty(), "event" | "transaction")
                && it.payload.len() > self.opts.max_event_bytes
            {
                self.count_item(it.ty(), "too_large");
                return Err(Rejection::new(
                    413,
                    format!(
                        "{} item of {} bytes exceeds the maximum event size of {} bytes",
                        it.ty(),
                        it.payload.len(),
                        self.opts.max_event_bytes
                    ),
                ));
            }
        }
        for it in &env.items {
            let ty = it.ty();
            if let Some(cat) = envelope::category(ty) {
                countable += 1;
                if let Err(wait) = self.rate_check(project, key, cat) {
                    self.count_item(ty, "rate_limited");
                    if !out.limited.iter().any(|(c, _)| c == cat) {
                        out.limited.push((cat.to_string(), wait));
                    }
                    continue;
                }
            }
            let json_payload = || serde_json::from_slice::<Value>(&it.payload).ok();
            match ty {
                "event" => {
                    let id = self.ingest_event(project, &it.payload, header_id.as_deref())?;
                    out.id = Some(id);
                }
                "transaction" => match json_payload() {
                    Some(mut v) => {
                        scrub::scrub_item(&mut v, &self.scrub_options(project));
                        if out.id.is_none() {
                            out.id = v
                                .get("event_id")
                                .and_then(Value::as_str)
                                .and_then(event::canonical_id);
                        }
                        hooks.on_transaction(&project.id, &v);
                        self.count_item(ty, "accepted");
                    }
                    None => self.count_item(ty, "invalid"),
                },
                "session" | "sessions" => match json_payload() {
                    Some(v) => {
                        hooks.on_sessions(&project.id, ty, &v);
                        self.count_item(ty, "accepted");
                    }
                    None => self.count_item(ty, "invalid"),
                },
                "client_report" => match json_payload() {
                    Some(v) => {
                        self.client_report(&v);
                        self.count_item(ty, "accepted");
                    }
                    None => self.count_item(ty, "invalid"),
                },
                "attachment" => {
                    if self.opts.store_attachments {
                        if let Err(e) = self.store_attachment(out.id.as_deref(), it) {
                            return Err(Rejection::new(
                                503,
                                format!("cannot store the attachment: {e}"),
                            ));
                        }
                        self.count_item(ty, "stored");
                    } else {
                        self.count_item(ty, "dropped");
                    }
                }
                "span" | "log" => match json_payload() {
                    // Spans and logs reach other stores: scrubbed as events are.
                    Some(mut v) => {
                        scrub::scrub_item(&mut v, &self.scrub_options(project));
                        hooks.on_item(&project.id, ty, v.to_string().as_bytes());
                        self.count_item(ty, "accepted");
                    }
                    None => self.count_item(ty, "invalid"),
                },
                "profile" | "check_in" | "otel_log" | "profile_chunk" | "replay_event"
                | "replay_recording" | "user_report" | "feedback" | "statsd" => {
                    hooks.on_item(&project.id, ty, &it.payload);
                    self.count_item(ty, "accepted");
                }
                _ => {
                    self.count_item("unknown", "skipped");
                    continue;
                }
            }
            out.accepted += 1;
        }
        if countable > 0 && out.accepted == 0 && !out.limited.is_empty() {
            let wait = out.limited.iter().map(|(_, w)| *w).max().unwrap_or(1);
            let cats = out.limited.iter().map(|(c, _)| c.clone()).collect();
            return Err(Rejection {
                status: 429,
                detail: "event submission rejected: rate limit exceeded".into(),
                retry_after: Some((wait, cats)),
            });
        }
        Ok(out)
    }

    fn client_report(&self, v: &Value) {
        let mut d = self.counters.discarded.lock();
        for key in [
            "discarded_events",
            "rate_limited_events",
            "filtered_events",
            "filtered_sampling_events",
        ] {
            for e in v.get(key).and_then(Value::as_array).into_iter().flatten() {
                let reason = opt_str(e, "reason")
                    .unwrap_or_else(|| key.trim_end_matches("_events").to_string());
                let cat = opt_str(e, "category").unwrap_or_else(|| "unknown".into());
                let q = e.get("quantity").and_then(Value::as_u64).unwrap_or(1);
                *d.entry((reason, cat)).or_default() += q;
            }
        }
    }

    fn store_attachment(&self, event_id: Option<&str>, it: &envelope::Item) -> io::Result<()> {
        let dir = self
            .dir
            .join("attachments")
            .join(event_id.unwrap_or("unattached"));
        std::fs::create_dir_all(&dir)?;
        let name: String = it
            .headers
            .get("filename")
            .and_then(Value::as_str)
            .unwrap_or("attachment")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(100)
            .collect();
        let name = name.trim_start_matches('.');
        let path = dir.join(format!(
            "{}-{}",
            event::new_event_id(),
            if name.is_empty() { "attachment" } else { name }
        ));
        let mut f = std::fs::File::create(&path)?;
        f.write_all(&it.payload)?;
        f.sync_all()
    }

    /// Adds a (durable) event to the index. Returns what it did to its issue.
    fn apply(
        &self,
        project: &str,
        received: f64,
        ev: Value,
        fp: &str,
        seq: u64,
    ) -> Option<IssueEvent> {
        let id = opt_str(&ev, "event_id")?;
        let iid = issue_id(project, fp);
        let title = event::title(&ev);
        let culprit = event::culprit(&ev);
        let level = opt_str(&ev, "level").unwrap_or_else(|| "error".into());
        let platform = opt_str(&ev, "platform").unwrap_or_else(|| "other".into());
        let ts = ev
            .get("timestamp")
            .and_then(Value::as_f64)
            .unwrap_or(received);
        let release = opt_str(&ev, "release");
        let environment = opt_str(&ev, "environment");
        let trace_id = opt_str(&ev, "trace_id");
        let message = opt_str(&ev, "message").unwrap_or_default();
        let user = event::user_key(&ev);
        let tags = event::tag_pairs(&ev);
        if self.deletes.covers(project, iid, ts, seq) {
            return None;
        }
        let body: Arc<str> = Arc::from(ev.to_string());
        let mut guard = self.inner.write();
        let inner = &mut *guard;
        if inner.events.contains_key(&id) {
            return None;
        }
        let project_name = inner
            .projects
            .get(project)
            .map(|p| p.name.clone())
            .unwrap_or_default();
        let mut kind = IssueEventKind::Event;
        let issue = inner.issues.entry(iid).or_insert_with(|| {
            kind = IssueEventKind::New;
            Issue {
                id: iid,
                project: project.to_string(),
                title: title.clone(),
                culprit: culprit.clone(),
                level: level.clone(),
                platform: platform.clone(),
                status: Status::Unresolved,
                regressed: false,
                resolved_at: None,
                resolved_release: None,
                first_seen: ts,
                last_seen: ts,
                count: 0,
                users: HashSet::new(),
                tags: BTreeMap::new(),
                hourly: BTreeMap::new(),
                events: Vec::new(),
                bodies_from: 0,
                last_release: None,
            }
        });
        if kind == IssueEventKind::New {
            if let Some(st) = inner.pending_state.remove(&iid) {
                apply_state(issue, &st);
            }
        }
        let reopen = match issue.status {
            Status::Resolved => issue.resolved_at.is_none_or(|t| received > t),
            Status::ResolvedInNextRelease => {
                issue.resolved_at.is_none_or(|t| received > t)
                    && release.is_some()
                    && release != issue.resolved_release
            }
            _ => false,
        };
        if reopen {
            issue.status = Status::Unresolved;
            issue.regressed = true;
            issue.resolved_at = None;
            kind = IssueEventKind::Regression;
        }
        issue.title = title.clone();
        issue.culprit = culprit.clone();
        issue.level = level.clone();
        issue.count += 1;
        issue.first_seen = issue.first_seen.min(ts);
        issue.last_seen = issue.last_seen.max(ts);
        if let Some(u) = user {
            issue.users.insert(u);
        }
        for (k, v) in tags {
            let t = issue.tags.entry(k).or_default();
            if t.len() < MAX_TAG_VALUES || t.contains_key(&v) {
                *t.entry(v).or_default() += 1;
            } else {
                *t.entry("other".into()).or_default() += 1;
            }
        }
        *issue
            .hourly
            .entry((ts / 3600.0).floor() as i64)
            .or_default() += 1;
        if release.is_some() {
            issue.last_release = release.clone();
        }
        issue.events.push(id.clone());
        let mut drop_body = None;
        let with_bodies = issue.events.len() - issue.bodies_from;
        if with_bodies > self.opts.max_event_bodies_per_issue.max(1) {
            drop_body = Some(issue.events[issue.bodies_from].clone());
            issue.bodies_from += 1;
        }
        let count = issue.count;
        if let Some(old) = drop_body {
            if let Some(r) = inner.events.get_mut(&old) {
                r.body = None;
            }
        }
        if let Some(t) = &trace_id {
            inner
                .by_trace
                .entry(t.clone())
                .or_default()
                .push(id.clone());
        }
        inner.events.insert(
            id.clone(),
            EventRec {
                issue: iid,
                timestamp: ts,
                received,
                seq,
                message,
                release: release.clone(),
                environment: environment.clone(),
                trace_id,
                level: level.clone(),
                title: title.clone(),
                body: Some(body),
            },
        );
        let newest = inner.seg_newest.entry(seq).or_insert(received);
        *newest = newest.max(received);
        Some(IssueEvent {
            kind,
            issue_id: iid.to_string(),
            project: project.to_string(),
            project_name,
            title,
            culprit,
            level,
            environment,
            release,
            event_id: id,
            count,
            timestamp: ts,
        })
    }

    // ----- state -----

    fn save_state(&self) -> io::Result<()> {
        let _g = self.state_lock.lock();
        let state = {
            let inner = self.inner.read();
            let projects: Vec<Value> = inner
                .projects
                .values()
                .filter(|p| !p.from_config)
                .map(project_to_json)
                .collect();
            let mut issues = Map::new();
            for (id, i) in &inner.issues {
                if i.status != Status::Unresolved || i.regressed {
                    issues.insert(
                        id.to_string(),
                        json!({"status": i.status.as_str(), "regressed": i.regressed,
                               "resolved_at": i.resolved_at, "resolved_release": i.resolved_release}),
                    );
                }
            }
            json!({"projects": projects, "issues": issues})
        };
        let tmp = self.dir.join("state.json.tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(state.to_string().as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, self.dir.join("state.json"))?;
        wal::sync_dir(&self.dir)
    }

    /// Sets an issue's status; returns the issue, None when unknown.
    pub fn set_status(&self, id: &str, status: Status) -> Result<Option<Value>, Rejection> {
        let n = self.set_status_many(&[id.to_string()], status)?;
        Ok(if n == 0 { None } else { self.issue(id) })
    }

    /// Sets the status of several issues; returns how many exist.
    pub fn set_status_many(&self, ids: &[String], status: Status) -> Result<usize, Rejection> {
        let now = now_secs();
        let mut n = 0;
        {
            let mut inner = self.inner.write();
            for id in ids {
                let Some(i) = id
                    .parse::<u64>()
                    .ok()
                    .and_then(|k| inner.issues.get_mut(&k))
                else {
                    continue;
                };
                n += 1;
                i.status = status;
                match status {
                    Status::Resolved | Status::ResolvedInNextRelease => {
                        i.resolved_at = Some(now);
                        i.resolved_release = i.last_release.clone();
                    }
                    Status::Unresolved => {
                        i.resolved_at = None;
                        i.regressed = false;
                    }
                    Status::Ignored => {}
                }
            }
        }
        if n > 0 {
            self.save_state()
                .map_err(|e| Rejection::new(500, format!("cannot save the status: {e}")))?;
        }
        Ok(n)
    }

    // ----- queries -----

    fn issue_json(&self, i: &Issue, now: f64) -> Value {
        let end_hour = (now / 3600.0).floor() as i64;
        let start_hour = end_hour - 23;
        let counts: Vec<u64> = (start_hour..=end_hour)
            .map(|h| i.hourly.get(&h).copied().unwrap_or(0))
            .collect();
        json!({
            "id": i.id.to_string(),
            "project": i.project,
            "title": i.title,
            "culprit": i.culprit,
            "level": i.level,
            "status": i.status.as_str(),
            "regressed": i.regressed,
            "first_seen": rfc3339(i.first_seen),
            "last_seen": rfc3339(i.last_seen),
            "count": i.count,
            "users": i.users.len(),
            "platform": i.platform,
            "sparkline": {"start": start_hour * 3600, "step": 3600, "counts": counts},
        })
    }

    /// Issues matching `q`, sorted and paged, with the total before paging.
    pub fn list_issues(&self, q: &IssueQuery) -> (Vec<Value>, usize) {
        let now = now_secs();
        let inner = self.inner.read();
        let text = q.query.as_deref().map(parse_search).unwrap_or_default();
        let mut hits: Vec<&Issue> = inner
            .issues
            .values()
            .filter(|i| q.project.as_ref().is_none_or(|p| &i.project == p))
            .filter(|i| match q.status.as_deref() {
                None | Some("unresolved") => i.status == Status::Unresolved,
                Some("all") | Some("") => true,
                Some("resolved") => {
                    matches!(i.status, Status::Resolved | Status::ResolvedInNextRelease)
                }
                Some(s) => Status::parse(s).is_some_and(|st| st == i.status),
            })
            .filter(|i| q.level.as_ref().is_none_or(|l| &i.level == l))
            .filter(|i| {
                q.environment
                    .as_ref()
                    .is_none_or(|e| has_tag(i, "environment", e))
            })
            .filter(|i| q.release.as_ref().is_none_or(|r| has_tag(i, "release", r)))
            .filter(|i| q.start.is_none_or(|s| i.last_seen >= s))
            .filter(|i| q.end.is_none_or(|e| i.first_seen <= e))
            .filter(|i| text.matches(i))
            .collect();
        let total = hits.len();
        match q.sort.as_deref().unwrap_or("last_seen") {
            "first_seen" | "new" | "date_added" => {
                hits.sort_by(|a, b| b.first_seen.total_cmp(&a.first_seen).then(a.id.cmp(&b.id)))
            }
            "count" | "freq" | "events" => hits.sort_by(|a, b| {
                b.count
                    .cmp(&a.count)
                    .then(b.last_seen.total_cmp(&a.last_seen))
            }),
            "users" | "user" => hits.sort_by(|a, b| {
                b.users
                    .len()
                    .cmp(&a.users.len())
                    .then(b.count.cmp(&a.count))
            }),
            _ => hits.sort_by(|a, b| b.last_seen.total_cmp(&a.last_seen).then(a.id.cmp(&b.id))),
        }
        let out = hits
            .into_iter()
            .skip(q.offset)
            .take(q.limit)
            .map(|i| with_name(self.issue_json(i, now), &inner))
            .collect();
        (out, total)
    }

    /// One issue with its tag breakdowns and latest event id.
    pub fn issue(&self, id: &str) -> Option<Value> {
        let inner = self.inner.read();
        let i = inner.issues.get(&id.parse::<u64>().ok()?)?;
        let mut v = with_name(self.issue_json(i, now_secs()), &inner);
        let mut tags = Map::new();
        for (k, vals) in &i.tags {
            let mut list: Vec<(&String, &u64)> = vals.iter().collect();
            list.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            tags.insert(
                k.clone(),
                Value::Array(
                    list.into_iter()
                        .take(100)
                        .map(|(v, c)| json!({"value": v, "count": c}))
                        .collect(),
                ),
            );
        }
        v["tags"] = Value::Object(tags);
        v["latest_event_id"] = json!(i.events.last());
        v["first_event_id"] = json!(i.events.first());
        Some(v)
    }

    /// Events of an issue, newest first.
    pub fn issue_events(
        &self,
        id: &str,
        limit: usize,
        offset: usize,
    ) -> Option<(Vec<Value>, usize)> {
        let inner = self.inner.read();
        let i = inner.issues.get(&id.parse::<u64>().ok()?)?;
        let total = i.events.len();
        let list = i
            .events
            .iter()
            .rev()
            .skip(offset)
            .take(limit)
            .filter_map(|eid| {
                let r = inner.events.get(eid)?;
                Some(json!({
                    "event_id": eid, "timestamp": rfc3339(r.timestamp), "message": r.message,
                    "title": r.title, "level": r.level,
                    "release": r.release, "environment": r.environment, "trace_id": r.trace_id,
                }))
            })
            .collect();
        Some((list, total))
    }

    /// The newest event of an issue.
    pub fn latest_event(&self, issue: &str) -> Option<Value> {
        let last = {
            let inner = self.inner.read();
            inner
                .issues
                .get(&issue.parse::<u64>().ok()?)?
                .events
                .last()?
                .clone()
        };
        self.event(&last)
    }

    /// A full event, with its issue, project and neighbours in the issue.
    pub fn event(&self, event_id: &str) -> Option<Value> {
        let id = event::canonical_id(event_id)?;
        let inner = self.inner.read();
        let r = inner.events.get(&id)?;
        let issue = inner.issues.get(&r.issue)?;
        let mut v: Value = match &r.body {
            Some(b) => serde_json::from_str(b).ok()?,
            None => json!({"event_id": id, "message": r.message, "level": r.level,
                           "release": r.release, "environment": r.environment, "trace_id": r.trace_id,
                           "body_expired": true}),
        };
        let pos = issue.events.iter().rposition(|e| *e == id);
        let prev = pos
            .and_then(|p| p.checked_sub(1))
            .and_then(|p| issue.events.get(p));
        let next = pos.and_then(|p| issue.events.get(p + 1));
        let Value::Object(m) = &mut v else {
            return None;
        };
        m.insert("issue_id".into(), json!(issue.id.to_string()));
        m.insert("project".into(), json!(issue.project));
        m.insert("title".into(), json!(r.title));
        m.insert("culprit".into(), json!(issue.culprit));
        m.insert("timestamp".into(), json!(rfc3339(r.timestamp)));
        m.insert("received".into(), json!(rfc3339(r.received)));
        m.entry("message").or_insert_with(|| json!(r.message));
        for k in ["release", "environment", "trace_id", "span_id", "platform"] {
            m.entry(k).or_insert(Value::Null);
        }
        for k in ["user", "request", "contexts", "sdk"] {
            m.entry(k).or_insert_with(|| json!({}));
        }
        if let Some(Value::Array(crumbs)) = m.get_mut("breadcrumbs") {
            for c in crumbs.iter_mut().filter_map(Value::as_object_mut) {
                if let Some(t) = c.get("timestamp").and_then(Value::as_f64) {
                    c.insert("timestamp".into(), json!(rfc3339(t)));
                }
                for k in ["type", "category", "message", "level", "data"] {
                    c.entry(k).or_insert(Value::Null);
                }
            }
        }
        m.insert("previous_event_id".into(), json!(prev));
        m.insert("next_event_id".into(), json!(next));
        Some(v)
    }

    /// Events carrying a trace id (newest first).
    pub fn events_by_trace(&self, trace_id: &str) -> Vec<Value> {
        let t = trace_id.to_ascii_lowercase();
        let inner = self.inner.read();
        let mut out: Vec<(f64, Value)> = inner
            .by_trace
            .get(&t)
            .into_iter()
            .flatten()
            .filter_map(|eid| {
                let r = inner.events.get(eid)?;
                Some((
                    r.timestamp,
                    json!({"event_id": eid, "issue_id": r.issue.to_string(), "title": r.title,
                           "level": r.level, "timestamp": rfc3339(r.timestamp)}),
                ))
            })
            .collect();
        out.sort_by(|a, b| b.0.total_cmp(&a.0));
        out.into_iter().map(|(_, v)| v).collect()
    }

    // ----- delete requests -----

    /// The store's delete requests.
    pub fn deletes(&self) -> &crate::deletes::ErrorDeletes {
        &self.deletes
    }

    /// Adds a delete request (durable on return) and removes the events it covers from the
    /// index at once; returns its id.
    pub fn add_delete(
        &self,
        start_ms: i64,
        end_ms: i64,
        project: Option<String>,
        issue: Option<String>,
        now_ms: i64,
    ) -> io::Result<String> {
        let req = self.deletes.add(start_ms, end_ms, project, issue, now_ms)?;
        let mut guard = self.inner.write();
        let inner = &mut *guard;
        let mut segs = Vec::new();
        let gone: Vec<String> = inner
            .events
            .iter()
            .filter(|(_, r)| {
                inner
                    .issues
                    .get(&r.issue)
                    .is_some_and(|i| req.covers(&i.project, r.issue, r.timestamp))
            })
            .map(|(k, r)| {
                segs.push(r.seq);
                k.clone()
            })
            .collect();
        drop_events(inner, &gone);
        self.deletes.covered_segments.lock().extend(segs);
        Ok(req.request_id)
    }

    /// Cancels a request (Loki's rules); the events it alone hid are read back from the log.
    pub fn cancel_delete(
        &self,
        request_id: &str,
        force: bool,
        now_ms: i64,
    ) -> Result<(), crate::deletes::CancelError> {
        self.deletes.cancel(request_id, force, now_ms)?;
        let _purge = self.purge_lock.lock();
        let segs = self
            .wal
            .segments()
            .map_err(|e| crate::deletes::CancelError::Io(e.to_string()))?;
        for seq in segs {
            let path = self.wal.options().naming.path(self.wal.dir(), seq);
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            for_each_record(&data, self.wal.options().framing, |_, r| {
                let project = opt_str(r, "p").unwrap_or_default();
                let fp = opt_str(r, "f").unwrap_or_default();
                let received = r.get("r").and_then(Value::as_f64).unwrap_or(0.0);
                let ev = r.get_mut("e").map(Value::take).unwrap_or(Value::Null);
                if ev.is_object() {
                    let _ = self.apply(&project, received, ev, &fp, seq);
                }
                true
            });
        }
        Ok(())
    }

    /// One pass: rewrites the log segments holding events of requests past the cancel period
    /// without those events, and marks the requests processed. Returns the events removed.
    /// A removed event's record becomes a filler record of the same length (`{}` and spaces):
    /// every other record keeps its offset, so a reader of the log in the middle of the
    /// segment (the errors forwarder, at a saved position, running or restarted) goes on
    /// exactly after what it read, and never reads the removed events.
    pub fn process_deletes(&self, now_ms: i64) -> io::Result<u64> {
        let period = self.deletes.cancel_period_ms();
        let ready = self.deletes.reg.ready(period, now_ms);
        if ready.is_empty() {
            return Ok(0);
        }
        let _purge = self.purge_lock.lock();
        let segs: Vec<u64> = self
            .deletes
            .covered_segments
            .lock()
            .iter()
            .copied()
            .collect();
        if segs.contains(&self.wal.active_segment()) {
            self.wal.roll()?;
        }
        let framing = self.wal.options().framing;
        let mut removed = 0u64;
        for seq in segs {
            let path = self.wal.options().naming.path(self.wal.dir(), seq);
            let data = match std::fs::read(&path) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    self.deletes.covered_segments.lock().remove(&seq);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut kept = Vec::with_capacity(data.len());
            let mut dropped = 0u64;
            let mut still_covered = false;
            for_each_record(&data, framing, |raw, r| {
                if is_filler(r) {
                    kept.extend_from_slice(raw);
                    return true;
                }
                let project = opt_str(r, "p").unwrap_or_default();
                let fp = opt_str(r, "f").unwrap_or_default();
                let iid = issue_id(&project, &fp);
                let ts = r
                    .pointer("/e/timestamp")
                    .and_then(Value::as_f64)
                    .or_else(|| r.get("r").and_then(Value::as_f64))
                    .unwrap_or(0.0);
                if ready.iter().any(|q| q.covers(&project, iid, ts)) {
                    // A filler of the same length: the records after it keep their offsets,
                    // so a forwarder's saved position in this segment stays valid.
                    match wal::frame::filler(framing, raw.len(), FILLER, b' ') {
                        Some(f) => kept.extend_from_slice(&f),
                        None => tracing::warn!(
                            segment = seq,
                            "error delete: a record too short for a filler; later offsets shift"
                        ),
                    }
                    dropped += 1;
                } else {
                    still_covered |= self
                        .deletes
                        .reg
                        .with_all(|reqs| reqs.iter().any(|q| q.covers(&project, iid, ts)));
                    kept.extend_from_slice(raw);
                }
                true
            });
            if dropped > 0 {
                crate::deletes::write_durably(&path, &kept)?;
                removed += dropped;
            }
            if !still_covered {
                self.deletes.covered_segments.lock().remove(&seq);
            }
        }
        self.deletes
            .events_removed
            .fetch_add(removed, Ordering::Relaxed);
        self.deletes
            .reg
            .mark_processed(|r| ready.iter().any(|q| q.request_id == r.request_id), 0)?;
        Ok(removed)
    }

    // ----- retention and metrics -----

    /// Drops log segments (and their events and emptied issues) older than the retention time
    /// or beyond the retention size.
    pub fn enforce_retention(&self, now: f64) -> io::Result<()> {
        self.enforce_retention_for(now, self.opts.retention_secs)
    }

    /// [`ErrorStore::enforce_retention`] with a retention of `retention_secs` (a tenant's own,
    /// pharos.yml `tenants:` `retention_period`). An active log segment whose newest event is
    /// past the cutoff is closed first, so an idle store's old events go too.
    pub fn enforce_retention_for(&self, now: f64, retention_secs: f64) -> io::Result<()> {
        let cutoff = if retention_secs > 0.0 {
            now - retention_secs
        } else {
            f64::MIN
        };
        let _purge = self.purge_lock.lock();
        let stale_active = {
            let inner = self.inner.read();
            inner
                .seg_newest
                .get(&self.wal.active_segment())
                .is_some_and(|t| *t < cutoff)
        };
        if stale_active {
            self.wal.roll()?;
        }
        let active = self.wal.active_segment();
        let mut doomed: Vec<u64> = {
            let inner = self.inner.read();
            inner
                .seg_newest
                .iter()
                .filter(|(s, t)| **s < active && **t < cutoff)
                .map(|(s, _)| *s)
                .collect()
        };
        if self.opts.retention_bytes > 0 {
            let mut disk = self.wal.disk_bytes();
            let mut segs = self.wal.segments()?;
            segs.retain(|s| *s < active);
            for s in segs {
                if disk <= self.opts.retention_bytes {
                    break;
                }
                let size = std::fs::metadata(self.dir.join("wal").join(format!("{s:08}.wal")))
                    .map(|m| m.len())
                    .unwrap_or(0);
                if !doomed.contains(&s) {
                    doomed.push(s);
                }
                disk = disk.saturating_sub(size);
            }
        }
        if doomed.is_empty() {
            return Ok(());
        }
        let set: HashSet<u64> = doomed.iter().copied().collect();
        self.wal.remove_segments_where(|s| set.contains(&s))?;
        let mut inner = self.inner.write();
        let inner = &mut *inner;
        for s in &doomed {
            inner.seg_newest.remove(s);
        }
        let gone: Vec<String> = inner
            .events
            .iter()
            .filter(|(_, r)| set.contains(&r.seq))
            .map(|(k, _)| k.clone())
            .collect();
        drop_events(inner, &gone);
        tracing::info!(
            segments = doomed.len(),
            events = gone.len(),
            "error store retention"
        );
        Ok(())
    }

    /// Appends the store's metrics in Prometheus text format.
    pub fn write_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let (issues, events, unresolved) = {
            let inner = self.inner.read();
            let unresolved = inner
                .issues
                .values()
                .filter(|i| i.status == Status::Unresolved)
                .count();
            (inner.issues.len(), inner.events.len(), unresolved)
        };
        let _ = writeln!(out, "# HELP pharos_errors_issues Issues in the error store.\n# TYPE pharos_errors_issues gauge");
        let _ = writeln!(
            out,
            "pharos_errors_issues {issues}\npharos_errors_issues_unresolved {unresolved}"
        );
        let (deleted, received, processed) = self.deletes.counts();
        let _ = writeln!(out, "# HELP pharos_errors_deleted_events_total Events removed from the error log by delete requests.\n# TYPE pharos_errors_deleted_events_total counter\npharos_errors_deleted_events_total {deleted}\n# HELP pharos_errors_delete_requests Error delete requests by status.\n# TYPE pharos_errors_delete_requests gauge\npharos_errors_delete_requests{{status=\"received\"}} {received}\npharos_errors_delete_requests{{status=\"processed\"}} {processed}");
        let _ = writeln!(out, "# HELP pharos_errors_events Events in the error store.\n# TYPE pharos_errors_events gauge\npharos_errors_events {events}");
        let _ = writeln!(out, "# HELP pharos_errors_items_total Envelope items by type and outcome.\n# TYPE pharos_errors_items_total counter");
        for ((t, o), n) in self.counters.items.lock().iter() {
            let _ = writeln!(
                out,
                "pharos_errors_items_total{{type=\"{t}\",outcome=\"{o}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP pharos_errors_client_discarded_total Events SDKs reported discarding (client reports).\n# TYPE pharos_errors_client_discarded_total counter");
        for ((r, c), n) in self.counters.discarded.lock().iter() {
            let r = r.replace(['"', '\\', '\n'], "_");
            let c = c.replace(['"', '\\', '\n'], "_");
            let _ = writeln!(
                out,
                "pharos_errors_client_discarded_total{{reason=\"{r}\",category=\"{c}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP pharos_errors_wal_bytes Bytes of the error store's log.\n# TYPE pharos_errors_wal_bytes gauge\npharos_errors_wal_bytes {}", self.wal.disk_bytes());
    }

    /// Counts of an item type's outcomes (tests, overview).
    pub fn item_count(&self, ty: &str, outcome: &str) -> u64 {
        self.counters
            .items
            .lock()
            .get(&(ty.to_string(), outcome.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Client-report discards by (reason, category).
    pub fn discarded(&self) -> Vec<((String, String), u64)> {
        self.counters
            .discarded
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }
}

fn with_name(mut v: Value, inner: &Inner) -> Value {
    let name = v
        .get("project")
        .and_then(Value::as_str)
        .and_then(|p| inner.projects.get(p))
        .map(|p| p.name.clone());
    v["project_name"] = json!(name);
    v
}

fn has_tag(i: &Issue, k: &str, v: &str) -> bool {
    i.tags.get(k).is_some_and(|m| m.contains_key(v))
}

fn natural_id(id: &str) -> (u64, String) {
    (id.parse().unwrap_or(u64::MAX), id.to_string())
}

fn apply_state(i: &mut Issue, st: &Value) {
    if let Some(s) = st
        .get("status")
        .and_then(Value::as_str)
        .and_then(Status::parse)
    {
        i.status = s;
    }
    i.regressed = st
        .get("regressed")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    i.resolved_at = st.get("resolved_at").and_then(Value::as_f64);
    i.resolved_release = opt_str(st, "resolved_release");
}

fn project_to_json(p: &Project) -> Value {
    json!({
        "id": p.id, "name": p.name, "allow_pii": p.allow_pii,
        "keys": p.keys.iter().map(|k| json!({"public": k.public, "rate_limit": k.rate_limit})).collect::<Vec<_>>(),
        "rate_limits": p.rate_limits,
    })
}

fn project_from_json(v: &Value) -> Option<Project> {
    Some(Project {
        id: opt_str(v, "id")?,
        name: opt_str(v, "name").unwrap_or_default(),
        keys: v
            .get("keys")?
            .as_array()?
            .iter()
            .filter_map(|k| {
                Some(ProjectKey {
                    public: opt_str(k, "public")?,
                    rate_limit: k.get("rate_limit").and_then(Value::as_f64),
                })
            })
            .collect(),
        allow_pii: v.get("allow_pii").and_then(Value::as_bool).unwrap_or(false),
        rate_limits: v
            .get("rate_limits")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                    .collect()
            })
            .unwrap_or_default(),
        from_config: false,
    })
}

/// Filters of the issue list.
#[derive(Clone, Debug, Default)]
pub struct IssueQuery {
    pub project: Option<String>,
    /// unresolved (default) | resolved | ignored | resolved_in_next_release | all
    pub status: Option<String>,
    pub environment: Option<String>,
    pub release: Option<String>,
    pub level: Option<String>,
    /// Free text: words match title/culprit; `key:value` matches a tag value; `is:status`.
    pub query: Option<String>,
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub sort: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

#[derive(Default)]
struct Search {
    words: Vec<String>,
    tags: Vec<(String, String)>,
}

impl Search {
    fn matches(&self, i: &Issue) -> bool {
        let hay = format!("{} {} {}", i.title, i.culprit, i.id).to_lowercase();
        self.words.iter().all(|w| hay.contains(w.as_str()))
            && self.tags.iter().all(|(k, v)| match k.as_str() {
                "is" => i.status.as_str().starts_with(v.as_str()),
                "level" => i.level == *v,
                _ => has_tag(i, k, v),
            })
    }
}

fn parse_search(q: &str) -> Search {
    let mut s = Search::default();
    for tok in q.split_whitespace() {
        match tok.split_once(':') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() && !k.contains(['/', '.']) => s
                .tags
                .push((k.to_string(), v.trim_matches('"').to_string())),
            _ => s.words.push(tok.to_lowercase()),
        }
    }
    s
}
