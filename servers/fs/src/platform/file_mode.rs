//! A file's permissions: kept across a rewrite (write_file, edit_file) and
//! a copy, given to new files, and described for get_file_info.
//!
//! Unix: the mode bits (`& 0o7777`: permission, setuid/setgid, sticky).
//! Windows: the read-only attribute, the only permission a file's metadata
//! carries (ACLs are inherited from the directory).

use cap_std::fs::{Metadata, Permissions};

/// Mode of a new file on Unix: owner read-write, others read, as `touch`
/// gives under the usual umask 022.
#[cfg(unix)]
const NEW_FILE_MODE: u32 = 0o644;

/// The permissions `metadata`'s file has, to give its replacement or copy.
#[cfg(unix)]
pub fn preserved(metadata: &Metadata) -> Permissions {
    use cap_std::fs::PermissionsExt;
    Permissions::from_mode(metadata.permissions().mode() & 0o7777)
}

/// The permissions `metadata`'s file has, to give its replacement or copy.
#[cfg(windows)]
pub fn preserved(metadata: &Metadata) -> Permissions {
    metadata.permissions()
}

/// The permissions a new file gets, or `None` to keep what the system gave.
#[cfg(unix)]
pub fn for_new_file() -> Option<Permissions> {
    use cap_std::fs::PermissionsExt;
    Some(Permissions::from_mode(NEW_FILE_MODE))
}

/// The permissions a new file gets, or `None` to keep what the system gave
/// (Windows: inherited ACLs, not read-only).
#[cfg(windows)]
pub fn for_new_file() -> Option<Permissions> {
    None
}

/// How get_file_info shows permissions and owner: octal mode, uid, gid.
#[cfg(unix)]
pub fn describe(metadata: &Metadata) -> (String, Option<u32>, Option<u32>) {
    use cap_std::fs::{MetadataExt, PermissionsExt};
    let mode = metadata.permissions().mode() & 0o7777;
    (
        format!("{mode:o}"),
        Some(metadata.uid()),
        Some(metadata.gid()),
    )
}

/// How get_file_info shows permissions and owner on Windows: `444` for a
/// read-only file, `666` otherwise (what Node's `fs.stat` reports, so
/// clients of the reference server see the same), no uid or gid.
#[cfg(windows)]
pub fn describe(metadata: &Metadata) -> (String, Option<u32>, Option<u32>) {
    let mode = if metadata.permissions().readonly() {
        "444"
    } else {
        "666"
    };
    (mode.to_string(), None, None)
}
