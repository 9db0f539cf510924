//! `list_allowed_directories`: the directories this call may use, with
//! their mode; when the client sent MCP roots, the ones that passed the
//! operator's ceiling.
//!
//! # Must never
//! - show a directory the call could not actually use.

use moat_shared::{ToolError, ToolOutput, policy::Mode};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::FsServer;

/// Arguments of `list_allowed_directories` (none).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {}

const DESCRIPTION: &str = "List the directories this server may access, each marked read-write \
or read-only. Call it first to learn where paths may point; relative paths resolve against the \
first one.";

moat_shared::tool! {
    /// The `list_allowed_directories` tool.
    pub ListAllowedDirectories: Tool<FsServer> = "list_allowed_directories", "List allowed directories";
    (Args) -> Structured, super::read_only(), DESCRIPTION;
    blocking |server, args, _context| run(server, &args)
}

super::structured_output!(super::output_schema(json!({
    "directories": { "type": "array", "items": { "type": "object" } },
})));

/// Run the tool.
pub fn run(server: &FsServer, _args: &Args) -> Result<ToolOutput, ToolError> {
    let mut text = String::from("Allowed directories:\n");
    let mut directories = Vec::new();
    for root in server.roots.all() {
        let mode = match root.mode {
            Mode::Rw => "read-write",
            Mode::Ro => "read-only",
        };
        let path = root.given.to_string_lossy();
        text.push_str(&format!("{path} ({mode})\n"));
        directories.push(json!({ "path": path, "mode": mode }));
    }
    if directories.is_empty() {
        text.push_str(
            "(none: no directory was configured and the client has not provided MCP roots)\n",
        );
    }
    Ok(ToolOutput::with_structured(
        text.clone(),
        json!({ "content": text, "directories": directories }),
    ))
}
