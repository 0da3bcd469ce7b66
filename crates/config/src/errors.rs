//! `errors:` of pharos.yml: the error store's projects (id, name, public keys, per-key and
//! per-category rate limits, `send_default_pii`), data scrubbing, retention and limits.
//!
//! ```yaml
//! errors:
//!   projects:
//!     - {id: 1, name: api, keys: [0123456789abcdef0123456789abcdef]}
//!     - id: 2
//!       name: web
//!       keys: [{public: abcdef, rate_limit: 50}]
//!       send_default_pii: true
//!       rate_limits: {error: 100, transaction: 500}
//!   retention_time: 30d
//!   retention_size: 5GB
//!   max_event_size: 1MB
//!   max_events_per_second: 1000
//!   scrub: {enabled: true, fields: [ssn]}
//!   store_attachments: false
//!   alert_threshold: {events: 100, minutes: 5}
//! ```

use crate::{locate, ConfigError};
use model::time::PromDuration;
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One public key: a bare string or `{public, rate_limit}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
enum KeyEntry {
    Plain(String),
    Full {
        public: String,
        #[serde(default)]
        rate_limit: Option<f64>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectSection {
    id: Value,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    keys: Vec<KeyEntry>,
    #[serde(default)]
    send_default_pii: bool,
    #[serde(default)]
    rate_limits: BTreeMap<String, f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScrubSection {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    fields: Vec<String>,
}

/// The raw `errors:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ErrorsSection {
    #[serde(default)]
    projects: Vec<ProjectSection>,
    #[serde(default)]
    retention_time: Option<PromDuration>,
    #[serde(default)]
    delete_request_cancel_period: Option<PromDuration>,
    #[serde(default)]
    retention_size: Option<Value>,
    #[serde(default)]
    max_event_size: Option<Value>,
    #[serde(default)]
    max_events_per_second: Option<f64>,
    #[serde(default)]
    scrub: Option<ScrubSection>,
    #[serde(default)]
    store_attachments: bool,
    #[serde(default)]
    alert_threshold: Option<ThresholdSection>,
}

/// `alert_threshold: {events: N, minutes: M}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdSection {
    events: u64,
    minutes: f64,
}

/// A project of the error store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ErrorProject {
    pub id: String,
    pub name: String,
    /// (public key, events per second allowed with it).
    pub keys: Vec<(String, Option<f64>)>,
    pub send_default_pii: bool,
    /// Events per second by category (error, transaction, session, attachment, ...).
    pub rate_limits: BTreeMap<String, f64>,
}

/// Error store settings from `errors:` (every field optional; None = the store's default).
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorsSettings {
    pub projects: Vec<ErrorProject>,
    pub retention_time_ms: Option<i64>,
    /// 0 = no size limit.
    pub retention_size_bytes: u64,
    pub max_event_bytes: Option<u64>,
    pub max_events_per_second: Option<f64>,
    pub scrub_enabled: bool,
    pub scrub_fields: Vec<String>,
    pub store_attachments: bool,
    /// Alert when an issue gets more than `.0` events in `.1` minutes.
    pub alert_threshold: Option<(u64, f64)>,
    /// How long an error delete request can be cancelled before its events leave the log
    /// (Loki's `compactor.delete_request_cancel_period`); default 24h.
    pub delete_request_cancel_period_ms: i64,
}

impl Default for ErrorsSettings {
    fn default() -> Self {
        ErrorsSettings {
            projects: vec![],
            retention_time_ms: None,
            retention_size_bytes: 0,
            max_event_bytes: None,
            max_events_per_second: None,
            scrub_enabled: true,
            scrub_fields: vec![],
            store_attachments: false,
            alert_threshold: None,
            delete_request_cancel_period_ms: 24 * 3_600_000,
        }
    }
}

fn size(v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(n) => crate::pharos::parse_bytes(&n.to_string()),
        Value::String(s) => crate::pharos::parse_bytes(s),
        _ => Err("expected a size such as 512MB".into()),
    }
}

impl ErrorsSection {
    /// Validates the section (ids and keys present and unique) into settings.
    pub(crate) fn resolve(self, file: &Path, text: &str) -> Result<ErrorsSettings, ConfigError> {
        let at = |key: &str, msg: String| {
            let (l, c) = locate(text, key, 1);
            ConfigError::at(file, l, c, format!("errors: {msg}"))
        };
        let mut out = ErrorsSettings::default();
        let mut all_keys = std::collections::HashSet::new();
        for p in self.projects {
            let id = match &p.id {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.trim().to_string(),
                _ => String::new(),
            };
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(at(
                    "id",
                    format!(
                        "project id {:?} must be a number or a name of letters, digits, - and _",
                        p.id
                    ),
                ));
            }
            if out.projects.iter().any(|q: &ErrorProject| q.id == id) {
                return Err(at("id", format!("project id {id} is declared twice")));
            }
            if p.keys.is_empty() {
                return Err(at(
                    "keys",
                    format!("project {id} needs at least one public key in keys:"),
                ));
            }
            let mut keys = Vec::new();
            for k in p.keys {
                let (public, rate) = match k {
                    KeyEntry::Plain(s) => (s, None),
                    KeyEntry::Full { public, rate_limit } => (public, rate_limit),
                };
                let public = public.trim().to_string();
                if public.is_empty() || !public.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(at(
                        "keys",
                        format!("project {id}: public key {public:?} must be letters and digits"),
                    ));
                }
                if !all_keys.insert(public.clone()) {
                    return Err(at("keys", format!("public key {public} is used twice")));
                }
                keys.push((public, rate));
            }
            out.projects.push(ErrorProject {
                name: p.name.unwrap_or_else(|| id.clone()),
                id,
                keys,
                send_default_pii: p.send_default_pii,
                rate_limits: p.rate_limits,
            });
        }
        out.retention_time_ms = self.retention_time.map(|d| d.0);
        if let Some(p) = self.delete_request_cancel_period {
            out.delete_request_cancel_period_ms = p.0;
        }
        if let Some(v) = &self.retention_size {
            out.retention_size_bytes = size(v).map_err(|m| at("retention_size", m))?;
        }
        if let Some(v) = &self.max_event_size {
            out.max_event_bytes = Some(size(v).map_err(|m| at("max_event_size", m))?);
        }
        out.max_events_per_second = self.max_events_per_second;
        if let Some(s) = self.scrub {
            out.scrub_enabled = s.enabled.unwrap_or(true);
            out.scrub_fields = s
                .fields
                .into_iter()
                .map(|f| f.to_ascii_lowercase())
                .collect();
        }
        out.store_attachments = self.store_attachments;
        if let Some(t) = self.alert_threshold {
            if t.minutes.is_nan() || t.minutes <= 0.0 || t.events == 0 {
                return Err(at(
                    "alert_threshold",
                    "alert_threshold needs events > 0 and minutes > 0".into(),
                ));
            }
            out.alert_threshold = Some((t.events, t.minutes));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::pharos::parse;

    #[test]
    fn errors_section() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pharos.yml");
        let text = "errors:\n  projects:\n    - {id: 1, name: api, keys: [abc123]}\n    - id: web\n      keys: [{public: def456, rate_limit: 5}]\n      send_default_pii: true\n      rate_limits: {transaction: 10}\n  retention_time: 7d\n  delete_request_cancel_period: 10m\n  retention_size: 1GB\n  max_event_size: 200KB\n  scrub: {fields: [SSN]}\n  alert_threshold: {events: 10, minutes: 5}\n";
        let c = parse(&p, text).unwrap();
        let e = &c.errors;
        assert_eq!(e.projects.len(), 2);
        assert_eq!(e.projects[0].id, "1");
        assert_eq!(e.projects[0].keys, vec![("abc123".to_string(), None)]);
        assert_eq!(e.projects[1].name, "web");
        assert_eq!(e.projects[1].keys, vec![("def456".to_string(), Some(5.0))]);
        assert!(e.projects[1].send_default_pii);
        assert_eq!(e.retention_time_ms, Some(7 * 86_400_000));
        assert_eq!(e.delete_request_cancel_period_ms, 600_000);
        assert_eq!(e.retention_size_bytes, 1_000_000_000);
        assert_eq!(e.max_event_bytes, Some(200_000));
        assert_eq!(e.scrub_fields, vec!["ssn".to_string()]);
        assert!(e.scrub_enabled);
        assert_eq!(e.alert_threshold, Some((10, 5.0)));
        for bad in [
            "errors:\n  projects:\n    - {id: 1, keys: []}\n",
            "errors:\n  projects:\n    - {id: 1, keys: [a]}\n    - {id: 1, keys: [b]}\n",
            "errors:\n  projects:\n    - {id: 1, keys: [a]}\n    - {id: 2, keys: [a]}\n",
            "errors:\n  projects:\n    - {id: 'a/b', keys: [a]}\n",
            "errors:\n  retention_size: lots\n",
            "errors:\n  unknown: 1\n",
            "errors:\n  alert_threshold: {events: 0, minutes: 5}\n",
        ] {
            assert!(parse(&p, bad).is_err(), "{bad}");
        }
    }
}
