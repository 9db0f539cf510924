//! `read_multiple_files`: several text files in one call; a file that
//! fails is reported in its place and the others are still read.
//!
//! The byte budget is shared: each file gets what the files before it left,
//! and a file cut short says which `offset` continues it with
//! `read_text_file`.
//!
//! # Must never
//! - fail the whole call because one file failed;
//! - read past the shared budget.

use moat_shared::{CallContext, ToolError, ToolOutput, runtime::tool::structured};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::read_text_file::read_range;
use crate::{FsServer, error::FsError};

/// Arguments of `read_multiple_files`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The files (at least one).
    pub paths: Vec<String>,
}

const DESCRIPTION: &str = "Read several text files at once, e.g. to compare them or to load a \
module and its tests together. Each file's content is headed by its path; a file that cannot be \
read shows its error and does not stop the others. The byte budget is shared among the files; a \
cut file says which read_text_file offset continues it.";

/// Most paths one call accepts: more would only share the budget into
/// slivers.
const MAX_PATHS: usize = 100;

moat_shared::tool! {
    /// The `read_multiple_files` tool.
    pub ReadMultipleFiles: BlockingTool<FsServer> = "read_multiple_files", "Read multiple files", super::read_only() {
        /// Every file's text, separated by `---` lines.
        pub content: String,
        /// Each file, in the order asked.
        pub files: Vec<FileResult>,
    }
}

/// One file of the result: its text, or why it was not read.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged, rename_all_fields = "camelCase")]
#[schemars(inline)]
pub enum FileResult {
    /// Read (in part when `truncated`).
    Read {
        /// The path as given.
        path: String,
        /// The text read.
        content: String,
        /// True when the budget cut it.
        truncated: bool,
        /// The `offset` for read_text_file that continues it.
        next_offset: Option<u64>,
    },
    /// Not read.
    Failed {
        /// The path as given.
        path: String,
        /// Why.
        error: String,
    },
}

/// Run the tool.
pub fn run(server: &FsServer, args: &Args, context: &CallContext) -> Result<ToolOutput, ToolError> {
    if args.paths.is_empty() {
        return Err(FsError::Invalid("paths is empty: give at least one file".into()).into());
    }
    if args.paths.len() > MAX_PATHS {
        return Err(FsError::Invalid(format!(
            "{} paths given; at most {MAX_PATHS} per call",
            args.paths.len()
        ))
        .into());
    }
    let budget = super::budget(server);
    let mut used = 0usize;
    let mut text = String::new();
    let mut files = Vec::new();
    for path in &args.paths {
        context.check()?;
        if !text.is_empty() {
            text.push_str("\n---\n");
        }
        let remaining = budget.saturating_sub(used);
        if remaining == 0 {
            let note = "not read: the byte budget is used up; read it with read_text_file";
            text.push_str(&format!("{path}: {note}\n"));
            files.push(FileResult::Failed {
                path: path.clone(),
                error: note.to_string(),
            });
            continue;
        }
        let result = server.roots.resolve(path).and_then(|target| {
            let (file, metadata) = target.open_regular()?;
            read_range(file.into_std(), metadata.len(), 1, None, remaining, context)
                .map_err(|error| FsError::io(&target.shown, error))
        });
        match result {
            Ok(page) => {
                let body = page.text;
                used += body.len();
                text.push_str(&format!("{path}:\n{body}"));
                if let Some(next) = page.next_offset {
                    if !body.ends_with('\n') {
                        text.push('\n');
                    }
                    text.push_str(&format!(
                        "[cut at the shared byte budget; call read_text_file with path={path:?} and offset={next} to continue]\n"
                    ));
                }
                files.push(FileResult::Read {
                    path: path.clone(),
                    content: body,
                    truncated: page.next_offset.is_some(),
                    next_offset: page.next_offset,
                });
            }
            Err(error) => {
                let message = ToolError::from(error).to_line();
                text.push_str(&format!("{path}: Error - {message}\n"));
                files.push(FileResult::Failed {
                    path: path.clone(),
                    error: message,
                });
            }
        }
    }
    Ok(structured(
        text.clone(),
        &Output {
            content: text,
            files,
        },
    ))
}
