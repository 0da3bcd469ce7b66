//! Tailing end to end against an in-memory sink: a writer appends numbered lines while the
//! file is rotated by rename+create (once while the tailer runs, once while it is down) and by
//! copytruncate, and the tailer is abandoned (crash: no final positions sync) and restarted in
//! the middle. Every line must arrive exactly once.

use model::{LogPushStats, LogSink, LogStream, StorageError};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Default)]
struct MemSink {
    lines: Mutex<Vec<(BTreeMap<String, String>, String)>>,
}

impl LogSink for MemSink {
    fn push(&self, _tenant: &str, streams: Vec<LogStream>) -> Result<LogPushStats, StorageError> {
        let mut l = self.lines.lock();
        for s in streams {
            let labels: BTreeMap<String, String> = s
                .labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            for e in s.entries {
                l.push((labels.clone(), e.line));
            }
        }
        Ok(LogPushStats::default())
    }
}

fn config(dir: &Path) -> tailer::TailerConfig {
    let text = format!(
        r#"
server: {{http_listen_port: 9080}}
positions: {{filename: {d}/positions.yaml, sync_period: 1s}}
target_config: {{sync_period: 100ms}}
scrape_configs:
- job_name: app
  static_configs:
  - targets: [localhost]
    labels: {{job: app, __path__: "{d}/**/*.log"}}
"#,
        d = dir.display()
    );
    tailer::parse(&text, dir).expect("config")
}

fn count(sink: &MemSink) -> usize {
    sink.lines.lock().len()
}

fn wait_for(sink: &MemSink, n: usize, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while count(sink) < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start(dir: &Path, sink: &Arc<MemSink>) -> tailer::Tailer {
    tailer::start(
        config(dir),
        sink.clone(),
        "fake".into(),
        dir.join("default-positions.yaml"),
    )
    .expect("start")
}

#[test]
fn rotation_and_restart_deliver_every_line_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let log = dir.join("sub/app.log");
    let sink = Arc::new(MemSink::default());
    let mut tail = Some(start(tmp.path(), &sink));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    let total = 1200;
    for i in 0..total {
        // A line written in two pieces: the tailer must wait for the newline.
        write!(f, "line-{i:05} ").unwrap();
        f.flush().unwrap();
        writeln!(f, "payload").unwrap();
        if i % 20 == 0 {
            std::thread::sleep(Duration::from_millis(15));
        }
        if i == 0 {
            // Let the tailer discover the file before it is rotated away.
            wait_for(&sink, 1, 5);
        }
        match i {
            300 => {
                // rename + create while the tailer runs; the writer keeps its old handle for a
                // few more lines, as an app does until it reopens.
                std::fs::rename(&log, dir.join("sub/app.log.1")).unwrap();
                for j in 0..5 {
                    writeln!(f, "late-{j} payload").unwrap();
                }
                f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap();
            }
            450 => {
                wait_for(&sink, 456, 10);
                if let Some(t) = tail.take() {
                    t.abandon();
                }
            }
            500 => {
                // rotated while the tailer is down: the old file is finished after restart.
                std::fs::rename(&log, dir.join("sub/app.log.2")).unwrap();
                f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap();
            }
            600 => tail = Some(start(tmp.path(), &sink)),
            800 => {
                // copytruncate: wait until the tailer has read everything (lines written between
                // the copy and the truncate would be lost by any tailer), then copy and truncate.
                wait_for(&sink, 806, 10);
                std::fs::copy(&log, dir.join("sub/app.log.3")).unwrap();
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&log)
                    .unwrap()
                    .set_len(0)
                    .unwrap();
                std::thread::sleep(Duration::from_millis(600));
            }
            _ => {}
        }
    }
    let expected = total + 5;
    wait_for(&sink, expected, 20);
    std::thread::sleep(Duration::from_millis(500));
    if let Some(t) = tail.take() {
        t.stop();
    }
    let lines = sink.lines.lock();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (labels, l) in lines.iter() {
        assert_eq!(labels.get("job").map(String::as_str), Some("app"));
        assert!(
            labels
                .get("filename")
                .is_some_and(|f| f.ends_with("app.log")),
            "{labels:?}"
        );
        *seen.entry(l.clone()).or_default() += 1;
    }
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "duplicated lines: {dups:?}");
    let missing: Vec<String> = (0..total)
        .map(|i| format!("line-{i:05} payload"))
        .filter(|l| !seen.contains_key(l))
        .collect();
    assert!(
        missing.is_empty(),
        "missing {} lines, first {:?}",
        missing.len(),
        missing.first()
    );
    assert_eq!(lines.len(), expected);
}

#[test]
fn files_appearing_later_and_multiline() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
positions: {{filename: {d}/pos.yaml}}
target_config: {{sync_period: 100ms}}
scrape_configs:
- job_name: java
  static_configs:
  - labels: {{job: java, __path__: "{d}/*.{{log,txt}}"}}
  pipeline_stages:
  - multiline:
      firstline: '^\d{{4}}-\d{{2}}-\d{{2}}'
      max_wait_time: 300ms
  - regex:
      expression: '^\S+ (?P<level>[A-Z]+)'
  - labels:
      level:
"#,
        d = tmp.path().display()
    );
    let cfg = tailer::parse(&text, tmp.path()).unwrap();
    let sink = Arc::new(MemSink::default());
    let t = tailer::start(cfg, sink.clone(), "fake".into(), tmp.path().join("p.yaml")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(
        tmp.path().join("later.txt"),
        "2024-01-01 ERROR boom\n  at a\n  at b\n2024-01-01 INFO ok\n",
    )
    .unwrap();
    wait_for(&sink, 2, 5);
    t.stop();
    let lines = sink.lines.lock();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0].1, "2024-01-01 ERROR boom\n  at a\n  at b");
    assert_eq!(lines[0].0.get("level").map(String::as_str), Some("ERROR"));
    assert_eq!(lines[1].1, "2024-01-01 INFO ok");
    let pos = std::fs::read_to_string(tmp.path().join("pos.yaml")).unwrap();
    assert!(pos.contains("later.txt: '55'"), "{pos}");
}

/// promtail's watcher sees new files when they are created, not at the next `sync_period`
/// (1h here): a file created in the glob's directory arrives within a couple of polls.
#[test]
fn new_files_are_found_when_created_not_at_sync_period() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("logs")).unwrap();
    let text = format!(
        r#"
positions: {{filename: {d}/pos.yaml}}
target_config: {{sync_period: 1h}}
scrape_configs:
- job_name: app
  static_configs:
  - labels: {{job: app, __path__: "{d}/logs/*.log"}}
"#,
        d = tmp.path().display()
    );
    let cfg = tailer::parse(&text, tmp.path()).unwrap();
    let sink = Arc::new(MemSink::default());
    let t = tailer::start(cfg, sink.clone(), "fake".into(), tmp.path().join("p.yaml")).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    std::fs::write(tmp.path().join("logs/a.log"), "first\n").unwrap();
    wait_for(&sink, 1, 5);
    assert_eq!(count(&sink), 1, "a new file was not picked up");
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(tmp.path().join("logs/b.log"), "second\n").unwrap();
    wait_for(&sink, 2, 5);
    t.stop();
    let lines = sink.lines.lock();
    let got: Vec<&str> = lines.iter().map(|l| l.1.as_str()).collect();
    assert_eq!(got, vec!["first", "second"]);
}

/// Fails every other push (I/O errors, then 429-style limits): the tailer re-reads from the
/// last acknowledged offset, so lines are neither lost nor stored twice.
struct FlakySink {
    inner: MemSink,
    calls: Mutex<u32>,
}

impl LogSink for FlakySink {
    fn push(&self, tenant: &str, streams: Vec<LogStream>) -> Result<LogPushStats, StorageError> {
        let n = {
            let mut c = self.calls.lock();
            *c += 1;
            *c
        };
        match n % 4 {
            1 => Err(StorageError::Io("disk hiccup".into())),
            3 => Err(StorageError::Limit("ingestion rate limit exceeded".into())),
            _ => self.inner.push(tenant, streams),
        }
    }
}

#[test]
fn failed_pushes_are_retried_without_loss_or_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("app.log");
    let sink = Arc::new(FlakySink {
        inner: MemSink::default(),
        calls: Mutex::new(0),
    });
    let cfg = config(tmp.path());
    let t = tailer::start(cfg, sink.clone(), "fake".into(), tmp.path().join("p.yaml")).unwrap();
    let mut f = std::fs::File::create(&log).unwrap();
    for i in 0..300 {
        writeln!(f, "n{i}").unwrap();
        if i % 30 == 0 {
            std::thread::sleep(Duration::from_millis(120));
        }
    }
    wait_for(&sink.inner, 300, 15);
    std::thread::sleep(Duration::from_millis(500));
    t.stop();
    let lines = sink.inner.lines.lock();
    let got: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    let want: Vec<String> = (0..300).map(|i| format!("n{i}")).collect();
    assert_eq!(got, want);
    assert!(*sink.calls.lock() >= 4, "the flaky paths ran");
}
