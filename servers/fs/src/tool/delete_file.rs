//! `delete_file`: delete a file, a symlink (never what it points to) or a
//! directory; a non-empty directory only with `recursive: true`. Offered
//! only when the policy sets `allow_delete`.
//!
//! A recursive delete descends through `open_dir_nofollow` handles (one per
//! level), so a directory swapped for a symlink mid-delete is refused, not
//! followed out of the root; it stops at the visited-entry cap and the
//! deadline, says how much it deleted, and can simply be called again.
//!
//! # Must never
//! - delete a root itself, or anything outside it;
//! - follow a symlink.

use std::{ffi::OsStr, io, path::Path, time::Instant};

use cap_fs_ext::DirExt;
use cap_std::fs::Dir;
use moat_shared::{CallContext, ToolError, ToolOutput, runtime::tool::structured};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::{
    FsServer,
    confirm::{self, Step},
    error::FsError,
    walk::{Limits, MAX_WALK_DEPTH},
};

/// Arguments of `delete_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file, symlink or directory to delete.
    pub path: String,
    /// Delete a non-empty directory with everything in it.
    #[serde(default)]
    pub recursive: bool,
}

const DESCRIPTION: &str = "Delete a file, a symbolic link (not its target) or a directory. A \
directory that is not empty needs recursive: true. There is no undo: check the path first with \
get_file_info or list_directory. A very large tree may stop at the time or entry limit; call \
again to delete the rest.";

moat_shared::tool! {
    /// The `delete_file` tool.
    pub DeleteFile: BlockingTool<FsServer> = "delete_file", "Delete file", super::writes(true, true) {
        /// What happened, as in the text.
        pub content: String,
        /// Entries deleted.
        pub deleted: usize,
        /// False when a recursive delete stopped early (the rest is there).
        pub complete: bool,
    }
}

impl Output {
    /// The result: `message` as text and content.
    fn reply(message: String, deleted: usize, complete: bool) -> ToolOutput {
        structured(
            message.clone(),
            &Self {
                content: message,
                deleted,
                complete,
            },
        )
    }
}

/// Why a recursive delete stopped early.
enum Halt {
    Limit(&'static str),
    Io(io::Error),
}

struct Deleter<'a> {
    limits: &'a Limits,
    deleted: usize,
    visited: usize,
}

impl Deleter<'_> {
    fn tick(&mut self) -> Result<(), Halt> {
        if self.limits.cancel.is_cancelled() {
            return Err(Halt::Limit("the call was cancelled"));
        }
        if self.visited >= self.limits.max_visited {
            return Err(Halt::Limit("the visited-entry cap was reached"));
        }
        if Instant::now() >= self.limits.deadline {
            return Err(Halt::Limit("the call's deadline was reached"));
        }
        self.visited += 1;
        Ok(())
    }

    /// Delete directory `name` in `parent` with everything in it.
    fn tree(&mut self, parent: &Dir, name: &OsStr, depth: usize) -> Result<(), Halt> {
        if depth > MAX_WALK_DEPTH {
            return Err(Halt::Limit("the tree is deeper than the walk depth limit"));
        }
        let dir = parent.open_dir_nofollow(name).map_err(Halt::Io)?;
        let names: Vec<(std::ffi::OsString, bool)> = dir
            .entries()
            .map_err(Halt::Io)?
            .filter_map(Result::ok)
            .map(|entry| {
                let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
                (entry.file_name(), is_dir)
            })
            .collect();
        for (child, is_dir) in names {
            self.tick()?;
            if is_dir {
                self.tree(&dir, &child, depth + 1)?;
            } else {
                dir.remove_file_or_symlink(&child).map_err(Halt::Io)?;
                self.deleted += 1;
            }
        }
        drop(dir);
        parent.remove_dir(name).map_err(Halt::Io)?;
        self.deleted += 1;
        Ok(())
    }
}

/// What a delete will destroy, for the confirmation question.
fn describe(shown: &str, metadata: &cap_std::fs::Metadata, recursive: bool) -> String {
    if metadata.is_dir() {
        let contents = if recursive {
            " and everything in it"
        } else {
            " (only if it is empty)"
        };
        format!("delete the directory {shown}{contents}")
    } else if metadata.is_symlink() {
        format!("delete the symbolic link {shown} (not what it points to)")
    } else {
        format!("delete the file {shown} ({} bytes)", metadata.len())
    }
}

/// Run the tool.
pub fn run(server: &FsServer, args: &Args, context: &CallContext) -> Result<ToolOutput, ToolError> {
    if !server.policy.allow_delete {
        return Err(
            FsError::Refused("deletion is disabled by the policy (allow_delete)".into()).into(),
        );
    }
    let target = server.roots.resolve(&args.path)?;
    target.writable()?;
    let (parent_dir, name) = target.open_parent()?;
    let io = |error| FsError::io(&target.shown, error);
    let metadata = parent_dir.symlink_metadata(Path::new(&name)).map_err(io)?;
    if let Some(not_done) = confirm::before(
        server,
        context,
        Step::Delete,
        &describe(&confirm::full_path(&target), &metadata, args.recursive),
    )? {
        return Ok(Output::reply(not_done, 0, false));
    }
    if !metadata.is_dir() {
        parent_dir
            .remove_file_or_symlink(Path::new(&name))
            .map_err(io)?;
        let message = format!("Successfully deleted {}", args.path);
        return Ok(Output::reply(message, 1, true));
    }
    match parent_dir.remove_dir(Path::new(&name)) {
        Ok(()) => {
            let message = format!("Successfully deleted directory {}", args.path);
            return Ok(Output::reply(message, 1, true));
        }
        Err(error) if error.kind() == io::ErrorKind::DirectoryNotEmpty => {
            if !args.recursive {
                return Err(FsError::Refused(format!(
                    "{} is a directory that is not empty: set recursive: true to delete it with everything in it",
                    args.path
                ))
                .into());
            }
        }
        Err(error) => return Err(io(error).into()),
    }
    let limits = Limits::for_call(server.policy.max_visited, context);
    let mut deleter = Deleter {
        limits: &limits,
        deleted: 0,
        visited: 0,
    };
    match deleter.tree(&parent_dir, &name, 1) {
        Ok(()) => {
            let message = format!(
                "Successfully deleted directory {} ({} entries)",
                args.path, deleter.deleted
            );
            Ok(Output::reply(message, deleter.deleted, true))
        }
        Err(Halt::Limit("the call was cancelled")) => Err(ToolError::Cancelled),
        Err(Halt::Limit(why)) => {
            let message = format!(
                "Deleted {} entries under {}, then stopped: {why}; the rest is still there, call delete_file again to continue",
                deleter.deleted, args.path
            );
            Ok(Output::reply(message, deleter.deleted, false))
        }
        Err(Halt::Io(error)) => Err(ToolError::failed(format!(
            "deleted {} entries under {}, then failed: {}",
            deleter.deleted,
            args.path,
            ToolError::from(FsError::io(&target.shown, error)).to_line()
        ))),
    }
}
