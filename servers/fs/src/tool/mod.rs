//! The tools, one module each, named like the MCP tool, and the table that
//! lists and dispatches them.

pub mod list_directory;
pub mod move_file;
pub mod read_text_file;
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
    /// Runs the tool (on a blocking thread: cap-std is synchronous).
    pub run: fn(&FsServer, JsonObject, &CallContext) -> Result<ToolOutput, ToolError>,
}

/// Every tool, in the order `tools/list` shows them.
pub const TOOLS: &[ToolEntry] = &[
    ToolEntry {
        name: "read_text_file",
        definition: read_text_file::definition,
        writes: false,
        run: read_text_file::run,
    },
    ToolEntry {
        name: "read_file",
        definition: read_text_file::alias_definition,
        writes: false,
        run: read_text_file::run,
    },
    ToolEntry {
        name: "write_file",
        definition: write_file::definition,
        writes: true,
        run: write_file::run,
    },
    ToolEntry {
        name: "list_directory",
        definition: list_directory::definition,
        writes: false,
        run: list_directory::run,
    },
    ToolEntry {
        name: "move_file",
        definition: move_file::definition,
        writes: true,
        run: move_file::run,
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
