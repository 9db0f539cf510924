//! Set-up shared by moat-scrape's network suites (render=http in
//! `scrape_e2e`, the browser in `scrape_browser`): a declared host with
//! secrets and another host, an upstream proxy, and a server spawned with
//! secret environment variables whose stderr is kept for a grep.
//!
//! Must never: bind or reach anything but 127.0.0.1.

use std::{path::PathBuf, process::Stdio};

use rmcp::{ServiceExt, model::ClientConfig, transport::TokioChildProcess};

use crate::{
    Client,
    fake_sites::{FakeServer, other_router, wiki_router},
};

/// The token's environment variable and value.
pub const TOKEN_ENV: (&str, &str) = ("MOAT_TEST_WIKI_TOKEN", "wiki-token-3f9a1c77e2");
/// The session cookie's environment variable and value.
pub const COOKIE_ENV: (&str, &str) = ("MOAT_TEST_WIKI_SESSION", "session-8d0b5e44aa");

/// The wiki (declared secrets), another host, and a policy opening both
/// with `extra` appended to `[scrape]`.
pub struct SecretWorld {
    /// The host the secrets are declared for.
    pub wiki: FakeServer,
    /// Any other host.
    pub other: FakeServer,
    dir: tempfile::TempDir,
    /// The policy file.
    pub policy: PathBuf,
}

impl SecretWorld {
    /// Start both hosts and write the policy.
    ///
    /// # Panics
    /// When the temp folder cannot be written.
    pub async fn new(extra: &str) -> Self {
        let other = FakeServer::start(other_router()).await;
        let wiki = FakeServer::start(wiki_router(other.authority())).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let policy = dir.path().join("policy.toml");
        let text = format!(
            "[url]\nallow_private = [\"{wiki}\", \"{other}\"]\n\n[scrape]\nhttp_timeout_ms = 3000\n\
             browser_timeout_ms = 8000\nrobots_timeout_ms = 2000\n{extra}\n\n\
             [[scrape.hosts]]\nhost = \"{wiki}\"\n\
             headers = {{ \"X-Wiki-Token\" = {{ env = \"{}\", prefix = \"Bearer \" }}, \"X-Plain\" = \"visible\" }}\n\
             cookies = {{ session = {{ env = \"{}\" }} }}\n",
            TOKEN_ENV.0,
            COOKIE_ENV.0,
            wiki = wiki.authority(),
            other = other.authority(),
        );
        std::fs::write(&policy, text).expect("write policy");
        Self {
            wiki,
            other,
            dir,
            policy,
        }
    }

    /// Where the server's stderr goes.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("stderr.log")
    }

    /// moat-scrape over stdio with the secrets in its environment, logging
    /// at debug level into [`SecretWorld::log_path`].
    ///
    /// # Panics
    /// When the server does not start.
    pub async fn client(&self) -> Client {
        let log = std::fs::File::create(self.log_path()).expect("log file");
        let mut command = tokio::process::Command::new(crate::binary("moat-scrape"));
        command
            .args(["--policy", &self.policy.display().to_string()])
            .env("RUST_LOG", "debug")
            .env(TOKEN_ENV.0, TOKEN_ENV.1)
            .env(COOKIE_ENV.0, COOKIE_ENV.1);
        let (transport, _) = TokioChildProcess::builder(command)
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn");
        ClientConfig::default()
            .serve(transport)
            .await
            .expect("MCP startup")
    }

    /// The server's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The secret header and cookie a request to `server` carried.
    pub fn secrets_seen(server: &FakeServer, path: &str) -> Vec<(Option<String>, Option<String>)> {
        server
            .hits()
            .iter()
            .filter(|hit| hit.target == path)
            .map(|hit| {
                let find = |name: &str| {
                    hit.headers
                        .iter()
                        .find(|(header, _)| header == name)
                        .map(|(_, value)| value.clone())
                };
                (find("x-wiki-token"), find("cookie"))
            })
            .collect()
    }

    /// True when `text` holds either secret value.
    pub fn leaks(text: &str) -> bool {
        text.contains(TOKEN_ENV.1) || text.contains(COOKIE_ENV.1)
    }
}
