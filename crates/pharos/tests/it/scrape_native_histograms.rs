//! Native histograms at scrape against the real binary: a target that answers in the delimited
//! protobuf format when asked for it (the Accept header Prometheus 3 sends with
//! `scrape_native_histograms`), its native histogram stored with the resolution cut down by
//! `native_histogram_bucket_limit`, classic series kept with `always_scrape_classic_histograms`,
//! and a text target's classic histogram stored as NHCB with
//! `convert_classic_histograms_to_nhcb`.

use crate::common::{instant_query as query, quiet_config, Pharos};
use prost::Message;
use scrape::protobuf::dto;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A schema-3 native histogram with 6 populated buckets plus classic buckets, as client_golang
/// exposes one with both kinds.
fn protobuf_body() -> Vec<u8> {
    let h = dto::Histogram {
        sample_count: 12,
        sample_sum: 30.0,
        bucket: vec![
            dto::Bucket {
                cumulative_count: 4,
                upper_bound: 1.0,
                ..Default::default()
            },
            dto::Bucket {
                cumulative_count: 11,
                upper_bound: 4.0,
                ..Default::default()
            },
        ],
        schema: 3,
        zero_threshold: 2.9e-39,
        zero_count: 2,
        // Buckets 1..=3 and 8..=10 of schema 3: (1, 2^(1/8)] … (2^(9/8), 2^(10/8)].
        positive_span: vec![
            dto::BucketSpan {
                offset: 1,
                length: 3,
            },
            dto::BucketSpan {
                offset: 4,
                length: 3,
            },
        ],
        positive_delta: vec![1, 1, 0, -1, 1, 0],
        ..Default::default()
    };
    let fam = dto::MetricFamily {
        name: "req_seconds".into(),
        help: "Request latency".into(),
        r#type: dto::HISTOGRAM,
        metric: vec![dto::Metric {
            label: vec![dto::LabelPair {
                name: "path".into(),
                value: "/a".into(),
            }],
            histogram: Some(h),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut out = Vec::new();
    fam.encode_length_delimited(&mut out).unwrap();
    out
}

const TEXT: &str = "# TYPE rpc_seconds histogram\n\
    rpc_seconds_bucket{le=\"0.1\"} 1\n\
    rpc_seconds_bucket{le=\"1\"} 3\n\
    rpc_seconds_bucket{le=\"+Inf\"} 6\n\
    rpc_seconds_sum 4.5\n\
    rpc_seconds_count 6\n";

/// Serves `/proto` (protobuf when the Accept header allows it, else text without histograms)
/// and `/text`, recording the Accept headers it got.
fn target() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepts = Arc::new(Mutex::new(Vec::new()));
    let seen = accepts.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let mut accept = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("accept:") {
                    accept = v.trim().to_string();
                }
            }
            let (ct, body): (&str, Vec<u8>) = if request_line.contains("/proto") {
                seen.lock().unwrap().push(accept.clone());
                if accept.contains("application/vnd.google.protobuf") {
                    (scrape::protobuf::MEDIA_TYPE, protobuf_body())
                } else {
                    ("text/plain; version=0.0.4", b"other 1\n".to_vec())
                }
            } else {
                ("text/plain; version=0.0.4", TEXT.as_bytes().to_vec())
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (port, accepts)
}

fn wait_for(p: &Pharos, q: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = query(p, q);
        if r.as_array().is_some_and(|a| !a.is_empty()) {
            return r;
        }
        assert!(Instant::now() < deadline, "no result for {q}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn value(r: &Value) -> f64 {
    r[0]["value"][1].as_str().unwrap().parse().unwrap()
}

#[test]
fn protobuf_native_histograms_and_nhcb_at_scrape() {
    let (port, accepts) = target();
    let dir = tempfile::tempdir().unwrap();
    let job = |name: &str, path: &str, extra: &str| {
        format!(
            "  - job_name: {name}\n    metrics_path: {path}\n{extra}    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
        )
    };
    let native = "    scrape_native_histograms: true\n    always_scrape_classic_histograms: true\n    native_histogram_bucket_limit: 4\n";
    let cfg = quiet_config(
        dir.path(),
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n{}{}{}",
            job("native", "/proto", native),
            job("plain", "/proto", ""),
            job(
                "nhcb",
                "/text",
                "    convert_classic_histograms_to_nhcb: true\n"
            ),
        ),
    );
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));

    // The native job asked for protobuf first, as Prometheus 3 with scrape_native_histograms.
    let r = wait_for(&p, r#"histogram_count(req_seconds{job="native"})"#);
    assert_eq!(value(&r), 12.0);
    assert_eq!(value(&wait_for(&p, r#"other{job="plain"}"#)), 1.0);
    let got = accepts.lock().unwrap().clone();
    assert!(
        got.iter().any(|a| a.starts_with(
            "application/vnd.google.protobuf;proto=io.prometheus.client.metricfamily;encoding=delimited;q=0.6,"
        )),
        "{got:?}"
    );
    // The job without native histograms keeps Prometheus' text-first default.
    assert!(
        got.iter()
            .any(|a| a.starts_with("application/openmetrics-text;version=1.0.0")),
        "{got:?}"
    );

    // Six buckets over the limit of 4: schema 3 → 2 gives 4 buckets, (1, 2^(2/4)] … .
    let raw = query(&p, r#"req_seconds{job="native"}"#);
    let buckets = raw[0]["histogram"][1]["buckets"]
        .as_array()
        .unwrap()
        .clone();
    // The zero bucket plus at most 4 exponential ones.
    assert!(buckets.len() <= 5, "{raw}");
    let first_upper: f64 = buckets[1][2].as_str().unwrap().parse().unwrap();
    assert!((first_upper - 2f64.powf(0.25)).abs() < 1e-12, "{raw}");
    assert_eq!(
        value(&query(&p, r#"histogram_sum(req_seconds{job="native"})"#)),
        30.0
    );
    let q = value(&query(
        &p,
        r#"histogram_quantile(0.5, req_seconds{job="native"})"#,
    ));
    assert!(q > 1.0 && q < 2.5, "{q}");
    // always_scrape_classic_histograms kept the classic series next to the native one.
    let b = wait_for(&p, r#"req_seconds_bucket{job="native",le="4.0"}"#);
    assert_eq!(value(&b), 11.0);
    assert_eq!(
        value(&query(&p, r#"req_seconds_bucket{job="native",le="+Inf"}"#)),
        12.0
    );

    // NHCB from a text target: one custom-bucket histogram, no classic series.
    let r = wait_for(&p, r#"histogram_count(rpc_seconds{job="nhcb"})"#);
    assert_eq!(value(&r), 6.0);
    let q = value(&query(
        &p,
        r#"histogram_quantile(0.5, rpc_seconds{job="nhcb"})"#,
    ));
    assert!((q - 1.0).abs() < 1e-9, "{q}");
    assert_eq!(
        query(&p, r#"rpc_seconds_bucket{job="nhcb"}"#),
        serde_json::json!([])
    );
}
