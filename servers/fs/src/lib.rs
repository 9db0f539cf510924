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
//!   `disallowed-methods` enforces it; `root::open_ambient`, used by
//!   [`root::Roots::open`] and [`root::Roots::narrowed`], is the one
//!   ambient call site);
//! - open a FIFO, socket or device for reading (it would block forever);
//! - load a whole huge file to answer a request for part of it;
//! - overwrite a file silently on move, or leave a half-written file.
//!
//! # Layout
//! - [`root`]: roots and path resolution.
//! - [`tool`]: one module per MCP tool (its `Args`, `DESCRIPTION`, a
//!   `moat_shared::tool!` block with its name, title, annotations and
//!   output fields, and `run`), and the table that lists them, one line per
//!   tool.
//! - [`resources`]: roots and files as MCP resources, read and
//!   subscribed to under the same rules as the tools.
//! - [`watch`]: the file watches behind resource subscriptions.
//! - [`trust`]: how far client MCP roots are trusted, by transport.
//! - [`walk`]: the one directory walker (handles, caps, deadline, cursor),
//!   and the skeleton the walk tools share (resolve and walk, result
//!   budget, cursor and note).
//! - [`confirm`]: the confirmation a destructive tool asks for, and the
//!   `[fs.confirm]` rule when the client cannot be asked.
//! - [`error`]: [`FsError`] and its mapping to the one-line tool error.
//! - [`file_write`]: how new content reaches the disk for each write mode
//!   (overwrite, append, create), always through a temporary file.
//! - [`text_encoding`]: non-UTF-8 text (UTF-16 with a BOM, other
//!   encodings detected or given) for read_text_file.
//! - [`platform`]: what differs between Linux, macOS and Windows, one
//!   module per concern.

pub mod confirm;
pub mod error;
pub mod file_write;
pub mod platform;
pub mod resources;
pub mod root;
pub mod text_encoding;
pub mod tool;
pub mod trust;
pub mod walk;
pub mod watch;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use moat_shared::{
    CallContext, ServerIdentity, Toolbox,
    policy::{FsPolicy, Mode},
    runtime::{tool::Body, toolbox::Call},
};
use rmcp::model::{JsonObject, Tool};

pub use error::FsError;
pub use root::{Root, Roots, Target};
pub use trust::ClientTrust;

/// Client root URIs, and the roots they resolved to.
type ClientRoots = (Vec<String>, Arc<Roots>);

/// The filesystem toolbox.
///
/// Cheap to clone: each call runs on a clone whose `roots` are the roots
/// that call may use (the configured roots, narrowed by the client's MCP
/// roots when it sent some).
#[derive(Debug, Clone)]
pub struct FsServer {
    /// The roots this call may use.
    pub roots: Arc<Roots>,
    /// The roots the operator configured (the ceiling).
    pub configured: Arc<Roots>,
    /// Limits and deny globs.
    pub policy: Arc<FsPolicy>,
    /// What client roots may do when no root is configured (by default
    /// nothing: they only narrow configured roots).
    pub client_trust: ClientTrust,
    /// The last client roots seen and what they resolved to, so a session
    /// does not reopen its roots on every call. Shared by every session but
    /// keyed by the URIs themselves, so a session only ever gets what its
    /// own URIs resolve to (a session without roots never reads it).
    client_cache: Arc<Mutex<Option<ClientRoots>>>,
    /// The file watches of every resource subscription.
    watches: Arc<watch::Watches>,
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
        let roots = Arc::new(Roots::open(roots, deny)?);
        Ok(Self {
            roots: roots.clone(),
            configured: roots,
            policy: Arc::new(policy),
            client_trust: ClientTrust::Narrow,
            client_cache: Arc::default(),
            watches: Arc::default(),
        })
    }

    /// Let client roots open host directories when no root is configured
    /// (see [`trust::client_trust`] for when the binary does).
    #[must_use]
    pub fn with_client_trust(mut self, trust: ClientTrust) -> Self {
        self.client_trust = trust;
        self
    }

    /// True when a write could succeed somewhere: a writable configured
    /// root, or no configured root and writable client roots.
    fn may_write(&self) -> bool {
        self.configured.any_writable()
            || (self.configured.all().is_empty()
                && self.client_trust == ClientTrust::Trusted(Mode::Rw))
    }

    /// This server as one call sees it: its roots narrowed by the client's.
    #[must_use]
    pub fn for_call(&self, context: &CallContext) -> Self {
        let Some(uris) = &context.client_roots else {
            return self.clone();
        };
        let mut cache = self
            .client_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let roots = match &*cache {
            Some((seen, roots)) if seen == uris => roots.clone(),
            _ => {
                let roots = Arc::new(self.configured.narrowed(uris, self.client_trust));
                *cache = Some((uris.clone(), roots.clone()));
                roots
            }
        };
        Self {
            roots,
            ..self.clone()
        }
    }

    fn instructions(&self) -> String {
        let mut text = String::from(
            "Sandboxed file access. Paths may be absolute (inside one of the allowed directories) \
             or relative (to the first allowed directory). Results are cut at a byte budget and say \
             how to continue.\nAllowed directories:",
        );
        if self.configured.all().is_empty() {
            text.push_str(match self.client_trust {
                ClientTrust::Trusted(Mode::Rw) => {
                    " the client's MCP roots, read-write (call list_allowed_directories)."
                }
                ClientTrust::Trusted(Mode::Ro) => {
                    " the client's MCP roots, read-only (call list_allowed_directories)."
                }
                ClientTrust::Narrow => " none.",
            });
        }
        for root in self.configured.all() {
            let mode = match root.mode {
                Mode::Rw => "read-write",
                Mode::Ro => "read-only",
            };
            text.push_str(&format!("\n- {} ({mode})", root.given.display()));
        }
        text
    }

    fn offers(&self, entry: &tool::FsTool) -> bool {
        self.offers_with(entry, self.may_write())
    }

    fn offers_with(&self, entry: &tool::FsTool, may_write: bool) -> bool {
        (!entry.writes || may_write) && (!entry.deletes || self.policy.allow_delete)
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
        tool::TOOLS
            .iter()
            .filter(|entry| self.offers(entry))
            .map(|entry| (entry.entry.definition)())
            .collect()
    }

    /// With client roots, the write tools are listed only when one of the
    /// roots they narrow to is writable.
    fn tools_for(&self, client_roots: Option<&[String]>) -> Vec<Tool> {
        let may_write = match client_roots {
            None => self.may_write(),
            Some(uris) => {
                let mut context = CallContext::detached(Duration::ZERO);
                context.client_roots = Some(uris.to_vec());
                self.for_call(&context).roots.any_writable()
            }
        };
        tool::TOOLS
            .iter()
            .filter(|entry| self.offers_with(entry, may_write))
            .map(|entry| (entry.entry.definition)())
            .collect()
    }

    fn resources(self: Arc<Self>) -> Option<Arc<dyn moat_shared::runtime::resources::Resources>> {
        Some(self)
    }

    fn call(
        self: Arc<Self>,
        name: &str,
        arguments: JsonObject,
        context: CallContext,
    ) -> Option<Call> {
        let entry = tool::TOOLS
            .iter()
            .find(|entry| entry.entry.name == name && self.offers(entry))?;
        Some(match entry.entry.body {
            // Narrowing to the client's roots may open directories: it runs
            // on the blocking pool with the tool.
            Body::Blocking(run) => Call::Blocking(Box::new(move || {
                run(&self.for_call(&context), arguments, &context)
            })),
            Body::Async(_) => {
                let scoped = Arc::new(self.for_call(&context));
                entry.entry.call(scoped, arguments, context)
            }
        })
    }

    fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.policy.call_timeout_ms)
    }

    fn wants_client_roots(&self) -> bool {
        true
    }
}
