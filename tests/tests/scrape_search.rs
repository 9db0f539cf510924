//! moat-scrape's search provider is reached through the URL policy's
//! resolve-check-connect path: the operator's provider URL opens its own
//! host and port (here on loopback, with no `[url] allow_private`), and a
//! redirect is followed only on that host and port. A provider's limits
//! are honoured: Brave's 429 and `Retry-After` with a bounded retry, its
//! free tier's one request per second across sessions, a spent quota told
//! in one line, and repeated queries answered from the cache.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use moat_tests::{
    Client, Era, HttpServer, Session, Transport, call,
    fake_sites::{
        FakeServer, Hit, Reply, brave_free_tier, brave_quota_spent, brave_refusing, searxng_router,
    },
    is_error, stdio_client_with_env, text,
};
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

/// A policy using `brave` as the Brave endpoint, with `extra` lines in
/// `[scrape.search]`; the key comes from `MOAT_TEST_BRAVE_KEY`.
fn brave_policy(dir: &tempfile::TempDir, brave: &FakeServer, extra: &str) -> String {
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[scrape.search]\nprovider = \"brave\"\nbrave_url = \"{}/res/v1/web/search\"\nbrave_api_key_env = \"MOAT_TEST_BRAVE_KEY\"\n{extra}",
            brave.base()
        ),
    )
    .expect("write policy");
    policy.display().to_string()
}

/// moat-scrape on stdio with that policy and a key.
async fn brave_client(policy: &str) -> Client {
    stdio_client_with_env(
        "moat-scrape",
        &["--policy", policy],
        &[("MOAT_TEST_BRAVE_KEY", "k")],
        Era::Handshake,
    )
    .await
    .expect("server starts")
}

async fn search(client: &Client, query: &str) -> CallToolResult {
    call(client, "search", json!({ "query": query, "limit": 3 }))
        .await
        .expect("call answers")
}

/// Brave's 429 with `Retry-After` is waited out and retried: the fake
/// refuses the first request, answers the second, and the model gets
/// results.
#[tokio::test(flavor = "multi_thread")]
async fn brave_429_is_retried_after_retry_after() {
    let brave = FakeServer::start(brave_refusing(1)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let client = brave_client(&brave_policy(&dir, &brave, "")).await;
    let result = search(&client, "retry").await;
    assert!(!is_error(&result), "{}", text(&result));
    assert!(
        text(&result).contains("Brave result 1"),
        "{}",
        text(&result)
    );
    assert_eq!(brave.hits().len(), 2, "one refusal, one retry");
}

/// A provider that keeps answering 429 is asked three times (the request
/// and two retries), no more; the model gets one line naming HTTP 429.
#[tokio::test(flavor = "multi_thread")]
async fn brave_429_retries_are_bounded() {
    let brave = FakeServer::start(brave_refusing(usize::MAX)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let client = brave_client(&brave_policy(&dir, &brave, "")).await;
    let result = search(&client, "refused").await;
    let message = text(&result);
    assert!(is_error(&result), "{message}");
    assert!(
        message.contains("HTTP 429") && !message.contains('\n'),
        "{message}"
    );
    assert_eq!(brave.hits().len(), 3);
}

/// A spent monthly quota is one clear line saying so (and when it renews),
/// without a retry that would only be refused again.
#[tokio::test(flavor = "multi_thread")]
async fn brave_quota_exhausted_is_one_clear_line() {
    let brave = FakeServer::start(brave_quota_spent()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let client = brave_client(&brave_policy(&dir, &brave, "")).await;
    let result = search(&client, "quota").await;
    let message = text(&result);
    assert!(is_error(&result), "{message}");
    assert!(
        message.contains("quota") && message.contains("used up") && message.contains("100 h"),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message}");
    assert_eq!(brave.hits().len(), 1);
}

/// A repeated query is answered from the cache: the provider is asked
/// once per distinct query; with `cache_ttl_secs = 0` it is asked every
/// time.
#[tokio::test(flavor = "multi_thread")]
async fn search_results_are_cached_per_query() {
    let brave = FakeServer::start(brave_refusing(0)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let client = brave_client(&brave_policy(&dir, &brave, "rate_per_second = 100.0\n")).await;
    let first = search(&client, "cached").await;
    let again = search(&client, "cached").await;
    assert_eq!(text(&first), text(&again));
    assert_eq!(brave.hits().len(), 1, "the repeat came from the cache");
    search(&client, "another").await;
    assert_eq!(brave.hits().len(), 2);

    let uncached = FakeServer::start(brave_refusing(0)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let client = brave_client(&brave_policy(
        &dir,
        &uncached,
        "rate_per_second = 100.0\ncache_ttl_secs = 0\n",
    ))
    .await;
    search(&client, "cached").await;
    search(&client, "cached").await;
    assert_eq!(uncached.hits().len(), 2);
}

/// Brave's free tier refuses a second request within a second. Three
/// sessions searching at once on one server, with the default rate limit,
/// never trip it: all three get results, the provider answered three
/// requests and refused none.
#[tokio::test(flavor = "multi_thread")]
async fn brave_is_paced_to_its_free_tier_across_sessions() {
    let refused = Arc::new(AtomicUsize::new(0));
    // moat spaces requests by 1 s; the fake allows for 100 ms of jitter
    // between moat sending and the fake accepting.
    let brave =
        FakeServer::start(brave_free_tier(Duration::from_millis(900), refused.clone())).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = brave_policy(&dir, &brave, "");
    let server = HttpServer::start_with_env(
        "moat-scrape",
        &["--policy", &policy],
        &[],
        &[("MOAT_TEST_BRAVE_KEY", "k")],
    )
    .expect("server starts");
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(server.client(Era::Handshake).await.expect("session"));
    }
    let calls = sessions
        .iter()
        .enumerate()
        .map(|(index, client)| async move { search(client, &format!("paced {index}")).await });
    for result in futures::future::join_all(calls).await {
        assert!(!is_error(&result), "{}", text(&result));
    }
    assert_eq!(brave.hits().len(), 3);
    assert_eq!(
        refused.load(Ordering::SeqCst),
        0,
        "moat tripped the free tier's limit"
    );
}

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

/// Regression: the search provider ignored `[scrape] upstream_proxy` and
/// went straight out, which fails where the proxy is the only way out.
/// With the proxy set, the provider is reached through it (asked for the
/// checked address with the configured credential), and results arrive;
/// with the provider's host in `no_proxy`, the proxy sees nothing.
#[tokio::test(flavor = "multi_thread")]
async fn search_provider_is_reached_through_the_upstream_proxy() {
    let provider = FakeServer::start(searxng_router()).await;
    for (no_proxy, through_proxy) in [("", true), ("\"127.0.0.1\"", false)] {
        let proxy = moat_tests::fake_sites::FakeProxy::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let policy = dir.path().join("policy.toml");
        std::fs::write(
            &policy,
            format!(
                "[scrape]\nupstream_proxy = \"{}\"\nupstream_proxy_auth_env = \"MOAT_TEST_PROXY_AUTH\"\nno_proxy = [{no_proxy}]\n\n\
                 [scrape.search]\nprovider = \"searxng\"\nsearxng_url = \"{}\"\ntimeout_ms = 5000\n",
                proxy.url(),
                provider.base()
            ),
        )
        .expect("write policy");
        let client = stdio_client_with_env(
            "moat-scrape",
            &["--policy", &policy.display().to_string()],
            &[("MOAT_TEST_PROXY_AUTH", "corp:proxy-pass")],
            Era::Handshake,
        )
        .await
        .expect("server starts");
        let result = search(&client, "moats").await;
        assert!(!is_error(&result), "{}", text(&result));
        let hits = proxy.hits();
        let site = provider.authority();
        if through_proxy {
            assert!(
                hits.iter().any(|hit| hit.target.contains(&site)
                    && hit.authorization.as_deref() == Some("Basic Y29ycDpwcm94eS1wYXNz")),
                "the provider was not reached through the proxy: {hits:?}"
            );
        } else {
            assert!(
                hits.is_empty(),
                "no_proxy host went through the proxy: {hits:?}"
            );
        }
        let _ = client.cancel().await;
    }
}
