//! Rate and resource limits of the shared HTTP runtime, through the real
//! moat-fs binary: per-client rate limits, slowloris, session caps, and
//! stateless mode for replicas.

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::Duration,
};

use moat_tests::{HttpServer, fixture::Tree};
use serde_json::{Value, json};

/// Start moat-fs over HTTP with a policy holding `http` settings.
fn start_with_policy(tree: &Tree, http: &str, serve: &[&str]) -> HttpServer {
    let policy = tree.temp.path().join("limits.toml");
    std::fs::write(&policy, format!("[http]\n{http}\n")).expect("write policy");
    HttpServer::start(
        "moat-fs",
        &[&tree.root_arg(), "--policy", &policy.to_string_lossy()],
        serve,
    )
    .expect("start")
}

/// A burst past the bucket gets 429 with `Retry-After`; another client (a
/// different address) is still served.
#[tokio::test(flavor = "multi_thread")]
async fn a_burst_is_limited_and_other_clients_are_served() {
    let tree = Tree::new();
    let server = start_with_policy(&tree, "rate_per_second = 1.0\nrate_burst = 5", &[]);
    let greedy = reqwest::Client::new();
    let mut limited = 0;
    for _ in 0..20 {
        let response = greedy
            .get(format!("{}/metrics", server.base))
            .send()
            .await
            .expect("get");
        if response.status() == 429 {
            let retry = response.headers()["retry-after"]
                .to_str()
                .expect("ascii")
                .to_string();
            assert!(
                retry.parse::<u64>().is_ok_and(|seconds| seconds >= 1),
                "{retry}"
            );
            limited += 1;
        }
    }
    assert!(limited >= 14, "only {limited} of 20 were limited");
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("client");
    let response = other
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200, "another client is not limited");
    let health = greedy
        .get(format!("{}/health", server.base))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200, "/health is never limited");
}

/// A client that never finishes its headers is cut off, and other clients
/// are served meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn slowloris_is_cut_off_without_stalling_others() {
    let tree = Tree::new();
    let server = start_with_policy(&tree, "header_read_timeout_ms = 1000", &[]);
    let address = server.base.trim_start_matches("http://").to_string();
    let mut slow = TcpStream::connect(&address).expect("connect");
    slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1")
        .expect("write");
    let health = reqwest::get(format!("{}/health", server.base))
        .await
        .expect("health");
    assert_eq!(
        health.status(),
        200,
        "another client is served while one dawdles"
    );
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut buffer = Vec::new();
    let outcome = slow.read_to_end(&mut buffer);
    assert!(
        outcome.is_ok(),
        "the server never closed the slow connection: {outcome:?}"
    );
    let answer = String::from_utf8_lossy(&buffer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}

/// Past the session cap a new session gets 503; existing ones carry on.
#[tokio::test(flavor = "multi_thread")]
async fn sessions_are_capped() {
    let tree = Tree::new();
    let server = start_with_policy(&tree, "max_sessions = 2", &[]);
    let client = reqwest::Client::new();
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut stream = client
            .get(format!("{}/sse", server.base))
            .send()
            .await
            .expect("sse");
        assert_eq!(stream.status(), 200);
        let _ = stream.chunk().await;
        open.push(stream);
    }
    // Give the two sessions' handlers time to register.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let third = client
        .get(format!("{}/sse", server.base))
        .send()
        .await
        .expect("sse");
    assert_eq!(third.status(), 503);
    drop(open);
}

fn post_json(base: &str, body: &Value) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("{base}/mcp"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .body(body.to_string())
}

/// Stateless mode: no session id is handed out, and a replica that never
/// saw the client answers its calls.
#[tokio::test(flavor = "multi_thread")]
async fn stateless_replicas_answer_any_request() {
    let tree = Tree::new();
    let a = HttpServer::start("moat-fs", &[&tree.root_arg()], &["--stateless"]).expect("a");
    let b = HttpServer::start("moat-fs", &[&tree.root_arg()], &["--stateless"]).expect("b");
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "lb", "version": "0"}}
    });
    let response = post_json(&a.base, &initialize)
        .send()
        .await
        .expect("initialize");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("mcp-session-id").is_none(),
        "stateless hands out no session"
    );
    let call = json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "read_text_file", "arguments": {"path": "hello.txt"}}
    });
    let response = post_json(&b.base, &call)
        .send()
        .await
        .expect("call on the other replica");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["result"]["content"][0]["text"], "hello\nworld\n",
        "{body}"
    );
}
