//! Write-ahead log: every accepted batch is one CRC-protected record, written and `fdatasync`ed
//! before the append is acknowledged. Segment files `wal/NNNNNNNN`; replay stops at the first
//! torn or corrupt record (the tail a crash can leave) and truncates it.
//!
//! Record: `u32 len | u32 crc32(payload) | payload`; payload: a flag byte (1 = snappy-compressed,
//! as Prometheus compresses its WAL) then new series (`id, labels`) and samples (`id, t, v`),
//! varint-encoded.

use crate::encoding::{put_bytes, put_uvarint, put_varint, Reader};
use model::{Labels, LabelsBuilder, StorageError};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Roll to a new segment past this size.
const SEGMENT_BYTES: u64 = 128 << 20;

/// One decoded WAL record.
#[derive(Debug, Default, PartialEq)]
pub struct Record {
    pub series: Vec<(u64, Labels)>,
    pub samples: Vec<(u64, i64, f64)>,
}

impl Record {
    pub fn is_empty(&self) -> bool {
        self.series.is_empty() && self.samples.is_empty()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.samples.len() * 14);
        put_uvarint(&mut out, self.series.len() as u64);
        for (id, labels) in &self.series {
            put_uvarint(&mut out, *id);
            put_uvarint(&mut out, labels.len() as u64);
            for l in labels.iter() {
                put_bytes(&mut out, l.name.as_bytes());
                put_bytes(&mut out, l.value.as_bytes());
            }
        }
        put_uvarint(&mut out, self.samples.len() as u64);
        let base = self.samples.first().map(|s| s.1).unwrap_or(0);
        put_varint(&mut out, base);
        for (id, t, v) in &self.samples {
            put_uvarint(&mut out, *id);
            put_varint(&mut out, t.wrapping_sub(base));
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        out
    }

    pub fn decode(buf: &[u8]) -> Option<Record> {
        let mut r = Reader::new(buf);
        let mut rec = Record::default();
        let n = r.uvarint().ok()?;
        for _ in 0..n {
            let id = r.uvarint().ok()?;
            let nl = r.uvarint().ok()?;
            let mut b = LabelsBuilder::default();
            for _ in 0..nl {
                let name = r.string().ok()?;
                let value = r.string().ok()?;
                b.set(name, value);
            }
            rec.series.push((id, b.build()));
        }
        let n = r.uvarint().ok()?;
        let base = r.varint().ok()?;
        for _ in 0..n {
            let id = r.uvarint().ok()?;
            let t = base.wrapping_add(r.varint().ok()?);
            let v = f64::from_bits(r.u64_le().ok()?);
            rec.samples.push((id, t, v));
        }
        Some(rec)
    }
}

/// The log writer.
pub struct Wal {
    dir: PathBuf,
    seq: u64,
    file: File,
    size: u64,
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:08}"))
}

/// Segment numbers present in `dir`, ascending.
fn segments(dir: &Path) -> Result<Vec<u64>, StorageError> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        if let Some(n) = e.file_name().to_str().and_then(|s| s.parse::<u64>().ok()) {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

impl Wal {
    /// Opens the log in `dir`, calling `apply` for every intact record, then appends after them.
    pub fn open(dir: &Path, mut apply: impl FnMut(Record)) -> Result<Wal, StorageError> {
        fs::create_dir_all(dir)?;
        let segs = segments(dir)?;
        for (i, seq) in segs.iter().enumerate() {
            let path = segment_path(dir, *seq);
            let mut data = Vec::new();
            File::open(&path)?.read_to_end(&mut data)?;
            let mut pos = 0usize;
            let mut good_end = 0usize;
            while pos + 8 <= data.len() {
                let len =
                    u32::from_le_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]])
                        as usize;
                let crc = u32::from_le_bytes([
                    data[pos + 4],
                    data[pos + 5],
                    data[pos + 6],
                    data[pos + 7],
                ]);
                let Some(payload) = data.get(pos + 8..pos + 8 + len) else {
                    break;
                };
                if crc32fast::hash(payload) != crc {
                    break;
                }
                let body = match payload.split_first() {
                    Some((0, rest)) => Some(rest.to_vec()),
                    Some((1, rest)) => snap::raw::Decoder::new().decompress_vec(rest).ok(),
                    _ => None,
                };
                match body.as_deref().and_then(Record::decode) {
                    Some(rec) => apply(rec),
                    None => break,
                }
                pos += 8 + len;
                good_end = pos;
            }
            if good_end < data.len() {
                let last = i + 1 == segs.len();
                tracing::warn!(
                    segment = %path.display(),
                    "WAL segment has a torn or corrupt record at byte {good_end}; {}",
                    if last { "truncating it (expected after a crash)" } else { "skipping the rest of it" }
                );
                if last {
                    let f = OpenOptions::new().write(true).open(&path)?;
                    f.set_len(good_end as u64)?;
                    f.sync_all()?;
                }
            }
        }
        let seq = segs.last().copied().unwrap_or(1);
        let path = segment_path(dir, seq);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        sync_dir(dir);
        Ok(Wal {
            dir: dir.to_path_buf(),
            seq,
            file,
            size,
        })
    }

    /// Appends one record and makes it durable.
    pub fn log(&mut self, rec: &Record) -> Result<(), StorageError> {
        if rec.is_empty() {
            return Ok(());
        }
        if self.size >= SEGMENT_BYTES {
            self.roll()?;
        }
        let raw = rec.encode();
        let mut payload = Vec::with_capacity(raw.len() / 2 + 1);
        match snap::raw::Encoder::new().compress_vec(&raw) {
            Ok(c) if c.len() < raw.len() => {
                payload.push(1);
                payload.extend_from_slice(&c);
            }
            _ => {
                payload.push(0);
                payload.extend_from_slice(&raw);
            }
        }
        let mut buf = Vec::with_capacity(payload.len() + 8);
        buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        buf.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        buf.extend_from_slice(&payload);
        self.file.write_all(&buf)?;
        self.file.sync_data()?;
        self.size += buf.len() as u64;
        Ok(())
    }

    fn roll(&mut self) -> Result<(), StorageError> {
        self.seq += 1;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(segment_path(&self.dir, self.seq))?;
        self.size = 0;
        sync_dir(&self.dir);
        Ok(())
    }

    /// Replaces the whole log by `records` (the head's content after a block was cut): writes a
    /// new segment, makes it durable, then deletes the older segments.
    pub fn checkpoint(&mut self, records: &[Record]) -> Result<(), StorageError> {
        let old: Vec<u64> = segments(&self.dir)?;
        self.roll()?;
        for r in records {
            self.log(r)?;
        }
        self.file.sync_all()?;
        for seq in old {
            if seq < self.seq {
                let _ = fs::remove_file(segment_path(&self.dir, seq));
            }
        }
        sync_dir(&self.dir);
        Ok(())
    }

    /// Bytes currently on disk.
    pub fn disk_bytes(&self) -> u64 {
        segments(&self.dir)
            .unwrap_or_default()
            .iter()
            .filter_map(|s| fs::metadata(segment_path(&self.dir, *s)).ok())
            .map(|m| m.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u64, t: i64) -> Record {
        Record {
            series: vec![(
                id,
                Labels::from_pairs([("__name__", "x"), ("i", &*id.to_string())]),
            )],
            samples: vec![(id, t, t as f64 * 1.5)],
        }
    }

    #[test]
    fn replay_after_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut w = Wal::open(dir.path(), |_| {}).unwrap();
            for i in 0..10 {
                w.log(&rec(i, i as i64 * 1000)).unwrap();
            }
        }
        // Simulate a crash in the middle of the last record.
        let seg = segment_path(dir.path(), 1);
        let len = fs::metadata(&seg).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        let mut got = Vec::new();
        let mut w = Wal::open(dir.path(), |r| got.push(r)).unwrap();
        assert_eq!(got.len(), 9);
        assert_eq!(got[3], rec(3, 3000));
        w.log(&rec(42, 1)).unwrap();
        let mut again = Vec::new();
        Wal::open(dir.path(), |r| again.push(r)).unwrap();
        assert_eq!(again.len(), 10);
        assert_eq!(again[9], rec(42, 1));
    }

    #[test]
    fn checkpoint_replaces_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::open(dir.path(), |_| {}).unwrap();
        w.log(&rec(1, 1)).unwrap();
        w.checkpoint(&[rec(2, 2)]).unwrap();
        let mut got = Vec::new();
        Wal::open(dir.path(), |r| got.push(r)).unwrap();
        assert_eq!(got, vec![rec(2, 2)]);
    }
}
