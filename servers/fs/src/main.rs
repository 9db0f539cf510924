//! The `moat-fs` binary: arguments, policy, roots, then the shared runtime.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use clap::Parser;
use moat_fs::{
    FsServer,
    trust::{Serving, client_trust},
};
use moat_shared::{
    Toolbox,
    cli::{self, Command, ServeArgs},
    policy::Mode,
    runtime::tool_prefix::Prefixed,
};

/// A sandboxed MCP filesystem server. Every access goes through a directory
/// handle opened once per root; nothing outside the roots can be reached.
#[derive(Debug, Parser)]
#[command(
    name = "moat-fs",
    version,
    subcommand_precedence_over_arg = true,
    after_help = "EXAMPLES:
  moat-fs ~/projects ~/notes:ro            serve two roots on stdio (notes read-only)
  moat-fs ~/projects --ro ~/notes          the same
  moat-fs serve --http 127.0.0.1:8080 .    serve the current folder over Streamable HTTP
  moat-fs --tool-prefix fs_ ~/projects     tools named fs_read_text_file, ... (beside Claude
                                           Desktop's own filesystem extension)
  moat-fs . tools                          print the tools/list JSON
  moat-fs . call list_directory '{\"path\":\".\"}'
  moat-fs . call read_text_file '{\"path\":\"README.md\",\"head\":5}'
  moat-fs --policy policies/strict.toml    roots and limits from a policy file
  moat-fs serve --http 127.0.0.1:8080 --trust-client-roots
                                           no root: serve each HTTP client's MCP roots, read-only
  moat-fs check-policy policies/strict.toml"
)]
struct Cli {
    /// Directories to serve, each optionally suffixed `:ro` (read-only) or
    /// `:rw` (the default). Replace the policy file's roots when given.
    #[arg(value_name = "ROOT")]
    roots: Vec<String>,
    /// Policy file (TOML): roots, deny globs, limits, HTTP settings.
    #[arg(long, global = true, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Serve this directory too (repeatable; same syntax as ROOT).
    #[arg(long = "root", global = true, value_name = "DIR[:ro]")]
    extra_roots: Vec<String>,
    /// Serve these directories read-only (repeatable, or several after one
    /// `--ro`): the form for launchers that cannot append `:ro` (an MCP
    /// Bundle's folder picker). A bare `--ro` (an empty picker) adds none.
    #[arg(long = "ro", global = true, value_name = "DIR", num_args = 0..)]
    ro_roots: Vec<String>,
    /// Put PREFIX before every tool name (`fs_` gives `fs_read_text_file`),
    /// for clients that already have tools with these names, such as Claude
    /// Desktop's built-in filesystem extension. Off by default.
    #[arg(long, global = true, value_name = "PREFIX")]
    tool_prefix: Option<String>,
    /// Make every root read-only: write tools are not even listed.
    #[arg(long, global = true)]
    read_only: bool,
    /// With no root configured, serve the directories each client names in
    /// MCP roots/list, read-only (`=rw`: read-write). Needed for `serve
    /// --http` with no root (which otherwise refuses to start); on stdio,
    /// client roots are served read-write without it.
    #[arg(
        long,
        global = true,
        value_name = "ro|rw",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "ro",
        value_parser = ["ro", "rw"],
    )]
    trust_client_roots: Option<String>,
    /// Hide and refuse paths matching this glob (repeatable), e.g. '**/.env'.
    #[arg(long = "deny", global = true, value_name = "GLOB")]
    deny: Vec<String>,
    /// Byte budget of one result.
    #[arg(long, global = true, value_name = "BYTES")]
    max_result_bytes: Option<usize>,
    /// Deadline of one call, in milliseconds.
    #[arg(long, global = true, value_name = "MS")]
    timeout_ms: Option<u64>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Split `path:ro` / `path:rw`.
fn parse_root(spec: &str) -> (String, Mode) {
    match spec.rsplit_once(':') {
        Some((path, "ro")) => (path.to_string(), Mode::Ro),
        Some((path, "rw")) => (path.to_string(), Mode::Rw),
        _ => (spec.to_string(), Mode::Rw),
    }
}

/// Make a relative root absolute against the working directory.
fn absolute(path: &str) -> String {
    let expanded = moat_fs::root::expand_home(path);
    if expanded.is_absolute() {
        return expanded.to_string_lossy().into_owned();
    }
    let Ok(mut joined) = std::env::current_dir() else {
        return path.to_string();
    };
    for component in expanded.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                joined.pop();
            }
            other => joined.push(other),
        }
    }
    joined.to_string_lossy().into_owned()
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    // Roots given after `serve` count as roots given before it.
    let after_serve = match &mut cli.command {
        Some(Command::Serve(args)) => std::mem::take(&mut args.roots),
        _ => Vec::new(),
    };
    moat_shared::telemetry::init();
    if let Some(Command::CheckPolicy { file }) = &cli.command {
        return cli::check_policy(file);
    }
    let policy = match cli::load_policy(cli.policy.as_deref()) {
        Ok(policy) => policy,
        Err(code) => return code,
    };
    let mut roots: Vec<(String, Mode)> = cli
        .roots
        .iter()
        .chain(&after_serve)
        .chain(&cli.extra_roots)
        .map(|spec| parse_root(spec))
        .chain(cli.ro_roots.iter().map(|path| (path.clone(), Mode::Ro)))
        .collect();
    if roots.is_empty() {
        roots = policy
            .roots
            .iter()
            .map(|root| (root.path.get_ref().clone(), root.mode))
            .collect();
    }
    for (path, mode) in &mut roots {
        *path = absolute(path);
        if cli.read_only {
            *mode = Mode::Ro;
        }
    }
    let mut fs_policy = policy.fs.clone();
    fs_policy.deny.extend(
        cli.deny
            .iter()
            .map(|glob| toml::Spanned::new(0..0, glob.clone())),
    );
    if let Some(bytes) = cli.max_result_bytes {
        fs_policy.max_result_bytes = bytes;
    }
    if let Some(ms) = cli.timeout_ms {
        fs_policy.call_timeout_ms = ms;
    }
    let serving = match &cli.command {
        Some(Command::Serve(ServeArgs {
            http: Some(_),
            stateless,
            ..
        })) => Serving::Http {
            stateless: *stateless || policy.http.stateless,
        },
        _ => Serving::Local,
    };
    let flag = cli.trust_client_roots.as_deref().map(|mode| match mode {
        "rw" => Mode::Rw,
        _ => Mode::Ro,
    });
    let trust = match client_trust(!roots.is_empty(), serving, flag, cli.read_only) {
        Ok(trust) => trust,
        Err(error) => return cli::usage_error(error),
    };
    let server = match FsServer::new(&roots, fs_policy) {
        Ok(server) => server.with_client_trust(trust),
        Err(error) => return cli::usage_error(error),
    };
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    // An empty prefix (a bundle's unset field) is no prefix.
    let toolbox: Arc<dyn Toolbox> = match cli.tool_prefix.filter(|prefix| !prefix.is_empty()) {
        Some(prefix) => Arc::new(Prefixed::new(Arc::new(server), prefix)),
        None => Arc::new(server),
    };
    let execute = cli::execute(command, &policy.http, toolbox);
    // HTTP serves many clients at once: a worker per two cores. Anything
    // else (stdio, `tools`, `call`) serves one, on one thread (tool bodies
    // still run on the blocking pool).
    match serving {
        Serving::Http { .. } => cli::block_on_http(execute),
        Serving::Local => cli::block_on_current_thread(execute),
    }
}
