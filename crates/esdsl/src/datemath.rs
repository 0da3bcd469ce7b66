//! Dates as Elasticsearch reads them: `strict_date_optional_time` (ISO 8601, optional time and
//! zone), epoch milliseconds, named and Java-pattern `format`s, and date math (`now-1h`,
//! `now-5m/m`, `2024-01-01||+1M/d`) with ES' rounding rules for range bounds.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

/// How a rounded bound is resolved: ES rounds `gt`/`lte` up (to the last ms of the unit) and
/// `gte`/`lt` down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    Down,
    Up,
}

/// Parses a date value in ms since the epoch. `format` is an ES format list (`a||b`), or the
/// default `strict_date_optional_time||epoch_millis`.
pub fn parse_date(s: &str, format: Option<&str>) -> Result<i64, String> {
    let s = s.trim();
    let formats: Vec<&str> = match format {
        Some(f) => f.split("||").map(str::trim).collect(),
        None => vec!["strict_date_optional_time", "epoch_millis"],
    };
    for f in formats {
        if let Some(ms) = parse_with(s, f) {
            return Ok(ms);
        }
    }
    Err(format!(
        "failed to parse date field [{s}] with format [{}]",
        format.unwrap_or("strict_date_optional_time||epoch_millis")
    ))
}

fn parse_with(s: &str, format: &str) -> Option<i64> {
    match format {
        "epoch_millis" => s.parse::<f64>().ok().map(|v| v as i64),
        "epoch_second" => s.parse::<f64>().ok().map(|v| (v * 1000.0) as i64),
        "strict_date_optional_time"
        | "date_optional_time"
        | "strict_date_time"
        | "date_time"
        | "iso8601" => parse_iso(s),
        "strict_date" | "date" | "yyyy-MM-dd" => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc().timestamp_millis()),
        java => {
            let pattern = java_to_strftime(java);
            if let Ok(dt) = DateTime::parse_from_str(s, &pattern) {
                return Some(dt.timestamp_millis());
            }
            if let Ok(dt) = NaiveDateTime::parse_from_str(s, &pattern) {
                return Some(dt.and_utc().timestamp_millis());
            }
            NaiveDate::parse_from_str(s, &pattern)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc().timestamp_millis())
        }
    }
}

/// ISO 8601 with optional time, fraction and zone (`2024-01-01`, `2024-01-01T10:00`,
/// `2024-01-01T10:00:00.123Z`, `2024-01-01 10:00:00+02:00`).
pub fn parse_iso(s: &str) -> Option<i64> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp_millis());
    }
    let t = s.replacen(' ', "T", 1);
    if let Ok(d) = DateTime::parse_from_rfc3339(&t) {
        return Some(d.timestamp_millis());
    }
    for p in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%:z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(&t, p) {
            return Some(d.timestamp_millis());
        }
    }
    let naive = t.trim_end_matches('Z');
    for p in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(naive, p) {
            return Some(d.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(naive, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|x| x.and_utc().timestamp_millis());
    }
    if naive.len() == 7 {
        if let Ok(d) = NaiveDate::parse_from_str(&format!("{naive}-01"), "%Y-%m-%d") {
            return d
                .and_hms_opt(0, 0, 0)
                .map(|x| x.and_utc().timestamp_millis());
        }
    }
    if naive.len() == 4 && naive.chars().all(|c| c.is_ascii_digit()) {
        let y: i32 = naive.parse().ok()?;
        return Utc
            .with_ymd_and_hms(y, 1, 1, 0, 0, 0)
            .single()
            .map(|d| d.timestamp_millis());
    }
    None
}

/// Converts a Java DateTimeFormatter pattern (`yyyy-MM-dd HH:mm:ss.SSS`) to strftime.
pub fn java_to_strftime(p: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let piece = match (c, n) {
            ('y' | 'u', 2) => "%y".to_string(),
            ('y' | 'u', _) => "%Y".to_string(),
            ('M', 1 | 2) => "%m".to_string(),
            ('M', 3) => "%b".to_string(),
            ('M', _) => "%B".to_string(),
            ('d', _) => "%d".to_string(),
            ('H', _) => "%H".to_string(),
            ('h', _) => "%I".to_string(),
            ('m', _) => "%M".to_string(),
            ('s', _) => "%S".to_string(),
            ('S', _) => "%3f".to_string(),
            ('a', _) => "%p".to_string(),
            ('X' | 'Z' | 'x', _) => "%:z".to_string(),
            ('E', 1..=3) => "%a".to_string(),
            ('E', _) => "%A".to_string(),
            ('\'', _) => String::new(),
            (other, k) => std::iter::repeat_n(other, k).collect(),
        };
        out.push_str(&piece);
        i += n;
    }
    out
}

/// Evaluates a date-math expression (`now-1h/d`, `2024-01-01||+1M`) or a plain date.
pub fn eval(expr: &str, now_ms: i64, format: Option<&str>, round: Round) -> Result<i64, String> {
    let expr = expr.trim();
    let (anchor, math) = if let Some(rest) = expr.strip_prefix("now") {
        (now_ms, rest)
    } else if let Some(pos) = expr.find("||") {
        (parse_date(&expr[..pos], format)?, &expr[pos + 2..])
    } else {
        return parse_date(expr, format);
    };
    apply_math(anchor, math, round).map_err(|e| format!("failed to parse date math [{expr}]: {e}"))
}

fn apply_math(anchor: i64, math: &str, round: Round) -> Result<i64, String> {
    let mut t = Utc
        .timestamp_millis_opt(anchor)
        .single()
        .ok_or("timestamp out of range")?;
    let b = math.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let op = b[i] as char;
        i += 1;
        match op {
            '+' | '-' => {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let n: i64 = if start == i {
                    1
                } else {
                    math[start..i].parse().map_err(|_| "bad number")?
                };
                let unit = *b.get(i).ok_or("missing unit")? as char;
                i += 1;
                let n = if op == '-' { -n } else { n };
                t = add(t, n, unit)?;
            }
            '/' => {
                let unit = *b.get(i).ok_or("missing rounding unit")? as char;
                i += 1;
                t = round_to(t, unit, round)?;
            }
            c => return Err(format!("operator not supported [{c}]")),
        }
    }
    Ok(t.timestamp_millis())
}

fn add(t: DateTime<Utc>, n: i64, unit: char) -> Result<DateTime<Utc>, String> {
    let d = match unit {
        's' => Duration::seconds(n),
        'm' => Duration::minutes(n),
        'h' | 'H' => Duration::hours(n),
        'd' => Duration::days(n),
        'w' => Duration::weeks(n),
        'M' | 'y' => {
            let months = if unit == 'y' { n * 12 } else { n };
            let total = t.year() as i64 * 12 + t.month0() as i64 + months;
            let (y, m0) = (total.div_euclid(12) as i32, total.rem_euclid(12) as u32);
            let mut day = t.day();
            loop {
                if let Some(nd) = NaiveDate::from_ymd_opt(y, m0 + 1, day) {
                    return Ok(nd.and_time(t.time()).and_utc());
                }
                if day <= 28 {
                    return Err("date out of range".into());
                }
                day -= 1;
            }
        }
        u => return Err(format!("unit [{u}] not supported for date math")),
    };
    t.checked_add_signed(d)
        .ok_or_else(|| "date out of range".into())
}

/// Start (or, for `Round::Up`, last millisecond) of the calendar unit containing `t`.
pub fn round_to(t: DateTime<Utc>, unit: char, round: Round) -> Result<DateTime<Utc>, String> {
    let d = t.date_naive();
    let start = match unit {
        's' => t.with_nanosecond(0).ok_or("bad date")?,
        'm' => t
            .with_second(0)
            .and_then(|x| x.with_nanosecond(0))
            .ok_or("bad date")?,
        'h' | 'H' => t
            .with_minute(0)
            .and_then(|x| x.with_second(0))
            .and_then(|x| x.with_nanosecond(0))
            .ok_or("bad date")?,
        'd' => d.and_hms_opt(0, 0, 0).ok_or("bad date")?.and_utc(),
        'w' => {
            let back = d.weekday().num_days_from_monday() as i64;
            (d - Duration::days(back))
                .and_hms_opt(0, 0, 0)
                .ok_or("bad date")?
                .and_utc()
        }
        'M' => NaiveDate::from_ymd_opt(d.year(), d.month(), 1)
            .and_then(|x| x.and_hms_opt(0, 0, 0))
            .ok_or("bad date")?
            .and_utc(),
        'y' => NaiveDate::from_ymd_opt(d.year(), 1, 1)
            .and_then(|x| x.and_hms_opt(0, 0, 0))
            .ok_or("bad date")?
            .and_utc(),
        u => return Err(format!("unit [{u}] not supported for rounding")),
    };
    match round {
        Round::Down => Ok(start),
        Round::Up => {
            let next = match unit {
                'M' | 'y' => add(start, 1, unit)?,
                'w' => start + Duration::weeks(1),
                'd' => start + Duration::days(1),
                'h' | 'H' => start + Duration::hours(1),
                'm' => start + Duration::minutes(1),
                _ => start + Duration::seconds(1),
            };
            Ok(next - Duration::milliseconds(1))
        }
    }
}

/// ES' default output for date keys: `2024-01-01T00:05:00.000Z`.
pub fn format_iso(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(d) => d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

/// Formats `ms` with an ES format (`epoch_millis`, `yyyy-MM-dd`, ...) for `key_as_string`.
pub fn format_with(ms: i64, format: Option<&str>) -> String {
    let f = format.and_then(|f| f.split("||").next()).unwrap_or("");
    match f {
        ""
        | "strict_date_optional_time"
        | "date_optional_time"
        | "strict_date_time"
        | "date_time" => format_iso(ms),
        "epoch_millis" => ms.to_string(),
        "epoch_second" => (ms.div_euclid(1000)).to_string(),
        java => match Utc.timestamp_millis_opt(ms).single() {
            Some(d) => d.format(&java_to_strftime(java)).to_string(),
            None => ms.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_704_110_723_456; // 2024-01-01T12:05:23.456Z

    #[test]
    fn plain_dates() {
        assert_eq!(
            parse_date("2024-01-01T00:00:00Z", None),
            Ok(1_704_067_200_000)
        );
        assert_eq!(parse_date("2024-01-01", None), Ok(1_704_067_200_000));
        assert_eq!(
            parse_date("2024-01-01T01:00:00+01:00", None),
            Ok(1_704_067_200_000)
        );
        assert_eq!(parse_date("1704067200000", None), Ok(1_704_067_200_000));
        assert_eq!(
            parse_date("2024-01-01T00:00:00.250Z", None),
            Ok(1_704_067_200_250)
        );
        assert_eq!(
            parse_date("01/01/2024 00:00", Some("dd/MM/yyyy HH:mm")),
            Ok(1_704_067_200_000)
        );
        assert!(parse_date("yesterday", None).is_err());
    }

    #[test]
    fn math_and_rounding() {
        assert_eq!(eval("now", NOW, None, Round::Down), Ok(NOW));
        assert_eq!(eval("now-1h", NOW, None, Round::Down), Ok(NOW - 3_600_000));
        let m = eval("now-5m/m", NOW, None, Round::Down).unwrap();
        assert_eq!(format_iso(m), "2024-01-01T12:00:00.000Z");
        let up = eval("now-5m/m", NOW, None, Round::Up).unwrap();
        assert_eq!(format_iso(up), "2024-01-01T12:00:59.999Z");
        let d = eval("now/d", NOW, None, Round::Down).unwrap();
        assert_eq!(format_iso(d), "2024-01-01T00:00:00.000Z");
        let mo = eval("2024-01-31||+1M", NOW, None, Round::Down).unwrap();
        assert_eq!(format_iso(mo), "2024-02-29T00:00:00.000Z");
        assert!(eval("now-1x", NOW, None, Round::Down).is_err());
        assert!(eval("now*2", NOW, None, Round::Down).is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(
            format_with(1_704_067_200_000, Some("yyyy-MM-dd")),
            "2024-01-01"
        );
        assert_eq!(
            format_with(1_704_067_200_000, Some("epoch_millis")),
            "1704067200000"
        );
    }
}
