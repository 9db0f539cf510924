//! Static bearer tokens for the HTTP listener.
//!
//! MCP 2025-11-25 basic/authorization and the security best practices:
//! a server reachable by others SHOULD authenticate. Tokens come from a
//! file (`--token-file`, one per line) or the `MOAT_TOKENS` environment
//! variable (comma-separated); several may be valid at once, so they can be
//! rotated without downtime.
//!
//! # Security
//! Comparison is constant-time in the token's content. Tokens are never
//! logged, and a refused request learns only that it was refused.

use std::path::Path;

use crate::error::Error;

/// Environment variable holding comma-separated tokens.
pub const TOKENS_ENV: &str = "MOAT_TOKENS";

/// Shortest token accepted: anything shorter is guessable.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The set of accepted bearer tokens.
#[derive(Clone, Default)]
pub struct Tokens(Vec<Vec<u8>>);

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} redacted)", self.0.len())
    }
}

impl Tokens {
    /// Tokens from `text`: one per line (or comma), blanks and `#` comments
    /// ignored.
    ///
    /// # Errors
    /// A token shorter than [`MIN_TOKEN_CHARS`] or with whitespace inside.
    pub fn parse(text: &str, source: &str) -> Result<Self, Error> {
        let mut tokens = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            for token in line
                .split(',')
                .map(str::trim)
                .filter(|token| !token.is_empty())
            {
                if token.chars().count() < MIN_TOKEN_CHARS || token.contains(char::is_whitespace) {
                    return Err(Error::Config(format!(
                        "{source}:{}: a token must be at least {MIN_TOKEN_CHARS} characters without spaces",
                        index + 1
                    )));
                }
                tokens.push(token.as_bytes().to_vec());
            }
        }
        Ok(Self(tokens))
    }

    /// Tokens from an optional file and the [`TOKENS_ENV`] variable.
    ///
    /// # Ambient Authority
    /// Reads the operator's token file once at start-up.
    ///
    /// # Errors
    /// An unreadable file or a malformed token.
    pub fn load(file: Option<&Path>) -> Result<Self, Error> {
        let mut tokens = Self::default();
        if let Some(file) = file {
            #[expect(
                clippy::disallowed_methods,
                reason = "the operator's token file is read once at start-up"
            )]
            let text = std::fs::read_to_string(file).map_err(|error| {
                Error::Config(format!(
                    "cannot read token file {}: {error}",
                    file.display()
                ))
            })?;
            tokens
                .0
                .extend(Self::parse(&text, &file.display().to_string())?.0);
        }
        if let Ok(text) = std::env::var(TOKENS_ENV) {
            tokens.0.extend(Self::parse(&text, TOKENS_ENV)?.0);
        }
        Ok(tokens)
    }

    /// True when no token is configured (auth off).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an `Authorization` header value carries a valid token.
    pub fn accepts(&self, authorization: Option<&str>) -> bool {
        self.identify(authorization).is_some()
    }

    /// Which configured token (by position) an `Authorization` value
    /// carries, if any.
    pub fn identify(&self, authorization: Option<&str>) -> Option<usize> {
        let presented = authorization.and_then(bearer)?;
        // Every token is compared, so timing does not tell which one matched.
        self.0
            .iter()
            .enumerate()
            .fold(None, |found, (index, token)| {
                if constant_time_eq(token, presented.as_bytes()) {
                    Some(index)
                } else {
                    found
                }
            })
    }
}

/// The token of a `Bearer` authorization value (scheme case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compare without an early exit on the first differing byte. Only the
/// length can be learnt from timing, and tokens are long random strings.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "s3cret-token-0123456789";

    /// Only a listed token with the Bearer scheme is accepted.
    #[test]
    fn accepts_only_listed_bearer_tokens() {
        let tokens =
            Tokens::parse(&format!("# ops\n{GOOD}\nanother-token-abcdefgh\n"), "t").expect("parse");
        assert!(tokens.accepts(Some(&format!("Bearer {GOOD}"))));
        assert!(tokens.accepts(Some(&format!("bearer {GOOD}"))));
        assert!(tokens.accepts(Some("Bearer another-token-abcdefgh")));
        for bad in [
            None,
            Some(""),
            Some(GOOD),
            Some("Bearer"),
            Some("Bearer wrong-token-0123456789"),
            Some(&format!("Basic {GOOD}")),
            Some(&format!("Bearer {GOOD}x")),
        ] {
            assert!(!tokens.accepts(bad), "{bad:?}");
        }
    }

    /// Short tokens are refused at load time, with the line.
    #[test]
    fn short_tokens_are_refused() {
        let error =
            Tokens::parse("ok-token-0123456789abc\nshort\n", "tokens.txt").expect_err("short");
        assert!(error.to_string().contains("tokens.txt:2"), "{error}");
    }

    /// The debug form never shows a token.
    #[test]
    fn debug_redacts() {
        let tokens = Tokens::parse(GOOD, "t").expect("parse");
        assert!(!format!("{tokens:?}").contains(GOOD));
    }
}
