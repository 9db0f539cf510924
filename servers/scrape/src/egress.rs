//! The browser's only way out: a loopback HTTP proxy (CONNECT and
//! absolute-form requests) that Chromium is started with
//! (`--proxy-server`, loopback not bypassed).
//!
//! Its job: for every request the page makes (navigation, redirects,
//! sub-resources, XHR and fetch, WebSockets), check the destination with the
//! same [`UrlPolicy`], resolve it once, and connect to the checked address.
//! It must never connect anywhere else, and never accept a connection from
//! anything but loopback (it binds 127.0.0.1 on a random port). CDP request
//! interception alone cannot give this guarantee: Chromium resolves names
//! itself, so a rebinding answer would reach the operator's network.

use std::{
    fmt::Write as _,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

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

/// A running egress proxy. Dropping it stops the listener.
#[derive(Debug)]
pub struct EgressProxy {
    address: SocketAddr,
    stop: CancellationToken,
    refused: Arc<AtomicUsize>,
}

impl Drop for EgressProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl EgressProxy {
    /// Bind 127.0.0.1:0 and serve until dropped.
    ///
    /// # Errors
    /// The bind failure.
    pub async fn start(policy: Arc<UrlPolicy>, connect_timeout: Duration) -> std::io::Result<Self> {
        #[expect(
            clippy::disallowed_methods,
            reason = "the egress proxy listens on loopback only, for this server's own Chromium"
        )]
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let stop = CancellationToken::new();
        let refused = Arc::new(AtomicUsize::new(0));
        let task_stop = stop.clone();
        let task_refused = refused.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = task_stop.cancelled() => break,
                    accepted = listener.accept() => accepted,
                };
                let Ok((stream, peer)) = accepted else {
                    continue;
                };
                if !peer.ip().is_loopback() {
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let policy = policy.clone();
                let refused = task_refused.clone();
                let stop = task_stop.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        () = stop.cancelled() => {}
                        () = serve(stream, &policy, connect_timeout, &refused) => {}
                    }
                });
            }
        });
        Ok(Self {
            address,
            stop,
            refused,
        })
    }

    /// Where the proxy listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// How many requests it refused so far.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }
}

/// Serve one client connection: one request, then a tunnel or a forwarded
/// exchange.
async fn serve(
    mut client: TcpStream,
    policy: &UrlPolicy,
    connect_timeout: Duration,
    refused: &AtomicUsize,
) {
    let Ok(Ok((head, rest))) = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut client)).await
    else {
        return;
    };
    let Some(request) = Request::parse(&head) else {
        let _ = respond(&mut client, 400, "bad request").await;
        return;
    };
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
    let reason = if status == 403 {
        "Forbidden"
    } else {
        "Bad Request"
    };
    let message = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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
