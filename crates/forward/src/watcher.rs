//! Follows the TSDB's write-ahead log (`<data>/metrics/wal`) as Prometheus' WAL watcher does:
//! series definitions from the checkpoint and every segment, samples from a start position
//! onward, tailing the active segment and moving to the next one when the TSDB rolls. The
//! caller persists the position of what it has delivered; a restart resumes there.

use model::Labels;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use tsdb::wal::Record;
use wal::{Position, SegmentNaming};

/// One sample read from the log, with its series' labels as the TSDB stored them.
pub struct WalSample<'a> {
    pub series: u64,
    pub labels: &'a Labels,
    pub t: i64,
    pub v: f64,
}

/// Reads the log in `dir` from a position on.
pub struct Watcher {
    dir: PathBuf,
    naming: SegmentNaming,
    framing: wal::Framing,
    /// Series id → labels, as defined by the newest record read so far.
    series: HashMap<u64, Labels>,
    /// Where the next read starts: the end of the last record handed out.
    pub pos: Position,
    /// Samples skipped because the segments holding them were deleted before they were read.
    pub segments_skipped: u64,
}

/// What one [`Watcher::poll`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Poll {
    pub records: u64,
    /// The watcher moved on to a newer segment.
    pub advanced_segment: bool,
}

fn checkpoints(dir: &Path) -> io::Result<Vec<u64>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let name = e?.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_prefix("checkpoint."))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse().ok())
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// How much of a segment one read takes in (a record larger than this is read whole): a
/// queue far behind its receiver holds at most this much of the log in memory, not the rest
/// of a 128 MiB segment. Tests read in tiny chunks, so records cross chunk ends.
const READ_CHUNK: u64 = if cfg!(test) { 96 } else { 4 << 20 };

/// Reads the intact records of `path` from byte `from` (up to `upto` when given), calling
/// `f(end position, record)`, [`READ_CHUNK`] bytes at a time. Returns the offset after the
/// last intact record and whether the data after it is torn or corrupt (as opposed to a
/// clean end).
fn read_file(
    path: &Path,
    seq: u64,
    from: u64,
    upto: Option<u64>,
    framing: wal::Framing,
    mut f: impl FnMut(Position, Record),
) -> io::Result<(u64, bool)> {
    let mut file = File::open(path)?;
    let mut offset = from;
    let mut chunk = READ_CHUNK;
    loop {
        let limit = match upto {
            Some(u) => chunk.min(u.saturating_sub(offset)),
            None => chunk,
        };
        file.seek(SeekFrom::Start(offset))?;
        let mut data = Vec::new();
        (&mut file).take(limit).read_to_end(&mut data)?;
        // A full read may have cut a record; a short one reached the end (or `upto`).
        let full = limit > 0 && data.len() as u64 == limit;
        let mut at = 0usize;
        let bad = loop {
            match wal::frame::next(&data, at) {
                wal::frame::Next::Record(stored, end) => {
                    let pos = Position {
                        seq,
                        offset: offset + end as u64,
                    };
                    if let Some(rec) =
                        wal::frame::decode(framing, stored).and_then(|p| Record::decode(&p))
                    {
                        f(pos, rec);
                    }
                    at = end;
                }
                wal::frame::Next::End => break false,
                wal::frame::Next::Bad => break true,
            }
        };
        offset += at as u64;
        match (bad, full) {
            (false, false) => return Ok((offset, false)),
            (true, false) => return Ok((offset, true)),
            // The chunk ended on a record boundary, or cut a record: read on.
            (_, true) => {
                if bad && at == 0 {
                    if chunk == u64::MAX {
                        return Ok((offset, true));
                    }
                    // One record larger than a chunk: read the rest whole.
                    chunk = u64::MAX;
                }
            }
        }
    }
}

impl Watcher {
    /// A watcher of the log in `dir` that hands out samples after `start` (`None`: after
    /// everything already in the log, as a new Prometheus queue starts). The series defined
    /// before the start are loaded from the checkpoint and the segments before it.
    pub fn open(dir: &Path, start: Option<Position>) -> io::Result<Watcher> {
        let opts = tsdb::wal::options();
        let mut w = Watcher {
            dir: dir.to_path_buf(),
            naming: opts.naming,
            framing: opts.framing,
            series: HashMap::new(),
            pos: Position::default(),
            segments_skipped: 0,
        };
        let segs = wal::list_segments(dir, w.naming)?;
        let checkpoint = checkpoints(dir)?.last().copied();
        let first = segs
            .iter()
            .copied()
            .find(|s| checkpoint.is_none_or(|c| *s > c));
        let start = match (start, first) {
            (Some(p), Some(f)) if p.seq < f => {
                tracing::warn!(
                    wanted = p.seq,
                    first = f,
                    "remote_write: WAL segments before {f} were removed before they were sent; resuming at {f}"
                );
                w.segments_skipped += f - p.seq;
                Position { seq: f, offset: 0 }
            }
            (Some(p), _) => p,
            (None, _) => {
                let seq = segs.last().copied().unwrap_or(1);
                let len = std::fs::metadata(w.naming.path(dir, seq)).map_or(0, |m| m.len());
                Position { seq, offset: len }
            }
        };
        if let Some(c) = checkpoint {
            let p = dir.join(format!("checkpoint.{c:08}"));
            let series = &mut w.series;
            read_file(&p, c, 0, None, w.framing, |_, r| {
                series.extend(r.series);
            })?;
        }
        for seq in segs.iter().copied().filter(|s| *s <= start.seq) {
            if checkpoint.is_some_and(|c| seq <= c) {
                continue;
            }
            let upto = (seq == start.seq).then_some(start.offset);
            let series = &mut w.series;
            match read_file(&w.naming.path(dir, seq), seq, 0, upto, w.framing, |_, r| {
                series.extend(r.series);
            }) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        w.pos = start;
        Ok(w)
    }

    /// Reads every record after the position, calling `f` for each record's samples (with
    /// the position just after it). Returns what it did; `Poll::default()` means nothing new.
    pub fn poll(
        &mut self,
        mut f: impl FnMut(Position, &mut dyn Iterator<Item = WalSample<'_>>),
    ) -> io::Result<Poll> {
        let mut out = Poll::default();
        let path = self.naming.path(&self.dir, self.pos.seq);
        // Newer segments are listed before reading: when one exists, the current segment is
        // complete once read to its end (the TSDB never appends to an older segment).
        let newer = wal::list_segments(&self.dir, self.naming)?
            .into_iter()
            .find(|s| *s > self.pos.seq);
        let seq = self.pos.seq;
        let series = &mut self.series;
        let read = read_file(
            &path,
            seq,
            self.pos.offset,
            None,
            self.framing,
            |pos, rec| {
                out.records += 1;
                series.extend(rec.series);
                let samples = &rec.samples;
                let series = &*series;
                let mut it = samples.iter().filter_map(|(id, t, v)| {
                    series.get(id).map(|labels| WalSample {
                        series: *id,
                        labels,
                        t: *t,
                        v: *v,
                    })
                });
                f(pos, &mut it);
            },
        );
        match read {
            Ok((end, _torn)) => {
                self.pos.offset = end;
                if let Some(next) = newer {
                    // A torn tail in a finished segment is a crash's: the TSDB truncates it
                    // on its next open and writes on in a new segment.
                    self.pos = Position {
                        seq: next,
                        offset: 0,
                    };
                    out.advanced_segment = true;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(next) = newer {
                    tracing::warn!(
                        segment = seq,
                        "remote_write: WAL segment removed before it was read to the end"
                    );
                    self.segments_skipped += 1;
                    self.pos = Position {
                        seq: next,
                        offset: 0,
                    };
                    out.advanced_segment = true;
                }
            }
            Err(e) => return Err(e),
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{MetricSink, Sample};

    fn lbl(i: usize) -> Labels {
        Labels::from_pairs([("__name__", "m".to_string()), ("i", i.to_string())])
    }

    fn drain(w: &mut Watcher) -> Vec<(String, i64, f64)> {
        let mut got = Vec::new();
        loop {
            let p = w
                .poll(|_, it| {
                    for s in it {
                        got.push((s.labels.get("i").unwrap_or("").to_string(), s.t, s.v));
                    }
                })
                .unwrap();
            if p == Poll::default() {
                return got;
            }
        }
    }

    /// Samples written before and after a restart and a block cut come out once each, on
    /// the right series; a watcher resumed at a saved position hands out only what follows.
    #[test]
    fn follows_the_tsdb_log_across_restart_and_cut() {
        let dir = tempfile::tempdir().unwrap();
        let opts = tsdb::TsdbOptions {
            block_range_ms: 1000,
            ..Default::default()
        };
        let wal_dir = dir.path().join("wal");
        let put = |db: &tsdb::Tsdb, i: usize, t: i64| {
            db.append(&[(
                lbl(i),
                Sample {
                    t,
                    v: (i * 1000) as f64 + t as f64,
                },
            )])
            .unwrap();
        };
        let db = tsdb::Tsdb::open(dir.path(), opts.clone()).unwrap();
        let mut w = Watcher::open(&wal_dir, None).unwrap();
        for t in 0..5 {
            put(&db, 0, t * 100);
            put(&db, 1, t * 100);
        }
        let first = drain(&mut w);
        assert_eq!(first.len(), 10);
        for t in 5..17 {
            put(&db, 1, t * 100);
            put(&db, 0, t * 100);
        }
        let second = drain(&mut w);
        assert_eq!(second.len(), 24);
        let saved = w.pos;
        // The cut replaces the segment `saved` points into with a checkpoint.
        db.maintain().unwrap();
        put(&db, 2, 1700);
        put(&db, 0, 1700);
        db.close().unwrap();
        drop(db);
        let db = tsdb::Tsdb::open(dir.path(), opts).unwrap();
        put(&db, 0, 1800);
        put(&db, 2, 1800);
        let mut resumed = Watcher::open(&wal_dir, Some(saved)).unwrap();
        let rest = drain(&mut resumed);
        assert_eq!(rest.len(), 4, "{rest:?}");
        for (i, t, v) in first.iter().chain(&second).chain(&rest) {
            let i: f64 = i.parse().unwrap();
            assert_eq!(*v, i * 1000.0 + *t as f64);
        }
        assert_eq!(drain(&mut Watcher::open(&wal_dir, None).unwrap()), vec![]);
        assert_eq!(drain(&mut resumed), vec![]);
    }
}
