//! How an Elasticsearch document becomes a log line and back.
//!
//! * line: the compact JSON `_source`;
//! * labels: `index` (the index name exactly as written, date suffixes included, so
//!   `{index="logs-2024.01.01"}` and `{index=~"logs-.*"}` work in LogQL) and `level` when the
//!   document has a short string `level` field, else its `severity` field (winston-elasticsearch
//!   writes `severity`). Other fields stay in the line (query them with `| json` in LogQL):
//!   turning arbitrary document fields into labels would explode stream cardinality;
//! * time: `@timestamp`, else `timestamp` (ISO 8601 string or epoch milliseconds), else ingest
//!   time;
//! * structured metadata: `_id` (given or generated, 20 URL-safe characters like ES').

use crate::{datemath, EsError};
use model::{LabelMatcher, Labels, LogEntry, MatchOp};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};

/// Label carrying the index name.
pub const INDEX_LABEL: &str = "index";
/// Metadata key carrying the document id.
pub const ID_KEY: &str = "_id";

/// Checks an index name against ES' rules (`invalid_index_name_exception`).
pub fn validate_index(name: &str) -> Result<(), EsError> {
    let err = |why: &str| {
        let mut e = EsError::new(
            400,
            "invalid_index_name_exception",
            format!("Invalid index name [{name}], {why}"),
        );
        e.index = Some(name.to_string());
        e
    };
    if name.is_empty() {
        return Err(err("must not be empty"));
    }
    if name != name.to_lowercase() {
        return Err(err("must be lowercase"));
    }
    if name.starts_with(['_', '-', '+']) {
        return Err(err("must not start with '_', '-', or '+'"));
    }
    if name == "." || name == ".." {
        return Err(err("must not be '.' or '..'"));
    }
    if name.contains(['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', ':']) {
        return Err(err(
            "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?, #, :]",
        ));
    }
    if name.len() > 255 {
        return Err(err("index name is too long, (> 255)"));
    }
    Ok(())
}

/// A fresh document id: 20 characters from a time-ordered counter, like ES' auto ids.
pub fn new_id() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let pid = u64::from(std::process::id());
    let mut x = (u128::from(nanos) << 64) | u128::from(seq ^ (pid << 40));
    let mut out = String::with_capacity(20);
    for _ in 0..20 {
        out.push(ALPHABET[(x & 63) as usize] as char);
        x >>= 6;
    }
    out
}

/// Entry time of a document in ns: `@timestamp`, else `timestamp`, else `ingest_ns`.
pub fn timestamp_ns(doc: &Value, ingest_ns: i64) -> i64 {
    for key in ["@timestamp", "timestamp"] {
        match doc.get(key) {
            Some(Value::String(s)) => {
                if let Ok(ms) = datemath::parse_date(s, None) {
                    return precise_ns(s).unwrap_or(ms.saturating_mul(1_000_000));
                }
            }
            Some(Value::Number(n)) => {
                if let Some(ms) = n.as_f64() {
                    return (ms * 1e6) as i64;
                }
            }
            _ => {}
        }
    }
    ingest_ns
}

/// Keeps sub-millisecond precision of RFC 3339 timestamps.
fn precise_ns(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|d| d.timestamp_nanos_opt())
}

/// Stream labels of a document in `index`.
pub fn labels(index: &str, doc: &Value) -> Labels {
    let level = ["level", "severity"].iter().find_map(|k| {
        doc.get(*k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 32)
    });
    let mut pairs = vec![(INDEX_LABEL, index.to_string())];
    if let Some(l) = level {
        pairs.push(("level", l.to_string()));
    }
    Labels::from_pairs(pairs)
}

/// The log entry of a document.
pub fn entry(id: &str, doc: &Value, ingest_ns: i64) -> LogEntry {
    LogEntry {
        ts_ns: timestamp_ns(doc, ingest_ns),
        line: doc.to_string(),
        metadata: vec![(ID_KEY.to_string(), id.to_string())],
    }
}

/// Reads a stored entry back as `(index, id, source)`; `None` for lines that are not JSON
/// objects or streams without an index label.
pub fn from_entry(labels: &Labels, e: &LogEntry) -> Option<(String, String, Value)> {
    let index = labels.get(INDEX_LABEL)?.to_string();
    let source: Value = serde_json::from_str(&e.line).ok()?;
    if !source.is_object() {
        return None;
    }
    let id = e
        .metadata
        .iter()
        .find(|(k, _)| k == ID_KEY)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| format!("{}-{:016x}", e.ts_ns, fxhash(&e.line)));
    Some((index, id, source))
}

fn fxhash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// An index expression (`logs-*,-logs-old,app`, `_all`, `*`) as a matcher on the `index` label
/// plus the concrete (wildcard-free) names it requires to exist.
#[derive(Debug)]
pub struct IndexExpr {
    pub matcher: LabelMatcher,
    pub include: Vec<regex::Regex>,
    pub exclude: Vec<regex::Regex>,
    pub concrete: Vec<String>,
}

impl IndexExpr {
    pub fn parse(expr: &str) -> Result<IndexExpr, EsError> {
        let mut include = Vec::new();
        let mut exclude = Vec::new();
        let mut concrete = Vec::new();
        for part in expr.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (neg, name) = match part.strip_prefix('-') {
                Some(n) if !include.is_empty() => (true, n),
                _ => (false, part),
            };
            let pat = if name == "_all" { "*" } else { name };
            if !pat.contains('*') && !neg {
                validate_index(pat)?;
                concrete.push(pat.to_string());
            }
            let re = crate::field::wildcard_regex(pat, false).map_err(EsError::illegal)?;
            if neg {
                exclude.push(re);
            } else {
                include.push(re);
            }
        }
        if include.is_empty() {
            include.push(crate::field::wildcard_regex("*", false).map_err(EsError::illegal)?);
        }
        let matcher = LabelMatcher::new(INDEX_LABEL, MatchOp::RegexMatch, ".+")
            .map_err(|e| EsError::illegal(e.to_string()))?;
        Ok(IndexExpr {
            matcher,
            include,
            exclude,
            concrete,
        })
    }

    pub fn matches(&self, index: &str) -> bool {
        !index.starts_with('.')
            && self.include.iter().any(|r| r.is_match(index))
            && !self.exclude.iter().any(|r| r.is_match(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn document_mapping() {
        let d = json!({"@timestamp": "2024-01-01T00:00:00.123456789Z", "message": "m", "severity": "info", "fields": {"a": 1}});
        let l = labels("logs-2024.01.01", &d);
        assert_eq!(l.get("index"), Some("logs-2024.01.01"));
        assert_eq!(l.get("level"), Some("info"));
        let e = entry("abc", &d, 5);
        assert_eq!(e.ts_ns, 1_704_067_200_123_456_789);
        let (i, id, src) = from_entry(&l, &e).unwrap();
        assert_eq!((i.as_str(), id.as_str()), ("logs-2024.01.01", "abc"));
        assert_eq!(src, d);
        assert_eq!(
            timestamp_ns(&json!({"timestamp": 1704067200000i64}), 5),
            1_704_067_200_000_000_000
        );
        assert_eq!(timestamp_ns(&json!({"x": 1}), 5), 5);
        assert_eq!(
            labels("a", &json!({"level": "error", "severity": "x"})).get("level"),
            Some("error")
        );
    }

    #[test]
    fn index_names() {
        assert!(validate_index("crewai-logs").is_ok());
        for bad in ["", "Upper", "_x", "a b", "a/b", "a*", "-x"] {
            assert!(validate_index(bad).is_err(), "{bad}");
        }
        let e = IndexExpr::parse("logs-*,-logs-old").unwrap();
        assert!(e.matches("logs-app"));
        assert!(!e.matches("logs-old"));
        assert!(!e.matches("other"));
        assert!(IndexExpr::parse("_all").unwrap().matches("x"));
        assert_eq!(IndexExpr::parse("a,b").unwrap().concrete, vec!["a", "b"]);
        assert!(IndexExpr::parse("BAD").is_err());
    }

    #[test]
    fn ids_are_unique() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
    }

    proptest! {
        #[test]
        fn index_expr_never_panics(s in "[ -~]{0,30}") {
            let _ = IndexExpr::parse(&s);
        }
    }
}
