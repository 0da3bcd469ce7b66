//! Write-ahead log of the log store: `wal/<seq>.log` files of `[len u32][crc32 u32][payload]`
//! records, one record per push. Appends from concurrent pushes share fsyncs (group commit): a
//! writer whose bytes were covered by another writer's fsync returns without syncing again.
//! Reading stops at the first torn or corrupt record, which is truncated away.

use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Active {
    file: Arc<File>,
    seq: u64,
    written: u64,
}

pub struct Wal {
    dir: PathBuf,
    active: Mutex<Active>,
    /// (seq, bytes known durable).
    synced: Mutex<(u64, u64)>,
    fsync: bool,
}

fn seg_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:08}.log"))
}

/// Existing WAL segment numbers, ascending.
pub fn segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name
            .strip_suffix(".log")
            .and_then(|s| s.parse::<u64>().ok())
        {
            v.push(n);
        }
    }
    v.sort_unstable();
    Ok(v)
}

/// Reads all intact records of one segment; truncates the file after the last intact one.
pub fn read_segment(dir: &Path, seq: u64) -> std::io::Result<Vec<Vec<u8>>> {
    let path = seg_path(dir, seq);
    let mut data = Vec::new();
    File::open(&path)?.read_to_end(&mut data)?;
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 8 <= data.len() {
        let len =
            u32::from_le_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]) as usize;
        let crc = u32::from_le_bytes([data[pos + 4], data[pos + 5], data[pos + 6], data[pos + 7]]);
        let Some(end) = (pos + 8).checked_add(len) else {
            break;
        };
        if end > data.len() {
            break;
        }
        let payload = &data[pos + 8..end];
        if crc32fast::hash(payload) != crc {
            break;
        }
        out.push(payload.to_vec());
        pos = end;
    }
    if pos < data.len() {
        tracing::warn!(
            file = %path.display(),
            dropped_bytes = data.len() - pos,
            "log WAL: truncating torn tail"
        );
        let f = OpenOptions::new().write(true).open(&path)?;
        f.set_len(pos as u64)?;
        f.sync_all()?;
    }
    Ok(out)
}

impl Wal {
    /// Opens a fresh segment numbered after every existing one.
    pub fn open(dir: &Path, fsync: bool) -> std::io::Result<Wal> {
        std::fs::create_dir_all(dir)?;
        let seq = segments(dir)?.last().map(|s| s + 1).unwrap_or(1);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(seg_path(dir, seq))?;
        sync_dir(dir);
        Ok(Wal {
            dir: dir.to_path_buf(),
            active: Mutex::new(Active {
                file: Arc::new(file),
                seq,
                written: 0,
            }),
            synced: Mutex::new((seq, 0)),
            fsync,
        })
    }

    /// Appends one record and returns once it is durable.
    pub fn append(&self, payload: &[u8]) -> std::io::Result<()> {
        let mut rec = Vec::with_capacity(payload.len() + 8);
        rec.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        rec.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        rec.extend_from_slice(payload);
        let (seq, end) = {
            let mut a = self.active.lock();
            (&*a.file).write_all(&rec)?;
            a.written += rec.len() as u64;
            (a.seq, a.written)
        };
        if !self.fsync {
            return Ok(());
        }
        let mut s = self.synced.lock();
        if s.0 == seq && s.1 >= end {
            return Ok(());
        }
        let (file, target, aseq) = {
            let a = self.active.lock();
            (a.file.clone(), a.written, a.seq)
        };
        file.sync_data()?;
        *s = (aseq, target);
        Ok(())
    }

    /// Starts a new segment; returns the numbers of the older segments (to delete once their
    /// content is persisted elsewhere). Callers must exclude concurrent appends.
    pub fn rotate(&self) -> std::io::Result<Vec<u64>> {
        let mut a = self.active.lock();
        a.file.sync_data()?;
        let old: Vec<u64> = segments(&self.dir)?
            .into_iter()
            .filter(|s| *s <= a.seq)
            .collect();
        let seq = a.seq + 1;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(seg_path(&self.dir, seq))?;
        sync_dir(&self.dir);
        *a = Active {
            file: Arc::new(file),
            seq,
            written: 0,
        };
        *self.synced.lock() = (seq, 0);
        Ok(old)
    }

    pub fn remove(&self, seqs: &[u64]) {
        for s in seqs {
            let _ = std::fs::remove_file(seg_path(&self.dir, *s));
        }
        sync_dir(&self.dir);
    }

    /// Bytes in the active segment.
    pub fn active_bytes(&self) -> u64 {
        self.active.lock().written
    }
}

pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_read_truncate() {
        let d = tempfile::tempdir().unwrap();
        let w = Wal::open(d.path(), true).unwrap();
        w.append(b"one").unwrap();
        w.append(b"two").unwrap();
        drop(w);
        // torn tail
        let p = seg_path(d.path(), 1);
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&[9, 0, 0, 0, 1]).unwrap();
        let recs = read_segment(d.path(), 1).unwrap();
        assert_eq!(recs, vec![b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 22);
        let w = Wal::open(d.path(), true).unwrap();
        assert_eq!(w.rotate().unwrap(), vec![1, 2]);
    }
}
