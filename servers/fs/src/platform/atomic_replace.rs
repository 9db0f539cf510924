//! Put a finished temporary file over a name in one step.
//!
//! # Guarantees per platform
//! - Linux and macOS: `renameat` on the directory handle; a reader sees the
//!   old file or the new one, never a mix, and a crash leaves one of them.
//! - Windows: cap-tempfile renames through `std::fs::rename`, i.e.
//!   `SetFileInformationByHandle(FileRenameInfoEx)` with POSIX semantics
//!   and replace-if-exists (falling back to `MoveFileExW` with
//!   `MOVEFILE_REPLACE_EXISTING`): one metadata operation on NTFS, so the
//!   name holds the old or the new content. A target another program holds
//!   open without delete sharing cannot be replaced: the call fails, the
//!   temporary file is removed, and the old file stays.

use std::{ffi::OsStr, io};

/// Rename `temp` over `name` in its directory.
///
/// # Errors
/// The rename's error; the temporary file is then removed (cap-tempfile's
/// drop) and `name` is untouched.
pub fn replace(temp: cap_tempfile::TempFile<'_>, name: &OsStr) -> io::Result<()> {
    temp.replace(name).map_err(|error| {
        if cfg!(windows) && error.kind() == io::ErrorKind::PermissionDenied {
            io::Error::new(
                error.kind(),
                format!("{error} (the file may be open in another program)"),
            )
        } else {
            error
        }
    })
}
