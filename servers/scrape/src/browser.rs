//! The browser: one Chromium per process, behind the egress proxy.
//!
//! Its job: render a page (or take a screenshot) in a fresh tab of a
//! lazily launched (or remote) Chromium, within a hard deadline, at most
//! `concurrency` tabs at once, and recover from a crashed or hung browser
//! by killing it and launching a new one for the next call. Each call gets
//! its own browser context, created with the egress proxy as its
//! `proxyServer`, and that context is disposed on every path: a call that
//! finishes, fails, hits its deadline or is dropped (cancelled) alike.
//! A browser with no tab open for `idle` is closed, so a quiet server holds
//! no Chromium; the next call launches one again. Requests to a host the
//! policy declares headers or cookies for are paused in that tab (CDP
//! `Fetch`, only for those hosts) and continued with them added.
//!
//! It must never: download a browser (chromiumoxide's fetcher features are
//! off), let Chromium reach the network except through
//! [`crate::egress::EgressProxy`], give the proxy credential to anything
//! but the proxy's own challenge, keep a tab open after a call (nor free its
//! slot before the tab is closed), share a profile between launches, or
//! leave a profile folder behind.

use std::{
    collections::HashSet,
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use chromiumoxide::{
    Browser, BrowserConfig, Page,
    cdp::browser_protocol::{
        browser::{BrowserContextId, SetDownloadBehaviorBehavior, SetDownloadBehaviorParams},
        emulation::SetDeviceMetricsOverrideParams,
        fetch::{
            AuthChallengeResponse, AuthChallengeResponseResponse, AuthChallengeSource,
            ContinueRequestParams, ContinueWithAuthParams, EnableParams as FetchEnableParams,
            EventAuthRequired, EventRequestPaused, HeaderEntry, RequestPattern, RequestStage,
        },
        page::{AddScriptToEvaluateOnNewDocumentParams, CaptureScreenshotFormat, NavigateParams},
        target::{
            CreateBrowserContextParams, CreateTargetParams, DisposeBrowserContextParams,
            GetTargetsParams,
        },
    },
    page::ScreenshotParams,
};
use futures::StreamExt;
use moat_shared::{
    net::Outbound,
    policy::{AllowedUrl, UrlPolicy},
};
use tokio::{
    io::AsyncBufReadExt,
    sync::{Mutex, OwnedSemaphorePermit, RwLock, Semaphore},
    time::Instant,
};

use crate::{
    egress::{EgressProxy, PROXY_USER, REFUSAL_MARKER},
    error::ScrapeError,
};

/// Where Debian puts Chromium (a wrapper script that execs the binary).
pub const DEFAULT_CHROME: &str = "/usr/bin/chromium";

/// How long Chromium may take to start and print its DevTools address.
/// Measured: ~0.3 s; a cold disk or a loaded machine can take a few.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(15);

/// Timeout of one DevTools command (open a tab, evaluate...). Each is
/// milliseconds when the browser is healthy; past this it is hung.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// How long closing a tab (disposing its browser context) may take before
/// the browser is declared hung and killed.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// How often `/metrics`' page count is refreshed from Chromium's own target
/// list while a browser runs (it is also refreshed after every tab opens
/// and closes). One `Target.getTargets` is well under a millisecond.
const CENSUS_INTERVAL: Duration = Duration::from_secs(2);

/// Share of a call's deadline (in percent) spent waiting for the load
/// event; the rest is for settling and extraction, so a page that never
/// finishes loading still yields what it shows.
const NAVIGATION_SHARE_PERCENT: u32 = 60;

/// Interval between readyState checks when the settle script is missing
/// (a document the script could not be injected into, e.g. a PDF viewer).
const SETTLE_STEP: Duration = Duration::from_millis(100);

/// Longest wait for a JavaScript page to settle after its load event: a
/// page still busy after this (polling, animations, a stream) is read as
/// it is rather than holding the call.
const SETTLE_MAX: Duration = Duration::from_secs(2);

/// A page is settled once its DOM has not changed for this long after load,
/// with no fetch, XHR or short timer pending. Long enough for a promise
/// chain or a `MessageChannel`-scheduled render to land after the request
/// or timer that started it; short against a browser call's cost.
const SETTLE_QUIET_MS: u32 = 30;

/// Timers longer than this are not waited for (a page's "refresh in a
/// minute" is not content it is about to show).
const SETTLE_TIMER_HORIZON_MS: u32 = 1_000;

/// How often the page checks whether it has settled.
const SETTLE_POLL_MS: u32 = 5;

/// Time kept after the settle wait for reading the page before the call's
/// deadline.
const READ_MARGIN: Duration = Duration::from_millis(300);

/// Chromium's proxy bypass rule that removes the implicit loopback bypass:
/// a page's requests to 127.0.0.1 go through the proxy (and its policy) too.
const PROXY_BYPASS: &str = "<-loopback>";

/// Flags for a quiet headless Chromium (without the leading `--`;
/// chromiumoxide adds them): no start-up network traffic, no idle tab or
/// spare renderer. moat-compare launches its bare-chromiumoxide baseline
/// with these too, so the comparison prices moat's own work and not the
/// flags. As root Chromium does not start without no-sandbox (set by the
/// launcher); without the first group it tries to reach the network at
/// start-up and is refused many times.
pub const QUIET_CHROME_FLAGS: &[&str] = &[
    "disable-gpu",
    "no-first-run",
    "no-default-browser-check",
    "disable-background-networking",
    "disable-component-update",
    "disable-sync",
    "disable-dev-shm-usage",
    // Chromium keeps a spare renderer warm for the next navigation, but only
    // in the context that last navigated: every call's context is fresh and
    // disposed afterwards, so the spare was never used and cost a process.
    // The last three turn off Chromium's own traffic that disable-
    // background-networking leaves on (Chromium 148, counted at the egress
    // proxy over 4 calls): a network-time query to clients2.google.com, and
    // search-engine preconnects, 19 CONNECTs to www.google.com:443 (5 with
    // these three off; the profile's PROFILE_PREFERENCES removes the rest).
    // Through the egress proxy they would reach Google on every call.
    "disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,SpareRendererForSitePerProcess,NetworkTimeServiceQuerying,PreconnectToSearch,SearchEnginePreconnect2",
    // No initial tab: without it Chromium opens about:blank in the default
    // context (which no call uses) and keeps that renderer for the browser's
    // whole life. Measured (PSS of the tree, idle): 388 MiB -> 235 MiB.
    "no-startup-window",
    // Google's sign-in service on a closed loopback port: Chromium checks
    // the signed-in accounts at accounts.google.com while it starts, and
    // retries (about 1 s and 3 s later, into the first calls) when that
    // fails. No call signs in to the browser.
    "gaia-url=http://127.0.0.1:9/",
    "mute-audio",
    "hide-scrollbars",
];

/// The launched Chromium's profile preferences (`Default/Preferences`,
/// written before launch): a default search engine on a closed loopback
/// port instead of Google. Chromium preconnects to its search engine in
/// every new browser context, and every call opens one: with Google as the
/// search engine that was one CONNECT to www.google.com:443 per call
/// through the egress proxy, which the flags above cannot turn off. No
/// call searches from an omnibox, so the engine is never used. Public so
/// the remote browser's Kubernetes manifest, whose init container writes
/// the same file, can be checked against it.
pub const PROFILE_PREFERENCES: &str = r#"{"default_search_provider_data":{"template_url_data":{"keyword":"moat","short_name":"moat","url":"http://127.0.0.1:9/?q={searchTerms}"}}}"#;

/// Chromium never resolves names itself: the egress proxy does, once,
/// checked against the URL policy. Public so the remote browser's
/// Kubernetes manifest can be checked against it; a bench that runs
/// Chromium without moat's proxy leaves it out.
pub const EGRESS_CHROME_FLAGS: &[&str] =
    &["host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"];

/// How the browser is reached.
#[derive(Debug, Clone)]
pub struct BrowserSettings {
    /// Executable to launch.
    pub chrome: PathBuf,
    /// DevTools WebSocket of a remote browser to use instead.
    pub remote: Option<String>,
    /// Tabs open at once.
    pub concurrency: usize,
    /// Longest wait for a free tab.
    pub queue_wait: Duration,
    /// TCP connect timeout of the egress proxy.
    pub connect_timeout: Duration,
    /// Where the egress proxy listens.
    pub egress_listen: SocketAddr,
    /// The `HOST:PORT` the browser dials for the proxy (default: the bound
    /// address).
    pub egress_advertise: Option<String>,
    /// How long a browser with no tab open stays up; zero keeps it.
    pub idle: Duration,
}

/// What a rendered page gave us.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// The document's HTML after scripts ran.
    pub html: String,
    /// Where the tab ended up.
    pub final_url: String,
    /// The navigation's HTTP status, when Chromium reports it.
    pub status: Option<u16>,
    /// `document.contentType`.
    pub content_type: Option<String>,
    /// False when the load event had not fired by the navigation budget.
    pub loaded: bool,
}

/// A launched (or connected) browser.
struct Running {
    /// Read-locked for DevTools commands (they run concurrently);
    /// write-locked only to reap a killed child.
    browser: RwLock<Browser>,
    alive: Arc<AtomicBool>,
    launched: bool,
    /// The launched Chromium's pid, so [`kill`] needs no lock to signal it;
    /// taken by the first kill, so a reused pid is never signalled.
    pid: std::sync::Mutex<Option<u32>>,
    /// Removed by [`kill`] once Chromium has exited (or when the last
    /// reference drops, whichever comes first).
    profile: std::sync::Mutex<Option<tempfile::TempDir>>,
    /// `proxyServer` of every call's browser context.
    proxy_server: String,
    /// The browser contexts this process created and has not yet seen
    /// disposed: the census counts the page targets inside them.
    contexts: std::sync::Mutex<HashSet<BrowserContextId>>,
    /// Page targets open in those contexts, from Chromium's own target
    /// list at the last census (`/metrics`; shared with the pool).
    pages: Arc<AtomicU64>,
}

/// The one browser of this process.
pub struct BrowserPool {
    settings: BrowserSettings,
    policy: Arc<UrlPolicy>,
    /// The upstream proxy and per-host headers.
    outbound: Arc<Outbound>,
    /// One permit per tab; a permit is held until its tab is closed in
    /// Chromium, not merely until the call returns.
    slots: Arc<Semaphore>,
    running: Arc<Mutex<Option<Arc<Running>>>>,
    /// When the last tab closed (the idle clock).
    last_used: Arc<std::sync::Mutex<Instant>>,
    /// Browsers closed for being idle (not relaunches after a crash).
    idle_closes: Arc<AtomicU64>,
    proxy: Mutex<Option<Arc<EgressProxy>>>,
    /// Page targets open now, as Chromium lists them (for `/metrics`).
    pages_open: Arc<AtomicU64>,
    /// Browsers launched (or connected) since start (for `/metrics`).
    launches: AtomicU64,
}

impl std::fmt::Debug for BrowserPool {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("BrowserPool")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A call's tab: its browser context (with the page in it) and its slot.
/// Closed exactly once: by [`Tab::close`] on the call's own path, or, when
/// the call's future is dropped first (cancelled, or cut by the runtime's
/// deadline), by a task that [`Drop`] spawns. The slot is freed only after
/// the context is disposed in Chromium.
struct Tab {
    open: Option<OpenTab>,
}

/// What closing a tab needs.
struct OpenTab {
    running: Arc<Running>,
    context: BrowserContextId,
    _slot: OwnedSemaphorePermit,
}

impl Tab {
    /// Dispose the context now and say whether Chromium confirmed it in
    /// time.
    async fn close(mut self) -> bool {
        match self.open.take() {
            Some(open) => close_tab(open).await,
            None => true,
        }
    }
}

impl Drop for Tab {
    fn drop(&mut self) {
        let Some(open) = self.open.take() else {
            return;
        };
        // Without a runtime (the process is exiting) the browser is killed
        // by shutdown, and every tab with it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(close_tab(open));
        }
    }
}

/// Dispose a tab's browser context (which closes every target in it: the
/// page, its frames, its popups, its workers), refresh the census, then
/// free the slot. A browser that does not confirm in time is hung: it is
/// marked dead and killed, so the next call relaunches it.
async fn close_tab(open: OpenTab) -> bool {
    let OpenTab {
        running,
        context,
        _slot,
    } = open;
    if !running.alive.load(Ordering::SeqCst) {
        return false;
    }
    let disposed = {
        let browser = running.browser.read().await;
        tokio::time::timeout(
            CLOSE_TIMEOUT,
            browser.execute(DisposeBrowserContextParams::new(context.clone())),
        )
        .await
    };
    if matches!(disposed, Ok(Ok(_))) {
        running
            .contexts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&context);
        census(&running).await;
        true
    } else {
        tracing::warn!("a tab did not close in time; killing Chromium");
        kill(&running).await;
        false
    }
}

impl BrowserPool {
    /// A pool that launches nothing until the first call.
    pub fn new(settings: BrowserSettings, policy: Arc<UrlPolicy>) -> Self {
        let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        Self {
            settings,
            policy,
            outbound: Arc::default(),
            slots,
            running: Arc::new(Mutex::new(None)),
            last_used: Arc::new(std::sync::Mutex::new(Instant::now())),
            idle_closes: Arc::new(AtomicU64::new(0)),
            proxy: Mutex::new(None),
            pages_open: Arc::new(AtomicU64::new(0)),
            launches: AtomicU64::new(0),
        }
    }

    /// The same pool with an upstream proxy and per-host headers.
    #[must_use]
    pub fn with_outbound(mut self, outbound: Arc<Outbound>) -> Self {
        self.outbound = outbound;
        self
    }

    /// `/metrics` lines: tabs open now (Chromium's page targets in this
    /// process's browser contexts), and browser launches and relaunches.
    pub fn metrics_text(&self) -> String {
        let launches = self.launches.load(Ordering::Relaxed);
        format!(
            "# HELP moat_browser_pages_open Browser tabs open now: page targets in moat's browser contexts, from Chromium's own target list.\n# TYPE moat_browser_pages_open gauge\nmoat_browser_pages_open {}\n\
             # HELP moat_browser_launches_total Browsers launched, the first one included.\n# TYPE moat_browser_launches_total counter\nmoat_browser_launches_total {launches}\n\
             # HELP moat_browser_relaunches_total Browsers launched to replace one that crashed or hung.\n# TYPE moat_browser_relaunches_total counter\nmoat_browser_relaunches_total {}\n",
            self.pages_open.load(Ordering::Relaxed),
            launches
                .saturating_sub(1)
                .saturating_sub(self.idle_closes.load(Ordering::Relaxed)),
        )
    }

    /// Render `url` in a fresh tab within `timeout`.
    ///
    /// # Errors
    /// Busy, unavailable, crashed, timed out or refused navigation.
    pub async fn render(
        &self,
        url: &AllowedUrl,
        timeout: Duration,
    ) -> Result<Rendered, ScrapeError> {
        let deadline = Instant::now() + timeout;
        let url = url.as_str().to_string();
        self.with_tab(deadline, timeout, move |page| {
            Box::pin(async move { navigate_and_read(&page, &url, deadline, timeout).await })
        })
        .await
    }

    /// Screenshot `url` as PNG.
    ///
    /// # Errors
    /// As [`BrowserPool::render`], plus a capture failure.
    pub async fn screenshot(
        &self,
        url: &AllowedUrl,
        viewport: (u32, u32),
        full_page: bool,
        timeout: Duration,
    ) -> Result<(Vec<u8>, Rendered), ScrapeError> {
        let deadline = Instant::now() + timeout;
        let url = url.as_str().to_string();
        self.with_tab(deadline, timeout, move |page| {
            Box::pin(async move {
                page.execute(SetDeviceMetricsOverrideParams::new(
                    i64::from(viewport.0),
                    i64::from(viewport.1),
                    1.0,
                    false,
                ))
                .await
                .map_err(cdp_error)?;
                let rendered = navigate_and_read(&page, &url, deadline, timeout).await?;
                let params = ScreenshotParams::builder()
                    .format(CaptureScreenshotFormat::Png)
                    .full_page(full_page)
                    .build();
                let png = page.screenshot(params).await.map_err(cdp_error)?;
                Ok((png, rendered))
            })
        })
        .await
    }

    /// Run `work` on a fresh tab: take a slot, make sure a browser runs,
    /// open the tab, enforce the deadline, close the tab, and kill the
    /// browser when it crashed or hung. Dropped at any await, the tab still
    /// closes (see [`Tab`]).
    async fn with_tab<T, F>(
        &self,
        deadline: Instant,
        timeout: Duration,
        work: F,
    ) -> Result<T, ScrapeError>
    where
        F: FnOnce(Page) -> futures::future::BoxFuture<'static, Result<T, ScrapeError>>,
    {
        let slot =
            tokio::time::timeout(self.settings.queue_wait, self.slots.clone().acquire_owned())
                .await
                .map_err(|_| ScrapeError::Busy {
                    slots: self.settings.concurrency,
                    waited: self.settings.queue_wait,
                })?
                .map_err(|_| ScrapeError::Browser("the browser is shutting down".into()))?;
        let running = self.ensure_running().await?;
        let opening = Instant::now();
        let (tab, page) = match open_tab(running.clone(), slot).await {
            Ok(opened) => opened,
            Err(OpenError::Failed(error)) => {
                self.retire(&running).await;
                return Err(ScrapeError::Browser(format!(
                    "Chromium could not open a tab ({error}); it was restarted, retry the call"
                )));
            }
            Err(OpenError::Hung) => {
                self.retire(&running).await;
                return Err(ScrapeError::Browser(
                    "Chromium stopped answering; it was killed and will be relaunched, retry the call".into(),
                ));
            }
        };
        tracing::debug!(elapsed = ?opening.elapsed(), "tab opened");
        let working = Instant::now();
        let outcome = if self.outbound.declared_hosts().next().is_some() {
            match add_declared_headers(&page, self.outbound.clone()).await {
                Ok(()) => tokio::time::timeout_at(deadline, work(page)).await,
                Err(error) => Ok(Err(error)),
            }
        } else {
            tokio::time::timeout_at(deadline, work(page)).await
        };
        tracing::debug!(elapsed = ?working.elapsed(), "tab work done");
        let closing = Instant::now();
        let crashed = !running.alive.load(Ordering::SeqCst);
        let closed = !crashed && tab.close().await;
        tracing::debug!(elapsed = ?closing.elapsed(), "tab closed");
        *self
            .last_used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        if crashed {
            self.retire(&running).await;
            return Err(ScrapeError::Browser(
                "Chromium crashed during the call; it will be relaunched, retry the call".into(),
            ));
        }
        if !closed {
            self.retire(&running).await;
            // A browser that cannot close a tab is hung (e.g. SIGSTOPped):
            // whatever went wrong in the call was its fault, not the page's.
            if !matches!(outcome, Ok(Ok(_))) {
                return Err(ScrapeError::Browser(
                    "Chromium stopped answering during the call; it was killed and will be relaunched, retry the call".into(),
                ));
            }
        }
        match outcome {
            Ok(result) => result,
            Err(_) => Err(ScrapeError::Timeout {
                what: "rendering the page in the browser",
                limit: timeout,
            }),
        }
    }

    /// The running browser, launching one when there is none or the last
    /// one died.
    async fn ensure_running(&self) -> Result<Arc<Running>, ScrapeError> {
        let mut slot = self.running.lock().await;
        if let Some(running) = slot.as_ref()
            && running.alive.load(Ordering::SeqCst)
        {
            return Ok(running.clone());
        }
        if let Some(old) = slot.take() {
            kill(&old).await;
        }
        let running = self.start().await?;
        spawn_census(&running);
        self.spawn_idle_watch(&running);
        self.launches.fetch_add(1, Ordering::Relaxed);
        *slot = Some(running.clone());
        Ok(running)
    }

    /// Close `running` once no tab has been open for the idle time: the
    /// watch takes every slot first, so no call is using it or about to.
    fn spawn_idle_watch(&self, running: &Arc<Running>) {
        let idle = self.settings.idle;
        if idle.is_zero() {
            return;
        }
        let weak = Arc::downgrade(running);
        let current = self.running.clone();
        let slots = self.slots.clone();
        let last_used = self.last_used.clone();
        let closes = self.idle_closes.clone();
        let all = u32::try_from(self.settings.concurrency.max(1)).unwrap_or(u32::MAX);
        *last_used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        tokio::spawn(async move {
            loop {
                let since = *last_used
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                tokio::time::sleep_until(since + idle).await;
                let Some(running) = weak.upgrade() else {
                    return;
                };
                if !running.alive.load(Ordering::SeqCst) {
                    return;
                }
                let mut slot = current.lock().await;
                if !slot.as_ref().is_some_and(|now| Arc::ptr_eq(now, &running)) {
                    return;
                }
                let Ok(_every_slot) = slots.clone().try_acquire_many_owned(all) else {
                    // A call holds a tab: look again one idle time later
                    // (its close restarts the idle clock anyway).
                    drop(slot);
                    tokio::time::sleep(idle).await;
                    continue;
                };
                let since = *last_used
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if since.elapsed() < idle {
                    continue;
                }
                *slot = None;
                drop(slot);
                closes.fetch_add(1, Ordering::Relaxed);
                tracing::info!(idle_ms = idle.as_millis(), "closing the idle browser");
                kill(&running).await;
                return;
            }
        });
    }

    /// Kill `running` if it is still the current browser.
    async fn retire(&self, running: &Arc<Running>) {
        running.alive.store(false, Ordering::SeqCst);
        let mut slot = self.running.lock().await;
        if slot
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, running))
        {
            *slot = None;
        }
        drop(slot);
        kill(running).await;
    }

    async fn proxy(&self) -> Result<Arc<EgressProxy>, ScrapeError> {
        let mut slot = self.proxy.lock().await;
        if let Some(proxy) = slot.as_ref() {
            return Ok(proxy.clone());
        }
        let proxy = Arc::new(
            EgressProxy::start(
                self.policy.clone(),
                self.outbound.clone(),
                self.settings.connect_timeout,
                self.settings.egress_listen,
                // A launched Chromium reaches the loopback proxy privately
                // enough; a remote one needs the proxy where others may
                // reach it too.
                self.settings.remote.is_some(),
            )
            .await
            .map_err(|error| {
                ScrapeError::Browser(format!(
                    "cannot start the egress proxy on {}: {error}",
                    self.settings.egress_listen
                ))
            })?,
        );
        *slot = Some(proxy.clone());
        Ok(proxy)
    }

    async fn start(&self) -> Result<Arc<Running>, ScrapeError> {
        let proxy = self.proxy().await?;
        if let Some(remote) = &self.settings.remote {
            #[expect(
                clippy::disallowed_methods,
                reason = "the operator's own DevTools endpoint (--browser-ws), connected to once"
            )]
            let (browser, handler) = Browser::connect(remote.clone()).await.map_err(|error| {
                ScrapeError::BrowserUnavailable(format!(
                    "cannot connect to the browser at --browser-ws: {error}"
                ))
            })?;
            tracing::info!(
                "using a remote browser: every call's browser context goes through the egress proxy, which it must reach"
            );
            return self.finish_start(browser, handler, &proxy, None).await;
        }
        let temp = std::env::temp_dir();
        sweep_orphan_profiles(&temp);
        let profile = tempfile::Builder::new()
            .prefix(&format!("{PROFILE_PREFIX}{}-", std::process::id()))
            .tempdir_in(&temp)
            .map_err(|error| {
                ScrapeError::Browser(format!("cannot create a browser profile folder: {error}"))
            })?;
        seed_profile(profile.path()).map_err(|error| {
            ScrapeError::Browser(format!("cannot prepare the browser profile: {error}"))
        })?;
        let mut builder = BrowserConfig::builder()
            .chrome_executable(&self.settings.chrome)
            .user_data_dir(profile.path())
            .no_sandbox()
            .launch_timeout(LAUNCH_TIMEOUT)
            .request_timeout(COMMAND_TIMEOUT)
            // The default context too, though no call uses it.
            .arg(format!(
                "proxy-server=http://{}",
                self.proxy_address(&proxy)
            ))
            .arg(format!("proxy-bypass-list={PROXY_BYPASS}"));
        for flag in QUIET_CHROME_FLAGS.iter().chain(EGRESS_CHROME_FLAGS) {
            builder = builder.arg(*flag);
        }
        let config = builder
            .build()
            .map_err(|message| self.unavailable(&message))?;
        let (mut browser, handler) = Browser::launch(config)
            .await
            .map_err(|error| self.unavailable(&error.to_string()))?;
        // chromiumoxide reads Chromium's stderr only until the DevTools
        // address; drain the rest or a chatty Chromium blocks on a full pipe.
        if let Some(stderr) = browser
            .get_mut_child()
            .and_then(|child| child.as_mut_inner().stderr.take())
        {
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::debug!(target: "chromium", "{line}");
                }
            });
        }
        self.finish_start(browser, handler, &proxy, Some(profile))
            .await
    }

    /// The `HOST:PORT` the browser dials for the egress proxy.
    fn proxy_address(&self, proxy: &EgressProxy) -> String {
        self.settings
            .egress_advertise
            .clone()
            .unwrap_or_else(|| proxy.address().to_string())
    }

    /// Watch the DevTools connection, deny downloads, and, on a remote
    /// browser, answer the egress proxy's challenge for every request
    /// (browser-wide `Fetch`, so frames in other processes, workers and
    /// popups are covered too).
    async fn finish_start(
        &self,
        mut browser: Browser,
        mut handler: chromiumoxide::Handler,
        proxy: &EgressProxy,
        profile: Option<tempfile::TempDir>,
    ) -> Result<Arc<Running>, ScrapeError> {
        let alive = Arc::new(AtomicBool::new(true));
        let flag = alive.clone();
        tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if let Err(error) = event {
                    tracing::warn!(%error, "lost the DevTools connection to Chromium");
                    break;
                }
            }
            flag.store(false, Ordering::SeqCst);
        });
        let deny = SetDownloadBehaviorParams::builder()
            .behavior(SetDownloadBehaviorBehavior::Deny)
            .build();
        if let Ok(deny) = deny
            && let Err(error) = browser.execute(deny).await
        {
            tracing::warn!(%error, "could not disable downloads");
        }
        let launched = profile.is_some();
        let pid = browser
            .get_mut_child()
            .and_then(|child| child.as_mut_inner().id());
        let address = self.proxy_address(proxy);
        let running = Arc::new(Running {
            browser: RwLock::new(browser),
            alive,
            launched,
            pid: std::sync::Mutex::new(pid),
            profile: std::sync::Mutex::new(profile),
            proxy_server: format!("http://{address}"),
            contexts: std::sync::Mutex::new(HashSet::new()),
            pages: self.pages_open.clone(),
        });
        // Only a remote browser's proxy demands the credential. Measured on
        // a launched Chromium: with browser-wide `Fetch` interception, a
        // storm of calls cancelled mid-load left later navigations stalled
        // before their first request, so it is not used where not needed.
        if !launched
            && let Err(error) = answer_proxy_challenges(&running, &address, proxy.password()).await
        {
            kill(&running).await;
            return Err(ScrapeError::Browser(format!(
                "the browser did not accept DevTools request interception ({error}), so its requests could not be sent through the egress proxy"
            )));
        }
        tracing::info!(launched, "browser ready");
        Ok(running)
    }

    fn unavailable(&self, detail: &str) -> ScrapeError {
        let chrome = self.settings.chrome.display();
        ScrapeError::BrowserUnavailable(format!(
            "the browser is not available ({chrome}: {detail}); install Chromium (Debian/Ubuntu: apt-get install -y chromium), point CHROME or --chrome at it, or use render=\"http\""
        ))
    }

    /// Kill the browser (tests and shutdown).
    pub async fn shutdown(&self) {
        if let Some(running) = self.running.lock().await.take() {
            kill(&running).await;
        }
    }
}

/// Why a tab could not be opened.
enum OpenError {
    /// Chromium answered with an error.
    Failed(String),
    /// Chromium did not answer in time.
    Hung,
}

/// Open a tab in a fresh browser context that goes through the egress
/// proxy. The work runs in its own task: if the caller is dropped midway,
/// the task still learns the context it created and disposes it, so a
/// cancelled open leaks nothing either.
async fn open_tab(
    running: Arc<Running>,
    slot: OwnedSemaphorePermit,
) -> Result<(Tab, Page), OpenError> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let context = {
            let browser = running.browser.read().await;
            let params = CreateBrowserContextParams::builder()
                .proxy_server(running.proxy_server.clone())
                .proxy_bypass_list(PROXY_BYPASS)
                // A remote browser drops the context if moat goes away.
                .dispose_on_detach(true)
                .build();
            tokio::time::timeout(COMMAND_TIMEOUT, browser.create_browser_context(params)).await
        };
        let context = match context {
            Ok(Ok(context)) => context,
            Ok(Err(error)) => {
                let _ = sender.send(Err(OpenError::Failed(error.to_string())));
                return;
            }
            Err(_) => {
                let _ = sender.send(Err(OpenError::Hung));
                return;
            }
        };
        running
            .contexts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(context.clone());
        let tab = Tab {
            open: Some(OpenTab {
                running: running.clone(),
                context: context.clone(),
                _slot: slot,
            }),
        };
        let page = {
            let browser = running.browser.read().await;
            let mut params = CreateTargetParams::new("about:blank");
            params.browser_context_id = Some(context);
            tokio::time::timeout(COMMAND_TIMEOUT, browser.new_page(params)).await
        };
        let opened = match page {
            Ok(Ok(page)) => Ok((tab, page)),
            Ok(Err(error)) => {
                tab.close().await;
                Err(OpenError::Failed(error.to_string()))
            }
            Err(_) => {
                tab.close().await;
                Err(OpenError::Hung)
            }
        };
        if opened.is_ok() {
            census(&running).await;
        }
        // A caller that is gone drops the tab with the failed send: its
        // Drop disposes the context.
        let _ = sender.send(opened);
    });
    receiver
        .await
        .unwrap_or_else(|_| Err(OpenError::Failed("the tab opener stopped".into())))
}

/// Count the page targets in this process's browser contexts, as Chromium
/// lists them (`Target.getTargets`), into the `/metrics` gauge.
async fn census(running: &Running) {
    if !running.alive.load(Ordering::SeqCst) {
        return;
    }
    let targets = {
        let browser = running.browser.read().await;
        tokio::time::timeout(
            COMMAND_TIMEOUT,
            browser.execute(GetTargetsParams::default()),
        )
        .await
    };
    let Ok(Ok(targets)) = targets else {
        return;
    };
    let contexts = running
        .contexts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let pages = targets
        .result
        .target_infos
        .iter()
        .filter(|target| target.r#type == "page")
        .filter(|target| {
            target
                .browser_context_id
                .as_ref()
                .is_some_and(|context| contexts.contains(context))
        })
        .count();
    if running.alive.load(Ordering::SeqCst) {
        running.pages.store(pages as u64, Ordering::Relaxed);
    }
}

/// Refresh the census every [`CENSUS_INTERVAL`] while `running` lives, so
/// `/metrics` also sees tabs that appear or vanish between calls (popups,
/// crashed renderers).
fn spawn_census(running: &Arc<Running>) {
    let weak = Arc::downgrade(running);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(CENSUS_INTERVAL).await;
            let Some(running) = weak.upgrade() else {
                return;
            };
            if !running.alive.load(Ordering::SeqCst) {
                return;
            }
            census(&running).await;
        }
    });
}

/// Pause every request of the browser (browser-wide `Fetch.enable` with
/// auth handling) and let it go on at once, answering only the egress
/// proxy's own 407 challenge with the credential. Any other challenge (a
/// site's 401, another proxy) gets Chromium's default: never the
/// credential.
///
/// # Security
/// The credential is given only when the challenge comes from a proxy
/// whose origin is `http://{address}`, the one every moat context uses.
async fn answer_proxy_challenges(
    running: &Arc<Running>,
    address: &str,
    password: &str,
) -> Result<(), chromiumoxide::error::CdpError> {
    let browser = running.browser.read().await;
    let mut paused = browser.event_listener::<EventRequestPaused>().await?;
    let mut challenges = browser.event_listener::<EventAuthRequired>().await?;
    let origin = format!("http://{address}");
    let password = password.to_string();
    let weak: Weak<Running> = Arc::downgrade(running);
    tokio::spawn(async move {
        loop {
            let answer = tokio::select! {
                event = paused.next() => match event {
                    Some(event) => Answer::Continue(ContinueRequestParams::new(event.request_id.clone())),
                    None => return,
                },
                event = challenges.next() => match event {
                    Some(event) => {
                        let ours = event.auth_challenge.source == Some(AuthChallengeSource::Proxy)
                            && event.auth_challenge.origin == origin;
                        let response = if ours {
                            let mut response = AuthChallengeResponse::new(AuthChallengeResponseResponse::ProvideCredentials);
                            response.username = Some(PROXY_USER.to_string());
                            response.password = Some(password.clone());
                            response
                        } else {
                            AuthChallengeResponse::new(AuthChallengeResponseResponse::Default)
                        };
                        Answer::Auth(ContinueWithAuthParams::new(event.request_id.clone(), response))
                    }
                    None => return,
                },
            };
            let Some(running) = weak.upgrade() else {
                return;
            };
            // Answered concurrently: one slow answer must not hold up the
            // requests of other tabs.
            match answer {
                Answer::Continue(params) => tokio::spawn(respond(running, params)),
                Answer::Auth(params) => tokio::spawn(respond(running, params)),
            };
        }
    });
    let enable = FetchEnableParams::builder()
        .handle_auth_requests(true)
        .pattern(RequestPattern::builder().url_pattern("*").build())
        .build();
    tokio::time::timeout(COMMAND_TIMEOUT, browser.execute(enable))
        .await
        .map_err(|_| chromiumoxide::error::CdpError::Timeout)??;
    Ok(())
}

/// One answer to a paused request.
enum Answer {
    Continue(ContinueRequestParams),
    Auth(ContinueWithAuthParams),
}

/// Send one answer to a paused request.
async fn respond<T: chromiumoxide::types::Command>(running: Arc<Running>, command: T) {
    let browser = running.browser.read().await;
    if let Ok(Err(error)) = tokio::time::timeout(COMMAND_TIMEOUT, browser.execute(command)).await {
        // A request of a tab closed meanwhile: nothing left to answer.
        tracing::debug!(%error, "a paused browser request could not be answered");
    }
}

async fn kill(running: &Running) {
    running.alive.store(false, Ordering::SeqCst);
    running.pages.store(0, Ordering::Relaxed);
    if !running.launched {
        return;
    }
    // Signalled without the lock: a hung browser may hold DevTools
    // commands (and their read locks) until they time out.
    // Listed before the browser dies: once it is gone they belong to init.
    let pid = running
        .pid
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(pid) = pid {
        let mut tree = descendants(pid);
        tree.push(pid);
        kill_all(&tree);
    }
    let mut browser = running.browser.write().await;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, browser.kill()).await;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, browser.wait()).await;
    drop(browser);
    // Remove the profile now rather than when the last in-flight call lets
    // go of `running`: at shutdown the process may exit before that.
    let profile = running
        .profile
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(profile) = profile {
        remove_profile(profile.keep()).await;
    }
}

/// How long [`remove_profile`] keeps trying: Chromium's helper processes
/// (zygote, renderers) outlive the browser process by a few milliseconds
/// and may still write into the profile while it is being removed.
const PROFILE_REMOVE_TRIES: u32 = 40;
const PROFILE_REMOVE_PAUSE: Duration = Duration::from_millis(50);

/// Write [`PROFILE_PREFERENCES`] into a new, empty profile folder.
///
/// # Ambient Authority
/// Writes into the profile folder this process has just created in the
/// temp directory.
#[expect(
    clippy::disallowed_methods,
    reason = "moat-scrape's own new profile folder in the temp directory, not a served root"
)]
fn seed_profile(profile: &std::path::Path) -> std::io::Result<()> {
    let default = profile.join("Default");
    std::fs::create_dir(&default)?;
    std::fs::write(default.join("Preferences"), PROFILE_PREFERENCES)
}

/// Remove a dead browser's profile folder, retrying while its helper
/// processes finish writing into it.
///
/// # Ambient Authority
/// Removes the profile folder this process created in the temp directory.
#[expect(
    clippy::disallowed_methods,
    reason = "moat-scrape's own profile folder in the temp directory, not a served root"
)]
async fn remove_profile(path: std::path::PathBuf) {
    for _ in 0..PROFILE_REMOVE_TRIES {
        match std::fs::remove_dir_all(&path) {
            Ok(()) => return,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) => tokio::time::sleep(PROFILE_REMOVE_PAUSE).await,
        }
    }
    if let Err(error) = std::fs::remove_dir_all(&path) {
        tracing::warn!(path = %path.display(), %error, "could not remove the browser profile");
    }
}

/// Chromium profile folders are named `<prefix><pid>-<random>` in the temp
/// directory, so a later process can tell whose they are.
const PROFILE_PREFIX: &str = "moat-scrape-profile-";

/// Remove profile folders left by moat-scrape processes that no longer run
/// (killed with SIGKILL, they could not clean up). A folder whose owner is
/// alive, or whose name does not parse, is left alone.
///
/// # Ambient Authority
/// Lists and removes entries of the temp directory that carry moat's own
/// profile prefix; nothing else.
#[expect(
    clippy::disallowed_methods,
    reason = "moat-scrape's own profile folders in the temp directory, not a served root"
)]
fn sweep_orphan_profiles(temp: &std::path::Path) {
    // A SIGKILLed moat-scrape also leaves its Chromium running (reparented
    // to init, holding memory forever): kill those first, found by the
    // profile folder on their command line, whether or not the folder is
    // still there.
    kill_all(&orphan_browsers(temp));
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(profile_owner) else {
            continue;
        };
        let alive = std::fs::metadata(format!("/proc/{owner}")).is_ok();
        if !alive && std::fs::remove_dir_all(entry.path()).is_ok() {
            tracing::info!(folder = %entry.path().display(), "removed an orphaned browser profile");
        }
    }
}

/// The owner pid in a profile folder name `<prefix><pid>-<random>`.
fn profile_owner(name: &str) -> Option<u32> {
    name.strip_prefix(PROFILE_PREFIX)?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// Every process: its pid and its `/proc/<pid>` folder.
///
/// # Ambient Authority
/// Lists `/proc`; nothing else.
#[expect(
    clippy::disallowed_methods,
    reason = "lists /proc to find Chromium processes, not a served root"
)]
fn processes() -> impl Iterator<Item = (u32, std::path::PathBuf)> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((pid, entry.path()))
        })
}

/// Processes started with `--user-data-dir=<temp>/<prefix><pid>-...` whose
/// owner `pid` no longer runs.
///
/// # Ambient Authority
/// Reads `/proc/<pid>/cmdline` of every process; nothing else.
#[expect(
    clippy::disallowed_methods,
    reason = "reads /proc to find browsers orphaned by a killed moat-scrape, not a served root"
)]
fn orphan_browsers(temp: &std::path::Path) -> Vec<u32> {
    let flag = format!("--user-data-dir={}/", temp.display());
    let mut found = Vec::new();
    for (pid, path) in processes() {
        let Ok(cmdline) = std::fs::read(path.join("cmdline")) else {
            continue;
        };
        let orphaned = cmdline.split(|&byte| byte == 0).any(|argument| {
            std::str::from_utf8(argument)
                .ok()
                .and_then(|argument| argument.strip_prefix(&flag))
                .and_then(profile_owner)
                .is_some_and(|owner| std::fs::metadata(format!("/proc/{owner}")).is_err())
        });
        if orphaned {
            found.push(pid);
        }
    }
    found
}

/// Every process descending from `root`: Chromium's zygote, renderer, GPU
/// and utility processes. Killing the browser alone leaves them behind,
/// and stopped forever when the whole tree was frozen (SIGSTOP).
///
/// # Ambient Authority
/// Reads `/proc/<pid>/stat` of every process; nothing else.
#[expect(
    clippy::disallowed_methods,
    reason = "reads /proc to find Chromium's helper processes, not a served root"
)]
fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for (pid, path) in processes() {
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let parent = std::fs::read_to_string(path.join("stat"))
            .ok()
            .and_then(|stat| {
                let (_, rest) = stat.rsplit_once(") ")?;
                rest.split(' ').nth(1)?.parse::<u32>().ok()
            });
        if let Some(parent) = parent {
            parents.push((pid, parent));
        }
    }
    let mut found = vec![root];
    let mut index = 0;
    while let Some(&parent) = found.get(index) {
        found.extend(
            parents
                .iter()
                .filter(|(_, of)| *of == parent)
                .map(|(pid, _)| *pid),
        );
        index += 1;
    }
    found.split_off(1)
}

/// SIGKILL every process of `pids` (works on stopped processes too).
fn kill_all(pids: &[u32]) {
    for pid in pids {
        if let Some(pid) = i32::try_from(*pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

#[expect(clippy::needless_pass_by_value, reason = "used as a map_err function")]
fn cdp_error(error: chromiumoxide::error::CdpError) -> ScrapeError {
    ScrapeError::Browser(format!("the browser failed: {error}"))
}

/// The page state read by [`navigate_and_read`], as JSON from the page.
#[derive(Debug, serde::Deserialize)]
struct State {
    ready: String,
    url: String,
    status: Option<u16>,
    #[serde(rename = "type")]
    content_type: Option<String>,
    html: String,
}

/// Injected into every document of a call's tab before its own scripts
/// run: counts fetches, XHRs and short timers in flight and notes the last
/// DOM mutation, and offers `__moatSettle(loadMs, quietMs, maxMs)`, a
/// promise that resolves once the page has loaded and has been quiet (none
/// in flight, no mutation) for `quietMs`, or when its bounds pass. Timers
/// set from timer callbacks more than two deep are not counted, so a
/// polling loop does not hold the wait to its bound.
const SETTLE_SCRIPT: &str = r"(() => {
  if (window.__moatSettle) return;
  const st = window.setTimeout.bind(window), ct = window.clearTimeout.bind(window);
  const now = () => performance.now();
  let pending = 0, depth = 0, last = now(), loadedAt = null;
  const timers = new Set();
  window.setTimeout = function (fn, ms, ...args) {
    if (typeof fn !== 'function') return st(fn, ms, ...args);
    const level = depth;
    const counted = level < 3 && (+ms || 0) <= HORIZON;
    let id;
    const run = function () {
      if (timers.delete(id)) pending--;
      const saved = depth; depth = level + 1;
      try { return fn.apply(this, args); } finally { depth = saved; last = now(); }
    };
    id = st(run, ms);
    if (counted) { timers.add(id); pending++; }
    return id;
  };
  window.clearTimeout = function (id) { if (timers.delete(id)) pending--; return ct(id); };
  const done = () => { pending--; last = now(); };
  if (window.fetch) {
    const f = window.fetch;
    window.fetch = function () {
      pending++;
      try { const p = f.apply(this, arguments); p.then(done, done); return p; } catch (e) { done(); throw e; }
    };
  }
  if (window.XMLHttpRequest) {
    const send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.send = function () {
      pending++;
      this.addEventListener('loadend', done, { once: true });
      try { return send.apply(this, arguments); } catch (e) { done(); throw e; }
    };
  }
  new MutationObserver(() => { last = now(); })
    .observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  window.addEventListener('load', () => { loadedAt = now(); last = now(); });
  window.__moatSettle = (loadMs, quietMs, maxMs) => new Promise((resolve) => {
    const start = now();
    const check = () => {
      const t = now();
      const loaded = document.readyState === 'complete';
      const since = loaded ? Math.max(loadedAt === null ? start : loadedAt, start) : start;
      if ((loaded && pending <= 0 && t - last >= quietMs) || (loaded && t - since >= maxMs)
          || (!loaded && t - start >= loadMs)) { resolve(); return; }
      st(check, POLL);
    };
    check();
  });
})()";

/// The page's state and HTML, as one JSON string.
const READ_SCRIPT: &str = "(() => { const n = performance.getEntriesByType('navigation')[0]; \
    return JSON.stringify({ ready: document.readyState, url: location.href, \
    status: n && n.responseStatus ? n.responseStatus : null, type: document.contentType || null, \
    html: document.documentElement ? document.documentElement.outerHTML : '' }); })()";

/// [`SETTLE_SCRIPT`] with its constants filled in.
fn settle_script() -> String {
    SETTLE_SCRIPT
        .replace("HORIZON", &SETTLE_TIMER_HORIZON_MS.to_string())
        .replace("POLL", &SETTLE_POLL_MS.to_string())
}

/// Wait (in the page) until it settled, then read it; a page without the
/// settle script (it could not be injected) only waits for its load event.
fn settle_and_read(load: Duration, settle: Duration) -> String {
    let (load, settle) = (load.as_millis(), settle.as_millis());
    format!(
        "(window.__moatSettle ? window.__moatSettle({load}, {SETTLE_QUIET_MS}, {settle}) \
         : new Promise((r) => {{ const s = performance.now(); (function c() {{ \
         if (document.readyState === 'complete' || performance.now() - s > {load}) r(); \
         else setTimeout(c, {}); }})(); }})).then(() => {READ_SCRIPT})",
        SETTLE_STEP.as_millis()
    )
}

async fn read_state(page: &Page, script: &str) -> Result<State, ScrapeError> {
    let json: String = page
        .evaluate(script)
        .await
        .map_err(cdp_error)?
        .into_value()
        .map_err(|error| ScrapeError::Browser(format!("unexpected page state: {error}")))?;
    serde_json::from_str(&json)
        .map_err(|error| ScrapeError::Browser(format!("unexpected page state: {error}")))
}

/// Pause this tab's requests to the hosts the policy declares headers or
/// cookies for (`Fetch` patterns for those hosts only: interception of
/// every request was measured to stall navigations), and continue each
/// with the declared values added when its host matches exactly.
async fn add_declared_headers(page: &Page, outbound: Arc<Outbound>) -> Result<(), ScrapeError> {
    let mut paused = page
        .event_listener::<EventRequestPaused>()
        .await
        .map_err(cdp_error)?;
    let patterns: Vec<RequestPattern> = outbound
        .declared_hosts()
        .map(|host| {
            RequestPattern::builder()
                .url_pattern(host.url_pattern())
                .request_stage(RequestStage::Request)
                .build()
        })
        .collect();
    let enable = FetchEnableParams::builder().patterns(patterns).build();
    page.execute(enable).await.map_err(cdp_error)?;
    let answering = page.clone();
    tokio::spawn(async move {
        while let Some(event) = paused.next().await {
            let mut params = ContinueRequestParams::new(event.request_id.clone());
            if let Ok(url) = url::Url::parse(&event.request.url) {
                let declared = outbound.headers_for(&url);
                if !declared.is_empty() {
                    params.headers = Some(merge_headers(event.request.headers.inner(), &declared));
                }
            }
            let page = answering.clone();
            tokio::spawn(async move {
                if let Err(error) = page.execute(params).await {
                    tracing::debug!(%error, "a paused browser request could not be continued");
                }
            });
        }
    });
    Ok(())
}

/// The request's own headers with the declared ones set (a declared
/// `Cookie` is appended to the page's own cookies).
fn merge_headers(
    existing: &serde_json::Value,
    declared: &reqwest::header::HeaderMap,
) -> Vec<HeaderEntry> {
    let mut entries = Vec::new();
    let mut page_cookie = None;
    if let Some(existing) = existing.as_object() {
        for (name, value) in existing {
            let value = value.as_str().unwrap_or_default().to_string();
            if name.eq_ignore_ascii_case("cookie") {
                page_cookie = Some(value);
            } else if !declared.contains_key(name.as_str()) {
                entries.push(HeaderEntry::new(name.clone(), value));
            }
        }
    }
    for (name, value) in declared {
        let mut value = value.to_str().unwrap_or_default().to_string();
        if name == reqwest::header::COOKIE
            && let Some(page_cookie) = page_cookie.take()
        {
            value = format!("{page_cookie}; {value}");
        }
        entries.push(HeaderEntry::new(name.as_str(), value));
    }
    if let Some(page_cookie) = page_cookie {
        entries.push(HeaderEntry::new("Cookie", page_cookie));
    }
    entries
}

/// Navigate, wait for load (up to the navigation budget) and for the page
/// to settle (the settle script's quiet condition, up to [`SETTLE_MAX`]),
/// and read it.
async fn navigate_and_read(
    page: &Page,
    url: &str,
    deadline: Instant,
    timeout: Duration,
) -> Result<Rendered, ScrapeError> {
    page.execute(AddScriptToEvaluateOnNewDocumentParams::new(settle_script()))
        .await
        .map_err(cdp_error)?;
    let navigation_budget = timeout * NAVIGATION_SHARE_PERCENT / 100;
    let navigation_end = (Instant::now() + navigation_budget).min(deadline);
    let navigating = Instant::now();
    let navigated = tokio::time::timeout_at(
        navigation_end,
        page.execute(NavigateParams::new(url.to_string())),
    )
    .await;
    match navigated {
        Ok(Ok(response)) => {
            if let Some(error) = response.result.error_text.as_deref()
                && !error.is_empty()
            {
                return Err(ScrapeError::Network(format!(
                    "the browser could not load the page: {error}"
                )));
            }
        }
        Ok(Err(error)) => return Err(cdp_error(error)),
        Err(_) => {
            return Err(ScrapeError::Timeout {
                what: "the page's first response in the browser",
                limit: navigation_budget,
            });
        }
    }
    tracing::debug!(elapsed = ?navigating.elapsed(), "navigated");
    let settling = Instant::now();
    let read_by = deadline.checked_sub(READ_MARGIN).unwrap_or(deadline);
    let load = navigation_end.saturating_duration_since(Instant::now());
    let settle = SETTLE_MAX.min(read_by.saturating_duration_since(Instant::now()));
    let script = settle_and_read(load, settle);
    // A page that replaces itself (a script redirect) destroys the context
    // the wait runs in: wait again in the new document, a few times.
    let mut settled = None;
    for _ in 0..3 {
        match tokio::time::timeout_at(read_by, read_state(page, &script)).await {
            Ok(Ok(state)) => {
                settled = Some(state);
                break;
            }
            Ok(Err(_)) => tokio::time::sleep(SETTLE_STEP).await,
            Err(_) => break,
        }
    }
    tracing::debug!(elapsed = ?settling.elapsed(), "settled and read");
    let state = match settled {
        Some(state) => state,
        // The page held the wait past its bound: read it as it is.
        None => read_state(page, READ_SCRIPT).await?,
    };
    let loaded = state.ready == "complete";
    if state.status == Some(403) && state.html.contains(REFUSAL_MARKER) {
        let reason = state
            .html
            .split(REFUSAL_MARKER)
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .unwrap_or("")
            .trim_start_matches(':')
            .trim()
            .to_string();
        // A name that does not resolve is a network failure, not a policy
        // refusal: say it as plain HTTP does (`UrlDenied::Resolve`).
        if reason.starts_with("could not resolve") {
            return Err(ScrapeError::Network(reason));
        }
        return Err(ScrapeError::Network(format!(
            "a redirect or request was refused by the URL policy: {reason}"
        )));
    }
    Ok(Rendered {
        html: state.html,
        final_url: state.url,
        status: state.status,
        content_type: state.content_type,
        loaded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Profiles of dead owners are swept; a live owner's and foreign
    /// folders are left alone.
    #[test]
    #[expect(
        clippy::disallowed_methods,
        reason = "the test makes folders in its own temp dir"
    )]
    fn orphan_profiles_are_swept() {
        let temp = tempfile::tempdir().expect("tempdir");
        let dead = temp.path().join(format!("{PROFILE_PREFIX}999999999-abc"));
        let mine = temp
            .path()
            .join(format!("{PROFILE_PREFIX}{}-def", std::process::id()));
        let other = temp.path().join("someone-elses-folder");
        for dir in [&dead, &mine, &other] {
            std::fs::create_dir(dir).expect("mkdir");
        }
        sweep_orphan_profiles(temp.path());
        assert!(
            std::fs::metadata(&dead).is_err(),
            "a dead owner's profile stays"
        );
        assert!(
            std::fs::metadata(&mine).is_ok(),
            "a live owner's profile was removed"
        );
        assert!(
            std::fs::metadata(&other).is_ok(),
            "a foreign folder was removed"
        );
    }

    /// Regression: a SIGKILLed moat-scrape left its Chromium running
    /// forever (seen after a benchmark run); the next launch's sweep kills
    /// browsers whose profile names a dead owner, and only those.
    #[test]
    #[expect(
        clippy::disallowed_methods,
        reason = "the test reads its own stand-in's /proc/PID/cmdline"
    )]
    fn orphaned_browsers_are_killed() {
        let temp = tempfile::tempdir().expect("tempdir");
        let browser = |owner: u32| {
            // A stand-in for Chromium: a shell that stays up, with the
            // profile flag on its command line.
            std::process::Command::new("sh")
                .args(["-c", "sleep 30; true", "chromium"])
                .arg(format!(
                    "--user-data-dir={}/{PROFILE_PREFIX}{owner}-abc",
                    temp.path().display()
                ))
                .spawn()
                .expect("spawn sh")
        };
        // `spawn` returns once the child's exec has begun, but the kernel
        // sets up the new command line a little later: until then
        // /proc/PID/cmdline is empty and the sweep could not know the
        // stand-in (seen in about 1 run of 20 with 8 test threads).
        let exec_done = |child: &std::process::Child| {
            let path = format!("/proc/{}/cmdline", child.id());
            let started = std::time::Instant::now();
            while !std::fs::read(&path)
                .is_ok_and(|line| line.windows(16).any(|w| w == b"--user-data-dir="))
            {
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(10),
                    "the stand-in never showed its command line"
                );
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        };
        let mut orphan = browser(999_999_999);
        let mut owned = browser(std::process::id());
        exec_done(&orphan);
        exec_done(&owned);
        sweep_orphan_profiles(temp.path());
        let status = orphan.wait().expect("wait");
        assert!(!status.success(), "the orphaned browser was not killed");
        assert!(
            owned.try_wait().expect("try_wait").is_none(),
            "a live owner's browser was killed"
        );
        let _ = owned.kill();
        let _ = owned.wait();
    }
}
