//! Per-destination-host politeness: at most N requests in flight and M
//! started per second to one host, across every session of this process
//! and, with `[fleet] redis_url`, every replica.
//!
//! Its job is to hand the fetcher a [`Turn`] before each request (every
//! hop, robots.txt included) and take it back when the response is read.
//! It must never let a request through without a turn, never wait longer
//! than its bound (the call gets a clear error instead), and never leave a
//! permit held after a crash for longer than its lease.

use std::{sync::Arc, time::Duration};

use moat_shared::policy::PolitenessPolicy;
use tokio::time::Instant;

use crate::{
    error::ScrapeError,
    state::{Holder, Store},
};

/// First pause between two tries for a permit; doubled up to
/// [`MAX_POLL`]. Requests to one host last tens to hundreds of
/// milliseconds, so a few tries per request are enough.
const FIRST_POLL: Duration = Duration::from_millis(10);

/// Longest pause between two tries for a permit.
const MAX_POLL: Duration = Duration::from_millis(100);

/// Per-host limits over a [`Store`].
#[derive(Debug)]
pub struct Politeness {
    store: Arc<Store>,
    concurrency: usize,
    interval: Duration,
    /// Longest wait for a turn.
    max_wait: Duration,
    /// How long a permit outlives a replica that died holding it.
    lease: Duration,
}

/// Permission to send one request to a host; given back when dropped.
#[derive(Debug)]
pub struct Turn {
    store: Arc<Store>,
    host: String,
    holder: String,
    held: Holder,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let host = std::mem::take(&mut self.host);
        let holder = std::mem::take(&mut self.holder);
        match self.held {
            Holder::Memory => self.store.release_memory(&host, &holder),
            // Dropping cannot wait for Redis: the release runs on its own,
            // and if it never does, the lease frees the permit.
            Holder::Redis => {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    let store = self.store.clone();
                    runtime.spawn(async move { store.release_redis(&host, &holder).await });
                }
            }
        }
    }
}

impl Politeness {
    /// Limits from `[scrape.politeness]`, waiting at most `max_wait` for a
    /// turn; a permit's lease is `lease` (the longest a request may run).
    pub fn new(
        store: Arc<Store>,
        policy: &PolitenessPolicy,
        max_wait: Duration,
        lease: Duration,
    ) -> Self {
        Self {
            store,
            concurrency: policy.per_host_concurrency.max(1),
            interval: Duration::from_secs_f64(1.0 / policy.per_host_per_second),
            max_wait,
            lease,
        }
    }

    /// Wait for a turn at `host`: a free permit, then the next start the
    /// per-second limit allows.
    ///
    /// # Errors
    /// [`ScrapeError::Throttled`] when no turn came within the bound.
    pub async fn turn(&self, host: &str) -> Result<Turn, ScrapeError> {
        let start = Instant::now();
        let deadline = start + self.max_wait;
        let holder = uuid::Uuid::new_v4().to_string();
        let mut pause = FIRST_POLL;
        let held = loop {
            if let Some(held) = self
                .store
                .acquire(host, &holder, self.concurrency, self.lease)
                .await
            {
                break held;
            }
            if Instant::now() + pause > deadline {
                return Err(self.throttled(host, start));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_POLL);
        };
        let turn = Turn {
            store: self.store.clone(),
            host: host.to_string(),
            holder,
            held,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(wait) = self.store.reserve(host, self.interval, left).await else {
            return Err(self.throttled(host, start));
        };
        // Not even a zero sleep when the host is free: tokio rounds a
        // timer up to its next millisecond tick, so `sleep(0)` costs up to
        // a millisecond (and a wake-up) on every fetch.
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(turn)
    }

    fn throttled(&self, host: &str, start: Instant) -> ScrapeError {
        ScrapeError::Throttled(format!(
            "waited {:.1} s for a turn at {host} (this service sends it at most {} requests at once and {} per second); retry shortly",
            start.elapsed().as_secs_f64(),
            self.concurrency,
            1.0 / self.interval.as_secs_f64()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn politeness(concurrency: usize, per_second: f64, max_wait: Duration) -> Politeness {
        Politeness::new(
            Arc::new(Store::memory(4)),
            &PolitenessPolicy {
                per_host_concurrency: concurrency,
                per_host_per_second: per_second,
            },
            max_wait,
            Duration::from_secs(60),
        )
    }

    /// With every permit held, a turn is refused after the bound with one
    /// line naming the host; a turn given back frees a permit; another
    /// host is not affected.
    #[tokio::test]
    async fn turns_are_bounded_per_host() {
        let polite = politeness(1, 1000.0, Duration::from_millis(50));
        let first = polite.turn("a.example").await.expect("first turn");
        let refused = polite.turn("a.example").await.expect_err("all held");
        let message = refused.to_string();
        assert!(
            message.contains("a.example") && !message.contains('\n'),
            "{message}"
        );
        polite.turn("b.example").await.expect("another host");
        drop(first);
        polite.turn("a.example").await.expect("freed");
    }

    /// Regression: a turn at a free host was still held on a zero-length
    /// timer (a millisecond tick of tokio's clock) on every fetch; it is
    /// now given at once, without waiting on any timer.
    #[tokio::test]
    async fn a_free_host_gives_its_turn_at_once() {
        use futures::FutureExt as _;
        let polite = politeness(8, 1000.0, Duration::from_secs(1));
        let turn = polite.turn("a.example").now_or_never();
        assert!(matches!(turn, Some(Ok(_))), "{turn:?}");
    }
}
