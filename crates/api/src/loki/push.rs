//! `POST /loki/api/v1/push`: JSON (`{"streams":[{"stream":{..},"values":[[ts,line,{meta}]]}]}`,
//! also the legacy `labels`/`entries` shape) and protobuf `logproto.PushRequest` in a snappy
//! block, optionally gzip/deflate Content-Encoding. Decoders are apart from the handler and
//! never panic on any input.

use super::{storage_error, text, LokiState};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use model::{Labels, LogEntry, LogSink, LogStream};
use std::io::Read;
use std::sync::Arc;

/// Largest decompressed push body.
pub const MAX_DECODED_BYTES: usize = 128 << 20;

#[derive(Clone, PartialEq, prost::Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StreamAdapter {
    #[prost(string, tag = "1")]
    pub labels: String,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    #[prost(string, tag = "2")]
    pub line: String,
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPair>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelPair {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// Parses the `{a="b", c="d"}` labels string of a protobuf stream.
pub fn parse_labels(s: &str) -> Result<Labels, String> {
    let ms =
        logs::logql::parse_selector(s).map_err(|e| format!("error parsing labels {s:?}: {e}"))?;
    let mut pairs = Vec::with_capacity(ms.len());
    for m in ms {
        if m.op != model::MatchOp::Equal {
            return Err(format!(
                "error parsing labels {s:?}: only = is allowed in stream labels"
            ));
        }
        pairs.push((m.name, m.value));
    }
    Ok(Labels::from_pairs(pairs))
}

pub fn decode_protobuf(body: &[u8]) -> Result<Vec<LogStream>, String> {
    let len = snap::raw::decompress_len(body).map_err(|e| format!("snappy: {e}"))?;
    if len > MAX_DECODED_BYTES {
        return Err(format!(
            "decompressed push body of {len} bytes exceeds {MAX_DECODED_BYTES}"
        ));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("snappy: {e}"))?;
    let req =
        <PushRequest as prost::Message>::decode(&raw[..]).map_err(|e| format!("protobuf: {e}"))?;
    let mut out = Vec::with_capacity(req.streams.len());
    for s in req.streams {
        let labels = parse_labels(&s.labels)?;
        let entries = s
            .entries
            .into_iter()
            .map(|e| {
                let ts = e.timestamp.unwrap_or_default();
                LogEntry {
                    ts_ns: ts
                        .seconds
                        .saturating_mul(1_000_000_000)
                        .saturating_add(ts.nanos as i64),
                    line: e.line,
                    metadata: e
                        .structured_metadata
                        .into_iter()
                        .map(|p| (p.name, p.value))
                        .collect(),
                }
            })
            .collect();
        out.push(LogStream { labels, entries });
    }
    Ok(out)
}

fn json_ts(v: &serde_json::Value) -> Result<i64, String> {
    match v {
        serde_json::Value::String(s) => {
            if let Ok(n) = s.parse::<i64>() {
                return Ok(n);
            }
            chrono::DateTime::parse_from_rfc3339(s)
                .ok()
                .and_then(|d| d.timestamp_nanos_opt())
                .ok_or_else(|| {
                    format!(
                        "invalid timestamp {s:?}: expected nanoseconds since the epoch as a string"
                    )
                })
        }
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| "invalid timestamp".into()),
        _ => Err("invalid timestamp: expected a string of nanoseconds".into()),
    }
}

fn json_meta(v: Option<&serde_json::Value>) -> Result<Vec<(String, String)>, String> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => Ok((k.clone(), s.clone())),
                other => Ok((k.clone(), other.to_string())),
            })
            .collect(),
        Some(_) => Err("structured metadata must be an object of strings".into()),
    }
}

pub fn decode_json(body: &[u8]) -> Result<Vec<LogStream>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("failed to parse push request: {e}"))?;
    let streams = v
        .get("streams")
        .and_then(|s| s.as_array())
        .ok_or("failed to parse push request: missing \"streams\" array")?;
    let mut out = Vec::with_capacity(streams.len());
    for (i, s) in streams.iter().enumerate() {
        let labels = if let Some(m) = s.get("stream").and_then(|m| m.as_object()) {
            let mut pairs = Vec::with_capacity(m.len());
            for (k, v) in m {
                let v = v.as_str().ok_or_else(|| {
                    format!("streams[{i}].stream.{k}: label values must be strings")
                })?;
                pairs.push((k.clone(), v.to_string()));
            }
            Labels::from_pairs(pairs)
        } else if let Some(l) = s.get("labels").and_then(|l| l.as_str()) {
            parse_labels(l)?
        } else {
            return Err(format!("streams[{i}]: missing \"stream\" object"));
        };
        let mut entries = Vec::new();
        if let Some(values) = s.get("values").and_then(|v| v.as_array()) {
            for (j, e) in values.iter().enumerate() {
                let a = e.as_array().ok_or_else(|| {
                    format!("streams[{i}].values[{j}]: expected [timestamp, line]")
                })?;
                if a.len() < 2 || a.len() > 3 {
                    return Err(format!("streams[{i}].values[{j}]: expected [timestamp, line] or [timestamp, line, metadata]"));
                }
                let ts_ns = json_ts(&a[0]).map_err(|e| format!("streams[{i}].values[{j}]: {e}"))?;
                let line = a[1]
                    .as_str()
                    .ok_or_else(|| format!("streams[{i}].values[{j}]: the line must be a string"))?
                    .to_string();
                let metadata =
                    json_meta(a.get(2)).map_err(|e| format!("streams[{i}].values[{j}]: {e}"))?;
                entries.push(LogEntry {
                    ts_ns,
                    line,
                    metadata,
                });
            }
        } else if let Some(es) = s.get("entries").and_then(|v| v.as_array()) {
            for (j, e) in es.iter().enumerate() {
                let ts = e
                    .get("ts")
                    .or_else(|| e.get("timestamp"))
                    .ok_or_else(|| format!("streams[{i}].entries[{j}]: missing ts"))?;
                let ts_ns = json_ts(ts).map_err(|e| format!("streams[{i}].entries[{j}]: {e}"))?;
                let line = e
                    .get("line")
                    .and_then(|l| l.as_str())
                    .ok_or_else(|| format!("streams[{i}].entries[{j}]: missing line"))?
                    .to_string();
                entries.push(LogEntry {
                    ts_ns,
                    line,
                    metadata: Vec::new(),
                });
            }
        } else {
            return Err(format!("streams[{i}]: missing \"values\" array"));
        }
        out.push(LogStream { labels, entries });
    }
    Ok(out)
}

/// Undoes `Content-Encoding: gzip|deflate`.
pub fn decode_content_encoding(headers: &HeaderMap, body: Bytes) -> Result<Vec<u8>, String> {
    let enc = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mut out = Vec::new();
    match enc.as_str() {
        "" | "identity" => return Ok(body.to_vec()),
        "gzip" | "x-gzip" => {
            flate2::read::GzDecoder::new(&body[..])
                .take(MAX_DECODED_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("gzip: {e}"))?;
        }
        "deflate" => {
            flate2::read::ZlibDecoder::new(&body[..])
                .take(MAX_DECODED_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("deflate: {e}"))?;
        }
        other => return Err(format!("unsupported Content-Encoding {other:?}")),
    }
    if out.len() > MAX_DECODED_BYTES {
        return Err(format!(
            "decompressed body exceeds {MAX_DECODED_BYTES} bytes"
        ));
    }
    Ok(out)
}

pub async fn push(State(st): State<Arc<LokiState>>, headers: HeaderMap, body: Bytes) -> Response {
    let tenant = match st.tenant(&headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let decoded = decode_content_encoding(&headers, body).and_then(|b| {
        if ct.starts_with("application/json") {
            decode_json(&b)
        } else {
            decode_protobuf(&b)
        }
    });
    let streams = match decoded {
        Ok(s) => s,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let store = st.store.clone();
    match tokio::task::spawn_blocking(move || store.push(&tenant, streams)).await {
        Ok(Ok(_)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e)) => storage_error(e),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn json_push() {
        let s = decode_json(br#"{"streams":[{"stream":{"job":"a"},"values":[["1700000000000000000","hi",{"trace_id":"t1"}],["1700000000000000001","yo"]]}]}"#).unwrap();
        assert_eq!(s[0].labels, Labels::from_pairs([("job", "a")]));
        assert_eq!(
            s[0].entries[0].metadata,
            vec![("trace_id".to_string(), "t1".to_string())]
        );
        assert_eq!(s[0].entries[1].ts_ns, 1_700_000_000_000_000_001);
        assert!(decode_json(b"{").is_err());
        assert!(decode_json(br#"{"streams":[{"stream":{"a":1},"values":[]}]}"#).is_err());
        assert!(
            decode_json(br#"{"streams":[{"stream":{"a":"b"},"values":[["x","y"]]}]}"#).is_err()
        );
    }

    #[test]
    fn proto_push() {
        let req = PushRequest {
            streams: vec![StreamAdapter {
                labels: r#"{job="a", env="p"}"#.into(),
                entries: vec![EntryAdapter {
                    timestamp: Some(Timestamp {
                        seconds: 5,
                        nanos: 7,
                    }),
                    line: "l".into(),
                    structured_metadata: vec![LabelPair {
                        name: "k".into(),
                        value: "v".into(),
                    }],
                }],
                hash: 0,
            }],
        };
        let raw = prost::Message::encode_to_vec(&req);
        let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        let s = decode_protobuf(&body).unwrap();
        assert_eq!(s[0].labels.get("env"), Some("p"));
        assert_eq!(s[0].entries[0].ts_ns, 5_000_000_007);
        assert!(decode_protobuf(b"garbage").is_err());
    }

    proptest! {
        #[test]
        fn decoders_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_json(&b);
            let _ = decode_protobuf(&b);
            let c = snap::raw::Encoder::new().compress_vec(&b).unwrap();
            let _ = decode_protobuf(&c);
        }
        #[test]
        fn label_strings_never_panic(s in "\\PC{0,40}") {
            let _ = parse_labels(&s);
        }
    }
}
