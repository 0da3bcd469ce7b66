//! Troubleshooting features against the real binary: log flags and formats, the run-time log
//! level (`/-/log-level` and reload), pprof profiles, the slow query log and `pharos doctor`.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A pharos started with extra flags whose stderr lines are kept for inspection.
struct Logged {
    child: Child,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Logged {
    fn start(data: &Path, config: Option<&Path>, flags: &[&str]) -> Logged {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pharos"));
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(flags)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        let mut child = cmd.spawn().expect("spawn pharos");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let lines = lines.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(stderr);
                let mut buf = Vec::new();
                while r.read_until(b'\n', &mut buf).unwrap_or(0) > 0 {
                    let l = String::from_utf8_lossy(&buf).trim_end().to_string();
                    if let Some(rest) = l.strip_prefix("pharos: listening on ") {
                        let _ = tx.send(rest.to_string());
                    }
                    lines.lock().unwrap().push(l);
                    buf.clear();
                }
            });
        }
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("pharos did not report its address");
        Logged { child, base, lines }
    }

    fn url(&self, p: &str) -> String {
        format!("{}{}", self.base, p)
    }

    /// The log lines so far (pharos' own `pharos: ...` banner lines excluded).
    fn log_lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| !l.starts_with("pharos: "))
            .cloned()
            .collect()
    }

    /// Waits until a log line satisfies `f`.
    fn wait_line(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(l) = self.log_lines().into_iter().find(|l| f(l)) {
                return l;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("no log line {what}; got:\n{}", self.log_lines().join("\n"));
    }
}

/// Logfmt pairs of a line (quoted values with `\"` escapes).
fn logfmt(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == ' ' {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != '=' && b[i] != ' ' {
            i += 1;
        }
        let key: String = b[ks..i].iter().collect();
        if key.is_empty() || i >= b.len() || b[i] != '=' {
            return Vec::new();
        }
        i += 1;
        let mut v = String::new();
        if i < b.len() && b[i] == '"' {
            i += 1;
            let mut closed = false;
            while i < b.len() {
                match b[i] {
                    '\\' if i + 1 < b.len() => {
                        v.push(b[i + 1]);
                        i += 2;
                    }
                    '"' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    c => {
                        v.push(c);
                        i += 1;
                    }
                }
            }
            if !closed {
                return Vec::new();
            }
        } else {
            while i < b.len() && b[i] != ' ' {
                v.push(b[i]);
                i += 1;
            }
        }
        out.push((key, v));
    }
    out
}

fn get(url: &str) -> reqwest::blocking::Response {
    reqwest::blocking::get(url).expect("GET")
}

fn put(url: &str, body: &str) -> reqwest::blocking::Response {
    reqwest::blocking::Client::new()
        .put(url)
        .body(body.to_string())
        .send()
        .expect("PUT")
}

#[test]
fn logfmt_by_default_without_ansi_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let p = Logged::start(dir.path(), None, &["--log.level=info"]);
    p.wait_line("'pharos started'", |l| l.contains("msg=\"pharos started\""));
    let raw = p.lines.lock().unwrap().join("\n");
    assert!(!raw.contains('\x1b'), "ANSI escape in the log:\n{raw}");
    for l in p.log_lines() {
        let kv = logfmt(&l);
        let keys: Vec<&str> = kv.iter().map(|(k, _)| k.as_str()).take(4).collect();
        assert_eq!(keys, ["ts", "level", "caller", "msg"], "not logfmt: {l}");
        let ts = &kv[0].1;
        assert!(
            chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.ends_with('Z'),
            "ts {ts}"
        );
        assert!(
            ["info", "warn", "error"].contains(&kv[1].1.as_str()),
            "level {l}"
        );
    }
}

#[test]
fn json_format_is_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = Logged::start(dir.path(), None, &["--log.format=json"]);
    p.wait_line("'pharos started'", |l| l.contains("\"pharos started\""));
    for l in p.log_lines() {
        assert!(!l.contains('\x1b'));
        let v: serde_json::Value =
            serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        for k in ["ts", "level", "caller", "msg"] {
            assert!(v[k].is_string(), "{k} missing in {l}");
        }
    }
}

#[test]
fn log_level_changes_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(&cfg, "log:\n  level: warn\n").unwrap();
    let p = Logged::start(
        &dir.path().join("data"),
        Some(&cfg),
        &["--web.enable-lifecycle"],
    );
    assert_eq!(get(&p.url("/-/log-level")).text().unwrap().trim(), "warn");
    // At warn, neither info nor debug lines.
    get(&p.url("/api/v1/query?query=vector(1)"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !p.log_lines()
            .iter()
            .any(|l| l.contains("level=debug") || l.contains("msg=\"pharos started\"")),
        "{:?}",
        p.log_lines()
    );
    // Bad levels are refused and change nothing.
    let r = put(&p.url("/-/log-level"), "loud");
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("invalid log level"));
    let r = put(&p.url("/-/log-level"), "{\"nope\":1}");
    assert_eq!(r.status(), 400);
    assert_eq!(get(&p.url("/-/log-level")).text().unwrap().trim(), "warn");
    // PUT debug: debug lines appear (each query is logged at debug).
    let r = put(&p.url("/-/log-level"), "debug");
    assert_eq!(r.status(), 200);
    assert_eq!(get(&p.url("/-/log-level")).text().unwrap().trim(), "debug");
    get(&p.url("/api/v1/query?query=vector(42)"));
    let l = p.wait_line("at debug for the query", |l| {
        l.contains("level=debug") && l.contains("vector(42)")
    });
    assert!(!logfmt(&l).is_empty(), "{l}");
    // JSON body form.
    let r = put(&p.url("/-/log-level"), "{\"level\":\"error\"}");
    assert_eq!(r.status(), 200);
    assert_eq!(get(&p.url("/-/log-level")).text().unwrap().trim(), "error");
    // A reload applies the config file's level.
    std::fs::write(&cfg, "log:\n  level: info\n").unwrap();
    let r = reqwest::blocking::Client::new()
        .post(p.url("/-/reload"))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(get(&p.url("/-/log-level")).text().unwrap().trim(), "info");
}

/// The parts of pprof's `profile.proto` the tests read (an independent decoder).
mod pb {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        #[prost(int64, tag = "1")]
        pub ty: i64,
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Line {
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(int64, tag = "2")]
        pub name: i64,
    }
}

/// Gunzips and decodes a profile; returns it with the function names of every sample's stack.
fn decode_profile(body: &[u8]) -> (pb::Profile, Vec<Vec<String>>) {
    assert_eq!(&body[..2], &[0x1f, 0x8b], "not gzip");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut raw)
        .unwrap();
    let p = <pb::Profile as prost::Message>::decode(raw.as_slice()).expect("profile.proto");
    assert_eq!(p.string_table.first().map(String::as_str), Some(""));
    let s = |i: i64| p.string_table[i as usize].clone();
    let stacks = p
        .sample
        .iter()
        .map(|smp| {
            assert_eq!(smp.value.len(), p.sample_type.len());
            smp.location_id
                .iter()
                .flat_map(|id| {
                    let loc = p.location.iter().find(|l| l.id == *id).expect("location");
                    loc.line
                        .iter()
                        .map(|ln| {
                            let f = p
                                .function
                                .iter()
                                .find(|f| f.id == ln.function_id)
                                .expect("function");
                            s(f.name)
                        })
                        .collect::<Vec<_>>()
                })
                .collect()
        })
        .collect();
    (p, stacks)
}

#[test]
fn pprof_profiles_decode_with_samples() {
    let dir = tempfile::tempdir().unwrap();
    let p = crate::common::Pharos::start(dir.path(), None);
    // Heap: start-up alone allocates far more than one sampling period.
    let r = get(&p.url("/debug/pprof/heap"));
    assert_eq!(r.status(), 200);
    let (heap, stacks) = decode_profile(&r.bytes().unwrap());
    let types: Vec<&str> = heap
        .sample_type
        .iter()
        .map(|t| heap.string_table[t.ty as usize].as_str())
        .collect();
    assert_eq!(types, ["alloc_objects", "alloc_space"]);
    assert!(!heap.sample.is_empty());
    assert!(heap.sample.iter().all(|s| s.value[1] > 0));
    assert!(
        stacks
            .iter()
            .flatten()
            .any(|f| f.contains("pharos") || f.contains("tsdb") || f.contains("logs")),
        "no pharos frame in heap stacks"
    );
    // CPU: keep pharos busy while it profiles itself.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (stop, url) = (stop.clone(), p.url(""));
        std::thread::spawn(move || {
            let c = reqwest::blocking::Client::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = c
                    .get(format!("{url}/api/v1/query_range"))
                    .query(&[
                        ("query", "sum(rate(vector(time())[5m:1s]))"),
                        ("start", "0"),
                        ("end", "10000"),
                        ("step", "1"),
                    ])
                    .send();
                let _ = c.get(format!("{url}/debug/pprof/heap")).send();
            }
        })
    };
    let r = get(&p.url("/debug/pprof/profile?seconds=2"));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = load.join();
    assert_eq!(r.status(), 200);
    let (cpu, stacks) = decode_profile(&r.bytes().unwrap());
    let types: Vec<&str> = cpu
        .sample_type
        .iter()
        .map(|t| cpu.string_table[t.ty as usize].as_str())
        .collect();
    assert_eq!(types, ["samples", "cpu"]);
    assert!(!cpu.sample.is_empty(), "no CPU samples");
    assert!(stacks.iter().all(|s| !s.is_empty()));
    // Bad input is a 400.
    assert_eq!(
        get(&p.url("/debug/pprof/profile?seconds=abc")).status(),
        400
    );
    assert_eq!(get(&p.url("/debug/pprof/profile?seconds=0")).status(), 400);
}

#[test]
fn slow_queries_land_in_the_query_log_stream() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(&cfg, "query_log:\n  slow_threshold: 0s\n").unwrap();
    let p = crate::common::Pharos::start(&dir.path().join("data"), Some(&cfg));
    let r = reqwest::blocking::Client::new()
        .post(p.url("/api/v1/query"))
        .form(&[("query", "sum(vector(7))")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = get(&p.url("/api/v1/query?query=bad((("));
    assert_eq!(r.status(), 400);
    // An Elasticsearch search: its JSON body is the query.
    reqwest::blocking::Client::new()
        .post(p.url("/_search"))
        .header("content-type", "application/json")
        .body(r#"{"query": {"match": {"message": "needle"}}}"#)
        .send()
        .unwrap();
    let q = "{job=\"pharos\", stream=\"query_log\"}";
    let v: serde_json::Value = reqwest::blocking::Client::new()
        .get(p.url("/loki/api/v1/query_range"))
        .query(&[("query", q), ("limit", "100")])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let mut lines: Vec<String> = Vec::new();
    for s in v["data"]["result"].as_array().expect("streams") {
        assert_eq!(s["stream"]["job"], "pharos");
        for e in s["values"].as_array().unwrap() {
            lines.push(e[1].as_str().unwrap().to_string());
        }
    }
    let find = |query: &str| {
        lines
            .iter()
            .map(|l| logfmt(l))
            .find(|kv| kv.iter().any(|(k, v)| k == "query" && v == query))
            .unwrap_or_else(|| panic!("{query} not in the query log: {lines:?}"))
    };
    let ok = find("sum(vector(7))");
    let field = |kv: &Vec<(String, String)>, k: &str| {
        kv.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(field(&ok, "kind"), "promql");
    assert_eq!(field(&ok, "status"), "200");
    assert!(field(&ok, "duration").ends_with('s'));
    let bad = find("bad(((");
    assert_eq!(field(&bad, "status"), "400");
    let es = find(r#"{"query":{"match":{"message":"needle"}}}"#);
    assert_eq!(field(&es, "kind"), "es");
    assert_eq!(field(&es, "path"), "/_search");
    // LogQL queries are logged too: the query above is now in the log.
    let v: serde_json::Value = reqwest::blocking::Client::new()
        .get(p.url("/loki/api/v1/query_range"))
        .query(&[(
            "query",
            "{job=\"pharos\", stream=\"query_log\", kind=\"logql\"} | logfmt",
        )])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let logql = v["data"]["result"].as_array().unwrap();
    assert!(
        logql.iter().any(|s| s["stream"]["query"]
            .as_str()
            .is_some_and(|q| q.contains("stream=\"query_log\""))),
        "{v}"
    );
}

fn doctor(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pharos"))
        .arg("doctor")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn doctor_on_good_and_bad_setups() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = crate::common::Pharos::start(&data, None);
    let addr = p.base.trim_start_matches("http://").to_string();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, format!("listen: {addr}\n")).unwrap();
    let data_s = data.to_string_lossy().to_string();
    let (code, out) = doctor(&[
        "--config",
        good.to_str().unwrap(),
        "--url",
        &p.base,
        "--data",
        &data_s,
    ]);
    // The disk check reads the machine's real disk: a nearly full CI disk
    // may fail it, and nothing else may.
    let disk_full = out.lines().any(|l| l.contains("✗ disk of"));
    assert_eq!(code, i32::from(disk_full), "{out}");
    assert!(out.contains("✓ config"), "{out}");
    assert!(out.contains("is ready"), "{out}");
    assert!(out.contains("in use by the running pharos"), "{out}");
    assert!(out.contains("is writable"), "{out}");
    assert!(out.contains("clock skew"), "{out}");
    assert!(
        !out.lines()
            .any(|l| l.contains('✗') && !l.contains("✗ disk of")),
        "{out}"
    );
    // Without a config, the port checked is --url's.
    let (code, out) = doctor(&["--url", &p.base, "--data", &data_s]);
    assert_eq!(code, i32::from(disk_full), "{out}");
    assert!(out.contains("in use by the running pharos"), "{out}");

    // A bad config, a target that is down, and a port taken by another process.
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "listen: 127.0.0.1:9\nstorage:\n  tsdb:\n    retention_size: 12XB\n",
    )
    .unwrap();
    let (code, out) = doctor(&["--config", bad.to_str().unwrap(), "--url", &p.base]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("✗ config: "), "{out}");
    assert!(out.contains("bad.yml:4:"), "file:line expected: {out}");
    assert!(out.contains("fix: "), "{out}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let prom = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom,
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: gone\n    static_configs:\n      - targets: ['127.0.0.1:1']\n",
    )
    .unwrap();
    let cfg = dir.path().join("down.yml");
    std::fs::write(
        &cfg,
        format!(
            "listen: {}\nprometheus_config: prometheus.yml\n",
            taken.local_addr().unwrap()
        ),
    )
    .unwrap();
    let q = crate::common::Pharos::start(&dir.path().join("data2"), Some(&cfg));
    let deadline = Instant::now() + Duration::from_secs(20);
    let (code, out) = loop {
        let (code, out) = doctor(&["--config", cfg.to_str().unwrap(), "--url", &q.base]);
        if out.contains("target gone/127.0.0.1:1 is down") || Instant::now() > deadline {
            break (code, out);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("✗ target gone/127.0.0.1:1 is down"), "{out}");
    assert!(
        out.contains(&format!("in use by pid {}", std::process::id()))
            || out.contains(&format!("(pid {})", std::process::id())),
        "{out}"
    );

    // Nothing listening at an explicit --url.
    drop(taken);
    let (code, out) = doctor(&["--url", "http://127.0.0.1:1"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("✗ no pharos answers at http://127.0.0.1:1"),
        "{out}"
    );
}

#[test]
fn prometheus_query_log_file_gets_every_promql_query() {
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("prometheus.yml");
    std::fs::write(&prom, "global:\n  query_log_file: queries.log\n").unwrap();
    let p = crate::common::Pharos::start(&dir.path().join("data"), Some(&prom));
    let r = get(&p.url("/api/v1/query_range?query=vector(3)&start=0&end=60&step=15"));
    assert_eq!(r.status(), 200);
    let text = std::fs::read_to_string(dir.path().join("queries.log")).expect("query log file");
    let entry = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .find(|v| v["params"]["query"] == "vector(3)")
        .unwrap_or_else(|| panic!("vector(3) not logged: {text}"));
    assert_eq!(entry["params"]["step"], "15");
    assert!(entry["stats"]["timings"]["evalTotalTime"].as_f64().unwrap() >= 0.0);
    // Not slow (default threshold 5s): nothing in the slow query stream.
    let v: serde_json::Value = reqwest::blocking::Client::new()
        .get(p.url("/loki/api/v1/query_range"))
        .query(&[("query", "{stream=\"query_log\"}")])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["data"]["result"].as_array().map(Vec::len), Some(0), "{v}");
}
