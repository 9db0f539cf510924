//! `write_file`: create or replace a file, atomically.
//!
//! The content goes to a temporary file in the same directory, is flushed to
//! disk, and is renamed over the target in one step, so a reader (or a crash)
//! sees the complete old file or the complete new one, never a mix. On any
//! failure the temporary file is removed and the old file is untouched.

use moat_shared::{CallContext, ToolError, ToolOutput, runtime::tool::structured};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::{
    FsServer, Target,
    confirm::Step,
    error::FsError,
    file_write::{self, WriteMode},
};

/// Arguments of `write_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file to create or replace; its directory must exist.
    pub path: String,
    /// The complete new content (`overwrite`, `create`) or the text to add
    /// at the end (`append`).
    pub content: String,
    /// `overwrite` (default): replace the file; `append`: add the content
    /// at the end; `create`: fail if the file exists.
    #[serde(default)]
    pub mode: WriteMode,
}

const DESCRIPTION: &str = "Create a file, or replace an existing file's whole content. Use \
edit_file instead to change part of a file. mode \"append\" adds the content at the end (for logs \
and notes, without resending the file); mode \"create\" fails if the file exists. The write is \
atomic: the file holds either its old or its new content, never a mix. The parent directory must \
exist (create_directory makes it).";

moat_shared::tool! {
    /// The `write_file` tool.
    pub WriteFile: BlockingTool<FsServer> = "write_file", "Write file", super::writes(true, true) {
        /// What happened, as in the text.
        pub content: String,
        /// Bytes written (for `append`, the bytes added).
        pub bytes: usize,
        /// The file's size afterwards.
        pub size: u64,
    }
}

/// Run the tool.
pub fn run(server: &FsServer, args: &Args, context: &CallContext) -> Result<ToolOutput, ToolError> {
    let target = server.roots.resolve(&args.path)?;
    target.writable()?;
    let limit = server.policy.max_write_bytes;
    if args.content.len() as u64 > limit {
        return Err(FsError::Refused(format!(
            "content is {} bytes, over the {limit}-byte write limit",
            args.content.len()
        ))
        .into());
    }
    let target = follow_final_symlink(server, target)?;
    if args.mode == WriteMode::Overwrite
        && let Some(not_done) = confirm_replace(server, &target, args, context)?
    {
        return Ok(not_done);
    }
    let size = file_write::write(&target, args.mode, args.content.as_bytes())?;
    let message = match args.mode {
        WriteMode::Append => format!(
            "Successfully appended {} bytes to {} (now {size} bytes)",
            args.content.len(),
            args.path
        ),
        WriteMode::Overwrite | WriteMode::Create => format!("Successfully wrote to {}", args.path),
    };
    Ok(structured(
        message.clone(),
        &Output {
            content: message,
            bytes: args.content.len(),
            size,
        },
    ))
}

/// Ask before replacing an existing file's content (`[fs.confirm]
/// overwrite`); `Some` is the "not done" result.
fn confirm_replace(
    server: &FsServer,
    target: &Target<'_>,
    args: &Args,
    context: &CallContext,
) -> Result<Option<ToolOutput>, ToolError> {
    let Ok(existing) = target.root.dir.symlink_metadata(&target.rel) else {
        return Ok(None);
    };
    if !existing.is_file() {
        return Ok(None);
    }
    let what = format!(
        "replace the whole content of {} ({} bytes) with {} new bytes",
        crate::confirm::full_path(target),
        existing.len(),
        args.content.len()
    );
    let not_done = crate::confirm::before(server, context, Step::Overwrite, &what)?;
    Ok(not_done.map(|line| {
        structured(
            line.clone(),
            &Output {
                content: line,
                bytes: 0,
                size: existing.len(),
            },
        )
    }))
}

/// When the target is a symlink (inside the root), write to what it points
/// at rather than replacing the link with a file; the result is checked
/// against the deny globs again.
pub fn follow_final_symlink<'a>(
    server: &'a FsServer,
    target: Target<'a>,
) -> Result<Target<'a>, ToolError> {
    let is_link = target
        .root
        .dir
        .symlink_metadata(&target.rel)
        .is_ok_and(|metadata| metadata.file_type().is_symlink());
    if !is_link {
        return Ok(target);
    }
    // cap-std resolves inside the root or fails: a link out is an escape.
    let resolved = target
        .root
        .dir
        .canonicalize(&target.rel)
        .map_err(|error| FsError::io(&target.shown, error))?;
    server.roots.check_deny(&target, &resolved)?;
    Ok(Target {
        rel: resolved,
        ..target
    })
}

/// Write `content` to `target` through a temporary file and a rename.
pub fn atomic_write(target: &Target<'_>, content: &[u8]) -> Result<(), FsError> {
    file_write::write(target, WriteMode::Overwrite, content).map(drop)
}
