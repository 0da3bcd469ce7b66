//! OTLP exponential histograms against the real binary: stored as native histograms (scale 10
//! merged down to schema 8), answered by `histogram_count`/`_sum`/`_quantile` and in the JSON
//! `histogram` shape, delta points summed with `delta_temporality: convert`, explicit histograms
//! as NHCB with `convert_histograms_to_nhcb`, and all of it still there after `kill -9`.

use crate::common::{instant_query as query, quiet_config, Pharos};
use serde_json::{json, Value};

fn exp_point(t_ns: i64, scale: i32, offset: i32, counts: &[u64], sum: f64) -> Value {
    let count: u64 = counts.iter().sum::<u64>() + 1;
    json!({
        "attributes": [{"key": "route", "value": {"stringValue": "/a"}}],
        "timeUnixNano": t_ns.to_string(),
        "count": count.to_string(),
        "sum": sum,
        "scale": scale,
        "zeroCount": "1",
        "positive": {"offset": offset, "bucketCounts": counts.iter().map(u64::to_string).collect::<Vec<_>>()},
    })
}

fn request(metrics: Vec<Value>) -> Value {
    json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
        "scopeMetrics": [{"metrics": metrics}],
    }]})
}

fn post(p: &Pharos, body: &Value) -> (u16, String) {
    let r = reqwest::blocking::Client::new()
        .post(p.url("/api/v1/otlp/v1/metrics"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

fn scalar(p: &Pharos, q: &str) -> f64 {
    let r = query(p, q);
    let v = r[0]["value"][1]
        .as_str()
        .unwrap_or_else(|| panic!("{q}: {r}"));
    v.parse().unwrap()
}

#[test]
fn otlp_exponential_histograms_are_native_histograms() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = quiet_config(
        dir.path(),
        "otlp:\n  delta_temporality: convert\n  convert_histograms_to_nhcb: true\n",
    );
    let data = dir.path().join("data");
    let p = Pharos::start(&data, Some(&cfg));
    let now_ms = chrono::Utc::now().timestamp_millis() - 2000;
    let ns = |ms: i64| ms * 1_000_000;

    // Cumulative, scale 10: OTLP buckets 0..7 merge four to one into schema-8 buckets 1 and 2.
    let cumulative = json!({"name": "payload", "unit": "By", "exponentialHistogram": {
        "aggregationTemporality": 2,
        "dataPoints": [exp_point(ns(now_ms), 10, 0, &[1, 1, 1, 1, 2, 2, 2, 2], 12.5)],
    }});
    // Delta, scale 0: two exports of (1,2]:1, (2,4]:3 are summed into one running total.
    let delta = |t| {
        json!({"name": "latency", "unit": "s", "exponentialHistogram": {
            "aggregationTemporality": 1,
            "dataPoints": [exp_point(ns(t), 0, 0, &[1, 3], 9.0)],
        }})
    };
    let explicit = json!({"name": "rpc", "unit": "s", "histogram": {
        "aggregationTemporality": 2,
        "dataPoints": [{"timeUnixNano": ns(now_ms).to_string(), "count": "6", "sum": 3.0,
            "bucketCounts": ["1", "2", "3"], "explicitBounds": [0.1, 1.0]}],
    }});
    let (code, text) = post(
        &p,
        &request(vec![cumulative, delta(now_ms - 1000), explicit]),
    );
    assert_eq!(code, 200, "{text}");
    let (code, text) = post(&p, &request(vec![delta(now_ms)]));
    assert_eq!(code, 200, "{text}");

    let check = |p: &Pharos| {
        let sel = r#"payload_bytes{job="svc",route="/a"}"#;
        assert_eq!(scalar(p, &format!("histogram_count({sel})")), 13.0);
        assert_eq!(scalar(p, &format!("histogram_sum({sel})")), 12.5);
        // No classic series were made of it.
        assert_eq!(query(p, "payload_bytes_bucket"), json!([]));
        let raw = query(p, sel);
        let h = &raw[0]["histogram"][1];
        assert_eq!(h["count"], "13", "{raw}");
        // Zero bucket [-1e-128, 1e-128], then schema 8's buckets (1, 2^(1/256)] and
        // (2^(1/256), 2^(2/256)].
        let buckets = h["buckets"].as_array().unwrap();
        assert_eq!(buckets.len(), 3, "{raw}");
        assert_eq!(buckets[0][3], "1");
        assert_eq!(buckets[1][1], "1");
        let upper: f64 = buckets[1][2].as_str().unwrap().parse().unwrap();
        assert!((upper - 2f64.powf(1.0 / 256.0)).abs() < 1e-12, "{upper}");
        assert_eq!(buckets[1][3], "4");
        assert_eq!(buckets[2][3], "8");
        // Rank 6.5 of 13 falls in bucket 2 (ranks 5..13).
        let q = scalar(p, &format!("histogram_quantile(0.5, {sel})"));
        assert!(
            q > 2f64.powf(1.0 / 256.0) && q <= 2f64.powf(2.0 / 256.0),
            "{q}"
        );

        // The delta points summed: count 5 + 5, buckets (1,2]: 2, (2,4]: 6.
        assert_eq!(scalar(p, "histogram_count(latency_seconds)"), 10.0);
        assert_eq!(scalar(p, "histogram_sum(latency_seconds)"), 18.0);
        let f = scalar(p, "histogram_fraction(0, 2, latency_seconds)");
        assert!((f - 0.4).abs() < 1e-9, "{f}");

        // NHCB: histogram_quantile over custom bounds 0.1 and 1.
        assert_eq!(scalar(p, "histogram_count(rpc_seconds)"), 6.0);
        let q = scalar(p, "histogram_quantile(0.5, rpc_seconds)");
        assert!((q - 1.0).abs() < 1e-9, "{q}");
    };
    check(&p);

    // Scale -5 is refused as Prometheus refuses it, with its message.
    let bad = json!({"name": "bad", "exponentialHistogram": {"aggregationTemporality": 2,
        "dataPoints": [exp_point(ns(now_ms), -5, 0, &[1], 1.0)]}});
    let (code, text) = post(&p, &request(vec![bad]));
    assert_eq!(code, 400);
    assert!(text.contains("Scale must be >= -4, was -5"), "{text}");

    p.kill9();
    let p = Pharos::start(&data, Some(&cfg));
    check(&p);
}
