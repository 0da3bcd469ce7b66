//! remote_read answering (`POST /api/v1/read`, response type SAMPLES): decodes a
//! snappy-compressed `prometheus.ReadRequest`, selects each query's series from storage and
//! encodes the snappy-compressed `prometheus.ReadResponse`. Streamed XOR chunks are not
//! offered; a client asking only for them gets an error.

use api::prometheus::remote_write::{Label, TimeSeries, WireSample};
use model::{LabelMatcher, Labels, MatchOp, Queryable};
use prost::Message;

/// `prometheus.ReadRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct ReadRequest {
    #[prost(message, repeated, tag = "1")]
    pub queries: Vec<Query>,
    #[prost(int32, repeated, tag = "2")]
    pub accepted_response_types: Vec<i32>,
}

/// `prometheus.Query` (hints ignored).
#[derive(Clone, PartialEq, Message)]
pub struct Query {
    #[prost(int64, tag = "1")]
    pub start_timestamp_ms: i64,
    #[prost(int64, tag = "2")]
    pub end_timestamp_ms: i64,
    #[prost(message, repeated, tag = "3")]
    pub matchers: Vec<WireMatcher>,
}

/// `prometheus.LabelMatcher` (type: 0 EQ, 1 NEQ, 2 RE, 3 NRE).
#[derive(Clone, PartialEq, Message)]
pub struct WireMatcher {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub value: String,
}

/// `prometheus.ReadResponse`.
#[derive(Clone, PartialEq, Message)]
pub struct ReadResponse {
    #[prost(message, repeated, tag = "1")]
    pub results: Vec<QueryResult>,
}

/// `prometheus.QueryResult`.
#[derive(Clone, PartialEq, Message)]
pub struct QueryResult {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// Why a read request failed: a bad request (400) or a storage error (500).
#[derive(Debug)]
pub enum ReadError {
    BadRequest(String),
    Storage(String),
}

/// Answers one snappy-compressed ReadRequest with a snappy-compressed ReadResponse.
pub fn answer(storage: &dyn Queryable, body: &[u8]) -> Result<Vec<u8>, ReadError> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| ReadError::BadRequest(format!("snappy: {e}")))?;
    let req = ReadRequest::decode(raw.as_slice())
        .map_err(|e| ReadError::BadRequest(format!("protobuf: {e}")))?;
    if !req.accepted_response_types.is_empty() && !req.accepted_response_types.contains(&0) {
        return Err(ReadError::BadRequest(
            "pharos answers remote_read with response type SAMPLES only".into(),
        ));
    }
    let mut resp = ReadResponse {
        results: Vec::with_capacity(req.queries.len()),
    };
    for q in &req.queries {
        let mut ms = Vec::with_capacity(q.matchers.len());
        for m in &q.matchers {
            let op = match m.r#type {
                0 => MatchOp::Equal,
                1 => MatchOp::NotEqual,
                2 => MatchOp::RegexMatch,
                3 => MatchOp::RegexNoMatch,
                t => return Err(ReadError::BadRequest(format!("unknown matcher type {t}"))),
            };
            ms.push(
                LabelMatcher::new(m.name.clone(), op, m.value.clone())
                    .map_err(|e| ReadError::BadRequest(e.to_string()))?,
            );
        }
        let series = storage
            .select(&ms, q.start_timestamp_ms, q.end_timestamp_ms)
            .map_err(|e| ReadError::Storage(e.to_string()))?;
        let hist_series = storage
            .select_histograms(&ms, q.start_timestamp_ms, q.end_timestamp_ms)
            .map_err(|e| ReadError::Storage(e.to_string()))?;
        // One time series per label set, with its float samples and its native histograms
        // (integer or float on the wire, as they came in), sorted by labels.
        let mut by_labels: std::collections::BTreeMap<Labels, TimeSeries> = Default::default();
        for s in series {
            entry(&mut by_labels, &s.labels)
                .samples
                .extend(s.samples.iter().map(|p| WireSample {
                    value: p.v,
                    timestamp: p.t,
                }));
        }
        for s in hist_series {
            entry(&mut by_labels, &s.labels).histograms.extend(
                s.samples
                    .iter()
                    .map(api::prometheus::remote_write::from_histogram_sample),
            );
        }
        resp.results.push(QueryResult {
            timeseries: by_labels.into_values().collect(),
        });
    }
    snap::raw::Encoder::new()
        .compress_vec(&resp.encode_to_vec())
        .map_err(|e| ReadError::Storage(e.to_string()))
}

/// The time series of `labels` in a response being built (added, empty, if new).
fn entry<'a>(
    by_labels: &'a mut std::collections::BTreeMap<Labels, TimeSeries>,
    labels: &Labels,
) -> &'a mut TimeSeries {
    by_labels
        .entry(labels.clone())
        .or_insert_with(|| TimeSeries {
            labels: wire_labels(labels),
            samples: Vec::new(),
            exemplars: Vec::new(),
            histograms: Vec::new(),
        })
}

/// Labels as protobuf `prometheus.Label`s (remote write and read).
pub(crate) fn wire_labels(labels: &Labels) -> Vec<Label> {
    labels
        .iter()
        .map(|l| Label {
            name: l.name.to_string(),
            value: l.value.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{HistogramSample, MetricSink};

    /// Native histograms are answered next to float samples, integer ones with integer counts
    /// and bucket deltas, float ones with float counts (as they came in).
    #[test]
    fn native_histograms_are_answered_as_they_came_in() {
        let db = model::MemStorage::new();
        let h = |s: &str| model::histogram::parse_histogram(s).unwrap().histogram;
        let int_labels = Labels::from_pairs([("__name__", "lat"), ("kind", "int")]);
        let float_labels = Labels::from_pairs([("__name__", "lat"), ("kind", "float")]);
        db.append_histograms(&[
            (
                int_labels.clone(),
                HistogramSample::integer(1000, h("{{schema:0 count:5 sum:2 buckets:[2 3]}}")),
            ),
            (
                float_labels.clone(),
                HistogramSample::float(1000, h("{{schema:0 count:5 sum:2 buckets:[2 3]}}")),
            ),
        ])
        .unwrap();
        let req = ReadRequest {
            queries: vec![Query {
                start_timestamp_ms: 0,
                end_timestamp_ms: 5000,
                matchers: vec![WireMatcher {
                    r#type: 0,
                    name: "__name__".into(),
                    value: "lat".into(),
                }],
            }],
            accepted_response_types: vec![0],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap();
        let out = answer(&db, &body).unwrap();
        let raw = snap::raw::Decoder::new().decompress_vec(&out).unwrap();
        let resp = ReadResponse::decode(raw.as_slice()).unwrap();
        let ts = &resp.results[0].timeseries;
        assert_eq!(ts.len(), 2);
        let float = &ts[0].histograms[0];
        assert_eq!(ts[0].labels, wire_labels(&float_labels));
        assert_eq!((float.count_float, float.count_int), (Some(5.0), None));
        assert_eq!(float.positive_counts, vec![2.0, 3.0]);
        let int = &ts[1].histograms[0];
        assert_eq!(ts[1].labels, wire_labels(&int_labels));
        assert_eq!((int.count_int, int.count_float), (Some(5), None));
        assert_eq!(int.positive_deltas, vec![2, 1]);
        assert!(int.positive_counts.is_empty());
    }
}
