//! `read_text_file` (alias `read_file`): a file's text, whole or by lines.
//!
//! Reads stream line by line and stop at the byte budget, so a request for
//! part of a huge file never loads the whole file. `tail` reads backwards
//! from the end in blocks.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};

use moat_shared::{CallContext, ToolError, ToolOutput, parse_arguments, runtime::tool_definition};
use rmcp::model::{JsonObject, Tool};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::{FsServer, error::FsError};

/// Arguments of `read_text_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file: absolute (inside an allowed directory) or relative to the
    /// first allowed directory.
    pub path: String,
    /// Only the first N lines.
    pub head: Option<u64>,
    /// Only the last N lines.
    pub tail: Option<u64>,
    /// First line to return, 1-based (for continuing a cut read).
    pub offset: Option<u64>,
    /// Most lines to return from `offset`.
    pub limit: Option<u64>,
    /// Prefix each line with its number.
    #[serde(default)]
    pub with_line_numbers: bool,
}

const DESCRIPTION: &str = "Read a text file. Use it to look at source, notes or configuration. \
For big files ask for part: `head`/`tail` (first/last N lines) or `offset`+`limit` (a line range, \
1-based). Results beyond the byte budget are cut at a line boundary and end with the `offset` to \
continue from. Binary bytes that are not UTF-8 are shown as U+FFFD.";

/// The `tools/list` entry.
pub fn definition() -> Tool {
    tool_definition::<Args>("read_text_file", "Read text file", DESCRIPTION)
        .with_annotations(super::read_only())
        .with_raw_output_schema(schema())
}

/// The deprecated alias the reference server still lists.
pub fn alias_definition() -> Tool {
    tool_definition::<Args>(
        "read_file",
        "Read file (deprecated alias)",
        "Deprecated alias of read_text_file, kept for clients written against the reference \
         server; prefer read_text_file.",
    )
    .with_annotations(super::read_only())
    .with_raw_output_schema(schema())
}

fn schema() -> std::sync::Arc<JsonObject> {
    super::output_schema(json!({
        "startLine": { "type": ["integer", "null"] },
        "endLine": { "type": ["integer", "null"] },
        "truncated": { "type": "boolean" },
        "nextOffset": { "type": ["integer", "null"] },
    }))
}

/// Run the tool.
pub fn run(
    server: &FsServer,
    arguments: JsonObject,
    context: &CallContext,
) -> Result<ToolOutput, ToolError> {
    let args: Args = parse_arguments(arguments)?;
    if args.head.is_some() && args.tail.is_some() {
        return Err(FsError::Invalid("give head or tail, not both".into()).into());
    }
    if args.tail.is_some() && (args.offset.is_some() || args.limit.is_some()) {
        return Err(FsError::Invalid("tail cannot be combined with offset or limit".into()).into());
    }
    if args.offset == Some(0) {
        return Err(FsError::Invalid("offset is 1-based: the first line is 1".into()).into());
    }
    let target = server.roots.resolve(&args.path)?;
    let (file, _metadata) = target.open_regular()?;
    let budget = server.policy.max_result_bytes;
    let page = if let Some(count) = args.tail {
        read_tail(file, count, server.policy.max_read_bytes, budget, context)
    } else {
        let first = args.offset.unwrap_or(1);
        let limit = args.head.or(args.limit);
        read_range(file, first, limit, budget, context)
    }
    .map_err(|error| FsError::io(&target.shown, error))?;
    Ok(page.into_output(args.with_line_numbers))
}

/// Some lines of a file.
pub(crate) struct Page {
    pub(crate) lines: Vec<String>,
    /// 1-based number of the first line, when known (a tail read does not
    /// count the lines before it).
    pub(crate) first: Option<u64>,
    /// Why the page is short of what was asked, and how to go on.
    pub(crate) note: Option<String>,
    /// The `offset` that continues this page.
    pub(crate) next_offset: Option<u64>,
}

impl Page {
    fn into_output(self, numbers: bool) -> ToolOutput {
        let mut text = String::new();
        for (index, line) in self.lines.iter().enumerate() {
            if numbers && let Some(first) = self.first {
                text.push_str(&format!("{:>6}\t", first + index as u64));
            }
            text.push_str(line);
        }
        let last = self
            .first
            .map(|first| first + (self.lines.len() as u64).saturating_sub(1));
        let mut shown = text.clone();
        if let Some(note) = &self.note {
            if !shown.ends_with('\n') && !shown.is_empty() {
                shown.push('\n');
            }
            shown.push_str(note);
        }
        ToolOutput::with_structured(
            shown,
            json!({
                "content": text,
                "startLine": self.first,
                "endLine": last,
                "truncated": self.note.is_some(),
                "nextOffset": self.next_offset,
            }),
        )
    }
}

/// Lines `first..first+limit` (1-based), stopping at `budget` bytes. At
/// least one line is returned even when it alone exceeds the budget (cut).
pub(crate) fn read_range(
    file: cap_std::fs::File,
    first: u64,
    limit: Option<u64>,
    budget: usize,
    context: &CallContext,
) -> std::io::Result<Page> {
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut buffer = Vec::new();
    let mut number = 0u64;
    let mut lines = Vec::new();
    let mut used = 0usize;
    let mut truncated = false;
    loop {
        buffer.clear();
        // Lines before `first` are skipped without being kept; a single
        // huge line is read in budget-sized pieces.
        let read = reader
            .by_ref()
            .take(budget as u64 + 1)
            .read_until(b'\n', &mut buffer)?;
        if read == 0 {
            break;
        }
        number += 1;
        if number.is_multiple_of(4096) && (context.cancel.is_cancelled() || context.past_deadline())
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "stopped at the deadline",
            ));
        }
        if number < first {
            continue;
        }
        if limit.is_some_and(|limit| lines.len() as u64 >= limit) {
            break;
        }
        if used + buffer.len() > budget {
            if lines.is_empty() {
                let cut = floor_char_boundary(&buffer, budget);
                lines.push(String::from_utf8_lossy(&buffer[..cut]).into_owned());
            }
            truncated = true;
            break;
        }
        used += buffer.len();
        lines.push(String::from_utf8_lossy(&buffer).into_owned());
    }
    let next_offset = truncated.then(|| first + lines.len() as u64);
    let note = next_offset.map(|next| {
        format!(
            "[truncated at the {budget}-byte budget: lines {first}-{} shown; call read_text_file with offset={next} to continue]",
            next - 1
        )
    });
    Ok(Page {
        lines,
        first: Some(first),
        note,
        next_offset,
    })
}

/// The last `count` lines, scanning at most `scan_cap` bytes back from the
/// end and keeping at most `budget` bytes.
fn read_tail(
    mut file: cap_std::fs::File,
    count: u64,
    scan_cap: u64,
    budget: usize,
    context: &CallContext,
) -> std::io::Result<Page> {
    const BLOCK: u64 = 64 * 1024;
    let size = file.seek(SeekFrom::End(0))?;
    let mut start = size;
    let mut tail: Vec<u8> = Vec::new();
    // Count newlines, ignoring a final one that ends the last line.
    let wanted = usize::try_from(count).unwrap_or(usize::MAX);
    loop {
        let newlines = tail.iter().filter(|byte| **byte == b'\n').count()
            - usize::from(tail.last() == Some(&b'\n'));
        if start == 0 || newlines >= wanted || size - start >= scan_cap || tail.len() > budget {
            break;
        }
        context
            .check()
            .map_err(|_| std::io::Error::other("cancelled"))?;
        let step = BLOCK.min(start);
        start -= step;
        file.seek(SeekFrom::Start(start))?;
        let mut block = vec![0; step as usize];
        file.read_exact(&mut block)?;
        block.extend_from_slice(&tail);
        tail = block;
    }
    let text = String::from_utf8_lossy(&tail);
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    // The first piece may be a partial line when the scan stopped early.
    let skip = lines.len().saturating_sub(wanted);
    lines.drain(..skip);
    let mut dropped = 0usize;
    let mut used: usize = lines.iter().map(String::len).sum();
    while used > budget && lines.len() > 1 {
        used -= lines.remove(0).len();
        dropped += 1;
    }
    let note = (dropped > 0).then(|| {
        format!(
            "[the first {dropped} of the last {count} lines were left out for the {budget}-byte budget; ask for a smaller tail]"
        )
    });
    Ok(Page {
        lines,
        first: None,
        note,
        next_offset: None,
    })
}

/// The largest index `<= at` that does not split a UTF-8 sequence.
fn floor_char_boundary(bytes: &[u8], at: usize) -> usize {
    let mut index = at.min(bytes.len());
    while index > 0 && index < bytes.len() && (bytes[index] & 0b1100_0000) == 0b1000_0000 {
        index -= 1;
    }
    index
}
