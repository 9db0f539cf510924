//! The HTTP part of a policy: listener settings every server shares.

use std::path::Path;

use serde::Deserialize;

use crate::{policy::PolicyError, runtime::toolbox_limits::DEFAULT_MAX_BODY_BYTES};

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
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            stateless: false,
            shutdown_grace_ms: crate::runtime::toolbox_limits::SHUTDOWN_GRACE.as_millis() as u64,
            token_file: None,
        }
    }
}

impl HttpPolicy {
    pub(crate) fn validate(&self, file: &Path, source: &str) -> Result<(), PolicyError> {
        if self.max_body_bytes == 0 {
            return Err(PolicyError::at(
                file,
                source,
                source.find("max_body_bytes"),
                "field `max_body_bytes`: must be greater than 0",
            ));
        }
        for origin in &self.allowed_origins {
            if !(origin.starts_with("http://")
                || origin.starts_with("https://")
                || origin == "null")
            {
                return Err(PolicyError::at(
                    file,
                    source,
                    source.find(origin.as_str()),
                    format!(
                        "field `allowed_origins`: {origin:?} needs a scheme (http:// or https://)"
                    ),
                ));
            }
        }
        Ok(())
    }
}
