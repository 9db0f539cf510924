//! `scrape`: a page as clean, bounded text, with continuation.

use std::{fmt::Write as _, sync::Arc};

use moat_shared::{ToolOutput, policy::AllowedUrl};
use serde::{Deserialize, Serialize};

use crate::{
    cache::CacheKey,
    error::ScrapeError,
    extract::{self, Kind},
    page::{Page, Renderer},
    server::Engine,
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
}

/// `structuredContent` of `scrape`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScrapeOutput {
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
    /// Which renderer produced the text.
    pub renderer: Renderer,
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
    /// Facts worth knowing (cut body, escalation, partial load).
    pub notes: Vec<String>,
}

/// Run `scrape`.
///
/// # Errors
/// Policy denial, robots.txt, network, content type, browser.
pub async fn run(engine: &Engine, args: ScrapeArgs) -> Result<ToolOutput, ScrapeError> {
    let url = engine.url_policy.check(&args.url)?;
    let max_length = args
        .max_length
        .unwrap_or(engine.limits.max_length)
        .clamp(1, engine.limits.max_length_cap);
    let key = CacheKey {
        url: url.as_str().to_string(),
        render: args.render.name(),
        selector: args.selector.clone(),
    };
    let (page, cached) = if let Some(page) = engine.cache.get(&key) {
        (page, true)
    } else {
        let page = Arc::new(render(engine, &url, args.render, args.selector.as_deref()).await?);
        engine.cache.put(key, page.clone());
        (page, false)
    };
    let window = extract::window(&page.text, args.start_index, max_length);
    let start_index = args.start_index.min(window.total_chars);
    let mut text = String::new();
    if let Some(title) = &page.title {
        let _ = writeln!(text, "Title: {title}");
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
        if start_index > 0 {
            let _ = write!(
                text,
                "(start_index {start_index} is past the end: the text has {} characters)",
                window.total_chars
            );
        } else {
            text.push_str("(the page has no text)");
        }
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
    let output = ScrapeOutput {
        url: url.as_str().to_string(),
        final_url: page.final_url.clone(),
        status: page.status,
        content_type: page.content_type.clone(),
        title: page.title.clone(),
        renderer: page.renderer,
        text: window.text,
        start_index,
        next_start_index: window.next_start,
        total_length: window.total_chars,
        truncated: window.next_start.is_some(),
        cached,
        notes: page.notes.clone(),
    };
    Ok(ToolOutput::with_structured(
        text,
        serde_json::to_value(output).unwrap_or_default(),
    ))
}

async fn render(
    engine: &Engine,
    url: &AllowedUrl,
    render: Render,
    selector: Option<&str>,
) -> Result<Page, ScrapeError> {
    if engine.limits.respect_robots {
        engine
            .robots
            .check(&engine.fetcher, url, engine.robots_timeout)
            .await?;
    }
    match render {
        Render::Http => http_page(engine, url, selector).await.map(|(page, _)| page),
        Render::Browser => browser_page(engine, url, selector).await,
        Render::Auto => {
            let (mut page, needs_browser) = http_page(engine, url, selector).await?;
            let Some(reason) = needs_browser else {
                return Ok(page);
            };
            match browser_page(engine, url, selector).await {
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
) -> Result<(Page, Option<&'static str>), ScrapeError> {
    let fetched = engine.fetcher.get(url.clone(), true).await?;
    let kind = fetched.kind.unwrap_or(Kind::Text);
    let decoded = extract::decode(&fetched.body, fetched.content_type.as_deref(), kind);
    let mut notes = Vec::new();
    if fetched.truncated {
        notes.push(format!(
            "the page is larger than {} bytes; only its first {} bytes were read",
            engine.fetcher.limits().max_body_bytes,
            engine.fetcher.limits().max_body_bytes
        ));
    }
    let (title, text, needs_browser) = match kind {
        Kind::Html => {
            let extracted = extract::html_to_text(&decoded, None, selector, extract::Format::Text)?;
            (extracted.title, extracted.text, extracted.needs_browser)
        }
        Kind::Text => {
            if selector.is_some() {
                notes.push("the selector was ignored: the response is not HTML".into());
            }
            (None, decoded, None)
        }
    };
    Ok((
        Page {
            final_url: fetched.final_url.as_str().to_string(),
            status: Some(fetched.status),
            content_type: fetched.content_type,
            title,
            text,
            renderer: Renderer::Http,
            notes,
        },
        needs_browser,
    ))
}

async fn browser_page(
    engine: &Engine,
    url: &AllowedUrl,
    selector: Option<&str>,
) -> Result<Page, ScrapeError> {
    let rendered = engine.browser.render(url, engine.browser_timeout).await?;
    let extracted = extract::html_to_text(&rendered.html, None, selector, extract::Format::Text)?;
    let mut notes = Vec::new();
    if !rendered.loaded {
        notes.push(
            "the page had not finished loading by the deadline; this is what it showed".into(),
        );
    }
    Ok(Page {
        final_url: rendered.final_url,
        status: rendered.status,
        content_type: rendered.content_type,
        title: extracted.title,
        text: extracted.text,
        renderer: Renderer::Browser,
        notes,
    })
}
