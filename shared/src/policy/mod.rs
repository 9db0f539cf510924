//! Policy files: what a moat server may touch and how much it may do.
//!
//! A policy is TOML (`policies/*.toml`), parsed into typed structs with
//! `deny_unknown_fields` and validated before the server starts. A bad file
//! is reported as `FILE:LINE:COLUMN: field `name`: reason` and the binary
//! exits with code 2. Command-line flags override the file.
//!
//! - [`fs`]: roots, deny globs and limits for moat-fs.
//! - [`confirm`]: `[fs.confirm]`, when moat-fs asks before destroying data.
//! - [`http`]: listener settings shared by every server.
//! - [`url`]: which destinations moat-scrape may reach (SSRF guard).
//! - [`scrape`]: moat-scrape limits, search provider, politeness and the
//!   `[fleet]` shared state.

pub mod confirm;
pub mod fs;
pub mod http;
pub mod scrape;
pub mod url;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

pub use confirm::{ConfirmPolicy, ConfirmRule};
pub use fs::{FsPolicy, Mode, RootEntry};
pub use http::HttpPolicy;
pub use scrape::{
    FleetPolicy, HostMatch, HostSecrets, PolitenessPolicy, ScrapePolicy, SearchPolicy,
    SecretSource, upstream_proxy_url,
};
pub use url::{AllowedUrl, UrlDenied, UrlPolicy};

/// A whole policy file. Every section is optional; a server reads the
/// sections it uses and ignores the others, so one file can serve a fleet.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Filesystem roots moat-fs may serve.
    #[serde(default)]
    pub roots: Vec<RootEntry>,
    /// moat-fs limits and deny globs.
    #[serde(default)]
    pub fs: FsPolicy,
    /// HTTP listener settings.
    #[serde(default)]
    pub http: HttpPolicy,
    /// Destinations moat-scrape may reach.
    #[serde(default)]
    pub url: UrlPolicy,
    /// moat-scrape limits and search provider.
    #[serde(default)]
    pub scrape: ScrapePolicy,
    /// Where replicas keep shared state (off by default).
    #[serde(default)]
    pub fleet: FleetPolicy,
}

/// A policy file that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", location(*.line, *.column))]
pub struct PolicyError {
    /// The file, as given.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong, naming the field.
    pub message: String,
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(":{line}:{column}"),
        (Some(line), None) => format!(":{line}"),
        _ => String::new(),
    }
}

impl PolicyError {
    /// An error at a byte offset of `source`.
    pub fn at(
        file: &Path,
        source: &str,
        offset: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = match offset {
            Some(offset) => {
                let offset = offset.min(source.len());
                let before = &source[..offset];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |s| s.chars().count()) + 1;
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        Self {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }
}

impl Policy {
    /// Read, parse and validate a policy file.
    ///
    /// # Ambient Authority
    /// Reads `path` from the ambient filesystem: a policy is the operator's
    /// input, read once at start-up, before any root is opened.
    ///
    /// # Errors
    /// A [`PolicyError`] naming the file, line and field.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        #[expect(
            clippy::disallowed_methods,
            reason = "the operator's policy file is read once at start-up, outside any root"
        )]
        let source = std::fs::read_to_string(path).map_err(|error| PolicyError {
            file: path.to_path_buf(),
            line: None,
            column: None,
            message: format!("cannot read: {error}"),
        })?;
        Self::parse(path, &source)
    }

    /// Parse and validate policy text; `path` is only used in messages.
    ///
    /// # Errors
    /// A [`PolicyError`] naming the file, line and field.
    pub fn parse(path: &Path, source: &str) -> Result<Self, PolicyError> {
        let policy: Self = toml::from_str(source).map_err(|error| {
            let offset = error.span().map(|span| span.start);
            let mut message = error.message().trim().replace('\n', " ");
            if let Some(field) = offset.and_then(|offset| field_at(source, offset))
                && !message.contains(&format!("`{field}`"))
            {
                message = format!("field `{field}`: {message}");
            }
            PolicyError::at(path, source, offset, message)
        })?;
        policy.fs.validate(path, source)?;
        policy.http.validate(path, source)?;
        policy.url.validate(path, source)?;
        policy.scrape.validate(path, source)?;
        policy.fleet.validate(path, source)?;
        for root in &policy.roots {
            root.validate(path, source)?;
        }
        Ok(policy)
    }
}

/// The byte offset of the key at `path` (`["scrape", "search",
/// "timeout_ms"]`), from the TOML parser's spans. A plain text search
/// would find the same name in another table, or inside a longer name
/// (`timeout_ms` in `call_timeout_ms`), and report the wrong line.
pub(crate) fn key_offset(source: &str, path: &[&str]) -> Option<usize> {
    span_start(source, path, None)
}

/// The byte offset of entry `index` of the array at `path`, from the TOML
/// parser's spans.
pub(crate) fn entry_offset(source: &str, path: &[&str], index: usize) -> Option<usize> {
    span_start(source, path, Some(index))
}

fn span_start(source: &str, path: &[&str], entry: Option<usize>) -> Option<usize> {
    let document = DeTable::parse(source).ok()?;
    let (last, parents) = path.split_last()?;
    let mut table = document.get_ref();
    for name in parents {
        let (_, value) = table.iter().find(|(key, _)| key.get_ref() == name)?;
        let DeValue::Table(inner) = value.get_ref() else {
            return None;
        };
        table = inner;
    }
    let (key, value) = table.iter().find(|(key, _)| key.get_ref() == last)?;
    match (entry, value.get_ref()) {
        (None, _) => Some(key.span().start),
        (Some(index), DeValue::Array(items)) => items.get(index).map(|item| item.span().start),
        (Some(_), _) => None,
    }
}

/// The key on the line that holds `offset`, for errors whose message does
/// not name the field (type errors name the value, not the key).
fn field_at(source: &str, offset: usize) -> Option<String> {
    let offset = offset.min(source.len());
    let start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = source[start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.starts_with('[')).then(|| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy, PolicyError> {
        Policy::parse(Path::new("p.toml"), text)
    }

    /// An unknown field is refused with its line and name.
    #[test]
    fn unknown_field_names_line_and_field() {
        let error = parse("[fs]\nmax_read_bytes = 10\nmax_red_bytes = 3\n").expect_err("refused");
        assert_eq!(error.line, Some(3));
        assert!(error.to_string().contains("max_red_bytes"), "{error}");
        assert!(error.to_string().starts_with("p.toml:3:"), "{error}");
    }

    /// A wrong type names the field even though toml's message does not.
    #[test]
    fn wrong_type_names_field() {
        let error = parse("[fs]\nmax_entries = \"many\"\n").expect_err("refused");
        assert_eq!(error.line, Some(2));
        assert!(error.to_string().contains("max_entries"), "{error}");
    }

    /// Regression: a field name that appears in two tables was reported at
    /// the first text match (`[scrape.search] timeout_ms = 0` at `[fs]
    /// call_timeout_ms`); the TOML parser's spans name the right line.
    #[test]
    fn duplicated_field_name_is_reported_at_its_own_table() {
        let error = parse("[fs]\ncall_timeout_ms = 100\n\n[scrape.search]\ntimeout_ms = 0\n")
            .expect_err("refused");
        assert_eq!((error.line, error.column), (Some(5), Some(1)), "{error}");
        assert!(error.to_string().contains("`timeout_ms`"), "{error}");
        let error = parse("[http]\nmax_body_bytes = 10\n[scrape]\nmax_body_bytes = 0\n")
            .expect_err("refused");
        assert_eq!(error.line, Some(4), "{error}");
        let error = parse(
            "[http]\nallowed_origins = [\"https://a.example\", \"x\"]\n[url]\nallow_private = [\"x\", \"y:z\"]\n",
        )
        .expect_err("refused");
        assert_eq!((error.line, error.column), (Some(2), Some(41)), "{error}");
    }

    /// Every policy shipped in policies/ parses and validates.
    #[test]
    fn shipped_policies_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
        #[expect(
            clippy::disallowed_methods,
            reason = "test reads the repository's own files"
        )]
        let entries = std::fs::read_dir(&dir).expect("policies/ exists");
        let mut count = 0;
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|ext| ext == "toml") {
                Policy::load(&path).unwrap_or_else(|error| panic!("{error}"));
                count += 1;
            }
        }
        assert!(count >= 2, "expected the shipped policies, found {count}");
    }
}
