//! Serve one client on stdin/stdout.
//!
//! stdin EOF ends the server: running calls get [`STDIO_EXIT_GRACE`] to
//! finish, then they are cancelled and the function returns, so the process
//! exits within a second (MCP 2026-07-28 basic/transports/stdio).

use std::sync::Arc;

use rmcp::{
    RoleServer, ServiceExt,
    model::{JsonRpcMessage, ServerResult},
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::{Transport, async_rw::AsyncRwTransport},
};

use crate::{
    error::Error,
    runtime::{
        handler::{Handler, RuntimeState},
        toolbox::Toolbox,
        toolbox_limits::{MAX_STDIO_LINE_BYTES, STDIO_EXIT_GRACE},
    },
};

/// Serve `toolbox` on stdin/stdout until stdin closes.
///
/// # Errors
/// Only when the transport cannot be set up; a client that goes away before
/// or after initialising is a normal end.
pub async fn serve_stdio(toolbox: Arc<dyn Toolbox>, state: Arc<RuntimeState>) -> Result<(), Error> {
    let (stdin, stdout) = rmcp::transport::stdio_pipes();
    serve_stream(toolbox, state, stdin, stdout).await
}

/// Serve `toolbox` on any reader/writer pair (stdio, a pipe, an in-memory
/// duplex), one JSON-RPC message per line.
///
/// # Errors
/// See [`serve_stdio`].
pub async fn serve_stream<R, W>(
    toolbox: Arc<dyn Toolbox>,
    state: Arc<RuntimeState>,
    reader: R,
    writer: W,
) -> Result<(), Error>
where
    R: tokio::io::AsyncRead + Send + Unpin + 'static,
    W: tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let transport = FirstRequestGate {
        inner: AsyncRwTransport::<RoleServer, _, _>::new(reader, writer)
            .with_max_line_length(MAX_STDIO_LINE_BYTES),
        started: false,
    };
    let handler = Handler::new(toolbox, state.clone());
    match handler.serve(transport).await {
        Ok(running) => {
            let reason = running.waiting().await;
            tracing::debug!(?reason, "stdio session ended");
        }
        Err(error) => tracing::info!(%error, "client left before initialising"),
    }
    state.begin_shutdown();
    let _ = tokio::time::timeout(STDIO_EXIT_GRACE, state.wait_idle()).await;
    state.shutdown.cancel();
    Ok(())
}

/// Drops notifications that arrive before the session is initialised.
///
/// rmcp ends the service when a notification arrives while it waits for
/// `initialize`, so one stray `notifications/initialized` sent too early
/// would end the whole stdio server. JSON-RPC never answers a notification,
/// so dropping it (with a log line) loses nothing.
///
/// The gate opens when the server sends its first successful answer to a
/// request that starts the session: the `initialize` result, or (2026-07-28
/// stateless lifecycle) the result of a first request carrying its own
/// protocol metadata. A `ping` (allowed before `initialize`) or a
/// `server/discover` does not open it, nor does a request rmcp refused
/// (a malformed `initialize`, a request missing its metadata): rmcp is
/// still waiting for `initialize` after those (both found by the mcp_stdio
/// fuzzer). The answer is sent before rmcp reads the next message, so the
/// client's `notifications/initialized` passes. Regression tests:
/// `hostile_protocol::notification_before_initialize_keeps_the_server` and
/// `tests::notification_after_a_ping_before_initialize_keeps_the_server`,
/// `tests::notification_after_a_refused_initialize_keeps_the_server`.
struct FirstRequestGate<T> {
    inner: T,
    started: bool,
}

impl<T: Transport<RoleServer>> Transport<RoleServer> for FirstRequestGate<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send + 'static {
        if let JsonRpcMessage::Response(response) = &item
            && !matches!(
                response.result,
                ServerResult::EmptyResult(_) | ServerResult::DiscoverResult(_)
            )
        {
            self.started = true;
        }
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            let message = self.inner.receive().await?;
            if !self.started && matches!(message, JsonRpcMessage::Notification(_)) {
                tracing::debug!("dropped a notification sent before the session started");
                continue;
            }
            return Some(message);
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inner.close().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rmcp::model::{JsonObject, Tool};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::{CallContext, ServerIdentity, ToolFuture};

    /// A toolbox with no tools: enough to speak the lifecycle.
    struct Empty;

    impl Toolbox for Empty {
        fn identity(&self) -> ServerIdentity {
            ServerIdentity {
                name: "empty",
                title: "empty",
                version: "0",
                instructions: String::new(),
            }
        }

        fn tools(&self) -> Vec<Tool> {
            Vec::new()
        }

        fn call(
            self: Arc<Self>,
            _name: &str,
            _arguments: JsonObject,
            _context: CallContext,
        ) -> Option<ToolFuture> {
            None
        }

        fn call_timeout(&self) -> Duration {
            Duration::from_secs(1)
        }
    }

    /// Write `input` to a fresh stdio server, close its input, and return
    /// everything it wrote.
    async fn session(input: &str) -> String {
        let (client, server) = tokio::io::duplex(1 << 16);
        let (server_read, server_write) = tokio::io::split(server);
        let serving = tokio::spawn(serve_stream(
            Arc::new(Empty),
            Arc::new(RuntimeState::default()),
            server_read,
            server_write,
        ));
        let (mut client_read, mut client_write) = tokio::io::split(client);
        client_write
            .write_all(input.as_bytes())
            .await
            .expect("write");
        client_write.shutdown().await.expect("shutdown");
        let mut output = String::new();
        tokio::time::timeout(
            Duration::from_secs(5),
            client_read.read_to_string(&mut output),
        )
        .await
        .expect("the server ends at EOF")
        .expect("read");
        serving.await.expect("no panic").expect("served");
        output
    }

    /// Regression (mcp_stdio fuzzer): an `initialize` that rmcp refused
    /// (its `clientInfo` misspelt) followed by `notifications/initialized`
    /// ended the session; rmcp still waits for `initialize`, and gets it.
    #[tokio::test]
    async fn notification_after_a_refused_initialize_keeps_the_server() {
        let output = session(concat!(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clie?ntInfo":{"name":"c","version":"1"}}}"#,
            "\n",
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            "\n",
            r#"{"jsonrpc":"2.0","id":"i","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#,
            "\n",
            r#"{"jsonrpc":"2.0","id":"q","method":"ping"}"#,
            "\n",
        ))
        .await;
        for id in [r#""id":1"#, r#""id":"i""#, r#""id":"q""#] {
            assert!(output.contains(id), "no answer to {id}:\n{output}");
        }
    }

    /// Regression (mcp_stdio fuzzer): a `ping` before `initialize` (which
    /// the spec allows) followed by a stray notification ended the session;
    /// the notification is now dropped and `initialize` is answered.
    #[tokio::test]
    async fn notification_after_a_ping_before_initialize_keeps_the_server() {
        let output = session(concat!(
            r#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#,
            "\n",
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            "\n",
            r#"{"jsonrpc":"2.0","id":"i","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#,
            "\n",
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            "\n",
            r#"{"jsonrpc":"2.0","id":"q","method":"ping"}"#,
            "\n",
        ))
        .await;
        for id in [r#""id":"p""#, r#""id":"i""#, r#""id":"q""#] {
            assert!(output.contains(id), "no answer to {id}:\n{output}");
        }
    }
}
