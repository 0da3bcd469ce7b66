//! The one write-ahead log of pharos, shared by the TSDB, the log store, the trace store and
//! the error store: it owns the log *mechanics*, the stores own what their records mean.
//!
//! * **Segments**: numbered files `NNNNNNNN<suffix>` in one directory ([`SegmentNaming`]: the
//!   TSDB's `wal/00000001`, the log store's `00000001.log`, the trace store's `00000001.seg`),
//!   rolled past [`WalOptions::segment_bytes`]. Every [`Wal::open`] starts a fresh segment after
//!   the existing ones (an empty last segment is reused), so nothing is appended behind a tail a
//!   crash may have torn.
//! * **Records**: `[len u32 LE][crc32(payload) u32 LE][payload]`; the payload is stored as
//!   [`Framing`] says: as given, behind a compression flag byte (none / snappy / zstd), or
//!   always zstd. The framing is fixed per log so each store's existing files read as they are.
//! * **Durability**: [`Wal::append`] returns once the record is on disk (`fdatasync`);
//!   concurrent appenders share one fsync (group commit: a writer whose record another
//!   writer's fsync covered returns without syncing). [`Wal::write`] + [`Wal::sync`] split the
//!   two for callers that must order records under their own lock ([`Wal::writer`]).
//!   `fsync: false` skips syncing (tests, benchmarks).
//! * **Replay** ([`Wal::replay`]): the newest checkpoint, then every segment in order. A
//!   segment is read up to its first torn or corrupt record, which is truncated away (counted
//!   in [`WalStats::corruptions_truncated`]); replay continues with the next segment.
//! * **Checkpoints** ([`Wal::write_checkpoint`]): `checkpoint.NNNNNNNN` replaces segments
//!   `..=NNNNNNNN` with the records the caller still needs, atomically (temporary file, fsync,
//!   rename, directory fsync), then deletes what it replaces. A crash at any point leaves
//!   either the old segments or the checkpoint in effect.
//! * **Deletion** of whole closed segments: [`Wal::remove_segments_before`],
//!   [`Wal::remove_segments_where`].
//! * **Metrics**: [`Wal::stats`] — plain counters for the stores to report.
//!
//! Positions ([`Position`]) are `(segment, offset just after the record)`, ordered; records of
//! a checkpoint replay with the checkpoint's number as their segment.

pub mod frame;

pub use frame::{Compression, Framing, MAX_RECORD};

use parking_lot::{Condvar, Mutex};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// File names of the segments: `{seq:08}{suffix}`. Checkpoints are `checkpoint.{seq:08}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentNaming {
    /// Appended to the zero-padded number, e.g. `".log"`; may be empty.
    pub suffix: &'static str,
}

impl SegmentNaming {
    /// Bare numbers: `00000001` (the TSDB's layout, as Prometheus names its segments).
    pub const fn plain() -> SegmentNaming {
        SegmentNaming { suffix: "" }
    }

    /// Numbers with a suffix such as `".log"` or `".seg"`.
    pub const fn with_suffix(suffix: &'static str) -> SegmentNaming {
        SegmentNaming { suffix }
    }

    /// The path of segment `seq` in `dir`.
    pub fn path(&self, dir: &Path, seq: u64) -> PathBuf {
        dir.join(format!("{seq:08}{}", self.suffix))
    }

    /// The segment number a file name stands for, if it is one of ours.
    pub fn parse(&self, name: &str) -> Option<u64> {
        let digits = name.strip_suffix(self.suffix)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }
}

impl Default for SegmentNaming {
    fn default() -> Self {
        SegmentNaming::with_suffix(".wal")
    }
}

/// How a log is opened.
#[derive(Clone, Copy, Debug)]
pub struct WalOptions {
    /// Roll to a new segment when a record would take the current one past this size.
    pub segment_bytes: u64,
    /// `fdatasync` before an append returns; `false` for tests and benchmarks only.
    pub fsync: bool,
    pub naming: SegmentNaming,
    pub framing: Framing,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_bytes: 128 << 20,
            fsync: true,
            naming: SegmentNaming::default(),
            framing: Framing::default(),
        }
    }
}

/// Where a record is: its segment and the byte offset just after it. Ordered by segment,
/// then offset, so a later record has a greater position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub seq: u64,
    pub offset: u64,
}

/// What a replay read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Records handed to the callback.
    pub records: u64,
    /// Their stored bytes (framing included).
    pub bytes: u64,
    /// Segments read (the checkpoint not counted).
    pub segments: u64,
    /// The checkpoint read first, if any (the segment number it covers up to).
    pub checkpoint: Option<u64>,
    /// Segments whose torn or corrupt tail was cut off.
    pub truncated: u64,
    /// Bytes cut off.
    pub truncated_bytes: u64,
    /// CRC-valid records whose payload did not decode (skipped).
    pub undecodable: u64,
}

/// Counters of one log since it was opened (plus `segments` and `disk_bytes` now).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    pub records_appended: u64,
    /// Bytes written, framing included.
    pub bytes_appended: u64,
    pub fsyncs: u64,
    /// Total time spent in `fdatasync`, microseconds.
    pub fsync_micros: u64,
    /// Torn or corrupt tails cut off by replay.
    pub corruptions_truncated: u64,
    pub checkpoints_written: u64,
    pub segments_removed: u64,
    /// Segment files present now.
    pub segments: u64,
    /// The segment being appended to.
    pub active_segment: u64,
}

impl WalStats {
    /// Appends the counters in Prometheus text exposition format, named `<prefix>_…` (for
    /// example `pharos_logs_wal`): records and bytes appended, fsyncs and their duration,
    /// corruptions truncated, checkpoints, segments present and the current segment.
    pub fn write_metrics(&self, out: &mut String, prefix: &str) {
        use std::fmt::Write as _;
        let mut m = |name: &str, kind: &str, help: &str, v: String| {
            let _ = writeln!(
                out,
                "# HELP {prefix}_{name} {help}\n# TYPE {prefix}_{name} {kind}\n{prefix}_{name} {v}"
            );
        };
        m(
            "records_appended_total",
            "counter",
            "WAL records appended.",
            self.records_appended.to_string(),
        );
        m(
            "bytes_appended_total",
            "counter",
            "WAL bytes appended, framing included.",
            self.bytes_appended.to_string(),
        );
        m(
            "fsyncs_total",
            "counter",
            "WAL fsyncs (one covers every record written before it).",
            self.fsyncs.to_string(),
        );
        m(
            "fsync_seconds_total",
            "counter",
            "Time spent in WAL fsyncs.",
            (self.fsync_micros as f64 / 1e6).to_string(),
        );
        m(
            "corruptions_truncated_total",
            "counter",
            "Torn or corrupt WAL tails cut off on replay.",
            self.corruptions_truncated.to_string(),
        );
        m(
            "checkpoints_total",
            "counter",
            "WAL checkpoints written.",
            self.checkpoints_written.to_string(),
        );
        m(
            "segments",
            "gauge",
            "WAL segment files present.",
            self.segments.to_string(),
        );
        m(
            "segment_current",
            "gauge",
            "WAL segment being written to.",
            self.active_segment.to_string(),
        );
    }
}

#[derive(Default)]
struct Counters {
    records: AtomicU64,
    bytes: AtomicU64,
    fsyncs: AtomicU64,
    fsync_micros: AtomicU64,
    corruptions: AtomicU64,
    checkpoints: AtomicU64,
    removed: AtomicU64,
    segments: AtomicU64,
}

struct SyncState {
    synced: Position,
    running: bool,
}

struct Active {
    file: Arc<File>,
    seq: u64,
    size: u64,
    /// Reusable buffers: the caller's payload and the framed record.
    raw: Vec<u8>,
    framed: Vec<u8>,
}

/// A write-ahead log. `&self` everywhere: share it behind an `Arc`.
pub struct Wal {
    dir: PathBuf,
    opts: WalOptions,
    active: Mutex<Active>,
    /// Group commit: the position known durable, whether an fsync is running; waiters for
    /// one are woken together when it ends.
    sync_state: Mutex<SyncState>,
    sync_done: Condvar,
    /// The segment `open` started: replay reads the segments before it.
    first_seq: u64,
    counters: Counters,
}

const CHECKPOINT_PREFIX: &str = "checkpoint.";

fn checkpoint_path(dir: &Path, upto: u64) -> PathBuf {
    dir.join(format!("{CHECKPOINT_PREFIX}{upto:08}"))
}

/// Fsyncs a directory, so created, renamed and removed entries are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Segment numbers present in `dir` under `naming`, ascending.
pub fn list_segments(dir: &Path, naming: SegmentNaming) -> io::Result<Vec<u64>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        if let Some(n) = e.file_name().to_str().and_then(|s| naming.parse(s)) {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Checkpoints present in `dir`, ascending; removes leftover temporary checkpoint files.
fn list_checkpoints(dir: &Path) -> io::Result<Vec<u64>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix(CHECKPOINT_PREFIX))
        else {
            continue;
        };
        if rest.ends_with(".tmp") {
            let _ = fs::remove_file(e.path());
        } else if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = rest.parse() {
                out.push(n);
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// One file's replay: calls `f` for each intact record; returns the end of the intact prefix
/// and the file's length.
fn read_file(
    path: &Path,
    seq: u64,
    framing: Framing,
    stats: &mut ReplayStats,
    f: &mut impl FnMut(Position, &[u8]),
) -> io::Result<(usize, usize)> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let mut pos = 0;
    loop {
        match frame::next(&data, pos) {
            frame::Next::Record(stored, end) => {
                match frame::decode(framing, stored) {
                    Some(payload) => {
                        let at = Position {
                            seq,
                            offset: end as u64,
                        };
                        f(at, &payload);
                        stats.records += 1;
                        stats.bytes += (end - pos) as u64;
                    }
                    None => {
                        stats.undecodable += 1;
                        tracing::warn!(file = %path.display(), offset = pos, "skipping a WAL record whose payload does not decode");
                    }
                }
                pos = end;
            }
            frame::Next::End => return Ok((pos, data.len())),
            frame::Next::Bad => return Ok((pos, data.len())),
        }
    }
}

impl Wal {
    /// Opens (creating) the log in `dir` and starts a segment to append to. Leftovers of an
    /// interrupted checkpoint are cleaned up here; records are read by [`Wal::replay`].
    pub fn open(dir: &Path, opts: WalOptions) -> io::Result<Wal> {
        fs::create_dir_all(dir)?;
        let cps = list_checkpoints(dir)?;
        let covered = cps.last().copied();
        if let Some(upto) = covered {
            // A crash after a checkpoint was renamed into place can leave what it replaces.
            for old in cps.iter().filter(|c| **c < upto) {
                fs::remove_file(checkpoint_path(dir, *old))?;
            }
        }
        let mut segs = list_segments(dir, opts.naming)?;
        if let Some(upto) = covered {
            for seq in segs.iter().filter(|s| **s <= upto) {
                fs::remove_file(opts.naming.path(dir, *seq))?;
            }
            segs.retain(|s| *s > upto);
        }
        let last = segs.last().copied();
        let reuse = match last {
            Some(s) => fs::metadata(opts.naming.path(dir, s))?.len() == 0,
            None => false,
        };
        let seq = match (last, reuse) {
            (Some(s), true) => s,
            (Some(s), false) => s + 1,
            (None, _) => covered.map_or(1, |c| c + 1),
        };
        let file = open_append(&opts.naming.path(dir, seq))?;
        sync_dir(dir)?;
        let counters = Counters::default();
        let n = segs.len() as u64 + u64::from(!reuse);
        counters.segments.store(n, Ordering::Relaxed);
        Ok(Wal {
            dir: dir.to_path_buf(),
            opts,
            active: Mutex::new(Active {
                file: Arc::new(file),
                seq,
                size: 0,
                raw: Vec::new(),
                framed: Vec::new(),
            }),
            sync_state: Mutex::new(SyncState {
                synced: Position { seq, offset: 0 },
                running: false,
            }),
            sync_done: Condvar::new(),
            first_seq: seq,
            counters,
        })
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn options(&self) -> &WalOptions {
        &self.opts
    }

    /// Calls `f(position, payload)` for every intact record written before this `open`: the
    /// newest checkpoint's first, then each segment's in order. A segment's torn or corrupt
    /// tail is truncated (the tail a crash leaves; a warning is logged) and reading goes on
    /// with the next segment. Call it once, before appending.
    pub fn replay(&self, mut f: impl FnMut(Position, &[u8])) -> io::Result<ReplayStats> {
        let mut stats = ReplayStats::default();
        if let Some(upto) = list_checkpoints(&self.dir)?.last().copied() {
            let path = checkpoint_path(&self.dir, upto);
            stats.checkpoint = Some(upto);
            let (good, len) = read_file(&path, upto, self.opts.framing, &mut stats, &mut f)?;
            if good < len {
                // Checkpoints are renamed into place whole: damage here is not a torn tail.
                tracing::error!(checkpoint = %path.display(), "WAL checkpoint is corrupt at byte {good}; the rest of it is skipped");
            }
        }
        for seq in list_segments(&self.dir, self.opts.naming)? {
            if seq >= self.first_seq {
                break;
            }
            if stats.checkpoint.is_some_and(|c| seq <= c) {
                continue;
            }
            let path = self.opts.naming.path(&self.dir, seq);
            let (good, len) = read_file(&path, seq, self.opts.framing, &mut stats, &mut f)?;
            stats.segments += 1;
            if good < len {
                tracing::warn!(
                    segment = %path.display(),
                    dropped_bytes = len - good,
                    "WAL segment has a torn or corrupt record at byte {good}; truncating it (expected after a crash)"
                );
                let file = OpenOptions::new().write(true).open(&path)?;
                file.set_len(good as u64)?;
                file.sync_all()?;
                stats.truncated += 1;
                stats.truncated_bytes += (len - good) as u64;
                self.counters.corruptions.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(stats)
    }

    /// Appends one record and returns once it is durable (unless `fsync` is off). Thread-safe;
    /// concurrent appenders share fsyncs.
    pub fn append(&self, payload: &[u8]) -> io::Result<Position> {
        let pos = self.write(payload)?;
        self.sync(pos)?;
        Ok(pos)
    }

    /// Appends one record built in place by `fill` (into a reused, empty buffer).
    pub fn append_with(&self, fill: impl FnOnce(&mut Vec<u8>)) -> io::Result<Position> {
        let pos = self.writer().write_with(fill)?;
        self.sync(pos)?;
        Ok(pos)
    }

    /// Writes one record without waiting for it to be durable: pass the position to
    /// [`Wal::sync`] before acknowledging it.
    pub fn write(&self, payload: &[u8]) -> io::Result<Position> {
        self.writer().write(payload)
    }

    /// Locks the log for writing: records written through the guard are in the order of the
    /// calls, and no other writer interleaves while it is held (take it before releasing a
    /// lock that orders your own state, then release that lock and write).
    pub fn writer(&self) -> WalWriter<'_> {
        WalWriter {
            wal: self,
            active: self.active.lock(),
        }
    }

    /// Returns once every record up to `pos` is durable: one `fdatasync` covers all records
    /// written before it starts, and every caller waiting meanwhile is woken at once when it
    /// ends, so concurrent appenders mostly find their record already synced.
    pub fn sync(&self, pos: Position) -> io::Result<()> {
        if !self.opts.fsync {
            return Ok(());
        }
        let mut st = self.sync_state.lock();
        loop {
            if st.synced >= pos {
                return Ok(());
            }
            if !st.running {
                break;
            }
            self.sync_done.wait(&mut st);
        }
        st.running = true;
        drop(st);
        let (file, target) = {
            let a = self.active.lock();
            let target = Position {
                seq: a.seq,
                offset: a.size,
            };
            (a.file.clone(), target)
        };
        let res = if pos.seq < target.seq {
            // Rolling syncs the segment it closes: records in older segments are durable.
            Ok(Position {
                seq: target.seq,
                offset: 0,
            })
        } else {
            let start = Instant::now();
            let r = file.sync_data();
            self.counters
                .fsync_micros
                .fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
            self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
            r.map(|()| target)
        };
        let mut st = self.sync_state.lock();
        st.running = false;
        if let Ok(done) = res {
            st.synced = st.synced.max(done);
        }
        drop(st);
        self.sync_done.notify_all();
        res.map(|_| ())
    }

    /// Starts a new segment (syncing the current one first); returns its number. Every
    /// segment before it is closed: it can be checkpointed or removed.
    pub fn roll(&self) -> io::Result<u64> {
        let mut a = self.active.lock();
        self.roll_locked(&mut a)?;
        Ok(a.seq)
    }

    fn roll_locked(&self, a: &mut Active) -> io::Result<()> {
        if self.opts.fsync {
            let start = Instant::now();
            a.file.sync_data()?;
            self.counters
                .fsync_micros
                .fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
            self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        }
        let file = open_append(&self.opts.naming.path(&self.dir, a.seq + 1))?;
        a.seq += 1;
        a.file = Arc::new(file);
        a.size = 0;
        self.counters.segments.fetch_add(1, Ordering::Relaxed);
        if self.opts.fsync {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// The position after the last record written.
    pub fn position(&self) -> Position {
        let a = self.active.lock();
        Position {
            seq: a.seq,
            offset: a.size,
        }
    }

    /// The segment being appended to.
    pub fn active_segment(&self) -> u64 {
        self.active.lock().seq
    }

    /// Segment numbers on disk, ascending (the active one included).
    pub fn segments(&self) -> io::Result<Vec<u64>> {
        list_segments(&self.dir, self.opts.naming)
    }

    /// Deletes every closed segment numbered below `seq` (never the active one).
    pub fn remove_segments_before(&self, seq: u64) -> io::Result<u64> {
        self.remove_segments_where(|s| s < seq)
    }

    /// Deletes the closed segments for which `pred(seq)` holds (never the active one);
    /// returns the bytes freed.
    pub fn remove_segments_where(&self, mut pred: impl FnMut(u64) -> bool) -> io::Result<u64> {
        let active = self.active_segment();
        let mut freed = 0;
        let mut removed = 0;
        for seq in self.segments()? {
            if seq >= active || !pred(seq) {
                continue;
            }
            let path = self.opts.naming.path(&self.dir, seq);
            freed += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            fs::remove_file(&path)?;
            removed += 1;
        }
        if removed > 0 {
            self.counters.segments.fetch_sub(removed, Ordering::Relaxed);
            self.counters.removed.fetch_add(removed, Ordering::Relaxed);
            sync_dir(&self.dir)?;
        }
        Ok(freed)
    }

    /// Writes `checkpoint.<upto>` holding the records `produce` emits (it calls the function
    /// it is given once per record) — the state segments `..=upto` and any older checkpoint
    /// leave — durably (temporary file, fsync, rename, directory fsync), then deletes those
    /// segments and older checkpoints. `upto` must be a closed segment (below the active one,
    /// see [`Wal::roll`]); appends go on meanwhile.
    pub fn write_checkpoint<E: From<io::Error>>(
        &self,
        upto: u64,
        produce: impl FnOnce(&mut dyn FnMut(&[u8]) -> io::Result<()>) -> Result<(), E>,
    ) -> Result<(), E> {
        if upto >= self.active_segment() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("WAL checkpoint up to segment {upto}, which is not closed yet"),
            )
            .into());
        }
        let final_path = checkpoint_path(&self.dir, upto);
        let tmp = self.dir.join(format!("{CHECKPOINT_PREFIX}{upto:08}.tmp"));
        {
            let mut out = io::BufWriter::new(File::create(&tmp)?);
            let mut framed = Vec::new();
            let framing = self.opts.framing;
            produce(&mut |raw: &[u8]| {
                frame::encode(framing, raw, &mut framed)?;
                out.write_all(&framed)
            })?;
            let file = out.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
        }
        fs::rename(&tmp, &final_path)?;
        sync_dir(&self.dir)?;
        for c in list_checkpoints(&self.dir)? {
            if c < upto {
                fs::remove_file(checkpoint_path(&self.dir, c))?;
            }
        }
        self.remove_segments_where(|s| s <= upto)?;
        sync_dir(&self.dir)?;
        self.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Bytes of the log's segments and checkpoint on disk.
    pub fn disk_bytes(&self) -> u64 {
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return 0;
        };
        rd.filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name().to_str().is_some_and(|n| {
                    self.opts.naming.parse(n).is_some() || n.starts_with(CHECKPOINT_PREFIX)
                })
            })
            .filter_map(|e| e.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    }

    pub fn stats(&self) -> WalStats {
        let c = &self.counters;
        WalStats {
            records_appended: c.records.load(Ordering::Relaxed),
            bytes_appended: c.bytes.load(Ordering::Relaxed),
            fsyncs: c.fsyncs.load(Ordering::Relaxed),
            fsync_micros: c.fsync_micros.load(Ordering::Relaxed),
            corruptions_truncated: c.corruptions.load(Ordering::Relaxed),
            checkpoints_written: c.checkpoints.load(Ordering::Relaxed),
            segments_removed: c.removed.load(Ordering::Relaxed),
            segments: c.segments.load(Ordering::Relaxed),
            active_segment: self.active_segment(),
        }
    }
}

/// The log locked for writing (see [`Wal::writer`]). Records written through it are not
/// durable until [`Wal::sync`] covers their position — call it after dropping the guard.
pub struct WalWriter<'a> {
    wal: &'a Wal,
    active: parking_lot::MutexGuard<'a, Active>,
}

impl WalWriter<'_> {
    /// Writes one record; returns its position.
    pub fn write(&mut self, payload: &[u8]) -> io::Result<Position> {
        let a = &mut *self.active;
        frame::encode(self.wal.opts.framing, payload, &mut a.framed)?;
        self.write_framed()
    }

    /// Writes one record built in place by `fill` (into a reused, empty buffer).
    pub fn write_with(&mut self, fill: impl FnOnce(&mut Vec<u8>)) -> io::Result<Position> {
        let a = &mut *self.active;
        a.raw.clear();
        fill(&mut a.raw);
        frame::encode(self.wal.opts.framing, &a.raw, &mut a.framed)?;
        if a.raw.capacity() > 64 << 20 {
            a.raw = Vec::new();
        }
        self.write_framed()
    }

    fn write_framed(&mut self) -> io::Result<Position> {
        let wal = self.wal;
        let a = &mut *self.active;
        let n = a.framed.len() as u64;
        if a.size > 0 && a.size.saturating_add(n) > wal.opts.segment_bytes {
            wal.roll_locked(a)?;
        }
        if let Err(e) = (&*a.file).write_all(&a.framed) {
            // Cut a partial record off again: later records must not follow garbage.
            let _ = a.file.set_len(a.size);
            return Err(e);
        }
        a.size += n;
        if a.framed.capacity() > 64 << 20 {
            a.framed = Vec::new();
        }
        wal.counters.records.fetch_add(1, Ordering::Relaxed);
        wal.counters.bytes.fetch_add(n, Ordering::Relaxed);
        Ok(Position {
            seq: a.seq,
            offset: a.size,
        })
    }
}

#[cfg(test)]
mod tests;
