//! Remote-Write 2.0 receiving against the real binary, with hand-built
//! `io.prometheus.write.v2.Request` bodies (Debian's Prometheus 2.42 cannot send 2.0): the
//! samples, native histogram, exemplar and metadata of a request are stored and queryable; the
//! `X-Prometheus-Remote-Write-*-Written` headers count them; a bad series is a partial write
//! (400, the rest stored and counted); Content-Type negotiation answers 415 for an unknown
//! message or media type and another encoding than snappy; 1.0 still works under both of its
//! Content-Types.

use crate::common::{write_request, Pharos};
use api::prometheus::remote_write::{BucketSpan, Histogram};
use api::prometheus::remote_write_v2::{
    Exemplar2, Metadata, Request, Sample2, SymbolTable, TimeSeries,
};
use model::Labels;
use prost::Message;
use serde_json::Value;

const V2: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

fn post(
    p: &Pharos,
    content_type: &str,
    encoding: &str,
    body: Vec<u8>,
) -> (u16, [String; 3], String) {
    let r = client()
        .post(p.url("/api/v1/write"))
        .header("Content-Encoding", encoding)
        .header("Content-Type", content_type)
        .header("X-Prometheus-Remote-Write-Version", "2.0.0")
        .body(body)
        .send()
        .expect("push");
    let status = r.status().as_u16();
    let h = |k: &str| {
        r.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let written = [
        h("X-Prometheus-Remote-Write-Samples-Written"),
        h("X-Prometheus-Remote-Write-Histograms-Written"),
        h("X-Prometheus-Remote-Write-Exemplars-Written"),
    ];
    (status, written, r.text().unwrap_or_default())
}

fn snappy(req: &Request) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .expect("snappy")
}

fn get_json(p: &Pharos, path: &str) -> Value {
    client()
        .get(p.url(path))
        .send()
        .and_then(|r| r.json())
        .unwrap_or(Value::Null)
}

fn written(s: [&str; 3]) -> [String; 3] {
    s.map(str::to_string)
}

#[test]
fn remote_write_2_0_is_received_and_negotiated() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        "collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n",
    )
    .unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let now = chrono::Utc::now().timestamp_millis() / 1000 * 1000;
    let (t0, t1) = (now - 30_000, now - 15_000);

    let mut st = SymbolTable::default();
    let requests = st.labels(&Labels::from_pairs([
        ("__name__", "v2_requests_total"),
        ("job", "app"),
    ]));
    let latency = st.labels(&Labels::from_pairs([
        ("__name__", "v2_latency_seconds"),
        ("job", "app"),
    ]));
    let trace = st.labels(&Labels::from_pairs([("trace_id", "4bf92f3577b34da6")]));
    let help = st.symbolize("Requests served.");
    let hist_help = st.symbolize("Request latency.");
    let unit = st.symbolize("seconds");
    let req = Request {
        timeseries: vec![
            TimeSeries {
                labels_refs: requests.clone(),
                samples: vec![
                    Sample2 {
                        value: 10.0,
                        timestamp: t0,
                        start_timestamp: t0 - 60_000,
                    },
                    Sample2 {
                        value: 25.0,
                        timestamp: t1,
                        start_timestamp: t0 - 60_000,
                    },
                ],
                exemplars: vec![Exemplar2 {
                    labels_refs: trace,
                    value: 1.0,
                    timestamp: t1,
                }],
                metadata: Some(Metadata {
                    r#type: 1,
                    help_ref: help,
                    unit_ref: 0,
                }),
                ..Default::default()
            },
            TimeSeries {
                labels_refs: latency,
                histograms: vec![Histogram {
                    count_int: Some(6),
                    sum: 3.5,
                    schema: 0,
                    zero_threshold: 0.001,
                    zero_count_int: Some(0),
                    positive_spans: vec![BucketSpan {
                        offset: 0,
                        length: 3,
                    }],
                    // Absolute counts 1, 2, 3 as deltas.
                    positive_deltas: vec![1, 1, 1],
                    reset_hint: 0,
                    timestamp: t1,
                    ..Default::default()
                }],
                metadata: Some(Metadata {
                    r#type: 3,
                    help_ref: hist_help,
                    unit_ref: unit,
                }),
                ..Default::default()
            },
        ],
        symbols: st.into_symbols(),
    };
    let (status, w, body) = post(&p, V2, "snappy", snappy(&req));
    assert_eq!(status, 204, "{body}");
    assert_eq!(w, written(["2", "1", "1"]));

    // The samples, the histogram, the exemplar and the metadata are there.
    let v = get_json(
        &p,
        &format!("/api/v1/query?query=v2_requests_total&time={}", t1 / 1000),
    );
    assert_eq!(v["data"]["result"][0]["value"][1], "25", "{v}");
    let v = get_json(
        &p,
        &format!(
            "/api/v1/query?query=histogram_count(v2_latency_seconds)&time={}",
            t1 / 1000
        ),
    );
    assert_eq!(v["data"]["result"][0]["value"][1], "6", "{v}");
    let v = get_json(
        &p,
        &format!("/api/v1/query?query=v2_latency_seconds&time={}", t1 / 1000),
    );
    assert_eq!(v["data"]["result"][0]["histogram"][1]["count"], "6", "{v}");
    let v = get_json(
        &p,
        &format!(
            "/api/v1/query_exemplars?query=v2_requests_total&start={}&end={}",
            t0 / 1000,
            t1 / 1000 + 1
        ),
    );
    assert_eq!(
        v["data"][0]["exemplars"][0]["labels"]["trace_id"], "4bf92f3577b34da6",
        "{v}"
    );
    let v = get_json(&p, "/api/v1/metadata");
    assert_eq!(v["data"]["v2_requests_total"][0]["type"], "counter", "{v}");
    assert_eq!(
        v["data"]["v2_requests_total"][0]["help"],
        "Requests served."
    );
    assert_eq!(v["data"]["v2_latency_seconds"][0]["unit"], "seconds", "{v}");

    // Partial write: the good series is stored and counted, the bad ones make it a 400.
    let mut st = SymbolTable::default();
    let good = st.labels(&Labels::from_pairs([
        ("__name__", "v2_partial"),
        ("k", "ok"),
    ]));
    let nameless = st.labels(&Labels::from_pairs([("k", "no_name")]));
    let req = Request {
        timeseries: vec![
            TimeSeries {
                labels_refs: good.clone(),
                samples: vec![Sample2 {
                    value: 7.0,
                    timestamp: t1,
                    start_timestamp: 0,
                }],
                ..Default::default()
            },
            TimeSeries {
                labels_refs: nameless,
                samples: vec![Sample2 {
                    value: 1.0,
                    timestamp: t1,
                    start_timestamp: 0,
                }],
                ..Default::default()
            },
            TimeSeries {
                labels_refs: vec![1, 4000],
                samples: vec![Sample2::default()],
                ..Default::default()
            },
            // An out-of-order sample for the good series: rejected, reported.
            TimeSeries {
                labels_refs: good,
                samples: vec![Sample2 {
                    value: 6.0,
                    timestamp: t0,
                    start_timestamp: 0,
                }],
                ..Default::default()
            },
        ],
        symbols: st.into_symbols(),
    };
    let (status, w, body) = post(&p, V2, "snappy", snappy(&req));
    assert_eq!(status, 400, "{body}");
    assert_eq!(w, written(["1", "0", "0"]), "{body}");
    assert!(body.contains("outside of symbols table"), "{body}");
    assert!(body.contains("no metric name"), "{body}");
    let v = get_json(
        &p,
        &format!("/api/v1/query?query=v2_partial&time={}", t1 / 1000),
    );
    assert_eq!(v["data"]["result"][0]["value"][1], "7", "{v}");

    // A body that is not a 2.0 message: 400, with the headers saying nothing was written.
    let (status, w, _) = post(
        &p,
        V2,
        "snappy",
        snap::raw::Encoder::new()
            .compress_vec(&[0xff, 0xff, 0xff])
            .unwrap(),
    );
    assert_eq!(status, 400);
    assert_eq!(w, written(["0", "0", "0"]));

    // Negotiation: unknown messages, media types and encodings are 415, without the headers.
    for (ct, enc) in [
        (
            "application/x-protobuf;proto=io.prometheus.write.v3.Request",
            "snappy",
        ),
        ("application/json", "snappy"),
        (V2, "zstd"),
    ] {
        let (status, w, body) = post(&p, ct, enc, snappy(&req));
        assert_eq!(status, 415, "{ct} {enc}: {body}");
        assert_eq!(w, written(["", "", ""]));
    }

    // 1.0 under its explicit and its bare Content-Type (and none); no 2.0 headers.
    for (i, ct) in [
        "application/x-protobuf;proto=prometheus.WriteRequest",
        "application/x-protobuf",
    ]
    .into_iter()
    .enumerate()
    {
        let body = write_request(&[(vec![("__name__", "v1_still")], vec![(t0 + i as i64, 1.0)])]);
        let (status, w, text) = post(&p, ct, "snappy", body);
        assert_eq!(status, 204, "{ct}: {text}");
        assert_eq!(w, written(["", "", ""]));
    }
}

/// A prometheus.yml for a pharos that remote-writes 2.0 to `url`.
fn sender_config(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    let cfg = dir.join("sender.yml");
    std::fs::write(
        &cfg,
        format!(
            "remote_write:\n  - url: {url}\n    name: v2\n    protobuf_message: io.prometheus.write.v2.Request\n    queue_config: {{batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 500ms, max_samples_per_send: 50}}\n"
        ),
    )
    .unwrap();
    cfg
}

/// Pushes `n` samples of `fwd_test{i=..}` (three series) to `p` with 1.0, with their metadata.
fn push_with_metadata(p: &Pharos, base: i64, n: i64) {
    use api::prometheus::remote_write::{
        Label, MetricMetadata, TimeSeries, WireSample, WriteRequest,
    };
    let req = WriteRequest {
        timeseries: (0..3)
            .map(|i| TimeSeries {
                labels: vec![
                    Label {
                        name: "__name__".into(),
                        value: "fwd_test_total".into(),
                    },
                    Label {
                        name: "i".into(),
                        value: i.to_string(),
                    },
                ],
                samples: (0..n)
                    .map(|k| WireSample {
                        value: (i * 1000 + k) as f64,
                        timestamp: base + k * 100,
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        metadata: vec![MetricMetadata {
            r#type: 1,
            metric_family_name: "fwd_test_total".into(),
            help: "Forwarded things.".into(),
            unit: String::new(),
        }],
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap();
    let (status, _, text) = post(p, "application/x-protobuf", "snappy", body);
    assert_eq!(status, 204, "{text}");
}

/// Number of `fwd_test_total` samples the receiver at `base_url` holds.
fn count_at(base_url: &str, t: i64) -> usize {
    let v: Value = client()
        .get(format!("{base_url}/api/v1/query"))
        .query(&[
            ("query", "count_over_time(fwd_test_total[1h])"),
            ("time", &(t / 1000 + 1).to_string()),
        ])
        .send()
        .and_then(|r| r.json())
        .unwrap_or(Value::Null);
    v["data"]["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|s| s["value"][1].as_str()?.parse::<f64>().ok())
                .sum::<f64>() as usize
        })
        .unwrap_or(0)
}

fn wait_for(base_url: &str, t: i64, want: usize, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let got = count_at(base_url, t);
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: {got} of {want} samples arrived"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

fn quiet_config(dir: &std::path::Path) -> std::path::PathBuf {
    let cfg = dir.join("receiver.yml");
    std::fs::write(
        &cfg,
        "collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n",
    )
    .unwrap();
    cfg
}

#[test]
fn pharos_forwards_2_0_with_metadata_to_pharos() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Pharos::start(&dir.path().join("rx"), Some(&quiet_config(dir.path())));
    let cfg = sender_config(dir.path(), &receiver.url("/api/v1/write"));
    let sender = Pharos::start(&dir.path().join("tx"), Some(&cfg));
    let base = chrono::Utc::now().timestamp_millis() - 120_000;
    push_with_metadata(&sender, base, 40);
    wait_for(&receiver.base, base + 4_000, 120, "2.0 to pharos");
    // Only 2.0 requests carry metadata in what pharos sends: it arrived, so 2.0 was spoken.
    let v = get_json(&receiver, "/api/v1/metadata?metric=fwd_test_total");
    assert_eq!(v["data"]["fwd_test_total"][0]["type"], "counter", "{v}");
    assert_eq!(v["data"]["fwd_test_total"][0]["help"], "Forwarded things.");
    let m = client()
        .get(sender.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let failed = m
        .lines()
        .find(|l| {
            l.starts_with("prometheus_remote_storage_samples_failed_total{remote_name=\"v2\"")
        })
        .unwrap_or("");
    assert!(failed.ends_with(" 0"), "{failed}");
}

/// Each request a test receiver saw: its Content-Type and, for 1.0, its samples.
type SeenRequests = std::sync::Arc<std::sync::Mutex<Vec<(String, usize)>>>;

/// A receiver that answers 415 to 2.0 requests and 204 to 1.0 ones; records each request's
/// Content-Type and, for 1.0, its samples.
fn v1_only_receiver() -> (String, SeenRequests) {
    use std::io::{BufRead, BufReader, Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/write", l.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let (mut len, mut ct) = (0usize, String::new());
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            match k.to_ascii_lowercase().as_str() {
                                "content-length" => len = v.trim().parse().unwrap_or(0),
                                "content-type" => ct = v.trim().to_string(),
                                _ => {}
                            }
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    let answer = if ct.contains("write.v2") {
                        log.lock().unwrap().push((ct, 0));
                        "HTTP/1.1 415 Unsupported Media Type\r\ncontent-length: 0\r\n\r\n"
                    } else {
                        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
                        let req =
                            api::prometheus::remote_write::WriteRequest::decode(raw.as_slice())
                                .unwrap();
                        let n = req.timeseries.iter().map(|t| t.samples.len()).sum();
                        log.lock().unwrap().push((ct, n));
                        "HTTP/1.1 204 No Content\r\n\r\n"
                    };
                    if conn.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

#[test]
fn a_2_0_queue_falls_back_to_1_0_on_415() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = v1_only_receiver();
    let cfg = dir.path().join("sender.yml");
    std::fs::write(
        &cfg,
        format!(
            "remote_write:\n  - url: {url}\n    name: v2\n    protobuf_message: io.prometheus.write.v2.Request\n    write_relabel_configs: [{{source_labels: [__name__], regex: fwd_test_total, action: keep}}]\n    queue_config: {{batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 500ms, max_samples_per_send: 50}}\n"
        ),
    )
    .unwrap();
    let sender = Pharos::start(&dir.path().join("tx"), Some(&cfg));
    let base = chrono::Utc::now().timestamp_millis() - 120_000;
    push_with_metadata(&sender, base, 40);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let got: usize = seen.lock().unwrap().iter().map(|(_, n)| n).sum();
        if got == 120 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{got} of 120 samples arrived: {:?}",
            seen.lock().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen[0].0.contains("io.prometheus.write.v2.Request"),
        "{seen:?}"
    );
    // One 415, then 1.0 only.
    assert_eq!(
        seen.iter()
            .filter(|(ct, _)| ct.contains("write.v2"))
            .count(),
        1,
        "{seen:?}"
    );
}

/// Debian's Prometheus (2.42) predates 2.0: it ignores the Content-Type, finds nothing it knows
/// in a 2.0 body and answers 204 without the written headers. pharos takes that for a 1.0
/// receiver and resends as 1.0, so every sample arrives.
#[test]
fn a_2_0_queue_falls_back_for_a_1_0_prometheus() {
    use std::process::{Command, Stdio};
    if !Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("skipped: Debian's prometheus is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = crate::common::free_port();
    let prom_cfg = dir.path().join("prometheus.yml");
    std::fs::write(&prom_cfg, "").unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _prom = Kill(
        Command::new("prometheus")
            .arg(format!("--config.file={}", prom_cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("prom").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let prom = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !client()
        .get(format!("{prom}/-/ready"))
        .send()
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "prometheus did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let cfg = sender_config(dir.path(), &format!("{prom}/api/v1/write"));
    let sender = Pharos::start(&dir.path().join("tx"), Some(&cfg));
    let base = chrono::Utc::now().timestamp_millis() - 120_000;
    push_with_metadata(&sender, base, 40);
    wait_for(&prom, base + 4_000, 120, "2.0 queue to Prometheus 2.42");
}

/// Pushes `n` native histograms (count k+1 at `base + k*100`) of `fwd_hist` to `p` with 1.0.
fn push_histograms(p: &Pharos, base: i64, n: i64) {
    push_histograms_from(p, base, 0, n)
}

#[test]
fn native_histograms_are_forwarded_with_1_0_and_2_0() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = quiet_config(dir.path());
    let rx1 = Pharos::start(&dir.path().join("rx1"), Some(&quiet));
    let rx2 = Pharos::start(&dir.path().join("rx2"), Some(&quiet));
    let cfg = dir.path().join("sender.yml");
    let queue = "queue_config: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 500ms, max_samples_per_send: 7}";
    std::fs::write(
        &cfg,
        format!(
            "remote_write:\n  - url: {}\n    name: one\n    send_native_histograms: true\n    metadata_config: {{send_interval: 500ms}}\n    {queue}\n  - url: {}\n    name: two\n    protobuf_message: io.prometheus.write.v2.Request\n    send_native_histograms: true\n    {queue}\n",
            rx1.url("/api/v1/write"),
            rx2.url("/api/v1/write"),
        ),
    )
    .unwrap();
    let data = dir.path().join("tx");
    let sender = Pharos::start(&data, Some(&cfg));
    let base = chrono::Utc::now().timestamp_millis() - 120_000;
    push_histograms(&sender, base, 20);
    push_with_metadata(&sender, base, 10);
    let at = (base + 1_900) / 1000 + 1;
    let hist_count = |rx: &Pharos| -> (String, String) {
        let v = get_json(
            rx,
            &format!("/api/v1/query?query=count_over_time(fwd_hist[1h])&time={at}"),
        );
        let n = v["data"]["result"][0]["value"][1]
            .as_str()
            .unwrap_or("")
            .to_string();
        let v = get_json(
            rx,
            &format!("/api/v1/query?query=histogram_count(fwd_hist)&time={at}"),
        );
        (
            n,
            v["data"]["result"][0]["value"][1]
                .as_str()
                .unwrap_or("")
                .to_string(),
        )
    };
    for rx in [&rx1, &rx2] {
        wait_for(&rx.base, base + 1_000, 30, "floats next to histograms");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while hist_count(rx) != ("20".into(), "20".into()) {
            assert!(
                std::time::Instant::now() < deadline,
                "{}: histograms arrived as {:?}",
                rx.base,
                hist_count(rx)
            );
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }
    // Histograms are counted under Prometheus' histograms_* names, not samples_*.
    let m = client()
        .get(sender.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let value = |prefix: &str| -> f64 {
        m.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{prefix} missing:\n{m}"))
    };
    for name in ["one", "two"] {
        let sent = value(&format!(
            "prometheus_remote_storage_histograms_total{{remote_name=\"{name}\""
        ));
        assert!(sent >= 20.0, "{name}: {sent} histograms sent");
        value(&format!(
            "prometheus_remote_storage_histograms_pending{{remote_name=\"{name}\""
        ));
        value(&format!(
            "prometheus_remote_storage_histograms_failed_total{{remote_name=\"{name}\""
        ));
    }
    assert!(value("prometheus_remote_storage_histograms_in_total ") >= 40.0);
    // Sent as integer histograms (count_int), they are stored and read back as integer ones.
    for rx in [&rx1, &rx2] {
        use forward::read::{Query, ReadRequest, ReadResponse, WireMatcher};
        let req = ReadRequest {
            queries: vec![Query {
                start_timestamp_ms: base - 1,
                end_timestamp_ms: base + 10_000,
                matchers: vec![WireMatcher {
                    r#type: 0,
                    name: "__name__".into(),
                    value: "fwd_hist".into(),
                }],
            }],
            accepted_response_types: vec![0],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap();
        let resp = client()
            .post(rx.url("/api/v1/read"))
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .body(body)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&resp.bytes().unwrap())
            .unwrap();
        let resp = ReadResponse::decode(raw.as_slice()).unwrap();
        let hs = &resp.results[0].timeseries[0].histograms;
        assert_eq!(hs.len(), 20, "{}", rx.base);
        assert_eq!(hs[3].count_int, Some(4), "{:?}", hs[3]);
        assert_eq!(hs[3].positive_deltas, vec![4]);
        assert_eq!(hs[3].count_float, None);
    }
    // 1.0 sends metadata in requests of its own, every send_interval; 2.0 with each series.
    for rx in [&rx1, &rx2] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let v = get_json(rx, "/api/v1/metadata?metric=fwd_test_total");
            if v["data"]["fwd_test_total"][0]["help"] == "Forwarded things." {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{}: {v}", rx.base);
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }
    // kill -9 and more histograms: the restarted queues resume where they were.
    sender.kill9();
    let sender = Pharos::start(&data, Some(&cfg));
    push_histograms_from(&sender, base, 20, 30);
    let at = (base + 2_900) / 1000 + 1;
    for rx in [&rx1, &rx2] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let v = get_json(
                rx,
                &format!("/api/v1/query?query=count_over_time(fwd_hist[1h])&time={at}"),
            );
            if v["data"]["result"][0]["value"][1] == "30" {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "after kill -9: {v}");
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }
}

/// Histograms k in `from..to` as [`push_histograms`] writes them.
fn push_histograms_from(p: &Pharos, base: i64, from: i64, to: i64) {
    use api::prometheus::remote_write::{Label, TimeSeries, WriteRequest};
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label {
                name: "__name__".into(),
                value: "fwd_hist".into(),
            }],
            histograms: (from..to)
                .map(|k| Histogram {
                    count_int: Some(k as u64 + 1),
                    sum: k as f64,
                    schema: 1,
                    positive_spans: vec![BucketSpan {
                        offset: 2,
                        length: 1,
                    }],
                    positive_deltas: vec![k + 1],
                    timestamp: base + k * 100,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        metadata: vec![],
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap();
    let (status, _, text) = post(p, "application/x-protobuf", "snappy", body);
    assert_eq!(status, 204, "{text}");
}
