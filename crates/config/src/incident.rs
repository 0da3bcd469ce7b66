//! `external_url:` and `incident:` of pharos.yml: the URL people reach pharos at (the base of
//! every link a notification carries, like Prometheus' `--web.external-url`) and how the
//! incident page joins an alert to logs, traces, errors and targets — which label names name a
//! service and which name an instance.

use crate::{locate, ConfigError};
use model::time::PromDuration;
use serde::Deserialize;
use std::path::Path;

/// The label names that name a service by default (the same value under any of them joins).
pub const DEFAULT_SERVICE_LABELS: [&str; 4] = ["service", "service_name", "app", "job"];
/// The label names that name an instance by default.
pub const DEFAULT_INSTANCE_LABELS: [&str; 2] = ["instance", "host"];

/// `incident:` as written.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentSection {
    pub service_labels: Option<Vec<String>>,
    pub instance_labels: Option<Vec<String>>,
    /// How far before the alert started the page looks (default 1h).
    pub lookback: Option<PromDuration>,
}

/// The resolved settings.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentSettings {
    /// Base URL of links in notifications, without a trailing `/` (None: `http://<listen address>`).
    pub external_url: Option<String>,
    pub service_labels: Vec<String>,
    pub instance_labels: Vec<String>,
    pub lookback_ms: i64,
}

impl Default for IncidentSettings {
    fn default() -> Self {
        IncidentSettings {
            external_url: None,
            service_labels: DEFAULT_SERVICE_LABELS.map(String::from).to_vec(),
            instance_labels: DEFAULT_INSTANCE_LABELS.map(String::from).to_vec(),
            lookback_ms: 3_600_000,
        }
    }
}

fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// Validates `external_url` (an absolute http(s) URL) and `incident:`.
pub fn resolve(
    file: &Path,
    text: &str,
    external_url: Option<String>,
    section: Option<IncidentSection>,
) -> Result<IncidentSettings, ConfigError> {
    let mut out = IncidentSettings::default();
    if let Some(u) = external_url {
        let u = u.trim().trim_end_matches('/').to_string();
        if !(u.starts_with("http://") || u.starts_with("https://")) || u.len() < 9 {
            let (l, c) = locate(text, "external_url", 1);
            return Err(ConfigError::at(
                file,
                l,
                c,
                format!("external_url must be an absolute http:// or https:// URL, got {u:?}"),
            ));
        }
        out.external_url = Some(u);
    }
    let Some(s) = section else {
        return Ok(out);
    };
    for (key, given, dest) in [
        ("service_labels", s.service_labels, &mut out.service_labels),
        (
            "instance_labels",
            s.instance_labels,
            &mut out.instance_labels,
        ),
    ] {
        let Some(list) = given else { continue };
        if let Some(bad) = list.iter().find(|n| !is_label_name(n)) {
            let (l, c) = locate(text, key, 1);
            return Err(ConfigError::at(
                file,
                l,
                c,
                format!("incident.{key}: {bad:?} is not a label name"),
            ));
        }
        *dest = list;
    }
    if let Some(d) = s.lookback {
        if d.0 <= 0 {
            let (l, c) = locate(text, "lookback", 1);
            return Err(ConfigError::at(
                file,
                l,
                c,
                "incident.lookback must be positive",
            ));
        }
        out.lookback_ms = d.0;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_overrides_and_errors() {
        let f = Path::new("pharos.yml");
        assert_eq!(
            resolve(f, "", None, None).unwrap(),
            IncidentSettings::default()
        );
        let s = IncidentSection {
            service_labels: Some(vec!["component".into()]),
            lookback: Some(PromDuration(7_200_000)),
            ..Default::default()
        };
        let r = resolve(f, "", Some("https://pharos.example.com/".into()), Some(s)).unwrap();
        assert_eq!(
            r.external_url.as_deref(),
            Some("https://pharos.example.com")
        );
        assert_eq!(r.service_labels, ["component"]);
        assert_eq!(r.instance_labels, ["instance", "host"]);
        assert_eq!(r.lookback_ms, 7_200_000);
        assert!(
            resolve(f, "external_url: x\n", Some("pharos.local".into()), None)
                .unwrap_err()
                .to_string()
                .contains("absolute")
        );
        let s = IncidentSection {
            instance_labels: Some(vec!["1x".into()]),
            ..Default::default()
        };
        assert!(resolve(f, "", None, Some(s)).is_err());
    }
}
