//! `search_files`: find files and directories whose path matches a glob,
//! recursively, within the budgets, the visited-entry cap and the deadline.
//!
//! # Must never
//! - follow a symlink while walking, show a denied entry, or loop;
//! - return more than the budget: past it, a `cursor` continues the search.

use std::path::PathBuf;

use moat_shared::{CallContext, ToolError, ToolOutput, runtime::tool::structured};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::{
    FsServer,
    error::FsError,
    walk::{self, Budget, Ending, Entry, Plan, Step, Visitor},
};

/// Arguments of `search_files`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Args {
    /// Where to search (recursively).
    pub path: String,
    /// Glob matched against each entry's path relative to `path`
    /// (`src/**/*.rs`), or against its name alone when the glob has no `/`
    /// (`*.rs` finds Rust files at any depth).
    pub pattern: String,
    /// Globs of entries to skip, with everything under them (same matching
    /// as `pattern`), e.g. `node_modules`, `.git`.
    #[serde(default)]
    pub exclude_patterns: Vec<String>,
    /// Continue a cut search: the `nextCursor` of the previous result.
    pub cursor: Option<String>,
}

const DESCRIPTION: &str = "Find files and directories by name or path pattern, recursively. Use it \
to locate files (\"*.toml\", \"src/**/test_*.py\"); use search_file_contents to search inside \
files. A pattern without '/' matches names at any depth; with '/', the path relative to the \
search directory. Skip heavy folders with excludePatterns. Symlinks are listed, never followed. \
Long results are cut and give a cursor to continue; a search that hits the time or entry limit \
says its results are partial.";

moat_shared::tool! {
    /// The `search_files` tool.
    pub SearchFiles: BlockingTool<FsServer> = "search_files", "Search files", super::read_only() {
        /// The matching paths, one a line, and the continuation line when cut.
        pub content: String,
        /// The matching paths, as the client names them.
        pub matches: Vec<String>,
        /// Whether it was cut, how to continue, and why.
        #[serde(flatten)]
        pub ending: Ending,
    }
}

struct Collect<'a> {
    pattern: &'a (globset::GlobSet, globset::GlobSet),
    base: &'a str,
    matches: Vec<String>,
    budget: Budget,
    last: Option<PathBuf>,
}

impl Visitor for Collect<'_> {
    fn entry(&mut self, entry: &Entry<'_>) -> Step {
        if super::glob_matches(&self.pattern.0, &self.pattern.1, entry.rel, entry.name) {
            let shown = walk::shown(self.base, entry.rel);
            if !self.budget.take(shown.len() + 1) {
                return Step::Stop;
            }
            self.matches.push(shown);
        }
        self.last = Some(entry.rel.to_path_buf());
        Step::Continue
    }
}

/// Run the tool.
pub fn run(server: &FsServer, args: &Args, context: &CallContext) -> Result<ToolOutput, ToolError> {
    if args.pattern.is_empty() {
        return Err(FsError::Invalid("pattern is empty".into()).into());
    }
    let pattern = super::glob_pair(std::slice::from_ref(&args.pattern), "pattern")?;
    let exclude = super::glob_pair(&args.exclude_patterns, "excludePatterns")?;
    let cursor = args.cursor.as_deref().map(PathBuf::from);
    let plan = Plan {
        resume_after: cursor.as_deref(),
        exclude: Some(&exclude),
        ..Plan::default()
    };
    let mut collect = Collect {
        pattern: &pattern,
        base: &args.path,
        matches: Vec::new(),
        budget: Budget::of(server),
        last: None,
    };
    let report = walk::walk_path(server, &args.path, &plan, context, &mut collect)?;
    let ending = Ending::new(
        &report,
        report.cursor(collect.last),
        format!(
            "results were cut at the budget after {} matches",
            collect.matches.len()
        ),
        0,
    );
    let mut text = if collect.matches.is_empty() {
        "No matches found\n".to_string()
    } else {
        collect.matches.join("\n") + "\n"
    };
    text.push_str(&ending.line("search_files"));
    Ok(structured(
        text.clone(),
        &Output {
            content: text,
            matches: collect.matches,
            ending,
        },
    ))
}
