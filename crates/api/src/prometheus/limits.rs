//! Per-tenant write limits of `tenants:` in pharos.yml, as Mimir's distributor and ingesters
//! apply them: `ingestion_rate` samples per second with `ingestion_burst_size` (a token bucket
//! per tenant) and `max_global_series_per_user` (distinct series the tenant wrote since start).
//! A write past a limit is refused whole with `StorageError::Limit` (HTTP 429) and stores
//! nothing, and is counted in `cortex_discarded_samples_total{reason,user}`. Writes without a
//! tenant are not limited.

use config::tenants::TenantsSettings;
use model::ratelimit::TokenBucket;
use model::{Labels, StorageError};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};

#[derive(Default)]
struct Bucket {
    tokens: TokenBucket,
    series: HashSet<u64>,
}

static TENANTS: Mutex<Option<HashMap<String, Bucket>>> = Mutex::new(None);

/// Sets the limits of every signal (at start and on every reload); buckets keep their state.
pub fn configure(settings: &TenantsSettings) {
    crate::tenant_limits::configure(settings);
}

fn discarded(reason: &'static str, tenant: &str, samples: usize) {
    crate::tenant_limits::discarded("cortex_discarded_samples_total", reason, tenant, samples);
}

/// Admits a write of `samples` samples over the series `labels` for `tenant`, or says which
/// limit it would break.
pub fn admit<'a>(
    tenant: &str,
    samples: usize,
    labels: impl Iterator<Item = &'a Labels>,
) -> Result<(), StorageError> {
    let Some(limits) = crate::tenant_limits::limits_of(tenant) else {
        return Ok(());
    };
    if limits.ingestion_rate.is_none() && limits.max_global_series_per_user.is_none() {
        return Ok(());
    }
    let mut tenants = TENANTS.lock();
    let b = tenants
        .get_or_insert_with(HashMap::new)
        .entry(tenant.to_string())
        .or_default();
    // Tokens are taken on a copy, kept only when the series limit admits the write too.
    let mut tokens = b.tokens;
    if let Some(rate) = limits.ingestion_rate {
        let burst = limits.ingestion_burst_size.unwrap_or(rate).max(1.0);
        if !tokens.take(samples as f64, rate, burst) {
            b.tokens = tokens;
            discarded("rate_limited", tenant, samples);
            return Err(StorageError::Limit(format!(
                "the request has been rejected because the tenant {tenant:?} exceeded the ingestion rate limit, set to {rate} items/s with a maximum allowed burst of {burst} ({samples} samples sent)"
            )));
        }
    }
    let mut fresh = Vec::new();
    if let Some(max) = limits.max_global_series_per_user {
        for lb in labels {
            let h = lb.hash64();
            if !b.series.contains(&h) && !fresh.contains(&h) {
                fresh.push(h);
            }
        }
        if b.series.len() + fresh.len() > max as usize {
            discarded("per_user_series_limit", tenant, samples);
            return Err(StorageError::Limit(format!(
                "per-user series limit of {max} exceeded for tenant {tenant:?} ({} series, {} new in this request)",
                b.series.len(),
                fresh.len()
            )));
        }
    }
    b.tokens = tokens;
    b.series.extend(fresh);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use config::tenants::TenantLimits;

    #[test]
    fn rate_and_series_limits() {
        let mut s = TenantsSettings::default();
        s.overrides.insert(
            "lim-rate".into(),
            TenantLimits {
                ingestion_rate: Some(10.0),
                ingestion_burst_size: Some(20.0),
                ..Default::default()
            },
        );
        s.overrides.insert(
            "lim-series".into(),
            TenantLimits {
                max_global_series_per_user: Some(2),
                ..Default::default()
            },
        );
        configure(&s);
        let l = |i: usize| Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())]);
        let one = [l(0)];
        assert!(admit("lim-rate", 20, one.iter()).is_ok());
        assert!(matches!(
            admit("lim-rate", 5, one.iter()),
            Err(StorageError::Limit(_))
        ));
        assert!(admit("other", 1000, one.iter()).is_ok(), "no limit set");
        let two = [l(1), l(2)];
        assert!(admit("lim-series", 2, two.iter()).is_ok());
        assert!(admit("lim-series", 2, two.iter()).is_ok(), "known series");
        let three = [l(3)];
        assert!(matches!(
            admit("lim-series", 1, three.iter()),
            Err(StorageError::Limit(_))
        ));
    }
}
