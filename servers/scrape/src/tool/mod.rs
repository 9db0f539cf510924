//! One module per MCP tool, named like the tool (each declares its tool
//! beside its argument and output types), and the table that lists them.

pub mod scrape;
pub mod screenshot;
pub mod search;

use std::sync::LazyLock;

use moat_shared::ToolEntry;
use rmcp::model::ToolAnnotations;

use crate::engine::Engine;

/// Every tool, in the order `tools/list` shows them.
pub static TOOLS: LazyLock<Vec<ToolEntry<Engine>>> = LazyLock::new(|| {
    vec![
        ToolEntry::asynchronous::<scrape::Scrape>(),
        ToolEntry::asynchronous::<search::SearchTool>(),
        ToolEntry::asynchronous::<screenshot::Screenshot>(),
    ]
});

/// Annotations of every moat-scrape tool: reads only, repeatable, and
/// reaches the open web.
pub fn read_only(title: &str) -> ToolAnnotations {
    let mut annotations = ToolAnnotations::new()
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(true);
    annotations.title = Some(title.to_string());
    annotations
}
