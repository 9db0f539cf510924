//! A bare MCP client for measuring: JSON-RPC over a child's stdio (one
//! message a line) or over Streamable HTTP (POST, answer as JSON or SSE),
//! with a deadline on every request. It parses nothing it does not need,
//! and stops each clock when the last byte of the answer has arrived,
//! before parsing it, so the client adds as little as possible to what it
//! measures. It never answers server-to-client requests (none of the
//! measured servers sends one unprompted).

use std::{
    collections::VecDeque,
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail};
use moat_benches::memory;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::{Child, ChildStdin, Command},
    sync::mpsc,
};

/// The protocol version the client offers.
pub const PROTOCOL: &str = "2025-11-25";

/// Lines of a server's stderr kept for error messages.
const STDERR_LINES: usize = 20;

/// How often the memory sampler reads the process tree's memory (PSS).
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// How to reach a server.
#[derive(Clone, Debug)]
pub enum Launch {
    /// Spawn this command and speak over its stdio.
    Stdio(Vec<String>),
    /// Spawn this command, wait for the first `http://` URL on its stderr
    /// or stdout, and speak Streamable HTTP to it.
    SpawnHttp(Vec<String>),
    /// Speak Streamable HTTP to a server that is already running (no
    /// spawn time, no memory figure).
    Url(String),
}

/// A tool call that ran and failed (`isError`), with the server's message.
#[derive(Debug)]
pub struct ToolError(pub String);

impl std::fmt::Display for ToolError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "tool error: {}", self.0)
    }
}

impl std::error::Error for ToolError {}

/// The wire to one server.
enum Wire {
    Stdio {
        stdin: ChildStdin,
        /// Lines of stdout, each stamped with the instant it was read.
        lines: mpsc::UnboundedReceiver<(Instant, String)>,
    },
    Http {
        http: reqwest::Client,
        url: String,
        /// The session id from the `initialize` answer, if any. Behind a
        /// lock because concurrent calls share `&self`.
        session: Mutex<Option<String>>,
    },
}

/// One running (or reachable) MCP server, initialised.
pub struct Connection {
    child: Option<Child>,
    wire: Wire,
    next_id: u64,
    stderr: Arc<Mutex<VecDeque<String>>>,
    sampled_peak_kib: Arc<AtomicU64>,
    sampling: Arc<AtomicBool>,
    /// The tools the server lists, with their arguments.
    pub tools: crate::workload::Tools,
}

/// Spawn `command` with piped stdio; its stderr is kept (last lines) by a
/// task, and its process tree's memory (PSS) sampled by a thread.
fn spawn(command: &[String]) -> Result<Child> {
    let (program, arguments) = command.split_first().context("empty command")?;
    Command::new(program)
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("spawn {}", command.join(" ")))
}

/// Keep the last lines of `stream` in `keep`; when `url` is given, send
/// the first `http://` URL seen there.
fn keep_lines(
    stream: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    keep: Arc<Mutex<VecDeque<String>>>,
    mut url: Option<mpsc::UnboundedSender<String>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(start) = line.find("http://")
                && let Some(sender) = url.take()
            {
                let found: String = line[start..]
                    .chars()
                    .take_while(|character| !character.is_whitespace() && *character != '"')
                    .collect();
                let _ = sender.send(found);
            }
            let mut kept = lock(&keep);
            if kept.len() == STDERR_LINES {
                kept.pop_front();
            }
            kept.push_back(line);
        }
    });
}

impl Connection {
    /// Start (or reach) the server and initialise a session; returns the
    /// connection and the time from spawn to the `initialize` answer.
    ///
    /// # Errors
    /// When the server cannot be started, does not answer within
    /// `deadline`, or answers with an error.
    pub async fn open(launch: &Launch, deadline: Duration) -> Result<(Self, Duration)> {
        let started = Instant::now();
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let (child, wire) = match launch {
            Launch::Stdio(command) => {
                let mut child = spawn(command)?;
                let stdin = child.stdin.take().context("stdin")?;
                let stdout = child.stdout.take().context("stdout")?;
                keep_lines(child.stderr.take().context("stderr")?, stderr.clone(), None);
                let (sender, lines) = mpsc::unbounded_channel();
                tokio::spawn(async move {
                    let mut reader = BufReader::with_capacity(1 << 20, stdout);
                    loop {
                        let mut line = String::new();
                        match reader.read_line(&mut line).await {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {
                                if sender.send((Instant::now(), line)).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
                (Some(child), Wire::Stdio { stdin, lines })
            }
            Launch::SpawnHttp(command) => {
                let mut child = spawn(command)?;
                let (sender, mut found) = mpsc::unbounded_channel();
                keep_lines(
                    child.stderr.take().context("stderr")?,
                    stderr.clone(),
                    Some(sender.clone()),
                );
                keep_lines(
                    child.stdout.take().context("stdout")?,
                    stderr.clone(),
                    Some(sender),
                );
                let url = tokio::time::timeout(deadline, found.recv())
                    .await
                    .ok()
                    .flatten()
                    .context("the server printed no http:// URL")?;
                let url = if url.ends_with("/mcp") {
                    url
                } else {
                    format!("{}/mcp", url.trim_end_matches('/'))
                };
                (Some(child), http_wire(url))
            }
            Launch::Url(url) => (None, http_wire(url.clone())),
        };
        let sampled_peak_kib = Arc::new(AtomicU64::new(0));
        let sampling = Arc::new(AtomicBool::new(true));
        if let Some(pid) = child.as_ref().and_then(Child::id) {
            let (peak, sampling) = (sampled_peak_kib.clone(), sampling.clone());
            std::thread::spawn(move || {
                while sampling.load(Ordering::Relaxed) {
                    peak.fetch_max(memory::tree_pss_kib(pid), Ordering::Relaxed);
                    std::thread::sleep(SAMPLE_EVERY);
                }
            });
        }
        let mut connection = Self {
            child,
            wire,
            next_id: 1,
            stderr,
            sampled_peak_kib,
            sampling,
            tools: crate::workload::Tools::new(),
        };
        connection
            .request(
                "initialize",
                json!({"protocolVersion": PROTOCOL, "capabilities": {},
                       "clientInfo": {"name": "moat-compare", "version": "0"}}),
                deadline,
            )
            .await?;
        let ready = started.elapsed();
        connection
            .notify("notifications/initialized", &json!({}))
            .await?;
        let (_, tools) = connection
            .request("tools/list", json!({}), deadline)
            .await?;
        connection.tools = tools["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|tool| {
                let arguments = tool["inputSchema"]["properties"]
                    .as_object()
                    .map(|properties| properties.keys().cloned().collect())
                    .unwrap_or_default();
                Some((tool["name"].as_str()?.to_string(), arguments))
            })
            .collect();
        Ok((connection, ready))
    }

    /// The last lines the server wrote on stderr, for error messages.
    pub fn stderr_tail(&self) -> String {
        let kept = lock(&self.stderr);
        kept.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// The highest memory of the server so far, in KiB: its own process's
    /// peak (`VmHWM`), and that of its process tree (the larger of its own
    /// peak and the highest sum of the PSS of it and its descendants seen
    /// by the sampler). `None` when the server was not spawned here.
    pub fn peak_kib(&self) -> Option<(u64, u64)> {
        let pid = self.child.as_ref()?.id()?;
        let own = memory::peak_kib(pid);
        Some((own, own.max(self.sampled_peak_kib.load(Ordering::Relaxed))))
    }

    /// Stop the server: SIGTERM, then SIGKILL after a grace period.
    pub async fn close(mut self) {
        self.sampling.store(false, Ordering::Relaxed);
        let session = match &self.wire {
            Wire::Http { session, .. } => lock(session).clone(),
            Wire::Stdio { .. } => None,
        };
        if let (Wire::Http { http, url, .. }, Some(session)) = (&self.wire, session) {
            let _ = http
                .delete(url)
                .header("Mcp-Session-Id", session)
                .send()
                .await;
        }
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(2), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }

    async fn notify(&mut self, method: &str, params: &Value) -> Result<()> {
        let message = json!({"jsonrpc": "2.0", "method": method, "params": params});
        match &mut self.wire {
            Wire::Stdio { stdin, .. } => write_line(stdin, &message).await,
            Wire::Http { .. } => {
                self.post(&message).await?;
                Ok(())
            }
        }
    }

    /// Send one request and wait for its answer; returns the time to the
    /// last byte of the answer and its `result`.
    ///
    /// # Errors
    /// On a protocol error, a dead server or the deadline.
    pub async fn request(
        &mut self,
        method: &str,
        params: Value,
        deadline: Duration,
    ) -> Result<(Duration, Value)> {
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let started = Instant::now();
        let answer = tokio::time::timeout(deadline, self.exchange(id, &message)).await;
        let (arrived, mut answer) = match answer {
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => bail!("{error:#}{}", self.tail_note()),
            Err(_) => bail!(
                "no answer within {} s{}",
                deadline.as_secs(),
                self.tail_note()
            ),
        };
        if let Some(error) = answer.get("error") {
            bail!("protocol error: {error}");
        }
        Ok((arrived - started, answer["result"].take()))
    }

    fn tail_note(&self) -> String {
        let tail = self.stderr_tail();
        if tail.is_empty() {
            String::new()
        } else {
            format!(" (server stderr: {})", tail.replace('\n', " | "))
        }
    }

    /// Call a tool; returns the round trip and the result.
    ///
    /// # Errors
    /// As [`Self::request`], and [`ToolError`] when the tool reports
    /// `isError`.
    pub async fn call(
        &mut self,
        tool: &str,
        arguments: &Value,
        deadline: Duration,
    ) -> Result<(Duration, Value)> {
        let (elapsed, result) = self
            .request(
                "tools/call",
                json!({"name": tool, "arguments": arguments}),
                deadline,
            )
            .await?;
        if result["isError"] == json!(true) {
            return Err(ToolError(text_of(&result)).into());
        }
        Ok((elapsed, result))
    }

    /// Send all `calls` at once and wait for every answer; returns the
    /// wall time from the first send to the last answer, and the results
    /// in order.
    ///
    /// # Errors
    /// As [`Self::call`], for the first call that fails.
    pub async fn call_all(
        &mut self,
        calls: &[(String, Value)],
        deadline: Duration,
    ) -> Result<(Duration, Vec<Value>)> {
        let first_id = self.next_id;
        self.next_id += calls.len() as u64;
        let messages: Vec<Value> = calls
            .iter()
            .zip(first_id..)
            .map(|((tool, arguments), id)| {
                json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                       "params": {"name": tool, "arguments": arguments}})
            })
            .collect();
        let started = Instant::now();
        let answers = tokio::time::timeout(deadline, self.exchange_all(first_id, &messages))
            .await
            .map_err(|_| anyhow!("no answers within {} s", deadline.as_secs()))??;
        let last = answers
            .iter()
            .map(|(arrived, _)| *arrived)
            .max()
            .unwrap_or(started);
        let mut results = Vec::with_capacity(answers.len());
        for (_, mut answer) in answers {
            if let Some(error) = answer.get("error") {
                bail!("protocol error: {error}");
            }
            let result = answer["result"].take();
            if result["isError"] == json!(true) {
                return Err(ToolError(text_of(&result)).into());
            }
            results.push(result);
        }
        Ok((last - started, results))
    }

    async fn exchange(&mut self, id: u64, message: &Value) -> Result<(Instant, Value)> {
        let mut answers = self.exchange_all(id, std::slice::from_ref(message)).await?;
        answers.pop().context("no answer")
    }

    /// Send `messages` (ids `first_id..`) and collect their answers, each
    /// with the instant its last byte arrived, in id order.
    async fn exchange_all(
        &mut self,
        first_id: u64,
        messages: &[Value],
    ) -> Result<Vec<(Instant, Value)>> {
        let mut answers: Vec<Option<(Instant, Value)>> = vec![None; messages.len()];
        match &mut self.wire {
            Wire::Stdio { stdin, lines } => {
                let mut batch = String::new();
                for message in messages {
                    batch.push_str(&message.to_string());
                    batch.push('\n');
                }
                stdin.write_all(batch.as_bytes()).await?;
                stdin.flush().await?;
                while answers.iter().any(Option::is_none) {
                    let (arrived, line) = lines.recv().await.context("the server exited")?;
                    let Ok(value) = serde_json::from_str::<Value>(&line) else {
                        continue;
                    };
                    if let Some(slot) = slot_of(&value, first_id, &mut answers) {
                        *slot = Some((arrived, value));
                    }
                }
            }
            Wire::Http { .. } => {
                let this = &*self;
                let posts = messages.iter().map(|message| this.post(message));
                for (arrived, body) in futures::future::try_join_all(posts).await? {
                    for value in messages_in(&body) {
                        if let Some(slot) = slot_of(&value, first_id, &mut answers) {
                            *slot = Some((arrived, value));
                        }
                    }
                }
            }
        }
        answers
            .into_iter()
            .map(|answer| answer.context("a request got no answer"))
            .collect()
    }

    /// POST one message; returns when the body has fully arrived. Keeps
    /// the session id from an `initialize` answer.
    async fn post(&self, message: &Value) -> Result<(Instant, String)> {
        let Wire::Http { http, url, session } = &self.wire else {
            bail!("not an HTTP connection");
        };
        let mut request = http
            .post(url)
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", PROTOCOL)
            .json(message);
        if let Some(session) = lock(session).clone() {
            request = request.header("Mcp-Session-Id", session);
        }
        let response = request.send().await?;
        let status = response.status();
        let new_session = response
            .headers()
            .get("mcp-session-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let body = response.text().await?;
        let arrived = Instant::now();
        if !status.is_success() {
            bail!(
                "HTTP {status}: {}",
                body.chars().take(300).collect::<String>()
            );
        }
        if new_session.is_some() {
            *lock(session) = new_session;
        }
        Ok((arrived, body))
    }
}

/// Lock `mutex`, even if a panicking holder poisoned it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn http_wire(url: String) -> Wire {
    Wire::Http {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(16)
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default(),
        url,
        session: Mutex::new(None),
    }
}

async fn write_line(stdin: &mut ChildStdin, message: &Value) -> Result<()> {
    let mut line = message.to_string();
    line.push('\n');
    stdin.write_all(line.as_bytes()).await?;
    stdin.flush().await?;
    Ok(())
}

/// The slot of `answers` for the answer `value`, when it answers one of
/// the requests `first_id..`.
fn slot_of<'a>(
    value: &Value,
    first_id: u64,
    answers: &'a mut [Option<(Instant, Value)>],
) -> Option<&'a mut Option<(Instant, Value)>> {
    let id = value.get("id")?.as_u64()?;
    let index = usize::try_from(id.checked_sub(first_id)?).ok()?;
    answers.get_mut(index)
}

/// The JSON-RPC messages of an HTTP answer body: one JSON document, or
/// SSE events whose `data:` lines hold them.
fn messages_in(body: &str) -> Vec<Value> {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        return match value {
            Value::Array(values) => values,
            value => vec![value],
        };
    }
    let mut messages = Vec::new();
    for event in body.split("\n\n") {
        let data: Vec<&str> = event
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(str::trim_start)
            .collect();
        if let Ok(value) = serde_json::from_str::<Value>(&data.join("\n")) {
            messages.push(value);
        }
    }
    messages
}

/// All the text content of a tool result, joined.
pub fn text_of(result: &Value) -> String {
    result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}
