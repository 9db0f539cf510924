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

use std::{net::SocketAddr, time::Duration};

use reqwest::{
    StatusCode,
    dns::{Addrs, Name, Resolve, Resolving},
    header::{self, HeaderMap},
};

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
}

/// A resolver that answers only with addresses the policy already checked.
/// It never performs DNS itself: one client is built per hop, for one
/// host, so there is exactly one answer to give.
struct PinnedResolver {
    addresses: Vec<SocketAddr>,
}

impl Resolve for PinnedResolver {
    fn resolve(&self, _name: Name) -> Resolving {
        let addresses = self.addresses.clone();
        Box::pin(async move { Ok(Box::new(addresses.into_iter()) as Addrs) })
    }
}

/// Resolve `url` through `policy` and build a client for it that connects
/// only to the addresses just checked, follows no redirect and uses no
/// proxy. Build one per hop: its resolver knows one host.
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
    let addresses = policy.resolve(url).await?;
    #[expect(
        clippy::disallowed_methods,
        reason = "the one HTTP client builder: pinned to addresses the URL policy checked, no redirects, no proxy"
    )]
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(settings.connect_timeout)
        .user_agent(settings.user_agent.clone())
        .dns_resolver(PinnedResolver { addresses })
        .build()
        .map_err(|error| NetError::Client(root_cause(&error)))?;
    Ok(client)
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
/// and port (each one re-checked and re-resolved). The caller bounds the
/// whole exchange with its own timeout.
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
) -> Result<reqwest::Response, NetError> {
    let mut redirects = 0;
    loop {
        let client = pinned_client(policy, &url, settings).await?;
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
