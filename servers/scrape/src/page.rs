//! A rendered page: what the continuation cache keeps and the scrape tool
//! cuts into windows. Holds text only, never raw bytes.

use crate::{
    extract::{Link, Pass},
    metadata::Metadata,
};

/// Which renderer produced a page.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Renderer {
    /// reqwest, no JavaScript.
    #[default]
    Http,
    /// Chromium.
    Browser,
}

/// What a PDF's text is made of.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct PdfPages {
    /// Pages in the document.
    pub page_count: usize,
    /// Pages whose text is in the result (fewer than `page_count` past the
    /// page or text cap).
    pub pages_read: usize,
    /// Where each page read starts in the whole text, in characters (its
    /// `--- page N ---` line): compare with `start_index` to know which
    /// pages a window holds.
    pub page_offsets: Vec<usize>,
}

/// A page turned into text. Serialisable: the continuation cache keeps
/// it as JSON, in memory or in a fleet's Redis.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Page {
    /// Where the last redirect led.
    pub final_url: String,
    /// HTTP status, when known.
    pub status: Option<u16>,
    /// Content-Type, when known.
    pub content_type: Option<String>,
    /// `<title>`.
    pub title: Option<String>,
    /// The clean text.
    pub text: String,
    /// Who rendered it.
    pub renderer: Renderer,
    /// Facts the model should know (cut body, escalation, partial load).
    pub notes: Vec<String>,
    /// What the page says about itself (HTML only).
    pub metadata: Metadata,
    /// The content's outgoing links, deduplicated and bounded (HTML only).
    pub links: Vec<Link>,
    /// Which extraction pass produced the text (HTML only).
    pub pass: Option<Pass>,
    /// The PDF's pages, when the response was a PDF.
    pub pdf: Option<PdfPages>,
}
