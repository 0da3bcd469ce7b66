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

/// A rough size, so the buffer is allocated about once (~40 bytes per `[ts,"value"],` pair).
fn estimate(value: &Value) -> usize {
    match value {
        Value::Matrix(series) => series
            .iter()
            .map(|s| 64 + s.samples.len() * 40)
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
pub(crate) fn float(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v == f64::INFINITY {
        out.extend_from_slice(b"+Inf");
    } else if v == f64::NEG_INFINITY {
        out.extend_from_slice(b"-Inf");
    } else if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() { b"-0" } else { b"0" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        // Integral values (counters, counts): their digits, as `{v}` prints them.
        if v < 0.0 {
            out.push(b'-');
        }
        uint(out, v.abs() as u64);
    } else {
        shortest_plain(out, v);
    }
}

/// The shortest digits that read back as `v` (Ryū, through serde_json's formatter, which prints
/// `1.5e-7` / `1e21` forms), rewritten without an exponent: Go's FormatFloat 'f', -1, several
/// times faster than Rust's `{v}` (which has the same digits except on exact ties between two
/// shortest texts, where Go and Ryū round half to even and `{v}` rounds up).
fn shortest_plain(out: &mut Vec<u8>, v: f64) {
    use serde_json::ser::Formatter;
    let mut buf = [0u8; 40];
    let mut w = &mut buf[..];
    if serde_json::ser::CompactFormatter
        .write_f64(&mut w, v)
        .is_err()
    {
        let _ = write!(out, "{v}");
        return;
    }
    let len = 40 - w.len();
    let text = buf.get(..len).unwrap_or(&[]);
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (mantissa, exponent) = match text.iter().position(|&c| c == b'e') {
        Some(i) => {
            let exp = std::str::from_utf8(text.get(i + 1..).unwrap_or(&[]))
                .ok()
                .and_then(|e| e.parse::<i32>().ok());
            match exp {
                Some(e) => (text.get(..i).unwrap_or(&[]), e),
                None => {
                    let _ = write!(out, "{v}");
                    return;
                }
            }
        }
        None => (text, 0),
    };
    // Digits without the point, and where the point goes (digits before it).
    let mut digits = [0u8; 40];
    let mut n = 0usize;
    let mut point = None;
    for &c in mantissa {
        if c == b'.' {
            point = Some(n as i32);
        } else if let Some(d) = digits.get_mut(n) {
            *d = c;
            n += 1;
        }
    }
    let mut point = point.unwrap_or(n as i32) + exponent;
    let mut digits = digits.get(..n).unwrap_or(&[]);
    while let Some((b'0', rest)) = digits.split_first() {
        digits = rest;
        point -= 1;
    }
    while let Some((b'0', rest)) = digits.split_last() {
        digits = rest;
    }
    if negative {
        out.push(b'-');
    }
    if digits.is_empty() {
        out.push(b'0');
    } else if point <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', point.unsigned_abs() as usize));
        out.extend_from_slice(digits);
    } else if point as usize >= digits.len() {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', point as usize - digits.len()));
    } else {
        let (int, frac) = digits.split_at(point as usize);
        out.extend_from_slice(int);
        out.push(b'.');
        out.extend_from_slice(frac);
    }
}

/// An unsigned integer's decimal digits.
fn uint(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(i..).unwrap_or(&[]));
}

/// Milliseconds as exact decimal seconds without trailing zeros (`1435781451.781`, `1.5`, `2`),
/// the same text as `json::timestamp`.
fn timestamp(out: &mut Vec<u8>, ms: i64) {
    let abs = ms.unsigned_abs();
    let (secs, frac) = (abs / 1000, abs % 1000);
    if ms < 0 && (secs > 0 || frac > 0) {
        out.push(b'-');
    }
    uint(out, secs);
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

    /// The fast float text equals Rust's `{v}` (Go's 'f', -1) for special, integral, tiny, huge
    /// and pseudo-random values, except on exact ties, where it rounds half to even as Go does.
    #[test]
    fn floats_match_display() {
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            0.3,
            1.5e-7,
            1e-7,
            1e21,
            1e22,
            1e15,
            1e16,
            -1e16,
            123456789012345680000.0,
            5e-324,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            0.000001,
            0.0000012345,
            9007199254740993.0,
            1e300,
            2.5,
            100.0,
            999999999999999.9,
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(f64::from_bits(x));
            values.push((x % 1_000_000) as f64 / 1000.0);
            values.push((x >> 11) as f64 / (1u64 << 53) as f64 * 1e6);
        }
        for v in values.into_iter().filter(|v| v.is_finite()) {
            let mut out = Vec::new();
            float(&mut out, v);
            let got = String::from_utf8(out).unwrap();
            let display = format!("{v}");
            if got != display {
                // An exact tie between two shortest texts (1658206780088562.25): Go's strconv,
                // like Ryū, rounds half to even (…62.2) where Rust's `{v}` rounds up (…62.3).
                assert_eq!(got.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{v:?}");
                assert_eq!(got.len(), display.len(), "{v:?}: {got} vs {display}");
                assert_eq!(got[..got.len() - 1], display[..display.len() - 1], "{v:?}");
            }
        }
        let mut out = Vec::new();
        float(&mut out, 1658206780088562.0 + 0.25);
        assert_eq!(out, b"1658206780088562.2");
    }
}
