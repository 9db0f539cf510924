//! The shared runtime's HTTP guards, health, shutdown, and stdio lifecycle,
//! through the real moat-fs binary.

use std::{
    io::Write,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use moat_tests::{Era, HttpServer, binary, call, fixture::Tree, metric, text};
use serde_json::{Value, json};

fn start(tree: &Tree) -> HttpServer {
    HttpServer::start("moat-fs", &[&tree.root_arg()], &[]).expect("server starts")
}

fn initialize_body() -> Value {
    moat_tests::initialize_request()
}

async fn post(server: &HttpServer, headers: &[(&str, &str)], body: String) -> reqwest::Response {
    server.post_mcp(headers, body).await
}

/// Polls `/metrics` until every call in `calls` is running on the server
/// or already answered (a call can finish before the gauge is read).
async fn wait_until_in_flight<T>(server: &HttpServer, calls: &[tokio::task::JoinHandle<T>]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = server.metrics().await;
        let inflight: usize =
            metric(&metrics, "moat_inflight_calls").expect("moat_inflight_calls in /metrics");
        let finished = calls.iter().filter(|call| call.is_finished()).count();
        if inflight + finished >= calls.len() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the calls never reached the server: {inflight} in flight, {finished} finished"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `/health` answers 200 with name, version and uptime.
#[tokio::test(flavor = "multi_thread")]
async fn health_reports_status_name_version_uptime() {
    let tree = Tree::new();
    let server = start(&tree);
    let response = reqwest::get(format!("{}/health", server.base))
        .await
        .expect("health");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["name"], "moat-fs");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["uptime_s"].is_u64());
}

/// A foreign Host or Origin is refused with 403 (DNS rebinding); loopback
/// names and the server's own origin pass.
#[tokio::test(flavor = "multi_thread")]
async fn foreign_host_and_origin_are_forbidden() {
    let tree = Tree::new();
    let server = start(&tree);
    let port = server.base.rsplit(':').next().expect("port").to_string();
    let body = initialize_body().to_string();
    let evil_host = post(&server, &[("Host", "evil.example.com")], body.clone()).await;
    assert_eq!(evil_host.status(), 403);
    let evil_origin = post(
        &server,
        &[("Origin", "http://evil.example.com")],
        body.clone(),
    )
    .await;
    assert_eq!(evil_origin.status(), 403);
    let other_port = post(&server, &[("Origin", "http://localhost:1")], body.clone()).await;
    assert_eq!(other_port.status(), 403);
    let own_origin = format!("http://localhost:{port}");
    let good = post(
        &server,
        &[
            ("Origin", own_origin.as_str()),
            ("Host", &format!("localhost:{port}")),
        ],
        body,
    )
    .await;
    assert!(good.status().is_success(), "{}", good.status());
}

/// A body over the cap is refused with 413 and the server keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn oversized_body_is_refused_with_413() {
    let tree = Tree::new();
    let server = HttpServer::start(
        "moat-fs",
        &[&tree.root_arg()],
        &["--max-body-bytes", "4096"],
    )
    .expect("start");
    let mut body = initialize_body();
    body["params"]["clientInfo"]["name"] = Value::String("x".repeat(10_000));
    let response = post(&server, &[], body.to_string()).await;
    assert_eq!(response.status(), 413);
    let client = server.client(Era::Handshake).await.expect("still serving");
    let result = call(&client, "read_text_file", json!({"path": "hello.txt"}))
        .await
        .expect("call");
    assert_eq!(text(&result), "hello\nworld\n");
}

/// SIGTERM: calls in flight finish with their complete answers, new calls
/// are refused, and the process exits 0.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_in_flight_calls_and_exits_zero() {
    let tree = Tree::new();
    // Reading the last lines of a 48 MiB file by offset scans the whole
    // file, keeping each call busy while the signal lands.
    let big: String = "0123456789abcdef\n".repeat(3_000_000);
    std::fs::write(tree.root.join("big.txt"), &big).expect("write");
    let mut server = start(&tree);
    let client = server.client(Era::Handshake).await.expect("client");
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let peer = client.peer().clone();
            tokio::spawn(async move {
                let arguments = json!({"path": "big.txt", "offset": 2_999_999})
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                peer.call_tool(
                    rmcp::model::CallToolRequestParams::new("read_text_file")
                        .with_arguments(arguments),
                )
                .await
            })
        })
        .collect();
    // Signal only once the server is working on all of them (a fixed wait
    // raced the requests on a loaded machine: a call that had not arrived
    // yet was refused as a late one).
    wait_until_in_flight(&server, &calls).await;
    server.signal("TERM");
    for handle in calls {
        let answer = tokio::time::timeout(Duration::from_secs(30), handle)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "an in-flight call got no answer; server said: {:#?}",
                    server.stderr.lock().map(|l| l.clone())
                )
            })
            .expect("task")
            .unwrap_or_else(|error| {
                panic!(
                    "call: {error}; server said: {:#?}",
                    server.stderr.lock().map(|l| l.clone())
                )
            });
        assert_eq!(answer.is_error, Some(false), "{}", text(&answer));
        assert_eq!(
            text(&answer),
            "0123456789abcdef\n0123456789abcdef\n",
            "the complete answer"
        );
    }
    let late = tokio::time::timeout(
        Duration::from_secs(5),
        call(&client, "read_text_file", json!({"path": "hello.txt"})),
    )
    .await;
    if let Ok(Ok(result)) = late {
        assert_eq!(
            result.is_error,
            Some(true),
            "a call after SIGTERM is refused"
        );
        assert!(text(&result).contains("shutting down"), "{}", text(&result));
    }
    let status = server
        .wait_exit(Duration::from_secs(30))
        .expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
}

/// stdin EOF ends a stdio server within a second.
#[test]
fn stdin_eof_ends_the_stdio_server_promptly() {
    let tree = Tree::new();
    let mut child = Command::new(binary("moat-fs"))
        .arg(tree.root_arg())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{}", initialize_body()).expect("write");
    drop(stdin);
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still running after stdin closed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A bad policy file exits with code 2 and names the file, line and field.
#[test]
fn bad_policy_exits_2_naming_file_line_and_field() {
    let tree = Tree::new();
    let policy = tree.temp.path().join("bad.toml");
    std::fs::write(&policy, "[fs]\nmax_entries = 10\nmax_entires = 3\n").expect("write");
    for args in [
        vec![
            "check-policy".to_string(),
            policy.to_string_lossy().into_owned(),
        ],
        vec![
            "--policy".to_string(),
            policy.to_string_lossy().into_owned(),
            tree.root_arg(),
            "tools".to_string(),
        ],
    ] {
        let output = Command::new(binary("moat-fs"))
            .args(&args)
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("bad.toml:3:"), "{stderr}");
        assert!(stderr.contains("max_entires"), "{stderr}");
    }
    let good = Command::new(binary("moat-fs"))
        .args([
            "check-policy",
            &moat_tests::workspace_root()
                .join("policies/strict.toml")
                .to_string_lossy(),
        ])
        .output()
        .expect("run");
    assert!(good.status.success());
}

/// `call` prints the tool's text and exits 1 on an `isError` result.
#[test]
fn cli_call_prints_result_and_exit_code() {
    let tree = Tree::new();
    let ok = Command::new(binary("moat-fs"))
        .args([
            &tree.root_arg(),
            "call",
            "read_text_file",
            r#"{"path":"hello.txt"}"#,
        ])
        .output()
        .expect("run");
    assert!(ok.status.success());
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "hello\nworld\n\n");
    let failed = Command::new(binary("moat-fs"))
        .args([
            &tree.root_arg(),
            "call",
            "read_text_file",
            r#"{"path":"../outside/secret.txt"}"#,
        ])
        .output()
        .expect("run");
    assert_eq!(failed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&failed.stdout).contains("access denied"));
}

const TOKEN: &str = "test-token-0123456789abcdef";

/// With tokens configured: no token and a wrong token get 401 with a
/// `WWW-Authenticate` challenge, `/health` stays open, the right token works.
#[tokio::test(flavor = "multi_thread")]
async fn bearer_token_is_required_when_configured() {
    let tree = Tree::new();
    let tokens = tree.temp.path().join("tokens.txt");
    std::fs::write(
        &tokens,
        format!("# rotated weekly\n{TOKEN}\nother-token-0123456789abcdef\n"),
    )
    .expect("write");
    let server = HttpServer::start(
        "moat-fs",
        &[&tree.root_arg()],
        &["--token-file", &tokens.to_string_lossy()],
    )
    .expect("start");
    let body = initialize_body().to_string();
    let missing = post(&server, &[], body.clone()).await;
    assert_eq!(missing.status(), 401);
    let challenge = missing.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let wrong = post(
        &server,
        &[("Authorization", "Bearer wrong-token-0123456789abc")],
        body.clone(),
    )
    .await;
    assert_eq!(wrong.status(), 401);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .contains("invalid_token")
    );
    let health = reqwest::get(format!("{}/health", server.base))
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
    let client = server
        .client_with_token(Era::Handshake, Some(TOKEN))
        .await
        .expect("right token");
    let result = call(&client, "read_text_file", json!({"path": "hello.txt"}))
        .await
        .expect("call");
    assert_eq!(text(&result), "hello\nworld\n");
    let log = server.log();
    assert!(!log.contains(TOKEN), "a token reached the log");
}

/// A non-loopback bind without tokens refuses to start (exit 2) unless the
/// operator says another layer authenticates.
#[test]
fn public_bind_without_auth_refuses_to_start() {
    let tree = Tree::new();
    let output = Command::new(binary("moat-fs"))
        .args([&tree.root_arg(), "serve", "--http", "0.0.0.0:0"])
        .env_remove("MOAT_TOKENS")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("without authentication"), "{stderr}");
}

/// `serve --http 127.0.0.1:0` binds a free port itself and prints the
/// address it serves (the suites hand the server a listener instead).
#[tokio::test(flavor = "multi_thread")]
async fn port_zero_is_bound_by_the_server_and_printed() {
    let tree = Tree::new();
    let server =
        HttpServer::start_binding("moat-fs", &[&tree.root_arg()], &[], &[]).expect("server starts");
    assert!(
        server.log().contains("listening on http://127.0.0.1:"),
        "{}",
        server.log()
    );
    let response = reqwest::get(format!("{}/health", server.base))
        .await
        .expect("health");
    assert_eq!(response.status(), 200);
}

/// `--http-listener-stdin` with a stdin that is not a listening socket
/// refuses to start with one line saying so.
#[test]
fn http_listener_stdin_without_a_socket_is_refused() {
    let tree = Tree::new();
    let output = Command::new(binary("moat-fs"))
        .args([&tree.root_arg(), "serve", "--http-listener-stdin"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_ne!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("stdin is not a listening TCP socket"),
        "{stderr}"
    );
}

/// Every call leaves one JSON audit line (digest of the arguments, never
/// the arguments), and `/metrics` counts it.
#[tokio::test(flavor = "multi_thread")]
async fn calls_are_audited_and_counted() {
    let tree = Tree::new();
    let server = start(&tree);
    let client = server.client(Era::Handshake).await.expect("client");
    let result = call(&client, "read_text_file", json!({"path": "hello.txt"}))
        .await
        .expect("call");
    assert_eq!(text(&result), "hello\nworld\n");
    let refused = call(
        &client,
        "read_text_file",
        json!({"path": "../outside/secret.txt"}),
    )
    .await
    .expect("call");
    assert_eq!(refused.is_error, Some(true));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let lines = server
        .stderr
        .lock()
        .map(|lines| lines.clone())
        .unwrap_or_default();
    let audit: Vec<Value> = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("tool").is_some())
        .collect();
    assert_eq!(audit.len(), 2, "{lines:#?}");
    assert_eq!(audit[0]["tool"], "read_text_file");
    assert_eq!(audit[0]["outcome"], "ok");
    assert_eq!(audit[0]["transport"], "http");
    assert_eq!(
        audit[0]["bytes"].as_u64().map(|bytes| bytes > 0),
        Some(true)
    );
    assert_eq!(audit[0]["args_sha256"].as_str().map(str::len), Some(64));
    assert_eq!(audit[1]["outcome"], "error");
    assert!(
        !lines.iter().any(|line| line.contains("outside/secret")),
        "raw arguments were logged"
    );
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(r#"moat_tool_calls_total{tool="read_text_file",outcome="ok"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("moat_sessions 1"), "{metrics}");
}

/// Legacy HTTP+SSE: the stream starts with the `endpoint` event; a POST to
/// an unknown session is 404, a malformed message 400, and the Host guard
/// covers `/sse` too.
#[tokio::test(flavor = "multi_thread")]
async fn legacy_sse_endpoint_and_refusals() {
    let tree = Tree::new();
    let server = start(&tree);
    let client = reqwest::Client::new();
    let mut stream = client
        .get(format!("{}/sse", server.base))
        .send()
        .await
        .expect("sse");
    assert_eq!(stream.status(), 200);
    let first = stream.chunk().await.expect("chunk").expect("data");
    let first = String::from_utf8_lossy(&first);
    assert!(first.contains("event: endpoint"), "{first}");
    let endpoint = first
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .expect("endpoint data")
        .trim()
        .to_string();
    assert!(endpoint.starts_with("/messages?sessionId="), "{endpoint}");
    let unknown = client
        .post(format!(
            "{}/messages?sessionId=00000000-0000-0000-0000-000000000000",
            server.base
        ))
        .body(initialize_body().to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(unknown.status(), 404);
    let malformed = client
        .post(format!("{}{endpoint}", server.base))
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(malformed.status(), 400);
    let accepted = client
        .post(format!("{}{endpoint}", server.base))
        .body(initialize_body().to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(accepted.status(), 202);
    let answer = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
        .await
        .expect("an answer on the stream")
        .expect("chunk")
        .expect("data");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.contains("event: message") && answer.contains("\"serverInfo\""),
        "{answer}"
    );
    let evil = client
        .get(format!("{}/sse", server.base))
        .header("Host", "evil.example.com")
        .send()
        .await
        .expect("sse");
    assert_eq!(evil.status(), 403);
}

/// A request whose answer is ready at once comes back as one JSON body
/// (not an SSE stream), the session id header kept on `initialize`; a
/// notification still gets 202.
#[tokio::test(flavor = "multi_thread")]
async fn quick_answers_come_back_as_one_json_body() {
    let tree = Tree::new();
    let server = start(&tree);
    let opened = post(&server, &[], initialize_body().to_string()).await;
    assert_eq!(opened.status(), 200);
    assert_eq!(
        opened.headers()["content-type"],
        "application/json",
        "{:?}",
        opened.headers()
    );
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .expect("session id")
        .to_string();
    let answer: Value = opened.json().await.expect("one JSON document");
    assert_eq!(answer["id"], initialize_body()["id"], "{answer}");
    assert!(answer["result"]["serverInfo"].is_object(), "{answer}");
    let headers = [
        ("Mcp-Session-Id", session.as_str()),
        ("MCP-Protocol-Version", "2025-11-25"),
    ];
    let initialized = post(
        &server,
        &headers,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
    )
    .await;
    assert_eq!(initialized.status(), 202);
    let called = post(
        &server,
        &headers,
        json!({"jsonrpc": "2.0", "id": "read-1", "method": "tools/call",
               "params": {"name": "read_text_file", "arguments": {"path": "hello.txt"}}})
        .to_string(),
    )
    .await;
    assert_eq!(called.status(), 200);
    assert_eq!(called.headers()["content-type"], "application/json");
    let answer: Value = called.json().await.expect("one JSON document");
    assert_eq!(answer["id"], "read-1", "{answer}");
    assert_eq!(
        answer["result"]["content"][0]["text"], "hello\nworld\n",
        "{answer}"
    );
}

/// A call in a live session answers with the same bytes whether it takes
/// the direct route to the session (plain headers) or rmcp's own POST
/// handling (an allowed `Origin`, which only rmcp checks): a short read
/// and one past the one-escape splice, with quotes, tabs, control
/// characters and non-ASCII text. Requests rmcp refuses (an unknown
/// session, an unsupported protocol version, a foreign `Host` spelling
/// only rmcp refuses) are still refused as rmcp refuses them.
#[tokio::test(flavor = "multi_thread")]
async fn session_calls_answer_the_same_bytes_by_either_route() {
    let tree = Tree::new();
    let text = "line \"q\" \\ \t tab é ✓ \u{1}\n".repeat(300);
    std::fs::write(tree.root.join("mixed.txt"), &text).expect("write");
    let server = start(&tree);
    let opened = post(&server, &[], initialize_body().to_string()).await;
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .expect("session id")
        .to_string();
    let direct = [
        ("Mcp-Session-Id", session.as_str()),
        ("MCP-Protocol-Version", "2025-11-25"),
    ];
    let initialized = post(
        &server,
        &direct,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
    )
    .await;
    assert_eq!(initialized.status(), 202);
    let origin = server.base.clone();
    let through_rmcp = [
        ("Mcp-Session-Id", session.as_str()),
        ("MCP-Protocol-Version", "2025-11-25"),
        ("Origin", origin.as_str()),
    ];
    for path in ["hello.txt", "mixed.txt"] {
        let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                          "params": {"name": "read_text_file", "arguments": {"path": path}}})
        .to_string();
        let mut answers = Vec::new();
        for headers in [&direct[..], &through_rmcp[..]] {
            let answer = post(&server, headers, body.clone()).await;
            assert_eq!(answer.status(), 200, "{path}");
            assert_eq!(answer.headers()["content-type"], "application/json");
            answers.push(answer.bytes().await.expect("body"));
        }
        assert_eq!(answers[0], answers[1], "{path}");
        let answer: Value = serde_json::from_slice(&answers[0]).expect("JSON");
        let expected = if path == "hello.txt" {
            "hello\nworld\n"
        } else {
            text.as_str()
        };
        assert_eq!(answer["result"]["content"][0]["text"], expected);
    }
    let ping = json!({"jsonrpc": "2.0", "id": "p", "method": "ping"}).to_string();
    let unknown = post(
        &server,
        &[
            ("Mcp-Session-Id", "no-such-session"),
            ("MCP-Protocol-Version", "2025-11-25"),
        ],
        ping.clone(),
    )
    .await;
    assert_eq!(unknown.status(), 404);
    let unsupported = post(
        &server,
        &[
            ("Mcp-Session-Id", session.as_str()),
            ("MCP-Protocol-Version", "1999-01-01"),
        ],
        ping.clone(),
    )
    .await;
    assert_eq!(unsupported.status(), 400);
    let port = server.base.rsplit(':').next().expect("port");
    let dotted = format!("localhost.:{port}");
    let refused = post(
        &server,
        &[
            ("Mcp-Session-Id", session.as_str()),
            ("Host", dotted.as_str()),
        ],
        ping.clone(),
    )
    .await;
    assert_eq!(refused.status(), 403);
    let answered = post(&server, &direct, ping).await;
    assert_eq!(answered.status(), 200);
}

/// Regression: once the read end of a stdio server's stderr was closed (a
/// launcher that stopped reading it), the first failed log write panicked
/// inside the logger (it reported its own write error on stderr), killing
/// the audit thread and then the task of the next call: calls went
/// unanswered and SIGTERM no longer ended the process.
#[test]
fn stdio_server_keeps_answering_after_its_stderr_closes() {
    let tree = Tree::new();
    let mut server = moat_tests::raw_stdio::RawStdio::spawn_stderr_closed(
        "moat-fs",
        &[&tree.root_arg()],
        "info",
    );
    server.initialize();
    for _ in 0..5 {
        let answer = server.call(
            "tools/call",
            &json!({"name": "read_text_file", "arguments": {"path": "hello.txt"}}),
        );
        assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
    }
    server.signal("TERM");
    let status = server.wait_exit().expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
}

/// A server process killed when the test ends, passed or failed.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Regression: the same over Streamable HTTP, where the server has no
/// stdin to end it: with its stderr closed, the second call went
/// unanswered and SIGTERM left the process running for good.
#[tokio::test(flavor = "multi_thread")]
async fn http_server_answers_and_stops_after_its_stderr_closes() {
    use std::io::BufRead;
    let tree = Tree::new();
    let mut server = Reaped(
        Command::new(binary("moat-fs"))
            .args([&tree.root_arg(), "serve", "--http", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let child = &mut server.0;
    let url = {
        let stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
        stderr
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.split("listening on ").nth(1).map(str::to_string))
            .expect("the server prints its address")
        // The read end of stderr is dropped here.
    };
    let http = reqwest::Client::new();
    let post = |body: Value, session: Option<String>| {
        let mut request = http
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25");
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        tokio::time::timeout(
            Duration::from_secs(30),
            request.body(body.to_string()).send(),
        )
    };
    let initialized = post(initialize_body(), None)
        .await
        .expect("initialize answered")
        .expect("initialize");
    let session = initialized
        .headers()
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let status = initialized.status();
    let body = initialized.text().await.unwrap_or_default();
    assert!(
        status.is_success() && session.is_some(),
        "initialize: {status} {body}"
    );
    post(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        session.clone(),
    )
    .await
    .expect("notification accepted")
    .expect("notification");
    for id in 2..7 {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "read_text_file", "arguments": {"path": "hello.txt"}}});
        let answer = post(body, session.clone())
            .await
            .unwrap_or_else(|_| panic!("call {id} got no answer"))
            .expect("call");
        let text = tokio::time::timeout(Duration::from_secs(30), answer.text())
            .await
            .unwrap_or_else(|_| panic!("call {id}'s answer never ended"))
            .expect("body");
        assert!(text.contains("\"isError\":false"), "call {id}: {text}");
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status =
        moat_tests::wait_exit(child, Duration::from_secs(30)).expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
}
