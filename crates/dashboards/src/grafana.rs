//! Grafana's rules for dashboard documents, apart from storage: slugs, uids (generated, derived
//! from a file path, validated), the API-wrapped form `{"dashboard": {...}}` versus the bare
//! dashboard, and the import step that fills `${DS_...}`-style `__inputs`.

use crate::json::{Map, Value};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest uid Grafana accepts.
pub const MAX_UID_LEN: usize = 40;

/// Grafana's slug of a title: lower case, runs of anything but letters and digits become one
/// `-`, no leading or trailing `-` ("Production Overview" → `production-overview`).
pub fn slugify(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    let mut dash = false;
    for c in title.trim().chars() {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        } else {
            dash = true;
        }
    }
    if out.is_empty() {
        "dashboard".to_string()
    } else {
        out
    }
}

/// The dashboard's URL path in Grafana's scheme: `/d/<uid>/<slug>`.
pub fn dashboard_url(uid: &str, slug: &str) -> String {
    format!("/d/{uid}/{slug}")
}

/// Checks a uid as Grafana does (at most 40 of `[a-zA-Z0-9_-]`); uids name files, so nothing
/// else may pass.
pub fn validate_uid(uid: &str) -> Result<(), String> {
    if uid.len() > MAX_UID_LEN {
        return Err(format!("uid too long, max {MAX_UID_LEN} characters"));
    }
    if uid.is_empty()
        || !uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("uid contains illegal characters".to_string());
    }
    Ok(())
}

const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// 14 characters in Grafana's short-uid style (a letter first, then letters and digits) from
/// 128 bits.
fn encode_uid(hi: u64, lo: u64) -> String {
    let mut n = ((hi as u128) << 64) | lo as u128;
    let mut out = String::with_capacity(14);
    out.push((b'a' + (n % 26) as u8) as char);
    n /= 26;
    for _ in 0..13 {
        out.push(ALPHABET[(n % 36) as usize] as char);
        n /= 36;
    }
    out
}

/// A fresh random uid.
pub fn new_uid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = std::collections::hash_map::RandomState::new();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let c = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut h1 = seed.build_hasher();
    h1.write_u64(nanos);
    h1.write_u64(c);
    let mut h2 = seed.build_hasher();
    h2.write_u64(h1.finish());
    h2.write_u64(!c);
    encode_uid(h1.finish(), h2.finish())
}

/// FNV-1a, 64 bits: stable across builds and platforms (std's hashers are not).
pub fn fnv64(bytes: &[u8], offset: u64) -> u64 {
    let mut h = offset;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The uid of a provisioned file that has none: derived from its provider folder and path, so
/// it stays the same across restarts and machines.
pub fn stable_uid(key: &str) -> String {
    encode_uid(
        fnv64(key.as_bytes(), 0xcbf2_9ce4_8422_2325),
        fnv64(key.as_bytes(), 0x6c62_272e_07bb_0142),
    )
}

/// True for the API-wrapped form: an object whose `dashboard` is an object and that has no
/// dashboard keys of its own.
pub fn is_wrapped(v: &Value) -> bool {
    let Some(m) = v.as_object() else {
        return false;
    };
    matches!(m.get("dashboard"), Some(Value::Object(_)))
        && !m.contains_key("panels")
        && !m.contains_key("rows")
        && !m.contains_key("schemaVersion")
}

/// The dashboard inside `v`: `v` itself when bare, `v.dashboard` (repeatedly) when wrapped.
pub fn unwrap_dashboard(mut v: Value) -> Value {
    for _ in 0..4 {
        if !is_wrapped(&v) {
            break;
        }
        let inner = v
            .as_object_mut()
            .and_then(|m| m.remove("dashboard"))
            .unwrap_or_default();
        v = inner;
    }
    v
}

/// One entry of an import request's `inputs`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportInput {
    pub name: String,
    pub kind: String,
    pub plugin_id: String,
    pub value: String,
}

/// The uid of pharos' built-in data source for a Grafana plugin id, if there is one.
pub fn builtin_datasource_uid(plugin_id: &str) -> Option<&'static str> {
    Some(match plugin_id {
        "prometheus" => "prometheus",
        "loki" => "loki",
        "elasticsearch" => "elasticsearch",
        "jaeger" | "tempo" => "jaeger",
        "zipkin" => "zipkin",
        "alertmanager" => "alertmanager",
        _ => return None,
    })
}

/// Grafana's import evaluation: every `__inputs` entry gets a value (from `inputs` by name; a
/// data source input without one gets pharos' built-in data source of its plugin; a constant
/// its own `value`), `${NAME}` is replaced in every string, and `__inputs` is dropped. Inputs
/// that resolve to nothing leave their references as they are. Returns what could not be
/// resolved.
pub fn apply_inputs(dashboard: &mut Value, inputs: &[ImportInput]) -> Vec<String> {
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut unresolved = Vec::new();
    let declared: Vec<Value> = dashboard
        .get("__inputs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for d in &declared {
        let name = d.get("name").and_then(Value::as_str).unwrap_or_default();
        if name.is_empty() {
            continue;
        }
        let kind = d.get("type").and_then(Value::as_str).unwrap_or_default();
        let plugin = d
            .get("pluginId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let given = inputs
            .iter()
            .find(|i| i.name == name && (i.kind.is_empty() || kind.is_empty() || i.kind == kind))
            .map(|i| i.value.clone())
            .filter(|v| !v.is_empty());
        let value = given.or_else(|| match kind {
            "datasource" => builtin_datasource_uid(plugin).map(String::from),
            _ => d
                .get("value")
                .and_then(Value::as_str)
                .map(String::from)
                .filter(|v| !v.is_empty()),
        });
        match value {
            Some(v) => vars.push((format!("${{{name}}}"), v)),
            None => unresolved.push(name.to_string()),
        }
    }
    // Inputs the dashboard does not declare still fill their `${NAME}` references.
    for i in inputs {
        let key = format!("${{{}}}", i.name);
        if !i.name.is_empty() && !i.value.is_empty() && !vars.iter().any(|(k, _)| *k == key) {
            vars.push((key, i.value.clone()));
        }
    }
    if let Some(m) = dashboard.as_object_mut() {
        m.remove("__inputs");
    }
    if !vars.is_empty() {
        replace_refs(dashboard, &vars);
    }
    unresolved
}

fn replace_refs(v: &mut Value, vars: &[(String, String)]) {
    match v {
        Value::String(s) if s.contains("${") => *s = replace_in(s, vars),
        Value::Array(a) => a.iter_mut().for_each(|e| replace_refs(e, vars)),
        Value::Object(m) => m.iter_mut().for_each(|(_, e)| replace_refs(e, vars)),
        _ => {}
    }
}

/// Replaces each `${...}` that names a variable (Grafana's `\$\{.+?\}` match), others stay.
fn replace_in(s: &str, vars: &[(String, String)]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        match tail[2..].find('}') {
            Some(end) if end > 0 => {
                let token = &tail[..end + 3];
                match vars.iter().find(|(k, _)| k == token) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(token),
                }
                rest = &tail[end + 3..];
            }
            _ => {
                out.push_str("${");
                rest = &tail[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The dashboard's title (trimmed), if it has a non-empty one.
pub fn title_of(d: &Value) -> Option<&str> {
    d.get("title")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The dashboard's tags (strings only).
pub fn tags_of(d: &Value) -> Vec<String> {
    d.get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Sets `key` in an object value (in place when present, appended otherwise).
pub fn set_key(d: &mut Value, key: &str, v: Value) {
    if let Some(m) = d.as_object_mut() {
        m.insert(key, v);
    }
}

/// An empty object value.
pub fn object() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{parse, to_compact};

    #[test]
    fn slugs_like_grafana() {
        assert_eq!(slugify("Production Overview"), "production-overview");
        assert_eq!(
            slugify("CrewAI Application Dashboard"),
            "crewai-application-dashboard"
        );
        assert_eq!(slugify("  A -- b / C (x) "), "a-b-c-x");
        assert_eq!(slugify("Ünïcode Ärger"), "ünïcode-ärger");
        assert_eq!(slugify("!!!"), "dashboard");
    }

    #[test]
    fn uids() {
        let a = new_uid();
        let b = new_uid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 14);
        assert!(validate_uid(&a).is_ok());
        assert!(a.as_bytes()[0].is_ascii_lowercase());
        assert_eq!(stable_uid("team/x.json"), stable_uid("team/x.json"));
        assert_ne!(stable_uid("team/x.json"), stable_uid("team/y.json"));
        assert!(validate_uid(&stable_uid("x")).is_ok());
        assert!(validate_uid("../etc").is_err());
        assert!(validate_uid("").is_err());
        assert!(validate_uid(&"a".repeat(41)).is_err());
        assert!(validate_uid("Ab-_9").is_ok());
    }

    #[test]
    fn wrapped_and_bare() {
        let w = parse(br#"{"dashboard":{"title":"t","panels":[]},"overwrite":true}"#).unwrap();
        assert!(is_wrapped(&w));
        assert_eq!(
            to_compact(&unwrap_dashboard(w)),
            r#"{"title":"t","panels":[]}"#
        );
        let twice = parse(br#"{"dashboard":{"dashboard":{"title":"t"}}}"#).unwrap();
        assert_eq!(to_compact(&unwrap_dashboard(twice)), r#"{"title":"t"}"#);
        let bare = parse(br#"{"title":"t","panels":[]}"#).unwrap();
        assert!(!is_wrapped(&bare));
        assert_eq!(unwrap_dashboard(bare.clone()), bare);
    }

    #[test]
    fn import_inputs() {
        let mut d = parse(
            br#"{"__inputs":[{"name":"DS_PROM","type":"datasource","pluginId":"prometheus"},
                {"name":"DS_LOKI","type":"datasource","pluginId":"loki"},
                {"name":"VAR_ENV","type":"constant","value":"prod"},
                {"name":"DS_MYSQL","type":"datasource","pluginId":"mysql"}],
              "__requires":[],"title":"t",
              "panels":[{"datasource":"${DS_PROM}","targets":[{"expr":"up{env=\"${VAR_ENV}\"}","datasource":{"uid":"${DS_LOKI}"}}]},
                        {"datasource":"${DS_MYSQL}","title":"${unknown} and ${ } $ ${"}]}"#,
        )
        .unwrap();
        let unresolved = apply_inputs(
            &mut d,
            &[ImportInput {
                name: "DS_PROM".into(),
                kind: "datasource".into(),
                plugin_id: "prometheus".into(),
                value: "my-prom".into(),
            }],
        );
        assert_eq!(unresolved, vec!["DS_MYSQL".to_string()]);
        assert_eq!(
            to_compact(&d),
            r#"{"__requires":[],"title":"t","panels":[{"datasource":"my-prom","targets":[{"expr":"up{env=\"prod\"}","datasource":{"uid":"loki"}}]},{"datasource":"${DS_MYSQL}","title":"${unknown} and ${ } $ ${"}]}"#
        );
    }

    #[test]
    fn undeclared_inputs_still_replace() {
        let mut d =
            parse(br#"{"title":"t","panels":[{"datasource":"${DS_PROMETHEUS}"}]}"#).unwrap();
        apply_inputs(
            &mut d,
            &[ImportInput {
                name: "DS_PROMETHEUS".into(),
                value: "prometheus".into(),
                ..Default::default()
            }],
        );
        assert_eq!(
            to_compact(&d),
            r#"{"title":"t","panels":[{"datasource":"prometheus"}]}"#
        );
    }
}
