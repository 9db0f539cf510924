//! `list_directory`: a directory's entries, one per line, marked `[DIR]`,
//! `[FILE]`, `[LINK]` or `[OTHER]`.
//!
//! Entry types come from the directory listing itself (d_type, or an
//! lstat through the directory handle), never from opening the entry: a
//! FIFO in the directory must not block the listing.

use moat_shared::{ToolError, ToolOutput};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{FsServer, Target, error::FsError, platform::directory_entries, walk::Kind};

/// Arguments of `list_directory`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The directory.
    pub path: String,
    /// Skip this many entries (for continuing a cut listing).
    #[serde(default)]
    pub offset: usize,
}

const DESCRIPTION: &str = "List a directory's entries, one per line: [DIR], [FILE], [LINK] \
(symbolic link) or [OTHER]. Use it to see what a folder holds; use directory_tree or \
search_files to look deeper. Long listings are cut and say which offset continues them.";

moat_shared::tool! {
    /// The `list_directory` tool.
    pub ListDirectory: BlockingTool<FsServer> = "list_directory", "List directory", super::read_only(), output: Structured;

    |server, args, _context| run(server, &args)
}

super::structured_output!(super::output_schema(json!({
    "total": { "type": "integer" },
    "nextOffset": { "type": ["integer", "null"] },
})));

/// One listed entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its name.
    pub name: String,
    /// What it is.
    pub kind: Kind,
}

/// A directory's entries, sorted by name: every name in one string, so a
/// listing costs a few allocations, not one or more per entry.
pub struct Listing {
    /// The names, one after another (bytes that are not UTF-8 shown as
    /// U+FFFD).
    names: String,
    /// Where each name is, in name order.
    slots: Vec<Slot>,
}

/// One entry of a [`Listing`].
#[derive(Clone, Copy)]
struct Slot {
    /// The first 16 bytes of the name, big-endian, zero-padded: comparing
    /// two keys orders most pairs of names in one instruction (a name holds
    /// no NUL byte, so a shorter name sorts before any name it begins).
    key: u128,
    /// The name: `names[start..end]`.
    start: usize,
    end: usize,
    kind: Kind,
}

/// Bytes of a name its sort key holds.
const KEY_BYTES: usize = 16;

/// Listings shorter than this are sorted by comparison: a radix pass costs
/// two 256-counter tables whatever the length.
const RADIX_MIN_ENTRIES: usize = 64;

impl Listing {
    /// The entries of `target` (sorted by name, deny globs hidden).
    ///
    /// # Errors
    /// The directory cannot be opened or read.
    pub fn read(server: &FsServer, target: &Target<'_>) -> Result<Self, FsError> {
        let io = |error| FsError::io(&target.shown, error);
        let denies = server.roots.has_deny_globs();
        let mut raw = Vec::new();
        let mut slots = Vec::new();
        directory_entries::for_each(&target.root.dir, &target.rel, |name, kind| {
            if denies && server.roots.is_denied(target.root, &target.rel.join(name)) {
                return;
            }
            let start = raw.len();
            // Unix: the name's bytes as the file system holds them, shown
            // below as `to_string_lossy` would. Windows: its encoding
            // (WTF-8) would show an unpaired surrogate as three U+FFFD, not
            // one, so it is converted here.
            #[cfg(unix)]
            raw.extend_from_slice(name.as_encoded_bytes());
            #[cfg(not(unix))]
            raw.extend_from_slice(name.to_string_lossy().as_bytes());
            slots.push(Slot {
                key: 0,
                start,
                end: raw.len(),
                kind,
            });
        })
        .map_err(io)?;
        // Checked as UTF-8 once for all names (a check per short name cost
        // more than a hundred instructions); when some name is not UTF-8,
        // each is converted on its own, the bad bytes shown as U+FFFD.
        let names = String::from_utf8(raw).unwrap_or_else(|error| {
            let raw = error.into_bytes();
            let mut names = String::with_capacity(raw.len());
            for slot in &mut slots {
                let start = names.len();
                names.push_str(&String::from_utf8_lossy(&raw[slot.start..slot.end]));
                (slot.start, slot.end) = (start, names.len());
            }
            names
        });
        for slot in &mut slots {
            slot.key = key_of(&names.as_bytes()[slot.start..slot.end]);
        }
        sort(&mut slots, names.as_bytes());
        Ok(Self { names, slots })
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when the directory is empty (or every entry is denied).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Total bytes of the names.
    pub fn name_bytes(&self) -> usize {
        self.names.len()
    }

    /// Each entry's name and kind, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Kind)> {
        self.slots
            .iter()
            .map(|slot| (&self.names[slot.start..slot.end], slot.kind))
    }
}

/// The sort key of `name`: its first 16 bytes, big-endian, zero-padded.
fn key_of(name: &[u8]) -> u128 {
    let mut key = [0u8; KEY_BYTES];
    let head = name.len().min(KEY_BYTES);
    key[..head].copy_from_slice(&name[..head]);
    u128::from_be_bytes(key)
}

/// Sort `slots` in the byte order of their names (`bytes[start..end]`), as
/// `str`'s `Ord`: by key first, then, among slots whose keys are equal (names
/// alike in their first 16 bytes), by the rest of the names. Deterministic,
/// so pages cut with `offset` agree.
fn sort(slots: &mut Vec<Slot>, bytes: &[u8]) {
    let tail = |slot: &Slot| bytes[slot.start..slot.end].get(KEY_BYTES..).unwrap_or(&[]);
    // The key bytes that differ between some names: names in one folder
    // often share a prefix, a suffix and the zero padding ("entry0001.txt"
    // varies in 4 of its 16 key bytes), and a radix pass per varying byte
    // costs a few instructions per entry, where a comparison sort costs
    // ~30 per entry per halving (327K instructions for 1,000 names, a
    // third of the call).
    let (mut any, mut all) = (0u128, !0u128);
    for slot in slots.iter() {
        any |= slot.key;
        all &= slot.key;
    }
    let varying = (any ^ all).to_be_bytes();
    let passes = varying.iter().filter(|&&byte| byte != 0).count();
    // Radix when its passes cost less than the comparisons (measured:
    // ~40 instructions per entry per pass, ~33 per comparison level).
    let levels = slots.len().max(1).ilog2() as usize;
    if slots.len() < RADIX_MIN_ENTRIES || passes * 4 > levels * 3 {
        slots.sort_unstable_by(|a, b| a.key.cmp(&b.key).then_with(|| tail(a).cmp(tail(b))));
        return;
    }
    // Least significant byte first, each pass stable, so the slots end in
    // key order.
    let mut scratch = slots.clone();
    for (position, &differs) in varying.iter().enumerate().rev() {
        if differs == 0 {
            continue;
        }
        let shift = 8 * (KEY_BYTES - 1 - position);
        let digit = |slot: &Slot| usize::from((slot.key >> shift) as u8);
        let mut offsets = [0usize; 256];
        for slot in slots.iter() {
            offsets[digit(slot)] += 1;
        }
        let mut sum = 0;
        for offset in &mut offsets {
            (*offset, sum) = (sum, sum + *offset);
        }
        for slot in slots.iter() {
            let offset = &mut offsets[digit(slot)];
            scratch[*offset] = *slot;
            *offset += 1;
        }
        std::mem::swap(slots, &mut scratch);
    }
    // Names alike in all 16 key bytes sit together: order each such run by
    // the rest of the names.
    for run in slots.chunk_by_mut(|a, b| a.key == b.key) {
        if run.len() > 1 {
            run.sort_unstable_by(|a, b| tail(a).cmp(tail(b)));
        }
    }
}

/// The entries of `target` (sorted by name, deny globs hidden), each with
/// its own name.
///
/// # Errors
/// The directory cannot be opened or read.
pub fn entries(server: &FsServer, target: &Target<'_>) -> Result<Vec<Entry>, FsError> {
    Ok(Listing::read(server, target)?
        .iter()
        .map(|(name, kind)| Entry {
            name: name.to_string(),
            kind,
        })
        .collect())
}

/// Run the tool.
///
/// `structuredContent` carries the listing once, as `content` (the same
/// lines as the text): an `entries` array of `{name, type}` objects beside
/// it doubled the answer (a 1,000-entry listing was twice the reference
/// server's size and took twice as long to write and parse) and told a
/// client nothing the `[MARKER] name` lines do not.
pub fn run(server: &FsServer, args: &Args) -> Result<ToolOutput, ToolError> {
    let target = server.roots.resolve(&args.path)?;
    let all = Listing::read(server, &target)?;
    let total = all.len();
    // Every line fits: a marker is at most 7 bytes, then a space and a
    // newline.
    let mut text = String::with_capacity(
        (all.name_bytes() + 9 * total).min(server.policy.max_result_bytes) + 128,
    );
    let mut listed = 0usize;
    let mut next = None;
    for (index, (name, kind)) in all.iter().enumerate().skip(args.offset) {
        let marker = kind.marker();
        // "[MARKER] name\n"
        let line_bytes = marker.len() + 1 + name.len() + 1;
        if listed >= server.policy.max_entries
            || text.len() + line_bytes > server.policy.max_result_bytes
        {
            next = Some(index);
            break;
        }
        text.push_str(marker);
        text.push(' ');
        text.push_str(name);
        text.push('\n');
        listed += 1;
    }
    let content = text.clone();
    if total == 0 {
        text.push_str("(empty directory)\n");
    }
    if let Some(next) = next {
        text.push_str(&format!(
            "[cut at {listed} of {total} entries; call list_directory with offset={next} to continue]\n"
        ));
    }
    let mut structured = Map::new();
    structured.insert("content".into(), Value::String(content));
    structured.insert("total".into(), total.into());
    structured.insert("nextOffset".into(), next.into());
    Ok(ToolOutput::with_structured(text, Value::Object(structured)))
}

#[cfg(all(test, unix))]
mod tests {
    use std::{ffi::OsStr, os::unix::ffi::OsStrExt as _};

    use moat_shared::policy::{FsPolicy, Mode};

    use super::*;

    /// Names come out in the byte order of their shown (UTF-8) form, as a
    /// sort of the names as strings gives: names equal in their first 16
    /// bytes, a name that begins another, and names that are not UTF-8
    /// (shown with U+FFFD) included.
    #[test]
    fn sorted_like_the_names_as_strings() {
        let temp = tempfile::tempdir().expect("tempdir");
        let dir = cap_std::fs::Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority())
            .expect("open");
        let mut names: Vec<&[u8]> = vec![
            b"b",
            b"a",
            b"ab",
            b"abcdefghijklmnop",
            b"abcdefghijklmnopq10",
            b"abcdefghijklmnopq2",
            b"abcdefghijklmnopq",
            b"\xc3\xa9t\xc3\xa9",
            b"Z",
            b"\xff\xfe-not-utf8",
            b"x\xffy",
        ];
        for name in &names {
            dir.write(OsStr::from_bytes(name), "x").expect("write");
        }
        let roots = [(temp.path().to_string_lossy().into_owned(), Mode::Ro)];
        let server = FsServer::new(&roots, FsPolicy::default()).expect("server");
        let target = server.roots.resolve(".").expect("resolve");
        let listed: Vec<String> = Listing::read(&server, &target)
            .expect("listing")
            .iter()
            .map(|(name, kind)| {
                assert_eq!(kind, Kind::File);
                name.to_string()
            })
            .collect();
        names.sort_unstable_by_key(|name| String::from_utf8_lossy(name));
        let expected: Vec<String> = names
            .iter()
            .map(|name| String::from_utf8_lossy(name).into_owned())
            .collect();
        assert_eq!(listed, expected);
    }

    /// The radix sort (long listings whose names differ in a few key
    /// bytes) and the comparison sort both give the names' byte order,
    /// names alike in their first 16 bytes included.
    #[test]
    fn long_listings_sorted_like_the_names() {
        let numbered: Vec<Vec<u8>> = (0..1000)
            .map(|index| format!("entry{index:04}.txt").into_bytes())
            .collect();
        // One 16-byte key shared by 200 names (and one name it begins),
        // plus a 15-byte name: the radix pass leaves runs the tails order.
        let mut shared: Vec<Vec<u8>> = (0..200)
            .map(|index| format!("shared_prefix_16{}", index * 7 % 200).into_bytes())
            .collect();
        shared.extend([b"shared_prefix_16".to_vec(), b"shared_prefix_1".to_vec()]);
        // Names differing in every key byte: the comparison sort.
        let scattered: Vec<Vec<u8>> = (0u32..500)
            .map(|index| index.wrapping_mul(2_654_435_761).to_string().into_bytes())
            .collect();
        for names in [numbered, shared, scattered] {
            let mut order: Vec<usize> = (0..names.len()).collect();
            // A fixed shuffle, as a file system's hash order would give.
            let mut state = 0x2545_f491_4f6c_dd1d_u64;
            for index in (1..order.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                order.swap(index, (state % (index as u64 + 1)) as usize);
            }
            let mut bytes = Vec::new();
            let mut slots = Vec::new();
            for &index in &order {
                let start = bytes.len();
                bytes.extend_from_slice(&names[index]);
                slots.push(Slot {
                    key: key_of(&names[index]),
                    start,
                    end: bytes.len(),
                    kind: Kind::File,
                });
            }
            sort(&mut slots, &bytes);
            let sorted: Vec<&[u8]> = slots
                .iter()
                .map(|slot| &bytes[slot.start..slot.end])
                .collect();
            let mut expected: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
            expected.sort_unstable();
            assert_eq!(sorted, expected);
        }
    }
}
