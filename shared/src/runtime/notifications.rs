//! The list-changed side of the protocol: which `listChanged` and
//! `subscribe` capabilities a server declares, and the notifications sent
//! when a client's roots change what it may see
//! (`notifications/tools/list_changed`,
//! `notifications/resources/list_changed`).
//!
//! # Must never
//! - announce a change that did not happen: tools/list_changed is sent
//!   only when the tool names differ before and after.

use std::sync::Arc;

use rmcp::{
    RoleServer,
    model::{ServerCapabilities, SubscriptionFilter},
    service::Peer,
};

use crate::runtime::toolbox::Toolbox;

/// Declare `tools.listChanged` when the tool set follows the client's
/// roots, and `resources.subscribe` / `resources.listChanged` when the
/// server offers resources.
pub fn declare(capabilities: &mut ServerCapabilities, tools_follow_roots: bool, resources: bool) {
    if tools_follow_roots && let Some(tools) = capabilities.tools.as_mut() {
        tools.list_changed = Some(true);
    }
    if resources && let Some(declared) = capabilities.resources.as_mut() {
        declared.subscribe = Some(true);
        declared.list_changed = Some(true);
    }
}

/// The part of a 2026-07-28 `subscriptions/listen` filter this runtime
/// accepts: the list-changed kinds (rmcp intersects them with the declared
/// capabilities). Per-resource subscriptions are not served on listen
/// streams (the 2025-11-25 `resources/subscribe` is), so they are left out
/// of the acknowledged filter rather than promised and never sent.
pub fn accepted(requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
    let mut accepted = requested.clone();
    accepted.resource_subscriptions = None;
    Some(accepted)
}

/// The client's roots went from `before` to `after`: tell it when its
/// tool list changed, and (for a server with resources) that the resource
/// list did. Send failures are logged at debug (the client may be gone).
pub async fn roots_changed(
    toolbox: Arc<dyn Toolbox>,
    peer: Peer<RoleServer>,
    before: Option<Vec<String>>,
    after: Vec<String>,
) {
    if before.as_ref() == Some(&after) {
        return;
    }
    let names = |roots: Option<&[String]>| -> Vec<String> {
        toolbox
            .tools_for(roots)
            .into_iter()
            .map(|tool| tool.name.to_string())
            .collect()
    };
    let tools_changed = names(before.as_deref()) != names(Some(&after));
    if tools_changed && let Err(error) = peer.notify_tool_list_changed().await {
        tracing::debug!(%error, "tools/list_changed not sent");
    }
    if toolbox.resources().is_some()
        && let Err(error) = peer.notify_resource_list_changed().await
    {
        tracing::debug!(%error, "resources/list_changed not sent");
    }
}
