//! The official MCP Python SDK as a client of moat-fs, over stdio,
//! Streamable HTTP and the legacy HTTP+SSE transport: initialise, list
//! tools, call read_text_file.
//!
//! The SDK is installed into a venv this test makes (target/py-venv) when it
//! is not there yet; the test never skips.

use std::{path::PathBuf, process::Command, sync::OnceLock};

use moat_tests::{HttpServer, binary, fixture::Tree, workspace_root};
use serde_json::Value;

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

fn run_client(mode: &str, target: &str, root: &str) -> Value {
    let script = workspace_root().join("tests/interop/python_client.py");
    let output = Command::new(python())
        .arg(script)
        .args([mode, target, root])
        .output()
        .expect("run the Python client");
    assert!(
        output.status.success(),
        "python client ({mode}) failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("one JSON line")
}

fn check(report: &Value, mode: &str) {
    assert_eq!(report["server"], "moat-fs", "{mode}: {report}");
    assert_eq!(report["is_error"], false, "{mode}: {report}");
    assert_eq!(report["text"], "hello\nworld\n", "{mode}: {report}");
    let tools = report["tools"].as_array().expect("tools");
    assert!(
        tools.iter().any(|tool| tool == "read_text_file"),
        "{mode}: {report}"
    );
}

/// The Python SDK over stdio.
#[test]
fn python_sdk_over_stdio() {
    let tree = Tree::new();
    let report = run_client(
        "stdio",
        &binary("moat-fs").to_string_lossy(),
        &tree.root_arg(),
    );
    check(&report, "stdio");
}

/// The Python SDK over Streamable HTTP.
#[test]
fn python_sdk_over_streamable_http() {
    let tree = Tree::new();
    let server = HttpServer::start("moat-fs", &[&tree.root_arg()], &[]).expect("start");
    let report = run_client("http", &server.url, &tree.root_arg());
    check(&report, "http");
}

/// The Python SDK over the legacy HTTP+SSE transport (2024-11-05).
#[test]
fn python_sdk_over_legacy_sse() {
    let tree = Tree::new();
    let server = HttpServer::start("moat-fs", &[&tree.root_arg()], &[]).expect("start");
    let report = run_client("sse", &format!("{}/sse", server.base), &tree.root_arg());
    check(&report, "sse");
}
