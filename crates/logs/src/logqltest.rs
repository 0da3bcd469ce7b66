//! Runner for LogQL test files (`tests/logql/*.test`), the promqltest idea for logs: push
//! streams, then evaluate log and metric queries and compare with hand-written expectations.
//!
//! ```text
//! push {job="app"}                 # a stream; entries follow, indented
//!   10s level=info msg=hi          # offset from t=0, then the line verbatim
//!   20s meta{trace_id="t1"} line   # optional structured metadata
//! eval logs 0s 1m backward 100 {job="app"} |= "hi"
//!   {job="app"} 10s level=info msg=hi        # expected entries in order
//! eval instant 1m sum(count_over_time({job="app"}[1m]))
//!   {} 2                                     # unordered unless `eval instant_ordered`
//! eval range 0s 1m 30s count_over_time({job="app"}[30s])
//!   {job="app"} _ 1 1                        # `_` = no point at that step
//! eval error {job=~".*"}
//!   at least one                             # substring of the error
//! ```
//! A blank line ends an expectation block; `#` starts a comment line.

use crate::logql::{self, Params, QueryResult};
use crate::{LogStore, LogStoreOptions};
use model::{Direction, LabelMatcher, Labels, LogEntry, LogSink, LogStream};

fn dur(s: &str) -> Result<i64, String> {
    crate::logql::lexer::parse_duration(s).ok_or_else(|| format!("invalid duration {s:?}"))
}

fn labels(s: &str) -> Result<Labels, String> {
    if s == "{}" {
        return Ok(Labels::empty());
    }
    let ms: Vec<LabelMatcher> = logql::parse_selector(s).map_err(|e| e.to_string())?;
    Ok(Labels::from_pairs(
        ms.into_iter().map(|m| (m.name, m.value)),
    ))
}

/// Splits `{...} rest` into the braces part and the rest.
fn split_labels(s: &str) -> Result<(&str, &str), String> {
    let s = s.trim_start();
    if !s.starts_with('{') {
        return Err(format!("expected {{labels}} at {s:?}"));
    }
    let mut in_str = false;
    let mut esc = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if in_str && !esc => {
                esc = true;
                continue;
            }
            '"' if !esc => in_str = !in_str,
            '}' if !in_str => return Ok((&s[..=i], s[i + 1..].trim_start())),
            _ => {}
        }
        esc = false;
    }
    Err(format!("unclosed labels in {s:?}"))
}

fn fmt_f(v: f64) -> String {
    format!("{v}")
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || ((a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0))
}

/// Runs one test file; returns (passed, failures).
pub fn run_file(path: &std::path::Path) -> Result<(usize, Vec<String>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = tempfile_dir()?;
    let store = LogStore::open(
        &dir,
        LogStoreOptions {
            background: false,
            fsync: false,
            limits: crate::Limits {
                reject_old_samples: false,
                ingestion_rate_bytes: 0.0,
                max_label_names_per_series: 0,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let mut passed = 0;
    let mut failures = Vec::new();
    while i < lines.len() {
        let raw = lines[i];
        let lno = i + 1;
        i += 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut block = Vec::new();
        while i < lines.len()
            && lines[i].starts_with(char::is_whitespace)
            && !lines[i].trim().is_empty()
        {
            if !lines[i].trim().starts_with('#') {
                block.push((i + 1, lines[i].trim()));
            }
            i += 1;
        }
        let loc = format!("{}:{lno}", path.display());
        if let Some(rest) = line.strip_prefix("push ") {
            let l = labels(rest.trim()).map_err(|e| format!("{loc}: {e}"))?;
            let mut entries = Vec::new();
            for (n, b) in block {
                let (off, mut rest) = b.split_once(' ').unwrap_or((b, ""));
                let mut metadata = Vec::new();
                if let Some(m) = rest.strip_prefix("meta") {
                    let (ls, r) =
                        split_labels(m).map_err(|e| format!("{}:{n}: {e}", path.display()))?;
                    metadata = labels(ls)
                        .map_err(|e| format!("{}:{n}: {e}", path.display()))?
                        .iter()
                        .map(|p| (p.name.clone(), p.value.clone()))
                        .collect();
                    rest = r;
                }
                entries.push(LogEntry {
                    ts_ns: dur(off).map_err(|e| format!("{}:{n}: {e}", path.display()))?,
                    line: rest.to_string(),
                    metadata,
                });
            }
            store
                .push(
                    model::logs::DEFAULT_TENANT,
                    vec![LogStream { labels: l, entries }],
                )
                .map_err(|e| format!("{loc}: {e}"))?;
            continue;
        }
        if line == "flush" {
            store.flush().map_err(|e| e.to_string())?;
            continue;
        }
        let Some(cmd) = line.strip_prefix("eval ") else {
            return Err(format!("{loc}: unknown command {line:?}"));
        };
        let (kind, rest) = cmd
            .split_once(' ')
            .ok_or_else(|| format!("{loc}: incomplete eval"))?;
        let res = (|| -> Result<(), String> {
            match kind {
                "error" => {
                    let want = block.first().map(|b| b.1).unwrap_or("");
                    let p = Params {
                        start_ns: 0,
                        end_ns: 60_000_000_000,
                        step_ns: 60_000_000_000,
                        ..Default::default()
                    };
                    match logql::query(&*store, rest, &p) {
                        Ok(_) => Err(format!(
                            "expected an error containing {want:?}, got success"
                        )),
                        Err(e) if e.to_string().contains(want) => Ok(()),
                        Err(e) => Err(format!("expected an error containing {want:?}, got {e}")),
                    }
                }
                "logs" => {
                    let mut it = rest.splitn(5, ' ');
                    let start = dur(it.next().unwrap_or(""))?;
                    let end = dur(it.next().unwrap_or(""))?;
                    let direction = match it.next() {
                        Some("forward") => Direction::Forward,
                        Some("backward") => Direction::Backward,
                        d => return Err(format!("bad direction {d:?}")),
                    };
                    let limit: usize = it
                        .next()
                        .unwrap_or("")
                        .parse()
                        .map_err(|_| "bad limit".to_string())?;
                    let q = it.next().ok_or("missing query")?;
                    let p = Params {
                        start_ns: start,
                        end_ns: end,
                        direction,
                        limit,
                        ..Default::default()
                    };
                    let (r, _) = logql::query(&*store, q, &p).map_err(|e| e.to_string())?;
                    let QueryResult::Streams(streams) = r else {
                        return Err("expected streams".into());
                    };
                    // Interleave by the order entries were produced: compare per stream.
                    let mut got: Vec<(Labels, i64, String)> = Vec::new();
                    for s in &streams {
                        for e in &s.entries {
                            got.push((s.labels.clone(), e.ts_ns, e.line.clone()));
                        }
                    }
                    let mut want = Vec::new();
                    for (_, b) in &block {
                        let (ls, r) = split_labels(b)?;
                        let (off, line) = r.split_once(' ').unwrap_or((r, ""));
                        want.push((labels(ls)?, dur(off)?, line.to_string()));
                    }
                    // Entries within a stream keep direction order; streams may come in any order.
                    let key = |v: &Vec<(Labels, i64, String)>| {
                        let mut v = v.clone();
                        v.sort_by(|a, b| a.0.cmp(&b.0));
                        v
                    };
                    if key(&got) != key(&want) {
                        return Err(format!("logs differ:\n  got:  {got:?}\n  want: {want:?}"));
                    }
                    Ok(())
                }
                "instant" | "instant_ordered" => {
                    let (at, q) = rest.split_once(' ').ok_or("missing query")?;
                    let t = dur(at)?;
                    let p = Params {
                        start_ns: t,
                        end_ns: t,
                        instant: true,
                        ..Default::default()
                    };
                    let (r, _) = logql::query(&*store, q, &p).map_err(|e| e.to_string())?;
                    let mut got: Vec<(Labels, f64)> = match r {
                        QueryResult::Vector(v, _) => v,
                        QueryResult::Scalar(s, _) => vec![(Labels::empty(), s)],
                        other => return Err(format!("expected a vector, got {other:?}")),
                    };
                    let mut want = Vec::new();
                    for (_, b) in &block {
                        let (ls, v) = match b.strip_prefix("scalar ") {
                            Some(v) => ("{}", v),
                            None => split_labels(b)?,
                        };
                        want.push((
                            labels(ls)?,
                            v.trim()
                                .parse::<f64>()
                                .map_err(|_| format!("bad value {v:?}"))?,
                        ));
                    }
                    if kind == "instant" {
                        got.sort_by(|a, b| a.0.cmp(&b.0));
                        want.sort_by(|a, b| a.0.cmp(&b.0));
                    }
                    let same = got.len() == want.len()
                        && got
                            .iter()
                            .zip(&want)
                            .all(|(g, w)| g.0 == w.0 && close(g.1, w.1));
                    if !same {
                        return Err(format!(
                            "vector differs:\n  got:  {}\n  want: {}",
                            got.iter()
                                .map(|(l, v)| format!(
                                    "{} {}",
                                    crate::limits::labels_string(l),
                                    fmt_f(*v)
                                ))
                                .collect::<Vec<_>>()
                                .join(", "),
                            want.iter()
                                .map(|(l, v)| format!(
                                    "{} {}",
                                    crate::limits::labels_string(l),
                                    fmt_f(*v)
                                ))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    Ok(())
                }
                "range" => {
                    let mut it = rest.splitn(4, ' ');
                    let start = dur(it.next().unwrap_or(""))?;
                    let end = dur(it.next().unwrap_or(""))?;
                    let step = dur(it.next().unwrap_or(""))?;
                    let q = it.next().ok_or("missing query")?;
                    let p = Params {
                        start_ns: start,
                        end_ns: end,
                        step_ns: step,
                        ..Default::default()
                    };
                    let (r, _) = logql::query(&*store, q, &p).map_err(|e| e.to_string())?;
                    let QueryResult::Matrix(m) = r else {
                        return Err("expected a matrix".into());
                    };
                    let nsteps = ((end - start) / step + 1) as usize;
                    let mut got: Vec<(Labels, Vec<Option<f64>>)> = m
                        .into_iter()
                        .map(|(l, pts)| {
                            let mut v = vec![None; nsteps];
                            for (t, x) in pts {
                                v[((t - start) / step) as usize] = Some(x);
                            }
                            (l, v)
                        })
                        .collect();
                    let mut want = Vec::new();
                    for (_, b) in &block {
                        let (ls, r) = split_labels(b)?;
                        let vals: Result<Vec<Option<f64>>, String> = r
                            .split_whitespace()
                            .map(|x| {
                                if x == "_" {
                                    Ok(None)
                                } else {
                                    x.parse::<f64>()
                                        .map(Some)
                                        .map_err(|_| format!("bad value {x:?}"))
                                }
                            })
                            .collect();
                        want.push((labels(ls)?, vals?));
                    }
                    got.sort_by(|a, b| a.0.cmp(&b.0));
                    want.sort_by(|a, b| a.0.cmp(&b.0));
                    let same = got.len() == want.len()
                        && got.iter().zip(&want).all(|(g, w)| {
                            g.0 == w.0
                                && g.1.len() == w.1.len()
                                && g.1.iter().zip(&w.1).all(|(a, b)| match (a, b) {
                                    (None, None) => true,
                                    (Some(a), Some(b)) => close(*a, *b),
                                    _ => false,
                                })
                        });
                    if !same {
                        let show = |v: &Vec<(Labels, Vec<Option<f64>>)>| {
                            v.iter()
                                .map(|(l, xs)| {
                                    format!(
                                        "{} {}",
                                        crate::limits::labels_string(l),
                                        xs.iter()
                                            .map(|x| x.map(fmt_f).unwrap_or("_".into()))
                                            .collect::<Vec<_>>()
                                            .join(" ")
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join("; ")
                        };
                        return Err(format!(
                            "matrix differs:\n  got:  {}\n  want: {}",
                            show(&got),
                            show(&want)
                        ));
                    }
                    Ok(())
                }
                other => Err(format!("unknown eval kind {other:?}")),
            }
        })();
        match res {
            Ok(()) => passed += 1,
            Err(e) => failures.push(format!("{loc}: {line}\n  {e}")),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok((passed, failures))
}

fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "pharos-logqltest-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
    Ok(d)
}
