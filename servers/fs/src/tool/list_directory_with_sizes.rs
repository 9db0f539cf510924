//! `list_directory_with_sizes`: a directory's entries with their sizes,
//! sorted by name or size, and totals.
//!
//! Sizes come from `lstat` through the directory handle (never from
//! opening the entry), so FIFOs are listed, not opened, and links show their
//! own size.
//!
//! # Must never
//! - open an entry to learn its size;
//! - exceed the byte or entry budget (it is cut with an offset).

use moat_shared::{CallContext, ToolError, ToolOutput, runtime::tool::structured};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::list_directory::entries;
use crate::walk::Kind;
use crate::{FsServer, error::FsError};

/// How to sort.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SortBy {
    /// By name.
    #[default]
    Name,
    /// Largest first.
    Size,
}

/// Arguments of `list_directory_with_sizes`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Args {
    /// The directory.
    pub path: String,
    /// `name` (default) or `size` (largest first).
    #[serde(default)]
    pub sort_by: SortBy,
    /// Skip this many entries (for continuing a cut listing).
    #[serde(default)]
    pub offset: usize,
}

const DESCRIPTION: &str = "List a directory's entries with their sizes, plus totals. Use it to \
find what takes space; sortBy \"size\" puts the largest first. Entries are marked [DIR], [FILE], \
[LINK] or [OTHER]. Long listings are cut and say which offset continues them.";

moat_shared::tool! {
    /// The `list_directory_with_sizes` tool.
    pub ListDirectoryWithSizes: BlockingTool<FsServer> = "list_directory_with_sizes", "List directory with sizes", super::read_only() {
        #![serde(rename_all = "camelCase")]
        /// The listing's lines (without the totals).
        pub content: String,
        /// The entries shown.
        pub entries: Vec<Sized>,
        /// Entries in the directory.
        pub total: usize,
        /// Of which files (everything not a directory).
        pub total_files: usize,
        /// Of which directories.
        pub total_directories: usize,
        /// Bytes of all its files.
        pub total_bytes: u64,
        /// The `offset` that continues a cut listing; null when whole.
        pub next_offset: Option<usize>,
    }
}

/// One entry and its size.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct Sized {
    /// Its name.
    pub name: String,
    /// `file`, `directory`, `symlink` or `other`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its size in bytes (0 for a directory).
    pub size: u64,
}

/// "1.5 KB"-style sizes, as the reference server prints them.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

/// Run the tool.
pub fn run(server: &FsServer, args: &Args, context: &CallContext) -> Result<ToolOutput, ToolError> {
    let target = server.roots.resolve(&args.path)?;
    let listed = entries(server, &target)?;
    let directory = target
        .root
        .dir
        .open_dir(&target.rel)
        .map_err(|error| FsError::io(&target.shown, error))?;
    let mut sized = Vec::with_capacity(listed.len());
    for (index, entry) in listed.into_iter().enumerate() {
        if index % 1024 == 0 {
            context.check()?;
        }
        let size = if entry.kind == Kind::Dir {
            0
        } else {
            directory
                .symlink_metadata(&entry.name)
                .map_or(0, |metadata| metadata.len())
        };
        sized.push((entry, size));
    }
    if args.sort_by == SortBy::Size {
        sized.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.name.cmp(&b.0.name)));
    }
    let total = sized.len();
    let files = sized
        .iter()
        .filter(|(entry, _)| entry.kind != Kind::Dir)
        .count();
    let total_bytes: u64 = sized.iter().map(|(_, size)| size).sum();
    let budget = super::budget(server);
    let max_entries = super::entry_budget(server);
    let mut text = String::new();
    let mut shown = Vec::new();
    let mut next = None;
    for (index, (entry, size)) in sized.iter().enumerate().skip(args.offset) {
        let size_text = if entry.kind == Kind::Dir {
            String::new()
        } else {
            human(*size)
        };
        let line = format!(
            "{} {:<30} {size_text:>10}\n",
            entry.kind.marker(),
            entry.name
        );
        if shown.len() >= max_entries || text.len() + line.len() > budget {
            next = Some(index);
            break;
        }
        text.push_str(&line);
        shown.push(Sized {
            name: entry.name.clone(),
            kind: entry.kind.word(),
            size: *size,
        });
    }
    let listing = text.clone();
    text.push_str(&format!(
        "\nTotal: {files} files, {} directories\nCombined size: {}\n",
        total - files,
        human(total_bytes)
    ));
    if let Some(next) = next {
        text.push_str(&format!(
            "[cut at {} of {total} entries; call list_directory_with_sizes with offset={next} to continue]\n",
            shown.len()
        ));
    }
    Ok(structured(
        text,
        &Output {
            content: listing,
            entries: shown,
            total,
            total_files: files,
            total_directories: total - files,
            total_bytes,
            next_offset: next,
        },
    ))
}
