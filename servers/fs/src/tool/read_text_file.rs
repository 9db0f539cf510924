//! `read_text_file` (alias `read_file`): a file's text, whole or by lines.
//!
//! Reads stream line by line and stop at the byte budget, so a request for
//! part of a huge file never loads the whole file. `tail` reads backwards
//! from the end in blocks.

use std::{
    fmt::Write as _,
    io::{BufRead, BufReader, Cursor, Read, Seek, SeekFrom},
};

use moat_shared::{CallContext, ToolError, ToolOutput};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    FsServer,
    error::FsError,
    text_encoding::{self, Sniffed},
};

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
    /// The file's text encoding when it is not UTF-8 (e.g. `utf-16le`,
    /// `windows-1252`, `shift_jis`); a byte-order mark wins. Without it,
    /// non-UTF-8 text is detected and the result says which was used.
    pub encoding: Option<String>,
}

const DESCRIPTION: &str = "Read a text file. Use it to look at source, notes or configuration. \
For big files ask for part: `head`/`tail` (first/last N lines) or `offset`+`limit` (a line range, \
1-based). Results beyond the byte budget are cut at a line boundary and end with the `offset` to \
continue from. UTF-16 with a byte-order mark and other encodings (detected, or given as \
`encoding`) are decoded and the result names the encoding; bytes of a binary file that are not \
UTF-8 are shown as U+FFFD.";

moat_shared::tool! {
    /// The `read_text_file` tool.
    pub ReadTextFile: BlockingTool<FsServer> = "read_text_file", "Read text file", super::read_only(), output: Structured;
}

moat_shared::tool! {
    /// `read_file`: the deprecated alias the reference server still lists.
    pub ReadFile: BlockingTool<FsServer> = "read_file", "Read file (deprecated alias)",
        super::read_only(), output: Structured, description: "Deprecated alias of \
        read_text_file, kept for clients written against the reference server; prefer \
        read_text_file.";
}

super::structured_output!(super::output_schema(json!({
    "startLine": { "type": ["integer", "null"] },
    "endLine": { "type": ["integer", "null"] },
    "truncated": { "type": "boolean" },
    "nextOffset": { "type": ["integer", "null"] },
    "encoding": { "type": "string" },
})));

/// Run the tool.
pub fn run(server: &FsServer, args: &Args, context: &CallContext) -> Result<ToolOutput, ToolError> {
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
    let (file, metadata) = target.open_regular()?;
    // std's `File` reads into uninitialised buffers; cap-std's does not
    // forward that, so every read first zeroed its whole buffer (a 64 KiB
    // memset per call, more than the rest of a 4 KiB read).
    let mut file = file.into_std();
    let budget = server.policy.max_result_bytes;
    let max_read = server.policy.max_read_bytes;
    let sniffed = text_encoding::decode_if_needed(
        &mut file,
        args.encoding.as_deref(),
        max_read,
        &target.shown,
    )?;
    let first = args.offset.unwrap_or(1);
    let limit = args.head.or(args.limit);
    let page = match (args.tail, &sniffed) {
        // A tail read seeks from the end, wherever the sniff left the file.
        (Some(count), Sniffed::Utf8 { .. }) => read_tail(file, count, max_read, budget, context),
        (Some(count), Sniffed::Decoded(text)) => {
            read_tail(decoded_bytes(text), count, max_read, budget, context)
        }
        // The sniffed start is read first, then the rest of the file: a
        // file the sniff read whole is not read again.
        (None, Sniffed::Utf8 { head, whole: true }) => {
            read_range(head.as_slice(), metadata.len(), first, limit, budget, context)
        }
        (None, Sniffed::Utf8 { head, whole: false }) => read_range(
            head.as_slice().chain(file),
            metadata.len(),
            first,
            limit,
            budget,
            context,
        ),
        (None, Sniffed::Decoded(text)) => {
            let bytes = decoded_bytes(text);
            let size = bytes.get_ref().len() as u64;
            read_range(bytes, size, first, limit, budget, context)
        }
    }
    .map_err(|error| FsError::io(&target.shown, error))?;
    let mut output = page.into_output(args.with_line_numbers);
    if let Sniffed::Decoded(text) = &sniffed {
        text_encoding::label(&mut output, text);
    }
    Ok(output)
}

/// A decoded file's UTF-8 bytes, to read lines from without a copy.
fn decoded_bytes(text: &text_encoding::Decoded) -> Cursor<&[u8]> {
    Cursor::new(text.utf8.get_ref().as_slice())
}

/// Some lines of a file, kept as one string: a 1 MiB read is one buffer,
/// validated as UTF-8 once, not 65,536 small strings (the per-line strings
/// were most of `read_text_file`'s cost).
pub(crate) struct Page {
    /// The lines, each with its line ending (the last may have none).
    pub(crate) text: String,
    /// How many lines `text` holds (a line cut at the budget counts as one).
    pub(crate) line_count: u64,
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
        let last = self
            .first
            .map(|first| first + self.line_count.saturating_sub(1));
        let text = match self.first {
            Some(first) if numbers => numbered(&self.text, first, self.line_count),
            _ => self.text,
        };
        let mut shown =
            String::with_capacity(text.len() + self.note.as_ref().map_or(0, |note| note.len() + 1));
        shown.push_str(&text);
        if let Some(note) = &self.note {
            if !shown.ends_with('\n') && !shown.is_empty() {
                shown.push('\n');
            }
            shown.push_str(note);
        }
        // Built field by field: `json!` would serialise `text` into a
        // second copy of it.
        let mut structured = serde_json::Map::new();
        structured.insert("content".into(), Value::String(text));
        structured.insert("startLine".into(), self.first.into());
        structured.insert("endLine".into(), last.into());
        structured.insert("truncated".into(), self.note.is_some().into());
        structured.insert("nextOffset".into(), self.next_offset.into());
        ToolOutput::with_structured(shown, Value::Object(structured))
    }
}

/// `text`'s first `count` lines, each prefixed with its number (from
/// `first`), right-aligned in six columns and a tab.
fn numbered(text: &str, first: u64, count: u64) -> String {
    let mut out = String::with_capacity(text.len() + 8 * usize::try_from(count).unwrap_or(0));
    let mut rest = text;
    for number in first..first.saturating_add(count) {
        let end = rest.find('\n').map_or(rest.len(), |at| at + 1);
        // Writing to a String cannot fail.
        let _ = write!(out, "{number:>6}\t");
        out.push_str(&rest[..end]);
        rest = &rest[end..];
    }
    out
}

/// Lines `first..first+limit` (1-based) of `file` from where it stands,
/// stopping at `budget` bytes. At least one line is returned even when it
/// alone exceeds the budget (cut). A line longer than `budget + 1` bytes
/// counts as one line per `budget + 1`-byte piece, so such a line is never
/// held whole. `size` is the file's size when opened, a hint for the
/// buffer (the read goes to the end of the file whatever it says: a file
/// may grow, and some report no size).
pub(crate) fn read_range(
    file: impl Read,
    size: u64,
    first: u64,
    limit: Option<u64>,
    budget: usize,
    context: &CallContext,
) -> std::io::Result<Page> {
    let piece = budget as u64 + 1;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut number = 0u64;
    // Lines before `first` are skipped without being kept.
    let mut skipped = Vec::new();
    while number + 1 < first {
        skipped.clear();
        if reader
            .by_ref()
            .take(piece)
            .read_until(b'\n', &mut skipped)?
            == 0
        {
            break;
        }
        number += 1;
        if number.is_multiple_of(4096) {
            stop_at_deadline(context)?;
        }
    }
    // The kept lines are read into one buffer; a line that does not fit is
    // taken back out (or cut, when it is the first).
    let mut bytes = Vec::new();
    // A whole-file read knows its size: one allocation, no regrowth.
    if first == 1 && limit.is_none() {
        bytes.reserve(usize::try_from(size.min(piece)).unwrap_or(budget));
    }
    let (line_count, truncated) = match limit {
        None => read_whole(&mut reader, budget, &mut bytes)?,
        Some(limit) => read_lines(&mut reader, limit, budget, &mut bytes, context)?,
    };
    let text = utf8_text(&bytes);
    drop(bytes);
    let next_offset = truncated.then(|| first + line_count);
    let note = next_offset.map(|next| {
        format!(
            "[truncated at the {budget}-byte budget: lines {first}-{} shown; call read_text_file with offset={next} to continue]",
            next - 1
        )
    });
    Ok(Page {
        text,
        line_count,
        first: Some(first),
        note,
        next_offset,
    })
}

/// `bytes` as text, what is not UTF-8 shown as U+FFFD. Checked by
/// simdutf8 and then copied: std's check (the only safe way to keep the
/// buffer) took ten instructions a byte on non-ASCII text, a 1 MiB read of
/// it three times the cost of the rest of the call; the copy is a memcpy.
fn utf8_text(bytes: &[u8]) -> String {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Every line to the end that fits in `budget`, in one read of at most
/// `budget + 1` bytes: the extra byte tells whether anything was left out.
/// Returns the number of lines kept and whether the read was cut.
fn read_whole(
    reader: &mut impl Read,
    budget: usize,
    bytes: &mut Vec<u8>,
) -> std::io::Result<(u64, bool)> {
    let read = reader.take(budget as u64 + 1).read_to_end(bytes)?;
    if read <= budget {
        let endings = count_newlines(bytes);
        let unended = u64::from(bytes.last().is_some_and(|byte| *byte != b'\n'));
        return Ok((endings + unended, false));
    }
    if let Some(end) = bytes[..budget].iter().rposition(|byte| *byte == b'\n') {
        bytes.truncate(end + 1);
        return Ok((count_newlines(bytes), true));
    }
    // The first line alone exceeds the budget: cut it.
    let cut = floor_char_boundary(bytes, budget);
    bytes.truncate(cut);
    Ok((1, true))
}

/// At most `limit` lines that fit in `budget`, read line by line (a `head`
/// of ten lines reads ten lines). Returns the number of lines kept and
/// whether the budget cut the read.
fn read_lines(
    reader: &mut impl BufRead,
    limit: u64,
    budget: usize,
    bytes: &mut Vec<u8>,
    context: &CallContext,
) -> std::io::Result<(u64, bool)> {
    let mut kept = 0u64;
    while kept < limit {
        let start = bytes.len();
        let read = reader
            .by_ref()
            .take(budget as u64 + 1)
            .read_until(b'\n', bytes)?;
        if read == 0 {
            break;
        }
        if start + read > budget {
            if kept == 0 {
                let cut = floor_char_boundary(bytes, budget);
                bytes.truncate(cut);
                kept = 1;
            } else {
                bytes.truncate(start);
            }
            return Ok((kept, true));
        }
        kept += 1;
        if kept.is_multiple_of(4096) {
            stop_at_deadline(context)?;
        }
    }
    Ok((kept, false))
}

/// The number of `\n` bytes in `bytes`. Summed in `u8` lanes over
/// 255-byte blocks (no lane can overflow), which the compiler vectorises;
/// a plain `filter().count()` took about five instructions a byte.
fn count_newlines(bytes: &[u8]) -> u64 {
    bytes
        .chunks(255)
        .map(|block| {
            u64::from(
                block
                    .iter()
                    .fold(0u8, |sum, byte| sum + u8::from(*byte == b'\n')),
            )
        })
        .sum()
}

/// An error once the call is cancelled or past its deadline.
fn stop_at_deadline(context: &CallContext) -> std::io::Result<()> {
    context
        .check()
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "stopped at the deadline"))
}

/// The last `count` lines, scanning at most `scan_cap` bytes back from the
/// end and keeping at most `budget` bytes.
fn read_tail(
    mut file: impl Read + Seek,
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
        line_count: lines.len() as u64,
        text: lines.concat(),
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

#[cfg(test)]
mod tests {
    use std::{
        io::{BufRead, BufReader, Read},
        time::Duration,
    };

    use moat_shared::CallContext;

    use super::{floor_char_boundary, read_range};

    /// The per-line reader `read_range` replaced (one `String` per line),
    /// kept as the model: (text, line count, next offset).
    fn model(
        bytes: &[u8],
        first: u64,
        limit: Option<u64>,
        budget: usize,
    ) -> (String, u64, Option<u64>) {
        let mut reader = BufReader::new(bytes);
        let (mut number, mut used, mut truncated) = (0u64, 0usize, false);
        let mut lines: Vec<String> = Vec::new();
        let mut buffer = Vec::new();
        loop {
            buffer.clear();
            let read = reader
                .by_ref()
                .take(budget as u64 + 1)
                .read_until(b'\n', &mut buffer)
                .expect("read");
            if read == 0 {
                break;
            }
            number += 1;
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
        let count = lines.len() as u64;
        (lines.concat(), count, truncated.then(|| first + count))
    }

    /// Through the tool: files shorter and longer than the encoding sniff
    /// (whose bytes are read once and handed to the line reader) give
    /// every line range exactly as the file holds it, lines that cross the
    /// sniff's end included.
    #[test]
    fn reads_across_the_sniffed_start_match_the_file() {
        use crate::{FsServer, FsPolicy, Mode, text_encoding::SNIFF_BYTES};
        let temp = tempfile::tempdir().expect("tempdir");
        let dir = cap_std::fs::Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority())
            .expect("open");
        let line = "0123456789 \u{e9}t\u{e9} abcdefghijklmnopqrstuvw\n"; // 40 bytes, not a divisor
        let sizes = [0, 1, SNIFF_BYTES - 1, SNIFF_BYTES, SNIFF_BYTES + 1, 3 * SNIFF_BYTES + 7];
        let texts: Vec<String> = sizes
            .iter()
            .map(|size| line.repeat(size / line.len() + 1).chars().take(*size).collect())
            .collect();
        for (index, text) in texts.iter().enumerate() {
            dir.write(format!("f{index}.txt"), text).expect("write");
        }
        let roots = [(temp.path().to_string_lossy().into_owned(), Mode::Ro)];
        let server = FsServer::new(&roots, FsPolicy::default()).expect("server");
        let context = CallContext::detached(Duration::from_secs(60));
        for ((index, text), size) in texts.iter().enumerate().zip(sizes) {
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            for (offset, limit) in [(None, None), (Some(200), Some(10)), (Some(205), None), (None, Some(300))] {
                let args = super::Args {
                    path: format!("f{index}.txt"),
                    head: None,
                    tail: None,
                    offset,
                    limit,
                    with_line_numbers: false,
                    encoding: None,
                };
                let output = super::run(&server, &args, &context).expect("read");
                let first = offset.unwrap_or(1) as usize - 1;
                let end = limit.map_or(lines.len(), |limit| (first + limit as usize).min(lines.len()));
                let expected = lines.get(first..end).map(<[&str]>::concat).unwrap_or_default();
                let shown = match &output.content[0] {
                    rmcp::model::ContentBlock::Text(block) => block.text.clone(),
                    other => panic!("not text: {other:?}"),
                };
                assert_eq!(shown, expected, "size {size}, offset {offset:?}, limit {limit:?}");
            }
        }
    }

    /// Regression guard for the one-buffer reader: for whole reads, heads,
    /// offsets, budgets that cut mid-line or mid-character, lines longer
    /// than the budget, invalid UTF-8 and files without a final newline,
    /// it returns exactly what the per-line reader returned.
    #[test]
    fn one_buffer_reader_matches_the_per_line_reader() {
        let temp = tempfile::tempdir().expect("tempdir");
        let dir = cap_std::fs::Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority())
            .expect("open");
        let long = "x".repeat(50);
        let long_lines = format!("short\n{long}\n{long}{long}\nafter\n").into_bytes();
        let files: [&[u8]; 6] = [
            b"",
            b"one\ntwo\nthree\n",
            b"one\ntwo\nno final newline",
            "\u{e9}t\u{e9}\n\u{2713}\u{2713}\u{2713}\n\n\nend\n".as_bytes(),
            b"bad \xff\xfe utf-8\nsplit \xe2\x9c\nok\n",
            &long_lines,
        ];
        let context = CallContext::detached(Duration::from_secs(60));
        for (index, content) in files.iter().enumerate() {
            let name = format!("f{index}");
            dir.write(&name, content).expect("write");
            for budget in [0, 1, 3, 4, 7, 8, 9, 14, 20, 49, 51, 1000] {
                for first in [1, 2, 3, 5] {
                    for limit in [None, Some(1), Some(2), Some(100)] {
                        let file = dir.open(&name).expect("open");
                        let size = content.len() as u64;
                        let page = read_range(file, size, first, limit, budget, &context)
                            .expect("read");
                        let expected = model(content, first, limit, budget);
                        assert_eq!(
                            (page.text, page.line_count, page.next_offset),
                            expected,
                            "file {index}, budget {budget}, first {first}, limit {limit:?}"
                        );
                    }
                }
            }
        }
    }
}
