//! Per-target scrape cache, as Prometheus' scrapeCache: the series text of each exposition line
//! maps to its stored series (a `model::SeriesRef` the store resolves once), so a known series
//! skips label parsing, relabeling and the store's label lookup; the label-set hashes of the
//! previous and current scrape find vanished series for staleness markers; one batch per scrape
//! is reused across scrapes. A scrape whose series texts come in the same order as the last
//! one's (the usual case) is matched line by line against that sequence instead: no hashing, no
//! map probes, and no staleness bookkeeping, since its set of series is the previous one.

use crate::discovery::TargetSpec;
use crate::exposition::Format;
use crate::scan::Scanner;
use crate::scrape_loop::{final_labels, Processed};
use crate::target::MetadataEntry;
use config::ScrapeConfig;
use model::{HistogramSample, Labels, Sample, SeriesRef};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

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

/// What one series text of the exposition became on this target.
struct CacheEntry {
    /// The series to store (labels after target labels and metric relabeling) and its label
    /// hash; `None` when relabeling dropped it.
    series: Option<(SeriesRef, u64)>,
    /// The scrape that last saw this text.
    last_iter: u64,
}

/// One sample line of the last successful text scrape, in body order.
struct Line {
    /// End of the line's series text in `ScrapeCache::line_texts` (it starts where the previous
    /// line's ends): the fast path compares the texts in one sequential pass over one buffer,
    /// not a pointer chase to a separate allocation per line.
    end: u32,
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
    entries: HashMap<Box<str>, CacheEntry, TextHasherBuilder>,
    /// The sample lines of the last successful text scrape (empty after a failure or a scrape
    /// through the general path): the fast path's expected sequence.
    lines: Vec<Line>,
    /// The series texts of `lines`, one after the other.
    line_texts: String,
    iter: u64,
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
            entries: HashMap::default(),
            lines: Vec::new(),
            line_texts: String::new(),
            iter: 0,
            prev: ByHash::default(),
            cur: ByHash::default(),
            report: REPORT_NAMES
                .iter()
                .map(|name| SeriesRef::new(report_labels(target, name)))
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
        if !self.lines.is_empty() {
            let (batch_len, exemplars_len) = (self.batch.len(), self.exemplars.len());
            if let Some(n) = self.process_same(cfg, body, format, ts)? {
                self.fast_scrapes += 1;
                self.publish_metadata(body, format, metadata)?;
                return Ok(n);
            }
            self.batch.truncate(batch_len);
            self.exemplars.truncate(exemplars_len);
        }
        self.iter += 1;
        let iter = self.iter;
        self.lines.clear();
        self.line_texts.clear();
        let mut scanner = Scanner::new(body, format);
        let mut n = Counts::default();
        let mut distinct = 0usize;
        while let Some(raw) = scanner
            .next_sample()
            .map_err(|e| format!("parse error: {e}"))?
        {
            n.scraped += 1;
            let mut new = false;
            let entry = match self.entries.get_mut(raw.series) {
                Some(e) => e,
                None => {
                    new = true;
                    let labels = raw.parse().map_err(|e| format!("parse error: {e}"))?.labels;
                    let series = final_labels(spec, cfg, &labels)?.map(|l| {
                        let hash = l.hash64();
                        (SeriesRef::new(l), hash)
                    });
                    let text: Box<str> = raw.series.into();
                    self.entries.entry(text).or_insert(CacheEntry {
                        series,
                        last_iter: iter,
                    })
                }
            };
            if entry.last_iter != iter || new {
                entry.last_iter = iter;
                distinct += 1;
            }
            let explicit = raw.timestamp_ms.is_some() && cfg.honor_timestamps;
            let tracked = !explicit || cfg.track_timestamps_staleness;
            self.line_texts.push_str(raw.series);
            self.lines.push(Line {
                end: self.line_texts.len() as u32,
                series: entry.series.clone(),
                tracked,
            });
            let Some((series, hash)) = &entry.series else {
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
                        series.labels().clone(),
                        model::exemplars::Exemplar {
                            labels: e.labels,
                            value: e.value,
                            ts: e.ts_ms.unwrap_or(t),
                        },
                    ));
                }
            }
            if tracked
                && self.cur.insert(*hash, series.clone()).is_none()
                && !self.prev.contains_key(hash)
            {
                n.added += 1;
            }
            self.batch
                .push((series.clone(), Sample { t, v: raw.value }));
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
        // Forget series texts this scrape did not have (churn, other spellings of a series).
        if self.entries.len() > distinct {
            self.entries.retain(|_, e| e.last_iter == iter);
        }
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
                        series.labels().clone(),
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
        self.lines.clear();
        let mut n = Counts {
            scraped: processed.scraped,
            post_relabel: processed.samples.len() + processed.histograms.len(),
            added: 0,
        };
        for (labels, h, explicit) in processed.histograms {
            if !explicit || cfg.track_timestamps_staleness {
                let hash = labels.hash64();
                if self
                    .cur
                    .insert(hash, SeriesRef::new(labels.clone()))
                    .is_none()
                    && !self.prev.contains_key(&hash)
                {
                    n.added += 1;
                }
            }
            self.hbatch.push((labels, h));
        }
        for (labels, s, explicit) in processed.samples {
            let series = SeriesRef::new(labels);
            if !explicit || cfg.track_timestamps_staleness {
                let hash = series.labels().hash64();
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
        self.lines.clear();
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
                let a = r.labels().get("a").unwrap_or("").to_string();
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
}
