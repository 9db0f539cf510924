//! How a file's new content reaches the disk, for each `write_file` mode:
//! always through a temporary file in the same directory that is flushed
//! and then put in place in one step, so a reader or a crash (even a
//! SIGKILL) sees the old file or the new one, never a mix.
//!
//! - `overwrite`: the temporary file is renamed over the name.
//! - `create`: the temporary file is renamed to the name only if the name
//!   is free (a no-replace rename: the check and the move are one step).
//! - `append`: the old content is copied into the temporary file, the new
//!   tail written after it, and the result renamed over the name: a crash
//!   leaves the old content, or the old content plus the whole tail. A
//!   file that changed while it was copied is left alone and the call
//!   fails (another writer's data is never lost silently).
//!
//! # Must never
//! - replace anything but a regular file;
//! - leave a half-written file under the target's name;
//! - replace an existing file in `create` mode.

use std::{
    ffi::OsStr,
    io::{self, Write},
    path::Path,
    sync::atomic::{AtomicU64, Ordering},
};

use cap_std::fs::{Dir, Metadata, Permissions};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::{
    Target,
    error::FsError,
    platform::{atomic_replace, file_mode, no_replace_rename, write_permission},
};

/// Largest existing file `append` copies. Appending rewrites the whole
/// file (the only way a SIGKILL cannot leave a torn tail), which costs a
/// full copy per call; past this a call would spend most of its deadline
/// copying, and a log that large is better rotated than appended to.
pub const MAX_APPEND_BASE_BYTES: u64 = 256 * 1024 * 1024;

/// How `write_file` treats an existing file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    /// Replace the whole content (the file is created when missing).
    #[default]
    Overwrite,
    /// Add the content at the end (the file is created when missing).
    Append,
    /// Create the file; fail if it already exists.
    Create,
}

/// What is at the target's name before the write.
pub enum Existing {
    /// Nothing: the write creates the file.
    Missing,
    /// A regular file this user may write, with its metadata.
    File(Metadata),
}

/// Write `content` to `target` in `mode`; returns the file's new size.
///
/// # Errors
/// The target is a directory or not a regular file, exists in `create`
/// mode, is not writable, is too large to append to, changed while it was
/// copied, or an I/O step failed (the temporary file is then removed and
/// the old file untouched).
pub fn write(target: &Target<'_>, mode: WriteMode, content: &[u8]) -> Result<u64, FsError> {
    let (directory, name) = target.open_parent()?;
    let io = |error| FsError::io(&target.shown, error);
    let existing = inspect(&directory, &name, &target.shown)?;
    if let (WriteMode::Create, Existing::File(_)) = (mode, &existing) {
        return Err(already_exists(&target.shown));
    }
    let permissions: Option<Permissions> = match &existing {
        Existing::File(metadata) => Some(file_mode::preserved(metadata)),
        Existing::Missing => file_mode::for_new_file(),
    };
    // Dropping the TempFile on any error below removes it.
    let mut temp = cap_tempfile::TempFile::new(&directory).map_err(io)?;
    let mut size = 0;
    if let (WriteMode::Append, Existing::File(before)) = (mode, &existing) {
        size = copy_old_content(&directory, &name, before, temp.as_file_mut(), &target.shown)?;
    }
    temp.as_file_mut().write_all(content).map_err(io)?;
    size += content.len() as u64;
    if let Some(permissions) = permissions {
        temp.as_file().set_permissions(permissions).map_err(io)?;
    }
    temp.as_file().sync_all().map_err(io)?;
    match mode {
        WriteMode::Create => publish_new(temp, &directory, &name, &target.shown)?,
        WriteMode::Overwrite | WriteMode::Append => {
            atomic_replace::replace(temp, &name).map_err(io)?;
        }
    }
    Ok(size)
}

/// What is at `name` in `directory`: missing, or a regular file this user
/// may write. A directory, a special file or a read-only file is refused.
///
/// # Errors
/// As described; `shown` names the path in the message.
pub fn inspect(directory: &Dir, name: &OsStr, shown: &str) -> Result<Existing, FsError> {
    match directory.symlink_metadata(Path::new(name)) {
        Ok(existing) if existing.is_dir() => Err(FsError::io(
            shown,
            io::Error::from(io::ErrorKind::IsADirectory),
        )),
        Ok(existing) if !existing.is_file() => Err(FsError::Refused(format!(
            "{shown} is not a regular file and is never replaced"
        ))),
        Ok(existing) => {
            // The rename needs only the directory's permission; a file this
            // user may not write (0444, or someone else's) must stay as it
            // is, as with an in-place write. `name` is one component,
            // checked relative to the handle.
            write_permission::check(directory, Path::new(name), &existing)
                .map_err(|error| FsError::io(shown, error))?;
            Ok(Existing::File(existing))
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Existing::Missing),
        Err(error) => Err(FsError::io(shown, error)),
    }
}

/// The refusal of a `create` onto an existing name.
fn already_exists(shown: &str) -> FsError {
    FsError::Refused(format!(
        "{shown} already exists; mode \"create\" never replaces a file (use mode \"overwrite\" or \"append\")"
    ))
}

/// Copy the current content of `name` into `temp`; fails when the file
/// grew past [`MAX_APPEND_BASE_BYTES`] or changed while it was copied.
fn copy_old_content(
    directory: &Dir,
    name: &OsStr,
    before: &Metadata,
    temp: &mut cap_std::fs::File,
    shown: &str,
) -> Result<u64, FsError> {
    if before.len() > MAX_APPEND_BASE_BYTES {
        return Err(FsError::Refused(format!(
            "{shown} is {} bytes, over the {MAX_APPEND_BASE_BYTES}-byte size append rewrites; \
             rotate it or write a new file",
            before.len()
        )));
    }
    let io = |error| FsError::io(shown, error);
    let (old, opened) = crate::root::open_regular_in(directory, Path::new(name), shown)?;
    if !same_version(before, &opened) {
        return Err(changed_meanwhile(shown));
    }
    let mut old = old.into_std();
    let mut out = temp.try_clone().map_err(io)?.into_std();
    let copied = io::copy(&mut old, &mut out).map_err(io)?;
    // Another writer appended (or truncated) while we copied: renaming our
    // copy over the file would drop what it wrote.
    let after = directory.symlink_metadata(Path::new(name)).map_err(io)?;
    if copied != before.len() || !same_version(before, &after) {
        return Err(changed_meanwhile(shown));
    }
    Ok(copied)
}

/// True when two metadata snapshots show the same size and modification
/// time (portable: no inode numbers on every platform).
fn same_version(a: &Metadata, b: &Metadata) -> bool {
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

/// The failure of an append whose file another program changed meanwhile.
fn changed_meanwhile(shown: &str) -> FsError {
    FsError::Refused(format!(
        "{shown} changed while it was being appended to; nothing was written, try again"
    ))
}

/// Give the finished `temp` the name `name` only if it is free: the temp
/// file first gets a unique name of its own, then moves with a no-replace
/// rename (the check and the move are one step).
fn publish_new(
    temp: cap_tempfile::TempFile<'_>,
    directory: &Dir,
    name: &OsStr,
    shown: &str,
) -> Result<(), FsError> {
    /// Makes staging names unique within this process.
    static STAGED: AtomicU64 = AtomicU64::new(0);
    let io = |error| FsError::io(shown, error);
    let staging = format!(
        ".moat-create-{}-{}.tmp",
        std::process::id(),
        STAGED.fetch_add(1, Ordering::Relaxed)
    );
    atomic_replace::replace(temp, OsStr::new(&staging)).map_err(io)?;
    match no_replace_rename::rename(directory, Path::new(&staging), directory, Path::new(name)) {
        Ok(()) => Ok(()),
        Err(error) => {
            let _ = directory.remove_file(&staging);
            if error.kind() == io::ErrorKind::AlreadyExists {
                Err(already_exists(shown))
            } else {
                Err(io(error))
            }
        }
    }
}
