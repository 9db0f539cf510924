//! `scrape`: a page as clean, bounded text, with continuation.
//!
//! Fetches (or renders), turns HTML or a PDF into text with its metadata and
//! links, and cuts the text into windows. Parsing and extraction run on the
//! blocking pool and PDFs in a child process: it must never parse a page on
//! an async worker, and never report an empty text as a success.

use std::{fmt::Write as _, sync::Arc};

use moat_shared::{CallContext, ToolOutput, policy::AllowedUrl};
use serde::Deserialize;

use crate::{
    cache::CacheKey,
    engine::Engine,
    error::ScrapeError,
    extract::{self, Extracted, Format, Kind, Link, Pass},
    fetcher::Fetched,
    metadata::{self, Metadata},
    page::{Page, PdfPages, Renderer},
    pdf,
};

/// How to render.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Render {
    /// Plain HTTP first; the browser only when the page needs JavaScript.
    #[default]
    Auto,
    /// Plain HTTP only.
    Http,
    /// Always the browser.
    Browser,
}

impl Render {
    fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Http => "http",
            Self::Browser => "browser",
        }
    }
}

/// Arguments of `scrape`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScrapeArgs {
    /// The http or https URL to read.
    pub url: String,
    /// Most characters to return (default 20000; the server caps it).
    #[serde(default)]
    pub max_length: Option<usize>,
    /// Character offset to start from. A cut result ends with the
    /// start_index to continue from; continuing does not fetch the page
    /// again.
    #[serde(default)]
    pub start_index: usize,
    /// `auto` (default): plain HTTP, escalating to a headless browser only
    /// when the page needs JavaScript; `http`: never the browser;
    /// `browser`: always the browser.
    #[serde(default)]
    pub render: Render,
    /// CSS selector: return only the text of matching elements (e.g.
    /// `article`, `#content`, `table.data`).
    #[serde(default)]
    pub selector: Option<String>,
    /// `text` (default): plain text; `markdown`: headings, lists, links
    /// and emphasis as Markdown.
    #[serde(default)]
    pub format: Format,
    /// Also return the content's outgoing links (text and absolute URL,
    /// deduplicated, at most 100), to navigate without another scrape.
    #[serde(default)]
    pub include_links: bool,
}

/// What the tool does and when to use it, for the model.
const DESCRIPTION: &str = "Fetch a web page and return its main content as plain text (scripts, styles, navigation and boilerplate removed), with title, final URL, HTTP status, content type and renderer. Long pages are cut at a clean boundary; call again with the start_index given at the end to continue (served from cache, no refetch). format=markdown keeps headings, lists and links; include_links=true adds the outgoing links; author, date, site and description are in structuredContent.metadata. render=auto uses plain HTTP and escalates to a headless browser only when the page needs JavaScript. PDFs become text page by page; images and other binary files are refused.";

moat_shared::tool! {
    /// The `scrape` tool.
    pub Scrape: AsyncTool<Engine> = "scrape", "Read a web page", super::read_only(Self::TITLE), args: ScrapeArgs {
        /// The URL asked for (normalised).
        pub url: String,
        /// Where redirects led.
        pub final_url: String,
        /// HTTP status, when known.
        pub status: Option<u16>,
        /// Content-Type, when known.
        pub content_type: Option<String>,
        /// The page title.
        pub title: Option<String>,
        /// Author, published date, site name, language and description, when
        /// the page gives them (`<meta>`, OpenGraph, JSON-LD).
        pub metadata: Metadata,
        /// Which renderer produced the text.
        pub renderer: Renderer,
        /// `text` or `markdown`.
        pub format: String,
        /// Which extraction pass produced the text (HTML only): `selector`,
        /// `main`, or a fallback (`loose`, `whole_body`).
        pub extraction: Option<Pass>,
        /// The PDF's pages, when the URL is a PDF.
        pub pdf: Option<PdfPages>,
        /// This window of the text.
        pub text: String,
        /// Where this window starts, in characters.
        pub start_index: usize,
        /// Where the next window starts; absent at the end.
        pub next_start_index: Option<usize>,
        /// Characters in the whole text.
        pub total_length: usize,
        /// True when the text went on past this window.
        pub truncated: bool,
        /// True when the text came from the continuation cache.
        pub cached: bool,
        /// Facts worth knowing (cut body, escalation, fallback, partial load).
        pub notes: Vec<String>,
        /// The content's outgoing links, with `include_links`.
        pub links: Option<Vec<Link>>,
    }
}

/// Run `scrape`.
///
/// # Errors
/// Policy denial, robots.txt, network, content type, browser, a PDF that
/// cannot be read, a page without text.
pub async fn run(
    engine: &Engine,
    args: ScrapeArgs,
    _: &CallContext,
) -> Result<ToolOutput, ScrapeError> {
    let url = engine.url_policy.check(&args.url)?;
    let max_length = args
        .max_length
        .unwrap_or(engine.limits.max_length)
        .clamp(1, engine.limits.max_length_cap);
    let key = CacheKey {
        url: url.as_str().to_string(),
        render: args.render.name(),
        selector: args.selector.clone(),
        format: args.format,
    };
    let (page, cached) = if let Some(page) = engine.cache.get(&key).await {
        (page, true)
    } else {
        let page = render(
            engine,
            &url,
            args.render,
            args.selector.as_deref(),
            args.format,
        )
        .await?;
        if page.text.trim().is_empty() {
            return Err(ScrapeError::Extraction(no_text(&page)));
        }
        let page = Arc::new(page);
        engine.cache.put(key, page.clone()).await;
        (page, false)
    };
    let window = extract::window(&page.text, args.start_index, max_length);
    let start_index = args.start_index.min(window.total_chars);
    let text = render_text(&page, &window, start_index, args.include_links);
    let output = Output {
        url: url.as_str().to_string(),
        final_url: page.final_url.clone(),
        status: page.status,
        content_type: page.content_type.clone(),
        title: page.title.clone(),
        metadata: page.metadata.clone(),
        renderer: page.renderer,
        format: format_name(args.format).to_string(),
        extraction: page.pass,
        pdf: page.pdf.clone(),
        text: window.text,
        start_index,
        next_start_index: window.next_start,
        total_length: window.total_chars,
        truncated: window.next_start.is_some(),
        cached,
        notes: page.notes.clone(),
        links: args.include_links.then(|| page.links.clone()),
    };
    Ok(ToolOutput::with_structured(
        text,
        serde_json::to_value(output).unwrap_or_default(),
    ))
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Text => "text",
        Format::Markdown => "markdown",
    }
}

/// The one line of a page that gave no text.
fn no_text(page: &Page) -> String {
    let why = match page.renderer {
        Renderer::Http => "the response has no readable text; try render=browser, or a selector",
        Renderer::Browser => "not even after rendering it in the browser",
    };
    let notes = if page.notes.is_empty() {
        String::new()
    } else {
        format!("; {}", page.notes.join("; "))
    };
    format!("no text found on {} ({why}{notes})", page.final_url)
}

/// The text content of a result: header lines, the window, the
/// continuation hint and, when asked, the links.
fn render_text(
    page: &Page,
    window: &extract::Window,
    start_index: usize,
    include_links: bool,
) -> String {
    let mut text = String::new();
    if let Some(title) = &page.title {
        let _ = writeln!(text, "Title: {title}");
    }
    let byline = match (&page.metadata.author, &page.metadata.published) {
        (Some(author), Some(published)) => Some(format!("By {author}, published {published}")),
        (Some(author), None) => Some(format!("By {author}")),
        (None, Some(published)) => Some(format!("Published {published}")),
        (None, None) => None,
    };
    if let Some(byline) = byline {
        let _ = writeln!(text, "{byline}");
    }
    let _ = writeln!(
        text,
        "URL: {} (status {}, {}, rendered by {})",
        page.final_url,
        page.status
            .map_or_else(|| "unknown".to_string(), |status| status.to_string()),
        page.content_type.as_deref().unwrap_or("unknown type"),
        match page.renderer {
            Renderer::Http => "http",
            Renderer::Browser => "browser",
        }
    );
    for note in &page.notes {
        let _ = writeln!(text, "Note: {note}");
    }
    text.push('\n');
    if window.text.is_empty() {
        let _ = write!(
            text,
            "(start_index {start_index} is past the end: the text has {} characters)",
            window.total_chars
        );
    } else {
        text.push_str(&window.text);
    }
    if let Some(next) = window.next_start {
        let _ = write!(
            text,
            "\n\n[Content truncated: characters {start_index}-{next} of {}. Call scrape with the same url and start_index={next} to continue.]",
            window.total_chars
        );
    }
    if include_links {
        let _ = write!(text, "\n\nLinks ({}):", page.links.len());
        for link in &page.links {
            let _ = write!(text, "\n- {} <{}>", link.text, link.url);
        }
    }
    text
}

async fn render(
    engine: &Engine,
    url: &AllowedUrl,
    render: Render,
    selector: Option<&str>,
    format: Format,
) -> Result<Page, ScrapeError> {
    if engine.limits.respect_robots {
        engine
            .robots
            .check(&engine.fetcher, url, engine.robots_timeout)
            .await?;
    }
    match render {
        Render::Http => http_page(engine, url, selector, format)
            .await
            .map(|(page, _)| page),
        Render::Browser => browser_page(engine, url, selector, format).await,
        Render::Auto => {
            let (mut page, needs_browser) = http_page(engine, url, selector, format).await?;
            let Some(reason) = needs_browser else {
                return Ok(page);
            };
            match browser_page(engine, url, selector, format).await {
                Ok(mut rendered) => {
                    rendered.notes.insert(
                        0,
                        format!("rendered in the browser because plain HTTP showed {reason}"),
                    );
                    Ok(rendered)
                }
                Err(error) => {
                    page.notes.push(format!(
                        "this page seems to need JavaScript ({reason}) but the browser failed: {error}"
                    ));
                    Ok(page)
                }
            }
        }
    }
}

/// Plain HTTP: the page, and why it seems to need a browser.
async fn http_page(
    engine: &Engine,
    url: &AllowedUrl,
    selector: Option<&str>,
    format: Format,
) -> Result<(Page, Option<&'static str>), ScrapeError> {
    let fetched = engine.fetcher.get(url.clone(), true).await?;
    let mut notes = Vec::new();
    if fetched.truncated {
        notes.push(format!(
            "the page is larger than {} bytes; only its first {} bytes were read",
            engine.fetcher.limits().max_body_bytes,
            engine.fetcher.limits().max_body_bytes
        ));
    }
    if fetched.pdf {
        if selector.is_some() {
            notes.push("the selector was ignored: the response is a PDF".into());
        }
        return pdf_page(engine, fetched, notes)
            .await
            .map(|page| (page, None));
    }
    let kind = fetched.kind.unwrap_or(Kind::Text);
    let base = fetched.final_url.as_url().clone();
    let content_type = fetched.content_type.clone();
    let owned_selector = selector.map(str::to_string);
    let body = fetched.body;
    let content = on_blocking_pool(move || {
        let decoded = extract::decode(&body, content_type.as_deref(), kind);
        Ok(match kind {
            Kind::Html => Content::Html(Box::new(HtmlPage::extract(
                &decoded,
                &base,
                owned_selector.as_deref(),
                format,
            )?)),
            Kind::Text => Content::Text(decoded),
        })
    })
    .await?;
    let mut page = Page {
        final_url: fetched.final_url.as_str().to_string(),
        status: Some(fetched.status),
        content_type: fetched.content_type,
        renderer: Renderer::Http,
        notes,
        ..Page::default()
    };
    let needs_browser = match content {
        Content::Html(html) => {
            // An HTML page with no text at all is worth a browser's look
            // even without script signals: the other way to report it is
            // an error.
            let needs_browser = html.extracted.needs_browser.or_else(|| {
                html.extracted
                    .text
                    .trim()
                    .is_empty()
                    .then_some("no text at all")
            });
            html.fill(&mut page);
            needs_browser
        }
        Content::Text(text) => {
            if selector.is_some() {
                page.notes
                    .push("the selector was ignored: the response is not HTML".into());
            }
            page.text = text;
            None
        }
    };
    Ok((page, needs_browser))
}

/// What a non-PDF body became.
enum Content {
    Html(Box<HtmlPage>),
    Text(String),
}

/// An HTML page's extraction and metadata.
struct HtmlPage {
    extracted: Extracted,
    metadata: Metadata,
}

impl HtmlPage {
    /// Extract `html` (blocking: call it on the blocking pool).
    fn extract(
        html: &str,
        base: &url::Url,
        selector: Option<&str>,
        format: Format,
    ) -> Result<Self, ScrapeError> {
        Ok(Self {
            extracted: extract::html_to_text(html, Some(base), selector, format)?,
            metadata: metadata::read(html),
        })
    }

    /// Move the text, title, metadata, links and pass into `page`, with a
    /// note when extraction fell back.
    fn fill(self, page: &mut Page) {
        let Self {
            extracted,
            metadata,
        } = self;
        page.title = extracted.title.or_else(|| metadata.title.clone());
        page.text = extracted.text;
        page.metadata = metadata;
        // Already deduplicated by URL and bounded (extract::MAX_LINKS).
        page.links = extracted.links;
        page.pass = Some(extracted.pass);
        match extracted.pass {
            Pass::Loose => page.notes.push(
                "extraction fell back to a looser guess at the main content (no clear article container); some page furniture may be mixed in".into(),
            ),
            Pass::WholeBody => page.notes.push(
                "extraction fell back to the whole page body (no main content found); navigation and other furniture may be mixed in".into(),
            ),
            Pass::Selector | Pass::Main => {}
        }
    }
}

/// Run CPU-heavy work (HTML parsing, extraction) on tokio's blocking pool,
/// so a heavy page never stalls the async workers serving other calls. A
/// panic there becomes one line.
async fn on_blocking_pool<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, ScrapeError> + Send + 'static,
) -> Result<T, ScrapeError> {
    tokio::task::spawn_blocking(job).await.map_err(|error| {
        ScrapeError::Extraction(if error.is_panic() {
            "extracting the page's text failed (an internal error in the extractor); other pages are not affected".into()
        } else {
            "extracting the page's text was cancelled".into()
        })
    })?
}

/// A PDF: its text page by page, parsed in a child process.
async fn pdf_page(
    engine: &Engine,
    fetched: Fetched,
    mut notes: Vec<String>,
) -> Result<Page, ScrapeError> {
    let deadline = pdf::PDF_TIMEOUT.min(engine.browser_timeout);
    let text = match pdf::extract_isolated(fetched.body, deadline).await {
        Ok(text) => text,
        Err(error) if fetched.truncated => {
            return Err(ScrapeError::Extraction(format!(
                "{error}; the PDF is larger than max_body_bytes ({} bytes) and only its beginning was read",
                engine.fetcher.limits().max_body_bytes
            )));
        }
        Err(error) => return Err(error),
    };
    if text.is_blank() {
        let why = if fetched.truncated {
            format!(
                "the PDF is larger than max_body_bytes ({} bytes) and its beginning holds no readable text",
                engine.fetcher.limits().max_body_bytes
            )
        } else if text.repaired {
            "the PDF is damaged or cut short, and no page's text survived".into()
        } else {
            format!(
                "the PDF has {} page(s) but no text layer; scanned pages need OCR, which moat-scrape does not do",
                text.page_count
            )
        };
        return Err(ScrapeError::Extraction(format!(
            "no text found on {} ({why})",
            fetched.final_url.as_str()
        )));
    }
    if text.repaired && !fetched.truncated {
        notes.push(
            "the PDF is damaged or cut short (its cross-reference table had to be rebuilt); some pages may be missing or empty".into(),
        );
    }
    if text.pages.len() < text.page_count {
        notes.push(format!(
            "the PDF has {} pages; only the first {} were read (the server reads at most {} pages and {} MiB of text)",
            text.page_count,
            text.pages.len(),
            pdf::MAX_PAGES,
            pdf::MAX_TEXT_BYTES / (1024 * 1024)
        ));
    }
    if !text.failed_pages.is_empty() {
        let list: Vec<String> = text.failed_pages.iter().map(ToString::to_string).collect();
        notes.push(format!(
            "the text of page(s) {} could not be read",
            list.join(", ")
        ));
    }
    let joined = text.join();
    Ok(Page {
        final_url: fetched.final_url.as_str().to_string(),
        status: Some(fetched.status),
        content_type: fetched.content_type,
        title: None,
        text: joined.text,
        renderer: Renderer::Http,
        notes,
        pdf: Some(PdfPages {
            page_count: text.page_count,
            pages_read: text.pages.len(),
            page_offsets: joined.page_offsets,
        }),
        ..Page::default()
    })
}

async fn browser_page(
    engine: &Engine,
    url: &AllowedUrl,
    selector: Option<&str>,
    format: Format,
) -> Result<Page, ScrapeError> {
    let rendered = engine.browser.render(url, engine.browser_timeout).await?;
    let base = url::Url::parse(&rendered.final_url).unwrap_or_else(|_| url.as_url().clone());
    let owned_selector = selector.map(str::to_string);
    let html = rendered.html;
    let content = on_blocking_pool(move || {
        HtmlPage::extract(&html, &base, owned_selector.as_deref(), format)
    })
    .await?;
    let mut notes = Vec::new();
    if !rendered.loaded {
        notes.push(
            "the page had not finished loading by the deadline; this is what it showed".into(),
        );
    }
    let mut page = Page {
        final_url: rendered.final_url,
        status: rendered.status,
        content_type: rendered.content_type,
        renderer: Renderer::Browser,
        notes,
        ..Page::default()
    };
    content.fill(&mut page);
    Ok(page)
}
