//! `directory_tree`: a recursive listing as a JSON tree, within a depth,
//! a byte budget, an entry budget, the visited-entry cap and the deadline.
//!
//! # Must never
//! - follow a symlink (links are leaves marked `symlink`), show a denied
//!   entry, or loop;
//! - return more than the budget: past it, the tree is cut and a `cursor`
//!   continues it.

use std::path::{Path, PathBuf};

use moat_shared::{CallContext, ToolError, ToolOutput, runtime::tool::structured};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::{
    FsServer,
    error::FsError,
    walk::{self, Budget, Ending, Entry, Kind, Plan, Step, Visitor},
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

moat_shared::tool! {
    /// The `directory_tree` tool.
    pub DirectoryTree: BlockingTool<FsServer> = "directory_tree", "Directory tree", super::read_only() {
        /// The tree as JSON text, and the continuation line when cut.
        pub content: String,
        /// The top level's entries: `{name, type, children}` (children only
        /// on directories).
        pub tree: Vec<serde_json::Map<String, Value>>,
        /// Entries in the tree.
        pub entries: usize,
        /// Whether it was cut, how to continue, and why.
        #[serde(flatten)]
        pub ending: Ending,
    }
}

/// A tree node being built.
struct Node {
    name: String,
    kind: Kind,
    children: Vec<Node>,
}

impl Node {
    fn to_json(&self) -> serde_json::Map<String, Value> {
        let mut value = serde_json::Map::new();
        value.insert("name".into(), self.name.clone().into());
        value.insert("type".into(), self.kind.word().into());
        if self.kind == Kind::Dir {
            let children = self.children.iter().map(Node::to_json);
            value.insert("children".into(), children.map(Value::Object).collect());
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

struct Collect {
    nodes: Vec<Node>,
    budget: Budget,
    last: Option<PathBuf>,
}

impl Visitor for Collect {
    fn entry(&mut self, entry: &Entry<'_>) -> Step {
        if !self.budget.take(entry.name.len() + ENTRY_OVERHEAD) {
            return Step::Stop;
        }
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
    let cursor = args.cursor.as_deref().map(PathBuf::from);
    let plan = Plan {
        max_depth: args.max_depth,
        resume_after: cursor.as_deref(),
        resume_inclusive: false,
        exclude: Some(&exclude),
    };
    let mut collect = Collect {
        nodes: Vec::new(),
        budget: Budget::of(server),
        last: None,
    };
    let report = walk::walk_path(server, &args.path, &plan, context, &mut collect)?;
    let entries = collect.budget.count();
    let ending = Ending::new(
        &report,
        report.cursor(collect.last),
        format!("the tree was cut at the budget after {entries} entries"),
        0,
    );
    let tree: Vec<_> = collect.nodes.iter().map(Node::to_json).collect();
    let mut text = serde_json::to_string(&tree).unwrap_or_default();
    if ending.note.is_some() {
        text.push('\n');
        text.push_str(&ending.line("directory_tree"));
    }
    Ok(structured(
        text.clone(),
        &Output {
            content: text,
            tree,
            entries,
            ending,
        },
    ))
}
