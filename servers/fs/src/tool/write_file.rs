//! `write_file`: create or replace a file, atomically.
//!
//! The content goes to a temporary file in the same directory, is flushed to
//! disk, and is renamed over the target in one step, so a reader (or a crash)
//! sees the complete old file or the complete new one, never a mix. On any
//! failure the temporary file is removed and the old file is untouched.

use std::{io::Write, path::Path};

use cap_std::fs::Dir;
use moat_shared::{CallContext, ToolError, ToolOutput, runtime::tool::structured};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    FsServer, Target,
    error::FsError,
    platform::{atomic_replace, file_mode, write_permission},
};

/// Arguments of `write_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file to create or replace; its directory must exist.
    pub path: String,
    /// The complete new content.
    pub content: String,
}

const DESCRIPTION: &str = "Create a file, or replace an existing file's whole content. Use \
edit_file instead to change part of a file. The write is atomic: the file holds either its old \
or its new content, never a mix. The parent directory must exist (create_directory makes it).";

moat_shared::tool! {
    /// The `write_file` tool.
    pub WriteFile: Tool<FsServer> = "write_file", "Write file";
    (Args) -> Output, super::writes(true, true), DESCRIPTION;
    blocking |server, args, context| run(server, &args, context)
}

/// `structuredContent` of `write_file`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Output {
    /// What happened, as in the text.
    pub content: String,
    /// Bytes written.
    pub bytes: usize,
}

/// Run the tool.
pub fn run(
    server: &FsServer,
    args: &Args,
    _context: &CallContext,
) -> Result<ToolOutput, ToolError> {
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
    atomic_write(&target, args.content.as_bytes())?;
    let message = format!("Successfully wrote to {}", args.path);
    let bytes = args.content.len();
    Ok(structured(
        message.clone(),
        &Output {
            content: message,
            bytes,
        },
    ))
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
    let (parent, name) = target.split()?;
    let io = |error| FsError::io(&target.shown, error);
    let directory: Dir = target.root.dir.open_dir(&parent).map_err(io)?;
    let permissions = match directory.symlink_metadata(Path::new(&name)) {
        Ok(existing) if existing.is_dir() => {
            return Err(FsError::io(
                &target.shown,
                std::io::Error::from(std::io::ErrorKind::IsADirectory),
            ));
        }
        Ok(existing) if !existing.is_file() => {
            return Err(FsError::Refused(format!(
                "{} is not a regular file and is never replaced",
                target.shown
            )));
        }
        Ok(existing) => {
            // The rename below needs only the directory's permission; a file
            // this user may not write (0444, or someone else's) must stay
            // as it is, as with an in-place write.
            // `name` is one component, checked relative to the handle.
            write_permission::check(&directory, Path::new(&name), &existing).map_err(io)?;
            Some(file_mode::preserved(&existing))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => file_mode::for_new_file(),
        Err(error) => return Err(io(error)),
    };
    // Dropping the TempFile on any error below removes it.
    let mut temp = cap_tempfile::TempFile::new(&directory).map_err(io)?;
    temp.as_file_mut().write_all(content).map_err(io)?;
    if let Some(permissions) = permissions {
        temp.as_file().set_permissions(permissions).map_err(io)?;
    }
    temp.as_file().sync_all().map_err(io)?;
    atomic_replace::replace(temp, &name).map_err(io)?;
    Ok(())
}
