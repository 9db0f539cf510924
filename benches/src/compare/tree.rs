//! The data every filesystem server reads: a 4 KiB file, three 1 MiB files
//! (short lines, prose lines, non-ASCII lines), a flat directory of 1,000 entries and a tree of 100,000 files, generated
//! once per run in a temp directory, and which of the tree's files a
//! query must find. It writes nothing outside that directory.

use std::{collections::BTreeSet, path::Path};

use anyhow::Result;

/// Size of the small file `read_text_file` reads.
pub const SMALL_FILE_BYTES: usize = 4 * 1024;
/// Size of the large file `read_text_file` reads.
pub const LARGE_FILE_BYTES: usize = 1024 * 1024;
/// Entries of the flat directory `list_directory` lists.
pub const FLAT_ENTRIES: usize = 1_000;
/// The big tree's folder under the root: every walk workload, and each
/// command-line tool they are measured against, starts there.
pub const TREE_DIR: &str = "tree";
/// Files in the big tree.
pub const TREE_FILES: usize = 100_000;
/// Folders the big tree's files are spread over (two levels of 100 x 10,
/// 100 files each).
const TREE_FOLDERS: usize = 1_000;
/// One file in this many is a `.rs` file (what `search_files` looks for).
const RUST_EVERY: usize = 1_000;
/// One file in this many holds `needle_` (what the content search looks
/// for).
const NEEDLE_EVERY: usize = 997;

/// Files named `*.rs` in the tree.
pub const RUST_FILES: usize = TREE_FILES / RUST_EVERY;
/// The text the content search looks for.
pub const NEEDLE: &str = "needle_";
/// Files holding `needle_` in the tree (indexes 0, 997, ... below
/// 100,000).
pub const NEEDLE_FILES: usize = TREE_FILES.div_ceil(NEEDLE_EVERY);

/// The 16-byte line the 4 KiB and 1 MiB files repeat: a newline to escape
/// every 16 bytes, the costliest ASCII shape for a JSON writer.
pub const LINE: &str = "0123456789abcde\n";
/// The 52-byte line of the prose-shaped 1 MiB file.
pub const PROSE_LINE: &str = "The quick brown fox jumps over the lazy dog, 012345\n";
/// The line of the non-ASCII 1 MiB file (62 bytes of UTF-8: accents, CJK,
/// a dash, a check mark).
pub const UTF8_LINE: &str = "Grüße aus Köln — naïve café, 東京と大阪 ✓ ½ ok\n";
/// Lines in each of the two other 1 MiB files (the nearest whole number of
/// lines to 1 MiB).
pub const PROSE_LINES: usize = LARGE_FILE_BYTES.div_ceil(PROSE_LINE.len());
/// Lines in the non-ASCII 1 MiB file.
pub const UTF8_LINES: usize = LARGE_FILE_BYTES.div_ceil(UTF8_LINE.len());

/// Write the files `read_text_file` reads under `root` (cheap: written on
/// every run, so a kept tree from an older run gains new ones).
pub fn generate_reads(root: &Path) -> Result<()> {
    std::fs::write(
        root.join("file4k.txt"),
        LINE.repeat(SMALL_FILE_BYTES / LINE.len()),
    )?;
    std::fs::write(
        root.join("file1m.txt"),
        LINE.repeat(LARGE_FILE_BYTES / LINE.len()),
    )?;
    std::fs::write(root.join("prose1m.txt"), PROSE_LINE.repeat(PROSE_LINES))?;
    std::fs::write(root.join("utf8-1m.txt"), UTF8_LINE.repeat(UTF8_LINES))?;
    Ok(())
}

/// Write the data set under `root` (an empty directory).
pub fn generate(root: &Path) -> Result<()> {
    generate_reads(root)?;
    let flat = root.join("flat");
    std::fs::create_dir(&flat)?;
    for index in 0..FLAT_ENTRIES {
        std::fs::write(flat.join(format!("entry{index:04}.txt")), "x")?;
    }
    for index in 0..TREE_FILES {
        let file = root.join(TREE_DIR).join(tree_file(index));
        if index.is_multiple_of(TREE_FILES / TREE_FOLDERS) {
            std::fs::create_dir_all(file.parent().unwrap_or(root))?;
        }
        let body = if holds_needle(index) {
            format!("line one\nfn needle_{index}() {{}}\n")
        } else {
            format!("line one\nnothing here {index}\n")
        };
        std::fs::write(file, body)?;
    }
    Ok(())
}

/// The path of the big tree's file number `index`, relative to
/// [`TREE_DIR`]: `d00/e0/f000.rs`.
fn tree_file(index: usize) -> String {
    let per_folder = TREE_FILES / TREE_FOLDERS;
    let (folder, file) = (index / per_folder, index % per_folder);
    let extension = if is_rust(index) { "rs" } else { "txt" };
    format!(
        "d{:02}/e{}/f{file:03}.{extension}",
        folder / 10,
        folder % 10
    )
}

/// Whether the big tree's file number `index` is named `*.rs`.
pub fn is_rust(index: usize) -> bool {
    index.is_multiple_of(RUST_EVERY)
}

/// Whether the big tree's file number `index` holds `needle_`.
pub fn holds_needle(index: usize) -> bool {
    index.is_multiple_of(NEEDLE_EVERY)
}

/// The big tree's files for which `wanted` holds, as paths relative to
/// [`TREE_DIR`] (`d00/e0/f000.rs`): what a query must find, no more.
pub fn tree_files(wanted: fn(usize) -> bool) -> BTreeSet<String> {
    (0..TREE_FILES)
        .filter(|index| wanted(*index))
        .map(tree_file)
        .collect()
}
