//! moat-fs: a sandboxed MCP filesystem server, a drop-in for the reference
//! filesystem server (same tool names and arguments).
//!
//! Every access goes through a `cap_std::fs::Dir` opened once per root at
//! start-up ([`root`]); no path string check is what keeps a client inside,
//! so `..`, absolute paths, symlinks out and symlinks swapped in mid-call are
//! refused by construction. Writes are atomic (temp file in the same
//! directory, then rename); read-only roots refuse every write.
//!
//! # Must never
//! - touch the filesystem except through a root's `Dir` (clippy's
//!   `disallowed-methods` enforces it; [`root::Roots::open`] is the one
//!   ambient call site);
//! - open a FIFO, socket or device for reading (it would block forever);
//! - load a whole huge file to answer a request for part of it;
//! - overwrite a file silently on move, or leave a half-written file.
//!
//! # Layout
//! - [`root`]: roots and path resolution.
//! - [`tool`]: one module per MCP tool, and the table that lists them.
//! - [`error`]: [`FsError`] and its mapping to the one-line tool error.

pub mod error;
pub mod root;
pub mod tool;

use std::{sync::Arc, time::Duration};

use moat_shared::{
    CallContext, ServerIdentity, ToolError, ToolFuture, Toolbox,
    policy::{FsPolicy, Mode},
};
use rmcp::model::{JsonObject, Tool};

pub use error::FsError;
pub use root::{Root, Roots, Target};

/// The filesystem toolbox.
#[derive(Debug)]
pub struct FsServer {
    /// The served roots.
    pub roots: Roots,
    /// Limits and deny globs.
    pub policy: FsPolicy,
}

impl FsServer {
    /// Open every root and build the server.
    ///
    /// # Errors
    /// A root that cannot be opened, or a bad deny glob.
    pub fn new(roots: &[(String, Mode)], policy: FsPolicy) -> Result<Self, FsError> {
        let deny = policy
            .deny_set()
            .map_err(|error| FsError::Invalid(format!("bad deny glob: {error}")))?;
        Ok(Self {
            roots: Roots::open(roots, deny)?,
            policy,
        })
    }

    fn instructions(&self) -> String {
        let mut text = String::from(
            "Sandboxed file access. Paths may be absolute (inside one of the allowed directories) \
             or relative (to the first allowed directory). Results are cut at a byte budget and say \
             how to continue.\nAllowed directories:",
        );
        for root in self.roots.all() {
            let mode = match root.mode {
                Mode::Rw => "read-write",
                Mode::Ro => "read-only",
            };
            text.push_str(&format!("\n- {} ({mode})", root.given.display()));
        }
        text
    }
}

impl Toolbox for FsServer {
    fn identity(&self) -> ServerIdentity {
        ServerIdentity {
            name: "moat-fs",
            title: "moat filesystem",
            version: env!("CARGO_PKG_VERSION"),
            instructions: self.instructions(),
        }
    }

    fn tools(&self) -> Vec<Tool> {
        let writable = self.roots.any_writable();
        tool::TOOLS
            .iter()
            .filter(|entry| writable || !entry.writes)
            .map(|entry| (entry.definition)())
            .collect()
    }

    fn call(
        self: Arc<Self>,
        name: &str,
        arguments: JsonObject,
        context: CallContext,
    ) -> Option<ToolFuture> {
        let writable = self.roots.any_writable();
        let entry = tool::TOOLS
            .iter()
            .find(|entry| entry.name == name && (writable || !entry.writes))?;
        let run = entry.run;
        Some(Box::pin(async move {
            // cap-std is synchronous: run on the blocking pool so a slow disk
            // never stalls the protocol.
            match tokio::task::spawn_blocking(move || run(&self, arguments, &context)).await {
                Ok(result) => result,
                // Re-raise so the runtime's panic isolation reports it.
                Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
                Err(_) => Err(ToolError::Cancelled),
            }
        }))
    }

    fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.policy.call_timeout_ms)
    }
}
