//! `[scrape]`, `[scrape.search]`, `[scrape.politeness]` and `[fleet]`:
//! limits and manners of moat-scrape, and where a fleet of replicas keeps
//! its shared state.
//!
//! Only numbers, switches and addresses live here; the URL rules are in
//! [`super::url`]. Every default is a named constant with its reason. It
//! must never hold a secret: the Brave key and the Redis password are
//! named by environment variable.

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
    /// Per-destination-host limits across every session (and, with
    /// `[fleet] redis_url`, every replica).
    pub politeness: PolitenessPolicy,
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
            politeness: PolitenessPolicy::default(),
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
    /// Requests per second sent to the provider, across every session
    /// (and every replica sharing `[fleet] redis_url`). Unset: 1 for Brave
    /// (its free tier's limit), no limit for SearXNG (the operator's own).
    pub rate_per_second: Option<f64>,
    /// How long a query's results are reused, in seconds; 0 turns the
    /// cache off.
    pub cache_ttl_secs: u64,
}

/// Brave's free tier allows one request per second; a faster client gets
/// HTTP 429 and burns its monthly quota on refusals.
pub const DEFAULT_BRAVE_RATE_PER_SECOND: f64 = 1.0;
/// A query's results are reused for five minutes: agents repeat a query
/// within one task, and results a few minutes old are as good as new.
pub const DEFAULT_SEARCH_CACHE_TTL_SECS: u64 = 300;

/// `[scrape.politeness]`: how hard the service may press one destination
/// host, whatever the number of sessions (and, with `[fleet] redis_url`,
/// of replicas).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolitenessPolicy {
    /// Requests to one host in flight at once.
    pub per_host_concurrency: usize,
    /// Requests started per second to one host.
    pub per_host_per_second: f64,
}

/// Requests in flight to one host: Scrapy's per-domain default (8), which
/// sites have long tolerated from crawlers, and more than one model's
/// calls ever need at once.
pub const DEFAULT_PER_HOST_CONCURRENCY: usize = 8;
/// Requests started per second to one host: ten, about one page (its
/// robots.txt and a redirect included) for each of several agents a
/// second, far below what a site notices from a browser user.
pub const DEFAULT_PER_HOST_PER_SECOND: f64 = 10.0;

impl Default for PolitenessPolicy {
    fn default() -> Self {
        Self {
            per_host_concurrency: DEFAULT_PER_HOST_CONCURRENCY,
            per_host_per_second: DEFAULT_PER_HOST_PER_SECOND,
        }
    }
}

/// `[fleet]`: state shared by replicas behind one load balancer. Off by
/// default: a single process keeps everything in memory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FleetPolicy {
    /// `redis://HOST:PORT[/DB]`: the continuation page cache, rate-limit
    /// buckets, per-host politeness, robots.txt and search caches live
    /// there. Credentials are refused in the URL (see
    /// `redis_password_env`).
    pub redis_url: Option<String>,
    /// Prefix of every key written, so several services can share one
    /// Redis.
    pub key_prefix: String,
    /// Environment variable holding the Redis password (`AUTH`), when the
    /// server requires one.
    pub redis_password_env: Option<String>,
}

/// Keys start with `moat:` unless the operator says otherwise.
pub const DEFAULT_KEY_PREFIX: &str = "moat:";

/// Longest key prefix: keys are sent on every request.
const MAX_KEY_PREFIX_CHARS: usize = 64;

impl Default for FleetPolicy {
    fn default() -> Self {
        Self {
            redis_url: None,
            key_prefix: DEFAULT_KEY_PREFIX.to_string(),
            redis_password_env: None,
        }
    }
}

impl FleetPolicy {
    /// Check the Redis URL and the prefix.
    ///
    /// # Errors
    /// A [`PolicyError`] naming the field.
    pub fn validate(&self, file: &Path, source: &str) -> Result<(), PolicyError> {
        let at = |field: &str, message: String| {
            PolicyError::at(
                file,
                source,
                key_offset(source, &["fleet", field]),
                format!("field `{field}`: {message}"),
            )
        };
        if let Some(url) = &self.redis_url {
            redis_address(url).map_err(|why| at("redis_url", format!("{url:?} {why}")))?;
        }
        if self.key_prefix.chars().count() > MAX_KEY_PREFIX_CHARS
            || self.key_prefix.chars().any(char::is_whitespace)
        {
            return Err(at(
                "key_prefix",
                format!("must be at most {MAX_KEY_PREFIX_CHARS} characters without spaces"),
            ));
        }
        Ok(())
    }
}

/// The host, port and database number of a `redis://HOST[:PORT][/DB]`
/// URL (port 6379 when absent), or why it is not one.
///
/// # Errors
/// A reason to put after the URL in a one-line message.
pub fn redis_address(url: &str) -> Result<(String, u16, u32), &'static str> {
    let parsed = url::Url::parse(url).map_err(|_| "is not a URL")?;
    if parsed.scheme() != "redis" {
        return Err("is not a redis:// URL");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "carries credentials; give the password in the environment variable named by redis_password_env",
        );
    }
    let host = match parsed.host() {
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        Some(host) => host.to_string(),
        None => return Err("has no host"),
    };
    let database = match parsed.path().trim_start_matches('/') {
        "" => 0,
        number => number
            .parse()
            .map_err(|_| "has a path that is not a database number")?,
    };
    Ok((host, parsed.port().unwrap_or(6379), database))
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
            rate_per_second: None,
            cache_ttl_secs: DEFAULT_SEARCH_CACHE_TTL_SECS,
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
            (
                "politeness.per_host_concurrency",
                self.politeness.per_host_concurrency as u64,
            ),
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
        let rates = [
            (
                "politeness.per_host_per_second",
                Some(self.politeness.per_host_per_second),
            ),
            ("search.rate_per_second", self.search.rate_per_second),
        ];
        for (path, rate) in rates {
            if let Some(rate) = rate
                && !(rate.is_finite() && rate > 0.0)
            {
                let path: Vec<&str> = std::iter::once("scrape").chain(path.split('.')).collect();
                let field = path.last().copied().unwrap_or_default();
                return Err(PolicyError::at(
                    file,
                    source,
                    key_offset(source, &path),
                    format!("field `{field}`: must be a number greater than 0"),
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
            && let Err(message) = upstream_proxy_url(proxy)
        {
            return Err(PolicyError::at(
                file,
                source,
                key_offset(source, &["scrape", "upstream_proxy"]),
                format!("field `upstream_proxy`: {message}"),
            ));
        }
        for entry in &self.hosts {
            if let Err(message) = HostMatch::parse(&entry.host) {
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
                .find(|name| http::HeaderName::from_bytes(name.as_bytes()).is_err())
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

/// A declared host: exact name or address, and a port when one was given.
/// Subdomains never match: `wiki.corp` is not `a.wiki.corp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMatch {
    host: url::Host<String>,
    port: Option<u16>,
}

impl HostMatch {
    /// Parse `name`, `name:port`, `1.2.3.4[:port]` or `[v6][:port]`.
    ///
    /// # Errors
    /// A one-line reason.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a host or host:port");
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (inside, after) = rest.split_once(']').ok_or_else(bad)?;
            let port = match after {
                "" => None,
                after => Some(after.strip_prefix(':').ok_or_else(bad)?),
            };
            (format!("[{inside}]"), port)
        } else {
            match text.split_once(':') {
                Some((host, port)) => (host.to_string(), Some(port)),
                None => (text.to_string(), None),
            }
        };
        let port = port
            .map(|port| port.parse::<u16>().map_err(|_| bad()))
            .transpose()?;
        if host.is_empty() || host.contains(['/', '@', '*', ' ']) {
            return Err(bad());
        }
        let host = url::Host::parse(&host).map_err(|_| bad())?;
        Ok(Self { host, port })
    }

    /// True when `url` names exactly this host (and port, when declared).
    pub fn matches(&self, url: &url::Url) -> bool {
        url.host().is_some_and(|host| host.to_owned() == self.host)
            && self
                .port
                .is_none_or(|port| url.port_or_known_default() == Some(port))
    }

    /// A Chromium `Fetch` URL pattern that catches every request to this
    /// host (and some others, which [`HostMatch::matches`] then rejects).
    pub fn url_pattern(&self) -> String {
        format!("*://{}*", self.host)
    }
}

/// The upstream proxy's URL, checked for its shape: `http://HOST:PORT`
/// (credentials, when present, are the network layer's business).
///
/// # Errors
/// A one-line reason that never repeats a credential.
pub fn upstream_proxy_url(text: &str) -> Result<url::Url, String> {
    let url =
        url::Url::parse(text).map_err(|_| "is not a URL like http://proxy:3128".to_string())?;
    if url.scheme() != "http" {
        return Err(format!(
            "scheme {:?} is not supported: the upstream proxy is reached over plain http:// (CONNECT carries the TLS)",
            url.scheme()
        ));
    }
    if url.host_str().is_none() {
        return Err("has no host".into());
    }
    if url.path() != "/" || url.query().is_some() {
        return Err("must be only http://HOST:PORT".into());
    }
    Ok(url)
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

    /// `[fleet] redis_url` must be a redis:// URL without credentials, and
    /// the politeness and search rates positive; each refusal is one line
    /// naming the field.
    #[test]
    fn fleet_and_rates_are_checked() {
        let parse = |text: &str| Policy::parse(Path::new("p.toml"), text);
        for (text, field) in [
            ("[fleet]\nredis_url = \"http://cache:6379\"\n", "redis_url"),
            (
                "[fleet]\nredis_url = \"redis://:pw@cache\"\n",
                "redis_password_env",
            ),
            ("[fleet]\nredis_url = \"redis://cache/x\"\n", "database"),
            ("[fleet]\nkey_prefix = \"a b\"\n", "key_prefix"),
            (
                "[scrape.politeness]\nper_host_per_second = 0.0\n",
                "per_host_per_second",
            ),
            (
                "[scrape.politeness]\nper_host_concurrency = 0\n",
                "per_host_concurrency",
            ),
            (
                "[scrape.search]\nrate_per_second = -1.0\n",
                "rate_per_second",
            ),
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.to_string().contains(field), "{text}: {error}");
            assert!(!error.to_string().contains('\n'), "{error}");
        }
        let policy =
            parse("[fleet]\nredis_url = \"redis://cache:6380/2\"\nkey_prefix = \"team-a:\"\n")
                .expect("accepted");
        assert_eq!(policy.fleet.key_prefix, "team-a:");
        assert_eq!(
            super::redis_address(policy.fleet.redis_url.as_deref().unwrap_or_default()),
            Ok(("cache".to_string(), 6380, 2))
        );
        assert_eq!(parse("").expect("empty").fleet.redis_url, None);
    }
}
