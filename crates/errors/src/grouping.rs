//! Grouping events into issues, after Sentry's idea: the fingerprint of an error is its
//! exception types plus its in-app stack frames (module or file name and function, without line
//! numbers, memory addresses or content hashes in file names); without a stack trace, the
//! message template (`logentry.message`); else the message with numbers, ids, UUIDs and hex
//! masked. An SDK-sent `fingerprint` replaces this, `{{ default }}` standing for the default.

use crate::event::{event_frames, exceptions, frames, in_app};
use md5::{Digest, Md5};
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// Lowercase hex md5 of `data`.
pub fn md5_hex(data: &[u8]) -> String {
    let d = Md5::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b")
        .expect("uuid regex")
});
static HEX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b0x[0-9a-f]+\b|\b[0-9a-f]{8,}\b").expect("hex regex"));
static NUM: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d+(\.\d+)?").expect("num regex"));
static QUOTED_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9_-]*\d[A-Za-z0-9_-]*").expect("id regex"));
static FILE_HASH: LazyLock<Regex> = LazyLock::new(|| {
    // app.3f9a2b1c.js, chunk-5YXK2LQM.js, main-abcdef12.min.js: a dot/dash-separated token of
    // 6+ characters holding both a digit and a letter (or 8+ hex) is a build hash.
    Regex::new(r"[.-]([0-9a-fA-F]{8,}|[A-Za-z0-9_]*[0-9][A-Za-z0-9_]*[A-Za-z][A-Za-z0-9_]*|[A-Za-z0-9_]*[A-Za-z][A-Za-z0-9_]*[0-9][A-Za-z0-9_]*)(\.|$)")
        .expect("file hash regex")
});
static ADDR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)0x[0-9a-f]+").expect("addr regex"));
static LAMBDA_NUM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\$|lambda|anon|_)\d+").expect("lambda regex"));

/// A message with variable parts masked: UUIDs, hex, numbers and number-bearing ids.
pub fn mask_message(s: &str) -> String {
    let s = UUID.replace_all(s, "<uuid>");
    let s = HEX.replace_all(&s, "<hex>");
    let s = NUM.replace_all(&s, "<int>");
    // Tokens still mixing letters and digits after the above (e.g. "user42a") are ids.
    let s = QUOTED_ID.replace_all(&s, |c: &regex::Captures| {
        let t = &c[0];
        if t.contains("<int>") || t.contains("<hex>") || t.contains("<uuid>") {
            t.to_string()
        } else {
            "<id>".to_string()
        }
    });
    s.into_owned()
}

/// A file name without query string, build hashes or webpack prefixes.
pub fn normalize_filename(f: &str) -> String {
    let f = f.split(['?', '#']).next().unwrap_or(f);
    let f = f.strip_prefix("webpack://").unwrap_or(f);
    let f = f.strip_prefix("file://").unwrap_or(f);
    let mut out = f.to_string();
    // Repeat: adjacent hashed segments share separators.
    for _ in 0..3 {
        let next = FILE_HASH.replace_all(&out, ".<hash>$2").into_owned();
        if next == out {
            break;
        }
        out = next;
    }
    out
}

/// A function name without addresses or generated lambda numbers.
pub fn normalize_function(f: &str) -> String {
    let f = ADDR.replace_all(f, "<addr>");
    LAMBDA_NUM.replace_all(&f, "$1").into_owned()
}

fn frame_component(f: &Value) -> Option<String> {
    let place = f
        .get("module")
        .and_then(Value::as_str)
        .map(normalize_filename)
        .or_else(|| {
            f.get("filename")
                .and_then(Value::as_str)
                .map(normalize_filename)
        })
        .or_else(|| {
            f.get("abs_path")
                .and_then(Value::as_str)
                .map(normalize_filename)
        })
        .unwrap_or_default();
    let func = f
        .get("function")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && *s != "?")
        .map(normalize_function);
    let what = match func {
        Some(func) => func,
        // Without a function name, the source line stands for the frame.
        None => f
            .get("context_line")
            .and_then(Value::as_str)
            .map(|l| l.trim().to_string())
            .unwrap_or_default(),
    };
    (!place.is_empty() || !what.is_empty()).then(|| format!("{place}|{what}"))
}

/// Frames used for grouping: the in-app ones if there are any, else all.
fn grouping_frames(fr: &[Value]) -> Vec<String> {
    let app: Vec<&Value> = fr.iter().filter(|f| in_app(f)).collect();
    let chosen: Vec<&Value> = if app.is_empty() {
        fr.iter().collect()
    } else {
        app
    };
    chosen.into_iter().filter_map(frame_component).collect()
}

/// The default grouping components of a normalised event.
pub fn default_components(ev: &Value) -> Vec<String> {
    let excs = exceptions(ev);
    if !excs.is_empty() {
        let mut out = Vec::new();
        for e in excs {
            let ty = e.get("type").and_then(Value::as_str).unwrap_or("");
            out.push(format!("type:{ty}"));
            let fr = grouping_frames(frames(e));
            if fr.is_empty() {
                // No stack: the (masked) value tells errors of one type apart.
                let v = e.get("value").and_then(Value::as_str).unwrap_or("");
                out.push(format!("value:{}", mask_message(v)));
            } else {
                out.extend(fr.into_iter().map(|f| format!("frame:{f}")));
            }
        }
        return out;
    }
    let fr = grouping_frames(event_frames(ev));
    if !fr.is_empty() {
        return fr.into_iter().map(|f| format!("frame:{f}")).collect();
    }
    if let Some(t) = ev.pointer("/logentry/message").and_then(Value::as_str) {
        return vec![format!("template:{t}")];
    }
    let msg = ev
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| ev.pointer("/logentry/formatted").and_then(Value::as_str))
        .unwrap_or("");
    vec![format!("message:{}", mask_message(msg))]
}

/// The grouping hash of a normalised event (SDK fingerprint honoured).
pub fn fingerprint(ev: &Value) -> String {
    let custom: Option<Vec<String>> = ev.get("fingerprint").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect()
    });
    let comps = match custom.filter(|c| !c.is_empty()) {
        Some(c) => {
            let mut out = Vec::new();
            for part in c {
                let compact: String = part.chars().filter(|c| !c.is_whitespace()).collect();
                if compact == "{{default}}" {
                    out.extend(default_components(ev));
                } else {
                    out.push(format!("custom:{part}"));
                }
            }
            out
        }
        None => default_components(ev),
    };
    md5_hex(comps.join("\0").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::normalize;
    use proptest::prelude::*;
    use serde_json::json;

    fn ev(v: Value) -> Value {
        normalize(v, 0.0, None).unwrap()
    }

    fn exc(ty: &str, val: &str, frames: Value) -> Value {
        ev(
            json!({"exception": {"values": [{"type": ty, "value": val, "stacktrace": {"frames": frames}}]}}),
        )
    }

    #[test]
    fn same_place_different_lines_and_values_group_together() {
        let a = exc(
            "TypeError",
            "x is undefined",
            json!([
            {"function": "handler", "filename": "/app/routes.js", "lineno": 10, "in_app": true},
            {"function": "Module._compile", "filename": "node:internal/modules", "lineno": 1, "in_app": false}]),
        );
        let b = exc(
            "TypeError",
            "y is undefined",
            json!([
            {"function": "handler", "filename": "/app/routes.js", "lineno": 99, "colno": 3, "in_app": true},
            {"function": "other", "filename": "node:internal/x", "in_app": false}]),
        );
        assert_eq!(fingerprint(&a), fingerprint(&b));
        let c = exc(
            "TypeError",
            "x is undefined",
            json!([
            {"function": "other_handler", "filename": "/app/routes.js", "lineno": 10, "in_app": true}]),
        );
        assert_ne!(fingerprint(&a), fingerprint(&c));
        let d = exc(
            "RangeError",
            "x is undefined",
            json!([
            {"function": "handler", "filename": "/app/routes.js", "lineno": 10, "in_app": true}]),
        );
        assert_ne!(fingerprint(&a), fingerprint(&d));
    }

    #[test]
    fn hashes_and_addresses_are_ignored() {
        let a = exc(
            "E",
            "",
            json!([{"function": "run 0x7fff1234", "filename": "https://x/static/js/main.3f9a2b1c.js?v=1"}]),
        );
        let b = exc(
            "E",
            "",
            json!([{"function": "run 0x0000abcd", "filename": "https://x/static/js/main.99aa00bb.js"}]),
        );
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_eq!(
            normalize_filename("/s/chunk-5YXK2LQM.js"),
            "/s/chunk.<hash>.js"
        );
        assert_eq!(normalize_filename("/app/routes.js"), "/app/routes.js");
        assert_eq!(
            normalize_function("lambda$12"),
            normalize_function("lambda$7")
        );
    }

    #[test]
    fn messages_template_and_masking() {
        let a = ev(json!({"logentry": {"message": "user %s failed", "params": ["a"]}}));
        let b = ev(json!({"logentry": {"message": "user %s failed", "params": ["b"]}}));
        assert_eq!(fingerprint(&a), fingerprint(&b));
        let c = ev(
            json!({"message": "order 1234 failed for 550e8400-e29b-41d4-a716-446655440000 at 0xdeadbeef"}),
        );
        let d = ev(
            json!({"message": "order 99 failed for 123e4567-e89b-12d3-a456-426614174000 at 0x1"}),
        );
        assert_eq!(fingerprint(&c), fingerprint(&d));
        let e = ev(json!({"message": "payment declined"}));
        assert_ne!(fingerprint(&c), fingerprint(&e));
        let f = exc("E", "id 5 missing", json!([]));
        let g = exc("E", "id 6 missing", json!([]));
        assert_eq!(fingerprint(&f), fingerprint(&g));
    }

    #[test]
    fn sdk_fingerprint_overrides() {
        let mut a = ev(json!({"message": "one"}));
        let mut b = ev(json!({"message": "two"}));
        a["fingerprint"] = json!(["db-down"]);
        b["fingerprint"] = json!(["db-down"]);
        assert_eq!(fingerprint(&a), fingerprint(&b));
        a["fingerprint"] = json!(["{{ default }}", "x"]);
        b["fingerprint"] = json!(["{{default}}", "x"]);
        assert_ne!(fingerprint(&a), fingerprint(&b));
        let mut c = ev(json!({"message": "one"}));
        c["fingerprint"] = json!(["{{ default }}", "x"]);
        assert_eq!(fingerprint(&a), fingerprint(&c));
        let plain = ev(json!({"message": "one"}));
        assert_ne!(fingerprint(&plain), fingerprint(&c));
    }

    proptest! {
        #[test]
        fn grouping_never_panics(msg in ".{0,60}", func in ".{0,30}", file in ".{0,40}") {
            let e = exc("T", &msg, json!([{"function": func, "filename": file, "in_app": true}]));
            prop_assert_eq!(fingerprint(&e).len(), 32);
            let m = ev(json!({"message": msg}));
            let _ = fingerprint(&m);
        }

        #[test]
        fn numbers_never_split_messages(a in 0u64..1_000_000, b in 0u64..1_000_000) {
            let x = ev(json!({"message": format!("timeout after {a} ms")}));
            let y = ev(json!({"message": format!("timeout after {b} ms")}));
            prop_assert_eq!(fingerprint(&x), fingerprint(&y));
        }
    }
}
