//! Deletions as Prometheus' `delete_series` makes them: a tombstone is a set of label matchers
//! with a time range; samples of matching series inside the range are hidden from every query
//! from the moment the tombstone is durable (`<dir>/tombstones`, written to a temporary file,
//! fsynced and renamed). Blocks cut from the head leave deleted samples out, and
//! `Tsdb::clean_tombstones` rewrites older blocks; a tombstone is dropped once no stored sample
//! is left under it.
//!
//! File: magic `PHTOMB1\n`, count, then per tombstone mint, maxt (varints) and its matchers
//! (name, op byte, value), CRC32 of everything before it (little endian).

use crate::encoding::{put_bytes, put_uvarint, put_varint, Reader};
use model::matcher::matches_all;
use model::{HistogramSample, LabelMatcher, Labels, MatchOp, Sample, StorageError};
use std::io::Write as _;
use std::path::{Path, PathBuf};

const MAGIC: &[u8] = b"PHTOMB1\n";
const FILE: &str = "tombstones";

/// Samples of series matching `matchers` in `[mint, maxt]` are deleted.
#[derive(Clone, Debug)]
pub struct Tombstone {
    pub matchers: Vec<LabelMatcher>,
    pub mint: i64,
    pub maxt: i64,
}

impl Tombstone {
    fn covers(&self, labels: &Labels, t: i64) -> bool {
        t >= self.mint && t <= self.maxt && matches_all(&self.matchers, labels)
    }
}

/// The tombstones of one database (held behind the database's lock).
#[derive(Default)]
pub struct Tombstones {
    pub list: Vec<Tombstone>,
}

fn op_byte(op: MatchOp) -> u8 {
    match op {
        MatchOp::Equal => 0,
        MatchOp::NotEqual => 1,
        MatchOp::RegexMatch => 2,
        MatchOp::RegexNoMatch => 3,
    }
}

fn byte_op(b: u8) -> Option<MatchOp> {
    Some(match b {
        0 => MatchOp::Equal,
        1 => MatchOp::NotEqual,
        2 => MatchOp::RegexMatch,
        3 => MatchOp::RegexNoMatch,
        _ => return None,
    })
}

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

fn corrupt(p: &Path, why: &str) -> StorageError {
    StorageError::Io(format!("tombstone file {} is corrupt: {why}", p.display()))
}

impl Tombstones {
    /// Loads `<dir>/tombstones` (none when the file is absent).
    pub fn load(dir: &Path) -> Result<Tombstones, StorageError> {
        let p = path(dir);
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Tombstones::default()),
            Err(e) => return Err(e.into()),
        };
        if bytes.len() < MAGIC.len() + 4 || !bytes.starts_with(MAGIC) {
            return Err(corrupt(&p, "bad header"));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if crc32fast::hash(body) != want {
            return Err(corrupt(&p, "checksum mismatch"));
        }
        let mut r = Reader::new(&body[MAGIC.len()..]);
        let bad = |_| corrupt(&p, "truncated record");
        let n = r.uvarint().map_err(bad)?;
        let mut list = Vec::new();
        for _ in 0..n {
            let mint = r.varint().map_err(bad)?;
            let maxt = r.varint().map_err(bad)?;
            let nm = r.uvarint().map_err(bad)?;
            let mut matchers = Vec::new();
            for _ in 0..nm {
                let name = r.string().map_err(bad)?;
                let op = byte_op(r.u8().map_err(bad)?).ok_or_else(|| corrupt(&p, "bad op"))?;
                let value = r.string().map_err(bad)?;
                matchers.push(
                    LabelMatcher::new(name, op, value).map_err(|e| corrupt(&p, &e.to_string()))?,
                );
            }
            list.push(Tombstone {
                matchers,
                mint,
                maxt,
            });
        }
        Ok(Tombstones { list })
    }

    /// Writes the list durably (temporary file, fsync, rename, directory fsync); an empty
    /// list removes the file.
    pub fn save(&self, dir: &Path) -> Result<(), StorageError> {
        let p = path(dir);
        if self.list.is_empty() {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        } else {
            let mut out = MAGIC.to_vec();
            put_uvarint(&mut out, self.list.len() as u64);
            for t in &self.list {
                put_varint(&mut out, t.mint);
                put_varint(&mut out, t.maxt);
                put_uvarint(&mut out, t.matchers.len() as u64);
                for m in &t.matchers {
                    put_bytes(&mut out, m.name.as_bytes());
                    out.push(op_byte(m.op));
                    put_bytes(&mut out, m.value.as_bytes());
                }
            }
            let crc = crc32fast::hash(&out);
            out.extend_from_slice(&crc.to_le_bytes());
            let tmp = dir.join(format!("{FILE}.tmp"));
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&out)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &p)?;
        }
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether any tombstone could hide samples of `labels` in `[mint, maxt]`.
    pub fn touches(&self, labels: &Labels, mint: i64, maxt: i64) -> bool {
        self.list
            .iter()
            .any(|t| t.mint <= maxt && t.maxt >= mint && matches_all(&t.matchers, labels))
    }

    /// Drops the deleted samples of one series.
    pub fn filter(&self, labels: &Labels, samples: &mut Vec<Sample>) {
        let hit: Vec<&Tombstone> = self
            .list
            .iter()
            .filter(|t| matches_all(&t.matchers, labels))
            .collect();
        if !hit.is_empty() {
            samples.retain(|s| !hit.iter().any(|t| s.t >= t.mint && s.t <= t.maxt));
        }
    }

    /// Drops the deleted native-histogram samples of one series.
    pub fn filter_histograms(&self, labels: &Labels, samples: &mut Vec<HistogramSample>) {
        if self.list.is_empty() {
            return;
        }
        samples.retain(|s| !self.list.iter().any(|t| t.covers(labels, s.t)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Tsdb, TsdbOptions};
    use model::{MetricSink, Queryable};

    /// Deleted samples vanish at once (head and blocks), stay deleted across a reopen and a cut,
    /// and `clean_tombstones` rewrites the block and drops the tombstone.
    #[test]
    fn delete_series_then_clean() {
        let dir = tempfile::tempdir().unwrap();
        let opts = TsdbOptions {
            block_range_ms: 1000,
            retention_time_ms: 0,
            ..Default::default()
        };
        let l = |job: &str| Labels::from_pairs([("__name__", "m"), ("job", job)]);
        let all = [LabelMatcher::new("__name__", MatchOp::Equal, "m").unwrap()];
        let del = [LabelMatcher::new("job", MatchOp::Equal, "a").unwrap()];
        {
            let db = Tsdb::open(dir.path(), opts.clone()).unwrap();
            for t in 0..40 {
                db.append(&[
                    (l("a"), Sample { t: t * 100, v: 1.0 }),
                    (l("b"), Sample { t: t * 100, v: 2.0 }),
                ])
                .unwrap();
            }
            db.maintain().unwrap();
            assert!(!db.blocks().is_empty(), "a block was cut");
            // Delete job=a from 500 to 3000 ms: blocks and head at once.
            assert_eq!(db.delete_series(&del, 500, 3000).unwrap(), 1);
            let got = db.select(&all, 0, i64::MAX).unwrap();
            assert_eq!(got.len(), 2);
            let a = &got[0].samples;
            assert_eq!(a.len(), 40 - 26);
            assert!(a.iter().all(|p| p.t < 500 || p.t > 3000));
            assert_eq!(got[1].samples.len(), 40);
            // Every sample of a deleted series: the series leaves series/label values too.
            assert_eq!(db.delete_series(&del, 0, i64::MAX).unwrap(), 1);
            assert_eq!(db.select(&all, 0, i64::MAX).unwrap().len(), 1);
            assert_eq!(db.series(&all, 0, i64::MAX).unwrap().len(), 1);
            assert_eq!(db.label_values("job", &[], 0, i64::MAX).unwrap(), vec!["b"]);
            // A later sample of the deleted series is visible (the range ended at the newest).
            db.append(&[(l("a"), Sample { t: 5000, v: 3.0 })]).unwrap();
            assert_eq!(db.select(&del, 0, i64::MAX).unwrap()[0].samples.len(), 1);
        }
        let db = Tsdb::open(dir.path(), opts).unwrap();
        assert_eq!(db.tombstone_count(), 2);
        assert_eq!(db.select(&del, 0, 4999).unwrap().len(), 0);
        let before: u64 = db.blocks().iter().map(|b| b.num_samples).sum();
        assert!(db.clean_tombstones().unwrap() >= 1);
        let after: u64 = db.blocks().iter().map(|b| b.num_samples).sum();
        assert!(
            after < before,
            "blocks rewritten: {before} -> {after} samples"
        );
        // Head samples under the tombstones keep them until the head is cut.
        assert_eq!(db.select(&del, 0, 4999).unwrap().len(), 0);
        assert_eq!(db.select(&all, 0, i64::MAX).unwrap()[1].samples.len(), 40);
        drop(db);
        let db = Tsdb::open(
            dir.path(),
            TsdbOptions {
                block_range_ms: 1000,
                retention_time_ms: 0,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(db.select(&del, 0, 4999).unwrap().len(), 0);
        assert_eq!(db.select(&del, 0, i64::MAX).unwrap()[0].samples.len(), 1);
    }

    #[test]
    fn save_load_filter() {
        let dir = tempfile::tempdir().unwrap();
        let mut ts = Tombstones::default();
        ts.list.push(Tombstone {
            matchers: vec![
                LabelMatcher::new("__name__", MatchOp::Equal, "up").unwrap(),
                LabelMatcher::new("job", MatchOp::RegexMatch, "a|b").unwrap(),
            ],
            mint: 10,
            maxt: 20,
        });
        ts.save(dir.path()).unwrap();
        let back = Tombstones::load(dir.path()).unwrap();
        assert_eq!(back.list.len(), 1);
        assert_eq!(back.list[0].matchers[1].value, "a|b");
        let l = Labels::from_pairs([("__name__", "up"), ("job", "b")]);
        let mut s: Vec<Sample> = (0..30).map(|t| Sample { t, v: 1.0 }).collect();
        back.filter(&l, &mut s);
        assert_eq!(s.len(), 19);
        let other = Labels::from_pairs([("__name__", "up"), ("job", "c")]);
        assert!(!back.touches(&other, 0, 100));
        assert!(back.touches(&l, 20, 100));
        // A flipped byte is detected; an empty list removes the file.
        let p = dir.path().join(FILE);
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[10] ^= 0xff;
        std::fs::write(&p, bytes).unwrap();
        assert!(Tombstones::load(dir.path()).is_err());
        Tombstones::default().save(dir.path()).unwrap();
        assert!(!p.exists());
        assert!(Tombstones::load(dir.path()).unwrap().is_empty());
    }
}
