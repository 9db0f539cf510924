//! The subcommands every moat binary shares, so a newcomer can try any tool
//! without an MCP client: `serve` (the default), `tools`, `call`,
//! `check-policy`.
//!
//! Exit codes: 0 success; 1 a tool returned `isError` or the server failed;
//! 2 bad usage or a bad policy file.

use std::{
    future::Future,
    net::{SocketAddr, ToSocketAddrs},
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

use rmcp::model::{CallToolRequestParams, ContentBlock, JsonObject};

use crate::{
    error::Error,
    policy::{HttpPolicy, Policy, http::OAuthPolicy},
    runtime::{
        accounting::Audit,
        auth::Tokens,
        handler::RuntimeState,
        http::{HttpOptions, serve_http, serve_http_on},
        inprocess,
        oauth::OAuth,
        stdio::serve_stdio,
        toolbox::Toolbox,
    },
};

/// Exit code for bad usage or a bad policy file.
pub const EXIT_USAGE: u8 = 2;

/// How long the runtime and the blocking pool wait, together, for blocking
/// work (a read stuck on a slow disk) when the process exits. Past it the
/// process leaves anyway.
const RUNTIME_EXIT_WAIT: Duration = Duration::from_millis(500);

/// A subcommand shared by every moat binary.
#[derive(Debug, Clone, clap::Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "one value parsed once at start-up; boxing ServeArgs would change every binary's match"
)]
pub enum Command {
    /// Serve MCP on stdio (the default) or, with --http, on Streamable HTTP.
    Serve(ServeArgs),
    /// Print the tools/list result as JSON.
    Tools,
    /// Run one tool through the MCP path in this process and print the result.
    Call(CallArgs),
    /// Validate a policy file and exit (0 when valid, 2 when not).
    CheckPolicy {
        /// The policy file.
        file: PathBuf,
    },
}

/// Options of `serve`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// moat-fs: directories to serve, as before the subcommand (`moat-fs
    /// serve --http 127.0.0.1:8080 ~/projects`). Servers without roots
    /// refuse them.
    #[arg(value_name = "ROOT")]
    pub roots: Vec<String>,
    /// Serve Streamable HTTP at /mcp on ADDR (e.g. 127.0.0.1:8080; port 0
    /// picks a free one, printed on stderr) instead of stdio.
    #[arg(long, value_name = "ADDR", conflicts_with = "http_listener_stdin")]
    pub http: Option<String>,
    /// Serve Streamable HTTP on the listening TCP socket given as stdin
    /// (inetd, or systemd `StandardInput=socket`), instead of binding: the
    /// caller bound it and knows its address. Unix only.
    #[arg(long)]
    pub http_listener_stdin: bool,
    /// Accept this Host header too (repeatable; `name` or `name:port`).
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// Accept this Origin header too (repeatable; `https://app.example:443`).
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// Serve HTTP without in-memory sessions, so any replica can answer any
    /// request.
    #[arg(long)]
    pub stateless: bool,
    /// Largest HTTP request body in bytes (413 past it).
    #[arg(long, value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Require a bearer token from this file (one per line; several allowed).
    /// Tokens may also come from the MOAT_TOKENS environment variable.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Serve a non-loopback address without tokens (only when another layer
    /// authenticates, e.g. a reverse proxy).
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Write one JSON line per tool call here (`-` for stderr, the
    /// default).
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub audit_log: String,
    /// Do not write the audit log.
    #[arg(long, conflicts_with = "audit_log")]
    pub no_audit: bool,
    /// Validate OAuth 2.1 access tokens (JWT) against this JWKS (file or
    /// URL); needs --issuer and --audience.
    #[arg(long, value_name = "FILE|URL", requires_all = ["issuer", "audience"])]
    pub jwks: Option<String>,
    /// The `iss` access tokens must carry.
    #[arg(long, value_name = "ISSUER")]
    pub issuer: Option<String>,
    /// This server's identifier, expected in the tokens' `aud`.
    #[arg(long, value_name = "AUDIENCE")]
    pub audience: Option<String>,
    /// A scope every request needs (repeatable).
    #[arg(long = "required-scope", value_name = "SCOPE")]
    pub required_scopes: Vec<String>,
    /// Put the raw tool arguments in the audit log (they may hold file
    /// contents or secrets; off by default, which logs only their SHA-256).
    #[arg(long)]
    pub audit_arguments: bool,
}

/// Options of `call`.
#[derive(Debug, Clone, clap::Args)]
pub struct CallArgs {
    /// The tool's name, as `tools` lists it.
    pub tool: String,
    /// The arguments as one JSON object.
    #[arg(default_value = "{}")]
    pub arguments: String,
    /// Print the whole result as JSON instead of its text.
    #[arg(long)]
    pub json: bool,
}

/// Print a policy problem and return exit code 2.
pub fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_USAGE)
}

/// Load the policy file, or the defaults when none is given.
///
/// # Errors
/// Exit code 2 after printing the file, line and field at fault.
pub fn load_policy(path: Option<&Path>) -> Result<Policy, ExitCode> {
    match path {
        Some(path) => Policy::load(path).map_err(usage_error),
        None => Ok(Policy::default()),
    }
}

/// What every moat binary does first: answer `check-policy` at once, or
/// load the policy (the defaults when none is given).
///
/// # Errors
/// `Err(code)` means "exit now with `code`": the result of `check-policy`,
/// or 2 after printing why the policy file is unusable.
pub fn start(command: Option<&Command>, policy: Option<&Path>) -> Result<Policy, ExitCode> {
    if let Some(Command::CheckPolicy { file }) = command {
        return Err(check_policy(file));
    }
    load_policy(policy)
}

/// `check-policy FILE`.
pub fn check_policy(file: &Path) -> ExitCode {
    match Policy::load(file) {
        Ok(policy) => {
            println!(
                "{}: valid ({} root(s), {} deny glob(s))",
                file.display(),
                policy.roots.len(),
                policy.fs.deny.len()
            );
            ExitCode::SUCCESS
        }
        Err(error) => usage_error(error),
    }
}

/// Run `future` on a multi-threaded runtime, and do not let blocking work
/// hold the process at exit.
pub fn block_on<F: Future<Output = ExitCode>>(future: F) -> ExitCode {
    run_on(&mut tokio::runtime::Builder::new_multi_thread(), future)
}

/// Run `future` on the runtime of a Streamable HTTP server: multi-threaded,
/// with one async worker per two cores (at least one) unless
/// `TOKIO_WORKER_THREADS` says otherwise; tool bodies still run on the
/// blocking pool. An HTTP request crosses several tasks (the connection,
/// rmcp's session worker, the service, the call); with a worker per core
/// each hand-off tends to wake an idle worker (callgrind and strace on a
/// 2-core machine: ~11 futex and ~7 epoll_wait calls per request with two
/// workers, ~2.4 and ~3.3 with one), and the wake-ups cost more than the
/// parallelism gains while the clients share the machine.
pub fn block_on_http<F: Future<Output = ExitCode>>(future: F) -> ExitCode {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        builder.worker_threads((cores / 2).max(1));
    }
    run_on(&mut builder, future)
}

/// Run `future` on a single-threaded runtime (blocking work still runs on
/// the blocking pool), for a server with one client on stdio: every hand-off
/// between the transport, rmcp and the handler stays on one thread instead
/// of waking a second worker, and no idle worker thread is started.
pub fn block_on_current_thread<F: Future<Output = ExitCode>>(future: F) -> ExitCode {
    run_on(&mut tokio::runtime::Builder::new_current_thread(), future)
}

/// Build the runtime from `builder` and run `future` on it.
fn run_on<F: Future<Output = ExitCode>>(
    builder: &mut tokio::runtime::Builder,
    future: F,
) -> ExitCode {
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(future);
    let waited = Instant::now();
    runtime.shutdown_timeout(RUNTIME_EXIT_WAIT);
    crate::runtime::blocking::drain(RUNTIME_EXIT_WAIT.saturating_sub(waited.elapsed()));
    code
}

/// Run a shared subcommand (other than `check-policy`) for `toolbox`.
pub async fn execute(command: Command, http: &HttpPolicy, toolbox: Arc<dyn Toolbox>) -> ExitCode {
    let result = match command {
        Command::Serve(args) => serve(args, http, toolbox.clone())
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Tools => tools(toolbox.clone()).await,
        Command::Call(args) => call(args, toolbox.clone()).await,
        Command::CheckPolicy { file } => Ok(check_policy(&file)),
    };
    // Whatever happened, let the toolbox clean up (moat-scrape kills its
    // browser and removes the profile folder) before the process exits.
    toolbox.shutdown().await;
    result.unwrap_or_else(|error| match error {
        Error::Policy(_) | Error::Config(_) => usage_error(error),
        other => {
            eprintln!("error: {other}");
            ExitCode::FAILURE
        }
    })
}

/// Parse `--http ADDR`: `IP:PORT`, `HOST:PORT` or a bare port (loopback).
#[expect(
    clippy::disallowed_methods,
    reason = "resolves the operator's own --http listen address once at start-up; nothing connects to it"
)]
fn parse_bind(value: &str) -> Result<SocketAddr, Error> {
    if let Ok(port) = value.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    value
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| {
            Error::Config(format!(
                "--http {value:?}: expected ADDR:PORT, e.g. 127.0.0.1:8080"
            ))
        })
}

/// The audit log the `serve` flags ask for.
///
/// # Ambient Authority
/// Opens the operator's audit file for appending, once at start-up.
fn audit_sink(args: &ServeArgs) -> Result<Option<Audit>, Error> {
    if args.no_audit {
        return Ok(None);
    }
    let out: Box<dyn std::io::Write + Send> = if args.audit_log.is_empty() || args.audit_log == "-"
    {
        Box::new(std::io::stderr())
    } else {
        #[expect(
            clippy::disallowed_methods,
            reason = "the operator's audit log is opened once at start-up"
        )]
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&args.audit_log)
            .map_err(|error| {
                Error::Config(format!("cannot open audit log {}: {error}", args.audit_log))
            })?;
        Box::new(file)
    };
    Ok(Some(Audit::new(out, args.audit_arguments)))
}

async fn serve(args: ServeArgs, http: &HttpPolicy, toolbox: Arc<dyn Toolbox>) -> Result<(), Error> {
    // moat-fs takes its roots out before it gets here; anything left is an
    // argument this server does not understand.
    if let Some(extra) = args.roots.first() {
        return Err(Error::Config(format!(
            "unexpected argument {extra:?}: this server takes no directories"
        )));
    }
    let mut state = match audit_sink(&args)? {
        Some(audit) => RuntimeState::with_audit(audit),
        None => RuntimeState::default(),
    };
    state.max_inflight_per_session = http.max_inflight_per_session;
    let state = Arc::new(state);
    let listener = if args.http_listener_stdin {
        Some(stdin_listener()?)
    } else {
        None
    };
    let bind = match (&listener, &args.http) {
        (Some(listener), _) => listener.local_addr()?,
        (None, Some(bind)) => parse_bind(bind)?,
        (None, None) => return serve_stdio(toolbox, state, shutdown_signal()).await,
    };
    let mut options = HttpOptions {
        bind,
        allowed_hosts: http.allowed_hosts.clone(),
        allowed_origins: http.allowed_origins.clone(),
        max_body_bytes: http.max_body_bytes,
        stateless: http.stateless,
        shutdown_grace: Duration::from_millis(http.shutdown_grace_ms),
        tokens: Tokens::load(args.token_file.as_deref().or(http.token_file.as_deref()))?,
        insecure_no_auth: args.insecure_no_auth,
        limits: http.into(),
        oauth: None,
    };
    let oauth = match (&args.jwks, &http.oauth) {
        (Some(jwks), _) => Some(OAuthPolicy {
            jwks: jwks.clone(),
            issuer: args.issuer.clone().unwrap_or_default(),
            audience: args.audience.clone().unwrap_or_default(),
            required_scopes: args.required_scopes.clone(),
            authorization_servers: Vec::new(),
        }),
        (None, Some(policy)) => Some(policy.clone()),
        (None, None) => None,
    };
    if let Some(policy) = oauth {
        options.oauth = Some(OAuth::load(policy).await?);
    }
    options.allowed_hosts.extend(args.allow_hosts);
    options.allowed_origins.extend(args.allow_origins);
    options.stateless |= args.stateless;
    if let Some(bytes) = args.max_body_bytes {
        options.max_body_bytes = bytes;
    }
    match listener {
        Some(listener) => serve_http_on(listener, toolbox, state, options, shutdown_signal()).await,
        None => serve_http(toolbox, state, options, shutdown_signal()).await,
    }
}

/// The listening socket the caller passed as stdin (`--http-listener-stdin`).
///
/// # Errors
/// [`Error::Config`] when stdin is not a listening TCP socket.
#[cfg(unix)]
fn stdin_listener() -> Result<tokio::net::TcpListener, Error> {
    use std::os::fd::AsFd;
    let not_a_listener = |error: std::io::Error| {
        Error::Config(format!(
            "--http-listener-stdin: stdin is not a listening TCP socket ({error})"
        ))
    };
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(not_a_listener)?;
    let listener = std::net::TcpListener::from(fd);
    // A file or a pipe fails here, before anything is served.
    listener.local_addr().map_err(not_a_listener)?;
    listener.set_nonblocking(true).map_err(not_a_listener)?;
    tokio::net::TcpListener::from_std(listener).map_err(not_a_listener)
}

/// Windows has no listening socket on stdin.
#[cfg(not(unix))]
fn stdin_listener() -> Result<tokio::net::TcpListener, Error> {
    Err(Error::Config(
        "--http-listener-stdin is supported on Unix only".into(),
    ))
}

/// Resolves on SIGINT or SIGTERM (Windows: Ctrl-C or Ctrl-Break).
async fn shutdown_signal() {
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate_signal() => {}
    }
}

/// Resolves on SIGTERM (what `kill`, systemd and Docker send).
#[cfg(unix)]
async fn terminate_signal() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

/// Resolves on Ctrl-Break (Windows has no SIGTERM; a service manager or
/// console sends this).
#[cfg(windows)]
async fn terminate_signal() {
    match tokio::signal::windows::ctrl_break() {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

async fn tools(toolbox: Arc<dyn Toolbox>) -> Result<ExitCode, Error> {
    let client = inprocess::connect(toolbox).await?;
    let tools = client
        .list_all_tools()
        .await
        .map_err(|error| Error::Transport(error.to_string()))?;
    let listing = serde_json::json!({ "tools": tools });
    println!(
        "{}",
        serde_json::to_string_pretty(&listing).unwrap_or_default()
    );
    let _ = client.cancel().await;
    Ok(ExitCode::SUCCESS)
}

async fn call(args: CallArgs, toolbox: Arc<dyn Toolbox>) -> Result<ExitCode, Error> {
    let arguments: JsonObject = serde_json::from_str(&args.arguments).map_err(|error| {
        Error::Config(format!("the arguments must be one JSON object: {error}"))
    })?;
    let client = inprocess::connect(toolbox).await?;
    let result = client
        .call_tool(CallToolRequestParams::new(args.tool.clone()).with_arguments(arguments))
        .await;
    let _ = client.cancel().await;
    let result = match result {
        Ok(result) => result,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&result).unwrap_or_default()
        );
    } else {
        for block in &result.content {
            match block {
                ContentBlock::Text(text) => println!("{}", text.text),
                other => println!(
                    "{}",
                    serde_json::to_string(&describe_binary(other)).unwrap_or_default()
                ),
            }
        }
    }
    Ok(if result.is_error == Some(true) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A one-line summary of a non-text content block (the bytes would flood a
/// terminal).
fn describe_binary(content: &ContentBlock) -> serde_json::Value {
    match content {
        ContentBlock::Image(image) => serde_json::json!({
            "type": "image", "mimeType": image.mime_type, "base64_bytes": image.data.len()
        }),
        ContentBlock::Audio(audio) => serde_json::json!({
            "type": "audio", "mimeType": audio.mime_type, "base64_bytes": audio.data.len()
        }),
        other => serde_json::to_value(other).unwrap_or_default(),
    }
}
