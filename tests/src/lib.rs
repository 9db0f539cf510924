//! moat-tests: the harness that spawns the real moat binaries and speaks MCP
//! to them through rmcp's client, over stdio and Streamable HTTP, in either
//! protocol era; and the end-to-end suites in `tests/`.
//!
//! Cargo only exposes `CARGO_BIN_EXE_<name>` inside a binary's own package,
//! so [`binary`] finds the binary in this build's target directory and builds
//! it when it is missing.
//!
//! # Must never
//! - talk to anything but loopback;
//! - depend on the machine's files outside the temp directories it makes.

pub mod fixture;
pub mod python;
pub mod raw_stdio;
pub mod scrape_net;

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use rmcp::{
    ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceExt,
    model::{
        CallToolRequestParams, CallToolResult, ClientConfig, ContentBlock, JsonObject,
        ProtocolVersion,
    },
    service::RunningService,
    transport::{
        ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess,
        streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::Value;

/// An MCP client connected to a server under test.
pub type Client = RunningService<RoleClient, ClientConfig>;

/// Which protocol era a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// The initialize handshake, 2025-11-25.
    Handshake,
    /// 2026-07-28: `server/discover`, stateless requests.
    Stateless,
}

/// Both eras, for tests that run once per era.
pub const ERAS: [Era; 2] = [Era::Handshake, Era::Stateless];

impl Era {
    fn lifecycle(self) -> ClientLifecycleMode {
        match self {
            Era::Handshake => ClientLifecycleMode::Initialize,
            Era::Stateless => ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        }
    }
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The profile directory holding this test binary (`target/debug`,
/// `target/release`, ...): the moat binaries are built into, and taken
/// from, the same one.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().and_then(Path::parent).map(Path::to_path_buf))
        .unwrap_or_else(|| workspace_root().join("target/debug"))
}

/// Set by [`use_binaries_from`]: take the moat binaries from this folder and
/// build nothing (bench binaries run release builds made beforehand).
static BINARY_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Take the moat binaries from `dir` (e.g. `target/release`) instead of
/// building them; for bench binaries, whose caller builds release first.
pub fn use_binaries_from(dir: PathBuf) {
    let _ = BINARY_DIR.set(dir);
}

/// The path of a moat binary, built once per test process if missing.
///
/// # Panics
/// When the binary cannot be built.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    if let Some(prebuilt) = std::env::var_os(binary_variable(name)) {
        return PathBuf::from(prebuilt);
    }
    if let Some(dir) = BINARY_DIR.get() {
        return dir.join(name);
    }
    let path = target_dir().join(name);
    let built = BUILT.get_or_init(Mutex::default);
    let mut built = built
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !built.iter().any(|done| done == name) {
        // Always ask cargo: it is a no-op when the binary is fresh, and a
        // stale binary would test old code.
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(build_args(&target_dir(), name))
            .current_dir(workspace_root())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --bin {name} failed");
        built.push(name.to_string());
    }
    path
}

/// `cargo build` arguments that put binary `name` in `profile_dir`: the
/// profile and target directory the test binary itself was built with, so
/// `cargo test --release` tests fresh release binaries, not stale debug
/// ones (`target/debug` is the `dev` profile; other profiles keep their
/// name).
fn build_args(profile_dir: &Path, name: &str) -> Vec<String> {
    let profile = match profile_dir.file_name().and_then(|dir| dir.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let mut args: Vec<String> = ["build", "--quiet", "--profile", profile, "--bin", name]
        .map(String::from)
        .to_vec();
    if let Some(target) = profile_dir.parent() {
        args.push("--target-dir".into());
        args.push(target.to_string_lossy().into_owned());
    }
    args
}

/// The variable naming a prebuilt binary to test instead of building
/// one: `MOAT_FS_BIN` for `moat-fs` (e.g. a cross-built `moat-fs.exe`).
fn binary_variable(name: &str) -> String {
    format!("{}_BIN", name.to_uppercase().replace('-', "_"))
}

/// A command that runs the server `name`: the binary itself, or, when
/// `MOAT_BIN_WRAPPER` is set (e.g. `wine`, for the Windows build), the
/// wrapper with the binary as its first argument. Unset, nothing changes.
pub fn server_command(name: &str) -> Command {
    match bin_wrapper() {
        Some(wrapper) => {
            let mut command = Command::new(wrapper);
            command.arg(binary(name));
            command
        }
        None => Command::new(binary(name)),
    }
}

/// False when the server under test cannot see the symlinks tests make on
/// the host: the Windows build under Wine (`MOAT_BIN_WRAPPER`), which shows
/// a Unix symlink as the file it points to, where real Windows shows an
/// NTFS link that cap-std refuses to follow out. Link attacks are left out
/// of that run only; every native run has them.
pub fn server_sees_host_symlinks() -> bool {
    bin_wrapper().is_none()
}

/// `MOAT_BIN_WRAPPER` when set and not empty: the command the servers under
/// test run through (e.g. `wine`, for the Windows build).
fn bin_wrapper() -> Option<std::ffi::OsString> {
    std::env::var_os("MOAT_BIN_WRAPPER").filter(|wrapper| !wrapper.is_empty())
}

/// [`server_sees_host_symlinks`], saying on stderr what `part` of a test
/// is left out when it is false (the Windows build under Wine shows host
/// symlinks and FIFOs as the plain files or folders behind them); the
/// native runs cover that part.
pub fn links_and_fifos_visible(part: &str) -> bool {
    let visible = server_sees_host_symlinks();
    if !visible {
        eprintln!(
            "skipped under Wine: {part} (Wine shows host symlinks and FIFOs as plain files; the native runs cover it)"
        );
    }
    visible
}

/// Whether the server under test is the native Linux build, not a build
/// run through `MOAT_BIN_WRAPPER` (the Windows build under Wine), saying on
/// stderr what `part` of a test is left out when it is not: Linux-only
/// behaviour (the stdout pipe's size) is the native runs' to check.
pub fn native_linux_server(part: &str) -> bool {
    let native = cfg!(target_os = "linux") && bin_wrapper().is_none();
    if !native {
        eprintln!(
            "skipped for a wrapped or non-Linux build: {part} (the native Linux run covers it)"
        );
    }
    native
}

/// `path` as the Windows build sees it under Wine: drive `Z:` is `/`.
pub fn on_drive_z(path: &str) -> String {
    format!("Z:{}", path.replace('/', "\\"))
}

/// How the server under test shows a root given as the host path `path`:
/// as given, or, for the Windows build under Wine, in the Windows spelling
/// it resolved it to (`Z:\tmp\...`), as it shows every Windows root.
pub fn root_as_shown(path: &str) -> String {
    if server_sees_host_symlinks() {
        path.to_string()
    } else {
        on_drive_z(path)
    }
}

/// A spawned server's command line.
fn command(binary_name: &str, args: &[&str]) -> Command {
    let mut command = server_command(binary_name);
    command.args(args).env("RUST_LOG", "warn");
    command
}

/// Connect over stdio to `binary_name args...` in the given era.
///
/// # Errors
/// When the server does not start or the handshake fails.
pub async fn stdio_client(binary_name: &str, args: &[&str], era: Era) -> Result<Client> {
    stdio_client_with_env(binary_name, args, &[], era).await
}

/// [`stdio_client`] with extra environment variables for the server (an
/// API key the policy names).
///
/// # Errors
/// When the server does not start or the handshake fails.
pub async fn stdio_client_with_env(
    binary_name: &str,
    args: &[&str],
    env: &[(&str, &str)],
    era: Era,
) -> Result<Client> {
    let mut command = command(binary_name, args);
    command.envs(env.iter().copied());
    let command = tokio::process::Command::from(command);
    let transport = TokioChildProcess::new(command.configure(|command| {
        command.stderr(Stdio::inherit());
    }))
    .context("spawn the server")?;
    ClientConfig::default()
        .serve_with_lifecycle(transport, era.lifecycle())
        .await
        .context("MCP startup over stdio")
}

/// A server listening on Streamable HTTP, killed on drop.
pub struct HttpServer {
    /// The child process.
    pub child: Child,
    /// `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Every stderr line the server printed so far.
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl HttpServer {
    /// Start `binary_name args... serve --http-listener-stdin extra...` on a
    /// loopback listener the harness binds and hands over as stdin, so the
    /// address is known without reading the server's output.
    ///
    /// # Errors
    /// When the listener cannot be bound or the server cannot be spawned.
    pub fn start(binary_name: &str, args: &[&str], serve_args: &[&str]) -> Result<Self> {
        Self::start_with_env(binary_name, args, serve_args, &[])
    }

    /// [`HttpServer::start`] with extra environment variables for the
    /// server.
    ///
    /// # Errors
    /// As [`HttpServer::start`].
    pub fn start_with_env(
        binary_name: &str,
        args: &[&str],
        serve_args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Self> {
        // A wrapped binary (the Windows build under Wine) cannot take a
        // Unix socket as stdin.
        if bin_wrapper().is_some() {
            return Self::start_binding(binary_name, args, serve_args, env);
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("bind loopback")?;
        let url = format!("http://{}/mcp", listener.local_addr()?);
        let Some(stdin) = listener_as_stdin(listener) else {
            return Self::start_binding(binary_name, args, serve_args, env);
        };
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["serve", "--http-listener-stdin"]);
        all.extend(serve_args);
        let mut command = command(binary_name, &all);
        command.stdin(stdin);
        // The command, and with it the harness's copy of the listener, is
        // dropped once spawned: the server holds the only one, so its exit
        // refuses connections instead of leaving them queued.
        let (child, lines) = spawn_logged(command, env)?;
        Ok(Self::new(child, url, lines))
    }

    /// Start `binary_name args... serve --http 127.0.0.1:0 extra...`: the
    /// server binds port 0 itself, and the address is read from the line it
    /// prints. Only for tests of that bind and that line.
    ///
    /// # Errors
    /// When the server exits or prints no address within 20 s.
    pub fn start_binding(
        binary_name: &str,
        args: &[&str],
        serve_args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Self> {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["serve", "--http", "127.0.0.1:0"]);
        all.extend(serve_args);
        let mut command = command(binary_name, &all);
        command.stdin(Stdio::null());
        let (mut child, lines) = spawn_logged(command, env)?;
        let start = Instant::now();
        let url = loop {
            let printed = lines
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .find_map(|line| line.split("listening on ").nth(1).map(str::to_string));
            if let Some(address) = printed {
                break address.trim().to_string();
            }
            if start.elapsed() > Duration::from_secs(20) || matches!(child.try_wait(), Ok(Some(_)))
            {
                let _ = child.kill();
                bail!(
                    "the server printed no address: {:?}",
                    lines.lock().map(|l| l.clone())
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Ok(Self::new(child, url, lines))
    }

    fn new(child: Child, url: String, stderr: Arc<Mutex<Vec<String>>>) -> Self {
        let base = url.trim_end_matches("/mcp").to_string();
        Self {
            child,
            url,
            base,
            stderr,
        }
    }

    /// Connect an MCP client in the given era.
    ///
    /// # Errors
    /// When the startup fails.
    pub async fn client(&self, era: Era) -> Result<Client> {
        self.client_with_token(era, None).await
    }

    /// Connect an MCP client that sends `Authorization: Bearer TOKEN`.
    ///
    /// # Errors
    /// When the startup fails (including a 401).
    pub async fn client_with_token(&self, era: Era, token: Option<&str>) -> Result<Client> {
        let mut config = StreamableHttpClientTransportConfig::with_uri(self.url.clone());
        if let Some(token) = token {
            config = config.auth_header(token.to_string());
        }
        let transport = StreamableHttpClientTransport::from_config(config);
        ClientConfig::default()
            .serve_with_lifecycle(transport, era.lifecycle())
            .await
            .context("MCP startup over HTTP")
    }

    /// Everything the server printed on stderr so far, one string.
    pub fn log(&self) -> String {
        self.stderr
            .lock()
            .map(|lines| lines.join("\n"))
            .unwrap_or_default()
    }

    /// `GET /metrics`: the Prometheus text.
    ///
    /// # Panics
    /// When the server does not answer.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.base))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// POST a raw body to `/mcp` with the Accept header MCP requires and
    /// extra `headers`.
    pub async fn post_mcp(&self, headers: &[(&str, &str)], body: String) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(body).send().await.expect("POST /mcp")
    }

    /// Send a signal to the server.
    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status();
    }

    /// Wait for the server to exit, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        wait_exit(&mut self.child, limit)
    }
}

/// `listener` as a child's stdin (Unix); `None` elsewhere.
#[cfg(unix)]
#[expect(
    clippy::unnecessary_wraps,
    reason = "the same signature as the non-Unix version"
)]
fn listener_as_stdin(listener: std::net::TcpListener) -> Option<Stdio> {
    Some(Stdio::from(std::os::fd::OwnedFd::from(listener)))
}

/// `listener` as a child's stdin (Unix); `None` elsewhere.
#[cfg(not(unix))]
fn listener_as_stdin(_listener: std::net::TcpListener) -> Option<Stdio> {
    None
}

/// Spawn `command` with the test log level and `env`, stdout discarded,
/// and every stderr line collected as it comes.
fn spawn_logged(
    mut command: Command,
    env: &[(&str, &str)],
) -> Result<(Child, Arc<Mutex<Vec<String>>>)> {
    let mut child = command
        .envs(env.iter().copied())
        .env(
            "RUST_LOG",
            std::env::var("MOAT_TEST_SERVER_LOG").unwrap_or_else(|_| "info,rmcp=warn".into()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("spawn the server")?;
    drop(command);
    let stderr = child.stderr.take().context("stderr")?;
    let lines = Arc::new(Mutex::new(Vec::new()));
    let collected = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            collected
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(line);
        }
    });
    Ok((child, lines))
}

/// Wait for `child` to exit, up to `limit`; its status, or `None`.
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The JSON-RPC messages in an SSE (or plain JSON) body.
pub fn sse_messages(body: &str) -> Vec<Value> {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        return vec![value];
    }
    body.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .filter(|value| value.get("jsonrpc").is_some())
        .collect()
}

impl Drop for HttpServer {
    /// SIGTERM first, so the server shuts down as in production (moat-scrape
    /// closes Chromium and removes its temporary profile); SIGKILL only if
    /// it is still there after a few seconds.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.signal("TERM");
            if self.wait_exit(Duration::from_secs(5)).is_none() {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

/// The server's transport, for tests that run over both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// stdin/stdout of a child process.
    Stdio,
    /// Streamable HTTP on loopback.
    Http,
}

/// Both transports.
pub const TRANSPORTS: [Transport; 2] = [Transport::Stdio, Transport::Http];

/// A client plus whatever keeps its server alive.
pub struct Session {
    /// The client.
    pub client: Client,
    /// The HTTP server, when the transport is HTTP.
    pub server: Option<HttpServer>,
}

impl Session {
    /// Start `binary_name args...` and connect over `transport` in `era`.
    ///
    /// # Errors
    /// When the server does not start.
    pub async fn start(
        binary_name: &str,
        args: &[&str],
        transport: Transport,
        era: Era,
    ) -> Result<Self> {
        match transport {
            Transport::Stdio => Ok(Self {
                client: stdio_client(binary_name, args, era).await?,
                server: None,
            }),
            Transport::Http => {
                let server = HttpServer::start(binary_name, args, &[])?;
                let client = server.client(era).await?;
                Ok(Self {
                    client,
                    server: Some(server),
                })
            }
        }
    }

    /// Call a tool with JSON arguments.
    ///
    /// # Errors
    /// Protocol errors (unknown tool, transport failure).
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<CallToolResult> {
        call(&self.client, tool, arguments).await
    }
}

/// A 2025-11-25 `initialize` request, as raw JSON.
pub fn initialize_request() -> Value {
    serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "moat-tests", "version": "0"}
        }
    })
}

/// Call a tool with JSON arguments.
///
/// # Errors
/// Protocol errors (unknown tool, transport failure).
pub async fn call(client: &Client, tool: &str, arguments: Value) -> Result<CallToolResult> {
    let arguments: JsonObject = match arguments {
        Value::Object(map) => map,
        other => bail!("arguments must be an object, got {other}"),
    };
    Ok(client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await?)
}

/// The text of a result's content blocks, joined.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Text(text) => Some(text.text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// True when the result is an `isError` result.
pub fn is_error(result: &CallToolResult) -> bool {
    result.is_error == Some(true)
}

/// Keeps `ServiceExt` in scope for callers that build clients by hand.
pub fn _service_ext_in_scope<T: ServiceExt<RoleClient>>(_: &T) {}
pub mod fake_sites;

/// The value of the unlabelled metric `name` in a `/metrics` text.
#[must_use]
pub fn metric<T: std::str::FromStr>(metrics: &str, name: &str) -> Option<T> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the harness built debug binaries but took them from the
    /// test's own profile directory, so `cargo test --release` ran stale
    /// release binaries. The build now names the profile and target
    /// directory the binary is taken from.
    #[test]
    fn binaries_are_built_for_the_profile_they_are_taken_from() {
        let args = build_args(Path::new("/w/target/release"), "moat-fs");
        assert_eq!(
            args,
            [
                "build",
                "--quiet",
                "--profile",
                "release",
                "--bin",
                "moat-fs",
                "--target-dir",
                "/w/target"
            ]
        );
        let args = build_args(Path::new("/w/target/debug"), "moat-scrape");
        assert_eq!(args[2..4], ["--profile", "dev"]);
        assert_eq!(args[6..], ["--target-dir", "/w/target"]);
    }
}
