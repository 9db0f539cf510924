//! Fuzz target: moat-scrape's PDF text (`moat_scrape::pdf::extract`, the
//! code its PDF child process runs) and how the pages are joined.
//!
//! Input: the PDF's bytes.
//!
//! Invariants:
//! - `extract` never panics, and returns within libFuzzer's timeout (a
//!   hang here would be a PDF the child needs its deadline for);
//! - an error is one line;
//! - at most the page cap is read, never more pages than the document
//!   has, and failed pages are page numbers that were read;
//! - the joined text has one `--- page N ---` line per page read, at the
//!   offset it reports, in order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moat_scrape::pdf::extract;

/// A small page cap, so the cap is exercised by small inputs too.
const MAX_PAGES: usize = 8;

fuzz_target!(|input: &[u8]| {
    let text = match extract(input, MAX_PAGES) {
        Ok(text) => text,
        Err(error) => {
            assert!(!error.contains('\n'), "a multi-line error: {error:?}");
            return;
        }
    };
    assert!(text.pages.len() <= MAX_PAGES, "read past the page cap");
    assert!(
        text.pages.len() <= text.page_count,
        "{} pages read of {}",
        text.pages.len(),
        text.page_count
    );
    for page in &text.failed_pages {
        assert!(
            (1..=text.pages.len()).contains(page),
            "failed page {page} was not read"
        );
    }
    let joined = text.join();
    assert_eq!(joined.page_offsets.len(), text.pages.len());
    let chars: Vec<char> = joined.text.chars().collect();
    let mut previous = None;
    for (index, &offset) in joined.page_offsets.iter().enumerate() {
        assert!(previous < Some(offset), "offsets out of order");
        previous = Some(offset);
        let marker: Vec<char> = format!("--- page {} ---\n", index + 1).chars().collect();
        assert_eq!(
            chars.get(offset..offset + marker.len()),
            Some(marker.as_slice()),
            "page {} does not start at its offset",
            index + 1
        );
    }
});
