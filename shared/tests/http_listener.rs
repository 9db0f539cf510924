//! The HTTP server runs on a listener the caller bound: the caller knows
//! the port from its own socket, not from the server's stderr.

use std::{sync::Arc, time::Duration};

use moat_shared::{
    Call, CallContext, ServerIdentity, Toolbox,
    runtime::{
        RuntimeState,
        http::{HttpOptions, serve_http_on},
    },
};
use rmcp::model::{JsonObject, Tool};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A toolbox with no tools: the listener is what is under test.
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
    ) -> Option<Call> {
        None
    }

    fn call_timeout(&self) -> Duration {
        Duration::from_secs(1)
    }
}

/// `serve_http_on` serves `/health` on the caller's port-0 listener and
/// returns once `shutdown` resolves.
#[tokio::test]
async fn serves_on_a_listener_the_caller_bound() {
    #[expect(
        clippy::disallowed_methods,
        reason = "the test binds its own loopback listener"
    )]
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_http_on(
        listener,
        Arc::new(Empty),
        Arc::new(RuntimeState::default()),
        HttpOptions::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    #[expect(
        clippy::disallowed_methods,
        reason = "the test connects to its own loopback server"
    )]
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request = format!("GET /health HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"name\":\"empty\""), "{response}");
    let _ = stop.send(());
    server
        .await
        .expect("server task")
        .expect("server ends cleanly");
}
