//! The official MCP TypeScript SDK (`@modelcontextprotocol/sdk`) as a client
//! of moat-fs and moat-scrape over Streamable HTTP: initialise, list tools,
//! call a tool (read_text_file; scrape of a page on a loopback fake site).
//!
//! Node 22 and the SDK are installed into target/conformance by
//! `scripts/conformance.sh install` when they are not there yet; the test
//! never skips.

use std::{path::PathBuf, process::Command, sync::OnceLock};

use moat_tests::{HttpServer, fake_sites::one_page_site, fixture::Tree, workspace_root};
use serde_json::{Value, json};

/// The folder holding node_modules with Node 22 and the SDK, made once.
fn node_cache() -> &'static PathBuf {
    static CACHE: OnceLock<PathBuf> = OnceLock::new();
    CACHE.get_or_init(|| {
        let output = Command::new(workspace_root().join("scripts/conformance.sh"))
            .arg("install")
            .output()
            .expect("run scripts/conformance.sh install");
        assert!(
            output.status.success(),
            "installing Node and the TypeScript SDK failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
    })
}

/// Run the TypeScript client against `url`, calling `tool` with `arguments`.
async fn run_client(url: &str, tool: &str, arguments: &Value) -> Value {
    let modules = node_cache().join("node_modules");
    let output = tokio::process::Command::new(modules.join(".bin/node"))
        .arg(workspace_root().join("tests/interop/typescript_client.mjs"))
        .args([url, tool, &arguments.to_string()])
        .env("MOAT_NODE_MODULES", &modules)
        .output()
        .await
        .expect("run the TypeScript client");
    assert!(
        output.status.success(),
        "TypeScript client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("one JSON line")
}

/// Assert the parts every report shares.
fn check(report: &Value, server: &str, tool: &str) {
    assert_eq!(report["server"], server, "{report}");
    assert_eq!(report["is_error"], false, "{report}");
    assert_eq!(report["session"], true, "{report}");
    let tools = report["tools"].as_array().expect("tools");
    assert!(tools.iter().any(|name| name == tool), "{report}");
}

/// The TypeScript SDK initialises with moat-fs, lists its tools and reads a
/// file.
#[tokio::test(flavor = "multi_thread")]
async fn typescript_sdk_reads_a_file_from_moat_fs() {
    let tree = Tree::new();
    let server = HttpServer::start("moat-fs", &[&tree.root_arg()], &[]).expect("start");
    let path = format!("{}/hello.txt", tree.root_arg());
    let report = run_client(&server.url, "read_text_file", &json!({ "path": path })).await;
    check(&report, "moat-fs", "read_text_file");
    assert_eq!(report["text"], "hello\nworld\n", "{report}");
}

/// The TypeScript SDK initialises with moat-scrape, lists its tools and
/// scrapes a page on a loopback site the command line opens.
#[tokio::test(flavor = "multi_thread")]
async fn typescript_sdk_scrapes_a_page_through_moat_scrape() {
    let site = one_page_site(
        "<html><head><title>Interop page</title></head><body><main>\
                 <h1>Moat interop</h1><p>The drawbridge is down for TypeScript.</p>\
                 </main></body></html>",
    )
    .await;
    let server = HttpServer::start("moat-scrape", &["--allow-private", &site.authority()], &[])
        .expect("start");
    let url = format!("{}/page", site.base());
    let report = run_client(
        &server.url,
        "scrape",
        &json!({ "url": url, "render": "http" }),
    )
    .await;
    check(&report, "moat-scrape", "scrape");
    let text = report["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("The drawbridge is down for TypeScript."),
        "{report}"
    );
}
