//! `moat-conformance-fixture`: the official MCP conformance suite's fixture
//! server (the tools, resources and prompts its scenarios call by name,
//! `test_simple_text` and the rest) served through moat-shared's HTTP
//! runtime, so every scenario of the suite exercises moat's listener,
//! guards and both protocol eras, not only the two product servers' tools.
//!
//! Usage: `moat-conformance-fixture [--policy FILE] serve --http 127.0.0.1:0`;
//! it prints `moat-conformance-fixture listening on http://ADDR/mcp` on
//! stderr. Only the policy's `[http]` limits are used (scripts/conformance.sh
//! gives the three servers it tests the same policy file).
//!
//! # Must never
//! - bind anything but loopback (it has no authentication and its tools
//!   exist only to be probed);
//! - be shipped: it is a test fixture, built from the tests package.

mod fixture;

use std::{net::SocketAddr, path::Path, process::ExitCode, sync::Arc};

use moat_shared::{
    policy::Policy,
    runtime::{
        RuntimeState,
        http::{Fronted, HttpLimits, HttpOptions, serve_handler},
    },
};

/// Name printed on stderr and reported by `/health`.
const NAME: &str = "moat-conformance-fixture";

/// The value after `flag`, when given.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|arg| arg == flag)
        .and_then(|index| args.get(index + 1))
        .map(String::as_str)
}

/// The HTTP limits of the policy after `--policy`, or the defaults.
fn limits(args: &[String]) -> Result<HttpLimits, String> {
    match flag(args, "--policy") {
        Some(path) => Policy::load(Path::new(path))
            .map(|policy| HttpLimits::from(&policy.http))
            .map_err(|error| error.to_string()),
        None => Ok(HttpLimits::default()),
    }
}

/// The address after `--http`, defaulting to an ephemeral loopback port.
fn bind_address(args: &[String]) -> Result<SocketAddr, String> {
    let value = flag(args, "--http").unwrap_or("127.0.0.1:0");
    let address: SocketAddr = value
        .parse()
        .map_err(|error| format!("--http {value:?}: {error}"))?;
    if address.ip().is_loopback() {
        Ok(address)
    } else {
        Err(format!("--http {value}: the fixture binds loopback only"))
    }
}

fn main() -> ExitCode {
    moat_shared::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (bind, limits) = match bind_address(&args).and_then(|bind| Ok((bind, limits(&args)?))) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let shared = Arc::new(fixture::Shared::default());
    let state = Arc::new(RuntimeState::default());
    let fronted = Fronted {
        name: NAME,
        version: env!("CARGO_PKG_VERSION"),
        extra_metrics: Arc::new(String::new),
    };
    let options = HttpOptions {
        bind,
        limits,
        ..HttpOptions::default()
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let served = runtime.block_on(serve_handler(
        move || fixture::Fixture::new(shared.clone()),
        fronted,
        state,
        options,
        shutdown,
    ));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
