//! PDF to text, in a child process of our own binary.
//!
//! Its job: turn a PDF body into per-page text (lopdf), bounded by a page
//! cap, a text cap, decompression caps, a memory limit and a deadline.
//! The parser runs in a child (`moat-scrape` started again with
//! [`CHILD_ARG`]), because a hostile PDF can do what a thread cannot
//! survive: a stack overflow aborts the whole process, and a loop cannot be
//! stopped from outside a thread. A child that crashes, loops or runs out
//! of memory is killed and the call gets one line; the server keeps
//! serving. It must never run the parser inside the server process, never
//! give the child anything but the PDF's bytes (no arguments from the
//! model, no environment, no network or file it opens), and never return
//! more than [`MAX_TEXT_BYTES`] of text.

use std::{
    io::{Read as _, Write as _},
    process::{ExitCode, Stdio},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::error::ScrapeError;

/// The first argument that makes `moat-scrape` a PDF child instead of a
/// server. Not a documented subcommand: only this module starts it.
pub const CHILD_ARG: &str = "--moat-internal-pdf-text";

/// Pages read at most. A model reads a window of 20,000 characters at a
/// time; a thousand pages is a book, past which the text would not be
/// read anyway, and each page costs parse time inside the deadline.
pub const MAX_PAGES: usize = 1_000;

/// Most bytes of text the child returns (pages past it are not read). Far
/// more than a model reads; it bounds the server's memory per call.
pub const MAX_TEXT_BYTES: usize = 16 * 1024 * 1024;

/// Largest decompressed content of one page, and of any stream decoded
/// while loading: a few-KiB FlateDecode stream can inflate to gigabytes.
/// Real pages' content streams are kilobytes to a few MiB.
const MAX_DECOMPRESSED_BYTES: usize = 32 * 1024 * 1024;

/// Address space of the child. The body is at most `max_body_bytes`
/// (4 MiB by default) and every stream is capped above; past this the
/// input is a bomb, and the child fails instead of the machine swapping.
const CHILD_MEMORY_BYTES: u64 = 1024 * 1024 * 1024;

/// Longest a child may parse. The call's own deadline has room for it
/// (a PDF never uses the browser, whose budget is at least this in the
/// default policy); the caller takes the smaller of the two.
pub const PDF_TIMEOUT: Duration = Duration::from_secs(10);

/// Children at once. Each may use [`CHILD_MEMORY_BYTES`] and a core; more
/// PDFs wait their turn instead of starving the server.
const MAX_CHILDREN: usize = 2;

static CHILDREN: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CHILDREN);

/// A PDF's text, page by page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdfText {
    /// Pages in the document.
    pub page_count: usize,
    /// The text of the first pages read (at most [`MAX_PAGES`], fewer past
    /// [`MAX_TEXT_BYTES`]), in order.
    pub pages: Vec<String>,
    /// Page numbers (1-based) whose text could not be read.
    pub failed_pages: Vec<usize>,
    /// True when the cross-reference table was missing or damaged (a cut
    /// or corrupted file) and was rebuilt by scanning: pages may be missing.
    pub repaired: bool,
}

impl PdfText {
    /// True when no page read has any text.
    pub fn is_blank(&self) -> bool {
        self.pages.iter().all(|page| page.trim().is_empty())
    }
}

/// The pages joined for a model: `--- page N ---` before each page, and
/// where each page starts in the joined text, in characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Joined {
    /// The whole text.
    pub text: String,
    /// Character offset of each page's separator line.
    pub page_offsets: Vec<usize>,
}

impl PdfText {
    /// Join the pages with `--- page N ---` separators.
    pub fn join(&self) -> Joined {
        let mut joined = Joined::default();
        let mut chars = 0;
        for (index, page) in self.pages.iter().enumerate() {
            let separator = if index == 0 {
                format!("--- page {} ---\n", index + 1)
            } else {
                format!("\n\n--- page {} ---\n", index + 1)
            };
            // The offset points at the separator's first dash.
            let leading = separator.len() - separator.trim_start().len();
            joined.page_offsets.push(chars + leading);
            chars += separator.chars().count() + page.chars().count();
            joined.text.push_str(&separator);
            joined.text.push_str(page);
        }
        joined
    }
}

/// Parse `bytes` in this process. Only the child and the fuzz target call
/// this: a hostile PDF may crash or hang it.
///
/// # Errors
/// One line saying why the bytes are not a readable PDF.
pub fn extract(bytes: &[u8], max_pages: usize) -> Result<PdfText, String> {
    let options = lopdf::LoadOptions {
        max_decompressed_size: Some(MAX_DECOMPRESSED_BYTES),
        ..lopdf::LoadOptions::default()
    };
    let document = lopdf::Document::load_mem_with_options(bytes, options)
        .map_err(|error| format!("not a readable PDF ({})", one_line(&error.to_string())))?;
    let numbers: Vec<u32> = document.get_pages().into_keys().collect();
    let mut text = PdfText {
        page_count: numbers.len(),
        repaired: document.xref_recovery.is_some(),
        ..PdfText::default()
    };
    let mut bytes_out = 0;
    for (index, number) in numbers.iter().take(max_pages).enumerate() {
        let page = if let Ok(page) =
            document.extract_text_with_limit(&[*number], MAX_DECOMPRESSED_BYTES)
        {
            tidy(&page)
        } else {
            text.failed_pages.push(index + 1);
            String::new()
        };
        bytes_out += page.len();
        if bytes_out > MAX_TEXT_BYTES {
            break;
        }
        text.pages.push(page);
    }
    Ok(text)
}

/// Trim line ends and squeeze blank lines, as for web pages.
fn tidy(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    for line in page.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            if !out.is_empty() && !out.ends_with("\n\n") {
                out.push('\n');
            }
            continue;
        }
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(line);
    }
    out.trim_end().to_string()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What the child writes on its stdout: one JSON line.
#[derive(Debug, Serialize, Deserialize)]
enum Answer {
    Text(PdfText),
    Error(String),
}

/// The child's `main`: limit this process, read the PDF from stdin, write
/// one JSON answer to stdout.
pub fn child_main() -> ExitCode {
    let limit = rustix::process::Rlimit {
        current: Some(CHILD_MEMORY_BYTES),
        maximum: Some(CHILD_MEMORY_BYTES),
    };
    // Best effort: without the limit the parent's deadline still applies.
    let _ = rustix::process::setrlimit(rustix::process::Resource::As, limit);
    let cpu = PDF_TIMEOUT.as_secs() + 1;
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Cpu,
        rustix::process::Rlimit {
            current: Some(cpu),
            maximum: Some(cpu),
        },
    );
    let mut bytes = Vec::new();
    let answer = match std::io::stdin().read_to_end(&mut bytes) {
        Ok(_) => match extract(&bytes, MAX_PAGES) {
            Ok(text) => Answer::Text(text),
            Err(error) => Answer::Error(error),
        },
        Err(error) => Answer::Error(format!("cannot read the PDF from the server: {error}")),
    };
    let line = serde_json::to_string(&answer).unwrap_or_default();
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .is_ok()
    {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Parse `bytes` in a child process, within `deadline`.
///
/// # Errors
/// [`ScrapeError::Unsupported`] for a PDF the parser cannot read (one
/// line), [`ScrapeError::Timeout`] past the deadline, and a clear error if
/// the child crashed or could not start.
pub async fn extract_isolated(bytes: Vec<u8>, deadline: Duration) -> Result<PdfText, ScrapeError> {
    let _permit = CHILDREN
        .acquire()
        .await
        .map_err(|_| ScrapeError::Unsupported("the PDF reader is shut down".into()))?;
    tokio::time::timeout(deadline, run_child(bytes))
        .await
        .map_err(|_| ScrapeError::Timeout {
            what: "reading the PDF",
            limit: deadline,
        })?
}

async fn run_child(bytes: Vec<u8>) -> Result<PdfText, ScrapeError> {
    let failed = |what: String| ScrapeError::Unsupported(format!("the PDF reader {what}"));
    let program = std::env::current_exe()
        .map_err(|error| failed(format!("cannot find its own program: {error}")))?;
    // kill_on_drop: a call that times out or is cancelled drops the child,
    // which kills it; nothing of it runs on.
    let mut child = tokio::process::Command::new(program)
        .arg(CHILD_ARG)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| failed(format!("could not start: {error}")))?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(failed("has no pipes".into()));
    };
    let feed = async move {
        // A child that dies early closes the pipe; its exit status says why.
        let _ = stdin.write_all(&bytes).await;
        drop(stdin);
    };
    let mut output = Vec::new();
    // JSON escaping at most doubles most text (and \u escapes are rare),
    // plus room for the page list.
    let cap = (MAX_TEXT_BYTES * 2 + 64 * 1024) as u64;
    let mut limited = stdout.take(cap);
    let ((), read) = tokio::join!(feed, limited.read_to_end(&mut output));
    read.map_err(|error| failed(format!("could not be read: {error}")))?;
    let status = child
        .wait()
        .await
        .map_err(|error| failed(format!("was lost: {error}")))?;
    let answer = std::str::from_utf8(&output)
        .ok()
        .and_then(|text| text.lines().last())
        .and_then(|line| serde_json::from_str::<Answer>(line).ok());
    match answer {
        Some(Answer::Text(text)) => Ok(text),
        Some(Answer::Error(error)) => Err(ScrapeError::Unsupported(format!(
            "the URL is a PDF but {error}"
        ))),
        None => Err(ScrapeError::Unsupported(format!(
            "the URL is a PDF but the PDF reader crashed on it ({})",
            describe_exit(status)
        ))),
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (_, Some(signal)) => format!("killed by signal {signal}"),
        (Some(code), None) => format!("exit status {code}"),
        (None, None) => "unknown exit".into(),
    }
}

/// Does this response hold a PDF? By type (`application/pdf`), or, for a
/// missing or generic type, by its first bytes or a `.pdf` path.
pub fn is_pdf(content_type: Option<&str>, head: &[u8], path: &str) -> bool {
    let essence = content_type
        .and_then(|value| value.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match essence.as_str() {
        "application/pdf" | "application/x-pdf" => true,
        ""
        | "application/octet-stream"
        | "binary/octet-stream"
        | "application/download"
        | "application/force-download" => {
            head.starts_with(b"%PDF-") || path.to_ascii_lowercase().ends_with(".pdf")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PDF with one Helvetica text page per entry, compressed streams
    /// (built with lopdf's writer).
    fn test_pdf(pages: &[&str]) -> Vec<u8> {
        use lopdf::{
            Document, Object, Stream,
            content::{Content, Operation},
            dictionary,
        };
        let mut document = Document::with_version("1.5");
        let pages_id = document.new_object_id();
        let font = document.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        });
        let resources = document.add_object(dictionary! { "Font" => dictionary! { "F1" => font } });
        let mut kids = Vec::new();
        for page in pages {
            let content = Content {
                operations: vec![
                    Operation::new("BT", vec![]),
                    Operation::new("Tf", vec!["F1".into(), 12.into()]),
                    Operation::new("Td", vec![72.into(), 720.into()]),
                    Operation::new("Tj", vec![Object::string_literal(*page)]),
                    Operation::new("ET", vec![]),
                ],
            };
            let stream = Stream::new(dictionary! {}, content.encode().expect("encode"));
            let contents = document.add_object(stream);
            kids.push(Object::from(document.add_object(dictionary! {
                "Type" => "Page", "Parent" => pages_id, "Contents" => contents,
            })));
        }
        let count = i64::try_from(kids.len()).expect("page count");
        document.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources,
                "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            }),
        );
        let catalog = document.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        document.trailer.set("Root", catalog);
        document.compress();
        let mut bytes = Vec::new();
        document.save_to(&mut bytes).expect("save");
        bytes
    }

    /// Every page is read in order; the page cap stops reading but the
    /// page count stays the document's.
    #[test]
    fn pages_in_order_and_capped() {
        let pdf = test_pdf(&["First page", "Second page", "Third page"]);
        let text = extract(&pdf, MAX_PAGES).expect("reads");
        assert_eq!(text.page_count, 3);
        assert_eq!(text.pages, ["First page", "Second page", "Third page"]);
        let capped = extract(&pdf, 2).expect("reads");
        assert_eq!((capped.page_count, capped.pages.len()), (3, 2));
    }

    /// Separators and offsets: each offset points at its `--- page N ---`.
    #[test]
    fn join_offsets_point_at_separators() {
        let text = PdfText {
            page_count: 2,
            pages: vec!["é one".into(), "two".into()],
            failed_pages: vec![],
            repaired: false,
        };
        let joined = text.join();
        let chars: Vec<char> = joined.text.chars().collect();
        for (index, offset) in joined.page_offsets.iter().enumerate() {
            let at: String = chars[*offset..].iter().collect();
            assert!(
                at.starts_with(&format!("--- page {} ---\n", index + 1)),
                "{at:?}"
            );
        }
    }

    /// Garbage is a one-line error; a PDF cut short is repaired when it
    /// can be, and says so.
    #[test]
    fn malformed_is_one_line_error_and_cut_is_repaired() {
        let error = extract(b"%PDF-1.7\n%garbage", MAX_PAGES).expect_err("garbage");
        assert!(!error.contains('\n'), "{error}");
        let pdf = test_pdf(&["Page one", "Page two"]);
        assert!(!extract(&pdf, MAX_PAGES).expect("whole").repaired);
        let cut = &pdf[..pdf.len() - 40];
        match extract(cut, MAX_PAGES) {
            Ok(text) => assert!(text.repaired, "{text:?}"),
            Err(error) => assert!(!error.contains('\n'), "{error}"),
        }
    }

    /// PDFs are recognised by type, by magic bytes under a generic type,
    /// and by a .pdf path under a generic type; not under a text type.
    #[test]
    fn recognises_pdfs() {
        assert!(is_pdf(Some("application/pdf; qs=1"), b"", "/x"));
        assert!(is_pdf(Some("application/octet-stream"), b"%PDF-1.4", "/x"));
        assert!(is_pdf(Some("application/octet-stream"), b"", "/Paper.PDF"));
        assert!(is_pdf(None, b"%PDF-1.7", "/x"));
        assert!(!is_pdf(Some("text/html"), b"%PDF-1.7", "/x.pdf"));
        assert!(!is_pdf(Some("application/octet-stream"), b"\0\0", "/x.bin"));
    }
}
