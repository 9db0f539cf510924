//! The contract between the runtime and a server that offers MCP resources
//! ([`Resources`]), and what a subscription sends back ([`UpdateSink`]).
//!
//! The runtime owns the protocol: it answers `resources/list`,
//! `resources/templates/list`, `resources/read`, `resources/subscribe` and
//! `resources/unsubscribe` by calling the server's [`Resources`] on the
//! blocking pool, keeps each session's subscriptions (at most
//! [`MAX_SUBSCRIPTIONS_PER_SESSION`]) and drops them, releasing their
//! watches, when the session ends.
//!
//! # Must never
//! - send `notifications/resources/updated` for a URI the session did not
//!   subscribe to: an [`UpdateSink`] only ever sends its own URI.

use rmcp::{
    RoleServer,
    model::{Resource, ResourceContents, ResourceTemplate, ResourceUpdatedNotificationParam},
    service::Peer,
};

use crate::{error::ToolError, runtime::call_context::CallContext};

/// Most subscriptions one session may hold: each costs a file watch (a
/// kernel resource with a per-user limit, 8192 inotify watches by default
/// on older Linux) and a task; a client that needs more should subscribe
/// to a directory instead of each file in it.
pub const MAX_SUBSCRIPTIONS_PER_SESSION: usize = 64;

/// Why a resource request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// No such resource (or one this session may not see).
    #[error("{0}")]
    NotFound(String),
    /// The resource exists but the request cannot be served (too large,
    /// denied, an I/O failure): the one-line reason.
    #[error("{}", .0.to_line())]
    Refused(ToolError),
}

impl From<ToolError> for ResourceError {
    fn from(error: ToolError) -> Self {
        Self::Refused(error)
    }
}

/// One page of `resources/list`.
#[derive(Debug, Clone, Default)]
pub struct ResourcePage {
    /// The resources on this page.
    pub resources: Vec<Resource>,
    /// Where the next page starts, when there is one.
    pub next_cursor: Option<String>,
}

/// Held for as long as a subscription lasts; dropping it releases the
/// watch behind it.
pub struct Subscription(
    #[expect(dead_code, reason = "held only to be dropped")] Box<dyn Send + Sync>,
);

impl Subscription {
    /// A subscription that lasts as long as `guard`.
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        Self(Box::new(guard))
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Subscription")
    }
}

/// Sends `notifications/resources/updated` for one subscribed URI.
#[derive(Clone)]
pub struct UpdateSink {
    peer: Peer<RoleServer>,
    uri: String,
    /// Where notifications are sent from, so a watcher thread can send.
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for UpdateSink {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("UpdateSink")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl UpdateSink {
    /// A sink for `uri` on `peer`. Must be made inside the runtime.
    pub fn new(peer: Peer<RoleServer>, uri: String) -> Self {
        Self {
            peer,
            uri,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// The subscribed URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The runtime the sink sends from (for a server's debounce tasks).
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// Tell the client its resource changed (in the background; a closed
    /// session drops the notification).
    pub fn send(&self) {
        let peer = self.peer.clone();
        let param = ResourceUpdatedNotificationParam::new(self.uri.clone());
        self.runtime.spawn(async move {
            if let Err(error) = peer.notify_resource_updated(param).await {
                tracing::debug!(%error, "resources/updated not sent");
            }
        });
    }
}

/// What a server offers as MCP resources. Every method runs on the blocking
/// pool; `context` carries the session's client roots and a deadline.
pub trait Resources: Send + Sync + 'static {
    /// One page of `resources/list`, from `cursor` (`None`: the first).
    ///
    /// # Errors
    /// A cursor this server did not hand out.
    fn list(
        &self,
        context: &CallContext,
        cursor: Option<&str>,
    ) -> Result<ResourcePage, ResourceError>;

    /// The resource templates (`resources/templates/list`).
    fn templates(&self, context: &CallContext) -> Vec<ResourceTemplate>;

    /// The contents of `uri`.
    ///
    /// # Errors
    /// Not found, or refused with the reason.
    fn read(
        &self,
        context: &CallContext,
        uri: &str,
    ) -> Result<Vec<ResourceContents>, ResourceError>;

    /// Start watching `sink.uri()`; changes are sent through `sink` until
    /// the returned subscription is dropped.
    ///
    /// # Errors
    /// Not found, or the watch cannot be made.
    fn subscribe(
        &self,
        context: &CallContext,
        sink: UpdateSink,
    ) -> Result<Subscription, ResourceError>;
}

/// Run one resource request on the blocking pool and map its failure to
/// the protocol error: not found is -32002 with the URI in `data`
/// (rmcp sends -32602 to 2026-07-28 peers), anything else -32602 with
/// the reason.
pub(crate) async fn on_blocking_pool<T: Send + 'static>(
    uri: Option<String>,
    run: impl FnOnce() -> Result<T, ResourceError> + Send + 'static,
) -> Result<T, rmcp::ErrorData> {
    let outcome = crate::runtime::blocking::spawn(run)
        .await
        .map_err(|_| rmcp::ErrorData::internal_error("resource request failed", None))?;
    outcome.map_err(|error| {
        let data = uri.map(|uri| serde_json::json!({ "uri": uri }));
        match error {
            ResourceError::NotFound(message) => rmcp::ErrorData::resource_not_found(message, data),
            ResourceError::Refused(error) => rmcp::ErrorData::invalid_params(error.to_line(), data),
        }
    })
}
