//! The browser's only way out: an HTTP proxy (CONNECT and absolute-form
//! requests) that every call's browser context is created with
//! (`Target.createBrowserContext` `proxyServer`, loopback not bypassed), on
//! a launched Chromium and a remote one alike.
//!
//! Its job: for every request the page makes (navigation, redirects,
//! sub-resources, XHR and fetch, WebSockets), demand the per-process
//! credential (when it serves a remote browser), check the destination with the same [`UrlPolicy`], resolve it
//! once, and connect to the checked address. It must never connect anywhere
//! else (with an upstream proxy: it asks that proxy for the checked IP,
//! never for a name), never forward a request that lacks a required credential (407),
//! and never accept a connection from anything but loopback while it is
//! bound to loopback (the default: 127.0.0.1 on a random port; an operator
//! binds elsewhere only for a remote browser). CDP request interception
//! alone cannot give this guarantee: Chromium resolves names itself, so a
//! rebinding answer would reach the operator's network.

use std::{
    fmt::Write as _,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use base64::Engine as _;
use moat_shared::{
    net::{LocalProxy, Outbound, Secret, Upstream},
    policy::{AllowedUrl, UrlPolicy},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_util::sync::CancellationToken;

/// Largest request head (request line and headers) accepted. Browsers send
/// a few KiB; cookies on big sites reach 8 KiB.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The first words of every refusal body, so the browser module can tell a
/// page the proxy refused from a real page.
pub const REFUSAL_MARKER: &str = "moat-scrape egress proxy refused";

/// A header on every answer the proxy itself gives (refusals), so the
/// fetcher can tell them from a site's own 403.
pub const REFUSAL_HEADER: &str = "X-Moat-Egress";

/// The user name of the proxy credential (the password is the secret).
pub const PROXY_USER: &str = "moat";

/// The realm of the proxy's 407 challenge.
const PROXY_REALM: &str = "moat-scrape egress";

/// The egress proxy's default address: loopback, a random port.
pub const DEFAULT_EGRESS_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// A running egress proxy. Dropping it stops the listener.
pub struct EgressProxy {
    address: SocketAddr,
    password: String,
    /// The `Proxy-Authorization` value that opens the proxy.
    expected: String,
    stop: CancellationToken,
    refused: Arc<AtomicUsize>,
}

impl std::fmt::Debug for EgressProxy {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password is a secret: never in a log line.
        formatter
            .debug_struct("EgressProxy")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Drop for EgressProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The loopback egress proxy that moat-scrape's own HTTP requests (page
/// fetches, search providers) go through when an upstream proxy is set,
/// started by the first request that needs it and shared by its clones.
#[derive(Debug, Clone, Default)]
pub struct LazyEgress(Arc<tokio::sync::OnceCell<(EgressProxy, LocalProxy)>>);

impl LazyEgress {
    /// The proxy to send a request through, or `None` (straight out) when
    /// `outbound` has no upstream proxy. The proxy checks every hop with
    /// `policy` and leaves through the upstream (or directly, for hosts in
    /// `no_proxy`).
    ///
    /// # Errors
    /// The bind failure, as one line.
    pub async fn via(
        &self,
        policy: &Arc<UrlPolicy>,
        outbound: &Arc<Outbound>,
        connect_timeout: Duration,
    ) -> Result<Option<&LocalProxy>, String> {
        if !outbound.has_upstream() {
            return Ok(None);
        }
        let (_, local) = self
            .0
            .get_or_try_init(|| async {
                let proxy = EgressProxy::start(
                    policy.clone(),
                    outbound.clone(),
                    connect_timeout,
                    DEFAULT_EGRESS_LISTEN,
                    true,
                )
                .await
                .map_err(|error| format!("cannot start the egress proxy: {error}"))?;
                let local = LocalProxy {
                    address: proxy.address(),
                    authorization: Secret::new(proxy.authorization().to_string()),
                };
                Ok::<_, String>((proxy, local))
            })
            .await?;
        Ok(Some(local))
    }
}

impl EgressProxy {
    /// Bind `listen` (loopback unless the operator set `egress_listen`) and
    /// serve until dropped; with `require_credential` (a remote browser),
    /// only requests carrying a fresh random credential are served.
    ///
    /// # Errors
    /// The bind failure.
    ///
    /// # Security
    /// While bound to loopback, connections from elsewhere are dropped.
    /// When the credential is required, a request without it gets 407 and
    /// goes nowhere, whatever the address.
    pub async fn start(
        policy: Arc<UrlPolicy>,
        outbound: Arc<Outbound>,
        connect_timeout: Duration,
        listen: SocketAddr,
        require_credential: bool,
    ) -> std::io::Result<Self> {
        #[expect(
            clippy::disallowed_methods,
            reason = "the egress proxy's one listener: loopback by default, or the operator's egress_listen for a remote browser"
        )]
        let listener = TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        let loopback_only = address.ip().is_loopback();
        // Two v4 UUIDs: 244 random bits from the operating system.
        let password = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{PROXY_USER}:{password}"))
        );
        let stop = CancellationToken::new();
        let refused = Arc::new(AtomicUsize::new(0));
        let task_stop = stop.clone();
        let task_refused = refused.clone();
        let task_expected = Arc::new(require_credential.then(|| expected.clone()));
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = task_stop.cancelled() => break,
                    accepted = listener.accept() => accepted,
                };
                let Ok((stream, peer)) = accepted else {
                    continue;
                };
                if loopback_only && !peer.ip().is_loopback() {
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let policy = policy.clone();
                let outbound = outbound.clone();
                let refused = task_refused.clone();
                let stop = task_stop.clone();
                let expected = task_expected.clone();
                tokio::spawn(async move {
                    let gate = Gate {
                        policy: &policy,
                        outbound: &outbound,
                        expected: expected.as_deref(),
                        connect_timeout,
                        refused: &refused,
                    };
                    tokio::select! {
                        () = stop.cancelled() => {}
                        () = serve(stream, &gate) => {}
                    }
                });
            }
        });
        Ok(Self {
            address,
            password,
            expected,
            stop,
            refused,
        })
    }

    /// Where the proxy listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The secret half of the credential (user [`PROXY_USER`]), answered to
    /// the proxy's 407 through DevTools (`Fetch.continueWithAuth`).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The `Proxy-Authorization` header value that opens the proxy (tests).
    pub fn authorization(&self) -> &str {
        &self.expected
    }

    /// How many requests it refused so far.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }
}

/// What every connection is checked against.
struct Gate<'a> {
    policy: &'a UrlPolicy,
    /// The upstream proxy, when the operator set one.
    outbound: &'a Outbound,
    /// The `Proxy-Authorization` value that opens the proxy, when one is
    /// required.
    expected: Option<&'a str>,
    connect_timeout: Duration,
    refused: &'a AtomicUsize,
}

/// Serve one client connection: one request, then a tunnel or a forwarded
/// exchange.
async fn serve(mut client: TcpStream, gate: &Gate<'_>) {
    let Gate {
        policy,
        outbound,
        connect_timeout,
        refused,
        ..
    } = *gate;
    let Ok(Ok((head, rest))) = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut client)).await
    else {
        return;
    };
    let Some(request) = Request::parse(&head) else {
        let _ = respond(&mut client, 400, "bad request").await;
        return;
    };
    if let Some(expected) = gate.expected
        && !request.authorized(expected)
    {
        // Chromium answers the challenge through DevTools and retries on a
        // new connection; anyone else is stuck here. Logged (debug) so a
        // check can see requests Chromium makes of its own, which have no
        // page to answer the challenge for them.
        tracing::debug!(target = %request.target, "egress proxy challenged a request without the credential");
        let _ = respond(&mut client, 407, "proxy credential required").await;
        return;
    }
    let target = if request.method.eq_ignore_ascii_case("CONNECT") {
        policy.check_authority("https", &request.target)
    } else {
        policy.check(&request.target).and_then(|url| {
            if url.as_url().scheme() == "http" {
                Ok(url)
            } else {
                Err(moat_shared::policy::UrlDenied::Scheme(
                    "https over a plain proxy request".into(),
                ))
            }
        })
    };
    let connect_method = request.method.eq_ignore_ascii_case("CONNECT");
    let upstream = match target {
        Ok(url) => connect(policy, outbound, &url, connect_method, connect_timeout)
            .await
            .map(|(stream, via)| (url, stream, via)),
        Err(denied) => Err(denied.to_string()),
    };
    let (url, mut upstream, via) = match upstream {
        Ok(pair) => pair,
        Err(reason) => {
            refused.fetch_add(1, Ordering::Relaxed);
            tracing::info!(target = %request.target, %reason, "egress proxy refused a browser request");
            let _ = respond(&mut client, 403, &format!("{REFUSAL_MARKER}: {reason}")).await;
            return;
        }
    };
    if connect_method {
        if client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
    } else {
        let forwarded = request.forward_form(&url, via.as_ref());
        if upstream.write_all(&forwarded).await.is_err() {
            return;
        }
    }
    if !rest.is_empty() && upstream.write_all(&rest).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// A plain-HTTP request forwarded through the upstream proxy: its
/// `Proxy-Authorization` line and the checked address it is sent to.
struct Via {
    authorization: String,
    address: SocketAddr,
}

/// Resolve once, check every address, connect to the first that answers:
/// directly, or through the upstream proxy (a tunnel to the checked
/// address for CONNECT; for a plain request, a connection to the proxy,
/// which is then handed the checked address in the request line).
#[expect(
    clippy::disallowed_methods,
    reason = "the browser's one way out: connects only to addresses UrlPolicy::resolve just checked"
)]
async fn connect(
    policy: &UrlPolicy,
    outbound: &Outbound,
    url: &AllowedUrl,
    tunnel: bool,
    connect_timeout: Duration,
) -> Result<(TcpStream, Option<Via>), String> {
    let addresses = policy
        .resolve(url)
        .await
        .map_err(|denied| denied.to_string())?;
    if let Some(upstream) = outbound.upstream_for(url) {
        return through(upstream, &addresses, tunnel, connect_timeout).await;
    }
    let mut last = String::from("no address");
    for address in addresses {
        match tokio::time::timeout(connect_timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok((stream, None));
            }
            Ok(Err(error)) => last = error.to_string(),
            Err(_) => last = "connect timed out".into(),
        }
    }
    Err(format!("could not connect to {}: {last}", url.host()))
}

/// [`connect`] through the upstream proxy, to the first checked address.
async fn through(
    upstream: &Upstream,
    addresses: &[SocketAddr],
    tunnel: bool,
    connect_timeout: Duration,
) -> Result<(TcpStream, Option<Via>), String> {
    let address = *addresses.first().ok_or("no address")?;
    if tunnel {
        let stream = upstream
            .tunnel(address, connect_timeout)
            .await
            .map_err(|error| error.to_string())?;
        return Ok((stream, None));
    }
    let stream = upstream
        .connect(connect_timeout)
        .await
        .map_err(|error| error.to_string())?;
    Ok((
        stream,
        Some(Via {
            authorization: upstream.authorization_line(),
            address,
        }),
    ))
}

/// Read up to the end of the head; return the head and any bytes after it.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0_u8; 4096];
    loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Ok((buffer, rest));
        }
        if buffer.len() > MAX_HEAD_BYTES {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
    }
}

async fn respond(client: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let (reason, challenge) = match status {
        403 => ("Forbidden", String::new()),
        407 => (
            "Proxy Authentication Required",
            format!("Proxy-Authenticate: Basic realm=\"{PROXY_REALM}\"\r\n"),
        ),
        _ => ("Bad Request", String::new()),
    };
    let message = format!(
        "HTTP/1.1 {status} {reason}\r\n{challenge}{REFUSAL_HEADER}: 1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(message.as_bytes()).await?;
    client.shutdown().await
}

/// A parsed proxy request head.
struct Request {
    method: String,
    target: String,
    version: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn parse(head: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(head).ok()?;
        let mut lines = text.split("\r\n");
        let mut first = lines.next()?.split(' ');
        let method = first.next()?.to_string();
        let target = first.next()?.to_string();
        let version = first.next()?.to_string();
        if !version.starts_with("HTTP/1.") || method.is_empty() {
            return None;
        }
        let headers = lines
            .filter(|line| !line.is_empty())
            .filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                Some((name.trim().to_string(), value.trim().to_string()))
            })
            .collect();
        Some(Self {
            method,
            target,
            version,
            headers,
        })
    }

    /// True when a `Proxy-Authorization` header carries `expected`,
    /// compared in constant time.
    fn authorized(&self, expected: &str) -> bool {
        self.headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("proxy-authorization"))
            .any(|(_, value)| constant_time_eq(value.as_bytes(), expected.as_bytes()))
    }

    /// The request as the origin server expects it (origin-form target),
    /// or as the upstream proxy expects it (absolute-form to the checked
    /// address, the Host header kept, the upstream's credential added):
    /// hop-by-hop and proxy headers dropped, one request per connection.
    fn forward_form(&self, url: &AllowedUrl, via: Option<&Via>) -> Vec<u8> {
        let mut path = url.as_url().path().to_string();
        if let Some(query) = url.as_url().query() {
            path.push('?');
            path.push_str(query);
        }
        let mut out = match via {
            Some(via) => format!(
                "{} http://{}{path} {}\r\n{}",
                self.method, via.address, self.version, via.authorization
            ),
            None => format!("{} {path} {}\r\n", self.method, self.version),
        };
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "proxy-connection" | "proxy-authorization" | "connection" | "keep-alive"
            ) {
                continue;
            }
            let _ = write!(out, "{name}: {value}\r\n");
        }
        out.push_str("Connection: close\r\n\r\n");
        out.into_bytes()
    }
}

/// Equal bytes, in a time that depends only on the lengths: the credential
/// must not leak through how fast a wrong guess is refused.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0_u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

#[cfg(test)]
#[expect(
    clippy::disallowed_methods,
    reason = "the tests play the browser and the upstream site on loopback"
)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Send one raw request head to the proxy and read its whole answer.
    async fn exchange(proxy: SocketAddr, head: String) -> String {
        let mut stream = TcpStream::connect(proxy).await.expect("connect to proxy");
        stream.write_all(head.as_bytes()).await.expect("send");
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// Requests without the proxy credential (none, a wrong one, CONNECT or
    /// plain) get 407 with a Basic challenge and never reach the upstream;
    /// the same request with the credential is forwarded.
    #[tokio::test]
    async fn proxy_without_credential_forwards_nothing() {
        let upstream = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let target = upstream.local_addr().expect("address");
        let reached = Arc::new(AtomicUsize::new(0));
        let counter = reached.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = upstream.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
            }
        });
        let policy = UrlPolicy {
            allow_private: vec![target.to_string()],
            ..UrlPolicy::default()
        };
        let proxy = EgressProxy::start(
            Arc::new(policy),
            Arc::default(),
            Duration::from_secs(2),
            "127.0.0.1:0".parse().expect("address"),
            true,
        )
        .await
        .expect("proxy starts");
        let wrong = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{PROXY_USER}:guess"))
        );
        let refused = [
            format!("GET http://{target}/x HTTP/1.1\r\nHost: {target}\r\n\r\n"),
            format!(
                "GET http://{target}/x HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: {wrong}\r\n\r\n"
            ),
            format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"),
        ];
        for head in refused {
            let answer = exchange(proxy.address(), head.clone()).await;
            assert!(
                answer.starts_with("HTTP/1.1 407 "),
                "{head:?} got {answer:?}"
            );
            assert!(
                answer.contains("Proxy-Authenticate: Basic realm="),
                "no challenge: {answer:?}"
            );
        }
        assert_eq!(
            reached.load(Ordering::SeqCst),
            0,
            "a request without the credential was forwarded"
        );
        let answer = exchange(
            proxy.address(),
            format!(
                "GET http://{target}/x HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: {}\r\n\r\n",
                proxy.authorization()
            ),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer:?}");
        assert_eq!(reached.load(Ordering::SeqCst), 1);
    }

    /// With an upstream proxy, a CONNECT to an allowed destination becomes
    /// `CONNECT <checked IP:PORT>` to the upstream with its credential and
    /// the tunnel carries the bytes; a refused destination never reaches
    /// the upstream.
    #[tokio::test]
    async fn connect_chains_to_the_upstream_with_the_checked_address() {
        let upstream = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let upstream_address = upstream.local_addr().expect("address");
        let heads = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let recorded = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = upstream.accept().await {
                let Ok((head, _)) = read_head(&mut stream).await else {
                    continue;
                };
                recorded
                    .lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = stream
                    .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\ntunnelled")
                    .await;
            }
        });
        // The destination is never dialled by moat itself: only named.
        let destination: SocketAddr = "127.0.0.1:9".parse().expect("address");
        let policy = UrlPolicy {
            allow_private: vec![destination.to_string()],
            ..UrlPolicy::default()
        };
        let scrape = moat_shared::policy::ScrapePolicy {
            upstream_proxy: Some(format!("http://{upstream_address}")),
            upstream_proxy_auth_env: Some("PROXY_AUTH".into()),
            ..moat_shared::policy::ScrapePolicy::default()
        };
        let outbound =
            Outbound::from_policy(&scrape, |_| Some("corp:pass".into())).expect("outbound");
        let proxy = EgressProxy::start(
            Arc::new(policy),
            Arc::new(outbound),
            Duration::from_secs(2),
            "127.0.0.1:0".parse().expect("address"),
            false,
        )
        .await
        .expect("proxy starts");
        let answer = exchange(
            proxy.address(),
            format!("CONNECT {destination} HTTP/1.1\r\nHost: {destination}\r\n\r\n"),
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 200 ") && answer.ends_with("tunnelled"),
            "{answer:?}"
        );
        let refused = exchange(
            proxy.address(),
            "CONNECT 127.0.0.1:10 HTTP/1.1\r\nHost: 127.0.0.1:10\r\n\r\n".into(),
        )
        .await;
        assert!(refused.starts_with("HTTP/1.1 403 "), "{refused:?}");
        let heads = heads.lock().expect("lock").clone();
        assert_eq!(heads.len(), 1, "{heads:?}");
        assert!(
            heads[0].starts_with(&format!("CONNECT {destination} HTTP/1.1\r\n")),
            "{heads:?}"
        );
        assert!(
            heads[0].contains("Proxy-Authorization: Basic Y29ycDpwYXNz"),
            "{heads:?}"
        );
    }
}
