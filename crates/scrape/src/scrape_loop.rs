//! The loop that scrapes one target: timing (a per-target offset spreads targets over the
//! interval), the HTTP request (its Accept header negotiated from `scrape_protocols` as
//! Prometheus 3 does: protobuf first when `scrape_native_histograms` is on), parsing (text,
//! OpenMetrics or delimited protobuf with native histograms, classic histograms optionally
//! converted to NHCB), label handling (honor_labels, metric relabeling, limits, native-histogram
//! bucket limit and schema cap), report series, and staleness markers for series that disappear.

use crate::cache::{Counts, ScrapeCache};
use crate::discovery::TargetSpec;
use crate::exposition::{self, Format};
use crate::manager::ScrapeStats;
use crate::target::MetadataEntry;
use config::ScrapeConfig;
use model::{HistogramSample, Labels, LabelsBuilder, MetricSink, Sample, METRIC_NAME};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Prometheus 3's default `scrape_protocols`, in preference order.
const DEFAULT_PROTOCOLS: [&str; 4] = [
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
];

/// `DefaultProtoFirstScrapeProtocols`: the default when native histograms are scraped.
const PROTO_FIRST_PROTOCOLS: [&str; 5] = [
    "PrometheusProto",
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
];

/// Status of one target, shared with the API.
#[derive(Clone, Debug, Default)]
pub struct TargetState {
    pub last_scrape_ms: Option<i64>,
    pub last_duration_s: f64,
    pub last_error: String,
    pub up: Option<bool>,
    /// When set (e.g. the pool exceeds target_limit), scrapes fail with this error unattempted.
    pub forced_error: Option<String>,
}

impl TargetState {
    pub fn health(&self) -> &'static str {
        match self.up {
            None => "unknown",
            Some(true) => "up",
            Some(false) => "down",
        }
    }
}

/// `created-timestamp-zero-ingestion` (Prometheus' feature flag): created timestamps of
/// counters, histograms and summaries become zero samples; set once at start.
static CREATED_TIMESTAMP_ZERO_INGESTION: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Turns `created-timestamp-zero-ingestion` on or off for every scrape.
pub fn set_created_timestamp_zero_ingestion(on: bool) {
    CREATED_TIMESTAMP_ZERO_INGESTION.store(on, Ordering::Relaxed);
}

pub(crate) fn created_timestamp_zero_ingestion() -> bool {
    CREATED_TIMESTAMP_ZERO_INGESTION.load(Ordering::Relaxed)
}

/// Runs until `stop` flips, then writes staleness markers for everything it last wrote.
#[allow(clippy::too_many_arguments)]
pub async fn run_target(
    spec: TargetSpec,
    cfg: Arc<ScrapeConfig>,
    client: reqwest::Client,
    sink: Arc<dyn MetricSink>,
    state: Arc<Mutex<TargetState>>,
    metadata: Arc<Mutex<BTreeMap<String, MetadataEntry>>>,
    stats: Arc<ScrapeStats>,
    exemplars: Arc<model::exemplars::ExemplarStore>,
    mut stop: watch::Receiver<bool>,
) {
    let interval = Duration::from_millis(spec.interval_ms.max(1) as u64);
    // Spread targets over the interval by a stable per-target offset.
    let offset_ms = (spec.labels.hash64() ^ fnv(&spec.url)) % (spec.interval_ms.max(1) as u64);
    let now = model::time::now_ms();
    let base = now - now.rem_euclid(spec.interval_ms.max(1)) + offset_ms as i64;
    let first = if base < now {
        base + spec.interval_ms
    } else {
        base
    };
    let start = tokio::time::Instant::now() + Duration::from_millis((first - now).max(0) as u64);
    let mut ticker = tokio::time::interval_at(start, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut cache = ScrapeCache::new(&spec.labels);
    let mut zeros = model::created::ZeroSamples::default();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
        let ts = model::time::now_ms();
        let started = Instant::now();
        let forced_error = state.lock().forced_error.clone();
        let result = match forced_error {
            Some(e) => Err(e),
            None => scrape_once(&spec, &cfg, &client).await,
        };
        let duration = started.elapsed().as_secs_f64();
        stats.scrapes_total.fetch_add(1, Ordering::Relaxed);
        let processed = result.and_then(|body| {
            process_body(&spec, &cfg, &body, ts, &metadata, &mut cache, &mut zeros).inspect_err(
                |e| {
                    if e.starts_with("sample limit exceeded") {
                        stats.exceeded_sample_limit.fetch_add(1, Ordering::Relaxed);
                    }
                },
            )
        });
        let (up, counts, error) = match processed {
            Ok(c) => (1.0, c, None),
            Err(e) => {
                stats.scrape_failures.fetch_add(1, Ordering::Relaxed);
                cache.fail(ts);
                (0.0, Counts::default(), Some(e))
            }
        };
        let values = [
            up,
            duration,
            counts.scraped as f64,
            counts.post_relabel as f64,
            counts.added as f64,
        ];
        for (series, v) in cache.report.iter().zip(values) {
            cache.batch.push((series.clone(), Sample { t: ts, v }));
        }
        // Created timestamps' zero samples before the samples (refusals are no scrape error).
        if !zeros.is_empty() {
            if let Err(e) = zeros.append(sink.as_ref()) {
                tracing::debug!(target = %spec.url, "storing created timestamps failed: {e}");
            }
            zeros = model::created::ZeroSamples::default();
        }
        // Scraped samples go to the WAL without waiting for an fsync (the store syncs within
        // seconds, as Prometheus does): the append is CPU work of a few microseconds per series,
        // done right here rather than handed to a blocking thread and back.
        if let Err(e) = sink.append_scraped(&cache.batch) {
            tracing::warn!(target = %spec.url, "storing scraped samples failed: {e}");
        }
        cache.batch.clear();
        if !cache.hbatch.is_empty() {
            if let Err(e) = sink.append_histograms(&cache.hbatch) {
                tracing::warn!(target = %spec.url, "storing scraped native histograms failed: {e}");
            }
            cache.hbatch.clear();
        }
        for (series, e) in cache.exemplars.drain(..) {
            // Duplicates (the same exemplar on every scrape) are expected and skipped quietly.
            let _ = exemplars.add(&series, e);
        }
        let mut st = state.lock();
        st.last_scrape_ms = Some(ts);
        st.last_duration_s = duration;
        match error {
            Some(e) => st.last_error = e,
            None => st.last_error.clear(),
        }
        st.up = Some(up == 1.0);
    }
    // Target removed: its series and report series end here.
    let ts = model::time::now_ms();
    cache.fail(ts);
    if state.lock().last_scrape_ms.is_some() {
        for series in &cache.report {
            cache.batch.push((
                series.clone(),
                Sample {
                    t: ts,
                    v: model::stale_nan(),
                },
            ));
        }
    }
    if !cache.batch.is_empty() {
        let _ = sink.append_refs(&cache.batch);
    }
}

/// Text bodies go through the scrape cache; protobuf bodies, NHCB conversion and created
/// timestamps through [`process`], whose result the cache takes for staleness.
fn process_body(
    spec: &TargetSpec,
    cfg: &ScrapeConfig,
    body: &Body,
    ts: i64,
    metadata: &Mutex<BTreeMap<String, MetadataEntry>>,
    cache: &mut ScrapeCache,
    zeros: &mut model::created::ZeroSamples,
) -> Result<Counts, String> {
    if crate::protobuf::is_protobuf(&body.content_type)
        || cfg.convert_classic_histograms_to_nhcb.unwrap_or(false)
        || created_timestamp_zero_ingestion()
    {
        let mut processed = process(spec, cfg, body, ts, metadata)?;
        *zeros = std::mem::take(&mut processed.created);
        return Ok(cache.process_parsed(cfg, processed, ts));
    }
    let text = std::str::from_utf8(&body.bytes)
        .map_err(|_| "response body is not valid UTF-8".to_string())?;
    let format = text_format(cfg, &body.content_type);
    cache.process_text(spec, cfg, text, format, ts, metadata)
}

/// The text format of a body: from its content type, else `fallback_scrape_protocol`.
fn text_format(cfg: &ScrapeConfig, content_type: &str) -> Format {
    let mut format = Format::from_content_type(content_type);
    if content_type.is_empty() {
        if let Some(fallback) = &cfg.fallback_scrape_protocol {
            if fallback.starts_with("OpenMetrics") {
                format = Format::OpenMetrics;
            }
        }
    }
    format
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A fetched body with its content type.
pub struct Body {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

/// Whether the job scrapes native histograms (`scrape_native_histograms`, off by default).
fn native_enabled(cfg: &ScrapeConfig) -> bool {
    cfg.scrape_native_histograms.unwrap_or(false)
}

/// Fetches the target's exposition.
pub async fn scrape_once(
    spec: &TargetSpec,
    cfg: &ScrapeConfig,
    client: &reqwest::Client,
) -> Result<Body, String> {
    let timeout = Duration::from_millis(spec.timeout_ms.max(1) as u64);
    let accept = match &cfg.scrape_protocols {
        Some(protocols) if !protocols.is_empty() => accept_for(protocols),
        _ if native_enabled(cfg) => accept_for(&PROTO_FIRST_PROTOCOLS),
        _ => accept_for(&DEFAULT_PROTOCOLS),
    };
    let mut req = client
        .get(&spec.url)
        .timeout(timeout)
        .header("Accept", accept)
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{}", spec.timeout_ms as f64 / 1000.0),
        );
    if let Some(ba) = &cfg.basic_auth {
        let password = match (&ba.password, &ba.password_file) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(f)) => Some(
                std::fs::read_to_string(f)
                    .map_err(|e| format!("reading password_file {}: {e}", f.display()))?
                    .trim()
                    .to_string(),
            ),
            _ => None,
        };
        req = req.basic_auth(&ba.username, password);
    }
    let bearer = match (
        &cfg.bearer_token,
        &cfg.bearer_token_file,
        &cfg.authorization,
    ) {
        (Some(t), _, _) => Some(("Bearer".to_string(), t.clone())),
        (None, Some(f), _) => Some((
            "Bearer".to_string(),
            std::fs::read_to_string(f)
                .map_err(|e| format!("reading bearer_token_file {}: {e}", f.display()))?
                .trim()
                .to_string(),
        )),
        (None, None, Some(a)) => {
            let kind = a.auth_type.clone().unwrap_or_else(|| "Bearer".into());
            let cred = match (&a.credentials, &a.credentials_file) {
                (Some(c), _) => c.clone(),
                (None, Some(f)) => std::fs::read_to_string(f)
                    .map_err(|e| format!("reading credentials_file {}: {e}", f.display()))?
                    .trim()
                    .to_string(),
                _ => String::new(),
            };
            Some((kind, cred))
        }
        _ => None,
    };
    if let Some((kind, token)) = bearer {
        req = req.header("Authorization", format!("{kind} {token}"));
    }
    let mut resp = req.send().await.map_err(describe_reqwest)?;
    if !resp.status().is_success() {
        // The first line of the body says why (e.g. pharos' own database collectors).
        let status = resp.status();
        let first = resp.chunk().await.ok().flatten().unwrap_or_default();
        let why: String = String::from_utf8_lossy(&first)
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        return Err(match why.trim() {
            "" => format!("server returned HTTP status {status}"),
            w => format!("server returned HTTP status {status}: {w}"),
        });
    }
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let limit = cfg
        .body_size_limit
        .as_deref()
        .and_then(|s| config::pharos::parse_bytes(s).ok())
        .filter(|l| *l > 0)
        .unwrap_or(u64::MAX);
    // One allocation for the whole body when the target says its length.
    let mut buf: Vec<u8> =
        Vec::with_capacity(resp.content_length().unwrap_or(0).min(limit).min(64 << 20) as usize);
    while let Some(chunk) = resp.chunk().await.map_err(describe_reqwest)? {
        buf.extend_from_slice(&chunk);
        if buf.len() as u64 > limit {
            return Err(format!("body size limit exceeded ({limit} bytes)"));
        }
    }
    Ok(Body {
        bytes: buf,
        content_type,
    })
}

/// The Accept header for `protocols`, built as Prometheus does: q weights count down from 0.6
/// (one more than the number of protocols Prometheus knows), 1.0.0 formats announce UTF-8 names,
/// and `*/*` comes last.
fn accept_for<S: AsRef<str>>(protocols: &[S]) -> String {
    let mut parts = Vec::new();
    let mut weight = 6u32;
    for p in protocols {
        let media = match p.as_ref() {
            "PrometheusProto" => crate::protobuf::MEDIA_TYPE,
            "OpenMetricsText1.0.0" => {
                "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8"
            }
            "OpenMetricsText0.0.1" => "application/openmetrics-text;version=0.0.1",
            "PrometheusText1.0.0" => "text/plain;version=1.0.0;escaping=allow-utf-8",
            "PrometheusText0.0.4" => "text/plain;version=0.0.4",
            _ => continue,
        };
        parts.push(format!("{media};q=0.{weight}"));
        weight = weight.saturating_sub(1).max(1);
    }
    parts.push(format!("*/*;q=0.{weight}"));
    parts.join(",")
}

fn describe_reqwest(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "context deadline exceeded (scrape timeout)".to_string()
    } else {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        msg
    }
}

/// Samples ready to store: (labels, sample, had an explicit timestamp).
pub struct Processed {
    pub samples: Vec<(Labels, Sample, bool)>,
    pub scraped: usize,
    /// Native histograms: (labels, sample, had an explicit timestamp).
    pub histograms: Vec<(Labels, HistogramSample, bool)>,
    /// OpenMetrics exemplars with their series' final labels.
    pub exemplars: Vec<(Labels, model::exemplars::Exemplar)>,
    /// Zero samples at created timestamps (with `created-timestamp-zero-ingestion`), appended
    /// before the samples.
    pub created: model::created::ZeroSamples,
}

/// A scraped label set after target labels, honor_labels and metric relabeling, checked against
/// the label limits; `None` when relabeling drops it.
pub(crate) fn final_labels(
    spec: &TargetSpec,
    cfg: &ScrapeConfig,
    scraped: &Labels,
) -> Result<Option<Labels>, String> {
    let labels = merge_target_labels(scraped, &spec.labels, cfg.honor_labels);
    let labels = match config::relabel::process(&labels, &cfg.metric_relabel_configs) {
        Some(l) => l,
        None => return Ok(None),
    };
    if labels.metric_name().is_none_or(str::is_empty) {
        return Ok(None);
    }
    if cfg.label_limit > 0 && labels.len() as u64 > cfg.label_limit {
        return Err(format!(
            "label_limit exceeded (metric: {labels}, number of labels: {}, limit: {})",
            labels.len(),
            cfg.label_limit
        ));
    }
    for l in labels.iter() {
        if cfg.label_name_length_limit > 0 && l.name.len() as u64 > cfg.label_name_length_limit {
            return Err(format!(
                "label_name_length_limit exceeded (metric: {labels}, label name: {})",
                l.name
            ));
        }
        if cfg.label_value_length_limit > 0 && l.value.len() as u64 > cfg.label_value_length_limit {
            return Err(format!(
                "label_value_length_limit exceeded (metric: {labels}, label: {})",
                l.name
            ));
        }
    }
    Ok(Some(labels))
}

/// Prometheus' `pickSchema`: the coarsest schema whose bucket growth factor is at most
/// `native_histogram_min_bucket_factor` (unset or ≤ 1: schema 8).
pub fn pick_schema(bucket_factor: f64) -> i32 {
    let factor = if bucket_factor <= 1.0 {
        1.00271
    } else {
        bucket_factor
    };
    let floor = (-factor.log2().log2()).floor();
    if floor >= 8.0 {
        8
    } else if floor <= -4.0 {
        -4
    } else {
        floor as i32
    }
}

/// Prometheus' `maxSchemaAppender` then `bucketLimitAppender`: caps the schema at the one
/// `native_histogram_min_bucket_factor` allows, then halves the resolution until the histogram
/// has at most `native_histogram_bucket_limit` buckets (an error when it cannot).
pub fn limit_buckets(
    h: &mut model::histogram::FloatHistogram,
    max_schema: i32,
    limit: u64,
) -> Result<(), String> {
    let exponential = (-4..=8).contains(&h.schema);
    if exponential && h.schema > max_schema {
        h.reduce_resolution(max_schema);
    }
    if limit == 0 {
        return Ok(());
    }
    let buckets = |h: &model::histogram::FloatHistogram| {
        (h.positive_buckets.len() + h.negative_buckets.len()) as u64
    };
    while buckets(h) > limit {
        if !exponential || h.schema <= -4 {
            return Err("histogram bucket limit exceeded".into());
        }
        h.reduce_resolution(h.schema - 1);
    }
    Ok(())
}

/// Parses a body and applies target labels, honor_* settings, metric relabeling and limits.
pub fn process(
    spec: &TargetSpec,
    cfg: &ScrapeConfig,
    body: &Body,
    ts: i64,
    metadata: &Mutex<BTreeMap<String, MetadataEntry>>,
) -> Result<Processed, String> {
    let keep_classic = cfg.always_scrape_classic_histograms.unwrap_or(false);
    let mut parsed = if crate::protobuf::is_protobuf(&body.content_type) {
        let opts = crate::protobuf::Options {
            native: native_enabled(cfg),
            keep_classic,
        };
        crate::protobuf::parse(&body.bytes, opts).map_err(|e| format!("parse error: {e}"))?
    } else {
        let format = text_format(cfg, &body.content_type);
        let text = std::str::from_utf8(&body.bytes)
            .map_err(|_| "response body is not valid UTF-8".to_string())?;
        exposition::parse(text, format).map_err(|e| format!("parse error: {e}"))?
    };
    if cfg.convert_classic_histograms_to_nhcb.unwrap_or(false) {
        crate::nhcb::convert_classic(&mut parsed, keep_classic);
    }
    let created = created_lookup(&parsed);
    {
        let mut md = metadata.lock();
        for m in std::mem::take(&mut parsed.metadata) {
            md.insert(m.metric.clone(), m);
        }
    }
    let scraped = parsed.samples.len() + parsed.histograms.len();
    let mut out = Vec::with_capacity(parsed.samples.len());
    let mut exemplars = Vec::new();
    let time_of = |given: Option<i64>| -> (i64, bool) {
        match given {
            Some(t) if cfg.honor_timestamps => (t, true),
            _ => (ts, false),
        }
    };
    let mut zeros = model::created::ZeroSamples::default();
    for s in parsed.samples {
        let Some(labels) = final_labels(spec, cfg, &s.labels)? else {
            continue;
        };
        let (t, explicit) = time_of(s.timestamp_ms);
        if let Some(ct) = created.as_ref().and_then(|c| c.of(&s.labels)) {
            zeros.float(&spec.url, &labels, ct, t);
        }
        if let Some(e) = s.exemplar {
            exemplars.push((labels.clone(), e.stored(t)));
        }
        out.push((labels, Sample { t, v: s.value }, explicit));
    }
    let max_schema = pick_schema(cfg.native_histogram_min_bucket_factor.unwrap_or(0.0));
    let bucket_limit = cfg.native_histogram_bucket_limit.unwrap_or(0);
    let mut histograms = Vec::with_capacity(parsed.histograms.len());
    for mut ph in parsed.histograms {
        let Some(labels) = final_labels(spec, cfg, &ph.labels)? else {
            continue;
        };
        limit_buckets(&mut ph.h, max_schema, bucket_limit)?;
        let (t, explicit) = time_of(ph.timestamp_ms);
        if let Some(ct) = created.as_ref().and_then(|c| c.of(&ph.labels)) {
            let like = HistogramSample {
                t,
                h: ph.h.clone(),
                integer: ph.integer,
            };
            zeros.histogram(&spec.url, &labels, ct, &like);
        }
        for e in ph.exemplars {
            exemplars.push((labels.clone(), e.stored(t)));
        }
        histograms.push((
            labels,
            HistogramSample {
                t,
                h: ph.h,
                integer: ph.integer,
            },
            explicit,
        ));
    }
    let stored = out.len() + histograms.len();
    if cfg.sample_limit > 0 && stored as u64 > cfg.sample_limit {
        return Err(format!(
            "sample limit exceeded: {stored} samples, limit {}",
            cfg.sample_limit
        ));
    }
    Ok(Processed {
        samples: out,
        scraped,
        histograms,
        exemplars,
        created: zeros,
    })
}

/// The created timestamps of an exposition by family and series, when
/// `created-timestamp-zero-ingestion` is on and there are any.
struct CreatedLookup {
    /// Family name -> its type.
    types: HashMap<String, String>,
    by_series: HashMap<(String, Labels), i64>,
}

fn created_lookup(parsed: &crate::exposition::Exposition) -> Option<CreatedLookup> {
    if !created_timestamp_zero_ingestion() || parsed.created.is_empty() {
        return None;
    }
    Some(CreatedLookup {
        types: parsed
            .metadata
            .iter()
            .map(|m| (m.metric.clone(), m.metric_type.clone()))
            .collect(),
        by_series: parsed
            .created
            .iter()
            .map(|c| ((c.family.clone(), c.labels.clone()), c.ct_ms))
            .collect(),
    })
}

impl CreatedLookup {
    /// The created timestamp of a scraped sample (labels as scraped): its family is a
    /// counter (`_total`), histogram (`_bucket`/`_count`/`_sum`, the native one) or summary
    /// (quantiles, `_count`/`_sum`) with a created timestamp for the same labels.
    fn of(&self, labels: &Labels) -> Option<i64> {
        let name = labels.metric_name()?;
        for suffix in ["", "_total", "_bucket", "_count", "_sum"] {
            let Some(family) = name.strip_suffix(suffix) else {
                continue;
            };
            let drop: &[&str] = match self.types.get(family).map(String::as_str) {
                Some("counter") if suffix == "_total" || suffix.is_empty() => &[METRIC_NAME],
                Some("histogram") if suffix != "_total" => &[METRIC_NAME, "le"],
                Some("summary") if suffix != "_total" && suffix != "_bucket" => {
                    &[METRIC_NAME, "quantile"]
                }
                _ => continue,
            };
            let key = (family.to_string(), labels.without(drop));
            if let Some(ct) = self.by_series.get(&key) {
                return Some(*ct);
            }
        }
        None
    }
}

/// Attaches target labels to a scraped label set as Prometheus does: with honor_labels the
/// scraped value wins; otherwise the target wins and the scraped one moves to `exported_<name>`.
pub fn merge_target_labels(scraped: &Labels, target: &Labels, honor_labels: bool) -> Labels {
    let mut b: LabelsBuilder = scraped.builder();
    for l in target.iter() {
        match scraped.get(&l.name) {
            None => {
                b.set(l.name.clone(), l.value.clone());
            }
            Some(existing) if !honor_labels => {
                // Find a free exported_ name (exported_exported_... on repeated conflicts).
                let mut name = format!("exported_{}", l.name);
                while scraped.get(&name).is_some() {
                    name = format!("exported_{name}");
                }
                b.set(name, existing.to_string());
                b.set(l.name.clone(), l.value.clone());
            }
            Some(_) => {}
        }
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honor_labels_conflicts() {
        let scraped = Labels::from_pairs([("__name__", "x"), ("job", "inner")]);
        let target = Labels::from_pairs([("job", "outer"), ("instance", "a:1")]);
        let l = merge_target_labels(&scraped, &target, false);
        assert_eq!(l.get("job"), Some("outer"));
        assert_eq!(l.get("exported_job"), Some("inner"));
        let h = merge_target_labels(&scraped, &target, true);
        assert_eq!(h.get("job"), Some("inner"));
        assert_eq!(h.get("instance"), Some("a:1"));
    }

    #[test]
    fn schema_from_min_bucket_factor_and_bucket_limit() {
        // Prometheus' documented examples: 1.1 → schema 2 (factor 1.09), 2 → 0, 1.00271 → 8.
        assert_eq!(pick_schema(0.0), 8);
        assert_eq!(pick_schema(1.1), 2);
        assert_eq!(pick_schema(2.0), 0);
        assert_eq!(pick_schema(4.0), -1);
        assert_eq!(pick_schema(1e300), -4);
        let mut h = model::histogram::FloatHistogram {
            schema: 3,
            count: 4.0,
            positive_spans: vec![model::histogram::Span {
                offset: 0,
                length: 4,
            }],
            positive_buckets: vec![1.0; 4],
            ..Default::default()
        };
        limit_buckets(&mut h, 8, 2).unwrap();
        assert_eq!(h.schema, 1);
        assert_eq!(h.positive(), vec![(0, 1.0), (1, 3.0)]);
        let mut cap = h.clone();
        limit_buckets(&mut cap, 0, 0).unwrap();
        assert_eq!(cap.schema, 0);
        let mut nhcb = model::histogram::FloatHistogram {
            schema: model::histogram::CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![1.0, 2.0],
            ..h.clone()
        };
        nhcb.positive_buckets = vec![1.0, 1.0, 1.0];
        nhcb.positive_spans[0].length = 3;
        assert!(limit_buckets(&mut nhcb, 8, 2).is_err());
    }

    #[test]
    fn accept_header_from_protocols() {
        let a = accept_for(&["PrometheusText0.0.4".to_string()]);
        assert_eq!(a, "text/plain;version=0.0.4;q=0.6,*/*;q=0.5");
        assert_eq!(
            accept_for(&DEFAULT_PROTOCOLS),
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
             application/openmetrics-text;version=0.0.1;q=0.5,\
             text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
             text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        );
        assert!(accept_for(&PROTO_FIRST_PROTOCOLS).starts_with(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,\
             application/openmetrics-text;version=1.0.0"
        ));
    }

    /// With `created-timestamp-zero-ingestion` (each test runs in its own process), the
    /// OpenMetrics `_created` of a counter, histogram and summary gives every series of the
    /// family a zero sample at the created time; a gauge family's `_created` does not.
    #[test]
    fn openmetrics_created_timestamps_become_zero_samples() {
        set_created_timestamp_zero_ingestion(true);
        let labels = Labels::from_pairs([("job", "j"), ("instance", "i:1")]);
        let spec = TargetSpec {
            discovered: labels.clone(),
            labels,
            url: "http://ct-test/metrics".into(),
            interval_ms: 1000,
            timeout_ms: 1000,
        };
        let cfg: ScrapeConfig = serde_yaml_ng::from_str("job_name: j").unwrap();
        let body = Body {
            bytes: b"# TYPE c counter\nc_total{a=\"x\"} 5\nc_created{a=\"x\"} 100.5\n\
# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3\nh_created 200\n\
# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_count 4\ns_sum 9\ns_created 300\n\
# TYPE late counter\nlate_total 1\nlate_created 5000\n# EOF\n"
                .to_vec(),
            content_type: "application/openmetrics-text; version=1.0.0".into(),
        };
        let md = Mutex::new(BTreeMap::new());
        let p = process(&spec, &cfg, &body, 1_000_000, &md).unwrap();
        let mut zeros: Vec<(String, i64)> = p
            .created
            .floats
            .iter()
            .map(|(l, s)| {
                assert_eq!(s.v, 0.0);
                (l.to_string(), s.t)
            })
            .collect();
        zeros.sort();
        let want = [
            ("c_total{a=\"x\", instance=\"i:1\", job=\"j\"}", 100_500),
            (
                "h_bucket{instance=\"i:1\", job=\"j\", le=\"+Inf\"}",
                200_000,
            ),
            ("h_bucket{instance=\"i:1\", job=\"j\", le=\"1\"}", 200_000),
            ("h_count{instance=\"i:1\", job=\"j\"}", 200_000),
            ("h_sum{instance=\"i:1\", job=\"j\"}", 200_000),
            ("s_count{instance=\"i:1\", job=\"j\"}", 300_000),
            ("s_sum{instance=\"i:1\", job=\"j\"}", 300_000),
            ("s{instance=\"i:1\", job=\"j\", quantile=\"0.5\"}", 300_000),
        ];
        let want: Vec<(String, i64)> = want.iter().map(|(l, t)| (l.to_string(), *t)).collect();
        assert_eq!(zeros, want);
        // `_created` is no series; `late_created` (after the sample) is ignored.
        assert!(p
            .samples
            .iter()
            .all(|(l, _, _)| !l.metric_name().unwrap_or("").ends_with("_created")));
        // The next scrape with the same created timestamps appends nothing again.
        let p = process(&spec, &cfg, &body, 2_000_000, &md).unwrap();
        assert!(p.created.is_empty());
    }

    #[test]
    fn protobuf_created_timestamps() {
        use crate::protobuf::dto;
        set_created_timestamp_zero_ingestion(true);
        let ts = |s| dto::Timestamp {
            seconds: s,
            nanos: 250_000_000,
        };
        let fam = |name: &str, t, m: dto::Metric| dto::MetricFamily {
            name: name.into(),
            r#type: t,
            metric: vec![m],
            ..Default::default()
        };
        let mut body = Vec::new();
        for mf in [
            fam(
                "reqs_total",
                dto::COUNTER,
                dto::Metric {
                    counter: Some(dto::Counter {
                        value: 3.0,
                        created_timestamp: Some(ts(10)),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ),
            fam(
                "lat",
                dto::SUMMARY,
                dto::Metric {
                    summary: Some(dto::Summary {
                        sample_count: 1,
                        sample_sum: 2.0,
                        created_timestamp: Some(ts(20)),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ),
        ] {
            prost::Message::encode_length_delimited(&mf, &mut body).unwrap();
        }
        let labels = Labels::from_pairs([("job", "j")]);
        let spec = TargetSpec {
            discovered: labels.clone(),
            labels,
            url: "http://ct-proto/metrics".into(),
            interval_ms: 1000,
            timeout_ms: 1000,
        };
        let cfg: ScrapeConfig = serde_yaml_ng::from_str("job_name: j").unwrap();
        let body = Body {
            bytes: body,
            content_type: crate::protobuf::MEDIA_TYPE.into(),
        };
        let p = process(&spec, &cfg, &body, 100_000, &Mutex::new(BTreeMap::new())).unwrap();
        let mut got: Vec<(String, i64)> = p
            .created
            .floats
            .iter()
            .map(|(l, s)| (l.metric_name().unwrap_or("").to_string(), s.t))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("lat_count".to_string(), 20_250),
                ("lat_sum".to_string(), 20_250),
                ("reqs_total".to_string(), 10_250)
            ]
        );
    }
}
