//! The TSDB's records and its use of the shared write-ahead log (crate `wal`): segment files
//! `wal/NNNNNNNN` and checkpoints `wal/checkpoint.NNNNNNNN` (the layout the TSDB has always
//! written, so older data directories open as they are). Every accepted batch is one record,
//! durable before the append is acknowledged; after a block cut, a checkpoint replaces the
//! segments up to the cut with the samples the block did not take.
//!
//! A record's payload (behind the log's flag byte: 1 = snappy-compressed, as Prometheus
//! compresses its WAL) holds new series (`id, labels`), samples (`id, t, v`) and, in
//! checkpoints, whole encoded chunks (`id, min_t, max_t, count, bytes`), varint-encoded.
//! Series ids are those of the head that was live when the record was written; each head
//! logs the definition of every series before its first sample, so replay maps ids per record.

use crate::chunk::Chunk;
use crate::encoding::{put_bytes, put_uvarint, put_varint, Reader};
use model::{Labels, LabelsBuilder};

/// Roll to a new segment past this size.
const SEGMENT_BYTES: u64 = 128 << 20;

/// How the TSDB opens its log.
pub fn options() -> wal::WalOptions {
    wal::WalOptions {
        segment_bytes: SEGMENT_BYTES,
        fsync: true,
        naming: wal::SegmentNaming::plain(),
        framing: wal::Framing::Flagged(wal::Compression::Snappy),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    /// Opens the log as the TSDB does, handing every replayed record to `apply`.
    fn open(dir: &Path, mut apply: impl FnMut(Record)) -> wal::Wal {
        let w = wal::Wal::open(dir, options()).unwrap();
        w.replay(|_, b| apply(Record::decode(b).unwrap())).unwrap();
        w
    }

    fn log(w: &wal::Wal, r: &Record) {
        w.append(&r.encode()).unwrap();
    }

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
            let w = open(dir.path(), |_| {});
            for i in 0..10 {
                log(&w, &rec(i, i as i64 * 1000));
            }
        }
        // Simulate a crash in the middle of the last record.
        let seg = dir.path().join("00000001");
        let len = fs::metadata(&seg).unwrap().len();
        fs::OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        let mut got = Vec::new();
        let w = open(dir.path(), |r| got.push(r));
        assert_eq!(got.len(), 9);
        assert_eq!(got[3], rec(3, 3000));
        log(&w, &rec(42, 1));
        drop(w);
        let mut again = Vec::new();
        open(dir.path(), |r| again.push(r));
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
            fs::write(dir.path().join("00000001"), &data).unwrap();
            let w = wal::Wal::open(dir.path(), options()).unwrap();
            let _ = w.replay(|_, b| {
                let _ = Record::decode(b);
            });
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
        let w = open(dir.path(), |_| {});
        log(&w, &rec(1, 1));
        let seq = w.roll().unwrap();
        w.write_checkpoint::<std::io::Error>(seq - 1, |emit| emit(&rec(2, 2).encode()))
            .unwrap();
        drop(w);
        let mut got = Vec::new();
        open(dir.path(), |r| got.push(r));
        assert_eq!(got, vec![rec(2, 2)]);
    }

    /// Frames a record as the TSDB's own WAL code did before the shared log: `len | crc |
    /// flag | body`, snappy (flag 1) when `snappy`.
    fn old_frame(r: &Record, snappy: bool) -> Vec<u8> {
        let raw = r.encode();
        let mut payload = vec![u8::from(snappy)];
        if snappy {
            payload.extend(snap::raw::Encoder::new().compress_vec(&raw).unwrap());
        } else {
            payload.extend_from_slice(&raw);
        }
        let mut out = (payload.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend(payload);
        out
    }

    /// A data directory in the layout written before the shared log (a checkpoint, the
    /// segment it replaced left behind by a crash, later segments with stored and snappy
    /// records, a torn tail, a leftover temporary checkpoint) replays as the old code did.
    #[test]
    fn opens_the_pre_shared_wal_layout() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("checkpoint.00000002"), old_frame(&rec(1, 10), true)).unwrap();
        fs::write(d.join("checkpoint.00000003.tmp"), b"half").unwrap();
        fs::write(d.join("00000002"), old_frame(&rec(9, 99), false)).unwrap();
        let mut seg3 = old_frame(&rec(2, 20), false);
        seg3.extend(old_frame(&rec(3, 30), true));
        fs::write(d.join("00000003"), &seg3).unwrap();
        let mut seg4 = old_frame(&rec(4, 40), true);
        let torn = old_frame(&rec(5, 50), true);
        seg4.extend_from_slice(&torn[..torn.len() - 2]);
        fs::write(d.join("00000004"), &seg4).unwrap();
        let mut got = Vec::new();
        let w = open(d, |r| got.push(r));
        assert_eq!(got, vec![rec(1, 10), rec(2, 20), rec(3, 30), rec(4, 40)]);
        assert!(!d.join("00000002").exists());
        assert!(!d.join("checkpoint.00000003.tmp").exists());
        assert_eq!(w.active_segment(), 5);
        assert_eq!(w.stats().corruptions_truncated, 1);
    }
}
