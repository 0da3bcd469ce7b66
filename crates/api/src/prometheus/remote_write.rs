//! The remote_write receiver (`POST /api/v1/write`): snappy-compressed protobuf
//! `prometheus.WriteRequest` (1.0) or `io.prometheus.write.v2.Request` (2.0, see
//! `remote_write_v2`), chosen by `Content-Type` as the 2.0 spec says. Answers 204 only after
//! the sink has made the samples durable.
//! Native histograms (`histograms`, integer or float) are stored through
//! `MetricSink::append_histograms`.

use super::json::ApiError;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use model::histogram::{CounterResetHint, FloatHistogram, Span};
use model::{HistogramSample, Labels, Sample, Series};
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
    /// Native histograms.
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// `prometheus.Histogram` (the `oneof`s as optional fields, the same on the wire).
#[derive(Clone, PartialEq, Message)]
pub struct Histogram {
    #[prost(uint64, optional, tag = "1")]
    pub count_int: Option<u64>,
    #[prost(double, optional, tag = "2")]
    pub count_float: Option<f64>,
    #[prost(double, tag = "3")]
    pub sum: f64,
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    #[prost(uint64, optional, tag = "6")]
    pub zero_count_int: Option<u64>,
    #[prost(double, optional, tag = "7")]
    pub zero_count_float: Option<f64>,
    #[prost(message, repeated, tag = "8")]
    pub negative_spans: Vec<BucketSpan>,
    /// Integer histograms: each bucket's count as a delta to the previous bucket's.
    #[prost(sint64, repeated, tag = "9")]
    pub negative_deltas: Vec<i64>,
    /// Float histograms: absolute bucket counts.
    #[prost(double, repeated, tag = "10")]
    pub negative_counts: Vec<f64>,
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    #[prost(double, repeated, tag = "13")]
    pub positive_counts: Vec<f64>,
    /// 0 unknown, 1 reset, 2 not a reset, 3 gauge.
    #[prost(int32, tag = "14")]
    pub reset_hint: i32,
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
    #[prost(double, repeated, tag = "16")]
    pub custom_values: Vec<f64>,
    /// Remote-Write 2.0's `start_timestamp` (the created timestamp; 0 = unknown). Not part of
    /// 1.0's message, where the tag is unused.
    #[prost(int64, tag = "17")]
    pub start_timestamp: i64,
}

/// `prometheus.BucketSpan`.
#[derive(Clone, PartialEq, Message)]
pub struct BucketSpan {
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

/// Absolute bucket counts: the float counts, or the integer deltas summed up.
fn bucket_counts(deltas: &[i64], counts: &[f64]) -> Vec<f64> {
    if !counts.is_empty() {
        return counts.to_vec();
    }
    model::histogram::deltas_to_counts(deltas)
}

/// Converts a wire histogram, checking that the spans describe as many buckets as given.
pub fn to_float_histogram(h: &Histogram) -> Result<FloatHistogram, String> {
    let spans = |s: &[BucketSpan]| -> Vec<Span> {
        s.iter()
            .map(|s| Span {
                offset: s.offset,
                length: s.length,
            })
            .collect()
    };
    let positive_spans = spans(&h.positive_spans);
    let negative_spans = spans(&h.negative_spans);
    let positive_buckets = bucket_counts(&h.positive_deltas, &h.positive_counts);
    let negative_buckets = bucket_counts(&h.negative_deltas, &h.negative_counts);
    model::histogram::check_wire_layout(
        h.schema,
        true,
        [
            ("positive", &positive_spans, positive_buckets.len()),
            ("negative", &negative_spans, negative_buckets.len()),
        ],
    )
    .map_err(|e| format!("histogram {e}"))?;
    Ok(FloatHistogram {
        counter_reset_hint: match h.reset_hint {
            1 => CounterResetHint::CounterReset,
            2 => CounterResetHint::NotCounterReset,
            3 => CounterResetHint::Gauge,
            _ => CounterResetHint::Unknown,
        },
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: h
            .zero_count_float
            .or(h.zero_count_int.map(|c| c as f64))
            .unwrap_or(0.0),
        count: h
            .count_float
            .or(h.count_int.map(|c| c as f64))
            .unwrap_or(0.0),
        sum: h.sum,
        positive_spans,
        positive_buckets,
        negative_spans,
        negative_buckets,
        custom_values: h.custom_values.clone(),
    })
}

/// A wire histogram as a sample: integer (Prometheus' `Histogram`) when its count is the
/// `count_int` of the `oneof`, else float.
pub fn to_histogram_sample(h: &Histogram) -> Result<HistogramSample, String> {
    let fh = to_float_histogram(h)?;
    Ok(if h.count_float.is_none() {
        HistogramSample::integer(h.timestamp, fh)
    } else {
        HistogramSample::float(h.timestamp, fh)
    })
}

/// A sample on the wire in the form it came in: integer counts and bucket deltas for an
/// integer histogram, float counts for a float one.
pub fn from_histogram_sample(s: &HistogramSample) -> Histogram {
    let mut w = from_float_histogram(s.t, &s.h);
    if s.integer {
        let h = &s.h;
        w.count_float = None;
        w.zero_count_float = None;
        w.count_int = Some(h.count as u64);
        w.zero_count_int = Some(h.zero_count as u64);
        w.positive_counts = Vec::new();
        w.negative_counts = Vec::new();
        w.positive_deltas = model::histogram::counts_to_deltas(&h.positive_buckets);
        w.negative_deltas = model::histogram::counts_to_deltas(&h.negative_buckets);
    }
    w
}

/// A float histogram on the wire (float counts, as senders of float histograms write them).
pub fn from_float_histogram(t: i64, h: &FloatHistogram) -> Histogram {
    let spans = |s: &[Span]| -> Vec<BucketSpan> {
        s.iter()
            .map(|s| BucketSpan {
                offset: s.offset,
                length: s.length,
            })
            .collect()
    };
    Histogram {
        count_float: Some(h.count),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count_float: Some(h.zero_count),
        negative_spans: spans(&h.negative_spans),
        negative_counts: h.negative_buckets.clone(),
        positive_spans: spans(&h.positive_spans),
        positive_counts: h.positive_buckets.clone(),
        reset_hint: match h.counter_reset_hint {
            CounterResetHint::Unknown => 0,
            CounterResetHint::CounterReset => 1,
            CounterResetHint::NotCounterReset => 2,
            CounterResetHint::Gauge => 3,
        },
        timestamp: t,
        custom_values: h.custom_values.clone(),
        ..Default::default()
    }
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

/// `prometheus.Exemplar` (kept in the exemplar store).
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
    let raw = decompress(body)?;
    WriteRequest::decode(raw.as_slice())
        .map_err(|e| ApiError::bad_data(format!("protobuf decode error: {e}")))
}

/// A snappy block-compressed body, decompressed after checking its announced size.
pub fn decompress(body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    decompress_into(body, &mut out)?;
    Ok(out)
}

/// Like `decompress`, into `out` (resized to the body's decompressed length; reusable).
pub fn decompress_into(body: &[u8], out: &mut Vec<u8>) -> Result<(), ApiError> {
    let snappy = |e: snap::Error| ApiError::bad_data(format!("snappy decode error: {e}"));
    let len = snap::raw::decompress_len(body).map_err(snappy)?;
    if len > MAX_DECOMPRESSED_BYTES {
        return Err(ApiError {
            kind: super::json::ErrorType::BadData,
            message: format!(
                "decompressed body of {len} bytes exceeds the limit of {MAX_DECOMPRESSED_BYTES} bytes"
            ),
        });
    }
    out.resize(len, 0);
    let n = snap::raw::Decoder::new()
        .decompress(body, out)
        .map_err(snappy)?;
    out.truncate(n);
    Ok(())
}

/// A decoded write request: its float series and its native-histogram samples.
pub type WriteBatch = (Vec<Series>, Vec<(Labels, HistogramSample)>);

/// Validates and converts the request's series into a batch of float series and one of
/// native-histogram samples.
pub fn to_batch(req: WriteRequest) -> Result<WriteBatch, ApiError> {
    let mut batch = Vec::with_capacity(req.timeseries.len());
    let mut histograms = Vec::new();
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
        for h in &ts.histograms {
            let sample = to_histogram_sample(h)
                .map_err(|e| ApiError::bad_data(format!("invalid histogram for {labels}: {e}")))?;
            histograms.push((labels.clone(), sample));
        }
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

/// The request's exemplars with their series' labels.
pub fn exemplars_of(req: &WriteRequest) -> Vec<(Labels, model::exemplars::Exemplar)> {
    let pairs =
        |l: &[Label]| Labels::from_pairs(l.iter().map(|l| (l.name.clone(), l.value.clone())));
    req.timeseries
        .iter()
        .filter(|ts| !ts.exemplars.is_empty())
        .flat_map(|ts| {
            let series = pairs(&ts.labels);
            ts.exemplars.iter().map(move |e| {
                (
                    series.clone(),
                    model::exemplars::Exemplar {
                        labels: pairs(&e.labels),
                        value: e.value,
                        ts: e.timestamp,
                    },
                )
            })
        })
        .collect()
}

/// The request's metric metadata (`prometheus.MetricMetadata.MetricType` names).
pub fn metadata_of(req: &WriteRequest) -> Vec<scrape::MetadataEntry> {
    use super::remote_write_v2::TYPES;
    req.metadata
        .iter()
        .filter(|m| !m.metric_family_name.is_empty())
        .map(|m| scrape::MetadataEntry {
            metric: m.metric_family_name.clone(),
            metric_type: TYPES
                .get(m.r#type as usize)
                .unwrap_or(&"unknown")
                .to_string(),
            help: m.help.clone(),
            unit: m.unit.clone(),
        })
        .collect()
}

/// Which protobuf message a request's `Content-Type` names (Remote-Write 2.0's negotiation):
/// none or a bare `application/x-protobuf` is 1.0; anything else than the two known messages
/// is an error for a 415.
pub fn message_of(content_type: Option<&str>) -> Result<&'static str, String> {
    let Some(ct) = content_type.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(super::remote_write_v2::MESSAGE_V1);
    };
    let mut parts = ct.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/x-protobuf") {
        return Err(format!(
            "expected application/x-protobuf as the first (media) part, got {ct} content-type"
        ));
    }
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            return Err(format!(
                "expected parameters to be key-values, got {p} in {ct} content-type"
            ));
        };
        if k.trim() == "proto" {
            return match v.trim().trim_matches('"') {
                super::remote_write_v2::MESSAGE_V1 => Ok(super::remote_write_v2::MESSAGE_V1),
                super::remote_write_v2::MESSAGE_V2 => Ok(super::remote_write_v2::MESSAGE_V2),
                other => Err(format!(
                    "got {ct} content type; unknown type for remote write protobuf message {other}, supported: {}, {}",
                    super::remote_write_v2::MESSAGE_V1,
                    super::remote_write_v2::MESSAGE_V2
                )),
            };
        }
    }
    Ok(super::remote_write_v2::MESSAGE_V1)
}

/// A plain-text answer, as Prometheus' write handler gives (`http.Error`).
fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    let mut m = msg.into();
    m.push('\n');
    (status, m).into_response()
}

/// `POST /api/v1/write`: Remote-Write 1.0 or 2.0 by `Content-Type`; 415 for another message
/// or another Content-Encoding than snappy.
pub async fn receive(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let message = match message_of(content_type) {
        Ok(m) => m,
        Err(e) => return Ok(text(StatusCode::UNSUPPORTED_MEDIA_TYPE, e)),
    };
    if let Some(enc) = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
    {
        if !enc.eq_ignore_ascii_case("snappy") {
            return Ok(text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "{enc} encoding (compression) is not accepted by this server; only snappy is acceptable"
                ),
            ));
        }
    }
    if message == super::remote_write_v2::MESSAGE_V2 {
        return Ok(receive_v2(&state, &headers, &body).await);
    }
    let sink = super::tenant::sink(&state, &headers);
    let (stats, exemplars, metadata) = match super::remote_write_direct::decode_body(&body)? {
        // The common request (labels and float samples): no label sets built for known series.
        Some(batch) => {
            let stats = tokio::task::spawn_blocking(move || {
                let stats = sink.append_encoded(&batch);
                super::remote_write_direct::recycle(batch);
                stats
            })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
            (stats, Vec::new(), Vec::new())
        }
        None => {
            let req = decode_body(&body)?;
            let exemplars = exemplars_of(&req);
            let metadata = metadata_of(&req);
            let (batch, histograms) = to_batch(req)?;
            let stats = tokio::task::spawn_blocking(move || {
                let mut stats = sink.append_series(&batch)?;
                stats.merge(sink.append_histograms(&histograms)?);
                Ok::<_, model::StorageError>(stats)
            })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
            (stats, exemplars, metadata)
        }
    };
    let stats = match stats {
        // A tenant's limit (`tenants:` in pharos.yml): 429, so the sender backs off and retries.
        Err(model::StorageError::Limit(m)) => {
            return Ok((StatusCode::TOO_MANY_REQUESTS, m).into_response())
        }
        // A full disk: 507, which senders retry; writes resume once space is freed.
        Err(e) if e.disk_full().is_some() => {
            let m = e.disk_full().unwrap_or_default();
            return Ok((StatusCode::INSUFFICIENT_STORAGE, m).into_response());
        }
        r => r?,
    };
    let store = state.scrape.exemplars();
    for (series, e) in exemplars {
        let _ = store.add(&series, e);
    }
    state.scrape.record_metadata(metadata);
    let problems = rejected(&stats);
    if problems.is_empty() {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        // As Prometheus: the valid samples are stored; the sender is told what was rejected.
        Ok((StatusCode::BAD_REQUEST, problems.join("; ")).into_response())
    }
}

/// What a sink's stats say was refused, one message per kind.
fn rejected(stats: &model::AppendStats) -> Vec<String> {
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
    problems
}

/// A 2.0 request: the spec's partial write (valid series stored, a 400 naming the others) and
/// the `X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written` headers on every
/// answer, 0 where nothing was written.
async fn receive_v2(state: &Arc<AppState>, headers: &HeaderMap, body: &[u8]) -> Response {
    let written = |status: StatusCode, msg: String, counts: [usize; 3]| {
        let mut resp = if msg.is_empty() {
            status.into_response()
        } else {
            text(status, msg)
        };
        let h = resp.headers_mut();
        for (name, n) in [
            ("X-Prometheus-Remote-Write-Samples-Written", counts[0]),
            ("X-Prometheus-Remote-Write-Histograms-Written", counts[1]),
            ("X-Prometheus-Remote-Write-Exemplars-Written", counts[2]),
        ] {
            h.insert(name, axum::http::HeaderValue::from(n));
        }
        resp
    };
    let raw = match decompress(body) {
        Ok(r) => r,
        Err(e) => return written(StatusCode::BAD_REQUEST, e.message, [0; 3]),
    };
    let req = match super::remote_write_v2::Request::decode(raw.as_slice()) {
        Ok(r) => r,
        Err(e) => {
            return written(
                StatusCode::BAD_REQUEST,
                format!("protobuf decode error: {e}"),
                [0; 3],
            )
        }
    };
    let created = state
        .config
        .read()
        .features
        .created_timestamp_zero_ingestion();
    let decoded = super::remote_write_v2::decode_request_with(&req, created);
    drop(req);
    let mut errors = decoded.errors;
    let (series, histograms) = (decoded.series, decoded.histograms);
    let zeros = decoded.created;
    let sink = super::tenant::sink(state, headers);
    let stored = tokio::task::spawn_blocking(move || {
        // Created timestamps first (their refusals are no error of the request).
        zeros.append(sink.as_ref())?;
        let floats = sink.append_series(&series)?;
        let hists = sink.append_histograms(&histograms)?;
        Ok::<_, model::StorageError>((floats, hists))
    })
    .await;
    let (floats, hists) = match stored {
        Ok(Ok(s)) => s,
        Ok(Err(model::StorageError::Limit(m))) => {
            return written(StatusCode::TOO_MANY_REQUESTS, m, [0; 3])
        }
        // Nothing acknowledged: the sender retries the whole request (507 on a full disk).
        Ok(Err(e)) if e.disk_full().is_some() => {
            let m = e.disk_full().unwrap_or_default();
            return written(StatusCode::INSUFFICIENT_STORAGE, m, [0; 3]);
        }
        Ok(Err(e)) => return written(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), [0; 3]),
        Err(e) => return written(StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), [0; 3]),
    };
    errors.extend(rejected(&floats));
    errors.extend(
        rejected(&hists)
            .into_iter()
            .map(|p| p.replace("samples", "histograms")),
    );
    let store = state.scrape.exemplars();
    let mut exemplars = 0;
    for (series, e) in decoded.exemplars {
        match store.add(&series, e) {
            // A duplicate is no error (Prometheus' head appender ignores it).
            Ok(()) | Err(model::exemplars::ExemplarError::Duplicate) => exemplars += 1,
            Err(model::exemplars::ExemplarError::OutOfOrder) => {
                errors.push(format!("out of order exemplar for series {series}"))
            }
            Err(e) => tracing::debug!("remote_write 2.0: exemplar of {series} not kept: {e}"),
        }
    }
    state.scrape.record_metadata(decoded.metadata);
    let counts = [floats.appended, hists.appended, exemplars];
    if errors.is_empty() {
        written(StatusCode::NO_CONTENT, String::new(), counts)
    } else {
        written(StatusCode::BAD_REQUEST, errors.join("\n"), counts)
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
        assert!(h.is_empty());
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].labels.get("job"), Some("x"));
        assert_eq!(batch[0].samples.len(), 1);
    }

    #[test]
    fn native_histograms_decoded() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: "__name__".into(),
                    value: "lat".into(),
                }],
                histograms: vec![
                    Histogram {
                        count_int: Some(6),
                        sum: 9.5,
                        schema: 0,
                        zero_threshold: 0.001,
                        zero_count_int: Some(1),
                        positive_spans: vec![BucketSpan {
                            offset: 1,
                            length: 3,
                        }],
                        positive_deltas: vec![2, -1, 1],
                        timestamp: 5000,
                        ..Default::default()
                    },
                    Histogram {
                        count_float: Some(1.5),
                        schema: model::histogram::CUSTOM_BUCKETS_SCHEMA,
                        positive_spans: vec![BucketSpan {
                            offset: 0,
                            length: 2,
                        }],
                        positive_counts: vec![0.5, 1.0],
                        custom_values: vec![0.25],
                        reset_hint: 3,
                        timestamp: 6000,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            metadata: vec![],
        };
        let decoded = decode_body(&encode(&req)).map_err(|e| e.message).unwrap();
        let (batch, h) = to_batch(decoded).map_err(|e| e.message).unwrap();
        assert!(batch.is_empty());
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].1.t, 5000);
        assert_eq!(h[0].1.h.positive(), vec![(1, 2.0), (2, 1.0), (3, 2.0)]);
        assert_eq!((h[0].1.h.count, h[0].1.h.zero_count), (6.0, 1.0));
        assert_eq!(h[1].1.h.counter_reset_hint, CounterResetHint::Gauge);
        assert_eq!(h[1].1.h.custom_values, vec![0.25]);
        // Spans that do not match the bucket count are a 400.
        let mut bad = req.clone();
        bad.timeseries[0].histograms[0].positive_deltas.pop();
        let decoded = decode_body(&encode(&bad)).map_err(|e| e.message).unwrap();
        assert!(to_batch(decoded).is_err());
    }

    #[test]
    fn float_histograms_round_trip_the_wire() {
        let h = model::histogram::parse_histogram(
            "{{schema:1 count:5.5 sum:2.5 z_bucket:1 z_bucket_w:0.001 buckets:[1 2.5] n_buckets:[1] counter_reset_hint:gauge}}",
        )
        .map_err(|e| e.to_string())
        .unwrap()
        .histogram;
        let wire = from_float_histogram(7, &h);
        assert_eq!(wire.timestamp, 7);
        assert_eq!(to_float_histogram(&wire), Ok(h));
    }

    /// An integer histogram (count_int, bucket deltas) stays one: stored as integer and sent
    /// on as it came in; a float one stays float.
    #[test]
    fn integer_and_float_histograms_keep_their_kind() {
        let int = Histogram {
            count_int: Some(6),
            zero_count_int: Some(1),
            sum: 2.5,
            schema: 0,
            zero_threshold: 0.001,
            positive_spans: vec![BucketSpan {
                offset: 1,
                length: 3,
            }],
            positive_deltas: vec![1, 2, -1],
            negative_spans: vec![BucketSpan {
                offset: 0,
                length: 1,
            }],
            negative_deltas: vec![1],
            reset_hint: 2,
            timestamp: 9,
            ..Default::default()
        };
        let s = to_histogram_sample(&int).unwrap();
        assert!(s.integer);
        assert_eq!(s.h.positive_buckets, vec![1.0, 3.0, 2.0]);
        assert_eq!(from_histogram_sample(&s), int);
        let float = from_float_histogram(9, &s.h);
        let f = to_histogram_sample(&float).unwrap();
        assert!(!f.integer);
        assert_eq!(from_histogram_sample(&f), float);
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
    fn exemplars_and_metadata_kept() {
        let l = |n: &str, v: &str| Label {
            name: n.into(),
            value: v.into(),
        };
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![l("__name__", "rpc_bucket"), l("le", "0.5")],
                exemplars: vec![Exemplar {
                    labels: vec![l("trace_id", "abc")],
                    value: 0.3,
                    timestamp: 1000,
                }],
                ..Default::default()
            }],
            metadata: vec![MetricMetadata {
                r#type: 3,
                metric_family_name: "rpc".into(),
                help: "RPCs".into(),
                unit: "seconds".into(),
            }],
        };
        let ex = exemplars_of(&req);
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].0.get("le"), Some("0.5"));
        assert_eq!(ex[0].1.labels.get("trace_id"), Some("abc"));
        assert_eq!((ex[0].1.value, ex[0].1.ts), (0.3, 1000));
        let md = metadata_of(&req);
        assert_eq!(md[0].metric_type, "histogram");
        assert_eq!(md[0].help, "RPCs");
    }

    #[test]
    fn content_type_negotiation() {
        use super::super::remote_write_v2::{MESSAGE_V1, MESSAGE_V2};
        assert_eq!(message_of(None), Ok(MESSAGE_V1));
        assert_eq!(message_of(Some("application/x-protobuf")), Ok(MESSAGE_V1));
        assert_eq!(
            message_of(Some("application/x-protobuf;proto=prometheus.WriteRequest")),
            Ok(MESSAGE_V1)
        );
        assert_eq!(
            message_of(Some(
                "application/x-protobuf; proto=io.prometheus.write.v2.Request"
            )),
            Ok(MESSAGE_V2)
        );
        assert!(message_of(Some("application/x-protobuf;proto=foo.Bar")).is_err());
        assert!(message_of(Some("application/json")).is_err());
        assert!(message_of(Some("application/x-protobuf;junk")).is_err());
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
