//! Prometheus' alert templates: the `$labels`/`$externalLabels`/`$externalURL`/`$value`
//! preamble, `missingkey=zero`, and Prometheus' function set (humanize*, title, toUpper,
//! reReplaceAll, match, query, first, label, value, sortByLabel, graphLink, ...). A template that
//! fails renders `<error expanding template: ...>` as Prometheus does.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::{MissingKey, Object, Template, Value};

/// Runs a PromQL instant query at the template's evaluation time; returns (labels, value) pairs.
pub type QueryFn =
    Arc<dyn Fn(&str) -> Result<Vec<(BTreeMap<String, String>, f64)>, String> + Send + Sync>;

/// The data of one expansion.
#[derive(Clone, Default)]
pub struct TemplateData {
    pub labels: BTreeMap<String, String>,
    pub external_labels: BTreeMap<String, String>,
    pub external_url: String,
    pub value: f64,
}

const PREAMBLE: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// A query result element as templates see it (`.Labels`, `.Value`).
#[derive(Debug)]
struct QSample {
    labels: BTreeMap<String, String>,
    value: f64,
}

impl Object for QSample {
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Labels" => Some(Value::str_map(
                self.labels.iter().map(|(k, v)| (k.clone(), v.clone())),
            )),
            "Value" => Some(Value::Float(self.value)),
            _ => None,
        }
    }
    fn display(&self) -> String {
        format!(
            "{{{} {}}}",
            Value::str_map(self.labels.iter().map(|(k, v)| (k.clone(), v.clone()))),
            gotemplate::fmt::format_float_g(self.value, -1)
        )
    }
}

fn to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(s) => parse_go_float(s).ok_or_else(|| {
            format!(
                "strconv.ParseFloat: parsing {}: invalid syntax",
                gotemplate::fmt::quote(s)
            )
        }),
        other => Err(format!("can't convert {} to float", other.type_name())),
    }
}

fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "Inf" | "+Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

fn arg<'a>(a: &'a [Value], i: usize, fname: &str) -> Result<&'a Value, String> {
    a.get(i).ok_or_else(|| {
        format!(
            "wrong number of args for {fname}: want {} got {}",
            i + 1,
            a.len()
        )
    })
}

fn str_arg(a: &[Value], i: usize, fname: &str) -> Result<String, String> {
    match arg(a, i, fname)? {
        Value::Str(s) => Ok(s.to_string()),
        other => Err(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        )),
    }
}

fn g4(v: f64) -> String {
    gotemplate::fmt::sprintf("%.4g", &[Value::Float(v)])
}

/// Prometheus' `humanize`.
pub fn humanize(v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", g4(v))
}

/// Prometheus' `humanize1024`.
pub fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

/// Prometheus' `humanizeDuration` (seconds in).
pub fn humanize_duration(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let (sign, v) = if v < 0.0 { ("-", -v) } else { ("", v) };
        let d = v as i64;
        let seconds = d % 60;
        let minutes = (d / 60) % 60;
        let hours = (d / 3600) % 24;
        let days = d / 86400;
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", g4(v));
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// Prometheus' `humanizePercentage`.
pub fn humanize_percentage(v: f64) -> String {
    format!("{}%", g4(v * 100.0))
}

/// Go's `time.Time.String()` of a UTC time given in seconds.
pub fn go_time_string(secs: f64) -> String {
    let nanos = (secs * 1e9) as i64;
    let Some(t) = chrono::DateTime::<chrono::Utc>::from_timestamp(
        nanos.div_euclid(1_000_000_000),
        nanos.rem_euclid(1_000_000_000) as u32,
    ) else {
        return g4(secs);
    };
    let mut frac = String::new();
    let ns = nanos.rem_euclid(1_000_000_000);
    if ns != 0 {
        frac = format!(".{ns:09}");
        while frac.ends_with('0') {
            frac.pop();
        }
    }
    format!("{}{frac} +0000 UTC", t.format("%Y-%m-%d %H:%M:%S"))
}

/// Convert Go regexp replacement syntax (`$1`, `${name}`) to the regex crate's (`${1}`).
pub fn go_replacement(repl: &str) -> String {
    // Go: $name takes the longest sequence of letters, digits and underscores.
    let mut out = String::new();
    let b: Vec<char> = repl.chars().collect();
    let mut i = 0;
    while i < b.len() {
        if b[i] == '$' && i + 1 < b.len() {
            if b[i + 1] == '$' {
                out.push_str("$$");
                i += 2;
                continue;
            }
            if b[i + 1] == '{' {
                if let Some(end) = b[i + 2..].iter().position(|c| *c == '}') {
                    let name: String = b[i + 2..i + 2 + end].iter().collect();
                    out.push_str(&format!("${{{name}}}"));
                    i += end + 3;
                    continue;
                }
            }
            let mut j = i + 1;
            while j < b.len() && (b[j].is_alphanumeric() || b[j] == '_') {
                j += 1;
            }
            if j > i + 1 {
                let name: String = b[i + 1..j].iter().collect();
                out.push_str(&format!("${{{name}}}"));
                i = j;
                continue;
            }
            out.push_str("$$");
            i += 1;
            continue;
        }
        if b[i] == '$' {
            out.push_str("$$");
        } else {
            out.push(b[i]);
        }
        i += 1;
    }
    out
}

fn samples_of(v: &Value) -> Result<Vec<Arc<QSample>>, String> {
    let list = v
        .as_list()
        .ok_or_else(|| format!("expected a query result, got {}", v.type_name()))?;
    let mut out = Vec::new();
    for e in list {
        match e {
            Value::Object(o) => {
                let labels = match o.field("Labels") {
                    Some(Value::Map(m)) => m
                        .entries
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_string()))
                        .collect(),
                    _ => BTreeMap::new(),
                };
                let value = match o.field("Value") {
                    Some(Value::Float(f)) => f,
                    _ => f64::NAN,
                };
                out.push(Arc::new(QSample { labels, value }));
            }
            other => return Err(format!("expected a sample, got {}", other.type_name())),
        }
    }
    Ok(out)
}

fn sample_field(v: &Value, f: &str) -> Result<Value, String> {
    match v {
        Value::Object(o) => o
            .field(f)
            .ok_or_else(|| format!("not a sample: no field {f}")),
        Value::Nil => Err("nil sample".into()),
        other => Err(format!("expected a sample, got {}", other.type_name())),
    }
}

/// Register Prometheus' template functions on `t`. `query` runs PromQL (None: query fails).
pub fn register_functions(
    t: &mut Template,
    query: Option<QueryFn>,
    external_url: &str,
    eval_time_s: f64,
) {
    let ext = external_url.to_string();
    let path_prefix = match ext.find("://") {
        Some(p) => {
            let rest = &ext[p + 3..];
            rest.find('/')
                .map(|i| rest[i..].to_string())
                .unwrap_or_default()
        }
        None => String::new(),
    };
    t.func("query", move |a| {
        let q = str_arg(a, 0, "query")?;
        let Some(f) = &query else {
            return Err("query function not available".into());
        };
        let res = f(&q)?;
        Ok(Value::list(
            res.into_iter()
                .map(|(labels, value)| Value::object(QSample { labels, value }))
                .collect(),
        ))
    });
    t.func("first", |a| {
        let s = samples_of(arg(a, 0, "first")?)?;
        s.first()
            .map(|s| Value::Object(s.clone() as Arc<dyn Object>))
            .ok_or_else(|| "first() called on vector with no elements".to_string())
    });
    t.func("label", |a| {
        let name = str_arg(a, 0, "label")?;
        let labels = sample_field(arg(a, 1, "label")?, "Labels")?;
        Ok(labels
            .as_map()
            .and_then(|m| m.get(&name).cloned())
            .unwrap_or_else(|| Value::str("")))
    });
    t.func("value", |a| sample_field(arg(a, 0, "value")?, "Value"));
    t.func("strvalue", |a| {
        let labels = sample_field(arg(a, 0, "strvalue")?, "Labels")?;
        Ok(labels
            .as_map()
            .and_then(|m| m.get("__value__").cloned())
            .unwrap_or_else(|| Value::str("")))
    });
    t.func("sortByLabel", |a| {
        let name = str_arg(a, 0, "sortByLabel")?;
        let mut s = samples_of(arg(a, 1, "sortByLabel")?)?;
        s.sort_by(|x, y| x.labels.get(&name).cmp(&y.labels.get(&name)));
        Ok(Value::list(
            s.into_iter()
                .map(|x| Value::Object(x as Arc<dyn Object>))
                .collect(),
        ))
    });
    t.func("args", |a| {
        Ok(Value::map(
            a.iter()
                .enumerate()
                .map(|(i, v)| (format!("arg{i}"), v.clone()))
                .collect(),
        ))
    });
    t.func("safeHtml", |a| Ok(Value::str(str_arg(a, 0, "safeHtml")?)));
    t.func("match", |a| {
        let re = str_arg(a, 0, "match")?;
        let s = str_arg(a, 1, "match")?;
        let re = regex::Regex::new(&re).map_err(|e| e.to_string())?;
        Ok(Value::Bool(re.is_match(&s)))
    });
    t.func("reReplaceAll", |a| {
        let re = str_arg(a, 0, "reReplaceAll")?;
        let repl = str_arg(a, 1, "reReplaceAll")?;
        let text = str_arg(a, 2, "reReplaceAll")?;
        let re = regex::Regex::new(&re).map_err(|e| e.to_string())?;
        Ok(Value::str(
            re.replace_all(&text, go_replacement(&repl).as_str()),
        ))
    });
    t.func("title", |a| {
        Ok(Value::str(gotemplate::funcs::title(&str_arg(
            a, 0, "title",
        )?)))
    });
    t.func("toUpper", |a| {
        Ok(Value::str(str_arg(a, 0, "toUpper")?.to_uppercase()))
    });
    t.func("toLower", |a| {
        Ok(Value::str(str_arg(a, 0, "toLower")?.to_lowercase()))
    });
    t.func("humanize", |a| {
        Ok(Value::str(humanize(to_float(arg(a, 0, "humanize")?)?)))
    });
    t.func("humanize1024", |a| {
        Ok(Value::str(humanize1024(to_float(arg(
            a,
            0,
            "humanize1024",
        )?)?)))
    });
    t.func("humanizeDuration", |a| {
        Ok(Value::str(humanize_duration(to_float(arg(
            a,
            0,
            "humanizeDuration",
        )?)?)))
    });
    t.func("humanizePercentage", |a| {
        Ok(Value::str(humanize_percentage(to_float(arg(
            a,
            0,
            "humanizePercentage",
        )?)?)))
    });
    t.func("humanizeTimestamp", |a| {
        let v = to_float(arg(a, 0, "humanizeTimestamp")?)?;
        if v.is_nan() || v.is_infinite() {
            return Ok(Value::str(g4(v)));
        }
        Ok(Value::str(go_time_string(v)))
    });
    t.func("toTime", |a| {
        let v = to_float(arg(a, 0, "toTime")?)?;
        if v.is_nan() || v.is_infinite() {
            return Err(format!("cannot convert {} to time.Time", g4(v)));
        }
        Ok(Value::str(go_time_string(v)))
    });
    t.func("parseDuration", |a| {
        let s = str_arg(a, 0, "parseDuration")?;
        let ms = model::time::parse_duration_ms(&s).map_err(|e| e.to_string())?;
        Ok(Value::Float(ms as f64 / 1000.0))
    });
    t.func("now", move |_| Ok(Value::Float(eval_time_s)));
    let e2 = ext.clone();
    t.func("externalURL", move |_| Ok(Value::str(&e2)));
    t.func("pathPrefix", move |_| Ok(Value::str(&path_prefix)));
    t.func("graphLink", |a| {
        Ok(Value::str(format!(
            "/graph?g0.expr={}&g0.tab=0",
            gotemplate::funcs::query_escape(&str_arg(a, 0, "graphLink")?)
        )))
    });
    t.func("tableLink", |a| {
        Ok(Value::str(format!(
            "/graph?g0.expr={}&g0.tab=1",
            gotemplate::funcs::query_escape(&str_arg(a, 0, "tableLink")?)
        )))
    });
    t.func("stripPort", |a| {
        let hp = str_arg(a, 0, "stripPort")?;
        Ok(Value::str(
            split_host_port(&hp).map(|(h, _)| h).unwrap_or(hp),
        ))
    });
    t.func("stripDomain", |a| {
        let hp = str_arg(a, 0, "stripDomain")?;
        if hp.is_empty() {
            return Ok(Value::str(""));
        }
        let (host, port) = split_host_port(&hp).unwrap_or((hp.clone(), String::new()));
        if host.parse::<std::net::IpAddr>().is_ok() {
            return Ok(Value::str(hp));
        }
        let host = host.split('.').next().unwrap_or("").to_string();
        if !port.is_empty() {
            return Ok(Value::str(format!("{host}:{port}")));
        }
        Ok(Value::str(host))
    });
    // tmpl needs the template itself; registered by `expand` after parse is not possible in Go
    // either (it closes over the expander), so it is provided as a no-op-free error here and
    // real support comes from `Template::execute_template`.
    t.func("tmpl", |_| {
        Err("tmpl is only available in console templates".into())
    });
}

fn split_host_port(hp: &str) -> Option<(String, String)> {
    if let Some(rest) = hp.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = &rest[..end];
        let port = rest[end + 1..].strip_prefix(':')?;
        return Some((host.to_string(), port.to_string()));
    }
    let (h, p) = hp.rsplit_once(':')?;
    if h.contains(':') {
        return None;
    }
    Some((h.to_string(), p.to_string()))
}

/// Build a template for `text` under `name` (`__alert_NAME`), with the preamble and functions.
fn build(
    name: &str,
    text: &str,
    query: Option<QueryFn>,
    external_url: &str,
    eval_time_s: f64,
) -> Result<Template, String> {
    let mut t = Template::new(name);
    t.missing_key(MissingKey::Zero);
    register_functions(&mut t, query, external_url, eval_time_s);
    let full = format!("{PREAMBLE}{text}");
    t.parse(&full)
        .map_err(|e| format!("error parsing template {name}: {e}"))?;
    Ok(t)
}

/// Check that an alert's label/annotation template parses (promtool's check).
pub fn check(alert_name: &str, text: &str) -> Result<(), String> {
    let name = format!("__alert_{alert_name}");
    let prefix = format!("error parsing template {name}: ");
    build(&name, text, None, "", 0.0)
        .map(|_| ())
        .map_err(|e| e.strip_prefix(&prefix).map(str::to_string).unwrap_or(e))
}

/// Expand `text` for alert `alert_name`: the result, or Prometheus' error string.
pub fn expand(
    alert_name: &str,
    text: &str,
    data: &TemplateData,
    query: Option<QueryFn>,
    eval_time_s: f64,
) -> String {
    if !text.contains("{{") {
        return text.to_string();
    }
    let name = format!("__alert_{alert_name}");
    let t = match build(&name, text, query, &data.external_url, eval_time_s) {
        Ok(t) => t,
        Err(e) => return format!("<error expanding template: {e}>"),
    };
    let d = Value::map(
        [
            (
                "Labels".to_string(),
                Value::str_map(data.labels.iter().map(|(k, v)| (k.clone(), v.clone()))),
            ),
            (
                "ExternalLabels".to_string(),
                Value::str_map(
                    data.external_labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone())),
                ),
            ),
            ("ExternalURL".to_string(), Value::str(&data.external_url)),
            ("Value".to_string(), Value::Float(data.value)),
        ]
        .into_iter()
        .collect(),
    );
    match t.execute(&d) {
        Ok(s) => s,
        Err(e) => format!("<error expanding template: error executing template {name}: {e}>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(text: &str, value: f64) -> String {
        let data = TemplateData {
            labels: [
                ("route".to_string(), "/api".to_string()),
                ("instance".to_string(), "host.example.com:9100".to_string()),
            ]
            .into_iter()
            .collect(),
            external_labels: [("cluster".to_string(), "eu".to_string())]
                .into_iter()
                .collect(),
            external_url: "http://prom:9090/prefix".into(),
            value,
        };
        expand("A", text, &data, None, 0.0)
    }

    // Expected strings are what Prometheus renders (template_test.go cases and Go fmt).
    #[test]
    fn guide_annotations_render_like_prometheus() {
        assert_eq!(
            ex(
                "Error rate is {{ $value | humanizePercentage }} for {{ $labels.route }}",
                0.0732
            ),
            "Error rate is 7.32% for /api"
        );
        assert_eq!(ex("{{ $value | humanizePercentage }}", 0.123456), "12.35%");
        assert_eq!(ex("{{ $value | humanizePercentage }}", 1.0), "100%");
        assert_eq!(
            ex("95th percentile response time is {{ $value }}s", 2.5),
            "95th percentile response time is 2.5s"
        );
        assert_eq!(ex("{{ $value }}", 1234567.0), "1.234567e+06");
        assert_eq!(ex("{{ $value }}", -12.5), "-12.5");
        assert_eq!(
            ex(
                "{{ .Value }} {{ .Labels.route }} {{ $externalLabels.cluster }} {{ $externalURL }}",
                3.0
            ),
            "3 /api eu http://prom:9090/prefix"
        );
        assert_eq!(ex("[{{ $labels.missing }}]", 0.0), "[]");
    }

    #[test]
    fn humanize_functions_like_prometheus() {
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize(1234567.0), "1.235M");
        assert_eq!(humanize(12.0), "12");
        assert_eq!(humanize(0.00012), "120u");
        assert_eq!(humanize(-1500.0), "-1.5k");
        assert_eq!(humanize(f64::INFINITY), "+Inf");
        assert_eq!(humanize1024(1024.0), "1ki");
        assert_eq!(humanize1024(1048576.0 * 3.0), "3Mi");
        assert_eq!(humanize1024(0.5), "0.5");
        assert_eq!(humanize_duration(0.0), "0s");
        assert_eq!(humanize_duration(1.0), "1s");
        assert_eq!(humanize_duration(60.0), "1m 0s");
        assert_eq!(humanize_duration(3600.0), "1h 0m 0s");
        assert_eq!(humanize_duration(90061.0), "1d 1h 1m 1s");
        assert_eq!(humanize_duration(-60.0), "-1m 0s");
        assert_eq!(humanize_duration(0.1), "100ms");
        assert_eq!(humanize_duration(0.000_001), "1us");
        assert_eq!(humanize_duration(1.2345), "1.234s");
        assert_eq!(humanize_percentage(0.5), "50%");
        assert_eq!(humanize_percentage(0.0001234), "0.01234%");
        assert_eq!(
            go_time_string(1_435_065_584.128),
            "2015-06-23 13:19:44.128 +0000 UTC"
        );
        assert_eq!(go_time_string(0.0), "1970-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn string_functions() {
        assert_eq!(ex("{{ \"aa bb CC\" | title }}", 0.0), "Aa Bb CC");
        assert_eq!(
            ex("{{ toUpper \"aBc\" }} {{ toLower \"aBc\" }}", 0.0),
            "ABC abc"
        );
        assert_eq!(
            ex("{{ reReplaceAll \"(a)b\" \"x$1\" \"abab\" }}", 0.0),
            "xaxa"
        );
        assert_eq!(ex("{{ match \"^/a\" $labels.route }}", 0.0), "true");
        assert_eq!(
            ex("{{ $labels.instance | stripPort }}", 0.0),
            "host.example.com"
        );
        assert_eq!(ex("{{ $labels.instance | stripDomain }}", 0.0), "host:9100");
        assert_eq!(
            ex("{{ graphLink \"up == 0\" }}", 0.0),
            "/graph?g0.expr=up+%3D%3D+0&g0.tab=0"
        );
        assert_eq!(ex("{{ pathPrefix }}", 0.0), "/prefix");
        assert_eq!(ex("{{ parseDuration \"1m30s\" }}", 0.0), "90");
        assert_eq!(ex("{{ humanize \"1000\" }}", 0.0), "1k");
        assert_eq!(
            ex("{{ 1435065584.128 | humanizeTimestamp }}", 0.0),
            "2015-06-23 13:19:44.128 +0000 UTC"
        );
    }

    #[test]
    fn errors_render_inline() {
        let s = ex("{{ humanize \"x\" }}", 0.0);
        assert!(s.starts_with("<error expanding template: error executing template __alert_A: template: __alert_A:1:"), "{s}");
        assert!(
            s.contains("error calling humanize: strconv.ParseFloat: parsing \"x\": invalid syntax"),
            "{s}"
        );
        let s = ex("{{ nope }}", 0.0);
        assert_eq!(s, "<error expanding template: error parsing template __alert_A: template: __alert_A:1: function \"nope\" not defined>");
        assert!(check("A", "{{ if }}").is_err());
        assert!(check("A", "{{ $value | humanizePercentage }}").is_ok());
    }

    #[test]
    fn query_functions() {
        let q: QueryFn = Arc::new(|q: &str| {
            assert_eq!(q, "up");
            Ok(vec![
                (
                    [("instance".to_string(), "b".to_string())]
                        .into_iter()
                        .collect(),
                    0.0,
                ),
                (
                    [("instance".to_string(), "a".to_string())]
                        .into_iter()
                        .collect(),
                    1.0,
                ),
            ])
        });
        let data = TemplateData::default();
        let out = expand(
            "A",
            "{{ range query \"up\" | sortByLabel \"instance\" }}{{ .Labels.instance }}={{ .Value }};{{ end }}{{ with query \"up\" }}{{ . | first | label \"instance\" }} {{ . | first | value }}{{ end }}",
            &data,
            Some(q),
            0.0,
        );
        assert_eq!(out, "a=1;b=0;b 0");
    }
}
