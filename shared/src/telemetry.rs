//! Tracing to stderr, initialised once per process.
//!
//! stdout belongs to the protocol on stdio, so logs never go there. ANSI
//! colours are off because stderr is usually a log file or a client's pipe.

/// Initialise tracing: stderr, no ANSI, `RUST_LOG` filter (default `info`, rmcp at `warn`).
/// Calling it twice is harmless.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rmcp=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}
