//! Trims the rendered main content: at its tail, the short lines a page
//! puts after its article to introduce what the extraction left out
//! ("Read more:", "Related articles", a heading over a dropped list) and
//! the site's notices that read like prose (subscribe, follow us, rights
//! and reprint notices); anywhere, one-line photo credits; at its head, a
//! post's date-and-fields metadata bar.
//!
//! It must never touch anything but whole paragraphs, never trim a
//! sentence that is not a notice, never remove more than
//! [`MAX_TAIL_SHARE_PERCENT`] of the text from its tail, and never leave
//! the text empty.

use super::dom::visible_chars;
use super::notice;

/// The trailing labels and notices removed make at most this share
/// (percent) of the text: a short page that is mostly a call to action
/// (a newsletter page) keeps it rather than coming back nearly empty.
const MAX_TAIL_SHARE_PERCENT: usize = 33;

/// Credit lines are removed only from a text of more than this many
/// paragraphs: a short text may be the caption the caller asked for.
const CREDIT_MIN_PARAGRAPHS: usize = 2;

/// A dateline bar is looked for among this many first paragraphs: the
/// title, a kicker, the bar; further down, a line with a date and `|` is
/// the article's (a table row, a schedule).
const DATELINE_PARAGRAPHS: usize = 3;

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
        if !is_label(text[start..end].trim()) {
            break;
        }
        end = start;
    }
    &text[..end]
}

/// `text` without its trailing labels and notices (while they stay
/// within [`MAX_TAIL_SHARE_PERCENT`]), without photo credit lines and
/// without a dateline bar among its first [`DATELINE_PARAGRAPHS`].
pub(super) fn boilerplate(text: &str) -> String {
    let total = visible_chars(text);
    let mut end = text.len();
    let mut removed = 0;
    while let Some(start) = text[..end].rfind("\n\n") {
        let last = &text[start..end];
        if !is_label(last.trim()) && !notice::is_notice(last) {
            break;
        }
        removed += visible_chars(last);
        if removed * 100 > total * MAX_TAIL_SHARE_PERCENT {
            break;
        }
        end = start;
    }
    let paragraphs: Vec<&str> = text[..end].split("\n\n").collect();
    if paragraphs.len() <= CREDIT_MIN_PARAGRAPHS {
        return text[..end].to_string();
    }
    paragraphs
        .into_iter()
        .enumerate()
        .filter(|&(at, paragraph)| {
            let dateline = at < DATELINE_PARAGRAPHS && notice::is_dateline_bar(paragraph);
            !(dateline || notice::is_credit(paragraph))
        })
        .map(|(_, paragraph)| paragraph)
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// A one-line paragraph of at most [`LABEL_MAX_CHARS`] not ending like a
/// sentence.
fn is_label(paragraph: &str) -> bool {
    !paragraph.contains('\n')
        && visible_chars(paragraph) <= LABEL_MAX_CHARS
        && !paragraph.ends_with(SENTENCE_END)
}

#[cfg(test)]
mod tests {
    use super::{boilerplate, trailing_labels};

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

    /// Trailing notices go with the labels above them, within the share;
    /// credit lines go anywhere; the article's sentences stay.
    #[test]
    fn notices_and_credits_go() {
        let body = "The council approved the budget on Tuesday after a long debate \
                    about school repairs and the new bus routes in the north.";
        let text = format!(
            "{body}\n\nFoto: Jane Roe\n\n{body}\n\nNewsletter\n\n\
             Subscribe now to our e-edition for the full story."
        );
        assert_eq!(boilerplate(&text), format!("{body}\n\n{body}"));
        let mostly_notice = "Short intro.\n\nSubscribe to our newsletter for weekly news.";
        assert_eq!(boilerplate(mostly_notice), mostly_notice);
    }
}
