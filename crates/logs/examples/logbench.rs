//! Log store benchmark (in-process): generates realistic JSON request logs (winston-like:
//! timestamp, level, message, method, url, status, duration, ip, userAgent, requestId) across
//! 20 streams, pushes them in batches through `LogSink::push` (WAL fsync per batch), flushes,
//! then reports ingest lines/s, bytes on disk per line (compression ratio) and the time of a
//! line-filter query and a metric query over everything; then pushes 100 k streams (one line
//! each) into a second store and times the label endpoints' store calls. The benchmark sets
//! the limits it needs (no ingestion, per-stream or stream-count limits), so it runs the same
//! on an idle machine as on a loaded one.
//!
//! `cargo run --release -p logs --example logbench -- [GB] [DIR]` (default 1 GB in a temp dir);
//! `LOGBENCH_CHUNKS=legacy` writes the pre-columnar chunk format (for before/after figures).

use logs::{LogStore, LogStoreOptions};
use model::{Direction, LabelMatcher, Labels, LogEntry, LogQueryable, LogSink, LogStream, MatchOp};
use std::time::Instant;

/// The fixed-seed line generator: (timestamp, JSON line, stream index out of 20).
struct Gen {
    seed: u64,
}

impl Default for Gen {
    fn default() -> Self {
        Gen {
            seed: 0x1234_5678_9abc_def0,
        }
    }
}

impl Gen {
    fn rnd(&mut self) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed
    }

    fn line(&mut self, start_ns: i64, lines: u64) -> (i64, String, usize) {
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
        let r = self.rnd();
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
            self.rnd(),
            (r >> 36) % 10_000,
        );
        (ts, line, (r >> 56) as usize % 20)
    }
}

/// `logbench codec [LINES]`: the chunk encodings alone on the benchmark's lines (20 streams,
/// 1.5 MB chunks): encode and decode+scan CPU per format, bytes, and the columnar chunk's
/// sections.
fn codec_bench(n: u64) {
    use logs::colchunk;
    let mut gen = Gen::default();
    let mut streams: Vec<Vec<LogEntry>> = vec![Vec::new(); 20];
    let mut raw = 0u64;
    for i in 0..n {
        let (ts, line, s) = gen.line(1_700_000_000_000_000_000, i);
        raw += line.len() as u64;
        streams[s].push(LogEntry {
            ts_ns: ts,
            line,
            metadata: vec![],
        });
    }
    let mut parts: Vec<Vec<&LogEntry>> = Vec::new();
    for s in &streams {
        let mut cur = Vec::new();
        let mut bytes = 0;
        for e in s {
            cur.push(e);
            bytes += e.line.len() + 16;
            if bytes >= 1536 * 1024 {
                parts.push(std::mem::take(&mut cur));
                bytes = 0;
            }
        }
        if !cur.is_empty() {
            parts.push(cur);
        }
    }
    let finder = memchr::memmem::Finder::new(b"\"status\":503");
    // Decode passes timed (CPU time is read in 10 ms ticks).
    const REPS: usize = 20;
    for columnar in [false, true] {
        let mut comp = zstd::bulk::Compressor::new(3).unwrap();
        let c = cpu_secs();
        let chunks: Vec<Vec<u8>> = parts
            .iter()
            .map(|p| {
                if columnar {
                    colchunk::encode(&mut comp, p).unwrap()
                } else {
                    colchunk::encode_legacy(&mut comp, p).unwrap()
                }
            })
            .collect();
        let enc = cpu_secs() - c;
        let size: usize = chunks.iter().map(|c| c.len()).sum();
        let c = cpu_secs();
        let mut hits = 0;
        for _ in 0..REPS {
            for z in &chunks {
                // What the store's scan does: each line tested as it is rebuilt.
                colchunk::for_each_entry(z, 1 << 30, &mut |e| {
                    hits += finder.find(e.line).is_some() as u64;
                    Ok(())
                })
                .unwrap();
            }
        }
        let dec = (cpu_secs() - c) / REPS as f64;
        println!(
            "{:<9} {n} lines: {:.1}x ({:.2} bytes/line), encode {:.0} k lines per CPU-s, decode+filter {:.0} MB/s per CPU-s ({} hits)",
            if columnar { "columnar" } else { "legacy" },
            raw as f64 / size as f64,
            size as f64 / n as f64,
            n as f64 / enc / 1e3,
            raw as f64 / dec / 1e6,
            hits / REPS as u64,
        );
        if columnar {
            let mut per: Vec<(String, usize, usize)> = Vec::new();
            for z in &chunks {
                for (i, (name, r, st)) in colchunk::sections(z).unwrap().into_iter().enumerate() {
                    if per.len() <= i {
                        per.push((name, 0, 0));
                    }
                    per[i].1 += r;
                    per[i].2 += st;
                }
            }
            for (name, r, st) in per {
                println!(
                    "  {name:<24} {:>7.2} bytes/line raw, {:>6.2} stored",
                    r as f64 / n as f64,
                    st as f64 / n as f64
                );
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("codec") {
        codec_bench(args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200_000));
        return;
    }
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
    opts.limits.per_stream_rate_bytes = 0.0;
    opts.limits.max_streams_per_user = 0;
    opts.limits.reject_old_samples = false;
    // LOGBENCH_CHUNKS=legacy: every chunk in the pre-columnar format (the "before" figures).
    opts.columnar_chunks = std::env::var("LOGBENCH_CHUNKS").as_deref() != Ok("legacy");
    println!(
        "chunk format: {}",
        if opts.columnar_chunks {
            "columnar (JSON lines)"
        } else {
            "legacy (one zstd frame)"
        }
    );
    let store = LogStore::open(&dir, opts).expect("open");
    let target = (gb * 1e9) as u64;
    println!(
        "load average at start: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let start_ns: i64 = 1_700_000_000_000_000_000;
    let mut raw_bytes = 0u64;
    let mut lines = 0u64;
    let mut gen = Gen::default();
    let t0 = Instant::now();
    let c0 = cpu_secs();
    let mut in_push = 0f64;
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
            let (ts, line, s) = gen.line(start_ns, lines);
            raw_bytes += line.len() as u64;
            lines += 1;
            streams[s].entries.push(LogEntry {
                ts_ns: ts,
                line,
                metadata: vec![],
            });
        }
        let tp = Instant::now();
        store.push("fake", streams).expect("push");
        in_push += tp.elapsed().as_secs_f64();
    }
    let tf = Instant::now();
    store.flush().expect("flush");
    let final_flush = tf.elapsed().as_secs_f64();
    let ingest = t0.elapsed().as_secs_f64();
    let ingest_cpu = cpu_secs() - c0;
    let disk = dir_size(&dir);
    println!("lines ingested:        {lines}");
    println!(
        "raw bytes:             {raw_bytes} ({:.1} bytes/line)",
        raw_bytes as f64 / lines as f64
    );
    println!("ingest:                {:.0} lines/s, {:.1} MB/s ({ingest:.1} s wall incl. line generation and the final flush, WAL fsync per 2000-line push)", lines as f64 / ingest, raw_bytes as f64 / ingest / 1e6);
    println!(
        "ingest in push():      {:.0} lines/s ({in_push:.1} s inside LogSink::push; final flush {final_flush:.1} s)",
        lines as f64 / in_push
    );
    println!(
        "ingest CPU:            {ingest_cpu:.1} CPU-s incl. line generation = {:.0} lines per CPU-second",
        lines as f64 / ingest_cpu
    );
    println!(
        "on disk:               {disk} bytes = {:.2} bytes/line, compression ratio {:.1}x",
        disk as f64 / lines as f64,
        raw_bytes as f64 / disk as f64
    );
    let m = [LabelMatcher::new("env", MatchOp::Equal, "prod").unwrap()];
    let end = start_ns + lines as i64 * 1_000_000 + 1;
    // Time and CPU seconds (all threads): "MB/s per core" is raw bytes over CPU seconds, which
    // stays meaningful when other processes load the machine.
    // The filter is timed over LOGBENCH_REPS passes (default 5; CPU time comes in 10 ms ticks).
    let reps: u32 = std::env::var("LOGBENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    let t1 = Instant::now();
    let c1 = cpu_secs();
    let mut hits = 0u64;
    // The store-level line filter LogQL pushes down: memchr's substring finder over raw bytes.
    let finder = memchr::memmem::Finder::new(b"\"status\":503");
    let keep = |l: &[u8]| finder.find(l).is_some();
    let mut per_pass = Vec::new();
    for _ in 0..reps {
        let c = cpu_secs();
        store
            .scan_filtered(
                "fake",
                &m,
                start_ns,
                end,
                Direction::Forward,
                &keep,
                &[&b"\"status\":503"[..]],
                &mut |_, _| {
                    hits += 1;
                    true
                },
            )
            .unwrap();
        per_pass.push(format!("{:.0}", raw_bytes as f64 / (cpu_secs() - c) / 1e6));
    }
    let (wall, cpu) = (
        t1.elapsed().as_secs_f64() / reps as f64,
        (cpu_secs() - c1) / reps as f64,
    );
    println!(
        "line filter |= \"status\":503 over all: {} hits in {wall:.2} s ({:.0} MB/s wall, {:.0} MB/s per CPU-second; passes {})",
        hits / reps as u64,
        raw_bytes as f64 / wall / 1e6,
        raw_bytes as f64 / cpu / 1e6,
        per_pass.join(" ")
    );
    // The path every line filter took before the push-down: every entry built, then tested.
    let (t, c) = (Instant::now(), cpu_secs());
    let mut hits = 0u64;
    store
        .scan(
            "fake",
            &m,
            start_ns,
            end,
            Direction::Forward,
            &mut |_, e| {
                hits += e.line.contains("\"status\":503") as u64;
                true
            },
        )
        .unwrap();
    let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
    println!(
        "  same filter in the visitor of a plain scan (the path before): {hits} hits in {wall:.2} s ({:.0} MB/s wall, {:.0} MB/s per CPU-second)",
        raw_bytes as f64 / wall / 1e6,
        raw_bytes as f64 / cpu / 1e6
    );
    let t2 = Instant::now();
    let c2 = cpu_secs();
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
    let (wall, cpu) = (t2.elapsed().as_secs_f64(), cpu_secs() - c2);
    println!(
        "{q}: {wall:.2} s ({:.0} MB/s wall, {:.0} MB/s per CPU-second) -> {:?}",
        raw_bytes as f64 / wall / 1e6,
        raw_bytes as f64 / cpu / 1e6,
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
    if std::env::var_os("LOGBENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    label_endpoints(&dir.with_extension("labels"));
}

/// 100 k streams, one line each: times what `/loki/api/v1/labels` and
/// `/loki/api/v1/label/<name>/values` call.
fn label_endpoints(dir: &std::path::Path) {
    let _ = std::fs::remove_dir_all(dir);
    let mut opts = LogStoreOptions {
        background: false,
        fsync: false,
        ..Default::default()
    };
    opts.limits.ingestion_rate_bytes = 0.0;
    opts.limits.per_stream_rate_bytes = 0.0;
    opts.limits.max_streams_per_user = 0;
    opts.limits.reject_old_samples = false;
    let store = LogStore::open(dir, opts).expect("open");
    let n = 100_000;
    let ts = 1_700_000_000_000_000_000i64;
    for b in 0..n / 1000 {
        let streams = (b * 1000..(b + 1) * 1000)
            .map(|i| LogStream {
                labels: Labels::from_pairs([
                    ("app", format!("svc-{}", i % 50)),
                    ("instance", format!("pod-{i}")),
                    ("namespace", format!("ns-{}", i % 20)),
                    ("env", "prod".into()),
                ]),
                entries: vec![LogEntry {
                    ts_ns: ts + i as i64,
                    line: "x".into(),
                    metadata: vec![],
                }],
            })
            .collect();
        store.push("fake", streams).expect("push");
    }
    store.flush().expect("flush");
    let (lo, hi) = (ts, ts + n as i64 + 1);
    let time = |what: &str, f: &dyn Fn() -> usize| {
        let (t, c) = (Instant::now(), cpu_secs());
        let mut k = 0;
        for _ in 0..20 {
            k = f();
        }
        println!(
            "{what:<44} {k:>6} results, {:.2} ms wall, {:.1} ms CPU per call",
            t.elapsed().as_secs_f64() * 1e3 / 20.0,
            (cpu_secs() - c) * 1e3 / 20.0
        );
    };
    println!("label endpoints at {n} streams:");
    // What the endpoints did before the postings answered them: every matching stream's
    // labels, cloned and sorted, then collected.
    time("  /labels by walking every stream (before)", &|| {
        let mut names = std::collections::BTreeSet::new();
        for l in store.streams("fake", &[], lo, hi).unwrap() {
            for p in l.iter() {
                names.insert(p.name.clone());
            }
        }
        names.len()
    });
    time("  /labels", &|| {
        store.label_names("fake", &[], lo, hi).len()
    });
    time("  /label/app/values", &|| {
        store.label_values("fake", "app", &[], lo, hi).len()
    });
    time("  /label/instance/values", &|| {
        store.label_values("fake", "instance", &[], lo, hi).len()
    });
    let m = [LabelMatcher::new("app", MatchOp::Equal, "svc-7").unwrap()];
    time("  /label/instance/values?query={app=\"svc-7\"}", &|| {
        store.label_values("fake", "instance", &m, lo, hi).len()
    });
    let m = [LabelMatcher::new("namespace", MatchOp::RegexMatch, "ns-1.*").unwrap()];
    time("  /labels?query={namespace=~\"ns-1.*\"}", &|| {
        store.label_names("fake", &m, lo, hi).len()
    });
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

/// CPU seconds (user + system, all threads) of this process, from /proc/self/stat.
fn cpu_secs() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat (utime, stime) in clock ticks of 1/100 s.
    (tick(11) + tick(12)) / 100.0
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
