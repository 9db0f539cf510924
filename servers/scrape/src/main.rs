//! The `moat-scrape` binary: arguments, policy, then the shared runtime.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use clap::Parser;
use moat_scrape::{ScrapeOptions, ScrapeServer};
use moat_shared::cli::{self, Command, ServeArgs};

/// Search and scrape the web for a model, behind an SSRF-proof URL policy.
#[derive(Debug, Parser)]
#[command(
    name = "moat-scrape",
    version,
    after_help = "EXAMPLES:
  moat-scrape                                     serve on stdio with the default policy
  moat-scrape serve --http 127.0.0.1:8080         serve Streamable HTTP
  moat-scrape --policy policies/scrape.toml       limits, URL rules and search provider from a file
  moat-scrape call scrape '{\"url\":\"https://example.com\"}'
  moat-scrape check-policy policies/scrape.toml"
)]
struct Cli {
    /// Policy file (TOML): [url], [scrape], [scrape.search], [http].
    #[arg(long, global = true, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Chromium executable (default: CHROME, then /usr/bin/chromium).
    #[arg(long, global = true, value_name = "PATH")]
    chrome: Option<PathBuf>,
    /// Use the browser at this DevTools WebSocket instead of launching one.
    #[arg(long, global = true, value_name = "URL")]
    browser_ws: Option<String>,
    /// Open this private destination (repeatable; IP, IP:PORT, NAME or NAME:PORT).
    #[arg(long = "allow-private", global = true, value_name = "DEST")]
    allow_private: Vec<String>,
    /// Ignore robots.txt.
    #[arg(long, global = true)]
    ignore_robots_txt: bool,
    /// User-Agent header.
    #[arg(long, global = true, value_name = "UA")]
    user_agent: Option<String>,
    /// Use this SearXNG instance for search.
    #[arg(long, global = true, value_name = "URL")]
    searxng_url: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

fn main() -> ExitCode {
    // The PDF reader's child process (moat_scrape::pdf): before anything
    // else, so it parses no flags, reads no policy and starts no runtime.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == moat_scrape::pdf::CHILD_ARG)
    {
        return moat_scrape::pdf::child_main();
    }
    let cli = Cli::parse();
    moat_shared::telemetry::init();
    let policy = match cli::start(cli.command.as_ref(), cli.policy.as_deref()) {
        Ok(policy) => policy,
        Err(code) => return code,
    };
    let mut url = policy.url.clone();
    url.allow_private.extend(cli.allow_private);
    if let Err(error) = url.validate(std::path::Path::new("--allow-private"), "") {
        return cli::usage_error(error);
    }
    let mut scrape = policy.scrape.clone();
    if cli.ignore_robots_txt {
        scrape.respect_robots = false;
    }
    if let Some(agent) = cli.user_agent {
        scrape.user_agent = agent;
    }
    if let Some(base) = cli.searxng_url {
        scrape.search.provider = Some("searxng".into());
        scrape.search.searxng_url = Some(base);
    }
    let key_variable = scrape
        .search
        .brave_api_key_env
        .clone()
        .unwrap_or_else(|| moat_scrape::search::BRAVE_KEY_ENV.to_string());
    let options = ScrapeOptions {
        url,
        scrape,
        chrome: cli.chrome,
        browser_ws: cli.browser_ws,
        chrome_env: std::env::var("CHROME").ok(),
        brave_key: std::env::var(key_variable).ok(),
        redis_password: policy
            .fleet
            .redis_password_env
            .as_ref()
            .and_then(|variable| std::env::var(variable).ok()),
        fleet: policy.fleet.clone(),
    };
    let server = match ScrapeServer::new(&options) {
        Ok(server) => server,
        Err(error) => return cli::usage_error(error),
    };
    let state = server.engine().state.clone();
    if state.shared() {
        // The listener's per-client buckets live in the fleet's Redis too.
        moat_shared::runtime::rate_limit::share_buckets(Arc::new(moat_scrape::state::Buckets(
            state,
        )));
    }
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    cli::block_on(cli::execute(command, &policy.http, Arc::new(server)))
}
