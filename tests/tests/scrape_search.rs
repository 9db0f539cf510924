//! moat-scrape's search provider is reached through the URL policy's
//! resolve-check-connect path: the operator's provider URL opens its own
//! host and port (here on loopback, with no `[url] allow_private`), and a
//! redirect is followed only on that host and port.

use moat_tests::{
    Era, Session, Transport,
    fake_sites::{FakeServer, Hit, Reply, searxng_router},
    is_error, text,
};
use serde_json::{Value, json};

/// Regression: the search client followed redirects to any host. A
/// provider redirecting to a second loopback server (another port is
/// another host) gets one clear error line and the second server is never
/// reached; a redirect on the provider's own host and port is followed.
#[tokio::test(flavor = "multi_thread")]
async fn provider_redirect_to_another_host_is_not_followed() {
    let elsewhere = FakeServer::start(searxng_router()).await;
    let away = elsewhere.base();
    let answer = searxng_router();
    let provider = FakeServer::start(move |hit: &Hit| {
        if hit.target.contains("q=away") {
            Reply::redirect(&format!("{away}{}", hit.target))
        } else if hit.target.contains("q=moved") {
            Reply::redirect(&hit.target.replace("q=moved", "q=here"))
        } else {
            answer(hit)
        }
    })
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[scrape.search]\nprovider = \"searxng\"\nsearxng_url = \"{}\"\ntimeout_ms = 5000\n",
            provider.base()
        ),
    )
    .expect("write policy");
    let policy = policy.display().to_string();
    let session = Session::start(
        "moat-scrape",
        &["--policy", &policy],
        Transport::Stdio,
        Era::Handshake,
    )
    .await
    .expect("server starts");

    let refused = session
        .call("search", json!({ "query": "away" }))
        .await
        .expect("call answers");
    let message = text(&refused);
    assert!(is_error(&refused), "{message}");
    assert!(!message.contains('\n'), "not one line: {message}");
    assert!(
        message.contains("SearXNG redirected to another host")
            && message.contains(&elsewhere.authority()),
        "{message}"
    );
    assert!(
        elsewhere.hits().is_empty(),
        "the other host was reached: {:?}",
        elsewhere.hits()
    );

    let moved = session
        .call("search", json!({ "query": "moved", "limit": 2 }))
        .await
        .expect("call answers");
    assert!(!is_error(&moved), "{}", text(&moved));
    let results = moved
        .structured_content
        .clone()
        .unwrap_or(Value::Null)
        .get("results")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    assert_eq!(results, 2, "{}", text(&moved));
    assert_eq!(provider.hits_on("/search?q=here"), 1);
}
