//! The toolbox: builds the one [`Engine`] (policy, fetcher, robots cache,
//! page cache, browser, search client, and the state they share with a
//! fleet's other replicas) and serves the three tools over it.

use std::{path::PathBuf, sync::Arc, time::Duration};

use moat_shared::{
    Call, CallContext, ServerIdentity, Toolbox,
    net::Outbound,
    policy::{FleetPolicy, ScrapePolicy, UrlPolicy},
};
use rmcp::model::{JsonObject, Tool};

use crate::{
    browser::{BrowserPool, BrowserSettings, DEFAULT_CHROME},
    cache::PageCache,
    egress::DEFAULT_EGRESS_LISTEN,
    engine::Engine,
    error::ScrapeError,
    fetcher::{FetchLimits, Fetcher},
    politeness::Politeness,
    robots::RobotsCache,
    search::{BRAVE_KEY_ENV, Provider, Search},
    state::Store,
    tool,
};

/// How long a permit to a host outlives a replica that died holding it,
/// past the fetch's own timeout.
const LEASE_MARGIN: Duration = Duration::from_secs(1);

/// Margin added to the sum of a call's stage limits, so the stages' own
/// clear errors arrive before the runtime's generic deadline.
const CALL_MARGIN: Duration = Duration::from_secs(5);

/// What the server is built from: the policy sections and the flags.
#[derive(Debug, Clone, Default)]
pub struct ScrapeOptions {
    /// `[url]`.
    pub url: UrlPolicy,
    /// `[scrape]`.
    pub scrape: ScrapePolicy,
    /// `--chrome` (else `[scrape] chrome`, `CHROME`, `/usr/bin/chromium`).
    pub chrome: Option<PathBuf>,
    /// `--browser-ws`.
    pub browser_ws: Option<String>,
    /// `CHROME` from the environment, read by main.
    pub chrome_env: Option<String>,
    /// The Brave key, read by main from the policy's environment variable.
    pub brave_key: Option<String>,
    /// `[fleet]`.
    pub fleet: FleetPolicy,
    /// The Redis password, read by main from `[fleet] redis_password_env`.
    pub redis_password: Option<String>,
}

/// moat-scrape's toolbox.
#[derive(Debug, Clone)]
pub struct ScrapeServer {
    engine: Arc<Engine>,
}

impl ScrapeServer {
    /// Build the server. Nothing is launched or fetched yet.
    ///
    /// # Errors
    /// A search client that cannot be built, or a `[fleet] redis_url` that
    /// is not a Redis URL.
    pub fn new(options: &ScrapeOptions) -> Result<Self, ScrapeError> {
        let limits = options.scrape.clone();
        let url_policy = Arc::new(options.url.clone());
        let state = Arc::new(Store::from_policy(
            &options.fleet,
            options.redis_password.clone(),
            limits.cache_entries,
        )?);
        let fetch_timeout = Duration::from_millis(limits.http_timeout_ms);
        // A turn at a busy host may take half the fetch's time; the
        // request keeps the other half.
        let politeness = Arc::new(Politeness::new(
            state.clone(),
            &limits.politeness,
            fetch_timeout / 2,
            fetch_timeout + LEASE_MARGIN,
        ));
        let outbound = Arc::new(
            Outbound::from_policy(&limits, |name| std::env::var(name).ok())
                .map_err(ScrapeError::Invalid)?,
        );
        let fetcher = Fetcher::new(
            url_policy.clone(),
            FetchLimits {
                max_body_bytes: limits.max_body_bytes,
                connect_timeout: Duration::from_millis(limits.connect_timeout_ms),
                total_timeout: Duration::from_millis(limits.http_timeout_ms),
                max_redirects: limits.max_redirects,
                user_agent: limits.user_agent.clone(),
            },
        )
        .with_politeness(politeness)
        .with_outbound(outbound.clone());
        let chrome = options
            .chrome
            .clone()
            .or_else(|| limits.chrome.clone().map(PathBuf::from))
            .or_else(|| options.chrome_env.clone().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CHROME));
        let browser = BrowserPool::new(
            BrowserSettings {
                chrome,
                remote: options
                    .browser_ws
                    .clone()
                    .or_else(|| limits.browser_ws.clone()),
                concurrency: limits.browser_concurrency,
                queue_wait: Duration::from_millis(limits.browser_queue_wait_ms),
                connect_timeout: Duration::from_millis(limits.connect_timeout_ms),
                egress_listen: match &limits.egress_listen {
                    Some(listen) => listen.parse().map_err(|_| {
                        ScrapeError::Invalid(format!(
                            "egress_listen {listen:?} is not an IP:PORT socket address"
                        ))
                    })?,
                    None => DEFAULT_EGRESS_LISTEN,
                },
                egress_advertise: limits.egress_advertise.clone(),
                idle: Duration::from_millis(limits.browser_idle_ms),
            },
            url_policy.clone(),
        )
        .with_outbound(outbound.clone());
        let provider = provider(&limits, options.brave_key.clone());
        let search = Search::new(
            provider,
            &limits.user_agent,
            Duration::from_millis(limits.search.timeout_ms),
        )?
        .with_state(state.clone(), &limits.search)
        .with_outbound(outbound.clone());
        Ok(Self {
            engine: Arc::new(Engine {
                url_policy,
                fetcher,
                robots: RobotsCache::new(state.clone()),
                robots_timeout: Duration::from_millis(limits.robots_timeout_ms),
                cache: PageCache::new(state.clone(), Duration::from_secs(limits.cache_ttl_secs)),
                browser,
                browser_timeout: Duration::from_millis(limits.browser_timeout_ms),
                search,
                state,
                limits,
            }),
        })
    }

    /// The engine (benches and in-process tests).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }
}

fn provider(limits: &ScrapePolicy, brave_key: Option<String>) -> Provider {
    match limits.search.provider.as_deref() {
        Some("searxng") => match &limits.search.searxng_url {
            Some(base) => Provider::SearXng { base: base.clone() },
            None => Provider::None("search is not configured: set searxng_url in [scrape.search]".into()),
        },
        Some("brave") => {
            let variable = limits.search.brave_api_key_env.as_deref().unwrap_or(BRAVE_KEY_ENV);
            match brave_key {
                Some(key) if !key.is_empty() => Provider::Brave {
                    endpoint: limits.search.brave_url.clone(),
                    key,
                },
                _ => Provider::None(format!(
                    "search is configured for Brave but the environment variable {variable} is not set"
                )),
            }
        }
        _ => Provider::None(
            "no search provider is configured on this server (the operator sets [scrape.search] provider = \"searxng\" or \"brave\"); scrape a known URL instead".into(),
        ),
    }
}

const INSTRUCTIONS: &str = "Reads the web for you within an operator's URL policy. \
Use `search` to find pages, then `scrape` to read one as clean text (long pages are cut; \
the result says which start_index continues, and continuing does not refetch). \
`render` is auto by default: plain HTTP, with a headless browser only when the page needs JavaScript. \
`screenshot` returns a PNG. Private and local network addresses are refused.";

impl Toolbox for ScrapeServer {
    fn metrics(&self) -> String {
        self.engine.browser.metrics_text() + &self.engine.state.metrics_text()
    }

    fn shutdown(
        self: Arc<Self>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move { self.engine.browser.shutdown().await })
    }

    fn identity(&self) -> ServerIdentity {
        ServerIdentity {
            name: "moat-scrape",
            title: "moat search and scrape",
            version: env!("CARGO_PKG_VERSION"),
            instructions: INSTRUCTIONS.to_string(),
        }
    }

    fn tools(&self) -> Vec<Tool> {
        tool::TOOLS
            .iter()
            .map(|entry| (entry.definition)())
            .collect()
    }

    fn call(
        self: Arc<Self>,
        name: &str,
        arguments: JsonObject,
        context: CallContext,
    ) -> Option<Call> {
        let entry = tool::TOOLS.iter().find(|entry| entry.name == name)?;
        Some(entry.call(self.engine.clone(), arguments, context))
    }

    fn call_timeout(&self) -> Duration {
        let limits = &self.engine.limits;
        let scrape = limits.http_timeout_ms
            + limits.robots_timeout_ms
            + limits.browser_queue_wait_ms
            + limits.browser_timeout_ms;
        // A search is one provider request; it must be able to use all of
        // its own timeout too.
        Duration::from_millis(scrape.max(limits.search.timeout_ms)) + CALL_MARGIN
    }
}
