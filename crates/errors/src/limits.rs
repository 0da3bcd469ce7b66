//! Rate limiting: token buckets per (project, category) and per public key, answering how long
//! a sender must wait — the `Retry-After` / `X-Sentry-Rate-Limits` of a 429.

use model::ratelimit::TokenBucket;
use parking_lot::Mutex;
use std::collections::HashMap;
#[cfg(test)]
use std::time::Instant;

/// Token buckets keyed by any string; a rate of events per second refills them, a burst of
/// `rate * burst_secs` (at least 1) caps them.
pub struct RateLimiter {
    burst_secs: f64,
    buckets: Mutex<HashMap<String, TokenBucket>>,
}

impl RateLimiter {
    pub fn new(burst_secs: f64) -> RateLimiter {
        RateLimiter {
            burst_secs: burst_secs.max(0.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `key`'s bucket at `rate`/s: Ok, or Err(seconds until one is there).
    pub fn take(&self, key: &str, rate: f64) -> Result<(), f64> {
        self.take_with(key, rate, |b, cap| b.take(1.0, rate, cap))
    }

    #[cfg(test)]
    fn take_at(&self, key: &str, rate: f64, now: Instant) -> Result<(), f64> {
        self.take_with(key, rate, |b, cap| b.take_at(1.0, rate, cap, now))
    }

    fn take_with(
        &self,
        key: &str,
        rate: f64,
        take: impl FnOnce(&mut TokenBucket, f64) -> bool,
    ) -> Result<(), f64> {
        if rate.is_nan() || rate <= 0.0 || !rate.is_finite() {
            return Ok(());
        }
        let cap = (rate * self.burst_secs).max(1.0);
        let mut b = self.buckets.lock();
        let bucket = b.entry(key.to_string()).or_default();
        if take(bucket, cap) {
            Ok(())
        } else {
            Err(bucket.wait_secs(1.0, rate))
        }
    }
}

/// One `X-Sentry-Rate-Limits` entry: `retry_after:categories:scope` (categories `;`-joined).
pub fn header_entry(retry_after_secs: u64, categories: &[&str], scope: &str) -> String {
    format!("{retry_after_secs}:{}:{scope}", categories.join(";"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_refills() {
        let l = RateLimiter::new(1.0);
        let t0 = Instant::now() + Duration::from_millis(10);
        assert!(l.take_at("p", 2.0, t0).is_ok());
        assert!(l.take_at("p", 2.0, t0).is_ok());
        let wait = l.take_at("p", 2.0, t0).unwrap_err();
        assert!((wait - 0.5).abs() < 1e-9, "{wait}");
        assert!(l.take_at("p", 2.0, t0 + Duration::from_millis(500)).is_ok());
        assert!(l.take_at("other", 2.0, t0).is_ok());
        for _ in 0..100 {
            assert!(l.take_at("unlimited", 0.0, t0).is_ok());
        }
        assert_eq!(
            header_entry(60, &["error", "transaction"], "project"),
            "60:error;transaction:project"
        );
    }
}
