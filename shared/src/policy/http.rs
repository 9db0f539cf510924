//! The HTTP part of a policy: listener settings every server shares.

use std::path::Path;

use serde::Deserialize;

use crate::{
    policy::{PolicyError, entry_offset, key_offset},
    runtime::bounds::DEFAULT_MAX_BODY_BYTES,
};

/// Default sustained request rate per client: far above what one agent
/// sends, low enough that one runaway client cannot starve the others.
pub const DEFAULT_RATE_PER_SECOND: f64 = 50.0;
/// Default burst per client: a client listing and calling a few tools at
/// start-up fits.
pub const DEFAULT_RATE_BURST: u32 = 100;
/// Default cap on open sessions: ten times what one small team needs,
/// bounded so a flood of initialisations cannot exhaust memory (a session
/// costs tens of KiB).
pub const DEFAULT_MAX_SESSIONS: u64 = 10_000;
/// Default tool calls one session may run at once.
pub const DEFAULT_MAX_INFLIGHT_PER_SESSION: usize = 32;
/// Default idle lifetime of a session: 30 minutes, longer than a person
/// reading an answer, shorter than a forgotten tab.
pub const DEFAULT_SESSION_IDLE_TIMEOUT_MS: u64 = 30 * 60 * 1000;
/// Default time to send request headers (slowloris guard).
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;

/// `[http]`: listener settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpPolicy {
    /// Extra `Host` values accepted (loopback names are always accepted).
    pub allowed_hosts: Vec<String>,
    /// Extra `Origin` values accepted (this server's own are always accepted).
    pub allowed_origins: Vec<String>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Serve without in-memory sessions.
    pub stateless: bool,
    /// How long shutdown waits for calls in flight, in milliseconds.
    pub shutdown_grace_ms: u64,
    /// File of bearer tokens (one per line) every request must carry.
    pub token_file: Option<std::path::PathBuf>,
    /// Requests per second one client may sustain. Unset: no limit on a
    /// loopback listener (one user's own server), the default limit on any
    /// other address (a shared service).
    pub rate_per_second: Option<f64>,
    /// Requests one client may send in a burst (default as above).
    pub rate_burst: Option<u32>,
    /// Sessions open at once (new ones get 503 past it).
    pub max_sessions: u64,
    /// Tool calls one session may run at once.
    pub max_inflight_per_session: usize,
    /// A session idle this long is closed, in milliseconds.
    pub session_idle_timeout_ms: u64,
    /// Time a client has to send its request headers, in milliseconds.
    pub header_read_timeout_ms: u64,
    /// OAuth 2.1 resource-server mode: validate JWT access tokens.
    pub oauth: Option<OAuthPolicy>,
}

/// `[http.oauth]`: how tokens are validated.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthPolicy {
    /// The JWKS: a file path or an `https://` URL (fetched at start-up).
    pub jwks: String,
    /// The expected `iss`.
    pub issuer: String,
    /// This server's identifier, expected in `aud` (usually its URL).
    pub audience: String,
    /// Scopes every request must carry.
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// Authorization servers clients should get tokens from (defaults to
    /// the issuer).
    #[serde(default)]
    pub authorization_servers: Vec<String>,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            stateless: false,
            shutdown_grace_ms: crate::runtime::bounds::SHUTDOWN_GRACE.as_millis() as u64,
            token_file: None,
            rate_per_second: None,
            rate_burst: None,
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_inflight_per_session: DEFAULT_MAX_INFLIGHT_PER_SESSION,
            session_idle_timeout_ms: DEFAULT_SESSION_IDLE_TIMEOUT_MS,
            header_read_timeout_ms: DEFAULT_HEADER_READ_TIMEOUT_MS,
            oauth: None,
        }
    }
}

impl HttpPolicy {
    pub(crate) fn validate(&self, file: &Path, source: &str) -> Result<(), PolicyError> {
        let positive = [
            (
                "rate_burst",
                u64::from(self.rate_burst.unwrap_or(DEFAULT_RATE_BURST)),
            ),
            ("max_sessions", self.max_sessions),
            (
                "max_inflight_per_session",
                self.max_inflight_per_session as u64,
            ),
            ("session_idle_timeout_ms", self.session_idle_timeout_ms),
            ("header_read_timeout_ms", self.header_read_timeout_ms),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(PolicyError::at(
                    file,
                    source,
                    key_offset(source, &["http", field]),
                    format!("field `{field}`: must be greater than 0"),
                ));
            }
        }
        let rate = self.rate_per_second.unwrap_or(DEFAULT_RATE_PER_SECOND);
        if !(rate > 0.0 && rate.is_finite()) {
            return Err(PolicyError::at(
                file,
                source,
                key_offset(source, &["http", "rate_per_second"]),
                "field `rate_per_second`: must be a positive number",
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(PolicyError::at(
                file,
                source,
                key_offset(source, &["http", "max_body_bytes"]),
                "field `max_body_bytes`: must be greater than 0",
            ));
        }
        for (index, origin) in self.allowed_origins.iter().enumerate() {
            if !(origin.starts_with("http://")
                || origin.starts_with("https://")
                || origin == "null")
            {
                return Err(PolicyError::at(
                    file,
                    source,
                    entry_offset(source, &["http", "allowed_origins"], index),
                    format!(
                        "field `allowed_origins`: {origin:?} needs a scheme (http:// or https://)"
                    ),
                ));
            }
        }
        Ok(())
    }
}
