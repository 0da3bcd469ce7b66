//! The trace store's use of the shared write-ahead log (crate `wal`): segment files
//! `<dir>/NNNNNNNN.seg` of records `[len u32 LE][crc32 u32 LE][zstd(OTLP TracesData protobuf)]`
//! (the layout this store has always written, so older data directories open as they are), and
//! retention by whole segments: the newest span end of each segment is tracked, and a closed
//! segment is deleted once all its spans ended before the cutoff.
//!
//! Records are compressed here, by the caller's thread with a reused zstd context and before
//! the log is locked ([`compress`]); the log stores them as given (`Framing::Plain`, the same
//! bytes on disk as the log's own zstd framing). Writing and syncing are split so concurrent
//! ingest calls share fsyncs ([`Wal::write`], then [`Syncer::sync`] without the store's lock).

use std::cell::RefCell;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// Position just after a record: (segment number, byte offset).
pub type WalPos = (u64, u64);

fn options(segment_bytes: u64) -> wal::WalOptions {
    wal::WalOptions {
        segment_bytes,
        fsync: true,
        naming: wal::SegmentNaming::with_suffix(".seg"),
        // Payloads arrive zstd-compressed (see `compress`).
        framing: wal::Framing::Plain,
    }
}

thread_local! {
    /// One zstd context per thread and level: creating one per record costs more than
    /// compressing a 100-span record.
    /// WAL records and segment blocks use different levels on the same thread (a compaction
    /// runs on the ingest call that filled the head), so a context per level is kept.
    static COMPRESSOR: RefCell<Vec<(i32, zstd::bulk::Compressor<'static>)>> =
        const { RefCell::new(Vec::new()) };
}

/// The zstd level of WAL records for a store whose segments use `level`: at most 1. A record
/// lives only until its spans are compacted into a segment, so its size matters little, and
/// level 3 cost ~3 × level 1's CPU on every ingested span.
pub fn record_level(level: i32) -> i32 {
    level.min(1)
}

/// zstd-compresses a record payload at `level` (the stored form of a record).
pub fn compress(raw: &[u8], level: i32) -> io::Result<Vec<u8>> {
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        let i = match c.iter().position(|(l, _)| *l == level) {
            Some(i) => i,
            None => {
                if c.len() >= 2 {
                    c.remove(0);
                }
                c.push((level, zstd::bulk::Compressor::new(level)?));
                c.len() - 1
            }
        };
        c[i].1.compress(raw)
    })
}

/// Waits for records to be durable without holding the store's WAL lock (group commit:
/// concurrent callers share one fsync).
#[derive(Clone)]
pub struct Syncer(Arc<wal::Wal>);

impl Syncer {
    /// Returns once every record up to `p` is fsynced.
    pub fn sync(&self, p: WalPos) -> io::Result<()> {
        self.0.sync(wal::Position {
            seq: p.0,
            offset: p.1,
        })
    }
}

fn pos(p: wal::Position) -> WalPos {
    (p.seq, p.offset)
}

pub struct Wal {
    log: Arc<wal::Wal>,
    level: i32,
    /// Newest span end (ns) per segment, for retention.
    segment_max_end: Vec<(u64, u64)>,
}

impl Wal {
    /// Opens the WAL in `dir`; read it with [`Wal::replay`] before appending.
    pub fn open(dir: &Path, segment_bytes: u64, level: i32) -> io::Result<Wal> {
        Ok(Wal {
            log: Arc::new(wal::Wal::open(dir, options(segment_bytes))?),
            level,
            segment_max_end: Vec::new(),
        })
    }

    /// Calls `f(pos_after, payload)` with every intact record's decompressed payload, in
    /// order; a torn or corrupt tail is truncated away.
    pub fn replay(&self, mut f: impl FnMut(WalPos, &[u8])) -> io::Result<wal::ReplayStats> {
        let mut undecodable = 0;
        let mut st = self
            .log
            .replay(|p, stored| match zstd::stream::decode_all(stored) {
                Ok(payload) => f(pos(p), &payload),
                Err(_) => undecodable += 1,
            })?;
        st.undecodable += undecodable;
        if st.undecodable > 0 {
            tracing::warn!(
                records = st.undecodable,
                "skipped undecodable trace WAL records"
            );
        }
        Ok(st)
    }

    /// Compresses, appends and fsyncs one record. Returns the position after it.
    pub fn append(&mut self, payload: &[u8], max_end_ns: u64) -> io::Result<WalPos> {
        let p = self.write(&compress(payload, record_level(self.level))?, max_end_ns)?;
        self.syncer().sync(p)?;
        Ok(p)
    }

    /// Appends one record already compressed by [`compress`], without waiting for it to be
    /// durable: pass the position to [`Syncer::sync`] before acknowledging it.
    pub fn write(&mut self, stored: &[u8], max_end_ns: u64) -> io::Result<WalPos> {
        let p = self.log.write(stored)?;
        self.note_end(p.seq, max_end_ns);
        Ok(pos(p))
    }

    /// A handle that syncs this log without its lock.
    pub fn syncer(&self) -> Syncer {
        Syncer(self.log.clone())
    }

    /// Records that segment `seq` holds a span ending at `end_ns` (used on replay too).
    pub fn note_end(&mut self, seq: u64, end_ns: u64) {
        match self.segment_max_end.iter_mut().find(|(s, _)| *s == seq) {
            Some((_, m)) => *m = (*m).max(end_ns),
            None => self.segment_max_end.push((seq, end_ns)),
        }
    }

    /// Deletes closed segments whose newest span ended before `cutoff_ns`. Returns bytes freed.
    pub fn remove_before(&mut self, cutoff_ns: u64) -> io::Result<u64> {
        let old: Vec<u64> = self
            .segment_max_end
            .iter()
            .filter(|(_, end)| *end < cutoff_ns)
            .map(|(s, _)| *s)
            .collect();
        if old.is_empty() {
            return Ok(0);
        }
        let freed = self.log.remove_segments_where(|s| old.contains(&s))?;
        let active = self.log.active_segment();
        self.segment_max_end
            .retain(|(s, end)| *s >= active || *end >= cutoff_ns);
        Ok(freed)
    }

    /// Closes the active segment and starts a new one; returns the new segment's number.
    pub fn roll(&mut self) -> io::Result<u64> {
        self.log.roll()
    }

    /// Deletes closed segments numbered below `seq` (their spans are in trace segments).
    pub fn remove_segments_before(&mut self, seq: u64) -> io::Result<u64> {
        let freed = self.log.remove_segments_before(seq)?;
        self.segment_max_end.retain(|(s, _)| *s >= seq);
        Ok(freed)
    }

    /// The lowest segment number on disk.
    pub fn first_segment(&self) -> io::Result<u64> {
        Ok(self
            .log
            .segments()?
            .first()
            .copied()
            .unwrap_or_else(|| self.log.active_segment()))
    }

    /// Total bytes of all segments.
    pub fn disk_bytes(&self) -> u64 {
        self.log.disk_bytes()
    }

    pub fn position(&self) -> WalPos {
        pos(self.log.position())
    }

    /// The log's own counters (appends, fsyncs, truncations, segments).
    pub fn stats(&self) -> wal::WalStats {
        self.log.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Write;

    fn replay_all(dir: &Path) -> (Wal, Vec<(WalPos, Vec<u8>)>) {
        let w = Wal::open(dir, 1 << 20, 1).unwrap();
        let mut got = Vec::new();
        w.replay(|p, b| got.push((p, b.to_vec()))).unwrap();
        (w, got)
    }

    #[test]
    fn append_replay_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, _) = replay_all(dir.path());
        w.append(b"one", 10).unwrap();
        let p2 = w.append(b"two", 20).unwrap();
        drop(w);
        // A torn third record.
        let seg = dir.path().join("00000001.seg");
        let mut f = fs::OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&[50, 0, 0, 0, 1, 2]).unwrap();
        let (mut w, got) = replay_all(dir.path());
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], (p2, b"two".to_vec()));
        assert_eq!(fs::metadata(&seg).unwrap().len(), p2.1);
        // New appends go to a new segment.
        assert_eq!(w.append(b"three", 30).unwrap().0, 2);
        w.note_end(1, 20);
        assert!(w.remove_before(25).unwrap() > 0);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "only segment 2 is left"
        );
        // The active segment is never removed.
        assert_eq!(w.remove_before(u64::MAX).unwrap(), 0);
        assert!(dir.path().join("00000002.seg").exists());
    }

    #[test]
    fn rotates() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::open(dir.path(), 10, 1).unwrap();
        w.append(b"aaaaaaaaaaaaaaaaaaaa", 1).unwrap();
        w.append(b"b", 1).unwrap();
        assert!(dir.path().join("00000002.seg").exists());
        assert_eq!(w.stats().segments, 2);
    }

    /// A directory in the layout the store wrote before the shared WAL (records framed by
    /// hand here, payloads compressed with `zstd::bulk` as the old code did) replays.
    #[test]
    fn opens_the_pre_shared_wal_layout() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = Vec::new();
        let mut ends = Vec::new();
        for payload in [&b"first"[..], b"second", &[7u8; 3000]] {
            let body = zstd::bulk::compress(payload, 3).unwrap();
            seg.extend_from_slice(&(body.len() as u32).to_le_bytes());
            seg.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
            seg.extend_from_slice(&body);
            ends.push(seg.len() as u64);
        }
        fs::write(dir.path().join("00000003.seg"), &seg).unwrap();
        let (mut w, got) = replay_all(dir.path());
        let payloads: Vec<&[u8]> = got.iter().map(|(_, b)| b.as_slice()).collect();
        assert_eq!(payloads, vec![&b"first"[..], b"second", &[7u8; 3000]]);
        let positions: Vec<WalPos> = got.iter().map(|(p, _)| *p).collect();
        assert_eq!(positions, ends.iter().map(|e| (3, *e)).collect::<Vec<_>>());
        assert_eq!(w.append(b"new", 1).unwrap().0, 4);
    }
}
