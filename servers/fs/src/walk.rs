//! The one directory walker every recursive tool uses (`directory_tree`,
//! `search_files`, `search_file_contents`, recursive `copy_file`).
//!
//! It walks through `Dir` handles (`entries`, `open_dir_nofollow`), never by
//! path through the ambient filesystem, so a directory swapped for a symlink
//! mid-walk is refused at the open instead of followed out of the root. It
//! holds one open directory per level (handles proportional to depth, not to
//! entries), learns each entry's type from the listing (never by opening
//! it), never descends into a symlink (so it cannot loop), hides entries the
//! policy denies, and stops at the visited-entry cap, the deadline or on
//! cancellation, saying which.
//!
//! Order is depth-first with each directory's entries sorted by name bytes,
//! which is exactly `Path`'s component order; so "everything after path P"
//! is a well-defined continuation point (a cursor) and a resumed walk skips
//! whole subtrees before P without opening them.
//!
//! It also holds the skeleton the walk tools share, so each supplies only
//! its visitor and its output: [`walk_path`] / [`walk_target`] (resolve,
//! open, limits, walk, cancellation), [`Budget`] (the result's byte and
//! entry budget) and [`Ending`] (cursor, note and continuation line).
//!
//! # Must never
//! - open an entry to learn its type, or follow a symlink while descending;
//! - hold more than one open directory per level;
//! - run past its deadline or its visited-entry cap.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use cap_fs_ext::DirExt;
use cap_std::fs::Dir;
use moat_shared::{CallContext, ToolError, runtime::toolbox::ProgressReporter};
use schemars::JsonSchema;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::{FsServer, Roots, Target, error::FsError, root::Root};

/// How many visited entries between two progress notifications: often
/// enough to show a long walk is alive, rare enough to cost nothing.
const PROGRESS_EVERY: usize = 2_000;

/// How much earlier than the call's deadline a walk stops, so that its
/// partial result reaches the client before the runtime gives up on the
/// call (the runtime's timeout error would carry no results).
const DEADLINE_MARGIN: Duration = Duration::from_millis(750);

/// How many visited entries between two looks at the clock for the
/// deadline: reading the clock on every entry was 3.5% of a 100,000-file
/// walk (perf record), and 256 entries take well under a millisecond.
const DEADLINE_EVERY: usize = 256;

/// Deepest directory nesting a walk descends; deeper trees are reported as
/// cut. Real trees are far shallower; this only bounds pathological ones.
pub const MAX_WALK_DEPTH: usize = 512;

/// Why a walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Every entry was visited.
    Complete,
    /// The visitor asked to stop (its budget is full).
    Stopped,
    /// The visited-entry cap was reached.
    VisitedCap,
    /// The deadline was reached.
    Deadline,
    /// The client cancelled the call.
    Cancelled,
}

impl End {
    /// A sentence for the model when the walk did not finish, naming the
    /// limit; `None` when it finished.
    pub fn explain(self, visited: usize) -> Option<String> {
        match self {
            End::Complete | End::Stopped => None,
            End::VisitedCap => Some(format!(
                "the walk stopped at the visited-entry cap ({visited} entries visited); results are partial"
            )),
            End::Deadline => Some(format!(
                "the walk stopped at the call's deadline ({visited} entries visited); results are partial"
            )),
            End::Cancelled => Some("the walk was cancelled".into()),
        }
    }
}

/// What a visitor tells the walker after seeing an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Go on (and descend, if the entry is a directory).
    Continue,
    /// Go on, but do not descend into this directory.
    Skip,
    /// Stop the whole walk.
    Stop,
}

/// One entry, as a visitor sees it.
pub struct Entry<'a> {
    /// Path relative to the walk's start (never empty, never `..`).
    pub rel: &'a Path,
    /// The entry's name.
    pub name: &'a OsString,
    /// What it is (from the listing; links are not followed).
    pub kind: Kind,
    /// 1 for the start's direct children.
    pub depth: usize,
    /// The directory holding the entry, for opening it.
    pub parent: &'a Dir,
}

/// Something that walks.
pub trait Visitor {
    /// See one entry.
    fn entry(&mut self, entry: &Entry<'_>) -> Step;
    /// A directory at `rel` (depth `depth`) was opened and is about to be
    /// walked; its handle is given for reading e.g. a `.gitignore`.
    fn enter(&mut self, _dir: &Dir, _rel: &Path, _depth: usize) {}
    /// The directory entered at `depth` is done.
    fn leave(&mut self, _depth: usize) {}
}

/// The limits of one walk.
pub struct Limits {
    /// Stop after this many entries.
    pub max_visited: usize,
    /// Stop at this moment.
    pub deadline: Instant,
    /// Stop when cancelled.
    pub cancel: CancellationToken,
    /// Report progress here, when the client asked.
    pub progress: Option<ProgressReporter>,
}

impl Limits {
    /// The limits of a walk inside a call: the policy's visited cap, and the
    /// call's deadline less a margin for the reply.
    pub fn for_call(max_visited: usize, context: &CallContext) -> Self {
        let progress = context.progress.clone();
        Self {
            max_visited,
            deadline: deadline(context),
            cancel: context.cancel.clone(),
            progress,
        }
    }

    fn report(&self, visited: usize) {
        if let Some(reporter) = &self.progress {
            reporter.report(
                visited as f64,
                None,
                Some(format!("{visited} entries visited")),
            );
        }
    }
}

/// When a walk inside a call stops: the call's deadline less a margin for
/// the reply.
pub fn deadline(context: &CallContext) -> Instant {
    let remaining = context
        .deadline
        .saturating_duration_since(tokio::time::Instant::now());
    let margin = DEADLINE_MARGIN.min(remaining / 4);
    Instant::now() + remaining.saturating_sub(margin)
}

/// What a listing says an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link (not followed).
    Link,
    /// A FIFO, socket or device.
    Other,
}

impl Kind {
    /// The marker used in text listings.
    pub fn marker(self) -> &'static str {
        match self {
            Kind::Dir => "[DIR]",
            Kind::File => "[FILE]",
            Kind::Link => "[LINK]",
            Kind::Other => "[OTHER]",
        }
    }

    /// The word used in structured output.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Dir => "directory",
            Kind::File => "file",
            Kind::Link => "symlink",
            Kind::Other => "other",
        }
    }

    /// Classify a file type without following links.
    pub fn of(file_type: cap_std::fs::FileType) -> Self {
        if file_type.is_symlink() {
            Kind::Link
        } else if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_file() {
            Kind::File
        } else {
            Kind::Other
        }
    }
}

/// How to walk.
pub struct Options<'a> {
    /// The root the walk is in (for the deny globs).
    pub root: &'a Root,
    /// The start, relative to the root.
    pub start: &'a Path,
    /// Do not descend below this depth (1 = only the start's children).
    pub max_depth: Option<usize>,
    /// Only entries after this path (relative to the start) are visited.
    pub resume_after: Option<&'a Path>,
    /// Visit the `resume_after` entry itself too (to continue inside it).
    pub resume_inclusive: bool,
}

/// What a walk did.
#[derive(Debug, Clone)]
pub struct Report {
    /// Why it ended.
    pub end: End,
    /// Entries visited.
    pub visited: usize,
    /// The last entry visited (a cursor for continuing after a cap).
    pub last: Option<PathBuf>,
    /// Directories that could not be opened (permissions, or swapped for
    /// something else mid-walk).
    pub unreadable: usize,
}

impl Report {
    /// The cursor that continues this walk: where the visitor stopped (when
    /// its budget filled), or the last entry visited (at a cap or the
    /// deadline); `None` when the walk finished.
    pub fn cursor(&self, stopped_at: Option<PathBuf>) -> Option<String> {
        match self.end {
            End::Complete | End::Cancelled => None,
            End::Stopped => stopped_at,
            End::VisitedCap | End::Deadline => self.last.clone(),
        }
        .map(|path| path.to_string_lossy().into_owned())
    }
}

/// The line that ends a cut result: why it was cut and, when there is a
/// cursor, how `tool` continues. Empty when nothing was cut.
pub fn continuation_note(tool: &str, note: Option<&str>, next: Option<&str>) -> String {
    let Some(note) = note else {
        return String::new();
    };
    let mut line = format!("[{note}");
    if let Some(next) = next {
        line.push_str(&format!(
            "; call {tool} with the same arguments and cursor={next:?} to continue"
        ));
    }
    line.push_str("]\n");
    line
}

/// `note` (why a walk ended early, if it did) with what the walk skipped
/// because it could not read it (permissions, or an entry replaced
/// mid-walk); `None` when there is nothing to say. A listing that silently
/// left out a folder would read as complete.
pub fn with_skipped(note: Option<String>, directories: usize, files: usize) -> Option<String> {
    let mut parts: Vec<String> = note.into_iter().collect();
    for (count, one, many) in [
        (directories, "directory", "directories"),
        (files, "file", "files"),
    ] {
        if count > 0 {
            let noun = if count == 1 { one } else { many };
            parts.push(format!("{count} unreadable {noun} skipped"));
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

struct Frame {
    dir: Dir,
    rel: PathBuf,
    entries: Vec<(OsString, Kind)>,
    next: usize,
}

/// Read a directory's entries (name and type, from the listing), sorted by
/// name bytes, without the denied ones.
fn read_entries(
    dir: &Dir,
    roots: &Roots,
    root: &Root,
    root_rel: &Path,
) -> std::io::Result<Vec<(OsString, Kind)>> {
    let mut entries = Vec::new();
    // One buffer for every entry's path (an allocation per entry was a
    // tenth of a big walk's time in malloc and free).
    let mut path = PathBuf::new();
    for entry in dir.entries()? {
        let entry = entry?;
        let name = entry.file_name();
        // A copy into the buffer, not `pop` (which parses the path's
        // components back to front, 7% of a walk's instructions).
        let buffer = path.as_mut_os_string();
        buffer.clear();
        buffer.push(root_rel.as_os_str());
        path.push(&name);
        if roots.is_denied_leaf(root, &path) {
            continue;
        }
        let kind = entry.file_type().map_or(Kind::Other, Kind::of);
        entries.push((name, kind));
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

/// Walk `start` (a directory handle already opened at `options.start`).
///
/// # Errors
/// Only when the start itself cannot be listed; unreadable directories
/// below it are counted in [`Report::unreadable`].
pub fn walk(
    start: Dir,
    roots: &Roots,
    options: &Options<'_>,
    limits: &Limits,
    visitor: &mut dyn Visitor,
) -> std::io::Result<Report> {
    let mut resume = options.resume_after.map(Path::to_path_buf);
    // Entries are matched against the deny globs by their own path only
    // (`is_denied_leaf`): the walk never lists inside a denied directory,
    // so their ancestors below the start were matched when listed, and the
    // start's own are matched here once. A denied start shows nothing.
    let mut entries = read_entries(&start, roots, options.root, options.start)?;
    if roots.is_denied(options.root, options.start) {
        entries.clear();
    }
    visitor.enter(&start, Path::new(""), 0);
    let mut stack = vec![Frame {
        dir: start,
        rel: PathBuf::new(),
        entries,
        next: 0,
    }];
    let mut report = Report {
        end: End::Complete,
        visited: 0,
        last: None,
        unreadable: 0,
    };
    // The last visited entry and the current one, in buffers reused from
    // entry to entry rather than allocated for each.
    let mut last = PathBuf::new();
    let mut rel = PathBuf::new();
    loop {
        let depth = stack.len();
        let Some(frame) = stack.last_mut() else {
            break;
        };
        // Each listed name is visited once: taken, not copied.
        let Some((name, kind)) = frame
            .entries
            .get_mut(frame.next)
            .map(|(name, kind)| (std::mem::take(name), *kind))
        else {
            visitor.leave(depth - 1);
            stack.pop();
            continue;
        };
        frame.next += 1;
        rel.clone_from(&frame.rel);
        rel.push(&name);
        // Continuation: skip everything up to the cursor, descending only
        // into the cursor's ancestors.
        let mut ancestor = false;
        if let Some(cursor) = &resume {
            if *cursor == rel {
                // The cursor itself: visited again only when inclusive; its
                // descendants all come after it, so descend either way.
                ancestor = !options.resume_inclusive;
                resume = None;
            } else if cursor.starts_with(&rel) {
                ancestor = true;
            } else if rel < *cursor {
                continue;
            } else {
                resume = None;
            }
        }
        if !ancestor {
            if limits.cancel.is_cancelled() {
                report.end = End::Cancelled;
                break;
            }
            if report.visited >= limits.max_visited {
                report.end = End::VisitedCap;
                break;
            }
            if report.visited.is_multiple_of(DEADLINE_EVERY) && Instant::now() >= limits.deadline {
                report.end = End::Deadline;
                break;
            }
            report.visited += 1;
            if report.visited.is_multiple_of(PROGRESS_EVERY) {
                limits.report(report.visited);
            }
            let step = visitor.entry(&Entry {
                rel: &rel,
                name: &name,
                kind,
                depth,
                parent: &frame.dir,
            });
            last.clone_from(&rel);
            match step {
                Step::Stop => {
                    report.end = End::Stopped;
                    break;
                }
                Step::Skip => continue,
                Step::Continue => {}
            }
        }
        let deep_enough = options.max_depth.is_some_and(|max| depth >= max);
        if kind != Kind::Dir || deep_enough || depth >= MAX_WALK_DEPTH {
            continue;
        }
        // No-follow: a directory swapped for a symlink since the listing is
        // refused here (ELOOP/ENOTDIR), never followed.
        let opened = frame.dir.open_dir_nofollow(&name).and_then(|dir| {
            let entries = read_entries(&dir, roots, options.root, &options.start.join(&rel))?;
            Ok((dir, entries))
        });
        match opened {
            Ok((dir, entries)) => {
                visitor.enter(&dir, &rel, depth);
                stack.push(Frame {
                    dir,
                    rel: rel.clone(),
                    entries,
                    next: 0,
                });
            }
            Err(_) => report.unreadable += 1,
        }
    }
    if report.visited > 0 {
        report.last = Some(last);
    }
    Ok(report)
}

/// The byte and entry budget of one walk tool's result (the policy's
/// `max_result_bytes` and `max_entries`), filled entry by entry.
pub struct Budget {
    bytes: usize,
    entries: usize,
    used: usize,
    count: usize,
}

impl Budget {
    /// The policy's budget, empty.
    pub fn of(server: &FsServer) -> Self {
        Self {
            bytes: server.policy.max_result_bytes,
            entries: server.policy.max_entries,
            used: 0,
            count: 0,
        }
    }

    /// Count one more entry of `cost` bytes; false, counting nothing, when
    /// it would pass either budget.
    pub fn take(&mut self, cost: usize) -> bool {
        if self.count >= self.entries || self.used + cost > self.bytes {
            return false;
        }
        self.used += cost;
        self.count += 1;
        true
    }

    /// Entries counted.
    pub fn count(&self) -> usize {
        self.count
    }
}

/// How a walk tool walks, besides its visitor.
#[derive(Default)]
pub struct Plan<'a> {
    /// Do not descend below this depth (1 = only the start's children).
    pub max_depth: Option<usize>,
    /// Only entries after this path (relative to the start) are visited.
    pub resume_after: Option<&'a Path>,
    /// Visit the `resume_after` entry itself too (to continue inside it).
    pub resume_inclusive: bool,
    /// Entries left out, with everything below them, before the visitor
    /// sees them (a walk tool's `excludePatterns`).
    pub exclude: Option<&'a dyn Exclude>,
}

/// What a walk tool leaves out of its walk.
pub trait Exclude {
    /// True when `entry` (and everything below it) is left out.
    fn excludes(&self, entry: &Entry<'_>) -> bool;
}

/// A visitor behind an [`Exclude`]: an excluded entry is skipped (not
/// descended into) before the visitor sees it.
struct Excluding<'a> {
    exclude: &'a dyn Exclude,
    visitor: &'a mut dyn Visitor,
}

impl Visitor for Excluding<'_> {
    fn entry(&mut self, entry: &Entry<'_>) -> Step {
        if self.exclude.excludes(entry) {
            return Step::Skip;
        }
        self.visitor.entry(entry)
    }

    fn enter(&mut self, dir: &Dir, rel: &Path, depth: usize) {
        self.visitor.enter(dir, rel, depth);
    }

    fn leave(&mut self, depth: usize) {
        self.visitor.leave(depth);
    }
}

/// The skeleton of a walk tool, up to the walk: resolve `path`, then
/// [`walk_target`].
///
/// # Errors
/// As [`walk_target`], and a path that does not resolve.
pub fn walk_path(
    server: &FsServer,
    path: &str,
    plan: &Plan<'_>,
    context: &CallContext,
    visitor: &mut dyn Visitor,
) -> Result<Report, ToolError> {
    let target = server.roots.resolve(path)?;
    walk_target(server, &target, plan, context, visitor)
}

/// The skeleton of a walk tool, the walk itself: open the directory
/// `target`, walk it with `visitor` within the call's limits (the policy's
/// visited cap, the deadline, cancellation) and refuse a cancelled call.
///
/// # Errors
/// The start cannot be opened or listed, or the client cancelled the call
/// (a cancelled walk's partial result is not sent).
pub fn walk_target(
    server: &FsServer,
    target: &Target<'_>,
    plan: &Plan<'_>,
    context: &CallContext,
    visitor: &mut dyn Visitor,
) -> Result<Report, ToolError> {
    let start = target
        .root
        .dir
        .open_dir(&target.rel)
        .map_err(|error| FsError::io(&target.shown, error))?;
    let options = Options {
        root: target.root,
        start: &target.rel,
        max_depth: plan.max_depth,
        resume_after: plan.resume_after,
        resume_inclusive: plan.resume_inclusive,
    };
    let limits = Limits::for_call(server.policy.max_visited, context);
    let mut excluding;
    let visitor: &mut dyn Visitor = match plan.exclude {
        Some(exclude) => {
            excluding = Excluding { exclude, visitor };
            &mut excluding
        }
        None => visitor,
    };
    let report = walk(start, &server.roots, &options, &limits, visitor)
        .map_err(|error| FsError::io(&target.shown, error))?;
    if report.end == End::Cancelled {
        return Err(ToolError::Cancelled);
    }
    Ok(report)
}

/// How a walk tool's result ends: the cursor that continues it, and the
/// note saying why it is partial and what it skipped. The last fields of
/// every walk tool's `structuredContent` (`#[serde(flatten)]`).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ending {
    /// True when the result was cut: `nextCursor` continues it.
    pub truncated: bool,
    /// The cursor that continues the result; null when it is whole.
    pub next_cursor: Option<String>,
    /// Why the result is partial, and what was skipped; null when there
    /// is nothing to say.
    pub note: Option<String>,
}

impl Ending {
    /// The ending of a walk that ended as `report` says: `next` continues
    /// it, `cut` is the sentence for a result cut at the budget, and
    /// `unreadable_files` the files the visitor could not read.
    pub fn new(
        report: &Report,
        next: Option<String>,
        cut: String,
        unreadable_files: usize,
    ) -> Self {
        let note = if report.end == End::Stopped {
            Some(cut)
        } else {
            report.end.explain(report.visited)
        };
        Self {
            truncated: next.is_some(),
            next_cursor: next,
            note: with_skipped(note, report.unreadable, unreadable_files),
        }
    }

    /// The line that ends the text of `tool`'s result (see
    /// [`continuation_note`]).
    pub fn line(&self, tool: &str) -> String {
        continuation_note(tool, self.note.as_deref(), self.next_cursor.as_deref())
    }
}

/// Join a client-visible base path and a path relative to it, for results.
pub fn shown(base: &str, rel: &Path) -> String {
    crate::platform::result_path::join(base, rel)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use moat_shared::{CallContext, policy::FsPolicy};
    use serde_json::json;

    use crate::{FsServer, tool::directory_tree};

    fn server() -> (tempfile::TempDir, FsServer) {
        let temp = tempfile::tempdir().expect("tempdir");
        let dir = cap_std::fs::Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority())
            .expect("open");
        for index in 0..20 {
            dir.write(format!("f{index}.txt"), "x").expect("write");
        }
        let roots = [(
            temp.path().to_string_lossy().into_owned(),
            moat_shared::policy::Mode::Rw,
        )];
        let server = FsServer::new(&roots, FsPolicy::default()).expect("server");
        (temp, server)
    }

    fn arguments() -> directory_tree::Args {
        serde_json::from_value(json!({"path": "."})).expect("valid arguments")
    }

    /// A walk past its deadline returns what it has and says it is partial.
    #[test]
    fn deadline_gives_a_partial_result() {
        let (_temp, server) = server();
        let context = CallContext::detached(Duration::ZERO);
        let output = directory_tree::run(&server, &arguments(), &context).expect("partial");
        let structured = output.structured.expect("structured");
        assert!(
            structured["note"]
                .as_str()
                .is_some_and(|note| note.contains("deadline")),
            "{structured}"
        );
    }

    /// What a walk could not read is said, after why it stopped.
    #[test]
    fn skipped_entries_are_named_in_the_note() {
        assert_eq!(super::with_skipped(None, 0, 0), None);
        assert_eq!(
            super::with_skipped(None, 1, 0).as_deref(),
            Some("1 unreadable directory skipped")
        );
        assert_eq!(
            super::with_skipped(Some("cut".into()), 2, 3).as_deref(),
            Some("cut; 2 unreadable directories skipped; 3 unreadable files skipped")
        );
    }

    /// Deny globs hide matching entries at every depth and everything
    /// inside a denied directory, though each entry is matched by its own
    /// path only (its ancestors were matched when they were listed).
    #[test]
    fn deny_globs_hide_entries_at_every_depth() {
        let temp = tempfile::tempdir().expect("tempdir");
        let dir = cap_std::fs::Dir::open_ambient_dir(temp.path(), cap_std::ambient_authority())
            .expect("open");
        for path in [
            "a/b/c.txt",
            "a/b/c.key",
            "a/secret/inner/d.txt",
            "secret/e.txt",
            "f.key",
            "g.txt",
        ] {
            let path = std::path::Path::new(path);
            dir.create_dir_all(path.parent().expect("parent"))
                .expect("mkdir");
            dir.write(path, "x").expect("write");
        }
        let roots = [(
            temp.path().to_string_lossy().into_owned(),
            moat_shared::policy::Mode::Rw,
        )];
        let policy = FsPolicy {
            deny: ["**/secret", "**/*.key"]
                .into_iter()
                .map(|glob| toml::Spanned::new(0..0, glob.to_string()))
                .collect(),
            ..FsPolicy::default()
        };
        let server = FsServer::new(&roots, policy).expect("server");
        let context = CallContext::detached(Duration::from_secs(60));
        let output = directory_tree::run(&server, &arguments(), &context).expect("tree");
        let listed = output.structured.expect("structured").to_string();
        for shown in ["c.txt", "g.txt", "\"b\""] {
            assert!(listed.contains(shown), "{shown} missing: {listed}");
        }
        for hidden in ["c.key", "f.key", "secret", "inner", "d.txt", "e.txt"] {
            assert!(!listed.contains(hidden), "{hidden} shown: {listed}");
        }
    }

    /// A cancelled walk stops with Cancelled.
    #[test]
    fn cancellation_stops_the_walk() {
        let (_temp, server) = server();
        let context = CallContext::detached(Duration::from_secs(60));
        context.cancel.cancel();
        let result = directory_tree::run(&server, &arguments(), &context);
        assert!(matches!(result, Err(moat_shared::ToolError::Cancelled)));
    }
}
