//! Roots: the directories moat-fs serves, each opened once as a cap-std
//! `Dir`, and the one function that turns a client's path into a root and a
//! path relative to it.
//!
//! # Security
//! Confinement does not rest on the checks in this file. Every access goes
//! through the root's `Dir` handle, and cap-std refuses any path that would
//! leave it (`..`, absolute symlinks, symlinks climbing out), at the moment
//! of the access, so a path swapped for a symlink between two calls cannot
//! lead out (the race behind the reference server's escapes). The checks
//! here choose the root and apply the policy's deny globs; they never widen
//! access.

use std::{
    ffi::OsString,
    path::{Component, Path, PathBuf},
    sync::Arc,
};

use cap_std::{ambient_authority, fs::Dir};
use globset::GlobSet;
use moat_shared::policy::Mode;

use crate::error::FsError;

/// One served directory.
#[derive(Debug)]
pub struct Root {
    /// The path as configured, with `~` expanded.
    pub given: PathBuf,
    /// The same directory with symlinks resolved: clients may use either.
    pub canonical: PathBuf,
    /// The handle every access goes through.
    pub dir: Arc<Dir>,
    /// Whether writes are allowed.
    pub mode: Mode,
}

/// A client's path, resolved to a root.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The root it is in.
    pub root: &'a Root,
    /// The path relative to the root, lexically normalised (`.` for the
    /// root itself). Never starts with `/` or `..`.
    pub rel: PathBuf,
    /// The path as the client gave it, for messages.
    pub shown: String,
}

impl Target<'_> {
    /// Refuse unless the root is writable.
    pub fn writable(&self) -> Result<(), FsError> {
        match self.root.mode {
            Mode::Rw => Ok(()),
            Mode::Ro => Err(FsError::ReadOnly(self.shown.clone())),
        }
    }

    /// The parent (relative to the root) and the final name.
    pub fn split(&self) -> Result<(PathBuf, OsString), FsError> {
        let name = self.rel.file_name().ok_or_else(|| FsError::BadPath {
            path: self.shown.clone(),
            reason: "names a root, not an entry inside it",
        })?;
        let parent = self
            .rel
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok((parent, name.to_os_string()))
    }
}

/// Every root, and the deny globs.
#[derive(Debug)]
pub struct Roots {
    roots: Vec<Root>,
    deny: GlobSet,
}

/// Expand a leading `~` to `$HOME`.
pub fn expand_home(path: &str) -> PathBuf {
    if (path == "~" || path.starts_with("~/"))
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(path.trim_start_matches('~').trim_start_matches('/'));
    }
    PathBuf::from(path)
}

impl Roots {
    /// Open every root. This is moat-fs's only ambient filesystem access.
    ///
    /// # Ambient Authority
    /// Opens each configured directory with `Dir::open_ambient_dir` and
    /// resolves its canonical path; nothing else in moat-fs touches the
    /// ambient filesystem.
    ///
    /// # Errors
    /// A root that is missing or not a directory.
    pub fn open(entries: &[(String, Mode)], deny: GlobSet) -> Result<Self, FsError> {
        let mut roots = Vec::with_capacity(entries.len());
        for (path, mode) in entries {
            let given = expand_home(path);
            if !given.is_absolute() {
                return Err(FsError::BadPath {
                    path: path.clone(),
                    reason: "roots must be absolute (the binary makes relative roots absolute)",
                });
            }
            #[expect(
                clippy::disallowed_methods,
                reason = "the one ambient call site: resolving a configured root at start-up"
            )]
            let canonical =
                std::fs::canonicalize(&given).map_err(|error| FsError::io(path, error))?;
            let dir = Dir::open_ambient_dir(&canonical, ambient_authority())
                .map_err(|error| FsError::io(path, error))?;
            roots.push(Root {
                given,
                canonical,
                dir: Arc::new(dir),
                mode: *mode,
            });
        }
        Ok(Self { roots, deny })
    }

    /// The roots, in configured order.
    pub fn all(&self) -> &[Root] {
        &self.roots
    }

    /// True when at least one root may be written.
    pub fn any_writable(&self) -> bool {
        self.roots.iter().any(|root| root.mode == Mode::Rw)
    }

    /// Resolve a client's path to a root and a path inside it.
    ///
    /// Absolute paths must lie inside a root (compared by whole components,
    /// so `/r/project2` is not inside `/r/project`). Relative paths resolve
    /// against the first root. `~` expands to `$HOME`.
    ///
    /// # Errors
    /// Empty paths, NUL bytes, paths outside every root, `..` climbing out,
    /// and paths matching a deny glob.
    pub fn resolve(&self, path: &str) -> Result<Target<'_>, FsError> {
        let bad = |reason| FsError::BadPath {
            path: path.to_string(),
            reason,
        };
        if path.is_empty() {
            return Err(bad("the path is empty"));
        }
        if path.contains('\0') {
            return Err(bad("the path contains a NUL byte"));
        }
        let expanded = expand_home(path);
        let (root, rest) = if expanded.is_absolute() {
            self.roots
                .iter()
                .find_map(|root| {
                    [&root.given, &root.canonical]
                        .into_iter()
                        .find_map(|prefix| expanded.strip_prefix(prefix).ok())
                        .map(|rest| (root, rest.to_path_buf()))
                })
                .ok_or_else(|| FsError::OutsideRoots(path.to_string()))?
        } else {
            let root = self
                .roots
                .first()
                .ok_or_else(|| FsError::OutsideRoots(path.to_string()))?;
            (root, expanded)
        };
        let rel = normalise(&rest).ok_or_else(|| FsError::OutsideRoots(path.to_string()))?;
        let target = Target {
            root,
            rel,
            shown: path.to_string(),
        };
        self.check_deny(&target, &target.rel)?;
        Ok(target)
    }

    /// Refuse `rel` (inside `target`'s root) when a deny glob matches it or
    /// any of its parents.
    pub fn check_deny(&self, target: &Target<'_>, rel: &Path) -> Result<(), FsError> {
        if self.is_denied(rel) {
            return Err(FsError::DeniedByPolicy(target.shown.clone()));
        }
        Ok(())
    }

    /// True when a deny glob matches `rel` or one of its ancestors.
    pub fn is_denied(&self, rel: &Path) -> bool {
        if self.deny.is_empty() {
            return false;
        }
        rel.ancestors()
            .filter(|path| !path.as_os_str().is_empty() && *path != Path::new("."))
            .any(|path| self.deny.is_match(path))
    }
}

/// Lexically resolve `.` and `..`; `None` when `..` climbs above the start.
/// (cap-std would refuse such a path too; refusing early gives a clearer
/// message.)
fn normalise(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(name) => out.push(name),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    Some(out)
}

/// O_NONBLOCK: opening a FIFO with it returns at once instead of waiting
/// for a writer, so the type check below can refuse it (PITFALLS.md).
const OPEN_NONBLOCK: i32 = 0o4000;

impl Target<'_> {
    /// Open a regular file for reading. FIFOs, sockets, devices and
    /// directories are refused without ever blocking.
    ///
    /// # Errors
    /// Not found, escapes, and anything that is not a regular file.
    pub fn open_regular(&self) -> Result<(cap_std::fs::File, cap_std::fs::Metadata), FsError> {
        use cap_std::fs::OpenOptionsExt;
        let mut options = cap_std::fs::OpenOptions::new();
        options.read(true).custom_flags(OPEN_NONBLOCK);
        let file = self
            .root
            .dir
            .open_with(&self.rel, &options)
            .map_err(|error| FsError::io(&self.shown, error))?;
        let metadata = file
            .metadata()
            .map_err(|error| FsError::io(&self.shown, error))?;
        if metadata.is_dir() {
            return Err(FsError::Io {
                path: self.shown.clone(),
                source: std::io::Error::from(std::io::ErrorKind::IsADirectory),
            });
        }
        if !metadata.is_file() {
            return Err(FsError::Refused(format!(
                "{} is not a regular file (FIFO, socket or device) and is never opened",
                self.shown
            )));
        }
        Ok((file, metadata))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `..` that stays inside is fine; `..` that climbs out is refused.
    #[test]
    fn normalise_refuses_climbing_out() {
        assert_eq!(normalise(Path::new("a/../b")), Some(PathBuf::from("b")));
        assert_eq!(normalise(Path::new("./")), Some(PathBuf::from(".")));
        assert_eq!(normalise(Path::new("a/../../b")), None);
        assert_eq!(normalise(Path::new("..")), None);
    }
}
