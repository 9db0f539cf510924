//! MCP Roots end to end: a real rmcp client that declares roots, over
//! stdio, Streamable HTTP (stateful and stateless) and the legacy HTTP+SSE
//! transport.
//!
//! - Configured roots are a ceiling on every transport: a client root
//!   inside one narrows access to it; `file:///` and roots outside are
//!   ignored.
//! - With no configured root, stdio serves the client's roots as given
//!   (read-write). HTTP refuses to start unless the operator passes
//!   `--trust-client-roots`, and then serves them read-only unless `=rw`.
//! - One session's roots never reach another session.
#![expect(
    deprecated,
    reason = "MCP Roots are deprecated from 2026-07-28 but handshake-era clients use them"
)]

use std::{
    future::Future,
    process::{Command, Output, Stdio},
    time::Duration,
};

use moat_tests::{
    HttpServer, binary,
    fixture::{SECRET, Tree},
    is_error, text,
};
use rmcp::{
    ClientHandler, ClientLifecycleMode, ClientServiceExt, ErrorData, RoleClient, ServiceError,
    ServiceExt,
    model::{
        CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig,
        ClientJsonRpcMessage, Implementation, ListRootsResult, ProtocolVersion, Root,
        ServerJsonRpcMessage,
    },
    service::{RequestContext, RunningService},
    transport::{ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess, Transport},
};
use serde_json::{Value, json};

/// How many times a test polls for something the server does in the
/// background (asking for roots, exiting), 50 ms apart: 20 s in all, far
/// past what a loaded machine needs, so only a server that never does it
/// fails.
const POLLS: usize = 400;

/// A client whose roots are fixed `file://` URIs; `None` means it does not
/// declare the roots capability at all.
#[derive(Clone)]
struct RootsClient(Option<Vec<String>>);

impl ClientHandler for RootsClient {
    fn get_info(&self) -> ClientConfig {
        let capabilities = if self.0.is_some() {
            ClientCapabilities::builder().enable_roots().build()
        } else {
            ClientCapabilities::default()
        };
        ClientConfig::new(capabilities, Implementation::new("roots-test", "0"))
    }

    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        Ok(ListRootsResult::new(
            self.0
                .iter()
                .flatten()
                .map(|uri| Root::new(uri.clone()))
                .collect(),
        ))
    }
}

type RootsSession = RunningService<RoleClient, RootsClient>;

/// `file://` URIs of these paths.
fn uris(paths: &[&std::path::Path]) -> Vec<String> {
    paths
        .iter()
        .map(|path| format!("file://{}", path.display()))
        .collect()
}

async fn connect_stdio(args: &[String], roots: Vec<String>) -> RootsSession {
    let command = tokio::process::Command::new(binary("moat-fs"));
    let transport = TokioChildProcess::new(command.configure(|command| {
        command.args(args).env("RUST_LOG", "warn");
    }))
    .expect("spawn");
    RootsClient(Some(roots))
        .serve(transport)
        .await
        .expect("initialize")
}

/// The two HTTP transports that keep sessions.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// Streamable HTTP at `/mcp`.
    Streamable,
    /// Legacy HTTP+SSE at `/sse` + `/messages`.
    LegacySse,
}

const VIAS: [Via; 2] = [Via::Streamable, Via::LegacySse];

async fn connect_http(server: &HttpServer, via: Via, roots: Option<Vec<String>>) -> RootsSession {
    let client = RootsClient(roots);
    match via {
        Via::Streamable => client
            .serve(StreamableHttpClientTransport::from_uri(server.url.clone()))
            .await
            .expect("initialize over Streamable HTTP"),
        Via::LegacySse => client
            .serve(LegacySse::open(&server.base).await)
            .await
            .expect("initialize over legacy SSE"),
    }
}

/// Connect with `root` as the client's only root, and wait until the
/// server applied it.
async fn connect_with_root(server: &HttpServer, via: Via, root: &std::path::Path) -> RootsSession {
    let client = connect_http(server, via, Some(uris(&[root]))).await;
    settle(&client, |directories| directories == [shown(root)]).await;
    client
}

/// A client of the legacy HTTP+SSE transport (MCP 2024-11-05), which
/// rmcp's client no longer has: every message is POSTed to the endpoint
/// the event stream names; whatever the server sends (answers, and its
/// `roots/list` requests) arrives on the stream as `message` events.
struct LegacySse {
    http: reqwest::Client,
    endpoint: String,
    events: reqwest::Response,
    buffer: Vec<u8>,
}

impl LegacySse {
    async fn open(base: &str) -> Self {
        let http = reqwest::Client::new();
        let events = http
            .get(format!("{base}/sse"))
            .send()
            .await
            .expect("GET /sse");
        assert_eq!(events.status(), 200);
        let mut transport = Self {
            http,
            endpoint: String::new(),
            events,
            buffer: Vec::new(),
        };
        let (kind, path) = transport.next_event().await.expect("the endpoint event");
        assert_eq!(kind, "endpoint");
        transport.endpoint = format!("{base}{path}");
        transport
    }

    /// The next event's type and data; `None` when the stream ends.
    async fn next_event(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|pair| pair == b"\n\n") {
                let event: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let event = String::from_utf8_lossy(&event);
                // SSE: an event without an `event:` line is a `message`.
                let mut kind = "message";
                let mut data = Vec::new();
                for line in event.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        kind = value.trim();
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push(value.strip_prefix(' ').unwrap_or(value));
                    }
                }
                // Keep-alive comments carry no data.
                if !data.is_empty() {
                    return Some((kind.to_string(), data.join("\n")));
                }
                continue;
            }
            let chunk = self.events.chunk().await.ok()??;
            self.buffer.extend_from_slice(&chunk);
        }
    }
}

impl Transport<RoleClient> for LegacySse {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let request = self.http.post(&self.endpoint).json(&item);
        async move {
            let response = request.send().await.map_err(std::io::Error::other)?;
            if response.status() == reqwest::StatusCode::ACCEPTED {
                Ok(())
            } else {
                Err(std::io::Error::other(format!(
                    "POST /messages: {}",
                    response.status()
                )))
            }
        }
    }

    async fn receive(&mut self) -> Option<ServerJsonRpcMessage> {
        loop {
            let (kind, data) = self.next_event().await?;
            if kind == "message" {
                return Some(serde_json::from_str(&data).expect("a JSON-RPC message"));
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

async fn try_call(
    client: &RootsSession,
    tool: &str,
    arguments: Value,
) -> Result<CallToolResult, ServiceError> {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await
}

async fn call(client: &RootsSession, tool: &str, arguments: Value) -> CallToolResult {
    try_call(client, tool, arguments).await.expect("call")
}

/// `read_text_file` of `path`.
async fn read(client: &RootsSession, path: impl AsRef<std::path::Path>) -> CallToolResult {
    call(client, "read_text_file", json!({ "path": path.as_ref() })).await
}

/// True when the call was refused: an `isError` result, or a protocol
/// error because the tool is not even offered (write tools on read-only
/// roots).
fn refused(outcome: &Result<CallToolResult, ServiceError>) -> bool {
    outcome.as_ref().is_ok_and(is_error) || outcome.is_err()
}

/// The directories `list_allowed_directories` gives this session.
async fn allowed(client: &RootsSession) -> Vec<String> {
    let result = call(client, "list_allowed_directories", json!({})).await;
    result
        .structured_content
        .as_ref()
        .and_then(|content| content["directories"].as_array())
        .map(|directories| {
            directories
                .iter()
                .filter_map(|directory| directory["path"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Poll until `applied` says the server has taken the client's roots
/// (they arrive in the background, after initialisation); then the
/// session's directories.
async fn settle(client: &RootsSession, mut applied: impl FnMut(&[String]) -> bool) -> Vec<String> {
    let mut directories = Vec::new();
    for _ in 0..POLLS {
        directories = allowed(client).await;
        if applied(&directories) {
            return directories;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the client's roots never reached its calls: {directories:?}");
}

fn shown(path: &std::path::Path) -> String {
    path.display().to_string()
}

/// Nothing outside `tree.root` is reachable: reading the secrets next to
/// it, listing its parent or `/`, planting a file outside; and nothing
/// outside changed.
async fn assert_confined(client: &RootsSession, tree: &Tree) {
    let before = tree.outside_snapshot();
    for (tool, arguments) in [
        (
            "read_text_file",
            json!({"path": tree.outside.join("secret.txt")}),
        ),
        (
            "read_text_file",
            json!({"path": tree.sibling.join("secret.txt")}),
        ),
        ("read_text_file", json!({"path": "../outside/secret.txt"})),
        ("list_directory", json!({"path": tree.temp.path()})),
        ("list_directory", json!({"path": "/"})),
        (
            "write_file",
            json!({"path": tree.outside.join("planted.txt"), "content": "planted"}),
        ),
    ] {
        let outcome = try_call(client, tool, arguments.clone()).await;
        assert!(refused(&outcome), "{tool} {arguments} was allowed");
        if let Ok(result) = &outcome {
            assert!(!text(result).contains(SECRET), "{tool} {arguments} leaked");
        }
    }
    assert_eq!(tree.outside_snapshot(), before, "something outside changed");
}

/// Configured roots are a ceiling: a client root inside one narrows access
/// to it; a client root outside every configured root is ignored (stdio).
#[tokio::test(flavor = "multi_thread")]
async fn client_roots_are_capped_by_configured_roots() {
    let tree = Tree::new();
    let sub = tree.root.join("sub");
    let mut roots = uris(&[&sub, &tree.outside]);
    roots.push("file:///".into());
    let client = connect_stdio(&[tree.root_arg()], roots).await;
    let listing = settle(&client, |directories| directories == [shown(&sub)]).await;
    assert_eq!(listing, [shown(&sub)]);
    assert_confined(&client, &tree).await;
    let inside = read(&client, sub.join("inner.txt")).await;
    assert_eq!(text(&inside), "inner\n");
}

/// With no configured roots, stdio serves the client's roots as given,
/// read-write (the reference server's behaviour, unchanged).
#[tokio::test(flavor = "multi_thread")]
async fn client_roots_are_used_when_none_are_configured() {
    let tree = Tree::new();
    let client = connect_stdio(&[], uris(&[&tree.root])).await;
    settle(&client, |directories| directories == [shown(&tree.root)]).await;
    let hello = read(&client, tree.root.join("hello.txt")).await;
    assert_eq!(text(&hello), "hello\nworld\n");
    let write = call(
        &client,
        "write_file",
        json!({"path": tree.root.join("new.txt"), "content": "new"}),
    )
    .await;
    assert!(!is_error(&write), "{}", text(&write));
    assert_eq!(
        std::fs::read_to_string(tree.root.join("new.txt")).expect("written"),
        "new"
    );
    let outside = read(&client, tree.outside.join("secret.txt")).await;
    assert!(is_error(&outside));
}

/// Regression (issue 11): over HTTP, stateful Streamable and legacy SSE,
/// client roots only narrow the configured root: `file:///`, `file:///`
/// beside the root, and a root outside reach nothing outside it; a root
/// inside narrows to it.
#[tokio::test(flavor = "multi_thread")]
async fn http_client_roots_only_narrow_the_configured_root() {
    let tree = Tree::new();
    let sub = tree.root.join("sub");
    let whole = vec![shown(&tree.root)];
    let cases: [(Vec<String>, &[String]); 4] = [
        (vec!["file:///".into()], &whole),
        (
            [vec!["file:///".to_string()], uris(&[&tree.root])].concat(),
            &whole,
        ),
        (uris(&[&tree.outside]), &whole),
        (uris(&[&sub]), &[shown(&sub)]),
    ];
    for via in VIAS {
        for (roots, expected) in &cases {
            // A fresh server per case, so the log line below is this case's.
            let server =
                HttpServer::start("moat-fs", &[&tree.root_arg()], &[]).expect("server starts");
            let client = connect_http(&server, via, Some(roots.clone())).await;
            let narrows = expected[0] != whole[0];
            let listing = settle(&client, |directories| {
                // An ignored client root is logged when a call applies the
                // client's roots; a narrowing one shows in the listing.
                directories == &expected[..]
                    && (narrows || server.log().contains("outside the configured roots"))
            })
            .await;
            assert_eq!(listing, *expected, "{via:?} {roots:?}");
            assert_confined(&client, &tree).await;
            if narrows {
                let inner = read(&client, "inner.txt").await;
                assert_eq!(text(&inner), "inner\n", "{via:?}");
                let above = read(&client, tree.root.join("hello.txt")).await;
                assert!(is_error(&above), "{via:?}: narrowing did not hold");
            } else {
                let hello = read(&client, "hello.txt").await;
                assert_eq!(text(&hello), "hello\nworld\n", "{via:?} {roots:?}");
            }
            let _ = client.cancel().await;
        }
    }
}

/// Stateless HTTP has no session to ask for roots: calls see the
/// configured root, whatever roots the client declares.
#[tokio::test(flavor = "multi_thread")]
async fn stateless_http_serves_the_configured_root_only() {
    let tree = Tree::new();
    let server =
        HttpServer::start("moat-fs", &[&tree.root_arg()], &["--stateless"]).expect("server starts");
    let mut roots = uris(&[&tree.outside, &tree.root.join("sub")]);
    roots.push("file:///".into());
    let client = connect_http(&server, Via::Streamable, Some(roots)).await;
    assert_eq!(allowed(&client).await, [shown(&tree.root)]);
    assert_confined(&client, &tree).await;
    let hello = read(&client, "hello.txt").await;
    assert_eq!(text(&hello), "hello\nworld\n");
}

/// Run moat-fs to its exit (killed, and the test failed, if it is still
/// running after the polls: it should have refused to start).
fn run_to_exit(args: &[&str]) -> Output {
    let mut child = Command::new(binary("moat-fs"))
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("MOAT_TOKENS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    for _ in 0..POLLS {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let output = child.wait_with_output().expect("output");
    panic!(
        "moat-fs {args:?} started instead of refusing: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Regression (issue 11): `serve --http` with no root (none on the command
/// line, or a policy without `[[roots]]`) refuses to start with exit 2 and
/// one line naming the fix; so does `--trust-client-roots` on stateless
/// HTTP, which can never learn a client's roots.
#[test]
fn http_without_a_root_refuses_to_start() {
    let tree = Tree::new();
    let no_roots = tree.temp.path().join("no-roots.toml");
    std::fs::write(&no_roots, "[fs]\nmax_entries = 100\n").expect("write");
    let stateless = tree.temp.path().join("stateless.toml");
    std::fs::write(&stateless, "[http]\nstateless = true\n").expect("write");
    let no_roots = no_roots.to_string_lossy();
    let stateless = stateless.to_string_lossy();
    let http = ["serve", "--http", "127.0.0.1:0"];
    let cases: [(Vec<&str>, &str); 6] = [
        (http.to_vec(), "--trust-client-roots"),
        (
            [&["--read-only"], &http[..]].concat(),
            "--trust-client-roots",
        ),
        (
            [&["--policy", &no_roots], &http[..]].concat(),
            "--trust-client-roots",
        ),
        (
            [&http[..], &["--stateless", "--trust-client-roots"]].concat(),
            "stateless",
        ),
        (
            [
                &["--policy", &stateless],
                &http[..],
                &["--trust-client-roots"],
            ]
            .concat(),
            "stateless",
        ),
        (
            [&["--policy", &no_roots], &http[..], &["--stateless"]].concat(),
            "stateless",
        ),
    ];
    for (args, names) in cases {
        let output = run_to_exit(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {stderr}");
        assert!(lines[0].starts_with("error: "), "{stderr}");
        assert!(lines[0].contains(names), "{args:?}: {stderr}");
        assert!(lines[0].contains("root"), "{stderr}");
    }
}

/// With `--trust-client-roots` and no configured root, an HTTP client's
/// roots are served read-only (write tools hidden, writes refused, nothing
/// written); `--trust-client-roots=rw` makes them writable.
#[tokio::test(flavor = "multi_thread")]
async fn trusted_http_client_roots_are_read_only_unless_rw() {
    let tree = Tree::new();
    let target = tree.root.join("written.txt");
    for via in VIAS {
        let server =
            HttpServer::start("moat-fs", &[], &["--trust-client-roots"]).expect("server starts");
        let client = connect_with_root(&server, via, &tree.root).await;
        let hello = read(&client, "hello.txt").await;
        assert_eq!(text(&hello), "hello\nworld\n");
        let tools = client.list_all_tools().await.expect("tools");
        assert!(
            !tools.iter().any(|tool| tool.name == "write_file"),
            "{via:?}: write tools listed on read-only client roots"
        );
        for (tool, arguments) in [
            ("write_file", json!({"path": target, "content": "x"})),
            ("create_directory", json!({"path": tree.root.join("made")})),
            (
                "move_file",
                json!({"source": tree.root.join("hello.txt"), "destination": target}),
            ),
        ] {
            let outcome = try_call(&client, tool, arguments).await;
            assert!(refused(&outcome), "{via:?}: {tool} was allowed");
        }
        assert!(!target.exists() && !tree.root.join("made").exists());
        assert_confined(&client, &tree).await;
        let _ = client.cancel().await;

        let server =
            HttpServer::start("moat-fs", &[], &["--trust-client-roots=rw"]).expect("server starts");
        let client = connect_with_root(&server, via, &tree.root).await;
        let write = call(
            &client,
            "write_file",
            json!({"path": target, "content": "rw"}),
        )
        .await;
        assert!(!is_error(&write), "{via:?}: {}", text(&write));
        assert_eq!(std::fs::read_to_string(&target).expect("written"), "rw");
        std::fs::remove_file(&target).expect("clean up");
        let _ = client.cancel().await;
    }
}

/// Regression (issue 11): one session's client roots never reach another.
/// With trusted client roots, sessions A and B each see only their own
/// root and a session that declares no roots (or a 2026-07-28 client,
/// which has no session) sees nothing; with a configured root, A's
/// narrowing stays A's and B keeps the whole root.
#[tokio::test(flavor = "multi_thread")]
async fn client_roots_stay_in_their_session() {
    let tree = Tree::new();
    let hello = tree.root.join("hello.txt");
    let secret = tree.sibling.join("secret.txt");
    for via in VIAS {
        let server =
            HttpServer::start("moat-fs", &[], &["--trust-client-roots"]).expect("server starts");
        let a = connect_with_root(&server, via, &tree.root).await;
        let b = connect_with_root(&server, via, &tree.sibling).await;
        let none = connect_http(&server, via, None).await;
        // Interleaved, after B's roots were applied.
        for _ in 0..2 {
            let a_own = read(&a, &hello).await;
            assert_eq!(text(&a_own), "hello\nworld\n", "{via:?}");
            let a_other = read(&a, &secret).await;
            assert!(is_error(&a_other), "{via:?}: B's root reached A");
            let b_own = read(&b, &secret).await;
            assert_eq!(text(&b_own), SECRET, "{via:?}");
            let b_other = read(&b, &hello).await;
            assert!(is_error(&b_other), "{via:?}: A's root reached B");
            assert!(allowed(&none).await.is_empty(), "{via:?}: roots leaked");
            for path in [&hello, &secret] {
                let refused_read = read(&none, path).await;
                assert!(
                    is_error(&refused_read),
                    "{via:?}: {} leaked",
                    path.display()
                );
            }
        }
        if matches!(via, Via::Streamable) {
            let modern = RootsClient(Some(uris(&[&tree.root])))
                .serve_with_lifecycle(
                    StreamableHttpClientTransport::from_uri(server.url.clone()),
                    ClientLifecycleMode::Discover {
                        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                    },
                )
                .await
                .expect("discover");
            assert!(allowed(&modern).await.is_empty(), "roots leaked to 2026");
            let refused_read = read(&modern, &hello).await;
            assert!(
                is_error(&refused_read),
                "A's root reached a 2026-07-28 client"
            );
            let _ = modern.cancel().await;
        }
        for client in [a, b, none] {
            let _ = client.cancel().await;
        }

        let server = HttpServer::start("moat-fs", &[&tree.root_arg()], &[]).expect("server starts");
        let sub = tree.root.join("sub");
        let a = connect_with_root(&server, via, &sub).await;
        let b = connect_http(&server, via, None).await;
        for _ in 0..2 {
            assert_eq!(allowed(&b).await, [shown(&tree.root)], "{via:?}");
            let b_read = read(&b, &hello).await;
            assert_eq!(text(&b_read), "hello\nworld\n", "{via:?}");
            let a_read = read(&a, &hello).await;
            assert!(is_error(&a_read), "{via:?}: B's wider view reached A");
        }
        for client in [a, b] {
            let _ = client.cancel().await;
        }
    }
}
