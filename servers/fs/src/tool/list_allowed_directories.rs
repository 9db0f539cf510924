//! `list_allowed_directories`: the directories this call may use, with
//! their mode; when the client sent MCP roots, the ones that passed the
//! operator's ceiling.
//!
//! # Must never
//! - show a directory the call could not actually use.

use moat_shared::{CallContext, ToolError, ToolOutput, policy::Mode, runtime::tool::structured};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
    pub ListAllowedDirectories: BlockingTool<FsServer> = "list_allowed_directories", "List allowed directories", super::read_only() {
        /// The text result.
        pub content: String,
        /// Each directory and its mode.
        pub directories: Vec<Allowed>,
    }
}

/// One allowed directory.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct Allowed {
    /// The directory, as configured or as the client's root gave it.
    pub path: String,
    /// `read-write` or `read-only`.
    pub mode: &'static str,
}

/// Run the tool.
pub fn run(server: &FsServer, _args: &Args, _: &CallContext) -> Result<ToolOutput, ToolError> {
    let mut text = String::from("Allowed directories:\n");
    let mut directories = Vec::new();
    for root in server.roots.all() {
        let mode = match root.mode {
            Mode::Rw => "read-write",
            Mode::Ro => "read-only",
        };
        let path = root.given.to_string_lossy();
        text.push_str(&format!("{path} ({mode})\n"));
        directories.push(Allowed {
            path: path.into_owned(),
            mode,
        });
    }
    if directories.is_empty() {
        text.push_str(
            "(none: no directory was configured and the client has not provided MCP roots)\n",
        );
    }
    Ok(structured(
        text.clone(),
        &Output {
            content: text,
            directories,
        },
    ))
}
