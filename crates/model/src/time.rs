//! Prometheus duration and timestamp notation: `1h30m`, `5m`, `1d`, `1w`, `1y`, `250ms`;
//! API timestamps as RFC 3339 or Unix seconds with fractions.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimeParseError(pub String);

/// Parses a Prometheus duration into milliseconds. Units must appear largest first, each once.
pub fn parse_duration_ms(s: &str) -> Result<i64, TimeParseError> {
    let err = || TimeParseError(format!("not a valid duration string: {s:?}"));
    if s.is_empty() {
        return Err(err());
    }
    if s == "0" {
        return Ok(0);
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    let mut last_unit = None::<usize>;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(err());
        }
        let n: i64 = s[start..i].parse().map_err(|_| err())?;
        let ustart = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[ustart..i];
        let idx = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(err)?;
        if last_unit.is_some_and(|l| idx <= l) {
            return Err(err());
        }
        last_unit = Some(idx);
        total = n
            .checked_mul(UNITS[idx].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(err)?;
    }
    Ok(total)
}

/// A duration in milliseconds that prints in Prometheus notation (`1h30m`, `0s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct PromDuration(pub i64);

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        if ms < 0 {
            f.write_str("-")?;
            ms = -ms;
        }
        const UNITS: [(&str, i64); 7] = [
            ("y", 365 * 24 * 3_600_000),
            ("w", 7 * 24 * 3_600_000),
            ("d", 24 * 3_600_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
            ("ms", 1),
        ];
        // Prometheus prints weeks/years only when the whole duration divides evenly.
        for (u, size) in UNITS {
            if (u == "y" || u == "w") && ms % size != 0 {
                continue;
            }
            if ms >= size {
                write!(f, "{}{}", ms / size, u)?;
                ms %= size;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for PromDuration {
    type Err = TimeParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration_ms(s).map(PromDuration)
    }
}

impl<'de> serde::Deserialize<'de> for PromDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for PromDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Parses an API timestamp (RFC 3339, or Unix seconds with optional fraction) into milliseconds.
pub fn parse_timestamp_ms(s: &str) -> Result<i64, TimeParseError> {
    if let Ok(secs) = s.parse::<f64>() {
        if !secs.is_finite() {
            return Err(TimeParseError(format!(
                "cannot parse {s:?} to a valid timestamp"
            )));
        }
        return Ok((secs * 1000.0).round() as i64);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp_millis())
        .map_err(|_| TimeParseError(format!("cannot parse {s:?} to a valid timestamp")))
}

/// Current wall-clock time in milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("5m").unwrap(), 300_000);
        assert_eq!(parse_duration_ms("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration_ms("250ms").unwrap(), 250);
        assert!(parse_duration_ms("5m1h").is_err());
        assert!(parse_duration_ms("5").is_err());
        assert!(parse_duration_ms("").is_err());
        assert_eq!(PromDuration(5_400_000).to_string(), "1h30m");
        assert_eq!(PromDuration(0).to_string(), "0s");
        assert_eq!(PromDuration(14 * 24 * 3_600_000).to_string(), "2w");
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp_ms("1.5").unwrap(), 1500);
        assert_eq!(parse_timestamp_ms("1970-01-01T00:00:01Z").unwrap(), 1000);
        assert!(parse_timestamp_ms("abc").is_err());
    }
}
