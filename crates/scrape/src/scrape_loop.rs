//! The loop that scrapes one target: timing (a per-target offset spreads targets over the
//! interval), the HTTP request, parsing, label handling (honor_labels, metric relabeling,
//! limits), report series, and staleness markers for series that disappear.

use crate::discovery::TargetSpec;
use crate::exposition::{self, Format};
use crate::manager::ScrapeStats;
use crate::target::MetadataEntry;
use config::ScrapeConfig;
use model::{Labels, LabelsBuilder, MetricSink, Sample, METRIC_NAME};
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

/// Series written by the previous scrape, to mark the vanished ones stale.
#[derive(Default)]
struct SeriesCache {
    previous: HashMap<Labels, ()>,
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
    let mut cache = SeriesCache::default();
    let report_names = [
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ];
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
        let mut batch: Vec<(Labels, Sample)> = Vec::new();
        let mut scraped_exemplars = Vec::new();
        let (up, scraped, post, added, error) = match result.and_then(|body| {
            process(&spec, &cfg, &body, ts, &metadata).inspect_err(|e| {
                if e.starts_with("sample limit exceeded") {
                    stats.exceeded_sample_limit.fetch_add(1, Ordering::Relaxed);
                }
            })
        }) {
            Ok(processed) => {
                let post_relabel = processed.samples.len();
                scraped_exemplars = processed.exemplars;
                let mut current = HashMap::with_capacity(processed.samples.len());
                let mut added = 0usize;
                for (labels, s, explicit_ts) in processed.samples {
                    if !explicit_ts || cfg.track_timestamps_staleness {
                        if !cache.previous.contains_key(&labels) {
                            added += 1;
                        }
                        current.insert(labels.clone(), ());
                    }
                    batch.push((labels, s));
                }
                for old in cache.previous.keys() {
                    if !current.contains_key(old) {
                        batch.push((
                            old.clone(),
                            Sample {
                                t: ts,
                                v: model::stale_nan(),
                            },
                        ));
                    }
                }
                cache.previous = current;
                (1.0, processed.scraped, post_relabel, added, String::new())
            }
            Err(e) => {
                stats.scrape_failures.fetch_add(1, Ordering::Relaxed);
                for old in cache.previous.keys() {
                    batch.push((
                        old.clone(),
                        Sample {
                            t: ts,
                            v: model::stale_nan(),
                        },
                    ));
                }
                cache.previous.clear();
                (0.0, 0, 0, 0, e)
            }
        };
        let values = [up, duration, scraped as f64, post as f64, added as f64];
        for (name, v) in report_names.iter().zip(values) {
            batch.push((report_labels(&spec.labels, name), Sample { t: ts, v }));
        }
        if let Err(e) = sink.append(&batch) {
            tracing::warn!(target = %spec.url, "storing scraped samples failed: {e}");
        }
        for (series, e) in scraped_exemplars {
            // Duplicates (the same exemplar on every scrape) are expected and skipped quietly.
            let _ = exemplars.add(&series, e);
        }
        let mut st = state.lock();
        st.last_scrape_ms = Some(ts);
        st.last_duration_s = duration;
        st.last_error = error;
        st.up = Some(up == 1.0);
    }
    // Target removed: its series and report series end here.
    let ts = model::time::now_ms();
    let mut batch: Vec<(Labels, Sample)> = cache
        .previous
        .keys()
        .map(|l| {
            (
                l.clone(),
                Sample {
                    t: ts,
                    v: model::stale_nan(),
                },
            )
        })
        .collect();
    if state.lock().last_scrape_ms.is_some() {
        for name in report_names {
            batch.push((
                report_labels(&spec.labels, name),
                Sample {
                    t: ts,
                    v: model::stale_nan(),
                },
            ));
        }
    }
    if !batch.is_empty() {
        let _ = sink.append(&batch);
    }
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn report_labels(target: &Labels, name: &str) -> Labels {
    let mut b = target.builder();
    b.set(METRIC_NAME, name);
    b.build()
}

/// A fetched body with its content type.
pub struct Body {
    pub text: String,
    pub content_type: String,
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
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(describe_reqwest)? {
        buf.extend_from_slice(&chunk);
        if buf.len() as u64 > limit {
            return Err(format!("body size limit exceeded ({limit} bytes)"));
        }
    }
    let text =
        String::from_utf8(buf).map_err(|_| "response body is not valid UTF-8".to_string())?;
    Ok(Body { text, content_type })
}

/// The Accept header for `protocols`, built as Prometheus does: q weights count down from 0.6
/// (one more than the number of protocols Prometheus knows), 1.0.0 formats announce UTF-8 names,
/// and `*/*` comes last. The protobuf format is not parsed by pharos and is left out.
fn accept_for<S: AsRef<str>>(protocols: &[S]) -> String {
    let mut parts = Vec::new();
    let mut weight = 6u32;
    for p in protocols {
        let media = match p.as_ref() {
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
    /// OpenMetrics exemplars with their series' final labels.
    pub exemplars: Vec<(Labels, model::exemplars::Exemplar)>,
}

/// Parses a body and applies target labels, honor_* settings, metric relabeling and limits.
pub fn process(
    spec: &TargetSpec,
    cfg: &ScrapeConfig,
    body: &Body,
    ts: i64,
    metadata: &Mutex<BTreeMap<String, MetadataEntry>>,
) -> Result<Processed, String> {
    let mut format = Format::from_content_type(&body.content_type);
    if body.content_type.is_empty() {
        if let Some(fallback) = &cfg.fallback_scrape_protocol {
            if fallback.starts_with("OpenMetrics") {
                format = Format::OpenMetrics;
            }
        }
    }
    let parsed = exposition::parse(&body.text, format).map_err(|e| format!("parse error: {e}"))?;
    {
        let mut md = metadata.lock();
        for m in parsed.metadata {
            md.insert(m.metric.clone(), m);
        }
    }
    let scraped = parsed.samples.len();
    let mut out = Vec::with_capacity(scraped);
    let mut exemplars = Vec::new();
    for s in parsed.samples {
        let labels = merge_target_labels(&s.labels, &spec.labels, cfg.honor_labels);
        let labels = match config::relabel::process(&labels, &cfg.metric_relabel_configs) {
            Some(l) => l,
            None => continue,
        };
        if labels.metric_name().is_none_or(str::is_empty) {
            continue;
        }
        if cfg.label_limit > 0 && labels.len() as u64 > cfg.label_limit {
            return Err(format!(
                "label_limit exceeded (metric: {labels}, number of labels: {}, limit: {})",
                labels.len(),
                cfg.label_limit
            ));
        }
        for l in labels.iter() {
            if cfg.label_name_length_limit > 0 && l.name.len() as u64 > cfg.label_name_length_limit
            {
                return Err(format!(
                    "label_name_length_limit exceeded (metric: {labels}, label name: {})",
                    l.name
                ));
            }
            if cfg.label_value_length_limit > 0
                && l.value.len() as u64 > cfg.label_value_length_limit
            {
                return Err(format!(
                    "label_value_length_limit exceeded (metric: {labels}, label: {})",
                    l.name
                ));
            }
        }
        let explicit = s.timestamp_ms.is_some() && cfg.honor_timestamps;
        let t = if explicit {
            s.timestamp_ms.unwrap_or(ts)
        } else {
            ts
        };
        if let Some(e) = s.exemplar {
            exemplars.push((
                labels.clone(),
                model::exemplars::Exemplar {
                    labels: e.labels,
                    value: e.value,
                    ts: e.ts_ms.unwrap_or(t),
                },
            ));
        }
        out.push((labels, Sample { t, v: s.value }, explicit));
    }
    if cfg.sample_limit > 0 && out.len() as u64 > cfg.sample_limit {
        return Err(format!(
            "sample limit exceeded: {} samples, limit {}",
            out.len(),
            cfg.sample_limit
        ));
    }
    Ok(Processed {
        samples: out,
        scraped,
        exemplars,
    })
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
    }
}
