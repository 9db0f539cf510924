//! Tracing to stderr, initialised once per process.
//!
//! stdout belongs to the protocol on stdio, so logs never go there. ANSI
//! colours are off because stderr is usually a log file or a client's pipe.

/// Crates capped at `info` whatever `RUST_LOG` asks: chromiumoxide logs
/// raw DevTools messages at debug and trace, and those carry request
/// headers (the policy's per-host secrets included) and page content.
const CAPPED: &[&str] = &["chromiumoxide=info", "chromiumoxide_cdp=info"];

/// Initialise tracing: stderr, no ANSI, `RUST_LOG` filter (default `info`, rmcp at `warn`;
/// the [`CAPPED`] crates never below `info`). Calling it twice is harmless.
pub fn init() {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rmcp=warn"));
    for directive in CAPPED {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        // By default the logger reports a failed write with `eprintln!`,
        // which panics when stderr is a closed pipe (a launcher that stopped
        // reading it): the panic killed whichever task was logging, so calls
        // went unanswered and SIGTERM was ignored. A log line that cannot be
        // written is dropped instead.
        .log_internal_errors(false)
        .try_init();
}
