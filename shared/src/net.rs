//! The network funnel: the one place moat builds an HTTP client.
//!
//! Its job is to turn an [`AllowedUrl`] into a `reqwest::Client` that can
//! reach only the addresses [`UrlPolicy::resolve`] checked for it, and, for
//! the operator's own endpoints (a search provider, a JWKS URL), to GET one
//! through such a client, following redirects only on the same host and
//! port, and to read the answer under a byte cap. An operator's non-HTTP
//! service (a fleet's Redis) gets a TCP stream the same way:
//! [`operator_stream`].
//!
//! It must never build a client any other way: the client it builds has a
//! resolver that answers only with the checked addresses (so DNS is never
//! asked twice, and rebinding has nothing to rebind), no redirect policy of
//! its own (each hop is checked by the caller or here) and no proxy from
//! the environment. `clippy.toml` refuses `reqwest::Client::new`,
//! `ClientBuilder::build`, socket connects, binds and name lookups
//! everywhere else, so `grep disallowed_methods` lists every door.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Mutex, OnceLock, PoisonError},
    time::Duration,
};

use reqwest::{
    StatusCode,
    dns::{Addrs, Name, Resolve, Resolving},
    header::{self, HeaderMap},
};

pub use crate::policy::HostMatch;
use crate::policy::{AllowedUrl, UrlDenied, UrlPolicy};

/// How a pinned client behaves on the wire.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// The User-Agent header.
    pub user_agent: String,
}

/// Why a request through the funnel failed. Each renders as one line.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The URL policy refused the destination or one of its addresses.
    #[error("{0}")]
    Denied(#[from] UrlDenied),
    /// reqwest could not build a client (no TLS backend, ...).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// Connecting or sending failed before an answer arrived.
    #[error("{}", root_cause(.0))]
    Request(reqwest::Error),
    /// The answer's body failed midway.
    #[error("{}", root_cause(.0))]
    Body(reqwest::Error),
    /// The endpoint redirected to a different host or port.
    #[error(
        "redirected to another host ({to}); only {from} is reached, and a redirect away from it is not followed"
    )]
    OtherHost {
        /// `host:port` of the endpoint.
        from: String,
        /// `host:port` the redirect named.
        to: String,
    },
    /// A redirect whose Location cannot be read or joined.
    #[error("a redirect had an unusable Location header")]
    BadLocation,
    /// More redirects than allowed, even on the same host.
    #[error("more than {0} redirects; stopped")]
    TooManyRedirects(usize),
    /// The body passed the cap.
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    /// A TCP connection to an operator's service failed or timed out.
    #[error("cannot connect to {0}")]
    Connect(String),
    /// The upstream proxy could not be reached or refused the tunnel.
    #[error("upstream proxy {0}")]
    Upstream(String),
}

/// A resolver that answers only with addresses the policy already checked.
/// It never performs DNS itself: a client is only handed out for a URL
/// whose host the policy just resolved to exactly these addresses (see
/// [`ClientKey`]), so there is exactly one answer to give.
struct PinnedResolver {
    addresses: Vec<SocketAddr>,
}

impl Resolve for PinnedResolver {
    fn resolve(&self, _name: Name) -> Resolving {
        let addresses = self.addresses.clone();
        Box::pin(async move { Ok(Box::new(addresses.into_iter()) as Addrs) })
    }
}

/// Pinned clients kept for reuse. Building one loads and parses the
/// system's root certificates (hundreds of files, milliseconds of work);
/// a kept client also keeps its idle connections, so a second page from
/// the same site skips the TCP and TLS handshakes. Bounded because each
/// distinct set of addresses (each site) makes one: past the bound the
/// whole set is dropped and rebuilt on demand, which costs only the
/// builds.
const MAX_CACHED_CLIENTS: usize = 64;

/// What a pinned client was built from; a client is reused only for the
/// same key, so it can still reach only the addresses the policy has just
/// checked for the URL at hand.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ClientKey {
    addresses: Vec<SocketAddr>,
    /// The local proxy's address and credential, when sent through one.
    via: Option<(SocketAddr, String)>,
    connect_timeout: Duration,
    user_agent: String,
}

/// The kept clients (see [`MAX_CACHED_CLIENTS`]).
fn kept_clients() -> &'static Mutex<HashMap<ClientKey, reqwest::Client>> {
    static KEPT: OnceLock<Mutex<HashMap<ClientKey, reqwest::Client>>> = OnceLock::new();
    KEPT.get_or_init(Mutex::default)
}

/// Resolve `url` through `policy` and give a client for it that connects
/// only to the addresses just checked, follows no redirect and uses no
/// proxy. Ask again for every hop: each hop is resolved and checked anew,
/// and a client is reused only when its addresses are exactly the ones
/// just checked.
///
/// # Errors
/// [`NetError::Denied`] when the name does not resolve or an address is
/// refused; [`NetError::Client`] when reqwest cannot build a client.
///
/// # Security
/// This is the only place a `reqwest::Client` is built outside tests and
/// benches.
pub async fn pinned_client(
    policy: &UrlPolicy,
    url: &AllowedUrl,
    settings: &ClientSettings,
) -> Result<reqwest::Client, NetError> {
    pinned_client_via(policy, url, settings, None).await
}

/// moat's own checking proxy on loopback, that a client may be sent
/// through (moat-scrape's egress proxy, when an upstream proxy is set).
#[derive(Debug, Clone)]
pub struct LocalProxy {
    /// Where it listens (a loopback address).
    pub address: SocketAddr,
    /// Its `Proxy-Authorization` value.
    pub authorization: Secret,
}

/// [`pinned_client`], sent through `via` when given: the client still
/// checks `url` first, and `via` checks and resolves every hop again
/// before anything leaves.
///
/// # Errors
/// As [`pinned_client`].
///
/// # Security
/// With `via`, the only socket the client opens is to `via`'s loopback
/// address.
pub async fn pinned_client_via(
    policy: &UrlPolicy,
    url: &AllowedUrl,
    settings: &ClientSettings,
    via: Option<&LocalProxy>,
) -> Result<reqwest::Client, NetError> {
    let addresses = policy.resolve(url).await?;
    let key = ClientKey {
        addresses,
        via: via.map(|via| (via.address, via.authorization.expose().to_string())),
        connect_timeout: settings.connect_timeout,
        user_agent: settings.user_agent.clone(),
    };
    if let Some(client) = kept_clients()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return Ok(client.clone());
    }
    let client = build_pinned(&key, via)?;
    let mut kept = kept_clients()
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if kept.len() >= MAX_CACHED_CLIENTS {
        kept.clear();
    }
    kept.insert(key, client.clone());
    Ok(client)
}

/// Build the client [`pinned_client_via`] describes for `key`.
fn build_pinned(key: &ClientKey, via: Option<&LocalProxy>) -> Result<reqwest::Client, NetError> {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one HTTP client builder: pinned to addresses the URL policy checked (or moat's own checking proxy), no redirects, no environment proxy"
    )]
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(key.connect_timeout)
        .user_agent(key.user_agent.clone())
        .dns_resolver(PinnedResolver {
            addresses: key.addresses.clone(),
        });
    if let Some(via) = via {
        let mut value = header::HeaderValue::from_str(via.authorization.expose())
            .map_err(|_| NetError::Client("the local proxy credential is not a header".into()))?;
        value.set_sensitive(true);
        let proxy = reqwest::Proxy::all(format!("http://{}", via.address))
            .map_err(|error| NetError::Client(root_cause(&error)))?
            .custom_http_auth(value);
        builder = builder.proxy(proxy);
    }
    #[expect(
        clippy::disallowed_methods,
        reason = "the one HTTP client builder: pinned to addresses the URL policy checked (or moat's own checking proxy), no redirects, no environment proxy"
    )]
    builder
        .build()
        .map_err(|error| NetError::Client(root_cause(&error)))
}

/// A TCP stream to an operator's service at `host:port` (a fleet's Redis):
/// the name is resolved by [`UrlPolicy::resolve`] with that host and port
/// opened by name, as for a search provider, and only the addresses it
/// checked are tried, each within `timeout`.
///
/// # Errors
/// [`NetError::Denied`] when the name does not resolve or is refused;
/// [`NetError::Connect`] when no address accepts in time.
///
/// # Security
/// The one place a TCP connection is made to an operator's service.
pub async fn operator_stream(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<tokio::net::TcpStream, NetError> {
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let (policy, url) = UrlPolicy::operator_endpoint(&format!("http://{authority}/"))?;
    let mut last = String::from("no address");
    for address in policy.resolve(&url).await? {
        #[expect(
            clippy::disallowed_methods,
            reason = "connects only to an address UrlPolicy::resolve checked for the operator's own service"
        )]
        let attempt = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await;
        match attempt {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(error)) => last = error.to_string(),
            Err(_) => last = format!("no answer within {} ms", timeout.as_millis()),
        }
    }
    Err(NetError::Connect(format!("{authority}: {last}")))
}

/// GET an operator's endpoint through pinned clients, with `headers`,
/// following at most `max_redirects` redirects that stay on the same host
/// and port (each one re-checked and re-resolved), sent through `via`
/// when given (see [`pinned_client_via`]). The caller bounds the whole
/// exchange with its own timeout.
///
/// # Errors
/// A refusal, a failed request, a redirect to another host or too many
/// redirects.
pub async fn get_same_origin(
    policy: &UrlPolicy,
    mut url: AllowedUrl,
    headers: &HeaderMap,
    settings: &ClientSettings,
    max_redirects: usize,
    via: Option<&LocalProxy>,
) -> Result<reqwest::Response, NetError> {
    let mut redirects = 0;
    loop {
        let client = pinned_client_via(policy, &url, settings, via).await?;
        let response = client
            .get(url.as_str())
            .headers(headers.clone())
            .send()
            .await
            .map_err(NetError::Request)?;
        let status = response.status();
        let Some(location) = response
            .headers()
            .get(header::LOCATION)
            .filter(|_| status.is_redirection() && status != StatusCode::NOT_MODIFIED)
        else {
            return Ok(response);
        };
        let next = location
            .to_str()
            .ok()
            .and_then(|location| url.as_url().join(location).ok())
            .ok_or(NetError::BadLocation)?;
        let (from, to) = (authority(url.as_url()), authority(&next));
        if from != to {
            return Err(NetError::OtherHost { from, to });
        }
        let next = policy.check(next.as_str())?;
        if redirects >= max_redirects {
            return Err(NetError::TooManyRedirects(max_redirects));
        }
        redirects += 1;
        url = next;
    }
}

/// Read `response`'s body, refusing it once it passes `max_bytes`.
///
/// # Errors
/// [`NetError::Body`] when the body fails midway, [`NetError::TooLarge`]
/// past the cap.
pub async fn read_capped(
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<Vec<u8>, NetError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(NetError::Body)? {
        body.extend_from_slice(&chunk);
        if body.len() > max_bytes {
            return Err(NetError::TooLarge(max_bytes));
        }
    }
    Ok(body)
}

/// `host:port` as the WHATWG parser normalised it (IPv6 in brackets, the
/// scheme's default port when none is written).
fn authority(url: &url::Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(80)
    )
}

/// The innermost cause of a reqwest error: the part that says what went
/// wrong ("connection refused"), without the chain's repetitions.
pub fn root_cause(error: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut root = error.to_string();
    while let Some(cause) = source {
        root = cause.to_string();
        source = cause.source();
    }
    root
}

/// A value that must never be printed: a header or cookie taken from an
/// environment variable, or an upstream proxy's credential. Its `Debug`
/// hides it; only [`Secret::expose`] gives it out, at the one place it is
/// written to the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value, for the wire only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Secret(<hidden>)")
    }
}

/// Headers for one declared host, values marked sensitive.
#[derive(Debug, Clone)]
struct HostHeaders {
    host: HostMatch,
    headers: Vec<(header::HeaderName, header::HeaderValue)>,
}

/// An upstream HTTP proxy moat's requests leave through.
#[derive(Clone)]
pub struct Upstream {
    host: String,
    port: u16,
    /// `Basic ...` for `Proxy-Authorization`.
    authorization: Option<Secret>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Upstream")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("authenticated", &self.authorization.is_some())
            .finish()
    }
}

/// Longest answer head an upstream proxy may send to a CONNECT.
const MAX_UPSTREAM_HEAD_BYTES: usize = 16 * 1024;

impl Upstream {
    /// Parse `http://HOST:PORT`; `user:password` comes from `credentials`
    /// (the policy's environment variable), or, when `credentials` is
    /// `None` and the URL came from the environment, from the URL itself.
    ///
    /// # Errors
    /// A one-line reason that never repeats a credential.
    pub fn parse(text: &str, credentials: Option<Secret>) -> Result<Self, String> {
        let url = crate::policy::upstream_proxy_url(text)?;
        let host = url
            .host_str()
            .ok_or_else(|| "has no host".to_string())?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url.port_or_known_default().unwrap_or(80);
        let credentials = match credentials {
            Some(credentials) => Some(credentials),
            None if !url.username().is_empty() => {
                // Percent-decoded; a literal `+` stays a plus.
                let decode = |encoded: &str| {
                    let plus_kept = encoded.replace('+', "%2B");
                    url::form_urlencoded::parse(format!("x={plus_kept}").as_bytes())
                        .next()
                        .map(|(_, value)| value.into_owned())
                        .unwrap_or_default()
                };
                Some(Secret::new(format!(
                    "{}:{}",
                    decode(url.username()),
                    decode(url.password().unwrap_or_default())
                )))
            }
            None => None,
        };
        let authorization = credentials.map(|credentials| {
            use base64::Engine as _;
            Secret::new(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials.expose())
            ))
        });
        Ok(Self {
            host,
            port,
            authorization,
        })
    }

    /// `HOST:PORT` of the proxy (no credential), for log lines.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The `Proxy-Authorization` header line (with its CRLF), or nothing.
    pub fn authorization_line(&self) -> String {
        self.authorization
            .as_ref()
            .map(|value| format!("Proxy-Authorization: {}\r\n", value.expose()))
            .unwrap_or_default()
    }

    /// Connect to the proxy itself.
    ///
    /// # Errors
    /// [`NetError::Upstream`] when it cannot be resolved or reached.
    ///
    /// # Security
    /// The proxy is the operator's own endpoint, named in the policy or
    /// (on opt-in) the environment: its name is resolved here, not through
    /// the URL policy, as a private address is the usual place for it.
    #[expect(
        clippy::disallowed_methods,
        reason = "the operator's upstream proxy: its own name resolved and connected to, never a model's destination"
    )]
    pub async fn connect(&self, timeout: Duration) -> Result<tokio::net::TcpStream, NetError> {
        let failed = |what: String| NetError::Upstream(format!("{}: {what}", self.authority()));
        let addresses = tokio::time::timeout(
            timeout,
            tokio::net::lookup_host((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| failed("resolving the proxy timed out".into()))?
        .map_err(|error| failed(format!("cannot resolve the proxy: {error}")))?;
        let mut last = "no address".to_string();
        for address in addresses {
            match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Ok(Err(error)) => last = error.to_string(),
                Err(_) => last = "connect timed out".into(),
            }
        }
        Err(failed(format!("cannot connect to the proxy: {last}")))
    }

    /// A tunnel to `destination` (an address the URL policy checked)
    /// through the proxy: `CONNECT IP:PORT`, so the proxy is never asked to
    /// resolve a name and a rebinding answer on its side has nothing to
    /// rebind.
    ///
    /// # Errors
    /// [`NetError::Upstream`] when the proxy cannot be reached or refuses.
    pub async fn tunnel(
        &self,
        destination: SocketAddr,
        timeout: Duration,
    ) -> Result<tokio::net::TcpStream, NetError> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = self.connect(timeout).await?;
        let failed = |what: String| NetError::Upstream(format!("{}: {what}", self.authority()));
        let request = format!(
            "CONNECT {destination} HTTP/1.1\r\nHost: {destination}\r\n{}\r\n",
            self.authorization_line()
        );
        let exchange = async {
            stream.write_all(request.as_bytes()).await?;
            // Byte by byte: nothing after the head may be swallowed, it
            // belongs to the tunnel.
            let mut head = Vec::with_capacity(256);
            while !head.ends_with(b"\r\n\r\n") && head.len() < MAX_UPSTREAM_HEAD_BYTES {
                let byte = stream.read_u8().await?;
                head.push(byte);
            }
            Ok::<_, std::io::Error>(head)
        };
        let head = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| failed("the proxy did not answer the CONNECT in time".into()))?
            .map_err(|error| failed(format!("the CONNECT failed: {error}")))?;
        let status_line = String::from_utf8_lossy(&head);
        let status_line = status_line.lines().next().unwrap_or_default();
        let status = status_line.split(' ').nth(1).unwrap_or_default();
        if !status.starts_with('2') {
            return Err(failed(format!(
                "the proxy refused CONNECT {destination}: {}",
                status_line.trim()
            )));
        }
        Ok(stream)
    }
}

/// How moat's requests leave: directly or through an upstream proxy, and
/// which headers and cookies each declared host gets. Built once at
/// start-up from `[scrape]` and the environment variables it names.
#[derive(Debug, Clone, Default)]
pub struct Outbound {
    /// For `https` destinations (and anything tunnelled).
    https: Option<Upstream>,
    /// For plain `http` destinations.
    http: Option<Upstream>,
    no_proxy: Vec<String>,
    hosts: Vec<HostHeaders>,
}

impl Outbound {
    /// Read `[scrape]`'s network fields, taking secret values from the
    /// environment through `env` (`std::env::var` in the binary).
    ///
    /// # Errors
    /// A one-line reason naming the field or variable, never a value.
    pub fn from_policy(
        policy: &crate::policy::ScrapePolicy,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let credentials = match &policy.upstream_proxy_auth_env {
            Some(name) => Some(Secret::new(env(name).ok_or_else(|| {
                format!("upstream_proxy_auth_env names {name}, which is not set")
            })?)),
            None => None,
        };
        let parse = |text: &str, what: &str| {
            Upstream::parse(text, credentials.clone()).map_err(|error| format!("{what} {error}"))
        };
        let mut outbound = Self::default();
        if let Some(proxy) = &policy.upstream_proxy {
            let upstream = parse(proxy, "upstream_proxy")?;
            outbound.https = Some(upstream.clone());
            outbound.http = Some(upstream);
        } else if policy.proxy_from_env {
            let first = |names: &[&'static str]| -> Option<(&'static str, String)> {
                names.iter().find_map(|name| {
                    env(name)
                        .filter(|value| !value.is_empty())
                        .map(|value| (*name, value))
                })
            };
            let all = first(&["ALL_PROXY", "all_proxy"]);
            if let Some((name, value)) = first(&["HTTPS_PROXY", "https_proxy"]).or(all.clone()) {
                outbound.https = Some(parse(&value, name)?);
            }
            if let Some((name, value)) = first(&["HTTP_PROXY", "http_proxy"]).or(all) {
                outbound.http = Some(parse(&value, name)?);
            }
        }
        outbound.no_proxy.clone_from(&policy.no_proxy);
        if policy.proxy_from_env
            && let Some((_, list)) = ["NO_PROXY", "no_proxy"]
                .iter()
                .find_map(|name| env(name).map(|value| (*name, value)))
        {
            outbound.no_proxy.extend(
                list.split(',')
                    .map(str::trim)
                    .filter(|entry| !entry.is_empty())
                    .map(str::to_string),
            );
        }
        for entry in &policy.hosts {
            outbound.hosts.push(host_headers(entry, &env)?);
        }
        Ok(outbound)
    }

    /// True when some destination may go through an upstream proxy.
    pub fn has_upstream(&self) -> bool {
        self.https.is_some() || self.http.is_some()
    }

    /// The upstream proxy for `url`, unless `no_proxy` sends it directly.
    pub fn upstream_for(&self, url: &AllowedUrl) -> Option<&Upstream> {
        let upstream = match url.as_url().scheme() {
            "http" | "ws" => self.http.as_ref(),
            _ => self.https.as_ref(),
        }?;
        let host = url.host().to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let direct = self.no_proxy.iter().any(|entry| {
            let entry = entry.to_ascii_lowercase();
            let (name, port) = match entry.rsplit_once(':') {
                Some((name, port)) if !name.contains(':') => {
                    (name.to_string(), port.parse::<u16>().ok())
                }
                _ => (entry.clone(), None),
            };
            let name = name
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .trim_start_matches('[')
                .trim_end_matches(']');
            entry == "*"
                || (port.is_none_or(|port| port == url.port())
                    && (host == name || host.ends_with(&format!(".{name}"))))
        });
        (!direct).then_some(upstream)
    }

    /// The headers declared for `url`'s exact host (values marked
    /// sensitive, so no log prints them).
    pub fn headers_for(&self, url: &url::Url) -> HeaderMap {
        let mut map = HeaderMap::new();
        for entry in self.hosts.iter().filter(|entry| entry.host.matches(url)) {
            for (name, value) in &entry.headers {
                map.insert(name.clone(), value.clone());
            }
        }
        map
    }

    /// The declared hosts (the browser intercepts requests to them).
    pub fn declared_hosts(&self) -> impl Iterator<Item = &HostMatch> {
        self.hosts.iter().map(|entry| &entry.host)
    }
}

/// One `[[scrape.hosts]]` entry with its values read; cookies folded into
/// one `Cookie` header.
fn host_headers(
    entry: &crate::policy::HostSecrets,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<HostHeaders, String> {
    use crate::policy::SecretSource;
    let host = HostMatch::parse(&entry.host).map_err(|error| format!("hosts.host {error}"))?;
    let read = |source: &SecretSource, what: &str| match source {
        SecretSource::Plain(value) => Ok(value.clone()),
        SecretSource::Env { env: name, prefix } => env(name)
            .map(|value| format!("{prefix}{value}"))
            .ok_or_else(|| format!("{what} for {} names {name}, which is not set", entry.host)),
    };
    let value = |text: String, what: &str| {
        let mut value = header::HeaderValue::from_str(&text).map_err(|_| {
            format!(
                "{what} for {}: the value is not a valid header value (control characters or non-ASCII)",
                entry.host
            )
        })?;
        value.set_sensitive(true);
        Ok::<_, String>(value)
    };
    let mut headers = Vec::new();
    for (name, source) in &entry.headers {
        let what = format!("header {name}");
        let name = header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("{what:?} is not a valid header name"))?;
        headers.push((name, value(read(source, &what)?, &what)?));
    }
    if !entry.cookies.is_empty() {
        let mut cookie = Vec::new();
        for (name, source) in &entry.cookies {
            let what = format!("cookie {name}");
            if name.is_empty() || name.contains(['=', ';', ' ']) {
                return Err(format!(
                    "{what} for {}: not a valid cookie name",
                    entry.host
                ));
            }
            cookie.push(format!("{name}={}", read(source, &what)?));
        }
        headers.push((header::COOKIE, value(cookie.join("; "), "cookies")?));
    }
    Ok(HostHeaders { host, headers })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{HostSecrets, ScrapePolicy, SecretSource};

    fn url(text: &str) -> url::Url {
        url::Url::parse(text).expect("url")
    }

    /// A declared host matches itself only: not a subdomain, not a
    /// look-alike, and with a port, only that port.
    #[test]
    fn declared_host_matches_exactly() {
        let any_port = HostMatch::parse("Wiki.Corp").expect("host");
        assert!(any_port.matches(&url("https://wiki.corp/page")));
        assert!(any_port.matches(&url("http://wiki.corp:8080/")));
        for other in [
            "https://a.wiki.corp/",
            "https://wiki.corp.evil.example/",
            "https://evilwiki.corp/",
            "https://evil.example/?wiki.corp",
        ] {
            assert!(!any_port.matches(&url(other)), "{other}");
        }
        let one_port = HostMatch::parse("127.0.0.1:8443").expect("host");
        assert!(one_port.matches(&url("http://127.0.0.1:8443/x")));
        assert!(!one_port.matches(&url("http://127.0.0.1:8444/x")));
        assert!(
            HostMatch::parse("[::1]:80")
                .expect("v6")
                .matches(&url("http://[::1]/"))
        );
        for bad in ["", "a/b", "user@host", "*.corp", "host:port", "::1"] {
            assert!(HostMatch::parse(bad).is_err(), "{bad}");
        }
    }

    /// Secret values never show in `Debug` output, and a missing variable
    /// is named without any value.
    #[test]
    fn secrets_stay_out_of_debug_and_errors() {
        let mut headers = std::collections::BTreeMap::new();
        headers.insert(
            "Authorization".to_string(),
            SecretSource::Env {
                env: "TOKEN".into(),
                prefix: "Bearer ".into(),
            },
        );
        let policy = ScrapePolicy {
            hosts: vec![HostSecrets {
                host: "wiki.corp".into(),
                headers,
                cookies: std::collections::BTreeMap::new(),
            }],
            upstream_proxy: Some("http://proxy:3128".into()),
            upstream_proxy_auth_env: Some("PROXY_AUTH".into()),
            ..ScrapePolicy::default()
        };
        let outbound = Outbound::from_policy(&policy, |name| match name {
            "TOKEN" => Some("tok-SECRET".into()),
            "PROXY_AUTH" => Some("user:pw-SECRET".into()),
            _ => None,
        })
        .expect("outbound");
        let debug = format!("{outbound:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        let headers = outbound.headers_for(&url("https://wiki.corp/"));
        assert_eq!(headers["authorization"], "Bearer tok-SECRET");
        assert!(headers["authorization"].is_sensitive());
        assert!(
            outbound
                .headers_for(&url("https://a.wiki.corp/"))
                .is_empty()
        );
        let error = Outbound::from_policy(&policy, |name| {
            (name == "PROXY_AUTH").then(|| "user:pw".to_string())
        })
        .expect_err("missing");
        assert!(error.contains("TOKEN") && !error.contains('\n'), "{error}");
    }

    /// `no_proxy` sends matching destinations directly: a name and its
    /// subdomains, one port, or everything.
    #[test]
    fn no_proxy_entries_bypass_the_upstream() {
        let policy = UrlPolicy::default();
        let outbound = |entries: &[&str]| {
            Outbound::from_policy(
                &ScrapePolicy {
                    upstream_proxy: Some("http://proxy:3128".into()),
                    no_proxy: entries.iter().map(|entry| (*entry).to_string()).collect(),
                    ..ScrapePolicy::default()
                },
                |_| None,
            )
            .expect("outbound")
        };
        let check = |text: &str| policy.check(text).expect("allowed");
        let proxied = outbound(&["example.com", "other.org:8080"]);
        let cases = [
            ("https://example.com/", false),
            ("https://www.example.com/", false),
            ("https://notexample.com/", true),
            ("http://other.org:8080/", false),
            ("http://other.org/", true),
        ];
        for (destination, through_proxy) in cases {
            let chosen = proxied.upstream_for(&check(destination)).is_some();
            assert_eq!(chosen, through_proxy, "{destination}");
        }
        assert!(
            outbound(&["*"])
                .upstream_for(&check("https://a.b/"))
                .is_none()
        );
    }
}
