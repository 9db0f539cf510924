//! The official MCP Python SDK as a client of moat-fs and moat-scrape, over
//! stdio, Streamable HTTP and the legacy HTTP+SSE transport: initialise, list
//! tools, call read_text_file (moat-fs) or scrape a page on a loopback fake
//! site (moat-scrape).
//!
//! The SDK is installed into a venv this test makes (target/py-venv) when it
//! is not there yet; the test never skips.

use std::{path::PathBuf, process::Command, sync::OnceLock};

use moat_tests::{
    HttpServer, binary,
    fake_sites::{FakeServer, Reply},
    fixture::Tree,
    workspace_root,
};
use serde_json::{Value, json};

/// A Python with the `mcp` package, made once.
fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let venv = workspace_root().join("target/py-venv");
            let python = venv.join("bin/python");
            let ready = Command::new(&python)
                .args(["-c", "import mcp.client.streamable_http"])
                .status()
                .is_ok_and(|status| status.success());
            if !ready {
                let made = Command::new("python3")
                    .args(["-m", "venv"])
                    .arg(&venv)
                    .status()
                    .expect("python3");
                assert!(
                    made.success(),
                    "python3 -m venv failed (scripts/test.sh installs python3-venv)"
                );
                let installed = Command::new(venv.join("bin/pip"))
                    .args(["install", "--quiet", "mcp"])
                    .status()
                    .expect("pip");
                assert!(installed.success(), "pip install mcp failed");
            }
            python
        })
        .clone()
}

/// Run the Python client: `mode` and `target` as python_client.py takes
/// them, `server_args` for the binary it starts over stdio.
async fn run_client(
    mode: &str,
    target: &str,
    tool: &str,
    arguments: &Value,
    server_args: &[String],
) -> Value {
    let script = workspace_root().join("tests/interop/python_client.py");
    let output = tokio::process::Command::new(python())
        .arg(script)
        .args([mode, target, tool, &arguments.to_string()])
        .args(server_args)
        .output()
        .await
        .expect("run the Python client");
    assert!(
        output.status.success(),
        "python client ({mode}) failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("one JSON line")
}

/// Assert the parts every report shares.
fn check(report: &Value, mode: &str, server: &str, tool: &str) {
    assert_eq!(report["server"], server, "{mode}: {report}");
    assert_eq!(report["is_error"], false, "{mode}: {report}");
    let tools = report["tools"].as_array().expect("tools");
    assert!(tools.iter().any(|name| name == tool), "{mode}: {report}");
}

/// The client's target: the binary over stdio, else the server's URL.
fn target(binary_name: &str, server: Option<&HttpServer>, mode: &str) -> String {
    match (server, mode) {
        (None, _) => binary(binary_name).to_string_lossy().into_owned(),
        (Some(server), "sse") => format!("{}/sse", server.base),
        (Some(server), _) => server.url.clone(),
    }
}

/// Run the client against moat-fs over `mode` and check what it saw.
async fn check_fs(mode: &str) {
    let tree = Tree::new();
    let root = tree.root_arg();
    let server =
        (mode != "stdio").then(|| HttpServer::start("moat-fs", &[&root], &[]).expect("start"));
    let arguments = json!({ "path": format!("{root}/hello.txt") });
    let target = target("moat-fs", server.as_ref(), mode);
    let report = run_client(mode, &target, "read_text_file", &arguments, &[root]).await;
    check(&report, mode, "moat-fs", "read_text_file");
    assert_eq!(report["text"], "hello\nworld\n", "{mode}: {report}");
}

/// Run the client against moat-scrape over `mode`: scrape one page of a
/// loopback site that the command line opens.
async fn check_scrape(mode: &str) {
    let site = FakeServer::start(|hit| {
        if hit.target == "/robots.txt" {
            Reply::ok("text/plain", "User-agent: *\nAllow: /\n")
        } else {
            Reply::ok(
                "text/html; charset=utf-8",
                "<html><head><title>Interop page</title></head><body><main>\
                 <h1>Moat interop</h1><p>The drawbridge is down for Python.</p>\
                 </main></body></html>",
            )
        }
    })
    .await;
    let server_args = vec!["--allow-private".to_string(), site.authority()];
    let server = (mode != "stdio").then(|| {
        HttpServer::start("moat-scrape", &["--allow-private", &site.authority()], &[])
            .expect("start")
    });
    let arguments = json!({ "url": format!("{}/page", site.base()), "render": "http" });
    let target = target("moat-scrape", server.as_ref(), mode);
    let report = run_client(mode, &target, "scrape", &arguments, &server_args).await;
    check(&report, mode, "moat-scrape", "scrape");
    let text = report["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("The drawbridge is down for Python."),
        "{mode}: {report}"
    );
}

/// The Python SDK and moat-fs over stdio.
#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_over_stdio() {
    check_fs("stdio").await;
}

/// The Python SDK and moat-fs over Streamable HTTP.
#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_over_streamable_http() {
    check_fs("http").await;
}

/// The Python SDK and moat-fs over the legacy HTTP+SSE transport
/// (2024-11-05).
#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_over_legacy_sse() {
    check_fs("sse").await;
}

/// The Python SDK and moat-scrape over stdio.
#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_scrapes_over_stdio() {
    check_scrape("stdio").await;
}

/// The Python SDK and moat-scrape over Streamable HTTP.
#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_scrapes_over_streamable_http() {
    check_scrape("http").await;
}

/// The Python SDK and moat-scrape over the legacy HTTP+SSE transport.
#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_scrapes_over_legacy_sse() {
    check_scrape("sse").await;
}
