//! Created timestamps against the real binary (`created-timestamp-zero-ingestion`, Prometheus'
//! `AppendCTZeroSample`): with the flag, an OpenMetrics `_created` line, a protobuf scrape's
//! `created_timestamp`, a Remote-Write 2.0 `start_timestamp` and an OTLP point's
//! `start_time_unix_nano` put a zero sample at the created time, so `increase` from the first
//! scrape counts the first value in full, and no `*_created` series is stored (without it they are
//! series, as in Prometheus); a created
//! timestamp not older than its sample, or older than a sample the series has, is ignored
//! without failing the write. Without the flag nothing changes.

use crate::common::{instant_query as query, Pharos};
use api::prometheus::remote_write_v2::{Request, Sample2, SymbolTable, TimeSeries};
use model::Labels;
use prost::Message;
use scrape::protobuf::dto;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

/// `now` in ms, rounded down to the second (OpenMetrics timestamps are seconds).
fn now_s() -> i64 {
    model::time::now_ms() / 1000
}

/// The OpenMetrics body: a counter and a classic histogram created 30 s before `created_s`
/// plus 30, and a counter whose `_created` lies in the future (ignored).
fn openmetrics(created_s: i64) -> String {
    format!(
        "# TYPE om_requests counter\nom_requests_total{{path=\"/a\"}} 10\nom_requests_created{{path=\"/a\"}} {created_s}.5\n\
         # TYPE om_latency histogram\nom_latency_bucket{{le=\"1\"}} 3\nom_latency_bucket{{le=\"+Inf\"}} 4\nom_latency_count 4\nom_latency_sum 2.5\nom_latency_created {created_s}\n\
         # TYPE om_future counter\nom_future_total 7\nom_future_created {}\n# EOF\n",
        created_s + 86_400
    )
}

fn protobuf(created_s: i64) -> Vec<u8> {
    let fam = dto::MetricFamily {
        name: "pb_jobs_total".into(),
        r#type: dto::COUNTER,
        metric: vec![dto::Metric {
            counter: Some(dto::Counter {
                value: 6.0,
                created_timestamp: Some(dto::Timestamp {
                    seconds: created_s,
                    nanos: 0,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut out = Vec::new();
    fam.encode_length_delimited(&mut out).unwrap();
    out
}

/// Serves `/om` (OpenMetrics) and `/pb` (protobuf) with created timestamps `created_s`.
fn target(created_s: i64) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
            }
            let (ct, body) = if request_line.contains("/pb") {
                (scrape::protobuf::MEDIA_TYPE, protobuf(created_s))
            } else {
                (
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    openmetrics(created_s).into_bytes(),
                )
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    port
}

fn start(dir: &Path, port: u16, features: &str) -> Pharos {
    let prom = dir.join("prometheus.yml");
    std::fs::write(
        &prom,
        format!(
            "global: {{scrape_interval: 1s}}\nscrape_configs:\n\
             - job_name: om\n  metrics_path: /om\n  static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n\
             - job_name: pb\n  metrics_path: /pb\n  static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
        ),
    )
    .unwrap();
    let cfg = quiet(dir, features);
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!("prometheus_config: {}\n{text}", prom.display()),
    )
    .unwrap();
    Pharos::start(&dir.join("data"), Some(&cfg))
}

fn wait_for(p: &Pharos, q: &str, n: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = query(p, q);
        if r.as_array().is_some_and(|a| a.len() >= n) {
            return r;
        }
        assert!(Instant::now() < deadline, "no result for {q}: {r}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// (ms, value) of the first series of a matrix result.
fn points(r: &Value) -> Vec<(i64, f64)> {
    r[0]["values"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        (p[0].as_f64().unwrap() * 1000.0).round() as i64,
                        p[1].as_str().unwrap().parse().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn scalar(p: &Pharos, q: &str) -> f64 {
    let r = query(p, q);
    r[0]["value"][1].as_str().unwrap_or("NaN").parse().unwrap()
}

#[test]
fn scraped_created_timestamps_with_and_without_the_flag() {
    let created_s = now_s() - 30;
    let port = target(created_s);
    let on_dir = tempfile::tempdir().unwrap();
    let off_dir = tempfile::tempdir().unwrap();
    let on = start(on_dir.path(), port, "created-timestamp-zero-ingestion");
    let off = start(off_dir.path(), port, "");
    for p in [&on, &off] {
        // Two scrapes of each job.
        wait_for(p, "count_over_time(om_requests_total[1m]) >= 2", 1);
        wait_for(p, "count_over_time(pb_jobs_total[1m]) >= 2", 1);
    }
    // Flag on: a zero at the created time, then the scraped values.
    let pts = points(&query(&on, "om_requests_total[1m]"));
    assert_eq!(pts[0], (created_s * 1000 + 500, 0.0), "{pts:?}");
    assert!(pts[1..].iter().all(|&(_, v)| v == 10.0), "{pts:?}");
    // increase from the first scrape counts the first value in full.
    let inc = scalar(&on, "increase(om_requests_total[1m])");
    assert!(inc >= 10.0, "increase {inc}");
    assert!(scalar(&on, "rate(om_requests_total[1m])") > 0.0);
    // Every classic-histogram series too, at the histogram's created time.
    for s in [
        "om_latency_count",
        "om_latency_sum",
        "om_latency_bucket{le=\"1\"}",
    ] {
        let pts = points(&query(&on, &format!("{s}[1m]")));
        assert_eq!(pts[0], (created_s * 1000, 0.0), "{s}: {pts:?}");
    }
    // The protobuf scrape's created_timestamp.
    let pts = points(&query(&on, "pb_jobs_total[1m]"));
    assert_eq!(pts[0], (created_s * 1000, 0.0), "{pts:?}");
    // A created timestamp after the sample is ignored: no zero.
    let pts = points(&query(&on, "om_future_total[1m]"));
    assert!(pts.iter().all(|&(_, v)| v == 7.0), "{pts:?}");
    // With the flag `_created` is no series; without it, as in Prometheus (which skips them only
    // with the flag: OpenMetricsSkipSTSeries), each is a series holding its created time.
    assert_eq!(
        query(&on, "{__name__=~\".+_created\"}"),
        json!([]),
        "no _created series with the flag"
    );
    let created_series = query(&off, "{__name__=~\"om_.+_created\"}");
    let mut names: Vec<&str> = created_series
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["metric"]["__name__"].as_str())
                .collect()
        })
        .unwrap_or_default();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "om_future_created",
            "om_latency_created",
            "om_requests_created"
        ],
        "{created_series}"
    );
    assert_eq!(scalar(&off, "om_requests_created"), created_s as f64 + 0.5);
    // A zero sample at a created time is appended once, not at every scrape.
    let zeros = points(&query(&on, "om_requests_total[1m]"))
        .iter()
        .filter(|p| p.1 == 0.0)
        .count();
    assert_eq!(zeros, 1);
    // Flag off: today's behaviour, no zero, increase from the first scrape is 0.
    let pts = points(&query(&off, "om_requests_total[1m]"));
    assert!(pts.iter().all(|&(_, v)| v == 10.0), "{pts:?}");
    assert_eq!(scalar(&off, "increase(om_requests_total[1m])"), 0.0);
    let pts = points(&query(&off, "pb_jobs_total[1m]"));
    assert!(pts.iter().all(|&(_, v)| v == 6.0), "{pts:?}");
    // The ignored and appended created timestamps are counted.
    let metrics = reqwest::blocking::get(on.url("/metrics"))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("pharos_created_timestamp_zero_samples_total"),
        "metrics"
    );
}

/// A pharos.yml without built-in collectors and security rules, with `features`.
fn quiet(dir: &Path, features: &str) -> std::path::PathBuf {
    let cfg = dir.join("pharos.yml");
    std::fs::write(
        &cfg,
        format!(
            "collectors: {{self: {{enabled: false}}, host: {{enabled: false}}}}\n\
             security: {{enabled: false}}\nfeatures: [{features}]\n"
        ),
    )
    .unwrap();
    cfg
}

fn post_v2(p: &Pharos, req: &Request) -> (u16, String) {
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap();
    let r = reqwest::blocking::Client::new()
        .post(p.url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header(
            "Content-Type",
            "application/x-protobuf;proto=io.prometheus.write.v2.Request",
        )
        .header("X-Prometheus-Remote-Write-Version", "2.0.0")
        .body(body)
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

fn v2_request(name: &str, samples: &[(i64, f64, i64)]) -> Request {
    let mut symbols = SymbolTable::default();
    let labels = symbols.labels(&Labels::from_pairs([("__name__", name), ("job", "rw")]));
    Request {
        timeseries: vec![TimeSeries {
            labels_refs: labels,
            samples: samples
                .iter()
                .map(|&(t, v, st)| Sample2 {
                    value: v,
                    timestamp: t,
                    start_timestamp: st,
                })
                .collect(),
            ..Default::default()
        }],
        symbols: symbols.into_symbols(),
    }
}

fn otlp_sum(name: &str, start_ms: i64, t_ms: i64, v: f64) -> Value {
    json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
        "scopeMetrics": [{"metrics": [{"name": name, "sum": {
            "aggregationTemporality": 2, "isMonotonic": true,
            "dataPoints": [{"startTimeUnixNano": (start_ms * 1_000_000).to_string(),
                            "timeUnixNano": (t_ms * 1_000_000).to_string(), "asDouble": v}]}}]}],
    }]})
}

fn post_otlp(p: &Pharos, body: &Value) -> u16 {
    reqwest::blocking::Client::new()
        .post(p.url("/api/v1/otlp/v1/metrics"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn pushed_created_timestamps_and_out_of_order_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = quiet(dir.path(), "");
    let data = dir.path().join("data");
    let flag: [&std::ffi::OsStr; 3] = [
        "--config".as_ref(),
        cfg.as_os_str(),
        "--enable-feature=created-timestamp-zero-ingestion,not-a-feature".as_ref(),
    ];
    // An unknown feature name is a warning, not an error: pharos starts.
    let p = Pharos::start_sub("serve", &data, &flag);
    let t = model::time::now_ms() - 60_000;
    // Remote-Write 2.0: a zero at the start timestamp, then the samples.
    let (status, body) = post_v2(
        &p,
        &v2_request(
            "rw_total",
            &[(t, 5.0, t - 10_000), (t + 10_000, 8.0, t - 10_000)],
        ),
    );
    assert_eq!(status, 204, "{body}");
    let pts = points(&query(&p, "rw_total[5m]"));
    assert_eq!(pts, vec![(t - 10_000, 0.0), (t, 5.0), (t + 10_000, 8.0)]);
    // Out of order: a start timestamp older than the series' newest sample is ignored, the
    // sample stored, the request not failed.
    let (status, body) = post_v2(&p, &v2_request("rw_total", &[(t + 20_000, 9.0, t - 5_000)]));
    assert_eq!(status, 204, "{body}");
    let pts = points(&query(&p, "rw_total[5m]"));
    assert_eq!(pts.len(), 4, "{pts:?}");
    assert_eq!(pts[3], (t + 20_000, 9.0));
    // A start timestamp not older than its sample is ignored.
    let (status, _) = post_v2(&p, &v2_request("rw_same_total", &[(t, 3.0, t)]));
    assert_eq!(status, 204);
    assert_eq!(points(&query(&p, "rw_same_total[5m]")), vec![(t, 3.0)]);
    // OTLP: a cumulative sum's start time.
    assert_eq!(
        post_otlp(&p, &otlp_sum("otlp.jobs", t - 20_000, t, 4.0)),
        200
    );
    let pts = points(&query(&p, "otlp_jobs_total[5m]"));
    assert_eq!(pts, vec![(t - 20_000, 0.0), (t, 4.0)]);
    // The same start time again: no second zero (and none out of order).
    assert_eq!(
        post_otlp(&p, &otlp_sum("otlp.jobs", t - 20_000, t + 10_000, 6.0)),
        200
    );
    let pts = points(&query(&p, "otlp_jobs_total[5m]"));
    assert_eq!(pts, vec![(t - 20_000, 0.0), (t, 4.0), (t + 10_000, 6.0)]);
    assert!(scalar(&p, "increase(otlp_jobs_total[5m])") >= 6.0);
}

#[test]
fn pushed_created_timestamps_ignored_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = quiet(dir.path(), "");
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let t = model::time::now_ms() - 60_000;
    let (status, body) = post_v2(&p, &v2_request("rw_total", &[(t, 5.0, t - 10_000)]));
    assert_eq!(status, 204, "{body}");
    assert_eq!(points(&query(&p, "rw_total[5m]")), vec![(t, 5.0)]);
    assert_eq!(
        post_otlp(&p, &otlp_sum("otlp.jobs", t - 20_000, t, 4.0)),
        200
    );
    assert_eq!(points(&query(&p, "otlp_jobs_total[5m]")), vec![(t, 4.0)]);
}

/// `promql-experimental-functions`: refused by default with Prometheus' parse error, answered
/// with the flag.
#[test]
fn experimental_functions_behind_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = quiet(dir.path(), "");
    let get = |p: &Pharos, q: &str| -> Value {
        reqwest::blocking::Client::new()
            .get(p.url("/api/v1/query"))
            .query(&[("query", q)])
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let off = Pharos::start(&dir.path().join("off"), Some(&cfg));
    let r = get(&off, "sort_by_label(vector(1), \"x\")");
    assert_eq!(r["errorType"], "bad_data", "{r}");
    assert_eq!(
        r["error"], "1:1: parse error: function \"sort_by_label\" is not enabled",
        "{r}"
    );
    let r = get(&off, "limitk(1, vector(1))");
    assert!(
        r["error"]
            .as_str()
            .unwrap_or("")
            .contains("limitk() is experimental and must be enabled with --enable-feature=promql-experimental-functions"),
        "{r}"
    );
    drop(off);
    let cfg = quiet(dir.path(), "promql-experimental-functions");
    let on = Pharos::start(&dir.path().join("on"), Some(&cfg));
    for q in ["sort_by_label(vector(1), \"x\")", "limitk(1, vector(1))"] {
        let r = get(&on, q);
        assert_eq!(r["status"], "success", "{q}: {r}");
    }
}
