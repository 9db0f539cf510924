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

use std::collections::HashSet;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::Error;

/// Clock skew tolerated on `exp` and `nbf`: enough for drifting clocks,
/// short enough that a revoked-by-expiry token dies promptly.
const CLOCK_LEEWAY_S: u64 = 30;

/// Where resource metadata is served (RFC 9728 section 3).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

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
    /// Reads the JWKS file, or fetches the JWKS URL, once at start-up.
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
            reqwest::get(&policy.jwks)
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|error| Error::Config(format!("oauth: cannot fetch the JWKS: {error}")))?
                .text()
                .await
                .map_err(|error| Error::Config(format!("oauth: cannot read the JWKS: {error}")))?
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
