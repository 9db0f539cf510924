//! Shared state: what replicas behind one load balancer must agree on.
//!
//! The continuation page cache, robots.txt rules, search results, pacing
//! (per-host and per-provider request spacing), per-host permits and the
//! HTTP listener's rate-limit buckets go through one [`Store`]. With
//! `[fleet] redis_url` each operation runs on Redis ([`redis`], over the
//! small RESP client in [`resp`]); without it, or while Redis does not
//! answer, on this process's memory ([`memory`]), with a warning logged on
//! each change and a `/metrics` counter of operations that fell back.
//!
//! It must never store a secret (keys are hashes or host names, values are
//! page text, rules and search results; the Brave key and the Redis
//! password stay in memory), never keep a value without a TTL or past its
//! kind's bound, and never turn a Redis failure into an error for the
//! model.

pub mod memory;
pub mod redis;
pub mod resp;

use std::{
    fmt::Write as _,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use moat_shared::{
    policy::{FleetPolicy, scrape::redis_address},
    runtime::rate_limit::{SharedAnswer, SharedBuckets},
};
use sha2::{Digest, Sha256};

use crate::error::ScrapeError;

pub use memory::Memory;
pub use redis::Redis;

/// Largest value shared through Redis: a page's text far past any
/// `max_length`; a bigger page stays in this replica's memory only, so one
/// huge page cannot fill Redis.
pub const MAX_VALUE_BYTES: usize = 4 * 1024 * 1024;

/// Connect timeout to Redis: it sits next to the replicas, so an answer
/// takes a millisecond; waiting longer only delays the fallback.
const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Longest wait for one Redis reply, for the same reason.
const REDIS_COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

/// After a failure Redis is left alone this long, so calls meanwhile go
/// straight to memory instead of each waiting for a timeout.
const REDIS_RETRY_AFTER: Duration = Duration::from_secs(1);

/// robots.txt rule sets kept: a scraper rarely talks to more hosts within
/// the rules' hour.
const ROBOTS_ENTRIES: usize = 512;

/// Search answers kept: a few hundred distinct queries within the cache
/// TTL is already a busy fleet.
const SEARCH_ENTRIES: usize = 256;

/// What a cached value is; each kind has its own key space and bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A rendered page, for continuation calls.
    Page,
    /// An origin's robots.txt rules.
    Robots,
    /// A search provider's results for one query.
    Search,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Page => "page",
            Kind::Robots => "robots",
            Kind::Search => "search",
        }
    }
}

/// Which backend holds a permit, so it is given back where it was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// This process.
    Memory,
    /// Redis.
    Redis,
}

/// The state of one replica: memory always, Redis when configured.
#[derive(Debug)]
pub struct Store {
    memory: Memory,
    redis: Option<Redis>,
    prefix: String,
    page_entries: usize,
    /// Until when Redis is skipped after a failure.
    skip_until: Mutex<Option<Instant>>,
    /// Whether the last Redis operation succeeded (logs only changes).
    up: AtomicBool,
    /// Operations served from memory because Redis did not answer.
    fallbacks: AtomicU64,
}

impl Store {
    /// State in this process only, keeping `page_entries` pages.
    pub fn memory(page_entries: usize) -> Self {
        Self {
            memory: Memory::default(),
            redis: None,
            prefix: String::new(),
            page_entries,
            skip_until: Mutex::new(None),
            up: AtomicBool::new(true),
            fallbacks: AtomicU64::new(0),
        }
    }

    /// State as `[fleet]` says: Redis when `redis_url` is set (nothing is
    /// connected yet), else memory.
    ///
    /// # Errors
    /// A `redis_url` that is not a `redis://HOST[:PORT][/DB]` URL.
    pub fn from_policy(
        fleet: &FleetPolicy,
        password: Option<String>,
        page_entries: usize,
    ) -> Result<Self, ScrapeError> {
        let mut store = Self::memory(page_entries);
        if let Some(url) = &fleet.redis_url {
            let (host, port, database) = redis_address(url)
                .map_err(|why| ScrapeError::Invalid(format!("[fleet] redis_url {url:?} {why}")))?;
            let address = resp::Address {
                host,
                port,
                database,
                password,
            };
            store.redis = Some(Redis::new(resp::Pool::new(
                address,
                REDIS_CONNECT_TIMEOUT,
                REDIS_COMMAND_TIMEOUT,
            )));
            store.prefix.clone_from(&fleet.key_prefix);
        }
        Ok(store)
    }

    /// True when a Redis is configured.
    pub fn shared(&self) -> bool {
        self.redis.is_some()
    }

    fn capacity(&self, kind: Kind) -> usize {
        match kind {
            Kind::Page => self.page_entries,
            Kind::Robots => ROBOTS_ENTRIES,
            Kind::Search => SEARCH_ENTRIES,
        }
    }

    /// The Redis key of a cached value: a hash, so URLs and queries (which
    /// may carry tokens in their query strings) are not key names.
    fn value_key(&self, kind: Kind, key: &str) -> String {
        let digest = Sha256::digest(key.as_bytes());
        let mut hex = String::with_capacity(40);
        for byte in &digest[..20] {
            let _ = write!(hex, "{byte:02x}");
        }
        format!("{}{}:{hex}", self.prefix, kind.name())
    }

    /// Redis, unless none is configured or it failed a moment ago (then
    /// the operation counts as a fallback).
    fn redis(&self) -> Option<&Redis> {
        let redis = self.redis.as_ref()?;
        let skip = self
            .skip_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|until| Instant::now() < until);
        if skip {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(redis)
    }

    /// Note a Redis answer, or a failure (counted, logged when it is news,
    /// and Redis skipped for a moment).
    fn outcome<T>(&self, result: Result<T, resp::RespError>) -> Option<T> {
        match result {
            Ok(value) => {
                if !self.up.swap(true, Ordering::Relaxed) {
                    tracing::info!("Redis answers again; shared state is back in use");
                }
                Some(value)
            }
            Err(error) => {
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                *self
                    .skip_until
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some(Instant::now() + REDIS_RETRY_AFTER);
                if self.up.swap(false, Ordering::Relaxed) {
                    tracing::warn!(
                        %error,
                        "Redis does not answer; this replica keeps caches and limits in its own memory until it does"
                    );
                }
                None
            }
        }
    }

    /// The fresh value of `kind` under `key`: Redis first (another replica
    /// may have stored it), then this process's memory.
    pub async fn get(&self, kind: Kind, key: &str) -> Option<Arc<Vec<u8>>> {
        if let Some(redis) = self.redis()
            && let Some(Some(value)) = self.outcome(redis.get(&self.value_key(kind, key)).await)
        {
            return Some(Arc::new(value));
        }
        self.memory.get(kind, key)
    }

    /// Keep `value` of `kind` under `key` for `ttl`, in memory and (when it
    /// is small enough) in Redis.
    pub async fn put(&self, kind: Kind, key: &str, value: Vec<u8>, ttl: Duration) {
        let capacity = self.capacity(kind);
        if capacity == 0 || ttl.is_zero() {
            return;
        }
        let value = Arc::new(value);
        self.memory.put(kind, key, value.clone(), ttl, capacity);
        if value.len() > MAX_VALUE_BYTES {
            return;
        }
        if let Some(redis) = self.redis() {
            let index = format!("{}{}:index", self.prefix, kind.name());
            let stored = redis
                .put(&self.value_key(kind, key), &index, &value, ttl, capacity)
                .await;
            self.outcome(stored);
        }
    }

    /// Book the next start under `key` (`interval` after the last one
    /// booked): how long to wait for it, or `None` when that would be
    /// longer than `max_wait` (nothing is booked then).
    pub async fn reserve(
        &self,
        key: &str,
        interval: Duration,
        max_wait: Duration,
    ) -> Option<Duration> {
        if let Some(redis) = self.redis() {
            let name = format!("{}pace:{key}", self.prefix);
            if let Some(answer) = self.outcome(redis.reserve(&name, interval, max_wait).await) {
                return answer;
            }
        }
        self.memory.reserve(key, interval, max_wait)
    }

    /// Take one of `limit` permits under `key` for `holder`, leased for
    /// `lease` (a replica that dies mid-request frees it then): where it
    /// was taken, or `None` when all are held.
    pub async fn acquire(
        &self,
        key: &str,
        holder: &str,
        limit: usize,
        lease: Duration,
    ) -> Option<Holder> {
        if let Some(redis) = self.redis() {
            let name = format!("{}permits:{key}", self.prefix);
            if let Some(taken) = self.outcome(redis.acquire(&name, holder, limit, lease).await) {
                return taken.then_some(Holder::Redis);
            }
        }
        self.memory
            .acquire(key, holder, limit, lease)
            .then_some(Holder::Memory)
    }

    /// Give back a permit [`Store::acquire`] took in memory.
    pub fn release_memory(&self, key: &str, holder: &str) {
        self.memory.release(key, holder);
    }

    /// Give back a permit [`Store::acquire`] took in Redis. A Redis that
    /// does not answer lets the lease run out instead.
    pub async fn release_redis(&self, key: &str, holder: &str) {
        if let Some(redis) = self.redis.as_ref() {
            let name = format!("{}permits:{key}", self.prefix);
            self.outcome(redis.release(&name, holder).await);
        }
    }

    /// Take one request from the rate-limit bucket of `client`; `None`
    /// when there is no Redis or it does not answer (the listener's own
    /// buckets decide then).
    pub async fn take(
        &self,
        client: &str,
        per_second: f64,
        burst: f64,
    ) -> Option<Result<(), Duration>> {
        let redis = self.redis()?;
        let name = format!("{}ratelimit:{client}", self.prefix);
        self.outcome(redis.take(&name, per_second, burst).await)
    }

    /// `/metrics` lines.
    pub fn metrics_text(&self) -> String {
        let mut text = format!(
            "# HELP moat_scrape_fleet_fallbacks_total Shared-state operations served from this replica's memory because Redis did not answer.\n# TYPE moat_scrape_fleet_fallbacks_total counter\nmoat_scrape_fleet_fallbacks_total {}\n",
            self.fallbacks.load(Ordering::Relaxed)
        );
        if self.redis.is_some() {
            let _ = write!(
                text,
                "# HELP moat_scrape_fleet_redis_up 1 when the last Redis operation succeeded.\n# TYPE moat_scrape_fleet_redis_up gauge\nmoat_scrape_fleet_redis_up {}\n",
                u8::from(self.up.load(Ordering::Relaxed))
            );
        }
        text
    }
}

/// The store as the HTTP listener's rate-limit buckets.
#[derive(Debug, Clone)]
pub struct Buckets(pub Arc<Store>);

impl SharedBuckets for Buckets {
    fn take(&self, client: String, per_second: f64, burst: f64) -> SharedAnswer {
        let store = self.0.clone();
        Box::pin(async move { store.take(&client, per_second, burst).await })
    }
}
