//! Search providers: SearXNG's JSON API or Brave Search's API.
//!
//! The endpoint is the operator's (policy or flags); the model controls
//! only the query parameters. It is reached through the network funnel like
//! every other destination: resolved once, every address checked, the
//! connection pinned to those addresses. The operator's URL opens its own
//! host and port by name (a SearXNG on a private address is the usual
//! case); the built-in Brave endpoint opens nothing. A redirect is followed
//! only on the same host and port, never to another host.
//!
//! Providers limit their callers (Brave's free tier: one request per
//! second, a monthly quota), so requests are paced per provider across
//! every session (and, with `[fleet] redis_url`, every replica), a 429 is
//! retried after its `Retry-After` a bounded number of times, and answers
//! are cached per query for a short TTL.
//!
//! It must never pretend: with no provider configured, a provider failing
//! or its quota used up, the tool says so in one line.

use std::{sync::Arc, time::Duration};

use moat_shared::{
    net::{self, ClientSettings, NetError, Outbound},
    policy::{
        AllowedUrl, UrlDenied, UrlPolicy,
        scrape::{DEFAULT_BRAVE_RATE_PER_SECOND, SearchPolicy},
    },
};
use reqwest::{
    StatusCode,
    header::{self, HeaderMap, HeaderValue},
};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    egress::LazyEgress,
    error::ScrapeError,
    state::{Kind, Store},
};

/// Default Brave Search endpoint.
pub const BRAVE_ENDPOINT: &str = "https://api.search.brave.com/res/v1/web/search";

/// Default environment variable holding the Brave key.
pub const BRAVE_KEY_ENV: &str = "BRAVE_API_KEY";

/// Largest provider response read.
const MAX_SEARCH_BYTES: usize = 2 * 1024 * 1024;

/// Brave returns at most 20 results per request.
const BRAVE_MAX_COUNT: usize = 20;

/// Longest snippet kept, in characters.
const MAX_SNIPPET_CHARS: usize = 400;

/// Redirects followed on the provider's own host and port (a reverse proxy
/// adding a slash needs one); a redirect to another host is never followed.
const MAX_PROVIDER_REDIRECTS: usize = 3;

/// Retries after an HTTP 429: two cover a per-second limit that other
/// sessions or replicas reached first; a provider still refusing after
/// that is refusing for longer than a call should wait.
const MAX_RETRIES_AFTER_429: usize = 2;

/// Longest `Retry-After` waited for: a per-second limit asks for a second
/// or two; a longer wait means an hourly or monthly limit, which the model
/// is told about instead of being kept waiting.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Wait after a 429 without a usable `Retry-After`: one window of Brave's
/// per-second limit.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Largest 429 body read to learn whether the quota is used up.
const MAX_ERROR_BODY_BYTES: usize = 16 * 1024;

/// The configured provider.
#[derive(Debug, Clone)]
pub enum Provider {
    /// A SearXNG instance.
    SearXng {
        /// Base URL, e.g. `http://searxng:8080`.
        base: String,
    },
    /// Brave Search API.
    Brave {
        /// The operator's endpoint; `None` is [`BRAVE_ENDPOINT`], which the
        /// operator did not name, so it opens no private address.
        endpoint: Option<String>,
        /// API key (never logged).
        key: String,
    },
    /// Nothing configured, and why.
    None(String),
}

/// Time filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TimeRange {
    /// Past day.
    Day,
    /// Past week.
    Week,
    /// Past month.
    Month,
    /// Past year.
    Year,
}

/// Safe-search level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SafeSearch {
    /// No filtering.
    Off,
    /// Provider default.
    Moderate,
    /// Strict.
    Strict,
}

/// One query.
#[derive(Debug, Clone)]
pub struct Query {
    /// Search terms.
    pub text: String,
    /// Results wanted.
    pub limit: usize,
    /// Language code, e.g. `en`.
    pub language: Option<String>,
    /// Time filter.
    pub time_range: Option<TimeRange>,
    /// Safe-search level.
    pub safesearch: Option<SafeSearch>,
}

/// One result.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct SearchResult {
    /// Page title.
    pub title: String,
    /// Page URL.
    pub url: String,
    /// The provider's snippet.
    pub snippet: String,
}

/// A provider's endpoint, checked, with the URL policy that reaches it.
#[derive(Debug, Clone)]
struct Endpoint {
    policy: Arc<UrlPolicy>,
    url: AllowedUrl,
    /// The egress proxy its requests leave through when an upstream proxy
    /// is set (checking with this endpoint's own policy).
    egress: LazyEgress,
}

impl Endpoint {
    /// An endpoint the operator named: its own host and port are opened by
    /// name, even on an address the URL policy refuses.
    fn named(url: &str) -> Result<Self, ScrapeError> {
        let (policy, checked) =
            UrlPolicy::operator_endpoint(url).map_err(|denied| refused(url, &denied))?;
        Ok(Self {
            policy: Arc::new(policy),
            url: checked,
            egress: LazyEgress::default(),
        })
    }

    /// A built-in endpoint the operator did not name: the default URL
    /// policy applies, so a DNS answer pointing it at a private address is
    /// refused.
    fn unnamed(url: &str) -> Result<Self, ScrapeError> {
        let policy = UrlPolicy::default();
        let checked = policy.check(url).map_err(|denied| refused(url, &denied))?;
        Ok(Self {
            policy: Arc::new(policy),
            url: checked,
            egress: LazyEgress::default(),
        })
    }
}

fn refused(url: &str, denied: &UrlDenied) -> ScrapeError {
    ScrapeError::Search(format!("the search endpoint {url:?} is refused: {denied}"))
}

/// Where queries go, resolved from a [`Provider`].
#[derive(Debug, Clone)]
enum Target {
    SearXng(Endpoint),
    Brave(Endpoint, String),
    None(String),
}

/// A search client.
#[derive(Debug, Clone)]
pub struct Search {
    target: Target,
    settings: ClientSettings,
    /// The whole request's limit (`[scrape.search] timeout_ms`).
    timeout: Duration,
    /// Where answers are cached and requests paced.
    store: Arc<Store>,
    /// Shortest spacing of two requests to the provider; `None`: no limit.
    interval: Option<Duration>,
    /// How long an answer is reused; zero: not cached.
    cache_ttl: Duration,
    /// The operator's upstream proxy, when set: providers are reached
    /// through it like pages are (hosts in `no_proxy` directly).
    outbound: Arc<Outbound>,
}

impl Search {
    /// A client for `provider`.
    ///
    /// # Errors
    /// When the provider's URL is not an http(s) URL without credentials.
    pub fn new(
        provider: Provider,
        user_agent: &str,
        timeout: Duration,
    ) -> Result<Self, ScrapeError> {
        let target = match provider {
            Provider::SearXng { base } => Target::SearXng(Endpoint::named(&format!(
                "{}/search",
                base.trim_end_matches('/')
            ))?),
            Provider::Brave {
                endpoint: Some(endpoint),
                key,
            } => Target::Brave(Endpoint::named(&endpoint)?, key),
            Provider::Brave {
                endpoint: None,
                key,
            } => Target::Brave(Endpoint::unnamed(BRAVE_ENDPOINT)?, key),
            Provider::None(why) => Target::None(why),
        };
        Ok(Self::with_target(target, user_agent, timeout))
    }

    fn with_target(target: Target, user_agent: &str, timeout: Duration) -> Self {
        let defaults = SearchPolicy::default();
        let mut search = Self {
            target,
            settings: ClientSettings {
                // The whole exchange is bounded by `timeout` anyway.
                connect_timeout: timeout,
                user_agent: user_agent.to_string(),
            },
            timeout,
            store: Arc::new(Store::memory(0)),
            interval: None,
            cache_ttl: Duration::ZERO,
            outbound: Arc::default(),
        };
        search.limit(&defaults);
        search
    }

    /// This client with its answers cached and its requests paced in
    /// `store`, as `[scrape.search]` says.
    #[must_use]
    pub fn with_state(mut self, store: Arc<Store>, policy: &SearchPolicy) -> Self {
        self.store = store;
        self.limit(policy);
        self
    }

    /// This client reaching its provider through the operator's upstream
    /// proxy (`[scrape] upstream_proxy`), as page fetches do.
    #[must_use]
    pub fn with_outbound(mut self, outbound: Arc<Outbound>) -> Self {
        self.outbound = outbound;
        self
    }

    fn limit(&mut self, policy: &SearchPolicy) {
        let rate = match (&self.target, policy.rate_per_second) {
            (_, Some(rate)) => Some(rate),
            (Target::Brave(..), None) => Some(DEFAULT_BRAVE_RATE_PER_SECOND),
            _ => None,
        };
        self.interval = rate.map(|rate| Duration::from_secs_f64(1.0 / rate));
        self.cache_ttl = Duration::from_secs(policy.cache_ttl_secs);
    }

    /// The provider's name, for listings.
    pub fn provider_name(&self) -> &'static str {
        match self.target {
            Target::SearXng(_) => "searxng",
            Target::Brave(..) => "brave",
            Target::None(_) => "none",
        }
    }

    /// Run `query`.
    ///
    /// # Errors
    /// No provider, provider unreachable, or an answer that is not the
    /// provider's JSON.
    pub async fn run(&self, query: &Query) -> Result<Vec<SearchResult>, ScrapeError> {
        let cache_key = self.cache_key(query);
        if let Some(bytes) = self.store.get(Kind::Search, &cache_key).await
            && let Ok(results) = serde_json::from_slice(&bytes)
        {
            return Ok(results);
        }
        let mut results = match &self.target {
            Target::None(why) => return Err(ScrapeError::Search(why.clone())),
            Target::SearXng(endpoint) => self.searxng(endpoint, query).await?,
            Target::Brave(endpoint, key) => self.brave(endpoint, key, query).await?,
        };
        results.truncate(query.limit);
        if let Ok(bytes) = serde_json::to_vec(&results) {
            self.store
                .put(Kind::Search, &cache_key, bytes, self.cache_ttl)
                .await;
        }
        Ok(results)
    }

    /// What names one query's answer: the provider's endpoint and every
    /// parameter the model gave (never the API key).
    fn cache_key(&self, query: &Query) -> String {
        let endpoint = match &self.target {
            Target::SearXng(endpoint) | Target::Brave(endpoint, _) => endpoint.url.as_str(),
            Target::None(_) => "",
        };
        serde_json::json!([
            endpoint,
            query.text,
            query.limit,
            query.language,
            query.time_range.map(|range| format!("{range:?}")),
            query.safesearch.map(|level| format!("{level:?}")),
        ])
        .to_string()
    }

    /// Wait for this provider's next request slot.
    async fn pace(&self, endpoint: &Endpoint, name: &str) -> Result<(), ScrapeError> {
        let Some(interval) = self.interval else {
            return Ok(());
        };
        let key = format!(
            "search:{}:{}",
            self.provider_name(),
            endpoint.url.as_url().origin().ascii_serialization()
        );
        // Half the call's time at most, so the request itself keeps the
        // other half.
        let most = self.timeout / 2;
        let wait = self.store.reserve(&key, interval, most).await.ok_or_else(|| {
            ScrapeError::Throttled(format!(
                "{name} gets at most {} requests per second from this service and the next {} s are taken; retry shortly",
                1.0 / interval.as_secs_f64(),
                most.as_secs_f64()
            ))
        })?;
        tokio::time::sleep(wait).await;
        Ok(())
    }

    async fn searxng(
        &self,
        endpoint: &Endpoint,
        query: &Query,
    ) -> Result<Vec<SearchResult>, ScrapeError> {
        let mut params: Vec<(&str, String)> =
            vec![("q", query.text.clone()), ("format", "json".into())];
        if let Some(language) = &query.language {
            params.push(("language", language.clone()));
        }
        if let Some(range) = query.time_range {
            let range = match range {
                TimeRange::Day => "day",
                TimeRange::Week => "week",
                TimeRange::Month => "month",
                TimeRange::Year => "year",
            };
            params.push(("time_range", range.into()));
        }
        if let Some(level) = query.safesearch {
            let level = match level {
                SafeSearch::Off => "0",
                SafeSearch::Moderate => "1",
                SafeSearch::Strict => "2",
            };
            params.push(("safesearch", level.into()));
        }
        let value = self
            .json(endpoint, &params, HeaderMap::new(), "SearXNG")
            .await?;
        let results = value
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| ScrapeError::Search("SearXNG answered without a results list; is format=json enabled in its settings.yml (search.formats)?".into()))?;
        Ok(results
            .iter()
            .filter_map(|item| result(item, "title", "url", "content"))
            .collect())
    }

    async fn brave(
        &self,
        endpoint: &Endpoint,
        key: &str,
        query: &Query,
    ) -> Result<Vec<SearchResult>, ScrapeError> {
        let mut params: Vec<(&str, String)> = vec![
            ("q", query.text.clone()),
            ("count", query.limit.min(BRAVE_MAX_COUNT).to_string()),
        ];
        if let Some(language) = &query.language {
            params.push(("search_lang", language.clone()));
        }
        if let Some(range) = query.time_range {
            let range = match range {
                TimeRange::Day => "pd",
                TimeRange::Week => "pw",
                TimeRange::Month => "pm",
                TimeRange::Year => "py",
            };
            params.push(("freshness", range.into()));
        }
        if let Some(level) = query.safesearch {
            let level = match level {
                SafeSearch::Off => "off",
                SafeSearch::Moderate => "moderate",
                SafeSearch::Strict => "strict",
            };
            params.push(("safesearch", level.into()));
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let key = HeaderValue::from_str(key).map_err(|_| {
            ScrapeError::Search("the Brave API key is not a valid header value".into())
        })?;
        headers.insert("X-Subscription-Token", key);
        let value = self
            .json(endpoint, &params, headers, "Brave Search")
            .await?;
        let results = value
            .pointer("/web/results")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(results
            .iter()
            .filter_map(|item| result(item, "title", "url", "description"))
            .collect())
    }

    /// GET `endpoint` with `params` through the network funnel, the whole
    /// exchange within the search timeout, and parse the JSON answer.
    async fn json(
        &self,
        endpoint: &Endpoint,
        params: &[(&str, String)],
        headers: HeaderMap,
        name: &str,
    ) -> Result<Value, ScrapeError> {
        let mut url = endpoint.url.as_url().clone();
        url.query_pairs_mut().extend_pairs(params);
        let url = endpoint
            .policy
            .check(url.as_str())
            .map_err(|denied| ScrapeError::Search(format!("{name} is refused: {denied}")))?;
        // A retry that cannot finish before the search timeout is not tried:
        // the caller gets the provider's 429, not a vaguer timeout.
        let deadline = tokio::time::Instant::now() + self.timeout;
        let exchange = async {
            let mut retries = 0;
            let response = loop {
                self.pace(endpoint, name).await?;
                let via = endpoint
                    .egress
                    .via(
                        &endpoint.policy,
                        &self.outbound,
                        self.settings.connect_timeout,
                    )
                    .await
                    .map_err(|error| ScrapeError::Search(format!("{name}: {error}")))?;
                let response = net::get_same_origin(
                    &endpoint.policy,
                    url.clone(),
                    &headers,
                    &self.settings,
                    MAX_PROVIDER_REDIRECTS,
                    via,
                )
                .await
                .map_err(|error| failure(name, error))?;
                if response.status() != StatusCode::TOO_MANY_REQUESTS {
                    break response;
                }
                let wait = too_many_requests(name, response).await?;
                if retries == MAX_RETRIES_AFTER_429
                    || wait > MAX_RETRY_AFTER
                    || tokio::time::Instant::now() + wait >= deadline
                {
                    return Err(ScrapeError::Throttled(format!(
                        "{name} is refusing requests from this server for now (HTTP 429, {} attempt{}); retry in {} s",
                        retries + 1,
                        if retries == 0 { "" } else { "s" },
                        wait.as_secs().max(1)
                    )));
                }
                retries += 1;
                tracing::info!(
                    provider = name,
                    wait_ms = wait.as_millis(),
                    "HTTP 429; retrying after Retry-After"
                );
                tokio::time::sleep(wait).await;
            };
            let status = response.status();
            if !status.is_success() {
                return Err(ScrapeError::Search(format!(
                    "{name} answered HTTP {}",
                    status.as_u16()
                )));
            }
            let body = net::read_capped(response, MAX_SEARCH_BYTES)
                .await
                .map_err(|error| failure(name, error))?;
            serde_json::from_slice(&body)
                .map_err(|_| ScrapeError::Search(format!("{name} did not answer with JSON")))
        };
        // A hung provider is not "unreachable": say how long moat waited.
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| {
                ScrapeError::Search(format!(
                    "{name} did not answer within {} s",
                    self.timeout.as_secs_f64()
                ))
            })?
    }
}

/// How long a 429 asks to wait (`Retry-After` in seconds, else the first
/// window of Brave's `X-RateLimit-Reset`), or the one-line error when the
/// answer says the quota is used up (Brave's `QUOTA_LIMITED`, or a
/// `X-RateLimit-Remaining` of 0 in a window past the per-second one).
async fn too_many_requests(
    name: &str,
    response: reqwest::Response,
) -> Result<Duration, ScrapeError> {
    let headers = response.headers();
    let list = |header: &str| -> Vec<u64> {
        headers
            .get(header)
            .and_then(|value| value.to_str().ok())
            .map(|value| {
                value
                    .split(',')
                    .filter_map(|part| part.trim().parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let remaining = list("x-ratelimit-remaining");
    let reset = list("x-ratelimit-reset");
    let retry_after = headers
        .get(header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .or_else(|| reset.first().copied())
        .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs);
    let spent_window = remaining.iter().skip(1).position(|left| *left == 0);
    let body = net::read_capped(response, MAX_ERROR_BODY_BYTES)
        .await
        .unwrap_or_default();
    let quota_code = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|value| {
            value
                .pointer("/error/code")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .is_some_and(|code| code == "QUOTA_LIMITED");
    if spent_window.is_none() && !quota_code {
        return Ok(retry_after);
    }
    let renews = spent_window
        .and_then(|index| reset.get(index + 1).copied())
        .map(|seconds| format!("; it renews in about {} h", seconds.div_ceil(3600)))
        .unwrap_or_default();
    Err(ScrapeError::Search(format!(
        "{name}'s quota for this server's API key is used up (HTTP 429){renews}; search is unavailable until then, so scrape known URLs instead"
    )))
}

fn result(item: &Value, title: &str, url: &str, snippet: &str) -> Option<SearchResult> {
    let url = item.get(url)?.as_str()?.to_string();
    let title = item
        .get(title)
        .and_then(Value::as_str)
        .unwrap_or(&url)
        .to_string();
    let snippet = item.get(snippet).and_then(Value::as_str).unwrap_or("");
    let snippet = strip_tags(snippet);
    let snippet = if snippet.chars().count() > MAX_SNIPPET_CHARS {
        let mut cut: String = snippet.chars().take(MAX_SNIPPET_CHARS).collect();
        cut.push('…');
        cut
    } else {
        snippet
    };
    Some(SearchResult {
        title: strip_tags(&title),
        url,
        snippet,
    })
}

/// Providers put `<strong>` around matches; the model wants words.
fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// The one-line error for a provider exchange that failed, naming the
/// provider and the fault.
fn failure(name: &str, error: NetError) -> ScrapeError {
    ScrapeError::Search(match error {
        NetError::Request(error) => format!("{name} is unreachable: {}", net::root_cause(&error)),
        NetError::Body(error) => format!("{name} failed mid-answer: {}", net::root_cause(&error)),
        NetError::TooLarge(max) => format!("{name} sent more than {max} bytes"),
        NetError::Denied(denied) => format!("{name} is refused: {denied}"),
        other => format!("{name} {other}"),
    })
}

#[cfg(test)]
mod tests {
    use std::{
        net::SocketAddr,
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
    };

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    use super::*;

    const BODY: &str = r#"{"web":{"results":[{"url":"https://example.org/a","title":"A"}]}}"#;

    /// A loopback provider that answers every request with [`BODY`] and
    /// counts the connections it accepted.
    async fn fake_provider() -> (SocketAddr, Arc<AtomicUsize>) {
        #[expect(
            clippy::disallowed_methods,
            reason = "test fake on loopback, standing in for a search provider"
        )]
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut head = vec![0_u8; 4096];
                let _ = stream.read(&mut head).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
                    BODY.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        (address, accepted)
    }

    fn query() -> Query {
        Query {
            text: "moat".into(),
            limit: 5,
            language: None,
            time_range: None,
            safesearch: None,
        }
    }

    /// Regression: the search client connected to whatever the provider's
    /// name resolved to. A provider URL on a refused address (loopback
    /// here) is refused, without a connection, unless the operator named
    /// it; named, the same address is reached.
    #[tokio::test]
    async fn provider_on_a_refused_address_is_refused_unless_named() {
        let (address, accepted) = fake_provider().await;
        let url = format!("http://{address}/res/v1/web/search");
        let refused = Endpoint::unnamed(&url).expect_err("an unnamed loopback endpoint");
        assert!(refused.to_string().contains("loopback"), "{refused}");
        assert_eq!(accepted.load(Ordering::SeqCst), 0);
        let named = Search::with_target(
            Target::Brave(Endpoint::named(&url).expect("named"), "key".into()),
            "moat-test",
            Duration::from_secs(5),
        );
        let results = named.run(&query()).await.expect("named provider answers");
        assert_eq!(results[0].url, "https://example.org/a");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }
}
