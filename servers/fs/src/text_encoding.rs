//! Text that is not UTF-8: which encoding a file is in, and its text as
//! UTF-8 for read_text_file's line reader.
//!
//! - A byte-order mark decides (UTF-16LE, UTF-16BE; a UTF-8 BOM is UTF-8).
//! - An `encoding` argument (a WHATWG label: `utf-16le`, `windows-1252`,
//!   `shift_jis`, `latin1`...) is used as given, unless a BOM says
//!   otherwise.
//! - Otherwise a file whose first [`SNIFF_BYTES`] are not UTF-8 is read as
//!   windows-1252 (what Windows editors write for Western text; every byte
//!   decodes), and the output says so, so the model can ask again with the
//!   right `encoding`. A sample with NUL bytes is binary, not 8-bit text:
//!   it stays with the UTF-8 reader, which shows stray bytes as U+FFFD.
//!
//! UTF-8 files are not decoded: the bytes sniffed are handed back to be
//! read before the rest of the file (no seek back, no second read of a
//! small file), and lines stream from there. A file that must be decoded
//! is read whole, so it is refused past the read limit.
//!
//! # Must never
//! - fail on bytes that are not valid in the encoding (they become U+FFFD);
//! - decode without saying which encoding was used.

use std::io::{Cursor, Read};

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use moat_shared::ToolOutput;
use rmcp::model::ContentBlock;

use crate::error::FsError;

/// How many bytes from the start of a file are checked for UTF-8 when no
/// encoding is given: enough for a few hundred lines of prose, small enough
/// to cost nothing next to the read itself.
pub const SNIFF_BYTES: usize = 8 * 1024;

/// A file's text re-encoded as UTF-8, and how it was decoded.
#[derive(Debug)]
pub struct Decoded {
    /// The text as UTF-8, to read lines from.
    pub utf8: Cursor<Vec<u8>>,
    /// The encoding's name (`UTF-16LE`, `windows-1252`...).
    pub encoding: &'static str,
    /// Why this encoding: `byte-order mark`, `requested`, or `detected`.
    pub reason: &'static str,
}

/// A file's start, sniffed: UTF-8 to stream, or decoded text.
#[derive(Debug)]
pub enum Sniffed {
    /// UTF-8 (or binary): the first bytes, already read from the file.
    Utf8 {
        /// The bytes read; the file goes on after them.
        head: Vec<u8>,
        /// Whether `head` is the whole file (the read met its end).
        whole: bool,
    },
    /// Text in another encoding, decoded whole.
    Decoded(Decoded),
}

/// Sniff `file` from its current position and decode it when it is not
/// UTF-8 (see the module doc).
///
/// # Errors
/// An unknown `encoding` label, a file over `max_bytes` that needs
/// decoding, or a read error.
pub fn decode_if_needed<F: Read>(
    file: &mut F,
    requested: Option<&str>,
    max_bytes: u64,
    shown: &str,
) -> Result<Sniffed, FsError> {
    let io = |error| FsError::io(shown, error);
    let requested = requested
        .map(|label| {
            Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| {
                FsError::Invalid(format!(
                    "unknown encoding {label:?}: give a label such as utf-8, utf-16le, utf-16be, \
                     windows-1252, latin1, shift_jis, gbk"
                ))
            })
        })
        .transpose()?;
    let mut sample = Vec::with_capacity(SNIFF_BYTES);
    file.by_ref()
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut sample)
        .map_err(io)?;
    let (encoding, reason) = match (Encoding::for_bom(&sample), requested) {
        (Some((bom, _)), _) => (bom, "byte-order mark"),
        (None, Some(given)) => (given, "requested"),
        // NUL bytes mean binary, not text in some 8-bit encoding: the
        // UTF-8 reader shows what is not UTF-8 as U+FFFD.
        (None, None) if is_utf8_start(&sample) || sample.contains(&0) => (UTF_8, "detected"),
        (None, None) => (WINDOWS_1252, "detected: not UTF-8"),
    };
    if encoding == UTF_8 {
        // `take` stops short of its limit only at the end of the file.
        let whole = sample.len() < SNIFF_BYTES;
        return Ok(Sniffed::Utf8 {
            head: sample,
            whole,
        });
    }
    let mut bytes = sample;
    let rest = (max_bytes + 1).saturating_sub(bytes.len() as u64);
    file.by_ref()
        .take(rest)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > max_bytes {
        return Err(FsError::Refused(format!(
            "{shown} is {} text over the {max_bytes}-byte limit for decoding; only UTF-8 files are \
             read in parts",
            encoding.name()
        )));
    }
    // `decode` removes a BOM (and lets it override the encoding).
    let (text, used, _had_errors) = encoding.decode(&bytes);
    Ok(Sniffed::Decoded(Decoded {
        utf8: Cursor::new(text.into_owned().into_bytes()),
        encoding: used.name(),
        reason,
    }))
}

/// True when `sample` is UTF-8, allowing a character cut at its end.
fn is_utf8_start(sample: &[u8]) -> bool {
    match std::str::from_utf8(sample) {
        Ok(_) => true,
        Err(error) => error.error_len().is_none() && sample.len() == SNIFF_BYTES,
    }
}

/// Say in `output` which encoding the text was decoded from: a last text
/// block, and `encoding` in the structured content.
pub fn label(output: &mut ToolOutput, decoded: &Decoded) {
    output.content.push(ContentBlock::text(format!(
        "[decoded from {} ({}); pass encoding to choose another]",
        decoded.encoding, decoded.reason
    )));
    if let Some(serde_json::Value::Object(structured)) = &mut output.structured {
        structured.insert("encoding".into(), decoded.encoding.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8], requested: Option<&str>) -> Result<Option<Decoded>, FsError> {
        let sniffed = decode_if_needed(&mut Cursor::new(bytes.to_vec()), requested, 1024, "f.txt")?;
        Ok(match sniffed {
            Sniffed::Utf8 { head, whole } => {
                // What was read is the file's start, and says so when it is
                // all of it.
                assert!(bytes.starts_with(&head));
                assert_eq!(
                    whole,
                    head.len() == bytes.len() && bytes.len() < SNIFF_BYTES
                );
                None
            }
            Sniffed::Decoded(decoded) => Some(decoded),
        })
    }

    fn text(decoded: Option<Decoded>) -> (String, &'static str) {
        let decoded = decoded.expect("decoded");
        (
            String::from_utf8(decoded.utf8.into_inner()).expect("utf-8"),
            decoded.encoding,
        )
    }

    /// A UTF-16 file with a BOM reads as text, in either byte order.
    #[test]
    fn utf16_with_a_bom_reads_as_text() {
        let mut little = vec![0xFF, 0xFE];
        let mut big = vec![0xFE, 0xFF];
        for unit in "héllo\r\nwörld\n".encode_utf16() {
            little.extend(unit.to_le_bytes());
            big.extend(unit.to_be_bytes());
        }
        for (bytes, name) in [(little, "UTF-16LE"), (big, "UTF-16BE")] {
            assert_eq!(
                text(decode(&bytes, None).expect("ok")),
                ("héllo\r\nwörld\n".to_string(), name)
            );
        }
    }

    /// UTF-8 (with or without BOM) is left to the streaming reader.
    #[test]
    fn utf8_is_not_decoded() {
        assert!(decode("plain ✓".as_bytes(), None).expect("ok").is_none());
        assert!(decode(b"\xEF\xBB\xBFbom", None).expect("ok").is_none());
        assert!(decode(b"x", Some("utf-8")).expect("ok").is_none());
        assert!(decode(b"\x89PNG\0\0\xFF", None).expect("ok").is_none());
        // Longer than the sniff: the head is its first part, not the whole.
        assert!(
            decode("ab\n".repeat(SNIFF_BYTES).as_bytes(), None)
                .expect("ok")
                .is_none()
        );
    }

    /// A decoded file is the sniffed bytes and the rest, each read once:
    /// a windows-1252 file longer than the sniff decodes whole.
    #[test]
    fn a_long_decoded_file_keeps_its_start() {
        let mut bytes = b"caf\xE9\n".repeat(SNIFF_BYTES / 4);
        bytes.extend_from_slice(b"end \xE9");
        let sniffed =
            decode_if_needed(&mut Cursor::new(bytes.clone()), None, 1 << 20, "f.txt").expect("ok");
        let Sniffed::Decoded(decoded) = sniffed else {
            panic!("not decoded: {sniffed:?}");
        };
        let text = String::from_utf8(decoded.utf8.into_inner()).expect("utf-8");
        assert_eq!(
            text,
            format!("{}end \u{e9}", "caf\u{e9}\n".repeat(SNIFF_BYTES / 4))
        );
    }

    /// Latin-1 bytes are detected as not UTF-8 and read as windows-1252;
    /// a given label is used as given.
    #[test]
    fn other_text_is_detected_or_decoded_as_asked() {
        assert_eq!(
            text(decode(b"caf\xE9 \x80", None).expect("ok")),
            ("café €".to_string(), "windows-1252")
        );
        assert_eq!(
            text(decode(b"\x83n\x83\x8D\x81[", Some("shift_jis")).expect("ok")),
            ("ハロー".to_string(), "Shift_JIS")
        );
    }

    /// An unknown label and an oversized file are refused with a clear line.
    #[test]
    fn unknown_labels_and_big_files_are_refused() {
        let error = decode(b"x", Some("klingon")).expect_err("unknown");
        assert!(error.to_string().contains("unknown encoding \"klingon\""));
        let big = [0xE9u8; 2048];
        let error = decode(&big, None).expect_err("too big");
        assert!(error.to_string().contains("limit for decoding"), "{error}");
    }
}
