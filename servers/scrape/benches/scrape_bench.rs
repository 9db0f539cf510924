//! moat-scrape benchmark (a bench, not a test): latency of a static scrape
//! and of a warm-browser scrape of a local page, the same page read by bare
//! chromiumoxide (navigate, wait for the script's heading, read the HTML:
//! the floor a generic settle wait is measured against), wall time of 10
//! concurrent browser scrapes, and Chromium's RSS at rest and per open tab.
//!
//! Run: `cargo run --release -p moat-scrape --bin moat-scrape-bench`
//! (optional argument: iterations, default 200 static / 50 browser).
//!
//! Calls go through the full MCP path (in-process client and server over a
//! duplex pipe, the same handler as stdio) to a loopback page this binary
//! serves itself. "Server RSS" is this process (server plus the tiny site);
//! "Chromium RSS" sums every Chromium process it started (shared pages
//! counted more than once, like `ps`).

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use moat_scrape::{ScrapeOptions, ScrapeServer};
use moat_shared::{
    policy::{PolitenessPolicy, ScrapePolicy, UrlPolicy},
    runtime::inprocess,
};
use rmcp::model::CallToolRequestParams;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

const ARTICLE: &str = include_str!("article.html");
const SPA: &str = "<!DOCTYPE html><html><head><title>App</title></head><body><div id=root></div>\
    <script>setTimeout(function(){document.getElementById('root').innerHTML='<h1>Built</h1><p>'+'word '.repeat(300)+'</p>';},20);</script></body></html>";

async fn site() -> anyhow::Result<SocketAddr> {
    #[expect(
        clippy::disallowed_methods,
        reason = "the bench's own page server, on loopback"
    )]
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let mut buffer = vec![0_u8; 8192];
                let mut read = 0;
                loop {
                    let Ok(count) = stream.read(&mut buffer[read..]).await else {
                        return;
                    };
                    if count == 0 {
                        return;
                    }
                    read += count;
                    if buffer[..read]
                        .windows(4)
                        .any(|window| window == b"\r\n\r\n")
                        || read == buffer.len()
                    {
                        break;
                    }
                }
                let head = String::from_utf8_lossy(&buffer[..read]);
                let path = head.split(' ').nth(1).unwrap_or("/");
                let (status, body) = if path.ends_with("/article") {
                    ("200 OK", ARTICLE)
                } else if path.ends_with("/spa") {
                    ("200 OK", SPA)
                } else {
                    ("404 Not Found", "")
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok(address)
}

/// Resident set size of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    #[expect(
        clippy::disallowed_methods,
        reason = "the bench reads /proc for memory figures"
    )]
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Every descendant of `pid`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut all = Vec::new();
    let mut queue = vec![pid];
    while let Some(parent) = queue.pop() {
        #[expect(clippy::disallowed_methods, reason = "the bench reads /proc")]
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            #[expect(clippy::disallowed_methods, reason = "the bench reads /proc")]
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children
                .split_whitespace()
                .filter_map(|value| value.parse::<u32>().ok())
            {
                all.push(child);
                queue.push(child);
            }
        }
    }
    all
}

/// The same page through chromiumoxide alone: its own Chromium (same
/// executable, headless, no proxy), a fresh browser context per read like
/// moat's, navigate, poll for the heading the script writes, read the
/// HTML, dispose the context.
async fn bare_chromiumoxide(url: &str, iterations: usize) -> anyhow::Result<Vec<Duration>> {
    use chromiumoxide::{Browser, BrowserConfig};
    use futures::StreamExt as _;
    let chrome = std::env::var("CHROME").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let profile = tempfile::tempdir()?;
    let config = BrowserConfig::builder()
        .chrome_executable(chrome)
        .user_data_dir(profile.path())
        .no_sandbox()
        .arg("disable-gpu")
        .build()
        .map_err(anyhow::Error::msg)?;
    let (mut browser, mut handler) = Browser::launch(config).await?;
    let events = tokio::spawn(async move { while handler.next().await.is_some() {} });
    bare_read(&browser, url).await?;
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        times.push(bare_read(&browser, url).await?);
    }
    browser.close().await?;
    let _ = browser.wait().await;
    events.abort();
    Ok(times)
}

/// One read of [`bare_chromiumoxide`].
async fn bare_read(browser: &chromiumoxide::Browser, url: &str) -> anyhow::Result<Duration> {
    use chromiumoxide::cdp::browser_protocol::target::{
        CreateBrowserContextParams, CreateTargetParams,
    };
    let started = Instant::now();
    let context = browser
        .create_browser_context(CreateBrowserContextParams::default())
        .await?;
    let mut params = CreateTargetParams::new("about:blank");
    params.browser_context_id = Some(context.clone());
    let page = browser.new_page(params).await?;
    page.goto(url).await?;
    loop {
        let found: bool = page
            .evaluate("!!document.querySelector('h1')")
            .await?
            .into_value()?;
        if found {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let html: String = page
        .evaluate("document.documentElement.outerHTML")
        .await?
        .into_value()?;
    anyhow::ensure!(html.contains("Built"), "the page was not built");
    browser.dispose_browser_context(context).await?;
    Ok(started.elapsed())
}

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    let index = (sorted.len() * percent / 100).min(sorted.len().saturating_sub(1));
    sorted[index]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name}: n={} p50={:.2} ms p99={:.2} ms",
        samples.len(),
        percentile(&samples, 50).as_secs_f64() * 1000.0,
        percentile(&samples, 99).as_secs_f64() * 1000.0
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|value| value.parse().ok())
        .unwrap_or(200);
    let address = site().await?;
    let options = ScrapeOptions {
        url: UrlPolicy {
            allow_private: vec![address.to_string()],
            ..UrlPolicy::default()
        },
        scrape: ScrapePolicy {
            cache_entries: 0,
            browser_concurrency: 10,
            // The bench measures moat, not the politeness limits: its one
            // loopback site may be pressed as hard as moat can.
            politeness: PolitenessPolicy {
                per_host_concurrency: 10_000,
                per_host_per_second: 1e9,
            },
            ..ScrapePolicy::default()
        },
        chrome_env: std::env::var("CHROME").ok(),
        ..ScrapeOptions::default()
    };
    let server = Arc::new(ScrapeServer::new(&options)?);
    let client = inprocess::connect(server.clone()).await?;

    let me = std::process::id();
    let stop = Arc::new(AtomicBool::new(false));
    let peak_self = Arc::new(AtomicU64::new(0));
    let peak_chromium = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak_self, peak_chromium) =
            (stop.clone(), peak_self.clone(), peak_chromium.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak_self.fetch_max(rss_kib(me), Ordering::Relaxed);
                let chromium: u64 = descendants(me).into_iter().map(rss_kib).sum();
                peak_chromium.fetch_max(chromium, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let call = |url: String, render: &'static str| {
        let peer = client.peer().clone();
        async move {
            let arguments = serde_json::json!({ "url": url, "render": render });
            let serde_json::Value::Object(arguments) = arguments else {
                anyhow::bail!("object")
            };
            let started = Instant::now();
            let result = peer
                .call_tool(CallToolRequestParams::new("scrape").with_arguments(arguments))
                .await?;
            anyhow::ensure!(
                result.is_error != Some(true),
                "scrape failed: {:?}",
                result.content
            );
            Ok(started.elapsed())
        }
    };
    let article = format!("http://{address}/article");
    let spa = format!("http://{address}/spa");

    // Warm up both paths (robots.txt cache, browser launch).
    call(article.clone(), "http").await?;
    let launch = call(spa.clone(), "browser").await?;
    println!(
        "first browser scrape (includes Chromium launch): {:.0} ms",
        launch.as_secs_f64() * 1000.0
    );

    let mut static_times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        static_times.push(call(article.clone(), "http").await?);
    }
    report(
        &format!("static scrape (http, {} KB page)", ARTICLE.len() / 1024),
        static_times,
    );

    let browser_iterations = (iterations / 4).max(10);
    let mut browser_times = Vec::with_capacity(browser_iterations);
    for _ in 0..browser_iterations {
        browser_times.push(call(spa.clone(), "browser").await?);
    }
    report(
        "browser scrape (warm browser, JS-built page)",
        browser_times,
    );
    let bare = bare_chromiumoxide(&spa, browser_iterations).await?;
    report(
        "bare chromiumoxide (fresh context, navigate, wait for the heading, read)",
        bare,
    );
    let at_rest: u64 = descendants(me).into_iter().map(rss_kib).sum();
    println!(
        "Chromium RSS at rest (browser up, no tab): {:.1} MiB",
        at_rest as f64 / 1024.0
    );
    peak_chromium.store(0, Ordering::Relaxed);

    let started = Instant::now();
    let concurrent: Vec<_> = (0..10)
        .map(|_| tokio::spawn(call(spa.clone(), "browser")))
        .collect();
    for task in concurrent {
        task.await??;
    }
    println!(
        "10 concurrent browser scrapes: wall {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );

    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    println!(
        "Chromium RSS per open tab (10 concurrent, peak above rest / 10): {:.1} MiB",
        peak_chromium
            .load(Ordering::Relaxed)
            .saturating_sub(at_rest) as f64
            / 10.0
            / 1024.0
    );
    println!(
        "peak RSS: server {:.1} MiB, Chromium (all processes) {:.1} MiB",
        peak_self.load(Ordering::Relaxed) as f64 / 1024.0,
        peak_chromium.load(Ordering::Relaxed) as f64 / 1024.0
    );
    server.engine().browser.shutdown().await;
    let _ = client.cancel().await;
    Ok(())
}
