//! Fuzz target: moat-scrape's text extraction (`moat_scrape::extract`).
//!
//! Input: a response body, optionally followed by a line `--moat--` and
//! then parameters, one per line: the Content-Type, a CSS selector, a
//! window start and a window length (so seeds stay plain HTML files).
//!
//! Invariants:
//! - `classify`, `decode`, `html_to_text` and `window` never panic;
//! - without a selector, `html_to_text` always succeeds;
//! - the text is tidy (no trailing spaces, no run of blank lines, no blank
//!   first or last line) and linear in the input's size: the conversion
//!   gives at most `MAX_TEXT_GROWTH` bytes per HTML byte (plus a constant),
//!   whatever tables or nesting do to the layout;
//! - the title is trimmed and has no double spaces;
//! - windows slice on char boundaries (or `window` would panic), never
//!   exceed the asked length, always make progress, and read one after
//!   another they give back the whole text (each window is its slice with
//!   trailing whitespace trimmed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use moat_scrape::extract::{
    Format, Kind, MAX_TEXT_GROWTH, TEXT_SLACK_BYTES, classify, decode, html_to_text, to_plain_text,
    window,
};

const SEPARATOR: &[u8] = b"\n--moat--\n";

/// How much larger than the input the page's HTML can get when html5ever
/// serialises it back (closing tags, quoted attributes, `&amp;`): the
/// extraction's own bound is on that HTML.
const SERIALISED_GROWTH: usize = 6;

/// Most windows walked per input (keeps each run fast; the window length is
/// raised so the walk covers the whole text).
const MAX_WINDOWS: usize = 64;

struct Params<'a> {
    content_type: Option<&'a str>,
    selector: Option<&'a str>,
    start: usize,
    max_length: usize,
}

fn split(input: &[u8]) -> (&[u8], Params<'_>) {
    let mut params = Params {
        content_type: None,
        selector: None,
        start: 0,
        max_length: 1 + input.len() % 97,
    };
    let Some(at) = input
        .windows(SEPARATOR.len())
        .position(|window| window == SEPARATOR)
    else {
        return (input, params);
    };
    let (body, rest) = (&input[..at], &input[at + SEPARATOR.len()..]);
    let text = std::str::from_utf8(rest).unwrap_or("");
    let mut lines = text.lines();
    params.content_type = lines.next().filter(|line| !line.is_empty());
    params.selector = lines.next().filter(|line| !line.is_empty());
    params.start = lines.next().and_then(|line| line.parse().ok()).unwrap_or(0);
    params.max_length = lines
        .next()
        .and_then(|line| line.parse().ok())
        .unwrap_or(params.max_length);
    (body, params)
}

fuzz_target!(|input: &[u8]| {
    let (body, params) = split(input);
    let kind = classify(params.content_type, body).unwrap_or(Kind::Html);
    let decoded = decode(body, params.content_type, kind);

    let extracted = match html_to_text(&decoded, None, params.selector, Format::Text) {
        Ok(extracted) => extracted,
        Err(error) => {
            assert!(
                params.selector.is_some(),
                "html_to_text failed without a selector: {error}"
            );
            return;
        }
    };
    let text = &extracted.text;
    let bound = MAX_TEXT_GROWTH * SERIALISED_GROWTH * decoded.len() + TEXT_SLACK_BYTES;
    assert!(
        text.len() <= bound,
        "{} bytes of text from {} bytes of HTML",
        text.len(),
        decoded.len()
    );
    // The conversion itself, on the input as the fragment: its exact bound.
    let plain = to_plain_text(&decoded);
    assert!(
        plain.len() <= MAX_TEXT_GROWTH * decoded.len() + TEXT_SLACK_BYTES,
        "{} bytes of text from a {}-byte fragment",
        plain.len(),
        decoded.len()
    );
    for line in text.split('\n') {
        assert_eq!(line, line.trim_end(), "trailing whitespace in {line:?}");
    }
    assert!(!text.contains("\n\n\n"), "a run of blank lines survived");
    assert!(
        !text.starts_with('\n') && !text.ends_with('\n'),
        "blank first or last line"
    );
    if let Some(title) = &extracted.title {
        assert!(!title.is_empty(), "empty title");
        assert_eq!(title, title.trim(), "untrimmed title");
        assert!(!title.contains("  "), "double space in the title");
    }

    check_windows(text, params.start, params.max_length);
    check_windows(&decoded, params.start, params.max_length);
});

/// Walk the windows from `start` and check that they rebuild the text.
fn check_windows(text: &str, start: usize, max_length: usize) {
    let chars: Vec<char> = text.chars().collect();
    let max_length = max_length
        .clamp(1, 1 << 20)
        .max(chars.len() / MAX_WINDOWS + 1);
    let mut at = start;
    // Each window shows at least a fifth of its length (the cut falls in
    // the window's last fifth of bytes, a char is at most 4 bytes).
    for _ in 0..=6 * MAX_WINDOWS {
        let shown = window(text, at, max_length);
        assert_eq!(shown.total_chars, chars.len(), "total_chars is wrong");
        assert!(
            shown.text.chars().count() <= max_length,
            "a window of {} chars for a length of {max_length}",
            shown.text.chars().count()
        );
        let from = at.min(chars.len());
        match shown.next_start {
            Some(next) => {
                assert!(next > from, "no progress at {from} (length {max_length})");
                assert!(next <= chars.len(), "next_start {next} past the end");
                let slice: String = chars[from..next].iter().collect();
                assert_eq!(
                    shown.text,
                    slice.trim_end(),
                    "window at {from} is not its slice"
                );
                at = next;
            }
            None => {
                let rest: String = chars[from..].iter().collect();
                assert_eq!(shown.text, rest, "last window at {from} is not the rest");
                return;
            }
        }
    }
    panic!(
        "more than {} windows for length {max_length}",
        6 * MAX_WINDOWS
    );
}
