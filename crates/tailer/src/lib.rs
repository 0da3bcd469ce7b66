//! File tailing, the promtail role: reads the files matched by promtail `scrape_configs`
//! (`__path__` globs, `**` included), runs their `pipeline_stages`, and pushes the lines to a
//! [`model::LogSink`]. Offsets are saved in a positions file only after the sink acknowledged
//! the lines, so a restart (even after `kill -9`) resumes where the store is.
//!
//! Rotation: a file whose path now names another inode (rename + create), or that vanished, is
//! drained through its still-open handle until it stays quiet, then closed; a file whose size
//! drops below the read offset (copytruncate) is re-read from 0. Files that appear later are
//! found when they are created, as promtail's directory watcher finds them: every poll stats
//! the directories the globs can match in (each glob's literal directory prefix and the
//! directories of matched files) and re-evaluates the globs when one's mtime changed; the
//! globs are also re-evaluated every `target_config.sync_period`. A last line without a
//! newline is held back until its newline arrives (or the rotated file is finished).
//!
//! Polling (every 250 ms) is used rather than inotify: it behaves the same on every
//! filesystem, including network mounts and overlayfs, at a negligible cost for log files.

pub mod config;
pub mod pipeline;
pub mod positions;

pub use config::{load, parse, TailerConfig};

use model::{Labels, LogEntry, LogSink, LogStream, StorageError};
use pipeline::{Entry, Pipeline};
use positions::FileEntry;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Poll interval for reading files.
pub const POLL: Duration = Duration::from_millis(250);
/// Largest amount read from one file per poll.
const MAX_READ_PER_POLL: usize = 4 << 20;
/// Longest accepted line; longer lines are cut (the rest is dropped, as promtail does with
/// `max_line_size_truncate`).
const MAX_LINE: usize = 256 << 10;
/// Polls without new data after which a rotated-away file is closed.
const DRAIN_QUIET_POLLS: u32 = 4;
/// Polls (~250 ms each) a push refused by a limit is retried before its lines are dropped.
const MAX_LIMIT_RETRIES: u32 = 40;

fn inode_of(md: &std::fs::Metadata) -> String {
    format!("{}:{}", md.dev(), md.ino())
}

struct FileTail {
    /// Path the file was discovered at (the `filename` label).
    name: String,
    /// Where the file currently lives, if still matched by a glob.
    live_path: Option<PathBuf>,
    file: File,
    inode: String,
    /// Bytes read so far (offset of the next read).
    read_pos: u64,
    partial: Vec<u8>,
    /// On-disk bytes of the incomplete last line (may exceed `partial` when cut at MAX_LINE).
    partial_disk: u64,
    /// Offset up to which lines are acknowledged by the sink.
    committed: u64,
    pipeline: Pipeline,
    labels: BTreeMap<String, String>,
    quiet_polls: u32,
}

impl FileTail {
    fn open(
        path: &Path,
        offset: u64,
        labels: BTreeMap<String, String>,
        stages: Vec<pipeline::Stage>,
    ) -> std::io::Result<FileTail> {
        let mut file = File::open(path)?;
        let md = file.metadata()?;
        let start = if md.len() < offset { 0 } else { offset };
        file.seek(SeekFrom::Start(start))?;
        let name = path.display().to_string();
        let mut labels = labels;
        labels.insert("filename".into(), name.clone());
        Ok(FileTail {
            name,
            live_path: Some(path.to_path_buf()),
            file,
            inode: inode_of(&md),
            read_pos: start,
            partial: Vec::new(),
            partial_disk: 0,
            committed: start,
            pipeline: Pipeline::new(stages),
            labels,
            quiet_polls: 0,
        })
    }

    /// Reads what is available; returns complete lines as entries.
    fn read(&mut self, now_ns: i64) -> std::io::Result<Vec<Entry>> {
        let mut buf = Vec::new();
        (&mut self.file)
            .take(MAX_READ_PER_POLL as u64)
            .read_to_end(&mut buf)?;
        if buf.is_empty() {
            self.quiet_polls += 1;
            return Ok(vec![]);
        }
        self.quiet_polls = 0;
        let mut out = Vec::new();
        for chunk in buf.split_inclusive(|b| *b == b'\n') {
            let complete = chunk.last() == Some(&b'\n');
            let body = if complete {
                &chunk[..chunk.len() - 1]
            } else {
                chunk
            };
            let room = MAX_LINE.saturating_sub(self.partial.len());
            self.partial
                .extend_from_slice(&body[..room.min(body.len())]);
            self.partial_disk += chunk.len() as u64;
            self.read_pos += chunk.len() as u64;
            if complete {
                out.push(self.take_line(now_ns));
            }
        }
        Ok(out)
    }

    /// Turns the buffered line into an entry ending at `read_pos`.
    fn take_line(&mut self, now_ns: i64) -> Entry {
        let end = self.read_pos;
        let start = end - self.partial_disk;
        let mut bytes = std::mem::take(&mut self.partial);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        self.partial_disk = 0;
        Entry {
            labels: self.labels.clone(),
            extracted: BTreeMap::new(),
            metadata: Vec::new(),
            line: String::from_utf8_lossy(&bytes).into_owned(),
            ts_ns: now_ns,
            start,
            end,
        }
    }

    /// Offset safe to save: the end of the last complete line, or the start of a multiline
    /// group still held back.
    fn safe_offset(&self) -> u64 {
        let base = self.read_pos - self.partial_disk;
        self.pipeline.pending_start().map_or(base, |p| p.min(base))
    }

    /// Rewinds to the last acknowledged offset (after a failed push).
    fn rewind(&mut self, stages: &[pipeline::Stage]) {
        if self.file.seek(SeekFrom::Start(self.committed)).is_ok() {
            self.read_pos = self.committed;
            self.partial.clear();
            self.partial_disk = 0;
            self.pipeline = Pipeline::new(stages.to_vec());
        }
    }
}

struct Job {
    cfg: config::ScrapeConfig,
    files: Vec<FileTail>,
}

/// A running tailer; stops (after a final positions sync) when dropped or on `stop()`.
pub struct Tailer {
    stop: Arc<AtomicBool>,
    abandon: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Tailer {
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// Stops without the final read and positions sync, as a crash would (for tests).
    #[doc(hidden)]
    pub fn abandon(mut self) {
        self.abandon.store(true, Ordering::SeqCst);
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Tailer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts tailing in a background thread. `default_positions` is used when the config has
/// no `positions.filename`.
pub fn start(
    cfg: TailerConfig,
    sink: Arc<dyn LogSink>,
    tenant: String,
    default_positions: PathBuf,
) -> Result<Tailer, String> {
    let pos_path = cfg.positions_file.clone().unwrap_or(default_positions);
    let saved = positions::load(&pos_path)?;
    for n in &cfg.notices {
        tracing::info!("{n}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut state = State {
        jobs: cfg
            .scrape_configs
            .iter()
            .cloned()
            .map(|c| Job {
                cfg: c,
                files: Vec::new(),
            })
            .collect(),
        saved,
        pos_path,
        sink,
        tenant,
        last_saved: Vec::new(),
        last_sync: Instant::now(),
        sync_period: cfg.positions_sync,
        glob_period: cfg.glob_period,
        last_glob: None,
        dir_stamps: Vec::new(),
        recovered: false,
        limit_retries: 0,
    };
    let abandon = Arc::new(AtomicBool::new(false));
    let (stop2, abandon2) = (stop.clone(), abandon.clone());
    let thread = std::thread::Builder::new()
        .name("tailer".into())
        .spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                state.poll();
                std::thread::sleep(POLL);
            }
            if !abandon2.load(Ordering::SeqCst) {
                state.poll();
                state.save_positions(true);
            }
        })
        .map_err(|e| format!("cannot start the tailer thread: {e}"))?;
    Ok(Tailer {
        stop,
        abandon,
        thread: Some(thread),
    })
}

struct State {
    jobs: Vec<Job>,
    saved: positions::Saved,
    pos_path: PathBuf,
    sink: Arc<dyn LogSink>,
    tenant: String,
    last_saved: Vec<FileEntry>,
    last_sync: Instant,
    sync_period: Duration,
    glob_period: Duration,
    last_glob: Option<Instant>,
    /// Watched directories and their mtimes at the last glob evaluation.
    dir_stamps: Vec<(PathBuf, Option<std::time::SystemTime>)>,
    recovered: bool,
    /// Consecutive polls whose push hit a limit (429) and is being retried.
    limit_retries: u32,
}

/// Expands a `__path__` glob (`*`, `?`, `[..]`, `{a,b}`, `**`).
pub fn expand_glob(pattern: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in brace_expand(pattern) {
        let opts = glob::MatchOptions {
            require_literal_leading_dot: false,
            ..Default::default()
        };
        if let Ok(paths) = glob::glob_with(&p, opts) {
            for e in paths.flatten() {
                if e.is_file() && !out.contains(&e) {
                    out.push(e);
                }
            }
        }
    }
    out.sort();
    out
}

/// The directory a glob's matches live under: its components before the first wildcard
/// (the file's own directory for a glob without wildcards).
fn glob_base_dir(pattern: &str) -> PathBuf {
    let mut dir = PathBuf::new();
    let path = Path::new(pattern);
    let n = path.components().count();
    for (i, c) in path.components().enumerate() {
        let s = c.as_os_str().to_string_lossy();
        if i + 1 == n || s.contains(['*', '?', '[', '{']) {
            break;
        }
        dir.push(c);
    }
    dir
}

fn dir_mtime(d: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(d).and_then(|m| m.modified()).ok()
}

fn brace_expand(p: &str) -> Vec<String> {
    if let (Some(open), Some(close)) = (p.find('{'), p.find('}')) {
        if open < close {
            let (pre, rest) = (&p[..open], &p[open + 1..]);
            let (alts, post) = (&rest[..close - open - 1], &rest[close - open..]);
            return alts
                .split(',')
                .flat_map(|a| brace_expand(&format!("{pre}{a}{post}")))
                .collect();
        }
    }
    vec![p.to_string()]
}

impl State {
    fn poll(&mut self) {
        let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        let glob_due = self
            .last_glob
            .is_none_or(|t| t.elapsed() >= self.glob_period)
            || self.dir_stamps.iter().any(|(d, m)| dir_mtime(d) != *m);
        if glob_due {
            self.last_glob = Some(Instant::now());
            self.discover();
        }
        for ji in 0..self.jobs.len() {
            self.poll_job(ji, now_ns);
        }
        self.save_positions(self.last_sync.elapsed() >= self.sync_period);
    }

    fn discover(&mut self) {
        // Stamp the directories before globbing, so a file created meanwhile is seen next poll.
        let mut dirs: Vec<PathBuf> = Vec::new();
        for job in &self.jobs {
            for t in &job.cfg.targets {
                dirs.extend(brace_expand(&t.path_glob).iter().map(|g| glob_base_dir(g)));
            }
            for f in &job.files {
                if let Some(parent) = f.live_path.as_deref().and_then(Path::parent) {
                    dirs.push(parent.to_path_buf());
                }
            }
        }
        dirs.sort();
        dirs.dedup();
        self.dir_stamps = dirs
            .into_iter()
            .map(|d| {
                let m = dir_mtime(&d);
                (d, m)
            })
            .collect();
        for ji in 0..self.jobs.len() {
            let targets = self.jobs[ji].cfg.targets.clone();
            for t in targets {
                for path in expand_glob(&t.path_glob) {
                    let Ok(md) = std::fs::metadata(&path) else {
                        continue;
                    };
                    let ino = inode_of(&md);
                    let job = &mut self.jobs[ji];
                    if let Some(f) = job.files.iter_mut().find(|f| f.inode == ino) {
                        // Known file, maybe under its rotated name.
                        if f.live_path.is_none() {
                            f.live_path = Some(path.clone());
                        }
                        continue;
                    }
                    if job
                        .files
                        .iter()
                        .any(|f| f.live_path.as_deref() == Some(path.as_path()))
                    {
                        continue; // the path's current holder is checked in poll_job
                    }
                    let offset = self
                        .saved
                        .lookup(&path.display().to_string(), &ino)
                        .unwrap_or(0);
                    match FileTail::open(&path, offset, t.labels.clone(), job.cfg.stages.clone()) {
                        Ok(ft) => {
                            tracing::info!(path = %path.display(), offset, "tailing file");
                            job.files.push(ft);
                        }
                        Err(e) => tracing::warn!(path = %path.display(), "cannot open: {e}"),
                    }
                }
            }
        }
        if !self.recovered {
            self.recovered = true;
            self.recover_rotated();
        }
    }

    /// After a restart: files saved in the positions file that no glob matches any more (renamed
    /// away while pharos was down) are found by inode in their directory and finished.
    fn recover_rotated(&mut self) {
        let saved = self.saved.files.clone();
        for s in saved {
            if self
                .jobs
                .iter()
                .any(|j| j.files.iter().any(|f| f.inode == s.inode))
            {
                continue;
            }
            let Some(dir) = Path::new(&s.path).parent() else {
                continue;
            };
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in rd.flatten() {
                let Ok(md) = e.metadata() else { continue };
                if !md.is_file() || inode_of(&md) != s.inode || md.len() <= s.offset {
                    continue;
                }
                // Attribute it to the job whose glob matched its old path.
                let ji = self.jobs.iter().position(|j| {
                    j.cfg.targets.iter().any(|t| {
                        brace_expand(&t.path_glob)
                            .iter()
                            .any(|g| glob::Pattern::new(g).is_ok_and(|p| p.matches(&s.path)))
                    })
                });
                let Some(ji) = ji else { continue };
                let t = self.jobs[ji]
                    .cfg
                    .targets
                    .iter()
                    .find(|t| {
                        brace_expand(&t.path_glob)
                            .iter()
                            .any(|g| glob::Pattern::new(g).is_ok_and(|p| p.matches(&s.path)))
                    })
                    .cloned();
                let Some(t) = t else { continue };
                if let Ok(mut ft) = FileTail::open(
                    &e.path(),
                    s.offset,
                    t.labels.clone(),
                    self.jobs[ji].cfg.stages.clone(),
                ) {
                    tracing::info!(path = %e.path().display(), was = %s.path, "finishing a file rotated while pharos was down");
                    ft.name = s.path.clone();
                    ft.labels.insert("filename".into(), s.path.clone());
                    ft.live_path = None;
                    self.jobs[ji].files.push(ft);
                }
            }
        }
    }

    fn poll_job(&mut self, ji: usize, now_ns: i64) {
        let stages = self.jobs[ji].cfg.stages.clone();
        let mut reopen: Vec<(PathBuf, BTreeMap<String, String>)> = Vec::new();
        let job = &mut self.jobs[ji];
        let mut entries: Vec<Entry> = Vec::new();
        for f in job.files.iter_mut() {
            // Rotation and truncation checks.
            if let Some(p) = f.live_path.clone() {
                match std::fs::metadata(&p) {
                    Ok(md) if inode_of(&md) == f.inode => {
                        if md.len() < f.read_pos {
                            tracing::info!(path = %p.display(), "file truncated (copytruncate); reading from the start");
                            if f.file.seek(SeekFrom::Start(0)).is_ok() {
                                f.read_pos = 0;
                                f.partial.clear();
                                f.partial_disk = 0;
                                f.committed = 0;
                                f.pipeline = Pipeline::new(stages.clone());
                            }
                        }
                    }
                    Ok(_) => {
                        tracing::info!(path = %p.display(), "file rotated (new inode); draining the old one");
                        f.live_path = None;
                        let mut labels = f.labels.clone();
                        labels.remove("filename");
                        reopen.push((p, labels));
                    }
                    Err(_) => f.live_path = None,
                }
            }
            match f.read(now_ns) {
                Ok(lines) => entries.extend(f.pipeline.process(lines)),
                Err(e) => tracing::warn!(file = %f.name, "read failed: {e}"),
            }
            entries.extend(f.pipeline.flush(false));
            // A drained rotated file: emit its unterminated last line, then close it.
            if f.live_path.is_none() && f.quiet_polls >= DRAIN_QUIET_POLLS {
                if !f.partial.is_empty() {
                    let e = f.take_line(now_ns);
                    entries.extend(f.pipeline.process(vec![e]));
                }
                entries.extend(f.pipeline.flush(true));
            }
        }
        for (p, labels) in reopen {
            if let Ok(ft) = FileTail::open(&p, 0, labels, stages.clone()) {
                job.files.push(ft);
            }
        }
        let ok = entries.is_empty() || {
            let give_up = self.limit_retries >= MAX_LIMIT_RETRIES;
            let ok = push(&*self.sink, &self.tenant, entries, give_up);
            self.limit_retries = if ok { 0 } else { self.limit_retries + 1 };
            ok
        };
        for f in job.files.iter_mut() {
            if ok {
                f.committed = f.safe_offset();
            } else {
                f.rewind(&stages);
            }
        }
        if ok {
            job.files.retain(|f| {
                let done = f.live_path.is_none()
                    && f.quiet_polls >= DRAIN_QUIET_POLLS
                    && f.partial.is_empty()
                    && f.pipeline.pending_start().is_none();
                if done {
                    tracing::info!(file = %f.name, "finished rotated file");
                }
                !done
            });
        }
    }

    fn save_positions(&mut self, sync: bool) {
        let files: Vec<FileEntry> = self
            .jobs
            .iter()
            .flat_map(|j| j.files.iter())
            .map(|f| FileEntry {
                path: f
                    .live_path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| f.name.clone()),
                inode: f.inode.clone(),
                offset: f.committed,
            })
            .collect();
        if files == self.last_saved && !sync {
            return;
        }
        match positions::save(&self.pos_path, &files, sync) {
            Ok(()) => {
                self.last_saved = files;
                if sync {
                    self.last_sync = Instant::now();
                }
            }
            Err(e) => {
                tracing::warn!(path = %self.pos_path.display(), "cannot write positions: {e}")
            }
        }
    }
}

/// Pushes entries grouped by label set; `false` asks the caller to re-read and retry: I/O
/// failures always, limit refusals (HTTP 429 in Loki) until `give_up`, like promtail's
/// retries with backoff. Invalid lines (too old, ...) are dropped with a warning.
fn push(sink: &dyn LogSink, tenant: &str, entries: Vec<Entry>, give_up: bool) -> bool {
    let mut streams: BTreeMap<BTreeMap<String, String>, Vec<LogEntry>> = BTreeMap::new();
    for e in entries {
        let labels: BTreeMap<String, String> = e
            .labels
            .into_iter()
            .filter(|(k, _)| !k.starts_with("__"))
            .collect();
        streams.entry(labels).or_default().push(LogEntry {
            ts_ns: e.ts_ns,
            line: e.line,
            metadata: e.metadata,
        });
    }
    let batch: Vec<LogStream> = streams
        .into_iter()
        .map(|(l, entries)| LogStream {
            labels: Labels::from_pairs(l),
            entries,
        })
        .collect();
    match sink.push(tenant, batch) {
        Ok(_) => true,
        Err(StorageError::Io(e)) => {
            tracing::warn!("log store write failed, will retry: {e}");
            false
        }
        Err(StorageError::Limit(e)) if !give_up => {
            tracing::warn!("log store limit reached, will retry: {e}");
            false
        }
        Err(e) => {
            tracing::warn!("log store rejected tailed lines (dropped): {e}");
            true
        }
    }
}
