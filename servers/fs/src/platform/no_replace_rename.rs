//! Rename `from` (in one directory handle) to `to` (in another) and never
//! replace an existing `to`.
//!
//! # Guarantees per platform
//! - Linux: `renameat2(RENAME_NOREPLACE)` on the two directory handles:
//!   the existence check and the move are one atomic step. (A filesystem
//!   without the flag, e.g. some network filesystems, fails with a clear
//!   error; nothing is moved.)
//! - macOS: `renameatx_np(RENAME_EXCL)` on the two handles (rustix picks
//!   it), the same atomic step.
//! - Windows: cap-std (4.x) renames through `std::fs::rename` on the
//!   handles' paths, which always passes `MOVEFILE_REPLACE_EXISTING`, and
//!   std's `rename_noreplace` is not stable; handle-relative
//!   `SetFileInformationByHandle(FileRenameInfo)` needs `unsafe`, which this
//!   workspace forbids. So a file is moved by hard-linking it under the new
//!   name (`CreateHardLinkW` fails when the name exists: the check and the
//!   link are one step) and then removing the old name; if the removal
//!   fails the new link is removed again and the error returned. A crash
//!   between the two steps leaves both names on the same file (never a
//!   lost or overwritten one). A directory (no hard links) or a volume
//!   without hard links (FAT, exFAT) is renamed after checking the name is
//!   free; a name created in that window would be replaced only if it is a
//!   file (Windows never replaces a directory by rename). Both resolve
//!   relative to the root's handles through cap-std's sandboxed calls.

use std::{io, path::Path};

use cap_std::fs::Dir;

/// Move `from` in `from_dir` to `to` in `to_dir`; `AlreadyExists` when
/// `to` exists. Both names are single components.
///
/// # Errors
/// `AlreadyExists`, `NotFound`, or whatever the platform reports.
#[cfg(unix)]
pub fn rename(from_dir: &Dir, from: &Path, to_dir: &Dir, to: &Path) -> io::Result<()> {
    rustix::fs::renameat_with(
        from_dir,
        from,
        to_dir,
        to,
        rustix::fs::RenameFlags::NOREPLACE,
    )
    .map_err(io::Error::from)
}

/// Move `from` in `from_dir` to `to` in `to_dir`; `AlreadyExists` when
/// `to` exists. Both names are single components.
///
/// # Errors
/// `AlreadyExists`, `NotFound`, or whatever the platform reports.
#[cfg(windows)]
pub fn rename(from_dir: &Dir, from: &Path, to_dir: &Dir, to: &Path) -> io::Result<()> {
    let is_dir = from_dir.symlink_metadata(from)?.is_dir();
    if !is_dir {
        match from_dir.hard_link(from, to_dir, to) {
            Ok(()) => {
                return from_dir.remove_file(from).inspect_err(|_| {
                    // Undo: the old name stays the only one.
                    let _ = to_dir.remove_file(to);
                });
            }
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Err(error),
            // No hard links here (FAT, exFAT): the checked rename below.
            Err(_) => {}
        }
    }
    match to_dir.symlink_metadata(to) {
        Ok(_) => return Err(io::Error::from(io::ErrorKind::AlreadyExists)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    from_dir.rename(from, to_dir, to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_std::ambient_authority;

    /// A rename onto an existing file fails with AlreadyExists and leaves
    /// both files as they were; onto a free name it moves the file.
    #[test]
    fn rename_never_replaces_an_existing_name() {
        let temp = tempfile::tempdir().expect("tempdir");
        let dir = Dir::open_ambient_dir(temp.path(), ambient_authority()).expect("open");
        dir.write("a", "A").expect("write");
        dir.write("b", "B").expect("write");
        let error = rename(&dir, Path::new("a"), &dir, Path::new("b")).expect_err("exists");
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(dir.read_to_string("a").expect("a"), "A");
        assert_eq!(dir.read_to_string("b").expect("b"), "B");
        rename(&dir, Path::new("a"), &dir, Path::new("c")).expect("moved");
        assert_eq!(dir.read_to_string("c").expect("c"), "A");
        assert!(dir.symlink_metadata("a").is_err());
    }
}
