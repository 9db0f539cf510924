//! The tools, one module each, named like the MCP tool, and the table that
//! lists and dispatches them.

pub mod copy_file;
pub mod create_directory;
pub mod delete_file;
pub mod directory_tree;
pub mod edit_file;
pub mod get_file_info;
pub mod list_allowed_directories;
pub mod list_directory;
pub mod list_directory_with_sizes;
pub mod move_file;
pub mod read_media_file;
pub mod read_multiple_files;
pub mod read_text_file;
pub mod search_file_contents;
pub mod search_files;
pub mod write_file;

use moat_shared::{CallContext, ToolError, ToolOutput};
use rmcp::model::{JsonObject, Tool, ToolAnnotations};

use crate::FsServer;

/// One tool: its definition and its body.
pub struct ToolEntry {
    /// MCP name.
    pub name: &'static str,
    /// Builds the `tools/list` entry.
    pub definition: fn() -> Tool,
    /// Whether the tool changes files (hidden when no root is writable).
    pub writes: bool,
    /// Whether the tool deletes (hidden unless the policy allows deletion).
    pub deletes: bool,
    /// Runs the tool (on a blocking thread: cap-std is synchronous).
    pub run: fn(&FsServer, JsonObject, &CallContext) -> Result<ToolOutput, ToolError>,
}

/// Every tool, in the order `tools/list` shows them.
pub const TOOLS: &[ToolEntry] = &[
    ToolEntry {
        name: "read_text_file",
        definition: read_text_file::definition,
        writes: false,
        deletes: false,
        run: read_text_file::run,
    },
    ToolEntry {
        name: "read_file",
        definition: read_text_file::alias_definition,
        writes: false,
        deletes: false,
        run: read_text_file::run,
    },
    ToolEntry {
        name: "read_media_file",
        definition: read_media_file::definition,
        writes: false,
        deletes: false,
        run: read_media_file::run,
    },
    ToolEntry {
        name: "read_multiple_files",
        definition: read_multiple_files::definition,
        writes: false,
        deletes: false,
        run: read_multiple_files::run,
    },
    ToolEntry {
        name: "write_file",
        definition: write_file::definition,
        writes: true,
        deletes: false,
        run: write_file::run,
    },
    ToolEntry {
        name: "edit_file",
        definition: edit_file::definition,
        writes: true,
        deletes: false,
        run: edit_file::run,
    },
    ToolEntry {
        name: "create_directory",
        definition: create_directory::definition,
        writes: true,
        deletes: false,
        run: create_directory::run,
    },
    ToolEntry {
        name: "list_directory",
        definition: list_directory::definition,
        writes: false,
        deletes: false,
        run: list_directory::run,
    },
    ToolEntry {
        name: "list_directory_with_sizes",
        definition: list_directory_with_sizes::definition,
        writes: false,
        deletes: false,
        run: list_directory_with_sizes::run,
    },
    ToolEntry {
        name: "directory_tree",
        definition: directory_tree::definition,
        writes: false,
        deletes: false,
        run: directory_tree::run,
    },
    ToolEntry {
        name: "move_file",
        definition: move_file::definition,
        writes: true,
        deletes: false,
        run: move_file::run,
    },
    ToolEntry {
        name: "copy_file",
        definition: copy_file::definition,
        writes: true,
        deletes: false,
        run: copy_file::run,
    },
    ToolEntry {
        name: "delete_file",
        definition: delete_file::definition,
        writes: true,
        deletes: true,
        run: delete_file::run,
    },
    ToolEntry {
        name: "search_files",
        definition: search_files::definition,
        writes: false,
        deletes: false,
        run: search_files::run,
    },
    ToolEntry {
        name: "search_file_contents",
        definition: search_file_contents::definition,
        writes: false,
        deletes: false,
        run: search_file_contents::run,
    },
    ToolEntry {
        name: "get_file_info",
        definition: get_file_info::definition,
        writes: false,
        deletes: false,
        run: get_file_info::run,
    },
    ToolEntry {
        name: "list_allowed_directories",
        definition: list_allowed_directories::definition,
        writes: false,
        deletes: false,
        run: list_allowed_directories::run,
    },
];

/// Annotations of a tool that only reads (MCP 2025-11-25 schema
/// `ToolAnnotations`): read-only, idempotent, closed world.
pub fn read_only() -> ToolAnnotations {
    ToolAnnotations::new()
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(false)
}

/// Annotations of a tool that writes.
pub fn writes(destructive: bool, idempotent: bool) -> ToolAnnotations {
    ToolAnnotations::new()
        .read_only(false)
        .destructive(destructive)
        .idempotent(idempotent)
        .open_world(false)
}

/// An output schema `{content: string, ...}` as the reference server
/// declares, with extra typed fields.
pub fn output_schema(properties: serde_json::Value) -> std::sync::Arc<JsonObject> {
    let mut props = serde_json::json!({ "content": { "type": "string" } });
    if let (Some(all), serde_json::Value::Object(extra)) = (props.as_object_mut(), properties) {
        all.extend(extra);
    }
    let schema = serde_json::json!({
        "type": "object",
        "properties": props,
        "required": ["content"],
    });
    match schema {
        serde_json::Value::Object(map) => std::sync::Arc::new(map),
        _ => std::sync::Arc::default(),
    }
}

/// The byte budget of one result: the call's `maxBytes` when given, never
/// above the policy's.
pub fn budget(server: &FsServer, requested: Option<usize>) -> usize {
    let ceiling = server.policy.max_result_bytes;
    requested.map_or(ceiling, |asked| asked.clamp(1, ceiling))
}

/// The entry budget of one result: the call's `maxEntries` when given,
/// never above the policy's.
pub fn entry_budget(server: &FsServer, requested: Option<usize>) -> usize {
    let ceiling = server.policy.max_entries;
    requested.map_or(ceiling, |asked| asked.clamp(1, ceiling))
}

/// Glob patterns compiled into one matcher, with a clear error naming the
/// bad one.
pub fn glob_set(patterns: &[String], field: &str) -> Result<globset::GlobSet, ToolError> {
    let mut builder = globset::GlobSetBuilder::new();
    for pattern in patterns {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|error| {
                ToolError::invalid(format!("{field}: bad glob {pattern:?}: {}", error.kind()))
            })?;
        builder.add(glob);
    }
    builder
        .build()
        .map_err(|error| ToolError::invalid(format!("{field}: {error}")))
}

/// True when a glob set matches a walked entry: by its path relative to the
/// search start, or, for patterns without a `/`, by its name alone (so
/// `*.rs` or `node_modules` match at any depth, as in `.gitignore`).
pub fn glob_matches(
    set: &globset::GlobSet,
    name_set: &globset::GlobSet,
    rel: &std::path::Path,
    name: &std::ffi::OsStr,
) -> bool {
    set.is_match(rel) || name_set.is_match(name)
}

/// Split patterns into (all, slash-free) matchers for [`glob_matches`].
pub fn glob_pair(
    patterns: &[String],
    field: &str,
) -> Result<(globset::GlobSet, globset::GlobSet), ToolError> {
    let all = glob_set(patterns, field)?;
    let names: Vec<String> = patterns
        .iter()
        .filter(|pattern| !pattern.contains('/'))
        .cloned()
        .collect();
    Ok((all, glob_set(&names, field)?))
}
