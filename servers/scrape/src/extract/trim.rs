//! Trims the rendered main content's tail: the short lines a page puts
//! after its article to introduce what the extraction left out ("Read
//! more:", "Related articles", "Contact", a heading over a dropped list).
//!
//! It must never touch anything but whole trailing paragraphs, never trim
//! a sentence (a line ending in sentence punctuation) or a list, and never
//! leave the text empty.

use super::dom::visible_chars;

/// A trailing paragraph at most this long (non-whitespace characters),
/// one line and not ending like a sentence, is a label: what it titled
/// was left out as navigation or furniture. Longer lines are prose
/// without a full stop (a last sentence, an address) and stay.
pub(super) const LABEL_MAX_CHARS: usize = 60;

/// What ends a sentence, a quotation or a parenthesis, in the scripts
/// the web mostly uses.
const SENTENCE_END: &[char] = &[
    '.', '!', '?', '。', '！', '？', '…', '"', '”', '»', '“', ')', '」', '؟', '।',
];

/// `text` without its trailing labels (see [`LABEL_MAX_CHARS`]);
/// paragraphs are separated by blank lines as the renderer writes them.
pub(super) fn trailing_labels(text: &str) -> &str {
    let mut end = text.len();
    while let Some(start) = text[..end].rfind("\n\n") {
        let last = text[start..end].trim();
        let label = !last.contains('\n')
            && visible_chars(last) <= LABEL_MAX_CHARS
            && !last.ends_with(SENTENCE_END);
        if !label {
            break;
        }
        end = start;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::trailing_labels;

    /// Only whole trailing one-line labels go: sentences, lists and the
    /// first paragraph stay.
    #[test]
    fn only_trailing_labels_go() {
        assert_eq!(
            trailing_labels("Body text.\n\nSee also:\n\nRelated"),
            "Body text."
        );
        assert_eq!(trailing_labels("Body.\n\nThe end."), "Body.\n\nThe end.");
        assert_eq!(
            trailing_labels("Body.\n\n- one\n- two"),
            "Body.\n\n- one\n- two"
        );
        assert_eq!(trailing_labels("Only a label"), "Only a label");
    }
}
