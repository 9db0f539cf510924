//! The engine: everything a scrape, search or screenshot call needs (URL
//! policy, limits, fetcher, robots cache, page cache, browser, search
//! client, and the state shared with a fleet's other replicas), shared by
//! every call.
//!
//! It only holds the parts; it must never know the tools or the toolbox
//! that serves them (the server builds it, the tools use it).

use std::{sync::Arc, time::Duration};

use moat_shared::policy::{ScrapePolicy, UrlPolicy};

use crate::{
    browser::BrowserPool, cache::PageCache, fetcher::Fetcher, robots::RobotsCache, search::Search,
    state::Store,
};

/// Everything a tool call needs.
#[derive(Debug)]
pub struct Engine {
    /// The URL policy.
    pub url_policy: Arc<UrlPolicy>,
    /// The limits.
    pub limits: ScrapePolicy,
    /// Plain HTTP.
    pub fetcher: Fetcher,
    /// robots.txt rules per origin.
    pub robots: RobotsCache,
    /// robots.txt timeout.
    pub robots_timeout: Duration,
    /// Continuation cache.
    pub cache: PageCache,
    /// The browser.
    pub browser: BrowserPool,
    /// Deadline of one browser call.
    pub browser_timeout: Duration,
    /// Search provider.
    pub search: Search,
    /// Caches, pacing and permits: memory, or a fleet's Redis.
    pub state: Arc<Store>,
}
