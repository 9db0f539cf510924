//! The tools, one module each, named like the MCP tool (each declares its
//! tool type once: name, arguments, output schema, annotations), and the
//! table that lists them.

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

use std::sync::LazyLock;

use moat_shared::{
    ToolError,
    runtime::tool::{BlockingTool, ToolEntry},
};
use rmcp::model::{JsonObject, ToolAnnotations};

use crate::FsServer;

/// Declares `Structured`, the `Output` of the tool in the calling module:
/// its schema is the given one (the reference server's `{content, ...}`
/// shape), and `run` builds the JSON field by field. Only for the tools
/// whose result is a large text (`read_text_file`, `list_directory`):
/// serialising a typed `Output` would copy that text once more. Every
/// other tool returns its typed `Output` through `structured`.
macro_rules! structured_output {
    ($schema:expr) => {
        /// `structuredContent` of this tool.
        pub struct Structured;

        // Never serialised: `run` builds the JSON itself. The bound is
        // for `Tool::Output`.
        impl serde::Serialize for Structured {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_unit()
            }
        }

        impl schemars::JsonSchema for Structured {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed("Structured")
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::Schema::from((*$schema).clone())
            }
        }
    };
}
pub(crate) use structured_output;

/// One moat-fs tool: its entry, and when it is offered.
pub struct FsTool {
    /// Name, definition and body.
    pub entry: ToolEntry<FsServer>,
    /// Whether the tool changes files (hidden when no root is writable):
    /// every tool not annotated read-only.
    pub writes: bool,
    /// Whether the tool deletes (hidden unless the policy allows deletion).
    pub deletes: bool,
}

impl FsTool {
    /// The table line of tool `T`.
    fn of<T: BlockingTool<FsServer>>() -> Self {
        Self {
            entry: ToolEntry::blocking::<T>(),
            writes: T::annotations().read_only_hint != Some(true),
            deletes: false,
        }
    }

    /// Mark the tool as one that deletes.
    fn deleting(mut self) -> Self {
        self.deletes = true;
        self
    }
}

/// Every tool, in the order `tools/list` shows them. Adding a tool: its
/// module above, and one line here.
pub static TOOLS: LazyLock<Vec<FsTool>> = LazyLock::new(|| {
    vec![
        FsTool::of::<read_text_file::ReadTextFile>(),
        FsTool::of::<read_text_file::ReadFile>(),
        FsTool::of::<read_media_file::ReadMediaFile>(),
        FsTool::of::<read_multiple_files::ReadMultipleFiles>(),
        FsTool::of::<write_file::WriteFile>(),
        FsTool::of::<edit_file::EditFile>(),
        FsTool::of::<create_directory::CreateDirectory>(),
        FsTool::of::<list_directory::ListDirectory>(),
        FsTool::of::<list_directory_with_sizes::ListDirectoryWithSizes>(),
        FsTool::of::<directory_tree::DirectoryTree>(),
        FsTool::of::<move_file::MoveFile>(),
        FsTool::of::<copy_file::CopyFile>(),
        FsTool::of::<delete_file::DeleteFile>().deleting(),
        FsTool::of::<search_files::SearchFiles>(),
        FsTool::of::<search_file_contents::SearchFileContents>(),
        FsTool::of::<get_file_info::GetFileInfo>(),
        FsTool::of::<list_allowed_directories::ListAllowedDirectories>(),
    ]
});

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

/// The byte budget of one result: the policy's.
pub fn budget(server: &FsServer) -> usize {
    server.policy.max_result_bytes
}

/// The entry budget of one result: the policy's.
pub fn entry_budget(server: &FsServer) -> usize {
    server.policy.max_entries
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

/// Excluding by glob patterns ([`glob_pair`]): by path or, for patterns
/// without a `/`, by name.
impl crate::walk::Exclude for (globset::GlobSet, globset::GlobSet) {
    fn excludes(&self, entry: &crate::walk::Entry<'_>) -> bool {
        glob_matches(&self.0, &self.1, entry.rel, entry.name)
    }
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
