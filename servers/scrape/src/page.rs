//! A rendered page: what the continuation cache keeps and the scrape tool
//! cuts into windows. Holds text only, never raw bytes.

/// Which renderer produced a page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Renderer {
    /// reqwest, no JavaScript.
    #[default]
    Http,
    /// Chromium.
    Browser,
}

/// A page turned into text.
#[derive(Debug, Clone, Default)]
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
}
