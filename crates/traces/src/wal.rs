//! The trace store's write-ahead log: numbered segment files `<dir>/NNNNNNNN.seg` of records
//! `[len u32 LE][crc32 u32 LE][zstd(OTLP TracesData protobuf)]`. `append` writes and fsyncs a
//! record before the store acknowledges it; `replay` reads every segment in order and stops at
//! a torn or corrupt tail (which a crash mid-write leaves), truncating it. Whole segments are
//! removed by retention once all their spans are older than the cutoff.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Position just after a record: (segment number, byte offset).
pub type WalPos = (u64, u64);

/// Largest record accepted on replay (guards against a corrupt length).
const MAX_RECORD: u32 = 256 << 20;

pub struct Wal {
    dir: PathBuf,
    seq: u64,
    file: File,
    size: u64,
    segment_bytes: u64,
    level: i32,
    /// Newest span end (ns) per closed and open segment, for retention.
    pub segment_max_end: Vec<(u64, u64)>,
}

fn seg_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:08}.seg"))
}

/// Segment numbers present in `dir`, ascending.
pub fn segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name
            .strip_suffix(".seg")
            .and_then(|s| s.parse::<u64>().ok())
        {
            v.push(n);
        }
    }
    v.sort_unstable();
    Ok(v)
}

/// Reads every record of every segment in order, calling `f(pos_after, payload)` with the
/// decompressed payload. A torn/corrupt tail of the last readable point is truncated away.
pub fn replay(dir: &Path, mut f: impl FnMut(WalPos, &[u8])) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    for seq in segments(dir)? {
        let path = seg_path(dir, seq);
        let mut data = Vec::new();
        File::open(&path)?.read_to_end(&mut data)?;
        let mut pos = 0usize;
        let mut good = true;
        while pos < data.len() {
            if data.len() - pos < 8 {
                good = false;
                break;
            }
            let len = u32::from_le_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]);
            let crc =
                u32::from_le_bytes([data[pos + 4], data[pos + 5], data[pos + 6], data[pos + 7]]);
            if len > MAX_RECORD || data.len() - pos - 8 < len as usize {
                good = false;
                break;
            }
            let body = &data[pos + 8..pos + 8 + len as usize];
            if crc32fast::hash(body) != crc {
                good = false;
                break;
            }
            pos += 8 + len as usize;
            match zstd::bulk::decompress(body, MAX_RECORD as usize) {
                Ok(raw) => f((seq, pos as u64), &raw),
                Err(e) => tracing::warn!(segment = seq, "skipping undecodable WAL record: {e}"),
            }
        }
        if !good {
            tracing::warn!(
                segment = seq,
                offset = pos,
                "truncating torn tail of the trace WAL"
            );
            OpenOptions::new()
                .write(true)
                .open(&path)?
                .set_len(pos as u64)?;
        }
    }
    Ok(())
}

impl Wal {
    /// Opens the WAL for appending, starting a fresh segment after the existing ones.
    pub fn open(dir: &Path, segment_bytes: u64, level: i32) -> io::Result<Wal> {
        fs::create_dir_all(dir)?;
        let seq = segments(dir)?.last().map(|s| s + 1).unwrap_or(1);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(seg_path(dir, seq))?;
        sync_dir(dir);
        Ok(Wal {
            dir: dir.to_path_buf(),
            seq,
            file,
            size: 0,
            segment_bytes,
            level,
            segment_max_end: Vec::new(),
        })
    }

    /// Compresses, appends and fsyncs one record. Returns the position after it.
    pub fn append(&mut self, payload: &[u8], max_end_ns: u64) -> io::Result<WalPos> {
        let body = zstd::bulk::compress(payload, self.level)?;
        if self.size > 0 && self.size + body.len() as u64 > self.segment_bytes {
            self.rotate()?;
        }
        let mut rec = Vec::with_capacity(8 + body.len());
        rec.extend_from_slice(&(body.len() as u32).to_le_bytes());
        rec.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        rec.extend_from_slice(&body);
        if let Err(e) = self
            .file
            .write_all(&rec)
            .and_then(|_| self.file.sync_data())
        {
            // Cut a partial write off so later records stay readable.
            let _ = self.file.set_len(self.size);
            let _ = self.file.seek(SeekFrom::End(0));
            return Err(e);
        }
        self.size += rec.len() as u64;
        self.note_end(self.seq, max_end_ns);
        Ok((self.seq, self.size))
    }

    /// Records that segment `seq` holds a span ending at `end_ns` (used on replay too).
    pub fn note_end(&mut self, seq: u64, end_ns: u64) {
        match self.segment_max_end.iter_mut().find(|(s, _)| *s == seq) {
            Some((_, m)) => *m = (*m).max(end_ns),
            None => self.segment_max_end.push((seq, end_ns)),
        }
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.seq += 1;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(seg_path(&self.dir, self.seq))?;
        self.size = 0;
        sync_dir(&self.dir);
        Ok(())
    }

    /// Deletes closed segments whose newest span ended before `cutoff_ns`. Returns bytes freed.
    pub fn remove_before(&mut self, cutoff_ns: u64) -> io::Result<u64> {
        let mut freed = 0;
        let current = self.seq;
        let mut keep = Vec::new();
        for (seq, max_end) in std::mem::take(&mut self.segment_max_end) {
            if seq != current && max_end < cutoff_ns {
                let p = seg_path(&self.dir, seq);
                freed += fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                fs::remove_file(&p)?;
            } else {
                keep.push((seq, max_end));
            }
        }
        self.segment_max_end = keep;
        Ok(freed)
    }

    /// Total bytes of all segments.
    pub fn disk_bytes(&self) -> u64 {
        segments(&self.dir)
            .unwrap_or_default()
            .iter()
            .filter_map(|s| fs::metadata(seg_path(&self.dir, *s)).ok())
            .map(|m| m.len())
            .sum()
    }

    pub fn position(&self) -> WalPos {
        (self.seq, self.size)
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_replay_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::open(dir.path(), 1 << 20, 1).unwrap();
        w.append(b"one", 10).unwrap();
        let p2 = w.append(b"two", 20).unwrap();
        drop(w);
        // A torn third record.
        let seg = seg_path(dir.path(), 1);
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&[50, 0, 0, 0, 1, 2]).unwrap();
        let mut got = Vec::new();
        replay(dir.path(), |pos, b| got.push((pos, b.to_vec()))).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], (p2, b"two".to_vec()));
        assert_eq!(fs::metadata(&seg).unwrap().len(), p2.1);
        // New appends go to a new segment.
        let mut w = Wal::open(dir.path(), 1 << 20, 1).unwrap();
        assert_eq!(w.append(b"three", 30).unwrap().0, 2);
        w.note_end(1, 20);
        assert!(w.remove_before(25).unwrap() > 0);
        assert_eq!(segments(dir.path()).unwrap(), vec![2]);
    }

    #[test]
    fn rotates() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::open(dir.path(), 10, 1).unwrap();
        w.append(b"aaaaaaaaaaaaaaaaaaaa", 1).unwrap();
        w.append(b"b", 1).unwrap();
        assert_eq!(segments(dir.path()).unwrap(), vec![1, 2]);
    }
}
