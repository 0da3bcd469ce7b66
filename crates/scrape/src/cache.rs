//! Per-target scrape cache, as Prometheus' scrapeCache: the series text of each exposition line
//! maps to its stored series (a `model::SeriesRef` the store resolves once), so a known series
//! skips label parsing, relabeling and the store's label lookup; the label-set hashes of the
//! previous and current scrape find vanished series for staleness markers; one batch per scrape
//! is reused across scrapes. A scrape whose series texts come in the same order as the last
//! one's (the usual case) is matched line by line against that sequence instead: no hashing, no
//! map probes, and no staleness bookkeeping, since its set of series is the previous one.
//! The texts are kept once, in the last scrape's sequence; the map from text to series is a
//! table of positions in that sequence.

use crate::discovery::TargetSpec;
use crate::exposition::Format;
use crate::scan::Scanner;
use crate::scrape_loop::{final_labels, Processed};
use crate::target::MetadataEntry;
use config::ScrapeConfig;
use model::{HistogramSample, Labels, Sample, SeriesRef};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// Hashes a `u64` that already is a hash (the label-set hash keys of the staleness maps).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Hasher of series texts: word at a time multiply-rotate (as rustc's FxHash) from a per-process
/// random seed, several times faster than SipHash on the ~50-byte keys of the scrape cache.
struct TextHasher(u64);

impl Hasher for TextHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0xf135_7aea_2e62_a9c5;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(26);
        }
        for &b in chunks.remainder() {
            h = (h ^ u64::from(b)).wrapping_mul(K).rotate_left(26);
        }
        self.0 = h;
    }
}

#[derive(Clone)]
struct TextHasherBuilder(u64);

impl Default for TextHasherBuilder {
    fn default() -> Self {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        TextHasherBuilder(*SEED.get_or_init(|| {
            std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u8)
        }))
    }
}

impl std::hash::BuildHasher for TextHasherBuilder {
    type Hasher = TextHasher;
    fn build_hasher(&self) -> TextHasher {
        TextHasher(self.0)
    }
}

type ByHash = HashMap<u64, SeriesRef, BuildHasherDefault<IdHasher>>;

/// Hash of a series text in the cache's position table.
fn text_hash(text: &str) -> u64 {
    let mut h = TextHasherBuilder::default().build_hasher();
    h.write(text.as_bytes());
    h.finish()
}

/// One sample line of the last successful text scrape, in body order.
struct Line {
    /// End of the line's series text in `ScrapeCache::line_texts` (it starts where the previous
    /// line's ends): the fast path compares the texts in one sequential pass over one buffer,
    /// not a pointer chase to a separate allocation per line.
    end: u32,
    /// The series to store (labels after target labels and metric relabeling) and its label
    /// hash; `None` when relabeling dropped it.
    series: Option<(SeriesRef, u64)>,
    /// Whether the line's series went into the staleness set (`cur`): not when it carried an
    /// honored timestamp without `track_timestamps_staleness`.
    tracked: bool,
}

/// Per-target scrape state, as Prometheus' scrapeCache: the series text of each exposition line
/// maps to its stored series, so a known series skips label parsing, relabeling and the store's
/// label lookup; the label sets of the previous and current scrape find vanished series for
/// staleness markers. Texts not seen in the last successful scrape are dropped.
pub struct ScrapeCache {
    /// The sample lines of the last successful text scrape: the fast path's expected sequence
    /// and, through `positions`, the map from series text to series.
    lines: Vec<Line>,
    /// The series texts of `lines`, one after the other.
    line_texts: String,
    /// Index in `lines` of each distinct text (hashed with `text_hash`).
    positions: hashbrown::HashTable<u32>,
    /// Whether the next text scrape may take the positional fast path (not after a failure or a
    /// scrape through the general path, whose series `lines` do not describe).
    same_order: bool,
    prev: ByHash,
    cur: ByHash,
    /// `up`, `scrape_duration_seconds`, ... of this target.
    pub report: Vec<SeriesRef>,
    /// Hash of the metadata lines last published, to skip rebuilding unchanged metadata.
    meta_hash: Option<u64>,
    /// Hash of the metadata lines of the body being processed.
    scanned_meta: u64,
    /// Scrapes taken by the positional fast path (for tests).
    fast_scrapes: u64,
    /// The batch handed to the sink, reused across scrapes.
    pub batch: Vec<(SeriesRef, Sample)>,
    /// Native histograms of this scrape (protobuf or NHCB path).
    pub hbatch: Vec<(Labels, HistogramSample)>,
    /// Exemplars of this scrape with their series' labels.
    pub exemplars: Vec<(Labels, model::exemplars::Exemplar)>,
}

const REPORT_NAMES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// What a scrape counted.
#[derive(Debug, Default)]
pub struct Counts {
    pub scraped: usize,
    pub post_relabel: usize,
    pub added: usize,
}

impl ScrapeCache {
    pub fn new(target: &Labels) -> ScrapeCache {
        ScrapeCache {
            lines: Vec::new(),
            line_texts: String::new(),
            positions: hashbrown::HashTable::new(),
            same_order: false,
            prev: ByHash::default(),
            cur: ByHash::default(),
            report: REPORT_NAMES
                .iter()
                .map(|name| SeriesRef::new(&report_labels(target, name)))
                .collect(),
            meta_hash: None,
            scanned_meta: 0,
            fast_scrapes: 0,
            batch: Vec::new(),
            hbatch: Vec::new(),
            exemplars: Vec::new(),
        }
    }

    /// Parses a text body into `self.batch` (scraped series, then staleness markers for series
    /// gone since the previous scrape), applying target labels, honor_* settings, metric
    /// relabeling and limits. On error the caller resets the batch with `fail`.
    pub fn process_text(
        &mut self,
        spec: &TargetSpec,
        cfg: &ScrapeConfig,
        body: &str,
        format: Format,
        ts: i64,
        metadata: &Mutex<BTreeMap<String, MetadataEntry>>,
    ) -> Result<Counts, String> {
        if self.same_order && !self.lines.is_empty() {
            let (batch_len, exemplars_len) = (self.batch.len(), self.exemplars.len());
            if let Some(n) = self.process_same(cfg, body, format, ts)? {
                self.fast_scrapes += 1;
                self.publish_metadata(body, format, metadata)?;
                return Ok(n);
            }
            self.batch.truncate(batch_len);
            self.exemplars.truncate(exemplars_len);
        }
        // This scrape's sequence, built beside the last one (whose positions find known texts)
        // and kept in its place once the scrape succeeded.
        let mut lines: Vec<Line> = Vec::with_capacity(self.lines.len());
        let mut texts = String::with_capacity(self.line_texts.len());
        let mut positions = hashbrown::HashTable::with_capacity(self.lines.len());
        let mut scanner = Scanner::new(body, format);
        let mut n = Counts::default();
        while let Some(raw) = scanner
            .next_sample()
            .map_err(|e| format!("parse error: {e}"))?
        {
            n.scraped += 1;
            let hash = text_hash(raw.series);
            let known = find(
                &self.positions,
                &self.lines,
                &self.line_texts,
                hash,
                raw.series,
            )
            .and_then(|i| self.lines.get(i))
            .or_else(|| {
                find(&positions, &lines, &texts, hash, raw.series).and_then(|i| lines.get(i))
            });
            let series = match known {
                Some(line) => line.series.clone(),
                None => {
                    let labels = raw.parse().map_err(|e| format!("parse error: {e}"))?.labels;
                    final_labels(spec, cfg, &labels)?.map(|l| (SeriesRef::new(&l), l.hash64()))
                }
            };
            let explicit = raw.timestamp_ms.is_some() && cfg.honor_timestamps;
            let tracked = !explicit || cfg.track_timestamps_staleness;
            if lines.len() >= u32::MAX as usize
                || texts.len() + raw.series.len() > u32::MAX as usize
            {
                return Err("scrape too large for the scrape cache".into());
            }
            texts.push_str(raw.series);
            positions.insert_unique(hash, lines.len() as u32, |&i| {
                text_hash(line_text(&lines, &texts, i as usize))
            });
            lines.push(Line {
                end: texts.len() as u32,
                series: series.clone(),
                tracked,
            });
            let Some((series, hash)) = series else {
                continue;
            };
            n.post_relabel += 1;
            let t = match raw.timestamp_ms {
                Some(t) if explicit => t,
                _ => ts,
            };
            if raw.has_exemplar {
                let parsed = raw.parse().map_err(|e| format!("parse error: {e}"))?;
                if let Some(e) = parsed.exemplar {
                    self.exemplars.push((
                        series.labels(),
                        model::exemplars::Exemplar {
                            labels: e.labels,
                            value: e.value,
                            ts: e.ts_ms.unwrap_or(t),
                        },
                    ));
                }
            }
            if tracked
                && self.cur.insert(hash, series.clone()).is_none()
                && !self.prev.contains_key(&hash)
            {
                n.added += 1;
            }
            self.batch.push((series, Sample { t, v: raw.value }));
        }
        if cfg.sample_limit > 0 && n.post_relabel as u64 > cfg.sample_limit {
            return Err(format!(
                "sample limit exceeded: {} samples, limit {}",
                n.post_relabel, cfg.sample_limit
            ));
        }
        self.scanned_meta = scanner.meta_hash();
        self.publish_metadata(body, format, metadata)?;
        self.end_success(ts);
        // Texts this scrape did not have (churn, other spellings of a series) are forgotten
        // with the last sequence.
        lines.shrink_to_fit();
        texts.shrink_to_fit();
        self.lines = lines;
        self.line_texts = texts;
        self.positions = positions;
        self.same_order = true;
        Ok(n)
    }

    /// The fast path: the body's sample lines carry the same series texts in the same order as
    /// the last successful scrape's (`self.lines`), so each line's series is the one at its
    /// position, and the set of series is unchanged (no staleness markers, no series added).
    /// `None` (with part of a batch pushed, which the caller drops) as soon as a line differs.
    fn process_same(
        &mut self,
        cfg: &ScrapeConfig,
        body: &str,
        format: Format,
        ts: i64,
    ) -> Result<Option<Counts>, String> {
        let mut scanner = Scanner::new(body, format);
        let mut n = Counts::default();
        if self.line_texts.len() > u32::MAX as usize {
            return Ok(None);
        }
        let texts = self.line_texts.as_bytes();
        let mut start = 0usize;
        let mut lines = self.lines.iter();
        while let Some(raw) = scanner
            .next_sample()
            .map_err(|e| format!("parse error: {e}"))?
        {
            let Some(line) = lines.next() else {
                return Ok(None);
            };
            let explicit = raw.timestamp_ms.is_some() && cfg.honor_timestamps;
            let end = line.end as usize;
            if texts.get(start..end) != Some(raw.series.as_bytes())
                || line.tracked != (!explicit || cfg.track_timestamps_staleness)
            {
                return Ok(None);
            }
            start = end;
            n.scraped += 1;
            let Some((series, _)) = &line.series else {
                continue;
            };
            n.post_relabel += 1;
            let t = match raw.timestamp_ms {
                Some(t) if explicit => t,
                _ => ts,
            };
            if raw.has_exemplar {
                let parsed = raw.parse().map_err(|e| format!("parse error: {e}"))?;
                if let Some(e) = parsed.exemplar {
                    self.exemplars.push((
                        series.labels(),
                        model::exemplars::Exemplar {
                            labels: e.labels,
                            value: e.value,
                            ts: e.ts_ms.unwrap_or(t),
                        },
                    ));
                }
            }
            self.batch
                .push((series.clone(), Sample { t, v: raw.value }));
        }
        if lines.next().is_some() {
            return Ok(None);
        }
        if cfg.sample_limit > 0 && n.post_relabel as u64 > cfg.sample_limit {
            return Err(format!(
                "sample limit exceeded: {} samples, limit {}",
                n.post_relabel, cfg.sample_limit
            ));
        }
        self.scanned_meta = scanner.meta_hash();
        Ok(Some(n))
    }

    /// Metadata lines are checked and published by the full parser when they changed since the
    /// last publication (`scanned_meta` is the hash of this body's metadata lines).
    fn publish_metadata(
        &mut self,
        body: &str,
        format: Format,
        metadata: &Mutex<BTreeMap<String, MetadataEntry>>,
    ) -> Result<(), String> {
        if self.meta_hash != Some(self.scanned_meta) {
            let full =
                crate::exposition::parse(body, format).map_err(|e| format!("parse error: {e}"))?;
            self.meta_hash = Some(self.scanned_meta);
            let mut md = metadata.lock();
            for m in full.metadata {
                md.insert(m.metric.clone(), m);
            }
        }
        Ok(())
    }

    /// Takes a scrape parsed by the general path (protobuf, NHCB conversion): its samples,
    /// native histograms and exemplars, with the same staleness handling.
    pub fn process_parsed(&mut self, cfg: &ScrapeConfig, processed: Processed, ts: i64) -> Counts {
        self.meta_hash = None;
        self.same_order = false;
        let mut n = Counts {
            scraped: processed.scraped,
            post_relabel: processed.samples.len() + processed.histograms.len(),
            added: 0,
        };
        for (labels, h, explicit) in processed.histograms {
            if !explicit || cfg.track_timestamps_staleness {
                let hash = labels.hash64();
                if self.cur.insert(hash, SeriesRef::new(&labels)).is_none()
                    && !self.prev.contains_key(&hash)
                {
                    n.added += 1;
                }
            }
            self.hbatch.push((labels, h));
        }
        for (labels, s, explicit) in processed.samples {
            let series = SeriesRef::new(&labels);
            if !explicit || cfg.track_timestamps_staleness {
                let hash = labels.hash64();
                if self.cur.insert(hash, series.clone()).is_none() && !self.prev.contains_key(&hash)
                {
                    n.added += 1;
                }
            }
            self.batch.push((series, s));
        }
        self.exemplars = processed.exemplars;
        self.end_success(ts);
        n
    }

    /// Staleness markers for the series of the previous scrape that this one did not have.
    fn end_success(&mut self, ts: i64) {
        for (hash, old) in &self.prev {
            if !self.cur.contains_key(hash) {
                self.batch.push((
                    old.clone(),
                    Sample {
                        t: ts,
                        v: model::stale_nan(),
                    },
                ));
            }
        }
        std::mem::swap(&mut self.prev, &mut self.cur);
        self.cur.clear();
    }

    /// A failed scrape (or a removed target): everything the previous scrape wrote goes stale.
    pub fn fail(&mut self, ts: i64) {
        self.same_order = false;
        self.batch.clear();
        self.hbatch.clear();
        self.exemplars.clear();
        self.cur.clear();
        for old in self.prev.values() {
            self.batch.push((
                old.clone(),
                Sample {
                    t: ts,
                    v: model::stale_nan(),
                },
            ));
        }
        self.prev.clear();
    }
}

/// The series text of line `i` of a sequence (`lines` ending in `texts`).
fn line_text<'a>(lines: &[Line], texts: &'a str, i: usize) -> &'a str {
    let start = match i.checked_sub(1) {
        Some(p) => lines.get(p).map_or(0, |l| l.end as usize),
        None => 0,
    };
    let end = lines.get(i).map_or(start, |l| l.end as usize);
    texts.get(start..end).unwrap_or("")
}

/// Position in `lines` of the line whose series text is `text` (`hash` = `text_hash(text)`).
fn find(
    positions: &hashbrown::HashTable<u32>,
    lines: &[Line],
    texts: &str,
    hash: u64,
    text: &str,
) -> Option<usize> {
    positions
        .find(hash, |&i| line_text(lines, texts, i as usize) == text)
        .map(|&i| i as usize)
}

/// `up`, `scrape_duration_seconds`, ... of a target: its labels with the name.
fn report_labels(target: &Labels, name: &str) -> Labels {
    let mut b = target.builder();
    b.set(model::METRIC_NAME, name);
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (TargetSpec, ScrapeConfig, ScrapeCache) {
        let labels = Labels::from_pairs([("job", "j"), ("instance", "i:1")]);
        let spec = TargetSpec {
            discovered: labels.clone(),
            labels: labels.clone(),
            url: "http://i:1/metrics".into(),
            interval_ms: 1000,
            timeout_ms: 1000,
        };
        let cfg: ScrapeConfig = serde_yaml_ng::from_str("job_name: j").unwrap();
        (spec, cfg, ScrapeCache::new(&labels))
    }

    /// (series name label `a`, value) of the batch, stale markers as "stale".
    fn batch(c: &mut ScrapeCache) -> Vec<(String, String)> {
        let out = c
            .batch
            .iter()
            .map(|(r, s)| {
                let a = r.get("a").unwrap_or("").to_string();
                let v = if model::is_stale_nan(s.v) {
                    "stale".to_string()
                } else {
                    s.v.to_string()
                };
                (a, v)
            })
            .collect();
        c.batch.clear();
        out
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn same_order_fast_path_and_changes() {
        let (spec, cfg, mut c) = setup();
        let md = Mutex::new(BTreeMap::new());
        let run = |c: &mut ScrapeCache, body: &str, ts: i64| {
            c.process_text(&spec, &cfg, body, Format::PrometheusText, ts, &md)
                .unwrap()
        };
        let n = run(&mut c, "# TYPE m gauge\nm{a=\"x\"} 1\nm{a=\"y\"} 2\n", 1000);
        assert_eq!((n.scraped, n.post_relabel, n.added), (2, 2, 2));
        assert_eq!(batch(&mut c), pairs(&[("x", "1"), ("y", "2")]));
        // Same texts, new values: the positional path, nothing added, no stale markers.
        let n = run(&mut c, "# TYPE m gauge\nm{a=\"x\"} 3\nm{a=\"y\"} 4\n", 2000);
        assert_eq!((n.scraped, n.post_relabel, n.added), (2, 2, 0));
        assert_eq!(batch(&mut c), pairs(&[("x", "3"), ("y", "4")]));
        assert_eq!(c.fast_scrapes, 1);
        // One series gone: a stale marker for it.
        let n = run(&mut c, "m{a=\"x\"} 5\n", 3000);
        assert_eq!((n.scraped, n.added), (1, 0));
        assert_eq!(batch(&mut c), pairs(&[("x", "5"), ("y", "stale")]));
        // A series back and another new, in another order; then the same order again.
        let n = run(&mut c, "m{a=\"z\"} 6\nm{a=\"x\"} 7\nm{a=\"y\"} 8\n", 4000);
        assert_eq!((n.scraped, n.added), (3, 2));
        assert_eq!(batch(&mut c), pairs(&[("z", "6"), ("x", "7"), ("y", "8")]));
        let n = run(&mut c, "m{a=\"z\"} 9\nm{a=\"x\"} 10\nm{a=\"y\"} 11\n", 5000);
        assert_eq!((n.scraped, n.added), (3, 0));
        assert_eq!(
            batch(&mut c),
            pairs(&[("z", "9"), ("x", "10"), ("y", "11")])
        );
        assert_eq!(c.fast_scrapes, 2);
        // A longer body with the same prefix: the new series is added.
        let n = run(
            &mut c,
            "m{a=\"z\"} 1\nm{a=\"x\"} 1\nm{a=\"y\"} 1\nm{a=\"w\"} 1\n",
            6000,
        );
        assert_eq!((n.scraped, n.added), (4, 1));
        assert_eq!(batch(&mut c).len(), 4);
        // A line that gains an explicit timestamp leaves the staleness set: it is marked stale
        // as Prometheus does (honor_timestamps without track_timestamps_staleness).
        let n = run(
            &mut c,
            "m{a=\"z\"} 1\nm{a=\"x\"} 1\nm{a=\"y\"} 1\nm{a=\"w\"} 2 5500\n",
            7000,
        );
        assert_eq!(n.scraped, 4);
        assert_eq!(
            batch(&mut c),
            pairs(&[
                ("z", "1"),
                ("x", "1"),
                ("y", "1"),
                ("w", "2"),
                ("w", "stale")
            ])
        );
        // A failed scrape forgets the sequence: everything goes stale, the next scrape re-adds.
        c.fail(8000);
        assert_eq!(batch(&mut c).len(), 3);
        let n = run(&mut c, "m{a=\"z\"} 1\nm{a=\"x\"} 1\nm{a=\"y\"} 1\n", 9000);
        assert_eq!(n.added, 3);
        assert_eq!(batch(&mut c).len(), 3);
    }

    #[test]
    fn fast_path_keeps_limits_and_exemplars() {
        let (spec, mut cfg, mut c) = setup();
        let md = Mutex::new(BTreeMap::new());
        let body =
            "# TYPE m counter\nm_total{a=\"x\"} 1 # {t=\"1\"} 0.5 1.0\nm_total{a=\"y\"} 2\n# EOF\n";
        c.process_text(&spec, &cfg, body, Format::OpenMetrics, 1000, &md)
            .unwrap();
        assert_eq!(c.exemplars.len(), 1);
        c.exemplars.clear();
        c.batch.clear();
        c.process_text(&spec, &cfg, body, Format::OpenMetrics, 2000, &md)
            .unwrap();
        assert_eq!(c.exemplars.len(), 1);
        assert_eq!(c.batch.len(), 2);
        assert_eq!(c.fast_scrapes, 1);
        c.batch.clear();
        cfg.sample_limit = 1;
        let e = c
            .process_text(&spec, &cfg, body, Format::OpenMetrics, 3000, &md)
            .unwrap_err();
        assert!(e.starts_with("sample limit exceeded"), "{e}");
    }

    /// Known texts keep their series handle (the store's resolved hint) through the general
    /// path, a reordered body, a repeated line and a failed scrape; texts missing from the last
    /// successful scrape are forgotten.
    #[test]
    fn handles_survive_reorders_and_failures_and_churn_is_forgotten() {
        let (spec, cfg, mut c) = setup();
        let md = Mutex::new(BTreeMap::new());
        let run = |c: &mut ScrapeCache, body: &str, ts: i64| {
            c.process_text(&spec, &cfg, body, Format::PrometheusText, ts, &md)
                .unwrap()
        };
        // (label a, hint) of the batch, report series left out.
        let hints = |c: &mut ScrapeCache| -> Vec<(String, u64)> {
            let out = c
                .batch
                .iter()
                .map(|(r, _)| (r.get("a").unwrap_or("").to_string(), r.hint()))
                .collect();
            c.batch.clear();
            out
        };
        run(&mut c, "m{a=\"x\"} 1\nm{a=\"y\"} 2\n", 1000);
        for (i, (r, _)) in c.batch.iter().enumerate() {
            r.set_hint(10 + i as u64);
        }
        c.batch.clear();
        assert_eq!(c.positions.len(), 2);
        // Reordered, with a repeated line: the general path finds both texts.
        let n = run(&mut c, "m{a=\"y\"} 3\nm{a=\"x\"} 4\nm{a=\"y\"} 5\n", 2000);
        assert_eq!((n.scraped, n.added), (3, 0));
        assert_eq!(
            hints(&mut c),
            vec![("y".into(), 11), ("x".into(), 10), ("y".into(), 11)]
        );
        assert_eq!(c.fast_scrapes, 0);
        // A failure, then the same body: the general path again, the same handles.
        c.fail(3000);
        assert_eq!(hints(&mut c).len(), 2);
        let n = run(&mut c, "m{a=\"y\"} 6\nm{a=\"x\"} 7\nm{a=\"y\"} 8\n", 4000);
        assert_eq!((n.added, c.fast_scrapes), (2, 0));
        assert_eq!(
            hints(&mut c),
            vec![("y".into(), 11), ("x".into(), 10), ("y".into(), 11)]
        );
        // Series x gone for one scrape: its text is forgotten and comes back as a new handle.
        run(&mut c, "m{a=\"y\"} 9\nm{a=\"z\"} 1\n", 5000);
        assert_eq!(
            hints(&mut c),
            vec![("y".into(), 11), ("z".into(), 0), ("x".into(), 10)]
        );
        assert_eq!((c.lines.len(), c.positions.len()), (2, 2));
        run(&mut c, "m{a=\"y\"} 1\nm{a=\"x\"} 1\n", 6000);
        assert_eq!(hints(&mut c)[..2], [("y".into(), 11), ("x".into(), 0)]);
        assert_eq!(line_text(&c.lines, &c.line_texts, 1), "m{a=\"x\"}");
    }
}
