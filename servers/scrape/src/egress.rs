//! The browser's only way out: an HTTP proxy (CONNECT and absolute-form
//! requests) that every call's browser context is created with
//! (`Target.createBrowserContext` `proxyServer`, loopback not bypassed), on
//! a launched Chromium and a remote one alike.
//!
//! Its job: for every request the page makes (navigation, redirects,
//! sub-resources, XHR and fetch, WebSockets), demand the per-process
//! credential (when it serves a remote browser), check the destination with the same [`UrlPolicy`], resolve it
//! once, and connect to the checked address. It must never connect anywhere
//! else, never forward a request that lacks a required credential (407),
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
use moat_shared::policy::{AllowedUrl, UrlPolicy};
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

/// The user name of the proxy credential (the password is the secret).
pub const PROXY_USER: &str = "moat";

/// The realm of the proxy's 407 challenge.
const PROXY_REALM: &str = "moat-scrape egress";

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
                let refused = task_refused.clone();
                let stop = task_stop.clone();
                let expected = task_expected.clone();
                tokio::spawn(async move {
                    let gate = Gate {
                        policy: &policy,
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
        // new connection; anyone else is stuck here.
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
    let upstream = match target {
        Ok(url) => connect(policy, &url, connect_timeout)
            .await
            .map(|stream| (url, stream)),
        Err(denied) => Err(denied.to_string()),
    };
    let (url, mut upstream) = match upstream {
        Ok(pair) => pair,
        Err(reason) => {
            refused.fetch_add(1, Ordering::Relaxed);
            tracing::info!(target = %request.target, %reason, "egress proxy refused a browser request");
            let _ = respond(&mut client, 403, &format!("{REFUSAL_MARKER}: {reason}")).await;
            return;
        }
    };
    if request.method.eq_ignore_ascii_case("CONNECT") {
        if client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
    } else {
        let forwarded = request.origin_form(&url);
        if upstream.write_all(&forwarded).await.is_err() {
            return;
        }
    }
    if !rest.is_empty() && upstream.write_all(&rest).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// Resolve once, check every address, connect to the first that answers.
#[expect(
    clippy::disallowed_methods,
    reason = "the browser's one way out: connects only to addresses UrlPolicy::resolve just checked"
)]
async fn connect(
    policy: &UrlPolicy,
    url: &AllowedUrl,
    connect_timeout: Duration,
) -> Result<TcpStream, String> {
    let addresses = policy
        .resolve(url)
        .await
        .map_err(|denied| denied.to_string())?;
    let mut last = String::from("no address");
    for address in addresses {
        match tokio::time::timeout(connect_timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(error)) => last = error.to_string(),
            Err(_) => last = "connect timed out".into(),
        }
    }
    Err(format!("could not connect to {}: {last}", url.host()))
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
        "HTTP/1.1 {status} {reason}\r\n{challenge}Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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

    /// The request as the origin server expects it: origin-form target,
    /// hop-by-hop and proxy headers dropped, one request per connection.
    fn origin_form(&self, url: &AllowedUrl) -> Vec<u8> {
        let mut path = url.as_url().path().to_string();
        if let Some(query) = url.as_url().query() {
            path.push('?');
            path.push_str(query);
        }
        let mut out = format!("{} {path} {}\r\n", self.method, self.version);
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
}
