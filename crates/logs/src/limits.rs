//! Per-tenant ingestion limits with Loki's defaults and Loki's error messages: line size, label
//! count and sizes, old/new timestamps, ingestion rate (token bucket) and active stream count;
//! the per-tenant overrides over them (pharos.yml `tenants:`), and the lines discarded by them
//! (`loki_discarded_samples_total{reason,tenant}`, Loki's reasons).

use model::Labels;
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Limits applied on push (Loki's `limits_config`). Defaults are Loki's.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Bytes per line; 0 = unlimited. Loki default 256KB.
    pub max_line_size: usize,
    /// Cut lines longer than `max_line_size` instead of rejecting them.
    pub max_line_size_truncate: bool,
    pub max_label_names_per_series: usize,
    pub max_label_name_length: usize,
    pub max_label_value_length: usize,
    pub reject_old_samples: bool,
    pub reject_old_samples_max_age_ns: i64,
    /// Entries further in the future than this are rejected.
    pub creation_grace_period_ns: i64,
    /// Bytes per second per tenant; 0 = unlimited.
    pub ingestion_rate_bytes: f64,
    pub ingestion_burst_bytes: f64,
    /// Bytes per second per stream (Loki `per_stream_rate_limit`, 3MB); 0 = unlimited.
    pub per_stream_rate_bytes: f64,
    pub per_stream_burst_bytes: f64,
    /// Longest time range of one query (Loki `max_query_length`, 721h); 0 = unlimited.
    pub max_query_length_ns: i64,
    /// Series in one metric query result (Loki `max_query_series`, 500).
    pub max_query_series: usize,
    /// 0 = unlimited.
    pub max_streams_per_user: usize,
    /// Entries returned by one query at most (Loki `max_entries_limit_per_query`).
    pub max_entries_limit_per_query: usize,
    /// Retention: entries older than this are deleted; 0 = keep forever.
    pub retention_period_ns: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_size: 256 * 1024,
            max_line_size_truncate: false,
            max_label_names_per_series: 15,
            max_label_name_length: 1024,
            max_label_value_length: 2048,
            reject_old_samples: true,
            reject_old_samples_max_age_ns: 7 * 24 * 3600 * 1_000_000_000,
            creation_grace_period_ns: 10 * 60 * 1_000_000_000,
            ingestion_rate_bytes: 4.0 * 1024.0 * 1024.0,
            ingestion_burst_bytes: 6.0 * 1024.0 * 1024.0,
            per_stream_rate_bytes: 3.0 * 1024.0 * 1024.0,
            per_stream_burst_bytes: 15.0 * 1024.0 * 1024.0,
            max_query_length_ns: 721 * 3600 * 1_000_000_000,
            max_query_series: 500,
            max_streams_per_user: 0,
            max_entries_limit_per_query: 5000,
            retention_period_ns: 0,
        }
    }
}

/// Loki prints stream labels as `{a="b", c="d"}`.
pub fn labels_string(l: &Labels) -> String {
    let mut s = String::from("{");
    for (i, p) in l.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&p.name);
        s.push('=');
        s.push_str(&format!("{:?}", p.value));
    }
    s.push('}');
    s
}

impl Limits {
    /// Checks a stream's labels; `Err` is Loki's message.
    pub fn validate_labels(&self, l: &Labels) -> Result<(), String> {
        if l.is_empty() {
            return Err("error at least one label pair is required per stream".into());
        }
        if self.max_label_names_per_series > 0 && l.len() > self.max_label_names_per_series {
            return Err(format!(
                "entry for stream '{}' has {} label names; limit {}",
                labels_string(l),
                l.len(),
                self.max_label_names_per_series
            ));
        }
        for p in l.iter() {
            if !valid_label_name(&p.name) {
                return Err(format!(
                    "error parsing labels {}: invalid label name {:?}",
                    labels_string(l),
                    p.name
                ));
            }
            if p.name.len() > self.max_label_name_length {
                return Err(format!(
                    "stream '{}' has label name too long: '{}'",
                    labels_string(l),
                    p.name
                ));
            }
            if p.value.len() > self.max_label_value_length {
                return Err(format!(
                    "stream '{}' has label value too long: '{}'",
                    labels_string(l),
                    p.value
                ));
            }
        }
        Ok(())
    }

    /// Checks one entry; may truncate the line. `Err` is Loki's message.
    pub fn validate_entry(
        &self,
        l: &Labels,
        ts_ns: i64,
        line: &mut String,
        now_ns: i64,
    ) -> Result<(), String> {
        if self.reject_old_samples
            && ts_ns < now_ns.saturating_sub(self.reject_old_samples_max_age_ns)
        {
            return Err(format!(
                "entry for stream '{}' has timestamp too old: {}, oldest acceptable timestamp is: {}",
                labels_string(l),
                fmt_ts(ts_ns),
                fmt_ts(now_ns - self.reject_old_samples_max_age_ns)
            ));
        }
        if ts_ns > now_ns.saturating_add(self.creation_grace_period_ns) {
            return Err(format!(
                "entry for stream '{}' has timestamp too new: {}",
                labels_string(l),
                fmt_ts(ts_ns)
            ));
        }
        if self.max_line_size > 0 && line.len() > self.max_line_size {
            if self.max_line_size_truncate {
                let mut cut = self.max_line_size;
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                line.truncate(cut);
            } else {
                return Err(format!(
                    "Max entry size '{}' bytes exceeded for stream '{}' while adding an entry with length '{}' bytes",
                    self.max_line_size,
                    labels_string(l),
                    line.len()
                ));
            }
        }
        Ok(())
    }
}

pub fn valid_label_name(n: &str) -> bool {
    let mut it = n.chars();
    match it.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    it.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn fmt_ts(ns: i64) -> String {
    chrono::DateTime::from_timestamp(
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000) as u32,
    )
    .map(|d| d.to_rfc3339())
    .unwrap_or_else(|| ns.to_string())
}

/// A tenant's limits given the store's (Loki's `limits_config`): pharos.yml `tenants:` over it.
pub type TenantLimitsFn = dyn Fn(&str, &Limits) -> Limits + Send + Sync;

static TENANT_LIMITS: RwLock<Option<Arc<TenantLimitsFn>>> = RwLock::new(None);

/// Sets (or clears) the per-tenant limits of every log store of the process.
pub fn set_tenant_limits(f: Option<Arc<TenantLimitsFn>>) {
    *TENANT_LIMITS.write() = f;
}

/// The limits of `tenant`: the per-tenant ones over `base`, or `base`.
pub fn for_tenant(tenant: &str, base: &Limits) -> Limits {
    let f = TENANT_LIMITS.read().clone();
    match f {
        Some(f) => f(tenant, base),
        None => base.clone(),
    }
}

static DISCARDED: Mutex<BTreeMap<(&'static str, String), u64>> = Mutex::new(BTreeMap::new());

/// Counts `lines` lines of `tenant` discarded for `reason` (Loki's reason names).
pub fn discard(reason: &'static str, tenant: &str, lines: usize) {
    if lines == 0 {
        return;
    }
    *DISCARDED
        .lock()
        .entry((reason, tenant.to_string()))
        .or_default() += lines as u64;
}

/// Loki's reason for a validation message of [`Limits::validate_labels`] or
/// [`Limits::validate_entry`].
pub fn reason_of(msg: &str) -> &'static str {
    if msg.starts_with("Max entry size") {
        "line_too_long"
    } else if msg.contains("timestamp too old") {
        "greater_than_max_sample_age"
    } else if msg.contains("timestamp too new") {
        "too_far_in_future"
    } else if msg.contains("label names; limit") {
        "max_label_names_per_series"
    } else if msg.contains("label name too long") {
        "label_name_too_long"
    } else if msg.contains("label value too long") {
        "label_value_too_long"
    } else if msg.contains("at least one label pair") {
        "missing_labels"
    } else {
        "invalid_labels"
    }
}

/// `loki_discarded_samples_total{reason,tenant}` in text exposition format.
pub fn write_discarded_metrics(out: &mut String) {
    use std::fmt::Write as _;
    let d = DISCARDED.lock();
    let _ = writeln!(
        out,
        "# HELP loki_discarded_samples_total The total number of samples that were discarded.\n# TYPE loki_discarded_samples_total counter"
    );
    for ((reason, tenant), n) in d.iter() {
        let _ = writeln!(
            out,
            "loki_discarded_samples_total{{reason=\"{reason}\",tenant={tenant:?}}} {n}"
        );
    }
}

/// Token bucket per tenant (or stream): the one bucket of every pharos rate limit.
pub use model::ratelimit::KeyedBuckets as RateLimiter;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_too_long_message() {
        let l = Limits {
            max_line_size: 4,
            ..Default::default()
        };
        let lb = Labels::from_pairs([("job", "a")]);
        let mut line = "12345".to_string();
        let e = l.validate_entry(&lb, 10, &mut line, 10).unwrap_err();
        assert!(
            e.starts_with("Max entry size '4' bytes exceeded for stream '{job=\"a\"}'"),
            "{e}"
        );
    }

    #[test]
    fn too_old() {
        let l = Limits::default();
        let lb = Labels::from_pairs([("job", "a")]);
        let now = 1_700_000_000_000_000_000;
        let mut line = String::new();
        let e = l
            .validate_entry(&lb, now - 8 * 86400 * 1_000_000_000, &mut line, now)
            .unwrap_err();
        assert!(e.contains("timestamp too old"), "{e}");
    }

    #[test]
    fn bucket() {
        let r = RateLimiter::default();
        assert!(r.allow("t", 10, 1.0, 10.0));
        assert!(!r.allow("t", 5, 1.0, 10.0));
    }
}
