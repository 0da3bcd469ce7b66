//! OTLP metrics → Prometheus series, as Prometheus 3's OTLP receiver translates them
//! (storage/remote/otlptranslator/prometheusremotewrite): gauges and sums as samples, explicit
//! histograms as classic `_bucket{le}`/`_sum`/`_count`, summaries as `{quantile}`/`_sum`/`_count`,
//! `job`/`instance` from `service.namespace`/`service.name`/`service.instance.id`, promoted
//! resource attributes, `target_info`, exemplars (trace/span ids) and metric metadata.
//! Exponential histograms become native histograms (`exponentialToNativeHistogram`: scales
//! above 8 merged down to schema 8, below -4 refused, zero threshold 1e-128), explicit
//! histograms become custom-bucket native histograms with `convert_histograms_to_nhcb`; delta
//! temporality is rejected or accumulated into running totals per config, histograms included.

use super::prom_names::{self, LabelNamer, MetricType};
use config::otlp::{DeltaTemporality, OtlpConfig};
use model::exemplars::Exemplar;
use model::histogram::{compress, CounterResetHint, FloatHistogram, CUSTOM_BUCKETS_SCHEMA};
use model::{HistogramSample, Labels, LabelsBuilder, Sample, Series, METRIC_NAME};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1 as pm;
use parking_lot::Mutex;
use scrape::target::MetadataEntry;
use std::collections::{BTreeMap, HashMap};

/// OTLP's `AGGREGATION_TEMPORALITY_DELTA`.
const DELTA: i32 = 1;
/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`.
const NO_RECORDED_VALUE: u32 = 1;
/// Prometheus' default lookback delta; `target_info` is repeated every half of it.
const LOOKBACK_MS: i64 = 5 * 60 * 1000;
const MAX_EXEMPLAR_RUNES: usize = 128;

/// What one request becomes.
#[derive(Debug, Default)]
pub struct Converted {
    pub series: Vec<Series>,
    pub exemplars: Vec<(Labels, Exemplar)>,
    pub metadata: Vec<MetadataEntry>,
    /// Per-metric problems; when any, Prometheus stores nothing of the request.
    pub errors: Vec<String>,
    /// Indexes into `series` of series from delta-temporality metrics.
    pub delta_series: Vec<usize>,
    /// Native-histogram samples (exponential histograms, and explicit ones as NHCB).
    pub histograms: Vec<(Labels, HistogramSample)>,
    /// Indexes into `histograms` of samples from delta-temporality metrics.
    pub delta_histograms: Vec<usize>,
    /// Indexes into `series` with the start time (ms) of their cumulative data point
    /// (counters, classic histograms, summaries), for `created-timestamp-zero-ingestion`.
    pub start_series: Vec<(usize, i64)>,
    /// The same for `histograms` (native histograms).
    pub start_histograms: Vec<(usize, i64)>,
}

/// Running totals of delta series converted to cumulative (`delta_temporality: convert`).
#[derive(Default)]
pub struct DeltaTotals {
    floats: Mutex<HashMap<Labels, f64>>,
    histograms: Mutex<HashMap<Labels, FloatHistogram>>,
}

/// Prometheus' schema bounds for exponential native histograms.
const SCHEMA_MIN: i32 = -4;
const SCHEMA_MAX: i32 = 8;
/// Zero threshold Prometheus gives every converted exponential histogram (it ignores OTLP's
/// `zero_threshold`).
const OTLP_ZERO_THRESHOLD: f64 = 1e-128;

/// OTLP bucket counts from `offset` as native-histogram `(index, count)` pairs: OTLP bucket
/// `i` is `(base^i, base^(i+1)]`, Prometheus' index `i+1`; with `scale_down` > 0, each
/// 2^scale_down neighbours merge into one bucket (`(i >> scale_down) + 1`).
fn exponential_pairs(offset: i32, counts: &[u64], scale_down: i32) -> Vec<(i32, f64)> {
    let mut out: Vec<(i32, f64)> = Vec::new();
    for (k, c) in counts.iter().enumerate() {
        let otlp_idx = offset.saturating_add(k as i32);
        // A shift by 31 already gives Go's answer for any wider one (0, or -1 below zero).
        let idx = (otlp_idx >> scale_down.clamp(0, 31)).saturating_add(1);
        match out.last_mut() {
            Some((last, n)) if *last == idx => *n += *c as f64,
            _ => out.push((idx, *c as f64)),
        }
    }
    out
}

/// Prometheus' `exponentialToNativeHistogram`.
fn exponential_to_native(p: &pm::ExponentialHistogramDataPoint) -> Result<FloatHistogram, String> {
    if p.scale < SCHEMA_MIN {
        return Err(format!(
            "cannot convert exponential to native histogram. Scale must be >= {SCHEMA_MIN}, was {}",
            p.scale
        ));
    }
    let scale_down = (p.scale - SCHEMA_MAX).max(0);
    let side = |b: &Option<pm::exponential_histogram_data_point::Buckets>| {
        b.as_ref()
            .map(|b| compress(&exponential_pairs(b.offset, &b.bucket_counts, scale_down)))
            .unwrap_or_default()
    };
    let (positive_spans, positive_buckets) = side(&p.positive);
    let (negative_spans, negative_buckets) = side(&p.negative);
    Ok(FloatHistogram {
        // Unknown, as Prometheus (deltas are summed into running totals before storing).
        counter_reset_hint: CounterResetHint::Unknown,
        schema: p.scale.min(SCHEMA_MAX),
        zero_threshold: OTLP_ZERO_THRESHOLD,
        zero_count: p.zero_count as f64,
        count: p.count as f64,
        sum: p.sum.unwrap_or(0.0),
        positive_spans,
        positive_buckets,
        negative_spans,
        negative_buckets,
        custom_values: Vec::new(),
    })
}

/// Prometheus' `explicitHistogramToCustomBucketsHistogram`: the explicit bounds are the custom
/// bounds, bucket `i` (the last one is `+Inf`) is custom bucket `i`.
fn explicit_to_nhcb(p: &pm::HistogramDataPoint) -> Result<FloatHistogram, String> {
    if !p.bucket_counts.is_empty() && p.bucket_counts.len() != p.explicit_bounds.len() + 1 {
        return Err(format!(
            "histogram data point has {} bucket counts for {} explicit bounds (want bounds + 1)",
            p.bucket_counts.len(),
            p.explicit_bounds.len()
        ));
    }
    if let Some(w) = p
        .explicit_bounds
        .windows(2)
        .find(|w| w[0].is_nan() || w[0] >= w[1])
    {
        return Err(format!(
            "histogram explicit bounds must be strictly increasing, got {} before {}",
            w[0], w[1]
        ));
    }
    let pairs: Vec<(i32, f64)> = p
        .bucket_counts
        .iter()
        .enumerate()
        .map(|(i, c)| (i as i32, *c as f64))
        .collect();
    let (positive_spans, positive_buckets) = compress(&pairs);
    Ok(FloatHistogram {
        // Unknown, as Prometheus (deltas are summed into running totals before storing).
        counter_reset_hint: CounterResetHint::Unknown,
        schema: CUSTOM_BUCKETS_SCHEMA,
        zero_threshold: 0.0,
        zero_count: 0.0,
        count: p.count as f64,
        sum: p.sum.unwrap_or(0.0),
        positive_spans,
        positive_buckets,
        negative_spans: Vec::new(),
        negative_buckets: Vec::new(),
        custom_values: p.explicit_bounds.clone(),
    })
}

/// OTLP's `AnyValue.AsString` (pdata): strings as is, numbers in Go's shortest form, bools,
/// bytes base64-free as hex-less debug, lists and maps as JSON.
fn any_string(v: &Option<AnyValue>) -> String {
    fn json(v: &Option<AnyValue>) -> serde_json::Value {
        use serde_json::Value as J;
        match v.as_ref().and_then(|a| a.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => J::String(s.clone()),
            Some(any_value::Value::BoolValue(b)) => J::Bool(*b),
            Some(any_value::Value::IntValue(i)) => J::from(*i),
            Some(any_value::Value::DoubleValue(d)) => J::from(*d),
            Some(any_value::Value::ArrayValue(a)) => {
                J::Array(a.values.iter().map(|x| json(&Some(x.clone()))).collect())
            }
            Some(any_value::Value::KvlistValue(kv)) => J::Object(
                kv.values
                    .iter()
                    .map(|k| (k.key.clone(), json(&k.value)))
                    .collect(),
            ),
            Some(any_value::Value::BytesValue(b)) => {
                J::String(b.iter().map(|x| format!("{x:02x}")).collect())
            }
            // String-table indexes exist only in the profiles signal.
            Some(any_value::Value::StringValueStrindex(_)) | None => J::Null,
        }
    }
    match v.as_ref().and_then(|a| a.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => crate::prometheus::json::format_value(*d),
        None => String::new(),
        _ => json(v).to_string(),
    }
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a KeyValue> {
    attrs.iter().find(|kv| kv.key == key)
}

const IDENTIFYING: [&str; 3] = ["service.namespace", "service.name", "service.instance.id"];

struct ResourceCtx {
    job: Option<String>,
    instance: Option<String>,
    promoted: Vec<(String, String)>,
    scope: Vec<(String, String)>,
}

struct Converter<'a> {
    cfg: &'a OtlpConfig,
    namer: LabelNamer,
    now_ms: i64,
    out: Converted,
    /// Start time (ms) of the cumulative data point being translated; 0 for none.
    start_ms: i64,
}

/// A data point's start time in ms when its metric is cumulative and counter-like (0 = none).
fn start_ms(start_time_unix_nano: u64, counter_like: bool) -> i64 {
    if counter_like {
        i64::try_from(start_time_unix_nano / 1_000_000).unwrap_or(0)
    } else {
        0
    }
}

fn ns_to_ms(ns: u64, now_ms: i64) -> i64 {
    if ns == 0 {
        now_ms
    } else {
        (ns / 1_000_000) as i64
    }
}

fn value_or_stale(v: f64, flags: u32) -> f64 {
    if flags & NO_RECORDED_VALUE != 0 {
        model::stale_nan()
    } else {
        v
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)` for `le`/`quantile` values.
fn float_label(v: f64) -> String {
    crate::prometheus::json::format_value(v)
}

impl Converter<'_> {
    /// Prometheus' `createAttributes`: data-point attributes (sanitized; colliding names joined
    /// with ';'), promoted resource attributes, job/instance, scope labels.
    fn base_labels(
        &mut self,
        attrs: &[KeyValue],
        res: &ResourceCtx,
    ) -> Result<LabelsBuilder, String> {
        let mut sorted: Vec<(&str, String)> = attrs
            .iter()
            .filter(|kv| kv.key != METRIC_NAME)
            .map(|kv| (kv.key.as_str(), any_string(&kv.value)))
            .collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let mut b = LabelsBuilder::default();
        for (k, v) in sorted {
            let name = self.namer.build(k)?;
            match b.get(&name).map(str::to_string) {
                Some(existing) if !existing.is_empty() => {
                    b.set(name, format!("{existing};{v}"));
                }
                _ => {
                    b.set(name, v);
                }
            }
        }
        for (k, v) in &res.promoted {
            if b.get(k).is_none_or(str::is_empty) {
                b.set(k.clone(), v.clone());
            }
        }
        if let Some(j) = &res.job {
            b.set("job", j.clone());
        }
        if let Some(i) = &res.instance {
            b.set("instance", i.clone());
        }
        for (k, v) in &res.scope {
            b.set(k.clone(), v.clone());
        }
        Ok(b)
    }

    fn push(
        &mut self,
        base: &LabelsBuilder,
        name: &str,
        extra: Option<(&str, String)>,
        t: i64,
        v: f64,
    ) -> Labels {
        let mut b = base.clone();
        if let Some((k, val)) = extra {
            b.set(k, val);
        }
        b.set(METRIC_NAME, name);
        let labels = b.build();
        if self.start_ms != 0 {
            self.out
                .start_series
                .push((self.out.series.len(), self.start_ms));
        }
        self.out.series.push(Series {
            labels: labels.clone(),
            samples: vec![Sample { t, v }],
        });
        labels
    }

    fn exemplars(&self, list: &[pm::Exemplar], default_ts: i64) -> Vec<Exemplar> {
        let mut out: Vec<Exemplar> = list
            .iter()
            .map(|e| {
                let mut b = LabelsBuilder::default();
                let mut runes = 0;
                let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
                if !e.trace_id.is_empty() {
                    let v = hex(&e.trace_id);
                    runes += "trace_id".len() + v.len();
                    b.set("trace_id", v);
                }
                if !e.span_id.is_empty() {
                    let v = hex(&e.span_id);
                    runes += "span_id".len() + v.len();
                    b.set("span_id", v);
                }
                let attrs: Vec<(String, String)> = e
                    .filtered_attributes
                    .iter()
                    .map(|kv| (kv.key.clone(), any_string(&kv.value)))
                    .collect();
                runes += attrs
                    .iter()
                    .map(|(k, v)| k.chars().count() + v.chars().count())
                    .sum::<usize>();
                if runes <= MAX_EXEMPLAR_RUNES {
                    for (k, v) in attrs {
                        b.set(k, v);
                    }
                }
                let value = match e.value {
                    Some(pm::exemplar::Value::AsDouble(d)) => d,
                    Some(pm::exemplar::Value::AsInt(i)) => i as f64,
                    None => 0.0,
                };
                Exemplar {
                    labels: b.build(),
                    value,
                    ts: if e.time_unix_nano == 0 {
                        default_ts
                    } else {
                        (e.time_unix_nano / 1_000_000) as i64
                    },
                }
            })
            .collect();
        out.sort_by(|a, b| a.value.total_cmp(&b.value));
        out
    }

    fn number_points(
        &mut self,
        name: &str,
        pts: &[pm::NumberDataPoint],
        res: &ResourceCtx,
        with_exemplars: bool,
        counter_like: bool,
    ) -> Result<(), String> {
        for p in pts {
            self.start_ms = start_ms(p.start_time_unix_nano, counter_like);
            let base = self.base_labels(&p.attributes, res)?;
            let v = match p.value {
                Some(pm::number_data_point::Value::AsDouble(d)) => d,
                Some(pm::number_data_point::Value::AsInt(i)) => i as f64,
                None => 0.0,
            };
            let t = ns_to_ms(p.time_unix_nano, self.now_ms);
            let labels = self.push(&base, name, None, t, value_or_stale(v, p.flags));
            if with_exemplars {
                for e in self.exemplars(&p.exemplars, t) {
                    self.out.exemplars.push((labels.clone(), e));
                }
            }
        }
        Ok(())
    }

    /// `_sum`, `_count`, cumulative `_bucket{le}` ending with `+Inf`; exemplars go to the first
    /// bucket whose bound is at least their value.
    #[allow(clippy::too_many_arguments)]
    fn classic_histogram(
        &mut self,
        name: &str,
        base: &LabelsBuilder,
        t: i64,
        flags: u32,
        count: u64,
        sum: Option<f64>,
        bounds_counts: &[(f64, u64)],
        exemplars: Vec<Exemplar>,
    ) {
        if let Some(s) = sum {
            self.push(
                base,
                &format!("{name}_sum"),
                None,
                t,
                value_or_stale(s, flags),
            );
        }
        self.push(
            base,
            &format!("{name}_count"),
            None,
            t,
            value_or_stale(count as f64, flags),
        );
        let mut cumulative = 0u64;
        let mut next = 0;
        let bucket = format!("{name}_bucket");
        for (bound, c) in bounds_counts {
            cumulative += c;
            let labels = self.push(
                base,
                &bucket,
                Some(("le", float_label(*bound))),
                t,
                value_or_stale(cumulative as f64, flags),
            );
            while let Some(e) = exemplars.get(next).filter(|e| e.value <= *bound) {
                self.out.exemplars.push((labels.clone(), e.clone()));
                next += 1;
            }
        }
        let inf = self.push(
            base,
            &bucket,
            Some(("le", "+Inf".into())),
            t,
            value_or_stale(count as f64, flags),
        );
        for e in exemplars.into_iter().skip(next) {
            self.out.exemplars.push((inf.clone(), e));
        }
    }

    /// One native-histogram sample with its exemplars; a point without a recorded value becomes
    /// a staleness marker of the series.
    fn native_histogram(
        &mut self,
        base: &LabelsBuilder,
        name: &str,
        t: i64,
        flags: u32,
        h: FloatHistogram,
        exemplars: Vec<Exemplar>,
    ) {
        if flags & NO_RECORDED_VALUE != 0 {
            self.push(base, name, None, t, model::stale_nan());
            return;
        }
        let mut b = base.clone();
        b.set(METRIC_NAME, name);
        let labels = b.build();
        for e in exemplars {
            self.out.exemplars.push((labels.clone(), e));
        }
        if self.start_ms != 0 {
            self.out
                .start_histograms
                .push((self.out.histograms.len(), self.start_ms));
        }
        // Prometheus' OTLP translation makes integer histograms (counts are uint64).
        self.out
            .histograms
            .push((labels, HistogramSample::integer(t, h)));
    }

    fn metric(&mut self, m: &pm::Metric, res: &ResourceCtx) -> Result<(), String> {
        use pm::metric::Data;
        let (t, temporality) = match &m.data {
            Some(Data::Gauge(_)) => (MetricType::Gauge, None),
            Some(Data::Sum(s)) if s.is_monotonic => (
                MetricType::MonotonicCounter,
                Some(s.aggregation_temporality),
            ),
            Some(Data::Sum(s)) => (
                MetricType::NonMonotonicCounter,
                Some(s.aggregation_temporality),
            ),
            Some(Data::Histogram(h)) => (MetricType::Histogram, Some(h.aggregation_temporality)),
            Some(Data::ExponentialHistogram(h)) => (
                MetricType::ExponentialHistogram,
                Some(h.aggregation_temporality),
            ),
            Some(Data::Summary(_)) => (MetricType::Summary, None),
            None => return Err(format!("metric {:?}: unsupported metric type", m.name)),
        };
        let is_delta = temporality == Some(DELTA);
        if is_delta && self.cfg.delta_temporality == DeltaTemporality::Reject {
            return Err(format!(
                "invalid temporality and type combination for metric {:?}: delta temporality is rejected (set otlp.delta_temporality: convert, or export cumulative temporality)",
                m.name
            ));
        }
        if let Some(tp) = temporality {
            if tp != DELTA && tp != 2 {
                return Err(format!(
                    "invalid temporality and type combination for metric {:?}",
                    m.name
                ));
            }
        }
        let name = prom_names::metric_name(&m.name, &m.unit, t, self.cfg.translation_strategy)?;
        let prom_type = match (&m.data, t) {
            (_, MetricType::Gauge | MetricType::NonMonotonicCounter) => "gauge",
            (_, MetricType::MonotonicCounter) => "counter",
            (_, MetricType::Histogram | MetricType::ExponentialHistogram) => "histogram",
            (_, MetricType::Summary) => "summary",
        };
        self.out.metadata.push(MetadataEntry {
            metric: name.clone(),
            metric_type: prom_type.into(),
            help: m.description.clone(),
            unit: prom_names::unit_name(&m.unit),
        });
        let first_series = self.out.series.len();
        let first_histogram = self.out.histograms.len();
        // Created timestamps: cumulative counters, histograms and summaries.
        let counter_like = !is_delta
            && matches!(
                t,
                MetricType::MonotonicCounter
                    | MetricType::Histogram
                    | MetricType::ExponentialHistogram
                    | MetricType::Summary
            );
        self.start_ms = 0;
        match &m.data {
            Some(Data::Gauge(g)) => self.number_points(&name, &g.data_points, res, false, false)?,
            Some(Data::Sum(s)) => {
                self.number_points(&name, &s.data_points, res, true, counter_like)?
            }
            Some(Data::Histogram(h)) if self.cfg.convert_histograms_to_nhcb => {
                for p in &h.data_points {
                    self.start_ms = start_ms(p.start_time_unix_nano, counter_like);
                    let nh =
                        explicit_to_nhcb(p).map_err(|e| format!("metric {:?}: {e}", m.name))?;
                    let base = self.base_labels(&p.attributes, res)?;
                    let t = ns_to_ms(p.time_unix_nano, self.now_ms);
                    let ex = self.exemplars(&p.exemplars, t);
                    self.native_histogram(&base, &name, t, p.flags, nh, ex);
                }
            }
            Some(Data::Histogram(h)) => {
                for p in &h.data_points {
                    self.start_ms = start_ms(p.start_time_unix_nano, counter_like);
                    let base = self.base_labels(&p.attributes, res)?;
                    let t = ns_to_ms(p.time_unix_nano, self.now_ms);
                    let bc: Vec<(f64, u64)> = p
                        .explicit_bounds
                        .iter()
                        .zip(&p.bucket_counts)
                        .map(|(b, c)| (*b, *c))
                        .collect();
                    let ex = self.exemplars(&p.exemplars, t);
                    self.classic_histogram(&name, &base, t, p.flags, p.count, p.sum, &bc, ex);
                }
            }
            Some(Data::ExponentialHistogram(h)) => {
                for p in &h.data_points {
                    self.start_ms = start_ms(p.start_time_unix_nano, counter_like);
                    let base = self.base_labels(&p.attributes, res)?;
                    let t = ns_to_ms(p.time_unix_nano, self.now_ms);
                    let nh = exponential_to_native(p)?;
                    let ex = self.exemplars(&p.exemplars, t);
                    self.native_histogram(&base, &name, t, p.flags, nh, ex);
                }
            }
            Some(Data::Summary(s)) => {
                for p in &s.data_points {
                    self.start_ms = start_ms(p.start_time_unix_nano, counter_like);
                    let base = self.base_labels(&p.attributes, res)?;
                    let t = ns_to_ms(p.time_unix_nano, self.now_ms);
                    self.push(
                        &base,
                        &format!("{name}_sum"),
                        None,
                        t,
                        value_or_stale(p.sum, p.flags),
                    );
                    self.push(
                        &base,
                        &format!("{name}_count"),
                        None,
                        t,
                        value_or_stale(p.count as f64, p.flags),
                    );
                    for q in &p.quantile_values {
                        self.push(
                            &base,
                            &name,
                            Some(("quantile", float_label(q.quantile))),
                            t,
                            value_or_stale(q.value, p.flags),
                        );
                    }
                }
            }
            None => {}
        }
        self.start_ms = 0;
        if is_delta {
            self.out
                .delta_series
                .extend(first_series..self.out.series.len());
            self.out
                .delta_histograms
                .extend(first_histogram..self.out.histograms.len());
        }
        Ok(())
    }

    /// Prometheus' `setResourceContext`/`setScopeContext`.
    fn resource(
        &mut self,
        attrs: &[KeyValue],
        scope: Option<&pm::ScopeMetrics>,
    ) -> Result<ResourceCtx, String> {
        let job = attr(attrs, "service.name").map(|n| {
            let name = any_string(&n.value);
            match attr(attrs, "service.namespace") {
                Some(ns) => format!("{}/{name}", any_string(&ns.value)),
                None => name,
            }
        });
        let instance = attr(attrs, "service.instance.id").map(|i| any_string(&i.value));
        let mut promoted = Vec::new();
        for kv in attrs {
            let listed = if self.cfg.promote_all_resource_attributes {
                !self.cfg.ignore_resource_attributes.contains(&kv.key)
            } else {
                self.cfg.promote_resource_attributes.contains(&kv.key)
            };
            if listed {
                promoted.push((self.namer.build(&kv.key)?, any_string(&kv.value)));
            }
        }
        let mut scope_labels = Vec::new();
        if let Some(sc) = scope.and_then(|s| s.scope.as_ref().map(|sc| (s, sc))) {
            let (sm, sc) = sc;
            if self.cfg.promote_scope_metadata && !sc.name.is_empty() {
                for kv in &sc.attributes {
                    scope_labels.push((
                        self.namer.build(&format!("otel_scope_{}", kv.key))?,
                        any_string(&kv.value),
                    ));
                }
                scope_labels.push(("otel_scope_name".into(), sc.name.clone()));
                scope_labels.push(("otel_scope_version".into(), sc.version.clone()));
                scope_labels.push(("otel_scope_schema_url".into(), sm.schema_url.clone()));
            }
        }
        Ok(ResourceCtx {
            job,
            instance,
            promoted,
            scope: scope_labels,
        })
    }

    /// Prometheus' `addResourceTargetInfo`: `target_info` with the non-identifying resource
    /// attributes, from the earliest to the latest sample time every half lookback delta.
    fn target_info(
        &mut self,
        attrs: &[KeyValue],
        res: &ResourceCtx,
        earliest: i64,
        latest: i64,
    ) -> Result<(), String> {
        let non_identifying = attrs
            .iter()
            .filter(|kv| !IDENTIFYING.contains(&kv.key.as_str()))
            .count();
        if non_identifying == 0 || (res.job.is_none() && res.instance.is_none()) {
            return Ok(());
        }
        let kept: Vec<KeyValue> = attrs
            .iter()
            .filter(|kv| {
                self.cfg.keep_identifying_resource_attributes
                    || !IDENTIFYING.contains(&kv.key.as_str())
            })
            .cloned()
            .collect();
        let ctx = ResourceCtx {
            job: res.job.clone(),
            instance: res.instance.clone(),
            promoted: Vec::new(),
            scope: Vec::new(),
        };
        let base = self.base_labels(&kept, &ctx)?;
        // Points decades apart (a bad clock, or a hostile request) would otherwise make
        // millions of samples out of one small request: only the last TARGET_INFO_STEPS steps.
        let mut t = earliest.max(latest.saturating_sub(TARGET_INFO_STEPS * (LOOKBACK_MS / 2)));
        while t < latest {
            self.push(&base, "target_info", None, t, 1.0);
            t += LOOKBACK_MS / 2;
        }
        if t != latest || earliest == latest {
            self.push(&base, "target_info", None, latest, 1.0);
        }
        Ok(())
    }
}

/// At most this many `target_info` samples (one per half lookback, 2.5 min: 60 hours) per
/// resource and request.
pub const TARGET_INFO_STEPS: i64 = 1440;

fn point_times(m: &pm::Metric) -> Vec<u64> {
    use pm::metric::Data;
    match &m.data {
        Some(Data::Gauge(g)) => g.data_points.iter().map(|p| p.time_unix_nano).collect(),
        Some(Data::Sum(s)) => s.data_points.iter().map(|p| p.time_unix_nano).collect(),
        Some(Data::Histogram(h)) => h.data_points.iter().map(|p| p.time_unix_nano).collect(),
        Some(Data::ExponentialHistogram(h)) => {
            h.data_points.iter().map(|p| p.time_unix_nano).collect()
        }
        Some(Data::Summary(s)) => s.data_points.iter().map(|p| p.time_unix_nano).collect(),
        None => Vec::new(),
    }
}

/// Translates a whole request.
pub fn convert(req: &ExportMetricsServiceRequest, cfg: &OtlpConfig, now_ms: i64) -> Converted {
    let mut c = Converter {
        cfg,
        namer: LabelNamer {
            utf8: !cfg.translation_strategy.should_escape(),
            underscore_sanitization: cfg.label_name_underscore_sanitization,
            preserve_multiple_underscores: cfg.label_name_preserve_multiple_underscores,
        },
        now_ms,
        out: Converted::default(),
        start_ms: 0,
    };
    for rm in &req.resource_metrics {
        let attrs: &[KeyValue] = rm
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[]);
        let (mut earliest, mut latest) = (i64::MAX, i64::MIN);
        let mut res_for_info = None;
        for sm in &rm.scope_metrics {
            let res = match c.resource(attrs, Some(sm)) {
                Ok(r) => r,
                Err(e) => {
                    c.out.errors.push(e);
                    continue;
                }
            };
            for m in &sm.metrics {
                for t in point_times(m) {
                    let t = ns_to_ms(t, now_ms);
                    earliest = earliest.min(t);
                    latest = latest.max(t);
                }
                if let Err(e) = c.metric(m, &res) {
                    c.out.errors.push(e);
                }
            }
            res_for_info = Some(res);
        }
        if earliest <= latest {
            let res = match res_for_info {
                Some(r) => Ok(r),
                None => c.resource(attrs, None),
            };
            let r = res.and_then(|res| c.target_info(attrs, &res, earliest, latest));
            if let Err(e) = r {
                c.out.errors.push(e);
            }
        }
    }
    c.out
}

impl DeltaTotals {
    /// Turns the delta series of `conv` into running totals (cumulative series).
    pub fn accumulate(&self, conv: &mut Converted) {
        let mut totals = self.floats.lock();
        for &i in &conv.delta_series {
            let Some(s) = conv.series.get_mut(i) else {
                continue;
            };
            let total = totals.entry(s.labels.clone()).or_insert(0.0);
            for smp in &mut s.samples {
                if model::is_stale_nan(smp.v) {
                    continue;
                }
                *total += smp.v;
                smp.v = *total;
            }
        }
        drop(totals);
        let mut totals = self.histograms.lock();
        for &i in &conv.delta_histograms {
            let Some((labels, smp)) = conv.histograms.get_mut(i) else {
                continue;
            };
            let sum = match totals.get(labels) {
                // Bucket layouts that cannot be added (custom bounds changed, exponential vs
                // custom) start a new running total, which reads as a counter reset.
                Some(total) => total.add(&smp.h).unwrap_or_else(|_| smp.h.clone()),
                None => smp.h.clone(),
            };
            let mut sum = sum;
            sum.counter_reset_hint = CounterResetHint::Unknown;
            totals.insert(labels.clone(), sum.clone());
            smp.h = sum;
        }
    }
}

/// Zero samples at the start times of cumulative points (Prometheus' OTLP receiver with
/// `created-timestamp-zero-ingestion`): of each series' earliest point in the request, as the
/// zeros are appended before the request's samples.
pub fn created_zero_samples(conv: &Converted) -> model::created::ZeroSamples {
    const SCOPE: &str = "otlp";
    let mut first: HashMap<&Labels, (i64, i64)> = HashMap::new();
    for &(i, ct) in &conv.start_series {
        let Some(s) = conv.series.get(i) else {
            continue;
        };
        for smp in s.samples.iter().filter(|x| !model::is_stale_nan(x.v)) {
            let e = first.entry(&s.labels).or_insert((smp.t, ct));
            if smp.t < e.0 {
                *e = (smp.t, ct);
            }
        }
    }
    let mut zeros = model::created::ZeroSamples::default();
    let mut floats: Vec<_> = first.into_iter().collect();
    floats.sort_by(|a, b| a.0.cmp(b.0));
    for (labels, (t, ct)) in floats {
        zeros.float(SCOPE, labels, ct, t);
    }
    let mut firsth: HashMap<&Labels, (&HistogramSample, i64)> = HashMap::new();
    for &(i, ct) in &conv.start_histograms {
        let Some((labels, smp)) = conv.histograms.get(i) else {
            continue;
        };
        let e = firsth.entry(labels).or_insert((smp, ct));
        if smp.t < e.0.t {
            *e = (smp, ct);
        }
    }
    let mut hists: Vec<_> = firsth.into_iter().collect();
    hists.sort_by(|a, b| a.0.cmp(b.0));
    for (labels, (smp, ct)) in hists {
        zeros.histogram(SCOPE, labels, ct, smp);
    }
    zeros
}

/// Groups samples of the same series (several data points of one series in a request).
pub fn merge_series(series: Vec<Series>) -> Vec<Series> {
    let mut by: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    for s in series {
        by.entry(s.labels).or_default().extend(s.samples);
    }
    by.into_iter()
        .map(|(labels, mut samples)| {
            samples.sort_by_key(|s| s.t);
            Series { labels, samples }
        })
        .collect()
}

/// Delta running totals of this process (`delta_temporality: convert`).
static DELTA_TOTALS: std::sync::LazyLock<DeltaTotals> =
    std::sync::LazyLock::new(DeltaTotals::default);

fn decode(json: bool, raw: &[u8]) -> Result<ExportMetricsServiceRequest, String> {
    use prost::Message;
    if json {
        serde_json::from_slice(raw).map_err(|e| {
            format!(
                "invalid OTLP JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            )
        })
    } else {
        ExportMetricsServiceRequest::decode(raw).map_err(|e| format!("invalid OTLP protobuf: {e}"))
    }
}

/// `POST /v1/metrics` and `POST /api/v1/otlp/v1/metrics` (OTLP/HTTP, protobuf or JSON, gzip).
pub async fn export(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<crate::AppState>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use crate::trace_http::{content_type, read_body, Refusal};
    use axum::http::StatusCode;
    let ct = content_type(&headers);
    let json = ct == "application/json";
    if !json && ct != "application/x-protobuf" && ct != "application/protobuf" {
        return super::http::refuse(
            false,
            Refusal(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Type {ct:?}: use application/x-protobuf or application/json"),
            ),
        );
    }
    let bad = |msg: String| super::http::refuse(json, Refusal(StatusCode::BAD_REQUEST, msg));
    let raw = match read_body(&headers, &body, crate::MAX_BODY_BYTES) {
        Ok(b) => b,
        Err(r) => return super::http::refuse(json, r),
    };
    let req = match decode(json, &raw) {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    let otlp_value = state.config.read().prometheus.otlp.clone();
    let cfg = match OtlpConfig::from_value(otlp_value.as_ref()) {
        Ok(c) => c,
        Err(e) => return bad(format!("otlp configuration: {e}")),
    };
    let mut conv = convert(&req, &cfg, model::time::now_ms());
    if !conv.errors.is_empty() {
        // As Prometheus: a translation error rolls the whole request back.
        return bad(conv.errors.join("; "));
    }
    DELTA_TOTALS.accumulate(&mut conv);
    let zeros = if state
        .config
        .read()
        .features
        .created_timestamp_zero_ingestion()
    {
        created_zero_samples(&conv)
    } else {
        model::created::ZeroSamples::default()
    };
    let series = merge_series(std::mem::take(&mut conv.series));
    let mut histograms = std::mem::take(&mut conv.histograms);
    histograms.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.t.cmp(&b.1.t)));
    let sink = crate::prometheus::tenant::sink(&state, &headers);
    let append = move || -> Result<model::AppendStats, model::StorageError> {
        // Created timestamps first (their refusals are no error of the request).
        zeros.append(sink.as_ref())?;
        let mut stats = sink.append_series(&series)?;
        stats.merge(sink.append_histograms(&histograms)?);
        Ok(stats)
    };
    let stats = match tokio::task::spawn_blocking(append).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let status = match e {
                model::StorageError::BadInput(_) => StatusCode::BAD_REQUEST,
                model::StorageError::Limit(_) => StatusCode::TOO_MANY_REQUESTS,
                // A full disk: 503 with `Retry-After`, which OTLP exporters retry.
                model::StorageError::Io(_) if e.disk_full().is_some() => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                model::StorageError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let msg = e.disk_full().unwrap_or_else(|| e.to_string());
            return super::http::refuse(json, Refusal(status, msg));
        }
        Err(e) => {
            return super::http::refuse(
                json,
                Refusal(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("ingest task failed: {e}"),
                ),
            )
        }
    };
    let exemplars = state.scrape.exemplars();
    for (series, e) in conv.exemplars {
        let _ = exemplars.add(&series, e);
    }
    state.scrape.record_metadata(conv.metadata);
    if stats.rejected() > 0 {
        return bad(format!(
            "{} out of order, {} duplicate and {} out of bounds samples were not stored",
            stats.out_of_order, stats.duplicate, stats.out_of_bounds
        ));
    }
    super::http::accepted(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    const T: u64 = 1_700_000_000_000_000_000;

    fn request(metrics: Vec<pm::Metric>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![pm::ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", "checkout"),
                        kv("service.namespace", "shop"),
                        kv("service.instance.id", "i-1"),
                        kv("host.name", "box"),
                    ],
                    ..Default::default()
                }),
                scope_metrics: vec![pm::ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "app".into(),
                        ..Default::default()
                    }),
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn metric(name: &str, unit: &str, data: pm::metric::Data) -> pm::Metric {
        pm::Metric {
            name: name.into(),
            unit: unit.into(),
            description: "help text".into(),
            data: Some(data),
            ..Default::default()
        }
    }

    fn find<'a>(c: &'a Converted, name: &str, extra: Option<(&str, &str)>) -> &'a Series {
        c.series
            .iter()
            .find(|s| {
                s.labels.metric_name() == Some(name)
                    && extra.is_none_or(|(k, v)| s.labels.get(k) == Some(v))
            })
            .unwrap_or_else(|| panic!("no series {name} {extra:?} in {:?}", c.series))
    }

    fn sum(temporality: i32) -> pm::metric::Data {
        pm::metric::Data::Sum(pm::Sum {
            data_points: vec![pm::NumberDataPoint {
                attributes: vec![kv("http.method", "GET")],
                time_unix_nano: T,
                value: Some(pm::number_data_point::Value::AsInt(5)),
                exemplars: vec![pm::Exemplar {
                    trace_id: vec![0xab; 16],
                    span_id: vec![0xcd; 8],
                    value: Some(pm::exemplar::Value::AsInt(1)),
                    time_unix_nano: T,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            aggregation_temporality: temporality,
            is_monotonic: true,
        })
    }

    #[test]
    fn start_times_of_cumulative_points_become_zero_samples() {
        let with_start = |temporality: i32, gauge: bool| {
            let mut d = sum(temporality);
            if let pm::metric::Data::Sum(s) = &mut d {
                s.data_points[0].start_time_unix_nano = T - 30_000_000_000;
                if gauge {
                    return pm::metric::Data::Gauge(pm::Gauge {
                        data_points: s.data_points.clone(),
                    });
                }
            }
            d
        };
        let cfg = OtlpConfig::default();
        let t_ms = (T / 1_000_000) as i64;
        let c = convert(
            &request(vec![metric("ct.requests", "", with_start(2, false))]),
            &cfg,
            0,
        );
        let z = created_zero_samples(&c);
        let zeros: Vec<(Option<&str>, i64)> = z
            .floats
            .iter()
            .map(|(l, s)| (l.metric_name(), s.t))
            .collect();
        assert_eq!(zeros, vec![(Some("ct_requests_total"), t_ms - 30_000)]);
        // Gauges and delta sums have no created timestamp.
        for data in [with_start(2, true), with_start(1, false)] {
            let cfg = OtlpConfig {
                delta_temporality: DeltaTemporality::Convert,
                ..Default::default()
            };
            let c = convert(&request(vec![metric("ct.other", "", data)]), &cfg, 0);
            assert!(c.start_series.is_empty());
        }
    }

    #[test]
    fn sum_gets_job_instance_suffix_exemplar_and_target_info() {
        let c = convert(
            &request(vec![metric("http.requests", "{request}", sum(2))]),
            &OtlpConfig::default(),
            0,
        );
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        let s = find(&c, "http_requests_total", None);
        assert_eq!(s.labels.get("job"), Some("shop/checkout"));
        assert_eq!(s.labels.get("instance"), Some("i-1"));
        assert_eq!(s.labels.get("http_method"), Some("GET"));
        assert_eq!(
            s.samples,
            vec![Sample {
                t: 1_700_000_000_000,
                v: 5.0
            }]
        );
        let (el, e) = &c.exemplars[0];
        assert_eq!(el, &s.labels);
        assert_eq!(
            e.labels.get("trace_id"),
            Some("abababababababababababababababab")
        );
        assert_eq!(e.labels.get("span_id"), Some("cdcdcdcdcdcdcdcd"));
        let ti = find(&c, "target_info", None);
        assert_eq!(ti.labels.get("host_name"), Some("box"));
        assert_eq!(ti.labels.get("service_name"), None);
        assert_eq!(c.metadata[0].metric_type, "counter");
        assert_eq!(c.metadata[0].help, "help text");
    }

    #[test]
    fn delta_rejected_or_converted() {
        let req = request(vec![metric("jobs", "", sum(1))]);
        let c = convert(&req, &OtlpConfig::default(), 0);
        assert!(c.errors[0].contains("delta"), "{:?}", c.errors);
        let cfg = OtlpConfig {
            delta_temporality: DeltaTemporality::Convert,
            ..Default::default()
        };
        let totals = DeltaTotals::default();
        for want in [5.0, 10.0] {
            let mut c = convert(&req, &cfg, 0);
            assert!(c.errors.is_empty());
            totals.accumulate(&mut c);
            assert_eq!(find(&c, "jobs_total", None).samples[0].v, want);
        }
    }

    #[test]
    fn histograms_and_summaries() {
        let hist = pm::metric::Data::Histogram(pm::Histogram {
            data_points: vec![pm::HistogramDataPoint {
                time_unix_nano: T,
                count: 6,
                sum: Some(4.5),
                bucket_counts: vec![1, 2, 3],
                explicit_bounds: vec![0.1, 1.0],
                ..Default::default()
            }],
            aggregation_temporality: 2,
        });
        let exp = pm::metric::Data::ExponentialHistogram(pm::ExponentialHistogram {
            data_points: vec![pm::ExponentialHistogramDataPoint {
                time_unix_nano: T,
                count: 4,
                sum: Some(7.0),
                scale: 0,
                zero_count: 1,
                positive: Some(pm::exponential_histogram_data_point::Buckets {
                    offset: 0,
                    bucket_counts: vec![1, 2],
                }),
                ..Default::default()
            }],
            aggregation_temporality: 2,
        });
        let summary = pm::metric::Data::Summary(pm::Summary {
            data_points: vec![pm::SummaryDataPoint {
                time_unix_nano: T,
                count: 3,
                sum: 9.0,
                quantile_values: vec![pm::summary_data_point::ValueAtQuantile {
                    quantile: 0.5,
                    value: 2.0,
                }],
                ..Default::default()
            }],
        });
        let c = convert(
            &request(vec![
                metric("rpc.duration", "s", hist),
                metric("payload", "By", exp),
                metric("latency", "ms", summary),
            ]),
            &OtlpConfig::default(),
            0,
        );
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        let b = |name, le| find(&c, name, Some(("le", le))).samples[0].v;
        assert_eq!(b("rpc_duration_seconds_bucket", "0.1"), 1.0);
        assert_eq!(b("rpc_duration_seconds_bucket", "1"), 3.0);
        assert_eq!(b("rpc_duration_seconds_bucket", "+Inf"), 6.0);
        assert_eq!(find(&c, "rpc_duration_seconds_sum", None).samples[0].v, 4.5);
        assert_eq!(
            find(&c, "rpc_duration_seconds_count", None).samples[0].v,
            6.0
        );
        // Scale 0: OTLP buckets (1,2] and (2,4] are native buckets 1 and 2.
        let (labels, nh) = &c.histograms[0];
        assert_eq!(labels.metric_name(), Some("payload_bytes"));
        assert_eq!(nh.t, 1_700_000_000_000);
        assert_eq!(nh.h.schema, 0);
        assert_eq!(nh.h.positive(), vec![(1, 1.0), (2, 2.0)]);
        assert_eq!((nh.h.zero_count, nh.h.count, nh.h.sum), (1.0, 4.0, 7.0));
        assert_eq!(nh.h.zero_threshold, 1e-128);
        assert!(c.series.iter().all(|s| !s
            .labels
            .metric_name()
            .is_some_and(|n| n.starts_with("payload"))));
        let q = find(&c, "latency_milliseconds", Some(("quantile", "0.5")));
        assert_eq!(q.samples[0].v, 2.0);
        assert_eq!(
            find(&c, "latency_milliseconds_count", None).samples[0].v,
            3.0
        );
    }

    fn exp_point(scale: i32, offset: i32, counts: Vec<u64>) -> pm::ExponentialHistogramDataPoint {
        pm::ExponentialHistogramDataPoint {
            time_unix_nano: T,
            count: counts.iter().sum(),
            sum: Some(1.5),
            scale,
            positive: Some(pm::exponential_histogram_data_point::Buckets {
                offset,
                bucket_counts: counts.clone(),
            }),
            negative: Some(pm::exponential_histogram_data_point::Buckets {
                offset,
                bucket_counts: counts,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn exponential_scale_reduced_to_schema_8_and_refused_below_minus_4() {
        // Scale 10 → schema 8: four OTLP buckets merge into one; OTLP index i → (i >> 2) + 1.
        let h = exponential_to_native(&exp_point(
            10,
            3,
            vec![1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 7],
        ))
        .unwrap();
        assert_eq!(h.schema, 8);
        assert_eq!(h.positive(), vec![(1, 1.0), (2, 4.0), (4, 7.0)]);
        // Negative offsets shift arithmetically, as Go's >> on int32.
        let h = exponential_to_native(&exp_point(9, -5, vec![2, 3, 4])).unwrap();
        assert_eq!(h.schema, 8);
        assert_eq!(h.negative(), vec![(-2, 2.0), (-1, 7.0)]);
        // The bounds agree: OTLP scale 9 bucket -5 is (2^(-5/512), 2^(-4/512)], inside native
        // schema 8 bucket -2, (2^(-3/256), 2^(-2/256)].
        let h = exponential_to_native(&exp_point(8, 0, vec![1])).unwrap();
        assert_eq!(h.schema, 8);
        assert_eq!(h.positive(), vec![(1, 1.0)]);
        let err = exponential_to_native(&exp_point(-5, 0, vec![1])).unwrap_err();
        assert!(err.contains("Scale must be >= -4, was -5"), "{err}");
        let h = exponential_to_native(&exp_point(-4, 0, vec![1])).unwrap();
        assert_eq!(h.schema, -4);
    }

    fn exp_metric(points: Vec<pm::ExponentialHistogramDataPoint>, temporality: i32) -> pm::Metric {
        metric(
            "latency",
            "s",
            pm::metric::Data::ExponentialHistogram(pm::ExponentialHistogram {
                data_points: points,
                aggregation_temporality: temporality,
            }),
        )
    }

    #[test]
    fn no_recorded_value_is_a_stale_marker_and_exemplars_follow_the_histogram() {
        let mut p = exp_point(0, 0, vec![1]);
        p.exemplars = vec![pm::Exemplar {
            trace_id: vec![1; 16],
            value: Some(pm::exemplar::Value::AsDouble(1.5)),
            ..Default::default()
        }];
        let mut stale = exp_point(0, 0, vec![1]);
        stale.flags = NO_RECORDED_VALUE;
        stale.time_unix_nano = T + 1_000_000_000;
        let c = convert(
            &request(vec![exp_metric(vec![p, stale], 2)]),
            &OtlpConfig::default(),
            0,
        );
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert_eq!(c.histograms.len(), 1);
        let s = find(&c, "latency_seconds", None);
        assert!(model::is_stale_nan(s.samples[0].v));
        assert_eq!(s.samples[0].t, 1_700_000_001_000);
        assert_eq!(s.labels, c.histograms[0].0);
        assert_eq!(c.exemplars[0].0, c.histograms[0].0);
    }

    #[test]
    fn delta_exponential_histograms_rejected_or_summed() {
        let req = request(vec![exp_metric(vec![exp_point(0, 0, vec![1, 2])], 1)]);
        assert!(convert(&req, &OtlpConfig::default(), 0).errors[0].contains("delta"));
        let cfg = OtlpConfig {
            delta_temporality: DeltaTemporality::Convert,
            ..Default::default()
        };
        let totals = DeltaTotals::default();
        let mut c = convert(&req, &cfg, 0);
        totals.accumulate(&mut c);
        // The next delta comes at a finer scale: the running total stays at the coarser one.
        let req2 = request(vec![exp_metric(vec![exp_point(1, 0, vec![4])], 1)]);
        let mut c = convert(&req2, &cfg, 0);
        totals.accumulate(&mut c);
        let h = &c.histograms[0].1.h;
        assert_eq!(h.schema, 0);
        assert_eq!(h.positive(), vec![(1, 5.0), (2, 2.0)]);
        assert_eq!((h.count, h.sum), (7.0, 3.0));
    }

    #[test]
    fn explicit_histograms_as_nhcb() {
        let data = pm::metric::Data::Histogram(pm::Histogram {
            data_points: vec![pm::HistogramDataPoint {
                time_unix_nano: T,
                count: 6,
                sum: Some(4.5),
                bucket_counts: vec![0, 2, 4],
                explicit_bounds: vec![0.1, 1.0],
                ..Default::default()
            }],
            aggregation_temporality: 2,
        });
        let cfg = OtlpConfig {
            convert_histograms_to_nhcb: true,
            ..Default::default()
        };
        let c = convert(
            &request(vec![metric("rpc.duration", "s", data.clone())]),
            &cfg,
            0,
        );
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert!(c
            .series
            .iter()
            .all(|s| s.labels.metric_name() == Some("target_info")));
        let (l, s) = &c.histograms[0];
        assert_eq!(l.metric_name(), Some("rpc_duration_seconds"));
        assert_eq!(s.h.schema, CUSTOM_BUCKETS_SCHEMA);
        assert_eq!(s.h.custom_values, vec![0.1, 1.0]);
        assert_eq!(s.h.positive(), vec![(1, 2.0), (2, 4.0)]);
        let mut bad = data;
        if let pm::metric::Data::Histogram(h) = &mut bad {
            h.data_points[0].explicit_bounds = vec![1.0, 0.1];
        }
        let c = convert(&request(vec![metric("rpc.duration", "s", bad)]), &cfg, 0);
        assert!(
            c.errors[0].contains("strictly increasing"),
            "{:?}",
            c.errors
        );
    }

    #[test]
    fn promoted_attributes_and_strategy() {
        let cfg = OtlpConfig {
            promote_resource_attributes: vec!["host.name".into()],
            translation_strategy: config::otlp::TranslationStrategy::NoUTF8EscapingWithSuffixes,
            ..Default::default()
        };
        let c = convert(
            &request(vec![metric("http.requests", "1", sum(2))]),
            &cfg,
            0,
        );
        let s = find(&c, "http.requests_total", None);
        assert_eq!(s.labels.get("host.name"), Some("box"));
        assert_eq!(s.labels.get("http.method"), Some("GET"));
    }

    #[test]
    fn json_body_decodes() {
        let body = br#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},"scopeMetrics":[{"metrics":[{"name":"g","unit":"1","gauge":{"dataPoints":[{"timeUnixNano":"1700000000000000000","asDouble":0.5}]}}]}]}]}"#;
        let req = decode(true, body).unwrap();
        let c = convert(&req, &OtlpConfig::default(), 0);
        assert_eq!(find(&c, "g_ratio", None).samples[0].v, 0.5);
        assert!(decode(true, b"{").is_err());
        assert!(decode(false, b"\xff\xff").is_err());
    }
}
