//! The MCP runtime: a [`Toolbox`] served over stdio or Streamable HTTP.
//!
//! - [`toolbox`]: the trait a server implements, and the values it passes.
//! - [`tool`]: one typed declaration per tool (and the `tool!` macro that
//!   writes it, output struct included), and the table entries and calls
//!   derived from it.
//! - [`call_context`]: what a call gets besides its arguments (cancellation,
//!   deadline, progress, client roots, confirmer).
//! - [`tool_prefix`]: `--tool-prefix`, a toolbox's tools under prefixed
//!   names.
//! - [`auth`]: static bearer tokens for HTTP.
//! - [`blocking`]: the threads that run tool bodies and other blocking
//!   work, one thread for calls made one after another.
//! - [`handler`]: the rmcp `ServerHandler` that routes calls to a toolbox and
//!   applies the one error mapping, deadlines and panic isolation.
//! - [`stdio`]: serve one client on stdin/stdout.
//! - [`line_transport`]: newline-delimited JSON-RPC for stdio, answering
//!   protocol errors before rmcp.
//! - [`jsonrpc`]: what an incoming JSON-RPC message is, the error for one
//!   that is not, and the ids in flight per session.
//! - [`http_post`]: the same checks for `/mcp` POST bodies, and the status
//!   of a session `DELETE`.
//! - [`json_or_sse`]: the rule that sends a request's answer as one JSON
//!   body or as its SSE stream, read off the stream's first items.
//! - [`http_session`]: a request in a live HTTP session handed straight
//!   to its rmcp worker, the answer written as JSON by [`wire`].
//! - [`http`]: serve many clients over Streamable HTTP at `/mcp`, with
//!   `/health` and the listener guards.
//! - [`accounting`]: what calls leave behind: the audit log and the
//!   `/metrics` counters.
//! - [`legacy_sse`]: the 2024-11-05 HTTP+SSE transport (`/sse`, `/messages`).
//! - [`rate_limit`]: per-client rate limits.
//! - [`notifications`]: the listChanged capabilities, and the list-changed
//!   notifications sent when a client's roots change.
//! - [`resources`]: the contract for servers that offer MCP resources,
//!   and the sink a subscription notifies through.
//! - [`confirm`]: ask the user to confirm a destructive step (MCP
//!   elicitation, form mode).
//! - [`bounds`]: the limits the runtime applies to every server (timeouts,
//!   grace periods, message sizes), each with its reason.
//! - [`oauth`]: OAuth 2.1 resource-server mode (JWT validation, RFC 9728).
//! - [`wire`]: the bytes of an outgoing stdio message (and of an HTTP
//!   answer sent as JSON), a tool result's
//!   repeated text escaped once.
//! - [`json_text`]: a text escaped for a JSON string, as serde_json
//!   escapes it, a word at a time.
//! - [`inprocess`]: a client wired to a server in memory, for the CLI's
//!   `tools` and `call` and for tests.

pub mod accounting;
pub mod auth;
pub mod blocking;
pub mod bounds;
pub mod call_context;
pub mod confirm;
pub mod handler;
pub mod http;
pub mod http_post;
pub mod http_session;
pub mod inprocess;
pub mod json_or_sse;
pub mod json_text;
pub mod jsonrpc;
pub mod legacy_sse;
pub mod line_transport;
pub mod notifications;
pub mod oauth;
pub mod rate_limit;
pub mod resources;
pub mod stdio;
pub mod tool;
pub mod tool_prefix;
pub mod toolbox;
pub mod wire;

pub use handler::{Handler, RuntimeState};
pub use tool::{AsyncTool, BlockingTool, Tool, ToolEntry};
pub use toolbox::{
    Call, CallContext, ServerIdentity, ToolFuture, ToolOutput, Toolbox, parse_arguments,
};
