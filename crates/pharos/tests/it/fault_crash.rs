//! Fault campaign, randomized crash trials: for each signal (metrics by remote_write, logs by
//! Loki push, traces by OTLP/HTTP JSON, errors by Sentry envelope) writers send uniquely numbered
//! items while the test `kill -9`s pharos at a random moment (seeded; the seed is printed and
//! `PHAROS_FAULT_SEED` replays it), restarts it on the same data directory and checks through
//! the query APIs that every acknowledged item is there exactly once and no item is there twice.
//! Short by default (CI); `PHAROS_FAULT_TRIALS=100` runs the long mode by hand.

use crate::common::{write_request, Pharos};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const KEY: &str = "0123456789abcdef0123456789abcdef";
/// Concurrent writers per trial; each numbers its items `w * WRITER_SPAN + seq`.
const WRITERS: u64 = 2;
const WRITER_SPAN: u64 = 1_000_000;

/// splitmix64: a small seeded generator, so a failing trial can be replayed from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// The campaign's seed: `PHAROS_FAULT_SEED`, else the clock.
pub fn seed() -> u64 {
    std::env::var("PHAROS_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

/// Trials per signal: `PHAROS_FAULT_TRIALS`, else the short mode's 3.
fn trials() -> u64 {
    std::env::var("PHAROS_FAULT_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// pharos.yml with the built-in collectors off and one Sentry project without a rate limit.
pub fn config(dir: &Path) -> std::path::PathBuf {
    let cfg = dir.join("pharos.yml");
    std::fs::write(
        &cfg,
        format!(
            "collectors: {{self: {{enabled: false}}, host: {{enabled: false}}}}\n\
             security: {{enabled: false}}\n\
             errors:\n  projects:\n    - {{id: 1, name: api, keys: [{KEY}]}}\n  max_events_per_second: 1000000\n"
        ),
    )
    .unwrap();
    cfg
}

/// The signals under test.
#[derive(Clone, Copy, Debug)]
pub enum Signal {
    Metrics,
    Logs,
    Traces,
    Errors,
}

/// One trial's identity: its number and the time its items are stamped around.
#[derive(Clone, Copy)]
pub struct Trial {
    pub n: u64,
    pub t0_ms: i64,
}

impl Signal {
    /// Items per writer in one trial at most (keeps the read-back check within one query's limit).
    fn max_items(self) -> u64 {
        match self {
            Signal::Metrics | Signal::Logs => 2000,
            Signal::Traces => 400,
            Signal::Errors => 300,
        }
    }

    /// Items per request at most.
    fn max_batch(self) -> u64 {
        match self {
            Signal::Errors => 1,
            _ => 8,
        }
    }

    fn trace_id(t: Trial, id: u64) -> String {
        format!("{:016x}{:016x}", t.n + 1, id + 1)
    }

    /// Sends `ids` (all of writer `w`) in one request; the HTTP status, or None when the
    /// connection failed.
    pub fn send(self, c: &Client, base: &str, t: Trial, w: u64, ids: &[u64]) -> Option<u16> {
        self.send_full(c, base, t, w, ids).map(|(s, _)| s)
    }

    /// [`Signal::send`] with the answer's body.
    pub fn send_full(
        self,
        c: &Client,
        base: &str,
        t: Trial,
        w: u64,
        ids: &[u64],
    ) -> Option<(u16, String)> {
        let r = self.request(c, base, t, w, ids).send().ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().unwrap_or_default()))
    }

    /// The write request of items `ids` (writer `w`) on the signal's main ingest endpoint.
    pub fn request(
        self,
        c: &Client,
        base: &str,
        t: Trial,
        w: u64,
        ids: &[u64],
    ) -> reqwest::blocking::RequestBuilder {
        match self {
            Signal::Metrics => {
                let trial = t.n.to_string();
                let wl = w.to_string();
                let samples: Vec<(i64, f64)> = ids
                    .iter()
                    .map(|id| (t.t0_ms + (id % WRITER_SPAN) as i64, *id as f64))
                    .collect();
                let series = vec![(
                    vec![("__name__", "fault_item"), ("trial", &*trial), ("w", &*wl)],
                    samples,
                )];
                c.post(format!("{base}/api/v1/write"))
                    .header("Content-Encoding", "snappy")
                    .header("Content-Type", "application/x-protobuf")
                    .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                    .body(write_request(&series))
            }
            Signal::Logs => {
                let values: Vec<Value> = ids
                    .iter()
                    .map(|id| {
                        // Unique across writers, so the read-back can page by time.
                        let ns = (t.t0_ms as i128) * 1_000_000
                            + (id % WRITER_SPAN) as i128 * 1000
                            + (id / WRITER_SPAN) as i128;
                        json!([ns.to_string(), format!("item {id}")])
                    })
                    .collect();
                c.post(format!("{base}/loki/api/v1/push"))
                    .json(&json!({"streams": [{
                    "stream": {"job": "fault", "trial": t.n.to_string(), "w": w.to_string()},
                    "values": values}]}))
            }
            Signal::Traces => {
                let start = (t.t0_ms as u128) * 1_000_000;
                let spans: Vec<Value> = ids
                    .iter()
                    .map(|id| {
                        json!({"traceId": Signal::trace_id(t, *id), "spanId": format!("{:016x}", id + 1),
                        "name": format!("item {id}"), "startTimeUnixNano": start.to_string(),
                        "endTimeUnixNano": (start + 1_000_000).to_string()})
                    })
                    .collect();
                c.post(format!("{base}/v1/traces")).json(&json!({"resourceSpans": [{
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "fault"}}]},
                    "scopeSpans": [{"spans": spans}]}]}))
            }
            Signal::Errors => {
                let id = ids[0];
                let ev = json!({
                    "event_id": format!("{:016x}{:016x}", t.n + 1, id + 1), "platform": "python",
                    "level": "error", "message": format!("item {id}"),
                    "exception": {"values": [{"type": format!("FaultError{}", t.n), "value": format!("item {id}"),
                        "stacktrace": {"frames": [{"function": format!("trial_{}", t.n), "module": "fault", "lineno": 1, "in_app": true}]}}]},
                    "contexts": {"trace": {"trace_id": Signal::trace_id(t, 0), "span_id": "00f067aa0ba902b7"}}
                });
                let payload = ev.to_string();
                let body = format!(
                    "{{\"event_id\":\"{}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n",
                    ev["event_id"].as_str().unwrap_or(""),
                    payload.len()
                );
                c.post(format!("{base}/api/1/envelope/"))
                    .header(
                        "X-Sentry-Auth",
                        format!("Sentry sentry_version=7, sentry_key={KEY}"),
                    )
                    .body(body)
            }
        }
    }

    /// How many times each item of trial `t` is present, read through the query APIs.
    pub fn counts(self, c: &Client, base: &str, t: Trial, sent: &[u64]) -> HashMap<u64, usize> {
        let mut out: HashMap<u64, usize> = HashMap::new();
        match self {
            Signal::Metrics => {
                let r: Value = c
                    .get(format!("{base}/api/v1/query"))
                    .query(&[
                        ("query", format!("fault_item{{trial=\"{}\"}}[30m]", t.n)),
                        ("time", format!("{}", t.t0_ms / 1000 + 600)),
                    ])
                    .send()
                    .and_then(|r| r.json())
                    .expect("metrics query");
                assert_eq!(r["status"], "success", "{r}");
                for s in r["data"]["result"].as_array().into_iter().flatten() {
                    for v in s["values"].as_array().into_iter().flatten() {
                        let id: f64 = v[1].as_str().and_then(|x| x.parse().ok()).unwrap_or(-1.0);
                        *out.entry(id as u64).or_default() += 1;
                    }
                }
            }
            Signal::Logs => {
                // Pages of 5000 (Loki's max_entries_limit_per_query), oldest first.
                let mut from = (t.t0_ms - 60_000) as i128 * 1_000_000;
                loop {
                    let r: Value = c
                        .get(format!("{base}/loki/api/v1/query_range"))
                        .query(&[
                            ("query", format!("{{job=\"fault\",trial=\"{}\"}}", t.n)),
                            ("start", from.to_string()),
                            (
                                "end",
                                ((t.t0_ms + 3_600_000) as i128 * 1_000_000).to_string(),
                            ),
                            ("limit", "5000".to_string()),
                            ("direction", "forward".to_string()),
                        ])
                        .send()
                        .and_then(|r| r.json())
                        .expect("logs query");
                    assert_eq!(r["status"], "success", "{r}");
                    let mut page = 0;
                    for s in r["data"]["result"].as_array().into_iter().flatten() {
                        for v in s["values"].as_array().into_iter().flatten() {
                            page += 1;
                            let ns: i128 = v[0].as_str().and_then(|x| x.parse().ok()).unwrap_or(0);
                            from = from.max(ns + 1);
                            let line = v[1].as_str().unwrap_or("");
                            if let Some(id) =
                                line.strip_prefix("item ").and_then(|x| x.parse().ok())
                            {
                                *out.entry(id).or_default() += 1;
                            }
                        }
                    }
                    if page < 5000 {
                        break;
                    }
                }
            }
            Signal::Traces => {
                for id in sent {
                    let r = c
                        .get(format!("{base}/api/traces/{}", Signal::trace_id(t, *id)))
                        .send()
                        .expect("trace query");
                    if r.status() == 404 {
                        continue;
                    }
                    let v: Value = r.json().expect("trace json");
                    let n = v["data"][0]["spans"].as_array().map_or(0, |a| a.len());
                    if n > 0 {
                        out.insert(*id, n);
                    }
                }
            }
            Signal::Errors => {
                let r: Value = c
                    .get(format!("{base}/api/pharos/v1/errors/events"))
                    .query(&[("trace_id", Signal::trace_id(t, 0))])
                    .send()
                    .and_then(|r| r.json())
                    .expect("errors query");
                let mut issues: HashMap<String, u64> = HashMap::new();
                for e in r["events"].as_array().into_iter().flatten() {
                    let eid = e["event_id"].as_str().unwrap_or("");
                    if let Some(id) = eid.get(16..).and_then(|x| u64::from_str_radix(x, 16).ok()) {
                        *out.entry(id - 1).or_default() += 1;
                    }
                    *issues
                        .entry(e["issue_id"].as_str().unwrap_or("").to_string())
                        .or_default() += 1;
                }
                // An event counted twice in its issue (replayed from the log twice) is a duplicate
                // too, even if the event map holds it once.
                for (iid, distinct) in issues {
                    let i: Value = c
                        .get(format!("{base}/api/pharos/v1/errors/issues/{iid}"))
                        .send()
                        .and_then(|r| r.json())
                        .expect("issue");
                    let count = i["count"].as_u64().unwrap_or(0);
                    assert!(
                        count <= distinct,
                        "errors trial {}: issue {iid} counts {count} events, {distinct} stored (duplicates)",
                        t.n
                    );
                }
            }
        }
        out
    }
}

/// What the trials of one signal found.
#[derive(Default, Debug)]
pub struct Tally {
    pub trials: u64,
    pub acked: u64,
    pub unacked_present: u64,
    pub lost: u64,
    pub duplicated: u64,
}

/// Writers send `signal`'s items to `p`, which is killed once `kill_at` items are acknowledged
/// (a random point of the ingest, whatever the machine's speed) or after 5 s; returns
/// (acked, sent).
pub fn write_until_killed(
    signal: Signal,
    p: Pharos,
    t: Trial,
    kill_at: u64,
    seed: u64,
) -> (Vec<u64>, Vec<u64>) {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let sent = Arc::new(Mutex::new(Vec::new()));
    let base = p.base.clone();
    let mut workers = Vec::new();
    for w in 0..WRITERS {
        let (acked, sent, base) = (acked.clone(), sent.clone(), base.clone());
        workers.push(std::thread::spawn(move || {
            let c = Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut rng = Rng::new(seed ^ (w + 1));
            let mut seq = 0;
            while seq < signal.max_items() {
                let k = rng.range(1, signal.max_batch());
                let ids: Vec<u64> = (seq..(seq + k).min(signal.max_items()))
                    .map(|s| w * WRITER_SPAN + s)
                    .collect();
                seq += k;
                sent.lock().unwrap().extend_from_slice(&ids);
                match signal.send(&c, &base, t, w, &ids) {
                    Some(s) if (200..300).contains(&s) => {
                        acked.lock().unwrap().extend_from_slice(&ids)
                    }
                    Some(s) => panic!("{signal:?}: a write answered {s} before the crash"),
                    None => return,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while (acked.lock().unwrap().len() as u64) < kill_at && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    p.kill9();
    for w in workers {
        w.join().expect("writer");
    }
    let a = acked.lock().unwrap().clone();
    let s = sent.lock().unwrap().clone();
    (a, s)
}

/// Runs the trials of one signal and asserts 0 lost, 0 duplicated.
fn campaign(signal: Signal) {
    let seed = seed();
    let n = trials();
    println!("fault_crash {signal:?}: seed {seed} (PHAROS_FAULT_SEED={seed} replays), {n} trials");
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let data = dir.path().join("data");
    let c = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let started = Instant::now();
    for trial in 0..n {
        // Every trial crashes the data directory the previous trials left behind.
        let p = Pharos::start(&data, Some(&cfg));
        let t = Trial {
            n: trial,
            t0_ms: now_ms(),
        };
        // Killed once 1..90% of the trial's items are acknowledged.
        let kill_at = rng.range(1, signal.max_items() * WRITERS * 9 / 10);
        let (acked, sent) = write_until_killed(signal, p, t, kill_at, rng.next());
        let p = Pharos::start(&data, Some(&cfg));
        let counts = signal.counts(&c, &p.base, t, &sent);
        let lost: Vec<u64> = acked
            .iter()
            .filter(|id| !counts.contains_key(id))
            .copied()
            .collect();
        let dup: Vec<u64> = counts
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(id, _)| *id)
            .collect();
        let acked_set: std::collections::HashSet<u64> = acked.iter().copied().collect();
        tally.trials += 1;
        tally.acked += acked.len() as u64;
        tally.unacked_present += counts.keys().filter(|id| !acked_set.contains(id)).count() as u64;
        tally.lost += lost.len() as u64;
        tally.duplicated += dup.len() as u64;
        assert!(
            lost.is_empty() && dup.is_empty(),
            "{signal:?} seed {seed} trial {trial} (killed at {kill_at} acked): {} acked, lost {:?}, duplicated {:?}",
            acked.len(),
            &lost[..lost.len().min(20)],
            &dup[..dup.len().min(20)]
        );
        p.kill9();
    }
    println!(
        "fault_crash {signal:?}: trials {}, acked items {}, unacked but present {}, lost {}, duplicated {} ({:.1}s)",
        tally.trials,
        tally.acked,
        tally.unacked_present,
        tally.lost,
        tally.duplicated,
        started.elapsed().as_secs_f64()
    );
    assert!(tally.acked > 0, "{signal:?}: no write was acknowledged");
}

#[test]
fn crash_trials_metrics() {
    campaign(Signal::Metrics);
}

#[test]
fn crash_trials_logs() {
    campaign(Signal::Logs);
}

#[test]
fn crash_trials_traces() {
    campaign(Signal::Traces);
}

#[test]
fn crash_trials_errors() {
    campaign(Signal::Errors);
}
