//! Parser for the Prometheus protobuf exposition format
//! (`application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`):
//! varint-length-delimited `MetricFamily` messages turned into float samples and native
//! histograms as Prometheus' `ProtobufParser` does — a histogram with spans, a zero threshold or
//! a zero count is native (integer deltas or float counts), its classic `_bucket`/`_count`/`_sum`
//! series are kept only when asked (`always_scrape_classic_histograms`) or when native
//! histograms are not scraped.

use crate::exposition::{Exposition, ParseError, ParsedExemplar, ParsedHistogram, ParsedSample};
use crate::target::MetadataEntry;
use model::histogram::{CounterResetHint, FloatHistogram, Span};
use model::{Labels, LabelsBuilder, METRIC_NAME};
use prost::Message;

/// The media type Prometheus asks for with `PrometheusProto`.
pub const MEDIA_TYPE: &str =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";

/// `io.prometheus.client` messages (client_model's metrics.proto), the fields Prometheus reads.
pub mod dto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPair {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Gauge {
        #[prost(double, tag = "1")]
        pub value: f64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Timestamp {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Exemplar {
        #[prost(message, repeated, tag = "1")]
        pub label: Vec<LabelPair>,
        #[prost(double, tag = "2")]
        pub value: f64,
        #[prost(message, optional, tag = "3")]
        pub timestamp: Option<Timestamp>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Counter {
        #[prost(double, tag = "1")]
        pub value: f64,
        #[prost(message, optional, tag = "2")]
        pub exemplar: Option<Exemplar>,
        #[prost(message, optional, tag = "3")]
        pub created_timestamp: Option<Timestamp>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Quantile {
        #[prost(double, tag = "1")]
        pub quantile: f64,
        #[prost(double, tag = "2")]
        pub value: f64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Summary {
        #[prost(uint64, tag = "1")]
        pub sample_count: u64,
        #[prost(double, tag = "2")]
        pub sample_sum: f64,
        #[prost(message, repeated, tag = "3")]
        pub quantile: Vec<Quantile>,
        #[prost(message, optional, tag = "4")]
        pub created_timestamp: Option<Timestamp>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Untyped {
        #[prost(double, tag = "1")]
        pub value: f64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Bucket {
        #[prost(uint64, tag = "1")]
        pub cumulative_count: u64,
        #[prost(double, tag = "4")]
        pub cumulative_count_float: f64,
        #[prost(double, tag = "2")]
        pub upper_bound: f64,
        #[prost(message, optional, tag = "3")]
        pub exemplar: Option<Exemplar>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BucketSpan {
        #[prost(sint32, tag = "1")]
        pub offset: i32,
        #[prost(uint32, tag = "2")]
        pub length: u32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Histogram {
        #[prost(uint64, tag = "1")]
        pub sample_count: u64,
        #[prost(double, tag = "4")]
        pub sample_count_float: f64,
        #[prost(double, tag = "2")]
        pub sample_sum: f64,
        #[prost(message, repeated, tag = "3")]
        pub bucket: Vec<Bucket>,
        #[prost(sint32, tag = "5")]
        pub schema: i32,
        #[prost(double, tag = "6")]
        pub zero_threshold: f64,
        #[prost(uint64, tag = "7")]
        pub zero_count: u64,
        #[prost(double, tag = "8")]
        pub zero_count_float: f64,
        #[prost(message, repeated, tag = "9")]
        pub negative_span: Vec<BucketSpan>,
        #[prost(sint64, repeated, tag = "10")]
        pub negative_delta: Vec<i64>,
        #[prost(double, repeated, tag = "11")]
        pub negative_count: Vec<f64>,
        #[prost(message, repeated, tag = "12")]
        pub positive_span: Vec<BucketSpan>,
        #[prost(sint64, repeated, tag = "13")]
        pub positive_delta: Vec<i64>,
        #[prost(double, repeated, tag = "14")]
        pub positive_count: Vec<f64>,
        #[prost(message, optional, tag = "15")]
        pub created_timestamp: Option<Timestamp>,
        #[prost(message, repeated, tag = "16")]
        pub exemplars: Vec<Exemplar>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Metric {
        #[prost(message, repeated, tag = "1")]
        pub label: Vec<LabelPair>,
        #[prost(message, optional, tag = "2")]
        pub gauge: Option<Gauge>,
        #[prost(message, optional, tag = "3")]
        pub counter: Option<Counter>,
        #[prost(message, optional, tag = "4")]
        pub summary: Option<Summary>,
        #[prost(message, optional, tag = "5")]
        pub untyped: Option<Untyped>,
        #[prost(message, optional, tag = "7")]
        pub histogram: Option<Histogram>,
        #[prost(int64, tag = "6")]
        pub timestamp_ms: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricFamily {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub help: String,
        #[prost(int32, tag = "3")]
        pub r#type: i32,
        #[prost(message, repeated, tag = "4")]
        pub metric: Vec<Metric>,
        #[prost(string, tag = "5")]
        pub unit: String,
    }

    pub const COUNTER: i32 = 0;
    pub const GAUGE: i32 = 1;
    pub const SUMMARY: i32 = 2;
    pub const UNTYPED: i32 = 3;
    pub const HISTOGRAM: i32 = 4;
    pub const GAUGE_HISTOGRAM: i32 = 5;
}

/// Whether the content type is the delimited protobuf exposition format.
pub fn is_protobuf(content_type: &str) -> bool {
    let ct = content_type.trim_start();
    ct.starts_with("application/vnd.google.protobuf")
        && ct.contains("io.prometheus.client.MetricFamily")
}

/// What the parser keeps of histograms.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Native histograms are parsed (`scrape_native_histograms`); otherwise only classic
    /// series are made of every histogram.
    pub native: bool,
    /// Classic series are also made of histograms that have native buckets
    /// (`always_scrape_classic_histograms`).
    pub keep_classic: bool,
}

/// Prometheus' `isNativeHistogram`.
fn is_native(h: &dto::Histogram) -> bool {
    !h.positive_span.is_empty()
        || !h.negative_span.is_empty()
        || h.zero_threshold > 0.0
        || h.zero_count > 0
}

fn exemplar(e: &dto::Exemplar) -> ParsedExemplar {
    ParsedExemplar {
        labels: Labels::from_pairs(e.label.iter().map(|l| (l.name.clone(), l.value.clone()))),
        value: e.value,
        ts_ms: e
            .timestamp
            .as_ref()
            .map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000),
    }
}

fn spans(list: &[dto::BucketSpan]) -> Vec<Span> {
    list.iter()
        .map(|s| Span {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

/// Absolute bucket counts: float counts as given, integer deltas summed up.
fn counts(float: bool, deltas: &[i64], absolute: &[f64]) -> Vec<f64> {
    if float {
        return absolute.to_vec();
    }
    model::histogram::deltas_to_counts(deltas)
}

/// The native histogram of a protobuf `Histogram` and whether its counts are integers.
fn native_histogram(h: &dto::Histogram, gauge: bool) -> Result<(FloatHistogram, bool), String> {
    let float = h.sample_count_float > 0.0 || h.zero_count_float > 0.0;
    let positive = counts(float, &h.positive_delta, &h.positive_count);
    let negative = counts(float, &h.negative_delta, &h.negative_count);
    let (positive_spans, negative_spans) = (spans(&h.positive_span), spans(&h.negative_span));
    model::histogram::check_wire_layout(
        h.schema,
        false,
        [
            ("positive", &positive_spans, positive.len()),
            ("negative", &negative_spans, negative.len()),
        ],
    )
    .map_err(|e| format!("native histogram {e}"))?;
    let mut fh = FloatHistogram {
        counter_reset_hint: if gauge {
            CounterResetHint::Gauge
        } else {
            CounterResetHint::Unknown
        },
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: if float {
            h.zero_count_float
        } else {
            h.zero_count as f64
        },
        count: if float {
            h.sample_count_float
        } else {
            h.sample_count as f64
        },
        sum: h.sample_sum,
        positive_spans,
        positive_buckets: positive,
        negative_spans,
        negative_buckets: negative,
        custom_values: Vec::new(),
    };
    fh.compact();
    Ok((fh, !float))
}

fn labels_of(family: &str, suffix: &str, m: &dto::Metric, extra: Option<(&str, String)>) -> Labels {
    let mut b = LabelsBuilder::default();
    for l in &m.label {
        b.set(l.name.clone(), l.value.clone());
    }
    if let Some((k, v)) = extra {
        b.set(k, v);
    }
    b.set(METRIC_NAME, format!("{family}{suffix}"));
    b.build()
}

/// Prometheus' `FormatOpenMetricsFloat` for `le` and `quantile` values: Go's shortest `'g'`
/// form, with `.0` added to whole numbers (`1.0`, `0.25`, `1e+06`, `+Inf`).
pub fn om_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if v == 0.0 {
        return "0.0".into();
    }
    let sci = format!("{v:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    let plain = format!("{v}");
    if plain.contains('.') {
        plain
    } else {
        plain + ".0"
    }
}

/// Parses a whole delimited body.
pub fn parse(body: &[u8], opts: Options) -> Result<Exposition, ParseError> {
    let mut out = Exposition::default();
    let mut rest = body;
    let mut n = 0usize;
    while !rest.is_empty() {
        n += 1;
        let err = |message: String| ParseError {
            line: n,
            message: format!("metric family {n}: {message}"),
        };
        let mf = dto::MetricFamily::decode_length_delimited(&mut rest)
            .map_err(|e| err(format!("invalid protobuf: {e}")))?;
        if mf.name.is_empty() {
            return Err(err("metric family without a name".into()));
        }
        let type_name = match mf.r#type {
            dto::COUNTER => "counter",
            dto::GAUGE => "gauge",
            dto::SUMMARY => "summary",
            dto::UNTYPED => "unknown",
            dto::HISTOGRAM => "histogram",
            dto::GAUGE_HISTOGRAM => "gaugehistogram",
            t => return Err(err(format!("unknown metric type {t}"))),
        };
        out.metadata.push(MetadataEntry {
            metric: mf.name.clone(),
            metric_type: type_name.into(),
            help: mf.help.clone(),
            unit: mf.unit.clone(),
        });
        let name = mf.name.as_str();
        for m in &mf.metric {
            let ts = (m.timestamp_ms != 0).then_some(m.timestamp_ms);
            let created = match mf.r#type {
                dto::COUNTER => m
                    .counter
                    .as_ref()
                    .and_then(|c| c.created_timestamp.as_ref()),
                dto::SUMMARY => m
                    .summary
                    .as_ref()
                    .and_then(|c| c.created_timestamp.as_ref()),
                dto::HISTOGRAM => m
                    .histogram
                    .as_ref()
                    .and_then(|c| c.created_timestamp.as_ref()),
                _ => None,
            };
            if let Some(c) = created {
                out.created.push(crate::exposition::Created {
                    family: name.to_string(),
                    labels: labels_of(name, "", m, None).without(&[METRIC_NAME]),
                    ct_ms: c
                        .seconds
                        .saturating_mul(1000)
                        .saturating_add(i64::from(c.nanos) / 1_000_000),
                });
            }
            let mut push = |labels: Labels, value: f64, ex: Option<ParsedExemplar>| {
                out.samples.push(ParsedSample {
                    labels,
                    value,
                    timestamp_ms: ts,
                    exemplar: ex,
                })
            };
            match mf.r#type {
                dto::COUNTER => {
                    let c = m.counter.clone().unwrap_or_default();
                    push(
                        labels_of(name, "", m, None),
                        c.value,
                        c.exemplar.as_ref().map(exemplar),
                    );
                }
                dto::GAUGE => {
                    let v = m.gauge.as_ref().map_or(0.0, |g| g.value);
                    push(labels_of(name, "", m, None), v, None);
                }
                dto::UNTYPED => {
                    let v = m.untyped.as_ref().map_or(0.0, |g| g.value);
                    push(labels_of(name, "", m, None), v, None);
                }
                dto::SUMMARY => {
                    let s = m.summary.clone().unwrap_or_default();
                    for q in &s.quantile {
                        let l = labels_of(name, "", m, Some(("quantile", om_float(q.quantile))));
                        push(l, q.value, None);
                    }
                    push(labels_of(name, "_sum", m, None), s.sample_sum, None);
                    push(
                        labels_of(name, "_count", m, None),
                        s.sample_count as f64,
                        None,
                    );
                }
                _ => {
                    let h = m.histogram.clone().unwrap_or_default();
                    let native = opts.native && is_native(&h);
                    if native {
                        let (fh, integer) = native_histogram(&h, mf.r#type == dto::GAUGE_HISTOGRAM)
                            .map_err(|e| err(format!("{name}: {e}")))?;
                        out.histograms.push(ParsedHistogram {
                            labels: labels_of(name, "", m, None),
                            h: fh,
                            integer,
                            timestamp_ms: ts,
                            exemplars: h.exemplars.iter().map(exemplar).collect(),
                        });
                    }
                    // Classic series: always without native buckets, with them only when asked
                    // (and only when there are classic buckets to show).
                    if native && (!opts.keep_classic || h.bucket.is_empty()) {
                        continue;
                    }
                    let count = if h.sample_count_float > 0.0 {
                        h.sample_count_float
                    } else {
                        h.sample_count as f64
                    };
                    push(labels_of(name, "_count", m, None), count, None);
                    push(labels_of(name, "_sum", m, None), h.sample_sum, None);
                    let mut saw_inf = false;
                    for b in &h.bucket {
                        let c = if b.cumulative_count_float > 0.0 {
                            b.cumulative_count_float
                        } else {
                            b.cumulative_count as f64
                        };
                        saw_inf |= b.upper_bound == f64::INFINITY;
                        let l =
                            labels_of(name, "_bucket", m, Some(("le", om_float(b.upper_bound))));
                        push(l, c, b.exemplar.as_ref().map(exemplar));
                    }
                    if !saw_inf {
                        let l = labels_of(name, "_bucket", m, Some(("le", "+Inf".into())));
                        push(l, count, None);
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn lp(n: &str, v: &str) -> dto::LabelPair {
        dto::LabelPair {
            name: n.into(),
            value: v.into(),
        }
    }

    /// client_golang's encoding of a histogram with native (schema 3) and classic buckets.
    pub fn sample_body() -> Vec<u8> {
        let h = dto::Histogram {
            sample_count: 6,
            sample_sum: 12.5,
            bucket: vec![
                dto::Bucket {
                    cumulative_count: 2,
                    upper_bound: 1.0,
                    ..Default::default()
                },
                dto::Bucket {
                    cumulative_count: 5,
                    upper_bound: 5.0,
                    ..Default::default()
                },
            ],
            schema: 3,
            zero_threshold: 1e-128,
            zero_count: 1,
            positive_span: vec![
                dto::BucketSpan {
                    offset: 0,
                    length: 2,
                },
                dto::BucketSpan {
                    offset: 3,
                    length: 1,
                },
            ],
            positive_delta: vec![1, 1, -1],
            ..Default::default()
        };
        let fams = [
            dto::MetricFamily {
                name: "req_seconds".into(),
                help: "latency".into(),
                r#type: dto::HISTOGRAM,
                metric: vec![dto::Metric {
                    label: vec![lp("path", "/a")],
                    histogram: Some(h),
                    ..Default::default()
                }],
                ..Default::default()
            },
            dto::MetricFamily {
                name: "hits_total".into(),
                r#type: dto::COUNTER,
                metric: vec![dto::Metric {
                    counter: Some(dto::Counter {
                        value: 7.0,
                        exemplar: None,
                        created_timestamp: None,
                    }),
                    timestamp_ms: 1234,
                    ..Default::default()
                }],
                ..Default::default()
            },
        ];
        let mut out = Vec::new();
        for f in fams {
            f.encode_length_delimited(&mut out).unwrap();
        }
        out
    }

    #[test]
    fn native_histogram_and_counter() {
        let e = parse(
            &sample_body(),
            Options {
                native: true,
                keep_classic: false,
            },
        )
        .unwrap();
        assert_eq!(e.histograms.len(), 1);
        let h = &e.histograms[0];
        assert_eq!(h.labels.metric_name(), Some("req_seconds"));
        assert_eq!(h.labels.get("path"), Some("/a"));
        assert_eq!(h.h.schema, 3);
        assert_eq!(h.h.positive(), vec![(0, 1.0), (1, 2.0), (5, 1.0)]);
        assert_eq!((h.h.count, h.h.sum, h.h.zero_count), (6.0, 12.5, 1.0));
        assert_eq!(e.samples.len(), 1);
        assert_eq!(e.samples[0].labels.metric_name(), Some("hits_total"));
        assert_eq!(e.samples[0].timestamp_ms, Some(1234));
        assert_eq!(e.metadata[0].metric_type, "histogram");
    }

    #[test]
    fn classic_series_kept_or_only() {
        let e = parse(
            &sample_body(),
            Options {
                native: true,
                keep_classic: true,
            },
        )
        .unwrap();
        assert_eq!(e.histograms.len(), 1);
        let names: Vec<String> = e.samples.iter().map(|s| s.labels.to_string()).collect();
        assert!(
            names
                .iter()
                .any(|n| n.contains("req_seconds_bucket") && n.contains("+Inf")),
            "{names:?}"
        );
        assert_eq!(e.samples.len(), 1 + 2 + 3);
        let e = parse(&sample_body(), Options::default()).unwrap();
        assert!(e.histograms.is_empty());
        assert_eq!(e.samples.len(), 1 + 2 + 3);
    }

    #[test]
    fn openmetrics_floats() {
        let f = |v: f64| om_float(v);
        assert_eq!(
            [
                f(1.0),
                f(0.25),
                f(100000.0),
                f(1e6),
                f(0.0001),
                f(1.5e-5),
                f(-2.0),
                f(f64::INFINITY)
            ],
            ["1.0", "0.25", "100000.0", "1e+06", "0.0001", "1.5e-05", "-2.0", "+Inf"]
        );
    }

    #[test]
    fn bad_bodies_are_errors() {
        let mut body = sample_body();
        body.truncate(body.len() - 3);
        assert!(parse(&body, Options::default()).is_err());
        let mut h = dto::Histogram {
            schema: 0,
            positive_span: vec![dto::BucketSpan {
                offset: 0,
                length: 3,
            }],
            positive_delta: vec![1],
            ..Default::default()
        };
        let f = |h: &dto::Histogram| {
            let mut out = Vec::new();
            dto::MetricFamily {
                name: "x".into(),
                r#type: dto::HISTOGRAM,
                metric: vec![dto::Metric {
                    histogram: Some(h.clone()),
                    ..Default::default()
                }],
                ..Default::default()
            }
            .encode_length_delimited(&mut out)
            .unwrap();
            out
        };
        let e = parse(
            &f(&h),
            Options {
                native: true,
                keep_classic: false,
            },
        )
        .unwrap_err();
        assert!(e.message.contains("spans describe 3 buckets but 1"), "{e}");
        h.positive_delta = vec![1, 0, 0];
        h.schema = 9;
        assert!(parse(
            &f(&h),
            Options {
                native: true,
                keep_classic: false
            }
        )
        .is_err());
    }
}
