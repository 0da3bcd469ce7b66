//! Trace search parameters and the span-level predicate Jaeger applies: a trace matches when
//! one of its spans has the service, the operation, every tag (span attributes, resource
//! attributes, event fields, or the tags Jaeger derives: `span.kind`, `error`,
//! `otel.status_code`) and a duration within bounds, and starts inside the time range.

use crate::span::{Span, StatusCode};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceQuery {
    pub service: Option<String>,
    pub operation: Option<String>,
    /// Key/value pairs compared with the value's text form.
    pub tags: Vec<(String, String)>,
    pub min_duration_ns: Option<u64>,
    pub max_duration_ns: Option<u64>,
    /// Inclusive span start bounds, ns.
    pub start_ns: u64,
    pub end_ns: u64,
    pub limit: usize,
}

impl TraceQuery {
    pub fn matches(&self, s: &Span) -> bool {
        if s.start_ns < self.start_ns || s.start_ns > self.end_ns {
            return false;
        }
        if let Some(svc) = &self.service {
            if s.service() != svc {
                return false;
            }
        }
        if let Some(op) = &self.operation {
            if &s.name != op {
                return false;
            }
        }
        let d = s.duration_ns();
        if self.min_duration_ns.is_some_and(|m| d < m)
            || self.max_duration_ns.is_some_and(|m| d > m)
        {
            return false;
        }
        self.tags.iter().all(|(k, v)| span_has_tag(s, k, v))
    }
}

/// True when the span carries tag `key` with text value `value`.
pub fn span_has_tag(s: &Span, key: &str, value: &str) -> bool {
    let eq = |kvs: &[crate::span::KeyValue]| {
        kvs.iter()
            .any(|kv| kv.key == key && kv.value.as_text() == value)
    };
    if eq(&s.attributes) || eq(&s.resource.attributes) || s.events.iter().any(|e| eq(&e.attributes))
    {
        return true;
    }
    match key {
        "span.kind" => s.kind.jaeger_name() == value,
        "error" => (s.status_code == StatusCode::Error) == (value == "true"),
        "otel.status_code" => match s.status_code {
            StatusCode::Error => value == "ERROR",
            StatusCode::Ok => value == "OK",
            StatusCode::Unset => value == "UNSET",
        },
        "otel.status_description" => s.status_message == value,
        "otel.scope.name" | "otel.library.name" => s.scope.name == value,
        "event" => s.events.iter().any(|e| e.name == value),
        _ => false,
    }
}

/// Parses Jaeger's `tags` parameter: a JSON object (`{"http.status_code":"200"}`, what Jaeger UI
/// and Grafana send) or logfmt (`error=true http.method="GET"`).
pub fn parse_tags(s: &str) -> Result<Vec<(String, String)>, String> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(Vec::new());
    }
    if t.starts_with('{') {
        let m: serde_json::Map<String, serde_json::Value> = serde_json::from_str(t)
            .map_err(|e| format!("malformed 'tags' parameter (JSON object expected): {e}"))?;
        return Ok(m
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    o => o.to_string(),
                };
                (k, v)
            })
            .collect());
    }
    parse_logfmt(t)
}

/// logfmt: space-separated `key=value` pairs, values optionally double-quoted with `\"` escapes.
pub fn parse_logfmt(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!("malformed tag {key:?}: expected key=value"));
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(format!("unterminated quoted value of tag {key:?}"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        if key.is_empty() {
            return Err("malformed tags: empty key".into());
        }
        out.push((key, value));
    }
    Ok(out)
}

/// Parses a Go duration as Jaeger's `minDuration`/`maxDuration` take it (`1.5s`, `100ms`,
/// `250us`, `1m30s`); returns nanoseconds.
pub fn parse_go_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if s == "0" {
        return Ok(0);
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("invalid duration {s:?}: missing unit"))?;
        if n == 0 {
            return Err(format!("invalid duration {s:?}"));
        }
        let num: f64 = rest[..n]
            .parse()
            .map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => return Err(format!("invalid duration {s:?}: unknown unit {other:?}")),
        };
        total += num * mult;
        rest = &rest[u..];
    }
    Ok(total as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert_eq!(
            parse_tags(r#"{"a":"1","b":true}"#).unwrap(),
            vec![("a".into(), "1".into()), ("b".into(), "true".into())]
        );
        assert_eq!(
            parse_tags(r#"error=true http.url="/a b" x=\"#).unwrap(),
            vec![
                ("error".into(), "true".into()),
                ("http.url".into(), "/a b".into()),
                ("x".into(), "\\".into())
            ]
        );
        assert!(parse_tags("novalue").is_err());
        assert!(parse_tags("a=\"open").is_err());
        assert!(parse_tags("{bad").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_go_duration("1.5s").unwrap(), 1_500_000_000);
        assert_eq!(parse_go_duration("100ms").unwrap(), 100_000_000);
        assert_eq!(parse_go_duration("250us").unwrap(), 250_000);
        assert_eq!(parse_go_duration("1m30s").unwrap(), 90_000_000_000);
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("5x").is_err());
        assert!(parse_go_duration("ms").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = parse_tags(&s);
            let _ = parse_go_duration(&s);
        }
    }
}
