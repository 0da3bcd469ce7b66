//! Remote-Write 2.0's message, `io.prometheus.write.v2.Request` (a symbols table, series whose
//! labels, exemplar labels, help and unit are references into it, samples, native histograms,
//! exemplars and per-series metadata): its protobuf types, the decoding of a request into what
//! pharos stores (with the spec's partial-write rule: a bad series is reported and skipped, the
//! others are written), and a symbols table for senders.

use super::remote_write::Histogram;
use model::exemplars::Exemplar as StoredExemplar;
use model::{HistogramSample, Labels, Sample, Series};
use prost::Message;
use std::collections::HashMap;

/// The `proto=` value of a 2.0 request's Content-Type.
pub const MESSAGE_V2: &str = "io.prometheus.write.v2.Request";
/// The `proto=` value of a 1.0 request's Content-Type (also implied by a bare
/// `application/x-protobuf`).
pub const MESSAGE_V1: &str = "prometheus.WriteRequest";

/// `io.prometheus.write.v2.Request`.
#[derive(Clone, PartialEq, Message)]
pub struct Request {
    #[prost(string, repeated, tag = "4")]
    pub symbols: Vec<String>,
    #[prost(message, repeated, tag = "5")]
    pub timeseries: Vec<TimeSeries>,
}

/// `io.prometheus.write.v2.TimeSeries`.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Name/value pairs of indexes into `symbols`.
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample2>,
    /// The same message as 1.0's histogram (with 2.0's `start_timestamp = 17`).
    #[prost(message, repeated, tag = "3")]
    pub histograms: Vec<Histogram>,
    #[prost(message, repeated, tag = "4")]
    pub exemplars: Vec<Exemplar2>,
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<Metadata>,
}

/// `io.prometheus.write.v2.Sample`.
#[derive(Clone, PartialEq, Message)]
pub struct Sample2 {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
    /// Start (created) timestamp of a cumulative series; 0 when unknown.
    #[prost(int64, tag = "3")]
    pub start_timestamp: i64,
}

/// `io.prometheus.write.v2.Exemplar`.
#[derive(Clone, PartialEq, Message)]
pub struct Exemplar2 {
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    #[prost(double, tag = "2")]
    pub value: f64,
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `io.prometheus.write.v2.Metadata`.
#[derive(Clone, PartialEq, Message)]
pub struct Metadata {
    /// `MetricType`: 0 unspecified, 1 counter, 2 gauge, 3 histogram, 4 gaugehistogram,
    /// 5 summary, 6 info, 7 stateset.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(uint32, tag = "3")]
    pub help_ref: u32,
    #[prost(uint32, tag = "4")]
    pub unit_ref: u32,
}

/// The metric type names of `MetricType`'s values (the same numbers in 1.0's
/// `MetricMetadata.MetricType`), as `/api/v1/metadata` spells them.
pub const TYPES: [&str; 8] = [
    "unknown",
    "counter",
    "gauge",
    "histogram",
    "gaugehistogram",
    "summary",
    "info",
    "stateset",
];

/// `MetricType` of a type name (`unknown` for anything else).
pub fn metric_type_code(name: &str) -> i32 {
    TYPES.iter().position(|t| *t == name).unwrap_or(0) as i32
}

/// A decoded 2.0 request: what to store, and why the series that were skipped are invalid.
#[derive(Default)]
pub struct Decoded {
    pub series: Vec<Series>,
    pub histograms: Vec<(Labels, HistogramSample)>,
    pub exemplars: Vec<(Labels, StoredExemplar)>,
    pub metadata: Vec<scrape::MetadataEntry>,
    /// One message per rejected series (the request answers 400 with them, after storing the
    /// rest).
    pub errors: Vec<String>,
    /// Zero samples at the created (start) timestamps of each series' first sample and
    /// histogram (appended with `created-timestamp-zero-ingestion`).
    pub created: model::created::ZeroSamples,
}

fn symbol(symbols: &[String], r: u32) -> Option<&str> {
    symbols.get(r as usize).map(String::as_str)
}

/// Labels from name/value references, as Prometheus' `desymbolizeLabels`.
fn desymbolize(refs: &[u32], symbols: &[String]) -> Result<Labels, String> {
    if !refs.len().is_multiple_of(2) {
        return Err(format!("invalid labels_refs length {}", refs.len()));
    }
    let mut pairs = Vec::with_capacity(refs.len() / 2);
    for p in refs.chunks_exact(2) {
        match (symbol(symbols, p[0]), symbol(symbols, p[1])) {
            (Some(n), Some(v)) => pairs.push((n, v)),
            _ => {
                return Err(format!(
                    "labels_refs {} (name) = {} (value) outside of symbols table (size {})",
                    p[0],
                    p[1],
                    symbols.len()
                ))
            }
        }
    }
    let mut names: Vec<&str> = pairs.iter().map(|p| p.0).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("duplicate label name {:?}", w[0]));
    }
    if names.iter().any(|n| n.is_empty()) {
        return Err("empty label name".into());
    }
    Ok(Labels::from_pairs(pairs))
}

/// The metric family a series' metadata describes: its name, less a classic histogram's or
/// summary's `_bucket`/`_sum`/`_count` suffix.
fn family_name(name: &str, type_code: i32) -> &str {
    if matches!(type_code, 3..=5) {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix).filter(|b| !b.is_empty()) {
                return base;
            }
        }
    }
    name
}

/// Converts a request into what is stored. A series with bad references, labels, histograms
/// or nothing to write is skipped with a message in `errors`; the rest is kept.
/// Scope of the created timestamps remote_write 2.0 remembers per series.
const CT_SCOPE: &str = "remote_write";

pub fn decode_request(req: &Request) -> Decoded {
    decode_request_with(req, false)
}

/// [`decode_request`]; with `created_timestamps`, also the zero samples of the series'
/// created timestamps (`Decoded::created`).
pub fn decode_request_with(req: &Request, created_timestamps: bool) -> Decoded {
    let mut out = Decoded::default();
    let symbols = &req.symbols;
    for ts in &req.timeseries {
        let labels = match desymbolize(&ts.labels_refs, symbols) {
            Ok(l) => l,
            Err(e) => {
                out.errors.push(format!(
                    "parsing labels for series {:?}: {e}",
                    ts.labels_refs
                ));
                continue;
            }
        };
        let Some(name) = labels.get("__name__").map(str::to_string) else {
            out.errors.push(format!(
                "invalid metric name or labels, got {labels}: no metric name"
            ));
            continue;
        };
        let md = ts.metadata.clone().unwrap_or_default();
        let (Some(help), Some(unit)) = (symbol(symbols, md.help_ref), symbol(symbols, md.unit_ref))
        else {
            out.errors.push(format!(
                "parsing metadata for series {labels}: help_ref {} or unit_ref {} outside of symbols table (size {})",
                md.help_ref,
                md.unit_ref,
                symbols.len()
            ));
            continue;
        };
        if ts.samples.is_empty() && ts.histograms.is_empty() {
            out.errors.push(format!(
                "TimeSeries must contain at least one sample or histogram for series {labels}"
            ));
            continue;
        }
        let mut histograms = Vec::with_capacity(ts.histograms.len());
        let mut bad_histogram = None;
        for h in &ts.histograms {
            match super::remote_write::to_histogram_sample(h) {
                Ok(sample) => histograms.push((labels.clone(), sample)),
                Err(e) => {
                    bad_histogram = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = bad_histogram {
            out.errors
                .push(format!("invalid histogram for series {labels}: {e}"));
            continue;
        }
        // As Prometheus' write handler: a zero sample at a sample's start timestamp; only the
        // series' first one here, as the zeros are appended before the request's samples.
        if let (Some(h), Some((_, first)), true) = (
            ts.histograms.first(),
            histograms.first(),
            created_timestamps,
        ) {
            if h.timestamp != 0 {
                out.created
                    .histogram(CT_SCOPE, &labels, h.start_timestamp, first);
            }
        }
        if let Some(s) = ts
            .samples
            .first()
            .filter(|s| created_timestamps && s.timestamp != 0)
        {
            out.created
                .float(CT_SCOPE, &labels, s.start_timestamp, s.timestamp);
        }
        out.histograms.extend(histograms);
        if !ts.samples.is_empty() {
            out.series.push(Series {
                labels: labels.clone(),
                samples: ts
                    .samples
                    .iter()
                    .map(|s| Sample {
                        t: s.timestamp,
                        v: s.value,
                    })
                    .collect(),
            });
        }
        for e in &ts.exemplars {
            match desymbolize(&e.labels_refs, symbols) {
                Ok(el) => out.exemplars.push((
                    labels.clone(),
                    StoredExemplar {
                        labels: el,
                        value: e.value,
                        ts: e.timestamp,
                    },
                )),
                Err(err) => out
                    .errors
                    .push(format!("parsing exemplar for series {labels}: {err}")),
            }
        }
        let type_code = if (0..TYPES.len() as i32).contains(&md.r#type) {
            md.r#type
        } else {
            0
        };
        if type_code != 0 || !help.is_empty() || !unit.is_empty() {
            out.metadata.push(scrape::MetadataEntry {
                metric: family_name(&name, type_code).to_string(),
                metric_type: TYPES[type_code as usize].to_string(),
                help: help.to_string(),
                unit: unit.to_string(),
            });
        }
    }
    out
}

/// A sender's symbols table: index 0 is the empty string, as the spec requires; each distinct
/// string is stored once.
pub struct SymbolTable {
    index: HashMap<String, u32>,
    symbols: Vec<String>,
}

impl Default for SymbolTable {
    fn default() -> Self {
        SymbolTable {
            index: HashMap::from([(String::new(), 0)]),
            symbols: vec![String::new()],
        }
    }
}

impl SymbolTable {
    /// The reference of `s`, adding it when new.
    pub fn symbolize(&mut self, s: &str) -> u32 {
        if let Some(r) = self.index.get(s) {
            return *r;
        }
        let r = self.symbols.len() as u32;
        self.symbols.push(s.to_string());
        self.index.insert(s.to_string(), r);
        r
    }

    /// Name/value references of a label set.
    pub fn labels(&mut self, labels: &Labels) -> Vec<u32> {
        let mut refs = Vec::with_capacity(labels.len() * 2);
        for l in labels.iter() {
            refs.push(self.symbolize(&l.name));
            refs.push(self.symbolize(&l.value));
        }
        refs
    }

    /// The table, for `Request::symbols`.
    pub fn into_symbols(self) -> Vec<String> {
        self.symbols
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        let mut st = SymbolTable::default();
        let series = Labels::from_pairs([("__name__", "rpc_seconds"), ("job", "api")]);
        let refs = st.labels(&series);
        let trace = st.labels(&Labels::from_pairs([("trace_id", "abc")]));
        let help = st.symbolize("RPC latency");
        let unit = st.symbolize("seconds");
        let bad = st.labels(&Labels::from_pairs([("job", "nameless")]));
        Request {
            timeseries: vec![
                TimeSeries {
                    labels_refs: refs.clone(),
                    samples: vec![Sample2 {
                        value: 1.5,
                        timestamp: 1000,
                        start_timestamp: 0,
                    }],
                    exemplars: vec![Exemplar2 {
                        labels_refs: trace,
                        value: 0.3,
                        timestamp: 1000,
                    }],
                    metadata: Some(Metadata {
                        r#type: 2,
                        help_ref: help,
                        unit_ref: unit,
                    }),
                    ..Default::default()
                },
                TimeSeries {
                    labels_refs: vec![1, 999],
                    samples: vec![Sample2::default()],
                    ..Default::default()
                },
                TimeSeries {
                    labels_refs: bad,
                    samples: vec![Sample2::default()],
                    ..Default::default()
                },
                TimeSeries {
                    labels_refs: refs,
                    ..Default::default()
                },
            ],
            symbols: st.into_symbols(),
        }
    }

    #[test]
    fn decodes_symbols_and_skips_bad_series() {
        let req = request();
        assert_eq!(req.symbols[0], "");
        let wire = req.encode_to_vec();
        let back = Request::decode(wire.as_slice()).unwrap();
        let d = decode_request(&back);
        assert_eq!(d.series.len(), 1);
        assert_eq!(d.series[0].labels.get("job"), Some("api"));
        assert_eq!(d.series[0].samples[0].v, 1.5);
        assert_eq!(d.exemplars.len(), 1);
        assert_eq!(d.exemplars[0].1.labels.get("trace_id"), Some("abc"));
        assert_eq!(d.metadata.len(), 1);
        assert_eq!(
            (
                d.metadata[0].metric_type.as_str(),
                d.metadata[0].help.as_str()
            ),
            ("gauge", "RPC latency")
        );
        assert_eq!(d.metadata[0].unit, "seconds");
        assert_eq!(d.errors.len(), 3, "{:?}", d.errors);
        assert!(d.errors[0].contains("outside of symbols table"));
        assert!(d.errors[1].contains("no metric name"));
        assert!(d.errors[2].contains("at least one sample"));
    }

    #[test]
    fn start_timestamps_become_zero_samples_when_asked() {
        let mut st = SymbolTable::default();
        let refs = st.labels(&Labels::from_pairs([("__name__", "ct_v2_total")]));
        let hrefs = st.labels(&Labels::from_pairs([("__name__", "ct_v2_hist")]));
        let req = Request {
            timeseries: vec![
                TimeSeries {
                    labels_refs: refs,
                    samples: vec![
                        Sample2 {
                            value: 3.0,
                            timestamp: 5000,
                            start_timestamp: 1000,
                        },
                        Sample2 {
                            value: 4.0,
                            timestamp: 6000,
                            start_timestamp: 5500,
                        },
                    ],
                    ..Default::default()
                },
                TimeSeries {
                    labels_refs: hrefs,
                    histograms: vec![Histogram {
                        count_int: Some(1),
                        schema: 2,
                        zero_threshold: 0.5,
                        zero_count_int: Some(1),
                        timestamp: 5000,
                        start_timestamp: 2000,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
            symbols: st.into_symbols(),
        };
        let back = Request::decode(req.encode_to_vec().as_slice()).unwrap();
        assert!(decode_request(&back).created.is_empty());
        let d = decode_request_with(&back, true);
        // Only the series' first sample's start timestamp (the zeros go before the request).
        let floats: Vec<(i64, f64)> = d.created.floats.iter().map(|(_, s)| (s.t, s.v)).collect();
        assert_eq!(floats, vec![(1000, 0.0)]);
        let (_, h) = &d.created.histograms[0];
        assert_eq!(
            (h.t, h.h.schema, h.h.zero_threshold, h.h.count),
            (2000, 2, 0.5, 0.0)
        );
    }

    #[test]
    fn histogram_family_name_drops_classic_suffixes() {
        assert_eq!(family_name("rpc_bucket", 3), "rpc");
        assert_eq!(family_name("rpc_count", 5), "rpc");
        assert_eq!(family_name("rpc_count", 1), "rpc_count");
        assert_eq!(metric_type_code("gaugehistogram"), 4);
        assert_eq!(metric_type_code("nonsense"), 0);
    }
}
