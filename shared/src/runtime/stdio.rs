//! Serve one client on stdin/stdout.
//!
//! stdin EOF ends the server: running calls get [`STDIO_EXIT_GRACE`] to
//! finish, then they are cancelled and the function returns, so the process
//! exits within a second (MCP 2026-07-28 basic/transports/stdio).

use std::sync::Arc;

use rmcp::{
    RoleServer, ServiceExt,
    model::JsonRpcMessage,
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

/// Drops notifications that arrive before the client's first request.
///
/// rmcp ends the service when the first message is a notification (it
/// expects `initialize`), so one stray `notifications/initialized` sent too
/// early would end the whole stdio server. JSON-RPC never answers a
/// notification, so dropping it (with a log line) loses nothing; every later
/// message passes untouched. Regression test:
/// `hostile_protocol::notification_before_initialize_keeps_the_server`.
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
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            let message = self.inner.receive().await?;
            if self.started {
                return Some(message);
            }
            match message {
                JsonRpcMessage::Notification(_) => {
                    tracing::debug!("dropped a notification sent before the first request");
                }
                JsonRpcMessage::Request(_) => {
                    self.started = true;
                    return Some(message);
                }
                other => return Some(other),
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inner.close().await
    }
}
