//! OAuth 2.1 resource-server mode (MCP 2025-11-25 basic/authorization):
//! validate JWT access tokens issued for this server, and publish the
//! protected-resource metadata (RFC 9728) that tells clients where to get
//! them.
//!
//! A token is accepted only when its signature verifies against a key of the
//! configured JWKS (matched by `kid`, with the key's own algorithm: a token
//! cannot choose `none` or switch RS256 for HS256), its `iss` is the issuer,
//! its `aud` contains this server (RFC 8707: never a token meant for
//! someone else), it has not expired, and it carries every required scope.
//!
//! # Security
//! Tokens are never logged. A missing or bad token gets 401 with
//! `WWW-Authenticate: Bearer resource_metadata=…`; a valid token without a
//! required scope gets 403 `insufficient_scope`.

use std::{collections::HashSet, time::Duration};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
#[cfg(feature = "net")]
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{error::Error, policy::http::OAuthPolicy};
#[cfg(feature = "net")]
use crate::{
    net::{self, ClientSettings},
    policy::UrlPolicy,
};

/// Longest wait for the JWKS at start-up, connect and body included: an
/// identity provider answers in well under a second, and a server that
/// hangs should fail to start with a clear line, not hang with it.
pub const JWKS_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest JWKS read: a key set is a few KiB; a megabyte is not a key set.
#[cfg(feature = "net")]
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Redirects followed on the JWKS's own host and port (a moved path);
/// a redirect to another host is never followed.
#[cfg(feature = "net")]
const MAX_JWKS_REDIRECTS: usize = 3;

/// Clock skew tolerated on `exp` and `nbf`: enough for drifting clocks,
/// short enough that a revoked-by-expiry token dies promptly.
const CLOCK_LEEWAY_S: u64 = 30;

/// Where resource metadata is served (RFC 9728 section 3).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No bearer token.
    Missing,
    /// A token that fails validation (reason kept for debug logs only).
    Invalid(String),
    /// A valid token without these required scopes.
    InsufficientScope(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: Option<String>,
    scope: Option<String>,
    scp: Option<Vec<String>>,
}

/// A loaded validator.
#[derive(Clone)]
pub struct OAuth {
    keys: JwkSet,
    policy: OAuthPolicy,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("issuer", &self.policy.issuer)
            .field("audience", &self.policy.audience)
            .finish_non_exhaustive()
    }
}

impl OAuth {
    /// Load the JWKS and build the validator.
    ///
    /// # Ambient Authority
    /// Reads the JWKS file, or fetches the JWKS URL, once at start-up
    /// (through the network funnel: the URL's own host and port are opened
    /// by name, no redirect to another host, [`JWKS_TIMEOUT`] in all).
    ///
    /// # Errors
    /// An unreadable or malformed JWKS, or an empty issuer or audience.
    pub async fn load(policy: OAuthPolicy) -> Result<Self, Error> {
        if policy.issuer.is_empty() || policy.audience.is_empty() {
            return Err(Error::Config(
                "oauth: issuer and audience are both required".into(),
            ));
        }
        let text = if policy.jwks.starts_with("https://") || policy.jwks.starts_with("http://") {
            fetch_jwks(&policy.jwks, JWKS_TIMEOUT).await?
        } else {
            #[expect(
                clippy::disallowed_methods,
                reason = "the operator's JWKS file is read once at start-up"
            )]
            let text = std::fs::read_to_string(&policy.jwks).map_err(|error| {
                Error::Config(format!("oauth: cannot read {}: {error}", policy.jwks))
            })?;
            text
        };
        let keys: JwkSet = serde_json::from_str(&text).map_err(|error| {
            Error::Config(format!("oauth: {} is not a JWKS: {error}", policy.jwks))
        })?;
        if keys.keys.is_empty() {
            return Err(Error::Config(format!(
                "oauth: {} holds no key",
                policy.jwks
            )));
        }
        Ok(Self { keys, policy })
    }

    /// Validate an `Authorization` header value; `Ok(subject)` when the
    /// request may proceed.
    ///
    /// # Errors
    /// Why the request is refused.
    pub fn verify(&self, authorization: Option<&str>) -> Result<String, Refusal> {
        let token = authorization
            .and_then(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or(Refusal::Missing)?;
        let invalid = |reason: String| Refusal::Invalid(reason);
        let header =
            jsonwebtoken::decode_header(token).map_err(|error| invalid(error.to_string()))?;
        let jwk = match &header.kid {
            Some(kid) => self.keys.find(kid),
            None if self.keys.keys.len() == 1 => self.keys.keys.first(),
            None => None,
        }
        .ok_or_else(|| invalid("no key matches the token's kid".into()))?;
        // The key decides the algorithm; the token's header must agree.
        let algorithm = jwk
            .common
            .key_algorithm
            .and_then(|algorithm| Algorithm::try_from(algorithm).ok())
            .unwrap_or(header.alg);
        if algorithm != header.alg {
            return Err(invalid(
                "the token's algorithm does not match its key".into(),
            ));
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|error| invalid(error.to_string()))?;
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.policy.issuer]);
        validation.set_audience(&[&self.policy.audience]);
        validation.leeway = CLOCK_LEEWAY_S;
        validation.validate_nbf = true;
        validation.required_spec_claims = ["exp", "iss", "aud"]
            .into_iter()
            .map(String::from)
            .collect();
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|error| invalid(error.to_string()))?
            .claims;
        let granted: HashSet<String> = claims
            .scope
            .iter()
            .flat_map(|scope| scope.split_whitespace().map(String::from))
            .chain(claims.scp.into_iter().flatten())
            .collect();
        let missing: Vec<String> = self
            .policy
            .required_scopes
            .iter()
            .filter(|scope| !granted.contains(*scope))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(Refusal::InsufficientScope(missing));
        }
        Ok(claims.sub.unwrap_or_else(|| "unknown-subject".into()))
    }

    /// The protected-resource metadata document (RFC 9728 section 2).
    pub fn metadata(&self) -> Value {
        let servers = if self.policy.authorization_servers.is_empty() {
            vec![self.policy.issuer.clone()]
        } else {
            self.policy.authorization_servers.clone()
        };
        json!({
            "resource": self.policy.audience,
            "authorization_servers": servers,
            "scopes_supported": self.policy.required_scopes,
            "bearer_methods_supported": ["header"],
        })
    }

    /// The scopes every request needs, space-separated.
    pub fn required_scopes(&self) -> String {
        self.policy.required_scopes.join(" ")
    }
}

/// GET the JWKS at `url` through the network funnel within `timeout`.
///
/// # Errors
/// [`Error::Config`] naming the URL and the failure: refused, unreachable,
/// redirected to another host, not a success, too large or too slow.
#[cfg(feature = "net")]
async fn fetch_jwks(url: &str, timeout: Duration) -> Result<String, Error> {
    let failed = |why: String| Error::Config(format!("oauth: cannot fetch the JWKS {url}: {why}"));
    let (policy, allowed) =
        UrlPolicy::operator_endpoint(url).map_err(|denied| failed(denied.to_string()))?;
    let settings = ClientSettings {
        connect_timeout: timeout,
        user_agent: concat!("moat/", env!("CARGO_PKG_VERSION")).to_string(),
    };
    let exchange = async {
        let response = net::get_same_origin(
            &policy,
            allowed,
            &HeaderMap::new(),
            &settings,
            MAX_JWKS_REDIRECTS,
            None,
        )
        .await
        .map_err(|error| error.to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP {}", status.as_u16()));
        }
        let body = net::read_capped(response, MAX_JWKS_BYTES)
            .await
            .map_err(|error| error.to_string())?;
        String::from_utf8(body).map_err(|_| "the answer is not UTF-8 text".to_string())
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(why)) => Err(failed(why)),
        Err(_) => Err(failed(format!(
            "no answer within {} s",
            timeout.as_secs_f64()
        ))),
    }
}

/// Without the `net` feature (moat-fs's prebuilt macOS binaries: the TLS
/// stack reqwest brings links Apple frameworks a cross build cannot link),
/// a JWKS URL is refused with the way out: a file.
///
/// # Errors
/// Always [`Error::Config`], one line naming the URL.
#[cfg(not(feature = "net"))]
#[expect(
    clippy::unused_async,
    reason = "the same signature as the fetching build's fetch_jwks"
)]
async fn fetch_jwks(url: &str, _timeout: Duration) -> Result<String, Error> {
    Err(Error::Config(format!(
        "oauth: cannot fetch the JWKS {url}: this build has no HTTP client (built without the \"net\" feature); save the JWKS to a file and give its path as `jwks`"
    )))
}

#[cfg(all(test, not(feature = "net")))]
mod offline_tests {
    use super::*;

    /// Without the `net` feature a JWKS URL fails at once with a line
    /// naming the URL and the file alternative.
    #[tokio::test]
    async fn jwks_url_without_net_feature_names_the_file_alternative() {
        let error = fetch_jwks("https://id.example/jwks.json", JWKS_TIMEOUT)
            .await
            .expect_err("no HTTP client in this build");
        let message = error.to_string();
        assert!(
            message.contains("https://id.example/jwks.json"),
            "{message}"
        );
        assert!(message.contains("to a file"), "{message}");
    }
}

#[cfg(all(test, feature = "net"))]
mod tests {
    use std::{
        io::{BufRead, BufReader, Write},
        net::TcpListener,
        thread,
    };

    use super::*;

    /// A one-connection HTTP server on loopback: it reads the request head,
    /// then sends `answer`, or (`None`) keeps the connection silent until the
    /// client goes away. Returns its base URL.
    fn fake(answer: Option<String>) -> String {
        #[expect(
            clippy::disallowed_methods,
            reason = "test fake on loopback, standing in for an identity provider"
        )]
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        thread::spawn(move || {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                line.clear();
            }
            let mut stream = reader.into_inner();
            match answer {
                Some(answer) => {
                    let _ = stream.write_all(answer.as_bytes());
                }
                // Silent: wait for the client to hang up.
                None => {
                    let _ = BufReader::new(stream).read_line(&mut line);
                }
            }
        });
        base
    }

    /// Regression: the JWKS fetch had no timeout, so an identity provider
    /// that accepts and never answers hung start-up; now it fails with a
    /// timeout error naming the URL.
    #[tokio::test]
    async fn hanging_jwks_fails_with_a_timeout_error() {
        let url = format!("{}/jwks.json", fake(None));
        let error = fetch_jwks(&url, Duration::from_millis(300))
            .await
            .expect_err("a silent JWKS endpoint must fail");
        let message = error.to_string();
        assert!(message.contains("no answer within 0.3 s"), "{message}");
        assert!(message.contains(&url), "{message}");
    }

    /// Regression: the JWKS fetch followed redirects to any host; a
    /// redirect to another host (another port on loopback) is refused, in
    /// one line, and the other host is never contacted.
    #[tokio::test]
    async fn jwks_redirect_to_another_host_is_not_followed() {
        #[expect(
            clippy::disallowed_methods,
            reason = "test listener on loopback that must never be connected to"
        )]
        let other = TcpListener::bind(("127.0.0.1", 0)).expect("bind loopback");
        other.set_nonblocking(true).expect("nonblocking");
        let target = format!("http://{}/jwks.json", other.local_addr().expect("address"));
        let url = fake(Some(format!(
            "HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n"
        )));
        let error = fetch_jwks(&url, Duration::from_secs(5))
            .await
            .expect_err("a redirect to another host must fail");
        let message = error.to_string();
        assert!(message.contains("redirected to another host"), "{message}");
        assert!(!message.contains('\n'), "{message}");
        assert!(other.accept().is_err(), "the other host was contacted");
    }
}
