//! Rate and resource limits for the HTTP listener: a token bucket per
//! client, and caps on sessions.
//!
//! A client is the bearer token it presented (by its position in the token
//! list, never its text) or, without auth, its IP address. A burst beyond
//! the bucket gets 429 with `Retry-After`; other clients are not affected.
//!
//! Replicas behind one load balancer can keep the buckets in a shared
//! store ([`share_buckets`]); when the store cannot answer, this process's
//! own buckets decide, so the limiter never fails a request itself.

use std::{
    collections::HashMap,
    future::Future,
    net::IpAddr,
    pin::Pin,
    sync::{Arc, Mutex, OnceLock},
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

/// What a shared store answers for one request: `Some(Ok)` allowed,
/// `Some(Err(wait))` refused, `None` when the store could not answer.
pub type SharedAnswer = Pin<Box<dyn Future<Output = Option<Result<(), Duration>>> + Send>>;

/// Buckets kept outside this process (a fleet's Redis), keyed by the
/// client's [`ClientKey`] text, which never holds a token.
pub trait SharedBuckets: Send + Sync {
    /// Take one request from `client`'s bucket of `burst` refilled at
    /// `per_second`.
    fn take(&self, client: String, per_second: f64, burst: f64) -> SharedAnswer;
}

/// The store installed by [`share_buckets`]: the listener is built by the
/// runtime and the store by the server, so a one-time hook set before
/// serving keeps the runtime's signatures as they are.
static SHARED_BUCKETS: OnceLock<Arc<dyn SharedBuckets>> = OnceLock::new();

/// Keep every rate limiter's buckets in `store` from now on (call before
/// serving). False when a store was already installed.
pub fn share_buckets(store: Arc<dyn SharedBuckets>) -> bool {
    SHARED_BUCKETS.set(store).is_ok()
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// A token bucket per client.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<ClientKey, Bucket>>,
    /// A store of its own (tests); else the one [`share_buckets`] set.
    shared: Option<Arc<dyn SharedBuckets>>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("per_second", &self.per_second)
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// `per_second` requests sustained, bursts of up to `burst`.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            per_second: per_second.max(f64::MIN_POSITIVE),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
            shared: None,
        }
    }

    /// This limiter with its buckets in `store` rather than the installed
    /// one.
    #[must_use]
    pub fn with_shared(mut self, store: Arc<dyn SharedBuckets>) -> Self {
        self.shared = Some(store);
        self
    }

    /// [`RateLimiter::check`] against the shared store when there is one
    /// and it answers; else against this process's buckets.
    pub async fn check_shared(&self, client: &ClientKey) -> Result<(), Duration> {
        if let Some(store) = self.shared.as_ref().or_else(|| SHARED_BUCKETS.get())
            && let Some(answer) = store
                .take(client.to_string(), self.per_second, self.burst)
                .await
        {
            return answer;
        }
        self.check(client)
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

    /// A store that refuses everyone, or cannot answer.
    struct Store(Option<Duration>);

    impl SharedBuckets for Store {
        fn take(&self, _client: String, _per_second: f64, _burst: f64) -> SharedAnswer {
            let answer = self.0.map(Err);
            Box::pin(async move { answer })
        }
    }

    /// The shared store's answer is the limiter's; a store that cannot
    /// answer leaves the decision to this process's buckets.
    #[tokio::test]
    async fn shared_store_decides_and_falls_back() {
        let client = ClientKey::Token(0);
        let refusing =
            RateLimiter::new(1.0, 3).with_shared(Arc::new(Store(Some(Duration::from_secs(7)))));
        assert_eq!(
            refusing.check_shared(&client).await,
            Err(Duration::from_secs(7))
        );
        let down = RateLimiter::new(1.0, 1).with_shared(Arc::new(Store(None)));
        assert!(down.check_shared(&client).await.is_ok());
        assert!(down.check_shared(&client).await.is_err());
    }
}
