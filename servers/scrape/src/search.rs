//! Search providers: SearXNG's JSON API or Brave Search's API.
//!
//! The endpoint is the operator's (policy or flags), so it is reached with
//! a plain client, not through the URL policy; the model controls only the
//! query parameters. It must never pretend: with no provider configured,
//! or a provider failing, the tool says so.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::error::ScrapeError;

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
        /// Endpoint.
        endpoint: String,
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct SearchResult {
    /// Page title.
    pub title: String,
    /// Page URL.
    pub url: String,
    /// The provider's snippet.
    pub snippet: String,
}

/// A search client.
#[derive(Debug, Clone)]
pub struct Search {
    provider: Provider,
    client: reqwest::Client,
    /// The whole request's limit (`[scrape.search] timeout_ms`).
    timeout: Duration,
}

impl Search {
    /// A client for `provider`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(
        provider: Provider,
        user_agent: &str,
        timeout: Duration,
    ) -> Result<Self, ScrapeError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .no_proxy()
            .user_agent(user_agent.to_string())
            .build()
            .map_err(|error| {
                ScrapeError::Search(format!("cannot build the search client: {error}"))
            })?;
        Ok(Self {
            provider,
            client,
            timeout,
        })
    }

    /// The provider's name, for listings.
    pub fn provider_name(&self) -> &'static str {
        match self.provider {
            Provider::SearXng { .. } => "searxng",
            Provider::Brave { .. } => "brave",
            Provider::None(_) => "none",
        }
    }

    /// Run `query`.
    ///
    /// # Errors
    /// No provider, provider unreachable, or an answer that is not the
    /// provider's JSON.
    pub async fn run(&self, query: &Query) -> Result<Vec<SearchResult>, ScrapeError> {
        let mut results = match &self.provider {
            Provider::None(why) => return Err(ScrapeError::Search(why.clone())),
            Provider::SearXng { base } => self.searxng(base, query).await?,
            Provider::Brave { endpoint, key } => self.brave(endpoint, key, query).await?,
        };
        results.truncate(query.limit);
        Ok(results)
    }

    async fn searxng(&self, base: &str, query: &Query) -> Result<Vec<SearchResult>, ScrapeError> {
        let endpoint = format!("{}/search", base.trim_end_matches('/'));
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
        let request = self.client.get(with_params(&endpoint, &params)?);
        let value = self.json(request, "SearXNG").await?;
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
        endpoint: &str,
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
        let request = self
            .client
            .get(with_params(endpoint, &params)?)
            .header("Accept", "application/json")
            .header("X-Subscription-Token", key);
        let value = self.json(request, "Brave Search").await?;
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

    async fn json(
        &self,
        request: reqwest::RequestBuilder,
        name: &str,
    ) -> Result<Value, ScrapeError> {
        let mut response = request
            .send()
            .await
            .map_err(|error| failure(name, "is unreachable", &error, self.timeout))?;
        let status = response.status();
        if !status.is_success() {
            return Err(ScrapeError::Search(format!(
                "{name} answered HTTP {}",
                status.as_u16()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| failure(name, "failed mid-answer", &error, self.timeout))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_SEARCH_BYTES {
                return Err(ScrapeError::Search(format!(
                    "{name} sent more than {MAX_SEARCH_BYTES} bytes"
                )));
            }
        }
        serde_json::from_slice(&body)
            .map_err(|_| ScrapeError::Search(format!("{name} did not answer with JSON")))
    }
}

fn with_params(endpoint: &str, params: &[(&str, String)]) -> Result<url::Url, ScrapeError> {
    url::Url::parse_with_params(endpoint, params).map_err(|error| {
        ScrapeError::Search(format!(
            "the search endpoint {endpoint:?} is not a URL: {error}"
        ))
    })
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

/// The error for a provider request that failed: a timeout says how long
/// moat waited (a hung provider is not "unreachable"); anything else says
/// `what` with the root cause.
fn failure(name: &str, what: &str, error: &reqwest::Error, timeout: Duration) -> ScrapeError {
    if error.is_timeout() {
        return ScrapeError::Search(format!(
            "{name} did not answer within {} s",
            timeout.as_secs_f64()
        ));
    }
    ScrapeError::Search(format!("{name} {what}: {}", root_cause(error)))
}

fn root_cause(error: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut root = error.to_string();
    while let Some(cause) = source {
        root = cause.to_string();
        source = cause.source();
    }
    root
}
