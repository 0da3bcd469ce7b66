//! The `log:` and `query_log:` sections of pharos.yml: the level and format of pharos' own logs
//! and the threshold of the slow query log.

use crate::{locate, ConfigError};
use model::time::PromDuration;
use serde::Deserialize;
use std::path::Path;

/// Log levels accepted by `log.level` (and `--log.level`, `PUT /-/log-level`).
pub const LOG_LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

/// Default slow query threshold when `query_log.slow_threshold` is not set.
pub const DEFAULT_SLOW_THRESHOLD_MS: i64 = 5_000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogSection {
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryLogSection {
    #[serde(default)]
    slow_threshold: Option<PromDuration>,
}

/// `log:` of pharos.yml. `None` = not set (the command line or the default applies).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogSettings {
    /// One of [`LOG_LEVELS`].
    pub level: Option<String>,
    /// `logfmt` or `json`.
    pub format: Option<String>,
}

/// `query_log:` of pharos.yml.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryLogSettings {
    /// Queries that take at least this long are written to the slow query log.
    pub slow_threshold_ms: i64,
}

impl Default for QueryLogSettings {
    fn default() -> Self {
        QueryLogSettings {
            slow_threshold_ms: DEFAULT_SLOW_THRESHOLD_MS,
        }
    }
}

/// Normalizes a log level name (`WARN`, `warning` → `warn`), or says which ones exist.
pub fn normalize_level(s: &str) -> Result<String, String> {
    let l = s.trim().to_ascii_lowercase();
    let l = if l == "warning" {
        "warn".to_string()
    } else {
        l
    };
    if LOG_LEVELS.contains(&l.as_str()) {
        Ok(l)
    } else {
        Err(format!(
            "invalid log level {:?} (use one of {})",
            s.trim(),
            LOG_LEVELS.join(", ")
        ))
    }
}

pub(crate) fn resolve_log(
    file: &Path,
    text: &str,
    s: Option<LogSection>,
) -> Result<LogSettings, ConfigError> {
    let Some(s) = s else {
        return Ok(LogSettings::default());
    };
    let at = |key: &str, m: String| {
        let (l, c) = locate(text, key, locate(text, "log:", 1).0);
        ConfigError::at(file, l, c, format!("log.{key}: {m}"))
    };
    let level = match s.level {
        Some(l) => Some(normalize_level(&l).map_err(|m| at("level", m))?),
        None => None,
    };
    let format = match s.format.map(|f| f.trim().to_ascii_lowercase()) {
        Some(f) if f == "logfmt" || f == "json" => Some(f),
        Some(f) => {
            return Err(at(
                "format",
                format!("invalid log format {f:?} (use logfmt or json)"),
            ))
        }
        None => None,
    };
    Ok(LogSettings { level, format })
}

pub(crate) fn resolve_query_log(s: Option<QueryLogSection>) -> QueryLogSettings {
    let mut out = QueryLogSettings::default();
    if let Some(t) = s.and_then(|s| s.slow_threshold) {
        out.slow_threshold_ms = t.0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn levels_normalize() {
        assert_eq!(normalize_level(" WARNING ").as_deref(), Ok("warn"));
        assert_eq!(normalize_level("debug").as_deref(), Ok("debug"));
        assert!(normalize_level("verbose")
            .unwrap_err()
            .contains("debug, info"));
    }

    #[test]
    fn bad_level_points_at_the_line() {
        let text = "listen: x\nlog:\n  level: loud\n";
        let s: LogSection = LogSection {
            level: Some("loud".into()),
            format: None,
        };
        let e = resolve_log(Path::new("p.yml"), text, Some(s)).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("p.yml:3"), "{msg}");
        assert!(msg.contains("invalid log level"), "{msg}");
    }

    proptest! {
        #[test]
        fn normalize_never_panics_and_only_accepts_known(s in ".{0,12}") {
            if let Ok(l) = normalize_level(&s) {
                prop_assert!(LOG_LEVELS.contains(&l.as_str()));
            }
        }
    }
}
