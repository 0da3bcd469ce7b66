//! Loki's `config.yml`, accepted as written for Loki: `auth_enabled`, `server.http_listen_port`
//! / `http_listen_address`, `limits_config` (enforced), retention (`limits_config.retention_period`
//! with `compactor.retention_enabled`, or `table_manager.retention_deletes_enabled` +
//! `retention_period`), delete requests (`compactor.delete_request_cancel_period`,
//! `compactor.delete_max_interval`). Sections that have no meaning in pharos (ingester,
//! schema_config, storage_config, chunk_store_config, common, ...) are accepted and reported in
//! one notice.

use crate::limits::Limits;
use serde_yaml_ng::Value;
use std::path::Path;

#[derive(Clone, Debug, Default)]
pub struct LokiConfig {
    pub auth_enabled: bool,
    /// `server.http_listen_port`; None when absent.
    pub http_listen_port: Option<u16>,
    pub http_listen_address: Option<String>,
    pub limits: Limits,
    /// `compactor.delete_request_cancel_period` in ms; None when absent (Loki: 24h).
    pub delete_request_cancel_period_ms: Option<i64>,
    /// `compactor.delete_max_interval` in ms; None when absent (Loki: 24h).
    pub delete_max_interval_ms: Option<i64>,
    /// One line naming the accepted-but-ignored sections, if any.
    pub notice: Option<String>,
}

fn dur_ns(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => Ok((n.as_f64().unwrap_or(0.0) * 1e9) as i64),
        Value::String(s) => crate::logql::lexer::parse_duration(s.trim())
            .ok_or_else(|| format!("invalid duration {s:?}")),
        _ => Err("expected a duration".into()),
    }
}

fn bytes(v: &Value) -> Result<usize, String> {
    match v {
        Value::Number(n) => Ok(n.as_f64().unwrap_or(0.0) as usize),
        Value::String(s) => crate::logql::lexer::parse_bytes(s)
            .map(|b| b as usize)
            .ok_or_else(|| format!("invalid size {s:?}")),
        _ => Err("expected a size".into()),
    }
}

fn num(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| "invalid number".into()),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("invalid number {s:?}")),
        _ => Err("expected a number".into()),
    }
}

fn boolean(v: &Value) -> Result<bool, String> {
    v.as_bool().ok_or_else(|| "expected true or false".into())
}

/// Reads and parses a Loki config file; errors name the file and key.
pub fn load(path: &Path) -> Result<LokiConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse(text: &str) -> Result<LokiConfig, String> {
    let root: Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    let mut c = LokiConfig::default();
    let Some(map) = root.as_mapping() else {
        if root.is_null() {
            return Ok(c);
        }
        return Err("expected a mapping at the top level".into());
    };
    let mut ignored = Vec::new();
    let mut retention_enabled = false;
    let mut limits_retention: Option<i64> = None;
    let mut table_retention: Option<i64> = None;
    for (k, v) in map {
        let key = k.as_str().unwrap_or_default();
        let ctx = |e: String| format!("{key}: {e}");
        match key {
            "auth_enabled" => c.auth_enabled = boolean(v).map_err(ctx)?,
            "server" => {
                if let Some(p) = v.get("http_listen_port") {
                    let n = num(p).map_err(|e| format!("server.http_listen_port: {e}"))?;
                    if !(0.0..=65535.0).contains(&n) {
                        return Err("server.http_listen_port: out of range".into());
                    }
                    c.http_listen_port = Some(n as u16);
                }
                if let Some(a) = v.get("http_listen_address").and_then(Value::as_str) {
                    if !a.is_empty() {
                        c.http_listen_address = Some(a.to_string());
                    }
                }
            }
            "limits_config" => {
                let Some(m) = v.as_mapping() else { continue };
                for (lk, lv) in m {
                    let lk = lk.as_str().unwrap_or_default();
                    let e = |e: String| format!("limits_config.{lk}: {e}");
                    let l = &mut c.limits;
                    match lk {
                        "reject_old_samples" => l.reject_old_samples = boolean(lv).map_err(e)?,
                        "reject_old_samples_max_age" => {
                            l.reject_old_samples_max_age_ns = dur_ns(lv).map_err(e)?
                        }
                        "creation_grace_period" => {
                            l.creation_grace_period_ns = dur_ns(lv).map_err(e)?
                        }
                        "ingestion_rate_mb" => {
                            l.ingestion_rate_bytes = num(lv).map_err(e)? * 1024.0 * 1024.0
                        }
                        "ingestion_burst_size_mb" => {
                            l.ingestion_burst_bytes = num(lv).map_err(e)? * 1024.0 * 1024.0
                        }
                        "max_line_size" => l.max_line_size = bytes(lv).map_err(e)?,
                        "max_line_size_truncate" => {
                            l.max_line_size_truncate = boolean(lv).map_err(e)?
                        }
                        "max_label_names_per_series" => {
                            l.max_label_names_per_series = num(lv).map_err(e)? as usize
                        }
                        "max_label_name_length" => {
                            l.max_label_name_length = num(lv).map_err(e)? as usize
                        }
                        "max_label_value_length" => {
                            l.max_label_value_length = num(lv).map_err(e)? as usize
                        }
                        "max_streams_per_user" | "max_global_streams_per_user" => {
                            let n = num(lv).map_err(e)? as usize;
                            if lk == "max_streams_per_user" || l.max_streams_per_user == 0 {
                                l.max_streams_per_user = n;
                            }
                        }
                        "per_stream_rate_limit" => {
                            l.per_stream_rate_bytes = bytes(lv).map_err(e)? as f64
                        }
                        "per_stream_rate_limit_burst" => {
                            l.per_stream_burst_bytes = bytes(lv).map_err(e)? as f64
                        }
                        "max_query_length" => l.max_query_length_ns = dur_ns(lv).map_err(e)?,
                        "max_query_series" => l.max_query_series = num(lv).map_err(e)? as usize,
                        "max_entries_limit_per_query" => {
                            l.max_entries_limit_per_query = num(lv).map_err(e)? as usize
                        }
                        "retention_period" => limits_retention = Some(dur_ns(lv).map_err(e)?),
                        // enforce_metric_name, per_stream_rate_limit, max_query_* ...: accepted.
                        _ => {}
                    }
                }
            }
            "compactor" => {
                retention_enabled = v
                    .get("retention_enabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                for (name, slot) in [
                    (
                        "delete_request_cancel_period",
                        &mut c.delete_request_cancel_period_ms,
                    ),
                    ("delete_max_interval", &mut c.delete_max_interval_ms),
                ] {
                    if let Some(d) = v.get(name) {
                        let ns = dur_ns(d).map_err(|e| format!("compactor.{name}: {e}"))?;
                        *slot = Some(ns / 1_000_000);
                    }
                }
            }
            "table_manager" => {
                if v.get("retention_deletes_enabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                {
                    if let Some(p) = v.get("retention_period") {
                        table_retention = Some(
                            dur_ns(p)
                                .map_err(|e| format!("table_manager.retention_period: {e}"))?,
                        );
                    }
                }
                if v.get("retention_deletes_enabled").and_then(Value::as_bool) != Some(true) {
                    ignored.push(key.to_string());
                }
            }
            // The rules engine reads `ruler.storage.local.directory` (LogQL rule files).
            "ruler" => {}
            other => ignored.push(other.to_string()),
        }
    }
    c.limits.retention_period_ns = match (retention_enabled, limits_retention, table_retention) {
        (true, Some(r), _) => r,
        (_, _, Some(r)) => r,
        _ => 0,
    };
    if !ignored.is_empty() {
        c.notice = Some(format!(
            "loki config: sections {} have no meaning in pharos (embedded storage under <data>/logs) and are ignored",
            ignored.join(", ")
        ));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guide_config() {
        let c = load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/loki/config.yml"
        )))
        .unwrap();
        assert!(!c.auth_enabled);
        assert_eq!(c.http_listen_port, Some(3100));
        assert!(c.limits.reject_old_samples);
        assert_eq!(
            c.limits.reject_old_samples_max_age_ns,
            168 * 3600 * 1_000_000_000
        );
        assert_eq!(c.limits.retention_period_ns, 0);
        let n = c.notice.unwrap();
        assert!(
            n.contains("schema_config") && n.contains("storage_config"),
            "{n}"
        );
    }

    #[test]
    fn limits_and_retention() {
        let c = parse("auth_enabled: true\nlimits_config:\n  max_line_size: 1KB\n  ingestion_rate_mb: 1\n  retention_period: 24h\ncompactor:\n  retention_enabled: true\n").unwrap();
        assert!(c.auth_enabled);
        assert_eq!(c.limits.max_line_size, 1000);
        assert_eq!(c.limits.ingestion_rate_bytes, 1048576.0);
        assert_eq!(c.limits.retention_period_ns, 86_400_000_000_000);
        let c =
            parse("compactor:\n  delete_request_cancel_period: 10m\n  delete_max_interval: 0s\n")
                .unwrap();
        assert_eq!(c.delete_request_cancel_period_ms, Some(600_000));
        assert_eq!(c.delete_max_interval_ms, Some(0));
        assert!(parse("compactor:\n  delete_max_interval: soon\n").is_err());
        assert!(
            parse("limits_config:\n  reject_old_samples_max_age: banana\n")
                .unwrap_err()
                .contains("reject_old_samples_max_age")
        );
    }
}
