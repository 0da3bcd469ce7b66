//! The alerts the Alertmanager holds: the posted alert plus its fingerprint, update time and
//! whether its end is a timeout (`endsAt` absent: resolve_timeout after the last update), with
//! Alertmanager's fingerprint (FNV-1a over sorted label pairs) and merge rules.

use std::collections::BTreeMap;

/// An alert inside the Alertmanager.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredAlert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub generator_url: String,
    pub updated_at: i64,
    /// True when `ends_at` was derived from resolve_timeout.
    pub timeout: bool,
    pub fingerprint: u64,
}

impl StoredAlert {
    pub fn resolved_at(&self, now: i64) -> bool {
        self.ends_at <= now
    }

    pub fn name(&self) -> &str {
        self.labels
            .get("alertname")
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Builds a stored alert from a posted one, filling start and end as Alertmanager's API
    /// does; errors are Alertmanager's validation messages.
    pub fn from_posted(
        a: model::alert::Alert,
        now: i64,
        resolve_timeout_ms: i64,
    ) -> Result<Self, String> {
        if a.labels.is_empty() {
            return Err("at least one label pair required".into());
        }
        for (k, v) in &a.labels {
            let ok = k
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(format!("invalid label set: invalid name {k:?}"));
            }
            if v.is_empty() {
                return Err(format!("invalid label set: invalid value for {k:?}"));
            }
        }
        for k in a.annotations.keys() {
            if k.is_empty() {
                return Err("invalid annotations: invalid name \"\"".into());
            }
        }
        let starts_at = match (a.starts_at, a.ends_at) {
            (Some(s), _) => s,
            (None, Some(e)) if e < now => e,
            _ => now,
        };
        let (ends_at, timeout) = match a.ends_at {
            Some(e) => (e, false),
            None => (now + resolve_timeout_ms, true),
        };
        if ends_at < starts_at {
            return Err("start time must be before end time".into());
        }
        let fingerprint = fingerprint(&a.labels);
        Ok(StoredAlert {
            labels: a.labels,
            annotations: a.annotations,
            starts_at,
            ends_at,
            generator_url: a.generator_url,
            updated_at: now,
            timeout,
            fingerprint,
        })
    }

    /// Merges a newer update into this alert (Alertmanager's `Alert.Merge`): the earlier start
    /// is kept; the newer one's end, annotations and URL win.
    pub fn merge(&self, newer: StoredAlert) -> StoredAlert {
        let mut out = newer;
        if self.starts_at < out.starts_at {
            out.starts_at = self.starts_at;
        }
        // A timeout end must not shorten an explicit end of the older alert that is later.
        if out.timeout
            && !self.timeout
            && self.ends_at > out.ends_at
            && self.ends_at > out.updated_at
        {
            out.ends_at = self.ends_at;
            out.timeout = false;
        }
        out
    }
}

/// Alertmanager's label-set fingerprint: FNV-1a 64 over name, 0xff, value, 0xff of each label in
/// name order.
pub fn fingerprint(labels: &BTreeMap<String, String>) -> u64 {
    const OFFSET: u64 = 14695981039346656037;
    const PRIME: u64 = 1099511628211;
    let mut h = OFFSET;
    let mut add = |b: u8| {
        h ^= b as u64;
        h = h.wrapping_mul(PRIME);
    };
    for (k, v) in labels {
        for b in k.bytes() {
            add(b);
        }
        add(0xff);
        for b in v.bytes() {
            add(b);
        }
        add(0xff);
    }
    h
}

/// Fingerprint as the API prints it (16 hex digits).
pub fn fingerprint_hex(fp: u64) -> String {
    format!("{fp:016x}")
}

/// The alert's incident page in pharos' UI (`external` is the external URL): its labels as query
/// parameters (so the link survives the alert's resolution) and `__start`, its start in Unix ms.
/// `__` cannot clash with a label: Prometheus reserves those names.
pub fn incident_url(
    external: &str,
    labels: &BTreeMap<String, String>,
    starts_at_ms: i64,
) -> String {
    let mut q: Vec<String> = labels
        .iter()
        .filter(|(k, _)| !k.starts_with("__"))
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect();
    if starts_at_ms > 0 {
        q.push(format!("__start={starts_at_ms}"));
    }
    format!(
        "{}/incident?{}",
        external.trim_end_matches('/'),
        q.join("&")
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_url_carries_labels_and_start() {
        let l: BTreeMap<String, String> = [
            ("alertname".to_string(), "High Error".to_string()),
            ("job".to_string(), "a&b".to_string()),
        ]
        .into();
        assert_eq!(
            incident_url("http://p:9090/", &l, 5),
            "http://p:9090/incident?alertname=High%20Error&job=a%26b&__start=5"
        );
    }

    #[test]
    fn fingerprint_matches_prometheus_common() {
        // Empty label set = FNV offset basis, as in prometheus/common.
        assert_eq!(fingerprint(&BTreeMap::new()), 14695981039346656037);
        let a: BTreeMap<String, String> = [("a".to_string(), "b".to_string())].into();
        let b: BTreeMap<String, String> = [("a".to_string(), "c".to_string())].into();
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint_hex(1), "0000000000000001");
    }

    #[test]
    fn posted_defaults() {
        let mut p = model::alert::Alert::default();
        assert!(StoredAlert::from_posted(p.clone(), 1000, 300_000).is_err());
        p.labels.insert("alertname".into(), "X".into());
        let s = StoredAlert::from_posted(p.clone(), 1000, 300_000).unwrap();
        assert_eq!((s.starts_at, s.ends_at, s.timeout), (1000, 301_000, true));
        p.ends_at = Some(500);
        let s = StoredAlert::from_posted(p.clone(), 1000, 300_000).unwrap();
        assert_eq!((s.starts_at, s.ends_at), (500, 500));
        p.starts_at = Some(600);
        assert!(StoredAlert::from_posted(p.clone(), 1000, 300_000).is_err());
        p.labels.insert("bad-name".into(), "x".into());
        p.starts_at = None;
        assert!(StoredAlert::from_posted(p, 1000, 300_000).is_err());
    }
}
