//! `moat-load`: load and capacity of moat's Streamable HTTP runtime, driven
//! from a second process over loopback.
//!
//! 1. Load: N concurrent clients (N = 1, 4, 16, 128), each with its own MCP
//!    session, call `list_directory` on a small folder for a fixed time;
//!    reports throughput, p50/p99 latency, errors and the server's RSS.
//!    Each row is preceded by the same row against the floor,
//!    `moat-echo-http` (rmcp's own Streamable HTTP service with an `echo`
//!    tool that answers at once), and followed by moat's throughput as a
//!    multiple of the floor's.
//! 2. Capacity: open sessions one after another, each holding its GET SSE
//!    stream open, up to a target (10,000 by default); then check every
//!    session still answers a `ping`, and report the server's RSS per
//!    session.
//!
//! Usage: `cargo run --release -p moat-benches --bin moat-load -- [SECONDS] [SESSIONS]`
//! (defaults 10 and 10000). It builds nothing: run `cargo build --release
//! -p moat-fs -p moat-benches` first (scripts/bench-load.sh does both).

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use moat_benches::memory::rss_kib;
use serde_json::{Value, json};

const PROTOCOL: &str = "2025-11-25";

/// A release binary of this workspace, or the path in `variable`.
fn binary(variable: &str, name: &str) -> PathBuf {
    std::env::var(variable).map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../target/release/{name}")),
        PathBuf::from,
    )
}

/// Start moat-fs on a temp folder of 20 files; returns the child and base URL.
fn start_server(root: &std::path::Path) -> Result<(Child, String)> {
    let policy = root.join("../load-policy.toml");
    std::fs::write(&policy, "[http]\nmax_sessions = 100000\n")?;
    let mut command = Command::new(binary("MOAT_FS", "moat-fs"));
    command.arg(root).args([
        "--policy",
        &policy.to_string_lossy(),
        "serve",
        "--http",
        "127.0.0.1:0",
        "--no-audit",
    ]);
    start_listening(command)
}

/// Start the floor, `moat-echo-http`; returns the child and base URL.
fn start_floor() -> Result<(Child, String)> {
    start_listening(Command::new(binary("MOAT_ECHO_HTTP", "moat-echo-http")))
}

/// Spawn `command` and read its `listening on URL` line from stderr.
fn start_listening(mut command: Command) -> Result<(Child, String)> {
    let binary = command.get_program().to_owned();
    let mut child = command
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("spawn {}", PathBuf::from(&binary).display()))?;
    let stderr = child.stderr.take().context("stderr")?;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let address = loop {
        let Some(Ok(line)) = lines.next() else {
            bail!("the server exited before printing its address");
        };
        if let Some(url) = line.split("listening on ").nth(1) {
            break url.trim().trim_end_matches("/mcp").to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((child, address))
}

/// One MCP session over raw HTTP.
struct Session {
    http: reqwest::Client,
    url: String,
    id: String,
}

impl Session {
    async fn open(http: reqwest::Client, base: &str) -> Result<Self> {
        let url = format!("{base}/mcp");
        let response = http
            .post(&url)
            .header("Accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "moat-load", "version": "0"}
            }}))
            .send()
            .await?;
        let id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|value| value.to_str().ok())
            .context("no session id")?
            .to_string();
        response.bytes().await?;
        let session = Self { http, url, id };
        session
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(session)
    }

    async fn post(&self, body: &Value) -> Result<String> {
        let response = self
            .http
            .post(&self.url)
            .header("Accept", "application/json, text/event-stream")
            .header("Mcp-Session-Id", &self.id)
            .header("MCP-Protocol-Version", PROTOCOL)
            .json(body)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("HTTP {}", response.status());
        }
        Ok(response.text().await?)
    }

    /// A request whose answer must carry `result`.
    async fn request(&self, id: u64, method: &str, params: Value) -> Result<()> {
        let body = self
            .post(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await?;
        if body.contains("\"result\"") && !body.contains("\"isError\":true") {
            Ok(())
        } else {
            bail!(
                "unexpected answer: {}",
                body.chars().take(200).collect::<String>()
            )
        }
    }

    /// Hold the session's GET SSE stream open (as a client listening for
    /// server messages does).
    async fn listen(&self) -> Result<reqwest::Response> {
        let response = self
            .http
            .get(&self.url)
            .header("Accept", "text/event-stream")
            .header("Mcp-Session-Id", &self.id)
            .header("MCP-Protocol-Version", PROTOCOL)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("GET stream: HTTP {}", response.status());
        }
        Ok(response)
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// One server under load: where it is, and the call each client repeats.
struct Target<'a> {
    name: &'a str,
    base: &'a str,
    pid: u32,
    call: &'a Value,
}

/// Run `clients` clients against `target` for `seconds`, print the row,
/// and return the calls per second.
async fn load(target: &Target<'_>, clients: usize, seconds: u64) -> Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let base = target.base.to_string();
        let call = target.call.clone();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder().tcp_nodelay(true).build()?;
            let session = Session::open(http, &base).await?;
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut id = 1;
            while Instant::now() < deadline {
                let started = Instant::now();
                match session.request(id, "tools/call", call.clone()).await {
                    Ok(()) => latencies.push(started.elapsed()),
                    Err(_) => errors += 1,
                }
                id += 1;
            }
            anyhow::Ok((latencies, errors))
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut peak_rss = 0;
    for task in tasks {
        peak_rss = peak_rss.max(rss_kib(target.pid));
        let (mut some, failed) = task.await??;
        latencies.append(&mut some);
        errors += failed;
    }
    latencies.sort();
    let rate = latencies.len() as f64 / seconds as f64;
    println!(
        "| {} | {clients:>4} | {rate:>9.0} | {:>8.3} | {:>8.3} | {errors:>6} | {:>8.1} |",
        target.name,
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        peak_rss.max(rss_kib(target.pid)) as f64 / 1024.0,
    );
    Ok(rate)
}

async fn capacity(base: &str, pid: u32, target: usize) -> Result<()> {
    let before = rss_kib(pid);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .build()?;
    let mut sessions = Vec::with_capacity(target);
    let mut streams = Vec::with_capacity(target);
    let started = Instant::now();
    let mut failure = None;
    for opened in 0..target {
        let outcome = async {
            let session = Session::open(http.clone(), base).await?;
            let stream = session.listen().await?;
            anyhow::Ok((session, stream))
        }
        .await;
        match outcome {
            Ok((session, stream)) => {
                sessions.push(Arc::new(session));
                streams.push(stream);
            }
            Err(error) => {
                failure = Some(format!("stopped at {opened}: {error:#}"));
                break;
            }
        }
    }
    let open_time = started.elapsed();
    let after = rss_kib(pid);
    // Every session must still answer.
    let mut answered = 0usize;
    for chunk in sessions.chunks(256) {
        let pings = chunk
            .iter()
            .cloned()
            .map(|session| async move { session.request(9, "ping", json!({})).await });
        answered += futures::future::join_all(pings)
            .await
            .iter()
            .filter(|result| result.is_ok())
            .count();
    }
    let count = sessions.len();
    println!(
        "| sessions open | {count} of {target} ({:.1} s to open) |",
        open_time.as_secs_f64()
    );
    println!("| sessions answering a ping | {answered} |");
    println!(
        "| server RSS | {:.1} MiB before, {:.1} MiB after ({:.1} KiB per session) |",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / count.max(1) as f64
    );
    if let Some(failure) = failure {
        println!("| stopped early | {failure} |");
    }
    drop(streams);
    Ok(())
}

/// Let this process and the server it spawns hold one socket per session.
fn raise_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let mut raised = limit;
    raised.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, raised);
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args
        .next()
        .and_then(|value| value.parse().ok())
        .unwrap_or(10);
    let target: usize = args
        .next()
        .and_then(|value| value.parse().ok())
        .unwrap_or(10_000);
    raise_file_limit();
    let temp = std::env::temp_dir().join(format!("moat-load-{}", std::process::id()));
    let root = temp.join("root");
    std::fs::create_dir_all(&root)?;
    for index in 0..20 {
        std::fs::write(root.join(format!("file-{index:02}.txt")), "x")?;
    }
    let (mut child, base) = start_server(&root)?;
    let (mut floor, floor_base) = start_floor()?;
    let moat_call = json!({"name": "list_directory", "arguments": {"path": "."}});
    let floor_call = json!({"name": "echo", "arguments": {"path": "."}});
    let moat = Target {
        name: "moat-fs",
        base: &base,
        pid: child.id(),
        call: &moat_call,
    };
    let floor_target = Target {
        name: "floor",
        base: &floor_base,
        pid: floor.id(),
        call: &floor_call,
    };
    println!(
        "## moat-fs over Streamable HTTP, list_directory of 20 entries, {seconds} s per row\n"
    );
    println!(
        "The floor is moat-echo-http (rmcp's Streamable HTTP service, an echo tool), run just before.\n"
    );
    println!("| server | clients | calls/s | p50 ms | p99 ms | errors | server RSS MiB |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    for clients in [1, 4, 16, 128] {
        let floor_rate = load(&floor_target, clients, seconds).await?;
        let moat_rate = load(&moat, clients, seconds).await?;
        ratios.push(format!(
            "{clients} clients {:.2}×",
            moat_rate / floor_rate.max(1.0)
        ));
    }
    println!(
        "\nmoat-fs throughput over the floor's: {}",
        ratios.join(", ")
    );
    let _ = floor.kill();
    let _ = floor.wait();
    let _ = child.kill();
    let _ = child.wait();
    let (mut child, base) = start_server(&root)?;
    println!("\n## Capacity: sessions each holding a GET SSE stream\n");
    println!("| measure | value |");
    println!("|---|---|");
    capacity(&base, child.id(), target).await?;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&temp);
    Ok(())
}
