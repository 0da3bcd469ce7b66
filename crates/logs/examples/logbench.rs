//! Log store benchmark (in-process): generates realistic JSON request logs (winston-like:
//! timestamp, level, message, method, url, status, duration, ip, userAgent, requestId) across
//! 20 streams, pushes them in batches through `LogSink::push` (WAL fsync per batch), flushes,
//! then reports ingest lines/s, bytes on disk per line (compression ratio) and the time of a
//! line-filter query and a metric query over everything.
//!
//! `cargo run --release -p logs --example logbench -- [GB] [DIR]` (default 1 GB in a temp dir).

use logs::{LogStore, LogStoreOptions};
use model::{Direction, LabelMatcher, Labels, LogEntry, LogQueryable, LogSink, LogStream, MatchOp};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let gb: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let dir = args
        .get(2)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("pharos-logbench-{}", std::process::id()))
        });
    let _ = std::fs::remove_dir_all(&dir);
    let mut opts = LogStoreOptions {
        background: true,
        ..Default::default()
    };
    opts.limits.ingestion_rate_bytes = 0.0;
    opts.limits.reject_old_samples = false;
    let store = LogStore::open(&dir, opts).expect("open");
    let target = (gb * 1e9) as u64;
    let methods = ["GET", "POST", "PUT", "DELETE"];
    let paths = [
        "/api/v1/agents",
        "/api/v1/tasks",
        "/api/v1/crews/42/run",
        "/health",
        "/api/v1/users/me",
        "/api/v1/tools",
    ];
    let levels = ["info", "info", "info", "info", "warn", "error", "debug"];
    let agents = [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
        "curl/8.5.0",
        "node-fetch/1.0",
        "python-requests/2.31",
    ];
    let start_ns: i64 = 1_700_000_000_000_000_000;
    let mut raw_bytes = 0u64;
    let mut lines = 0u64;
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut rnd = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let t0 = Instant::now();
    let batch_lines = 2000;
    while raw_bytes < target {
        let mut streams: Vec<LogStream> = (0..20)
            .map(|i| LogStream {
                labels: Labels::from_pairs([
                    ("app", format!("svc-{}", i % 5)),
                    ("instance", format!("pod-{i}")),
                    ("env", "prod".into()),
                ]),
                entries: Vec::with_capacity(batch_lines / 20),
            })
            .collect();
        for _ in 0..batch_lines {
            let r = rnd();
            let ts = start_ns + (lines as i64) * 1_000_000;
            let level = levels[(r % 7) as usize];
            let status = if level == "error" {
                500 + (r >> 8) % 4
            } else {
                [200, 200, 201, 204, 302, 404][((r >> 8) % 6) as usize]
            };
            let line = format!(
                r#"{{"@timestamp":"2023-11-14T22:13:{:02}.{:03}Z","level":"{level}","message":"HTTP Request","service":"crewai-api","environment":"production","method":"{}","url":"{}?page={}","status":{status},"duration":{},"ip":"10.{}.{}.{}","userAgent":"{}","requestId":"{:016x}","userId":"user-{}"}}"#,
                (lines / 1000) % 60,
                lines % 1000,
                methods[((r >> 12) % 4) as usize],
                paths[((r >> 16) % 6) as usize],
                (r >> 20) % 50,
                (r >> 24) % 3000,
                (r >> 32) % 256,
                (r >> 40) % 256,
                (r >> 48) % 256,
                agents[((r >> 52) % 4) as usize],
                rnd(),
                (r >> 36) % 10_000,
            );
            raw_bytes += line.len() as u64;
            lines += 1;
            let s = (r >> 56) as usize % 20;
            streams[s].entries.push(LogEntry {
                ts_ns: ts,
                line,
                metadata: vec![],
            });
        }
        store.push("fake", streams).expect("push");
    }
    store.flush().expect("flush");
    let ingest = t0.elapsed().as_secs_f64();
    let disk = dir_size(&dir);
    println!("lines ingested:        {lines}");
    println!(
        "raw bytes:             {raw_bytes} ({:.1} bytes/line)",
        raw_bytes as f64 / lines as f64
    );
    println!("ingest:                {:.0} lines/s, {:.1} MB/s ({ingest:.1} s, WAL fsync per 2000-line push)", lines as f64 / ingest, raw_bytes as f64 / ingest / 1e6);
    println!(
        "on disk:               {disk} bytes = {:.2} bytes/line, compression ratio {:.1}x",
        disk as f64 / lines as f64,
        raw_bytes as f64 / disk as f64
    );
    let m = [LabelMatcher::new("env", MatchOp::Equal, "prod").unwrap()];
    let end = start_ns + lines as i64 * 1_000_000 + 1;
    let t1 = Instant::now();
    let mut hits = 0u64;
    store
        .scan(
            "fake",
            &m,
            start_ns,
            end,
            Direction::Forward,
            &mut |_, e| {
                if e.line.contains("\"status\":503") {
                    hits += 1;
                }
                true
            },
        )
        .unwrap();
    println!(
        "line filter |= \"status\":503 over all: {hits} hits in {:.2} s ({:.0} MB/s)",
        t1.elapsed().as_secs_f64(),
        raw_bytes as f64 / t1.elapsed().as_secs_f64() / 1e6
    );
    let t2 = Instant::now();
    let p = logs::logql::Params {
        start_ns: end,
        end_ns: end,
        instant: true,
        ..Default::default()
    };
    let q = format!(
        r#"sum by (app) (count_over_time({{env="prod"}} |= "\"level\":\"error\"" [{}s]))"#,
        (end - start_ns) / 1_000_000_000 + 1
    );
    let (r, _) = logs::logql::query(store.as_ref(), &q, &p).unwrap();
    println!(
        "{q}: {:.2} s -> {:?}",
        t2.elapsed().as_secs_f64(),
        match r {
            logs::logql::QueryResult::Vector(v, _) => v.len(),
            _ => 0,
        }
    );
    let t3 = Instant::now();
    let p = logs::logql::Params {
        start_ns,
        end_ns: end,
        limit: 100,
        ..Default::default()
    };
    let _ = logs::logql::query(store.as_ref(), r#"{app="svc-1"} |= "status\":503""#, &p).unwrap();
    println!(
        "log query, newest 100 matching |= (backward): {:.3} s",
        t3.elapsed().as_secs_f64()
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

fn dir_size(p: &std::path::Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let m = e.metadata().unwrap();
            n += if m.is_dir() {
                dir_size(&e.path())
            } else {
                m.len()
            };
        }
    }
    n
}
