//! `move_file`: move or rename a file or directory, never over an existing
//! one.
//!
//! The rename never replaces the destination, through the two parent
//! directories' handles (`platform::no_replace_rename`: one atomic step on
//! Linux and macOS; what Windows guarantees is said there).

use moat_shared::{CallContext, ToolError, ToolOutput, runtime::tool::structured};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::{FsServer, error::FsError, platform::no_replace_rename};

/// Arguments of `move_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// What to move.
    pub source: String,
    /// Where it goes; must not exist yet.
    pub destination: String,
}

const DESCRIPTION: &str = "Move or rename a file or directory. Fails if the destination already \
exists (nothing is ever overwritten); delete or rename the destination first if that is what you \
want. Both paths must be in writable allowed directories.";

moat_shared::tool! {
    /// The `move_file` tool.
    pub MoveFile: BlockingTool<FsServer> = "move_file", "Move file", super::writes(true, false) {
        /// What happened, as in the text.
        pub content: String,
    }
}

/// Run the tool.
pub fn run(server: &FsServer, args: &Args, _: &CallContext) -> Result<ToolOutput, ToolError> {
    let source = server.roots.resolve(&args.source)?;
    let destination = server.roots.resolve(&args.destination)?;
    source.writable()?;
    destination.writable()?;
    let (source_dir, source_name) = source.open_parent()?;
    let (destination_dir, destination_name) = destination.open_parent()?;
    // Names are single normalised components (never `.`, `..` or with a
    // slash), so this cannot leave either directory.
    no_replace_rename::rename(
        &source_dir,
        source_name.as_ref(),
        &destination_dir,
        destination_name.as_ref(),
    )
    .map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            FsError::Refused(format!(
                "destination already exists: {} (move_file never overwrites)",
                destination.shown
            ))
        } else if error.kind() == std::io::ErrorKind::NotFound {
            FsError::io(&source.shown, error)
        } else {
            FsError::io(&format!("{} -> {}", source.shown, destination.shown), error)
        }
    })?;
    let message = format!("Successfully moved {} to {}", args.source, args.destination);
    Ok(structured(message.clone(), &Output { content: message }))
}
