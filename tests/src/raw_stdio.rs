//! A server on stdio driven by raw lines: for suites that send what no
//! well-behaved client would (malformed lines, repeated ids) or control the
//! process directly (signals, closing stdin).
//!
//! # Must never
//! - leave the server running: it is killed when dropped.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{
        Arc, Mutex,
        mpsc::{Receiver, RecvTimeoutError, channel},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::server_command;

/// How long any single answer may take before the server counts as hung.
/// Generous: it only bounds a hang, it measures nothing.
pub const ANSWER_LIMIT: Duration = Duration::from_secs(60);

/// The protocol version servers are initialised with.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// A JSON-RPC request as bytes.
pub fn request(id: &Value, method: &str, params: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))
        .expect("serialise")
}

/// `initialize` params of a client without capabilities.
pub fn initialize_params() -> Value {
    json!({
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": { "name": "hostile", "version": "1" }
    })
}

/// A server on stdio driven by raw lines.
pub struct RawStdio {
    /// The child process.
    pub child: Child,
    /// Its stdin; dropping it (with [`RawStdio::close_stdin`]) is EOF.
    stdin: Option<ChildStdin>,
    lines: Receiver<Vec<u8>>,
    stderr: Arc<Mutex<Vec<String>>>,
    next_id: u64,
}

impl RawStdio {
    /// Spawn `name args...` on stdio, not yet initialised, logging
    /// warnings.
    pub fn spawn(name: &str, args: &[&str]) -> Self {
        Self::spawn_logging(name, args, "warn")
    }

    /// [`RawStdio::spawn`] with `RUST_LOG=log`.
    pub fn spawn_logging(name: &str, args: &[&str], log: &str) -> Self {
        Self::spawn_with(name, args, log, true)
    }

    /// [`RawStdio::spawn_logging`] with the read end of the server's stderr
    /// closed at once, as by a launcher that stopped reading it: every log
    /// or audit line the server writes then fails with a broken pipe.
    pub fn spawn_stderr_closed(name: &str, args: &[&str], log: &str) -> Self {
        Self::spawn_with(name, args, log, false)
    }

    fn spawn_with(name: &str, args: &[&str], log: &str, read_stderr: bool) -> Self {
        let mut child = server_command(name)
            .args(args)
            .env("RUST_LOG", log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the server");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let stderr_pipe = child.stderr.take().expect("stderr");
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if sender.send(line).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if read_stderr {
            let stderr = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                    stderr
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(line);
                }
            });
        }
        Self {
            child,
            stdin: Some(stdin),
            lines,
            stderr,
            next_id: 1_000_000,
        }
    }

    /// Spawn and complete the initialize handshake.
    pub fn start(name: &str, args: &[&str]) -> Self {
        let mut server = Self::spawn(name, args);
        server.initialize();
        server
    }

    /// Complete the initialize handshake.
    pub fn initialize(&mut self) {
        let id = json!(0);
        self.send(&request(&id, "initialize", &initialize_params()));
        let (answer, _) = self.answer(&id);
        assert!(answer["result"]["protocolVersion"].is_string(), "{answer}");
        self.send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last 30 lines the server printed on stderr.
    pub fn stderr_tail(&self) -> String {
        let lines = self
            .stderr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let start = lines.len().saturating_sub(30);
        lines[start..].join("\n")
    }

    /// Every line the server has printed on stderr so far that contains
    /// `text`.
    pub fn logged(&self, text: &str) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|line| line.contains(text))
            .cloned()
            .collect()
    }

    /// Write `bytes` and a newline.
    pub fn send(&mut self, bytes: &[u8]) {
        let mut line = bytes.to_vec();
        line.push(b'\n');
        self.send_raw(&line);
    }

    /// Write `bytes` as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let written = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("stdin already closed"))
            .and_then(|stdin| stdin.write_all(bytes).and_then(|()| stdin.flush()));
        if let Err(error) = written {
            panic!(
                "the server stopped reading stdin ({error}); exit {:?}; stderr:\n{}",
                self.child.try_wait(),
                self.stderr_tail()
            );
        }
    }

    /// Wait for the message answering `id`; return it with every other
    /// message that arrived first.
    pub fn answer(&mut self, id: &Value) -> (Value, Vec<Value>) {
        let deadline = Instant::now() + ANSWER_LIMIT;
        let mut others = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let message: Value = serde_json::from_slice(&line).unwrap_or_else(|error| {
                        panic!(
                            "stdout carried a line that is not JSON ({error}): {:?}",
                            String::from_utf8_lossy(&line[..line.len().min(300)])
                        )
                    });
                    if message.get("id") == Some(id)
                        && (message.get("result").is_some() || message.get("error").is_some())
                    {
                        return (message, others);
                    }
                    others.push(message);
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no answer to id {id} within {ANSWER_LIMIT:?}; got {others:?}; stderr:\n{}",
                    self.stderr_tail()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "the server closed stdout before answering id {id} (exit {:?}); got {others:?}; stderr:\n{}",
                    self.child.try_wait(),
                    self.stderr_tail()
                ),
            }
        }
    }

    /// Send a ping and wait for its answer; return what arrived before it.
    pub fn ping(&mut self) -> Vec<Value> {
        self.next_id += 1;
        let id = json!(self.next_id);
        self.send(&request(&id, "ping", &json!({})));
        let (answer, others) = self.answer(&id);
        assert!(answer["result"].is_object(), "ping answered {answer}");
        others
    }

    /// A request with a fresh id; its answer.
    pub fn call(&mut self, method: &str, params: &Value) -> Value {
        self.next_id += 1;
        let id = json!(self.next_id);
        self.send(&request(&id, method, params));
        self.answer(&id).0
    }
}

impl RawStdio {
    /// Close the server's stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Send a signal (`TERM`, `INT`...) to the server.
    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status();
    }

    /// Wait until the server prints a stderr line containing `text`, up to
    /// [`ANSWER_LIMIT`]; false when it never does.
    pub fn wait_for_log(&self, text: &str) -> bool {
        let deadline = Instant::now() + ANSWER_LIMIT;
        while Instant::now() < deadline {
            let seen = self
                .stderr
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .any(|line| line.contains(text));
            if seen {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Wait for the server to exit, up to [`ANSWER_LIMIT`].
    pub fn wait_exit(&mut self) -> Option<std::process::ExitStatus> {
        crate::wait_exit(&mut self.child, ANSWER_LIMIT)
    }
}

impl Drop for RawStdio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
