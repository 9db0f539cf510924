//! The in-process backend: what one replica keeps alone, and what every
//! replica falls back to while Redis cannot answer.
//!
//! Its job is the same contract as the Redis backend (bounded caches with
//! a TTL, pacing reservations, counted permits), in memory. It must never
//! grow past its bounds: caches evict the least recently used entry, and
//! the pacing and permit tables drop idle hosts past a size.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::Kind;

/// Hosts whose pacing or permits are tracked before idle ones are dropped:
/// bounds memory when a service talks to very many hosts.
const MAX_TRACKED_HOSTS: usize = 10_000;

type Entry = (String, Instant, Arc<Vec<u8>>);

/// The in-process state.
#[derive(Debug, Default)]
pub struct Memory {
    caches: Mutex<HashMap<Kind, VecDeque<Entry>>>,
    /// The earliest start of the next request, per pacing key.
    pacing: Mutex<HashMap<String, Instant>>,
    /// Holders and their lease ends, per permit key.
    permits: Mutex<HashMap<String, Vec<(String, Instant)>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Memory {
    /// The fresh value under `key`, moved to the front.
    pub fn get(&self, kind: Kind, key: &str) -> Option<Arc<Vec<u8>>> {
        let mut caches = lock(&self.caches);
        let entries = caches.get_mut(&kind)?;
        let now = Instant::now();
        entries.retain(|(_, expires, _)| *expires > now);
        let position = entries
            .iter()
            .position(|(candidate, _, _)| candidate == key)?;
        let entry = entries.remove(position)?;
        let value = entry.2.clone();
        entries.push_front(entry);
        Some(value)
    }

    /// Keep `value` under `key` for `ttl`, evicting the least recently used
    /// past `capacity`.
    pub fn put(&self, kind: Kind, key: &str, value: Arc<Vec<u8>>, ttl: Duration, capacity: usize) {
        if capacity == 0 || ttl.is_zero() {
            return;
        }
        let mut caches = lock(&self.caches);
        let entries = caches.entry(kind).or_default();
        entries.retain(|(candidate, _, _)| candidate != key);
        while entries.len() >= capacity {
            entries.pop_back();
        }
        entries.push_front((key.to_string(), Instant::now() + ttl, value));
    }

    /// Book the next start under `key`, `interval` after the last one: how
    /// long to wait for it, or `None` (nothing booked) past `max_wait`.
    pub fn reserve(&self, key: &str, interval: Duration, max_wait: Duration) -> Option<Duration> {
        let now = Instant::now();
        let mut pacing = lock(&self.pacing);
        if pacing.len() >= MAX_TRACKED_HOSTS && !pacing.contains_key(key) {
            pacing.retain(|_, next| *next > now);
        }
        let slot = pacing.get(key).map_or(now, |next| (*next).max(now));
        let wait = slot - now;
        if wait > max_wait {
            return None;
        }
        pacing.insert(key.to_string(), slot + interval);
        Some(wait)
    }

    /// Take one of `limit` permits under `key` for `holder`, leased for
    /// `lease`; false when all are held.
    pub fn acquire(&self, key: &str, holder: &str, limit: usize, lease: Duration) -> bool {
        let now = Instant::now();
        let mut permits = lock(&self.permits);
        if permits.len() >= MAX_TRACKED_HOSTS && !permits.contains_key(key) {
            permits.retain(|_, holders| holders.iter().any(|(_, until)| *until > now));
        }
        let holders = permits.entry(key.to_string()).or_default();
        holders.retain(|(_, until)| *until > now);
        if holders.len() >= limit {
            return false;
        }
        holders.push((holder.to_string(), now + lease));
        true
    }

    /// Give back `holder`'s permit under `key`.
    pub fn release(&self, key: &str, holder: &str) {
        let mut permits = lock(&self.permits);
        if let Some(holders) = permits.get_mut(key) {
            holders.retain(|(candidate, _)| candidate != holder);
            if holders.is_empty() {
                permits.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value() -> Arc<Vec<u8>> {
        Arc::new(b"v".to_vec())
    }

    /// The least recently used entry is evicted first, and an expired one
    /// is never served.
    #[test]
    fn cache_is_lru_with_ttl() {
        let memory = Memory::default();
        let ttl = Duration::from_secs(60);
        memory.put(Kind::Page, "a", value(), ttl, 2);
        memory.put(Kind::Page, "b", value(), ttl, 2);
        assert!(memory.get(Kind::Page, "a").is_some());
        memory.put(Kind::Page, "c", value(), ttl, 2);
        assert!(memory.get(Kind::Page, "b").is_none());
        assert!(memory.get(Kind::Page, "a").is_some());
        assert!(memory.get(Kind::Robots, "a").is_none(), "kinds are apart");
        memory.put(Kind::Page, "z", value(), Duration::from_nanos(1), 2);
        std::thread::sleep(Duration::from_millis(2));
        assert!(memory.get(Kind::Page, "z").is_none());
    }

    /// Reservations are spaced by the interval, and one past the longest
    /// wait books nothing.
    #[test]
    fn reservations_are_spaced_and_bounded() {
        let memory = Memory::default();
        let second = Duration::from_secs(1);
        assert_eq!(memory.reserve("h", second, second), Some(Duration::ZERO));
        let wait = memory
            .reserve("h", second, second)
            .expect("within a second");
        assert!(wait > Duration::from_millis(900), "{wait:?}");
        assert_eq!(memory.reserve("h", second, second), None);
        assert_eq!(
            memory.reserve("other", second, second),
            Some(Duration::ZERO)
        );
    }

    /// No more than `limit` permits are held at once; a released or
    /// expired one is free again.
    #[test]
    fn permits_are_counted() {
        let memory = Memory::default();
        let lease = Duration::from_secs(60);
        assert!(memory.acquire("h", "1", 2, lease));
        assert!(memory.acquire("h", "2", 2, lease));
        assert!(!memory.acquire("h", "3", 2, lease));
        memory.release("h", "1");
        assert!(memory.acquire("h", "3", 2, lease));
        assert!(memory.acquire("h2", "x", 1, Duration::from_nanos(1)));
        std::thread::sleep(Duration::from_millis(2));
        assert!(memory.acquire("h2", "y", 1, lease), "the lease ran out");
    }
}
