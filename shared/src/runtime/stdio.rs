//! Serve one client on stdin/stdout.
//!
//! stdin EOF ends the server: running calls get [`STDIO_EXIT_GRACE`] to
//! finish, then they are cancelled and the function returns, so the process
//! exits within a second (MCP 2026-07-28 basic/transports/stdio).
//!
//! SIGTERM or SIGINT (the `shutdown` future) ends it as on HTTP: new tool
//! calls are refused, calls in flight get [`SHUTDOWN_GRACE`] to finish and
//! their answers are written, then the function returns, so the caller can
//! release what outlives calls (moat-scrape's browser and profile folder)
//! and exit 0. The MCP stdio shutdown sequence (close stdin, wait, SIGTERM,
//! SIGKILL) reaches the signal when a server is slow to notice EOF; dying on
//! the signal's default action would leave the browser running.
//!
//! Protocol errors (bytes that are not a JSON-RPC message, a repeated id in
//! flight) are answered by the line transport, before rmcp.

use std::{future::Future, sync::Arc};

use rmcp::{
    RoleServer, ServiceExt,
    model::{JsonRpcMessage, ServerResult},
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
};

use crate::{
    error::Error,
    runtime::{
        bounds::{SHUTDOWN_GRACE, STDIO_EXIT_GRACE},
        handler::{Handler, RuntimeState},
        line_transport::LineTransport,
        toolbox::Toolbox,
    },
};

/// Serve `toolbox` on stdin/stdout until stdin closes or `shutdown`
/// resolves (SIGTERM, SIGINT).
///
/// # Errors
/// Only when the transport cannot be set up; a client that goes away before
/// or after initialising is a normal end.
pub async fn serve_stdio(
    toolbox: Arc<dyn Toolbox>,
    state: Arc<RuntimeState>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    enlarge_stdout_pipe();
    let (stdin, stdout) = rmcp::transport::stdio_pipes();
    serve_stream_until(toolbox, state, stdin, stdout, shutdown).await
}

/// The stdout pipe's capacity asked of Linux: the default
/// `/proc/sys/fs/pipe-max-size`, which an unprivileged process may ask.
/// A pipe holds 64 KiB by default, so a 1 MiB file read (2 MiB on the
/// wire: its text is in `content` and again in `structuredContent`) went
/// out in 35 rounds of "the pipe is full, wait for the client to read";
/// with 1 MiB it goes in three. Measured with moat-compare on 2 cores,
/// p50 of 1 MiB reads: 2.0-2.2 ms before, 1.8-1.9 ms after (16-byte
/// lines), 3.5-3.7 ms before, 3.2-3.3 ms after (non-ASCII text). The kernel
/// allocates a pipe's pages as they are written, so a pipe that carries
/// small answers costs nothing more.
#[cfg(target_os = "linux")]
const STDOUT_PIPE_BYTES: usize = 1 << 20;

/// Give stdout [`STDOUT_PIPE_BYTES`] of room when it is a pipe. Best
/// effort: stdout may be a file or a terminal, or the machine's limit may
/// be lower, and the server then writes in smaller rounds as before.
fn enlarge_stdout_pipe() {
    #[cfg(target_os = "linux")]
    match rustix::pipe::fcntl_setpipe_size(std::io::stdout(), STDOUT_PIPE_BYTES) {
        Ok(size) => tracing::debug!(size, "stdout pipe enlarged"),
        Err(error) => tracing::debug!(%error, "stdout pipe left at its size"),
    }
}

/// Serve `toolbox` on any reader/writer pair (stdio, a pipe, an in-memory
/// duplex), one JSON-RPC message per line, until the input ends.
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
    serve_stream_until(toolbox, state, reader, writer, std::future::pending()).await
}

/// [`serve_stream`], also ending when `shutdown` resolves: calls in flight
/// get [`SHUTDOWN_GRACE`] and their answers are written first.
///
/// # Errors
/// See [`serve_stdio`].
pub async fn serve_stream_until<R, W>(
    toolbox: Arc<dyn Toolbox>,
    state: Arc<RuntimeState>,
    reader: R,
    writer: W,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error>
where
    R: tokio::io::AsyncRead + Send + Unpin + 'static,
    W: tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let transport = FirstRequestGate {
        inner: LineTransport::new(reader, writer),
        started: false,
    };
    let handler = Handler::new(toolbox, state.clone());
    let mut shutdown = std::pin::pin!(shutdown);
    let served = tokio::select! {
        served = handler.serve(transport) => served,
        () = &mut shutdown => {
            tracing::info!("signal before the session started; stopping");
            state.begin_shutdown();
            state.shutdown.cancel();
            return Ok(());
        }
    };
    match served {
        Ok(running) => {
            let cancel = running.cancellation_token();
            let mut waiting = std::pin::pin!(running.waiting());
            tokio::select! {
                reason = &mut waiting => {
                    tracing::debug!(?reason, "stdio session ended");
                }
                () = &mut shutdown => {
                    tracing::info!(
                        inflight = state.inflight(),
                        "shutting down on a signal: no new calls"
                    );
                    state.begin_shutdown();
                    if tokio::time::timeout(SHUTDOWN_GRACE, state.wait_idle()).await.is_err() {
                        tracing::warn!("calls still running after the grace period; stopping them");
                    }
                    // rmcp writes the answers already made before it returns.
                    cancel.cancel();
                    let reason = waiting.await;
                    tracing::debug!(?reason, "stdio session ended");
                }
            }
        }
        Err(error) => tracing::info!(%error, "client left before initialising"),
    }
    state.begin_shutdown();
    let _ = tokio::time::timeout(STDIO_EXIT_GRACE, state.wait_idle()).await;
    state.shutdown.cancel();
    if let Some(audit) = &state.audit {
        audit.drain();
    }
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
    use serde_json::{Value, json};
    use tokio::{
        io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
        sync::Semaphore,
    };

    use super::*;
    use crate::{Call, CallContext, ServerIdentity, ToolFuture, ToolOutput};

    /// A toolbox with one tool, `wait`, that returns once the test opens
    /// its gate: a call that stays in flight for as long as a test needs.
    struct Gated {
        gate: Arc<Semaphore>,
    }

    impl Gated {
        fn new() -> Arc<Self> {
            Arc::new(Self {
                gate: Arc::new(Semaphore::new(0)),
            })
        }
    }

    impl Toolbox for Gated {
        fn identity(&self) -> ServerIdentity {
            ServerIdentity {
                name: "gated",
                title: "gated",
                version: "0",
                instructions: String::new(),
            }
        }

        fn tools(&self) -> Vec<Tool> {
            let schema = json!({"type": "object"});
            vec![Tool::new(
                "wait",
                "Returns once the test lets it.",
                schema.as_object().cloned().unwrap_or_default(),
            )]
        }

        fn call(
            self: Arc<Self>,
            name: &str,
            _arguments: JsonObject,
            _context: CallContext,
        ) -> Option<Call> {
            (name == "wait").then(|| -> Call {
                let future: ToolFuture = Box::pin(async move {
                    let _permit = self.gate.acquire().await;
                    Ok(ToolOutput::text("released"))
                });
                Call::Async(future)
            })
        }

        fn call_timeout(&self) -> Duration {
            Duration::from_secs(30)
        }
    }

    /// Write `input` to a fresh stdio server, close its input, and return
    /// everything it wrote.
    async fn session(input: &str) -> String {
        let (client, server) = tokio::io::duplex(1 << 16);
        let (server_read, server_write) = tokio::io::split(server);
        let serving = tokio::spawn(serve_stream(
            Gated::new(),
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

    /// A stdio server driven one line at a time, with a shutdown trigger.
    struct Live {
        toolbox: Arc<Gated>,
        state: Arc<RuntimeState>,
        lines: tokio::io::Lines<BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>>,
        write: tokio::io::WriteHalf<tokio::io::DuplexStream>,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        serving: tokio::task::JoinHandle<Result<(), Error>>,
    }

    impl Live {
        /// A server past the initialize handshake.
        async fn start() -> Self {
            let toolbox = Gated::new();
            let (client, server) = tokio::io::duplex(1 << 16);
            let (server_read, server_write) = tokio::io::split(server);
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let state = Arc::new(RuntimeState::default());
            let serving = tokio::spawn(serve_stream_until(
                toolbox.clone(),
                state.clone(),
                server_read,
                server_write,
                async move {
                    let _ = stopped.await;
                },
            ));
            let (read, write) = tokio::io::split(client);
            let mut live = Self {
                toolbox,
                state,
                lines: BufReader::new(read).lines(),
                write,
                stop: Some(stop),
                serving,
            };
            live.send(
                &json!({"jsonrpc": "2.0", "id": "init", "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": {"name": "t", "version": "0"}}})
                .to_string(),
            )
            .await;
            live.answer(&json!("init")).await;
            live.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
                .await;
            live
        }

        async fn send(&mut self, line: &str) {
            self.write
                .write_all(format!("{line}\n").as_bytes())
                .await
                .expect("write");
        }

        /// The next message the server writes.
        async fn next(&mut self) -> Value {
            let line = tokio::time::timeout(Duration::from_secs(10), self.lines.next_line())
                .await
                .expect("the server answers")
                .expect("read")
                .expect("the server keeps its output open");
            serde_json::from_str(&line).expect("a JSON line")
        }

        /// The answer to `id`, skipping anything else.
        async fn answer(&mut self, id: &Value) -> Value {
            loop {
                let message = self.next().await;
                if message.get("id") == Some(id) && message.get("method").is_none() {
                    return message;
                }
            }
        }

        fn call_wait(id: u64) -> String {
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                   "params": {"name": "wait", "arguments": {}}})
            .to_string()
        }
    }

    /// Regression (issue 11): a line that is not JSON got no answer; it now
    /// gets -32700 with `"id": null`, and the session carries on.
    #[tokio::test]
    async fn unparsable_line_gets_a_parse_error() {
        let mut live = Live::start().await;
        live.send("this is not json").await;
        let error = live.next().await;
        assert_eq!(error["error"]["code"], -32700, "{error}");
        assert!(error.get("id").is_some_and(Value::is_null), "{error}");
        live.send(r#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#)
            .await;
        assert!(live.answer(&json!("p")).await["result"].is_object());
    }

    /// Regression (issue 11): a request repeating the id of one in flight
    /// lost an answer (rmcp keys answers by id); the repeat now gets its own
    /// -32600 and the first call still gets its result.
    #[tokio::test]
    async fn duplicate_id_in_flight_is_refused_and_the_first_call_answered() {
        let mut live = Live::start().await;
        live.send(&Live::call_wait(7)).await;
        live.send(&Live::call_wait(7)).await;
        let refusal = live.answer(&json!(7)).await;
        assert_eq!(refusal["error"]["code"], -32600, "{refusal}");
        assert_eq!(
            refusal["error"]["message"],
            "Invalid Request: duplicate request id 7 already in flight"
        );
        live.toolbox.gate.add_permits(1);
        let first = live.answer(&json!(7)).await;
        assert_eq!(first["result"]["content"][0]["text"], "released", "{first}");
        // Answered, the id is free again.
        live.toolbox.gate.add_permits(1);
        live.send(&Live::call_wait(7)).await;
        assert_eq!(live.answer(&json!(7)).await["result"]["isError"], false);
    }

    /// Regression (issue 11): SIGTERM killed a stdio server without its
    /// shutdown; the signal now lets the call in flight finish, writes its
    /// answer, and returns.
    #[tokio::test]
    async fn shutdown_signal_lets_the_call_in_flight_finish() {
        let mut live = Live::start().await;
        live.send(&Live::call_wait(1)).await;
        // The call is running once the server answered a later ping.
        live.send(r#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#)
            .await;
        live.answer(&json!("p")).await;
        live.stop.take().map(|stop| stop.send(()));
        tokio::time::timeout(Duration::from_secs(10), async {
            while !live.state.is_shutting_down() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the signal starts the shutdown");
        live.send(&Live::call_wait(2)).await;
        let refused = live.answer(&json!(2)).await;
        assert_eq!(refused["result"]["isError"], true, "{refused}");
        live.toolbox.gate.add_permits(1);
        let answer = live.answer(&json!(1)).await;
        assert_eq!(
            answer["result"]["content"][0]["text"], "released",
            "{answer}"
        );
        tokio::time::timeout(Duration::from_secs(10), live.serving)
            .await
            .expect("serving ends after the signal")
            .expect("no panic")
            .expect("served");
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
