//! `--tool-prefix`: serve a toolbox's tools under prefixed names, for a
//! client that already has tools with the same names (Claude Desktop's own
//! filesystem extension lists `read_text_file`, `write_file`, ...).
//!
//! A pure name mapping around any [`Toolbox`]: `tools/list` shows
//! `PREFIX` + name, a call to `PREFIX` + name runs the tool `name`, and an
//! unprefixed name is no tool at all (so the client's model cannot reach
//! the wrong server's tool by the bare name).
//!
//! # Must never
//! - change what a tool does, or which tools are offered.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use rmcp::model::{JsonObject, Tool};

use super::toolbox::{Call, CallContext, ServerIdentity, Toolbox};

/// A toolbox whose tool names carry a prefix.
pub struct Prefixed {
    inner: Arc<dyn Toolbox>,
    prefix: String,
}

impl Prefixed {
    /// Wrap `inner`; `prefix` is put before every tool name as given
    /// (`fs_` gives `fs_read_text_file`).
    pub fn new(inner: Arc<dyn Toolbox>, prefix: String) -> Self {
        Self { inner, prefix }
    }
}

impl Toolbox for Prefixed {
    fn identity(&self) -> ServerIdentity {
        self.inner.identity()
    }

    fn tools(&self) -> Vec<Tool> {
        self.inner
            .tools()
            .into_iter()
            .map(|mut tool| {
                tool.name = format!("{}{}", self.prefix, tool.name).into();
                tool
            })
            .collect()
    }

    fn call(
        self: Arc<Self>,
        name: &str,
        arguments: JsonObject,
        context: CallContext,
    ) -> Option<Call> {
        let bare = name.strip_prefix(&self.prefix)?;
        self.inner.clone().call(bare, arguments, context)
    }

    fn call_timeout(&self) -> Duration {
        self.inner.call_timeout()
    }

    fn metrics(&self) -> String {
        self.inner.metrics()
    }

    fn wants_client_roots(&self) -> bool {
        self.inner.wants_client_roots()
    }

    fn shutdown(self: Arc<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.inner.clone().shutdown()
    }
}
