//! The contract between the runtime and a server: [`Toolbox`].
//!
//! A toolbox lists its tools and runs one by name. It never speaks JSON-RPC:
//! the runtime owns the protocol, the error mapping and the deadlines, so
//! every moat server behaves the same way at its edge.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use rmcp::model::{ContentBlock, JsonObject, Tool};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use super::call_context::{CallContext, ProgressReporter};
use crate::error::ToolError;

/// Who a server is: sent in `initialize` and `server/discover` results and
/// in `/health`.
#[derive(Debug, Clone)]
pub struct ServerIdentity {
    /// Machine name, e.g. `moat-fs`.
    pub name: &'static str,
    /// Human title, e.g. `moat filesystem`.
    pub title: &'static str,
    /// Crate version.
    pub version: &'static str,
    /// Instructions for the model: what this server is for and how to use it.
    pub instructions: String,
}

/// The future a tool call returns.
pub type ToolFuture = Pin<Box<dyn Future<Output = Result<ToolOutput, ToolError>> + Send>>;

/// A call ready to run, as the toolbox hands it to the runtime, which runs
/// every call in one place (panic isolation, deadline, cancellation).
pub enum Call {
    /// A blocking body (synchronous filesystem work): run on the blocking
    /// pool.
    Blocking(Box<dyn FnOnce() -> Result<ToolOutput, ToolError> + Send>),
    /// An async body: spawned on the runtime.
    Async(ToolFuture),
}

/// A tool's successful result: content for every client, and structured
/// content for clients that read `outputSchema`.
#[derive(Debug, Clone, Default)]
pub struct ToolOutput {
    /// Content blocks (text, image, audio...).
    pub content: Vec<ContentBlock>,
    /// `structuredContent`, matching the tool's `outputSchema`.
    pub structured: Option<Value>,
}

impl ToolOutput {
    /// A plain text result.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            content: vec![ContentBlock::text(text.into())],
            structured: None,
        }
    }

    /// A text result with the same facts as structured content. Per MCP
    /// 2025-06-18 (server/tools, "Structured Content") the structured value
    /// SHOULD also be given as text, for clients that ignore it.
    pub fn with_structured(text: impl Into<String>, structured: Value) -> Self {
        Self {
            content: vec![ContentBlock::text(text.into())],
            structured: Some(structured),
        }
    }
}

/// A set of tools the runtime can serve.
pub trait Toolbox: Send + Sync + 'static {
    /// Who this server is.
    fn identity(&self) -> ServerIdentity;

    /// The tools to list, in the order a client should show them.
    fn tools(&self) -> Vec<Tool>;

    /// The call of tool `name`, ready for the runtime to run (on the
    /// blocking pool or spawned, with panic isolation and the deadline).
    /// `None` means no such tool (a protocol error). Long work calls
    /// [`CallContext::check`] between steps; the runtime also stops
    /// waiting at the deadline.
    fn call(
        self: Arc<Self>,
        name: &str,
        arguments: JsonObject,
        context: CallContext,
    ) -> Option<Call>;

    /// The longest any call may run before the runtime stops it.
    fn call_timeout(&self) -> Duration;

    /// Server-specific lines for `GET /metrics` (Prometheus text format),
    /// e.g. browser pages open. Empty by default.
    fn metrics(&self) -> String {
        String::new()
    }

    /// Whether this toolbox uses the client's MCP roots; when true the
    /// runtime asks `roots/list` after initialisation and on every
    /// `notifications/roots/list_changed`.
    fn wants_client_roots(&self) -> bool {
        false
    }

    /// The tools to list for a session whose client declared `client_roots`
    /// (the set may shrink when those roots are all read-only). The
    /// runtime sends `notifications/tools/list_changed` when it changes.
    fn tools_for(&self, client_roots: Option<&[String]>) -> Vec<Tool> {
        let _ = client_roots;
        self.tools()
    }

    /// The MCP resources this server offers, if any; the runtime then
    /// declares the resources capability with subscriptions.
    fn resources(self: Arc<Self>) -> Option<Arc<dyn crate::runtime::resources::Resources>> {
        None
    }

    /// Release what outlives calls (a browser, its profile folder) before
    /// the process exits. The runtime calls it once, after the last call
    /// drained (serve) or finished (`call`, `tools`). Nothing by default.
    fn shutdown(self: Arc<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async {})
    }
}

/// Parse a tool's arguments into its typed struct, with a one-line error
/// naming what was wrong.
pub fn parse_arguments<T: DeserializeOwned>(arguments: JsonObject) -> Result<T, ToolError> {
    serde_json::from_value(Value::Object(arguments)).map_err(|error| {
        // serde_json appends "at line 1 column N", meaningless for a value.
        let message = error.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_string();
        ToolError::InvalidArguments(message)
    })
}
