//! Follows one write-ahead log of the shared `wal` crate (the log, trace or error store's) from
//! a position on: hands out each intact record's payload with the position just after it, moves
//! to the next segment once a newer one exists and the current one is read to its end, and
//! skips segments that were deleted before they were read (counted).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use wal::{Framing, Position, SegmentNaming};

/// How much of a segment one read takes in (a record larger than this is read whole).
const READ_CHUNK: u64 = 4 << 20;

/// A reader of the log in `dir`.
pub struct Tail {
    dir: PathBuf,
    naming: SegmentNaming,
    framing: Framing,
    /// Where the next read starts: the end of the last record handed out.
    pub pos: Position,
    /// Segments that were gone before this reader got to them.
    pub segments_skipped: u64,
    /// Records whose payload did not decode (skipped).
    pub undecodable: u64,
}

/// The end of the log as it is now (where a new forwarder starts, as a new Prometheus
/// remote_write queue does).
pub fn end_of_log(dir: &Path, naming: SegmentNaming) -> io::Result<Position> {
    let segs = list(dir, naming)?;
    Ok(match segs.last() {
        Some(&seq) => Position {
            seq,
            offset: std::fs::metadata(naming.path(dir, seq))?.len(),
        },
        None => Position::default(),
    })
}

fn list(dir: &Path, naming: SegmentNaming) -> io::Result<Vec<u64>> {
    match wal::list_segments(dir, naming) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

impl Tail {
    pub fn new(dir: &Path, naming: SegmentNaming, framing: Framing, pos: Position) -> Tail {
        Tail {
            dir: dir.to_path_buf(),
            naming,
            framing,
            pos,
            segments_skipped: 0,
            undecodable: 0,
        }
    }

    /// Hands out records after [`Tail::pos`] to `f(position after it, payload)` until `f`
    /// answers false (that record is not consumed) or the log has nothing more now. Returns
    /// how many records were consumed.
    pub fn read(&mut self, mut f: impl FnMut(Position, &[u8]) -> bool) -> io::Result<usize> {
        let mut consumed = 0usize;
        loop {
            let segs = list(&self.dir, self.naming)?;
            let Some(&last) = segs.last() else {
                return Ok(consumed);
            };
            if !segs.contains(&self.pos.seq) {
                // Deleted (or not yet created): go to the next segment that exists.
                match segs.iter().find(|&&s| s > self.pos.seq) {
                    Some(&next) => {
                        if self.pos.seq != 0 || self.pos.offset != 0 {
                            self.segments_skipped += next.saturating_sub(self.pos.seq).max(1);
                        }
                        self.pos = Position {
                            seq: next,
                            offset: 0,
                        };
                    }
                    None => return Ok(consumed),
                }
            }
            let newer_exists = self.pos.seq < last;
            let path = self.naming.path(&self.dir, self.pos.seq);
            let (n, stopped, clean) = match self.read_segment(&path, &mut f) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            consumed += n;
            if stopped {
                return Ok(consumed);
            }
            if n > 0 && !clean {
                // Maybe a record still being written: come back later.
                return Ok(consumed);
            }
            if newer_exists {
                // This segment is complete (the writer rolled before the newer one began);
                // a torn tail in it is skipped.
                self.pos = Position {
                    seq: self.pos.seq + 1,
                    offset: 0,
                };
                continue;
            }
            return Ok(consumed);
        }
    }

    /// Reads records of one segment from `pos.offset`. Returns (consumed, stopped by `f`,
    /// ended cleanly).
    fn read_segment(
        &mut self,
        path: &Path,
        f: &mut impl FnMut(Position, &[u8]) -> bool,
    ) -> io::Result<(usize, bool, bool)> {
        let mut consumed = 0usize;
        let mut file = File::open(path)?;
        let mut limit = READ_CHUNK;
        loop {
            file.seek(SeekFrom::Start(self.pos.offset))?;
            let mut data = Vec::new();
            (&mut file).take(limit).read_to_end(&mut data)?;
            if data.is_empty() {
                return Ok((consumed, false, true));
            }
            let full = data.len() as u64 == limit;
            let mut at = 0usize;
            let mut bad = false;
            loop {
                match wal::frame::next(&data, at) {
                    wal::frame::Next::Record(stored, end) => {
                        let pos = Position {
                            seq: self.pos.seq,
                            offset: self.pos.offset + end as u64,
                        };
                        match wal::frame::decode(self.framing, stored) {
                            Some(payload) => {
                                if !f(pos, &payload) {
                                    self.pos.offset += at as u64;
                                    return Ok((consumed, true, true));
                                }
                                consumed += 1;
                            }
                            None => self.undecodable += 1,
                        }
                        at = end;
                    }
                    wal::frame::Next::End => break,
                    wal::frame::Next::Bad => {
                        bad = true;
                        break;
                    }
                }
            }
            self.pos.offset += at as u64;
            if !bad {
                continue;
            }
            if !full {
                // A torn or corrupt record (or one being written).
                return Ok((consumed, false, false));
            }
            if at == 0 {
                // One record larger than a chunk: read the rest of the segment.
                limit = u64::MAX;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> wal::WalOptions {
        wal::WalOptions {
            segment_bytes: 200,
            fsync: false,
            naming: SegmentNaming::with_suffix(".log"),
            framing: Framing::Plain,
        }
    }

    fn drain(t: &mut Tail) -> Vec<String> {
        let mut got = Vec::new();
        t.read(|_, p| {
            got.push(String::from_utf8_lossy(p).into_owned());
            true
        })
        .unwrap();
        got
    }

    #[test]
    fn follows_segments_resumes_and_skips_deleted() {
        let d = tempfile::tempdir().unwrap();
        let w = wal::Wal::open(d.path(), opts()).unwrap();
        let naming = opts().naming;
        let start = end_of_log(d.path(), naming).unwrap();
        let mut t = Tail::new(d.path(), naming, Framing::Plain, start);
        assert!(drain(&mut t).is_empty());
        for i in 0..20 {
            w.append(format!("record-{i:02}-{}", "x".repeat(40)).as_bytes())
                .unwrap();
        }
        assert!(w.segments().unwrap().len() > 2, "rolled");
        let got = drain(&mut t);
        assert_eq!(got.len(), 20);
        assert!(got[19].starts_with("record-19"));
        // Stop in the middle; a new reader from the saved position gets the rest.
        for i in 20..30 {
            w.append(format!("record-{i:02}").as_bytes()).unwrap();
        }
        let mut n = 0;
        t.read(|_, _| {
            n += 1;
            n <= 4
        })
        .unwrap();
        let mut t2 = Tail::new(d.path(), naming, Framing::Plain, t.pos);
        let rest = drain(&mut t2);
        assert_eq!(rest.len(), 6);
        assert!(rest[0].starts_with("record-24"), "{rest:?}");
        // Segments deleted under a reader are skipped and counted.
        let old = Tail::new(
            d.path(),
            naming,
            Framing::Plain,
            Position { seq: 1, offset: 0 },
        );
        let active = w.active_segment();
        w.remove_segments_before(active).unwrap();
        let mut old = old;
        old.pos.offset = 1;
        let got = drain(&mut old);
        assert!(old.segments_skipped > 0);
        assert!(got.len() < 30);
    }

    #[test]
    fn torn_tail_waits() {
        let d = tempfile::tempdir().unwrap();
        let mut o = opts();
        o.segment_bytes = u64::MAX;
        let w = wal::Wal::open(d.path(), o).unwrap();
        w.append(b"one").unwrap();
        drop(w);
        let naming = opts().naming;
        let path = naming.path(d.path(), 1);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut f, &[9, 0, 0, 0, 1]).unwrap();
        let mut t = Tail::new(
            d.path(),
            naming,
            Framing::Plain,
            Position { seq: 1, offset: 0 },
        );
        assert_eq!(drain(&mut t), ["one"]);
        let pos = t.pos;
        assert!(drain(&mut t).is_empty());
        assert_eq!(t.pos, pos, "waits at the torn record");
    }
}
