//! From bytes to clean text: content-type gating, charset decoding, the
//! choice of a page's main content (with fallbacks, see [`html_to_text`]),
//! the "does this page need JavaScript" heuristic, and cutting text into
//! windows for continuation.
//!
//! It must never return a binary body as text, and never render a
//! `<script>`, `<style>`, `<noscript>` or `<template>` (a JS page fetched
//! over plain HTTP would come out as "you need JavaScript"): `dom` leaves
//! them out of the tree every later stage reads.

mod content;
mod dom;
mod notice;
mod render;
mod trim;

pub use render::MAX_LINKS;

use encoding_rs::Encoding;
use scraper::{Html, Selector};

use crate::error::ScrapeError;

/// The main-content pass is kept when it yields at least this many
/// non-whitespace characters (or half the body's text: a short page);
/// below, the looser pass is tried, then the whole body (see
/// [`html_to_text`]).
const MIN_MAIN_CHARS: usize = 250;

/// How many ancestors of a pass's chosen element are tried, nearest
/// first, when it renders too little text: enough to climb from a
/// paragraph to its article through the usual wrappers, bounded so a
/// deeply nested page is not rendered once per level.
const MAX_CLIMBS: usize = 6;

/// Below this many characters of visible text, a page with scripts is
/// considered JavaScript-built (an article or a docs page has thousands).
pub const JS_TEXT_THRESHOLD: usize = 250;

/// With a `<noscript>` notice mentioning JavaScript, a page with less
/// visible text than this is considered to need the browser.
pub const NOSCRIPT_TEXT_THRESHOLD: usize = 1_500;

/// Element ids and selectors of single-page-app mount points.
const APP_ROOTS: &str =
    "#root, #app, #__next, #__nuxt, #svelte, [data-reactroot], app-root, [ng-app]";

/// How many bytes are sniffed for a `<meta charset>` (the HTML standard's
/// prescan looks at the first 1024).
const CHARSET_PRESCAN_BYTES: usize = 1024;

/// How many malformed UTF-8 sequences a body declared (or taken to be) UTF-8
/// may hold and still be decoded as UTF-8: a few stray bytes are a pasted or
/// truncated character in a UTF-8 page, hundreds are a page stored in GBK or
/// windows-1250 under a template that declares UTF-8, whose every word would
/// come out as mojibake.
const MAX_STRAY_UTF8_ERRORS: usize = 8;

/// What a response body is, for our purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// HTML or XHTML: extracted.
    Html,
    /// Plain text, JSON, XML, CSS, CSV...: returned as text.
    Text,
}

/// Decide from the Content-Type (and, when it is missing or generic, the
/// first bytes) whether a body becomes text.
///
/// # Errors
/// [`ScrapeError::Unsupported`] for PDF, images, archives and other binary
/// bodies.
pub fn classify(content_type: Option<&str>, head: &[u8]) -> Result<Kind, ScrapeError> {
    let essence = content_type
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    match essence.as_str() {
        "text/html" | "application/xhtml+xml" => return Ok(Kind::Html),
        "application/json"
        | "application/xml"
        | "application/javascript"
        | "application/ld+json"
        | "application/rss+xml"
        | "application/atom+xml" => return Ok(Kind::Text),
        "application/pdf" => {
            return Err(ScrapeError::Unsupported(
                "the URL is a PDF (application/pdf); moat-scrape returns text of HTML, text, JSON and XML pages only".into(),
            ));
        }
        _ => {}
    }
    if essence.starts_with("text/") || essence.ends_with("+json") || essence.ends_with("+xml") {
        return Ok(Kind::Text);
    }
    if !essence.is_empty() && essence != "application/octet-stream" {
        return Err(ScrapeError::Unsupported(format!(
            "the URL serves {essence}, which is not text; moat-scrape returns text of HTML, text, JSON and XML pages only"
        )));
    }
    // No type, or a generic one: look at the bytes.
    if head.starts_with(b"%PDF") {
        return Err(ScrapeError::Unsupported(
            "the URL is a PDF; moat-scrape returns text pages only".into(),
        ));
    }
    if looks_binary(head) {
        return Err(ScrapeError::Unsupported(
            "the URL serves binary data, not text; moat-scrape returns text pages only".into(),
        ));
    }
    let start = String::from_utf8_lossy(&head[..head.len().min(512)]).to_ascii_lowercase();
    if start.contains("<html") || start.contains("<!doctype html") || start.contains("<body") {
        Ok(Kind::Html)
    } else {
        Ok(Kind::Text)
    }
}

/// NUL bytes or many control characters mean binary.
fn looks_binary(head: &[u8]) -> bool {
    let sample = &head[..head.len().min(1024)];
    if sample.contains(&0) {
        return true;
    }
    let control = sample
        .iter()
        .filter(|byte| byte.is_ascii_control() && !matches!(byte, b'\n' | b'\r' | b'\t' | 0x0c))
        .count();
    control * 10 > sample.len()
}

/// Decode a body: BOM; then UTF-8 when the body is valid UTF-8 and not
/// plain ASCII, whatever is declared; then the Content-Type charset, then
/// (for HTML) a `<meta charset>` in the first 1024 bytes; a body declaring
/// UTF-8 (or nothing) that is not UTF-8 beyond a few stray bytes has its
/// encoding detected from its bytes, as browsers do (Firefox's detector).
///
/// Valid UTF-8 beats a declared legacy charset because the declaration is
/// the part that goes stale: pages converted to UTF-8 by a CMS, a proxy or
/// an archive keep their old `<meta charset=gb2312>` (or a server default
/// of ISO-8859-1), and decoding their bytes by it turns every word into
/// mojibake. The reverse mistake needs legacy text whose every non-ASCII
/// byte happens to form valid UTF-8 sequences, which real GBK, Shift_JIS,
/// windows-125x or KOI8 text does not do beyond a few bytes. The same
/// staleness hits a UTF-8 declaration: a template or an archive's wrapper
/// declares UTF-8 around a body still stored in a legacy encoding.
pub fn decode(body: &[u8], content_type: Option<&str>, kind: Kind) -> String {
    if Encoding::for_bom(body).is_none()
        && !body.is_ascii()
        && let Ok(text) = std::str::from_utf8(body)
    {
        return text.to_string();
    }
    let declared = Encoding::for_bom(body)
        .map(|(encoding, _)| encoding)
        .or_else(|| {
            content_type
                .and_then(charset_param)
                .and_then(|label| Encoding::for_label(label.as_bytes()))
        })
        .or_else(|| (kind == Kind::Html).then(|| meta_charset(body)).flatten());
    let encoding = match declared {
        Some(encoding) if encoding != encoding_rs::UTF_8 => encoding,
        _ if mostly_utf8(body) => encoding_rs::UTF_8,
        _ => detect_encoding(body),
    };
    let (text, _, _) = encoding.decode(body);
    text.into_owned()
}

/// Whether a body is UTF-8 apart from at most [`MAX_STRAY_UTF8_ERRORS`]
/// malformed sequences, with more well-formed non-ASCII characters than
/// malformed ones (a windows-1252 page with one accented letter is not).
fn mostly_utf8(body: &[u8]) -> bool {
    let (mut errors, mut non_ascii) = (0, 0);
    for chunk in body.utf8_chunks() {
        non_ascii += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        errors += usize::from(!chunk.invalid().is_empty());
        if errors > MAX_STRAY_UTF8_ERRORS {
            return false;
        }
    }
    errors == 0 || non_ascii > errors
}

/// The legacy encoding a body's bytes look like (chardetng, Firefox's
/// detector for pages without a usable declaration); windows-1252 when
/// nothing stands out, as browsers assume.
fn detect_encoding(body: &[u8]) -> &'static Encoding {
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(body, true);
    detector.guess(None, false)
}

fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']).to_string())
    })
}

/// The HTML prescan, simplified: `charset=` inside a `<meta` tag.
fn meta_charset(body: &[u8]) -> Option<&'static Encoding> {
    let head = String::from_utf8_lossy(&body[..body.len().min(CHARSET_PRESCAN_BYTES)])
        .to_ascii_lowercase();
    let mut rest = head.as_str();
    while let Some(position) = rest.find("<meta") {
        rest = &rest[position + 5..];
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        if let Some(at) = tag.find("charset=") {
            let label: String = tag[at + 8..]
                .trim_start_matches(['"', '\''])
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
                .collect();
            if let Some(encoding) = Encoding::for_label(label.as_bytes()) {
                // A page cannot declare itself UTF-16 in ASCII (HTML standard).
                return Some(
                    if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
                        encoding_rs::UTF_8
                    } else {
                        encoding
                    },
                );
            }
        }
    }
    None
}

/// The output format of [`html_to_text`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Plain text: paragraphs, headings and `- ` list items, no link markup.
    #[default]
    Text,
    /// Markdown: headings, lists, tables, code blocks, inline links.
    Markdown,
}

/// Which pass of the extraction produced the text.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Pass {
    /// The caller's CSS selector.
    Selector,
    /// The scored main content.
    Main,
    /// The looser readability-style fallback.
    Loose,
    /// The whole visible body text.
    WholeBody,
}

/// An outgoing link inside the extracted content.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Link {
    /// The link's visible text, whitespace collapsed.
    pub text: String,
    /// The absolute URL.
    pub url: String,
}

/// A page's text and what we learnt on the way.
#[derive(Debug, Clone)]
pub struct Extracted {
    /// `<title>`, trimmed.
    pub title: Option<String>,
    /// The main content as text or Markdown.
    pub text: String,
    /// Why this page seems to need JavaScript, when it does.
    pub needs_browser: Option<&'static str>,
    /// Which pass produced [`Extracted::text`].
    pub pass: Pass,
    /// The outgoing links inside the extracted content.
    pub links: Vec<Link>,
}

/// Turn HTML into clean text or Markdown. With `selector`, only the
/// matching elements are rendered (outermost matches, in page order).
/// Without, passes are tried in order and the first one giving at least
/// [`MIN_MAIN_CHARS`] characters, or half the body's text, is kept: [`Pass::Main`] (the element
/// holding the most content for the least boilerplate, furniture left
/// out), [`Pass::Loose`] (the same with only link density deciding), then
/// [`Pass::WholeBody`]; when none reaches it, the one with the most text
/// (the earlier on a tie), so a page with text never comes back empty.
/// Relative links are resolved against `base_url` (or the page's
/// `<base href>`); without either, only absolute links are kept.
///
/// # Errors
/// [`ScrapeError::Invalid`] for a selector that does not parse or matches
/// nothing.
pub fn html_to_text(
    html: &str,
    base_url: Option<&url::Url>,
    selector: Option<&str>,
    format: Format,
) -> Result<Extracted, ScrapeError> {
    let document = Html::parse_document(html);
    let title = select_first_text(&document, "title");
    let signals = JsSignals::read(&document);
    let base = page_base(&document, base_url);
    let parsed = selector
        .map(|selector| {
            Selector::parse(selector).map_err(|error| {
                ScrapeError::Invalid(format!("selector {selector:?} does not parse: {error}"))
            })
        })
        .transpose()?;
    let dom = dom::Dom::build(&document, parsed.as_ref(), false);
    drop(document);
    let (pass, (text, links)) = if let Some(selector) = selector {
        let roots = outermost_selected(&dom);
        if roots.is_empty() {
            return Err(ScrapeError::Invalid(format!(
                "selector {selector:?} matched nothing on the page"
            )));
        }
        let mut renderer = render::Renderer::new(&dom, format, base.as_ref(), html.len());
        for root in roots {
            renderer.render(root, &|_| false);
        }
        (Pass::Selector, renderer.finish())
    } else {
        main_content(&dom, format, base.as_ref(), html.len(), None)
    };
    let visible = dom::visible_chars(&text);
    let needs_browser = signals.verdict(visible);
    Ok(Extracted {
        title,
        text,
        needs_browser,
        pass,
        links,
    })
}

/// The passes of [`html_to_text`] without a selector: the first one
/// reaching [`MIN_MAIN_CHARS`] (or half the body's text) wins, else the one
/// with the most text. With `trace`, each pass's choice is described there.
fn main_content(
    dom: &dom::Dom,
    format: Format,
    base: Option<&url::Url>,
    budget: usize,
    mut trace: Option<&mut String>,
) -> (Pass, (String, Vec<Link>)) {
    let mut best: Option<(Pass, (String, Vec<Link>), usize)> = None;
    for pass in [Pass::Main, Pass::Loose, Pass::WholeBody] {
        let mut renderer = render::Renderer::new(dom, format, base, budget);
        let output = match pass {
            Pass::Main | Pass::Loose => {
                let analysis = content::Analysis::new(dom, pass == Pass::Main);
                let mut root = analysis.best(dom);
                let span = analysis.span(dom, root);
                if let Some(trace) = trace.as_deref_mut() {
                    trace.push_str(&format!(
                        "{pass:?}: {}\n",
                        analysis.describe(dom, root, span)
                    ));
                }
                for part in analysis.with_siblings(dom, root) {
                    let span = if part == root {
                        span
                    } else {
                        analysis.span(dom, part)
                    };
                    renderer.render(part, &|index| analysis.skip(dom, span, index));
                }
                let mut output = renderer.finish();
                // Too short: the winner was one block of a container the
                // scoring undervalued (a results table of short cells, a
                // post of short lines); its ancestors, still filtered, come
                // before a looser pass.
                let mut climbs = 0;
                while climbs < MAX_CLIMBS
                    && root != dom.body
                    && !long_enough(dom, dom::visible_chars(&output.0))
                {
                    let child = root;
                    root = dom.nodes[root].parent;
                    if dom.nodes[root].chars == dom.nodes[child].chars {
                        // A wrapper adding no text renders the same.
                        continue;
                    }
                    climbs += 1;
                    let span = analysis.span(dom, root);
                    let mut renderer = render::Renderer::new(dom, format, base, budget);
                    renderer.render(root, &|index| analysis.skip(dom, span, index));
                    output = renderer.finish();
                    if let Some(trace) = trace.as_deref_mut() {
                        trace.push_str(&format!(
                            "{pass:?}: climbed to [{root}], {} chars\n",
                            dom::visible_chars(&output.0)
                        ));
                    }
                }
                let kept = trim::trailing_labels(&output.0).len();
                output.0.truncate(kept);
                output
            }
            _ => {
                renderer.render(dom.body, &|_| false);
                renderer.finish()
            }
        };
        let chars = dom::visible_chars(&output.0);
        if let Some(trace) = trace.as_deref_mut() {
            trace.push_str(&format!("{pass:?}: {chars} chars rendered\n"));
        }
        if long_enough(dom, chars) {
            return (pass, trimmed(output));
        }
        if best.as_ref().is_none_or(|(_, _, most)| chars > *most) {
            best = Some((pass, output, chars));
        }
    }
    best.map_or(
        (Pass::WholeBody, (String::new(), Vec::new())),
        |(pass, output, _)| (pass, trimmed(output)),
    )
}

/// A pass's output without its trailing labels, site notices and credit
/// lines (see [`trim::boilerplate`]). The pass is chosen on the text before
/// this: a short article followed by a long subscription pitch is still
/// the main content, not a reason to fall back to a looser pass.
fn trimmed((text, links): (String, Vec<Link>)) -> (String, Vec<Link>) {
    (trim::boilerplate(&text), links)
}

/// Whether `chars` of rendered text are enough to keep a pass: at least
/// [`MIN_MAIN_CHARS`], or half the body's text (a short page).
fn long_enough(dom: &dom::Dom, chars: usize) -> bool {
    chars >= MIN_MAIN_CHARS || chars * 2 >= dom.nodes[dom.body].chars
}

/// How [`html_to_text`] chose the main content of `html`: each pass's
/// root (its ancestry as `tag#id.class`), its scores and the span kept.
/// For the extraction bench's `--explain`; never used to serve a page.
#[doc(hidden)]
pub fn explain(html: &str) -> String {
    let document = Html::parse_document(html);
    let dom = dom::Dom::build(&document, None, true);
    drop(document);
    let mut trace = String::new();
    let (pass, _) = main_content(&dom, Format::Text, None, html.len(), Some(&mut trace));
    trace.push_str(&format!("chosen: {pass:?}\n"));
    trace
}

/// The base for relative links: the page's `<base href>` resolved against
/// the URL it came from, else that URL.
fn page_base(document: &Html, base_url: Option<&url::Url>) -> Option<url::Url> {
    let declared = Selector::parse("base[href]")
        .ok()
        .and_then(|selector| document.select(&selector).next())
        .and_then(|element| element.attr("href"))
        .and_then(|href| render::resolve(base_url, href));
    declared.or_else(|| base_url.cloned())
}

/// The selected elements that are not inside another selected one, in
/// page order. Nested matches are skipped: their text is already in their
/// ancestor's, and keeping them made a selector like `div` on deeply
/// nested divs quadratic in the page's size.
fn outermost_selected(dom: &dom::Dom) -> Vec<usize> {
    let mut inside = vec![false; dom.nodes.len()];
    let mut roots = Vec::new();
    for (index, node) in dom.nodes.iter().enumerate().skip(1) {
        let parent_inside = inside[node.parent];
        if node.selected && !parent_inside {
            roots.push(index);
        }
        inside[index] = parent_inside || node.selected;
    }
    roots
}

fn select_first_text(document: &Html, selector: &str) -> Option<String> {
    let selector = Selector::parse(selector).ok()?;
    let element = document.select(&selector).next()?;
    let text = element.text().collect::<String>();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

fn element_text_len(element: scraper::ElementRef<'_>) -> usize {
    element
        .text()
        .map(|part| part.chars().filter(|c| !c.is_whitespace()).count())
        .sum()
}

/// Most bytes of text per byte of HTML (plus [`TEXT_SLACK_BYTES`]): the
/// renderer writes each character once and a bounded decoration per
/// element (list markers, cell separators), so text stays linear in the
/// page whatever its tables or nesting do.
pub const MAX_TEXT_GROWTH: usize = 4;

/// Bytes of text always allowed, whatever the HTML's size.
pub const TEXT_SLACK_BYTES: usize = 4096;

/// The whole fragment as plain text, nothing left out but invisible
/// content. Public for the html_extract fuzz target only.
#[doc(hidden)]
pub fn to_plain_text(html: &str) -> String {
    let fragment = Html::parse_fragment(html);
    let dom = dom::Dom::build(&fragment, None, false);
    let mut renderer = render::Renderer::new(&dom, Format::Text, None, 0);
    renderer.render(0, &|_| false);
    renderer.finish().0
}

/// Trim trailing spaces and squeeze runs of blank lines to one.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

/// What the raw document says about needing JavaScript.
#[derive(Debug, Default)]
struct JsSignals {
    scripts: usize,
    empty_app_root: bool,
    noscript_mentions_js: bool,
}

impl JsSignals {
    fn read(document: &Html) -> Self {
        let count = |selector: &str| {
            Selector::parse(selector).map_or(0, |selector| document.select(&selector).count())
        };
        let empty_app_root = Selector::parse(APP_ROOTS).is_ok_and(|selector| {
            document
                .select(&selector)
                .any(|element| element_text_len(element) == 0)
        });
        let noscript_mentions_js = Selector::parse("noscript").is_ok_and(|selector| {
            document.select(&selector).any(|element| {
                // html5ever keeps <noscript> content as text when scripting
                // is on; either way the words are there.
                let inner = element.inner_html().to_ascii_lowercase();
                inner.contains("javascript")
            })
        });
        Self {
            scripts: count("script"),
            empty_app_root,
            noscript_mentions_js,
        }
    }

    /// The escalation rule, in order (documented in docs/scrape.md).
    fn verdict(&self, visible_chars: usize) -> Option<&'static str> {
        if self.empty_app_root && self.scripts > 0 {
            return Some("an empty single-page-app root");
        }
        if self.noscript_mentions_js && visible_chars < NOSCRIPT_TEXT_THRESHOLD {
            return Some("a <noscript> notice asking for JavaScript");
        }
        if self.scripts > 0 && visible_chars < JS_TEXT_THRESHOLD {
            return Some("scripts and almost no visible text");
        }
        None
    }
}

/// One window of a text, for the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The text shown.
    pub text: String,
    /// Where the next window starts, when the text goes on.
    pub next_start: Option<usize>,
    /// Characters in the whole text.
    pub total_chars: usize,
}

/// Cut `text` to at most `max_length` characters from `start` (both in
/// characters), at a paragraph, line, sentence or word boundary when one
/// lies in the last fifth of the window.
pub fn window(text: &str, start: usize, max_length: usize) -> Window {
    let total_chars = text.chars().count();
    let start = start.min(total_chars);
    let byte_at = |chars: usize| {
        text.char_indices()
            .nth(chars)
            .map_or(text.len(), |(byte, _)| byte)
    };
    let start_byte = byte_at(start);
    if total_chars - start <= max_length {
        return Window {
            text: text[start_byte..].to_string(),
            next_start: None,
            total_chars,
        };
    }
    let end_byte = byte_at(start + max_length);
    let slice = &text[start_byte..end_byte];
    let floor = slice.len() * 4 / 5;
    let cut = ["\n\n", "\n", ". ", " "]
        .iter()
        .find_map(|boundary| {
            slice
                .rfind(boundary)
                .filter(|&at| at >= floor)
                .map(|at| at + boundary.len())
        })
        .unwrap_or(slice.len());
    let shown = &slice[..cut];
    Window {
        text: shown.trim_end().to_string(),
        next_start: Some(start + shown.chars().count()),
        total_chars,
    }
}

#[cfg(test)]
mod content_tests;

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (html_extract fuzzer): a table with many columns and a
    /// long unbreakable word multiplied the text (971 bytes of HTML gave
    /// 13,577 bytes); the text now stays within [`MAX_TEXT_GROWTH`] of the
    /// HTML and keeps every word.
    #[test]
    fn wide_tables_do_not_multiply_the_text() {
        let html = format!(
            "<table><tr>{}<td>{}</td></tr></table>",
            "<td>cell</td>".repeat(60),
            "X".repeat(90)
        );
        let text = html_to_text(&html, None, None, Format::Text)
            .expect("extracts")
            .text;
        assert!(
            text.len() <= html.len() * MAX_TEXT_GROWTH + TEXT_SLACK_BYTES,
            "{} bytes of text from {} bytes of HTML",
            text.len(),
            html.len()
        );
        assert!(text.contains(&"X".repeat(90)), "{text}");
        assert_eq!(text.matches("cell").count(), 60, "{text}");
    }

    /// A selector matching nested elements keeps only the outermost ones:
    /// no text twice, and no quadratic blow-up on deeply nested pages.
    #[test]
    fn nested_selector_matches_are_kept_once() {
        let depth = 2_000;
        let html = format!("{}deep{}", "<div>".repeat(depth), "</div>".repeat(depth));
        let text = html_to_text(&html, None, Some("div"), Format::Text)
            .expect("extracts")
            .text;
        assert_eq!(text, "deep");
        let html = "<p>a</p><section><p>b</p><div><p>c</p></div></section><p>d</p>";
        let text = html_to_text(html, None, Some("p"), Format::Text)
            .expect("extracts")
            .text;
        assert_eq!(
            text.split_whitespace().collect::<Vec<_>>(),
            ["a", "b", "c", "d"]
        );
    }

    /// Scripts, styles, noscript, templates and navigation never reach the
    /// text; the title is read.
    #[test]
    fn boilerplate_is_dropped() {
        let html = "<html><head><title> Hello </title><style>p{}</style></head><body>\
            <nav>Home | About</nav><noscript>Please enable JavaScript</noscript>\
            <script>var secret = 1;</script><template><p>tmpl</p></template>\
            <main><h1>Article</h1><p>The body text.</p></main><footer>(c) 2026</footer></body></html>";
        let extracted = html_to_text(html, None, None, Format::Text).expect("extracts");
        assert_eq!(extracted.title.as_deref(), Some("Hello"));
        assert!(
            extracted.text.contains("The body text."),
            "{}",
            extracted.text
        );
        for absent in ["Home", "JavaScript", "secret", "tmpl", "(c)", "p{}"] {
            assert!(
                !extracted.text.contains(absent),
                "{absent} in {}",
                extracted.text
            );
        }
    }

    /// A selector keeps only what it matches; a selector matching nothing is
    /// an error the model can read.
    #[test]
    fn selector_narrows() {
        let html = "<body><div id=a>first</div><div id=b>second</div></body>";
        let extracted = html_to_text(html, None, Some("#b"), Format::Text).expect("extracts");
        assert_eq!(extracted.text.trim(), "second");
        assert!(html_to_text(html, None, Some("#missing"), Format::Text).is_err());
        assert!(html_to_text(html, None, Some("##"), Format::Text).is_err());
    }

    /// The escalation heuristic fires on an empty app root and on a page of
    /// scripts, not on an article.
    #[test]
    fn js_heuristic() {
        let spa = "<body><div id=root></div><script src=app.js></script></body>";
        assert!(
            html_to_text(spa, None, None, Format::Text)
                .expect("spa")
                .needs_browser
                .is_some()
        );
        let article = format!(
            "<body><p>{}</p><script>track()</script></body>",
            "word ".repeat(200)
        );
        assert!(
            html_to_text(&article, None, None, Format::Text)
                .expect("article")
                .needs_browser
                .is_none()
        );
        let plain = "<body><p>short page, no scripts</p></body>";
        assert!(
            html_to_text(plain, None, None, Format::Text)
                .expect("plain")
                .needs_browser
                .is_none()
        );
    }

    /// Charsets come from the header, else `<meta>`, else UTF-8/windows-1252.
    #[test]
    fn charsets() {
        let latin1 = b"<html><head><meta charset=\"iso-8859-1\"></head><body>caf\xe9</body></html>";
        assert!(decode(latin1, Some("text/html"), Kind::Html).contains("café"));
        let header = b"\x93quoted\x94";
        assert_eq!(
            decode(header, Some("text/plain; charset=windows-1252"), Kind::Text),
            "“quoted”"
        );
        let shift_jis = b"\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd";
        assert_eq!(
            decode(shift_jis, Some("text/plain; charset=Shift_JIS"), Kind::Text),
            "こんにちは"
        );
        assert_eq!(decode("é".as_bytes(), None, Kind::Text), "é");
    }

    /// A page declaring UTF-8 whose body is GBK (or, undeclared, windows-1250)
    /// is decoded by its bytes' real encoding; a UTF-8 page with one stray
    /// byte stays UTF-8.
    #[test]
    fn misdeclared_utf8_is_detected_from_the_bytes() {
        const UTF8_HEAD: &[u8] = b"<html><head><meta charset=\"utf-8\"></head><body><p>";
        let page = |head: &[u8], body: &[u8]| {
            decode(
                &[head, body, b"</p></body></html>"].concat(),
                None,
                Kind::Html,
            )
        };
        let chinese = "一个约定，信守十五年，感人至深；一段真情，延续十五年，催人泪下。话剧在全省各地巡演，引起强烈反响。";
        let (gbk, _, _) = encoding_rs::GBK.encode(chinese);
        assert!(page(UTF8_HEAD, &gbk).contains(chinese));
        let polish = "Ostra debata w Sejmie przybliżyła Polskę do zatwierdzenia decyzji. Koalicji nie udało się przełożyć głosowania, mówił premier.";
        let (cp1250, _, _) = encoding_rs::WINDOWS_1250.encode(polish);
        assert!(page(b"<html><body><p>", &cp1250).contains(polish));
        let stray = ["Grüße aus München, schön".as_bytes(), b"\xe9"].concat();
        assert!(page(UTF8_HEAD, &stray).contains("Grüße aus München, schön\u{fffd}"));
    }

    /// A documentation page whose sections carry ids made from their
    /// headings ("Sharing with ..." -> `id="sharing-with-..."`) keeps those
    /// sections; an id naming a share bar still marks furniture.
    #[test]
    fn section_ids_made_from_headings_are_not_furniture_hints() {
        let prose = "Each step below is run on the test server before anything is pushed, so that the public repository only ever sees reviewed changes.";
        let section = |id: &str, title: &str, marker: &str| {
            format!(
                "<div class=\"section\" id=\"{id}\"><h2>{title}</h2><p>{marker} {prose}</p><p>{prose}</p></div>"
            )
        };
        let page = format!(
            "<html><body><div class=\"body\"><h1>Evolve: shared mutable history</h1><p>{prose}</p>{}{}{}\
             <div id=\"share-bar\"><p>Share this page on your favourite network today, it really helps us a lot, thank you kindly.</p></div>\
             </div></body></html>",
            section(
                "sharing-with-a-single-developer",
                "Sharing with a single developer",
                "SECTION-ONE"
            ),
            section("related-work", "Related work", "SECTION-TWO"),
            section("conclusion", "Conclusion", "SECTION-THREE"),
        );
        let text = html_to_text(&page, None, None, Format::Text)
            .expect("extracts")
            .text;
        for marker in ["SECTION-ONE", "SECTION-TWO", "SECTION-THREE"] {
            assert!(text.contains(marker), "{marker} missing from: {text}");
        }
        assert!(
            !text.contains("Share this page"),
            "the share bar was kept: {text}"
        );
    }

    /// A blog post whose class list names its terms and its author
    /// (`category-news tag-jobs author-sarah`) is the article; an
    /// `author-bio` box on its own is still furniture.
    #[test]
    fn a_posts_author_class_beside_its_terms_is_not_a_furniture_hint() {
        let prose = "The survey asked eleven thousand developers where they work, what they earn and which tools they would pick again tomorrow.";
        let page = format!(
            "<html><body><div class=\"top\"><h1 class=\"title\">Jobs blog</h1></div><main>\
             <article class=\"entry author-sarah post type-post category-news tag-jobs\"><h2>What developers want</h2>\
             <p>POST-BODY {prose}</p><p>{prose}</p><p>{prose}</p></article>\
             <div class=\"author-bio\"><p>Sarah writes about hiring and careers for the blog, and lives in a small town by the sea with two cats.</p></div>\
             <section class=\"comments\">{comment}{comment}{comment}{comment}</section>\
             </main></body></html>",
            comment =
                format!("<article class=\"comment-body\"><p>Great read. {prose}</p></article>"),
        );
        let text = html_to_text(&page, None, None, Format::Text)
            .expect("extracts")
            .text;
        assert!(text.contains("POST-BODY"), "the post was lost: {text}");
        assert!(
            !text.contains("two cats"),
            "the author bio was kept: {text}"
        );
    }

    /// A page re-encoded as UTF-8 that still declares its old charset (in
    /// `<meta>` or the header) reads as UTF-8, not as mojibake; the same
    /// declaration over real legacy bytes still decodes by it.
    #[test]
    fn valid_utf8_beats_a_stale_charset_declaration() {
        let page = "<html><head><meta charset=\"gb2312\"></head><body><p>谷歌在2014年收购的人工智能公司</p></body></html>";
        assert!(
            decode(page.as_bytes(), Some("text/html"), Kind::Html).contains("谷歌在2014年收购")
        );
        assert!(
            decode(
                page.as_bytes(),
                Some("text/html; charset=ISO-8859-1"),
                Kind::Html
            )
            .contains("人工智能公司")
        );
        let gbk =
            b"<html><head><meta charset=\"gb2312\"></head><body>\xb9\xc8\xb8\xe8</body></html>";
        assert!(decode(gbk, Some("text/html"), Kind::Html).contains("谷歌"));
    }

    /// PDFs and binaries are refused; text types pass.
    #[test]
    fn content_types() {
        assert!(classify(Some("application/pdf"), b"").is_err());
        assert!(classify(Some("image/png"), b"").is_err());
        assert!(classify(None, b"%PDF-1.7").is_err());
        assert!(classify(Some("application/octet-stream"), b"\x00\x01\x02").is_err());
        assert_eq!(
            classify(Some("text/html; charset=utf-8"), b"").expect("html"),
            Kind::Html
        );
        assert_eq!(
            classify(Some("application/json"), b"").expect("json"),
            Kind::Text
        );
        assert_eq!(
            classify(None, b"<!DOCTYPE html><html>").expect("sniffed"),
            Kind::Html
        );
    }

    /// Windows cut at a boundary and chain exactly, covering every
    /// character once.
    #[test]
    fn windows_chain() {
        let text =
            "First paragraph here.\n\nSecond paragraph, a bit longer than the first.\n\nThird.";
        let mut start = 0;
        let mut seen = String::new();
        loop {
            let window = window(text, start, 30);
            assert!(window.text.chars().count() <= 30);
            seen.push_str(&window.text);
            match window.next_start {
                Some(next) => start = next,
                None => break,
            }
        }
        let squash = |s: &str| s.split_whitespace().collect::<String>();
        assert_eq!(squash(&seen), squash(text));
        let unicode = "é".repeat(50);
        let window = window(&unicode, 10, 20);
        assert_eq!(window.text.chars().count(), 20);
        assert_eq!(window.next_start, Some(30));
    }
}
