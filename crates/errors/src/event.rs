//! Normalisation of an event payload (envelope `event` item or legacy store body) into the one
//! shape the store keeps and the API serves: `event_id` as 32 hex digits, `timestamp` in Unix
//! seconds, `exception.values`, `breadcrumbs` as a list, `tags` as an object, `trace_id`/`span_id`
//! lifted from `contexts.trace`; and the title/culprit Sentry shows for it.

use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};

/// Fields the SDKs may send under an interface alias.
const ALIASES: &[(&str, &str)] = &[
    ("sentry.interfaces.Exception", "exception"),
    ("sentry.interfaces.Message", "logentry"),
    ("sentry.interfaces.Stacktrace", "stacktrace"),
    ("sentry.interfaces.Http", "request"),
    ("sentry.interfaces.User", "user"),
    ("sentry.interfaces.Breadcrumbs", "breadcrumbs"),
    ("sentry.interfaces.Threads", "threads"),
];

/// A fresh random-looking 32-hex event id.
pub fn new_event_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!(
        "{now}-{}-{}",
        N.fetch_add(1, Ordering::Relaxed),
        std::process::id()
    );
    crate::grouping::md5_hex(seed.as_bytes())
}

/// `event_id` in Sentry's canonical form (lowercase hex, no dashes) or None if not an id.
pub fn canonical_id(s: &str) -> Option<String> {
    let h: String = s
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    (h.len() == 32 && h.chars().all(|c| c.is_ascii_hexdigit())).then_some(h)
}

/// Parses a Sentry timestamp: Unix seconds (number or numeric string) or RFC 3339.
pub fn parse_timestamp(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite() && *f >= 0.0),
        Value::String(s) => {
            if let Ok(f) = s.parse::<f64>() {
                return Some(f).filter(|f| f.is_finite() && *f >= 0.0);
            }
            let t = chrono::DateTime::parse_from_rfc3339(s)
                .map(|d| d.timestamp_micros())
                .or_else(|_| {
                    // Naive timestamps (no zone) are UTC.
                    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                        .map(|d| d.and_utc().timestamp_micros())
                })
                .ok()?;
            Some(t as f64 / 1e6)
        }
        _ => None,
    }
}

/// RFC 3339 (UTC, milliseconds) of Unix seconds.
pub fn rfc3339(secs: f64) -> String {
    let ms = (secs * 1000.0).round() as i64;
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn string_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// `{"values": [...]}` or a bare list → the list.
fn values_list(v: Option<Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a,
        Some(Value::Object(mut m)) => match m.remove("values") {
            Some(Value::Array(a)) => a,
            _ if m.contains_key("type") || m.contains_key("value") => vec![Value::Object(m)],
            _ => vec![],
        },
        _ => vec![],
    }
}

/// Formats a `logentry`: `formatted` if sent, else `message` with `%s`/`{}` params applied.
fn format_logentry(le: &Value) -> Option<String> {
    if let Some(f) = le.get("formatted").and_then(Value::as_str) {
        return Some(f.to_string());
    }
    let msg = le.get("message").and_then(Value::as_str)?;
    let params: Vec<String> = match le.get("params") {
        Some(Value::Array(a)) => a.iter().filter_map(string_of).collect(),
        _ => vec![],
    };
    if params.is_empty() {
        return Some(msg.to_string());
    }
    let mut out = String::new();
    let mut it = params.iter();
    let mut rest = msg;
    while let Some(i) = rest.find(['%', '{']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let tok = if tail.starts_with("%s") || tail.starts_with("%d") || tail.starts_with("{}") {
            2
        } else {
            0
        };
        if tok > 0 {
            match it.next() {
                Some(p) => out.push_str(p),
                None => out.push_str(&tail[..tok]),
            }
            rest = &tail[tok..];
        } else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Some(out)
}

/// Normalises an event payload. `received` (Unix seconds) stands in for a missing timestamp.
pub fn normalize(v: Value, received: f64, fallback_id: Option<&str>) -> Result<Value, String> {
    let Value::Object(mut m) = v else {
        return Err("the event payload must be a JSON object".into());
    };
    for (alias, name) in ALIASES {
        if let Some(x) = m.remove(*alias) {
            m.entry(name.to_string()).or_insert(x);
        }
    }
    let id = m
        .get("event_id")
        .and_then(Value::as_str)
        .and_then(canonical_id)
        .or_else(|| fallback_id.and_then(canonical_id))
        .unwrap_or_else(new_event_id);
    m.insert("event_id".into(), Value::from(id));
    let ts = m
        .get("timestamp")
        .and_then(parse_timestamp)
        .unwrap_or(received);
    m.insert("timestamp".into(), Value::from(ts));
    let level = m
        .get("level")
        .and_then(Value::as_str)
        .map(|l| match l.to_ascii_lowercase().as_str() {
            "warn" => "warning".to_string(),
            "critical" => "fatal".to_string(),
            l => l.to_string(),
        })
        .unwrap_or_else(|| "error".into());
    m.insert("level".into(), Value::from(level));
    if !m.get("platform").is_some_and(Value::is_string) {
        m.insert("platform".into(), Value::from("other"));
    }
    // message / logentry
    match m.remove("message") {
        Some(Value::String(s)) => {
            m.entry("logentry")
                .or_insert_with(|| serde_json::json!({ "formatted": s.clone() }));
            m.insert("message".into(), Value::from(s));
        }
        Some(obj @ Value::Object(_)) => {
            m.entry("logentry").or_insert(obj);
        }
        _ => {}
    }
    if let Some(le) = m.get("logentry").cloned() {
        if let Some(f) = format_logentry(&le) {
            m.insert("message".into(), Value::from(f));
        } else if let Value::String(s) = le {
            m.insert("message".into(), Value::from(s.clone()));
            m.insert("logentry".into(), serde_json::json!({ "formatted": s }));
        }
    }
    // exception
    let mut excs = values_list(m.remove("exception"));
    excs.retain(Value::is_object);
    if let Some(st) = m.remove("stacktrace") {
        // A top-level stack trace belongs to the (single) exception, or to the message.
        if let Some(first) = excs.last_mut().and_then(Value::as_object_mut) {
            first.entry("stacktrace").or_insert(st);
        } else {
            m.insert("stacktrace".into(), st);
        }
    }
    for e in excs.iter_mut().filter_map(Value::as_object_mut) {
        if let Some(Value::Object(st)) = e.get_mut("stacktrace") {
            let frames = st
                .get("frames")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            st.insert(
                "frames".into(),
                Value::Array(frames.into_iter().filter(Value::is_object).collect()),
            );
        }
    }
    if !excs.is_empty() {
        m.insert("exception".into(), serde_json::json!({ "values": excs }));
    }
    // breadcrumbs (as a list)
    let mut crumbs = values_list(m.remove("breadcrumbs"));
    crumbs.retain(Value::is_object);
    for c in crumbs.iter_mut().filter_map(Value::as_object_mut) {
        if let Some(t) = c.get("timestamp").and_then(parse_timestamp) {
            c.insert("timestamp".into(), Value::from(t));
        }
    }
    m.insert("breadcrumbs".into(), Value::Array(crumbs));
    // tags: object or list of pairs → object of strings
    let tags = match m.remove("tags") {
        Some(Value::Object(t)) => t
            .into_iter()
            .filter_map(|(k, v)| string_of(&v).map(|v| (k, Value::from(v))))
            .collect(),
        Some(Value::Array(a)) => a
            .into_iter()
            .filter_map(|p| {
                let p = p.as_array()?;
                let k = p.first().and_then(string_of)?;
                let v = p.get(1).and_then(string_of)?;
                Some((k, Value::from(v)))
            })
            .collect(),
        _ => Map::new(),
    };
    m.insert("tags".into(), Value::Object(tags));
    for k in [
        "release",
        "environment",
        "dist",
        "server_name",
        "transaction",
    ] {
        if let Some(v) = m.get(k).and_then(string_of) {
            m.insert(k.into(), Value::from(v));
        }
    }
    if let Some(tc) = m.get("contexts").and_then(|c| c.get("trace")).cloned() {
        for k in ["trace_id", "span_id"] {
            if let Some(s) = tc.get(k).and_then(Value::as_str) {
                m.insert(k.into(), Value::from(s.to_ascii_lowercase()));
            }
        }
    }
    Ok(Value::Object(m))
}

/// The exceptions of a normalised event, oldest (cause) first as Sentry stores them.
pub fn exceptions(ev: &Value) -> &[Value] {
    ev.pointer("/exception/values")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Stack frames of an exception (or of the event's own `stacktrace`/first thread's), oldest first.
pub fn frames(st_owner: &Value) -> &[Value] {
    st_owner
        .pointer("/stacktrace/frames")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Frames of the event's top-level or first crashed thread's stack trace (message events).
pub fn event_frames(ev: &Value) -> &[Value] {
    let own = frames(ev);
    if !own.is_empty() {
        return own;
    }
    let threads = ev
        .get("threads")
        .map(|t| t.get("values").unwrap_or(t))
        .and_then(Value::as_array);
    for t in threads.into_iter().flatten() {
        let f = frames(t);
        if !f.is_empty() && t.get("crashed").and_then(Value::as_bool).unwrap_or(true) {
            return f;
        }
    }
    &[]
}

fn first_line(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    if line.chars().count() > max {
        let mut t: String = line.chars().take(max).collect();
        t.push('…');
        t
    } else {
        line.to_string()
    }
}

/// The issue title: `Type: value` of the newest exception, else the message's first line.
pub fn title(ev: &Value) -> String {
    if let Some(e) = exceptions(ev).last() {
        let ty = e.get("type").and_then(Value::as_str).unwrap_or("");
        let val = e.get("value").and_then(string_of).unwrap_or_default();
        let val = first_line(&val, 200);
        return match (ty.is_empty(), val.is_empty()) {
            (false, false) => format!("{ty}: {val}"),
            (false, true) => ty.to_string(),
            (true, false) => val,
            (true, true) => "<unknown error>".into(),
        };
    }
    if let Some(m) = ev
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.trim().is_empty())
    {
        return first_line(m, 200);
    }
    if let Some(t) = ev.get("transaction").and_then(Value::as_str) {
        return t.to_string();
    }
    "<unlabeled event>".into()
}

/// Whether a frame counts as the application's own code.
pub fn in_app(f: &Value) -> bool {
    f.get("in_app").and_then(Value::as_bool).unwrap_or(false)
}

/// The culprit: `function(module)` of the newest in-app frame (else the newest frame), else the
/// event's transaction or SDK-sent culprit.
pub fn culprit(ev: &Value) -> String {
    let fr: &[Value] = match exceptions(ev).last() {
        Some(e) => frames(e),
        None => event_frames(ev),
    };
    let pick = fr.iter().rev().find(|f| in_app(f)).or_else(|| fr.last());
    if let Some(f) = pick {
        let func = f.get("function").and_then(Value::as_str).unwrap_or("?");
        let place = f
            .get("module")
            .and_then(Value::as_str)
            .or_else(|| f.get("filename").and_then(Value::as_str))
            .or_else(|| f.get("abs_path").and_then(Value::as_str))
            .unwrap_or("");
        return if place.is_empty() {
            func.to_string()
        } else {
            format!("{func}({place})")
        };
    }
    ev.get("transaction")
        .or_else(|| ev.get("culprit"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// A stable identity for "users affected": user id, else email, username, ip address.
pub fn user_key(ev: &Value) -> Option<String> {
    let u = ev.get("user")?;
    for k in ["id", "email", "username", "ip_address"] {
        if let Some(v) = u.get(k).and_then(string_of).filter(|s| !s.is_empty()) {
            return Some(format!("{k}:{v}"));
        }
    }
    None
}

/// The tags an issue is broken down by: the event's own tags plus release, environment,
/// level, runtime, os, browser, url, transaction, server_name and user.
pub fn tag_pairs(ev: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            if !out.iter().any(|(ok, _)| ok == k) {
                out.push((k.to_string(), v));
            }
        }
    };
    for k in [
        "release",
        "environment",
        "level",
        "transaction",
        "server_name",
    ] {
        put(k, ev.get(k).and_then(string_of));
    }
    let ctx = |name: &str| {
        let c = ev.get("contexts")?.get(name)?;
        let n = c.get("name").and_then(Value::as_str)?;
        Some(match c.get("version").and_then(string_of) {
            Some(v) => format!("{n} {v}"),
            None => n.to_string(),
        })
    };
    put("runtime", ctx("runtime"));
    put("os", ctx("os"));
    put("browser", ctx("browser"));
    put(
        "url",
        ev.get("request")
            .and_then(|r| r.get("url"))
            .and_then(Value::as_str)
            .map(|u| u.split(['?', '#']).next().unwrap_or(u).to_string()),
    );
    put("user", user_key(ev));
    if let Some(Value::Object(t)) = ev.get("tags") {
        for (k, v) in t {
            put(k, string_of(v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalises_legacy_shapes() {
        let ev = normalize(
            json!({
                "event_id": "FC6D8C0C-43FC-4630-8B8F-B3A0A3B4D5E6",
                "timestamp": "2024-01-02T03:04:05.500Z",
                "message": {"message": "user %s not found", "params": ["bob"]},
                "level": "warn",
                "sentry.interfaces.Exception": [{"type": "KeyError", "value": "'x'"}],
                "tags": [["a", "1"], ["b", 2]],
                "breadcrumbs": [{"message": "clicked", "timestamp": 1704164645}],
                "contexts": {"trace": {"trace_id": "ABCDEF0123456789ABCDEF0123456789", "span_id": "1234567890abcdef"}}
            }),
            100.0,
            None,
        )
        .unwrap();
        assert_eq!(ev["event_id"], "fc6d8c0c43fc46308b8fb3a0a3b4d5e6");
        assert_eq!(ev["timestamp"], 1704164645.5);
        assert_eq!(ev["level"], "warning");
        assert_eq!(ev["message"], "user bob not found");
        assert_eq!(ev["logentry"]["message"], "user %s not found");
        assert_eq!(ev["exception"]["values"][0]["type"], "KeyError");
        assert_eq!(ev["tags"], json!({"a": "1", "b": "2"}));
        assert_eq!(ev["breadcrumbs"][0]["message"], "clicked");
        assert_eq!(ev["trace_id"], "abcdef0123456789abcdef0123456789");
        assert_eq!(title(&ev), "KeyError: 'x'");
        let ev = normalize(
            json!({"message": "plain"}),
            5.0,
            Some("0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert_eq!(ev["timestamp"], 5.0);
        assert_eq!(ev["event_id"], "0123456789abcdef0123456789abcdef");
        assert_eq!(ev["level"], "error");
        assert_eq!(title(&ev), "plain");
        assert!(normalize(json!([1]), 0.0, None).is_err());
        assert_eq!(new_event_id().len(), 32);
        assert_ne!(new_event_id(), new_event_id());
    }

    #[test]
    fn culprit_and_tags() {
        let ev = normalize(
            json!({
                "exception": {"values": [{"type": "TypeError", "value": "x is undefined\nmore",
                  "stacktrace": {"frames": [
                    {"function": "main", "module": "app/index", "in_app": true},
                    {"function": "handler", "module": "app/routes", "in_app": true},
                    {"function": "internal", "filename": "node:internal/x", "in_app": false}]}}]},
                "release": "1.0", "environment": "prod",
                "user": {"email": "a@b.c"},
                "request": {"url": "http://x/y?token=1"},
                "contexts": {"runtime": {"name": "node", "version": "v20.1.0"}},
                "tags": {"custom": "yes"}
            }),
            1.0,
            None,
        )
        .unwrap();
        assert_eq!(title(&ev), "TypeError: x is undefined");
        assert_eq!(culprit(&ev), "handler(app/routes)");
        let tags = tag_pairs(&ev);
        let get = |k: &str| tags.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        assert_eq!(get("release"), Some("1.0"));
        assert_eq!(get("runtime"), Some("node v20.1.0"));
        assert_eq!(get("url"), Some("http://x/y"));
        assert_eq!(get("user"), Some("email:a@b.c"));
        assert_eq!(get("custom"), Some("yes"));
        assert_eq!(get("level"), Some("error"));
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp(&json!(12.5)), Some(12.5));
        assert_eq!(parse_timestamp(&json!("12.5")), Some(12.5));
        assert_eq!(parse_timestamp(&json!("1970-01-01T00:00:10Z")), Some(10.0));
        assert_eq!(parse_timestamp(&json!("1970-01-01T00:00:10")), Some(10.0));
        assert_eq!(parse_timestamp(&json!("nope")), None);
        assert_eq!(parse_timestamp(&json!(-1)), None);
        assert_eq!(rfc3339(10.0), "1970-01-01T00:00:10.000Z");
    }
}
