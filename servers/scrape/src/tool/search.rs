//! `search`: web search through the configured provider.

use std::fmt::Write as _;

use moat_shared::{CallContext, ToolOutput};
use serde::Deserialize;

use crate::{
    engine::Engine,
    error::ScrapeError,
    search::{Query, SafeSearch, SearchResult, TimeRange},
};

/// Default number of results.
const DEFAULT_LIMIT: usize = 10;

/// Most results one call returns: more would flood the context, and a
/// model can refine the query instead.
const MAX_LIMIT: usize = 50;

/// Longest query accepted, in characters.
const MAX_QUERY_CHARS: usize = 500;

/// Arguments of `search`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// What to search for.
    pub query: String,
    /// How many results (default 10, at most 50).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Language code, e.g. `en` or `de`.
    #[serde(default)]
    pub language: Option<String>,
    /// Only results from the past day, week, month or year.
    #[serde(default)]
    pub time_range: Option<TimeRange>,
    /// Safe-search level: off, moderate or strict.
    #[serde(default)]
    pub safesearch: Option<SafeSearch>,
}

/// What the tool does and when to use it, for the model.
const DESCRIPTION: &str = "Search the web through the operator's provider (SearXNG or Brave) and return [{title, url, snippet}]. Says so plainly when no provider is configured.";

moat_shared::tool! {
    /// The `search` tool.
    pub SearchTool: AsyncTool<Engine> = "search", "Search the web", super::read_only(Self::TITLE), args: SearchArgs {
        /// The provider that answered.
        pub provider: String,
        /// The results, best first.
        pub results: Vec<SearchResult>,
    }
}

/// Run `search`.
///
/// # Errors
/// No provider configured, provider failure, bad query.
pub async fn run(
    engine: &Engine,
    args: SearchArgs,
    _: &CallContext,
) -> Result<ToolOutput, ScrapeError> {
    let text = args.query.trim();
    if text.is_empty() {
        return Err(ScrapeError::Invalid("the query is empty".into()));
    }
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(ScrapeError::Invalid(format!(
            "the query is longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    let query = Query {
        text: text.to_string(),
        limit: args.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
        language: args.language,
        time_range: args.time_range,
        safesearch: args.safesearch,
    };
    let results = engine.search.run(&query).await?;
    let mut listing = if results.is_empty() {
        format!("No results for {:?}.", query.text)
    } else {
        String::new()
    };
    for (index, result) in results.iter().enumerate() {
        let _ = writeln!(
            listing,
            "{}. {}\n   {}",
            index + 1,
            result.title,
            result.url
        );
        if !result.snippet.is_empty() {
            let _ = writeln!(listing, "   {}", result.snippet);
        }
    }
    let output = Output {
        provider: engine.search.provider_name().to_string(),
        results,
    };
    Ok(ToolOutput::with_structured(
        listing.trim_end().to_string(),
        serde_json::to_value(output).unwrap_or_default(),
    ))
}
