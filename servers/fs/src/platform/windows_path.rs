//! Windows path semantics: which client paths mean what, and which are
//! refused, before anything is compared with a root.
//!
//! Pure string logic, compiled and unit-tested on every OS; `root.rs` uses
//! it to resolve paths on Windows (on Unix `\` and `:` are ordinary name
//! characters, so these rules would refuse real names there).
//!
//! Each class, and what happens to it:
//! - drive letters in any case (`c:\x` is `C:\x`), `/` and `\` alike;
//! - a rooted path without a drive (`\x`, `/tmp/x`) names that path on the
//!   drive of the root it falls in;
//! - UNC (`\\server\share\x`): served only inside a root that is on the
//!   same share (server and share compared case-insensitively);
//! - verbatim `\\?\C:\x` and `\\?\UNC\server\share\x`: the same path as
//!   without the prefix; any other verbatim form (`\\?\Volume{..}`,
//!   `\\?\GLOBALROOT`) is refused;
//! - device paths `\\.\` and NT paths `\??\`: refused (they reach pipes,
//!   consoles and raw disks, never a root's files);
//! - drive-relative `C:x` (no slash): refused, it depends on a per-drive
//!   current directory the server does not have;
//! - reserved device names (`CON`, `PRN`, `AUX`, `NUL`, `COM0`-`COM9`,
//!   `LPT0`-`LPT9`, `CONIN$`, `CONOUT$`), in any case, with any extension
//!   or trailing spaces (`nul.txt`, `Com1 .log`): refused, Windows opens
//!   the device instead of a file;
//! - alternate data streams (`file.txt:stream`, `file::$DATA`): refused,
//!   a stream is a second content that listings do not show and deny
//!   globs do not name;
//! - 8.3 short names (`PROGRA~1`): refused, a second name for a long one
//!   that deny globs would not match;
//! - trailing dots and spaces (`.env.`, `notes.txt `): refused, Windows
//!   drops them, so the name would mean another file than it says;
//! - `< > " | ? *` and control characters: refused, never valid in a name.
//!
//! `.` and `..` are resolved lexically; `..` above the start is refused.
//! Junctions and symlinks are not decided here: every access goes through
//! the root's cap-std handle, which refuses a link or junction leading out.
//!
//! # Must never
//! - accept a path whose meaning on Windows differs from what it says;
//! - compare names case-sensitively on Windows (NTFS is not).

/// Where a path starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor {
    /// Relative to a root (`a\b`).
    Relative,
    /// `\a\b`: from the top of the drive of the root it falls in.
    Rooted,
    /// `C:\a\b` (the letter upper-cased).
    Drive(char),
    /// `\\server\share\a\b` (both lower-cased).
    Unc {
        /// The server name.
        server: String,
        /// The share name.
        share: String,
    },
}

/// A parsed path: where it starts and its names, `.` and `..` resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowsPath {
    /// Where it starts.
    pub anchor: Anchor,
    /// The names after the anchor, as written (case kept).
    pub names: Vec<String>,
}

/// Why a path is not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The path's class is never served; the text says which and why.
    Refused(&'static str),
    /// `..` climbs above where the path starts.
    ClimbsOut,
}

/// Reserved device names, upper-case (Windows matches them in any case).
const DEVICE_NAMES: &[&str] = &["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"];

/// Parse `path` with Windows rules.
///
/// # Errors
/// [`Refusal::Refused`] for a refused class (see the module doc),
/// [`Refusal::ClimbsOut`] for `..` above the start.
pub fn parse(path: &str) -> Result<WindowsPath, Refusal> {
    let unified = path.replace('/', "\\");
    let (anchor, rest) = anchor_of(&unified)?;
    let mut names: Vec<String> = Vec::new();
    for name in rest.split('\\') {
        match name {
            "" | "." => {}
            ".." => {
                if names.pop().is_none() {
                    return Err(Refusal::ClimbsOut);
                }
            }
            name => {
                check_name(name)?;
                names.push(name.to_string());
            }
        }
    }
    Ok(WindowsPath { anchor, names })
}

/// Split off where the path starts; the rest is `\`-separated names.
fn anchor_of(path: &str) -> Result<(Anchor, &str), Refusal> {
    if let Some(verbatim) = path.strip_prefix("\\\\?\\") {
        if let Some(unc) = strip_prefix_folded(verbatim, "UNC\\") {
            return unc_anchor(unc);
        }
        return match drive_anchor(verbatim)? {
            Some((anchor @ Anchor::Drive(_), rest)) => Ok((anchor, rest)),
            _ => Err(Refusal::Refused(
                "verbatim paths (\\\\?\\) other than \\\\?\\C:\\ and \\\\?\\UNC\\ are not served",
            )),
        };
    }
    if path.starts_with("\\\\.\\") || path.starts_with("\\??\\") {
        return Err(Refusal::Refused(
            "device paths (\\\\.\\ and \\??\\) are never served",
        ));
    }
    if let Some(unc) = path.strip_prefix("\\\\") {
        return unc_anchor(unc);
    }
    if let Some(found) = drive_anchor(path)? {
        return Ok(found);
    }
    if let Some(rest) = path.strip_prefix('\\') {
        return Ok((Anchor::Rooted, rest));
    }
    Ok((Anchor::Relative, path))
}

/// `C:\rest` → `(Drive('C'), rest)`; `C:rest` is refused; anything else
/// is `None`.
fn drive_anchor(path: &str) -> Result<Option<(Anchor, &str)>, Refusal> {
    let mut chars = path.chars();
    let (Some(letter), Some(':')) = (chars.next(), chars.next()) else {
        return Ok(None);
    };
    if !letter.is_ascii_alphabetic() {
        return Ok(None);
    }
    let rest = &path[2..];
    if rest.is_empty() || rest.starts_with('\\') {
        return Ok(Some((Anchor::Drive(letter.to_ascii_uppercase()), rest)));
    }
    Err(Refusal::Refused(
        "drive-relative paths (C:name, no slash after the colon) are not served: write C:\\name",
    ))
}

/// `server\share\rest` → the UNC anchor and `rest`.
fn unc_anchor(unc: &str) -> Result<(Anchor, &str), Refusal> {
    let mut parts = unc.splitn(3, '\\');
    let server = parts.next().unwrap_or_default();
    let share = parts.next().unwrap_or_default();
    if server.is_empty() || share.is_empty() || server == "." || server == "?" {
        return Err(Refusal::Refused(
            "a UNC path needs a server and a share (\\\\server\\share\\...)",
        ));
    }
    Ok((
        Anchor::Unc {
            server: fold(server),
            share: fold(share),
        },
        parts.next().unwrap_or_default(),
    ))
}

/// Refuse a name Windows would read as something else.
fn check_name(name: &str) -> Result<(), Refusal> {
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, '<' | '>' | '"' | '|' | '?' | '*'))
    {
        return Err(Refusal::Refused(
            "a name contains < > \" | ? * or a control character, which Windows never allows",
        ));
    }
    if name.contains(':') {
        return Err(Refusal::Refused(
            "alternate data streams (name:stream, ::$DATA) are not served",
        ));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Err(Refusal::Refused(
            "a name ends with a dot or a space, which Windows drops (it would name another file)",
        ));
    }
    let stem = name.split('.').next().unwrap_or_default().trim_end();
    if is_device_name(stem) {
        return Err(Refusal::Refused(
            "reserved device names (CON, NUL, COM1, LPT1, ..., also with an extension) are not served",
        ));
    }
    if is_short_name(name) {
        return Err(Refusal::Refused(
            "8.3 short names (PROGRA~1) are not served: use the long name",
        ));
    }
    Ok(())
}

/// `CON`, `nul`, `COM1`, `lpt9`, `COM¹`...: a device, whatever follows.
fn is_device_name(stem: &str) -> bool {
    let upper = stem.to_uppercase();
    if DEVICE_NAMES.contains(&upper.as_str()) {
        return true;
    }
    let Some(number) = upper
        .strip_prefix("COM")
        .or_else(|| upper.strip_prefix("LPT"))
    else {
        return false;
    };
    let mut chars = number.chars();
    matches!(
        (chars.next(), chars.next()),
        (Some('0'..='9' | '¹' | '²' | '³'), None)
    )
}

/// The 8.3 alias form: at most eight characters in all (a head, `~`, digits), and an optional
/// extension of up to three (`PROGRA~1`, `LONGF~12.TXT`).
fn is_short_name(name: &str) -> bool {
    let (base, extension) = name.split_once('.').unwrap_or((name, ""));
    let Some((head, digits)) = base.split_once('~') else {
        return false;
    };
    !head.is_empty()
        && base.len() <= 8
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && extension.len() <= 3
        && !extension.contains('.')
}

/// Case-fold a name for comparison (NTFS compares names case-insensitively).
pub fn fold(name: &str) -> String {
    name.chars().flat_map(char::to_lowercase).collect()
}

/// `text` without `prefix`, compared case-insensitively.
fn strip_prefix_folded<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// The names of `path` below `root`, when `path` lies inside it: same
/// drive or share (a rooted path takes the root's), then the root's names
/// as whole names, case-insensitively. `None` when it is not inside.
pub fn strip_root<'a>(path: &'a WindowsPath, root: &WindowsPath) -> Option<&'a [String]> {
    let same_anchor = match (&path.anchor, &root.anchor) {
        (Anchor::Rooted, Anchor::Drive(_) | Anchor::Unc { .. }) => true,
        (Anchor::Relative, _) => false,
        (left, right) => left == right,
    };
    if !same_anchor || path.names.len() < root.names.len() {
        return None;
    }
    let inside = path
        .names
        .iter()
        .zip(&root.names)
        .all(|(name, root_name)| fold(name) == fold(root_name));
    inside.then(|| &path.names[root.names.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drive(letter: char, names: &[&str]) -> WindowsPath {
        WindowsPath {
            anchor: Anchor::Drive(letter),
            names: names.iter().map(ToString::to_string).collect(),
        }
    }

    /// Drive letters in any case, both separators, verbatim prefixes and
    /// `..` inside the path all parse to the same drive path.
    #[test]
    fn drive_paths_parse_the_same_in_every_spelling() {
        let expected = drive('C', &["Users", "me", "x.txt"]);
        for path in [
            "C:\\Users\\me\\x.txt",
            "c:/Users/me/x.txt",
            "C:/Users\\me//x.txt",
            "\\\\?\\C:\\Users\\me\\x.txt",
            "c:\\Users\\me\\sub\\..\\.\\x.txt",
        ] {
            assert_eq!(parse(path), Ok(expected.clone()), "{path}");
        }
        assert_eq!(parse("C:\\"), Ok(drive('C', &[])));
        assert_eq!(parse("C:"), Ok(drive('C', &[])));
    }

    /// Rooted, relative and UNC paths keep their anchor; verbatim UNC is
    /// plain UNC.
    #[test]
    fn anchors_are_told_apart() {
        assert_eq!(parse("\\tmp\\x").map(|p| p.anchor), Ok(Anchor::Rooted));
        assert_eq!(parse("/tmp/x").map(|p| p.anchor), Ok(Anchor::Rooted));
        assert_eq!(parse("a\\b").map(|p| p.anchor), Ok(Anchor::Relative));
        let unc = Anchor::Unc {
            server: "server".into(),
            share: "share".into(),
        };
        assert_eq!(
            parse("\\\\Server\\Share\\a").map(|p| p.anchor),
            Ok(unc.clone())
        );
        assert_eq!(
            parse("\\\\?\\unc\\server\\SHARE\\a").map(|p| p.anchor),
            Ok(unc)
        );
    }

    /// Every refused class is refused with its own reason.
    #[test]
    fn refused_classes_say_why() {
        for (path, word) in [
            ("\\\\.\\PhysicalDrive0", "device paths"),
            ("\\\\.\\pipe\\x", "device paths"),
            ("\\??\\C:\\x", "device paths"),
            ("\\\\?\\GLOBALROOT\\Device", "verbatim"),
            ("\\\\?\\Volume{1234}\\x", "verbatim"),
            ("\\\\server", "server and a share"),
            ("C:x.txt", "drive-relative"),
            ("CON", "device names"),
            ("a\\nul.txt", "device names"),
            ("Com1 .log", "device names"),
            ("lpt9", "device names"),
            ("COM¹", "device names"),
            ("conout$", "device names"),
            ("file.txt:stream", "data streams"),
            ("file.txt::$DATA", "data streams"),
            ("C:\\PROGRA~1\\x", "short names"),
            ("LONGF~12.TXT", "short names"),
            (".env.", "dot or a space"),
            ("notes.txt ", "dot or a space"),
            ("a\\b.\\c", "dot or a space"),
            ("what?.txt", "never allows"),
            ("a*b", "never allows"),
            ("a|b", "never allows"),
        ] {
            match parse(path) {
                Err(Refusal::Refused(reason)) => {
                    assert!(reason.contains(word), "{path}: {reason}");
                }
                other => panic!("{path} was not refused: {other:?}"),
            }
        }
    }

    /// Names that only look like a refused class are ordinary names.
    #[test]
    fn near_misses_are_ordinary_names() {
        for path in [
            "console.txt",
            "COM10",
            "LPTX",
            "nullable",
            "a~b.txt",
            "TOOLONGNAME~1",
            "x~1.long",
            "~1",
            ".env",
            "..a",
            "a.b.c",
        ] {
            assert!(parse(path).is_ok(), "{path} was refused: {:?}", parse(path));
        }
    }

    /// `..` above the start climbs out, whatever the anchor.
    #[test]
    fn climbing_above_the_start_is_refused() {
        for path in ["..", "a\\..\\..", "C:\\..", "\\\\s\\sh\\..\\x", "/.."] {
            assert_eq!(parse(path), Err(Refusal::ClimbsOut), "{path}");
        }
    }

    /// Inside a root is decided by whole names, case-insensitively, on the
    /// same drive or share; a rooted path takes the root's drive.
    #[test]
    fn strip_root_compares_whole_names_without_case() {
        let root = drive('C', &["Users", "Me", "Project"]);
        let inside = |path: &str| {
            let parsed = parse(path).expect("parses");
            strip_root(&parsed, &root).map(<[String]>::to_vec)
        };
        assert_eq!(
            inside("c:\\users\\me\\PROJECT\\a.txt"),
            Some(vec!["a.txt".to_string()])
        );
        assert_eq!(inside("\\Users\\me\\project"), Some(vec![]));
        assert_eq!(inside("C:\\Users\\Me\\Project2\\a"), None);
        assert_eq!(inside("C:\\Users\\Me"), None);
        assert_eq!(inside("D:\\Users\\Me\\Project"), None);
        assert_eq!(inside("\\\\server\\share\\Users\\Me\\Project"), None);
        assert_eq!(inside("Users\\Me\\Project"), None);
        let share = parse("\\\\Server\\Share\\team").expect("parses");
        let path = parse("\\\\?\\UNC\\server\\share\\TEAM\\a").expect("parses");
        assert_eq!(strip_root(&path, &share), Some(&["a".to_string()][..]));
    }
}
