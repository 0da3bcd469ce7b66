//! Notification templates: Alertmanager's template data (`.Receiver`, `.Status`, `.Alerts` with
//! `.Firing`/`.Resolved`, `.GroupLabels`, `.CommonLabels`, `.CommonAnnotations`, `.ExternalURL`;
//! per alert `.Labels`, `.Annotations`, `.StartsAt`, `.EndsAt`, `.GeneratorURL`,
//! `.Fingerprint`, `.Status`), Alertmanager's template functions, pharos' equivalent of
//! `default.tmpl` (`default.tmpl` beside this file) and the user's `templates:` files, executed
//! by the shared `gotemplate` interpreter.
//!
//! Label sets are objects behaving as Go's `template.KV`: map-like (`.Labels.severity`, `range`,
//! `len`) with `.SortedPairs`, `.Names`, `.Values` and `.Remove NAMES`.

use crate::alert::{fingerprint_hex, StoredAlert};
use gotemplate::{Object, Template, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

const DEFAULT_TMPL: &str = include_str!("default.tmpl");

/// A label set as Go's `template.KV`.
#[derive(Debug, Clone)]
pub struct Kv(pub BTreeMap<String, String>);

impl Kv {
    fn pairs(&self) -> Value {
        Value::object(Pairs(
            self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        ))
    }
}

impl Object for Kv {
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "SortedPairs" => Some(self.pairs()),
            "Names" => Some(Value::list(self.0.keys().map(Value::str).collect())),
            "Values" => Some(Value::list(self.0.values().map(Value::str).collect())),
            other => Some(Value::str(
                self.0.get(other).map(String::as_str).unwrap_or(""),
            )),
        }
    }
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if name != "Remove" {
            return None;
        }
        let Some(list) = args.first().and_then(Value::as_list) else {
            return Some(Err("Remove takes a list of label names".into()));
        };
        let drop: Vec<String> = list
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect();
        Some(Ok(Value::object(Kv(self
            .0
            .iter()
            .filter(|(k, _)| !drop.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()))))
    }
    fn as_map(&self) -> Option<BTreeMap<String, Value>> {
        Some(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), Value::str(v)))
                .collect(),
        )
    }
    fn display(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        format!("map[{}]", parts.join(" "))
    }
}

/// Go's `template.Pairs`: a sorted list of `{Name, Value}` with `.Names` and `.Values`.
#[derive(Debug, Clone)]
struct Pairs(Vec<(String, String)>);

#[derive(Debug, Clone)]
struct Pair(String, String);

impl Object for Pair {
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Name" => Some(Value::str(&self.0)),
            "Value" => Some(Value::str(&self.1)),
            _ => None,
        }
    }
    fn display(&self) -> String {
        format!("{{{} {}}}", self.0, self.1)
    }
}

impl Object for Pairs {
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Names" => Some(Value::list(
                self.0.iter().map(|p| Value::str(&p.0)).collect(),
            )),
            "Values" => Some(Value::list(
                self.0.iter().map(|p| Value::str(&p.1)).collect(),
            )),
            _ => None,
        }
    }
    fn as_list(&self) -> Option<Vec<Value>> {
        Some(
            self.0
                .iter()
                .map(|(n, v)| Value::object(Pair(n.clone(), v.clone())))
                .collect(),
        )
    }
}

/// Go's `time.Time` (UTC): prints like `time.Time.String()`, with `.Format LAYOUT`, `.Unix`,
/// `.UnixMilli` and `.IsZero`.
#[derive(Debug, Clone, Copy)]
pub struct Time(pub Option<i64>);

impl Object for Time {
    fn field(&self, name: &str) -> Option<Value> {
        let ms = self.0.unwrap_or(GO_ZERO_MS);
        match name {
            "Unix" => Some(Value::Int(ms.div_euclid(1000))),
            "UnixMilli" => Some(Value::Int(ms)),
            "IsZero" => Some(Value::Bool(self.0.is_none())),
            _ => None,
        }
    }
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match name {
            "Format" => Some(match args.first().and_then(Value::as_str) {
                Some(layout) => Ok(Value::str(go_format(self.0.unwrap_or(GO_ZERO_MS), layout))),
                None => Err("Format takes a layout string".into()),
            }),
            _ => None,
        }
    }
    fn display(&self) -> String {
        match self.0 {
            Some(ms) => go_time(ms),
            None => "0001-01-01 00:00:00 +0000 UTC".into(),
        }
    }
}

/// Unix ms of Go's zero time, 0001-01-01T00:00:00Z.
const GO_ZERO_MS: i64 = -62_135_596_800_000;

/// Formats Unix ms (UTC) with a Go reference-time layout (`2006-01-02T15:04:05Z07:00`, ...).
pub fn go_format(ms: i64, layout: &str) -> String {
    use chrono::{Datelike, Timelike};
    let Some(t) = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms) else {
        return String::new();
    };
    // Longest tokens first.
    const TOKENS: [&str; 31] = [
        "January",
        "Monday",
        "Z07:00",
        ".000000000",
        ".999999999",
        ".000000",
        ".999999",
        "-07:00",
        "Z0700",
        "-0700",
        "2006",
        ".000",
        ".999",
        "Jan",
        "Mon",
        "MST",
        "_2",
        "01",
        "02",
        "03",
        "04",
        "05",
        "06",
        "15",
        "PM",
        "pm",
        "-07",
        "1",
        "2",
        "3",
        "4",
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for tok in TOKENS {
            if let Some(after) = rest.strip_prefix(tok) {
                let nanos = t.nanosecond();
                let piece = match tok {
                    "January" => t.format("%B").to_string(),
                    "Monday" => t.format("%A").to_string(),
                    "Jan" => t.format("%b").to_string(),
                    "Mon" => t.format("%a").to_string(),
                    "MST" => "UTC".into(),
                    "Z07:00" | "Z0700" => "Z".into(),
                    "-07:00" => "+00:00".into(),
                    "-0700" => "+0000".into(),
                    "-07" => "+00".into(),
                    "2006" => format!("{:04}", t.year()),
                    "06" => format!("{:02}", t.year() % 100),
                    "01" => format!("{:02}", t.month()),
                    "1" => t.month().to_string(),
                    "02" => format!("{:02}", t.day()),
                    "_2" => format!("{:>2}", t.day()),
                    "2" => t.day().to_string(),
                    "15" => format!("{:02}", t.hour()),
                    "03" => format!("{:02}", (t.hour() + 11) % 12 + 1),
                    "3" => ((t.hour() + 11) % 12 + 1).to_string(),
                    "04" => format!("{:02}", t.minute()),
                    "4" => t.minute().to_string(),
                    "05" => format!("{:02}", t.second()),
                    "PM" => (if t.hour() >= 12 { "PM" } else { "AM" }).into(),
                    "pm" => (if t.hour() >= 12 { "pm" } else { "am" }).into(),
                    ".000" => format!(".{:03}", nanos / 1_000_000),
                    ".000000" => format!(".{:06}", nanos / 1_000),
                    ".000000000" => format!(".{nanos:09}"),
                    _ => {
                        // .999…: fractional seconds without trailing zeros (omitted when zero).
                        let digits = tok.len() - 1;
                        let f = format!("{nanos:09}");
                        let f = f[..digits].trim_end_matches('0');
                        if f.is_empty() {
                            String::new()
                        } else {
                            format!(".{f}")
                        }
                    }
                };
                out.push_str(&piece);
                rest = after;
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// Go's `time.Duration.String()` for milliseconds (`1h2m3.5s`, `0s`).
pub fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let neg = ms < 0;
    let ms = ms.unsigned_abs();
    let (h, m) = (ms / 3_600_000, (ms / 60_000) % 60);
    let (sec, frac) = ((ms / 1000) % 60, ms % 1000);
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if ms < 1000 {
        out.push_str(&format!("{ms}ms"));
        return out;
    }
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if frac > 0 {
        let f = format!("{frac:03}");
        out.push_str(&format!("{sec}.{}s", f.trim_end_matches('0')));
    } else {
        out.push_str(&format!("{sec}s"));
    }
    out
}

/// One alert as templates see it.
#[derive(Debug, Clone)]
pub struct TmplAlert {
    pub status: &'static str,
    pub labels: Kv,
    pub annotations: Kv,
    pub starts_at: i64,
    pub ends_at: Option<i64>,
    pub generator_url: String,
    pub fingerprint: String,
}

/// Formats Unix ms like Go's `time.Time.String()` in UTC.
pub fn go_time(ms: i64) -> String {
    match chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms) {
        Some(t) => {
            let frac = t.format("%.f").to_string();
            let frac = frac.trim_end_matches('0');
            let frac = if frac == "." { "" } else { frac };
            format!("{}{} +0000 UTC", t.format("%Y-%m-%d %H:%M:%S"), frac)
        }
        None => "0001-01-01 00:00:00 +0000 UTC".into(),
    }
}

impl Object for TmplAlert {
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Status" => Value::str(self.status),
            "Labels" => Value::object(self.labels.clone()),
            "Annotations" => Value::object(self.annotations.clone()),
            "StartsAt" => Value::object(Time(Some(self.starts_at))),
            "EndsAt" => Value::object(Time(self.ends_at)),
            "GeneratorURL" => Value::str(&self.generator_url),
            "Fingerprint" => Value::str(&self.fingerprint),
            _ => return None,
        })
    }
}

/// Go's `template.Alerts` with `.Firing` and `.Resolved`.
#[derive(Debug, Clone)]
pub struct Alerts(pub Vec<TmplAlert>);

impl Object for Alerts {
    fn field(&self, name: &str) -> Option<Value> {
        let pick = |status: &str| {
            Value::object(Alerts(
                self.0
                    .iter()
                    .filter(|a| a.status == status)
                    .cloned()
                    .collect(),
            ))
        };
        match name {
            "Firing" => Some(pick("firing")),
            "Resolved" => Some(pick("resolved")),
            _ => None,
        }
    }
    fn as_list(&self) -> Option<Vec<Value>> {
        Some(self.0.iter().map(|a| Value::object(a.clone())).collect())
    }
}

/// Everything a notification's templates get.
#[derive(Debug, Clone)]
pub struct Data {
    pub receiver: String,
    pub status: &'static str,
    pub alerts: Alerts,
    pub group_labels: Kv,
    pub common_labels: Kv,
    pub common_annotations: Kv,
    pub external_url: String,
}

impl Object for Data {
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Receiver" => Value::str(&self.receiver),
            "Status" => Value::str(self.status),
            "Alerts" => Value::object(self.alerts.clone()),
            "GroupLabels" => Value::object(self.group_labels.clone()),
            "CommonLabels" => Value::object(self.common_labels.clone()),
            "CommonAnnotations" => Value::object(self.common_annotations.clone()),
            "ExternalURL" => Value::str(&self.external_url),
            _ => return None,
        })
    }
}

fn common(maps: &[&BTreeMap<String, String>]) -> BTreeMap<String, String> {
    let Some((first, rest)) = maps.split_first() else {
        return BTreeMap::new();
    };
    first
        .iter()
        .filter(|(k, v)| rest.iter().all(|m| m.get(*k) == Some(*v)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Go's `regexp.QuoteMeta`, which Alertmanager applies to `.Receiver`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Data {
    /// Builds the data for a notification of `alerts` (status judged at `now`).
    pub fn new(
        receiver: &str,
        group_labels: &BTreeMap<String, String>,
        alerts: &[StoredAlert],
        external_url: &str,
        now: i64,
    ) -> Data {
        let tmpl_alerts: Vec<TmplAlert> = alerts
            .iter()
            .map(|a| {
                let resolved = a.resolved_at(now);
                TmplAlert {
                    status: if resolved { "resolved" } else { "firing" },
                    labels: Kv(a.labels.clone()),
                    annotations: Kv(a.annotations.clone()),
                    starts_at: a.starts_at,
                    ends_at: if resolved { Some(a.ends_at) } else { None },
                    generator_url: a.generator_url.clone(),
                    fingerprint: fingerprint_hex(a.fingerprint),
                }
            })
            .collect();
        let firing = tmpl_alerts.iter().any(|a| a.status == "firing");
        let labels: Vec<&BTreeMap<String, String>> = alerts.iter().map(|a| &a.labels).collect();
        let annotations: Vec<&BTreeMap<String, String>> =
            alerts.iter().map(|a| &a.annotations).collect();
        Data {
            receiver: quote_meta(receiver),
            status: if firing { "firing" } else { "resolved" },
            alerts: Alerts(tmpl_alerts),
            group_labels: Kv(group_labels.clone()),
            common_labels: Kv(common(&labels)),
            common_annotations: Kv(common(&annotations)),
            external_url: external_url.to_string(),
        }
    }

    pub fn value(&self) -> Value {
        Value::object(self.clone())
    }
}

fn arg_str(args: &[Value], i: usize, f: &str) -> Result<String, String> {
    match args.get(i) {
        Some(Value::Str(s)) => Ok(s.to_string()),
        Some(v) => Ok(v.to_string()),
        None => Err(format!("wrong number of args for {f}")),
    }
}

fn strings_of(v: &Value) -> Vec<String> {
    v.as_list()
        .unwrap_or_default()
        .iter()
        .map(|x| match x {
            Value::Str(s) => s.to_string(),
            other => other.to_string(),
        })
        .collect()
}

/// Registers Alertmanager's template functions.
fn register_funcs(t: &mut Template) {
    t.func("toUpper", |a| {
        Ok(Value::str(arg_str(a, 0, "toUpper")?.to_uppercase()))
    });
    t.func("toLower", |a| {
        Ok(Value::str(arg_str(a, 0, "toLower")?.to_lowercase()))
    });
    t.func("title", |a| {
        let s = arg_str(a, 0, "title")?;
        let mut out = String::with_capacity(s.len());
        let mut prev_letter = false;
        for c in s.chars() {
            if !prev_letter {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
        }
        Ok(Value::str(out))
    });
    t.func("trimSpace", |a| {
        Ok(Value::str(arg_str(a, 0, "trimSpace")?.trim()))
    });
    t.func("join", |a| {
        let sep = arg_str(a, 0, "join")?;
        let list = a.get(1).ok_or("wrong number of args for join")?;
        Ok(Value::str(strings_of(list).join(&sep)))
    });
    t.func("match", |a| {
        let re = regex::Regex::new(&arg_str(a, 0, "match")?).map_err(|e| e.to_string())?;
        Ok(Value::Bool(re.is_match(&arg_str(a, 1, "match")?)))
    });
    t.func("reReplaceAll", |a| {
        let re = regex::Regex::new(&arg_str(a, 0, "reReplaceAll")?).map_err(|e| e.to_string())?;
        let repl = arg_str(a, 1, "reReplaceAll")?;
        let text = arg_str(a, 2, "reReplaceAll")?;
        Ok(Value::str(re.replace_all(&text, repl.as_str())))
    });
    t.func("safeHtml", |a| Ok(Value::str(arg_str(a, 0, "safeHtml")?)));
    t.func("safeUrl", |a| Ok(Value::str(arg_str(a, 0, "safeUrl")?)));
    t.func("stringSlice", |a| {
        Ok(Value::list(
            a.iter()
                .map(|v| Value::str(v.as_str().unwrap_or_default()))
                .collect(),
        ))
    });
    t.func("since", |a| match a.first() {
        Some(Value::Object(o)) => {
            let ms = match o.field("UnixMilli") {
                Some(Value::Int(ms)) => ms,
                _ => return Err("since takes a time".into()),
            };
            Ok(Value::str(go_duration(model::time::now_ms() - ms)))
        }
        _ => Err("since takes a time".into()),
    });
    t.func("humanizeDuration", |a| {
        let secs = match a.first() {
            Some(Value::Int(i)) => *i as f64,
            Some(Value::Float(f)) => *f,
            Some(Value::Str(s)) => s.parse::<f64>().map_err(|e| e.to_string())?,
            _ => return Err("humanizeDuration takes a number".into()),
        };
        Ok(Value::str(humanize_duration(secs)))
    });
    t.func("toJson", |a| {
        let v = a.first().cloned().unwrap_or_default();
        Ok(Value::str(
            serde_json::to_string(&to_json(&v)).map_err(|e| e.to_string())?,
        ))
    });
}

fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Str(s) => s.to_string().into(),
        other => {
            if let Some(m) = other.as_map() {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
            } else if let Some(l) = other.as_list() {
                serde_json::Value::Array(l.iter().map(to_json).collect())
            } else {
                other.to_string().into()
            }
        }
    }
}

/// Prometheus' `humanizeDuration`: `1h 2m 3s`, `1.5s`, `250ms`.
fn humanize_duration(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return format!("{v}");
    }
    if v.abs() < 1.0 {
        if v == 0.0 {
            return "0s".into();
        }
        let ms = v * 1000.0;
        return format!("{}ms", (ms * 1e4).round() / 1e4);
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let v = v.abs();
    let secs = v.floor() as u64;
    let (d, h, m, s) = (
        secs / 86400,
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
    );
    let frac = v - v.floor();
    if d > 0 {
        return format!("{sign}{d}d {h}h {m}m {s}s");
    }
    if h > 0 {
        return format!("{sign}{h}h {m}m {s}s");
    }
    if m > 0 {
        return format!("{sign}{m}m {s}s");
    }
    let s = s as f64 + frac;
    format!("{sign}{}s", (s * 1e4).round() / 1e4)
}

/// The default and user templates, ready to render receiver fields.
#[derive(Clone, Debug)]
pub struct Templates {
    base: Arc<Template>,
}

impl Templates {
    /// Parses the default templates and then every user template file (later definitions win).
    pub fn load(files: &[PathBuf]) -> Result<Templates, String> {
        let mut t = Template::new("__pharos_base");
        register_funcs(&mut t);
        t.missing_key(gotemplate::MissingKey::Zero);
        t.parse_named("default.tmpl", DEFAULT_TMPL)
            .map_err(|e| e.to_string())?;
        for f in files {
            let text = std::fs::read_to_string(f)
                .map_err(|e| format!("{}: cannot read template file: {e}", f.display()))?;
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            t.parse_named(&name, &text)
                .map_err(|e| format!("{}: {e}", f.display()))?;
        }
        Ok(Templates { base: Arc::new(t) })
    }

    /// Renders one template string (a receiver field) over `data`.
    pub fn render(&self, text: &str, data: &Value) -> Result<String, String> {
        if !text.contains("{{") {
            return Ok(text.to_string());
        }
        let mut t = (*self.base).clone();
        t.parse_named("__text", text).map_err(|e| e.to_string())?;
        t.execute_template("__text", data)
            .map_err(|e| e.to_string())
    }

    /// Checks that a template string parses (for config validation).
    pub fn check(&self, text: &str) -> Result<(), String> {
        let mut t = (*self.base).clone();
        t.parse_named("__text", text)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(labels: &[(&str, &str)], ann: &[(&str, &str)], ends: i64) -> StoredAlert {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        StoredAlert {
            fingerprint: crate::alert::fingerprint(&labels),
            labels,
            annotations: ann
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            starts_at: 0,
            ends_at: ends,
            generator_url: "http://prom/graph".into(),
            updated_at: 0,
            timeout: false,
        }
    }

    #[test]
    fn go_layouts_and_durations() {
        let t = 1_700_000_000_123; // 2023-11-14T22:13:20.123Z, a Tuesday
        assert_eq!(
            go_format(t, "2006-01-02T15:04:05Z07:00"),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            go_format(t, "Mon Jan _2 03:04:05.000 PM MST 2006"),
            "Tue Nov 14 10:13:20.123 PM UTC 2023"
        );
        assert_eq!(go_format(t, "15:04:05.999"), "22:13:20.123");
        assert_eq!(go_duration(3_723_500), "1h2m3.5s");
        assert_eq!(go_duration(59_000), "59s");
        assert_eq!(go_duration(250), "250ms");
        assert_eq!(humanize_duration(3723.0), "1h 2m 3s");
        assert_eq!(humanize_duration(1.5), "1.5s");
        assert_eq!(humanize_duration(0.25), "250ms");
    }

    #[test]
    fn go_time_format() {
        assert_eq!(go_time(1_700_000_000_000), "2023-11-14 22:13:20 +0000 UTC");
        assert_eq!(
            go_time(1_700_000_000_120),
            "2023-11-14 22:13:20.12 +0000 UTC"
        );
    }

    #[test]
    fn guide_texts_and_defaults() {
        let t = Templates::load(&[]).unwrap();
        let alerts = vec![
            alert(
                &[
                    ("alertname", "HighErrorRate"),
                    ("severity", "warning"),
                    ("service", "api"),
                ],
                &[
                    ("summary", "High error rate on api"),
                    ("description", "5% errors"),
                ],
                i64::MAX,
            ),
            alert(
                &[
                    ("alertname", "HighErrorRate"),
                    ("severity", "warning"),
                    ("service", "api"),
                    ("instance", "b"),
                ],
                &[
                    ("summary", "High error rate on api"),
                    ("description", "7% errors"),
                ],
                10,
            ),
        ];
        let gl: BTreeMap<String, String> = [
            ("alertname".to_string(), "HighErrorRate".to_string()),
            ("service".to_string(), "api".to_string()),
        ]
        .into();
        let d = Data::new("slack", &gl, &alerts, "http://am:9093", 100).value();
        assert_eq!(
            t.render(
                "{{ range .Alerts }}{{ .Annotations.summary }}\\n{{ .Annotations.description }}{{ end }}",
                &d
            )
            .unwrap(),
            "High error rate on api\\n5% errorsHigh error rate on api\\n7% errors"
        );
        assert!(t
            .render(
                "{{ .GroupLabels.alertname }}: {{ .Annotations.summary }}",
                &d
            )
            .unwrap_err()
            .contains("Annotations"));
        assert_eq!(
            t.render(r#"{{ template "slack.default.title" . }}"#, &d)
                .unwrap(),
            "[FIRING:1] HighErrorRate api (warning)"
        );
        assert_eq!(
            t.render(r#"{{ template "slack.default.titlelink" . }}"#, &d)
                .unwrap(),
            "http://am:9093/#/alerts?receiver=slack"
        );
        let inst = t
            .render(
                r#"{{ template "pagerduty.default.instances" .Alerts.Firing }}"#,
                &d,
            )
            .unwrap();
        assert!(
            inst.starts_with("Labels:\n - alertname = HighErrorRate\n"),
            "{inst}"
        );
        assert!(inst.contains("Source: http://prom/graph\n"));
        assert_eq!(t.render("{{ .Alerts.Resolved | len }}", &d).unwrap(), "1");
        assert_eq!(
            t.render("{{ range .Alerts.Firing }}{{ .StartsAt }}|{{ .StartsAt.Format \"2006-01-02\" }}|{{ .EndsAt.IsZero }}{{ end }}", &d)
                .unwrap(),
            "1970-01-01 00:00:00 +0000 UTC|1970-01-01|true"
        );
        assert_eq!(
            t.render("{{ .CommonLabels.Names | join \",\" }}", &d)
                .unwrap(),
            "alertname,service,severity"
        );
        let html = t
            .render(r#"{{ template "email.default.html" . }}"#, &d)
            .unwrap();
        assert!(html.contains("[1] Firing"));
    }
}
