//! `edit_file`: replace exact pieces of a text file, atomically, and show
//! the change as a unified diff.
//!
//! Each edit's `oldText` must match exactly one place (unless `replaceAll`);
//! when it matches nowhere, a whitespace-tolerant line match is tried, and
//! the replacement takes the file's indentation. Texts are plain text, never
//! patterns (`$1`, `.*` are literal). A file with CRLF line ends keeps them.
//! All edits apply or none: the first failing edit stops the call with a
//! message naming it, and nothing is written. `dryRun` only shows the diff.
//!
//! # Must never
//! - write a file when any edit failed, or on a dry run;
//! - edit an ambiguous match silently;
//! - leave a half-written file (the write goes through
//!   [`super::write_file::atomic_write`]).

use moat_shared::{CallContext, ToolError, ToolOutput, runtime::tool::structured};
use schemars::JsonSchema;
use serde::Deserialize;

use super::write_file::{atomic_write, follow_final_symlink};
use crate::confirm::Step;
use crate::{FsServer, error::FsError};

/// One replacement.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Edit {
    /// The exact text to replace (copy it from the file, with its
    /// whitespace; include enough lines to make it unique).
    pub old_text: String,
    /// The text to put in its place.
    pub new_text: String,
    /// Replace every occurrence of `oldText` instead of requiring exactly one.
    #[serde(default)]
    pub replace_all: Option<bool>,
}

/// Arguments of `edit_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Args {
    /// The file to edit.
    pub path: String,
    /// Replacements, applied in order (each sees the previous ones' result).
    pub edits: Vec<Edit>,
    /// Show the diff without writing anything.
    #[serde(default)]
    pub dry_run: bool,
    /// Default for every edit's `replaceAll`.
    #[serde(default)]
    pub replace_all: bool,
}

const DESCRIPTION: &str = "Change part of a text file by replacing exact text, and see the change \
as a unified diff. Prefer it to write_file for changes to existing files. Each edit's oldText must \
appear exactly once (add surrounding lines to make it unique, or set replaceAll); if it is not \
found exactly, lines are matched ignoring whitespace and the file's indentation is kept. All edits \
apply or none do; an error names the failing edit and the nearest matching lines. Use dryRun to \
preview. Texts are literal (no regex). CRLF files stay CRLF. The write is atomic.";

/// Lines shown around the nearest candidate when an edit does not match.
const CANDIDATE_LINES: usize = 3;
/// Most file lines scored when looking for the nearest candidate: scoring
/// is quadratic in line length, so huge files are only partly searched.
const MAX_SCORED_LINES: usize = 100_000;

moat_shared::tool! {
    /// The `edit_file` tool.
    pub EditFile: BlockingTool<FsServer> = "edit_file", "Edit file", super::writes(true, false) {
        /// The text result: the diff in a fenced block, and notes.
        pub content: String,
        /// The unified diff (cut at the budget when `truncated`).
        pub diff: String,
        /// True when the file was written (not a dry run, and it changed).
        pub applied: bool,
        /// Replacements made.
        pub replacements: usize,
        /// True when the diff was cut at the budget.
        pub truncated: bool,
    }
}

/// Run the tool.
pub fn run(server: &FsServer, args: &Args, context: &CallContext) -> Result<ToolOutput, ToolError> {
    if args.edits.is_empty() {
        return Err(FsError::Invalid(
            "edits is empty: give at least one {oldText, newText}".into(),
        )
        .into());
    }
    let target = server.roots.resolve(&args.path)?;
    target.writable()?;
    let target = follow_final_symlink(server, target)?;
    let limit = server.policy.max_write_bytes;
    let bytes = target.read_capped(limit, "edit", "; use write_file or split the file")?;
    let original = String::from_utf8(bytes).map_err(|_| {
        FsError::Refused(format!(
            "{} is not UTF-8 text; edit_file only edits text files",
            target.shown
        ))
    })?;
    let (modified, replacements) =
        apply_edits(&original, &args.edits, args.replace_all).map_err(FsError::Refused)?;
    if modified.len() as u64 > limit {
        return Err(FsError::Refused(format!(
            "the edited file would be {} bytes, over the {limit}-byte write limit",
            modified.len()
        ))
        .into());
    }
    let diff = similar::TextDiff::from_lines(&original, &modified)
        .unified_diff()
        .context_radius(3)
        .header(&args.path, &args.path)
        .to_string();
    if !args.dry_run && modified != original {
        let what = format!(
            "edit {} ({} bytes): {replacements} replacement{}",
            crate::confirm::full_path(&target),
            original.len(),
            if replacements == 1 { "" } else { "s" }
        );
        if let Some(not_done) = crate::confirm::before(server, context, Step::Edit, &what)? {
            return Ok(structured(
                not_done.clone(),
                &Output {
                    content: not_done,
                    diff: String::new(),
                    applied: false,
                    replacements: 0,
                    truncated: false,
                },
            ));
        }
        atomic_write(&target, modified.as_bytes())?;
    }
    let budget = super::budget(server);
    let (shown_diff, truncated) = cut_at_line(&diff, budget);
    let mut text = format!("```diff\n{shown_diff}```\n");
    if truncated {
        text.push_str(&format!(
            "[diff cut at the {budget}-byte budget; the edits were {} in full]\n",
            if args.dry_run { "checked" } else { "applied" }
        ));
    }
    if args.dry_run {
        text.push_str("(dry run: nothing was written)\n");
    } else if modified == original {
        text.push_str("(no change: the edits leave the file as it was)\n");
    }
    Ok(structured(
        text.clone(),
        &Output {
            content: text,
            diff: shown_diff.to_string(),
            applied: !args.dry_run && modified != original,
            replacements,
            truncated,
        },
    ))
}

/// `text` cut at the last line end within `budget` bytes.
fn cut_at_line(text: &str, budget: usize) -> (&str, bool) {
    if text.len() <= budget {
        return (text, false);
    }
    let mut end = budget;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = text[..end].rfind('\n').map_or(end, |index| index + 1);
    (&text[..end], true)
}

/// Apply every edit to `content`; the result and the number of places
/// replaced, or a message naming the failing edit.
///
/// # Errors
/// The message for the model: which edit, why, and the nearest lines.
pub fn apply_edits(
    content: &str,
    edits: &[Edit],
    replace_all_default: bool,
) -> Result<(String, usize), String> {
    // A file whose every line ends in CRLF is edited as LF and converted
    // back, so LF texts from the model match it and it stays CRLF.
    let crlf = content.contains("\r\n") && !content.replace("\r\n", "").contains('\n');
    let has_cr = content.contains('\r');
    let mut work = if crlf {
        content.replace("\r\n", "\n")
    } else {
        content.to_string()
    };
    let total = edits.len();
    let mut replacements = 0;
    for (index, edit) in edits.iter().enumerate() {
        let which = format!("edit {} of {total}", index + 1);
        let normalise = |text: &str| {
            if crlf || !has_cr {
                text.replace("\r\n", "\n")
            } else {
                text.to_string()
            }
        };
        let old = normalise(&edit.old_text);
        let new = normalise(&edit.new_text);
        if old.is_empty() {
            return Err(format!(
                "{which}: oldText is empty; give the exact text to replace (use write_file to replace the whole file)"
            ));
        }
        let replace_all = edit.replace_all.unwrap_or(replace_all_default);
        let places: Vec<usize> = work.match_indices(&old).map(|(at, _)| at).collect();
        match places.len() {
            0 => {
                let (next, count) = fuzzy_replace(&work, &old, &new, replace_all)
                    .map_err(|why| format!("{which}: {why}"))?;
                work = next;
                replacements += count;
            }
            1 => {
                work = work.replacen(&old, &new, 1);
                replacements += 1;
            }
            count if replace_all => {
                work = work.replace(&old, &new);
                replacements += count;
            }
            count => {
                let lines: Vec<String> = places
                    .iter()
                    .take(10)
                    .map(|at| (work[..*at].matches('\n').count() + 1).to_string())
                    .collect();
                return Err(format!(
                    "{which}: oldText matches {count} places (starting at lines {}); include more surrounding lines to make it unique, or set replaceAll: true to change them all. Nothing was written.",
                    lines.join(", ")
                ));
            }
        }
    }
    if crlf {
        work = work.replace('\n', "\r\n");
    }
    Ok((work, replacements))
}

/// A line's words, for comparing lines while ignoring whitespace.
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// A line's leading whitespace.
fn indent(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// Replace `old` matched line by line ignoring whitespace; the new lines
/// take the file's indentation in place of `old`'s.
fn fuzzy_replace(
    work: &str,
    old: &str,
    new: &str,
    replace_all: bool,
) -> Result<(String, usize), String> {
    let old_body = old.strip_suffix('\n').unwrap_or(old);
    let new_body = new.strip_suffix('\n').unwrap_or(new);
    let old_lines: Vec<&str> = old_body.split('\n').collect();
    let wanted: Vec<Vec<&str>> = old_lines.iter().map(|line| words(line)).collect();
    let mut lines: Vec<String> = work.split('\n').map(str::to_string).collect();
    let not_found = || {
        format!(
            "oldText was not found, exactly or ignoring whitespace. {} Read the file again and copy the text exactly. Nothing was written.",
            nearest_candidate(&lines_of(work), &old_lines)
        )
    };
    if wanted.iter().all(Vec::is_empty) {
        return Err(not_found());
    }
    let span = old_lines.len();
    let starts: Vec<usize> = (0..(lines.len() + 1).saturating_sub(span))
        .filter(|start| {
            wanted
                .iter()
                .enumerate()
                .all(|(offset, want)| words(&lines[start + offset]) == *want)
        })
        .collect();
    match starts.len() {
        0 => return Err(not_found()),
        1 => {}
        count if !replace_all => {
            let shown: Vec<String> = starts
                .iter()
                .take(10)
                .map(|s| (s + 1).to_string())
                .collect();
            return Err(format!(
                "oldText matches {count} places when whitespace is ignored (starting at lines {}); include more surrounding lines, or set replaceAll: true. Nothing was written.",
                shown.join(", ")
            ));
        }
        _ => {}
    }
    let old_indent = indent(old_lines[0]);
    // Replace from the last match so earlier indexes stay valid; a match
    // overlapping one already replaced is skipped.
    let mut replaced = 0;
    let mut floor = usize::MAX;
    for &start in starts.iter().rev() {
        if start + span > floor {
            continue;
        }
        let file_indent = indent(&lines[start]).to_string();
        let replacement: Vec<String> = if new_body.is_empty() {
            Vec::new()
        } else {
            new_body
                .split('\n')
                .map(|line| {
                    if line.trim().is_empty() {
                        String::new()
                    } else if let Some(rest) = line.strip_prefix(old_indent) {
                        format!("{file_indent}{rest}")
                    } else {
                        line.to_string()
                    }
                })
                .collect()
        };
        lines.splice(start..start + span, replacement);
        floor = start;
        replaced += 1;
    }
    Ok((lines.join("\n"), replaced))
}

fn lines_of(text: &str) -> Vec<&str> {
    text.split('\n').collect()
}

/// "Nearest candidate, line N: ..." for the first non-blank line of
/// `old_lines`, or a note that nothing is close.
fn nearest_candidate(lines: &[&str], old_lines: &[&str]) -> String {
    let Some((first_index, first)) = old_lines
        .iter()
        .enumerate()
        .find(|(_, line)| !line.trim().is_empty())
    else {
        return String::new();
    };
    let probe = first.trim();
    let mut best: Option<(f32, usize)> = None;
    for (number, line) in lines.iter().enumerate().take(MAX_SCORED_LINES) {
        let candidate = line.trim();
        if candidate.is_empty() {
            continue;
        }
        let score = similar::TextDiff::from_chars(probe, candidate).ratio();
        if best.is_none_or(|(top, _)| score > top) {
            best = Some((score, number));
        }
    }
    // Below half the characters in common, a "candidate" only misleads.
    match best {
        Some((score, number)) if score >= 0.5 => {
            let start = number.saturating_sub(first_index);
            let shown: Vec<String> = lines
                .iter()
                .enumerate()
                .skip(start)
                .take(CANDIDATE_LINES.max(old_lines.len().min(CANDIDATE_LINES)))
                .map(|(at, line)| format!("line {}: {:?}", at + 1, line))
                .collect();
            format!(
                "Nearest candidate ({}% similar to {probe:?}): {}.",
                (score * 100.0).round(),
                shown.join(" | ")
            )
        }
        _ => format!("No line resembles {probe:?}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(old: &str, new: &str) -> Edit {
        Edit {
            old_text: old.into(),
            new_text: new.into(),
            replace_all: None,
        }
    }

    /// A unique exact match is replaced; `$` and regex characters are text.
    #[test]
    fn exact_literal_replacement() {
        let (out, count) = apply_edits(
            "let a = 1;\nlet b = 2;\n",
            &[edit("a = 1", "a = $1.*")],
            false,
        )
        .expect("edit");
        assert_eq!(out, "let a = $1.*;\nlet b = 2;\n");
        assert_eq!(count, 1);
    }

    /// Two exact matches without replaceAll: refused, naming the edit and lines.
    #[test]
    fn ambiguous_match_is_refused() {
        let error = apply_edits("x\ny\nx\n", &[edit("y", "z"), edit("x", "w")], false)
            .expect_err("ambiguous");
        assert!(error.starts_with("edit 2 of 2"), "{error}");
        assert!(error.contains("lines 1, 3"), "{error}");
        let (out, _) = apply_edits("x\ny\nx\n", &[edit("x", "w")], true).expect("all");
        assert_eq!(out, "w\ny\nw\n");
    }

    /// Whitespace differences fall back to a line match keeping indentation.
    #[test]
    fn whitespace_tolerant_keeps_indentation() {
        let file = "fn main() {\n        let x  =  1;\n        call(x);\n}\n";
        let (out, _) = apply_edits(
            file,
            &[edit(
                "let x = 1;\ncall(x);",
                "let x = 2;\nif x > 1 {\n    call(x);\n}",
            )],
            false,
        )
        .expect("fuzzy");
        assert_eq!(
            out,
            "fn main() {\n        let x = 2;\n        if x > 1 {\n            call(x);\n        }\n}\n"
        );
    }

    /// CRLF files stay CRLF when the texts use LF.
    #[test]
    fn crlf_is_preserved() {
        let (out, _) = apply_edits(
            "one\r\ntwo\r\nthree\r\n",
            &[edit("two\nthree", "2\n3")],
            false,
        )
        .expect("edit");
        assert_eq!(out, "one\r\n2\r\n3\r\n");
    }

    /// A missing match names the nearest line.
    #[test]
    fn missing_match_shows_candidate() {
        let error = apply_edits(
            "alpha\nfn compute(a: u32)\nomega\n",
            &[edit("fn compute(a: u64)", "x")],
            false,
        )
        .expect_err("missing");
        assert!(error.contains("line 2"), "{error}");
        assert!(error.starts_with("edit 1 of 1"), "{error}");
    }
}
