//! OTLP → Prometheus names, as Prometheus 3 builds them (github.com/prometheus/otlptranslator):
//! metric names with unit and type suffixes (`_seconds`, `_bytes`, `_per_second`, `_total`,
//! `_ratio`), escaped to `[a-zA-Z0-9_:]` or kept UTF-8 per the translation strategy; label
//! names sanitized the same way; the unit string for metadata.

use config::otlp::TranslationStrategy;

/// The OTLP metric kinds that change a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Gauge,
    MonotonicCounter,
    NonMonotonicCounter,
    Histogram,
    ExponentialHistogram,
    Summary,
}

fn unit_word(unit: &str) -> &str {
    match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        other => other,
    }
}

fn per_unit_word(unit: &str) -> &str {
    match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

/// (main unit suffix, `per_<unit>` suffix) of an OTLP unit; `{annotations}` are dropped.
fn unit_suffixes(unit: &str) -> (String, String) {
    let mut parts = unit.splitn(2, '/');
    let main = parts.next().unwrap_or("").trim();
    let mut main_suffix = String::new();
    if !main.is_empty() && !main.contains(['{', '}']) {
        main_suffix = unit_word(main).to_string();
    }
    let mut per_suffix = String::new();
    if let Some(per) = parts.next().filter(|p| !p.is_empty()) {
        let per = per.trim();
        if !per.is_empty() && !per.contains(['{', '}']) {
            per_suffix = per_unit_word(per).to_string();
        }
        if !per_suffix.is_empty() {
            per_suffix = format!("per_{per_suffix}");
        }
    }
    (main_suffix, per_suffix)
}

fn valid_metric_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ':'
}

fn collapse_underscores(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev = false;
    for c in s.chars() {
        if c == '_' {
            if !prev {
                out.push('_');
            }
            prev = true;
        } else {
            out.push(c);
            prev = false;
        }
    }
    out
}

fn clean_up_unit(unit: &str) -> String {
    let mapped: String = unit
        .chars()
        .map(|c| if valid_metric_char(c) { c } else { '_' })
        .collect();
    collapse_underscores(&mapped)
        .trim_start_matches('_')
        .to_string()
}

fn trim_suffix_and_delimiter(name: &str, suffix: &str) -> String {
    if name.ends_with(suffix) && name.len() > suffix.len() + 1 {
        name[..name.len() - suffix.len() - 1].to_string()
    } else {
        name.to_string()
    }
}

/// Prometheus' `normalizeName`: tokens of valid characters, unit tokens, `_total`/`_ratio`.
fn normalize_name(name: &str, unit: &str, t: MetricType) -> String {
    let mut tokens: Vec<String> = name
        .split(|c: char| !valid_metric_char(c))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let (main, per) = unit_suffixes(unit);
    let mut main = clean_up_unit(&main);
    let per = clean_up_unit(&per);
    if tokens.contains(&main) {
        main.clear();
    }
    let per = if per == "per_" {
        String::new()
    } else {
        let p = per.trim_end_matches('_').to_string();
        if tokens.contains(&p) {
            String::new()
        } else {
            p
        }
    };
    if !per.is_empty() {
        main = main.trim_end_matches('_').to_string();
    }
    if !main.is_empty() {
        tokens.push(main);
    }
    if !per.is_empty() {
        tokens.push(per);
    }
    if t == MetricType::MonotonicCounter {
        tokens.retain(|t| t != "total");
        tokens.push("total".into());
    }
    if unit == "1" && t == MetricType::Gauge {
        tokens.retain(|t| t != "ratio");
        tokens.push("ratio".into());
    }
    let mut out = tokens.join("_");
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Prometheus' `buildMetricName` (UTF-8 allowed): suffixes appended, nothing escaped.
fn utf8_name(name: &str, unit: &str, t: MetricType, suffixes: bool) -> String {
    let mut name = name.to_string();
    if !suffixes {
        return name;
    }
    let ratio = unit == "1" && t == MetricType::Gauge;
    if ratio {
        name = trim_suffix_and_delimiter(&name, "ratio");
    }
    let total = t == MetricType::MonotonicCounter;
    if total {
        name = trim_suffix_and_delimiter(&name, "total");
    }
    let (main, per) = unit_suffixes(unit);
    if !per.is_empty() {
        name = trim_suffix_and_delimiter(&name, &per);
    }
    if !main.is_empty() && !name.ends_with(&main) {
        name = format!("{name}_{main}");
    }
    if !per.is_empty() {
        name = format!("{name}_{per}");
    }
    if total {
        name.push_str("_total");
    }
    if ratio {
        name.push_str("_ratio");
    }
    name
}

/// The Prometheus metric family name of an OTLP metric, or an error naming it when the result
/// would be empty or only underscores.
pub fn metric_name(
    name: &str,
    unit: &str,
    t: MetricType,
    strategy: TranslationStrategy,
) -> Result<String, String> {
    let suffixes = strategy.should_add_suffixes();
    if !strategy.should_escape() {
        let n = utf8_name(name, unit, t, suffixes);
        if n.is_empty() {
            return Err(format!(
                "normalization for metric {name:?} resulted in empty name"
            ));
        }
        return Ok(n);
    }
    let out = if suffixes {
        normalize_name(name, unit, t)
    } else {
        let mut n = name
            .split(|c: char| !valid_metric_char(c) && c != '_')
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("_");
        if n.starts_with(|c: char| c.is_ascii_digit()) {
            n.insert(0, '_');
        }
        n
    };
    if out.is_empty() {
        return Err(format!(
            "normalization for metric {name:?} resulted in empty name"
        ));
    }
    if out != name && out.chars().all(|c| c == '_') {
        return Err(format!(
            "normalization for metric {name:?} resulted in invalid name {out:?}"
        ));
    }
    Ok(out)
}

/// The metadata unit of an OTLP unit (Prometheus' `UnitNamer` without UTF-8).
pub fn unit_name(unit: &str) -> String {
    let (main, per) = unit_suffixes(unit);
    let (main, per) = (clean_up_unit(&main), clean_up_unit(&per));
    let u = match (main.is_empty(), per.is_empty()) {
        (false, false) => format!("{main}_{per}"),
        (false, true) => main,
        _ => per,
    };
    u.trim_start_matches('_').trim_end_matches('_').to_string()
}

/// Label-name rules of the translation (Prometheus' `LabelNamer`).
#[derive(Clone, Copy, Debug)]
pub struct LabelNamer {
    pub utf8: bool,
    pub underscore_sanitization: bool,
    pub preserve_multiple_underscores: bool,
}

fn valid_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

impl LabelNamer {
    /// The Prometheus label name of an attribute key.
    pub fn build(&self, label: &str) -> Result<String, String> {
        if label.is_empty() {
            return Err("label name is empty".into());
        }
        let only_underscores = |s: &str| s.chars().all(|c| c == '_');
        if self.utf8 {
            if only_underscores(label) {
                return Err(format!("label name {label:?} contains only underscores"));
            }
            return Ok(label.to_string());
        }
        let mut out = String::with_capacity(label.len() + 4);
        let reserved = !self.preserve_multiple_underscores
            && label.len() >= 4
            && label.starts_with("__")
            && label.ends_with("__");
        let body = if reserved {
            &label[2..label.len() - 2]
        } else {
            label
        };
        if reserved {
            out.push_str("__");
        }
        let mut prev_underscore = false;
        for c in body.chars() {
            if valid_label_char(c) {
                out.push(c);
                prev_underscore = false;
            } else if self.preserve_multiple_underscores || !prev_underscore {
                out.push('_');
                prev_underscore = true;
            }
        }
        if reserved {
            out.push_str("__");
        }
        if out.starts_with(|c: char| c.is_ascii_digit()) {
            out.insert_str(0, "key_");
        } else if self.underscore_sanitization && out.starts_with('_') && !out.starts_with("__") {
            out.insert_str(0, "key");
        }
        if only_underscores(&out) {
            return Err(format!(
                "normalization for label name {label:?} resulted in invalid name {out:?}"
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MetricType::*;
    use TranslationStrategy::*;

    fn n(name: &str, unit: &str, t: MetricType) -> String {
        metric_name(name, unit, t, UnderscoreEscapingWithSuffixes).unwrap()
    }

    #[test]
    fn suffixes_like_prometheus() {
        // A unit word already among the name's tokens is not repeated (`bytes.rate` in By/s).
        assert_eq!(
            n("system.filesystem.usage", "By", Gauge),
            "system_filesystem_usage_bytes"
        );
        assert_eq!(
            n("http.server.duration", "s", Histogram),
            "http_server_duration_seconds"
        );
        assert_eq!(
            n("http.server.requests", "{request}", MonotonicCounter),
            "http_server_requests_total"
        );
        assert_eq!(n("requests_total", "1", MonotonicCounter), "requests_total");
        assert_eq!(n("cpu.utilization", "1", Gauge), "cpu_utilization_ratio");
        assert_eq!(n("bytes.rate", "By/s", Gauge), "bytes_rate_per_second");
        assert_eq!(n("foo", "m/s", Gauge), "foo_meters_per_second");
        assert_eq!(n("duration_seconds", "s", Histogram), "duration_seconds");
        assert_eq!(n("1st.metric", "", Gauge), "_1st_metric");
        assert_eq!(n("temp", "Cel", Gauge), "temp_celsius");
        assert_eq!(
            n("disk_io", "MiBy", NonMonotonicCounter),
            "disk_io_mebibytes"
        );
        assert_eq!(n("q", "%", Gauge), "q_percent");
    }

    #[test]
    fn strategies() {
        let m = |s| metric_name("http.server.duration", "ms", Histogram, s).unwrap();
        assert_eq!(
            m(UnderscoreEscapingWithSuffixes),
            "http_server_duration_milliseconds"
        );
        assert_eq!(m(UnderscoreEscapingWithoutSuffixes), "http_server_duration");
        assert_eq!(
            m(NoUTF8EscapingWithSuffixes),
            "http.server.duration_milliseconds"
        );
        assert_eq!(m(NoTranslation), "http.server.duration");
        let c = |s| metric_name("req.count", "1", MonotonicCounter, s).unwrap();
        assert_eq!(c(NoUTF8EscapingWithSuffixes), "req.count_total");
        assert!(metric_name("...", "", Gauge, UnderscoreEscapingWithSuffixes).is_err());
    }

    #[test]
    fn units_and_labels() {
        assert_eq!(unit_name("By/s"), "bytes_per_second");
        assert_eq!(unit_name("{request}"), "");
        assert_eq!(unit_name("ms"), "milliseconds");
        let l = LabelNamer {
            utf8: false,
            underscore_sanitization: true,
            preserve_multiple_underscores: true,
        };
        assert_eq!(l.build("http.method").unwrap(), "http_method");
        assert_eq!(l.build("0abc").unwrap(), "key_0abc");
        assert_eq!(l.build("_private").unwrap(), "key_private");
        assert_eq!(l.build("__name__").unwrap(), "__name__");
        assert_eq!(l.build("a..b").unwrap(), "a__b");
        assert!(l.build("...").is_err());
        let collapse = LabelNamer {
            preserve_multiple_underscores: false,
            ..l
        };
        assert_eq!(collapse.build("a..b").unwrap(), "a_b");
        let utf8 = LabelNamer { utf8: true, ..l };
        assert_eq!(utf8.build("http.method").unwrap(), "http.method");
    }
}
