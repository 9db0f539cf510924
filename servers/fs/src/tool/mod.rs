//! The tools, one module each, named like the MCP tool (each declares its
//! tool type once: name, arguments, output schema, annotations), and the
//! table that lists them.

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

/// Declares the tool modules and [`TOOLS`], from one line per module: its
/// name and the tool types it declares (`(deleting)` after one that
/// deletes).
macro_rules! tools {
    ($($module:ident: $($tool:ident $(($deleting:ident))?),+;)*) => {
        $(pub mod $module;)*

        /// Every tool, in the order `tools/list` shows them.
        pub static TOOLS: LazyLock<Vec<FsTool>> = LazyLock::new(|| {
            vec![$($(FsTool::of::<$module::$tool>()$(.$deleting())?,)+)*]
        });
    };
}

// Adding a tool: its file, and one line here.
tools! {
    read_text_file: ReadTextFile, ReadFile;
    read_media_file: ReadMediaFile;
    read_multiple_files: ReadMultipleFiles;
    write_file: WriteFile;
    edit_file: EditFile;
    create_directory: CreateDirectory;
    list_directory: ListDirectory;
    list_directory_with_sizes: ListDirectoryWithSizes;
    directory_tree: DirectoryTree;
    move_file: MoveFile;
    copy_file: CopyFile;
    delete_file: DeleteFile(deleting);
    search_files: SearchFiles;
    search_file_contents: SearchFileContents;
    get_file_info: GetFileInfo;
    list_allowed_directories: ListAllowedDirectories;
}

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
    // An empty set (no exclusions given, or no slash-free pattern) is
    // skipped before globset builds its candidate: building one per entry
    // per set was a tenth of a 100,000-file walk's instructions.
    (!set.is_empty() && set.is_match(rel)) || (!name_set.is_empty() && name_set.is_match(name))
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

/// A reader that fails once a deadline passes or the call is cancelled, so
/// one huge file cannot hold a copy or a content search past its deadline.
pub struct Bounded<R> {
    /// The file read.
    pub inner: R,
    /// When reading stops with `TimedOut`.
    pub deadline: std::time::Instant,
    /// The call's cancellation.
    pub cancel: tokio_util::sync::CancellationToken,
}

impl<R: std::io::Read> std::io::Read for Bounded<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        if self.cancel.is_cancelled() || std::time::Instant::now() >= self.deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "deadline",
            ));
        }
        self.inner.read(buffer)
    }
}
