//! Fuzz target: MCP message handling over stdio, in process.
//!
//! Input: arbitrary bytes, written as-is to the real stdio server
//! (`moat_shared::runtime::stdio::serve_stream` over an in-memory duplex,
//! serving moat-fs on a read-only temporary root). Then, on a fresh line,
//! a probe: a valid `initialize`, `notifications/initialized` and a `ping`.
//! Then end of input.
//!
//! What the MCP spec asks, and what we assert:
//! - The server never panics, and returns within a bound once its input
//!   closes (stdio: "the server exits when stdin closes").
//! - Everything it writes is newline-delimited JSON-RPC 2.0: each line one
//!   JSON object with `"jsonrpc": "2.0"` (basic/transports/stdio: "MUST NOT
//!   write anything to stdout that is not a valid MCP message").
//! - A response carries the id of a request the client sent, or no id only
//!   for an error about a message whose id could not be read (JSON-RPC 2.0
//!   section 5).
//! - Garbage does not end the session: a line that is not JSON gets
//!   -32700 and JSON that is not a message -32600, both with `"id": null`
//!   unless a request's id could be read, and notifications get nothing
//!   (JSON-RPC never answers a notification, so one can never be a reason to
//!   hang up). So the probe's `ping` (allowed before and after
//!   initialisation, basic/utilities/ping) must be answered. The one
//!   legitimate end is a client message that only a server may provoke (a
//!   response or error object) arriving before initialisation: the client
//!   broke the lifecycle (basic/lifecycle) and the server may close. When the
//!   garbage holds such a line, either outcome is accepted.
#![no_main]

use std::{
    collections::HashSet,
    sync::{Arc, OnceLock},
    time::Duration,
};

use libfuzzer_sys::fuzz_target;
use moat_fs::FsServer;
use moat_shared::{
    Toolbox,
    policy::{FsPolicy, Mode},
    runtime::{RuntimeState, stdio::serve_stream},
};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one input may take end to end. A tiny in-memory session takes
/// milliseconds; the stdio exit grace is 500 ms. Past this the server hung.
const SESSION_BOUND: Duration = Duration::from_secs(5);

/// Buffer of the in-memory pipe (large enough that writing the whole input
/// never waits for the server to read).
const PIPE_BYTES: usize = 1 << 20;

const PROBE_INIT_ID: &str = "moat-fuzz-init";
const PROBE_PING_ID: &str = "moat-fuzz-ping";

struct Fixture {
    _temp: tempfile::TempDir,
    toolbox: Arc<dyn Toolbox>,
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let temp = tempfile::tempdir().expect("tempdir");
        std::fs::write(temp.path().join("a.txt"), "hello\n").expect("write");
        std::fs::create_dir(temp.path().join("dir")).expect("mkdir");
        // Read-only: the fuzzer may call every offered tool, and must not
        // fill the disk with files it creates.
        let server = FsServer::new(
            &[(temp.path().to_string_lossy().into_owned(), Mode::Ro)],
            FsPolicy::default(),
        )
        .expect("server");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Fixture {
            _temp: temp,
            toolbox: Arc::new(server),
            runtime,
        }
    })
}

fn probe() -> String {
    [
        serde_json::json!({"jsonrpc": "2.0", "id": PROBE_INIT_ID, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "fuzz", "version": "0"}}}),
        serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        serde_json::json!({"jsonrpc": "2.0", "id": PROBE_PING_ID, "method": "ping"}),
    ]
    .iter()
    .map(|message| format!("\n{message}"))
    .collect::<String>()
        + "\n"
}

/// The ids of the requests in `lines` (any JSON object with a `method` and
/// an `id`), as JSON text, and whether any line is a response or error
/// object (which may legitimately end a session before initialisation).
fn scan(input: &[u8]) -> (HashSet<String>, bool) {
    let mut ids = HashSet::new();
    let mut may_end = false;
    for line in input.split(|byte| *byte == b'\n') {
        let Ok(value) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        let objects: Vec<&Value> = match &value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for object in objects {
            let Some(map) = object.as_object() else {
                continue;
            };
            if let Some(id) = map.get("id") {
                ids.insert(id_key(id));
            }
            if !map.contains_key("method") {
                may_end = true;
            }
        }
    }
    (ids, may_end)
}

/// An id as a comparable key: JSON numbers by value (`-0`, `0` and `0.0`
/// are the same id to a JSON-RPC peer), anything else as its JSON text.
fn id_key(id: &Value) -> String {
    match id.as_f64() {
        Some(number) if number == 0.0 => "number:0".to_string(),
        Some(number) => format!("number:{number}"),
        None => id.to_string(),
    }
}

fuzz_target!(|input: &[u8]| {
    let fixture = fixture();
    let (mut sent_ids, may_end) = scan(input);
    sent_ids.insert(id_key(&Value::from(PROBE_INIT_ID)));
    sent_ids.insert(id_key(&Value::from(PROBE_PING_ID)));

    let output = fixture.runtime.block_on(async {
        let (client, server) = tokio::io::duplex(PIPE_BYTES);
        let (server_read, server_write) = tokio::io::split(server);
        let state = Arc::new(RuntimeState::default());
        let serving = tokio::spawn(serve_stream(
            fixture.toolbox.clone(),
            state,
            server_read,
            server_write,
        ));
        let (mut client_read, mut client_write) = tokio::io::split(client);
        let reader = tokio::spawn(async move {
            let mut output = Vec::new();
            let _ = client_read.read_to_end(&mut output).await;
            output
        });
        let session = async {
            // A write fails only when the server already hung up.
            let _ = client_write.write_all(input).await;
            let _ = client_write.write_all(probe().as_bytes()).await;
            let _ = client_write.shutdown().await;
            drop(client_write);
            let served = serving.await;
            match served {
                Ok(result) => result.expect("serve_stream failed"),
                Err(join) => std::panic::resume_unwind(join.into_panic()),
            }
            reader.await.expect("reader")
        };
        tokio::time::timeout(SESSION_BOUND, session)
            .await
            .unwrap_or_else(|_| panic!("the server did not finish within {SESSION_BOUND:?}"))
    });

    let text = String::from_utf8(output).expect("the server wrote non-UTF-8 bytes");
    let mut ping_answered = false;
    for line in text.lines() {
        let message: Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("the server wrote a non-JSON line {line:?}: {error}"));
        assert_eq!(
            message.get("jsonrpc"),
            Some(&Value::from("2.0")),
            "not JSON-RPC 2.0: {line}"
        );
        if message.get("method").is_some() {
            // A server request or notification (roots/list, logging...).
            continue;
        }
        let is_error = message.get("error").is_some();
        assert!(
            is_error ^ message.get("result").is_some(),
            "a response needs exactly one of result and error: {line}"
        );
        match message.get("id") {
            None | Some(Value::Null) => assert!(is_error, "a result without an id: {line}"),
            Some(id) => {
                assert!(
                    sent_ids.contains(&id_key(id)),
                    "a response to an id never sent: {line}"
                );
                if *id == Value::from(PROBE_PING_ID) {
                    ping_answered = true;
                }
            }
        }
    }
    assert!(
        ping_answered || may_end,
        "the session ended without a lifecycle violation: the probe ping was never answered\n\
         output:\n{text}"
    );
});
