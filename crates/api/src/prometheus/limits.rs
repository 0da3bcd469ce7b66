//! Per-tenant write limits of `tenants:` in pharos.yml, as Mimir's distributor and ingesters
//! apply them: `ingestion_rate` samples per second with `ingestion_burst_size` (a token bucket
//! per tenant) and `max_global_series_per_user` (distinct series the tenant wrote since start).
//! A write past a limit is refused whole with `StorageError::Limit` (HTTP 429) and stores
//! nothing. Writes without a tenant are not limited.

use config::tenants::TenantsSettings;
use model::{Labels, StorageError};
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use std::time::Instant;

struct Bucket {
    tokens: f64,
    last: Instant,
    series: HashSet<u64>,
}

#[derive(Default)]
struct Limiter {
    settings: RwLock<TenantsSettings>,
    tenants: Mutex<HashMap<String, Bucket>>,
}

fn limiter() -> &'static Limiter {
    static L: OnceLock<Limiter> = OnceLock::new();
    L.get_or_init(Limiter::default)
}

/// Sets the limits (at start and on every reload); buckets keep their state.
pub fn configure(settings: &TenantsSettings) {
    *limiter().settings.write() = settings.clone();
}

/// Admits a write of `samples` samples over the series `labels` for `tenant`, or says which
/// limit it would break.
pub fn admit<'a>(
    tenant: &str,
    samples: usize,
    labels: impl Iterator<Item = &'a Labels>,
) -> Result<(), StorageError> {
    let l = limiter();
    let limits = {
        let s = l.settings.read();
        if !s.has_limits() {
            return Ok(());
        }
        s.limits_of(tenant)
    };
    if limits.ingestion_rate.is_none() && limits.max_global_series_per_user.is_none() {
        return Ok(());
    }
    let mut tenants = l.tenants.lock();
    let now = Instant::now();
    let b = tenants.entry(tenant.to_string()).or_insert_with(|| Bucket {
        tokens: f64::INFINITY,
        last: now,
        series: HashSet::new(),
    });
    let mut tokens = b.tokens;
    if let Some(rate) = limits.ingestion_rate {
        let burst = limits.ingestion_burst_size.unwrap_or(rate).max(1.0);
        tokens = (tokens + now.duration_since(b.last).as_secs_f64() * rate).min(burst);
        if (samples as f64) > tokens {
            b.tokens = tokens;
            b.last = now;
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
            return Err(StorageError::Limit(format!(
                "per-user series limit of {max} exceeded for tenant {tenant:?} ({} series, {} new in this request)",
                b.series.len(),
                fresh.len()
            )));
        }
    }
    if limits.ingestion_rate.is_some() {
        b.tokens = tokens - samples as f64;
        b.last = now;
    }
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
                max_global_series_per_user: None,
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
