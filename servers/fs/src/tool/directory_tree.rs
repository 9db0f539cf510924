//! `directory_tree`: a recursive listing as a JSON tree, within a depth,
//! a byte budget, an entry budget, the visited-entry cap and the deadline.
//!
//! # Must never
//! - follow a symlink (links are leaves marked `symlink`), show a denied
//!   entry, or loop;
//! - return more than the budget: past it, the tree is cut and a `cursor`
//!   continues it.

use std::path::{Path, PathBuf};

use moat_shared::{
    CallContext, ToolError, ToolOutput,
    runtime::tool::{BlockingTool, Tool},
};
use rmcp::model::ToolAnnotations;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::walk::Kind;
use crate::{
    FsServer,
    error::FsError,
    walk::{self, End, Entry, Limits, Options, Step, Visitor},
};

/// Arguments of `directory_tree`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Args {
    /// The directory at the top of the tree.
    pub path: String,
    /// Globs of entries to leave out (with everything under them), matched
    /// against the path relative to `path`, or against the name alone when
    /// the glob has no `/`: e.g. `node_modules`, `*.log`, `build/**`.
    #[serde(default)]
    pub exclude_patterns: Vec<String>,
    /// Deepest level shown (1 = only the directory's own entries).
    pub max_depth: Option<usize>,
    /// Continue a cut tree: the `nextCursor` of the previous result.
    pub cursor: Option<String>,
}

const DESCRIPTION: &str = "Show a directory's structure recursively as JSON: each entry has name, \
type (file, directory, symlink, other) and, for directories, children. Use it for an overview of \
a project; set maxDepth and excludePatterns (e.g. [\"node_modules\", \".git\"]) on big trees. \
Symlinks are shown, never followed. Big trees are cut at the budget and give a cursor to continue.";

/// Bytes of JSON around each entry besides its name, for the budget:
/// `{"name":"","type":"directory","children":[]},`.
const ENTRY_OVERHEAD: usize = 48;

/// The `directory_tree` tool.
pub struct DirectoryTree;

impl Tool<FsServer> for DirectoryTree {
    const NAME: &'static str = "directory_tree";
    const TITLE: &'static str = "Directory tree";
    const DESCRIPTION: &'static str = DESCRIPTION;
    type Args = Args;
    type Output = Structured;

    fn annotations() -> ToolAnnotations {
        super::read_only()
    }
}

impl BlockingTool<FsServer> for DirectoryTree {
    fn run(server: &FsServer, args: Args, context: &CallContext) -> Result<ToolOutput, ToolError> {
        run(server, &args, context)
    }
}

super::structured_output!(super::output_schema(json!({
    "tree": { "type": "array", "items": { "type": "object" } },
    "entries": { "type": "integer" },
    "truncated": { "type": "boolean" },
    "nextCursor": { "type": ["string", "null"] },
    "note": { "type": ["string", "null"] },
})));

/// A tree node being built.
struct Node {
    name: String,
    kind: Kind,
    children: Vec<Node>,
}

impl Node {
    fn to_json(&self) -> Value {
        let mut value = json!({ "name": self.name, "type": self.kind.word() });
        if self.kind == Kind::Dir {
            value["children"] = Value::Array(self.children.iter().map(Node::to_json).collect());
        }
        value
    }
}

/// Insert `rel` (pre-order, so its parent is the last node on each level).
fn insert(nodes: &mut Vec<Node>, rel: &Path, kind: Kind) {
    let mut level = nodes;
    let parts: Vec<String> = rel
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    for (index, part) in parts.iter().enumerate() {
        let last = index + 1 == parts.len();
        let found = level.last().is_some_and(|node| node.name == *part);
        if !found {
            level.push(Node {
                name: part.clone(),
                kind: if last { kind } else { Kind::Dir },
                children: Vec::new(),
            });
        }
        let Some(node) = level.last_mut() else { return };
        level = &mut node.children;
    }
}

struct Collect<'a> {
    exclude: &'a (globset::GlobSet, globset::GlobSet),
    nodes: Vec<Node>,
    count: usize,
    used: usize,
    budget: usize,
    max_entries: usize,
    last: Option<PathBuf>,
}

impl Visitor for Collect<'_> {
    fn entry(&mut self, entry: &Entry<'_>) -> Step {
        if super::glob_matches(&self.exclude.0, &self.exclude.1, entry.rel, entry.name) {
            return Step::Skip;
        }
        let cost = entry.name.len() + ENTRY_OVERHEAD;
        if self.count >= self.max_entries || self.used + cost > self.budget {
            return Step::Stop;
        }
        self.used += cost;
        self.count += 1;
        insert(&mut self.nodes, entry.rel, entry.kind);
        self.last = Some(entry.rel.to_path_buf());
        Step::Continue
    }
}

/// Run the tool.
pub fn run(server: &FsServer, args: &Args, context: &CallContext) -> Result<ToolOutput, ToolError> {
    if args.max_depth == Some(0) {
        return Err(FsError::Invalid("maxDepth must be at least 1".into()).into());
    }
    let exclude = super::glob_pair(&args.exclude_patterns, "excludePatterns")?;
    let target = server.roots.resolve(&args.path)?;
    let start = target
        .root
        .dir
        .open_dir(&target.rel)
        .map_err(|error| FsError::io(&target.shown, error))?;
    let cursor = args.cursor.as_deref().map(PathBuf::from);
    let options = Options {
        root: target.root,
        start: &target.rel,
        max_depth: args.max_depth,
        resume_after: cursor.as_deref(),
        resume_inclusive: false,
    };
    let limits = Limits::for_call(server.policy.max_visited, context);
    let mut collect = Collect {
        exclude: &exclude,
        nodes: Vec::new(),
        count: 0,
        used: 0,
        budget: super::budget(server),
        max_entries: super::entry_budget(server),
        last: None,
    };
    let report = walk::walk(start, &server.roots, &options, &limits, &mut collect)
        .map_err(|error| FsError::io(&target.shown, error))?;
    if report.end == End::Cancelled {
        return Err(ToolError::Cancelled);
    }
    let next = report.cursor(collect.last.clone());
    let tree: Vec<Value> = collect.nodes.iter().map(Node::to_json).collect();
    let mut text = serde_json::to_string(&tree).unwrap_or_default();
    let mut note = report.end.explain(report.visited);
    if report.end == End::Stopped {
        note = Some(format!(
            "the tree was cut at the budget after {} entries",
            collect.count
        ));
    }
    let note = walk::with_skipped(note, report.unreadable, 0);
    if note.is_some() {
        text.push('\n');
        text.push_str(&walk::continuation_note(
            "directory_tree",
            note.as_deref(),
            next.as_deref(),
        ));
    }
    Ok(ToolOutput::with_structured(
        text.clone(),
        json!({
            "content": text,
            "tree": tree,
            "entries": collect.count,
            "truncated": next.is_some(),
            "nextCursor": next,
            "note": note,
        }),
    ))
}
