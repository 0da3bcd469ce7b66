//! The alert as exchanged between the rules engine and an Alertmanager: the Alertmanager API v2
//! "postable alert" (`labels`, `annotations`, `startsAt`, `endsAt`, `generatorURL`), plus the
//! [`AlertSink`] trait through which the rules engine hands alerts to any Alertmanager (the
//! built-in one or external ones reached over HTTP). Nothing here does I/O.
//!
//! Times are Unix milliseconds in memory and RFC 3339 strings on the wire, as Alertmanager
//! expects (`"2024-01-02T03:04:05.678Z"`); `endsAt` absent means "until further notice".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One alert in Alertmanager's API v2 postable shape.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Identifying labels (include `alertname`); routing, grouping and silencing use these.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Non-identifying information (summary, description, runbook_url, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// When the alert started firing, Unix milliseconds.
    #[serde(
        rename = "startsAt",
        default,
        skip_serializing_if = "Option::is_none",
        with = "rfc3339_ms"
    )]
    pub starts_at: Option<i64>,
    /// When the alert ends (resolved alerts carry a past time), Unix milliseconds.
    #[serde(
        rename = "endsAt",
        default,
        skip_serializing_if = "Option::is_none",
        with = "rfc3339_ms"
    )]
    pub ends_at: Option<i64>,
    /// Link back to the expression that generated the alert.
    #[serde(
        rename = "generatorURL",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub generator_url: String,
}

impl Alert {
    /// The `alertname` label, or "" when absent.
    pub fn name(&self) -> &str {
        self.labels
            .get("alertname")
            .map(String::as_str)
            .unwrap_or("")
    }

    /// True when the alert has an end time at or before `now_ms` (i.e. it is resolved).
    pub fn is_resolved_at(&self, now_ms: i64) -> bool {
        matches!(self.ends_at, Some(e) if e <= now_ms)
    }
}

/// Receives alerts from the rules engine. Implementations must not block for long: queue and
/// deliver in the background (the rules engine calls this from its evaluation loop).
pub trait AlertSink: Send + Sync {
    /// Hand over a batch of alerts (firing ones with `ends_at` in the future or absent, resolved
    /// ones with `ends_at` in the past).
    fn send(&self, alerts: Vec<Alert>);
}

/// An [`AlertSink`] that forwards every batch to several sinks (built-in and external).
#[derive(Default)]
pub struct FanoutAlertSink {
    sinks: Vec<std::sync::Arc<dyn AlertSink>>,
}

impl FanoutAlertSink {
    /// An empty fan-out (drops everything until a sink is added).
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a destination.
    pub fn push(&mut self, sink: std::sync::Arc<dyn AlertSink>) {
        self.sinks.push(sink);
    }

    /// Number of destinations.
    pub fn len(&self) -> usize {
        self.sinks.len()
    }

    /// True when there is no destination.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }
}

impl AlertSink for FanoutAlertSink {
    fn send(&self, alerts: Vec<Alert>) {
        if alerts.is_empty() {
            return;
        }
        if let Some((last, rest)) = self.sinks.split_last() {
            for s in rest {
                s.send(alerts.clone());
            }
            last.send(alerts);
        }
    }
}

/// Format Unix milliseconds as RFC 3339 with millisecond precision in UTC.
pub fn format_rfc3339_ms(ms: i64) -> String {
    match chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        None => "0001-01-01T00:00:00Z".to_string(),
    }
}

/// Parse an RFC 3339 time into Unix milliseconds; Go's zero time (`0001-01-01T00:00:00Z`) is `None`.
pub fn parse_rfc3339_ms(s: &str) -> Result<Option<i64>, String> {
    let t =
        chrono::DateTime::parse_from_rfc3339(s).map_err(|e| format!("invalid time {s:?}: {e}"))?;
    let ms = t.timestamp_millis();
    if t.timestamp() <= -62_135_596_800 {
        return Ok(None);
    }
    Ok(Some(ms))
}

mod rfc3339_ms {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(ms) => s.serialize_str(&super::format_rfc3339_ms(*ms)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        match s {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => super::parse_rfc3339_ms(&s).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn rfc3339_roundtrip() {
        let s = format_rfc3339_ms(1_700_000_000_123);
        assert_eq!(s, "2023-11-14T22:13:20.123Z");
        assert_eq!(parse_rfc3339_ms(&s).unwrap(), Some(1_700_000_000_123));
        assert_eq!(parse_rfc3339_ms("0001-01-01T00:00:00Z").unwrap(), None);
        assert!(parse_rfc3339_ms("yesterday").is_err());
        assert_eq!(
            parse_rfc3339_ms("2023-11-14T23:13:20+01:00").unwrap(),
            Some(1_700_000_000_000)
        );
    }

    struct Rec(Mutex<Vec<Alert>>);
    impl AlertSink for Rec {
        fn send(&self, alerts: Vec<Alert>) {
            self.0.lock().unwrap().extend(alerts);
        }
    }

    #[test]
    fn fanout_delivers_to_all() {
        let a = Arc::new(Rec(Mutex::new(vec![])));
        let b = Arc::new(Rec(Mutex::new(vec![])));
        let mut f = FanoutAlertSink::new();
        f.push(a.clone());
        f.push(b.clone());
        let mut al = Alert::default();
        al.labels.insert("alertname".into(), "X".into());
        f.send(vec![al.clone()]);
        assert_eq!(a.0.lock().unwrap().len(), 1);
        assert_eq!(b.0.lock().unwrap()[0].name(), "X");
    }

    #[test]
    fn resolved() {
        let al = Alert {
            ends_at: Some(10),
            ..Default::default()
        };
        assert!(al.is_resolved_at(10));
        assert!(!al.is_resolved_at(9));
        assert!(!Alert::default().is_resolved_at(i64::MAX));
    }
}

#[cfg(test)]
mod wire_tests {
    use super::*;

    #[test]
    fn json_shape_matches_alertmanager_v2() {
        let mut al = Alert {
            starts_at: Some(1_700_000_000_000),
            generator_url: "http://p/graph".into(),
            ..Default::default()
        };
        al.labels.insert("alertname".into(), "HighErrorRate".into());
        al.annotations.insert("summary".into(), "s".into());
        let j = serde_json::to_string(&al).unwrap();
        assert_eq!(
            j,
            r#"{"labels":{"alertname":"HighErrorRate"},"annotations":{"summary":"s"},"startsAt":"2023-11-14T22:13:20.000Z","generatorURL":"http://p/graph"}"#
        );
        let back: Alert = serde_json::from_str(&j).unwrap();
        assert_eq!(back, al);
        let minimal: Alert = serde_json::from_str(r#"{"labels":{"a":"b"}}"#).unwrap();
        assert_eq!(minimal.starts_at, None);
        assert!(serde_json::from_str::<Alert>(r#"{"labels":{},"startsAt":"nope"}"#).is_err());
    }
}
