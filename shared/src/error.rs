//! Errors: [`Error`] for the runtime itself (start-up, policy, transport) and
//! [`ToolError`], the one shape every tool failure takes before it becomes an
//! MCP `isError` result.

use std::time::Duration;

/// A failure of the runtime itself: these stop a server from starting or
/// serving, and are reported by the binary at its edge.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A policy file could not be read, parsed or validated.
    #[error("{0}")]
    Policy(#[from] crate::policy::PolicyError),
    /// The HTTP listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The server refused to start with the options given.
    #[error("{0}")]
    Config(String),
    /// The MCP transport failed.
    #[error("transport error: {0}")]
    Transport(String),
    /// An I/O error outside any tool (stdio, signals).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Why a tool call failed. Every variant renders as one short English line
/// that the model reads; none carries a stack trace or a path the client did
/// not send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// The arguments did not match the tool's input schema.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// The policy refused the request (outside a root, denied glob,
    /// read-only root, blocked URL...).
    #[error("{0}")]
    Denied(String),
    /// The tool ran and the operation failed (not found, I/O error...).
    #[error("{0}")]
    Failed(String),
    /// The call ran past its deadline and was stopped.
    #[error("the call took longer than {} s and was stopped", .0.as_secs_f64())]
    Timeout(Duration),
    /// The client cancelled the call.
    #[error("the call was cancelled")]
    Cancelled,
    /// The tool panicked; the server keeps serving.
    #[error("internal error in tool `{0}`; the server is still running, the call can be retried")]
    Panicked(String),
    /// The server is shutting down and takes no new calls.
    #[error("the server is shutting down and takes no new calls")]
    ShuttingDown,
}

impl ToolError {
    /// Shorthand for [`ToolError::Failed`].
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// Shorthand for [`ToolError::Denied`].
    pub fn denied(message: impl Into<String>) -> Self {
        Self::Denied(message.into())
    }

    /// Shorthand for [`ToolError::InvalidArguments`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidArguments(message.into())
    }

    /// The message as the model sees it: one line, bounded length.
    pub fn to_line(&self) -> String {
        one_line(&self.to_string())
    }
}

/// Longest error line a tool returns: a model needs the reason, not a dump.
pub const MAX_ERROR_LINE_CHARS: usize = 500;

/// Collapse a message to one line of at most [`MAX_ERROR_LINE_CHARS`].
pub fn one_line(message: &str) -> String {
    let mut line: String = message
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if line.chars().count() > MAX_ERROR_LINE_CHARS {
        line = line.chars().take(MAX_ERROR_LINE_CHARS).collect();
        line.push('…');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Multi-line messages collapse into one line.
    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n  b\r\n\nc"), "a b c");
    }

    /// Very long messages are cut.
    #[test]
    fn one_line_caps_length() {
        let long = "x".repeat(10_000);
        assert_eq!(one_line(&long).chars().count(), MAX_ERROR_LINE_CHARS + 1);
    }
}
