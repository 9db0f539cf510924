//! What a tool call gets besides its arguments: [`CallContext`] (its
//! cancellation, deadline, progress reporter, client roots and confirmer)
//! and [`ProgressReporter`]. Its own module so that the parts of the
//! toolbox contract that take a context (tools, resources) need not import
//! the contract that lists them.

use std::{sync::Arc, time::Duration};

use rmcp::{
    RoleServer,
    model::{ProgressNotificationParam, ProgressToken},
    service::Peer,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::ToolError;

/// What a tool gets besides its arguments.
#[derive(Clone)]
pub struct CallContext {
    /// Cancelled when the client sends `notifications/cancelled`, the
    /// deadline passes or the server shuts down. Long work checks it.
    pub cancel: CancellationToken,
    /// When the runtime stops waiting for this call.
    pub deadline: Instant,
    /// How long the call may run in all (`deadline` less its start), for
    /// the timeout message.
    pub timeout: Duration,
    /// Reports progress to the client, when it asked for progress.
    pub progress: Option<ProgressReporter>,
    /// The roots the client declared through MCP Roots, as `file://` URIs,
    /// when the client supports roots; `None` when it does not.
    pub client_roots: Option<Vec<String>>,
    /// Asks the user to confirm a destructive step; `None` when the client
    /// cannot be asked (no elicitation capability).
    pub confirmer: Option<crate::runtime::confirm::Confirmer>,
}

impl CallContext {
    /// A context for calls made outside any client (tests, benches).
    pub fn detached(timeout: Duration) -> Self {
        Self {
            cancel: CancellationToken::new(),
            deadline: Instant::now() + timeout,
            timeout,
            progress: None,
            client_roots: None,
            confirmer: None,
        }
    }

    /// `Err(Cancelled)` once the call was cancelled, `Err(Timeout)` once its
    /// deadline passed: the one check long work makes between steps.
    pub fn check(&self) -> Result<(), ToolError> {
        if self.cancel.is_cancelled() {
            return Err(ToolError::Cancelled);
        }
        if self.past_deadline() {
            return Err(ToolError::Timeout(self.timeout));
        }
        Ok(())
    }

    /// True once the deadline has passed.
    pub fn past_deadline(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

/// Sends `notifications/progress` for one call. Progress values only grow,
/// as MCP 2025-11-25 basic/utilities/progress requires.
#[derive(Clone)]
pub struct ProgressReporter {
    peer: Peer<RoleServer>,
    token: ProgressToken,
    last: Arc<std::sync::Mutex<f64>>,
    /// Where notifications are sent from, so that a tool on a blocking
    /// thread can report without an async context of its own.
    runtime: tokio::runtime::Handle,
}

impl ProgressReporter {
    /// A reporter for the request that carried `token`. Must be made inside
    /// the runtime (the handler does).
    pub fn new(peer: Peer<RoleServer>, token: ProgressToken) -> Self {
        Self {
            peer,
            token,
            last: Arc::new(std::sync::Mutex::new(f64::NEG_INFINITY)),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Report `progress` (of `total`, when known), from async code or a
    /// blocking walk alike: the notification is sent in the background.
    /// Values that do not exceed the last one sent are dropped; send
    /// failures are ignored (progress is advisory).
    pub fn report(&self, progress: f64, total: Option<f64>, message: Option<String>) {
        {
            let Ok(mut last) = self.last.lock() else {
                return;
            };
            if progress <= *last {
                return;
            }
            *last = progress;
        }
        let mut param = ProgressNotificationParam::new(self.token.clone(), progress);
        param.total = total;
        param.message = message;
        let peer = self.peer.clone();
        self.runtime.spawn(async move {
            let _ = peer.notify_progress(param).await;
        });
    }
}
