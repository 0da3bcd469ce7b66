//! Fault campaign, disk full: pharos' data directory on a size-limited tmpfs the test mounts (as
//! root), a filler file leaving little room, then ingest until the disk is full. Writes must
//! answer what the endpoint's real clients retry on, with a message and `Retry-After` (see
//! `api::disk_full`): remote_write and Loki push 507, OTLP/HTTP (traces, metrics, logs) and
//! Sentry envelopes 503, OTLP/gRPC UNAVAILABLE, Elasticsearch `_bulk` items 429 — never 500, a
//! panic or a hang; the process stays up; everything acknowledged stays readable; once the
//! filler is deleted writes are accepted again without a restart, and after a `kill -9` every
//! acknowledged item is still there.

use crate::common::{free_port, Pharos};
use crate::fault_crash::{config, now_ms, Signal, Trial};
use reqwest::blocking::Client;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "the disk-full test needs to mount a tmpfs (run as root, or with CAP_SYS_ADMIN): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs {
            dir: dir.to_path_buf(),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// Fills the filesystem of `path` with a file until it is full, then gives `leave` bytes back.
fn fill(path: &Path, leave: u64) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0x5au8; 64 << 10];
    let mut written = 0u64;
    while f.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    let _ = f.flush();
    f.set_len(written.saturating_sub(leave)).unwrap();
}

/// Items per request (errors: one event per envelope).
fn batch(signal: Signal) -> u64 {
    match signal {
        Signal::Errors => 1,
        Signal::Traces => 20,
        _ => 100,
    }
}

fn disk_full(signal: Signal) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let grpc_port = free_port();
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!("listeners:\n  otlp_grpc: 127.0.0.1:{grpc_port}\n"));
    std::fs::write(&cfg, text).unwrap();
    let fs = Tmpfs::mount(&dir.path().join("fs"), "32m");
    let data = fs.dir.join("data");
    let filler = fs.dir.join("filler");
    let p = Pharos::start(&data, Some(&cfg));
    let c = Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let t = Trial {
        n: 0,
        t0_ms: now_ms(),
    };
    let (mut acked, mut sent) = (Vec::new(), Vec::new());
    let mut seq = 0u64;
    // Sends the next batch; its status and body.
    let mut send = |acked: &mut Vec<u64>, sent: &mut Vec<u64>| -> (u16, String) {
        let ids: Vec<u64> = (seq..seq + batch(signal)).collect();
        seq += batch(signal);
        sent.extend_from_slice(&ids);
        let r = raw_status(signal, &c, &p, t, &ids);
        if (200..300).contains(&r.0) {
            acked.extend_from_slice(&ids);
        }
        r
    };
    // Some data before the disk fills.
    for _ in 0..5 {
        let (s, _) = send(&mut acked, &mut sent);
        assert!((200..300).contains(&s), "{signal:?}: {s} with space left");
    }
    fill(&filler, 1 << 20);
    // Ingest until the disk is full (minutes on a busy machine with a debug build).
    let deadline = Instant::now() + Duration::from_secs(300);
    let refused = loop {
        let s = send(&mut acked, &mut sent);
        if !(200..300).contains(&s.0) {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "{signal:?}: still accepting after 300 s on a full disk ({} items)",
            acked.len()
        );
    };
    // The refusal, and the ones after it: the endpoint's retryable status with a message.
    let want = main_status(signal);
    for i in 0..3 {
        let (status, body) = if i == 0 {
            refused.clone()
        } else {
            send(&mut acked, &mut sent)
        };
        assert_eq!(
            status, want,
            "{signal:?}: write {i} on a full disk answered {status}: {body}"
        );
        assert!(
            body.contains("disk is full"),
            "{signal:?}: {status} without a clear message: {body}"
        );
    }
    // With `Retry-After`, and the signal's other ingest endpoints answer per their protocol.
    let ids: Vec<u64> = (seq..seq + batch(signal)).collect();
    seq += batch(signal);
    sent.extend_from_slice(&ids);
    let r = signal.request(&c, &p.base, t, 0, &ids).send().unwrap();
    assert_eq!(r.status().as_u16(), want, "{signal:?}");
    assert!(
        r.headers().get("retry-after").is_some(),
        "{signal:?}: {want} without Retry-After"
    );
    other_endpoints(signal, &c, &p.base, grpc_port);
    println!(
        "fault_disk_full {signal:?}: {} items acknowledged, then {} {:?}",
        acked.len(),
        refused.0,
        refused.1.trim()
    );
    let mut p = p;
    assert!(
        p.child.try_wait().unwrap().is_none(),
        "{signal:?}: pharos exited on a full disk"
    );
    check(signal, &c, &p, t, &acked, &sent, "on a full disk");
    // Space returns: writes are accepted again without a restart.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ids: Vec<u64> = (seq..seq + batch(signal)).collect();
        seq += batch(signal);
        sent.extend_from_slice(&ids);
        let (status, body) = raw_status(signal, &c, &p, t, &ids);
        if (200..300).contains(&status) {
            acked.extend_from_slice(&ids);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{signal:?}: still {status} 30 s after space returned: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    check(signal, &c, &p, t, &acked, &sent, "after space returned");
    // And it is all on disk, uncorrupted.
    p.kill9();
    let p = Pharos::start(&data, Some(&cfg));
    check(
        signal,
        &c,
        &p,
        t,
        &acked,
        &sent,
        "after kill -9 and restart",
    );
    println!(
        "fault_disk_full {signal:?}: recovered without restart; {} items acknowledged in all, 0 lost",
        acked.len()
    );
    drop(p);
}

/// What the signal's main ingest endpoint answers on a full disk (remote_write and Loki push:
/// 507, retried by Prometheus and promtail as every 5xx; OTLP/HTTP and Sentry: 503).
fn main_status(signal: Signal) -> u16 {
    match signal {
        Signal::Metrics | Signal::Logs => 507,
        Signal::Traces | Signal::Errors => 503,
    }
}

/// The signal's other ingest endpoints on a full disk: OTLP/HTTP metrics and logs 503 with
/// `Retry-After`, Elasticsearch `_bulk` items 429, OTLP/gRPC traces UNAVAILABLE.
fn other_endpoints(signal: Signal, c: &Client, base: &str, grpc_port: u16) {
    // Requests of tens of KB: a small write can still fit in a page the file already has.
    let ns = now_ms() as u128 * 1_000_000;
    let pad = "x".repeat(200);
    let otlp = |path: &str, body: serde_json::Value| {
        let r = c.post(format!("{base}{path}")).json(&body).send().unwrap();
        let status = r.status().as_u16();
        let retry = r.headers().get("retry-after").is_some();
        let text = r.text().unwrap_or_default();
        assert_eq!(status, 503, "{path} on a full disk: {status} {text}");
        assert!(retry, "{path}: 503 without Retry-After");
        assert!(text.contains("disk is full"), "{path}: {text}");
    };
    match signal {
        Signal::Metrics => {
            let points: Vec<serde_json::Value> = (0..300)
                .map(|i| {
                    serde_json::json!({"timeUnixNano": (ns + i).to_string(), "asDouble": 1.0,
                        "attributes": [{"key": "k", "value": {"stringValue": format!("{i}{pad}")}}]})
                })
                .collect();
            otlp(
                "/v1/metrics",
                serde_json::json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [{
                    "name": "fault_otlp", "gauge": {"dataPoints": points}}]}]}]}),
            )
        }
        Signal::Logs => {
            let records: Vec<serde_json::Value> = (0..300)
                .map(|i| {
                    serde_json::json!({"timeUnixNano": (ns + i).to_string(),
                        "body": {"stringValue": format!("fault otlp {i} {pad}")}})
                })
                .collect();
            otlp(
                "/v1/logs",
                serde_json::json!({"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]}),
            );
            let mut bulk = String::new();
            for i in 0..300 {
                bulk.push_str(&format!(
                    "{{\"create\":{{\"_index\":\"fault\"}}}}\n{{\"message\":\"fault es {i} {pad}\"}}\n"
                ));
            }
            let r: serde_json::Value = c
                .post(format!("{base}/_bulk"))
                .header("Content-Type", "application/x-ndjson")
                .body(bulk)
                .send()
                .and_then(|r| r.json())
                .unwrap();
            let item = &r["items"][0]["create"];
            assert_eq!(item["status"], 429, "_bulk on a full disk: {item}");
            assert!(
                item["error"]["reason"]
                    .as_str()
                    .is_some_and(|m| m.contains("disk is full")),
                "{item}"
            );
        }
        Signal::Traces => {
            let rt = crate::otlp_grpc_tenants::rt();
            // 50 KB of noise: the trace WAL compresses its records, and 50 KB of one letter
            // would shrink to a few bytes that still fit in a page the file already has.
            let mut req = crate::otlp_grpc_tenants::request([0xfd; 16], 0);
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            let noise: String = (0..50_000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    char::from(b'a' + (x % 26) as u8)
                })
                .collect();
            req.resource_spans[0].scope_spans[0].spans[0].attributes[0].value =
                Some(opentelemetry_proto::tonic::common::v1::AnyValue {
                    value: Some(
                        opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                            noise,
                        ),
                    ),
                });
            let e = crate::otlp_grpc_tenants::export(&rt, grpc_port, &[], req)
                .expect_err("a gRPC export on a full disk");
            assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
            assert!(e.message().contains("disk is full"), "{e:?}");
        }
        Signal::Errors => {}
    }
}

/// A write's status and body.
fn raw_status(signal: Signal, c: &Client, p: &Pharos, t: Trial, ids: &[u64]) -> (u16, String) {
    match signal.send_full(c, &p.base, t, 0, ids) {
        Some(r) => r,
        None => panic!("{signal:?}: no answer (crashed or hung?)"),
    }
}

/// Every acknowledged item readable once, nothing twice.
fn check(
    signal: Signal,
    c: &Client,
    p: &Pharos,
    t: Trial,
    acked: &[u64],
    sent: &[u64],
    when: &str,
) {
    // Traces are read one by one: a sample (the first, every 97th and the last items).
    let sample: Vec<u64> = match signal {
        Signal::Traces => sent
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < 100 || i % 97 == 0 || i + 100 >= sent.len())
            .map(|(_, id)| *id)
            .collect(),
        _ => sent.to_vec(),
    };
    let acked: Vec<u64> = match signal {
        Signal::Traces => {
            let s: std::collections::HashSet<u64> = sample.iter().copied().collect();
            acked.iter().copied().filter(|id| s.contains(id)).collect()
        }
        _ => acked.to_vec(),
    };
    let counts = signal.counts(c, &p.base, t, &sample);
    let lost = acked.iter().filter(|id| !counts.contains_key(id)).count();
    let dup = counts.values().filter(|n| **n > 1).count();
    assert_eq!(
        (lost, dup),
        (0, 0),
        "{signal:?} {when}: {} acked, lost {lost}, duplicated {dup}",
        acked.len()
    );
}

#[test]
fn disk_full_metrics() {
    disk_full(Signal::Metrics);
}

#[test]
fn disk_full_logs() {
    disk_full(Signal::Logs);
}

#[test]
fn disk_full_traces() {
    disk_full(Signal::Traces);
}

#[test]
fn disk_full_errors() {
    disk_full(Signal::Errors);
}
