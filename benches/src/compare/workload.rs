//! The workloads: what each one asks, which tool and arguments each server
//! gets for it (or why it has none), and how its answer is checked, so a
//! fast wrong answer is never counted. A server's tools are matched by
//! name from its `tools/list`, so any server that names its tools like one
//! of the peers can be measured.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    sync::atomic::{AtomicU64, Ordering},
};

use serde_json::{Value, json};

use crate::tree;

/// Which kind of server a workload is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The protocol floor (`moat-echo`).
    Floor,
    /// A filesystem server.
    Fs,
    /// A web fetch / scrape server.
    Scrape,
}

/// Workloads plotted together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// The echo call of the floor.
    Floor,
    /// One file or one directory.
    Files,
    /// Walks of the 100,000-file tree.
    Walks,
    /// Web pages.
    Pages,
}

/// One workload.
#[derive(Debug)]
pub struct Workload {
    /// Stable key (used in file names and the JSON dump).
    pub id: &'static str,
    /// Row label in the tables.
    pub label: &'static str,
    /// Axis label in the plots.
    pub short: &'static str,
    /// Which servers it is for.
    pub kind: Kind,
    /// Which plot it goes in.
    pub family: Family,
    /// Calls sent at once (the time is then the wall time of the batch).
    pub concurrency: usize,
}

/// Every workload, in table order.
pub const WORKLOADS: &[Workload] = &[
    workload(
        "echo",
        "echo call (the floor)",
        "echo",
        Kind::Floor,
        Family::Floor,
        1,
    ),
    workload(
        "read-4k",
        "read_text_file, 4 KiB",
        "read 4 KiB",
        Kind::Fs,
        Family::Files,
        1,
    ),
    workload(
        "read-1m",
        "read_text_file, 1 MiB",
        "read 1 MiB",
        Kind::Fs,
        Family::Files,
        1,
    ),
    workload(
        "read-1m-prose",
        "read_text_file, 1 MiB of 52-byte lines",
        "read 1 MiB prose",
        Kind::Fs,
        Family::Files,
        1,
    ),
    workload(
        "read-1m-utf8",
        "read_text_file, 1 MiB of non-ASCII text",
        "read 1 MiB UTF-8",
        Kind::Fs,
        Family::Files,
        1,
    ),
    workload(
        "list",
        "list_directory, 1,000 entries",
        "list 1,000",
        Kind::Fs,
        Family::Files,
        1,
    ),
    workload(
        "glob",
        "search_files `**/*.rs`, 100k files",
        "search_files",
        Kind::Fs,
        Family::Walks,
        1,
    ),
    workload(
        "grep",
        "content search `needle_`, 100k files",
        "content search",
        Kind::Fs,
        Family::Walks,
        1,
    ),
    workload(
        "tree",
        "directory_tree, 100k files, default limits",
        "tree (default)",
        Kind::Fs,
        Family::Walks,
        1,
    ),
    workload(
        "tree-2",
        "directory_tree, 100k files, depth 2",
        "tree depth 2",
        Kind::Fs,
        Family::Walks,
        1,
    ),
    workload(
        "article",
        "static article (23 KB HTML)",
        "article",
        Kind::Scrape,
        Family::Pages,
        1,
    ),
    workload(
        "spa",
        "JavaScript-built page",
        "JS page",
        Kind::Scrape,
        Family::Pages,
        1,
    ),
    workload(
        "article-10",
        "10 concurrent static articles (wall)",
        "10 articles",
        Kind::Scrape,
        Family::Pages,
        10,
    ),
    workload(
        "spa-10",
        "10 concurrent JS pages (wall)",
        "10 JS pages",
        Kind::Scrape,
        Family::Pages,
        10,
    ),
];

const fn workload(
    id: &'static str,
    label: &'static str,
    short: &'static str,
    kind: Kind,
    family: Family,
    concurrency: usize,
) -> Workload {
    Workload {
        id,
        label,
        short,
        kind,
        family,
        concurrency,
    }
}

/// What a server gets for a workload.
pub enum Plan {
    /// Call this tool with these arguments.
    Call {
        /// The tool.
        tool: String,
        /// Its arguments.
        arguments: Value,
    },
    /// The server has no tool for it; why.
    Missing(String),
}

/// Where the data lives.
pub struct Data<'a> {
    /// The generated tree's root.
    pub root: &'a Path,
    /// `http://127.0.0.1:PORT` of the local site.
    pub site: &'a str,
}

/// The one text the article page ends with.
pub const ARTICLE_END: &str = "Paragraph 119.";
/// The text the JavaScript page builds.
pub const SCRIPT_MARKER: &str = "BUILT-BY-JAVASCRIPT";
/// The largest text a scrape may return, asked of every scraper so none
/// cuts the article (the fetch server's default is 5,000 characters).
const MAX_LENGTH: u64 = 100_000;

/// A fresh query string for every page URL, so no server answers from a
/// cache.
fn fresh(url: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{url}?n={}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A fresh URL of the page a scrape `workload` reads on the local `site`
/// (`http://127.0.0.1:PORT`).
pub fn page_url(workload: &Workload, site: &str) -> String {
    let page = if workload.id.starts_with("article") {
        "article"
    } else {
        "spa"
    };
    fresh(&format!("{site}/{page}"))
}

/// A server's tools: each name with the names of its arguments.
pub type Tools = BTreeMap<String, Vec<String>>;

fn has(tools: &Tools, name: &str) -> bool {
    tools.contains_key(name)
}

/// Whether `tool` takes an argument named `argument`.
fn takes(tools: &Tools, tool: &str, argument: &str) -> bool {
    tools
        .get(tool)
        .is_some_and(|arguments| arguments.iter().any(|name| name == argument))
}

fn path(root: &Path, relative: &str) -> String {
    root.join(relative).to_string_lossy().into_owned()
}

/// The call a server with `tools` gets for `workload`.
pub fn plan(workload: &Workload, tools: &Tools, data: &Data<'_>) -> Plan {
    let root = data.root;
    let read = ["read_text_file", "read_file"]
        .into_iter()
        .find(|tool| has(tools, tool));
    let call = |tool: &str, arguments: Value| Plan::Call {
        tool: tool.to_string(),
        arguments,
    };
    let missing = |why: &str| Plan::Missing(why.to_string());
    match workload.id {
        "echo" => call("echo", json!({"text": "x"})),
        "read-4k" | "read-1m" | "read-1m-prose" | "read-1m-utf8" => {
            let file = match workload.id {
                "read-4k" => "file4k.txt",
                "read-1m" => "file1m.txt",
                "read-1m-prose" => "prose1m.txt",
                _ => "utf8-1m.txt",
            };
            read.map_or_else(
                || missing("no such tool"),
                |tool| call(tool, json!({"path": path(root, file)})),
            )
        }
        "list" if has(tools, "list_directory") => {
            call("list_directory", json!({"path": path(root, "flat")}))
        }
        "glob" if has(tools, "search_files") => call(
            "search_files",
            json!({"path": path(root, tree::TREE_DIR), "pattern": "**/*.rs"}),
        ),
        "grep" if has(tools, "search_file_contents") => call(
            "search_file_contents",
            json!({"path": path(root, tree::TREE_DIR), "query": tree::NEEDLE}),
        ),
        "grep" if has(tools, "search_files_content") => call(
            "search_files_content",
            json!({"path": path(root, tree::TREE_DIR), "pattern": "*", "query": tree::NEEDLE}),
        ),
        "tree" if has(tools, "directory_tree") => call(
            "directory_tree",
            json!({"path": path(root, tree::TREE_DIR)}),
        ),
        "tree-2" if has(tools, "directory_tree") => {
            // moat-fs spells it in camelCase like the reference server's
            // other arguments; rust-mcp-filesystem in snake_case.
            match ["maxDepth", "max_depth"]
                .into_iter()
                .find(|name| takes(tools, "directory_tree", name))
            {
                Some(name) => call(
                    "directory_tree",
                    json!({"path": path(root, tree::TREE_DIR), name: 2}),
                ),
                None => missing("no depth limit"),
            }
        }
        "article" | "spa" | "article-10" | "spa-10" => {
            let url = page_url(workload, data.site);
            if has(tools, "scrape") {
                call("scrape", json!({"url": url, "max_length": MAX_LENGTH}))
            } else if has(tools, "fetch") {
                call("fetch", json!({"url": url, "max_length": MAX_LENGTH}))
            } else {
                missing("no such tool")
            }
        }
        _ => missing("no such tool"),
    }
}

/// Each run of ASCII digits that follows `prefix` in `text`.
fn numbers_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .filter_map(|(start, _)| {
            let rest = &text[start + prefix.len()..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            (digits > 0).then(|| &rest[..digits])
        })
        .collect()
}

/// `12345` as `12,345`.
pub fn thousands(number: usize) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The generated tree's names in a `directory_tree` answer, whatever its
/// format: top folders (`d00`), second-level folders (`e0`) and files
/// (`f000.txt`), each counted where it stands as a whole word, up to any
/// continuation note.
fn tree_names(text: &str) -> (usize, usize, usize) {
    let (mut top, mut folders, mut files) = (0, 0, 0);
    // A continuation note ("... cursor=\"d90/e8\" to continue") names
    // entries that are not in this answer.
    let listed = text.split("cursor").next().unwrap_or_default();
    let words =
        listed.split(|character: char| !(character.is_ascii_alphanumeric() || character == '.'));
    for word in words {
        let digits = |rest: &str, count: usize| {
            rest.len() == count && rest.bytes().all(|byte| byte.is_ascii_digit())
        };
        if let Some(rest) = word.strip_prefix('d')
            && digits(rest, 2)
        {
            top += 1;
        } else if let Some(rest) = word.strip_prefix('e')
            && digits(rest, 1)
        {
            folders += 1;
        } else if let Some(rest) = word.strip_prefix('f')
            && let Some((number, extension)) = rest.split_once('.')
            && digits(number, 3)
            && matches!(extension, "txt" | "rs")
        {
            files += 1;
        }
    }
    (top, folders, files)
}

/// Check `text`, the text of a result for `workload`: `Ok` with a short
/// description of what came back, or `Err` saying what is wrong.
pub fn check(workload: &Workload, text: &str) -> Result<String, String> {
    let expect = |what: &str, got: usize, want: usize| {
        if got == want {
            Ok(format!("{} {what}", thousands(got)))
        } else {
            Err(format!(
                "{} {what} instead of {}",
                thousands(got),
                thousands(want)
            ))
        }
    };
    let lines = |line: &str, count: usize| {
        expect(
            "bytes",
            text.matches(line).count() * line.len(),
            count * line.len(),
        )
    };
    match workload.id {
        "read-4k" => lines(tree::LINE, tree::SMALL_FILE_BYTES / tree::LINE.len()),
        "read-1m" => lines(tree::LINE, tree::LARGE_FILE_BYTES / tree::LINE.len()),
        "read-1m-prose" => lines(tree::PROSE_LINE, tree::PROSE_LINES),
        "read-1m-utf8" => lines(tree::UTF8_LINE, tree::UTF8_LINES),
        "list" => expect(
            "entries",
            numbers_after(text, "entry").len(),
            tree::FLAT_ENTRIES,
        ),
        "glob" => {
            let found = text
                .match_indices(".rs")
                .filter(|(end, _)| {
                    !text[end + 3..]
                        .chars()
                        .next()
                        .is_some_and(char::is_alphanumeric)
                })
                .count();
            expect("matches", found, tree::RUST_FILES)
        }
        "grep" => {
            let distinct: BTreeSet<&str> = numbers_after(text, tree::NEEDLE).into_iter().collect();
            expect("files matched", distinct.len(), tree::NEEDLE_FILES)
        }
        "tree" | "tree-2" => {
            let (top, folders, files) = tree_names(text);
            if workload.id == "tree-2" && files > 0 {
                return Err(format!("{files} files listed below depth 2"));
            }
            if top + folders + files == 0 {
                return Err("no entry of the tree came back".into());
            }
            let cut = if text.contains("cursor") {
                ", cut with a cursor"
            } else {
                ""
            };
            Ok(format!(
                "{} entries ({} folders, {} files){cut}, {} KiB",
                thousands(top + folders + files),
                thousands(top + folders),
                thousands(files),
                text.len() / 1024
            ))
        }
        "article" | "article-10" | "spa" | "spa-10" => {
            let (marker, what) = if workload.id.starts_with("article") {
                (ARTICLE_END, "the article's last paragraph")
            } else {
                (SCRIPT_MARKER, "the JavaScript-built text")
            };
            if text.contains(marker) {
                Ok(format!("{} KiB of text", text.len() / 1024))
            } else {
                let start: String = text.chars().take(160).collect();
                Err(format!("{what} is missing; it returned {start:?}"))
            }
        }
        _ => Ok(String::new()),
    }
}
