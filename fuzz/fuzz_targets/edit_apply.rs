//! Fuzz target: `edit_file`'s edit application (`moat_fs::tool::edit_file::apply_edits`).
//!
//! Input: text, so the committed seeds stay readable and libFuzzer's text
//! mutations apply. Fields are separated by the ASCII record separator
//! (0x1E): the file's content, a flags field (`crlf`: turn every line end
//! into CRLF; `all`: `replaceAll` by default), then `oldText`, `newText`
//! pairs. An `oldText` of the form `\x1A<start>,<len>` is cut from the
//! content (so exact matches are common), a `newText` of `\x1A` is the same
//! as its `oldText`, and an `oldText` starting with 0x1F (0x1F 0x1F) sets
//! that edit's `replaceAll` to true (false).
//!
//! Invariants:
//! - never panics; `apply_edits` takes `&str`, so a failure leaves the
//!   content untouched by construction, and the tool writes only on `Ok`;
//! - an empty `oldText` is always refused;
//! - success counts at least one replacement per edit;
//! - a file whose line ends are all CRLF stays all-CRLF;
//! - a file and texts without `\r` give a result without `\r`;
//! - while every edit matches exactly (no whitespace-tolerant fallback),
//!   the result equals a plain reference model: one match is replaced, more
//!   than one is refused unless `replaceAll`, and then all are replaced;
//! - an edit whose `newText` equals its `oldText` and matches exactly leaves
//!   the content as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moat_fs::tool::edit_file::{Edit, apply_edits};

const FIELD: char = '\u{1e}';
const CUT: char = '\u{1a}';
const REPLACE_ALL: char = '\u{1f}';
/// Edits tried per input (each is a full pass over the content).
const MAX_EDITS: usize = 8;

struct Input {
    content: String,
    replace_all: bool,
    edits: Vec<Edit>,
}

fn parse(text: &str) -> Input {
    let mut fields = text.split(FIELD);
    let mut content = fields.next().unwrap_or_default().to_string();
    let flags = fields.next().unwrap_or_default();
    if flags.contains("crlf") {
        content = content.replace('\r', "").replace('\n', "\r\n");
    }
    let mut edits = Vec::new();
    while let Some(old) = fields.next() {
        if edits.len() == MAX_EDITS {
            break;
        }
        let (replace_all, old) = if let Some(rest) = old.strip_prefix([REPLACE_ALL, REPLACE_ALL]) {
            (Some(false), rest)
        } else if let Some(rest) = old.strip_prefix(REPLACE_ALL) {
            (Some(true), rest)
        } else {
            (None, old)
        };
        let old_text = match old.strip_prefix(CUT).and_then(|spec| spec.split_once(',')) {
            Some((start, len)) => slice(
                &content,
                start.parse().unwrap_or(0),
                len.parse().unwrap_or(0),
            ),
            None => old.to_string(),
        };
        let new = fields.next().unwrap_or_default();
        let new_text = if new == CUT.to_string() {
            old_text.clone()
        } else {
            new.to_string()
        };
        edits.push(Edit {
            old_text,
            new_text,
            replace_all,
        });
    }
    Input {
        content,
        replace_all: flags.contains("all"),
        edits,
    }
}

fn slice(content: &str, start: usize, len: usize) -> String {
    let mut start = start.min(content.len());
    while !content.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = start.saturating_add(len).min(content.len());
    while !content.is_char_boundary(end) {
        end -= 1;
    }
    content[start..end].to_string()
}

/// The plain model for LF-only texts while every edit matches exactly:
/// `Some(result)` when it could follow, `None` once the fallback would run.
fn model(content: &str, edits: &[Edit], replace_all_default: bool) -> Option<Result<String, ()>> {
    let mut work = content.to_string();
    for edit in edits {
        if edit.old_text.is_empty() {
            return Some(Err(()));
        }
        let count = work.matches(edit.old_text.as_str()).count();
        let replace_all = edit.replace_all.unwrap_or(replace_all_default);
        work = match count {
            0 => return None,
            1 => work.replacen(&edit.old_text, &edit.new_text, 1),
            _ if replace_all => work.replace(&edit.old_text, &edit.new_text),
            _ => return Some(Err(())),
        };
    }
    Some(Ok(work))
}

fuzz_target!(|text: &str| {
    let Input {
        content,
        replace_all,
        edits,
    } = parse(text);

    let result = apply_edits(&content, &edits, replace_all);

    if edits.iter().any(|edit| edit.old_text.is_empty()) {
        assert!(result.is_err(), "an empty oldText was accepted");
    }
    let no_cr = |text: &str| !text.contains('\r');
    if no_cr(&content)
        && edits
            .iter()
            .all(|edit| no_cr(&edit.new_text) && no_cr(&edit.old_text))
    {
        if let Some(expected) = model(&content, &edits, replace_all) {
            assert_eq!(
                result
                    .as_ref()
                    .map(|(text, _)| text.clone())
                    .map_err(|_| ()),
                expected,
                "the result differs from the plain model"
            );
        }
        if let Ok((output, _)) = &result {
            assert!(no_cr(output), "a CR appeared from nowhere: {output:?}");
        }
    }
    let Ok((output, replacements)) = &result else {
        return;
    };
    assert!(
        *replacements >= edits.len(),
        "{replacements} replacements for {} edits",
        edits.len()
    );
    let all_crlf = content.contains("\r\n") && !content.replace("\r\n", "").contains('\n');
    if all_crlf {
        assert!(
            !output.replace("\r\n", "").contains('\n'),
            "a CRLF file got a bare LF: {output:?}"
        );
    }
    if let [edit] = edits.as_slice()
        && edit.old_text == edit.new_text
        && content.contains(edit.old_text.as_str())
        && (no_cr(&content) || all_crlf)
        && no_cr(&edit.old_text)
    {
        assert_eq!(output, &content, "a no-op edit changed the content");
    }
});
