//! May this user write an existing file? Asked before a rewrite by rename,
//! which needs only the directory's permission: a file the user may not
//! write (0444, someone else's, or read-only on Windows) must stay as it
//! is, as an in-place write would leave it.

use std::{io, path::Path};

use cap_std::fs::{Dir, Metadata};

/// `Ok` when `name` (in `dir`, described by `metadata`) may be written.
///
/// Unix: `faccessat(W_OK, AT_SYMLINK_NOFOLLOW)` relative to the handle, so
/// ACLs and ownership count, not only the mode bits.
///
/// # Errors
/// `PermissionDenied`, or the check's own failure.
#[cfg(unix)]
pub fn check(dir: &Dir, name: &Path, _metadata: &Metadata) -> io::Result<()> {
    rustix::fs::accessat(
        dir,
        name,
        rustix::fs::Access::WRITE_OK,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(io::Error::from)
}

/// `Ok` when `name` (in `dir`, described by `metadata`) may be written.
///
/// Windows: the read-only attribute. (ACLs that deny writing but allow
/// deleting are not seen here; the rename itself then succeeds, as
/// Explorer's "save" would.)
///
/// # Errors
/// `PermissionDenied` for a read-only file.
#[cfg(windows)]
pub fn check(_dir: &Dir, _name: &Path, metadata: &Metadata) -> io::Result<()> {
    if metadata.permissions().readonly() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the file is read-only",
        ));
    }
    Ok(())
}
