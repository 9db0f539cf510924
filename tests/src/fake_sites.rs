//! Fake web servers on loopback for moat-scrape's suites: a small site with
//! every hostile and awkward page the scraper must handle, a "blocked"
//! server that records whether anything reached it, a fake SearXNG and a
//! fake Brave Search API (with its free tier's per-second limit, its 429s
//! and its monthly quota). Every server counts its requests and the most
//! it served at once.
//!
//! Raw HTTP/1.1 over tokio (one request per connection), so the tests need
//! no web framework. Must never bind anything but 127.0.0.1.

use std::{
    fmt::Write as _,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// One recorded request: method, path with query, and headers.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Request method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Lowercased header names with their values.
    pub headers: Vec<(String, String)>,
}

/// What a route answers.
pub enum Reply {
    /// A complete response.
    Full {
        /// Status code.
        status: u16,
        /// Headers besides Content-Length and Connection.
        headers: Vec<(String, String)>,
        /// Body.
        body: Vec<u8>,
    },
    /// Headers and the start of an HTML body, then nothing until the
    /// client goes away (a page that never finishes loading).
    Stall(String),
    /// `total` bytes of HTML, streamed.
    Huge(usize),
    /// Nothing at all: the request is read, then the connection stays open
    /// and silent until the client goes away (a server that hangs).
    Silent,
    /// The reply, after a pause (a slow page, to see requests overlap).
    Delayed(Duration, Box<Reply>),
}

impl Reply {
    /// 200 with a content type.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::Full {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// A redirect.
    pub fn redirect(location: &str) -> Self {
        Self::Full {
            status: 302,
            headers: vec![("Location".into(), location.into())],
            body: Vec::new(),
        }
    }

    /// 404.
    pub fn not_found() -> Self {
        Self::Full {
            status: 404,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: b"not found".to_vec(),
        }
    }
}

type Router = Arc<dyn Fn(&Hit) -> Reply + Send + Sync>;

/// A fake server on 127.0.0.1, stopped when dropped.
pub struct FakeServer {
    /// Where it listens.
    pub address: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    open: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

/// Counts a connection as open until its handler returns.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    /// Serve `router` on a fresh loopback port.
    ///
    /// # Panics
    /// When loopback cannot be bound.
    pub async fn start(router: impl Fn(&Hit) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("address");
        let hits = Arc::new(Mutex::new(Vec::new()));
        let router: Router = Arc::new(router);
        let task_hits = hits.clone();
        let open = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let task_open = open.clone();
        let task_peak = peak.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let hits = task_hits.clone();
                let now = task_open.fetch_add(1, Ordering::SeqCst) + 1;
                task_peak.fetch_max(now, Ordering::SeqCst);
                let guard = Open(task_open.clone());
                tokio::spawn(async move {
                    let _guard = guard;
                    serve(stream, &router, &hits).await;
                });
            }
        });
        Self {
            address,
            hits,
            open,
            peak,
            task,
        }
    }

    /// The most connections it served at once so far (one request per
    /// connection: the most requests in flight at once).
    pub fn peak_connections(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Connections being served now: a client that went away is no longer
    /// counted, even on a page that never finishes.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `127.0.0.1:PORT`, for `allow_private`.
    pub fn authority(&self) -> String {
        self.address.to_string()
    }

    /// Every request received so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Requests whose target starts with `prefix`.
    pub fn hits_on(&self, prefix: &str) -> usize {
        self.hits()
            .iter()
            .filter(|hit| hit.target.starts_with(prefix))
            .count()
    }
}

async fn serve(mut stream: TcpStream, router: &Router, hits: &Mutex<Vec<Hit>>) {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        let Ok(read) = stream.read(&mut chunk).await else {
            return;
        };
        if read == 0 {
            return;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end;
        }
        if buffer.len() > 1024 * 1024 {
            return;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let hit = Hit {
        method: first.next().unwrap_or("").to_string(),
        target: first.next().unwrap_or("").to_string(),
        headers: lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
            .collect(),
    };
    hits.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(hit.clone());
    let mut reply = router(&hit);
    while let Reply::Delayed(pause, inner) = reply {
        tokio::time::sleep(pause).await;
        reply = *inner;
    }
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut response = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                let _ = write!(response, "{name}: {value}\r\n");
            }
            response.push_str("\r\n");
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.write_all(&body).await;
        }
        Reply::Stall(start) => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(start.as_bytes()).await;
            let _ = stream.flush().await;
            until_client_leaves(&mut stream).await;
        }
        Reply::Silent | Reply::Delayed(..) => until_client_leaves(&mut stream).await,
        Reply::Huge(total) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let paragraph = b"<p>All work and no play makes a very long page.</p>\n";
            let mut sent = 0;
            let mut block = Vec::with_capacity(64 * 1024);
            while block.len() + paragraph.len() <= 64 * 1024 {
                block.extend_from_slice(paragraph);
            }
            while sent < total {
                let size = block.len().min(total - sent);
                if stream.write_all(&block[..size]).await.is_err() {
                    return;
                }
                sent += size;
            }
        }
    }
    let _ = stream.shutdown().await;
}

/// Wait (an hour at most) until the client closes its side or the
/// connection breaks; whatever it sends meanwhile is ignored.
async fn until_client_leaves(stream: &mut TcpStream) {
    let mut sink = [0_u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(3600), async {
        while matches!(stream.read(&mut sink).await, Ok(read) if read > 0) {}
    })
    .await;
}

/// A long static article (about 6,000 characters of text).
pub fn article_html() -> String {
    let mut paragraphs = String::new();
    for index in 1..=30 {
        let _ = writeln!(
            paragraphs,
            "<p>Paragraph {index}. The quick brown fox jumps over the lazy dog while the scraper reads every word of this article carefully.</p>"
        );
    }
    format!(
        "<!DOCTYPE html><html><head><title>The Static Article</title><style>body {{ color: red }}</style>\
         <script>var tracking = 'SECRET-TRACKER';</script></head><body>\
         <nav><a href=/>Home</a> | <a href=/about>About us</a></nav>\
         <noscript>Please enable JavaScript to continue.</noscript>\
         <main><h1>Moats and Castles</h1>{paragraphs}<p>THE END OF THE ARTICLE. The fox and the dog rest now, and the scraper has read every paragraph of this long page.</p></main>\
         <footer>Copyright footer text</footer></body></html>"
    )
}

/// A page whose text only exists after JavaScript runs.
pub const SPA_HTML: &str = "<!DOCTYPE html><html><head><title>JS App</title></head><body>\
    <div id=\"root\"></div>\
    <noscript>You need to enable JavaScript to run this app.</noscript>\
    <script>setTimeout(function () {\
      document.getElementById('root').innerHTML = '<h1>Rendered by script</h1><p>The JAVASCRIPT-BUILT content is here.</p>';\
      document.title = 'JS App (ready)';\
    }, 150);</script></body></html>";

/// A page whose sub-resources and scripts all aim at `blocked` (a loopback
/// server the policy does not open).
pub fn leaky_html(blocked: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><title>Leaky</title>\
         <link rel=stylesheet href=\"http://{blocked}/style.css\">\
         <script src=\"http://{blocked}/script.js\"></script></head><body>\
         <h1>Visible text of the leaky page</h1>\
         <p>This page tries to reach a private server in every way a page can.</p>\
         <img src=\"http://{blocked}/image.png\"><img src=\"/pixel.png\">\
         <iframe src=\"http://{blocked}/frame\"></iframe>\
         <script>\
           fetch('http://{blocked}/fetch').catch(function () {{}});\
           var x = new XMLHttpRequest(); x.open('GET', 'http://{blocked}/xhr'); x.send();\
           try {{ new WebSocket('ws://{blocked}/socket'); }} catch (e) {{}}\
           fetch('http://localhost:{port}/by-name').catch(function () {{}});\
           navigator.sendBeacon('http://{blocked}/beacon', 'x');\
         </script></body></html>",
        port = blocked.rsplit(':').next().unwrap_or("0")
    )
}

/// An article with JSON-LD (a `@graph`, an array `@type`, authors by
/// reference, object and string) and OpenGraph, whose main content links
/// to two pages, one of them twice.
pub const METADATA_HTML: &str = r##"<!DOCTYPE html><html lang="en"><head><title>Metadata Article | Example</title>
<meta property="og:title" content="OpenGraph Title">
<meta property="og:site_name" content="OG Site">
<meta name="description" content="What this article is about.">
<script type="application/ld+json">{"@context":"https://schema.org","@graph":[
 {"@type":"Person","@id":"#ada","name":"Ada Lovelace"},
 {"@type":["NewsArticle","Article"],"headline":"JSON-LD Headline","datePublished":"2026-03-01T10:00:00Z",
  "author":[{"@id":"#ada"},{"@type":"Person","name":"Grace Hopper"}],
  "publisher":{"@type":"Organization","name":"Example Press"}}]}</script>
</head><body><nav><a href="/nav-only">Nav link</a></nav><article><h1>Metadata Article</h1>
<p>This article links to <a href="/article">the static article</a> and to
<a href="https://example.org/elsewhere">an external page</a>, and again to
<a href="/article#top">the static article</a> once more, because a model reading it may want
to follow the references that the author gave while the council debated the budget.</p>
<p>Enough words follow so that the article is clearly the main content of this page, and nothing else is.</p>
</article></body></html>"##;

/// An article described by OpenGraph and `<meta>` only.
pub const OPEN_GRAPH_HTML: &str = r#"<!DOCTYPE html><html><head><title>OG Page</title>
<meta property="og:site_name" content="The OG Site">
<meta property="og:locale" content="fr_FR">
<meta name="author" content="Jean Dupont">
<meta property="article:published_time" content="2025-12-31">
<meta property="og:description" content="Une description.">
</head><body><main><p>Le texte de la page, assez long pour être le contenu principal.</p></main></body></html>"#;

/// A link directory with no article: the main-content passes find almost
/// nothing, so extraction has to fall back to the whole body.
pub const NO_MAIN_HTML: &str = "<!DOCTYPE html><html><head><title>Loose</title></head><body>\
    <div>Archive of the castle pages.</div><ul><li><a href=\"/castle/1\">Castle page number 1</a></li><li><a href=\"/castle/2\">Castle page number 2</a></li><li><a href=\"/castle/3\">Castle page number 3</a></li><li><a href=\"/castle/4\">Castle page number 4</a></li><li><a href=\"/castle/5\">Castle page number 5</a></li><li><a href=\"/castle/6\">Castle page number 6</a></li><li><a href=\"/castle/7\">Castle page number 7</a></li><li><a href=\"/castle/8\">Castle page number 8</a></li><li><a href=\"/castle/9\">Castle page number 9</a></li><li><a href=\"/castle/10\">Castle page number 10</a></li><li><a href=\"/castle/11\">Castle page number 11</a></li><li><a href=\"/castle/12\">Castle page number 12</a></li><li><a href=\"/castle/13\">Castle page number 13</a></li><li><a href=\"/castle/14\">Castle page number 14</a></li><li><a href=\"/castle/15\">Castle page number 15</a></li><li><a href=\"/castle/16\">Castle page number 16</a></li><li><a href=\"/castle/17\">Castle page number 17</a></li><li><a href=\"/castle/18\">Castle page number 18</a></li><li><a href=\"/castle/19\">Castle page number 19</a></li><li><a href=\"/castle/20\">Castle page number 20</a></li><li><a href=\"/castle/21\">Castle page number 21</a></li><li><a href=\"/castle/22\">Castle page number 22</a></li><li><a href=\"/castle/23\">Castle page number 23</a></li><li><a href=\"/castle/24\">Castle page number 24</a></li><li><a href=\"/castle/25\">Castle page number 25</a></li><li><a href=\"/castle/26\">Castle page number 26</a></li><li><a href=\"/castle/27\">Castle page number 27</a></li><li><a href=\"/castle/28\">Castle page number 28</a></li><li><a href=\"/castle/29\">Castle page number 29</a></li><li><a href=\"/castle/30\">Castle page number 30</a></li></ul></body></html>";

/// An HTML page with nothing to read.
pub const EMPTY_HTML: &str =
    "<!DOCTYPE html><html><head><title>Empty</title></head><body><div></div></body></html>";

/// The text of page `n` (1-based) of [`paper_pdf`]: long enough that a
/// small `max_length` needs several windows.
pub fn paper_page(n: usize) -> String {
    format!(
        "PAGE-{n}-START {} PAGE-{n}-END",
        "The moat keeps the castle safe from every model's request. ".repeat(12)
    )
}

/// A three-page PDF of [`paper_page`]s (Helvetica, uncompressed), written
/// by hand: the tests need no PDF library.
pub fn paper_pdf() -> Vec<u8> {
    let pages: Vec<String> = (1..=3).map(paper_page).collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            (0..pages.len())
                .map(|index| format!("{} 0 R", 4 + 2 * index))
                .collect::<Vec<_>>()
                .join(" "),
            pages.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    for (index, page) in pages.iter().enumerate() {
        let content = format!("BT /F1 10 Tf 40 760 Td ({page}) Tj ET");
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * index
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", index + 1).as_bytes());
    }
    let xref = out.len();
    let _ = writeln!(
        Bytes(&mut out),
        "xref\n0 {}\n0000000000 65535 f ",
        objects.len() + 1
    );
    for offset in offsets {
        let _ = writeln!(Bytes(&mut out), "{offset:010} 00000 n ");
    }
    let _ = writeln!(
        Bytes(&mut out),
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF",
        objects.len() + 1
    );
    out
}

/// `fmt::Write` into a byte vector.
struct Bytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

/// [`paper_pdf`] cut before its first content stream: the page tree is
/// there, the text is not.
pub fn truncated_pdf() -> Vec<u8> {
    let mut pdf = paper_pdf();
    let cut = pdf
        .windows(b"stream".len())
        .position(|window| window == b"stream")
        .unwrap_or(pdf.len() / 4);
    pdf.truncate(cut);
    pdf
}

/// The standard site: every page the suites need. `blocked` is the address
/// of the server nothing may reach.
pub fn site_router(blocked: String) -> impl Fn(&Hit) -> Reply + Send + Sync + 'static {
    move |hit: &Hit| {
        let path = hit.target.split('?').next().unwrap_or("");
        match path {
            "/robots.txt" => Reply::ok("text/plain", "User-agent: *\nDisallow: /private\n"),
            "/article" => Reply::ok("text/html; charset=utf-8", article_html()),
            "/spa" => Reply::ok("text/html", SPA_HTML),
            "/silent" => Reply::Silent,
            "/slow" => Reply::Stall("<!DOCTYPE html><html><head><title>Slow</title></head><body><p>Partial content before the stall.</p>".into()),
            "/huge" => Reply::Huge(20 * 1024 * 1024),
            "/redirect/1" => Reply::redirect("/redirect/2"),
            "/redirect/2" => Reply::redirect(&format!("http://{blocked}/secret")),
            "/leaky" => Reply::ok("text/html", leaky_html(&blocked)),
            "/file.bin" => Reply::ok("application/octet-stream", vec![0_u8, 1, 2, 3, 255, 254, 0, 7]),
            "/doc.pdf" => Reply::ok("application/pdf", b"%PDF-1.7\n%binary".to_vec()),
            "/paper.pdf" => Reply::ok("application/pdf", paper_pdf()),
            "/files/report.pdf" => Reply::ok("application/octet-stream", paper_pdf()),
            "/truncated.pdf" => Reply::ok("application/pdf", truncated_pdf()),
            "/metadata" => Reply::ok("text/html; charset=utf-8", METADATA_HTML),
            "/open-graph" => Reply::ok("text/html; charset=utf-8", OPEN_GRAPH_HTML),
            "/no-main" => Reply::ok("text/html", NO_MAIN_HTML),
            "/empty" => Reply::ok("text/html", EMPTY_HTML),
            "/latin1" => Reply::ok(
                "text/html; charset=iso-8859-1",
                b"<html><head><title>Caf\xe9</title></head><body><p>Un caf\xe9 cr\xe8me, s'il vous pla\xeet.</p></body></html>".to_vec(),
            ),
            "/sjis" => Reply::ok(
                "text/html",
                b"<html><head><meta charset=\"Shift_JIS\"><title>JP</title></head><body><p>\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd</p></body></html>".to_vec(),
            ),
            "/private/page" => Reply::ok("text/html", "<p>robots.txt says you may not read this</p>"),
            _ => Reply::not_found(),
        }
    }
}

/// A fake SearXNG: `/search?q=..&format=json`.
pub fn searxng_router() -> impl Fn(&Hit) -> Reply + Send + Sync + 'static {
    |hit: &Hit| {
        if !hit.target.starts_with("/search?") || !hit.target.contains("format=json") {
            return Reply::not_found();
        }
        let results: Vec<serde_json::Value> = (1..=15)
            .map(|index| {
                serde_json::json!({
                    "title": format!("SearXNG result {index}"),
                    "url": format!("https://example.org/searx/{index}"),
                    "content": format!("Snippet <strong>number</strong> {index}"),
                    "engine": "fake"
                })
            })
            .collect();
        Reply::ok(
            "application/json",
            serde_json::json!({ "query": "q", "number_of_results": 15, "results": results })
                .to_string(),
        )
    }
}

/// A fake Brave Search API that requires `key` in `X-Subscription-Token`.
pub fn brave_router(key: &'static str) -> impl Fn(&Hit) -> Reply + Send + Sync + 'static {
    move |hit: &Hit| {
        let token = hit
            .headers
            .iter()
            .find(|(name, _)| name == "x-subscription-token")
            .map(|(_, value)| value.as_str());
        if token != Some(key) {
            return Reply::Full {
                status: 401,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: b"{\"error\":\"bad token\"}".to_vec(),
            };
        }
        brave_answer()
    }
}

/// Brave's 429 for its per-second limit: `Retry-After: 1`, the per-second
/// window spent and the monthly one not.
fn brave_rate_limited() -> Reply {
    Reply::Full {
        status: 429,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Retry-After".into(), "1".into()),
            ("X-RateLimit-Limit".into(), "1, 2000".into()),
            ("X-RateLimit-Remaining".into(), "0, 1500".into()),
            ("X-RateLimit-Reset".into(), "1, 86400".into()),
        ],
        body: br#"{"type":"ErrorResponse","error":{"code":"RATE_LIMITED","status":429}}"#.to_vec(),
    }
}

/// A fake Brave free tier: like [`brave_router`] (any key), but a request
/// arriving less than `spacing` after the last one it answered gets
/// Brave's 429, counted in `refused`.
pub fn brave_free_tier(
    spacing: Duration,
    refused: Arc<AtomicUsize>,
) -> impl Fn(&Hit) -> Reply + Send + Sync + 'static {
    let last: Mutex<Option<std::time::Instant>> = Mutex::new(None);
    move |_hit: &Hit| {
        let mut last = last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < spacing) {
            refused.fetch_add(1, Ordering::SeqCst);
            return brave_rate_limited();
        }
        *last = Some(now);
        brave_answer()
    }
}

/// A fake Brave that answers its first `refusals` requests with the
/// per-second 429 (`Retry-After: 1`), and answers normally after that.
pub fn brave_refusing(refusals: usize) -> impl Fn(&Hit) -> Reply + Send + Sync + 'static {
    let seen = AtomicUsize::new(0);
    move |_hit: &Hit| {
        if seen.fetch_add(1, Ordering::SeqCst) < refusals {
            brave_rate_limited()
        } else {
            brave_answer()
        }
    }
}

/// A fake Brave whose monthly quota is used up: every request gets 429
/// with the monthly window at 0 and `QUOTA_LIMITED`.
pub fn brave_quota_spent() -> impl Fn(&Hit) -> Reply + Send + Sync + 'static {
    |_hit: &Hit| Reply::Full {
        status: 429,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("X-RateLimit-Limit".into(), "1, 2000".into()),
            ("X-RateLimit-Remaining".into(), "1, 0".into()),
            ("X-RateLimit-Reset".into(), "1, 360000".into()),
        ],
        body: br#"{"type":"ErrorResponse","error":{"code":"QUOTA_LIMITED","status":429}}"#.to_vec(),
    }
}

/// Brave's answer: five results.
fn brave_answer() -> Reply {
    let results: Vec<serde_json::Value> = (1..=5)
        .map(|index| {
            serde_json::json!({
                "title": format!("Brave result {index}"),
                "url": format!("https://example.com/brave/{index}"),
                "description": format!("Brave <strong>snippet</strong> {index}")
            })
        })
        .collect();
    Reply::ok(
        "application/json",
        serde_json::json!({ "type": "search", "web": { "results": results } }).to_string(),
    )
}

/// One request an upstream proxy received: the request line's method and
/// target (`CONNECT IP:PORT` or an absolute URL), and its credential.
#[derive(Debug, Clone)]
pub struct ProxyHit {
    /// `CONNECT`, `GET`, ...
    pub method: String,
    /// `127.0.0.1:PORT` for CONNECT, `http://127.0.0.1:PORT/path` otherwise.
    pub target: String,
    /// The `Proxy-Authorization` header, when sent.
    pub authorization: Option<String>,
}

/// A tiny upstream HTTP proxy on 127.0.0.1 (CONNECT tunnels and
/// absolute-form forwards), recording every request. It reaches only
/// 127.0.0.1 and answers 502 for anything else. Stopped when dropped.
pub struct FakeProxy {
    /// Where it listens.
    pub address: SocketAddr,
    hits: Arc<Mutex<Vec<ProxyHit>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeProxy {
    /// Listen on a fresh loopback port.
    ///
    /// # Panics
    /// When loopback cannot be bound.
    pub async fn start() -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("address");
        let hits = Arc::new(Mutex::new(Vec::new()));
        let task_hits = hits.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let hits = task_hits.clone();
                tokio::spawn(async move { proxy_one(stream, &hits).await });
            }
        });
        Self {
            address,
            hits,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`, for `upstream_proxy`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request received so far.
    pub fn hits(&self) -> Vec<ProxyHit> {
        self.hits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

async fn proxy_one(mut client: TcpStream, hits: &Mutex<Vec<ProxyHit>>) {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        let Ok(read) = client.read(&mut chunk).await else {
            return;
        };
        if read == 0 {
            return;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
        if buffer.len() > 64 * 1024 {
            return;
        }
    };
    let rest = buffer.split_off(head_end);
    let head = String::from_utf8_lossy(&buffer).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (method, target, version) = (
        first.next().unwrap_or("").to_string(),
        first.next().unwrap_or("").to_string(),
        first.next().unwrap_or("HTTP/1.1").to_string(),
    );
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    hits.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(ProxyHit {
            method: method.clone(),
            target: target.clone(),
            authorization: headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("proxy-authorization"))
                .map(|(_, value)| value.clone()),
        });
    let connect = method.eq_ignore_ascii_case("CONNECT");
    let (authority, path) = if connect {
        (target.clone(), String::new())
    } else {
        let without = target.strip_prefix("http://").unwrap_or("");
        match without.find('/') {
            Some(slash) => (without[..slash].to_string(), without[slash..].to_string()),
            None => (without.to_string(), "/".to_string()),
        }
    };
    let loopback = authority
        .parse::<SocketAddr>()
        .ok()
        .filter(|address| address.ip().is_loopback());
    let Some(destination) = loopback else {
        let _ = client
            .write_all(
                b"HTTP/1.1 502 Not Loopback\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await;
        return;
    };
    let Ok(mut upstream) = TcpStream::connect(destination).await else {
        let _ = client
            .write_all(
                b"HTTP/1.1 502 Unreachable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await;
        return;
    };
    if connect {
        if client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
    } else {
        let mut forwarded = format!("{method} {path} {version}\r\n");
        for (name, value) in &headers {
            if !name.eq_ignore_ascii_case("proxy-authorization") {
                let _ = write!(forwarded, "{name}: {value}\r\n");
            }
        }
        forwarded.push_str("\r\n");
        if upstream.write_all(forwarded.as_bytes()).await.is_err() {
            return;
        }
    }
    if !rest.is_empty() && upstream.write_all(&rest).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// A page on the host the policy declares secrets for: plain text, a link
/// to `other`, an image from `other` (the browser must not send the secret
/// there), and `/away`, a redirect to `other`.
pub fn wiki_router(other: String) -> impl Fn(&Hit) -> Reply + Send + Sync + 'static {
    move |hit: &Hit| match hit.target.as_str() {
        "/robots.txt" => Reply::ok("text/plain", "User-agent: *\n"),
        "/page" => Reply::ok(
            "text/html",
            format!(
                "<!DOCTYPE html><html><head><title>Wiki</title></head><body><main>\
                 <h1>The intranet wiki</h1><p>Only readers with the token see this page of the wiki.</p>\
                 <img src=\"http://{other}/pixel.png\"></main></body></html>"
            ),
        ),
        "/away" => Reply::redirect(&format!("http://{other}/landing")),
        _ => Reply::not_found(),
    }
}

/// The other host: a plain page for any path.
pub fn other_router() -> impl Fn(&Hit) -> Reply + Send + Sync + 'static {
    |hit: &Hit| match hit.target.as_str() {
        "/robots.txt" => Reply::ok("text/plain", "User-agent: *\n"),
        _ => Reply::ok(
            "text/html",
            "<!DOCTYPE html><html><head><title>Other</title></head><body><main>\
             <h1>Another host</h1><p>This host must never see the wiki's token or cookie.</p>\
             </main></body></html>",
        ),
    }
}

/// A site whose robots.txt allows everything and whose every other path
/// answers `html` (a page with one main text, for interop clients).
pub async fn one_page_site(html: &'static str) -> FakeServer {
    FakeServer::start(move |hit: &Hit| {
        if hit.target == "/robots.txt" {
            Reply::ok("text/plain", "User-agent: *\nAllow: /\n")
        } else {
            Reply::ok("text/html; charset=utf-8", html)
        }
    })
    .await
}
