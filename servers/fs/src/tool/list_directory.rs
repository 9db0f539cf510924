//! `list_directory`: a directory's entries, one per line, marked `[DIR]`,
//! `[FILE]`, `[LINK]` or `[OTHER]`.
//!
//! Entry types come from the directory listing itself (d_type, or an
//! lstat through the directory handle), never from opening the entry: a
//! FIFO in the directory must not block the listing.

use moat_shared::{ToolError, ToolOutput};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{FsServer, Target, error::FsError, walk::Kind};

/// Arguments of `list_directory`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The directory.
    pub path: String,
    /// Skip this many entries (for continuing a cut listing).
    #[serde(default)]
    pub offset: usize,
}

const DESCRIPTION: &str = "List a directory's entries, one per line: [DIR], [FILE], [LINK] \
(symbolic link) or [OTHER]. Use it to see what a folder holds; use directory_tree or \
search_files to look deeper. Long listings are cut and say which offset continues them.";

moat_shared::tool! {
    /// The `list_directory` tool.
    pub ListDirectory: BlockingTool<FsServer> = "list_directory", "List directory", super::read_only(), output: Structured;

    |server, args, _context| run(server, &args)
}

super::structured_output!(super::output_schema(json!({
    "total": { "type": "integer" },
    "nextOffset": { "type": ["integer", "null"] },
})));

/// One listed entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its name.
    pub name: String,
    /// What it is.
    pub kind: Kind,
}

/// The entries of `target` (sorted by name, deny globs hidden).
pub fn entries(server: &FsServer, target: &Target<'_>) -> Result<Vec<Entry>, FsError> {
    let io = |error| FsError::io(&target.shown, error);
    let directory = target.root.dir.open_dir(&target.rel).map_err(io)?;
    let denies = server.roots.has_deny_globs();
    let mut entries = Vec::new();
    for entry in directory.entries().map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if denies && server.roots.is_denied(target.root, &target.rel.join(&name)) {
            continue;
        }
        let kind = entry.file_type().map_or(Kind::Other, Kind::of);
        entries.push(Entry { name, kind });
    }
    // Unstable (no scratch buffer): names in one directory are distinct,
    // and the sort is deterministic, so pages cut with `offset` agree.
    entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// Run the tool.
///
/// `structuredContent` carries the listing once, as `content` (the same
/// lines as the text): an `entries` array of `{name, type}` objects beside
/// it doubled the answer (a 1,000-entry listing was twice the reference
/// server's size and took twice as long to write and parse) and told a
/// client nothing the `[MARKER] name` lines do not.
pub fn run(server: &FsServer, args: &Args) -> Result<ToolOutput, ToolError> {
    let target = server.roots.resolve(&args.path)?;
    let all = entries(server, &target)?;
    let total = all.len();
    let mut text = String::new();
    let mut listed = 0usize;
    let mut next = None;
    for (index, entry) in all.iter().enumerate().skip(args.offset) {
        let marker = entry.kind.marker();
        // "[MARKER] name\n"
        let line_bytes = marker.len() + 1 + entry.name.len() + 1;
        if listed >= server.policy.max_entries
            || text.len() + line_bytes > server.policy.max_result_bytes
        {
            next = Some(index);
            break;
        }
        text.push_str(marker);
        text.push(' ');
        text.push_str(&entry.name);
        text.push('\n');
        listed += 1;
    }
    let content = text.clone();
    if total == 0 {
        text.push_str("(empty directory)\n");
    }
    if let Some(next) = next {
        text.push_str(&format!(
            "[cut at {listed} of {total} entries; call list_directory with offset={next} to continue]\n"
        ));
    }
    let mut structured = Map::new();
    structured.insert("content".into(), Value::String(content));
    structured.insert("total".into(), total.into());
    structured.insert("nextOffset".into(), next.into());
    Ok(ToolOutput::with_structured(text, Value::Object(structured)))
}
