//! Protocol errors as JSON-RPC says, on every transport, and the stdio
//! shutdown on SIGTERM/SIGINT, through the real binaries (issue 11, items
//! 5, 2 and 6).
//!
//! - Malformed bodies get 400 with a JSON-RPC error over HTTP, in both eras
//!   and on the legacy `/messages` endpoint (stdio lines: the
//!   hostile_protocol corpus).
//! - A request repeating the id of one in flight gets its own -32600 and
//!   the first call still gets its answer, on stdio, `/mcp` and legacy SSE:
//!   the first call is a moat-scrape scrape of a loopback page that answers
//!   only when the test releases it, so it is in flight for certain.
//! - SIGTERM/SIGINT to a stdio server: exit 0, the call in flight finishes,
//!   Chromium is closed and its profile removed.
//! - A session `DELETE` answers 204.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use moat_tests::{
    HttpServer,
    fake_sites::{FakeServer, Reply, site_router},
    fixture::Tree,
    raw_stdio::{ANSWER_LIMIT, PROTOCOL_VERSION, RawStdio, initialize_params, request},
    sse_messages,
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    sync::Semaphore,
};

/// What the held page says once released.
const HELD_TEXT: &str = "HELD PAGE BODY";

/// A loopback web server whose `/held` page answers only once the test
/// releases it; every other path is 404 (so robots.txt allows everything).
struct HeldPage {
    address: SocketAddr,
    hits: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HeldPage {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HeldPage {
    async fn start() -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("address");
        let hits = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Semaphore::new(0));
        let task = {
            let hits = hits.clone();
            let gate = gate.clone();
            tokio::spawn(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    let hits = hits.clone();
                    let gate = gate.clone();
                    tokio::spawn(async move {
                        let mut head = Vec::new();
                        let mut byte = [0_u8; 1];
                        while !head.ends_with(b"\r\n\r\n")
                            && stream.read(&mut byte).await.unwrap_or(0) == 1
                        {
                            head.push(byte[0]);
                        }
                        let wants_held = String::from_utf8_lossy(&head).contains(" /held ");
                        let (status, body) = if wants_held {
                            hits.fetch_add(1, Ordering::SeqCst);
                            let _permit = gate.acquire().await;
                            (
                                "200 OK",
                                format!("<html><body><p>{HELD_TEXT}</p></body></html>"),
                            )
                        } else {
                            ("404 Not Found", "not found".to_string())
                        };
                        let response = format!(
                            "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                             Connection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = stream.write_all(response.as_bytes()).await;
                    });
                }
            })
        };
        Self {
            address,
            hits,
            gate,
            task,
        }
    }

    /// `tools/call` params scraping the held page over plain HTTP.
    fn scrape_params(&self) -> Value {
        json!({ "name": "scrape", "arguments": {
            "url": format!("http://{}/held", self.address), "render": "http" } })
    }

    /// Wait until the scraper is fetching the page (its call is in flight).
    async fn wait_hit(&self) {
        tokio::time::timeout(ANSWER_LIMIT, async {
            while self.hits.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the scraper fetches the held page");
    }

    /// Let every held request answer.
    fn release(&self) {
        self.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }
}

/// A moat-scrape policy opening only `authority`, in a temp dir.
struct Policy {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Policy {
    fn new(authority: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("policy.toml");
        std::fs::write(
            &path,
            format!(
                "[url]\nallow_private = [\"{authority}\"]\n\n[scrape]\nrobots_timeout_ms = 2000\n\
                 browser_timeout_ms = 20000\n"
            ),
        )
        .expect("write policy");
        Self { _dir: dir, path }
    }

    fn arg(&self) -> String {
        self.path.display().to_string()
    }
}

/// Is `message` the -32600 refusing a request whose id is in flight?
fn is_duplicate_refusal(message: &Value, id: &Value) -> bool {
    message["id"] == *id
        && message["error"]["code"] == -32600
        && message["error"]["message"].as_str().is_some_and(|text| {
            text.contains(&format!("duplicate request id {id} already in flight"))
        })
}

/// Is `message` a successful scrape of the held page answering `id`?
fn is_held_scrape(message: &Value, id: &Value) -> bool {
    message["id"] == *id
        && message["result"]["isError"] == false
        && message["result"]["content"][0]["text"]
            .as_str()
            .is_some_and(|text| text.contains(HELD_TEXT))
}

/// POST `body` to `/mcp`; the status, the session id header and the body.
async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, Option<String>, String) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .timeout(ANSWER_LIMIT);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.body(body).send().await.expect("POST answered");
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let status = response.status().as_u16();
    (status, session, response.text().await.unwrap_or_default())
}

/// Open a 2025-11-25 session on `url`; its id.
async fn open_session(url: &str) -> String {
    let version = ("MCP-Protocol-Version", PROTOCOL_VERSION);
    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                            "params": initialize_params()});
    let (status, session, body) = post(url, &[version], initialize.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let session = session.expect("a session id");
    let (status, _, body) = post(
        url,
        &[version, ("Mcp-Session-Id", &session)],
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    session
}

/// The one JSON-RPC error of a 400 answer, checked for code and id.
fn assert_refused(answer: &(u16, Option<String>, String), code: i64, id: &Value) {
    let (status, _, body) = answer;
    assert_eq!(*status, 400, "{body}");
    let error: Value = serde_json::from_str(body).expect("a JSON-RPC error body");
    assert_eq!(error["jsonrpc"], "2.0", "{body}");
    assert_eq!(error["error"]["code"], code, "{body}");
    assert!(error["error"]["message"].is_string(), "{body}");
    assert!(
        error.as_object().is_some_and(|o| o.get("id") == Some(id)),
        "{body}"
    );
}

// ------------------------------------------------------ malformed bodies

/// Regression (issue 11): a malformed `/mcp` body got a text 415; it now
/// gets 400 with -32700/-32600 as JSON, in a 2025-11-25 session, without a
/// session, and in the 2026-07-28 stateless era. A wrong Content-Type is
/// still 415 (a header error, not a body error).
#[tokio::test(flavor = "multi_thread")]
async fn malformed_post_bodies_get_400_with_a_jsonrpc_error() {
    let tree = Tree::new();
    let root = tree.root_arg();
    let stateful = HttpServer::start("moat-fs", &[&root], &[]).expect("server");
    let stateless = HttpServer::start("moat-fs", &[&root], &["--stateless"]).expect("server");
    let session = open_session(&stateful.url).await;
    let old = ("MCP-Protocol-Version", PROTOCOL_VERSION);
    let new = ("MCP-Protocol-Version", "2026-07-28");
    let in_session = [old, ("Mcp-Session-Id", session.as_str())];
    let bad_params = r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":7}"#;
    for (url, headers) in [
        (&stateful.url, &in_session[..]),
        (&stateful.url, &[old][..]),
        (&stateless.url, &[new][..]),
    ] {
        assert_refused(
            &post(url, headers, "this is not json").await,
            -32700,
            &Value::Null,
        );
        assert_refused(&post(url, headers, "[]").await, -32600, &Value::Null);
        assert_refused(&post(url, headers, bad_params).await, -32600, &json!(3));
        let (status, _, body) = post(url, headers, "").await;
        assert_eq!(status, 400, "{body}");
    }
    let wrong_type = reqwest::Client::new()
        .post(&stateful.url)
        .header("Content-Type", "text/plain")
        .header("Accept", "application/json, text/event-stream")
        .header("Mcp-Session-Id", &session)
        .body("this is not json")
        .send()
        .await
        .expect("POST");
    assert_eq!(wrong_type.status(), 415);
}

/// Regression (issue 11): the legacy `/messages` endpoint answered a
/// malformed body with plain text; it is now 400 with the JSON-RPC error.
#[tokio::test(flavor = "multi_thread")]
async fn legacy_messages_refuse_malformed_bodies_with_a_jsonrpc_error() {
    let tree = Tree::new();
    let server = HttpServer::start("moat-fs", &[&tree.root_arg()], &[]).expect("server");
    let mut legacy = Legacy::open(&server.base).await;
    assert_refused(&legacy.post("{not json").await, -32700, &Value::Null);
    assert_refused(
        &legacy
            .post(r#"{"jsonrpc":"1.0","id":"x","method":"ping"}"#)
            .await,
        -32600,
        &json!("x"),
    );
    let (status, _, body) = legacy
        .post(r#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#)
        .await;
    assert_eq!(status, 202, "{body}");
    assert!(legacy.answer(&json!("p")).await["result"].is_object());
}

// ------------------------------------------------- duplicate ids in flight

/// Regression (issue 11): on stdio, a request repeating the id of a call
/// in flight lost one of the two answers; it now gets its own -32600 and
/// the first call its result.
#[tokio::test(flavor = "multi_thread")]
async fn stdio_duplicate_id_in_flight_gets_its_own_error() {
    let page = HeldPage::start().await;
    let policy = Policy::new(&page.address.to_string());
    let mut server = RawStdio::start("moat-scrape", &["--policy", &policy.arg()]);
    let id = json!(5);
    server.send(&request(&id, "tools/call", &page.scrape_params()));
    page.wait_hit().await;
    server.send(&request(&id, "ping", &json!({})));
    let (refusal, _) = server.answer(&id);
    assert!(is_duplicate_refusal(&refusal, &id), "{refusal}");
    page.release();
    let (answer, _) = server.answer(&id);
    assert!(is_held_scrape(&answer, &id), "{answer}");
    server.ping();
}

/// Regression (issue 11): over `/mcp`, a POST repeating the id of a call
/// in flight in its session left one POST without an answer; it now gets
/// 400 with its own -32600 and the first POST its result.
#[tokio::test(flavor = "multi_thread")]
async fn http_duplicate_id_in_flight_gets_its_own_error() {
    let page = HeldPage::start().await;
    let policy = Policy::new(&page.address.to_string());
    let server =
        HttpServer::start("moat-scrape", &["--policy", &policy.arg()], &[]).expect("server");
    let session = open_session(&server.url).await;
    let id = json!(5);
    let first = {
        let url = server.url.clone();
        let session = session.clone();
        let body = request(&id, "tools/call", &page.scrape_params());
        tokio::spawn(async move {
            post(
                &url,
                &[
                    ("MCP-Protocol-Version", PROTOCOL_VERSION),
                    ("Mcp-Session-Id", &session),
                ],
                body,
            )
            .await
        })
    };
    page.wait_hit().await;
    let headers = [
        ("MCP-Protocol-Version", PROTOCOL_VERSION),
        ("Mcp-Session-Id", session.as_str()),
    ];
    let duplicate = post(&server.url, &headers, request(&id, "ping", &json!({}))).await;
    assert_refused(&duplicate, -32600, &id);
    assert!(is_duplicate_refusal(
        &serde_json::from_str(&duplicate.2).expect("json"),
        &id
    ));
    page.release();
    let (status, _, body) = first.await.expect("task");
    assert_eq!(status, 200, "{body}");
    assert!(
        sse_messages(&body).iter().any(|m| is_held_scrape(m, &id)),
        "{body}"
    );
    // Answered, the id is free again in the session.
    let again = post(&server.url, &headers, request(&id, "ping", &json!({}))).await;
    assert_eq!(again.0, 200, "{}", again.2);
}

/// Regression (issue 11): on the legacy SSE transport, a POST repeating
/// the id of a call in flight lost an answer; it now gets 400 with its own
/// -32600 and the first call's result arrives on the stream.
#[tokio::test(flavor = "multi_thread")]
async fn legacy_duplicate_id_in_flight_gets_its_own_error() {
    let page = HeldPage::start().await;
    let policy = Policy::new(&page.address.to_string());
    let server =
        HttpServer::start("moat-scrape", &["--policy", &policy.arg()], &[]).expect("server");
    let mut legacy = Legacy::open(&server.base).await;
    legacy.initialize().await;
    let id = json!(5);
    let call = request(&id, "tools/call", &page.scrape_params());
    assert_eq!(legacy.post(call).await.0, 202);
    page.wait_hit().await;
    let duplicate = legacy.post(request(&id, "ping", &json!({}))).await;
    assert_refused(&duplicate, -32600, &id);
    page.release();
    let answer = legacy.answer(&id).await;
    assert!(is_held_scrape(&answer, &id), "{answer}");
}

/// A legacy HTTP+SSE session: its event stream and POST endpoint.
struct Legacy {
    stream: reqwest::Response,
    endpoint: String,
    buffer: String,
}

impl Legacy {
    async fn open(base: &str) -> Self {
        let mut stream = reqwest::Client::new()
            .get(format!("{base}/sse"))
            .send()
            .await
            .expect("GET /sse");
        assert_eq!(stream.status(), 200);
        let mut buffer = String::new();
        let endpoint = loop {
            if let Some(path) = buffer
                .lines()
                .find_map(|line| line.strip_prefix("data: /messages"))
            {
                break format!("{base}/messages{}", path.trim());
            }
            let chunk = stream.chunk().await.expect("chunk").expect("an endpoint");
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        };
        Self {
            stream,
            endpoint,
            buffer: String::new(),
        }
    }

    async fn post(&self, body: impl Into<reqwest::Body>) -> (u16, Option<String>, String) {
        let response = reqwest::Client::new()
            .post(&self.endpoint)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST /messages");
        let status = response.status().as_u16();
        (status, None, response.text().await.unwrap_or_default())
    }

    /// The message answering `id` on the event stream.
    async fn answer(&mut self, id: &Value) -> Value {
        tokio::time::timeout(ANSWER_LIMIT, async {
            loop {
                if let Some(found) = sse_messages(&self.buffer)
                    .into_iter()
                    .find(|m| m.get("id") == Some(id) && m.get("method").is_none())
                {
                    return found;
                }
                let chunk = self
                    .stream
                    .chunk()
                    .await
                    .expect("chunk")
                    .expect("the stream stays open");
                self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("an answer on the stream")
    }

    async fn initialize(&mut self) {
        let id = json!("init");
        let body = request(&id, "initialize", &initialize_params());
        assert_eq!(self.post(body).await.0, 202);
        self.answer(&id).await;
        self.buffer.clear();
        let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        assert_eq!(self.post(initialized).await.0, 202);
    }
}

// ------------------------------------------------------- session DELETE

/// Regression (issue 11): a session `DELETE` answered 202 and the Python
/// SDK logged "Session termination failed: 202"; it now answers 204 and
/// the session is gone.
#[tokio::test(flavor = "multi_thread")]
async fn session_delete_answers_204() {
    let tree = Tree::new();
    let server = HttpServer::start("moat-fs", &[&tree.root_arg()], &[]).expect("server");
    let session = open_session(&server.url).await;
    let deleted = reqwest::Client::new()
        .delete(&server.url)
        .header("Mcp-Session-Id", &session)
        .header("MCP-Protocol-Version", PROTOCOL_VERSION)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(deleted.status(), 204);
    let (status, _, body) = post(
        &server.url,
        &[
            ("MCP-Protocol-Version", PROTOCOL_VERSION),
            ("Mcp-Session-Id", &session),
        ],
        request(&json!(1), "ping", &json!({})),
    )
    .await;
    assert_eq!(status, 404, "{body}");
}

// ------------------------------------------------------ stdio answer lines

/// Big answers written at once never interleave on stdout: two 1 MiB reads
/// and a ping in flight together come back as three whole JSON lines, each
/// read carrying the file's text in both places.
#[test]
fn stdio_big_answers_in_flight_together_stay_whole_lines() {
    let tree = Tree::new();
    let text = "line \"quoted\" \\ é ✓\n".repeat(40_000);
    std::fs::write(tree.root.join("big.txt"), &text).expect("write");
    let mut server = RawStdio::start(
        "moat-fs",
        &["--max-result-bytes", "4194304", &tree.root_arg()],
    );
    let read = json!({ "name": "read_text_file", "arguments": { "path": "big.txt" } });
    for id in ["a", "b"] {
        server.send(&request(&json!(id), "tools/call", &read));
    }
    server.send(&request(&json!("p"), "ping", &json!({})));
    // `answer` fails on any line that is not whole JSON.
    let mut pending = vec![json!("a"), json!("b"), json!("p")];
    while let Some(id) = pending.pop() {
        let (answer, others) = server.answer(&id);
        for message in std::iter::once(answer).chain(others) {
            let id = message["id"].clone();
            pending.retain(|waiting| *waiting != id);
            if id == "p" {
                assert!(message["result"].is_object(), "{message}");
                continue;
            }
            let result = &message["result"];
            assert_eq!(result["content"][0]["text"], text.as_str(), "{id}");
            assert_eq!(
                result["structuredContent"]["content"],
                text.as_str(),
                "{id}"
            );
        }
    }
}

// ----------------------------------------------------------- stdio signals

/// Regression (issue 11): SIGTERM killed a stdio server (exit status -15)
/// without its shutdown; SIGTERM and SIGINT now end moat-fs with exit 0.
#[test]
fn stdio_fs_exits_0_on_sigterm_and_sigint() {
    let tree = Tree::new();
    for signal in ["TERM", "INT"] {
        let mut server = RawStdio::start("moat-fs", &[&tree.root_arg()]);
        server.ping();
        server.signal(signal);
        let status = server.wait_exit().expect("exits after the signal");
        assert!(status.success(), "SIG{signal}: {status:?}");
    }
}

/// Regression (issue 11): SIGTERM to a stdio moat-scrape that had launched
/// Chromium left the browser running (reparented to init) with its profile
/// folder; it now exits 0 with no Chromium process and no profile left.
#[tokio::test(flavor = "multi_thread")]
async fn stdio_scrape_sigterm_closes_the_browser_and_removes_its_profile() {
    let blocked = FakeServer::start(|_| Reply::ok("text/plain", "private")).await;
    let site = FakeServer::start(site_router(blocked.authority())).await;
    let policy = Policy::new(&site.authority());
    let mut server = RawStdio::start("moat-scrape", &["--policy", &policy.arg()]);
    let rendered = server.call(
        "tools/call",
        &json!({ "name": "scrape", "arguments": {
            "url": format!("{}/spa", site.base()), "render": "browser" } }),
    );
    assert_eq!(rendered["result"]["isError"], false, "{rendered}");
    let pid = server.pid();
    let (profiles, browsers) = leftovers(pid);
    assert_eq!(profiles.len(), 1, "the browser has one profile");
    assert!(!browsers.is_empty(), "Chromium runs");
    server.signal("TERM");
    let status = server.wait_exit().expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    // SIGKILLed helpers take a moment to die; a leak stays for good.
    let mut left = leftovers(pid);
    for _ in 0..150 {
        if left.0.is_empty() && left.1.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        left = leftovers(pid);
    }
    let (profiles, browsers) = left;
    assert_eq!(profiles, Vec::<String>::new(), "profile left");
    assert_eq!(browsers, Vec::<u32>::new(), "Chromium left running");
}

/// Regression (issue 11): a call in flight when SIGTERM reaches a stdio
/// server finishes within the grace period and its answer is written
/// before the exit (0).
#[tokio::test(flavor = "multi_thread")]
async fn stdio_sigterm_lets_the_call_in_flight_finish() {
    let page = HeldPage::start().await;
    let policy = Policy::new(&page.address.to_string());
    let mut server = RawStdio::spawn_logging(
        "moat-scrape",
        &["--policy", &policy.arg()],
        "info,rmcp=warn",
    );
    server.initialize();
    let id = json!(9);
    server.send(&request(&id, "tools/call", &page.scrape_params()));
    page.wait_hit().await;
    server.signal("TERM");
    assert!(
        server.wait_for_log("shutting down on a signal"),
        "the signal was not handled:\n{}",
        server.stderr_tail()
    );
    page.release();
    let (answer, _) = server.answer(&id);
    assert!(is_held_scrape(&answer, &id), "{answer}");
    let status = server.wait_exit().expect("exits after the call");
    assert!(status.success(), "{status:?}");
}

/// What moat-scrape process `pid` may leave behind: its profile folders in
/// the temp directory, and running (not zombie) processes whose command
/// line names one of them, wherever they were reparented.
fn leftovers(pid: u32) -> (Vec<String>, Vec<u32>) {
    let prefix = format!("moat-scrape-profile-{pid}-");
    let profiles = std::fs::read_dir(std::env::temp_dir())
        .expect("temp dir")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&prefix))
        .collect();
    let running = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|process| {
            let command = std::fs::read(format!("/proc/{process}/cmdline")).unwrap_or_default();
            let zombie = std::fs::read_to_string(format!("/proc/{process}/stat"))
                .is_ok_and(|stat| stat.contains(") Z"));
            !zombie && String::from_utf8_lossy(&command).contains(&prefix)
        })
        .collect();
    (profiles, running)
}
