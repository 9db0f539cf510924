//! The one error type of moat-scrape, and its mapping to a tool error.
//!
//! Every variant renders as one English line a model can act on. None may
//! carry a response body, a header value or a stack trace.

use std::time::Duration;

use moat_shared::{ToolError, policy::UrlDenied};

/// Why a scrape, search or screenshot failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScrapeError {
    /// The URL policy refused the destination (or a redirect's destination).
    #[error("{0}")]
    Denied(#[from] UrlDenied),
    /// robots.txt disallows the URL for this user agent.
    #[error(
        "robots.txt of {0} disallows this URL for moat-scrape; the operator can switch robots.txt off with respect_robots = false"
    )]
    Robots(String),
    /// Too many redirects.
    #[error("more than {0} redirects; stopped")]
    TooManyRedirects(usize),
    /// A response this server does not turn into text.
    #[error("{0}")]
    Unsupported(String),
    /// The network failed (connect, TLS, reset...).
    #[error("{0}")]
    Network(String),
    /// A stage ran past its limit.
    #[error("{what} took longer than {} s", .limit.as_secs_f64())]
    Timeout {
        /// Which stage.
        what: &'static str,
        /// Its limit.
        limit: Duration,
    },
    /// The browser is not available on this machine.
    #[error("{0}")]
    BrowserUnavailable(String),
    /// The browser failed during the call.
    #[error("{0}")]
    Browser(String),
    /// Every browser slot stayed busy past the queue wait.
    #[error("all {slots} browser pages stayed busy for {} s; retry shortly", .waited.as_secs_f64())]
    Busy {
        /// Configured slots.
        slots: usize,
        /// How long the call waited.
        waited: Duration,
    },
    /// A destination host (or the search provider) had no turn free within
    /// the wait this service allows.
    #[error("{0}")]
    Throttled(String),
    /// No search provider is configured, or it failed.
    #[error("{0}")]
    Search(String),
    /// The page was fetched but gave no usable text, or extracting it
    /// failed.
    #[error("{0}")]
    Extraction(String),
    /// The arguments were wrong in a way the schema cannot express.
    #[error("{0}")]
    Invalid(String),
}

impl From<ScrapeError> for ToolError {
    fn from(error: ScrapeError) -> Self {
        match error {
            ScrapeError::Denied(_) | ScrapeError::Robots(_) => ToolError::denied(error.to_string()),
            ScrapeError::Invalid(message) => ToolError::invalid(message),
            other => ToolError::failed(other.to_string()),
        }
    }
}
