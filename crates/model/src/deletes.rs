//! What every signal's delete requests share (Loki's delete API semantics, used by logs,
//! traces and errors): the request statuses, the registry of requests persisted in
//! `<store>/delete_requests.json` (versioned; temporary file, fsync, rename, directory fsync
//! before a request is acknowledged), Loki's rule for when a request may still be cancelled
//! and its words, and Go's duration text that those words use. Each signal supplies its
//! request record and what a request compiles to ([`Compiled`]).

use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Format version of `delete_requests.json`; a newer file is refused.
pub const FORMAT_VERSION: u32 = 1;
/// The requests' file in the store's directory.
pub const FILE: &str = "delete_requests.json";
/// Loki's default `compactor.delete_request_cancel_period`.
pub const DEFAULT_CANCEL_PERIOD_MS: i64 = 24 * 3_600_000;

/// Loki's request statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Accepted; covered items are hidden from reads, not yet removed from disk.
    Received,
    /// Removed from what was on disk when a pass ran.
    Processed,
}

/// One signal's delete request as stored.
pub trait Request: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    fn request_id(&self) -> &str;
    /// The tenant ("" where the store is one tenant's, or for items without a tenant).
    fn tenant(&self) -> &str;
    fn created_at_ms(&self) -> i64;
    fn status(&self) -> Status;
    /// Marks the request processed, applied to every segment up to `through`.
    fn set_processed(&mut self, through: u64);
    /// Segments up to this one have had the request applied.
    fn purged_through(&self) -> u64 {
        0
    }
}

/// Implements [`Request`] for a struct with `request_id`, `created_at_ms` and `status`
/// fields, naming its tenant and purged-through-segment fields when it has them:
/// `delete_request!(Req, tenant = tenant, purged = purged_through_segment)`.
#[macro_export]
macro_rules! delete_request {
    ($t:ty $(, tenant = $tenant:ident)? $(, purged = $purged:ident)?) => {
        impl $crate::deletes::Request for $t {
            fn request_id(&self) -> &str {
                &self.request_id
            }
            fn created_at_ms(&self) -> i64 {
                self.created_at_ms
            }
            fn status(&self) -> $crate::deletes::Status {
                self.status
            }
            $crate::delete_request!(@tenant $($tenant)?);
            $crate::delete_request!(@purged $($purged)?);
        }
    };
    (@tenant) => {
        fn tenant(&self) -> &str {
            ""
        }
    };
    (@tenant $f:ident) => {
        fn tenant(&self) -> &str {
            &self.$f
        }
    };
    (@purged) => {
        fn set_processed(&mut self, _through: u64) {
            self.status = $crate::deletes::Status::Processed;
        }
    };
    (@purged $f:ident) => {
        fn set_processed(&mut self, through: u64) {
            self.status = $crate::deletes::Status::Processed;
            self.$f = self.$f.max(through);
        }
        fn purged_through(&self) -> u64 {
            self.$f
        }
    };
}

/// A request with what it compiles to (its predicate).
pub trait Compiled: Sized + Send + Sync + 'static {
    type Req: Request;
    fn compile(req: Self::Req) -> Result<Self, String>;
    fn request(&self) -> &Self::Req;
}

/// State kept in the requests' file beside them (none for most signals).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NoExtra {}

#[derive(Serialize, Deserialize)]
#[serde(bound(
    serialize = "R: Serialize, X: Serialize",
    deserialize = "R: DeserializeOwned, X: DeserializeOwned + Default"
))]
struct OnDisk<R, X> {
    version: u32,
    requests: Vec<R>,
    #[serde(flatten)]
    extra: X,
}

struct State<C, X> {
    reqs: Vec<Arc<C>>,
    extra: X,
}

/// One store's delete requests (every tenant's, or one tenant's store).
pub struct Registry<C: Compiled, X = NoExtra> {
    path: PathBuf,
    state: Mutex<State<C, X>>,
    /// Any request at all: reads skip the checks when false.
    any: AtomicBool,
}

fn bad_data(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Writes `body` to `path` so that a crash leaves the old or the new file whole: temporary
/// file, fsync, rename, directory fsync.
pub fn write_durably(path: &Path, body: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(body)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::File::open(dir)?.sync_all(),
        _ => Ok(()),
    }
}

impl<C, X> Registry<C, X>
where
    C: Compiled,
    X: Clone + Default + Serialize + DeserializeOwned + Send,
{
    /// Loads `<dir>/delete_requests.json` (none yet: no requests).
    pub fn open(dir: &Path) -> io::Result<Self> {
        let path = dir.join(FILE);
        let _ = std::fs::remove_file(dir.join(format!("{FILE}.tmp")));
        let mut state = State {
            reqs: Vec::new(),
            extra: X::default(),
        };
        match std::fs::read(&path) {
            Ok(b) => {
                let d: OnDisk<C::Req, X> = serde_json::from_slice(&b)
                    .map_err(|e| bad_data(format!("{}: {e}", path.display())))?;
                if d.version > FORMAT_VERSION {
                    return Err(bad_data(format!(
                        "{}: format version {} is newer than this pharos understands ({FORMAT_VERSION}); use a newer pharos",
                        path.display(),
                        d.version
                    )));
                }
                for r in d.requests {
                    let id = r.request_id().to_string();
                    let c = C::compile(r)
                        .map_err(|e| bad_data(format!("{}: request {id}: {e}", path.display())))?;
                    state.reqs.push(Arc::new(c));
                }
                state.extra = d.extra;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        }
        Ok(Registry {
            path,
            any: AtomicBool::new(!state.reqs.is_empty()),
            state: Mutex::new(state),
        })
    }

    fn save(&self, st: &State<C, X>) -> io::Result<()> {
        let d = OnDisk {
            version: FORMAT_VERSION,
            requests: st.reqs.iter().map(|c| c.request().clone()).collect(),
            extra: st.extra.clone(),
        };
        let body = serde_json::to_vec_pretty(&d).map_err(|e| bad_data(e.to_string()))?;
        write_durably(&self.path, &body)?;
        self.any.store(!st.reqs.is_empty(), Ordering::Release);
        Ok(())
    }

    /// Whether there is any request at all.
    pub fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// Adds a request, durable on return. `new_id(attempt)` proposes ids until one is free
    /// in the tenant; `build(id)` makes the request (its error is the caller's); `touch`
    /// updates the state kept beside the requests (undone if the save fails).
    pub fn add<E: From<io::Error>>(
        &self,
        tenant: &str,
        mut new_id: impl FnMut(u64) -> String,
        build: impl FnOnce(String) -> Result<C, E>,
        touch: impl FnOnce(&mut X),
    ) -> Result<Arc<C>, E> {
        let mut st = self.state.lock();
        let mut attempt = 0u64;
        let id = loop {
            let id = new_id(attempt);
            if !st
                .reqs
                .iter()
                .any(|c| c.request().tenant() == tenant && c.request().request_id() == id)
            {
                break id;
            }
            attempt += 1;
        };
        let c = Arc::new(build(id)?);
        let old = st.extra.clone();
        st.reqs.push(c.clone());
        touch(&mut st.extra);
        if let Err(e) = self.save(&st) {
            st.reqs.pop();
            st.extra = old;
            self.any.store(!st.reqs.is_empty(), Ordering::Release);
            return Err(e.into());
        }
        Ok(c)
    }

    /// The tenant's requests, oldest first.
    pub fn list(&self, tenant: &str) -> Vec<C::Req> {
        let mut v: Vec<C::Req> = self
            .state
            .lock()
            .reqs
            .iter()
            .filter(|c| c.request().tenant() == tenant)
            .map(|c| c.request().clone())
            .collect();
        v.sort_by_key(|r| r.created_at_ms());
        v
    }

    /// Removes a request still `received` and within `cancel_period_ms` of its creation
    /// (`force` lifts the age limit), as Loki's `DELETE /loki/api/v1/delete`; `touch` as in
    /// [`Registry::add`].
    pub fn cancel(
        &self,
        tenant: &str,
        request_id: &str,
        force: bool,
        cancel_period_ms: i64,
        now_ms: i64,
        touch: impl FnOnce(&mut X),
    ) -> Result<(), CancelError> {
        let mut st = self.state.lock();
        let Some(i) = st
            .reqs
            .iter()
            .position(|c| c.request().tenant() == tenant && c.request().request_id() == request_id)
        else {
            return Err(CancelError::NotFound);
        };
        let r = st.reqs[i].request();
        check_cancel(
            r.status() == Status::Processed,
            r.created_at_ms(),
            cancel_period_ms,
            now_ms,
            force,
        )?;
        let removed = st.reqs.remove(i);
        let old = st.extra.clone();
        touch(&mut st.extra);
        if let Err(e) = self.save(&st) {
            st.reqs.insert(i, removed);
            st.extra = old;
            self.any.store(true, Ordering::Release);
            return Err(CancelError::Io(e.to_string()));
        }
        Ok(())
    }

    /// Calls `f` with every request (under the registry's lock: keep it short).
    pub fn with_all<T>(&self, f: impl FnOnce(&[Arc<C>]) -> T) -> T {
        f(&self.state.lock().reqs)
    }

    /// Every request.
    pub fn all(&self) -> Vec<Arc<C>> {
        self.state.lock().reqs.clone()
    }

    /// Every request created at least `cancel_period_ms` before `now_ms`.
    pub fn ready(&self, cancel_period_ms: i64, now_ms: i64) -> Vec<Arc<C>> {
        self.state
            .lock()
            .reqs
            .iter()
            .filter(|c| c.request().created_at_ms().saturating_add(cancel_period_ms) <= now_ms)
            .cloned()
            .collect()
    }

    /// Marks the requests `which` picks processed, applied to every segment up to `through`
    /// (requests cancelled meanwhile are gone and skipped); saved when anything changed.
    pub fn mark_processed(&self, which: impl Fn(&C::Req) -> bool, through: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        let mut changed = false;
        for c in st.reqs.iter_mut() {
            let r = c.request();
            if !which(r) || (r.status() == Status::Processed && r.purged_through() >= through) {
                continue;
            }
            let mut req = r.clone();
            req.set_processed(through);
            if let Ok(n) = C::compile(req) {
                *c = Arc::new(n);
                changed = true;
            }
        }
        if changed {
            self.save(&st)?;
        }
        Ok(())
    }

    /// The requests as (received, processed).
    pub fn counts(&self) -> (usize, usize) {
        let st = self.state.lock();
        let received = st
            .reqs
            .iter()
            .filter(|c| c.request().status() == Status::Received)
            .count();
        (received, st.reqs.len() - received)
    }

    /// Reads the state kept beside the requests.
    pub fn extra<T>(&self, f: impl FnOnce(&X) -> T) -> T {
        f(&self.state.lock().extra)
    }
}

/// Loki's request ids for [`Registry::add`]: [`request_id`] over the tenant, the creation
/// time (plus the attempt, should an id be taken) and `query`.
pub fn loki_ids<'a>(
    tenant: &'a str,
    now_ms: i64,
    query: &'a str,
) -> impl FnMut(u64) -> String + 'a {
    move |attempt| {
        let seed = (now_ms as u64).wrapping_add(attempt);
        request_id(&[tenant.as_bytes(), &seed.to_le_bytes(), query.as_bytes()])
    }
}

/// 8 hex digits of FNV-1a over `parts`, as Loki's `generateUniqueID` makes request ids.
pub fn request_id(parts: &[&[u8]]) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for p in parts {
        for b in *p {
            h ^= *b as u32;
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    format!("{h:08x}")
}

/// Why a cancellation was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum CancelError {
    NotFound,
    NotAllowed(String),
    Io(String),
}

/// Loki's check before cancelling a request: never once processed, and only within
/// `cancel_period_ms` of its creation unless `force`.
pub fn check_cancel(
    processed: bool,
    created_at_ms: i64,
    cancel_period_ms: i64,
    now_ms: i64,
    force: bool,
) -> Result<(), CancelError> {
    if processed {
        return Err(CancelError::NotAllowed(
            "deletion of request which is in process or already processed is not allowed".into(),
        ));
    }
    if created_at_ms.saturating_add(cancel_period_ms) < now_ms && !force {
        return Err(CancelError::NotAllowed(format!(
            "Cancellation of partially completed delete request or delete request past the deadline of {} since its creation is not allowed. To force, use the ?force query parameter",
            go_duration(cancel_period_ms)
        )));
    }
    Ok(())
}

/// A duration in milliseconds as Go's `time.Duration.String` writes it (`24h0m0s`, `1.5s`).
pub fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let neg = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    let (h, m, s, frac) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let secs = if frac == 0 {
        format!("{s}s")
    } else {
        format!("{s}.{}s", format!("{frac:03}").trim_end_matches('0'))
    };
    if h > 0 {
        format!("{neg}{h}h{m}m{secs}")
    } else if m > 0 {
        format!("{neg}{m}m{secs}")
    } else if s > 0 || frac >= 1 {
        if s == 0 {
            return format!("{neg}{frac}ms");
        }
        format!("{neg}{secs}")
    } else {
        "0s".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Req {
        request_id: String,
        tenant: String,
        created_at_ms: i64,
        status: Status,
    }

    crate::delete_request!(Req, tenant = tenant);

    impl Compiled for Req {
        type Req = Req;
        fn compile(req: Req) -> Result<Req, String> {
            Ok(req)
        }
        fn request(&self) -> &Req {
            self
        }
    }

    fn add(r: &Registry<Req>, tenant: &str, now: i64) -> String {
        let c = r
            .add(
                tenant,
                |n| request_id(&[tenant.as_bytes(), &n.to_le_bytes()]),
                |id| {
                    Ok::<_, io::Error>(Req {
                        request_id: id,
                        tenant: tenant.into(),
                        created_at_ms: now,
                        status: Status::Received,
                    })
                },
                |_| {},
            )
            .unwrap();
        c.request_id.clone()
    }

    #[test]
    fn registry_persists_lists_cancels_and_marks_processed() {
        let d = tempfile_dir();
        let r: Registry<Req> = Registry::open(&d).unwrap();
        assert!(!r.any());
        let a = add(&r, "t", 10);
        let b = add(&r, "t", 5);
        add(&r, "u", 1);
        assert_ne!(a, b, "ids are unique in a tenant");
        assert_eq!(
            r.list("t")
                .iter()
                .map(|x| x.created_at_ms)
                .collect::<Vec<_>>(),
            [5, 10]
        );
        // The file: version and requests, nothing else (the format every signal wrote).
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join(FILE)).unwrap()).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["requests", "version"]);
        assert_eq!(r.ready(10, 19).len(), 2);
        r.mark_processed(|x| x.request_id == b, 0).unwrap();
        assert_eq!(r.counts(), (2, 1));
        assert!(matches!(
            r.cancel("t", &b, true, 10, 0, |_| {}),
            Err(CancelError::NotAllowed(_))
        ));
        assert_eq!(
            r.cancel("u", &a, true, 10, 0, |_| {}),
            Err(CancelError::NotFound)
        );
        r.cancel("t", &a, false, 10, 15, |_| {}).unwrap();
        drop(r);
        let r: Registry<Req> = Registry::open(&d).unwrap();
        assert!(r.any());
        assert_eq!(r.list("t").len(), 1);
        assert_eq!(r.list("t")[0].status, Status::Processed);
        std::fs::write(d.join(FILE), r#"{"version": 9, "requests": []}"#).unwrap();
        let e = Registry::<Req>::open(&d).err().unwrap();
        assert!(e.to_string().contains("newer"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "model-deletes-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn go_durations_and_cancel_rule() {
        assert_eq!(go_duration(86_400_000), "24h0m0s");
        assert_eq!(go_duration(90_000), "1m30s");
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(1500), "1.5s");
        assert_eq!(go_duration(50), "50ms");
        assert!(check_cancel(false, 0, 10, 5, false).is_ok());
        assert!(
            matches!(check_cancel(false, 0, 10, 50, false), Err(CancelError::NotAllowed(m)) if m.contains("deadline of 10ms"))
        );
        assert!(check_cancel(false, 0, 10, 50, true).is_ok());
        assert!(check_cancel(true, 0, 10, 5, true).is_err());
    }
}
