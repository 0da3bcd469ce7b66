//! Error event delete requests (`/api/errors/v1/delete`, shaped like Loki's delete API; Sentry
//! has no such API). A request of one store (one tenant) names an event time range (inclusive,
//! milliseconds) and optionally a project and an issue id. Requests are persisted in
//! `<errors>/delete_requests.json` (temporary file, fsync, rename, directory fsync) before they
//! are acknowledged; the events they cover leave the store's in-memory index at once (as
//! retention removes them, so every read — issue list, issue events, event by id, counts —
//! stops showing them and an issue left without events disappears), and events replayed or
//! ingested later that they cover are never indexed. After the cancel period
//! (`errors.delete_request_cancel_period`, default 24h) a pass rewrites the log segments
//! holding such events without them (each removed record replaced by a filler of its length,
//! so the other records keep their offsets) and marks the request processed.

use model::deletes::{Compiled, Registry};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

pub(crate) use model::deletes::write_durably;
pub use model::deletes::{CancelError, Status, DEFAULT_CANCEL_PERIOD_MS, FILE, FORMAT_VERSION};

/// One delete request as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeleteRequest {
    pub request_id: String,
    /// Unix milliseconds, inclusive (the event's timestamp).
    pub start_ms: i64,
    pub end_ms: i64,
    #[serde(default)]
    pub project: Option<String>,
    /// An issue id (decimal, as the API shows it).
    #[serde(default)]
    pub issue: Option<String>,
    pub created_at_ms: i64,
    pub status: Status,
}

impl DeleteRequest {
    /// Whether the request covers an event of `project`'s issue `issue` at `ts` (Unix seconds).
    pub fn covers(&self, project: &str, issue: u64, ts: f64) -> bool {
        let ms = (ts * 1000.0).floor() as i64;
        ms >= self.start_ms
            && ms <= self.end_ms
            && self.project.as_deref().is_none_or(|p| p == project)
            && self
                .issue
                .as_deref()
                .is_none_or(|i| i.parse::<u64>().ok() == Some(issue))
    }
}

model::delete_request!(DeleteRequest);

/// The request is its own predicate ([`DeleteRequest::covers`]).
impl Compiled for DeleteRequest {
    type Req = DeleteRequest;
    fn compile(req: DeleteRequest) -> Result<Self, String> {
        Ok(req)
    }
    fn request(&self) -> &DeleteRequest {
        self
    }
}

/// One store's delete requests.
pub struct ErrorDeletes {
    pub(crate) reg: Registry<DeleteRequest>,
    cancel_period_ms: AtomicI64,
    pub(crate) events_removed: AtomicU64,
    /// Log segments known to hold events some request covers.
    pub(crate) covered_segments: Mutex<BTreeSet<u64>>,
}

impl ErrorDeletes {
    /// Loads `<dir>/delete_requests.json` (none yet: no requests).
    pub fn open(dir: &Path, cancel_period_ms: i64) -> io::Result<ErrorDeletes> {
        Ok(ErrorDeletes {
            reg: Registry::open(dir)?,
            cancel_period_ms: AtomicI64::new(cancel_period_ms.max(0)),
            events_removed: AtomicU64::new(0),
            covered_segments: Mutex::new(BTreeSet::new()),
        })
    }

    pub fn cancel_period_ms(&self) -> i64 {
        self.cancel_period_ms.load(Ordering::Relaxed)
    }

    /// Whether any request covers the event (and notes its segment for the purge).
    pub(crate) fn covers(&self, project: &str, issue: u64, ts: f64, seq: u64) -> bool {
        if !self.reg.any() {
            return false;
        }
        let hit = self
            .reg
            .with_all(|reqs| reqs.iter().any(|r| r.covers(project, issue, ts)));
        if hit {
            self.covered_segments.lock().insert(seq);
        }
        hit
    }

    /// Persists a new request; returns it.
    pub(crate) fn add(
        &self,
        start_ms: i64,
        end_ms: i64,
        project: Option<String>,
        issue: Option<String>,
        now_ms: i64,
    ) -> io::Result<DeleteRequest> {
        let req = self.reg.add(
            "",
            |_| crate::event::new_event_id()[..8].to_string(),
            |request_id| {
                Ok::<_, io::Error>(DeleteRequest {
                    request_id,
                    start_ms,
                    end_ms,
                    project,
                    issue,
                    created_at_ms: now_ms,
                    status: Status::Received,
                })
            },
            |_| {},
        )?;
        Ok((*req).clone())
    }

    /// The requests, oldest first.
    pub fn list(&self) -> Vec<DeleteRequest> {
        self.reg.list("")
    }

    /// Removes a request still `received` and within the cancel period (`force` lifts the age
    /// limit), as Loki's `DELETE /loki/api/v1/delete`.
    pub(crate) fn cancel(
        &self,
        request_id: &str,
        force: bool,
        now_ms: i64,
    ) -> Result<(), CancelError> {
        self.reg.cancel(
            "",
            request_id,
            force,
            self.cancel_period_ms(),
            now_ms,
            |_| {},
        )
    }

    /// `pharos_errors_deleted_events_total` and `pharos_errors_delete_requests{status}` of
    /// this store, as (removed, received, processed).
    pub fn counts(&self) -> (u64, usize, usize) {
        let (received, processed) = self.reg.counts();
        (
            self.events_removed.load(Ordering::Relaxed),
            received,
            processed,
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{ErrorStore, IssueQuery, Project, StoreOptions};
    use serde_json::json;

    fn project(id: &str) -> Project {
        Project {
            id: id.into(),
            name: id.into(),
            keys: vec![],
            allow_pii: false,
            rate_limits: Default::default(),
            from_config: true,
        }
    }

    fn event(func: &str, ts: f64) -> Vec<u8> {
        json!({"platform": "node", "level": "error", "timestamp": ts,
            "exception": {"values": [{"type": "TypeError", "value": "x", "stacktrace": {"frames": [
                {"function": func, "filename": "/a.js", "lineno": 3, "in_app": true}]}}]}})
        .to_string()
        .into_bytes()
    }

    fn issues(s: &ErrorStore) -> usize {
        s.list_issues(&IssueQuery {
            status: Some("all".into()),
            limit: 100,
            ..Default::default()
        })
        .1
    }

    /// The event ids of the records from `offset` on in segment `path` (fillers skipped).
    fn ids_from(path: &std::path::Path, offset: usize) -> Vec<String> {
        let data = std::fs::read(path).unwrap();
        let framing = wal::Framing::Flagged(wal::Compression::Zstd(1));
        let mut out = Vec::new();
        let mut at = offset;
        while let wal::frame::Next::Record(stored, end) = wal::frame::next(&data, at) {
            let raw = wal::frame::decode(framing, stored).unwrap();
            let r: serde_json::Value = serde_json::from_slice(&raw).unwrap();
            if let Some(id) = r.pointer("/e/event_id").and_then(|v| v.as_str()) {
                out.push(id.to_string());
            } else {
                assert_eq!(r, json!({}), "only events and fillers");
            }
            at = end;
        }
        assert_eq!(at, data.len(), "the segment reads to its end");
        out
    }

    /// A reader in the middle of a segment a delete rewrites (the errors forwarder at its saved
    /// position) goes on exactly after what it read: the other records keep their offsets.
    #[test]
    fn a_reader_in_a_rewritten_segment_resumes_after_what_it_read() {
        let dir = tempfile::tempdir().unwrap();
        let opts = StoreOptions {
            fsync: false,
            ..Default::default()
        };
        let p1 = project("1");
        let s = ErrorStore::open(dir.path(), opts, vec![p1.clone()]).unwrap();
        let ts = 1_700_000_000.0;
        let ids: Vec<String> = (0..6)
            .map(|i| {
                s.ingest_event(&p1, &event("f", ts + i as f64 * 10.0), None)
                    .unwrap()
            })
            .collect();
        let seg = std::fs::read_dir(dir.path().join("wal"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "wal"))
            .unwrap();
        assert_eq!(ids_from(&seg, 0), ids);
        // The reader has handed out the first three events.
        let data = std::fs::read(&seg).unwrap();
        let mut pos = 0;
        for _ in 0..3 {
            let wal::frame::Next::Record(_, end) = wal::frame::next(&data, pos) else {
                panic!("a record")
            };
            pos = end;
        }
        // Delete one event before the position and one after it.
        let ms = |i: f64| ((ts + i * 10.0) * 1000.0) as i64;
        s.add_delete(ms(1.0), ms(1.0), None, None, 0).unwrap();
        s.add_delete(ms(4.0), ms(4.0), None, None, 0).unwrap();
        assert_eq!(
            s.process_deletes(super::DEFAULT_CANCEL_PERIOD_MS).unwrap(),
            2
        );
        assert_eq!(std::fs::metadata(&seg).unwrap().len(), data.len() as u64);
        assert_eq!(
            ids_from(&seg, pos),
            [ids[3].clone(), ids[5].clone()],
            "the rest after the position, without the removed event"
        );
        assert_eq!(ids_from(&seg, 0).len(), 4);
        // A replay skips the fillers quietly and still finds the kept events.
        drop(s);
        std::fs::remove_file(dir.path().join(super::FILE)).unwrap();
        let s = ErrorStore::open(
            dir.path(),
            StoreOptions {
                fsync: false,
                ..Default::default()
            },
            vec![p1],
        )
        .unwrap();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(s.event(id).is_some(), i != 1 && i != 4, "event {i}");
        }
    }

    #[test]
    fn hidden_at_once_restored_by_cancel_and_removed_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let opts = StoreOptions {
            fsync: false,
            ..Default::default()
        };
        let (p1, p2) = (project("1"), project("2"));
        let ps = vec![p1.clone(), p2.clone()];
        let ts = 1_700_000_000.0;
        let (a, b, c);
        {
            let s = ErrorStore::open(dir.path(), opts.clone(), ps.clone()).unwrap();
            a = s.ingest_event(&p1, &event("f", ts), None).unwrap();
            b = s.ingest_event(&p2, &event("g", ts), None).unwrap();
            c = s.ingest_event(&p2, &event("g", ts + 100.0), None).unwrap();
            assert_eq!(issues(&s), 2);
            let ms = (ts * 1000.0) as i64;
            s.add_delete(ms, ms + 1000, Some("2".into()), None, 0)
                .unwrap();
            assert!(s.event(&b).is_none(), "hidden at once");
            assert!(s.event(&a).is_some() && s.event(&c).is_some());
            let id = s.add_delete(ms, ms, None, None, 0).unwrap();
            assert!(s.event(&a).is_none());
            assert_eq!(issues(&s), 1, "an issue without events disappears");
            s.cancel_delete(&id, true, 0).unwrap();
            assert!(s.event(&a).is_some(), "back after the cancel");
            assert!(s.event(&b).is_none());
        }
        let s = ErrorStore::open(dir.path(), opts.clone(), ps.clone()).unwrap();
        assert!(s.event(&b).is_none(), "the request survives a restart");
        assert_eq!(s.process_deletes(1).unwrap(), 0, "within the cancel period");
        assert_eq!(
            s.process_deletes(super::DEFAULT_CANCEL_PERIOD_MS).unwrap(),
            1
        );
        assert_eq!(s.deletes().list()[0].status, super::Status::Processed);
        assert_eq!(s.deletes().counts(), (1, 0, 1));
        drop(s);
        std::fs::remove_file(dir.path().join(super::FILE)).unwrap();
        let s = ErrorStore::open(dir.path(), opts, ps).unwrap();
        assert!(s.event(&b).is_none(), "gone from the log");
        assert!(s.event(&a).is_some() && s.event(&c).is_some());
        assert_eq!(issues(&s), 2);
    }
}
