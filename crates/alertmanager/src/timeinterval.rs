//! Alertmanager's `time_intervals`: times of day, weekdays, days of month (negative counts from
//! the month's end), months and years, each a list of inclusive ranges; an instant is inside an
//! interval when every listed field contains it. `location` is `UTC`, `Local` or an IANA zone
//! name read from the system's zoneinfo files (`$ZONEINFO` or `/usr/share/zoneinfo`, TZif format).

use chrono::{DateTime, Datelike, FixedOffset, Local, Offset, TimeZone, Timelike, Utc};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct TimeRangeRaw {
    pub start_time: String,
    pub end_time: String,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct TimeIntervalRaw {
    #[serde(default)]
    pub times: Vec<TimeRangeRaw>,
    #[serde(default)]
    pub weekdays: Vec<String>,
    #[serde(default)]
    pub days_of_month: Vec<String>,
    #[serde(default)]
    pub months: Vec<String>,
    #[serde(default)]
    pub years: Vec<String>,
    #[serde(default)]
    pub location: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
enum Loc {
    Utc,
    Local,
    Zone(std::sync::Arc<Zone>),
}

/// A time zone from a TZif file: UTC offsets in effect from each transition on.
#[derive(Debug, PartialEq)]
pub struct Zone {
    name: String,
    /// (transition time in Unix seconds, UTC offset in seconds), sorted.
    transitions: Vec<(i64, i32)>,
    /// Offset before the first transition.
    initial: i32,
}

impl Zone {
    /// Loads `name` (e.g. `Europe/Berlin`) from the zoneinfo directory.
    pub fn load(name: &str) -> Result<Zone, String> {
        if name.contains("..") || name.starts_with('/') {
            return Err(format!("invalid time zone name {name:?}"));
        }
        let dir = std::env::var("ZONEINFO").unwrap_or_else(|_| "/usr/share/zoneinfo".into());
        let path = std::path::Path::new(&dir).join(name);
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("unknown time zone {name:?} ({}: {e})", path.display()))?;
        Zone::parse(name, &bytes).map_err(|e| format!("time zone {name:?}: {e}"))
    }

    /// Parses TZif (versions 1-4; the 64-bit block when present).
    pub fn parse(name: &str, b: &[u8]) -> Result<Zone, String> {
        fn header(b: &[u8], at: usize) -> Result<(u8, [usize; 6]), String> {
            let h = b.get(at..at + 44).ok_or("truncated TZif header")?;
            if &h[..4] != b"TZif" {
                return Err("not a TZif file".into());
            }
            let mut c = [0usize; 6];
            for (i, v) in c.iter_mut().enumerate() {
                let o = 20 + i * 4;
                *v = u32::from_be_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]) as usize;
            }
            Ok((h[4], c))
        }
        let (version, c) = header(b, 0)?;
        let [isut, isstd, leap, timecnt, typecnt, charcnt] = c;
        let v1_len = timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
        let (start, c, tsize) = if version >= b'2' {
            let (_, c2) = header(b, 44 + v1_len)?;
            (44 + v1_len + 44, c2, 8)
        } else {
            (44, c, 4)
        };
        let [_, _, _, timecnt, typecnt, _] = c;
        let times = b
            .get(start..start + timecnt * tsize)
            .ok_or("truncated transition times")?;
        let idx_at = start + timecnt * tsize;
        let idx = b.get(idx_at..idx_at + timecnt).ok_or("truncated indices")?;
        let types_at = idx_at + timecnt;
        let types = b
            .get(types_at..types_at + typecnt * 6)
            .ok_or("truncated types")?;
        if typecnt == 0 {
            return Err("no local time types".into());
        }
        let offset = |i: usize| -> Result<i32, String> {
            let t = types.get(i * 6..i * 6 + 4).ok_or("bad type index")?;
            Ok(i32::from_be_bytes([t[0], t[1], t[2], t[3]]))
        };
        let mut transitions = Vec::with_capacity(timecnt);
        for i in 0..timecnt {
            let t = if tsize == 8 {
                let x = &times[i * 8..i * 8 + 8];
                i64::from_be_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]])
            } else {
                let x = &times[i * 4..i * 4 + 4];
                i32::from_be_bytes([x[0], x[1], x[2], x[3]]) as i64
            };
            transitions.push((t, offset(idx[i] as usize)?));
        }
        Ok(Zone {
            name: name.to_string(),
            transitions,
            initial: offset(0)?,
        })
    }

    /// UTC offset in seconds at Unix time `t` (seconds).
    pub fn offset_at(&self, t: i64) -> i32 {
        match self.transitions.partition_point(|(at, _)| *at <= t) {
            0 => self.initial,
            n => self.transitions[n - 1].1,
        }
    }
}

/// One parsed interval.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeInterval {
    /// Minute-of-day ranges, [start, end).
    times: Vec<(u32, u32)>,
    /// Weekday ranges, 0 = Sunday, inclusive.
    weekdays: Vec<(i64, i64)>,
    days_of_month: Vec<(i64, i64)>,
    months: Vec<(i64, i64)>,
    years: Vec<(i64, i64)>,
    location: Loc,
}

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn parse_ranges(
    items: &[String],
    what: &str,
    one: impl Fn(&str) -> Result<i64, String>,
    check: impl Fn(i64, i64) -> Result<(), String>,
) -> Result<Vec<(i64, i64)>, String> {
    let mut out = Vec::new();
    for it in items {
        let (a, b) = match it.split_once(':') {
            Some((a, b)) => (one(a.trim())?, one(b.trim())?),
            None => {
                let v = one(it.trim())?;
                (v, v)
            }
        };
        check(a, b).map_err(|e| format!("{what} {it:?}: {e}"))?;
        out.push((a, b));
    }
    Ok(out)
}

fn parse_hhmm(s: &str) -> Result<u32, String> {
    let (h, m) = s
        .split_once(':')
        .ok_or_else(|| format!("invalid time of day {s:?} (want HH:MM)"))?;
    let h: u32 = h
        .parse()
        .map_err(|_| format!("invalid time of day {s:?}"))?;
    let m: u32 = m
        .parse()
        .map_err(|_| format!("invalid time of day {s:?}"))?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(format!("invalid time of day {s:?}"));
    }
    Ok(h * 60 + m)
}

impl TimeInterval {
    pub fn from_raw(r: &TimeIntervalRaw) -> Result<Self, String> {
        let mut times = Vec::new();
        for t in &r.times {
            let s = parse_hhmm(&t.start_time)?;
            let e = parse_hhmm(&t.end_time)?;
            if s >= e {
                return Err(format!(
                    "start_time {:?} must be before end_time {:?}",
                    t.start_time, t.end_time
                ));
            }
            times.push((s, e));
        }
        let weekdays = parse_ranges(
            &r.weekdays,
            "weekday",
            |s| {
                WEEKDAYS
                    .iter()
                    .position(|d| d.eq_ignore_ascii_case(s))
                    .map(|p| p as i64)
                    .ok_or_else(|| format!("{s:?} is not a valid weekday"))
            },
            |a, b| {
                if a > b {
                    Err("start day cannot be after end day".into())
                } else {
                    Ok(())
                }
            },
        )?;
        let days_of_month = parse_ranges(
            &r.days_of_month,
            "day of month",
            |s| {
                s.parse::<i64>()
                    .map_err(|_| format!("{s:?} is not a valid day of month"))
            },
            |a, b| {
                let ok = |v: i64| (1..=31).contains(&v) || (-31..=-1).contains(&v);
                if !ok(a) || !ok(b) {
                    return Err("days of month must be in 1..31 or -31..-1".into());
                }
                if a.signum() == b.signum() && a > b {
                    return Err("start day cannot be after end day".into());
                }
                Ok(())
            },
        )?;
        let months = parse_ranges(
            &r.months,
            "month",
            |s| match MONTHS.iter().position(|m| m.eq_ignore_ascii_case(s)) {
                Some(p) => Ok(p as i64 + 1),
                None => s
                    .parse::<i64>()
                    .ok()
                    .filter(|v| (1..=12).contains(v))
                    .ok_or_else(|| format!("{s:?} is not a valid month")),
            },
            |a, b| {
                if a > b {
                    Err("start month cannot be after end month".into())
                } else {
                    Ok(())
                }
            },
        )?;
        let years = parse_ranges(
            &r.years,
            "year",
            |s| {
                s.parse::<i64>()
                    .map_err(|_| format!("{s:?} is not a valid year"))
            },
            |a, b| {
                if a > b {
                    Err("start year cannot be after end year".into())
                } else {
                    Ok(())
                }
            },
        )?;
        let location = match r.location.as_deref() {
            None | Some("UTC") | Some("") => Loc::Utc,
            Some("Local") => Loc::Local,
            Some(other) => Loc::Zone(std::sync::Arc::new(Zone::load(other)?)),
        };
        Ok(TimeInterval {
            times,
            weekdays,
            days_of_month,
            months,
            years,
            location,
        })
    }

    /// Whether the instant `t` (Unix ms) lies inside this interval.
    pub fn contains(&self, t_ms: i64) -> bool {
        let Some(utc) = Utc.timestamp_millis_opt(t_ms).single() else {
            return false;
        };
        let offset: FixedOffset = match &self.location {
            Loc::Utc => Utc.fix(),
            Loc::Local => Local.offset_from_utc_datetime(&utc.naive_utc()).fix(),
            Loc::Zone(z) => match FixedOffset::east_opt(z.offset_at(utc.timestamp())) {
                Some(o) => o,
                None => Utc.fix(),
            },
        };
        let t: DateTime<FixedOffset> = utc.with_timezone(&offset);
        if !self.times.is_empty() {
            let minute = t.hour() * 60 + t.minute();
            if !self.times.iter().any(|&(s, e)| minute >= s && minute < e) {
                return false;
            }
        }
        if !self.weekdays.is_empty() {
            let wd = t.weekday().num_days_from_sunday() as i64;
            if !self.weekdays.iter().any(|&(a, b)| wd >= a && wd <= b) {
                return false;
            }
        }
        if !self.days_of_month.is_empty() {
            let dim = days_in_month(t.year(), t.month()) as i64;
            let day = t.day() as i64;
            let norm = |v: i64| if v < 0 { dim + v + 1 } else { v };
            if !self
                .days_of_month
                .iter()
                .any(|&(a, b)| day >= norm(a).max(1) && day <= norm(b).min(dim))
            {
                return false;
            }
        }
        if !self.months.is_empty() {
            let m = t.month() as i64;
            if !self.months.iter().any(|&(a, b)| m >= a && m <= b) {
                return false;
            }
        }
        if !self.years.is_empty() {
            let y = t.year() as i64;
            if !self.years.iter().any(|&(a, b)| y >= a && y <= b) {
                return false;
            }
        }
        true
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let first_next = chrono::NaiveDate::from_ymd_opt(ny, nm, 1);
    let first = chrono::NaiveDate::from_ymd_opt(year, month, 1);
    match (first, first_next) {
        (Some(a), Some(b)) => (b - a).num_days() as u32,
        _ => 31,
    }
}

/// Whether `t_ms` lies inside any of `intervals`.
pub fn any_contains(intervals: &[TimeInterval], t_ms: i64) -> bool {
    intervals.iter().any(|i| i.contains(t_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ti(yaml: &str) -> TimeInterval {
        let raw: TimeIntervalRaw = serde_yaml_ng::from_str(yaml).unwrap();
        TimeInterval::from_raw(&raw).unwrap()
    }

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn business_hours() {
        let t =
            ti("times:\n- start_time: '09:00'\n  end_time: '17:00'\nweekdays: ['monday:friday']\n");
        // 2024-01-03 is a Wednesday.
        assert!(t.contains(ms("2024-01-03T09:00:00Z")));
        assert!(!t.contains(ms("2024-01-03T17:00:00Z")));
        assert!(!t.contains(ms("2024-01-06T10:00:00Z")));
    }

    #[test]
    fn negative_days_months_years() {
        let t = ti("days_of_month: ['-1']\nmonths: ['february', '12']\nyears: ['2024:2025']\n");
        assert!(t.contains(ms("2024-02-29T12:00:00Z")));
        assert!(!t.contains(ms("2024-02-28T12:00:00Z")));
        assert!(t.contains(ms("2025-12-31T00:00:00Z")));
        assert!(!t.contains(ms("2026-12-31T00:00:00Z")));
    }

    #[test]
    fn zone_locations() {
        if !std::path::Path::new("/usr/share/zoneinfo/Europe/Berlin").exists() {
            return;
        }
        let t =
            ti("times:\n- start_time: '09:00'\n  end_time: '17:00'\nlocation: 'Europe/Berlin'\n");
        // Winter: CET = UTC+1; 08:30Z is 09:30 in Berlin.
        assert!(t.contains(ms("2024-01-03T08:30:00Z")));
        assert!(!t.contains(ms("2024-01-03T16:30:00Z")));
        // Summer: CEST = UTC+2; 07:30Z is 09:30 in Berlin, 15:30Z is 17:30.
        assert!(t.contains(ms("2024-07-03T07:30:00Z")));
        assert!(!t.contains(ms("2024-07-03T15:30:00Z")));
        let z = Zone::load("America/New_York").unwrap();
        assert_eq!(z.offset_at(ms("2024-01-03T12:00:00Z") / 1000), -5 * 3600);
        assert_eq!(z.offset_at(ms("2024-07-03T12:00:00Z") / 1000), -4 * 3600);
        assert!(Zone::load("../etc/passwd").is_err());
    }

    proptest::proptest! {
        #[test]
        fn tzif_parser_never_panics(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let mut data = b"TZif2".to_vec();
            data.extend(b);
            let _ = Zone::parse("x", &data);
        }
    }

    #[test]
    fn bad_input() {
        for y in [
            "weekdays: ['funday']",
            "times:\n- start_time: '10:00'\n  end_time: '09:00'",
            "days_of_month: ['0']",
            "months: ['13']",
            "location: 'Nowhere/Atlantis'",
        ] {
            let raw: TimeIntervalRaw = serde_yaml_ng::from_str(y).unwrap();
            assert!(TimeInterval::from_raw(&raw).is_err(), "{y}");
        }
    }
}
