//! How a path in a tool result is spelled: the client's base path as it
//! gave it, joined to a walk-relative path with the separator the client
//! itself used.
//!
//! On Windows a base written with `\` (`C:\proj`) gets `\` throughout
//! (`C:\proj\src\main.rs`), the native spelling the reference server
//! returns and the one a Windows client pastes back; a base written with
//! `/` keeps `/`. Elsewhere the separator is always `/`, and `\` is an
//! ordinary character of a name.
//!
//! # Must never
//! - touch the filesystem: it only spells paths the walk already checked;
//! - mix separators inside the part it joins.

use std::path::Path;

/// `base` joined with `rel` (walk-relative, native separators), spelled in
/// the base's own style. A base of `.` or empty gives `rel` alone.
pub fn join(base: &str, rel: &Path) -> String {
    join_for(base, rel, cfg!(windows))
}

/// The parent part of a client path, in its own spelling: `/` for a file
/// directly under `/`, `.` for a bare name.
pub fn parent(path: &str) -> String {
    parent_for(path, cfg!(windows))
}

/// The characters that separate names on this platform's client paths.
fn separators(windows: bool) -> &'static [char] {
    if windows { &['/', '\\'] } else { &['/'] }
}

fn join_for(base: &str, rel: &Path, windows: bool) -> String {
    let separator = if windows && base.contains('\\') {
        "\\"
    } else {
        "/"
    };
    let rel = rel
        .components()
        .map(|component| component.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join(separator);
    if base == "." || base.is_empty() {
        return rel;
    }
    format!(
        "{}{separator}{rel}",
        base.trim_end_matches(separators(windows))
    )
}

fn parent_for(path: &str, windows: bool) -> String {
    match path.rsplit_once(separators(windows)) {
        Some((base, _)) if !base.is_empty() => base.to_string(),
        Some((_, _)) => path[..1].to_string(),
        None => ".".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn rel(names: &[&str]) -> PathBuf {
        names.iter().collect()
    }

    /// Regression (Wine run): search results on Windows mixed separators
    /// (`C:\proj/src\main.rs`); a `\` base now gets `\` throughout, a `/`
    /// base `/` throughout.
    #[test]
    fn windows_results_use_the_separator_of_the_base() {
        let path = rel(&["src", "main.rs"]);
        assert_eq!(join_for(r"C:\proj", &path, true), r"C:\proj\src\main.rs");
        assert_eq!(join_for(r"C:\proj\", &path, true), r"C:\proj\src\main.rs");
        assert_eq!(join_for(r"C:\", &path, true), r"C:\src\main.rs");
        assert_eq!(join_for("C:/proj/", &path, true), "C:/proj/src/main.rs");
        assert_eq!(join_for("/tmp/root", &path, true), "/tmp/root/src/main.rs");
        assert_eq!(join_for(".", &path, true), "src/main.rs");
    }

    /// Off Windows `/` is the only separator, and a `\` in a base is part
    /// of a name.
    #[test]
    fn unix_results_always_use_slash() {
        let path = rel(&["src", "main.rs"]);
        assert_eq!(join_for("/srv/a\\b", &path, false), "/srv/a\\b/src/main.rs");
        assert_eq!(join_for("/", &path, false), "/src/main.rs");
        assert_eq!(join_for("", &path, false), "src/main.rs");
    }

    /// Regression (Wine run): a single file named with `\` was shown as its
    /// bare name, because only `/` split off its parent.
    #[test]
    fn parent_splits_on_the_platform_separators() {
        assert_eq!(parent_for(r"C:\proj\a.txt", true), r"C:\proj");
        assert_eq!(parent_for("C:/proj/a.txt", true), "C:/proj");
        assert_eq!(parent_for(r"\a.txt", true), r"\");
        assert_eq!(parent_for("/a.txt", false), "/");
        assert_eq!(parent_for(r"dir\a.txt", false), ".");
        assert_eq!(parent_for("a.txt", true), ".");
    }
}
