//! Serve many clients over Streamable HTTP at `/mcp`, beside the legacy
//! HTTP+SSE transport (`GET /sse`, `POST /messages`), `GET /health` and
//! `GET /metrics`.
//!
//! A POST body that is not one JSON-RPC message, or that repeats a request
//! id still in flight in its session, gets 400 with a JSON-RPC error
//! ([`http_post`]).
//!
//! Guards, all on from the first request (MCP 2025-11-25
//! basic/transports, "Security Warning"): the listener binds 127.0.0.1
//! unless told otherwise; the `Host` header must be on an allow-list and a
//! present `Origin` must be too (403 otherwise: this is what stops DNS
//! rebinding from a browser); bodies are capped (413); every accepted socket
//! gets TCP_NODELAY (without it a keep-alive connection stalls ~40 ms per
//! request on Nagle and delayed ACK).
//!
//! Shutdown: when `shutdown` resolves the listener stops accepting, new calls
//! are refused, calls in flight get a bounded grace period, then sessions are
//! closed and the function returns.

use std::{
    convert::Infallible,
    future::Future,
    io::Write as _,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use axum::{
    Json, Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto::Builder, graceful::GracefulShutdown},
};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use serde_json::json;

use crate::{
    error::Error,
    policy::HttpPolicy,
    runtime::{
        auth::Tokens,
        bounds::{DEFAULT_MAX_BODY_BYTES, SHUTDOWN_GRACE},
        handler::{Handler, RuntimeState},
        http_post::{self, PostCheck},
        http_session::SessionRoute,
        legacy_sse::{self, LegacySessions},
        oauth::{self, OAuth, Refusal},
        rate_limit::{ClientKey, RateLimiter},
        toolbox::Toolbox,
    },
};

/// How long shutdown lets the last answers reach their streams after the
/// last call returned, before it closes the sessions those streams belong
/// to. Writing a result to a local socket takes microseconds; this is slack
/// for a busy machine.
const RESPONSE_FLUSH: Duration = Duration::from_millis(300);

/// How long shutdown waits for connections to close once the sessions
/// have ended.
const CONNECTION_DRAIN: Duration = Duration::from_secs(5);

/// How the HTTP listener is set up.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Address to bind; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Extra `Host` values accepted besides the loopback names and the bound
    /// address (`name` matches any port, `name:port` only that port).
    pub allowed_hosts: Vec<String>,
    /// Extra `Origin` values accepted besides this server's own loopback
    /// origins (`scheme://host:port`, or `:*` for any port).
    pub allowed_origins: Vec<String>,
    /// Largest request body accepted (413 past it).
    pub max_body_bytes: usize,
    /// Serve without in-memory sessions, so any replica can answer any
    /// request (no server-to-client requests then).
    pub stateless: bool,
    /// How long shutdown waits for calls in flight.
    pub shutdown_grace: Duration,
    /// Bearer tokens; empty means no authentication.
    pub tokens: Tokens,
    /// Allow a non-loopback bind without tokens (the operator says another
    /// layer authenticates).
    pub insecure_no_auth: bool,
    /// Rate and resource limits.
    pub limits: HttpLimits,
    /// OAuth 2.1 resource-server validation, when configured.
    pub oauth: Option<OAuth>,
}

/// Rate and resource limits of the listener (see [`HttpPolicy`] for each
/// default and why).
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Requests per second one client may sustain (`None`: as the bind
    /// address decides, see [`HttpPolicy::rate_per_second`]).
    pub rate_per_second: Option<f64>,
    /// Requests one client may send in a burst.
    pub rate_burst: Option<u32>,
    /// Sessions open at once.
    pub max_sessions: u64,
    /// Tool calls one session may run at once.
    pub max_inflight_per_session: usize,
    /// Idle lifetime of a session.
    pub session_idle_timeout: Duration,
    /// Time to send request headers.
    pub header_read_timeout: Duration,
}

impl From<&HttpPolicy> for HttpLimits {
    fn from(policy: &HttpPolicy) -> Self {
        Self {
            rate_per_second: policy.rate_per_second,
            rate_burst: policy.rate_burst,
            max_sessions: policy.max_sessions,
            max_inflight_per_session: policy.max_inflight_per_session,
            session_idle_timeout: Duration::from_millis(policy.session_idle_timeout_ms),
            header_read_timeout: Duration::from_millis(policy.header_read_timeout_ms),
        }
    }
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self::from(&HttpPolicy::default())
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            stateless: false,
            shutdown_grace: SHUTDOWN_GRACE,
            tokens: Tokens::default(),
            insecure_no_auth: false,
            limits: HttpLimits::default(),
            oauth: None,
        }
    }
}

/// What every request on the listener is checked against (the resolved
/// allow-lists, tokens, rate limiter), and what `/health` and `/metrics`
/// report (the runtime state, the name).
struct ListenerState {
    /// `None`: any Host (an authenticated server on a public address with
    /// no host list: the token, not the name, keeps browsers out).
    hosts: Option<Vec<String>>,
    /// `hosts` split into host and port once, rather than on every request.
    host_entries: Option<Vec<HostEntry>>,
    tokens: Tokens,
    oauth: Option<OAuth>,
    limiter: Option<RateLimiter>,
    max_sessions: u64,
    origins: Vec<String>,
    state: Arc<RuntimeState>,
    name: &'static str,
    version: &'static str,
    extra_metrics: Arc<dyn Fn() -> String + Send + Sync>,
}

impl std::fmt::Debug for ListenerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerState")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What the listener says about the server it fronts (for `/health` and
/// `/metrics`), independent of the handler type.
#[derive(Clone)]
pub struct Fronted {
    /// Machine name, e.g. `moat-fs`.
    pub name: &'static str,
    /// Version.
    pub version: &'static str,
    /// Server-specific `/metrics` lines.
    pub extra_metrics: Arc<dyn Fn() -> String + Send + Sync>,
}

/// Bind, serve until `shutdown` resolves, then drain and return.
///
/// Prints `<name> listening on http://ADDR/mcp` on stderr once bound, so a
/// caller that asked for port 0 can read the port.
///
/// # Errors
/// [`Error::Bind`] when the address cannot be bound.
pub async fn serve_http(
    toolbox: Arc<dyn Toolbox>,
    state: Arc<RuntimeState>,
    options: HttpOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let (fronted, factory) = fronted(toolbox, &state);
    serve_handler(factory, fronted, state, options, shutdown).await
}

/// What the listener says about a toolbox, and the handler factory for its
/// sessions.
fn fronted(
    toolbox: Arc<dyn Toolbox>,
    state: &Arc<RuntimeState>,
) -> (Fronted, impl Fn() -> Handler + Send + Sync + 'static) {
    let identity = toolbox.identity();
    let fronted = Fronted {
        name: identity.name,
        version: identity.version,
        extra_metrics: {
            let toolbox = toolbox.clone();
            Arc::new(move || toolbox.metrics())
        },
    };
    let state = state.clone();
    (fronted, move || {
        Handler::new(toolbox.clone(), state.clone())
    })
}

/// Like [`serve_http`], for any rmcp handler: the same listener, guards,
/// transports and shutdown in front of a handler that is not a
/// [`Toolbox`] (the conformance fixture server uses this).
///
/// # Errors
/// [`Error::Bind`] when the address cannot be bound; [`Error::Config`] for
/// a public bind without authentication.
pub async fn serve_handler<H, F>(
    factory: F,
    fronted: Fronted,
    state: Arc<RuntimeState>,
    options: HttpOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error>
where
    H: rmcp::ServerHandler + Send + 'static,
    F: Fn() -> H + Send + Sync + 'static,
{
    check_authenticated(options.bind, &options)?;
    #[expect(
        clippy::disallowed_methods,
        reason = "the HTTP transport listens on the operator's --http address, once at start-up"
    )]
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|source| Error::Bind {
            addr: options.bind.to_string(),
            source,
        })?;
    serve_handler_on(listener, factory, fronted, state, options, shutdown).await
}

/// Refuse a public address without authentication.
fn check_authenticated(address: SocketAddr, options: &HttpOptions) -> Result<(), Error> {
    let authenticated = !options.tokens.is_empty() || options.oauth.is_some();
    if !address.ip().is_loopback() && !authenticated && !options.insecure_no_auth {
        return Err(Error::Config(format!(
            "refusing to serve {address} without authentication: give --token-file (or {}) or, if \
             another layer authenticates, --insecure-no-auth",
            crate::runtime::auth::TOKENS_ENV
        )));
    }
    Ok(())
}

/// [`serve_http`] on a listener the caller bound (`options.bind` is not
/// used): a test or an embedding program binds port 0 itself and knows
/// the port without reading stderr.
///
/// # Errors
/// [`Error::Config`] for a public address without authentication.
pub async fn serve_http_on(
    listener: tokio::net::TcpListener,
    toolbox: Arc<dyn Toolbox>,
    state: Arc<RuntimeState>,
    options: HttpOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let (fronted, factory) = fronted(toolbox, &state);
    serve_handler_on(listener, factory, fronted, state, options, shutdown).await
}

/// [`serve_handler`] on a listener the caller bound.
///
/// # Errors
/// [`Error::Config`] for a public address without authentication.
pub async fn serve_handler_on<H, F>(
    listener: tokio::net::TcpListener,
    factory: F,
    fronted: Fronted,
    state: Arc<RuntimeState>,
    options: HttpOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error>
where
    H: rmcp::ServerHandler + Send + 'static,
    F: Fn() -> H + Send + Sync + 'static,
{
    let factory = Arc::new(factory);
    let fronted_name = fronted.name;
    let local = listener.local_addr()?;
    check_authenticated(local, &options)?;
    let check_hosts =
        local.ip().is_loopback() || options.tokens.is_empty() || !options.allowed_hosts.is_empty();
    let hosts = check_hosts.then(|| allowed_hosts(local, &options.allowed_hosts));
    let guard = Arc::new(ListenerState {
        host_entries: hosts.as_deref().map(host_entries),
        hosts,
        tokens: options.tokens.clone(),
        oauth: options.oauth.clone(),
        limiter: rate_limiter(&options.limits, local),
        max_sessions: options.limits.max_sessions,
        origins: allowed_origins(local, &options.allowed_origins),
        state: state.clone(),
        name: fronted.name,
        version: fronted.version,
        extra_metrics: fronted.extra_metrics,
    });

    let config = StreamableHttpServerConfig::default();
    let config = match &guard.hosts {
        Some(hosts) => config.with_allowed_hosts(hosts.clone()),
        None => config.disable_allowed_hosts(),
    }
    .with_allowed_origins(guard.origins.clone())
    .enforce_origin_validation()
    .with_max_request_body_bytes(options.max_body_bytes)
    .with_legacy_session_mode(!options.stateless)
    .with_json_response(options.stateless)
    .with_cancellation_token(state.shutdown.child_token());
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(options.limits.session_idle_timeout);
    let sessions = Arc::new(sessions);
    let post_check = PostCheck::new(options.max_body_bytes, options.stateless);
    let post_check = if options.stateless {
        post_check
    } else {
        post_check.with_sessions(SessionRoute::new(sessions.clone(), &config))
    };
    let mcp: StreamableHttpService<H, LocalSessionManager> = {
        let factory = factory.clone();
        StreamableHttpService::new(move || Ok(factory()), sessions, config)
    };

    let legacy = Router::new()
        .route("/sse", get(legacy_sse::open::<H>))
        .route("/messages", axum::routing::post(legacy_sse::post::<H>))
        .layer(axum::extract::DefaultBodyLimit::max(options.max_body_bytes))
        .with_state(LegacySessions::new(
            {
                let factory = factory.clone();
                Arc::new(move || factory()) as Arc<dyn Fn() -> H + Send + Sync>
            },
            state.clone(),
        ));
    let router = Router::new()
        .merge(legacy)
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route(oauth::METADATA_PATH, get(resource_metadata))
        .route(
            &format!("{}/mcp", oauth::METADATA_PATH),
            get(resource_metadata),
        )
        .with_state(guard.clone());
    let app = Arc::new(App {
        guard,
        post_check,
        mcp,
        router,
    });

    // Not `eprintln!`: it panics when stderr is a closed pipe.
    let _ = writeln!(
        std::io::stderr(),
        "{fronted_name} listening on http://{local}/mcp"
    );
    tracing::info!(%local, stateless = options.stateless, "serving Streamable HTTP");

    // Shutdown, in order: refuse new calls and close the listening socket
    // (new connections are refused by the kernel); let calls in flight
    // finish and their answers reach their streams; then end the sessions
    // (and their SSE streams) and close the remaining connections.
    // Closing connections first would cut the streams that carry the
    // answers still to come.
    let accepting = tokio_util::sync::CancellationToken::new();
    {
        let accepting = accepting.clone();
        let state = state.clone();
        let grace = options.shutdown_grace;
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!(inflight = state.inflight(), "shutting down: no new calls");
            state.begin_shutdown();
            accepting.cancel();
            if tokio::time::timeout(grace, state.wait_idle())
                .await
                .is_err()
            {
                tracing::warn!("calls still running after the grace period; stopping them");
            } else {
                // A call counts as done when its handler returns; its answer
                // is still on its way to the client's stream.
                tokio::time::sleep(RESPONSE_FLUSH).await;
            }
            state.shutdown.cancel();
        });
    }

    let mut builder = Builder::new(TokioExecutor::new());
    // Slowloris: a client must finish its request headers in time, or the
    // connection is closed without holding a task or a session.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // EMFILE and friends: back off instead of spinning.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = accepting.cancelled() => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(app.serve(request.map(Body::new), remote).await) }
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        tokio::spawn(graceful.watch(connection));
    }
    // The listening socket closes here: new connections are refused.
    drop(listener);
    state.shutdown.cancelled().await;
    // Bounded: a client that keeps a connection open cannot hold the
    // process more than a few seconds past the sessions' end.
    if tokio::time::timeout(CONNECTION_DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after shutdown; leaving anyway");
    }
    if let Some(audit) = &state.audit {
        audit.drain();
    }
    Ok(())
}

/// `GET /health`: always open, cheap, and says who answers.
async fn health(State(guard): State<Arc<ListenerState>>) -> impl IntoResponse {
    let status = if guard.state.is_shutting_down() {
        "stopping"
    } else {
        "ok"
    };
    Json(json!({
        "status": status,
        "name": guard.name,
        "version": guard.version,
        "uptime_s": guard.state.started.elapsed().as_secs(),
    }))
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(State(guard): State<Arc<ListenerState>>) -> impl IntoResponse {
    let text = guard
        .state
        .metrics
        .render(guard.state.inflight(), &(guard.extra_metrics)());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// What every accepted connection serves: the guards in front of every
/// route, then rmcp's Streamable HTTP service at `/mcp` (behind the POST
/// check) or the router for the other routes.
///
/// `/mcp` is called directly rather than through the router: axum's route
/// and rmcp's `Service::call` each clone the service per request (its
/// config holds the host and origin lists), and each middleware layer
/// boxes a future of its own; here one shared service answers every
/// request.
struct App<H: rmcp::ServerHandler + Send + 'static> {
    guard: Arc<ListenerState>,
    post_check: PostCheck,
    mcp: StreamableHttpService<H, LocalSessionManager>,
    router: Router,
}

impl<H: rmcp::ServerHandler + Send + 'static> App<H> {
    /// Answer one request from `remote`.
    async fn serve(self: Arc<Self>, mut request: Request, remote: SocketAddr) -> Response {
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(remote));
        // The request is not `Sync`: what the checks need from it is read
        // first, so it is not held across the rate limiter's await.
        let admitted = match admit_headers(&self.guard, &request) {
            Ok(admitted) => admitted,
            Err(refusal) => return *refusal,
        };
        if let Some((client, opens)) = admitted
            && let Err(refusal) = admit(&self.guard, &client, opens).await
        {
            return *refusal;
        }
        let path = request.uri().path();
        if path == "/mcp" || path.starts_with("/mcp/") {
            let mcp = &self.mcp;
            return http_post::check_post(&self.post_check, request, |request| async move {
                mcp.handle(request).await.map(Body::new)
            })
            .await;
        }
        match tower::ServiceExt::oneshot(self.router.clone(), request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// The rate limit and the session cap for a request from `client` that
/// passed [`admit_headers`] (`opens`: it would open a session); `Err` is
/// the refusal to send.
///
/// Shutdown is not refused here: a request on a connection that is still
/// open reaches the handler, which answers a new tool call with a clear
/// `isError` line (an HTTP 503 would leave an rmcp client's request
/// unanswered).
async fn admit(
    guard: &ListenerState,
    client: &ClientKey,
    opens: bool,
) -> Result<(), Box<Response>> {
    let refused = match &guard.limiter {
        Some(limiter) => limiter.check_shared(client).await.err(),
        None => None,
    };
    if let Some(wait) = refused {
        guard
            .state
            .metrics
            .rate_limited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let seconds = wait.as_secs_f64().ceil().max(1.0).to_string();
        return Err(Box::new(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, seconds)],
                "too many requests from this client; retry later",
            )
                .into_response(),
        ));
    }
    if opens
        && guard
            .state
            .metrics
            .sessions
            .load(std::sync::atomic::Ordering::Relaxed)
            >= guard.max_sessions
    {
        return Err(Box::new(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5".to_string())],
                "the server holds as many sessions as it allows; retry later",
            )
                .into_response(),
        ));
    }
    Ok(())
}

/// The checks that read the request, for every route: Host and Origin, then
/// who the request comes from and whether it would open a session (`None`
/// for the always-open paths, `/health` and the OAuth metadata).
fn admit_headers(
    guard: &ListenerState,
    request: &Request,
) -> Result<Option<(ClientKey, bool)>, Box<Response>> {
    if let Err(message) = check_headers(guard, request.headers()) {
        return Err(Box::new((StatusCode::FORBIDDEN, message).into_response()));
    }
    let path = request.uri().path();
    if path == "/health" || path.starts_with(oauth::METADATA_PATH) {
        return Ok(None);
    }
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let client = identify(guard, request, authorization).inspect_err(|_| {
        guard
            .state
            .metrics
            .auth_refusals
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })?;
    Ok(Some((client, opens_session(request))))
}

/// The rate limiter for a listener on `local`: the configured rate, or by
/// default none on loopback (one user's own server: an agent's bursts are
/// legitimate) and the default rate elsewhere (a shared service).
fn rate_limiter(limits: &HttpLimits, local: SocketAddr) -> Option<RateLimiter> {
    use crate::policy::http::{DEFAULT_RATE_BURST, DEFAULT_RATE_PER_SECOND};
    if limits.rate_per_second.is_none() && limits.rate_burst.is_none() && local.ip().is_loopback() {
        return None;
    }
    Some(RateLimiter::new(
        limits.rate_per_second.unwrap_or(DEFAULT_RATE_PER_SECOND),
        limits.rate_burst.unwrap_or(DEFAULT_RATE_BURST),
    ))
}

/// Who a request comes from, or the refusal to send when it must
/// authenticate and did not.
fn identify(
    guard: &ListenerState,
    request: &Request,
    authorization: Option<&str>,
) -> Result<ClientKey, Box<Response>> {
    if let Some(index) = guard.tokens.identify(authorization) {
        return Ok(ClientKey::Token(index));
    }
    if let Some(oauth) = &guard.oauth {
        let metadata = format!(
            "{}://{}{}",
            request
                .headers()
                .get("x-forwarded-proto")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("http"),
            request
                .headers()
                .get(header::HOST)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("localhost"),
            oauth::METADATA_PATH
        );
        return match oauth.verify(authorization) {
            Ok(subject) => Ok(ClientKey::Subject(subject)),
            Err(Refusal::InsufficientScope(missing)) => Err(Box::new(
                (
                    StatusCode::FORBIDDEN,
                    [(
                        header::WWW_AUTHENTICATE,
                        format!(
                            r#"Bearer error="insufficient_scope", scope="{}", resource_metadata="{metadata}""#,
                            oauth.required_scopes()
                        ),
                    )],
                    format!("the token lacks the scope(s): {}", missing.join(" ")),
                )
                    .into_response(),
            )),
            Err(refusal) => {
                if let Refusal::Invalid(reason) = &refusal {
                    tracing::debug!(%reason, "access token refused");
                }
                let error = if matches!(refusal, Refusal::Missing) {
                    String::new()
                } else {
                    r#", error="invalid_token""#.to_string()
                };
                Err(Box::new(
                    (
                        StatusCode::UNAUTHORIZED,
                        [(
                            header::WWW_AUTHENTICATE,
                            format!(r#"Bearer resource_metadata="{metadata}"{error}"#),
                        )],
                        "a valid access token for this server is required",
                    )
                        .into_response(),
                ))
            }
        };
    }
    if !guard.tokens.is_empty() {
        // RFC 6750 section 3: no credentials → no error code; bad ones →
        // invalid_token.
        let challenge = if authorization.is_some() {
            r#"Bearer realm="moat", error="invalid_token""#
        } else {
            r#"Bearer realm="moat""#
        };
        return Err(Box::new(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, challenge)],
                "a valid bearer token is required",
            )
                .into_response(),
        ));
    }
    Ok(request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map_or(ClientKey::Address(IpAddr::from([0, 0, 0, 0])), |info| {
            ClientKey::Address(info.0.ip())
        }))
}

/// `GET /.well-known/oauth-protected-resource`: RFC 9728 metadata, or 404
/// when OAuth is not configured.
async fn resource_metadata(State(guard): State<Arc<ListenerState>>) -> Response {
    match &guard.oauth {
        Some(oauth) => Json(oauth.metadata()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Whether a request may create a session: an `/mcp` POST without a
/// session id, or a legacy `GET /sse`.
fn opens_session(request: &Request) -> bool {
    let path = request.uri().path();
    (path == "/mcp"
        && request.method() == http::Method::POST
        && !request.headers().contains_key("mcp-session-id"))
        || (path == "/sse" && request.method() == http::Method::GET)
}

fn check_headers(guard: &ListenerState, headers: &HeaderMap) -> Result<(), &'static str> {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .ok_or("missing or unreadable Host header")?;
    if let Some(hosts) = &guard.host_entries
        && !host_allowed(hosts, host)
    {
        return Err("Host header not allowed");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().map_err(|_| "unreadable Origin header")?;
        if !origin_allowed(&guard.origins, origin) {
            return Err("Origin not allowed");
        }
    }
    Ok(())
}

/// Loopback names, the bound address, and the operator's extra names.
fn allowed_hosts(local: SocketAddr, extra: &[String]) -> Vec<String> {
    let mut hosts = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "[::1]".to_string(),
        "::1".to_string(),
    ];
    let ip = match local.ip() {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    if !local.ip().is_unspecified() && !hosts.contains(&ip) {
        hosts.push(ip);
    }
    hosts.extend(extra.iter().map(|host| host.to_ascii_lowercase()));
    hosts
}

/// This server's own loopback origins, and the operator's extra ones.
fn allowed_origins(local: SocketAddr, extra: &[String]) -> Vec<String> {
    let port = local.port();
    let mut origins = vec![
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1:{port}"),
        format!("http://[::1]:{port}"),
    ];
    origins.extend(extra.iter().map(|origin| origin.to_ascii_lowercase()));
    origins
}

/// Split a `Host` value into host and optional port (`[v6]:p`, `name:p`).
fn split_host(value: &str) -> (String, Option<&str>) {
    let value = value.trim();
    if let Some(rest) = value.strip_prefix('[') {
        if let Some((inside, after)) = rest.split_once(']') {
            return (
                format!("[{}]", inside.to_ascii_lowercase()),
                after.strip_prefix(':'),
            );
        }
        return (value.to_ascii_lowercase(), None);
    }
    match value.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            (host.trim_end_matches('.').to_ascii_lowercase(), Some(port))
        }
        _ => (value.trim_end_matches('.').to_ascii_lowercase(), None),
    }
}

/// One allowed `Host` value: a host, and the one port it is allowed on
/// (`None`: any port).
#[derive(Debug)]
struct HostEntry {
    host: String,
    port: Option<String>,
}

/// The allow-list `allowed`, split as [`host_allowed`] compares it.
fn host_entries(allowed: &[String]) -> Vec<HostEntry> {
    allowed
        .iter()
        .map(|entry| {
            let (host, port) = split_host(entry);
            HostEntry {
                host,
                port: port.map(str::to_string),
            }
        })
        .collect()
}

fn host_allowed(allowed: &[HostEntry], value: &str) -> bool {
    let (host, port) = split_host(value);
    allowed
        .iter()
        .any(|entry| entry.host == host && (entry.port.is_none() || entry.port.as_deref() == port))
}

fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    let origin = origin.trim().to_ascii_lowercase();
    allowed.iter().any(|entry| {
        if let Some(prefix) = entry.strip_suffix(":*") {
            origin == prefix
                || origin
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .is_some_and(|port| {
                        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
                    })
        } else {
            *entry == origin
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<HostEntry> {
        host_entries(&allowed_hosts(
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            &["mcp.example.com:443".into()],
        ))
    }

    /// Loopback names pass with any port; other names fail.
    #[test]
    fn host_allow_list() {
        let hosts = hosts();
        for good in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:9",
            "[::1]:8080",
            "LOCALHOST.",
        ] {
            assert!(host_allowed(&hosts, good), "{good}");
        }
        for bad in [
            "evil.example.com",
            "127.0.0.2",
            "localhost.evil.com",
            "mcp.example.com:80",
            "",
        ] {
            assert!(!host_allowed(&hosts, bad), "{bad}");
        }
        assert!(host_allowed(&hosts, "mcp.example.com:443"));
    }

    /// Only this server's own origins pass unless the operator adds more.
    #[test]
    fn origin_allow_list() {
        let local = SocketAddr::from(([127, 0, 0, 1], 8080));
        let origins = allowed_origins(local, &["https://app.example.com:*".into()]);
        assert!(origin_allowed(&origins, "http://localhost:8080"));
        assert!(origin_allowed(&origins, "https://app.example.com:8443"));
        assert!(origin_allowed(&origins, "https://app.example.com"));
        assert!(!origin_allowed(&origins, "http://localhost:3000"));
        assert!(!origin_allowed(&origins, "http://evil.example.com"));
        assert!(!origin_allowed(
            &origins,
            "https://app.example.com.evil.com"
        ));
        assert!(!origin_allowed(&origins, "null"));
    }
}
