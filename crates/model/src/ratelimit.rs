//! The token bucket every rate limit of pharos uses (metrics, logs, traces and errors, global
//! or per tenant): `rate` tokens a second up to `burst`, a request of `n` tokens is admitted
//! whole or refused whole.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Instant;

/// One bucket. A new bucket is full.
#[derive(Clone, Copy, Debug)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl Default for TokenBucket {
    fn default() -> Self {
        TokenBucket {
            tokens: f64::INFINITY,
            last: Instant::now(),
        }
    }
}

impl TokenBucket {
    /// Refills the bucket for the time since the last call, then takes `n` tokens if there
    /// are that many. `rate <= 0` admits everything.
    pub fn take(&mut self, n: f64, rate: f64, burst: f64) -> bool {
        self.take_at(n, rate, burst, Instant::now())
    }

    /// [`TokenBucket::take`] at `now`.
    pub fn take_at(&mut self, n: f64, rate: f64, burst: f64, now: Instant) -> bool {
        if rate <= 0.0 {
            return true;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.last = now;
        if n > self.tokens {
            return false;
        }
        self.tokens -= n;
        true
    }

    /// Seconds until `n` tokens are there at `rate` (0 when they are), as of the last call.
    pub fn wait_secs(&self, n: f64, rate: f64) -> f64 {
        if rate <= 0.0 || n <= self.tokens {
            0.0
        } else {
            (n - self.tokens) / rate
        }
    }
}

/// One bucket per key (tenant, stream).
#[derive(Default)]
pub struct KeyedBuckets {
    buckets: Mutex<HashMap<String, TokenBucket>>,
}

impl KeyedBuckets {
    /// Takes `n` tokens from `key`'s bucket; false when its limit is exceeded.
    pub fn allow(&self, key: &str, n: usize, rate: f64, burst: f64) -> bool {
        if rate <= 0.0 {
            return true;
        }
        let mut m = self.buckets.lock();
        match m.get_mut(key) {
            Some(b) => b.take(n as f64, rate, burst),
            None => m
                .entry(key.to_string())
                .or_default()
                .take(n as f64, rate, burst),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn refills_at_the_rate_up_to_the_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket {
            tokens: 10.0,
            last: t0,
        };
        assert!(b.take_at(10.0, 1.0, 10.0, t0));
        assert!(!b.take_at(1.0, 1.0, 10.0, t0));
        assert!(b.take_at(2.0, 1.0, 10.0, t0 + Duration::from_secs(2)));
        assert!(!b.take_at(20.0, 1.0, 10.0, t0 + Duration::from_secs(100)));
        assert!(b.take_at(10.0, 1.0, 10.0, t0 + Duration::from_secs(100)));
        let k = KeyedBuckets::default();
        assert!(k.allow("a", 10, 1.0, 10.0));
        assert!(!k.allow("a", 5, 1.0, 10.0));
        assert!(k.allow("b", 10, 1.0, 10.0), "buckets are per key");
    }
}
