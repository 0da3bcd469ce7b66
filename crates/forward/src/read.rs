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
        resp.results.push(QueryResult {
            timeseries: series
                .into_iter()
                .map(|s| TimeSeries {
                    labels: wire_labels(&s.labels),
                    samples: s
                        .samples
                        .iter()
                        .map(|p| WireSample {
                            value: p.v,
                            timestamp: p.t,
                        })
                        .collect(),
                    exemplars: Vec::new(),
                    histograms: Vec::new(),
                })
                .collect(),
        });
    }
    snap::raw::Encoder::new()
        .compress_vec(&resp.encode_to_vec())
        .map_err(|e| ReadError::Storage(e.to_string()))
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
