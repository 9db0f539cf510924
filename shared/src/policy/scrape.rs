//! `[scrape]` and `[scrape.search]`: limits and manners of moat-scrape.
//!
//! Only numbers and switches live here; the URL rules are in
//! [`super::url`]. Every default is a named constant with its reason.

use std::{collections::BTreeMap, path::Path};

use serde::Deserialize;

use crate::policy::{PolicyError, key_offset};

/// Default `max_length` of one scrape, in characters: about 5,000 tokens,
/// four times the reference fetch server's 5,000 characters, and still a
/// small part of a model's context.
pub const DEFAULT_MAX_LENGTH: usize = 20_000;
/// Ceiling on `max_length` a model may ask for.
pub const DEFAULT_MAX_LENGTH_CAP: usize = 100_000;
/// Largest response body read, in bytes: real articles are well under 1 MiB
/// of HTML; past a few MiB a page is a dump or an attack.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// TCP + TLS connect timeout: a reachable server answers within a second or
/// two; waiting longer only burns the call's deadline.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5_000;
/// Whole plain-HTTP fetch (all redirects, headers and body).
pub const DEFAULT_HTTP_TIMEOUT_MS: u64 = 15_000;
/// Hard deadline of one browser call (navigation, settling, extraction).
pub const DEFAULT_BROWSER_TIMEOUT_MS: u64 = 15_000;
/// Browser pages open at once. Measured: ten open tabs cost ~1.4 GiB of
/// Chromium RSS, so a handful is the sensible default.
pub const DEFAULT_BROWSER_CONCURRENCY: usize = 4;
/// How long a browser call waits for a free page slot before it fails.
pub const DEFAULT_BROWSER_QUEUE_WAIT_MS: u64 = 10_000;
/// Redirects followed (each one re-checked against the URL policy). Real
/// sites need one to three; long chains are loops or probes.
pub const DEFAULT_MAX_REDIRECTS: usize = 5;
/// robots.txt fetch timeout: it is a courtesy, not worth a slow call.
pub const DEFAULT_ROBOTS_TIMEOUT_MS: u64 = 3_000;
/// Pages kept for continuation calls.
pub const DEFAULT_CACHE_ENTRIES: usize = 32;
/// How long a page stays in the continuation cache.
pub const DEFAULT_CACHE_TTL_SECS: u64 = 300;
/// Largest screenshot returned, in bytes of PNG.
pub const DEFAULT_SCREENSHOT_MAX_BYTES: usize = 5 * 1024 * 1024;
/// How long a browser may sit without a tab before it is closed: long
/// enough that a burst of scrapes reuses one warm browser (a launch costs
/// ~0.3 s and ~100 MiB), short enough that a quiet server holds no Chromium.
pub const DEFAULT_BROWSER_IDLE_MS: u64 = 60_000;
/// The user agent sent when the policy does not set one.
pub const DEFAULT_USER_AGENT: &str =
    "moat-scrape/0.1 (+https://example.invalid/moat; model-initiated fetch)";

/// `[scrape]`: moat-scrape's limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapePolicy {
    /// Default `max_length` of a scrape, in characters.
    pub max_length: usize,
    /// Ceiling on `max_length`.
    pub max_length_cap: usize,
    /// Largest body read, in bytes.
    pub max_body_bytes: usize,
    /// Connect timeout, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Whole plain-HTTP fetch timeout, in milliseconds.
    pub http_timeout_ms: u64,
    /// Deadline of one browser call, in milliseconds (also the cap on a
    /// call's `timeout_ms`).
    pub browser_timeout_ms: u64,
    /// Browser pages open at once.
    pub browser_concurrency: usize,
    /// Longest wait for a free browser page slot, in milliseconds.
    pub browser_queue_wait_ms: u64,
    /// Redirects followed.
    pub max_redirects: usize,
    /// Honour robots.txt (for model-initiated calls).
    pub respect_robots: bool,
    /// robots.txt fetch timeout, in milliseconds.
    pub robots_timeout_ms: u64,
    /// User-Agent header.
    pub user_agent: String,
    /// Pages kept for continuation.
    pub cache_entries: usize,
    /// Seconds a page stays cached.
    pub cache_ttl_secs: u64,
    /// Largest screenshot, in bytes.
    pub screenshot_max_bytes: usize,
    /// Chromium executable (default: `CHROME`, then `/usr/bin/chromium`).
    pub chrome: Option<String>,
    /// Connect to this DevTools WebSocket instead of launching Chromium.
    pub browser_ws: Option<String>,
    /// Where the browser's egress proxy listens (`IP:PORT`; default
    /// `127.0.0.1:0`). A remote browser (`browser_ws`) on another host needs
    /// an address it can reach; the proxy then demands a per-process
    /// credential that only moat's DevTools connection answers.
    pub egress_listen: Option<String>,
    /// The `HOST:PORT` the browser is told to use for the egress proxy, when
    /// it differs from the bound address (NAT, a container name, or an
    /// `egress_listen` on `0.0.0.0`).
    pub egress_advertise: Option<String>,
    /// The search provider.
    pub search: SearchPolicy,
    /// An upstream HTTP proxy every request leaves through
    /// (`http://HOST:PORT`), the browser's included. The URL policy is
    /// still applied by moat first; the proxy is asked for the checked IP.
    pub upstream_proxy: Option<String>,
    /// Environment variable holding `user:password` for the upstream proxy.
    pub upstream_proxy_auth_env: Option<String>,
    /// Honour `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` from
    /// the environment (off by default: a proxy is the operator's choice,
    /// not an accident of the shell moat was started from).
    pub proxy_from_env: bool,
    /// Destinations reached directly even when an upstream proxy is set
    /// (`NO_PROXY` syntax: `example.com` also matches its subdomains, `*`
    /// matches everything).
    pub no_proxy: Vec<String>,
    /// Milliseconds a browser without open tabs stays up before it is
    /// closed; 0 keeps it until the server exits.
    pub browser_idle_ms: u64,
    /// Request headers and cookies sent to one host only (`[[scrape.hosts]]`).
    pub hosts: Vec<HostSecrets>,
}

/// `[[scrape.hosts]]`: headers and cookies for one host (an intranet
/// wiki's token), sent only to that exact host (subdomains do not count)
/// and never across a redirect to another host.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSecrets {
    /// `wiki.corp` (any port) or `wiki.corp:8443` (that port only).
    pub host: String,
    /// Header name to value.
    #[serde(default)]
    pub headers: BTreeMap<String, SecretSource>,
    /// Cookie name to value, sent as one `Cookie` header.
    #[serde(default)]
    pub cookies: BTreeMap<String, SecretSource>,
}

/// A header or cookie value: written in the policy (not a secret), or read
/// from an environment variable when the server starts (a secret).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SecretSource {
    /// The value itself.
    Plain(String),
    /// `{ env = "NAME", prefix = "Bearer " }`: the prefix, then the
    /// variable's value.
    Env {
        /// The environment variable.
        env: String,
        /// Written before the value.
        #[serde(default)]
        prefix: String,
    },
}

impl Default for ScrapePolicy {
    fn default() -> Self {
        Self {
            max_length: DEFAULT_MAX_LENGTH,
            max_length_cap: DEFAULT_MAX_LENGTH_CAP,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            http_timeout_ms: DEFAULT_HTTP_TIMEOUT_MS,
            browser_timeout_ms: DEFAULT_BROWSER_TIMEOUT_MS,
            browser_concurrency: DEFAULT_BROWSER_CONCURRENCY,
            browser_queue_wait_ms: DEFAULT_BROWSER_QUEUE_WAIT_MS,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            respect_robots: true,
            robots_timeout_ms: DEFAULT_ROBOTS_TIMEOUT_MS,
            user_agent: DEFAULT_USER_AGENT.to_string(),
            cache_entries: DEFAULT_CACHE_ENTRIES,
            cache_ttl_secs: DEFAULT_CACHE_TTL_SECS,
            screenshot_max_bytes: DEFAULT_SCREENSHOT_MAX_BYTES,
            chrome: None,
            browser_ws: None,
            egress_listen: None,
            egress_advertise: None,
            search: SearchPolicy::default(),
            upstream_proxy: None,
            upstream_proxy_auth_env: None,
            proxy_from_env: false,
            no_proxy: Vec::new(),
            browser_idle_ms: DEFAULT_BROWSER_IDLE_MS,
            hosts: Vec::new(),
        }
    }
}

/// `[scrape.search]`: where `search` sends queries. The endpoint is the
/// operator's choice, so `[url]`'s host lists do not apply to it; it is
/// still reached through the URL policy's resolve-check-connect path, with
/// its own host and port opened by name (a SearXNG instance usually lives
/// on a private address) and no redirect to another host.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchPolicy {
    /// `searxng` or `brave`; unset means no search.
    pub provider: Option<String>,
    /// SearXNG base URL, e.g. `http://searxng:8080`.
    pub searxng_url: Option<String>,
    /// Brave Search API endpoint (default
    /// `https://api.search.brave.com/res/v1/web/search`).
    pub brave_url: Option<String>,
    /// Environment variable holding the Brave API key (default
    /// `BRAVE_API_KEY`). The key itself never goes in a policy file.
    pub brave_api_key_env: Option<String>,
    /// Longest wait for the provider's whole answer, in milliseconds.
    pub timeout_ms: u64,
}

/// A search provider gets this long by default: public SearXNG instances
/// fan out to several engines and can take seconds, but a model waiting
/// longer than this is better told to retry.
pub const DEFAULT_SEARCH_TIMEOUT_MS: u64 = 15_000;

impl Default for SearchPolicy {
    fn default() -> Self {
        Self {
            provider: None,
            searxng_url: None,
            brave_url: None,
            brave_api_key_env: None,
            timeout_ms: DEFAULT_SEARCH_TIMEOUT_MS,
        }
    }
}

impl ScrapePolicy {
    /// Check the numbers make sense.
    ///
    /// # Errors
    /// A [`PolicyError`] naming the field.
    pub fn validate(&self, file: &Path, source: &str) -> Result<(), PolicyError> {
        let positive = [
            ("max_length", self.max_length as u64),
            ("max_length_cap", self.max_length_cap as u64),
            ("max_body_bytes", self.max_body_bytes as u64),
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("http_timeout_ms", self.http_timeout_ms),
            ("browser_timeout_ms", self.browser_timeout_ms),
            ("browser_concurrency", self.browser_concurrency as u64),
            ("robots_timeout_ms", self.robots_timeout_ms),
            ("screenshot_max_bytes", self.screenshot_max_bytes as u64),
            ("search.timeout_ms", self.search.timeout_ms),
        ];
        for (path, value) in positive {
            if value == 0 {
                let path: Vec<&str> = std::iter::once("scrape").chain(path.split('.')).collect();
                let field = path.last().copied().unwrap_or_default();
                return Err(PolicyError::at(
                    file,
                    source,
                    key_offset(source, &path),
                    format!("field `{field}`: must be greater than 0"),
                ));
            }
        }
        if self.max_length > self.max_length_cap {
            return Err(PolicyError::at(
                file,
                source,
                key_offset(source, &["scrape", "max_length"]),
                "field `max_length`: must not exceed `max_length_cap`",
            ));
        }
        if let Some(listen) = &self.egress_listen {
            let Ok(address) = listen.parse::<std::net::SocketAddr>() else {
                return Err(PolicyError::at(
                    file,
                    source,
                    source.find("egress_listen"),
                    format!("field `egress_listen`: {listen:?} is not an IP:PORT socket address"),
                ));
            };
            if address.ip().is_unspecified() && self.egress_advertise.is_none() {
                return Err(PolicyError::at(
                    file,
                    source,
                    source.find("egress_listen"),
                    "field `egress_advertise`: required when `egress_listen` is an unspecified address (the browser must be told where the proxy is)",
                ));
            }
        }
        self.validate_network(file, source)?;
        if let Some(provider) = &self.search.provider
            && !matches!(provider.as_str(), "searxng" | "brave")
        {
            return Err(PolicyError::at(
                file,
                source,
                key_offset(source, &["scrape", "search", "provider"]),
                format!("field `provider`: {provider:?} is not `searxng` or `brave`"),
            ));
        }
        if self.search.provider.as_deref() == Some("searxng") && self.search.searxng_url.is_none() {
            return Err(PolicyError::at(
                file,
                source,
                key_offset(source, &["scrape", "search", "provider"]),
                "field `searxng_url`: required when provider = \"searxng\"",
            ));
        }
        Ok(())
    }
}

impl ScrapePolicy {
    /// The upstream proxy URL is `http://HOST:PORT` and every declared host
    /// is a bare host or `host:port`.
    fn validate_network(&self, file: &Path, source: &str) -> Result<(), PolicyError> {
        if let Some(proxy) = &self.upstream_proxy
            && let Err(message) = crate::net::Upstream::parse(proxy, None)
        {
            return Err(PolicyError::at(
                file,
                source,
                key_offset(source, &["scrape", "upstream_proxy"]),
                format!("field `upstream_proxy`: {message}"),
            ));
        }
        for entry in &self.hosts {
            if let Err(message) = crate::net::HostMatch::parse(&entry.host) {
                return Err(PolicyError::at(
                    file,
                    source,
                    source.find(&entry.host),
                    format!("field `hosts.host`: {message}"),
                ));
            }
            if let Some(name) = entry
                .headers
                .keys()
                .find(|name| reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err())
            {
                return Err(PolicyError::at(
                    file,
                    source,
                    source.find(name.as_str()),
                    format!("field `hosts.headers`: {name:?} is not a valid header name"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::policy::Policy;

    /// `egress_listen` must be an IP:PORT, and an unspecified address needs
    /// `egress_advertise`; each refusal names the field on one line.
    #[test]
    fn egress_listen_is_checked() {
        let parse = |text: &str| Policy::parse(Path::new("p.toml"), text);
        let error = parse("[scrape]\negress_listen = \"proxy.local\"\n").expect_err("refused");
        assert!(error.to_string().contains("egress_listen"), "{error}");
        assert!(!error.to_string().contains('\n'), "{error}");
        let error = parse("[scrape]\negress_listen = \"0.0.0.0:8899\"\n").expect_err("refused");
        assert!(error.to_string().contains("egress_advertise"), "{error}");
        parse("[scrape]\negress_listen = \"0.0.0.0:8899\"\negress_advertise = \"moat:8899\"\n")
            .expect("accepted");
        parse("[scrape]\negress_listen = \"127.0.0.1:0\"\n").expect("accepted");
    }
}
