//! The markdown report (docs/BENCHMARKS.md): machine and versions, one
//! table per kind of server with every figure also as a ratio to the
//! floor, what each server returned, the walk rows against the
//! command-line tools and the JavaScript page against bare chromiumoxide,
//! the plots, the method, and where moat is not ahead
//! in this run. Written from a [`Run`] alone.

use std::{fmt::Write as _, path::Path};

use crate::{
    outcome::{Figure, Outcome, Run},
    workload::{Kind, WORKLOADS, Workload, thousands},
};

/// A duration in microseconds, for people.
pub fn time(micros: f64) -> String {
    if micros < 1_000.0 {
        format!("{micros:.0} µs")
    } else if micros < 10_000.0 {
        format!("{:.2} ms", micros / 1e3)
    } else if micros < 1_000_000.0 {
        format!("{:.1} ms", micros / 1e3)
    } else {
        format!("{:.2} s", micros / 1e6)
    }
}

/// What moat's rows of one kind are measured against: what a user would
/// run instead (the baselines of a [`Run`]), with issue 15's goal for
/// moat's p50 over its p50.
struct Against {
    /// The kind of server and workload it is for.
    kind: Kind,
    /// Its table's heading.
    heading: &'static str,
    /// The paragraph under the heading; `{goal}` stands for the goal.
    intro: &'static str,
    /// The header of its command's column.
    what: &'static str,
    /// Its short name in the other headers ("tool").
    short: &'static str,
    /// How the "not ahead" lines name it ("the command line").
    name: &'static str,
    /// moat's p50 within this multiple of its p50 meets the goal.
    goal: f64,
}

/// Every kind of row measured against something, in report order.
const AGAINST: [Against; 2] = [
    Against {
        kind: Kind::Fs,
        heading: "Against the command-line tools",
        intro: "Issue 15's goals: `search_files` within {goal}× of `find`, \
            the content search within {goal}× of `rg`, on the same query over the same `tree/` (TREE below). \
            Each tool runs as a subprocess, timed from spawn to exit with its output read, sampled like the \
            servers; its output is checked like their answers: exactly the files moat must return. \
            Each moat cell: its p50 (that over the tool's p50, and whether the goal is met).",
        what: "command-line tool",
        short: "tool",
        name: "the command line",
        goal: 1.5,
    },
    Against {
        kind: Kind::Scrape,
        heading: "Against bare chromiumoxide",
        intro: "Issue 15's goal: a warm moat-scrape within {goal}× of bare chromiumoxide navigating \
            and reading the same page. One headless Chromium with moat-scrape's flags (less its egress \
            proxy), launched before timing; each run opens a tab at a fresh URL of the script page, waits \
            for the navigation, reads the HTML and closes the tab, sampled like the servers, and its HTML \
            must hold the script-built text. Each moat cell: its p50 (that over chromiumoxide's p50, and \
            whether the goal is met).",
        what: "bare scraper",
        short: "chromiumoxide",
        name: "bare chromiumoxide",
        goal: 1.3,
    },
];

fn ratio(value: f64, floor: Option<f64>) -> String {
    match floor {
        Some(floor) if floor > 0.0 => {
            let times = value / floor;
            if times < 10.0 {
                format!(" (×{times:.1})")
            } else {
                format!(" (×{})", thousands(times.round() as usize))
            }
        }
        _ => String::new(),
    }
}

fn mebibytes(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

/// Text safe inside a table cell.
fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn cell_text(cell: Option<Outcome>, floor: Option<f64>) -> String {
    match cell {
        Some(Outcome::Measured { p50, p99, .. }) => {
            format!("{} / {}{}", time(p50), time(p99), ratio(p50, floor))
        }
        Some(Outcome::Missing(why)) => format!("n/a ({why})"),
        Some(Outcome::Failed(message)) => format!("**error**: {}", escape(&message)),
        Some(Outcome::Wrong { message, took }) => format!(
            "**wrong answer** in {}, not counted: {}",
            time(took),
            escape(&message)
        ),
        None => String::new(),
    }
}

/// The machine, the date and the lines given with `--machine`.
pub fn machine(extra: &[(String, String)]) -> Vec<(String, String)> {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let run = |program: &str, arguments: &[&str]| {
        std::process::Command::new(program)
            .args(arguments)
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|line| {
            Some(
                line.strip_prefix("model name")?
                    .split(':')
                    .nth(1)?
                    .trim()
                    .to_string(),
            )
        })
        .unwrap_or_default();
    let memory = read("/proc/meminfo")
        .lines()
        .find_map(|line| {
            line.strip_prefix("MemTotal:")?
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
        .map(|kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_default();
    let os = read("/etc/os-release")
        .lines()
        .find_map(|line| {
            Some(
                line.strip_prefix("PRETTY_NAME=")?
                    .trim_matches('"')
                    .to_string(),
            )
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let mut lines = vec![
        (
            "date".to_string(),
            run("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        ),
        ("CPU".to_string(), format!("{cpu}, {cores} cores available")),
        ("memory".to_string(), memory),
        (
            "OS".to_string(),
            format!("{os}, Linux {}", read("/proc/sys/kernel/osrelease").trim()),
        ),
    ];
    lines.extend(extra.iter().cloned());
    lines
}

/// Is this one of moat's own servers (not a peer, not the floor)?
fn is_moat(run: &Run, index: usize) -> bool {
    run.servers[index].name.starts_with("moat") && run.servers[index].kind != "floor"
}

/// The header rows of a table with one column per server in `columns`.
fn header(out: &mut String, run: &Run, columns: &[usize]) {
    out.push_str("| workload |");
    for index in columns {
        let _ = write!(out, " {} |", run.servers[*index].name);
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
}

fn table(out: &mut String, run: &Run, kind: Kind, kind_name: &str) {
    let columns: Vec<usize> = (0..run.servers.len())
        .filter(|index| run.servers[*index].kind == kind_name)
        .collect();
    if columns.is_empty() {
        return;
    }
    let (echo, spawn_floor) = run.floor();
    header(out, run, &columns);
    out.push_str("| spawn → initialize answer (p50) |");
    for index in &columns {
        let text = run.spawn(*index).map_or_else(
            || "n/a (not spawned here)".into(),
            |micros| time(micros) + &ratio(micros, spawn_floor),
        );
        let _ = write!(out, " {text} |");
    }
    out.push('\n');
    for workload in WORKLOADS.iter().filter(|workload| workload.kind == kind) {
        let _ = write!(out, "| {} |", workload.label);
        for index in &columns {
            let _ = write!(out, " {} |", cell_text(run.cell(*index, workload.id), echo));
        }
        out.push('\n');
    }
    let rows: [(&str, Figure); 2] = [
        ("peak memory (PSS), server and its children", Run::memory),
        ("peak RSS, server process alone", Run::own_memory),
    ];
    for (label, memory) in rows {
        let _ = write!(out, "| {label} |");
        for index in &columns {
            let text = memory(run, *index).map_or_else(|| "n/a".into(), mebibytes);
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    out.push_str("\nWhat came back (checked on every call):\n\n");
    header(out, run, &columns);
    for workload in WORKLOADS.iter().filter(|workload| workload.kind == kind) {
        let _ = write!(out, "| {} |", workload.label);
        for index in &columns {
            let text = returned(run.cell(*index, workload.id));
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    out.push('\n');
}

/// What came back in `cell`, and how many runs were timed.
fn returned(cell: Option<Outcome>) -> String {
    match cell {
        Some(Outcome::Measured {
            samples, detail, ..
        }) => format!("{}; {samples} timed", escape(&detail)),
        Some(Outcome::Missing(_)) => "—".into(),
        Some(Outcome::Failed(_)) => "error (above)".into(),
        Some(Outcome::Wrong { .. }) => "wrong (above)".into(),
        None => String::new(),
    }
}

/// The p50 of `cell` when it was measured.
fn p50_of(cell: Option<&Outcome>) -> Option<f64> {
    match cell {
        Some(Outcome::Measured { p50, .. }) => Some(*p50),
        _ => None,
    }
}

/// moat's servers of `kind` in `run`.
fn moat_of(run: &Run, kind: Kind) -> Vec<usize> {
    (0..run.servers.len())
        .filter(|index| run.servers[*index].workloads() == kind && is_moat(run, *index))
        .collect()
}

/// The rows of `kind` that were measured against a baseline: workload,
/// the baseline's command and its outcome over rounds.
fn tool_rows(run: &Run, kind: Kind) -> Vec<(&'static Workload, String, Outcome)> {
    WORKLOADS
        .iter()
        .filter(|workload| workload.kind == kind)
        .filter_map(|workload| {
            let (command, outcome) = run.baseline(workload.id)?;
            Some((workload, command, outcome))
        })
        .collect()
}

/// The table of `against`'s rows (nothing when none was run, as in runs
/// saved before they were).
fn against_table(out: &mut String, run: &Run, against: &Against) {
    let rows = tool_rows(run, against.kind);
    if rows.is_empty() {
        return;
    }
    let moat = moat_of(run, against.kind);
    let Against {
        heading,
        intro,
        what,
        short,
        goal,
        ..
    } = against;
    let _ = write!(
        out,
        "### {heading}\n\n{}\n\n| workload | {what} | {short} p50 / p99 | {short} returned |",
        intro.replace("{goal}", &goal.to_string())
    );
    for index in &moat {
        let _ = write!(out, " {} p50 (× {short}) |", run.servers[*index].name);
    }
    out.push_str(" goal |\n|---|---|---|---|");
    out.push_str(&"---|".repeat(moat.len() + 1));
    out.push('\n');
    for (workload, command, outcome) in rows {
        let tool = p50_of(Some(&outcome)).filter(|p50| *p50 > 0.0);
        let checked = if tool.is_some() {
            returned(Some(outcome.clone()))
        } else {
            "—".into()
        };
        let _ = write!(
            out,
            "| {} | `{}` | {} | {checked} |",
            workload.label,
            escape(&command),
            cell_text(Some(outcome), None),
        );
        for index in &moat {
            let cell = run.cell(*index, workload.id);
            let text = match (p50_of(cell.as_ref()), tool) {
                (Some(ours), Some(theirs)) => {
                    let times = ours / theirs;
                    let verdict = if times <= *goal { "met" } else { "**missed**" };
                    format!("{} (×{times:.2}, {verdict})", time(ours))
                }
                (Some(ours), None) => time(ours),
                (None, _) => cell_text(cell, None),
            };
            let _ = write!(out, " {text} |");
        }
        let _ = writeln!(out, " ≤ ×{goal} |");
    }
    out.push('\n');
}

/// Lines saying where a baseline was faster than the best moat server on
/// its row, and whether the goal was still met.
fn behind_tools(run: &Run, against: &Against) -> Vec<String> {
    let moat = moat_of(run, against.kind);
    let goal = against.goal;
    let mut lines = Vec::new();
    for (workload, command, outcome) in tool_rows(run, against.kind) {
        let Some(theirs) = p50_of(Some(&outcome)) else {
            continue;
        };
        let best = moat
            .iter()
            .filter_map(|index| Some((p50_of(run.cell(*index, workload.id).as_ref())?, *index)))
            .min_by(|left, right| left.0.total_cmp(&right.0));
        if let Some((ours, us)) = best
            && theirs < ours
        {
            let times = ours / theirs;
            let verdict = if times <= goal { "met" } else { "missed" };
            let program = command.split_whitespace().next().unwrap_or_default();
            lines.push(format!(
                "{} against {}: `{program}` {} against {} {} (×{times:.2}; the goal, ≤ ×{goal}, is {verdict}).",
                workload.label,
                against.name,
                time(theirs),
                run.servers[us].name,
                time(ours),
            ));
        }
    }
    lines
}

/// A line when moat's answer to `workload` was cut with a cursor while a
/// peer's was whole: its figure is then for the first page only.
fn partial(
    run: &Run,
    workload: &str,
    label: &str,
    moat: &[usize],
    peers: &[usize],
) -> Option<String> {
    let detail = |index: &usize| match run.cell(*index, workload) {
        Some(Outcome::Measured { detail, .. }) => Some((*index, detail)),
        _ => None,
    };
    let (ours, our_detail) = moat
        .iter()
        .find_map(detail)
        .filter(|(_, text)| text.contains("cursor"))?;
    let (theirs, their_detail) = peers
        .iter()
        .filter_map(detail)
        .find(|(_, text)| !text.contains("cursor"))?;
    Some(format!(
        "{label}: not like for like. {} answered with {our_detail} (one call, the first page), {} with \
         {their_detail}; getting all of it from moat takes further calls with the cursor, not timed here.",
        run.servers[ours].name, run.servers[theirs].name
    ))
}

/// Lines saying, for every workload, where a peer beat the best moat
/// server, or where moat could not do it at all, then where moat's figure
/// is for less than the whole answer.
fn not_ahead(run: &Run) -> Vec<String> {
    let mut lines = Vec::new();
    // The lowest `figure` among the servers `indexes`, and whose it is.
    let best = |indexes: &[usize], figure: &dyn Fn(usize) -> Option<f64>| {
        indexes
            .iter()
            .filter_map(|index| Some((figure(*index)?, *index)))
            .min_by(|left, right| left.0.total_cmp(&right.0))
    };
    let spawn = |index| run.spawn(index);
    let memory = |index| run.memory(index);
    let mut caveats = Vec::new();
    for kind_name in ["fs", "scrape"] {
        let of_kind: Vec<usize> = (0..run.servers.len())
            .filter(|index| run.servers[*index].kind == kind_name)
            .collect();
        let (moat, peers): (Vec<usize>, Vec<usize>) =
            of_kind.iter().partition(|index| is_moat(run, **index));
        if moat.is_empty() || peers.is_empty() {
            continue;
        }
        let mut compare = |what: &str,
                           ours: Option<(f64, usize)>,
                           theirs: Option<(f64, usize)>,
                           show: &dyn Fn(f64) -> String,
                           worse: &str| {
            match (ours, theirs) {
                (Some((ours, us)), Some((theirs, them))) if theirs < ours => lines.push(format!(
                    "{what}: {} {} against {} {} ({:.1}× {worse}).",
                    run.servers[them].name,
                    show(theirs),
                    run.servers[us].name,
                    show(ours),
                    ours / theirs
                )),
                (None, Some((theirs, them))) => lines.push(format!(
                    "{what}: moat has no figure; {} {}.",
                    run.servers[them].name,
                    show(theirs)
                )),
                _ => {}
            }
        };
        compare(
            "spawn to initialize",
            best(&moat, &spawn),
            best(&peers, &spawn),
            &time,
            "slower",
        );
        for workload in WORKLOADS.iter().filter(|workload| {
            (workload.kind == Kind::Fs && kind_name == "fs")
                || (workload.kind == Kind::Scrape && kind_name == "scrape")
        }) {
            let p50 = |index| match run.cell(index, workload.id) {
                Some(Outcome::Measured { p50, .. }) => Some(p50),
                _ => None,
            };
            compare(
                workload.label,
                best(&moat, &p50),
                best(&peers, &p50),
                &time,
                "slower",
            );
            caveats.extend(partial(run, workload.id, workload.label, &moat, &peers));
        }
        compare(
            "peak memory (PSS), server and its children",
            best(&moat, &memory),
            best(&peers, &memory),
            &mebibytes,
            "larger",
        );
    }
    for against in &AGAINST {
        lines.extend(behind_tools(run, against));
    }
    lines.extend(caveats);
    lines
}

/// The whole report. `plots` are the SVG files written (relative to the
/// doc's folder via `doc`).
pub fn markdown(run: &Run, plots: &[(String, std::path::PathBuf)], doc: &Path) -> String {
    let mut out = String::new();
    out.push_str(include_str!("report_head.md"));
    out.push_str("\n## This run\n\n| | |\n|---|---|\n");
    for (key, value) in &run.machine {
        let _ = writeln!(out, "| {key} | {} |", escape(value));
    }
    let _ = writeln!(
        out,
        "| rounds | {} (interleaved; measuring took {:.0} s) |",
        run.rounds, run.seconds
    );
    out.push_str("\n### Servers\n\n| server | version | command (paths shortened) | notes |\n|---|---|---|---|\n");
    for server in &run.servers {
        let _ = writeln!(
            out,
            "| {} | {} | `{}` | {} |",
            server.name,
            escape(&server.version),
            escape(&server.command),
            escape(&server.note)
        );
    }
    let (echo, spawn) = run.floor();
    let _ = write!(
        out,
        "\n### The floor\n\nThe same client against `moat-echo` (a few lines of Rust that answer at once): \
         spawn to initialize answer {}, one `tools/call` round trip {} (p50). \
         The figures in brackets below are multiples of these: spawn times of the floor's spawn, \
         latencies of the floor's round trip.\n",
        spawn.map_or_else(|| "n/a".into(), time),
        echo.map_or_else(|| "n/a".into(), time),
    );
    for (name, echo, spawn) in run.floors().into_iter().skip(1) {
        let _ = write!(
            out,
            "\nOver Streamable HTTP, the same client against `{name}` (rmcp's own Streamable HTTP \
             service, answering at once): spawn to initialize answer {}, one `tools/call` round trip \
             {} (p50). An HTTP column's latencies are best read against this one; the multiples \
             stay those of the stdio floor.\n",
            spawn.map_or_else(|| "n/a".into(), time),
            echo.map_or_else(|| "n/a".into(), time),
        );
    }
    out.push_str("\n## Filesystem servers\n\nEach cell: p50 / p99 of the round trip (request written to answer read, client included), median over rounds (×p50 over the floor).\n\n");
    table(&mut out, run, Kind::Fs, "fs");
    against_table(&mut out, run, &AGAINST[0]);
    out.push_str("## Scrapers\n\nEach cell: p50 / p99, median over rounds (×p50 over the floor). The concurrent rows time the wall clock of a batch of 10 calls sent at once.\n\n");
    table(&mut out, run, Kind::Scrape, "scrape");
    against_table(&mut out, run, &AGAINST[1]);
    out.push_str("## Plots\n\n");
    let base = doc.parent().unwrap_or(Path::new("."));
    for (title, path) in plots {
        let relative = path.strip_prefix(base).unwrap_or(path);
        let _ = writeln!(out, "![{title}]({})\n", relative.display());
    }
    out.push_str("## Where moat is not ahead in this run\n\n");
    let lines = not_ahead(run);
    if lines.is_empty() {
        out.push_str(
            "Nowhere: on every workload and on memory, the best moat figure is the best figure.\n",
        );
    }
    for line in lines {
        let _ = writeln!(out, "- {line}");
    }
    out.push_str(include_str!("report_method.md"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Server;

    fn server(name: &str, kind: &str) -> Server {
        Server {
            name: name.into(),
            version: "1".into(),
            kind: kind.into(),
            command: name.into(),
            note: String::new(),
        }
    }

    fn measured(p50: f64, detail: &str) -> Outcome {
        Outcome::Measured {
            p50,
            p99: p50 * 2.0,
            samples: 10,
            detail: detail.into(),
        }
    }

    /// A run with a floor, moat-fs and a peer; moat-fs answered the two
    /// walk rows in 12 ms and 30 ms.
    fn walk_run() -> Run {
        Run {
            servers: vec![
                server("moat-echo", "floor"),
                server("moat-fs", "fs"),
                server("peer", "fs"),
            ],
            outcomes: vec![
                (1, "glob".into(), measured(12_000.0, "100 matches")),
                (1, "grep".into(), measured(30_000.0, "101 files matched")),
                (2, "glob".into(), measured(50_000.0, "100 matches")),
            ],
            rounds: 1,
            ..Run::default()
        }
    }

    /// The section of the report under `heading`, or "" when it has none.
    fn section(run: &Run, heading: &str) -> String {
        let page = markdown(run, &[], Path::new("B.md"));
        page.split(heading)
            .nth(1)
            .map(|rest| rest.split("## ").next().unwrap_or_default().to_string())
            .unwrap_or_default()
    }

    /// The command-line tools' table, or "" when the report has none.
    fn tools_table(run: &Run) -> String {
        section(run, "### Against the command-line tools")
    }

    /// Each walk row shows the tool's figures and moat-fs's p50 over the
    /// tool's, met at 1.5× or less and missed above; a tool missing from
    /// PATH is said, with no ratio.
    #[test]
    fn tools_table_gives_the_ratio_and_the_goal() {
        let mut run = walk_run();
        run.baselines = vec![
            (
                "glob".into(),
                "find TREE".into(),
                measured(10_000.0, "100 files"),
            ),
            (
                "grep".into(),
                "rg TREE".into(),
                measured(10_000.0, "101 files"),
            ),
        ];
        let table = tools_table(&run);
        assert!(table.contains("| moat-fs p50 (× tool) | goal |"), "{table}");
        assert!(!table.contains("peer p50"), "{table}");
        assert!(
            table.contains("| `find TREE` | 10.0 ms / 20.0 ms | 100 files; 10 timed | 12.0 ms (×1.20, met) | ≤ ×1.5 |"),
            "{table}"
        );
        assert!(table.contains("30.0 ms (×3.00, **missed**)"), "{table}");
        let page = markdown(&run, &[], Path::new("B.md"));
        assert!(
            page.contains(
                "`rg` 10.0 ms against moat-fs 30.0 ms (×3.00; the goal, ≤ ×1.5, is missed)"
            ),
            "{page}"
        );

        run.baselines = vec![(
            "grep".into(),
            "rg TREE".into(),
            Outcome::Missing("rg is not on PATH".into()),
        )];
        let table = tools_table(&run);
        assert!(
            table.contains("| `rg TREE` | n/a (rg is not on PATH) | — | 30.0 ms |"),
            "{table}"
        );
        assert!(!table.contains("`find TREE`"), "{table}");
    }

    /// A second floor (over HTTP) is named with its own figures under
    /// "The floor"; the multiples stay those of the first.
    #[test]
    fn a_second_floor_is_given_beside_the_first() {
        let mut run = walk_run();
        run.servers.push(server("moat-echo-http", "floor"));
        run.outcomes.push((0, "echo".into(), measured(50.0, "")));
        run.outcomes.push((3, "echo".into(), measured(400.0, "")));
        let floor = section(&run, "### The floor");
        assert!(
            floor.contains("one `tools/call` round trip 50 µs (p50)"),
            "{floor}"
        );
        assert!(
            floor.contains("against `moat-echo-http` (rmcp's own Streamable HTTP service, answering at once): spawn to initialize answer n/a, one `tools/call` round trip 400 µs (p50)"),
            "{floor}"
        );
        assert_eq!(run.floor().0, Some(50.0));
        // With one floor, no HTTP sentence.
        run.servers.pop();
        assert!(!section(&run, "### The floor").contains("Streamable HTTP"));
    }

    /// The JavaScript page shows bare chromiumoxide's figures and
    /// moat-scrape's p50 over them, met at 1.3× or less and missed above;
    /// a Chromium not found is said, with no ratio.
    #[test]
    fn chromium_table_gives_the_ratio_and_the_goal() {
        let mut run = Run {
            servers: vec![
                server("moat-echo", "floor"),
                server("moat-scrape", "scrape"),
                server("peer", "scrape"),
            ],
            outcomes: vec![(1, "spa".into(), measured(12_000.0, "3 KiB of text"))],
            baselines: vec![(
                "spa".into(),
                "chromiumoxide new_page(URL)".into(),
                measured(10_000.0, "3 KiB of HTML"),
            )],
            rounds: 1,
            ..Run::default()
        };
        let heading = "### Against bare chromiumoxide";
        let table = section(&run, heading);
        assert!(
            table.contains("| moat-scrape p50 (× chromiumoxide) | goal |"),
            "{table}"
        );
        assert!(!table.contains("peer p50"), "{table}");
        assert!(
            table.contains("| JavaScript-built page | `chromiumoxide new_page(URL)` | 10.0 ms / 20.0 ms | 3 KiB of HTML; 10 timed | 12.0 ms (×1.20, met) | ≤ ×1.3 |"),
            "{table}"
        );
        assert_eq!(tools_table(&run), "");

        run.outcomes[0].2 = measured(14_000.0, "3 KiB of text");
        assert!(
            section(&run, heading).contains("14.0 ms (×1.40, **missed**)"),
            "{table}"
        );
        let page = markdown(&run, &[], Path::new("B.md"));
        assert!(
            page.contains("JavaScript-built page against bare chromiumoxide: `chromiumoxide` 10.0 ms against moat-scrape 14.0 ms (×1.40; the goal, ≤ ×1.3, is missed)"),
            "{page}"
        );

        run.baselines[0].2 = Outcome::Missing("Chromium not found at /usr/bin/chromium".into());
        let table = section(&run, heading);
        assert!(
            table.contains("| n/a (Chromium not found at /usr/bin/chromium) | — | 14.0 ms |"),
            "{table}"
        );
    }

    /// A run saved before the tools were measured (no `baselines` in its
    /// JSON) still loads, and its page has no tools' table.
    #[test]
    fn run_saved_without_tools_still_writes_the_page() {
        let mut saved = serde_json::to_value(walk_run()).unwrap_or_default();
        let removed = saved
            .as_object_mut()
            .and_then(|fields| fields.remove("baselines"));
        assert!(removed.is_some());
        let run: Run = serde_json::from_value(saved).unwrap_or_default();
        assert_eq!(run.outcomes.len(), 3);
        assert_eq!(tools_table(&run), "");
        assert!(markdown(&run, &[], Path::new("B.md")).contains("## Filesystem servers"));
    }
}
