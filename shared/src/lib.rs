//! moat-shared: the one MCP runtime every moat server stands on, and the
//! policy files that bound what those servers may do.
//!
//! A moat server is a [`Toolbox`]: a list of tools and a way to call them.
//! This crate serves a toolbox over stdio or Streamable HTTP (both protocol
//! eras, through rmcp), maps every failure to one short English line, turns a
//! panicking tool into an `isError` result, guards the HTTP listener (Host and
//! Origin allow-lists, body cap, graceful shutdown) and loads typed policy
//! files.
//!
//! # Layout
//! - [`runtime`]: the [`Toolbox`] trait, the typed [`Tool`] declaration a
//!   toolbox lists (and [`tool!`], which declares one, with its output
//!   struct, in one block), the
//!   rmcp handler that runs every call (in one place),
//!   and the stdio and HTTP entry points.
//! - [`policy`]: typed, validated policy files (`policies/*.toml`).
//! - `net` (feature `net`, on by default): the network funnel, the one
//!   place an HTTP client is built (pinned to addresses the URL policy
//!   checked). Without it the crate links no TLS stack, so it cross-links
//!   for macOS without Apple's SDK; a JWKS URL is then refused.
//! - [`cli`]: the subcommands every moat binary shares (`serve` on stdio, on
//!   an HTTP address, or on a listener the caller passes as stdin; `tools`,
//!   `call`, `check-policy`).
//! - [`telemetry`]: tracing to stderr, once per process.
//! - [`error`]: [`Error`] (start-up, policy, transport) and [`ToolError`],
//!   the one shape of a tool failure.
//!
//! # Must never
//! - write anything but protocol messages to stdout (stdout is the stdio
//!   transport);
//! - put a stack trace, a secret or a host path the client did not send into
//!   a tool result;
//! - touch the filesystem or the network on a tool's behalf: that is each
//!   server's job, behind its own checks.

pub mod cli;
pub mod error;
#[cfg(feature = "net")]
pub mod net;
pub mod policy;
pub mod runtime;
pub mod telemetry;

pub use error::{Error, ToolError};
pub use runtime::{
    AsyncTool, BlockingTool, Call, CallContext, ServerIdentity, Tool, ToolEntry, ToolFuture,
    ToolOutput, Toolbox, parse_arguments,
};
