//! `moat-fs-bench`: latency and memory of the real `moat-fs` binary over
//! stdio, on a generated tree. Not a test: it prints a table.
//!
//! ```text
//! cargo run --release -p moat-fs --bin moat-fs-bench
//! ```
//!
//! Builds the release `moat-fs`, generates a temp tree (a 4 KiB file, a
//! 1,000-entry directory, 100,000 files in 1,000 folders), then measures
//! p50/p99 of each operation through one client, spawn-to-first-response
//! over fresh processes, and the server's peak RSS (`VmHWM`). It must never
//! touch anything but its own temp directory.

use std::{
    io::{BufRead, BufReader, Write},
    path::PathBuf,
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    time::{Duration, Instant},
};

use cap_std::{ambient_authority, fs::Dir};
use serde_json::{Value, json};

/// Files in the big tree, as the issue asks.
const TREE_FILES: usize = 100_000;
/// Folders the big tree's files are spread over (100 per folder).
const TREE_FOLDERS: usize = 1_000;
/// Entries of the flat directory listed by `list_directory`.
const FLAT_ENTRIES: usize = 1_000;

/// A line-delimited JSON-RPC client on a child's stdio.
struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Client {
    fn spawn(binary: &PathBuf, root: &str) -> (Self, Duration) {
        let started = Instant::now();
        let mut child = Command::new(binary)
            .arg(root)
            .env("RUST_LOG", "off")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn moat-fs");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut client = Self {
            child,
            stdin,
            stdout,
            next_id: 1,
        };
        client.request(
            "initialize",
            &json!({"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "moat-fs-bench", "version": "0"}}),
        );
        let first = started.elapsed();
        client.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        (client, first)
    }

    fn send(&mut self, message: &Value) {
        writeln!(self.stdin, "{message}").expect("write");
        self.stdin.flush().expect("flush");
    }

    fn request(&mut self, method: &str, params: &Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                self.stdout.read_line(&mut line).expect("read") > 0,
                "server exited"
            );
            let Ok(value) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if value["id"] == json!(id) {
                return value;
            }
        }
    }

    fn call(&mut self, tool: &str, arguments: &Value) -> Value {
        let answer = self.request("tools/call", &json!({"name": tool, "arguments": arguments}));
        assert!(
            answer["result"]["isError"] != json!(true) && answer.get("error").is_none(),
            "{tool} failed: {answer}"
        );
        answer
    }

    /// Peak resident set of the server, in KiB, from /proc.
    fn peak_rss_kib(&self) -> Option<u64> {
        let proc_dir = Dir::open_ambient_dir("/proc", ambient_authority()).ok()?;
        let status = proc_dir
            .read_to_string(format!("{}/status", self.child.id()))
            .ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * fraction).round() as usize;
    samples[index.min(samples.len() - 1)]
}

fn measure(
    client: &mut Client,
    runs: usize,
    tool: &str,
    arguments: &Value,
) -> (Duration, Duration, Value) {
    let mut samples = Vec::with_capacity(runs);
    let mut last = Value::Null;
    for _ in 0..runs {
        let started = Instant::now();
        last = client.call(tool, arguments);
        samples.push(started.elapsed());
    }
    (
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99),
        last,
    )
}

fn show(duration: Duration) -> String {
    if duration < Duration::from_millis(10) {
        format!("{:.0} µs", duration.as_secs_f64() * 1e6)
    } else {
        format!("{:.1} ms", duration.as_secs_f64() * 1e3)
    }
}

/// Build the tree under `dir`.
fn generate(dir: &Dir) {
    dir.write("file4k.txt", "0123456789abcde\n".repeat(256))
        .expect("write");
    dir.create_dir("flat").expect("mkdir");
    let flat = dir.open_dir("flat").expect("open");
    for index in 0..FLAT_ENTRIES {
        flat.write(format!("entry{index:04}.txt"), "x")
            .expect("write");
    }
    dir.create_dir("tree").expect("mkdir");
    let tree = dir.open_dir("tree").expect("open");
    let per_folder = TREE_FILES / TREE_FOLDERS;
    for folder in 0..TREE_FOLDERS {
        let name = format!("d{:02}/e{:02}", folder / 100, folder % 100);
        tree.create_dir_all(&name).expect("mkdir");
        let sub = tree.open_dir(&name).expect("open");
        for file in 0..per_folder {
            let index = folder * per_folder + file;
            let extension = if index.is_multiple_of(1000) {
                "rs"
            } else {
                "txt"
            };
            let body = if index.is_multiple_of(997) {
                format!("line one\nfn needle_{index}() {{}}\n")
            } else {
                format!("line one\nnothing here {index}\n")
            };
            sub.write(format!("f{file:03}.{extension}"), body)
                .expect("write");
        }
    }
}

fn main() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "moat-fs",
            "--bin",
            "moat-fs",
        ])
        .status()
        .expect("cargo build");
    assert!(
        status.success(),
        "cargo build --release --bin moat-fs failed"
    );
    let binary = std::env::current_exe()
        .expect("current exe")
        .with_file_name("moat-fs");

    let temp = std::env::temp_dir();
    let name = format!("moat-fs-bench-{}", std::process::id());
    let base = Dir::open_ambient_dir(&temp, ambient_authority()).expect("temp dir");
    base.create_dir(&name).expect("bench dir");
    let dir = base.open_dir(&name).expect("open bench dir");
    let root = temp.join(&name).to_string_lossy().into_owned();
    let generated = Instant::now();
    generate(&dir);
    eprintln!(
        "generated {TREE_FILES} files in {:.1} s",
        generated.elapsed().as_secs_f64()
    );

    let mut spawns = Vec::new();
    for _ in 0..20 {
        let (_client, first) = Client::spawn(&binary, &root);
        spawns.push(first);
    }
    let (mut client, _) = Client::spawn(&binary, &root);
    let mut rows: Vec<(String, usize, Duration, Duration, String)> = Vec::new();
    let cases: [(&str, usize, &str, Value); 6] = [
        (
            "read_text_file (4 KiB)",
            1000,
            "read_text_file",
            json!({"path": "file4k.txt"}),
        ),
        (
            "list_directory (1,000 entries)",
            200,
            "list_directory",
            json!({"path": "flat"}),
        ),
        (
            "search_files `*.rs` (100k files)",
            10,
            "search_files",
            json!({"path": "tree", "pattern": "*.rs"}),
        ),
        (
            "search_file_contents `needle_` (100k files)",
            5,
            "search_file_contents",
            json!({"path": "tree", "query": "needle_"}),
        ),
        (
            "directory_tree, 100 KiB budget (100k files)",
            50,
            "directory_tree",
            json!({"path": "tree"}),
        ),
        (
            "directory_tree maxDepth 2 (100k files)",
            50,
            "directory_tree",
            json!({"path": "tree", "maxDepth": 2}),
        ),
    ];
    for (label, runs, tool, arguments) in cases {
        let (p50, p99, last) = measure(&mut client, runs, tool, &arguments);
        let structured = &last["result"]["structuredContent"];
        let detail = match tool {
            "search_files" | "search_file_contents" => format!(
                "{} matches, complete: {}",
                structured["matches"].as_array().map_or(0, Vec::len),
                structured["note"].is_null()
            ),
            "directory_tree" => format!(
                "{} entries, cursor: {}",
                structured["entries"],
                !structured["nextCursor"].is_null()
            ),
            "list_directory" => format!("{} entries", structured["total"]),
            _ => String::new(),
        };
        rows.push((label.to_string(), runs, p50, p99, detail));
    }
    let peak = client.peak_rss_kib();
    drop(client);

    println!("| operation | runs | p50 | p99 | result |");
    println!("|---|---|---|---|---|");
    for (label, runs, p50, p99, detail) in &rows {
        println!(
            "| {label} | {runs} | {} | {} | {detail} |",
            show(*p50),
            show(*p99)
        );
    }
    let spawn_p50 = percentile(&mut spawns, 0.5);
    let spawn_p99 = percentile(&mut spawns, 0.99);
    println!(
        "| spawn to first response (initialize) | 20 | {} | {} | |",
        show(spawn_p50),
        show(spawn_p99)
    );
    match peak {
        Some(kib) => println!(
            "\npeak RSS of the server after all runs: {:.1} MiB",
            kib as f64 / 1024.0
        ),
        None => println!("\npeak RSS: unavailable (no /proc)"),
    }
    let _ = base.remove_dir_all(&name);
}
