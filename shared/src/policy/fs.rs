//! The filesystem part of a policy: roots, deny globs, limits.

use std::path::Path;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use toml::Spanned;

use crate::policy::{PolicyError, key_offset};

/// Whether this OS's usual filesystem compares names case-insensitively
/// (NTFS; APFS and HFS+ as formatted by default).
pub const NAMES_IGNORE_CASE: bool = cfg!(any(windows, target_os = "macos"));

/// Whether a root may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Read and write.
    #[default]
    Rw,
    /// Read only: every write tool refuses.
    Ro,
}

/// One `[[roots]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootEntry {
    /// Directory to serve; `~` expands to `$HOME`.
    pub path: Spanned<String>,
    /// `rw` (default) or `ro`.
    #[serde(default)]
    pub mode: Mode,
}

impl RootEntry {
    pub(crate) fn validate(&self, file: &Path, source: &str) -> Result<(), PolicyError> {
        if self.path.get_ref().trim().is_empty() {
            return Err(PolicyError::at(
                file,
                source,
                Some(self.path.span().start),
                "field `path`: a root path cannot be empty",
            ));
        }
        Ok(())
    }
}

/// Default byte budget of one result: about 100 KiB, a few pages of a
/// model's context, not the whole of it.
pub const DEFAULT_MAX_RESULT_BYTES: usize = 100 * 1024;
/// Default entry budget of one listing or search result.
pub const DEFAULT_MAX_ENTRIES: usize = 1_000;
/// Default largest file a read loads (larger reads need a range).
pub const DEFAULT_MAX_READ_BYTES: u64 = 10 * 1024 * 1024;
/// Default largest content a write accepts.
pub const DEFAULT_MAX_WRITE_BYTES: u64 = 10 * 1024 * 1024;
/// Default deadline of one call: long enough for a big walk, short enough
/// that a client never looks hung.
pub const DEFAULT_CALL_TIMEOUT_MS: u64 = 30_000;
/// Default cap on entries one walk may visit.
pub const DEFAULT_MAX_VISITED: usize = 200_000;
/// Default largest media file `read_media_file` returns: 5 MiB is a large
/// photo, and becomes about 6.7 MiB of base64 in one message.
pub const DEFAULT_MAX_MEDIA_BYTES: u64 = 5 * 1024 * 1024;

/// `[fs]`: moat-fs limits and deny globs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FsPolicy {
    /// Globs (relative to a root, `**` allowed) hidden from listings and
    /// refused for every access, e.g. `**/.env`, `**/.ssh/**`.
    pub deny: Vec<Spanned<String>>,
    /// Byte budget of one result; calls may ask for less, never more.
    pub max_result_bytes: usize,
    /// Entry budget of one listing or search.
    pub max_entries: usize,
    /// Largest file a whole-file read loads.
    pub max_read_bytes: u64,
    /// Largest content one write accepts.
    pub max_write_bytes: u64,
    /// Deadline of one call, in milliseconds.
    pub call_timeout_ms: u64,
    /// Most entries one walk visits before it stops and says so.
    pub max_visited: usize,
    /// Whether `delete_file` is offered at all.
    pub allow_delete: bool,
    /// Largest file `read_media_file` returns (sent whole, as base64).
    pub max_media_bytes: u64,
    /// `[fs.confirm]`: when to ask before destroying data.
    pub confirm: crate::policy::ConfirmPolicy,
}

impl Default for FsPolicy {
    fn default() -> Self {
        Self {
            deny: Vec::new(),
            max_result_bytes: DEFAULT_MAX_RESULT_BYTES,
            max_entries: DEFAULT_MAX_ENTRIES,
            max_read_bytes: DEFAULT_MAX_READ_BYTES,
            max_write_bytes: DEFAULT_MAX_WRITE_BYTES,
            call_timeout_ms: DEFAULT_CALL_TIMEOUT_MS,
            max_visited: DEFAULT_MAX_VISITED,
            allow_delete: false,
            max_media_bytes: DEFAULT_MAX_MEDIA_BYTES,
            confirm: crate::policy::ConfirmPolicy::default(),
        }
    }
}

impl FsPolicy {
    pub(crate) fn validate(&self, file: &Path, source: &str) -> Result<(), PolicyError> {
        for glob in &self.deny {
            if let Err(error) = Glob::new(glob.get_ref()) {
                return Err(PolicyError::at(
                    file,
                    source,
                    Some(glob.span().start),
                    format!(
                        "field `deny`: bad glob {:?}: {}",
                        glob.get_ref(),
                        error.kind()
                    ),
                ));
            }
        }
        let positive = [
            ("max_result_bytes", self.max_result_bytes as u64),
            ("max_entries", self.max_entries as u64),
            ("max_read_bytes", self.max_read_bytes),
            ("max_write_bytes", self.max_write_bytes),
            ("call_timeout_ms", self.call_timeout_ms),
            ("max_visited", self.max_visited as u64),
            ("max_media_bytes", self.max_media_bytes),
        ];
        for (field, value) in positive {
            if value == 0 {
                let offset = key_offset(source, &["fs", field]);
                return Err(PolicyError::at(
                    file,
                    source,
                    offset,
                    format!("field `{field}`: must be greater than 0"),
                ));
            }
        }
        Ok(())
    }

    /// The deny globs compiled into one matcher. Where the filesystem
    /// compares names case-insensitively (Windows; macOS by default),
    /// so do the globs: `**/.env` must hide `.ENV` too, which names the
    /// same file there.
    ///
    /// # Errors
    /// A bad glob (already refused by validation for loaded files).
    pub fn deny_set(&self) -> Result<GlobSet, globset::Error> {
        let mut builder = GlobSetBuilder::new();
        for glob in &self.deny {
            builder.add(
                GlobBuilder::new(glob.get_ref())
                    .case_insensitive(NAMES_IGNORE_CASE)
                    .build()?,
            );
        }
        builder.build()
    }
}
