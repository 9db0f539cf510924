//! moat-scrape end to end: the real binary, over stdio and Streamable HTTP,
//! against fake sites on loopback that this suite starts. Tests that need
//! Chromium use /usr/bin/chromium (scripts/test.sh installs it); they do not
//! skip.

use std::{path::PathBuf, process::Stdio, time::Duration};

use moat_tests::{
    Client, Era, HttpServer, Session, TRANSPORTS, Transport, call,
    fake_sites::{
        FakeProxy, FakeServer, Reply, brave_router, paper_page, searxng_router, site_router,
    },
    is_error,
    scrape_net::{COOKIE_ENV, SecretWorld, TOKEN_ENV},
    text,
};
use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Value, json};

/// The fake site, the server nobody may reach, and a policy opening only
/// the site.
struct World {
    site: FakeServer,
    blocked: FakeServer,
    _dir: tempfile::TempDir,
    policy: PathBuf,
}

impl World {
    async fn new(extra: &str) -> Self {
        let blocked =
            FakeServer::start(|_| Reply::ok("text/plain", "SECRET FROM THE PRIVATE NETWORK")).await;
        let site = FakeServer::start(site_router(blocked.authority())).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let policy = dir.path().join("policy.toml");
        let text = format!(
            "[url]\nallow_private = [\"{}\"]\n\n[scrape]\nhttp_timeout_ms = 3000\nbrowser_timeout_ms = 8000\n\
             max_body_bytes = 1048576\nrobots_timeout_ms = 2000\n{extra}\n",
            site.authority()
        );
        std::fs::write(&policy, text).expect("write policy");
        Self {
            site,
            blocked,
            _dir: dir,
            policy,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.site.base())
    }

    fn policy(&self) -> String {
        self.policy.display().to_string()
    }

    async fn session(&self, transport: Transport) -> Session {
        Session::start(
            "moat-scrape",
            &["--policy", &self.policy()],
            transport,
            Era::Handshake,
        )
        .await
        .expect("server starts")
    }

    /// Nothing reached the private server.
    fn assert_blocked_untouched(&self) {
        assert!(
            self.blocked.hits().is_empty(),
            "the blocked server was reached: {:?}",
            self.blocked.hits()
        );
    }
}

fn structured(result: &CallToolResult) -> Value {
    result.structured_content.clone().unwrap_or(Value::Null)
}

async fn scrape(session: &Session, arguments: Value) -> CallToolResult {
    session
        .call("scrape", arguments)
        .await
        .expect("call answers")
}

/// A static article comes back as clean text, with metadata, over both
/// transports; scripts, styles, noscript, navigation and footer are gone.
#[tokio::test(flavor = "multi_thread")]
async fn static_article_is_clean_text_over_stdio_and_http() {
    let world = World::new("").await;
    for transport in TRANSPORTS {
        let session = world.session(transport).await;
        let result = scrape(
            &session,
            json!({ "url": world.url("/article"), "render": "http" }),
        )
        .await;
        let body = text(&result);
        assert!(!is_error(&result), "{body}");
        assert!(
            body.contains("Moats and Castles") && body.contains("THE END OF THE ARTICLE"),
            "{body}"
        );
        for absent in [
            "SECRET-TRACKER",
            "color: red",
            "enable JavaScript",
            "About us",
            "Copyright footer",
        ] {
            assert!(!body.contains(absent), "{absent} leaked into: {body}");
        }
        let data = structured(&result);
        assert_eq!(data["status"], 200);
        assert_eq!(data["renderer"], "http");
        assert_eq!(data["title"], "The Static Article");
        assert_eq!(data["final_url"], world.url("/article"));
        assert!(
            data["content_type"]
                .as_str()
                .unwrap_or("")
                .starts_with("text/html")
        );
    }
}

/// A cut page says where to continue; continuing walks the whole text
/// without fetching the page again.
#[tokio::test(flavor = "multi_thread")]
async fn continuation_reads_from_cache() {
    let world = World::new("").await;
    let session = world.session(Transport::Stdio).await;
    let mut start = 0;
    let mut all = String::new();
    let mut calls = 0;
    loop {
        let result = scrape(
            &session,
            json!({ "url": world.url("/article"), "render": "http", "max_length": 1000, "start_index": start }),
        )
        .await;
        assert!(!is_error(&result), "{}", text(&result));
        let data = structured(&result);
        all.push_str(data["text"].as_str().unwrap_or(""));
        calls += 1;
        match data["next_start_index"].as_u64() {
            Some(next) => {
                assert!(
                    text(&result).contains(&format!("start_index={next}")),
                    "{}",
                    text(&result)
                );
                start = usize::try_from(next).expect("fits");
            }
            None => break,
        }
    }
    assert!(
        calls > 3,
        "the article should take several windows, took {calls}"
    );
    assert!(all.contains("Paragraph 1.") && all.contains("THE END OF THE ARTICLE"));
    assert_eq!(
        world.site.hits_on("/article"),
        1,
        "continuations fetched the page again"
    );
}

/// render=auto sends a JavaScript-built page to the browser; render=http
/// shows its empty shell without the noscript notice.
#[tokio::test(flavor = "multi_thread")]
async fn javascript_page_escalates_to_the_browser() {
    let world = World::new("").await;
    let session = world.session(Transport::Http).await;
    let result = scrape(&session, json!({ "url": world.url("/spa") })).await;
    let body = text(&result);
    assert!(!is_error(&result), "{body}");
    assert!(body.contains("JAVASCRIPT-BUILT"), "{body}");
    assert_eq!(structured(&result)["renderer"], "browser");
    let plain = scrape(
        &session,
        json!({ "url": world.url("/spa"), "render": "http" }),
    )
    .await;
    let plain_body = text(&plain);
    assert!(
        !plain_body.contains("JAVASCRIPT-BUILT") && !plain_body.contains("enable JavaScript"),
        "{plain_body}"
    );
    world.assert_blocked_untouched();
}

/// A page that never finishes: plain HTTP stops at its timeout, the browser
/// returns what the page showed (or a clear timeout), and the server keeps
/// working.
#[tokio::test(flavor = "multi_thread")]
async fn never_finishing_page_is_bounded() {
    let world = World::new("").await;
    let session = world.session(Transport::Stdio).await;
    let http = scrape(
        &session,
        json!({ "url": world.url("/slow"), "render": "http" }),
    )
    .await;
    assert!(is_error(&http));
    assert!(text(&http).contains("took longer than"), "{}", text(&http));
    let browser = scrape(
        &session,
        json!({ "url": world.url("/slow"), "render": "browser" }),
    )
    .await;
    let body = text(&browser);
    if is_error(&browser) {
        assert!(body.contains("took longer than"), "{body}");
    } else {
        assert!(body.contains("Partial content before the stall"), "{body}");
        assert!(body.contains("had not finished loading"), "{body}");
    }
    let next = scrape(
        &session,
        json!({ "url": world.url("/article"), "render": "browser" }),
    )
    .await;
    assert!(!is_error(&next), "{}", text(&next));
}

/// A 20 MiB page is read up to the body cap and says so.
#[tokio::test(flavor = "multi_thread")]
async fn huge_page_is_cut_at_the_body_cap() {
    let world = World::new("").await;
    let session = world.session(Transport::Stdio).await;
    let result = scrape(
        &session,
        json!({ "url": world.url("/huge"), "render": "http", "max_length": 500 }),
    )
    .await;
    let body = text(&result);
    assert!(!is_error(&result), "{body}");
    assert!(body.contains("larger than 1048576 bytes"), "{body}");
    assert_eq!(structured(&result)["truncated"], true);
}

/// A redirect chain ending at a private address is refused, over plain HTTP
/// and in the browser, and the private server receives nothing.
#[tokio::test(flavor = "multi_thread")]
async fn redirect_to_private_address_is_refused() {
    let world = World::new("").await;
    let session = world.session(Transport::Stdio).await;
    let http = scrape(
        &session,
        json!({ "url": world.url("/redirect/1"), "render": "http" }),
    )
    .await;
    assert!(is_error(&http));
    assert!(
        text(&http).contains("redirect was refused"),
        "{}",
        text(&http)
    );
    let browser = scrape(
        &session,
        json!({ "url": world.url("/redirect/1"), "render": "browser" }),
    )
    .await;
    assert!(is_error(&browser), "{}", text(&browser));
    assert!(world.site.hits_on("/redirect/2") >= 2);
    world.assert_blocked_untouched();
}

/// Every request a page makes (stylesheet, script, image, iframe, fetch,
/// XHR, WebSocket, beacon, a `localhost` name) goes through the egress
/// proxy and is refused; the page's own text still comes back.
#[tokio::test(flavor = "multi_thread")]
async fn browser_subrequests_to_blocked_addresses_never_arrive() {
    let world = World::new("").await;
    let session = world.session(Transport::Stdio).await;
    let result = scrape(
        &session,
        json!({ "url": world.url("/leaky"), "render": "browser" }),
    )
    .await;
    let body = text(&result);
    assert!(!is_error(&result), "{body}");
    assert!(body.contains("Visible text of the leaky page"), "{body}");
    assert!(
        world.site.hits_on("/pixel.png") >= 1,
        "the page's own sub-resources were not even requested"
    );
    // Let any late request (beacon, socket) arrive before looking.
    let again = scrape(
        &session,
        json!({ "url": world.url("/article"), "render": "browser" }),
    )
    .await;
    assert!(!is_error(&again), "{}", text(&again));
    world.assert_blocked_untouched();
}

/// Hostile spellings of the blocked server's address are refused before
/// any connection.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_urls_are_refused_by_the_binary() {
    let world = World::new("").await;
    let session = world.session(Transport::Http).await;
    let port = world.blocked.address.port();
    let urls = [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://0x7f.1:{port}/"),
        format!("http://0177.0.0.1:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://127.0.0.1.:{port}/"),
        format!("http://user@127.0.0.1:{port}/"),
        "file:///etc/passwd".to_string(),
    ];
    for url in urls {
        for render in ["http", "browser"] {
            let result = scrape(&session, json!({ "url": url, "render": render })).await;
            assert!(is_error(&result), "{url} was allowed: {}", text(&result));
        }
    }
    world.assert_blocked_untouched();
}

/// Binary files and a body that only claims to be a PDF get a clear
/// error, not garbage text.
#[tokio::test(flavor = "multi_thread")]
async fn binary_and_pdf_are_refused() {
    let world = World::new("").await;
    let session = world.session(Transport::Stdio).await;
    let binary = scrape(&session, json!({ "url": world.url("/file.bin") })).await;
    assert!(is_error(&binary));
    assert!(text(&binary).contains("not text"), "{}", text(&binary));
    let pdf = scrape(&session, json!({ "url": world.url("/doc.pdf") })).await;
    assert!(is_error(&pdf));
    assert!(text(&pdf).contains("PDF"), "{}", text(&pdf));
}

/// Non-UTF-8 pages are decoded from the header charset or `<meta charset>`.
#[tokio::test(flavor = "multi_thread")]
async fn non_utf8_pages_are_decoded() {
    let world = World::new("").await;
    let session = world.session(Transport::Stdio).await;
    let latin1 = scrape(&session, json!({ "url": world.url("/latin1") })).await;
    assert!(
        text(&latin1).contains("Un café crème, s'il vous plaît."),
        "{}",
        text(&latin1)
    );
    assert_eq!(structured(&latin1)["title"], "Café");
    let sjis = scrape(&session, json!({ "url": world.url("/sjis") })).await;
    assert!(text(&sjis).contains("こんにちは"), "{}", text(&sjis));
}

/// robots.txt is honoured by default and the operator can switch it off.
#[tokio::test(flavor = "multi_thread")]
async fn robots_txt_is_honoured_unless_switched_off() {
    let world = World::new("").await;
    let session = world.session(Transport::Stdio).await;
    let refused = scrape(&session, json!({ "url": world.url("/private/page") })).await;
    assert!(is_error(&refused));
    assert!(text(&refused).contains("robots.txt"), "{}", text(&refused));
    assert_eq!(world.site.hits_on("/private"), 0);
    let ignoring = Session::start(
        "moat-scrape",
        &["--policy", &world.policy(), "--ignore-robots-txt"],
        Transport::Stdio,
        Era::Handshake,
    )
    .await
    .expect("server starts");
    let allowed = scrape(&ignoring, json!({ "url": world.url("/private/page") })).await;
    assert!(!is_error(&allowed), "{}", text(&allowed));
    assert!(text(&allowed).contains("robots.txt says you may not read this"));
}

/// search: SearXNG's JSON API, over both transports, with the limit and
/// filters passed through and tags stripped from snippets.
#[tokio::test(flavor = "multi_thread")]
async fn search_through_fake_searxng() {
    let searxng = FakeServer::start(searxng_router()).await;
    let world = World::new(&format!(
        "\n[scrape.search]\nprovider = \"searxng\"\nsearxng_url = \"{}\"\n",
        searxng.base()
    ))
    .await;
    for transport in TRANSPORTS {
        let session = world.session(transport).await;
        let result = session
            .call("search", json!({ "query": "moat castles", "limit": 3, "time_range": "week", "safesearch": "strict", "language": "en" }))
            .await
            .expect("call answers");
        assert!(!is_error(&result), "{}", text(&result));
        let results = structured(&result)["results"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(results.len(), 3);
        assert_eq!(results[0]["title"], "SearXNG result 1");
        assert_eq!(results[0]["url"], "https://example.org/searx/1");
        assert_eq!(results[0]["snippet"], "Snippet number 1");
    }
    let hit = searxng
        .hits()
        .into_iter()
        .next()
        .expect("searxng was asked");
    for part in [
        "q=moat+castles",
        "format=json",
        "time_range=week",
        "safesearch=2",
        "language=en",
    ] {
        assert!(
            hit.target.contains(part),
            "{part} missing from {}",
            hit.target
        );
    }
}

/// Start moat-scrape on stdio with extra environment variables.
async fn stdio_with_env(args: &[&str], env: &[(&str, &str)]) -> Client {
    moat_tests::stdio_client_with_env("moat-scrape", args, env, Era::Handshake)
        .await
        .expect("MCP startup")
}

/// search: Brave's API with the key from the environment variable the
/// policy names; a wrong key is a clear error.
#[tokio::test(flavor = "multi_thread")]
async fn search_through_fake_brave() {
    let brave = FakeServer::start(brave_router("test-key-123")).await;
    let world = World::new(&format!(
        "\n[scrape.search]\nprovider = \"brave\"\nbrave_url = \"{}/res/v1/web/search\"\nbrave_api_key_env = \"MOAT_TEST_BRAVE_KEY\"\n",
        brave.base()
    ))
    .await;
    let client = stdio_with_env(
        &["--policy", &world.policy()],
        &[("MOAT_TEST_BRAVE_KEY", "test-key-123")],
    )
    .await;
    let result = call(&client, "search", json!({ "query": "rust", "limit": 2 }))
        .await
        .expect("answers");
    assert!(!is_error(&result), "{}", text(&result));
    let results = structured(&result)["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results.len(), 2);
    assert_eq!(results[1]["snippet"], "Brave snippet 2");
    let hit = brave.hits().into_iter().next().expect("brave was asked");
    assert!(hit.target.contains("count=2"), "{}", hit.target);
    let wrong = stdio_with_env(
        &["--policy", &world.policy()],
        &[("MOAT_TEST_BRAVE_KEY", "wrong")],
    )
    .await;
    let refused = call(&wrong, "search", json!({ "query": "rust" }))
        .await
        .expect("answers");
    assert!(is_error(&refused));
    assert!(text(&refused).contains("HTTP 401"), "{}", text(&refused));
    let unset = stdio_with_env(&["--policy", &world.policy()], &[]).await;
    let missing = call(&unset, "search", json!({ "query": "rust" }))
        .await
        .expect("answers");
    assert!(
        text(&missing).contains("MOAT_TEST_BRAVE_KEY is not set"),
        "{}",
        text(&missing)
    );
}

/// With no provider, search says so instead of pretending.
#[tokio::test(flavor = "multi_thread")]
async fn search_without_provider_says_so() {
    let world = World::new("").await;
    let session = world.session(Transport::Stdio).await;
    let result = session
        .call("search", json!({ "query": "anything" }))
        .await
        .expect("answers");
    assert!(is_error(&result));
    assert!(
        text(&result).contains("no search provider is configured"),
        "{}",
        text(&result)
    );
}

/// screenshot returns a PNG image, and a PNG over the cap is a clear error.
#[tokio::test(flavor = "multi_thread")]
async fn screenshot_is_a_png_within_the_cap() {
    let world = World::new("").await;
    let session = world.session(Transport::Http).await;
    let result = session
        .call(
            "screenshot",
            json!({ "url": world.url("/article"), "width": 640, "height": 480 }),
        )
        .await
        .expect("answers");
    assert!(!is_error(&result), "{}", text(&result));
    let image = result
        .content
        .iter()
        .find_map(|block| match block {
            ContentBlock::Image(image) => Some(image.clone()),
            _ => None,
        })
        .expect("an image block");
    assert_eq!(image.mime_type, "image/png");
    assert!(image.data.starts_with("iVBORw0KGgo"), "not a PNG");
    let small = World::new("screenshot_max_bytes = 100").await;
    let capped = small.session(Transport::Stdio).await;
    let refused = capped
        .call(
            "screenshot",
            json!({ "url": small.url("/article"), "full_page": true }),
        )
        .await
        .expect("answers");
    assert!(is_error(&refused));
    assert!(
        text(&refused).contains("over the 100-byte cap"),
        "{}",
        text(&refused)
    );
}

/// The Chromium processes started by the server with this pid.
fn chromium_children(server: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let tasks = std::fs::read_dir(format!("/proc/{server}/task")).expect("proc");
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children
            .split_whitespace()
            .filter_map(|pid| pid.parse::<u32>().ok())
        {
            let name = std::fs::read_to_string(format!("/proc/{child}/comm")).unwrap_or_default();
            if name.trim() == "chromium" {
                found.push(child);
            }
        }
    }
    found
}

/// Killing Chromium in the middle of a call fails that call cleanly; the
/// next call launches a new browser and succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn chromium_killed_mid_call_recovers() {
    let world = World::new("").await;
    let server =
        HttpServer::start("moat-scrape", &["--policy", &world.policy()], &[]).expect("server");
    let client = server.client(Era::Handshake).await.expect("client");
    let slow = world.url("/slow");
    let call_task = {
        let peer = client.peer().clone();
        tokio::spawn(async move {
            let arguments = json!({ "url": slow, "render": "browser" });
            let Value::Object(arguments) = arguments else {
                unreachable!()
            };
            peer.call_tool(
                rmcp::model::CallToolRequestParams::new("scrape").with_arguments(arguments),
            )
            .await
        })
    };
    // Wait until the browser is fetching the page, then kill it.
    let mut victims = Vec::new();
    for _ in 0..600 {
        if world.site.hits_on("/slow") > 0 {
            victims = chromium_children(server.child.id());
            if !victims.is_empty() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!victims.is_empty(), "Chromium never started");
    for pid in &victims {
        let status = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
    let failed = call_task.await.expect("task").expect("the call answers");
    assert!(is_error(&failed), "{}", text(&failed));
    let message = text(&failed);
    assert!(
        message.contains("Chromium") || message.contains("browser"),
        "{message}"
    );
    let next = call(
        &client,
        "scrape",
        json!({ "url": world.url("/spa"), "render": "browser" }),
    )
    .await
    .expect("answers");
    assert!(!is_error(&next), "{}", text(&next));
    assert!(text(&next).contains("JAVASCRIPT-BUILT"));
    let relaunched = chromium_children(server.child.id());
    assert!(!relaunched.is_empty() && relaunched.iter().all(|pid| !victims.contains(pid)));
    // /metrics tells the operator: one relaunch, no tab left open.
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("moat_browser_relaunches_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("moat_browser_pages_open 0"), "{metrics}");
}

/// Without Chromium, plain HTTP still works, browser calls say how to
/// install it, and auto on a page with no HTTP text is an error naming
/// both the JavaScript need and the missing browser.
#[tokio::test(flavor = "multi_thread")]
async fn missing_chromium_is_explained() {
    let world = World::new("").await;
    let session = Session::start(
        "moat-scrape",
        &[
            "--policy",
            &world.policy(),
            "--chrome",
            "/nonexistent/chromium",
        ],
        Transport::Stdio,
        Era::Handshake,
    )
    .await
    .expect("server starts");
    let http = scrape(
        &session,
        json!({ "url": world.url("/article"), "render": "http" }),
    )
    .await;
    assert!(!is_error(&http), "{}", text(&http));
    let browser = scrape(
        &session,
        json!({ "url": world.url("/article"), "render": "browser" }),
    )
    .await;
    assert!(is_error(&browser));
    assert!(
        text(&browser).contains("apt-get install -y chromium"),
        "{}",
        text(&browser)
    );
    // The SPA's plain-HTTP text is empty, so without a browser the call is
    // an error (never an empty success) that says why the browser was
    // wanted and why it failed.
    let auto = scrape(&session, json!({ "url": world.url("/spa") })).await;
    assert_one_line_error(&auto, "no text found on");
    for needle in ["seems to need JavaScript", "apt-get install -y chromium"] {
        assert!(text(&auto).contains(needle), "{needle}: {}", text(&auto));
    }
}

/// Profile folders of the moat-scrape process `pid` in the temp directory.
fn profiles_of(pid: u32) -> Vec<String> {
    let prefix = format!("moat-scrape-profile-{pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .expect("temp dir")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&prefix))
        .collect()
}

/// Regression: a moat-scrape stopped with SIGTERM after a browser scrape
/// exited 0 but left its Chromium profile folder behind (found by the soak
/// bench), and so did a one-shot `call`: the runtime now asks the toolbox to
/// shut down, which kills Chromium and removes the profile.
#[tokio::test(flavor = "multi_thread")]
async fn browser_profile_is_removed_on_exit() {
    let world = World::new("").await;
    let mut server =
        HttpServer::start("moat-scrape", &["--policy", &world.policy()], &[]).expect("server");
    let client = server.client(Era::Handshake).await.expect("client");
    let rendered = call(
        &client,
        "scrape",
        json!({ "url": world.url("/spa"), "render": "browser" }),
    )
    .await
    .expect("answers");
    assert!(!is_error(&rendered), "{}", text(&rendered));
    let pid = server.child.id();
    assert_eq!(profiles_of(pid).len(), 1, "the browser has one profile");
    let browsers = chromium_children(pid);
    assert!(!browsers.is_empty());
    drop(client);
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(20)).expect("exits");
    assert!(status.success(), "{status}");
    assert_eq!(profiles_of(pid), Vec::<String>::new(), "profile left");
    for browser in browsers {
        assert!(
            !std::path::Path::new(&format!("/proc/{browser}")).exists()
                || std::fs::read_to_string(format!("/proc/{browser}/stat"))
                    .is_ok_and(|stat| stat.contains(") Z")),
            "Chromium {browser} still runs"
        );
    }

    // The one-shot CLI call: same promise.
    let child = std::process::Command::new(moat_tests::binary("moat-scrape"))
        .args([
            "--policy",
            &world.policy(),
            "call",
            "scrape",
            &json!({ "url": world.url("/spa"), "render": "browser" }).to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let output = child.wait_with_output().expect("runs");
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("JAVASCRIPT-BUILT"));
    assert_eq!(
        profiles_of(pid),
        Vec::<String>::new(),
        "profile left by call"
    );
}

/// A one-line error that names what went wrong.
fn assert_one_line_error(result: &CallToolResult, needle: &str) {
    let body = text(result);
    assert!(is_error(result), "not an error: {body}");
    assert!(!body.trim().contains('\n'), "more than one line: {body}");
    assert!(body.contains(needle), "{needle} not in: {body}");
}

/// Metadata comes from JSON-LD (a @graph, authors by reference and by
/// object) before OpenGraph, and from OpenGraph and <meta> alone; the
/// byline is one line of the text.
#[tokio::test(flavor = "multi_thread")]
async fn metadata_from_json_ld_and_open_graph() {
    let world = World::new("").await;
    let session = world.session(Transport::Stdio).await;
    let result = scrape(
        &session,
        json!({ "url": world.url("/metadata"), "render": "http" }),
    )
    .await;
    assert!(!is_error(&result), "{}", text(&result));
    let metadata = &structured(&result)["metadata"];
    assert_eq!(metadata["title"], "JSON-LD Headline");
    assert_eq!(metadata["author"], "Ada Lovelace, Grace Hopper");
    assert_eq!(metadata["published"], "2026-03-01T10:00:00Z");
    assert_eq!(metadata["site_name"], "OG Site");
    assert_eq!(metadata["language"], "en");
    assert_eq!(metadata["description"], "What this article is about.");
    assert!(
        text(&result).contains("By Ada Lovelace, Grace Hopper, published 2026-03-01T10:00:00Z"),
        "{}",
        text(&result)
    );

    let result = scrape(
        &session,
        json!({ "url": world.url("/open-graph"), "render": "http" }),
    )
    .await;
    assert!(!is_error(&result), "{}", text(&result));
    let metadata = &structured(&result)["metadata"];
    assert_eq!(metadata["author"], "Jean Dupont");
    assert_eq!(metadata["published"], "2025-12-31");
    assert_eq!(metadata["site_name"], "The OG Site");
    assert_eq!(metadata["language"], "fr_FR");
    assert_eq!(metadata["description"], "Une description.");
}

/// include_links lists the content's links once each, absolute, in the
/// text and in structuredContent; without it there are none.
#[tokio::test(flavor = "multi_thread")]
async fn include_links_lists_the_content_links() {
    let world = World::new("").await;
    let session = world.session(Transport::Stdio).await;
    let result = scrape(
        &session,
        json!({ "url": world.url("/metadata"), "render": "http", "include_links": true }),
    )
    .await;
    assert!(!is_error(&result), "{}", text(&result));
    let links = structured(&result)["links"].clone();
    let urls: Vec<&str> = links
        .as_array()
        .expect("links")
        .iter()
        .filter_map(|link| link["url"].as_str())
        .collect();
    let article = world.url("/article");
    assert_eq!(
        urls.iter().filter(|url| **url == article).count(),
        1,
        "{links}"
    );
    assert!(urls.contains(&"https://example.org/elsewhere"), "{links}");
    assert!(
        !urls.iter().any(|url| url.ends_with("/nav-only")),
        "{links}"
    );
    assert!(
        text(&result).contains(&format!("the static article <{article}>")),
        "{}",
        text(&result)
    );
    let without = scrape(
        &session,
        json!({ "url": world.url("/metadata"), "render": "http" }),
    )
    .await;
    assert!(structured(&without)["links"].is_null());
    assert!(!text(&without).contains("Links ("));
}

/// The same page in text and in Markdown: two renderings (the format is in
/// the cache key), each saying which format it is.
#[tokio::test(flavor = "multi_thread")]
async fn markdown_and_text_of_the_same_page() {
    let world = World::new("").await;
    let session = world.session(Transport::Stdio).await;
    let plain = scrape(
        &session,
        json!({ "url": world.url("/article"), "render": "http" }),
    )
    .await;
    let markdown = scrape(
        &session,
        json!({ "url": world.url("/article"), "render": "http", "format": "markdown" }),
    )
    .await;
    for (result, format) in [(&plain, "text"), (&markdown, "markdown")] {
        assert!(!is_error(result), "{}", text(result));
        assert_eq!(structured(result)["format"], format);
        assert_eq!(
            structured(result)["cached"],
            false,
            "{format} came from the cache"
        );
        assert!(
            text(result).contains("THE END OF THE ARTICLE"),
            "{}",
            text(result)
        );
    }
    assert!(
        text(&markdown).contains("# Moats and Castles"),
        "{}",
        text(&markdown)
    );
    let again = scrape(
        &session,
        json!({ "url": world.url("/article"), "render": "http", "format": "markdown" }),
    )
    .await;
    assert_eq!(structured(&again)["cached"], true);
    let bad = scrape(
        &session,
        json!({ "url": world.url("/article"), "format": "html" }),
    )
    .await;
    assert!(is_error(&bad), "{}", text(&bad));
}

/// A three-page PDF (and the same PDF served as octet-stream under a .pdf
/// path) becomes text with page separators and offsets; continuation walks
/// all of it from the cache.
#[tokio::test(flavor = "multi_thread")]
async fn multi_page_pdf_with_continuation() {
    let world = World::new("").await;
    let session = world.session(Transport::Stdio).await;
    for path in ["/paper.pdf", "/files/report.pdf"] {
        let mut start = 0;
        let mut all = String::new();
        let mut calls = 0;
        let first_offsets = loop {
            let result = scrape(
                &session,
                json!({ "url": world.url(path), "max_length": 500, "start_index": start }),
            )
            .await;
            assert!(!is_error(&result), "{}", text(&result));
            let data = structured(&result);
            assert_eq!(data["pdf"]["page_count"], 3, "{data}");
            assert_eq!(data["pdf"]["pages_read"], 3, "{data}");
            assert_eq!(data["cached"], calls > 0);
            calls += 1;
            all.push_str(data["text"].as_str().unwrap_or(""));
            all.push('\n');
            match data["next_start_index"].as_u64() {
                Some(next) => start = usize::try_from(next).expect("index"),
                None => break data["pdf"]["page_offsets"].clone(),
            }
        };
        assert!(calls >= 4, "{path}: only {calls} windows");
        for page in 1..=3 {
            assert!(all.contains(&format!("--- page {page} ---")), "{all}");
            let words = paper_page(page);
            let first = words.split_whitespace().next().unwrap_or("");
            assert!(all.contains(first), "{first} missing from {all}");
            assert!(all.contains(&format!("PAGE-{page}-END")), "{all}");
        }
        assert_eq!(first_offsets.as_array().map(Vec::len), Some(3));
        assert_eq!(first_offsets[0], 0);
    }
    assert_eq!(
        world.site.hits_on("/paper.pdf"),
        1,
        "continuation refetched"
    );
}

/// A body that claims to be a PDF and a PDF cut before its text are
/// one-line errors, and the server keeps serving PDFs after them.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_truncated_pdfs_are_one_line_errors() {
    let world = World::new("").await;
    let session = world.session(Transport::Stdio).await;
    let malformed = scrape(&session, json!({ "url": world.url("/doc.pdf") })).await;
    assert_one_line_error(&malformed, "PDF");
    let truncated = scrape(&session, json!({ "url": world.url("/truncated.pdf") })).await;
    assert_one_line_error(&truncated, "PDF");
    let next = scrape(&session, json!({ "url": world.url("/paper.pdf") })).await;
    assert!(!is_error(&next), "{}", text(&next));
    assert!(text(&next).contains("PAGE-3-END"), "{}", text(&next));
}

/// Extraction that falls back past the main content says so in a note;
/// a page without text is an error naming the URL, not an empty success.
#[tokio::test(flavor = "multi_thread")]
async fn fallback_is_noted_and_empty_is_an_error() {
    let world = World::new("").await;
    let session = world.session(Transport::Stdio).await;
    let loose = scrape(
        &session,
        json!({ "url": world.url("/no-main"), "render": "http" }),
    )
    .await;
    assert!(!is_error(&loose), "{}", text(&loose));
    let data = structured(&loose);
    assert!(
        data["extraction"] == "loose" || data["extraction"] == "whole_body",
        "{data}"
    );
    assert!(
        text(&loose).contains("Note: extraction fell back"),
        "{}",
        text(&loose)
    );
    assert!(
        text(&loose).contains("Castle page number 30"),
        "{}",
        text(&loose)
    );
    let main = scrape(
        &session,
        json!({ "url": world.url("/article"), "render": "http" }),
    )
    .await;
    assert_eq!(structured(&main)["extraction"], "main");
    assert!(!text(&main).contains("fell back"), "{}", text(&main));
    let empty = scrape(
        &session,
        json!({ "url": world.url("/empty"), "render": "http" }),
    )
    .await;
    assert_one_line_error(&empty, &format!("no text found on {}", world.url("/empty")));
}

/// render=http: the declared header and cookie reach the declared host
/// (exact host and port), not another host, and not the other host after a
/// cross-host redirect; no secret value shows in a tool result or in the
/// server's stderr (debug level).
#[tokio::test(flavor = "multi_thread")]
async fn declared_headers_reach_only_their_host_over_http() {
    let world = SecretWorld::new("").await;
    let client = world.client().await;
    let mut results = String::new();
    for url in [
        format!("{}/page", world.wiki.base()),
        format!("{}/page", world.other.base()),
        format!("{}/away", world.wiki.base()),
    ] {
        let result = call(&client, "scrape", json!({ "url": url, "render": "http" }))
            .await
            .expect("call answers");
        assert!(!is_error(&result), "{url}: {}", text(&result));
        results.push_str(&serde_json::to_string(&result).expect("json"));
    }
    let bearer = format!("Bearer {}", TOKEN_ENV.1);
    let cookie = format!("session={}", COOKIE_ENV.1);
    assert_eq!(
        SecretWorld::secrets_seen(&world.wiki, "/page"),
        vec![(Some(bearer.clone()), Some(cookie.clone()))],
        "the declared host did not get its header and cookie"
    );
    assert_eq!(
        SecretWorld::secrets_seen(&world.wiki, "/away"),
        vec![(Some(bearer), Some(cookie))]
    );
    for path in ["/page", "/landing", "/robots.txt"] {
        for seen in SecretWorld::secrets_seen(&world.other, path) {
            assert_eq!(seen, (None, None), "{path} on the other host got a secret");
        }
    }
    assert_eq!(SecretWorld::secrets_seen(&world.other, "/landing").len(), 1);
    let _ = client.cancel().await;
    assert!(
        !SecretWorld::leaks(&results),
        "a secret is in a tool result"
    );
    let log = world.log();
    assert!(log.contains("scrape"), "the log is empty: {log}");
    assert!(!SecretWorld::leaks(&log), "a secret is in stderr");
}

/// A missing secret variable stops the server at start with a line naming
/// the variable (and no value).
#[tokio::test(flavor = "multi_thread")]
async fn missing_secret_variable_is_a_clear_start_error() {
    let world = SecretWorld::new("").await;
    let output = std::process::Command::new(moat_tests::binary("moat-scrape"))
        .args([
            "--policy",
            &world.policy.display().to_string(),
            "call",
            "scrape",
            "{}",
        ])
        .env_remove(TOKEN_ENV.0)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains(TOKEN_ENV.0), "{stderr}");
}

/// With `upstream_proxy`, every request leaves through the proxy, which is
/// asked for the checked address (an IP, never a name) with the
/// credential from the named variable; a destination the policy refuses
/// (directly or by redirect) never reaches the proxy.
#[tokio::test(flavor = "multi_thread")]
async fn upstream_proxy_sees_only_checked_destinations_over_http() {
    let proxy = FakeProxy::start().await;
    let world = World::new(&format!(
        "upstream_proxy = \"{}\"\nupstream_proxy_auth_env = \"MOAT_TEST_PROXY_AUTH\"\n",
        proxy.url()
    ))
    .await;
    let client = stdio_with_env(
        &["--policy", &world.policy()],
        &[("MOAT_TEST_PROXY_AUTH", "corp:proxy-pass")],
    )
    .await;
    let result = call(
        &client,
        "scrape",
        json!({ "url": world.url("/article"), "render": "http" }),
    )
    .await
    .expect("call answers");
    assert!(!is_error(&result), "{}", text(&result));
    assert!(text(&result).contains("Moats and Castles"));
    let hits = proxy.hits();
    let site = world.site.authority();
    assert!(
        hits.iter()
            .any(|hit| hit.target == format!("http://{site}/article")),
        "{hits:?}"
    );
    for hit in &hits {
        assert!(hit.target.contains(&site), "{hit:?}");
        assert_eq!(
            hit.authorization.as_deref(),
            Some("Basic Y29ycDpwcm94eS1wYXNz"),
            "{hit:?}"
        );
    }
    let before = hits.len();
    for url in [
        format!("{}/secret", world.blocked.base()),
        world.url("/redirect/1"),
    ] {
        let result = call(&client, "scrape", json!({ "url": url, "render": "http" }))
            .await
            .expect("call answers");
        assert!(is_error(&result), "{url}: {}", text(&result));
    }
    let blocked = world.blocked.authority();
    let hits = proxy.hits();
    assert!(
        hits.iter().all(|hit| !hit.target.contains(&blocked)),
        "a refused destination reached the proxy: {hits:?}"
    );
    assert!(hits.len() >= before, "{hits:?}");
    world.assert_blocked_untouched();
    let _ = client.cancel().await;
}

/// An upstream proxy that cannot be reached is one clear line naming it.
#[tokio::test(flavor = "multi_thread")]
async fn unreachable_upstream_proxy_is_a_clear_error() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address")
    };
    let world = World::new(&format!(
        "upstream_proxy = \"http://{closed}\"\nrespect_robots = false\n"
    ))
    .await;
    let session = world.session(Transport::Stdio).await;
    let result = scrape(
        &session,
        json!({ "url": world.url("/article"), "render": "http" }),
    )
    .await;
    let body = text(&result);
    assert!(is_error(&result), "{body}");
    assert!(
        body.contains("upstream proxy") && body.contains(&closed.to_string()),
        "{body}"
    );
    assert!(!body.contains('\n'), "{body}");
}
