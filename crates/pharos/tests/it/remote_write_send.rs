//! remote_write sending against Debian's Prometheus as the receiver
//! (`--web.enable-remote-write-receiver`): samples pushed into pharos arrive in Prometheus with
//! the same series (external labels added, write_relabel_configs applied) and values, across
//! a receiver outage and restart and across a `kill -9` of pharos (the queue resumes from its
//! saved WAL position). Also the other direction: Prometheus federating from pharos'
//! `/federate`. Skipped when `prometheus` is not installed (`.ci/run` installs it).

use crate::common::{free_port, scripted_receiver, write_request, Pharos};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn has_prometheus() -> bool {
    Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The receiver; killed when dropped (a failing test leaves no Prometheus behind).
struct Prom(Child);

impl Drop for Prom {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_prometheus(dir: &Path, port: u16) -> Prom {
    start_prometheus_with(dir, port, "")
}

fn start_prometheus_with(dir: &Path, port: u16, config: &str) -> Prom {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config).unwrap();
    let child = Prom(
        Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn prometheus"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if client()
            .get(format!("http://127.0.0.1:{port}/-/ready"))
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            return child;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("prometheus did not become ready");
}

/// SIGTERM (a clean shutdown: Prometheus keeps what it received), then wait.
fn stop(mut c: Prom) {
    unsafe {
        libc::kill(c.0.id() as i32, libc::SIGTERM);
    }
    let _ = c.0.wait();
}

/// Remote-writes a snappy body to pharos; it must be acknowledged.
fn push_body(p: &Pharos, body: Vec<u8>) {
    let r = client()
        .post(p.url("/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
}

/// Pushes sample `k` (timestamp `base + k*100`, value `i*1000 + k`) of series i = 0..4 and of
/// a series the write relabeling drops.
fn push(p: &Pharos, base: i64, ks: std::ops::Range<i64>) {
    for k in ks {
        let t = base + k * 100;
        let is: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        let mut series: Vec<crate::common::TestSeries<'_>> = is
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    vec![("__name__", "rw_test"), ("i", s.as_str())],
                    vec![(t, (i as i64 * 1000 + k) as f64)],
                )
            })
            .collect();
        series.push((vec![("__name__", "dropped_metric")], vec![(t, 1.0)]));
        push_body(p, write_request(&series));
    }
}

/// Every (i, timestamp ms, value) of `rw_test` in Prometheus, with the labels it got.
fn received(prom: &str) -> (BTreeSet<(String, i64, i64)>, BTreeSet<String>) {
    let now = chrono::Utc::now().timestamp() + 60;
    let r: Value = client()
        .get(format!("{prom}/api/v1/query"))
        .query(&[
            ("query", "{__name__=~\"rw_test|dropped_metric\"}[30m]"),
            ("time", &now.to_string()),
        ])
        .send()
        .and_then(|r| r.json())
        .unwrap_or(Value::Null);
    let mut out = BTreeSet::new();
    let mut label_sets = BTreeSet::new();
    for s in r["data"]["result"].as_array().cloned().unwrap_or_default() {
        label_sets.insert(s["metric"].to_string());
        for v in s["values"].as_array().cloned().unwrap_or_default() {
            let t = (v[0].as_f64().unwrap() * 1000.0).round() as i64;
            let val: f64 = v[1].as_str().unwrap().parse().unwrap();
            out.insert((
                s["metric"]["i"].as_str().unwrap_or("").to_string(),
                t,
                val as i64,
            ));
        }
    }
    (out, label_sets)
}

fn expected(base: i64, n: i64) -> BTreeSet<(String, i64, i64)> {
    (0..5)
        .flat_map(|i| (0..n).map(move |k| (i.to_string(), base + k * 100, i * 1000 + k)))
        .collect()
}

fn wait_all(prom: &str, want: &BTreeSet<(String, i64, i64)>, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (got, _) = received(prom);
        if &got == want {
            return;
        }
        if Instant::now() > deadline {
            let missing: Vec<_> = want.difference(&got).take(5).collect();
            let extra: Vec<_> = got.difference(want).take(5).collect();
            panic!(
                "{what}: {} of {} samples arrived; missing e.g. {missing:?}, unexpected {extra:?}",
                got.len(),
                want.len()
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn metrics(p: &Pharos) -> String {
    client()
        .get(p.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap()
}

#[test]
fn prometheus_receives_everything_across_outage_and_kill_9() {
    if !has_prometheus() {
        eprintln!("skipped: Debian's prometheus is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let prom_url = format!("http://127.0.0.1:{port}");
    let prom_dir = dir.path().join("prom");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let mut prom = start_prometheus(&prom_dir, port);
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  external_labels: {{replica: a}}\nremote_write:\n  - url: {prom_url}/api/v1/write\n    name: prom\n    remote_timeout: 5s\n    queue_config: {{batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 500ms, max_samples_per_send: 50, capacity: 100}}\n    write_relabel_configs:\n      - source_labels: [__name__]\n        regex: dropped_.*\n        action: drop\n"
        ),
    )
    .unwrap();
    let data = dir.path().join("pharos");
    let pharos = Pharos::start(&data, Some(&cfg));
    let base = chrono::Utc::now().timestamp_millis() - 300_000;

    // 1. Straight through.
    push(&pharos, base, 0..20);
    wait_all(&prom_url, &expected(base, 20), "first batch");
    let (_, labels) = received(&prom_url);
    assert_eq!(labels.len(), 5, "{labels:?}");
    assert!(
        labels.iter().all(|l| l.contains("\"replica\":\"a\"")),
        "{labels:?}"
    );

    // 2. Receiver down while pharos ingests; everything arrives after it comes back.
    stop(prom);
    push(&pharos, base, 20..60);
    std::thread::sleep(Duration::from_secs(2));
    let m = metrics(&pharos);
    let retried = m
        .lines()
        .find(|l| l.starts_with("prometheus_remote_storage_samples_retried_total{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(
        retried > 0.0,
        "no retries while the receiver was down:\n{m}"
    );
    prom = start_prometheus(&prom_dir, port);
    wait_all(
        &prom_url,
        &expected(base, 60),
        "after the receiver's restart",
    );

    // 3. pharos killed right after acknowledging samples: the restarted queue sends them.
    push(&pharos, base, 60..100);
    pharos.kill9();
    let pharos = Pharos::start(&data, Some(&cfg));
    push(&pharos, base, 100..110);
    wait_all(&prom_url, &expected(base, 110), "after pharos' kill -9");

    let m = metrics(&pharos);
    for family in [
        "prometheus_remote_storage_samples_total{remote_name=\"prom\"",
        "prometheus_remote_storage_samples_failed_total{remote_name=\"prom\"",
        "prometheus_remote_storage_samples_pending{remote_name=\"prom\"",
        "prometheus_remote_storage_shards{remote_name=\"prom\"",
        "prometheus_remote_storage_bytes_total{remote_name=\"prom\"",
        "prometheus_remote_storage_queue_highest_sent_timestamp_seconds{remote_name=\"prom\"",
        "prometheus_remote_storage_sent_batch_duration_seconds_count{remote_name=\"prom\"",
        "prometheus_remote_storage_highest_timestamp_in_seconds ",
    ] {
        assert!(m.contains(family), "{family} missing:\n{m}");
    }
    stop(prom);
}

#[test]
fn a_bad_remote_write_entry_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        "remote_write:\n  - url: http://127.0.0.1:1/api/v1/write\n    oauth2: {client_id: x}\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pharos"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("oauth2 is not supported"), "{err}");
}

/// 429 is retried after its `Retry-After` (not the 10 ms backoff) with the same batch; a 400
/// drops the batch (counted as failed) and sending goes on; Prometheus' headers and the
/// configured ones are on every request.
#[test]
fn retry_after_429_and_no_retry_on_400() {
    let (url, hits) = scripted_receiver(vec![(429, "retry-after: 1\r\n"), (429, ""), (400, "")]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!("remote_write:\n  - url: {url}\n    name: scripted\n    headers: {{X-Test: yes}}\n    authorization: {{credentials: s3cret}}\n    queue_config: {{batch_send_deadline: 100ms, min_backoff: 10ms, max_backoff: 20ms, max_samples_per_send: 1000}}\n"),
    )
    .unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let base = chrono::Utc::now().timestamp_millis() - 60_000;
    push(&p, base, 0..1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while hits.lock().unwrap().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    push(&p, base, 1..2);
    while hits.lock().unwrap().len() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let hits = hits.lock().unwrap();
    assert!(hits.len() >= 4, "only {} requests", hits.len());
    let waited = hits[1].at - hits[0].at;
    assert!(
        waited >= Duration::from_millis(900),
        "Retry-After ignored: retried after {waited:?}"
    );
    assert!(
        hits[2].at - hits[1].at < Duration::from_millis(900),
        "plain backoff too long"
    );
    assert_eq!(hits[0].body, hits[1].body);
    assert_eq!(hits[1].body, hits[2].body);
    assert_ne!(
        hits[3].body, hits[2].body,
        "the batch refused with 400 was sent again"
    );
    for want in [
        "content-encoding: snappy",
        "content-type: application/x-protobuf",
        "x-prometheus-remote-write-version: 0.1.0",
        "authorization: bearer s3cret",
        "x-test: yes",
    ] {
        assert!(
            hits[0].headers.iter().any(|h| h == want),
            "{want} missing: {:?}",
            hits[0].headers
        );
    }
    assert!(hits[0]
        .headers
        .iter()
        .any(|h| h.starts_with("user-agent: prometheus/")));
    // The refused batch (the pushed samples plus pharos' own series written meanwhile) is
    // counted as failed once and as retried twice (the two 429s).
    let m = metrics(&p);
    let value = |family: &str| -> f64 {
        m.lines()
            .find(|l| l.starts_with(&format!("{family}{{remote_name=\"scripted\"")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1.0)
    };
    let failed = value("prometheus_remote_storage_samples_failed_total");
    assert!(failed >= 6.0, "{m}");
    assert_eq!(
        value("prometheus_remote_storage_samples_retried_total"),
        2.0 * failed
    );
    assert!(
        value("prometheus_remote_storage_samples_total") >= 6.0,
        "{m}"
    );
}

/// Prometheus scrapes pharos' `/federate?match[]=...` with `honor_labels: true` and stores the
/// series with pharos' labels (external label included) and values.
#[test]
fn prometheus_federates_from_pharos() {
    if !has_prometheus() {
        eprintln!("skipped: Debian's prometheus is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(&cfg, "global:\n  external_labels: {replica: a}\n").unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let port = free_port();
    let target = p.base.trim_start_matches("http://").to_string();
    let prom_dir = dir.path().join("prom");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let _prom = start_prometheus_with(
        &prom_dir,
        port,
        &format!(
            "global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: federate\n    honor_labels: true\n    metrics_path: /federate\n    params: {{'match[]': ['{{__name__=~\"fed_.*\"}}']}}\n    static_configs: [{{targets: ['{target}']}}]\n"
        ),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        let body = write_request(&[
            (vec![("__name__", "fed_a"), ("job", "x")], vec![(now, 2.5)]),
            (vec![("__name__", "not_federated")], vec![(now, 1.0)]),
        ]);
        push_body(&p, body);
        let v: Value = client()
            .get(format!("http://127.0.0.1:{port}/api/v1/query"))
            .query(&[("query", "{__name__=~\"fed_a|not_federated\"}")])
            .send()
            .and_then(|r| r.json())
            .unwrap_or(Value::Null);
        let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
        if !result.is_empty() {
            assert_eq!(result.len(), 1, "{v}");
            let m = &result[0]["metric"];
            assert_eq!(m["job"], "x", "{v}");
            assert_eq!(m["replica"], "a", "{v}");
            // The target label Prometheus adds where the federated series has none.
            assert_eq!(m["instance"], target.as_str(), "{v}");
            assert_eq!(result[0]["value"][1], "2.5", "{v}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus got nothing from /federate: {v}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Prometheus with `remote_read` pointed at pharos answers a query with pharos' samples.
#[test]
fn prometheus_reads_pharos_with_remote_read() {
    if !has_prometheus() {
        eprintln!("skipped: Debian's prometheus is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(&cfg, "global: {}\nremote_write: []\n").unwrap();
    let p = Pharos::start(&dir.path().join("data"), Some(&cfg));
    let now = chrono::Utc::now().timestamp_millis();
    let body = write_request(&[(
        vec![("__name__", "read_me"), ("k", "v")],
        vec![(now - 20_000, 1.0), (now - 10_000, 4.5)],
    )]);
    push_body(&p, body);
    let port = free_port();
    let prom_dir = dir.path().join("prom");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let _prom = start_prometheus_with(
        &prom_dir,
        port,
        &format!(
            "remote_read:\n  - url: {}/api/v1/read\n    read_recent: true\n",
            p.base
        ),
    );
    let v: Value = client()
        .get(format!("http://127.0.0.1:{port}/api/v1/query"))
        .query(&[
            ("query", "read_me[1m]"),
            ("time", &format!("{}", now as f64 / 1000.0)),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let result = &v["data"]["result"];
    assert_eq!(result[0]["metric"]["k"], "v", "{v}");
    let values: Vec<String> = result[0]["values"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p[1].as_str().map(str::to_string))
        .collect();
    assert_eq!(values, vec!["1", "4.5"], "{v}");
    // A garbage body is a 400, not a panic.
    let r = client()
        .post(p.url("/api/v1/read"))
        .body("not snappy")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}
