//! Writes a query result's success envelope straight into a byte buffer, in Prometheus' own key
//! order (`{"status":"success","data":{"resultType":...,"result":[...]}}`). A dashboard's range
//! queries return a million `[ts,"value"]` pairs; building a `serde_json::Value` per pair (and
//! re-parsing every timestamp) cost more than evaluating the query, so this writes each number
//! directly with the same text as `json::timestamp` and `json::format_value`.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use promql::Value;
use std::io::Write;

/// The `/api/v1/query{,_range}` success response for `value`, keeping at most `limit` series
/// (or samples of a vector) when `limit > 0`.
pub fn success_response(
    value: &Value,
    limit: usize,
    warnings: &[String],
    infos: &[String],
) -> Response {
    let body = encode_success(value, limit, warnings, infos);
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// The envelope's bytes (see [`success_response`]).
pub fn encode_success(
    value: &Value,
    limit: usize,
    warnings: &[String],
    infos: &[String],
) -> Vec<u8> {
    let take = |n: usize| if limit > 0 { n.min(limit) } else { n };
    let mut out = Vec::with_capacity(estimate(value));
    out.extend_from_slice(b"{\"status\":\"success\",\"data\":{\"resultType\":");
    match value {
        Value::Scalar { t, v } => {
            out.extend_from_slice(b"\"scalar\",\"result\":");
            pair(&mut out, *t, *v);
        }
        Value::String { t, v } => {
            out.extend_from_slice(b"\"string\",\"result\":[");
            timestamp(&mut out, *t);
            out.push(b',');
            string(&mut out, v);
            out.push(b']');
        }
        Value::Vector(samples) => {
            out.extend_from_slice(b"\"vector\",\"result\":");
            list(
                &mut out,
                samples.iter().take(take(samples.len())),
                |out, s| {
                    out.extend_from_slice(b"{\"metric\":");
                    labels(out, &s.labels);
                    match &s.h {
                        Some(h) => {
                            out.extend_from_slice(b",\"histogram\":");
                            histogram_pair(out, s.t, h);
                        }
                        None => {
                            out.extend_from_slice(b",\"value\":");
                            pair(out, s.t, s.v);
                        }
                    }
                    out.push(b'}');
                },
            );
        }
        Value::Matrix(series) => {
            out.extend_from_slice(b"\"matrix\",\"result\":");
            list(
                &mut out,
                series.iter().take(take(series.len())),
                |out, s| {
                    out.extend_from_slice(b"{\"metric\":");
                    labels(out, &s.labels);
                    if !s.samples.is_empty() || s.histograms.is_empty() {
                        out.extend_from_slice(b",\"values\":");
                        list(out, s.samples.iter(), |out, p| pair(out, p.t, p.v));
                    }
                    if !s.histograms.is_empty() {
                        out.extend_from_slice(b",\"histograms\":");
                        list(out, s.histograms.iter(), |out, p| {
                            histogram_pair(out, p.t, &p.h)
                        });
                    }
                    out.push(b'}');
                },
            );
        }
    }
    out.push(b'}');
    for (key, texts) in [("warnings", warnings), ("infos", infos)] {
        if !texts.is_empty() {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":");
            list(&mut out, texts.iter(), |out, w| string(out, w));
        }
    }
    out.push(b'}');
    out
}

/// `[a,b,...]` with `each` writing one element.
fn list<T>(
    out: &mut Vec<u8>,
    items: impl Iterator<Item = T>,
    mut each: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(b'[');
    for (i, x) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        each(out, x);
    }
    out.push(b']');
}

/// A rough size, so the buffer is allocated about once (~32 bytes per pair).
fn estimate(value: &Value) -> usize {
    match value {
        Value::Matrix(series) => series
            .iter()
            .map(|s| 64 + s.samples.len() * 32)
            .sum::<usize>()
            .min(1 << 30),
        Value::Vector(samples) => samples.len() * 128 + 64,
        _ => 128,
    }
}

/// `[ts,{"count":"…","sum":"…","buckets":[[rule,"lower","upper","count"],…]}]`, as
/// Prometheus writes a native histogram (rule 0: lower bound open, 1: upper open, 3: both
/// closed; empty buckets left out).
fn histogram_pair(out: &mut Vec<u8>, t: i64, h: &model::FloatHistogram) {
    out.push(b'[');
    timestamp(out, t);
    out.extend_from_slice(b",{\"count\":\"");
    float(out, h.count);
    out.extend_from_slice(b"\",\"sum\":\"");
    float(out, h.sum);
    out.push(b'"');
    let buckets: Vec<model::histogram::Bucket> =
        h.buckets().into_iter().filter(|b| b.count != 0.0).collect();
    if !buckets.is_empty() {
        out.extend_from_slice(b",\"buckets\":");
        list(out, buckets.iter(), |out, b| {
            let rule = match (b.lower_inclusive, b.upper_inclusive) {
                (false, true) => 0,
                (true, false) => 1,
                (false, false) => 2,
                (true, true) => 3,
            };
            let _ = write!(out, "[{rule},\"");
            float(out, b.lower);
            out.extend_from_slice(b"\",\"");
            float(out, b.upper);
            out.extend_from_slice(b"\",\"");
            float(out, b.count);
            out.extend_from_slice(b"\"]");
        });
    }
    out.extend_from_slice(b"}]");
}

/// `[ts,"value"]`.
fn pair(out: &mut Vec<u8>, t: i64, v: f64) {
    out.push(b'[');
    timestamp(out, t);
    out.push(b',');
    out.push(b'"');
    float(out, v);
    out.push(b'"');
    out.push(b']');
}

/// A float as Prometheus writes sample values (Go's FormatFloat 'f', -1, and NaN/±Inf).
fn float(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v == f64::INFINITY {
        out.extend_from_slice(b"+Inf");
    } else if v == f64::NEG_INFINITY {
        out.extend_from_slice(b"-Inf");
    } else {
        // Same text as json::format_value (Go's FormatFloat 'f', -1). Writing to a Vec
        // cannot fail.
        let _ = write!(out, "{v}");
    }
}

/// Milliseconds as exact decimal seconds without trailing zeros (`1435781451.781`, `1.5`, `2`),
/// the same text as `json::timestamp`.
fn timestamp(out: &mut Vec<u8>, ms: i64) {
    let abs = ms.unsigned_abs();
    let (secs, frac) = (abs / 1000, abs % 1000);
    if ms < 0 && (secs > 0 || frac > 0) {
        out.push(b'-');
    }
    let _ = write!(out, "{secs}");
    if frac > 0 {
        let digits = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let len = if digits[2] != b'0' {
            3
        } else if digits[1] != b'0' {
            2
        } else {
            1
        };
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
}

/// A JSON string with serde_json's escaping.
fn string(out: &mut Vec<u8>, s: &str) {
    // Serializing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// A label set as a JSON object, in label order.
fn labels(out: &mut Vec<u8>, labels: &model::Labels) {
    out.push(b'{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, &l.name);
        out.push(b':');
        string(out, &l.value);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prometheus::json;
    use serde_json::{json as j, Value as Json};

    /// The Value-tree encoding this module replaces, kept as the reference.
    fn reference(value: &Value, warnings: &[String]) -> Json {
        let data = match value {
            Value::Scalar { t, v } => {
                j!({"resultType": "scalar", "result": json::sample_pair(*t, *v)})
            }
            Value::String { t, v } => {
                j!({"resultType": "string", "result": [json::timestamp(*t), v]})
            }
            Value::Vector(s) => {
                j!({"resultType": "vector", "result": s.iter().map(|s| j!({"metric": json::labels_json(&s.labels), "value": json::sample_pair(s.t, s.v)})).collect::<Vec<_>>()})
            }
            Value::Matrix(m) => {
                j!({"resultType": "matrix", "result": m.iter().map(|s| j!({"metric": json::labels_json(&s.labels), "values": s.samples.iter().map(|p| json::sample_pair(p.t, p.v)).collect::<Vec<_>>()})).collect::<Vec<_>>()})
            }
        };
        let mut body = j!({"status": "success", "data": data});
        if !warnings.is_empty() {
            body["warnings"] = j!(warnings);
        }
        body
    }

    fn labels_of(pairs: &[(&str, &str)]) -> model::Labels {
        model::Labels::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn timestamps_are_exact_decimal_seconds() {
        for (ms, text) in [
            (1_435_781_451_781, "1435781451.781"),
            (1500, "1.5"),
            (1050, "1.05"),
            (2000, "2"),
            (0, "0"),
            (-500, "-0.5"),
            (-2000, "-2"),
            (-1001, "-1.001"),
        ] {
            let mut out = Vec::new();
            timestamp(&mut out, ms);
            assert_eq!(String::from_utf8(out).unwrap(), text, "{ms}");
            assert_eq!(json::timestamp(ms).to_string(), text, "{ms}");
        }
    }

    #[test]
    fn native_histograms_as_prometheus_writes_them() {
        let h = model::histogram::parse_histogram(
            "{{schema:0 count:3 sum:4 z_bucket:1 z_bucket_w:0.5 buckets:[2 0]}}",
        )
        .unwrap()
        .histogram;
        let h = std::sync::Arc::new(h);
        let vector = Value::Vector(vec![promql::InstantSample {
            labels: labels_of(&[("job", "a")]),
            t: 1_500,
            v: 0.0,
            h: Some(h.clone()),
        }]);
        let text = String::from_utf8(encode_success(&vector, 0, &[], &[])).unwrap();
        assert_eq!(
            text,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a"},"histogram":[1.5,{"count":"3","sum":"4","buckets":[[3,"-0.5","0.5","1"],[0,"0.5","1","2"]]}]}]}}"#
        );
        let matrix = Value::Matrix(vec![promql::RangeSeries {
            labels: labels_of(&[]),
            samples: vec![],
            histograms: vec![promql::HPoint { t: 2_000, h }],
        }]);
        let text = String::from_utf8(encode_success(&matrix, 0, &[], &[])).unwrap();
        assert!(
            text.contains(r#"{"metric":{},"histograms":[[2,{"count":"3""#),
            "{text}"
        );
    }

    #[test]
    fn same_json_as_the_value_tree() {
        let matrix = Value::Matrix(vec![
            promql::RangeSeries {
                histograms: Vec::new(),
                labels: labels_of(&[("__name__", "up"), ("job", "a\"b\\c\n<x>")]),
                samples: vec![
                    model::Sample { t: 1_000, v: 1.0 },
                    model::Sample {
                        t: 16_500,
                        v: f64::NAN,
                    },
                    model::Sample { t: 31_010, v: -0.1 },
                    model::Sample {
                        t: 46_000,
                        v: f64::INFINITY,
                    },
                    model::Sample { t: 61_000, v: 1e21 },
                ],
            },
            promql::RangeSeries {
                histograms: Vec::new(),
                labels: labels_of(&[]),
                samples: vec![],
            },
        ]);
        let warnings = ["careful \"here\"".to_string()];
        for (v, w) in [(&matrix, &warnings[..]), (&matrix, &[][..])] {
            let ours: Json = serde_json::from_slice(&encode_success(v, 0, w, &[])).unwrap();
            assert_eq!(ours, reference(v, w));
        }
        let scalar = Value::Scalar { t: 1_234, v: 0.5 };
        let ours: Json = serde_json::from_slice(&encode_success(&scalar, 0, &[], &[])).unwrap();
        assert_eq!(ours, reference(&scalar, &[]));
        let string = Value::String {
            t: 5,
            v: "s\u{1}".into(),
        };
        let ours: Json = serde_json::from_slice(&encode_success(&string, 0, &[], &[])).unwrap();
        assert_eq!(ours, reference(&string, &[]));
        // Prometheus' key order, so a byte-level reader sees what Prometheus sends.
        let text = String::from_utf8(encode_success(&scalar, 0, &[], &[])).unwrap();
        assert_eq!(
            text,
            r#"{"status":"success","data":{"resultType":"scalar","result":[1.234,"0.5"]}}"#
        );
        // limit keeps the first series.
        let ours: Json = serde_json::from_slice(&encode_success(&matrix, 1, &[], &[])).unwrap();
        assert_eq!(ours["data"]["result"].as_array().map(Vec::len), Some(1));
    }
}
