//! Write-ahead log: every accepted batch is one CRC-protected record, written and `fdatasync`ed
//! before the append is acknowledged (concurrent appenders share one fsync: group commit).
//! Segment files `wal/NNNNNNNN`; replay stops at the first torn or corrupt record (the tail a
//! crash can leave) and truncates it. After a block cut, `checkpoint.NNNNNNNN` replaces the
//! segments up to `NNNNNNNN` with the samples the block did not take.
//!
//! Record: `u32 len | u32 crc32(payload) | payload`; payload: a flag byte (1 = snappy-compressed,
//! as Prometheus compresses its WAL) then new series (`id, labels`), samples (`id, t, v`) and,
//! in checkpoints, whole encoded chunks (`id, min_t, max_t, count, bytes`), varint-encoded.
//! Series ids are those of the head that was live when the record was written; each head
//! logs the definition of every series before its first sample, so replay maps ids per record.

use crate::chunk::Chunk;
use crate::encoding::{put_bytes, put_uvarint, put_varint, Reader};
use model::{Labels, LabelsBuilder, StorageError};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Roll to a new segment past this size.
const SEGMENT_BYTES: u64 = 128 << 20;

/// One decoded WAL record.
#[derive(Debug, Default, PartialEq)]
pub struct Record {
    pub series: Vec<(u64, Labels)>,
    pub samples: Vec<(u64, i64, f64)>,
    /// Whole encoded chunks (checkpoints store the head this way: no re-encoding, ~1.3 bytes
    /// per sample). Absent from records written before this field existed.
    pub chunks: Vec<(u64, Chunk)>,
}

impl Record {
    pub fn is_empty(&self) -> bool {
        self.series.is_empty() && self.samples.is_empty() && self.chunks.is_empty()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(16 + self.samples.len() * 14);
        put_uvarint(out, self.series.len() as u64);
        for (id, labels) in &self.series {
            put_uvarint(out, *id);
            put_uvarint(out, labels.len() as u64);
            for l in labels.iter() {
                put_bytes(out, l.name.as_bytes());
                put_bytes(out, l.value.as_bytes());
            }
        }
        put_uvarint(out, self.samples.len() as u64);
        let base = self.samples.first().map(|s| s.1).unwrap_or(0);
        put_varint(out, base);
        for (id, t, v) in &self.samples {
            put_uvarint(out, *id);
            put_varint(out, t.wrapping_sub(base));
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        if !self.chunks.is_empty() {
            put_uvarint(out, self.chunks.len() as u64);
            for (id, c) in &self.chunks {
                put_uvarint(out, *id);
                put_varint(out, c.min_t);
                put_varint(out, c.max_t.wrapping_sub(c.min_t));
                put_uvarint(out, u64::from(c.count));
                put_bytes(out, &c.data);
            }
        }
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
        if !r.done() {
            let n = r.uvarint().ok()?;
            for _ in 0..n {
                let id = r.uvarint().ok()?;
                let min_t = r.varint().ok()?;
                let max_t = min_t.wrapping_add(r.varint().ok()?);
                let count = u16::try_from(r.uvarint().ok()?).ok()?;
                let data = r.bytes().ok()?.to_vec();
                rec.chunks.push((
                    id,
                    Chunk {
                        data,
                        count,
                        min_t,
                        max_t,
                    },
                ));
            }
        }
        Some(rec)
    }
}

/// The log writer.
pub struct Wal {
    dir: PathBuf,
    seq: u64,
    file: Arc<File>,
    size: u64,
    /// Bytes written since open, over all segments: a position for group commit.
    written: u64,
    scratch: Scratch,
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:08}"))
}

fn checkpoint_path(dir: &Path, upto: u64) -> PathBuf {
    dir.join(format!("checkpoint.{upto:08}"))
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

/// Checkpoints present in `dir` (the segment number each covers), ascending; removes
/// leftover temporary checkpoint files.
fn checkpoints(dir: &Path) -> Result<Vec<u64>, StorageError> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix("checkpoint.") else {
            continue;
        };
        if rest.ends_with(".tmp") {
            let _ = fs::remove_file(e.path());
        } else if let Ok(n) = rest.parse::<u64>() {
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

/// Reusable buffers for framing records (large batches would otherwise allocate and free
/// megabytes per append).
#[derive(Default)]
struct Scratch {
    raw: Vec<u8>,
    buf: Vec<u8>,
}

/// Frames one record into `s.buf`: `u32 len | u32 crc | flag | payload`.
fn frame_into<'a>(rec: &Record, s: &'a mut Scratch) -> &'a [u8] {
    s.raw.clear();
    rec.encode_into(&mut s.raw);
    let raw = &s.raw;
    let buf = &mut s.buf;
    buf.clear();
    let max = snap::raw::max_compress_len(raw.len());
    buf.resize(9 + max, 0);
    let n = match snap::raw::Encoder::new().compress(raw, &mut buf[9..]) {
        Ok(n) if n < raw.len() => {
            buf[8] = 1;
            n
        }
        _ => {
            buf.truncate(9);
            buf[8] = 0;
            buf.extend_from_slice(raw);
            raw.len()
        }
    };
    buf.truncate(9 + n);
    let len = (buf.len() - 8) as u32;
    let crc = crc32fast::hash(&buf[8..]);
    buf[..4].copy_from_slice(&len.to_le_bytes());
    buf[4..8].copy_from_slice(&crc.to_le_bytes());
    buf
}

/// Calls `apply` for every intact record of one file; returns the end of the intact prefix
/// and the file's length.
fn read_file(path: &Path, apply: &mut impl FnMut(Record)) -> Result<(usize, usize), StorageError> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let mut pos = 0usize;
    let mut good_end = 0usize;
    while pos + 8 <= data.len() {
        let len =
            u32::from_le_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]) as usize;
        let crc = u32::from_le_bytes([data[pos + 4], data[pos + 5], data[pos + 6], data[pos + 7]]);
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
    Ok((good_end, data.len()))
}

impl Wal {
    /// Opens the log in `dir`, calling `apply` for every intact record (the newest checkpoint
    /// first, then the segments after it), then appends after them.
    pub fn open(dir: &Path, mut apply: impl FnMut(Record)) -> Result<Wal, StorageError> {
        fs::create_dir_all(dir)?;
        let cps = checkpoints(dir)?;
        let covered = cps.last().copied();
        if let Some(upto) = covered {
            let path = checkpoint_path(dir, upto);
            let (good, len) = read_file(&path, &mut apply)?;
            if good < len {
                tracing::error!(checkpoint = %path.display(), "WAL checkpoint is corrupt at byte {good}");
            }
            // A crash after the checkpoint was renamed into place can leave what it replaces.
            for old in cps.iter().filter(|c| **c < upto) {
                let _ = fs::remove_file(checkpoint_path(dir, *old));
            }
        }
        let mut segs = segments(dir)?;
        if let Some(upto) = covered {
            for seq in segs.iter().filter(|s| **s <= upto) {
                let _ = fs::remove_file(segment_path(dir, *seq));
            }
            segs.retain(|s| *s > upto);
        }
        for (i, seq) in segs.iter().enumerate() {
            let path = segment_path(dir, *seq);
            let (good_end, len) = read_file(&path, &mut apply)?;
            if good_end < len {
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
        let seq = segs
            .last()
            .copied()
            .unwrap_or_else(|| covered.map(|c| c + 1).unwrap_or(1));
        let path = segment_path(dir, seq);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        sync_dir(dir);
        Ok(Wal {
            dir: dir.to_path_buf(),
            seq,
            file: Arc::new(file),
            size,
            written: 0,
            scratch: Scratch::default(),
        })
    }

    /// Appends one record and makes it durable.
    pub fn log(&mut self, rec: &Record) -> Result<(), StorageError> {
        self.write(rec)?;
        self.file.sync_data()?;
        Ok(())
    }

    /// Appends one record without syncing; returns the log position after it, to be passed to
    /// a sync covering it (see `sync_target`) before the write is acknowledged.
    pub fn write(&mut self, rec: &Record) -> Result<u64, StorageError> {
        if rec.is_empty() {
            return Ok(self.written);
        }
        if self.size >= SEGMENT_BYTES {
            self.roll()?;
        }
        let buf = frame_into(rec, &mut self.scratch);
        if let Err(e) = (&*self.file).write_all(buf) {
            // Cut a partial record off again: later records must not follow garbage (replay
            // stops at the first bad record).
            let _ = self.file.set_len(self.size);
            return Err(e.into());
        }
        self.size += buf.len() as u64;
        self.written += buf.len() as u64;
        Ok(self.written)
    }

    /// The current segment and the position up to which syncing it makes the log durable
    /// (earlier segments are synced when rolled).
    pub fn sync_target(&self) -> (Arc<File>, u64) {
        (self.file.clone(), self.written)
    }

    /// Starts a new segment (syncing the current one first); returns the new segment number.
    pub fn roll(&mut self) -> Result<u64, StorageError> {
        self.file.sync_data()?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(segment_path(&self.dir, self.seq + 1))?;
        self.seq += 1;
        self.file = Arc::new(file);
        self.size = 0;
        sync_dir(&self.dir);
        Ok(self.seq)
    }

    /// Replaces the whole log by `records` (tests and tools): rolls, then checkpoints every
    /// older segment.
    pub fn checkpoint(&mut self, records: &[Record]) -> Result<(), StorageError> {
        let seq = self.roll()?;
        write_checkpoint(&self.dir, seq - 1, records)
    }

    /// Bytes currently on disk.
    pub fn disk_bytes(&self) -> u64 {
        disk_bytes(&self.dir)
    }
}

/// Bytes of the log directory `dir` (segments and checkpoints).
pub fn disk_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Writes `checkpoint.<upto>` holding `records` — the state that segments `..=upto` (and any
/// older checkpoint) leave after a block took their old samples — durably (temporary file,
/// fsync, rename, directory fsync), then deletes those segments and older checkpoints. Needs no
/// access to the writer: it only touches files the writer has rolled past. A crash at any
/// point leaves either the old files or the new checkpoint in effect, never both.
pub fn write_checkpoint(dir: &Path, upto: u64, records: &[Record]) -> Result<(), StorageError> {
    write_checkpoint_with(dir, upto, |emit| {
        for r in records {
            emit(r)?;
        }
        Ok(())
    })
}

/// The records a checkpoint is written from, handed one at a time to the given function.
pub type RecordSource<'a> = dyn FnMut(&Record) -> Result<(), StorageError> + 'a;

/// `write_checkpoint` with the records produced one at a time by `produce` (which calls the
/// function it is given once per record), so they need not all be in memory at once.
pub fn write_checkpoint_with(
    dir: &Path,
    upto: u64,
    produce: impl FnOnce(&mut RecordSource<'_>) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let final_path = checkpoint_path(dir, upto);
    let tmp = dir.join(format!("checkpoint.{upto:08}.tmp"));
    {
        let mut f = std::io::BufWriter::new(File::create(&tmp)?);
        let mut scratch = Scratch::default();
        produce(&mut |r: &Record| {
            if !r.is_empty() {
                f.write_all(frame_into(r, &mut scratch))?;
            }
            Ok(())
        })?;
        let f = f
            .into_inner()
            .map_err(|e| StorageError::Io(e.to_string()))?;
        f.sync_all()?;
    }
    fs::rename(&tmp, &final_path)?;
    sync_dir(dir);
    for seq in segments(dir)? {
        if seq <= upto {
            let _ = fs::remove_file(segment_path(dir, seq));
        }
    }
    for c in checkpoints(dir)? {
        if c < upto {
            let _ = fs::remove_file(checkpoint_path(dir, c));
        }
    }
    sync_dir(dir);
    Ok(())
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
            chunks: Vec::new(),
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

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn records_round_trip(
            series in proptest::collection::vec((any::<u64>(), "[a-z_]{1,8}", ".{0,12}"), 0..5),
            samples in proptest::collection::vec((any::<u64>(), any::<i64>(), any::<u64>()), 0..40),
        ) {
            let rec = Record {
                series: series
                    .iter()
                    .map(|(id, n, v)| (*id, Labels::from_pairs([(n.as_str(), v.as_str())])))
                    .collect(),
                samples: samples.iter().map(|(id, t, v)| (*id, *t, f64::from_bits(*v))).collect(),
                chunks: Vec::new(),
            };
            let got = Record::decode(&rec.encode()).unwrap();
            prop_assert_eq!(got.series, rec.series);
            prop_assert_eq!(got.samples.len(), rec.samples.len());
            for (a, b) in got.samples.iter().zip(&rec.samples) {
                prop_assert_eq!((a.0, a.1, a.2.to_bits()), (b.0, b.1, b.2.to_bits()));
            }
        }

        #[test]
        fn garbage_records_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Record::decode(&data);
        }

        #[test]
        fn garbage_segments_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let dir = tempfile::tempdir().unwrap();
            fs::write(segment_path(dir.path(), 1), &data).unwrap();
            let mut n = 0;
            let _ = Wal::open(dir.path(), |_| n += 1);
        }
    }

    #[test]
    fn chunk_records_round_trip() {
        let mut e = crate::chunk::ChunkEncoder::new();
        for t in 0..50 {
            e.append(t * 15_000, t as f64);
        }
        let mut r = rec(3, 7);
        r.chunks.push((3, e.into_chunk()));
        assert_eq!(Record::decode(&r.encode()), Some(r));
        // Records written before chunks existed still decode.
        let old = rec(4, 9);
        assert_eq!(Record::decode(&old.encode()), Some(old));
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
