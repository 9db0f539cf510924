//! `moat-soak`: both servers over Streamable HTTP under mixed concurrent
//! calls for a long time (10 minutes by default), browser scrapes included.
//!
//! Reports, per minute and overall: calls per second, p50/p99 latency,
//! errors, each server's RSS and open file descriptors, Chromium's process
//! count and summed RSS, and this moat-scrape's Chromium profile folders.
//! After the run it stops both servers with SIGTERM and checks that no
//! Chromium process and no profile folder of theirs is left.
//!
//! Verdict bounds (printed, and the exit status is 1 when one fails):
//! - no call may fail (every workload has a known-good answer);
//! - each server's RSS in the last minute at most [`RSS_GROWTH_BOUND`] times
//!   its RSS after the first minute (warm-up: caches, pools, the browser),
//!   plus [`RSS_SLACK_MIB`];
//! - open file descriptors in the last minute at most those after the first
//!   minute plus [`FD_SLACK`];
//! - Chromium processes never more than one browser's worth
//!   ([`CHROMIUM_PROCESS_BOUND`]), none left after SIGTERM, no profile left.
//!
//! Usage: `scripts/soak.sh [SECONDS]` (builds release, then runs
//! `target/release/moat-soak SECONDS`; default 600).

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use moat_benches::memory::{descendants, rss_kib};
use moat_tests::{
    Client, Era, HttpServer, call,
    fake_sites::{FakeServer, searxng_router, site_router},
    is_error, text,
};
use serde_json::{Value, json};

/// Concurrent moat-fs clients (each its own MCP session).
const FS_CLIENTS: usize = 8;
/// Concurrent plain-HTTP scrape clients.
const STATIC_SCRAPE_CLIENTS: usize = 3;
/// Concurrent browser scrape clients: below the policy's 4 tabs, so the
/// bench measures rendering, not queueing.
const BROWSER_SCRAPE_CLIENTS: usize = 2;
/// How often the sampler reads /proc.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// RSS in the last minute may be this many times the first minute's...
const RSS_GROWTH_BOUND: f64 = 1.5;
/// ...plus this much (allocator noise on a small heap).
const RSS_SLACK_MIB: f64 = 16.0;
/// Descriptors may vary by this much (sockets in TIME_WAIT handling,
/// the browser's pipes).
const FD_SLACK: usize = 32;
/// One headless Chromium is a browser process plus zygotes, GPU/utility,
/// network and renderer processes: about 10 with 4 tabs; twice that would
/// mean a second browser leaked beside the first.
const CHROMIUM_PROCESS_BOUND: usize = 20;
/// Files in the soak's fs tree.
const TREE_FILES: usize = 2_000;

/// One finished call.
struct Record {
    at: Duration,
    workload: &'static str,
    latency: Duration,
    error: Option<String>,
}

/// One /proc reading.
#[derive(Clone, Copy, Default)]
struct Sample {
    at: Duration,
    fs_rss_kib: u64,
    scrape_rss_kib: u64,
    fs_fds: usize,
    scrape_fds: usize,
    chromium_processes: usize,
    chromium_rss_kib: u64,
    profiles: usize,
}

type Records = Arc<Mutex<Vec<Record>>>;

/// Where workers put their finished calls, stamped from the run's start.
#[derive(Clone)]
struct Recorder {
    records: Records,
    start: Instant,
}

impl Recorder {
    fn push(&self, workload: &'static str, begun: Instant, error: Option<String>) {
        self.records.lock().expect("records").push(Record {
            at: self.start.elapsed(),
            workload,
            latency: begun.elapsed(),
            error,
        });
    }

    /// Time one checked tool call (see [`checked`]) and record it.
    async fn call(
        &self,
        client: &Client,
        workload: &'static str,
        tool: &str,
        arguments: Value,
        expect: &str,
    ) {
        let begun = Instant::now();
        let error = checked(client, tool, arguments, expect).await;
        self.push(workload, begun, error);
    }
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// Processes anywhere whose command line names a profile of `scrape_pid`.
fn chromium_of(scrape_pid: u32) -> Vec<u32> {
    let marker = format!("moat-scrape-profile-{scrape_pid}-");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmdline)
                .contains(&marker)
                .then_some(pid)
        })
        .collect()
}

/// Profile folders of `scrape_pid` in the temp directory.
fn profiles_of(scrape_pid: u32) -> usize {
    let prefix = format!("moat-scrape-profile-{scrape_pid}-");
    std::fs::read_dir(std::env::temp_dir()).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
            .count()
    })
}

fn sample(at: Duration, fs_pid: u32, scrape_pid: u32) -> Sample {
    let chromium = descendants(scrape_pid);
    Sample {
        at,
        fs_rss_kib: rss_kib(fs_pid),
        scrape_rss_kib: rss_kib(scrape_pid),
        fs_fds: open_fds(fs_pid),
        scrape_fds: open_fds(scrape_pid),
        chromium_processes: chromium.len(),
        chromium_rss_kib: chromium.iter().map(|&pid| rss_kib(pid)).sum(),
        profiles: profiles_of(scrape_pid),
    }
}

/// The fs tree: `TREE_FILES` small text files in 40 folders, plus one
/// scratch folder per writing client.
fn make_tree(root: &Path) -> Result<()> {
    for index in 0..TREE_FILES {
        let dir = root.join(format!("d{:02}", index % 40));
        std::fs::create_dir_all(&dir)?;
        let needle = if index % 97 == 0 { "NEEDLE " } else { "" };
        std::fs::write(
            dir.join(format!("f{index:05}.txt")),
            format!("file {index}\n{needle}line two\nline three\n"),
        )?;
    }
    for client in 0..FS_CLIENTS {
        std::fs::create_dir_all(root.join(format!("scratch{client}")))?;
    }
    Ok(())
}

/// Check an answer: `Ok` only for a non-error result whose text holds
/// `expect`.
async fn checked(client: &Client, tool: &str, arguments: Value, expect: &str) -> Option<String> {
    match call(client, tool, arguments).await {
        Ok(result) if is_error(&result) => Some(format!("isError: {}", text(&result))),
        Ok(result) if !text(&result).contains(expect) => Some(format!(
            "answer lacks {expect:?}: {}",
            text(&result).chars().take(160).collect::<String>()
        )),
        Ok(_) => None,
        Err(error) => Some(format!("{error:#}")),
    }
}

/// One fs client: a fixed mix of reads, listings, searches and, in its own
/// scratch folder, writes and edits that it then reads back.
async fn fs_client(
    server: Arc<HttpServer>,
    client_index: usize,
    recorder: Recorder,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let client = server.client(Era::Handshake).await?;
    let mut round = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let file = (round * 31 + client_index) % TREE_FILES;
        let dir = format!("d{:02}", file % 40);
        let scratch = format!("scratch{client_index}/note.txt");
        let marker = format!("round {round}");
        let plan: [(&'static str, &str, Value, String); 8] = [
            (
                "read_text_file",
                "read_text_file",
                json!({"path": format!("{dir}/f{file:05}.txt")}),
                format!("file {file}"),
            ),
            (
                "list_directory",
                "list_directory",
                json!({"path": dir}),
                "[FILE]".into(),
            ),
            (
                "search_files",
                "search_files",
                json!({"path": ".", "pattern": format!("**/f{file:05}.txt")}),
                format!("f{file:05}.txt"),
            ),
            (
                "search_file_contents",
                "search_file_contents",
                json!({"path": ".", "query": "NEEDLE"}),
                "NEEDLE".into(),
            ),
            (
                "write_file",
                "write_file",
                json!({"path": scratch, "content": format!("{marker}\nsecond line\n")}),
                String::new(),
            ),
            (
                "edit_file",
                "edit_file",
                json!({"path": scratch, "edits": [{"oldText": "second line", "newText": "edited line"}]}),
                String::new(),
            ),
            (
                "read_back",
                "read_text_file",
                json!({"path": scratch}),
                format!("{marker}\nedited line"),
            ),
            (
                "directory_tree",
                "directory_tree",
                json!({"path": dir}),
                format!("f{:05}.txt", file % 40),
            ),
        ];
        for (workload, tool, arguments, expect) in plan {
            recorder
                .call(&client, workload, tool, arguments, &expect)
                .await;
        }
        round += 1;
    }
    let _ = client.cancel().await;
    Ok(())
}

/// One scrape client: `render` is "http" or "browser"; every URL is new
/// (a query counter), so the continuation cache does not answer it.
async fn scrape_client(
    server: Arc<HttpServer>,
    site: String,
    render: &'static str,
    client_index: usize,
    with_search: bool,
    recorder: Recorder,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let client = server.client(Era::Handshake).await?;
    let mut round = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let (workload, path, expect) = if render == "browser" {
            ("scrape browser (JS page)", "/spa", "JAVASCRIPT-BUILT")
        } else {
            (
                "scrape http (article)",
                "/article",
                "THE END OF THE ARTICLE",
            )
        };
        let url = format!("{site}{path}?client={client_index}&round={round}");
        recorder
            .call(
                &client,
                workload,
                "scrape",
                json!({"url": url, "render": render, "max_length": 50_000}),
                expect,
            )
            .await;
        if with_search {
            recorder
                .call(
                    &client,
                    "search (fake SearXNG)",
                    "search",
                    json!({"query": format!("moat {round}")}),
                    "SearXNG result 1",
                )
                .await;
        }
        round += 1;
    }
    let _ = client.cancel().await;
    Ok(())
}

/// A client that opens a session, makes one call and goes away, over and
/// over: sessions must not pile up in the server.
async fn churn_client(
    server: Arc<HttpServer>,
    recorder: Recorder,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    while !stop.load(Ordering::Relaxed) {
        let begun = Instant::now();
        let error = match server.client(Era::Handshake).await {
            Ok(client) => {
                let error = checked(&client, "list_allowed_directories", json!({}), "root").await;
                let _ = client.cancel().await;
                error
            }
            Err(error) => Some(format!("{error:#}")),
        };
        recorder.push("new session + 1 call", begun, error);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a short vector"
    )]
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

#[allow(clippy::cast_precision_loss, reason = "KiB to MiB for display")]
fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The last sample taken at or before `at`.
fn sample_at(samples: &[Sample], at: Duration) -> Sample {
    samples
        .iter()
        .rev()
        .find(|sample| sample.at <= at)
        .or_else(|| samples.first())
        .copied()
        .unwrap_or_default()
}

#[allow(clippy::cast_precision_loss, reason = "counts to rates for display")]
fn report(records: &[Record], samples: &[Sample], seconds: u64) -> String {
    let mut out = String::new();
    let minutes = seconds.div_ceil(60).max(1);
    let _ = writeln!(out, "## Per minute\n");
    let _ = writeln!(
        out,
        "| minute | calls/s | p50 ms | p99 ms | errors | moat-fs RSS MiB | moat-scrape RSS MiB | fds fs/scrape | Chromium processes | Chromium RSS MiB | profiles |"
    );
    let _ = writeln!(
        out,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for minute in 0..minutes {
        let from = Duration::from_secs(minute * 60);
        let to = Duration::from_secs(((minute + 1) * 60).min(seconds));
        let mut latencies: Vec<Duration> = records
            .iter()
            .filter(|record| record.at >= from && record.at < to)
            .map(|record| record.latency)
            .collect();
        latencies.sort();
        let errors = records
            .iter()
            .filter(|record| record.at >= from && record.at < to && record.error.is_some())
            .count();
        let end = sample_at(samples, to);
        let span = to.saturating_sub(from).as_secs_f64().max(1.0);
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} | {:.1} | {errors} | {:.1} | {:.1} | {}/{} | {} | {:.0} | {} |",
            minute + 1,
            latencies.len() as f64 / span,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            mib(end.fs_rss_kib),
            mib(end.scrape_rss_kib),
            end.fs_fds,
            end.scrape_fds,
            end.chromium_processes,
            mib(end.chromium_rss_kib),
            end.profiles,
        );
    }
    let _ = writeln!(out, "\n## Per workload (whole run)\n");
    let _ = writeln!(
        out,
        "| workload | calls | calls/s | p50 ms | p99 ms | max ms | errors |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    let mut by_workload: BTreeMap<&str, (Vec<Duration>, usize)> = BTreeMap::new();
    for record in records {
        let entry = by_workload.entry(record.workload).or_default();
        entry.0.push(record.latency);
        entry.1 += usize::from(record.error.is_some());
    }
    for (workload, (mut latencies, errors)) in by_workload {
        latencies.sort();
        let _ = writeln!(
            out,
            "| {workload} | {} | {:.1} | {:.2} | {:.1} | {:.1} | {errors} |",
            latencies.len(),
            latencies.len() as f64 / seconds as f64,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            percentile(&latencies, 1.0),
        );
    }
    out
}

/// Check the bounds; returns the verdict lines and whether all held.
fn verdict(
    records: &[Record],
    samples: &[Sample],
    seconds: u64,
    after_exit: (usize, usize),
    audited: (usize, usize),
) -> (String, bool) {
    let mut out = String::from("\n## Verdict\n\n");
    let mut ok = true;
    let mut check = |held: bool, line: String| {
        ok &= held;
        let _ = writeln!(out, "- {} {line}", if held { "PASS" } else { "FAIL" });
    };
    let errors: Vec<&Record> = records.iter().filter(|r| r.error.is_some()).collect();
    check(
        errors.is_empty(),
        format!("{} calls, {} failed", records.len(), errors.len()),
    );
    // Every call must leave exactly one audit line in its server's log.
    let scrape_calls = records
        .iter()
        .filter(|r| r.workload.starts_with("scrape") || r.workload.starts_with("search ("))
        .count();
    let fs_calls = records.len() - scrape_calls;
    check(
        audited == (fs_calls, scrape_calls),
        format!(
            "audit lines: moat-fs {} for {fs_calls} calls, moat-scrape {} for {scrape_calls} calls",
            audited.0, audited.1
        ),
    );
    let warm = sample_at(samples, Duration::from_secs(60.min(seconds / 2)));
    let last = samples.last().copied().unwrap_or_default();
    let peak = |pick: fn(&Sample) -> u64| {
        samples
            .iter()
            .filter(|sample| sample.at + Duration::from_secs(60) >= last.at)
            .map(pick)
            .max()
            .unwrap_or(0)
    };
    for (name, warm_kib, late_kib) in [
        ("moat-fs", warm.fs_rss_kib, peak(|s| s.fs_rss_kib)),
        (
            "moat-scrape",
            warm.scrape_rss_kib,
            peak(|s| s.scrape_rss_kib),
        ),
    ] {
        let bound = mib(warm_kib) * RSS_GROWTH_BOUND + RSS_SLACK_MIB;
        check(
            mib(late_kib) <= bound,
            format!(
                "{name} RSS: {:.1} MiB after warm-up, {:.1} MiB peak in the last minute (bound {bound:.1})",
                mib(warm_kib),
                mib(late_kib)
            ),
        );
    }
    for (name, warm_fds, late_fds) in [
        ("moat-fs", warm.fs_fds, last.fs_fds),
        ("moat-scrape", warm.scrape_fds, last.scrape_fds),
    ] {
        check(
            late_fds <= warm_fds + FD_SLACK,
            format!(
                "{name} open descriptors: {warm_fds} after warm-up, {late_fds} at the end (bound +{FD_SLACK})"
            ),
        );
    }
    let most = samples
        .iter()
        .map(|s| s.chromium_processes)
        .max()
        .unwrap_or(0);
    check(
        most <= CHROMIUM_PROCESS_BOUND,
        format!(
            "Chromium processes: {} at the first sample, {most} at most, {} at the end (bound {CHROMIUM_PROCESS_BOUND})",
            samples.first().map_or(0, |s| s.chromium_processes),
            last.chromium_processes
        ),
    );
    let most_profiles = samples.iter().map(|s| s.profiles).max().unwrap_or(0);
    check(
        most_profiles <= 1,
        format!("profile folders while running: at most {most_profiles} (bound 1)"),
    );
    check(
        after_exit == (0, 0),
        format!(
            "after SIGTERM: {} Chromium processes and {} profile folders left (bound 0)",
            after_exit.0, after_exit.1
        ),
    );
    (out, ok)
}

fn write_policy(dir: &Path, site: &FakeServer, searx: &FakeServer) -> Result<PathBuf> {
    let policy = dir.join("scrape-policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[url]\nallow_private = [\"{}\", \"{}\"]\n\n[http]\nmax_sessions = 100000\n\n\
             [scrape]\nbrowser_timeout_ms = 15000\nbrowser_concurrency = 4\n\n\
             [scrape.search]\nprovider = \"searxng\"\nsearxng_url = \"{}\"\n",
            site.authority(),
            searx.authority(),
            searx.base()
        ),
    )?;
    Ok(policy)
}

#[tokio::main]
async fn main() -> Result<()> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|value| value.parse().ok())
        .unwrap_or(600);
    let exe = std::env::current_exe()?;
    moat_tests::use_binaries_from(exe.parent().context("exe folder")?.to_path_buf());

    let dir = tempfile::tempdir()?;
    let root = dir.path().join("root");
    make_tree(&root)?;
    let site = FakeServer::start(site_router("127.0.0.1:9".into())).await;
    let searx = FakeServer::start(searxng_router()).await;
    let scrape_policy = write_policy(dir.path(), &site, &searx)?;
    let fs_policy = dir.path().join("fs-policy.toml");
    std::fs::write(&fs_policy, "[http]\nmax_sessions = 100000\n")?;
    let fs_audit = dir.path().join("fs-audit.jsonl");
    let scrape_audit = dir.path().join("scrape-audit.jsonl");

    let fs = Arc::new(HttpServer::start(
        "moat-fs",
        &[
            &root.display().to_string(),
            "--policy",
            &fs_policy.display().to_string(),
        ],
        &["--audit-log", &fs_audit.display().to_string()],
    )?);
    let scrape = Arc::new(HttpServer::start(
        "moat-scrape",
        &["--policy", &scrape_policy.display().to_string()],
        &["--audit-log", &scrape_audit.display().to_string()],
    )?);
    let (fs_pid, scrape_pid) = (fs.child.id(), scrape.child.id());
    eprintln!(
        "moat-soak: {seconds} s; moat-fs pid {fs_pid} at {}, moat-scrape pid {scrape_pid} at {}",
        fs.url, scrape.url
    );

    let records: Records = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let recorder = Recorder {
        records: records.clone(),
        start,
    };
    let mut workers = Vec::new();
    for index in 0..FS_CLIENTS {
        workers.push(tokio::spawn(fs_client(
            fs.clone(),
            index,
            recorder.clone(),
            stop.clone(),
        )));
    }
    for index in 0..STATIC_SCRAPE_CLIENTS + BROWSER_SCRAPE_CLIENTS {
        let render = if index < STATIC_SCRAPE_CLIENTS {
            "http"
        } else {
            "browser"
        };
        workers.push(tokio::spawn(scrape_client(
            scrape.clone(),
            site.base(),
            render,
            index,
            index == 0,
            recorder.clone(),
            stop.clone(),
        )));
    }
    workers.push(tokio::spawn(churn_client(
        fs.clone(),
        recorder.clone(),
        stop.clone(),
    )));

    let mut samples = vec![sample(Duration::ZERO, fs_pid, scrape_pid)];
    let end = start + Duration::from_secs(seconds);
    while Instant::now() < end {
        tokio::time::sleep(SAMPLE_EVERY.min(end.saturating_duration_since(Instant::now()))).await;
        let now = sample(start.elapsed(), fs_pid, scrape_pid);
        let calls = records.lock().expect("records").len();
        eprintln!(
            "  {:>4.0} s: {calls} calls, RSS fs {:.1} / scrape {:.1} MiB, Chromium {} processes {:.0} MiB",
            now.at.as_secs_f64(),
            mib(now.fs_rss_kib),
            mib(now.scrape_rss_kib),
            now.chromium_processes,
            mib(now.chromium_rss_kib),
        );
        samples.push(now);
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await??;
    }
    let records = std::mem::take(&mut *records.lock().expect("records"));

    // Stop both servers as an orchestrator does, then look for leftovers.
    let audited =
        |path: &Path| std::fs::read_to_string(path).map_or(0, |text| text.lines().count());
    let (fs_audited, scrape_audited) = (audited(&fs_audit), audited(&scrape_audit));
    let sessions = |base: String| async move {
        let metrics = reqwest::get(format!("{base}/metrics"))
            .await?
            .text()
            .await?;
        anyhow::Ok(
            metrics
                .lines()
                .find_map(|line| line.strip_prefix("moat_sessions "))
                .unwrap_or("?")
                .to_string(),
        )
    };
    let open_sessions = (
        sessions(fs.base.clone()).await?,
        sessions(scrape.base.clone()).await?,
    );
    let mut fs = Arc::into_inner(fs).context("fs server still shared")?;
    let mut scrape = Arc::into_inner(scrape).context("scrape server still shared")?;
    fs.signal("TERM");
    scrape.signal("TERM");
    let fs_exit = fs.wait_exit(Duration::from_secs(20));
    let scrape_exit = scrape.wait_exit(Duration::from_secs(20));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_exit = (chromium_of(scrape_pid).len(), profiles_of(scrape_pid));

    println!("# moat soak: {seconds} s, both servers over Streamable HTTP\n");
    println!(
        "Clients: {FS_CLIENTS} moat-fs (read, list, search_files, search_file_contents, write, edit, read back, directory_tree over {TREE_FILES} files), \
         1 moat-fs session churner, {STATIC_SCRAPE_CLIENTS} plain-HTTP scrapers (one also searching a fake SearXNG), \
         {BROWSER_SCRAPE_CLIENTS} browser scrapers of a JavaScript-built page; all on loopback.\n"
    );
    println!("{}", report(&records, &samples, seconds));
    println!(
        "Sessions still open after every client closed (GET /metrics): moat-fs {}, moat-scrape {}.\n",
        open_sessions.0, open_sessions.1
    );
    println!(
        "Exit after SIGTERM: moat-fs {:?}, moat-scrape {:?}.",
        fs_exit.map(|status| status.to_string()),
        scrape_exit.map(|status| status.to_string())
    );
    let (lines, ok) = verdict(
        &records,
        &samples,
        seconds,
        after_exit,
        (fs_audited, scrape_audited),
    );
    println!("{lines}");
    for record in records.iter().filter(|r| r.error.is_some()).take(10) {
        println!(
            "- failed: {} at {:.0} s: {}",
            record.workload,
            record.at.as_secs_f64(),
            record.error.as_deref().unwrap_or("")
        );
    }
    drop((fs, scrape, site, searx, dir));
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}
