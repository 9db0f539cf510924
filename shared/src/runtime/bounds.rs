//! Limits the runtime applies to every server, each with its reason.

use std::time::Duration;

/// How long the server waits for the client's `roots/list` answer. Clients
/// answer from memory; a client that takes longer is not going to answer.
pub const ROOTS_LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long SIGTERM waits for calls in flight before stopping them. Long
/// enough for any call within its own deadline to usually finish, short
/// enough for an orchestrator's default 30 s kill grace period.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// How long a stdio server waits for running calls after stdin closes.
/// MCP 2026-07-28 basic/transports/stdio: exit promptly on EOF.
pub const STDIO_EXIT_GRACE: Duration = Duration::from_millis(500);

/// Longest stdio line accepted: a larger message is dropped with a log line
/// and the stream recovers. Large enough for a `write_file` of several MiB.
pub const MAX_STDIO_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Default cap on an HTTP request body (413 past it), the same bound as a
/// stdio line.
pub const DEFAULT_MAX_BODY_BYTES: usize = MAX_STDIO_LINE_BYTES;
