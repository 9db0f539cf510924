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

use crate::{error::FsError, trust::ClientTrust};

/// One served directory.
#[derive(Debug, Clone)]
pub struct Root {
    /// The path as configured, with `~` expanded.
    pub given: PathBuf,
    /// The same directory with symlinks resolved: clients may use either.
    pub canonical: PathBuf,
    /// The handle every access goes through.
    pub dir: Arc<Dir>,
    /// Whether writes are allowed.
    pub mode: Mode,
    /// Where this root sits inside the configured root it was narrowed
    /// from (empty for a configured root): deny globs are matched against
    /// `deny_base/rel`, so narrowing never changes what they hide.
    pub deny_base: PathBuf,
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

    /// The parent directory, opened, and the final name: where an entry is
    /// created, renamed or removed through a handle.
    ///
    /// # Errors
    /// As [`Target::split`]; the parent cannot be opened.
    pub fn open_parent(&self) -> Result<(Dir, OsString), FsError> {
        let (parent, name) = self.split()?;
        let dir = self
            .root
            .dir
            .open_dir(&parent)
            .map_err(|error| FsError::io(&self.shown, error))?;
        Ok((dir, name))
    }
}

/// Every root, and the deny globs.
#[derive(Debug, Clone)]
pub struct Roots {
    roots: Vec<Root>,
    deny: GlobSet,
}

/// Expand a leading `~` to `$HOME` (on Windows also `~\`, and
/// `%USERPROFILE%` when `HOME` is unset).
pub fn expand_home(path: &str) -> PathBuf {
    let separators: &[char] = if cfg!(windows) { &['/', '\\'] } else { &['/'] };
    let Some(rest) = path.strip_prefix('~') else {
        return PathBuf::from(path);
    };
    if !(rest.is_empty() || rest.starts_with(separators)) {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").or_else(|| {
        cfg!(windows)
            .then(|| std::env::var_os("USERPROFILE"))
            .flatten()
    });
    match home {
        Some(home) => PathBuf::from(home).join(rest.trim_start_matches(separators)),
        None => PathBuf::from(path),
    }
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
            let (canonical, dir) =
                open_ambient(&given).map_err(|error| FsError::io(path, error))?;
            roots.push(Root {
                given,
                canonical,
                dir: Arc::new(dir),
                mode: *mode,
                deny_base: PathBuf::new(),
            });
        }
        Ok(Self { roots, deny })
    }

    /// The roots one call may use, given the client's MCP roots (`file://`
    /// URIs from `roots/list`).
    ///
    /// - With configured roots, those are a ceiling: each client root must
    ///   lie inside one (it is then opened through that root's `Dir`, never
    ///   ambiently, and keeps its mode); a client root outside every
    ///   configured root, or denied by the policy, is ignored with a log
    ///   line. When no client root survives, the configured roots are used.
    ///   `trust` plays no part.
    /// - With no configured roots and [`ClientTrust::Trusted`], the client's
    ///   roots are used as given, opened with its mode.
    /// - With no configured roots and [`ClientTrust::Narrow`] (the default,
    ///   and HTTP without `--trust-client-roots`), nothing is opened: there
    ///   is nothing for client roots to narrow.
    ///
    /// # Ambient Authority
    /// Only in the second case: each client root is opened with
    /// [`open_ambient`], the same single call site as [`Roots::open`].
    #[must_use]
    pub fn narrowed(&self, client_uris: &[String], trust: ClientTrust) -> Self {
        let mut roots = Vec::new();
        for uri in client_uris {
            let Some(path) = file_uri_path(uri) else {
                tracing::warn!(%uri, "client root is not a file:// URI; ignored");
                continue;
            };
            if self.roots.is_empty() {
                let ClientTrust::Trusted(mode) = trust else {
                    tracing::warn!(
                        %uri,
                        "no root is configured and client roots are not trusted; ignored"
                    );
                    continue;
                };
                match open_ambient(&path) {
                    Ok((canonical, dir)) => roots.push(Root {
                        given: path,
                        canonical,
                        dir: Arc::new(dir),
                        mode,
                        deny_base: PathBuf::new(),
                    }),
                    Err(error) => {
                        tracing::warn!(%uri, %error, "client root cannot be opened; ignored");
                    }
                }
                continue;
            }
            if let Some(root) = self.inside_ceiling(&path) {
                roots.push(root);
            } else {
                tracing::warn!(
                    %uri,
                    "client root is outside the configured roots (the ceiling) or denied; ignored"
                );
            }
        }
        if roots.is_empty() && !self.roots.is_empty() {
            tracing::info!("no usable client root; serving the configured roots");
            return self.clone();
        }
        Self {
            roots,
            deny: self.deny.clone(),
        }
    }

    /// A client root inside a configured root, opened through that root.
    fn inside_ceiling(&self, path: &Path) -> Option<Root> {
        self.roots.iter().find_map(|root| {
            let rest = [&root.given, &root.canonical]
                .into_iter()
                .find_map(|prefix| below(path, prefix))?;
            let rel = normalise(&rest)?;
            if rel == Path::new(".") {
                return Some(root.clone());
            }
            // Resolved inside the root by cap-std: a symlink out fails here.
            let resolved = root.dir.canonicalize(&rel).ok()?;
            if self.is_denied(root, &resolved) {
                return None;
            }
            let dir = root.dir.open_dir(&resolved).ok()?;
            Some(Root {
                given: path.to_path_buf(),
                canonical: root.canonical.join(&resolved),
                dir: Arc::new(dir),
                mode: root.mode,
                deny_base: root.deny_base.join(&resolved),
            })
        })
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
        check_path_class(path, &expanded)?;
        // `has_root`, not `is_absolute`: on Windows `\x` and `/tmp/x` are
        // rooted without a drive, and name that path on a root's drive.
        let (root, rest) = if expanded.has_root() {
            self.roots
                .iter()
                .find_map(|root| {
                    [&root.given, &root.canonical]
                        .into_iter()
                        .find_map(|prefix| below(&expanded, prefix))
                        .map(|rest| (root, rest))
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
        // Deny globs name paths, and a symlink inside the root can give a
        // denied file a second, allowed name (`alias -> private`,
        // `config -> .env`): check where the path really leads too (found
        // by the fs_path fuzzer).
        if !self.deny.is_empty()
            && let Some(real) = real_path(root, &target.rel)
        {
            self.check_deny(&target, &real)?;
        }
        Ok(target)
    }

    /// Refuse `rel` (inside `target`'s root) when a deny glob matches it or
    /// any of its parents.
    pub fn check_deny(&self, target: &Target<'_>, rel: &Path) -> Result<(), FsError> {
        if self.is_denied(target.root, rel) {
            return Err(FsError::DeniedByPolicy(target.shown.clone()));
        }
        Ok(())
    }

    /// Whether any deny glob is configured (when none is, listings can
    /// skip building each entry's path for [`Roots::is_denied`]).
    pub fn has_deny_globs(&self) -> bool {
        !self.deny.is_empty()
    }

    /// True when a deny glob matches `rel` (inside `root`) itself, for a
    /// walk that never lists inside a denied directory: `rel`'s ancestors
    /// were matched when they were listed. One glob match instead of one
    /// per ancestor.
    pub fn is_denied_leaf(&self, root: &Root, rel: &Path) -> bool {
        !self.deny.is_empty() && self.deny.is_match(Self::deny_path(root, rel))
    }

    /// True when a deny glob matches `rel` (inside `root`) or one of its
    /// ancestors.
    pub fn is_denied(&self, root: &Root, rel: &Path) -> bool {
        !self.deny.is_empty()
            && Self::deny_path(root, rel)
                .ancestors()
                .filter(|path| !path.as_os_str().is_empty() && *path != Path::new("."))
                .any(|path| self.deny.is_match(path))
    }

    /// The path the deny globs see for `rel` inside `root`: `rel` under the
    /// root's deny base, borrowed when the base is empty (the common case,
    /// no allocation).
    fn deny_path<'a>(root: &Root, rel: &'a Path) -> std::borrow::Cow<'a, Path> {
        if root.deny_base.as_os_str().is_empty() {
            std::borrow::Cow::Borrowed(rel)
        } else {
            std::borrow::Cow::Owned(root.deny_base.join(rel))
        }
    }
}

/// Open a directory of the ambient filesystem: moat-fs's only ambient
/// access, used for configured roots at start-up and for client roots when
/// no root is configured and the operator trusts client roots.
///
/// # Ambient Authority
/// Resolves `path` and opens it with `Dir::open_ambient_dir`.
fn open_ambient(path: &Path) -> std::io::Result<(PathBuf, Dir)> {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one ambient call site: resolving a root before opening it"
    )]
    let canonical = std::fs::canonicalize(path)?;
    let dir = Dir::open_ambient_dir(&canonical, ambient_authority())?;
    Ok((canonical, dir))
}

/// The local path of a `file://` URI (percent-decoded).
fn file_uri_path(uri: &str) -> Option<PathBuf> {
    let url = url::Url::parse(uri).ok()?;
    if url.scheme() != "file" {
        return None;
    }
    url.to_file_path().ok()
}

/// Where `rel` really leads inside `root`: its longest existing prefix
/// with symlinks resolved by cap-std (which refuses any that leads out),
/// followed by the rest of `rel` as written. `None` when no prefix resolves.
fn real_path(root: &Root, rel: &Path) -> Option<PathBuf> {
    let mut existing = rel;
    loop {
        if let Ok(resolved) = root.dir.canonicalize(existing) {
            let rest = rel.strip_prefix(existing).ok()?;
            return Some(if rest.as_os_str().is_empty() {
                resolved
            } else {
                resolved.join(rest)
            });
        }
        existing = existing
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())?;
    }
}

/// `path` below `prefix` (whole components; `None` when not inside).
/// Linux: exact components.
#[cfg(all(unix, not(target_os = "macos")))]
fn below(path: &Path, prefix: &Path) -> Option<PathBuf> {
    path.strip_prefix(prefix).ok().map(Path::to_path_buf)
}

/// `path` below `prefix` (whole components; `None` when not inside).
/// macOS: components compared case-insensitively, as APFS and HFS+ do by
/// default (on a case-sensitive volume a differently cased path still
/// resolves inside the root's handle, never outside).
#[cfg(target_os = "macos")]
fn below(path: &Path, prefix: &Path) -> Option<PathBuf> {
    use crate::platform::windows_path::fold;
    let mut rest = path.components();
    for want in prefix.components() {
        let have = rest.next()?;
        if fold(&have.as_os_str().to_string_lossy()) != fold(&want.as_os_str().to_string_lossy()) {
            return None;
        }
    }
    Some(rest.as_path().to_path_buf())
}

/// `path` below `prefix` (`None` when not inside), with Windows rules:
/// drive or share, then whole names, case-insensitively (see
/// [`crate::platform::windows_path`]).
#[cfg(windows)]
fn below(path: &Path, prefix: &Path) -> Option<PathBuf> {
    use crate::platform::windows_path::{parse, strip_root};
    let path = parse(&path.to_string_lossy()).ok()?;
    let prefix = parse(&prefix.to_string_lossy()).ok()?;
    strip_root(&path, &prefix).map(|names| names.iter().collect())
}

/// Refuse a path whose class is never served on this OS (Windows: device
/// names, streams, short names, ...; see
/// [`crate::platform::windows_path`]). On Unix every name is a name.
#[cfg(windows)]
fn check_path_class(path: &str, expanded: &Path) -> Result<(), FsError> {
    use crate::platform::windows_path::{Refusal, parse};
    match parse(&expanded.to_string_lossy()) {
        Ok(_) => Ok(()),
        Err(Refusal::Refused(reason)) => Err(FsError::BadPath {
            path: path.to_string(),
            reason,
        }),
        Err(Refusal::ClimbsOut) => Err(FsError::OutsideRoots(path.to_string())),
    }
}

/// Refuse a path whose class is never served on this OS (Windows: device
/// names, streams, short names, ...). On Unix every name is a name.
#[cfg(unix)]
#[expect(
    clippy::unnecessary_wraps,
    reason = "the same signature as the Windows check, which can refuse"
)]
fn check_path_class(_path: &str, _expanded: &Path) -> Result<(), FsError> {
    Ok(())
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

impl Target<'_> {
    /// Open a regular file for reading. FIFOs, sockets, devices and
    /// directories are refused without ever blocking.
    ///
    /// # Errors
    /// Not found, escapes, and anything that is not a regular file.
    pub fn open_regular(&self) -> Result<(cap_std::fs::File, cap_std::fs::Metadata), FsError> {
        open_regular_in(&self.root.dir, &self.rel, &self.shown)
    }

    /// The whole content of a regular file of at most `limit` bytes, read
    /// in one go (`what` names the limit in the refusal, `hint` ends it):
    /// refused before reading when it is larger, and after when it grew
    /// past the limit while being read, so a caller never works on a cut
    /// copy.
    ///
    /// # Errors
    /// As [`Target::open_regular`]; the file is over the limit; a read
    /// failure.
    pub fn read_capped(&self, limit: u64, what: &str, hint: &str) -> Result<Vec<u8>, FsError> {
        use std::io::Read as _;
        let (file, metadata) = self.open_regular()?;
        if metadata.len() > limit {
            return Err(FsError::Refused(format!(
                "{} is {} bytes, over the {limit}-byte {what} limit{hint}",
                self.shown,
                metadata.len()
            )));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
        // `take`: the file may have grown since the size check.
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|error| FsError::io(&self.shown, error))?;
        if bytes.len() as u64 > limit {
            return Err(FsError::Refused(format!(
                "{} grew past the {limit}-byte {what} limit while being read",
                self.shown
            )));
        }
        Ok(bytes)
    }
}

/// Open `path` (relative to `dir`) for reading if it is a regular file.
/// FIFOs, sockets, devices and directories are refused without ever
/// blocking (the open is non-blocking; the type is checked on the handle).
///
/// # Errors
/// Not found, escapes, and anything that is not a regular file.
pub fn open_regular_in(
    dir: &Dir,
    path: &Path,
    shown: &str,
) -> Result<(cap_std::fs::File, cap_std::fs::Metadata), FsError> {
    let mut options = cap_std::fs::OpenOptions::new();
    options.read(true);
    // Opening a FIFO for reading blocks until a writer comes; non-blocking,
    // the open returns at once and the type check below refuses it.
    crate::platform::special_file::non_blocking(&mut options);
    let is_a_directory = || FsError::Io {
        path: shown.to_string(),
        source: std::io::Error::from(std::io::ErrorKind::IsADirectory),
    };
    let file = dir.open_with(path, &options).map_err(|error| {
        // Windows refuses to open a directory as a file with "access
        // denied" (ERROR_ACCESS_DENIED): say what it is, as on Linux and
        // macOS, where the open succeeds and the check below says it.
        if error.kind() == std::io::ErrorKind::PermissionDenied
            && dir.metadata(path).is_ok_and(|metadata| metadata.is_dir())
        {
            return is_a_directory();
        }
        FsError::io(shown, error)
    })?;
    let metadata = file.metadata().map_err(|error| FsError::io(shown, error))?;
    if metadata.is_dir() {
        return Err(is_a_directory());
    }
    if !metadata.is_file() {
        return Err(FsError::Refused(format!(
            "{shown} is not a regular file (FIFO, socket or device) and is never opened"
        )));
    }
    Ok((file, metadata))
}

// Unix only: the layouts are made with Unix symlinks and the client roots
// are `file:///...` URIs of Unix paths; the Windows build's path rules are
// tested in platform::windows_path and by the e2e suites under Wine.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// `<temp>/project/{a/, link_out -> <temp>/outside}`, `<temp>/outside/`.
    fn layout() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let temp = tempfile::tempdir().expect("tempdir");
        let base = Dir::open_ambient_dir(temp.path(), ambient_authority()).expect("open");
        base.create_dir_all("project/a").expect("mkdir");
        base.create_dir_all("outside").expect("mkdir");
        let root = temp.path().join("project");
        let outside = temp.path().join("outside");
        std::os::unix::fs::symlink(&outside, root.join("link_out")).expect("symlink");
        (temp, root, outside)
    }

    fn uri(path: &Path) -> String {
        format!("file://{}", path.display())
    }

    /// Configured roots are a ceiling: a client root inside one narrows
    /// access to it (keeping its mode); roots outside, through a link out,
    /// or not file:// are ignored.
    #[test]
    fn client_roots_are_capped_by_configured_roots() {
        let (temp, root, outside) = layout();
        let configured = Roots::open(
            &[(root.to_string_lossy().into_owned(), Mode::Ro)],
            GlobSet::empty(),
        )
        .expect("open");
        let narrowed = configured.narrowed(
            &[
                uri(&root.join("a")),
                uri(&outside),
                uri(&root.join("link_out")),
                uri(&root.join("../outside")),
                "https://example.com/".into(),
                "file:///".into(),
            ],
            // Trust does not widen configured roots.
            ClientTrust::Trusted(Mode::Rw),
        );
        assert_eq!(narrowed.all().len(), 1);
        assert_eq!(narrowed.all()[0].mode, Mode::Ro);
        let target = narrowed.resolve("x.txt").expect("relative");
        assert_eq!(target.root.given, root.join("a"));
        assert!(matches!(
            narrowed.resolve(&root.join("b").to_string_lossy()),
            Err(FsError::OutsideRoots(_))
        ));
        // Nothing usable: the configured roots stay.
        let fallback = configured.narrowed(&[uri(&outside)], ClientTrust::Trusted(Mode::Rw));
        assert_eq!(fallback.all()[0].given, root);
        drop(temp);
    }

    /// With no configured root and client roots trusted, the client's
    /// roots are used as given, with the trusted mode.
    #[test]
    fn client_roots_are_used_when_none_configured_and_trusted() {
        let (temp, root, _) = layout();
        let none = Roots::open(&[], GlobSet::empty()).expect("open");
        let roots = none.narrowed(
            &[uri(&root), uri(&root.join("missing"))],
            ClientTrust::Trusted(Mode::Ro),
        );
        assert_eq!(roots.all()[0].mode, Mode::Ro);
        assert_eq!(roots.all().len(), 1);
        assert!(roots.resolve("a").is_ok());
        assert!(roots.resolve("link_out/x").is_ok(), "resolution is lexical");
        assert!(
            roots.all()[0].dir.open_dir("link_out").is_err(),
            "access through a link out is refused"
        );
        drop(temp);
    }

    /// Regression (issue 11): with no configured root, untrusted client
    /// roots (HTTP without `--trust-client-roots`) open nothing, `file:///`
    /// included.
    #[test]
    fn untrusted_client_roots_open_nothing_without_configured_roots() {
        let (temp, root, _) = layout();
        let none = Roots::open(&[], GlobSet::empty()).expect("open");
        let roots = none.narrowed(&["file:///".into(), uri(&root)], ClientTrust::Narrow);
        assert!(roots.all().is_empty());
        assert!(matches!(
            roots.resolve("/etc/passwd"),
            Err(FsError::OutsideRoots(_))
        ));
        drop(temp);
    }

    /// Regression (fs_path fuzzer): a symlink inside the root gave a file
    /// hidden by a deny glob a second name that the glob did not match;
    /// every alias of a denied path is now refused, whether it names the
    /// file, its directory, or something not yet created inside it.
    #[test]
    fn deny_globs_hold_through_symlinks_inside_the_root() {
        let (temp, root, _) = layout();
        let dir = Dir::open_ambient_dir(&root, ambient_authority()).expect("open");
        dir.create_dir("private").expect("mkdir");
        dir.write("private/key.txt", "secret").expect("write");
        dir.write(".env", "TOKEN=1").expect("write");
        for (target, name) in [
            ("private", "alias"),
            ("private/key.txt", "key_link"),
            (".env", "config"),
            ("../private", "a/up_alias"),
        ] {
            dir.symlink(target, name).expect("symlink");
        }
        let mut deny = globset::GlobSetBuilder::new();
        deny.add(globset::Glob::new("private").expect("glob"));
        deny.add(globset::Glob::new("**/.env").expect("glob"));
        let roots = Roots::open(
            &[(root.to_string_lossy().into_owned(), Mode::Ro)],
            deny.build().expect("globset"),
        )
        .expect("open");
        for path in [
            "private/key.txt",
            "alias",
            "alias/key.txt",
            "alias/not-yet.txt",
            "key_link",
            "config",
            "a/up_alias/key.txt",
        ] {
            assert!(
                matches!(roots.resolve(path), Err(FsError::DeniedByPolicy(_))),
                "{path} was not denied"
            );
        }
        for path in ["a", "a/new.txt", "link_out/x", "missing/deeper/file"] {
            assert!(roots.resolve(path).is_ok(), "{path} was refused");
        }
        drop(temp);
    }

    /// `..` that stays inside is fine; `..` that climbs out is refused.
    #[test]
    fn normalise_refuses_climbing_out() {
        assert_eq!(normalise(Path::new("a/../b")), Some(PathBuf::from("b")));
        assert_eq!(normalise(Path::new("./")), Some(PathBuf::from(".")));
        assert_eq!(normalise(Path::new("a/../../b")), None);
        assert_eq!(normalise(Path::new("..")), None);
    }
}
