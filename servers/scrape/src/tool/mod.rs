//! One module per MCP tool, named like the tool.

pub mod scrape;
pub mod screenshot;
pub mod search;
