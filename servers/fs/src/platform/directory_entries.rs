//! One directory's entries, name and type, read through a handle opened
//! below a root's `Dir`.
//!
//! Linux: the directory is opened once for reading and `getdents64` fills
//! one buffer (rustix's `RawDir`), names borrowed from it. cap-std's
//! iterator costs, per entry, a mutex lock, an `Arc` clone and an owned
//! copy of the name, and opens the directory twice more (`O_PATH`, then
//! `.` for reading) before the first entry: for a listing of 1,000 entries
//! that was about half a million instructions, a fifth of the whole call.
//! Elsewhere: cap-std's iterator.
//!
//! The type comes from the listing itself (d_type), or, when the file system
//! does not say, from an lstat through the handle; an entry is never opened.
//!
//! # Must never
//! - open an entry (a FIFO would block), or follow a symbolic link;
//! - report `.` or `..`.

use std::{ffi::OsStr, path::Path};

use cap_std::fs::Dir;

use crate::walk::Kind;

/// Buffer for one `getdents64` call: 1,000 entries of short names take
/// about 32 KiB, so a listing that size needs two calls and one more to see
/// the end; a name is at most 255 bytes on Linux file systems, so one
/// entry always fits.
#[cfg(any(target_os = "linux", target_os = "android"))]
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Call `each` with the name and type of every entry of the directory
/// `path` below `parent` (symbolic links followed inside it, as
/// `Dir::open_dir` does), in the order the file system returns them.
///
/// # Errors
/// The directory cannot be opened (not found, not a directory, outside
/// `parent`) or read.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[expect(
    clippy::cast_possible_wrap,
    reason = "O_DIRECTORY is a small positive flag, never past i32::MAX"
)]
pub fn for_each(
    parent: &Dir,
    path: &Path,
    mut each: impl FnMut(&OsStr, Kind),
) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt as _;

    use cap_std::fs::{OpenOptions, OpenOptionsExt as _};
    use rustix::fs::{FileType, OFlags, RawDir};

    // Readable, unlike `open_dir`'s `O_PATH` handle; `O_DIRECTORY` refuses
    // anything else before it is opened (a FIFO never blocks).
    let mut options = OpenOptions::new();
    options.read(true);
    options.custom_flags(OFlags::DIRECTORY.bits() as i32);
    let dir = Dir::from_std_file(parent.open_with(path, &options)?.into_std());
    let mut buffer = Vec::<u8>::with_capacity(READ_BUFFER_BYTES);
    let mut entries = RawDir::new(&dir, buffer.spare_capacity_mut());
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let name = OsStr::from_bytes(name);
        let kind = match entry.file_type() {
            FileType::Symlink => Kind::Link,
            FileType::Directory => Kind::Dir,
            FileType::RegularFile => Kind::File,
            // Some file systems (older XFS, some network and FUSE ones)
            // leave d_type unset: ask without following links.
            FileType::Unknown => dir
                .symlink_metadata(name)
                .map_or(Kind::Other, |metadata| Kind::of(metadata.file_type())),
            _ => Kind::Other,
        };
        each(name, kind);
    }
    Ok(())
}

/// Call `each` with the name and type of every entry of the directory
/// `path` below `parent`, in the order the file system returns them.
///
/// # Errors
/// The directory cannot be opened or read.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn for_each(
    parent: &Dir,
    path: &Path,
    mut each: impl FnMut(&OsStr, Kind),
) -> std::io::Result<()> {
    for entry in parent.open_dir(path)?.entries()? {
        let entry = entry?;
        let kind = entry.file_type().map_or(Kind::Other, Kind::of);
        each(&entry.file_name(), kind);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry is reported once with its type, `.` and `..` never,
    /// and a directory larger than one read buffer is read to its end.
    #[test]
    fn reports_every_entry_with_its_type() {
        let temp = tempfile::tempdir().expect("temp dir");
        let root = Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority()).expect("open");
        root.create_dir("listed").expect("dir");
        let dir = root.open_dir("listed").expect("open");
        dir.create_dir("sub").expect("dir");
        #[cfg(unix)]
        dir.symlink("sub", "link").expect("symlink");
        // Long names, so the listing spans several 64 KiB reads.
        let long = "n".repeat(200);
        for index in 0..800 {
            dir.write(format!("{long}{index:04}"), "x").expect("file");
        }
        let mut seen = std::collections::BTreeMap::new();
        for_each(&root, Path::new("listed"), |name, kind| {
            assert!(
                seen.insert(name.to_string_lossy().into_owned(), kind)
                    .is_none(),
                "{name:?} reported twice"
            );
        })
        .expect("read");
        assert_eq!(seen.remove("sub"), Some(Kind::Dir));
        #[cfg(unix)]
        assert_eq!(seen.remove("link"), Some(Kind::Link));
        assert_eq!(seen.len(), 800);
        assert!(seen.values().all(|kind| *kind == Kind::File));
        let file = format!("listed/{long}0000");
        let not_a_directory = for_each(&root, Path::new(&file), |_, _| {}).expect_err("a file");
        assert_eq!(not_a_directory.kind(), std::io::ErrorKind::NotADirectory);
        assert!(for_each(&root, Path::new("../"), |_, _| {}).is_err());
    }
}
