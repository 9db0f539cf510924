//! A client wired to a server in memory, through the same MCP path a real
//! client takes (JSON-RPC lines, handshake, routing, error mapping). The
//! CLI's `tools` and `call` use it, so what they print is what a client gets.

use std::sync::Arc;

use rmcp::{RoleClient, ServiceExt, service::RunningService};

use crate::{
    error::Error,
    runtime::{handler::RuntimeState, stdio::serve_stream, toolbox::Toolbox},
};

/// Buffer of the in-memory pipe between client and server.
const PIPE_BYTES: usize = 1 << 20;

/// Start `toolbox` in this process and return an initialised client for it.
///
/// # Errors
/// When the handshake fails, which means a bug in the server.
pub async fn connect(toolbox: Arc<dyn Toolbox>) -> Result<RunningService<RoleClient, ()>, Error> {
    let (client_side, server_side) = tokio::io::duplex(PIPE_BYTES);
    let (server_read, server_write) = tokio::io::split(server_side);
    let state = Arc::new(RuntimeState::default());
    tokio::spawn(serve_stream(toolbox, state, server_read, server_write));
    ().serve(client_side)
        .await
        .map_err(|error| Error::Transport(error.to_string()))
}
