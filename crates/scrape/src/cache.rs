//! Per-target scrape cache, as Prometheus' scrapeCache: the series text of each exposition line
//! maps to its stored series (a `model::SeriesRef` the store resolves once), so a known series
//! skips label parsing, relabeling and the store's label lookup; the label-set hashes of the
//! previous and current scrape find vanished series for staleness markers; one batch per scrape
//! is reused across scrapes.

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

/// Per-target scrape state, as Prometheus' scrapeCache: the series text of each exposition line
/// maps to its stored series, so a known series skips label parsing, relabeling and the store's
/// label lookup; the label sets of the previous and current scrape find vanished series for
/// staleness markers. Texts not seen in the last successful scrape are dropped.
pub struct ScrapeCache {
    entries: HashMap<Box<str>, CacheEntry, TextHasherBuilder>,
    iter: u64,
    prev: ByHash,
    cur: ByHash,
    /// `up`, `scrape_duration_seconds`, ... of this target.
    pub report: Vec<SeriesRef>,
    /// Hash of the metadata lines last published, to skip rebuilding unchanged metadata.
    meta_hash: Option<u64>,
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
#[derive(Default)]
pub struct Counts {
    pub scraped: usize,
    pub post_relabel: usize,
    pub added: usize,
}

impl ScrapeCache {
    pub fn new(target: &Labels) -> ScrapeCache {
        ScrapeCache {
            entries: HashMap::default(),
            iter: 0,
            prev: ByHash::default(),
            cur: ByHash::default(),
            report: REPORT_NAMES
                .iter()
                .map(|name| SeriesRef::new(report_labels(target, name)))
                .collect(),
            meta_hash: None,
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
        self.iter += 1;
        let iter = self.iter;
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
                    self.entries.entry(raw.series.into()).or_insert(CacheEntry {
                        series,
                        last_iter: iter,
                    })
                }
            };
            if entry.last_iter != iter || new {
                entry.last_iter = iter;
                distinct += 1;
            }
            let Some((series, hash)) = &entry.series else {
                continue;
            };
            n.post_relabel += 1;
            let explicit = raw.timestamp_ms.is_some() && cfg.honor_timestamps;
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
            if (!explicit || cfg.track_timestamps_staleness)
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
        // Metadata lines are checked and published by the full parser when they changed.
        if self.meta_hash != Some(scanner.meta_hash()) {
            let full =
                crate::exposition::parse(body, format).map_err(|e| format!("parse error: {e}"))?;
            self.meta_hash = Some(scanner.meta_hash());
            let mut md = metadata.lock();
            for m in full.metadata {
                md.insert(m.metric.clone(), m);
            }
        }
        self.end_success(ts);
        // Forget series texts this scrape did not have (churn, other spellings of a series).
        if self.entries.len() > distinct {
            self.entries.retain(|_, e| e.last_iter == iter);
        }
        Ok(n)
    }

    /// Takes a scrape parsed by the general path (protobuf, NHCB conversion): its samples,
    /// native histograms and exemplars, with the same staleness handling.
    pub fn process_parsed(&mut self, cfg: &ScrapeConfig, processed: Processed, ts: i64) -> Counts {
        self.meta_hash = None;
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
