//! The official MCP Python SDK as a client of moat-fs and moat-scrape, over
//! stdio, Streamable HTTP and the legacy HTTP+SSE transport: initialise, list
//! tools, call read_text_file (moat-fs) or scrape a page on a loopback fake
//! site (moat-scrape).
//!
//! The SDK is installed into a venv this test makes (target/py-venv) when it
//! is not there yet; the test never skips.

use moat_tests::{
    HttpServer, binary,
    fake_sites::{FakeProxy, FakeServer, one_page_site, searxng_router},
    fixture::Tree,
    python::run_script,
};
use serde_json::{Value, json};

/// Run the Python client: `mode` and `target` as python_client.py takes
/// them, `server_args` for the binary it starts over stdio.
async fn run_client(
    mode: &str,
    target: &str,
    tool: &str,
    arguments: &Value,
    server_args: &[String],
) -> Value {
    let mut args = vec![
        mode.to_string(),
        target.to_string(),
        tool.to_string(),
        arguments.to_string(),
    ];
    args.extend_from_slice(server_args);
    run_script("python_client.py", &args).await
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
    let site = one_page_site(
        "<html><head><title>Interop page</title></head><body><main>\
                 <h1>Moat interop</h1><p>The drawbridge is down for Python.</p>\
                 </main></body></html>",
    )
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

/// The Python SDK drives moat-scrape behind an upstream proxy over `mode`:
/// a scrape and a search (a SearXNG fake as the provider) both succeed,
/// and both left through the proxy, asked for the checked addresses.
async fn check_scrape_through_proxy(mode: &str) {
    let site = one_page_site(
        "<html><head><title>Proxy page</title></head><body><main>\
                 <h1>Behind the proxy</h1><p>The drawbridge is down behind the proxy.</p>\
                 </main></body></html>",
    )
    .await;
    let provider = FakeServer::start(searxng_router()).await;
    let proxy = FakeProxy::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = dir.path().join("scrape.toml");
    std::fs::write(
        &policy,
        format!(
            "[url]\nallow_private = [\"{}\"]\n\n[scrape]\nupstream_proxy = \"{}\"\n\n\
             [scrape.search]\nprovider = \"searxng\"\nsearxng_url = \"{}\"\n",
            site.authority(),
            proxy.url(),
            provider.base()
        ),
    )
    .expect("write policy");
    let policy = policy.display().to_string();
    let server_args = vec!["--policy".to_string(), policy.clone()];
    let server = (mode != "stdio")
        .then(|| HttpServer::start("moat-scrape", &["--policy", &policy], &[]).expect("start"));
    let target = target("moat-scrape", server.as_ref(), mode);
    let arguments = json!({ "url": format!("{}/page", site.base()), "render": "http" });
    let report = run_client(mode, &target, "scrape", &arguments, &server_args).await;
    check(&report, mode, "moat-scrape", "scrape");
    let text = report["text"].as_str().unwrap_or_default();
    assert!(text.contains("down behind the proxy"), "{mode}: {report}");
    let arguments = json!({ "query": "moats", "limit": 2 });
    let report = run_client(mode, &target, "search", &arguments, &server_args).await;
    check(&report, mode, "moat-scrape", "search");
    let hits = proxy.hits();
    for authority in [site.authority(), provider.authority()] {
        assert!(
            hits.iter().any(|hit| hit.target.contains(&authority)),
            "{mode}: {authority} was not reached through the proxy: {hits:?}"
        );
    }
}

/// The Python SDK, moat-scrape behind an upstream proxy, over stdio.
#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_scrapes_and_searches_through_a_proxy_over_stdio() {
    check_scrape_through_proxy("stdio").await;
}

/// The Python SDK, moat-scrape behind an upstream proxy, over Streamable
/// HTTP.
#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_scrapes_and_searches_through_a_proxy_over_streamable_http() {
    check_scrape_through_proxy("http").await;
}
