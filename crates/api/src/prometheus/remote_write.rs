//! The remote_write receiver (`POST /api/v1/write`, protocol v1: snappy-compressed protobuf
//! `prometheus.WriteRequest`). Answers 204 only after the sink has made the samples durable.
//! Native-histogram series are not stored yet: they are counted and reported in the 400 answer.

use super::json::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use model::{Labels, Sample, Series};
use prost::Message;
use std::sync::Arc;

/// Largest decompressed request accepted.
pub const MAX_DECOMPRESSED_BYTES: usize = 128 << 20;

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<WireSample>,
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    /// Native histograms, kept opaque: pharos does not store them yet.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub histograms: Vec<Vec<u8>>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, Message)]
pub struct WireSample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.Exemplar` (accepted and dropped).
#[derive(Clone, PartialEq, Message)]
pub struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(double, tag = "2")]
    pub value: f64,
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, Message)]
pub struct MetricMetadata {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// Decodes a snappy-compressed WriteRequest body, with size checks before allocating.
pub fn decode_body(body: &[u8]) -> Result<WriteRequest, ApiError> {
    let len = snap::raw::decompress_len(body)
        .map_err(|e| ApiError::bad_data(format!("snappy decode error: {e}")))?;
    if len > MAX_DECOMPRESSED_BYTES {
        return Err(ApiError {
            kind: super::json::ErrorType::BadData,
            message: format!(
                "decompressed body of {len} bytes exceeds the limit of {MAX_DECOMPRESSED_BYTES} bytes"
            ),
        });
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| ApiError::bad_data(format!("snappy decode error: {e}")))?;
    WriteRequest::decode(raw.as_slice())
        .map_err(|e| ApiError::bad_data(format!("protobuf decode error: {e}")))
}

/// Validates and converts the request's series into a batch of series.
/// Returns the batch and the number of native-histogram samples skipped.
pub fn to_batch(req: WriteRequest) -> Result<(Vec<Series>, usize), ApiError> {
    let mut batch = Vec::with_capacity(req.timeseries.len());
    let mut histograms = 0;
    for ts in req.timeseries {
        let mut names: Vec<&str> = ts.labels.iter().map(|l| l.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(ApiError::bad_data(format!(
                "invalid labels: duplicate label name {:?}",
                w[0]
            )));
        }
        if names.iter().any(|n| n.is_empty()) {
            return Err(ApiError::bad_data("invalid labels: empty label name"));
        }
        let labels = Labels::from_pairs(ts.labels.into_iter().map(|l| (l.name, l.value)));
        if labels.is_empty() {
            return Err(ApiError::bad_data("invalid labels: series without labels"));
        }
        histograms += ts.histograms.len();
        let samples: Vec<Sample> = ts
            .samples
            .iter()
            .map(|s| Sample {
                t: s.timestamp,
                v: s.value,
            })
            .collect();
        if !samples.is_empty() {
            batch.push(Series { labels, samples });
        }
    }
    Ok((batch, histograms))
}

/// `POST /api/v1/write`.
pub async fn receive(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if let Some(enc) = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
    {
        if !enc.eq_ignore_ascii_case("snappy") {
            return Err(ApiError {
                kind: super::json::ErrorType::BadData,
                message: format!(
                    "unsupported Content-Encoding {enc:?}: remote write expects snappy"
                ),
            });
        }
    }
    let req = decode_body(&body)?;
    let (batch, histograms) = to_batch(req)?;
    let sink = state.sink.clone();
    let stats = tokio::task::spawn_blocking(move || sink.append_series(&batch))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    let mut problems = Vec::new();
    if stats.out_of_order > 0 {
        problems.push(format!("{} out of order samples", stats.out_of_order));
    }
    if stats.duplicate > 0 {
        problems.push(format!(
            "{} duplicate sample for timestamp",
            stats.duplicate
        ));
    }
    if stats.out_of_bounds > 0 {
        problems.push(format!("{} out of bounds samples", stats.out_of_bounds));
    }
    if histograms > 0 {
        problems.push(format!(
            "{histograms} native histogram samples dropped: native histograms are not supported yet"
        ));
    }
    if problems.is_empty() {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        // As Prometheus: the valid samples are stored; the sender is told what was rejected.
        Ok((StatusCode::BAD_REQUEST, problems.join("; ")).into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(req: &WriteRequest) -> Vec<u8> {
        snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap_or_default()
    }

    #[test]
    fn round_trip() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![
                    Label {
                        name: "__name__".into(),
                        value: "up".into(),
                    },
                    Label {
                        name: "job".into(),
                        value: "x".into(),
                    },
                ],
                samples: vec![WireSample {
                    value: 1.0,
                    timestamp: 1000,
                }],
                ..Default::default()
            }],
            metadata: vec![],
        };
        let decoded = decode_body(&encode(&req)).map_err(|e| e.message).unwrap();
        let (batch, h) = to_batch(decoded).map_err(|e| e.message).unwrap();
        assert_eq!(h, 0);
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].labels.get("job"), Some("x"));
        assert_eq!(batch[0].samples.len(), 1);
    }

    #[test]
    fn duplicate_label_names_rejected() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![
                    Label {
                        name: "a".into(),
                        value: "1".into(),
                    },
                    Label {
                        name: "a".into(),
                        value: "2".into(),
                    },
                ],
                ..Default::default()
            }],
            metadata: vec![],
        };
        assert!(to_batch(req).is_err());
    }

    #[test]
    fn not_snappy_is_bad_data() {
        let err = decode_body(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff").unwrap_err();
        assert_eq!(err.kind, super::super::json::ErrorType::BadData);
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(req) = decode_body(&body) {
                let _ = to_batch(req);
            }
            let compressed = snap::raw::Encoder::new().compress_vec(&body).unwrap_or_default();
            if let Ok(req) = decode_body(&compressed) {
                let _ = to_batch(req);
            }
        }
    }
}
