//! `moat-compare`: moat against its peers, side by side (issue 6). Drives
//! any MCP server command over stdio, or any Streamable HTTP server, with
//! the same workloads, interleaved over several rounds, and writes a
//! markdown report and SVG plots. A bench, not a test: it measures, it
//! never asserts; a server that errs or answers wrongly is reported as
//! such, never as a fast number. The walk rows are also timed with the
//! command-line tool a user would run instead (`find`, `rg`), and the
//! JavaScript page with bare chromiumoxide, checked the same way.
//!
//! ```text
//! moat-compare --floor 'moat-echo|0.1.0||stdio:target/release/moat-echo' \
//!     --fs 'moat-fs|0.1.0|note|stdio:target/release/moat-fs {root}' \
//!     --scrape 'fetch|1.0|note|stdio:python -m mcp_server_fetch --allow-private-ips' \
//!     [--rounds 3] [--budget-ms 2000] [--spawns 5] [--tree DIR] [--only ID,ID] \
//!     [--json target/bench-compare/run.json] [--doc docs/BENCHMARKS.md] [--plots docs/bench]
//! moat-compare --from target/bench-compare/run.json   # rewrite doc and plots only
//! ```
//!
//! A server is `NAME|VERSION|NOTE|LAUNCH`; LAUNCH is `stdio:COMMAND`,
//! `http:COMMAND` (a command that serves Streamable HTTP and prints its
//! `http://` URL) or `url:URL`. In COMMAND, `{root}` is the generated
//! tree and `{site}` the local site's `127.0.0.1:PORT`. `--machine KEY=VALUE`
//! adds a line to the report's machine table. scripts/bench-compare.sh
//! builds, installs the peers and runs this with every server.

mod baseline;
mod chromium;
mod client;
mod outcome;
mod plot;
mod report;
mod site;
mod tree;
mod workload;

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use client::{Connection, Launch, ToolError, text_of};
use outcome::{Outcome, Run, Server, percentile};
use serde_json::Value;
use workload::{Data, Plan, WORKLOADS, Workload};

/// The longest one call (or batch) may take before it counts as failed
/// and the server is restarted.
const CALL_DEADLINE: Duration = Duration::from_secs(120);
/// The longest a server may take to start and answer `initialize`.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// Fewest timed calls per workload per round.
const MIN_SAMPLES: usize = 3;
/// Most timed calls per workload per round.
const MAX_SAMPLES: usize = 200;
/// Longest failure message kept in a cell: a server's whole stderr or a
/// long error chain would swamp the table.
const FAILURE_CHARS: usize = 400;

/// One server to measure.
struct Spec {
    server: Server,
    launch: Launch,
}

/// Command-line options.
struct Options {
    specs: Vec<Spec>,
    rounds: usize,
    budget: Duration,
    spawns: usize,
    tree: Option<PathBuf>,
    json: PathBuf,
    doc: PathBuf,
    plots: PathBuf,
    from: Option<PathBuf>,
    machine: Vec<(String, String)>,
    /// Workload ids to run (all when empty): for iterating on a few rows;
    /// a full report comes from a run of every workload.
    only: Vec<String>,
}

impl Options {
    /// Whether this run measures the workload `id`.
    fn runs(&self, id: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|only| only == id)
    }
}

fn parse_spec(kind: &str, text: &str) -> Result<Spec> {
    let mut parts = text.splitn(4, '|');
    let (Some(name), Some(version), Some(note), Some(launch)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        bail!("a server is NAME|VERSION|NOTE|LAUNCH, got {text:?}");
    };
    let words = |command: &str| command.split_whitespace().map(str::to_string).collect();
    let launch = if let Some(command) = launch.strip_prefix("stdio:") {
        Launch::Stdio(words(command))
    } else if let Some(command) = launch.strip_prefix("http:") {
        Launch::SpawnHttp(words(command))
    } else if let Some(url) = launch.strip_prefix("url:") {
        Launch::Url(url.to_string())
    } else {
        bail!("LAUNCH is stdio:COMMAND, http:COMMAND or url:URL, got {launch:?}");
    };
    let command = launch.clone();
    Ok(Spec {
        server: Server {
            name: name.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            command: match &command {
                Launch::Stdio(words) | Launch::SpawnHttp(words) => words.join(" "),
                Launch::Url(url) => url.clone(),
            },
            note: note.to_string(),
        },
        launch,
    })
}

fn parse() -> Result<Options> {
    let mut options = Options {
        specs: Vec::new(),
        rounds: 3,
        budget: Duration::from_secs(2),
        spawns: 5,
        tree: None,
        json: PathBuf::from("target/bench-compare/run.json"),
        doc: PathBuf::from("docs/BENCHMARKS.md"),
        plots: PathBuf::from("docs/bench"),
        from: None,
        machine: Vec::new(),
        only: Vec::new(),
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let mut value = || {
            arguments
                .next()
                .with_context(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--floor" => options.specs.push(parse_spec("floor", &value()?)?),
            "--fs" => options.specs.push(parse_spec("fs", &value()?)?),
            "--scrape" => options.specs.push(parse_spec("scrape", &value()?)?),
            "--rounds" => options.rounds = value()?.parse()?,
            "--budget-ms" => options.budget = Duration::from_millis(value()?.parse()?),
            "--spawns" => options.spawns = value()?.parse()?,
            "--tree" => options.tree = Some(value()?.into()),
            "--json" => options.json = value()?.into(),
            "--doc" => options.doc = value()?.into(),
            "--plots" => options.plots = value()?.into(),
            "--from" => options.from = Some(value()?.into()),
            "--only" => options.only = value()?.split(',').map(str::to_string).collect(),
            "--machine" => {
                let line = value()?;
                let (key, text) = line.split_once('=').context("--machine KEY=VALUE")?;
                options.machine.push((key.to_string(), text.to_string()));
            }
            "-h" | "--help" => {
                eprintln!("see the top of benches/src/compare/main.rs, or docs/BENCHMARKS.md");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    // The floor is measured first and is column one.
    options
        .specs
        .sort_by_key(|spec| spec.server.kind != "floor");
    Ok(options)
}

/// Replace `{root}` and `{site}` in every word of `launch`.
fn substitute(launch: &Launch, root: &Path, site: &str) -> Launch {
    let fill = |words: &Vec<String>| {
        words
            .iter()
            .map(|word| {
                word.replace("{root}", &root.to_string_lossy())
                    .replace("{site}", site)
            })
            .collect()
    };
    match launch {
        Launch::Stdio(words) => Launch::Stdio(fill(words)),
        Launch::SpawnHttp(words) => Launch::SpawnHttp(fill(words)),
        Launch::Url(url) => Launch::Url(url.clone()),
    }
}

/// One timed call (or batch) of `workload`; checks the answer.
async fn once(
    connection: &mut Connection,
    workload: &Workload,
    data: &Data<'_>,
) -> Result<(Duration, std::result::Result<String, String>)> {
    let mut calls = Vec::with_capacity(workload.concurrency);
    for _ in 0..workload.concurrency {
        match workload::plan(workload, &connection.tools, data) {
            Plan::Call { tool, arguments } => calls.push((tool, arguments)),
            Plan::Missing(why) => bail!("no tool: {why}"),
        }
    }
    let (took, results): (Duration, Vec<Value>) = if let [(tool, arguments)] = calls.as_slice() {
        let (took, result) = connection.call(tool, arguments, CALL_DEADLINE).await?;
        (took, vec![result])
    } else {
        connection.call_all(&calls, CALL_DEADLINE).await?
    };
    let mut verdict = Ok(String::new());
    for result in &results {
        verdict = workload::check(workload, &text_of(result));
        if verdict.is_err() {
            break;
        }
    }
    Ok((took, verdict))
}

/// Measure `workload` on an open connection for one round. Returns the
/// outcome and whether the connection must be replaced (it timed out or
/// died).
async fn measure(
    connection: &mut Connection,
    workload: &Workload,
    data: &Data<'_>,
    budget: Duration,
) -> (Outcome, bool) {
    if let Plan::Missing(why) = workload::plan(workload, &connection.tools, data) {
        return (Outcome::Missing(why), false);
    }
    match sample(budget, async || once(connection, workload, data).await).await {
        Ok(outcome) => (outcome, false),
        // A tool error leaves the server able to answer; anything else
        // (timeout, exit, protocol) may not.
        Err(error) => {
            let broken = error.downcast_ref::<ToolError>().is_none();
            (Outcome::Failed(failure(&error)), broken)
        }
    }
}

/// One timed call (or tool run) and the check of its answer.
type Timed = (Duration, std::result::Result<String, String>);

/// Time `once` under the policy every cell follows: one warm-up run, not
/// counted, then runs until `budget` is spent (at least [`MIN_SAMPLES`],
/// at most [`MAX_SAMPLES`]); the first wrong answer ends it. Err when a
/// run failed.
async fn sample(budget: Duration, mut once: impl AsyncFnMut() -> Result<Timed>) -> Result<Outcome> {
    let mut samples = Vec::new();
    let mut detail = String::new();
    let started = Instant::now();
    let mut warm_up = true;
    while samples.len() < MIN_SAMPLES || (started.elapsed() < budget && samples.len() < MAX_SAMPLES)
    {
        let (took, verdict) = once().await?;
        match verdict {
            Ok(text) => detail = text,
            Err(message) => {
                return Ok(Outcome::Wrong {
                    message,
                    took: took.as_secs_f64() * 1e6,
                });
            }
        }
        if !warm_up {
            samples.push(took);
        }
        warm_up = false;
    }
    samples.sort();
    Ok(Outcome::Measured {
        p50: percentile(&samples, 0.5).as_secs_f64() * 1e6,
        p99: percentile(&samples, 0.99).as_secs_f64() * 1e6,
        samples: samples.len(),
        detail,
    })
}

/// A failure's message for a cell: its whole chain, cut to
/// [`FAILURE_CHARS`].
fn failure(error: &anyhow::Error) -> String {
    let mut message = format!("{error:#}");
    if message.len() > FAILURE_CHARS {
        let cut = (0..=FAILURE_CHARS)
            .rev()
            .find(|index| message.is_char_boundary(*index))
            .unwrap_or(0);
        message.truncate(cut);
        message.push('…');
    }
    message
}

/// One round of the command-line tools: each tool whose walk workload
/// this run measures, on the same tree, under the same sampling.
async fn tools_round(run: &mut Run, options: &Options, root: &Path) {
    for baseline in baseline::BASELINES
        .iter()
        .filter(|baseline| options.runs(baseline.workload))
    {
        let began = Instant::now();
        let outcome = if let Some(why) = baseline.missing() {
            Outcome::Missing(why)
        } else {
            sample(options.budget, async || {
                baseline.once(root, CALL_DEADLINE).await
            })
            .await
            .unwrap_or_else(|error| Outcome::Failed(failure(&error)))
        };
        eprintln!(
            "    {:<14} {:<16} {:>6.1} s  {}",
            baseline.program(),
            baseline.workload,
            began.elapsed().as_secs_f64(),
            summary(&outcome)
        );
        run.baselines
            .push((baseline.workload.to_string(), baseline.shown(), outcome));
    }
}

/// One round of bare chromiumoxide on the JavaScript page: one Chromium
/// launched (not timed), then sampled like a server's workload, then
/// closed, so no idle browser runs during the other servers' turns.
async fn browser_round(run: &mut Run, options: &Options, site: &str) {
    let Some(workload) = WORKLOADS
        .iter()
        .find(|workload| workload.id == chromium::WORKLOAD)
    else {
        return;
    };
    let began = Instant::now();
    let outcome = if let Some(why) = chromium::missing() {
        Outcome::Missing(why)
    } else {
        match chromium::Bare::launch().await {
            Ok(bare) => {
                let outcome = sample(options.budget, async || {
                    bare.once(workload, site, CALL_DEADLINE).await
                })
                .await;
                bare.close().await;
                outcome.unwrap_or_else(|error| Outcome::Failed(failure(&error)))
            }
            Err(error) => Outcome::Failed(failure(&error)),
        }
    };
    eprintln!(
        "    {:<14} {:<16} {:>6.1} s  {}",
        "chromiumoxide",
        chromium::WORKLOAD,
        began.elapsed().as_secs_f64(),
        summary(&outcome)
    );
    run.baselines.push((
        chromium::WORKLOAD.to_string(),
        chromium::SHOWN.to_string(),
        outcome,
    ));
}

/// One round of one server: `spawns` fresh starts timed, then every
/// workload of its kind on one long-lived instance, then its peak memory.
async fn round(
    run: &mut Run,
    index: usize,
    launch: &Launch,
    options: &Options,
    data: &Data<'_>,
) -> Result<()> {
    let server = run.servers[index].clone();
    let mut starts = Vec::new();
    for _ in 0..options.spawns {
        let (connection, ready) = Connection::open(launch, START_DEADLINE)
            .await
            .with_context(|| format!("start {}", server.name))?;
        connection.close().await;
        starts.push(ready.as_secs_f64() * 1e6);
    }
    if let Some(median) = outcome::median(&mut starts) {
        run.spawns.push((index, median));
    }
    let kind = server.workloads();
    let (mut connection, _) = Connection::open(launch, START_DEADLINE).await?;
    let mut peak = (0, 0);
    for workload in WORKLOADS
        .iter()
        .filter(|workload| workload.kind == kind && options.runs(workload.id))
    {
        let began = Instant::now();
        let (outcome, broken) = measure(&mut connection, workload, data, options.budget).await;
        eprintln!(
            "    {:<14} {:<16} {:>6.1} s  {}",
            server.name,
            workload.id,
            began.elapsed().as_secs_f64(),
            summary(&outcome)
        );
        run.outcomes.push((index, workload.id.to_string(), outcome));
        if broken {
            peak = higher(peak, connection.peak_kib());
            connection.close().await;
            connection = Connection::open(launch, START_DEADLINE).await?.0;
        }
    }
    peak = higher(peak, connection.peak_kib());
    connection.close().await;
    if peak.1 > 0 {
        run.memory.push((index, peak.1));
        run.own_memory.push((index, peak.0));
    }
    Ok(())
}

/// The larger of each of two (own, tree) memory peaks.
fn higher(peak: (u64, u64), other: Option<(u64, u64)>) -> (u64, u64) {
    let other = other.unwrap_or_default();
    (peak.0.max(other.0), peak.1.max(other.1))
}

fn summary(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Measured {
            p50,
            p99,
            samples,
            detail,
        } => format!(
            "p50 {} p99 {} n={samples} ({detail})",
            report::time(*p50),
            report::time(*p99)
        ),
        Outcome::Missing(why) => format!("n/a: {why}"),
        Outcome::Failed(message) => format!("FAILED: {message}"),
        Outcome::Wrong { message, .. } => format!("WRONG: {message}"),
    }
}

fn generate(root: &Path) -> Result<()> {
    let began = Instant::now();
    tree::generate(root)?;
    eprintln!(
        "generated {} files in {:.1} s under {}",
        tree::TREE_FILES,
        began.elapsed().as_secs_f64(),
        root.display()
    );
    Ok(())
}

async fn measure_all(options: &Options) -> Result<Run> {
    let site = site::start().await;
    let temp;
    let root = if let Some(root) = &options.tree {
        // A kept tree: made by the first run that names it.
        if root.join("file4k.txt").exists() {
            tree::generate_reads(root)?;
        } else {
            std::fs::create_dir_all(root)?;
            generate(root)?;
        }
        root.clone()
    } else {
        temp = tempfile::Builder::new().prefix("moat-compare-").tempdir()?;
        generate(temp.path())?;
        temp.path().to_path_buf()
    };
    let root = root.canonicalize()?;
    let data = Data {
        root: &root,
        site: &site.base(),
    };
    let authority = site.authority();
    let launches: Vec<Launch> = options
        .specs
        .iter()
        .map(|spec| substitute(&spec.launch, &root, &authority))
        .collect();
    let mut run = Run {
        servers: options
            .specs
            .iter()
            .map(|spec| spec.server.clone())
            .collect(),
        rounds: options.rounds,
        ..Run::default()
    };
    // The command-line tools' turn in the order (after the servers'
    // indexes), taken when a filesystem server is there to hold them
    // against and this run measures their workloads.
    let tools = launches.len();
    let with_tools = options.specs.iter().any(|spec| spec.server.kind == "fs")
        && baseline::BASELINES
            .iter()
            .any(|baseline| options.runs(baseline.workload));
    // Bare chromiumoxide's turn, next, when a scraper is there to hold it
    // against and this run measures the JavaScript page.
    let browser = tools + 1;
    let with_browser = options
        .specs
        .iter()
        .any(|spec| spec.server.kind == "scrape")
        && options.runs(chromium::WORKLOAD);
    let began = Instant::now();
    for number in 0..options.rounds {
        eprintln!(
            "round {}/{} ({:.0} s so far)",
            number + 1,
            options.rounds,
            began.elapsed().as_secs_f64()
        );
        // The floor first, then the others in an order that rotates each
        // round, so no server always runs right after the same one. The
        // command-line tools and bare chromiumoxide each take a turn like
        // one more server.
        let others: Vec<usize> = (1..launches.len())
            .chain(with_tools.then_some(tools))
            .chain(with_browser.then_some(browser))
            .collect();
        let mut order = vec![0];
        if !others.is_empty() {
            let shift = number % others.len();
            order.extend(others[shift..].iter().chain(&others[..shift]));
        }
        let runnable = |index: &usize| {
            *index < launches.len()
                || (with_tools && *index == tools)
                || (with_browser && *index == browser)
        };
        for index in order.into_iter().filter(runnable) {
            if index == tools {
                eprintln!("  command-line tools");
                tools_round(&mut run, options, &root).await;
                continue;
            }
            if index == browser {
                eprintln!("  bare chromiumoxide");
                browser_round(&mut run, options, data.site).await;
                continue;
            }
            eprintln!("  {}", run.servers[index].name);
            if let Err(error) = round(&mut run, index, &launches[index], options, &data).await {
                eprintln!("    FAILED to start: {error:#}");
                for workload in WORKLOADS
                    .iter()
                    .filter(|workload| workload.kind == run.servers[index].workloads())
                {
                    run.outcomes.push((
                        index,
                        workload.id.to_string(),
                        Outcome::Failed(format!("the server did not start: {error:#}")),
                    ));
                }
            }
        }
    }
    run.seconds = began.elapsed().as_secs_f64();
    Ok(run)
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = parse()?;
    let run = if let Some(from) = &options.from {
        serde_json::from_str(&std::fs::read_to_string(from)?)?
    } else {
        if options.specs.is_empty() {
            bail!("no servers given (--floor, --fs, --scrape)");
        }
        let mut run = measure_all(&options).await?;
        run.machine = report::machine(&options.machine);
        if let Some(parent) = options.json.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&options.json, serde_json::to_string_pretty(&run)?)?;
        eprintln!("raw figures: {}", options.json.display());
        run
    };
    std::fs::create_dir_all(&options.plots)?;
    let plots = plot::all(&run, &options.plots)?;
    let doc = report::markdown(&run, &plots, &options.doc);
    std::fs::write(&options.doc, doc)?;
    eprintln!(
        "wrote {} and {} plots in {}",
        options.doc.display(),
        plots.len(),
        options.plots.display()
    );
    Ok(())
}
