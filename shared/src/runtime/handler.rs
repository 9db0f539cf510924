//! The rmcp `ServerHandler` every moat server uses: it lists a
//! [`Toolbox`]'s tools, routes calls to it and applies the one error mapping.
//!
//! The rule (MCP 2025-11-25 server/tools, "Error Handling"): a tool that ran
//! and failed returns a result with `isError: true` and one short English
//! line; an unknown tool or a malformed request is a JSON-RPC error. A panic
//! inside a tool is caught here and becomes an `isError` result, so one bad
//! call never takes the server down.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Instant as StdInstant,
};

use futures::future::Either;

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
        ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
        ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, ServerCapabilities,
        ServerConfig, SubscribeRequestParams, Tool, UnsubscribeRequestParams,
    },
    service::{NotificationContext, Peer, RequestContext},
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    error::ToolError,
    runtime::{
        accounting::{Audit, CallRecord, Metrics},
        blocking,
        resources::{MAX_SUBSCRIPTIONS_PER_SESSION, Subscription, UpdateSink, on_blocking_pool},
        toolbox::{Call, CallContext, ProgressReporter, Toolbox},
    },
};

/// State shared by every session of one server process.
#[derive(Debug)]
pub struct RuntimeState {
    /// When the process started serving (for `/health`).
    pub started: StdInstant,
    inflight: AtomicUsize,
    idle: Notify,
    shutting_down: AtomicBool,
    /// Cancelled when the server shuts down for good: running calls stop.
    pub shutdown: CancellationToken,
    /// Where each call is recorded, when auditing is on.
    pub audit: Option<Audit>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Tool calls one session may run at once.
    pub max_inflight_per_session: usize,
}

impl Default for RuntimeState {
    fn default() -> Self {
        Self {
            started: StdInstant::now(),
            inflight: AtomicUsize::new(0),
            idle: Notify::new(),
            shutting_down: AtomicBool::new(false),
            shutdown: CancellationToken::new(),
            audit: None,
            metrics: Metrics::default(),
            max_inflight_per_session: crate::policy::http::DEFAULT_MAX_INFLIGHT_PER_SESSION,
        }
    }
}

impl RuntimeState {
    /// A state that writes an audit line for every call.
    pub fn with_audit(audit: Audit) -> Self {
        Self {
            audit: Some(audit),
            ..Self::default()
        }
    }

    /// Calls running now.
    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::SeqCst)
    }

    /// Refuse new calls from now on; running calls carry on.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// True once [`Self::begin_shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Wait until no call is running.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.inflight() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Counts a call as in flight, in the process and in its session, for as
/// long as it lives.
struct InflightGuard(Arc<SessionState>);

impl InflightGuard {
    /// `None` when the session already runs as many calls as it may.
    fn new(session: &Arc<SessionState>) -> Option<Self> {
        let limit = session.state.max_inflight_per_session;
        if session.inflight.fetch_add(1, Ordering::SeqCst) >= limit {
            session.inflight.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        session.state.inflight.fetch_add(1, Ordering::SeqCst);
        Some(Self(session.clone()))
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::SeqCst);
        if self.0.state.inflight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.state.idle.notify_waiters();
        }
    }
}

/// A spawned async call, aborted when the request that started it goes
/// away; it ends as a blocking body does ([`blocking::Failed`]).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, blocking::Failed>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(context).map(|joined| {
            joined.map_err(|join| {
                if join.is_panic() {
                    blocking::Failed::Panicked
                } else {
                    blocking::Failed::Dropped
                }
            })
        })
    }
}

/// Per-session state: what this client told us about itself. Counted in
/// the `moat_sessions` gauge for as long as it lives.
#[derive(Debug)]
struct SessionState {
    /// `file://` URIs from the client's last `roots/list` answer.
    client_roots: RwLock<Option<Vec<String>>>,
    /// Calls this session runs now.
    inflight: AtomicUsize,
    /// Resource subscriptions by URI; dropped (their watches released)
    /// with the session.
    subscriptions: Mutex<HashMap<String, Subscription>>,
    state: Arc<RuntimeState>,
}

impl SessionState {
    fn new(state: Arc<RuntimeState>) -> Self {
        state.metrics.sessions.fetch_add(1, Ordering::Relaxed);
        Self {
            client_roots: RwLock::default(),
            inflight: AtomicUsize::new(0),
            subscriptions: Mutex::default(),
            state,
        }
    }
}

impl Drop for SessionState {
    fn drop(&mut self) {
        self.state.metrics.sessions.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The rmcp handler for one session, over one [`Toolbox`].
#[derive(Clone)]
pub struct Handler {
    toolbox: Arc<dyn Toolbox>,
    state: Arc<RuntimeState>,
    session: Arc<SessionState>,
}

impl Handler {
    /// A handler for a new session.
    pub fn new(toolbox: Arc<dyn Toolbox>, state: Arc<RuntimeState>) -> Self {
        Self {
            toolbox,
            session: Arc::new(SessionState::new(state.clone())),
            state,
        }
    }

    /// Ask the client for its roots and remember them for this session.
    ///
    /// Roots are deprecated from MCP 2026-07-28 (SEP-2577) but are how every
    /// handshake-era client (Claude Desktop among them) scopes a server.
    #[expect(deprecated, reason = "MCP Roots still serve handshake-era clients")]
    async fn refresh_client_roots(&self, peer: Peer<RoleServer>) {
        let supports_roots = peer
            .peer_info()
            .is_some_and(|info| info.capabilities.roots.is_some());
        if !self.toolbox.wants_client_roots() || !supports_roots {
            return;
        }
        // MCP 2025-11-25 basic/lifecycle: requests the server sends SHOULD
        // time out. A client that never answers leaves the roots unchanged.
        let answer = tokio::time::timeout(
            crate::runtime::bounds::ROOTS_LIST_TIMEOUT,
            peer.list_roots(),
        )
        .await;
        match answer {
            Ok(Ok(result)) => {
                let uris: Vec<String> = result.roots.into_iter().map(|root| root.uri).collect();
                tracing::info!(count = uris.len(), "client roots received");
                let before = self.client_roots();
                if let Ok(mut roots) = self.session.client_roots.write() {
                    *roots = Some(uris.clone());
                }
                crate::runtime::notifications::roots_changed(
                    self.toolbox.clone(),
                    peer,
                    before,
                    uris,
                )
                .await;
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "roots/list failed; keeping the previous roots");
            }
            Err(_) => tracing::warn!("roots/list timed out; keeping the previous roots"),
        }
    }

    /// The client's roots as last received.
    fn client_roots(&self) -> Option<Vec<String>> {
        self.session
            .client_roots
            .read()
            .ok()
            .and_then(|roots| roots.clone())
    }

    /// The context a resource request runs with: the session's roots and
    /// the call deadline.
    fn resource_context(&self) -> CallContext {
        let mut context = CallContext::detached(self.toolbox.call_timeout());
        context.client_roots = self.client_roots();
        context
    }

    async fn run_call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let name = request.name.to_string();
        let arguments = request.arguments.unwrap_or_default();
        let started = StdInstant::now();
        let audited = self
            .state
            .audit
            .is_some()
            .then(|| serde_json::Value::Object(arguments.clone()));
        let result = self.dispatch(&name, arguments, &context).await?;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(ToolError::Timeout(_)) => "timeout",
            Err(ToolError::Cancelled) => "cancelled",
            Err(ToolError::Panicked(_)) => "panic",
            Err(ToolError::ShuttingDown) => "refused",
            Err(_) => "error",
        };
        let result = match result {
            Ok(output) => {
                let mut result = CallToolResult::success(output.content);
                result.structured_content = output.structured;
                result
            }
            Err(error) => {
                // Debug only: the message echoes arguments (paths, URLs), which
                // stay out of logs unless the operator asks (the audit log has
                // the outcome).
                tracing::debug!(tool = %name, error = %error.to_line(), "tool call failed");
                error_result(&error)
            }
        };
        let duration = started.elapsed();
        self.state.metrics.observe(&name, outcome, duration);
        if let (Some(audit), Some(arguments)) = (&self.state.audit, audited) {
            let (client, session, transport) = describe_caller(&context);
            audit.record(CallRecord {
                client,
                session,
                transport,
                tool: &name,
                arguments,
                duration,
                outcome,
                bytes: result_bytes(&result),
            });
        }
        Ok(result)
    }

    /// Route one call to the toolbox. `Err` is a protocol error (unknown
    /// tool); `Ok(Err)` a tool failure.
    async fn dispatch(
        &self,
        name: &str,
        arguments: rmcp::model::JsonObject,
        context: &RequestContext<RoleServer>,
    ) -> Result<Result<crate::runtime::toolbox::ToolOutput, ToolError>, McpError> {
        let name = name.to_string();
        if self.state.is_shutting_down() {
            return Ok(Err(ToolError::ShuttingDown));
        }
        let timeout = self.toolbox.call_timeout();
        let cancel = self.state.shutdown.child_token();
        let progress = context
            .meta
            .get_progress_token()
            .map(|token| ProgressReporter::new(context.peer.clone(), token));
        let client_roots = self
            .session
            .client_roots
            .read()
            .ok()
            .and_then(|roots| roots.clone());
        let call_context = CallContext {
            cancel: cancel.clone(),
            deadline: tokio::time::Instant::now() + timeout,
            timeout,
            progress,
            client_roots,
            confirmer: crate::runtime::confirm::Confirmer::for_peer(&context.peer),
        };
        let Some(call) = self.toolbox.clone().call(&name, arguments, call_context) else {
            // MCP 2025-11-25 server/tools, "Error Handling": unknown tools are
            // protocol errors (-32602 in the spec's example).
            return Err(McpError::invalid_params(
                format!("unknown tool: {name}"),
                None,
            ));
        };
        let Some(_inflight) = InflightGuard::new(&self.session) else {
            return Ok(Err(ToolError::Denied(format!(
                "this session already runs {} calls, the most it may; wait for one to finish",
                self.state.max_inflight_per_session
            ))));
        };
        // The one place a call runs. Spawned (a blocking body on the
        // blocking pool, so a slow disk never stalls the protocol) so that a
        // panic stays inside the task instead of unwinding through the
        // transport. Dropping `task` (timeout, cancel) stops a body that has
        // not begun, and aborts an async one at its next await.
        let task = match call {
            Call::Blocking(run) => Either::Left(blocking::spawn(run)),
            Call::Async(future) => Either::Right(AbortOnDrop(tokio::spawn(future))),
        };
        let outcome = tokio::select! {
            joined = task => match joined {
                Ok(result) => result,
                Err(blocking::Failed::Panicked) => {
                    tracing::error!(tool = %name, "tool panicked; the server keeps serving");
                    Err(ToolError::Panicked(name.clone()))
                }
                Err(blocking::Failed::Dropped) => Err(ToolError::Cancelled),
            },
            () = tokio::time::sleep(timeout) => Err(ToolError::Timeout(timeout)),
            () = context.ct.cancelled() => Err(ToolError::Cancelled),
        };
        // Whatever ended the wait, tell the tool to stop.
        cancel.cancel();
        Ok(outcome)
    }
}

/// Who made a call, for the audit log: the client's name (and address over
/// HTTP), the session, and the transport.
fn describe_caller(context: &RequestContext<RoleServer>) -> (String, String, &'static str) {
    let name = context.peer.peer_info().map_or_else(
        || "unknown".to_string(),
        |info| info.client_info.name.clone(),
    );
    match context.extensions.get::<http::request::Parts>() {
        Some(parts) => {
            let address = parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.to_string());
            let session = parts
                .headers
                .get("mcp-session-id")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("stateless")
                .to_string();
            let client = address.map_or(name.clone(), |address| format!("{name}@{address}"));
            (client, session, "http")
        }
        None => (name, "stdio".to_string(), "stdio"),
    }
}

/// Bytes of content a result carries: text and base64 data by their own
/// length, structured content by [`serialized_len`].
fn result_bytes(result: &CallToolResult) -> usize {
    let content: usize = result
        .content
        .iter()
        .map(|block| match block {
            ContentBlock::Text(text) => text.text.len(),
            ContentBlock::Image(image) => image.data.len(),
            ContentBlock::Audio(audio) => audio.data.len(),
            other => serde_json::to_string(other).map_or(0, |json| json.len()),
        })
        .sum();
    let structured = result.structured_content.as_ref().map_or(0, serialized_len);
    content + structured
}

/// The length of `value` as compact JSON with every string counted by its
/// own bytes, as a text block is: the audit records how much a tool
/// returned, and JSON's escapes are the wire's, not the tool's. Counting
/// them meant scanning every byte of every string, about 7% of a 1 MiB
/// read's server time, on the call's own path.
fn serialized_len(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    match value {
        Value::Null | Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        // serde_json prints a number as its `Display` form.
        Value::Number(number) => number.to_string().len(),
        Value::String(text) => string_len(text),
        Value::Array(items) => {
            2 + items.len().saturating_sub(1) + items.iter().map(serialized_len).sum::<usize>()
        }
        Value::Object(map) => {
            2 + map.len().saturating_sub(1)
                + map
                    .iter()
                    .map(|(key, value)| string_len(key) + 1 + serialized_len(value))
                    .sum::<usize>()
        }
    }
}

/// The length of `text` as a JSON string, quotes included, its escapes
/// not counted (see [`serialized_len`]).
fn string_len(text: &str) -> usize {
    text.len() + 2
}

/// The error for a URI this server does not offer, with the URI in `data`
/// (SEP-2164; rmcp sends -32602 to 2026-07-28 peers, -32002 to older
/// ones).
fn not_found(uri: &str) -> McpError {
    McpError::resource_not_found(
        "Resource not found",
        Some(serde_json::json!({ "uri": uri })),
    )
}

/// The `isError` result for a failed call: one short line of text.
pub fn error_result(error: &ToolError) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(error.to_line())])
}

impl ServerHandler for Handler {
    #[expect(
        deprecated,
        reason = "logging is deprecated (SEP-2577) but 2025-11-25 clients use it"
    )]
    fn get_info(&self) -> ServerConfig {
        let identity = self.toolbox.identity();
        // prompts, resources and logging are declared although moat has none
        // to offer: clients and the conformance suite probe the list and
        // setLevel methods, and an undeclared capability answers -32601.
        let mut capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_prompts()
            .enable_resources()
            .enable_logging()
            .build();
        crate::runtime::notifications::declare(
            &mut capabilities,
            self.toolbox.wants_client_roots(),
            self.toolbox.clone().resources().is_some(),
        );
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new(identity.name, identity.version).with_title(identity.title),
            )
            .with_instructions(identity.instructions)
    }

    /// 2026-07-28 `subscriptions/listen`: the list-changed kinds this
    /// server declared (the stream stays open until the client cancels).
    fn accepted_subscription_filter(
        &self,
        requested: &rmcp::model::SubscriptionFilter,
    ) -> Option<rmcp::model::SubscriptionFilter> {
        crate::runtime::notifications::accepted(requested)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let roots = self.client_roots();
        Ok(ListToolsResult::with_all_items(
            self.toolbox.tools_for(roots.as_deref()),
        ))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.toolbox
            .tools_for(self.client_roots().as_deref())
            .into_iter()
            .find(|tool| tool.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        self.run_call(request, context).await.map(Into::into)
    }

    /// moat sends no log notifications, so any level is accepted as is
    /// (25-11/server/utilities/logging: answer `{}`).
    #[expect(
        deprecated,
        reason = "logging/setLevel is the 2025-11-25 method (SEP-2577)"
    )]
    async fn set_level(
        &self,
        _request: rmcp::model::SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        Ok(())
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let Some(resources) = self.toolbox.clone().resources() else {
            return Ok(ListResourcesResult::default());
        };
        let context = self.resource_context();
        let cursor = request.and_then(|request| request.cursor);
        let page =
            on_blocking_pool(None, move || resources.list(&context, cursor.as_deref())).await?;
        let mut result = ListResourcesResult::with_all_items(page.resources);
        result.next_cursor = page.next_cursor;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let Some(resources) = self.toolbox.clone().resources() else {
            return Ok(ListResourceTemplatesResult::default());
        };
        let context = self.resource_context();
        let templates = on_blocking_pool(None, move || Ok(resources.templates(&context))).await?;
        Ok(ListResourceTemplatesResult::with_all_items(templates))
    }

    /// A URI the server does not offer is not found, with the URI in
    /// `data` (SEP-2164; rmcp sends -32602 to 2026-07-28 peers, -32002 to
    /// older ones).
    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let uri = request.uri;
        let Some(resources) = self.toolbox.clone().resources() else {
            return Err(not_found(&uri));
        };
        let context = self.resource_context();
        let asked = uri.clone();
        let contents =
            on_blocking_pool(Some(uri), move || resources.read(&context, &asked)).await?;
        Ok(ReadResourceResult::new(contents).into())
    }

    /// `resources/subscribe`, the 2025-11-25 method (how the Python SDK
    /// and other handshake-era clients watch a resource).
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let uri = request.uri;
        let Some(resources) = self.toolbox.clone().resources() else {
            return Err(not_found(&uri));
        };
        let held = self
            .session
            .subscriptions
            .lock()
            .map_or(0, |subscriptions| subscriptions.len());
        if held >= MAX_SUBSCRIPTIONS_PER_SESSION {
            return Err(McpError::invalid_params(
                format!(
                    "this session already holds {MAX_SUBSCRIPTIONS_PER_SESSION} subscriptions, the most it may; unsubscribe first or subscribe to a directory"
                ),
                Some(serde_json::json!({ "uri": uri })),
            ));
        }
        let call_context = self.resource_context();
        let sink = UpdateSink::new(context.peer.clone(), uri.clone());
        let subscription = on_blocking_pool(Some(uri.clone()), move || {
            resources.subscribe(&call_context, sink)
        })
        .await?;
        if let Ok(mut subscriptions) = self.session.subscriptions.lock() {
            subscriptions.insert(uri, subscription);
        }
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if let Ok(mut subscriptions) = self.session.subscriptions.lock() {
            subscriptions.remove(&request.uri);
        }
        Ok(())
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let handler = self.clone();
        let peer = context.peer.clone();
        // Not awaited here: roots/list is a request to the client, and the
        // client may not answer until this notification handler returns.
        tokio::spawn(async move { handler.refresh_client_roots(peer).await });
    }

    async fn on_roots_list_changed(&self, context: NotificationContext<RoleServer>) {
        let handler = self.clone();
        let peer = context.peer.clone();
        tokio::spawn(async move { handler.refresh_client_roots(peer).await });
    }
}

#[cfg(test)]
mod tests {
    use super::serialized_len;

    /// The audit's byte count of structured content is the length of its
    /// compact JSON when nothing in it needs escaping, without building
    /// that JSON, and counts an escaped string by its own bytes.
    #[test]
    fn serialized_len_is_the_compact_json_length_without_escapes() {
        let values = [
            serde_json::json!(null),
            serde_json::json!(" !#$%&'()*+,-./0123456789:;<=>?@AZ[]^_`az{|}~\u{7f} é ✓"),
            serde_json::json!({
                "content": "line one, tab-free, é ✓",
                "key": [true, false, null, 1e300, 0.1, u64::MAX, -0.0],
                "startLine": 1,
                "endLine": null,
                "truncated": false,
                "entries": [{"name": "a", "type": "file"}, 2.5, -7, []],
            }),
        ];
        for value in values {
            assert_eq!(serialized_len(&value), value.to_string().len(), "{value}");
        }
        let escaped = "line \"one\"\n\ttab \\ back\u{1}slash";
        let value = serde_json::json!({ "content": escaped });
        assert_eq!(
            serialized_len(&value),
            r#"{"content":""}"#.len() + escaped.len()
        );
        assert!(serialized_len(&value) < value.to_string().len());
    }
}
