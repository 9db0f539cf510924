//! A text as the body of a JSON string, escaped byte for byte as
//! serde_json escapes it, sixteen bytes at a time.
//!
//! serde_json looks every byte up in a table and writes each clean run
//! separately: about thirteen instructions a byte on a file of short lines,
//! which made escaping a 1 MiB read cost more than reading it. Here each
//! sixteen-byte chunk is tested at once with SIMD compares (the `wide`
//! crate: SSE2 on x86-64, NEON on aarch64, plain arrays elsewhere) for the
//! three classes JSON escapes (control characters, `"` and `\`). The chunk
//! is stored whole, and when it holds an escape the output is cut back to
//! the first one and its escape written, so a clean run costs one 16-byte
//! store, not a `memcpy` call.
//!
//! # Must never
//! - write bytes that differ from serde_json's for the same text;
//! - escape anything serde_json leaves alone (DEL, non-ASCII).

use wide::u8x16;

/// Bytes tested and stored at once: one SSE2 or NEON register.
const CHUNK: usize = 16;

/// Escape bytes are below this (`\` is 0x5c, the highest).
const TABLE_LEN: usize = 0x60;

/// The longest escape, `\u00XX`.
const LONGEST: usize = 6;

/// serde_json's escape of each byte below [`TABLE_LEN`] that it escapes,
/// padded to [`LONGEST`] bytes, and its length (0: not escaped).
const ESCAPES: [([u8; LONGEST], u8); TABLE_LEN] = escape_table();

/// Build [`ESCAPES`].
const fn escape_table() -> [([u8; LONGEST], u8); TABLE_LEN] {
    /// serde_json's hex digits for `\u00XX` (lower case).
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut table = [([0; LONGEST], 0); TABLE_LEN];
    let mut byte = 0;
    while byte < TABLE_LEN {
        let short = match byte as u8 {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            _ => 0,
        };
        table[byte] = if short != 0 {
            ([b'\\', short, 0, 0, 0, 0], 2)
        } else if byte < 0x20 {
            (
                [b'\\', b'u', b'0', b'0', HEX[byte >> 4], HEX[byte & 0xf]],
                6,
            )
        } else {
            ([0; LONGEST], 0)
        };
        byte += 1;
    }
    table
}

/// Append `text`, escaped, to `out` (without the surrounding quotes);
/// returns the number of bytes appended.
pub fn escape_into(out: &mut Vec<u8>, text: &str) -> usize {
    let bytes = text.as_bytes();
    let start = out.len();
    // Room for the clean text: escapes grow it further as they come.
    out.reserve(bytes.len() + CHUNK);
    let mut at = 0;
    while let Some(slice) = bytes.get(at..at + CHUNK) {
        let mut chunk = [0; CHUNK];
        chunk.copy_from_slice(slice);
        let mask = flagged(chunk);
        // Stored whole even when dirty: a fixed 16-byte store is cheaper
        // than a copy of the clean part's length.
        out.extend_from_slice(&chunk);
        if mask == 0 {
            at += CHUNK;
            continue;
        }
        let clean = mask.trailing_zeros() as usize;
        out.truncate(out.len() - CHUNK + clean);
        push_escape(out, chunk[clean]);
        at += clean + 1;
    }
    for &byte in &bytes[at..] {
        if needs_escape(byte) {
            push_escape(out, byte);
        } else {
            out.push(byte);
        }
    }
    out.len() - start
}

/// One bit per byte of `chunk` that JSON escapes (bit 0: the first byte):
/// control characters, `"` and `\`.
fn flagged(chunk: [u8; CHUNK]) -> u32 {
    let lanes = u8x16::new(chunk);
    let control = (lanes & u8x16::splat(0xe0)).simd_eq(u8x16::ZERO);
    let quote = lanes.simd_eq(u8x16::splat(b'"'));
    let backslash = lanes.simd_eq(u8x16::splat(b'\\'));
    (control | quote | backslash).to_bitmask()
}

/// Whether JSON escapes `byte`.
const fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// The escape of one byte [`needs_escape`] flagged, stored whole and cut
/// back to its length.
fn push_escape(out: &mut Vec<u8>, byte: u8) {
    let (escape, length) = ESCAPES[usize::from(byte)];
    out.extend_from_slice(&escape);
    out.truncate(out.len() - LONGEST + usize::from(length));
}

#[cfg(test)]
mod tests {
    use super::escape_into;

    /// What serde_json writes for `text`, without the quotes.
    fn serde_escape(text: &str) -> Vec<u8> {
        let quoted = serde_json::to_vec(text).expect("a string serialises");
        quoted[1..quoted.len() - 1].to_vec()
    }

    /// Our escape of `text`, checked against serde_json's and against the
    /// length it reports.
    fn check(text: &str) {
        let mut out = b"prefix".to_vec();
        let written = escape_into(&mut out, text);
        let expected = serde_escape(text);
        assert_eq!(&out[6..], expected.as_slice(), "{text:?}");
        assert_eq!(written, expected.len(), "written length of {text:?}");
    }

    /// Every ASCII byte and a few non-ASCII characters, alone and at every
    /// offset of a chunk (before, inside and after clean runs and other
    /// escapes, and in the scalar tail), escape exactly as serde_json
    /// escapes them.
    #[test]
    fn escapes_every_byte_as_serde_json_does() {
        let mut specials: Vec<String> = (0u8..0x80)
            .map(|byte| char::from(byte).to_string())
            .collect();
        specials.extend(["é", "✓", "東", "\u{7f}", "\u{80}", "\u{ff}", "😀"].map(String::from));
        for special in &specials {
            for lead in 0..34 {
                for trail in [0, 1, 7, 8, 9, 15, 16, 17] {
                    check(&format!(
                        "{}{special}{}\"{}",
                        "a".repeat(lead),
                        "b".repeat(trail),
                        "ü".repeat(trail)
                    ));
                    check(&format!("{}{special}", "é".repeat(lead)));
                }
            }
        }
    }

    /// A long clean run (many clean chunks in a row) and a long run of
    /// escapes only (an escape in every byte) match serde_json at every
    /// length around a chunk edge, alone and next to each other.
    #[test]
    fn long_clean_and_dirty_runs_match_serde_json() {
        for length in [
            15, 16, 17, 31, 32, 33, 63, 64, 65, 1000, 1001, 1007, 4080, 4081, 9000,
        ] {
            let clean: String = "abcdé✓xyz".chars().cycle().take(length).collect();
            let dirty: String = (0..length)
                .map(|at| ['\n', '"', '\\', '\u{1}', '\t', '\u{1f}', '\u{b}', '\u{e}'][at % 8])
                .collect();
            for text in [
                clean.clone(),
                dirty.clone(),
                format!("{clean}{dirty}"),
                format!("{dirty}{clean}"),
                format!("{clean}\n{clean}"),
            ] {
                check(&text);
            }
        }
    }

    /// Long mixed texts (the shapes the benches read) match too, as do
    /// texts whose escapes sit next to each other or to multi-byte
    /// characters across chunk edges, and every byte 0x00-0x7f in one text.
    #[test]
    fn long_texts_match_serde_json() {
        let every_ascii: String = (0u8..0x80).map(char::from).collect();
        let texts = [
            "0123456789abcde\n".repeat(300),
            "The quick brown fox jumps over the lazy dog, 012345\n".repeat(100),
            "Grüße aus Köln — naïve café, 東京と大阪 ✓ ½ ok\n".repeat(50),
            "\"\\\u{1}\u{1f}\n\r\t\u{8}\u{c}".repeat(40),
            "x".repeat(1000),
            String::new(),
            "é\"é\\é\né".repeat(33),
            every_ascii.repeat(40),
            format!("{}\u{1}{}", "ab\n".repeat(2000), "\t".repeat(20)),
        ];
        for text in texts {
            check(&text);
        }
    }

    /// Multi-byte characters cut by a chunk edge (every lead offset of a
    /// 2-, 3- and 4-byte character) pass through untouched.
    #[test]
    fn characters_split_across_chunks_match_serde_json() {
        for character in ["é", "✓", "😀"] {
            for lead in 0..CHUNK_TEST {
                check(&format!("{}{}\n", "a".repeat(lead), character.repeat(20)));
            }
        }
    }

    /// Chunk edges tested above.
    const CHUNK_TEST: usize = 2 * super::CHUNK + 1;
}
