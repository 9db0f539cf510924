//! moat-scrape: web search and scraping for models, behind an SSRF-proof
//! URL policy.
//!
//! Three tools: `scrape` (a page as clean, bounded text with continuation),
//! `search` (SearXNG or Brave) and `screenshot` (PNG). Pages are fetched
//! with plain HTTP and rendered in headless Chromium only when they need
//! JavaScript (or when asked).
//!
//! # Layout
//! - [`server`]: the [`moat_shared::Toolbox`]: builds the engine, lists and
//!   runs the tools.
//! - [`engine`]: what every call shares (policy, fetcher, caches, browser,
//!   search client).
//! - [`tool`]: one module per tool (its arguments, description, a
//!   `moat_shared::tool!` block with its output fields, and `run`), and the
//!   table that lists them.
//! - [`fetcher`]: plain HTTP, pinned to policy-checked addresses, manual
//!   redirects, body cap.
//! - [`extract`]: content-type gating, charsets, HTML to text, the
//!   JavaScript heuristic, windows.
//! - [`metadata`]: author, date, site, language and description from
//!   `<meta>`, OpenGraph and JSON-LD.
//! - [`pdf`]: PDF to per-page text, in a child process.
//! - [`browser`]: the one Chromium, lazily launched, crash-recovering.
//! - [`egress`]: the loopback proxy every browser request goes through.
//! - [`politeness`]: per-destination-host limits on every request.
//! - [`state`]: caches, pacing and permits, in memory or in a fleet's
//!   Redis.
//! - [`robots`], [`cache`], [`search`], [`page`], [`error`].
//!
//! # Must never
//! - connect anywhere on a model's behalf except to an address
//!   [`moat_shared::policy::UrlPolicy::resolve`] checked (plain HTTP, every
//!   redirect, every browser request through [`egress`]);
//! - return binary bodies as text, or more text than the caller's budget;
//! - download a browser, or leave a tab, a Chromium or a profile behind;
//! - write to stdout (the stdio transport) or log URLs' credentials
//!   (credentials in URLs are refused outright).

pub mod browser;
pub mod cache;
pub mod egress;
pub mod engine;
pub mod error;
pub mod extract;
pub mod fetcher;
pub mod metadata;
pub mod page;
pub mod pdf;
pub mod politeness;
pub mod robots;
pub mod search;
pub mod server;
pub mod state;
pub mod tool;

pub use error::ScrapeError;
pub use server::{ScrapeOptions, ScrapeServer};
