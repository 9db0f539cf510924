//! A text as the body of a JSON string, escaped byte for byte as
//! serde_json escapes it, eight bytes at a time.
//!
//! serde_json looks every byte up in a table and writes each clean run
//! separately: about thirteen instructions a byte on a file of short lines,
//! which made escaping a 1 MiB read cost more than reading it. Here each
//! eight-byte word is tested at once for the three classes JSON escapes
//! (control characters, `"` and `\`), and only the byte found is looked at.
//!
//! # Must never
//! - write bytes that differ from serde_json's for the same text;
//! - escape anything serde_json leaves alone (DEL, non-ASCII).

/// A byte repeated in every lane of a word.
const fn lanes(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// The low bit of every lane.
const ONES: u64 = lanes(0x01);
/// The high bit of every lane.
const HIGHS: u64 = lanes(0x80);
/// Bytes below this are control characters, which JSON escapes.
const CONTROL_END: u64 = lanes(0x20);
/// `"` in every lane.
const QUOTES: u64 = lanes(b'"');
/// `\` in every lane.
const BACKSLASHES: u64 = lanes(b'\\');

/// serde_json's hex digits for `\u00XX` (lower case).
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Append `text`, escaped, to `out` (without the surrounding quotes).
pub fn escape_into(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len());
    let mut clean_from = 0;
    let mut at = 0;
    while let Some(found) = next_escape(bytes, at) {
        out.extend_from_slice(&bytes[clean_from..found]);
        push_escape(out, bytes[found]);
        at = found + 1;
        clean_from = at;
    }
    out.extend_from_slice(&bytes[clean_from..]);
}

/// The first byte at or after `from` that JSON escapes.
fn next_escape(bytes: &[u8], mut from: usize) -> Option<usize> {
    while let Some(word) = bytes.get(from..from + 8) {
        let mut lanes = [0; 8];
        lanes.copy_from_slice(word);
        let flagged = flag(u64::from_le_bytes(lanes));
        if flagged != 0 {
            // Little-endian: the lowest flagged lane is the first byte.
            return Some(from + (flagged.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    bytes
        .get(from..)?
        .iter()
        .position(|byte| needs_escape(*byte))
        .map(|at| from + at)
}

/// The high bit of each lane of `word` that JSON escapes. Only the lowest
/// flagged lane is sure to be one (a borrow can flag lanes above a real
/// one), which is all [`next_escape`] reads. A lane of 0x80 or more never
/// borrows or is flagged, so UTF-8 passes untouched.
const fn flag(word: u64) -> u64 {
    let control = word.wrapping_sub(CONTROL_END);
    let quote = (word ^ QUOTES).wrapping_sub(ONES) & !(word ^ QUOTES);
    let backslash = (word ^ BACKSLASHES).wrapping_sub(ONES) & !(word ^ BACKSLASHES);
    ((control & !word) | quote | backslash) & HIGHS
}

/// Whether JSON escapes `byte`.
const fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// The escape of one byte [`needs_escape`] flagged.
fn push_escape(out: &mut Vec<u8>, byte: u8) {
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

#[cfg(test)]
mod tests {
    use super::escape_into;

    /// What serde_json writes for `text`, without the quotes.
    fn serde_escape(text: &str) -> Vec<u8> {
        let quoted = serde_json::to_vec(text).expect("a string serialises");
        quoted[1..quoted.len() - 1].to_vec()
    }

    fn ours(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        escape_into(&mut out, text);
        out
    }

    /// Every ASCII byte and a few non-ASCII characters, alone and at every
    /// offset of a word (before, inside and after clean runs and other
    /// escapes), escape exactly as serde_json escapes them.
    #[test]
    fn escapes_every_byte_as_serde_json_does() {
        let mut specials: Vec<String> = (0u8..0x80)
            .map(|byte| char::from(byte).to_string())
            .collect();
        specials.extend(["é", "✓", "東", "\u{7f}", "\u{80}", "\u{ff}", "😀"].map(String::from));
        for special in &specials {
            for lead in 0..17 {
                for trail in [0, 1, 7, 8, 9] {
                    let text = format!(
                        "{}{special}{}\"{}",
                        "a".repeat(lead),
                        "b".repeat(trail),
                        "ü".repeat(trail)
                    );
                    assert_eq!(ours(&text), serde_escape(&text), "{text:?}");
                }
            }
        }
    }

    /// A long clean run (many clean words in a row) and a long run of
    /// escapes only (an escape in every word) match serde_json at every
    /// length around a word edge, alone and next to each other.
    #[test]
    fn long_clean_and_dirty_runs_match_serde_json() {
        for length in [63, 64, 65, 1000, 1001, 1007] {
            let clean: String = "abcdé✓xyz".chars().cycle().take(length).collect();
            let dirty: String = (0..length)
                .map(|at| ['\n', '"', '\\', '\u{1}', '\t', '\u{1f}'][at % 6])
                .collect();
            for text in [
                clean.clone(),
                dirty.clone(),
                format!("{clean}{dirty}"),
                format!("{dirty}{clean}"),
                format!("{clean}\n{clean}"),
            ] {
                assert_eq!(ours(&text), serde_escape(&text), "{text:?}");
            }
        }
    }

    /// Long mixed texts (the shapes the benches read) match too, as do
    /// texts whose escapes sit next to each other or to multi-byte
    /// characters across word edges.
    #[test]
    fn long_texts_match_serde_json() {
        let texts = [
            "0123456789abcde\n".repeat(300),
            "Grüße aus Köln — naïve café, 東京と大阪 ✓ ½ ok\n".repeat(50),
            "\"\\\u{1}\u{1f}\n\r\t\u{8}\u{c}".repeat(40),
            "x".repeat(1000),
            String::new(),
            "é\"é\\é\né".repeat(33),
        ];
        for text in texts {
            assert_eq!(ours(&text), serde_escape(&text));
        }
    }
}
