//! moat-scrape faults: Chromium frozen (SIGSTOP) mid-call, a search
//! provider that hangs or answers garbage or an HTTP error, and a name that
//! does not resolve. Each gives one clear error line before the configured
//! deadline (plus a generous slack), and the next call works.
//!
//! Everything runs on loopback against fake servers this suite starts;
//! Chromium is /usr/bin/chromium (scripts/test.sh installs it).

use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use moat_tests::{
    Era, HttpServer, Session, Transport, call,
    fake_sites::{FakeServer, Hit, Reply, site_router},
    is_error, text,
};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::{Value, json};

/// The browser deadline the policy sets (`browser_timeout_ms`).
const BROWSER_DEADLINE: Duration = Duration::from_secs(4);
/// Slack over a deadline before an answer counts as late: generous, so a
/// loaded 2-core machine passes, yet far below "hung".
const SLACK: Duration = Duration::from_secs(10);

/// The fake site and a policy opening it, with short deadlines.
struct World {
    site: FakeServer,
    _dir: tempfile::TempDir,
    policy: PathBuf,
}

impl World {
    async fn new(extra: &str) -> Self {
        let site = FakeServer::start(site_router("127.0.0.1:9".into())).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let policy = dir.path().join("policy.toml");
        let text = format!(
            "[url]\nallow_private = [\"{}\"]\n\n[scrape]\nhttp_timeout_ms = 3000\nbrowser_timeout_ms = {}\n\
             browser_queue_wait_ms = 2000\nrobots_timeout_ms = 2000\n{extra}\n",
            site.authority(),
            BROWSER_DEADLINE.as_millis()
        );
        std::fs::write(&policy, text).expect("write policy");
        Self {
            site,
            _dir: dir,
            policy,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.site.base())
    }

    fn args(&self) -> [String; 2] {
        ["--policy".into(), self.policy.display().to_string()]
    }

    async fn session(&self) -> Session {
        let [flag, path] = self.args();
        Session::start(
            "moat-scrape",
            &[&flag, &path],
            Transport::Stdio,
            Era::Handshake,
        )
        .await
        .expect("server starts")
    }
}

/// Call `tool` and time it; the answer must come within `limit`.
async fn timed(
    session: &Session,
    tool: &str,
    arguments: Value,
    limit: Duration,
) -> (CallToolResult, Duration) {
    let started = Instant::now();
    let answer = tokio::time::timeout(limit, session.call(tool, arguments.clone()))
        .await
        .unwrap_or_else(|_| panic!("{tool} {arguments} did not answer within {limit:?}"))
        .unwrap_or_else(|error| panic!("{tool} {arguments}: protocol error {error}"));
    (answer, started.elapsed())
}

/// An error result of one line containing every one of `words`.
fn assert_clear_error(result: &CallToolResult, words: &[&str]) {
    let message = text(result);
    assert!(is_error(result), "not an error: {message}");
    assert!(!message.contains('\n'), "not one line: {message}");
    for word in words {
        assert!(message.contains(word), "{word:?} missing from: {message}");
    }
}

/// Every process descending from `pid`, children first found first.
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut pending = vec![pid];
    while let Some(parent) = pending.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|p| p.parse().ok()) {
                if !found.contains(&child) {
                    found.push(child);
                    pending.push(child);
                }
            }
        }
    }
    found
}

/// The one-letter state of `pid` (`T` stopped, `Z` zombie), or `None`
/// when it is gone.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(") ").next()?.chars().next()
}

/// True when `pid` is gone or a zombie (dead, waiting to be reaped).
fn dead(pid: u32) -> bool {
    matches!(state(pid), None | Some('Z'))
}

/// Wait up to `limit` for every pid of `pids` to be dead.
fn wait_dead(pids: &[u32], limit: Duration) -> Vec<u32> {
    let started = Instant::now();
    loop {
        let alive: Vec<u32> = pids.iter().copied().filter(|pid| !dead(*pid)).collect();
        if alive.is_empty() || started.elapsed() > limit {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The Chromium profile folders of the moat-scrape process `pid`.
fn profiles_of(pid: u32) -> Vec<String> {
    let prefix = format!("moat-scrape-profile-{pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .expect("temp dir")
        .flatten()
        .filter_map(|entry| entry.file_name().to_str().map(str::to_string))
        .filter(|name| name.starts_with(&prefix))
        .collect()
}

/// Chromium frozen with SIGSTOP while it renders: the call fails with a
/// clear error by the browser deadline plus slack, the frozen processes are
/// killed (none left stopped), their profile folder is removed, the next
/// browser call relaunches Chromium and succeeds, and at exit nothing of
/// Chromium is left.
#[tokio::test(flavor = "multi_thread")]
async fn frozen_chromium_is_killed_and_replaced() {
    let world = World::new("").await;
    let [flag, path] = world.args();
    let mut server = HttpServer::start("moat-scrape", &[&flag, &path], &[]).expect("server");
    let server_pid = server.child.id();
    let client = server.client(Era::Handshake).await.expect("client");
    let slow = world.url("/slow");
    let started = Instant::now();
    let in_flight = {
        let peer = client.peer().clone();
        tokio::spawn(async move {
            let Value::Object(arguments) = json!({ "url": slow, "render": "browser" }) else {
                unreachable!()
            };
            peer.call_tool(CallToolRequestParams::new("scrape").with_arguments(arguments))
                .await
        })
    };
    // Once the browser is fetching the page, freeze every process under
    // the server: Chromium and all its helpers.
    let mut frozen = Vec::new();
    for _ in 0..600 {
        if world.site.hits_on("/slow") > 0 {
            frozen = descendants(server_pid);
            if !frozen.is_empty() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!frozen.is_empty(), "Chromium never started");
    // One kill per process: a helper that exits between the listing and the
    // signal (a renderer of a closed browser context) must not fail the
    // freeze of the others.
    let stopped = frozen
        .iter()
        .filter(|pid| {
            Command::new("kill")
                .arg("-STOP")
                .arg(pid.to_string())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
        .count();
    assert!(stopped > 0, "SIGSTOP reached none of {frozen:?}");

    let failed = tokio::time::timeout(BROWSER_DEADLINE + SLACK, in_flight)
        .await
        .expect("the frozen call answers before the deadline plus slack")
        .expect("task")
        .expect("a tool result, not a protocol error");
    let took = started.elapsed();
    eprintln!("frozen Chromium: the call answered in {took:?}");
    assert_clear_error(&failed, &["Chromium stopped answering"]);
    assert!(took < BROWSER_DEADLINE + SLACK, "took {took:?}");
    let left = wait_dead(&frozen, Duration::from_secs(5));
    assert!(
        left.is_empty(),
        "frozen Chromium processes were left behind: {:?}",
        left.iter()
            .map(|pid| (pid, state(*pid)))
            .collect::<Vec<_>>()
    );

    let next = call(
        &client,
        "scrape",
        json!({ "url": world.url("/article"), "render": "browser" }),
    )
    .await
    .expect("answers");
    assert!(!is_error(&next), "{}", text(&next));
    assert!(text(&next).contains("Moats and Castles"), "{}", text(&next));
    let relaunched = descendants(server_pid);
    assert!(
        !relaunched.is_empty() && relaunched.iter().all(|pid| !frozen.contains(pid)),
        "no new Chromium: {relaunched:?} (frozen were {frozen:?})"
    );
    assert_eq!(
        profiles_of(server_pid).len(),
        1,
        "only the new browser's profile folder may exist"
    );

    let _ = client.cancel().await;
    server.signal("TERM");
    assert!(
        server.wait_exit(Duration::from_secs(15)).is_some(),
        "the server did not exit"
    );
    let left = wait_dead(&relaunched, Duration::from_secs(5));
    assert!(left.is_empty(), "Chromium outlived the server: {left:?}");
    assert!(
        profiles_of(server_pid).is_empty(),
        "profile folders left: {:?}",
        profiles_of(server_pid)
    );
}

/// A fake SearXNG whose answer depends on the query: `ok` gets results,
/// every other query its own fault.
fn faulty_searxng(hit: &Hit) -> Reply {
    let query = hit
        .target
        .split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("q="))
        .unwrap_or("");
    let json = |body: &str| Reply::ok("application/json", body.to_string());
    match query {
        "hang" => Reply::Silent,
        "garbage" => json("\u{1}\u{2}not json at all"),
        "shape" => json("{\"results\": 42}"),
        "array" => json("[1, 2, 3]"),
        "html" => Reply::ok("text/html", "<html><body>SearXNG is down</body></html>"),
        "truncated" => json("{\"results\": [{\"title\": \"cut\", \"url\": \"https://exa"),
        "huge" => Reply::Huge(5 * 1024 * 1024),
        "error" | "busy" => Reply::Full {
            status: if query == "error" { 500 } else { 429 },
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: b"internal trouble".to_vec(),
        },
        _ => json(
            &json!({"results": [{"title": "Fine", "url": "https://example.org/fine", "content": "all good"}]})
                .to_string(),
        ),
    }
}

/// The search timeout this suite's policy sets (`[scrape.search]
/// timeout_ms`).
const SEARCH_TIMEOUT: Duration = Duration::from_secs(2);

/// A SearXNG that hangs, answers garbage, the wrong JSON shape, HTML,
/// truncated JSON, a huge body, 500 or 429: each is one clear error line
/// naming the provider and the fault, within the search timeout plus
/// slack, and the next search works.
#[tokio::test(flavor = "multi_thread")]
async fn search_provider_faults_are_clear_errors() {
    let searxng = FakeServer::start(faulty_searxng).await;
    let world = World::new(&format!(
        "\n[scrape.search]\nprovider = \"searxng\"\nsearxng_url = \"{}\"\ntimeout_ms = 2000\n",
        searxng.base()
    ))
    .await;
    let session = world.session().await;
    let cases: [(&str, &[&str]); 9] = [
        ("hang", &["SearXNG", "did not answer within 2 s"]),
        ("garbage", &["SearXNG", "did not answer with JSON"]),
        ("shape", &["SearXNG", "without a results list"]),
        ("array", &["SearXNG", "without a results list"]),
        ("html", &["SearXNG", "did not answer with JSON"]),
        ("truncated", &["SearXNG", "did not answer with JSON"]),
        ("huge", &["SearXNG", "sent more than 2097152 bytes"]),
        ("error", &["SearXNG", "HTTP 500"]),
        ("busy", &["SearXNG", "HTTP 429"]),
    ];
    for (query, words) in cases {
        let (result, took) = timed(
            &session,
            "search",
            json!({ "query": query }),
            SEARCH_TIMEOUT + SLACK,
        )
        .await;
        eprintln!("search {query:?}: answered in {took:?}: {}", text(&result));
        assert_clear_error(&result, words);
        if query == "hang" {
            assert!(took >= SEARCH_TIMEOUT, "gave up early: {took:?}");
        }
        let (next, _) = timed(&session, "search", json!({ "query": "ok" }), SLACK).await;
        assert!(!is_error(&next), "after {query}: {}", text(&next));
        assert!(text(&next).contains("https://example.org/fine"));
    }
}

/// A name that does not resolve (`.invalid`, RFC 6761: never in DNS), over
/// plain HTTP and in the browser: a clear error naming the host, quickly
/// (DNS answers at once here, and `DNS_TIMEOUT` bounds a resolver that
/// does not), and the next call works.
#[tokio::test(flavor = "multi_thread")]
async fn unresolvable_name_is_a_clear_error() {
    /// `DNS_TIMEOUT` in shared/src/policy/url.rs.
    const DNS_TIMEOUT: Duration = Duration::from_secs(5);
    let world = World::new("").await;
    let session = world.session().await;
    let host = "no-such-host.invalid";
    for render in ["http", "browser"] {
        let (result, took) = timed(
            &session,
            "scrape",
            json!({ "url": format!("http://{host}/page"), "render": render }),
            DNS_TIMEOUT + BROWSER_DEADLINE + SLACK,
        )
        .await;
        assert_clear_error(&result, &["could not resolve", host]);
        assert!(
            !text(&result).contains("refused"),
            "a DNS failure is not a policy refusal: {}",
            text(&result)
        );
        eprintln!("render={render}: unresolvable name answered in {took:?}");
        let (next, _) = timed(
            &session,
            "scrape",
            json!({ "url": world.url("/article"), "render": render }),
            BROWSER_DEADLINE + SLACK,
        )
        .await;
        assert!(!is_error(&next), "{}", text(&next));
        assert!(text(&next).contains("Moats and Castles"));
    }
}
