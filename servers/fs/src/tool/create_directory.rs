//! `create_directory`: make a directory and any missing parents; an
//! existing directory is success.
//!
//! # Must never
//! - create anything outside the root (cap-std's `create_dir_all` resolves
//!   every component through the root's handle);
//! - report success when the path exists as something else.

use moat_shared::{
    CallContext, ToolError, ToolOutput,
    runtime::tool::{BlockingTool, Tool},
};
use rmcp::model::ToolAnnotations;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::{FsServer, error::FsError};

/// Arguments of `create_directory`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The directory to create (with its missing parents).
    pub path: String,
}

const DESCRIPTION: &str = "Create a directory, with any missing parent directories. Succeeds \
quietly if it already exists. Use it before write_file when the folder is new.";

/// The `create_directory` tool.
pub struct CreateDirectory;

impl Tool<FsServer> for CreateDirectory {
    const NAME: &'static str = "create_directory";
    const TITLE: &'static str = "Create directory";
    const DESCRIPTION: &'static str = DESCRIPTION;
    type Args = Args;
    type Output = Structured;

    fn annotations() -> ToolAnnotations {
        super::writes(false, true)
    }
}

impl BlockingTool<FsServer> for CreateDirectory {
    fn run(server: &FsServer, args: Args, context: &CallContext) -> Result<ToolOutput, ToolError> {
        run(server, &args, context)
    }
}

super::structured_output!(super::output_schema(json!({
    "created": { "type": "boolean" },
})));

/// Run the tool.
pub fn run(
    server: &FsServer,
    args: &Args,
    _context: &CallContext,
) -> Result<ToolOutput, ToolError> {
    let target = server.roots.resolve(&args.path)?;
    target.writable()?;
    let dir = &target.root.dir;
    let existed = match dir.metadata(&target.rel) {
        Ok(metadata) if metadata.is_dir() => true,
        Ok(_) => {
            return Err(FsError::Refused(format!(
                "{} exists and is not a directory",
                target.shown
            ))
            .into());
        }
        Err(_) => false,
    };
    if !existed {
        dir.create_dir_all(&target.rel)
            .map_err(|error| FsError::io(&target.shown, error))?;
    }
    let message = if existed {
        format!("Directory already exists: {}", args.path)
    } else {
        format!("Successfully created directory {}", args.path)
    };
    Ok(ToolOutput::with_structured(
        message.clone(),
        json!({ "content": message, "created": !existed }),
    ))
}
