//! moat-fs errors, and how each becomes the one line a model reads.

use std::io;

use moat_shared::ToolError;

/// Why a filesystem tool failed.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The path is outside every root, or leads out of one (via `..` or a
    /// symlink).
    #[error("access denied: {0} is outside the allowed directories")]
    OutsideRoots(String),
    /// The path matches one of the policy's deny globs.
    #[error("access denied: {0} matches a deny rule of the policy")]
    DeniedByPolicy(String),
    /// A write into a read-only root.
    #[error("access denied: {0} is in a read-only directory")]
    ReadOnly(String),
    /// The path string itself is unusable.
    #[error("invalid path {path:?}: {reason}")]
    BadPath {
        /// The path as given.
        path: String,
        /// Why it is unusable.
        reason: &'static str,
    },
    /// The arguments are inconsistent.
    #[error("invalid arguments: {0}")]
    Invalid(String),
    /// The operation is refused by policy (e.g. deletion disabled).
    #[error("{0}")]
    Refused(String),
    /// A start-up setting that cannot be served (a root or flag missing or
    /// contradictory); the binary prints it and exits 2.
    #[error("{0}")]
    Config(String),
    /// An I/O failure on a path the client named.
    #[error("{}", describe_io(.path, .source))]
    Io {
        /// The path as the client gave it.
        path: String,
        /// The failure.
        source: io::Error,
    },
}

impl FsError {
    /// Wrap an I/O error with the path the client gave.
    pub fn io(path: &str, source: io::Error) -> Self {
        // cap-std 4 reports every escape attempt (`..` out, an absolute
        // path, a symlink leading outside) as PermissionDenied with the
        // message "a path led outside of the filesystem": name it as the
        // escape it is.
        if source.kind() == io::ErrorKind::PermissionDenied
            && source.to_string().contains("outside of the filesystem")
        {
            return Self::OutsideRoots(path.to_string());
        }
        Self::Io {
            path: path.to_string(),
            source,
        }
    }
}

/// ELOOP: too many symlinks, or a final symlink opened without following.
const ELOOP: i32 = 40;
/// ENOSPC: the disk is full.
const ENOSPC: i32 = 28;
/// EXDEV: rename across filesystems.
const EXDEV: i32 = 18;

fn describe_io(path: &str, error: &io::Error) -> String {
    use io::ErrorKind as K;
    match (error.kind(), error.raw_os_error()) {
        (K::NotFound, _) => format!("not found: {path}"),
        (K::AlreadyExists, _) => format!("already exists: {path}"),
        (K::PermissionDenied, _) => format!("permission denied: {path}"),
        (K::IsADirectory, _) => format!("is a directory: {path}"),
        (K::NotADirectory, _) => format!("not a directory: {path} (or one of its parents)"),
        (K::DirectoryNotEmpty, _) => format!("directory not empty: {path}"),
        (K::InvalidFilename, _) => format!("invalid file name: {path}"),
        (_, Some(ELOOP)) => format!("too many levels of symbolic links: {path}"),
        (_, Some(ENOSPC)) | (K::StorageFull, _) => {
            format!("no space left on the device while writing {path}; nothing was changed")
        }
        (_, Some(EXDEV)) => format!("cannot move {path} across filesystems"),
        (K::InvalidData, _) => format!("{path}: {error}"),
        _ => format!(
            "I/O error on {path}: {}",
            strip_os_suffix(&error.to_string())
        ),
    }
}

/// "No space left on device (os error 28)" → "No space left on device".
fn strip_os_suffix(message: &str) -> &str {
    message.split(" (os error").next().unwrap_or(message)
}

impl From<FsError> for ToolError {
    fn from(error: FsError) -> Self {
        match error {
            FsError::OutsideRoots(_)
            | FsError::DeniedByPolicy(_)
            | FsError::ReadOnly(_)
            | FsError::Refused(_) => ToolError::Denied(error.to_string()),
            FsError::Invalid(message) => ToolError::InvalidArguments(message),
            FsError::BadPath { .. } => ToolError::InvalidArguments(error.to_string()),
            FsError::Io { .. } | FsError::Config(_) => ToolError::Failed(error.to_string()),
        }
    }
}
