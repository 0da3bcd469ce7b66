//! Integration tests against the real binary: remote_write round trip, the query and metadata
//! APIs with Prometheus' JSON shapes, error answers, reload, and crash safety (kill -9).

use crate::common::{write_request, Pharos};
use serde_json::Value;

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

fn get_json(url: &str) -> (u16, Value) {
    let r = client().get(url).send().expect("request");
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

fn push(p: &Pharos, body: Vec<u8>) -> u16 {
    client()
        .post(p.url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .expect("push")
        .status()
        .as_u16()
}

#[test]
fn remote_write_then_query_api() {
    let dir = tempfile::tempdir().unwrap();
    let p = Pharos::start(dir.path(), None);
    let samples: Vec<(i64, f64)> = (0..60)
        .map(|i| (1_700_000_000_000 + i * 15_000, i as f64 * 10.0))
        .collect();
    let body = write_request(&[
        (
            vec![
                ("__name__", "http_requests_total"),
                ("method", "GET"),
                ("job", "app"),
            ],
            samples.clone(),
        ),
        (
            vec![
                ("__name__", "http_requests_total"),
                ("method", "POST"),
                ("job", "app"),
            ],
            samples.clone(),
        ),
    ]);
    assert_eq!(push(&p, body), 204);

    let t = 1_700_000_000 + 59 * 15;
    let (s, v) = get_json(&p.url(&format!(
        "/api/v1/query?query=sum%20by%20(method)%20(rate(http_requests_total%5B5m%5D))&time={t}"
    )));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "vector");
    let rate: f64 = v["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((rate - 10.0 / 15.0).abs() < 1e-9, "rate {rate}");

    let (s, v) = get_json(&p.url(&format!(
        "/api/v1/query_range?query=http_requests_total&start={}&end={t}&step=60",
        t - 600
    )));
    assert_eq!(s, 200);
    assert_eq!(v["data"]["resultType"], "matrix");
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 2);

    let (_, v) = get_json(&p.url("/api/v1/series?match[]=http_requests_total"));
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    let (_, v) = get_json(&p.url("/api/v1/labels"));
    assert!(v["data"].as_array().unwrap().iter().any(|l| l == "method"));
    let (_, v) = get_json(&p.url("/api/v1/label/method/values"));
    assert_eq!(v["data"], serde_json::json!(["GET", "POST"]));
    let (_, v) = get_json(&p.url("/api/v1/status/buildinfo"));
    assert!(v["data"]["version"].is_string());

    // POST form, as Grafana sends it.
    let r = client()
        .post(p.url("/api/v1/query"))
        .form(&[
            ("query", "count(http_requests_total)"),
            ("time", &t.to_string()),
        ])
        .send()
        .unwrap();
    let v: Value = r.json().unwrap();
    assert_eq!(v["data"]["result"][0]["value"][1], "2");
}

#[test]
fn errors_are_prometheus_shaped() {
    let dir = tempfile::tempdir().unwrap();
    let p = Pharos::start(dir.path(), None);
    let (s, v) = get_json(&p.url("/api/v1/query?query=rate(x%5B5m%5D"));
    assert_eq!(s, 400);
    assert_eq!(v["errorType"], "bad_data");
    let (s, _) = get_json(&p.url("/api/v1/query"));
    assert_eq!(s, 400);
    let (s, v) = get_json(&p.url("/api/v1/query_range?query=up&start=100&end=50&step=1"));
    assert_eq!((s, v["errorType"].as_str()), (400, Some("bad_data")), "{v}");
    let (s, v) = get_json(&p.url("/api/v1/query_range?query=up&start=0&end=50&step=0"));
    assert_eq!((s, v["errorType"].as_str()), (400, Some("bad_data")), "{v}");
    let (s, v) = get_json(&p.url("/api/v1/query_range?query=up&start=0&end=100000&step=1s"));
    assert_eq!(s, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap_or("").contains("11,000 points"),
        "{v}"
    );
    let (s, v) = get_json(&p.url("/api/v1/query?query=up&time=notatime"));
    assert_eq!((s, v["errorType"].as_str()), (400, Some("bad_data")), "{v}");
    let (s, v) = get_json(&p.url("/api/v1/series"));
    assert_eq!(s, 400, "{v}");
    assert_eq!(push(&p, b"definitely not snappy".to_vec()), 400);
    // Valid snappy, invalid protobuf.
    let garbage = snap::raw::Encoder::new().compress_vec(&[0xff; 64]).unwrap();
    assert_eq!(push(&p, garbage), 400);
    assert_eq!(push(&p, vec![0u8; 40 << 20]), 413);
    let (s, _) = get_json(&p.url("/-/healthy"));
    assert_eq!(s, 200);
}

#[test]
fn acknowledged_samples_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let p = Pharos::start(dir.path(), None);
    let mut acked = 0usize;
    for batch in 0..50i64 {
        let samples: Vec<(i64, f64)> = (0..20)
            .map(|i| {
                (
                    1_700_000_000_000 + (batch * 20 + i) * 1000,
                    (batch * 20 + i) as f64,
                )
            })
            .collect();
        let body = write_request(&[
            (
                vec![("__name__", "crash_test"), ("k", "a")],
                samples.clone(),
            ),
            (vec![("__name__", "crash_test"), ("k", "b")], samples),
        ]);
        if push(&p, body) == 204 {
            acked += 40;
        }
    }
    assert_eq!(acked, 2000);
    p.kill9();
    let p = Pharos::start(dir.path(), None);
    let end = 1_700_000_000 + 1000;
    let (_, v) = get_json(&p.url(&format!(
        "/api/v1/query?query=count_over_time(crash_test%5B2000s%5D)&time={end}"
    )));
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2, "{v}");
    for r in result {
        assert_eq!(r["value"][1], "1000", "{v}");
    }
}

#[test]
fn reload_keeps_data_and_applies_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1m\n").unwrap();
    let p = Pharos::start_lifecycle(&dir.path().join("data"), &cfg);
    assert_eq!(
        push(
            &p,
            write_request(&[(vec![("__name__", "kept")], vec![(1_700_000_000_000, 1.0)])])
        ),
        204
    );
    std::fs::write(&cfg, "scrape_configs:\n  - job_name: later\n    static_configs:\n      - targets: ['127.0.0.1:1']\n").unwrap();
    let r = client().post(p.url("/-/reload")).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, v) = get_json(&p.url("/api/v1/targets"));
    assert_eq!(v["data"]["activeTargets"][0]["scrapePool"], "later");
    let (_, v) = get_json(&p.url("/api/v1/series?match[]=kept"));
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    // A broken config is refused and the old one stays.
    std::fs::write(&cfg, "scrape_configs:\n  - job_nme: typo\n").unwrap();
    let r = client().post(p.url("/-/reload")).send().unwrap();
    assert_eq!(r.status().as_u16(), 500);
    let body = r.text().unwrap();
    assert!(body.contains("prometheus.yml:2"), "{body}");
}
