//! The in-memory head: recent samples of every series in compressed chunks, an inverted index,
//! per-series out-of-order buffers (when an out-of-order window is configured), and the cut that
//! moves old samples out into a block.

use crate::chunk::{Chunk, ChunkEncoder, SAMPLES_PER_CHUNK};
use crate::index::Postings;
use crate::wal::Record;
use model::{Labels, Sample};
use std::collections::{BTreeMap, HashMap};

/// One series in the head.
#[derive(Debug)]
pub struct HeadSeries {
    pub labels: Labels,
    pub chunks: Vec<Chunk>,
    pub open: ChunkEncoder,
    pub last_t: i64,
    pub last_v_bits: u64,
    /// Accepted out-of-order samples, merged into results at query time.
    pub ooo: BTreeMap<i64, f64>,
}

/// What happened to one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Appended,
    /// Same timestamp and value as the newest sample: accepted, nothing stored.
    Repeated,
    OutOfOrder,
    Duplicate,
    OutOfBounds,
}

#[derive(Debug, Default)]
pub struct Head {
    pub series: Vec<HeadSeries>,
    pub by_labels: HashMap<Labels, u32>,
    pub postings: Postings,
    pub min_t: i64,
    pub max_t: i64,
    /// Samples older than this belong to blocks and are refused.
    pub min_valid_t: i64,
    pub num_samples: u64,
}

impl Head {
    pub fn new(min_valid_t: i64) -> Self {
        Head {
            min_t: i64::MAX,
            max_t: i64::MIN,
            min_valid_t,
            ..Default::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.num_samples == 0
    }

    /// The id of `labels`, creating the series when new (`true` = created).
    pub fn get_or_create(&mut self, labels: &Labels) -> (u32, bool) {
        if let Some(id) = self.by_labels.get(labels) {
            return (*id, false);
        }
        let id = self.series.len() as u32;
        self.series.push(HeadSeries {
            labels: labels.clone(),
            chunks: Vec::new(),
            open: ChunkEncoder::new(),
            last_t: i64::MIN,
            last_v_bits: 0,
            ooo: BTreeMap::new(),
        });
        self.by_labels.insert(labels.clone(), id);
        self.postings.add(id, labels);
        (id, true)
    }

    /// Validates and stores one sample.
    pub fn append(&mut self, id: u32, t: i64, v: f64, ooo_window: i64) -> Outcome {
        if t < self.min_valid_t {
            return Outcome::OutOfBounds;
        }
        let Some(s) = self.series.get_mut(id as usize) else {
            return Outcome::OutOfBounds;
        };
        if s.last_t != i64::MIN && t <= s.last_t {
            if t == s.last_t {
                return if v.to_bits() == s.last_v_bits {
                    Outcome::Repeated
                } else {
                    Outcome::Duplicate
                };
            }
            if ooo_window > 0 && s.last_t - t <= ooo_window {
                if s.ooo.insert(t, v).is_none() {
                    self.num_samples += 1;
                }
                self.min_t = self.min_t.min(t);
                return Outcome::Appended;
            }
            return Outcome::OutOfOrder;
        }
        if s.open.len() >= SAMPLES_PER_CHUNK {
            let full = std::mem::replace(&mut s.open, ChunkEncoder::new());
            s.chunks.push(full.to_chunk());
        }
        s.open.append(t, v);
        s.last_t = t;
        s.last_v_bits = v.to_bits();
        self.min_t = self.min_t.min(t);
        self.max_t = self.max_t.max(t);
        self.num_samples += 1;
        Outcome::Appended
    }

    /// All samples of a series within `[mint, maxt]`, in time order.
    pub fn samples(&self, id: u32, mint: i64, maxt: i64) -> Vec<Sample> {
        let Some(s) = self.series.get(id as usize) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for c in &s.chunks {
            if c.max_t < mint || c.min_t > maxt {
                continue;
            }
            out.extend(
                c.decode()
                    .into_iter()
                    .filter(|p| p.t >= mint && p.t <= maxt),
            );
        }
        if !s.open.is_empty() && s.open.max_t >= mint && s.open.min_t <= maxt {
            out.extend(
                s.open
                    .to_chunk()
                    .decode()
                    .into_iter()
                    .filter(|p| p.t >= mint && p.t <= maxt),
            );
        }
        if !s.ooo.is_empty() {
            for (t, v) in s.ooo.range(mint..=maxt) {
                out.push(Sample { t: *t, v: *v });
            }
            out.sort_by_key(|p| p.t);
            out.dedup_by_key(|p| p.t);
        }
        out
    }

    /// Removes every sample older than `before`: returns them chunked per series (for a block)
    /// and the head rebuilt with what remains (series without samples are dropped).
    pub fn cut(&self, before: i64) -> (Vec<(Labels, Vec<Chunk>)>, Head) {
        let mut old = Vec::new();
        let mut rest = Head::new(before);
        for (id, s) in self.series.iter().enumerate() {
            let all = self.samples(id as u32, i64::MIN, i64::MAX);
            let split = all.partition_point(|p| p.t < before);
            if split > 0 {
                old.push((s.labels.clone(), encode_chunks(&all[..split])));
            }
            if split < all.len() {
                let (nid, _) = rest.get_or_create(&s.labels);
                for p in &all[split..] {
                    rest.append(nid, p.t, p.v, i64::MAX);
                }
            }
        }
        (old, rest)
    }

    /// Records that recreate the head (for a WAL checkpoint).
    pub fn checkpoint_records(&self) -> Vec<Record> {
        let mut out = Vec::new();
        let mut rec = Record::default();
        for (id, s) in self.series.iter().enumerate() {
            rec.series.push((id as u64, s.labels.clone()));
            for p in self.samples(id as u32, i64::MIN, i64::MAX) {
                rec.samples.push((id as u64, p.t, p.v));
            }
            if rec.samples.len() > 100_000 {
                out.push(std::mem::take(&mut rec));
            }
        }
        if !rec.is_empty() {
            out.push(rec);
        }
        out
    }
}

/// Encodes sorted samples into chunks of `SAMPLES_PER_CHUNK`.
pub fn encode_chunks(samples: &[Sample]) -> Vec<Chunk> {
    samples
        .chunks(SAMPLES_PER_CHUNK)
        .map(|part| {
            let mut e = ChunkEncoder::new();
            for p in part {
                e.append(p.t, p.v);
            }
            e.to_chunk()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_rules_and_cut() {
        let mut h = Head::new(0);
        let (id, created) = h.get_or_create(&Labels::from_pairs([("__name__", "x")]));
        assert!(created);
        for t in 1..=300 {
            assert_eq!(h.append(id, t * 10, t as f64, 0), Outcome::Appended);
        }
        assert_eq!(h.append(id, 5, 1.0, 0), Outcome::OutOfOrder);
        assert_eq!(h.append(id, 3000, 300.0, 0), Outcome::Repeated);
        assert_eq!(h.append(id, 3000, 1.0, 0), Outcome::Duplicate);
        assert_eq!(h.append(id, 2995, 1.0, 100), Outcome::Appended);
        assert_eq!(h.samples(id, 2990, 3000).len(), 3);
        let (old, rest) = h.cut(1000);
        assert_eq!(old[0].1.iter().map(|c| c.count as usize).sum::<usize>(), 99);
        assert_eq!(rest.samples(0, i64::MIN, i64::MAX).len(), 202);
        assert_eq!(rest.min_valid_t, 1000);
    }
}
