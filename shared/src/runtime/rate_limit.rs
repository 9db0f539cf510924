//! Rate and resource limits for the HTTP listener: a token bucket per
//! client, and caps on sessions.
//!
//! A client is the bearer token it presented (by its position in the token
//! list, never its text) or, without auth, its IP address. A burst beyond
//! the bucket gets 429 with `Retry-After`; other clients are not affected.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Buckets kept before idle ones are pruned: bounds memory under a flood
/// from many addresses.
const MAX_TRACKED_CLIENTS: usize = 10_000;

/// Who a request comes from, for rate limiting and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// The n-th configured token (tokens are never used as keys).
    Token(usize),
    /// The `sub` of a validated OAuth access token.
    Subject(String),
    /// A remote address (no auth).
    Address(IpAddr),
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientKey::Token(index) => write!(f, "token#{index}"),
            ClientKey::Subject(subject) => write!(f, "sub:{subject}"),
            ClientKey::Address(address) => write!(f, "{address}"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// A token bucket per client.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<ClientKey, Bucket>>,
}

impl RateLimiter {
    /// `per_second` requests sustained, bursts of up to `burst`.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            per_second: per_second.max(f64::MIN_POSITIVE),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// Take one request from `client`'s bucket: `Ok` when allowed, else how
    /// long until one more would be.
    pub fn check(&self, client: &ClientKey) -> Result<(), Duration> {
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= MAX_TRACKED_CLIENTS && !buckets.contains_key(client) {
            let burst = self.burst;
            let per_second = self.per_second;
            buckets.retain(|_, bucket| {
                bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * per_second
                    < burst
            });
        }
        let bucket = buckets.entry(client.clone()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst past the bucket is refused with a wait; other clients are
    /// not affected.
    #[test]
    fn bucket_refuses_past_burst_per_client() {
        let limiter = RateLimiter::new(1.0, 3);
        let a = ClientKey::Address([127, 0, 0, 1].into());
        let b = ClientKey::Address([127, 0, 0, 2].into());
        for _ in 0..3 {
            assert!(limiter.check(&a).is_ok());
        }
        let wait = limiter.check(&a).expect_err("over the burst");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        assert!(limiter.check(&b).is_ok());
    }
}
