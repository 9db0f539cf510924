//! `get_file_info`: size, times, type and permissions of one entry.
//!
//! Metadata comes from `stat`/`lstat` through the root's handle; the entry
//! is never opened (a FIFO is described, not read).
//!
//! # Must never
//! - open the entry; follow a symlink out of the root.

use std::time::SystemTime;

use moat_shared::{CallContext, ToolError, ToolOutput, runtime::tool::structured};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::walk::Kind;
use crate::{FsServer, error::FsError};

/// Arguments of `get_file_info`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file or directory.
    pub path: String,
}

const DESCRIPTION: &str = "Get a file's or directory's metadata: size, created/modified/accessed \
times, type (file, directory, symlink, other), permissions. Use it to check whether something \
exists, how big it is, or when it changed, without reading it.";

moat_shared::tool! {
    /// The `get_file_info` tool.
    pub GetFileInfo: BlockingTool<FsServer> = "get_file_info", "Get file info", super::read_only() {
        #![serde(rename_all = "camelCase")]
        /// The facts below as `key: value` lines.
        pub content: String,
        /// Size in bytes.
        pub size: u64,
        /// `file`, `directory`, `symlink` or `other`.
        #[serde(rename = "type")]
        pub kind: &'static str,
        /// A regular file (after following a link inside the root).
        pub is_file: bool,
        /// A directory (likewise).
        pub is_directory: bool,
        /// The path itself is a symlink.
        pub is_symlink: bool,
        /// Creation time (RFC 3339 UTC), when the platform keeps it.
        pub created: Option<String>,
        /// Last modification time (RFC 3339 UTC).
        pub modified: Option<String>,
        /// Last access time (RFC 3339 UTC).
        pub accessed: Option<String>,
        /// Permission bits, octal.
        pub permissions: String,
        /// Owner's user id, where the platform has one.
        pub uid: Option<u32>,
        /// Owner's group id, where the platform has one.
        pub gid: Option<u32>,
    }
}

/// Seconds since the epoch as an RFC 3339 UTC timestamp.
fn rfc3339(time: std::io::Result<SystemTime>) -> Option<String> {
    let seconds = time
        .ok()?
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs();
    let seconds = i64::try_from(seconds).ok()?;
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant), proleptic Gregorian.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    ))
}

/// Run the tool.
pub fn run(server: &FsServer, args: &Args, _: &CallContext) -> Result<ToolOutput, ToolError> {
    let target = server.roots.resolve(&args.path)?;
    let io = |error| FsError::io(&target.shown, error);
    let own = target.root.dir.symlink_metadata(&target.rel).map_err(io)?;
    let is_symlink = own.file_type().is_symlink();
    // Follow a link only inside the root: cap-std refuses one leading out,
    // and that refusal is the answer. A link dangling inside the root is
    // described as the link itself.
    let metadata = if is_symlink {
        match target.root.dir.metadata(&target.rel) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => own,
            Err(error) => return Err(io(error).into()),
        }
    } else {
        own
    };
    let kind = Kind::of(metadata.file_type());
    let (mode, uid, gid) = crate::platform::file_mode::describe(&metadata);
    let mut output = Output {
        content: String::new(),
        size: metadata.len(),
        kind: if is_symlink && kind == Kind::Link {
            "symlink"
        } else {
            kind.word()
        },
        is_file: metadata.is_file(),
        is_directory: metadata.is_dir(),
        is_symlink,
        created: rfc3339(metadata.created().map(cap_std::time::SystemTime::into_std)),
        modified: rfc3339(metadata.modified().map(cap_std::time::SystemTime::into_std)),
        accessed: rfc3339(metadata.accessed().map(cap_std::time::SystemTime::into_std)),
        permissions: mode,
        uid,
        gid,
    };
    // The text lists the same facts by their structured names.
    let info = serde_json::to_value(&output).unwrap_or_default();
    let mut text = String::new();
    for key in [
        "size",
        "created",
        "modified",
        "accessed",
        "isDirectory",
        "isFile",
        "isSymlink",
        "type",
        "permissions",
    ] {
        let value = match &info[key] {
            serde_json::Value::String(text) => text.clone(),
            serde_json::Value::Null => "unknown".into(),
            other => other.to_string(),
        };
        text.push_str(&format!("{key}: {value}\n"));
    }
    output.content.clone_from(&text);
    Ok(structured(text, &output))
}
