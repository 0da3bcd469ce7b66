//! The in-memory head: recent samples of every series in compressed chunks, an inverted index,
//! per-series out-of-order buffers (when an out-of-order window is configured), and the split of
//! frozen heads at a block boundary (old part → block chunks, newer part → a smaller read-only
//! head).
//!
//! A block cut does not stop appends: the live head is frozen (made read-only behind an `Arc`)
//! and replaced by an empty one whose series inherit each frozen series' newest timestamp, so
//! order and duplicate checks stay exact across the layers; see `split_layers`.

use crate::chunk::{Chunk, ChunkEncoder, SAMPLES_PER_CHUNK};
use crate::index::Postings;
use crate::wal::Record;
use model::{Labels, Sample};
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::Arc;

/// Hasher of the head's label map ([`model::hash`]): several times cheaper than SipHash on
/// label strings, which every appended series hashes; seeded per process.
pub use model::hash::{SeededHasher as LabelHasher, SeededHasherBuilder as LabelHasherBuilder};

/// A series' labels as the head keeps them: one allocation holding, per label in name order,
/// the name's length, the name, the value's length and the value (lengths as LEB128 varints),
/// as Prometheus' `stringlabels`. A `Labels` costs a `Vec` plus two `String`s per label (about
/// 600 bytes for a 5-label series with glibc's malloc); this is the ~80 bytes of text plus one
/// allocation. Equal label sets have equal bytes, so maps compare and hash the bytes.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeadLabels(Box<[u8]>);

impl HeadLabels {
    pub fn new(labels: &Labels) -> HeadLabels {
        let mut buf = Vec::new();
        Self::encode_into(labels, &mut buf);
        HeadLabels(buf.into_boxed_slice())
    }

    /// Appends the encoding of `labels` to `buf`.
    /// The layout is `model::storage::EncodedSeriesBatch`'s, so encoded label sets read off the
    /// wire find their series without building `Labels`.
    pub fn encode_into(labels: &Labels, buf: &mut Vec<u8>) {
        for l in labels {
            model::storage::EncodedSeriesBatch::encode_label(buf, &l.name, &l.value);
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The (name, value) pairs in name order.
    pub fn iter(&self) -> HeadLabelsIter<'_> {
        HeadLabelsIter(&self.0)
    }

    /// Value of `name`, or `None` when absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The labels as a `Labels`.
    pub fn to_labels(&self) -> Labels {
        Labels::from_sorted_unchecked(
            self.iter()
                .map(|(name, value)| model::Label {
                    name: name.to_string(),
                    value: value.to_string(),
                })
                .collect(),
        )
    }
}

impl std::fmt::Debug for HeadLabels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_labels())
    }
}

/// Iterator over a `HeadLabels`' pairs.
pub struct HeadLabelsIter<'a>(&'a [u8]);

impl<'a> HeadLabelsIter<'a> {
    fn text(&mut self) -> Option<&'a str> {
        let (mut n, mut shift, mut i) = (0usize, 0u32, 0usize);
        loop {
            let b = *self.0.get(i)?;
            i += 1;
            n |= usize::from(b & 0x7f) << shift;
            if b < 0x80 {
                break;
            }
            shift += 7;
        }
        let text = self.0.get(i..i + n)?;
        self.0 = &self.0[i + n..];
        // Written from `String`s by `encode_into`, so always UTF-8 at these boundaries.
        std::str::from_utf8(text).ok()
    }
}

impl<'a> Iterator for HeadLabelsIter<'a> {
    type Item = (&'a str, &'a str);
    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        Some((self.text()?, self.text()?))
    }
}

/// Ids of a head's series by their labels' bytes (ids only: the bytes live in the series).
pub type LabelMap = hashbrown::HashTable<u32>;

/// One series in the head.
#[derive(Debug)]
pub struct HeadSeries {
    pub labels: HeadLabels,
    pub chunks: Vec<Chunk>,
    pub open: ChunkEncoder,
    /// Newest in-order timestamp (possibly inherited from a frozen head), `i64::MIN` if none.
    pub last_t: i64,
    pub last_v_bits: u64,
    /// Accepted out-of-order samples, merged into results at query time (boxed: most series
    /// never have any, and an empty map would cost 24 bytes in every series).
    pub ooo: Option<Box<BTreeMap<i64, f64>>>,
}

impl HeadSeries {
    fn new(labels: HeadLabels) -> Self {
        HeadSeries {
            labels,
            chunks: Vec::new(),
            open: ChunkEncoder::new(),
            last_t: i64::MIN,
            last_v_bits: 0,
            ooo: None,
        }
    }

    /// The accepted out-of-order samples (none for most series).
    pub fn ooo(&self) -> &BTreeMap<i64, f64> {
        static EMPTY: BTreeMap<i64, f64> = BTreeMap::new();
        self.ooo.as_deref().unwrap_or(&EMPTY)
    }

    /// Whether this layer holds a sample of the series within `[mint, maxt]` (chunk bounds).
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.chunks
            .iter()
            .any(|c| c.max_t >= mint && c.min_t <= maxt)
            || (!self.open.is_empty() && self.open.max_t >= mint && self.open.min_t <= maxt)
            || self.ooo().range(mint..=maxt).next().is_some()
    }
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
    pub by_labels: LabelMap,
    pub postings: Postings,
    pub min_t: i64,
    pub max_t: i64,
    /// Samples older than this belong to blocks and are refused.
    pub min_valid_t: i64,
    pub num_samples: u64,
    /// Process-unique number of this head (never 0 for a head made by `new`): series handles
    /// cached by producers (`model::SeriesRef`) name a series as (generation, id), valid only
    /// while this head is the live one.
    pub generation: u32,
}

thread_local! {
    /// Encoding buffer of label lookups (one per thread, reused).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Hash of a `HeadLabels`' bytes in the head's label map.
fn hash_bytes(bytes: &[u8]) -> u64 {
    LabelHasherBuilder::default().hash_one(bytes)
}

/// Source of `Head::generation`.
static GENERATIONS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

impl Head {
    pub fn new(min_valid_t: i64) -> Self {
        let mut generation = 0;
        while generation == 0 {
            generation = GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Head {
            generation,
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
        self.get_or_create_after(labels, &[])
    }

    /// Like `get_or_create`, but a new series continues where it ends in the frozen heads
    /// `prior` (oldest first): it inherits their newest timestamp and value, so out-of-order
    /// and duplicate checks see across the cut.
    pub fn get_or_create_after(&mut self, labels: &Labels, prior: &[Arc<Head>]) -> (u32, bool) {
        SCRATCH.with_borrow_mut(|buf| {
            buf.clear();
            HeadLabels::encode_into(labels, buf);
            let hash = hash_bytes(buf);
            if let Some(id) = self.find(hash, buf) {
                return (id, false);
            }
            let mut s = HeadSeries::new(HeadLabels(buf.as_slice().into()));
            if let Some(p) = prior.iter().rev().find_map(|h| {
                let id = h.find(hash, buf)?;
                h.series.get(id as usize)
            }) {
                s.last_t = p.last_t;
                s.last_v_bits = p.last_v_bits;
            }
            (self.insert_series(hash, s), true)
        })
    }

    /// The id of the series with these labels, if this head has it.
    pub fn lookup(&self, labels: &Labels) -> Option<u32> {
        SCRATCH.with_borrow_mut(|buf| {
            buf.clear();
            HeadLabels::encode_into(labels, buf);
            self.find(hash_bytes(buf), buf)
        })
    }

    /// The id of the series whose labels are encoded as `bytes` (`HeadLabels`' layout), if this
    /// head has it.
    pub fn lookup_encoded(&self, bytes: &[u8]) -> Option<u32> {
        self.find(hash_bytes(bytes), bytes)
    }

    /// The id of the series whose `HeadLabels` bytes are `bytes` (`hash` = `hash_bytes(bytes)`).
    fn find(&self, hash: u64, bytes: &[u8]) -> Option<u32> {
        let series = &self.series;
        self.by_labels
            .find(hash, |&id| {
                series
                    .get(id as usize)
                    .is_some_and(|s| s.labels.as_bytes() == bytes)
            })
            .copied()
    }

    /// Adds a series not in this head yet (postings and label map included); returns its id.
    fn insert_series(&mut self, hash: u64, s: HeadSeries) -> u32 {
        let id = self.series.len() as u32;
        self.postings.add_pairs(id, s.labels.iter());
        let series = &self.series;
        self.by_labels.insert_unique(hash, id, |&other| {
            series
                .get(other as usize)
                .map_or(0, |o| hash_bytes(o.labels.as_bytes()))
        });
        self.series.push(s);
        id
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
                if s.ooo
                    .get_or_insert_with(Default::default)
                    .insert(t, v)
                    .is_none()
                {
                    self.num_samples += 1;
                }
                self.min_t = self.min_t.min(t);
                self.max_t = self.max_t.max(t);
                return Outcome::Appended;
            }
            return Outcome::OutOfOrder;
        }
        if s.open.len() >= SAMPLES_PER_CHUNK {
            let full = std::mem::replace(&mut s.open, ChunkEncoder::new());
            let mut c = full.into_chunk();
            // The encoder's buffer grew by doubling: give back the unused tail (a quarter of a
            // full chunk's bytes on average) for the hours the chunk stays in the head.
            c.data.shrink_to_fit();
            if s.chunks.is_empty() {
                // A 2 h head holds 2 chunks per series at 15 s: not the 4 of Vec's first growth.
                s.chunks.reserve_exact(2);
            }
            s.chunks.push(c);
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
            crate::chunk::decode_into(&c.data, c.count, mint, maxt, &mut out);
        }
        if !s.open.is_empty() && s.open.max_t >= mint && s.open.min_t <= maxt {
            crate::chunk::decode_into(s.open.bytes(), s.open.len() as u16, mint, maxt, &mut out);
        }
        if !s.ooo().is_empty() {
            for (t, v) in s.ooo().range(mint..=maxt) {
                out.push(Sample { t: *t, v: *v });
            }
            out.sort_by_key(|p| p.t);
            out.dedup_by_key(|p| p.t);
        }
        out
    }

    /// Removes every sample older than `before`: returns them chunked per series (for a block)
    /// and the head rebuilt with what remains (series without samples are dropped).
    pub fn cut(self, before: i64) -> (Vec<(Labels, Vec<Chunk>)>, Head) {
        split_layers(&[Arc::new(self)], before)
    }

    /// Records that recreate the head (for a WAL checkpoint): each series with its chunks as
    /// they are (no decoding), out-of-order samples as samples.
    pub fn checkpoint_records(&self) -> Vec<Record> {
        let mut out = Vec::new();
        let _ = self.for_each_checkpoint_record(|r| {
            out.push(std::mem::take(r));
            Ok::<(), ()>(())
        });
        out
    }

    /// Like `checkpoint_records`, but hands each record (a few MB at most) to `emit` as soon as
    /// it is full, so a checkpoint never holds a second copy of the whole head in memory.
    pub fn for_each_checkpoint_record<E>(
        &self,
        mut emit: impl FnMut(&mut Record) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut rec = Record::default();
        let mut bytes = 0usize;
        for (id, s) in self.series.iter().enumerate() {
            let id = id as u64;
            rec.series.push((id, s.labels.to_labels()));
            for c in &s.chunks {
                bytes += c.data.len();
                rec.chunks.push((id, c.clone()));
            }
            if !s.open.is_empty() {
                let c = s.open.to_chunk();
                bytes += c.data.len();
                rec.chunks.push((id, c));
            }
            for (t, v) in s.ooo() {
                rec.samples.push((id, *t, *v));
            }
            if bytes > 4 << 20 || rec.samples.len() > 100_000 {
                emit(&mut rec)?;
                rec = Record::default();
                bytes = 0;
            }
        }
        if !rec.is_empty() {
            emit(&mut rec)?;
        }
        Ok(())
    }
}

/// One series gathered across frozen heads by `split_layers`.
struct Gathered<'a> {
    labels: &'a HeadLabels,
    parts: Vec<(usize, u32)>,
    old: Vec<Chunk>,
    rest: Vec<Chunk>,
    /// Out-of-order samples somewhere: re-merge every sample instead of moving chunks.
    slow: bool,
    last_t: i64,
    last_v_bits: u64,
}

/// Splits read-only heads (oldest first) at `before`: the samples older than `before`, per
/// series as block chunks, and one read-only head with the rest (`min_valid_t = before`).
/// Whole chunks are moved without re-encoding; only a chunk straddling `before`, runs of
/// partial chunks (from earlier freezes) and series with out-of-order samples are re-encoded.
pub fn split_layers(layers: &[Arc<Head>], before: i64) -> (Vec<(Labels, Vec<Chunk>)>, Head) {
    split_layers_part(layers, before, true, true)
}

/// `split_layers` computing only the parts asked for (the others come back empty), so a cut
/// can write the block and drop its chunks before building the remainder: peak memory is the
/// frozen heads plus the larger part, not plus both.
pub fn split_layers_part(
    layers: &[Arc<Head>],
    before: i64,
    want_old: bool,
    want_rest: bool,
) -> (Vec<(Labels, Vec<Chunk>)>, Head) {
    let mut index: HashMap<&[u8], usize, LabelHasherBuilder> = HashMap::default();
    let mut all: Vec<Gathered> = Vec::new();
    for (li, h) in layers.iter().enumerate() {
        for (id, s) in h.series.iter().enumerate() {
            let gi = *index.entry(s.labels.as_bytes()).or_insert_with(|| {
                all.push(Gathered {
                    labels: &s.labels,
                    parts: Vec::new(),
                    old: Vec::new(),
                    rest: Vec::new(),
                    slow: false,
                    last_t: i64::MIN,
                    last_v_bits: 0,
                });
                all.len() - 1
            });
            let g = &mut all[gi];
            g.parts.push((li, id as u32));
            if s.last_t != i64::MIN && s.last_t >= g.last_t {
                g.last_t = s.last_t;
                g.last_v_bits = s.last_v_bits;
            }
            if !s.ooo().is_empty() {
                g.slow = true;
            }
            if g.slow {
                continue;
            }
            let open = (!s.open.is_empty()).then(|| s.open.to_chunk());
            for c in s.chunks.iter().chain(open.iter()) {
                if c.max_t < before {
                    if want_old {
                        g.old.push(c.clone());
                    }
                } else if c.min_t >= before {
                    if want_rest {
                        g.rest.push(c.clone());
                    }
                } else {
                    let samples = c.decode();
                    let at = samples.partition_point(|p| p.t < before);
                    if want_old {
                        g.old.extend(encode_chunks(&samples[..at]));
                    }
                    if want_rest {
                        g.rest.extend(encode_chunks(&samples[at..]));
                    }
                }
            }
        }
    }
    let mut old_out = Vec::new();
    let mut rest = Head::new(before);
    for mut g in all {
        if g.slow {
            let mut samples: Vec<Sample> = g
                .parts
                .iter()
                .flat_map(|(li, id)| layers[*li].samples(*id, i64::MIN, i64::MAX))
                .collect();
            samples.sort_by_key(|p| p.t);
            samples.dedup_by_key(|p| p.t);
            let at = samples.partition_point(|p| p.t < before);
            if want_old {
                g.old = encode_chunks(&samples[..at]);
            }
            if want_rest {
                g.rest = encode_chunks(&samples[at..]);
            }
        } else {
            g.old = repack(g.old);
        }
        if !g.old.is_empty() {
            old_out.push((g.labels.to_labels(), g.old));
        }
        if g.rest.is_empty() {
            continue;
        }
        let n: u64 = g.rest.iter().map(|c| u64::from(c.count)).sum();
        let lo = g.rest.iter().map(|c| c.min_t).min().unwrap_or(i64::MAX);
        let hi = g.rest.iter().map(|c| c.max_t).max().unwrap_or(i64::MIN);
        rest.min_t = rest.min_t.min(lo);
        rest.max_t = rest.max_t.max(hi);
        rest.num_samples += n;
        let mut s = HeadSeries::new(g.labels.clone());
        s.chunks = g.rest;
        s.last_t = g.last_t;
        s.last_v_bits = g.last_v_bits;
        rest.insert_series(hash_bytes(g.labels.as_bytes()), s);
    }
    (old_out, rest)
}

/// Re-encodes a series' chunks when a partial chunk sits before the last one (left by a
/// freeze), so blocks keep full chunks.
fn repack(chunks: Vec<Chunk>) -> Vec<Chunk> {
    let n = chunks.len();
    if chunks
        .iter()
        .take(n.saturating_sub(1))
        .all(|c| c.count as usize >= SAMPLES_PER_CHUNK)
    {
        return chunks;
    }
    let samples: Vec<Sample> = chunks.iter().flat_map(|c| c.decode()).collect();
    encode_chunks(&samples)
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
            e.into_chunk()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_hasher_tells_label_sets_apart() {
        let b = LabelHasherBuilder::default();
        let h = |l: &Labels| b.hash_one(l);
        let a = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        assert_eq!(h(&a), h(&a.clone()));
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000 {
            let l = Labels::from_pairs([("__name__", "m".to_string()), ("i", i.to_string())]);
            assert!(seen.insert(h(&l)), "collision at {i}");
        }
        // Boundaries between names and values matter.
        let x = Labels::from_pairs([("ab", "c")]);
        let y = Labels::from_pairs([("a", "bc")]);
        assert_ne!(h(&x), h(&y));
    }

    #[test]
    fn head_labels_round_trip_and_find_series() {
        let long = "v".repeat(300) + "é✓";
        let sets = [
            Labels::from_pairs([("__name__", "up"), ("job", "a")]),
            Labels::from_pairs([("__name__", "up"), ("job", long.as_str())]),
            Labels::from_pairs([("a", "x".repeat(127)), ("b", "y".repeat(128))]),
            Labels::from_pairs([("ab", "c")]),
            Labels::from_pairs([("a", "bc")]),
        ];
        let mut h = Head::new(0);
        for (i, l) in sets.iter().enumerate() {
            let hl = HeadLabels::new(l);
            assert_eq!(hl.to_labels(), *l);
            assert_eq!(hl.iter().count(), l.len());
            assert_eq!(hl.get("job"), l.get("job"));
            assert_eq!(h.get_or_create(l), (i as u32, true));
        }
        for (i, l) in sets.iter().enumerate() {
            assert_eq!(h.lookup(l), Some(i as u32));
            assert_eq!(h.get_or_create(l), (i as u32, false));
        }
        assert_eq!(h.lookup(&Labels::from_pairs([("a", "b")])), None);
        // The map keeps finding every series across its growth (rehashing from the bytes).
        for i in 0..5000 {
            let l = Labels::from_pairs([("i", i.to_string())]);
            let (id, _) = h.get_or_create(&l);
            assert_eq!(h.series[id as usize].labels.to_labels(), l);
        }
        for i in 0..5000 {
            assert!(h
                .lookup(&Labels::from_pairs([("i", i.to_string())]))
                .is_some());
        }
        assert_eq!(h.series.len(), 5005);
    }

    #[test]
    fn split_parts_match_the_whole_split() {
        let mut a = Head::new(0);
        for i in 0..5 {
            let (id, _) = a.get_or_create(&Labels::from_pairs([("i", i.to_string())]));
            for t in 0..300 {
                a.append(id, t * 10 + i, t as f64, 50);
            }
            assert_eq!(a.append(id, 1505, 1.0, 10_000), Outcome::Appended); // out of order: slow path
        }
        let layers = [Arc::new(a)];
        let (old, rest) = split_layers(&layers, 1500);
        let (old_only, empty) = split_layers_part(&layers, 1500, true, false);
        let (none, rest_only) = split_layers_part(&layers, 1500, false, true);
        assert_eq!(old, old_only);
        assert!(none.is_empty() && empty.is_empty());
        assert_eq!(rest.num_samples, rest_only.num_samples);
        for id in 0..5u32 {
            assert_eq!(
                rest.samples(id, i64::MIN, i64::MAX),
                rest_only.samples(id, i64::MIN, i64::MAX)
            );
        }
        let n_old: u64 = old
            .iter()
            .flat_map(|(_, cs)| cs.iter().map(|c| u64::from(c.count)))
            .sum();
        assert_eq!(n_old + rest.num_samples, layers[0].num_samples);
    }

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
