//! The continuation cache: recently rendered pages, so a call with a
//! `start_index` reads the same text again instead of fetching the page,
//! on this replica or (with `[fleet] redis_url`) on any other.
//!
//! Pages are kept in the [`Store`] as JSON under a key naming the URL,
//! renderer, selector and format. It must never serve a page older than
//! its TTL (a model asking later wants fresh text), and never keep more
//! pages than `cache_entries` (the store evicts the least recently used).

use std::{sync::Arc, time::Duration};

use crate::{
    extract::Format,
    page::Page,
    state::{Kind, Store},
};

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

impl CacheKey {
    /// One string for the store: JSON, so no part can run into the next.
    fn id(&self) -> String {
        serde_json::json!([
            self.url,
            self.render,
            self.selector,
            format!("{:?}", self.format)
        ])
        .to_string()
    }
}

/// Rendered pages kept for `ttl`.
#[derive(Debug)]
pub struct PageCache {
    store: Arc<Store>,
    ttl: Duration,
}

impl PageCache {
    /// Pages kept in `store` for `ttl`.
    pub fn new(store: Arc<Store>, ttl: Duration) -> Self {
        Self { store, ttl }
    }

    /// The page for `key`, if fresh.
    pub async fn get(&self, key: &CacheKey) -> Option<Arc<Page>> {
        let bytes = self.store.get(Kind::Page, &key.id()).await?;
        serde_json::from_slice(&bytes).ok().map(Arc::new)
    }

    /// Keep `page` under `key`.
    pub async fn put(&self, key: CacheKey, page: Arc<Page>) {
        if let Ok(bytes) = serde_json::to_vec(&*page) {
            self.store.put(Kind::Page, &key.id(), bytes, self.ttl).await;
        }
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

    fn cache(entries: usize, ttl: Duration) -> PageCache {
        PageCache::new(Arc::new(Store::memory(entries)), ttl)
    }

    /// The least recently used page is evicted first.
    #[tokio::test]
    async fn evicts_least_recently_used() {
        let cache = cache(2, Duration::from_secs(60));
        cache.put(key("a"), Arc::new(Page::default())).await;
        cache.put(key("b"), Arc::new(Page::default())).await;
        assert!(cache.get(&key("a")).await.is_some());
        cache.put(key("c"), Arc::new(Page::default())).await;
        assert!(cache.get(&key("b")).await.is_none());
        assert!(cache.get(&key("a")).await.is_some());
        assert!(cache.get(&key("c")).await.is_some());
    }

    /// The format is part of the key: Markdown is not served from a Text
    /// rendering of the same page.
    #[tokio::test]
    async fn format_is_part_of_the_key() {
        let cache = cache(2, Duration::from_secs(60));
        cache.put(key("a"), Arc::new(Page::default())).await;
        let markdown = CacheKey {
            format: Format::Markdown,
            ..key("a")
        };
        assert!(cache.get(&markdown).await.is_none());
        assert!(cache.get(&key("a")).await.is_some());
    }

    /// Expired pages are not served.
    #[tokio::test]
    async fn expires() {
        let cache = cache(2, Duration::ZERO);
        cache.put(key("a"), Arc::new(Page::default())).await;
        assert!(cache.get(&key("a")).await.is_none());
    }

    /// A page comes back from the store as it went in (text, metadata,
    /// links, PDF pages), so a continuation on another replica reads the
    /// same page.
    #[tokio::test]
    async fn a_page_round_trips_through_the_store() {
        let cache = cache(2, Duration::from_secs(60));
        let page = Page {
            final_url: "https://example.org/a".into(),
            status: Some(200),
            text: "Hello, world.".into(),
            title: Some("A".into()),
            notes: vec!["cut".into()],
            renderer: crate::page::Renderer::Browser,
            ..Page::default()
        };
        cache.put(key("a"), Arc::new(page.clone())).await;
        let back = cache.get(&key("a")).await.expect("cached");
        assert_eq!(format!("{back:?}"), format!("{page:?}"));
    }
}
