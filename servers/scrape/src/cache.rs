//! The continuation cache: recently rendered pages, so a call with a
//! `start_index` reads the same text again instead of fetching the page.
//!
//! Small LRU with a TTL. It must never grow past its entry count, and never
//! serve a page older than its TTL (a model asking later wants fresh text).

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{extract::Format, page::Page};

/// What identifies a rendering: the URL asked for, the renderer asked for,
/// the selector and the text format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// The URL as the policy normalised it.
    pub url: String,
    /// `auto`, `http` or `browser`.
    pub render: &'static str,
    /// The CSS selector, if any.
    pub selector: Option<String>,
    /// Text or Markdown: the same page gives different text in each.
    pub format: Format,
}

/// LRU + TTL cache of rendered pages.
#[derive(Debug)]
pub struct PageCache {
    capacity: usize,
    ttl: Duration,
    entries: Mutex<VecDeque<(CacheKey, Instant, Arc<Page>)>>,
}

impl PageCache {
    /// A cache of `capacity` pages kept for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity,
            ttl,
            entries: Mutex::new(VecDeque::with_capacity(capacity)),
        }
    }

    /// The page for `key`, moved to the front, if fresh.
    pub fn get(&self, key: &CacheKey) -> Option<Arc<Page>> {
        let mut entries = self.lock();
        entries.retain(|(_, at, _)| at.elapsed() < self.ttl);
        let position = entries
            .iter()
            .position(|(candidate, _, _)| candidate == key)?;
        let entry = entries.remove(position)?;
        let page = entry.2.clone();
        entries.push_front(entry);
        Some(page)
    }

    /// Keep `page` under `key`, evicting the least recently used.
    pub fn put(&self, key: CacheKey, page: Arc<Page>) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        entries.retain(|(candidate, _, _)| *candidate != key);
        while entries.len() >= self.capacity {
            entries.pop_back();
        }
        entries.push_front((key, Instant::now(), page));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(CacheKey, Instant, Arc<Page>)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(url: &str) -> CacheKey {
        CacheKey {
            url: url.into(),
            render: "auto",
            selector: None,
            format: Format::Text,
        }
    }

    /// The least recently used page is evicted first.
    #[test]
    fn evicts_least_recently_used() {
        let cache = PageCache::new(2, Duration::from_secs(60));
        cache.put(key("a"), Arc::new(Page::default()));
        cache.put(key("b"), Arc::new(Page::default()));
        assert!(cache.get(&key("a")).is_some());
        cache.put(key("c"), Arc::new(Page::default()));
        assert!(cache.get(&key("b")).is_none());
        assert!(cache.get(&key("a")).is_some());
        assert!(cache.get(&key("c")).is_some());
    }

    /// The format is part of the key: Markdown is not served from a Text
    /// rendering of the same page.
    #[test]
    fn format_is_part_of_the_key() {
        let cache = PageCache::new(2, Duration::from_secs(60));
        cache.put(key("a"), Arc::new(Page::default()));
        let markdown = CacheKey {
            format: Format::Markdown,
            ..key("a")
        };
        assert!(cache.get(&markdown).is_none());
        assert!(cache.get(&key("a")).is_some());
    }

    /// Expired pages are not served.
    #[test]
    fn expires() {
        let cache = PageCache::new(2, Duration::ZERO);
        cache.put(key("a"), Arc::new(Page::default()));
        assert!(cache.get(&key("a")).is_none());
    }
}
