//! `search_file_contents`: grep. Lines matching a regex or a literal text
//! in the files under a directory, as `path:line:column: preview`.
//!
//! Matching is ripgrep's own (`grep-regex` + `grep-searcher`), streamed
//! over each file, so a huge file is never loaded whole; binary files are
//! skipped. `.gitignore` files met during the walk are honoured (with
//! `ignore`'s matcher) unless `respectGitignore` is false. The walk is the
//! shared [`crate::walk`] one: directory handles, no symlink following,
//! denied entries hidden, visited-entry cap, deadline, progress.
//!
//! # Must never
//! - open a FIFO, socket or device (files are opened non-blocking and
//!   checked), or follow a symlink;
//! - read past the deadline, even inside one huge file;
//! - return more than the budget: past it, a `cursor` continues the search.

use std::{
    collections::{BTreeMap, VecDeque},
    io::{self, Read},
    num::NonZeroUsize,
    ffi::OsString,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, channel, sync_channel},
    },
    thread::{Scope, available_parallelism},
    time::Instant,
};

use cap_std::fs::Dir;
use grep_matcher::Matcher;
use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::{BinaryDetection, Searcher, SearcherBuilder, Sink, SinkMatch};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use moat_shared::{CallContext, ToolError, ToolOutput, runtime::tool::structured};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::{
    FsServer,
    error::FsError,
    root::open_regular_in,
    walk::{self, Budget, End, Ending, Entry, Kind, Plan, Report, Step, Visitor},
};

/// Arguments of `search_file_contents`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Args {
    /// Where to search (a directory, searched recursively, or one file).
    pub path: String,
    /// The text to find: literal by default, a regular expression (Rust
    /// regex syntax) when `isRegex` is true.
    pub query: String,
    /// Treat `query` as a regular expression.
    #[serde(default)]
    pub is_regex: bool,
    /// Ignore case.
    #[serde(default)]
    pub ignore_case: bool,
    /// Only files matching this glob (by name when it has no `/`, e.g.
    /// `*.rs`; else by path relative to `path`).
    #[serde(alias = "pattern")]
    pub file_pattern: Option<String>,
    /// Globs of entries to skip, with everything under them.
    #[serde(default)]
    pub exclude_patterns: Vec<String>,
    /// Honour `.gitignore` files (and skip `.git`); default true.
    #[serde(default = "yes")]
    pub respect_gitignore: bool,
    /// Continue a cut search: the `nextCursor` of the previous result.
    pub cursor: Option<String>,
}

fn yes() -> bool {
    true
}

const DESCRIPTION: &str = "Search inside files for a text or regular expression, recursively \
(like grep/ripgrep). Returns one line per matching line: path:line:column: preview. Use it to find \
where something is defined or used; then read_text_file with offset to see the context. query is \
literal unless isRegex is true; filePattern (e.g. \"*.rs\") limits which files are searched; \
.gitignore is honoured by default; binary files are skipped. Long results are cut and give a \
cursor to continue; a search that hits the time or entry limit says its results are partial.";

/// Longest preview of a matching line, in characters: enough to recognise
/// the line, short enough that a minified file does not flood the result.
const PREVIEW_CHARS: usize = 160;
/// Characters shown before the match when a long line is cut.
const PREVIEW_LEAD: usize = 40;
/// Largest `.gitignore` read: real ones are a few KiB.
const MAX_GITIGNORE_BYTES: u64 = 1024 * 1024;
/// Most threads searching files at once: past the cores the walk and the
/// disk are the limit, not the matching.
const MAX_SEARCH_THREADS: usize = 8;
/// Files handed to a worker at once, and answered in one message: one
/// hand-over (a lock and a wake on each side) per file was more system
/// calls than searching a small file.
const BATCH_FILES: usize = 8;
/// Largest file read whole in one system call and searched as one slice
/// ([`read_small`]): source files are mostly smaller, and the searcher's
/// own buffer is this size.
const SLICE_MAX_BYTES: u64 = 64 * 1024;
/// Most files queued and not yet merged: bounds the descriptors held (each
/// queued file keeps its directory's handle open) and the results waiting
/// to be put in order.
const MAX_FILES_IN_FLIGHT: usize = 64;

moat_shared::tool! {
    /// The `search_file_contents` tool.
    pub SearchFileContents: BlockingTool<FsServer> = "search_file_contents", "Search file contents", super::read_only() {
        #![serde(rename_all = "camelCase")]
        /// One `path:line:column: preview` line a match, and the continuation
        /// line when cut.
        pub content: String,
        /// The matches.
        pub matches: Vec<Hit>,
        /// Files searched.
        pub files_searched: usize,
        /// Whether it was cut, how to continue, and why.
        #[serde(flatten)]
        pub ending: Ending,
    }
}

/// A continuation point: inside file `rel`, after line `line` (`None`:
/// after the whole entry).
struct Cursor {
    rel: PathBuf,
    line: Option<u64>,
}

impl Cursor {
    fn parse(text: &str) -> Result<Self, ToolError> {
        let (line, rel) = text
            .split_once(':')
            .ok_or_else(|| ToolError::invalid("cursor: not a cursor this tool returned"))?;
        let line = if line == "*" {
            None
        } else {
            Some(
                line.parse()
                    .map_err(|_| ToolError::invalid("cursor: not a cursor this tool returned"))?,
            )
        };
        Ok(Self {
            rel: PathBuf::from(rel),
            line,
        })
    }

    fn render(&self) -> String {
        let line = self
            .line
            .map_or_else(|| "*".to_string(), |line| line.to_string());
        format!("{line}:{}", self.rel.display())
    }
}

/// One match.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline)]
pub struct Hit {
    /// The file, as the client names it.
    pub path: String,
    /// Its line (1-based).
    pub line: u64,
    /// The match's column on the line (1-based, in characters).
    pub column: usize,
    /// The line, cut around the match.
    pub preview: String,
}

impl Hit {
    /// What the hit costs of the byte budget.
    fn cost(&self) -> usize {
        self.path.len() + self.preview.len() + 24
    }
}

struct Collect<'a> {
    matcher: &'a RegexMatcher,
    server: &'a FsServer,
    /// Searches files on worker threads (a directory search); `None`:
    /// files are searched on the walking thread.
    pool: Option<Pool>,
    files: Option<&'a (globset::GlobSet, globset::GlobSet)>,
    exclude: &'a (globset::GlobSet, globset::GlobSet),
    gitignore: bool,
    ignores: Vec<(usize, Gitignore)>,
    /// The directories being walked, by the depth `enter` gave them: a
    /// worker opens a queued file through its directory's handle, shared.
    dirs: Vec<(usize, Arc<Dir>)>,
    base: &'a str,
    resume: Option<Cursor>,
    hits: Vec<Hit>,
    budget: Budget,
    files_searched: usize,
    /// Where to continue when the budget stops the search.
    stopped_at: Option<Cursor>,
    deadline: Instant,
    cancel: CancellationToken,
    timed_out: bool,
    /// Files listed but not readable (permissions, or replaced mid-walk).
    unreadable_files: usize,
    /// Why the last file could not be opened.
    open_failure: Option<FsError>,
}

/// The path a `.gitignore` matcher sees: the walk-relative path under a
/// virtual `/` (matchers are rooted at their directory's virtual path).
fn virtual_path(rel: &Path) -> PathBuf {
    Path::new("/").join(rel)
}

impl Collect<'_> {
    fn ignored(&self, rel: &Path, is_dir: bool) -> bool {
        let path = virtual_path(rel);
        for (_, gitignore) in self.ignores.iter().rev() {
            let found = gitignore.matched(&path, is_dir);
            if found.is_ignore() {
                return true;
            }
            if found.is_whitelist() {
                return false;
            }
        }
        false
    }

    /// Search one file (or queue it for a worker); false once the budget
    /// is full.
    fn search(&mut self, entry: &Entry<'_>) -> bool {
        let skip_through = match &self.resume {
            Some(cursor) if cursor.rel == entry.rel => {
                let line = cursor.line;
                self.resume = None;
                match line {
                    None => return true,
                    Some(line) => line,
                }
            }
            _ => 0,
        };
        let shown = walk::shown(self.base, entry.rel);
        let parent = match self.parent_of(entry) {
            Ok(parent) => parent,
            Err(error) => {
                self.unreadable_files += 1;
                self.open_failure = Some(FsError::io(&shown, error));
                return true;
            }
        };
        let job = Job {
            parent,
            name: entry.name.clone(),
            shown,
            skip_through,
        };
        let rel = entry.rel.to_path_buf();
        let Some(pool) = &mut self.pool else {
            let found = search_job(
                self.matcher,
                &mut searcher(),
                &mut Vec::new(),
                &job,
                self.deadline,
                &self.cancel,
                Budget::of(self.server),
            );
            return self.merge(rel, skip_through, found);
        };
        pool.waiting.push_back((rel, skip_through));
        pool.batch.push(job);
        if pool.batch.len() >= BATCH_FILES && !pool.send_batch() {
            self.timed_out = true;
            return false;
        }
        // Merge what is done; wait only when too many files are in flight.
        while let Some(pool) = &mut self.pool {
            let block = pool.waiting.len() >= MAX_FILES_IN_FLIGHT;
            // The file waited for may still be in the batch being filled.
            if block && !pool.send_batch() {
                self.timed_out = true;
                return false;
            }
            match self.next_done(block) {
                Some(true) => {}
                Some(false) => return false,
                None => return !self.timed_out,
            }
        }
        true
    }

    /// The handle of the directory holding `entry`: the one entered just
    /// above its depth, shared; a duplicate of `entry.parent` if the walk
    /// did not announce it.
    fn parent_of(&self, entry: &Entry<'_>) -> io::Result<Arc<Dir>> {
        match self.dirs.last() {
            Some((depth, dir)) if *depth + 1 == entry.depth => Ok(dir.clone()),
            _ => entry.parent.try_clone().map(Arc::new),
        }
    }

    /// Merge the next file's hits, in walk order, once its worker is done:
    /// `Some(false)` when the budget filled, `None` when it is not done yet
    /// (or, waiting with `block`, the deadline passed).
    fn next_done(&mut self, block: bool) -> Option<bool> {
        let pool = self.pool.as_mut()?;
        if pool.waiting.is_empty() {
            return None;
        }
        let first = pool.merged;
        while !pool.done.contains_key(&first) {
            let received = if block {
                let left = self.deadline.saturating_duration_since(Instant::now());
                // Past the deadline, or every worker gone: stop either way.
                pool.results
                    .recv_timeout(left)
                    .map_err(|_: RecvTimeoutError| true)
            } else {
                pool.results
                    .try_recv()
                    .map_err(|error| matches!(error, std::sync::mpsc::TryRecvError::Disconnected))
            };
            match received {
                Ok((first, batch)) => {
                    pool.done.extend((first..).zip(batch));
                }
                Err(gone) => {
                    if gone {
                        self.timed_out = true;
                    }
                    return None;
                }
            }
        }
        let found = pool.done.remove(&first)?;
        let (rel, skip_through) = pool.waiting.pop_front()?;
        pool.merged += 1;
        Some(self.merge(rel, skip_through, found))
    }

    /// Count one searched file and take its hits into the result, in
    /// order, until the budget is full; false when it filled.
    fn merge(&mut self, rel: PathBuf, skip_through: u64, found: Found) -> bool {
        if let Some(error) = found.open_failure {
            // Gone since the listing: it is simply not there any more.
            if !matches!(&error, FsError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
            {
                self.unreadable_files += 1;
            }
            self.open_failure = Some(error);
            return true;
        }
        self.files_searched += 1;
        if found.timed_out {
            self.timed_out = true;
        }
        let mut last = skip_through;
        for hit in found.hits {
            if !self.budget.take(hit.cost()) {
                self.stopped_at = Some(Cursor {
                    rel,
                    line: Some(last),
                });
                return false;
            }
            last = hit.line;
            self.hits.push(hit);
        }
        if let Some(line) = found.full_at {
            self.stopped_at = Some(Cursor {
                rel,
                line: Some(line),
            });
            return false;
        }
        true
    }

    /// After the walk: merge every file still in flight.
    fn finish(&mut self) {
        let Some(pool) = &mut self.pool else {
            return;
        };
        if !pool.send_batch() {
            self.timed_out = true;
        }
        // No more jobs: the workers end once the queue is empty.
        let (closed, _) = sync_channel(0);
        drop(std::mem::replace(&mut pool.jobs, closed));
        if self.stopped_at.is_some() {
            return;
        }
        while let Some(merged) = self.next_done(true) {
            if !merged {
                return;
            }
        }
    }
}

/// A file queued for a worker, not yet opened: the worker opens it, so
/// the walking thread's system calls are only the directories' and the
/// files' opens and reads are spread over the workers.
struct Job {
    /// The directory holding it.
    parent: Arc<Dir>,
    /// Its name there.
    name: OsString,
    /// Its path as the client names it.
    shown: String,
    /// Lines up to this one were returned by an earlier call.
    skip_through: u64,
}

/// What searching one file found.
#[derive(Default)]
struct Found {
    /// It could not be opened (or is not a regular file): why.
    open_failure: Option<FsError>,
    hits: Vec<Hit>,
    timed_out: bool,
    /// The file alone filled a whole budget: the last line kept.
    full_at: Option<u64>,
}

/// Files handed to a worker at once, numbered from the first one's place
/// in walk order.
type Batch = (u64, Vec<Job>);

/// What a worker found in each file of one batch, in the batch's order.
type Batched = (u64, Vec<Found>);

/// The workers of one directory search, seen from the walking thread.
struct Pool {
    jobs: SyncSender<Batch>,
    /// Files queued but not yet handed over.
    batch: Vec<Job>,
    /// Files handed over so far (the number of the batch's first file).
    sent: u64,
    /// Each batch's results, numbered like the batch.
    results: Receiver<Batched>,
    /// Each queued file, in walk order: where it is, and the line a
    /// continued search starts after.
    waiting: VecDeque<(PathBuf, u64)>,
    /// Finished files not yet merged (a later file can finish first).
    done: BTreeMap<u64, Found>,
    /// Files merged so far (the sequence number of `waiting`'s front).
    merged: u64,
}

impl Pool {
    /// Start the workers of a directory search in `scope`.
    fn start<'scope>(
        scope: &'scope Scope<'scope, '_>,
        server: &'scope FsServer,
        matcher: &'scope RegexMatcher,
        deadline: Instant,
        cancel: &CancellationToken,
    ) -> Self {
        let threads = available_parallelism()
            .map_or(1, NonZeroUsize::get)
            .min(MAX_SEARCH_THREADS);
        let (jobs, queue) = sync_channel::<Batch>(MAX_FILES_IN_FLIGHT / BATCH_FILES);
        let (done, results) = channel();
        let queue = std::sync::Arc::new(Mutex::new(queue));
        for _ in 0..threads {
            let queue = queue.clone();
            let done: Sender<Batched> = done.clone();
            let cancel = cancel.clone();
            scope.spawn(move || {
                let mut searcher = searcher();
                let mut buffer = Vec::new();
                loop {
                    let next = queue.lock().ok().and_then(|queue| queue.recv().ok());
                    let Some((first, batch)) = next else {
                        return;
                    };
                    let found = batch
                        .iter()
                        .map(|job| {
                            search_job(
                                matcher,
                                &mut searcher,
                                &mut buffer,
                                job,
                                deadline,
                                &cancel,
                                Budget::of(server),
                            )
                        })
                        .collect();
                    if done.send((first, found)).is_err() {
                        return;
                    }
                }
            });
        }
        Self {
            jobs,
            batch: Vec::with_capacity(BATCH_FILES),
            sent: 0,
            results,
            waiting: VecDeque::new(),
            done: BTreeMap::new(),
            merged: 0,
        }
    }

    /// Hand the files queued so far to a worker; false when every worker
    /// is gone.
    fn send_batch(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_FILES));
        let first = self.sent;
        self.sent += batch.len() as u64;
        self.jobs.send((first, batch)).is_ok()
    }
}

/// The searcher every file is searched with: line numbers on, and a file
/// with a NUL byte is binary and left.
fn searcher() -> Searcher {
    SearcherBuilder::new()
        .line_number(true)
        .binary_detection(BinaryDetection::quit(0))
        .build()
}

/// Every hit in one file, up to a whole `budget`, or why it could not be
/// opened. `buffer` is the worker's, reused from file to file.
fn search_job(
    matcher: &RegexMatcher,
    searcher: &mut Searcher,
    buffer: &mut Vec<u8>,
    job: &Job,
    deadline: Instant,
    cancel: &CancellationToken,
    mut budget: Budget,
) -> Found {
    let (file, size) = match open_regular_in(&job.parent, Path::new(&job.name), &job.shown) {
        Ok((file, metadata)) => (file, metadata.len()),
        Err(error) => {
            return Found {
                open_failure: Some(error),
                ..Found::default()
            };
        }
    };
    let mut reader = super::Bounded {
        inner: file,
        deadline,
        cancel: cancel.clone(),
    };
    let mut hits = Vec::new();
    let mut sink = HitSink {
        matcher,
        path: &job.shown,
        skip_through: job.skip_through,
        hits: &mut hits,
        budget: &mut budget,
        full_at: None,
    };
    let result = match read_small(&mut reader, size, buffer) {
        Ok(Small::Whole(bytes)) => searcher.search_slice(matcher, bytes, &mut sink),
        Ok(Small::Started(bytes)) => searcher.search_reader(matcher, bytes.chain(reader), &mut sink),
        Err(error) => Err(error),
    };
    let full_at = sink.full_at;
    let timed_out = matches!(result, Err(error) if error.kind() == io::ErrorKind::TimedOut);
    Found {
        open_failure: None,
        hits,
        timed_out,
        full_at,
    }
}

/// What [`read_small`] read.
enum Small<'a> {
    /// The whole file.
    Whole(&'a [u8]),
    /// Its start (perhaps nothing): the rest is still to read.
    Started(&'a [u8]),
}

/// A file of at most [`SLICE_MAX_BYTES`] in one read, when that read
/// returns exactly the size the file had when opened: a file a few dozen
/// bytes long then costs one `read` instead of three (the searcher's
/// three-byte look for a byte-order mark, the text, and the read that
/// finds the end), which was a third of a search's system calls over a
/// tree of small files. A bigger file, or one whose size changed, is
/// streamed from where this read stopped.
fn read_small<'a>(reader: &mut impl Read, size: u64, buffer: &'a mut Vec<u8>) -> io::Result<Small<'a>> {
    if size > SLICE_MAX_BYTES {
        return Ok(Small::Started(&[]));
    }
    // One byte more than the size: a file that grew fills it.
    let want = size as usize + 1;
    if buffer.len() < want {
        buffer.resize(want, 0);
    }
    let read = reader.read(&mut buffer[..want])?;
    Ok(if read as u64 == size {
        Small::Whole(&buffer[..read])
    } else {
        Small::Started(&buffer[..read])
    })
}

struct HitSink<'a> {
    matcher: &'a RegexMatcher,
    path: &'a str,
    skip_through: u64,
    hits: &'a mut Vec<Hit>,
    budget: &'a mut Budget,
    /// The last line reported when the budget filled.
    full_at: Option<u64>,
}

impl Sink for HitSink<'_> {
    type Error = io::Error;

    fn matched(&mut self, _searcher: &Searcher, found: &SinkMatch<'_>) -> Result<bool, io::Error> {
        let line = found.line_number().unwrap_or(0);
        if line <= self.skip_through {
            return Ok(true);
        }
        let bytes = found.bytes();
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_end_matches(['\n', '\r']);
        let start = self
            .matcher
            .find(bytes)
            .ok()
            .flatten()
            .map_or(0, |found| found.start());
        let column = String::from_utf8_lossy(&bytes[..start.min(bytes.len())])
            .chars()
            .count()
            + 1;
        let hit = Hit {
            path: self.path.to_string(),
            line,
            column,
            preview: preview(text, column - 1),
        };
        if !self.budget.take(hit.cost()) {
            self.full_at = Some(self.hits.last().map_or(self.skip_through, |hit| {
                if hit.path == self.path {
                    hit.line
                } else {
                    self.skip_through
                }
            }));
            return Ok(false);
        }
        self.hits.push(hit);
        Ok(true)
    }
}

/// A line cut to [`PREVIEW_CHARS`] around the match at char `column`.
fn preview(line: &str, column: usize) -> String {
    let count = line.chars().count();
    if count <= PREVIEW_CHARS {
        return line.trim().to_string();
    }
    let start = column
        .saturating_sub(PREVIEW_LEAD)
        .min(count - PREVIEW_CHARS);
    let mut cut: String = line.chars().skip(start).take(PREVIEW_CHARS).collect();
    if start > 0 {
        cut.insert(0, '…');
    }
    if start + PREVIEW_CHARS < count {
        cut.push('…');
    }
    cut
}

impl Visitor for Collect<'_> {
    fn entry(&mut self, entry: &Entry<'_>) -> Step {
        if self.cancel.is_cancelled() || self.timed_out {
            return Step::Stop;
        }
        if super::glob_matches(&self.exclude.0, &self.exclude.1, entry.rel, entry.name) {
            return Step::Skip;
        }
        if self.gitignore {
            if entry.kind == Kind::Dir && entry.name == ".git" {
                return Step::Skip;
            }
            if self.ignored(entry.rel, entry.kind == Kind::Dir) {
                return Step::Skip;
            }
        }
        if entry.kind != Kind::File {
            return Step::Continue;
        }
        if let Some(files) = self.files
            && !super::glob_matches(&files.0, &files.1, entry.rel, entry.name)
        {
            return Step::Continue;
        }
        if self.search(entry) {
            Step::Continue
        } else {
            Step::Stop
        }
    }

    fn enter(&mut self, dir: &Dir, rel: &Path, depth: usize) {
        // One duplicate handle per directory (not per file); a failed
        // duplicate leaves `parent_of` to try again per file.
        if let Ok(shared) = dir.try_clone() {
            self.dirs.push((depth, Arc::new(shared)));
        }
        if !self.gitignore {
            return;
        }
        let Ok(metadata) = dir.symlink_metadata(".gitignore") else {
            return;
        };
        if !metadata.is_file() || metadata.len() > MAX_GITIGNORE_BYTES {
            return;
        }
        let Ok((file, _)) = open_regular_in(dir, Path::new(".gitignore"), ".gitignore") else {
            return;
        };
        let mut text = String::new();
        if file
            .take(MAX_GITIGNORE_BYTES)
            .read_to_string(&mut text)
            .is_err()
        {
            return;
        }
        let mut builder = GitignoreBuilder::new(virtual_path(rel));
        for line in text.lines() {
            let _ = builder.add_line(None, line);
        }
        if let Ok(gitignore) = builder.build() {
            self.ignores.push((depth, gitignore));
        }
    }

    fn leave(&mut self, depth: usize) {
        while self.dirs.last().is_some_and(|(at, _)| *at >= depth) {
            self.dirs.pop();
        }
        while self.ignores.last().is_some_and(|(at, _)| *at >= depth) {
            self.ignores.pop();
        }
    }
}

/// Run the tool.
pub fn run(server: &FsServer, args: &Args, context: &CallContext) -> Result<ToolOutput, ToolError> {
    if args.query.is_empty() {
        return Err(FsError::Invalid("query is empty".into()).into());
    }
    let matcher = RegexMatcherBuilder::new()
        .case_insensitive(args.ignore_case)
        .fixed_strings(!args.is_regex)
        .line_terminator(Some(b'\n'))
        .build(&args.query)
        .map_err(|error| ToolError::invalid(format!("query is not a valid regex: {error}")))?;
    let files = args
        .file_pattern
        .as_ref()
        .map(|pattern| super::glob_pair(std::slice::from_ref(pattern), "filePattern"))
        .transpose()?;
    let exclude = super::glob_pair(&args.exclude_patterns, "excludePatterns")?;
    let resume = args.cursor.as_deref().map(Cursor::parse).transpose()?;
    let target = server.roots.resolve(&args.path)?;
    let is_dir = target
        .root
        .dir
        .metadata(&target.rel)
        .map_err(|error| FsError::io(&target.shown, error))?
        .is_dir();
    // One file is shown as given: its parent as the base, its name as rel.
    let single_base = crate::platform::result_path::parent(&args.path);
    let deadline = walk::deadline(context);
    // The walk stays on this thread (it holds the directory handles and
    // opens each file); a directory's files are searched by workers and
    // merged back in walk order, so the answer and its cursor are the
    // same as a one-thread search's.
    let (mut report, mut collect) = std::thread::scope(|scope| {
        let mut collect = Collect {
            matcher: &matcher,
            server,
            pool: is_dir.then(|| Pool::start(scope, server, &matcher, deadline, &context.cancel)),
            files: files.as_ref(),
            exclude: &exclude,
            gitignore: args.respect_gitignore,
            ignores: Vec::new(),
            dirs: Vec::new(),
            base: if is_dir { &args.path } else { &single_base },
            resume,
            hits: Vec::new(),
            budget: Budget::of(server),
            files_searched: 0,
            stopped_at: None,
            deadline,
            cancel: context.cancel.clone(),
            timed_out: false,
            unreadable_files: 0,
            open_failure: None,
        };
        let report = if is_dir {
            let resume_rel = collect.resume.as_ref().map(|cursor| cursor.rel.clone());
            let plan = Plan {
                resume_after: resume_rel.as_deref(),
                resume_inclusive: true,
                ..Plan::default()
            };
            let mut report = walk::walk_target(server, &target, &plan, context, &mut collect)?;
            collect.finish();
            // The budget filled while the last files were merged.
            if collect.stopped_at.is_some() {
                report.end = End::Stopped;
            }
            report
        } else {
            // One file: search it directly through its parent directory.
            let (dir, name) = target.open_parent()?;
            let dir = Arc::new(dir);
            collect.dirs.push((0, dir.clone()));
            let rel = PathBuf::from(&name);
            let entry = Entry {
                rel: &rel,
                name: &name,
                kind: Kind::File,
                depth: 1,
                parent: &dir,
            };
            let whole = collect.search(&entry);
            // The one file the client named could not be read: say why
            // rather than "No matches found".
            if let Some(error) = collect.open_failure.take() {
                return Err(ToolError::from(error));
            }
            Report {
                end: if whole { End::Complete } else { End::Stopped },
                visited: 1,
                last: None,
                unreadable: 0,
            }
        };
        // Ends the workers before the scope waits for them.
        collect.pool = None;
        Ok((report, collect))
    })?;
    if context.cancel.is_cancelled() {
        return Err(ToolError::Cancelled);
    }
    if collect.timed_out && report.end != End::Stopped {
        report.end = End::Deadline;
    }
    let walk_last = || report.last.clone().map(|rel| Cursor { rel, line: None });
    let next = match report.end {
        End::Complete | End::Cancelled => None,
        End::Stopped => collect.stopped_at.take().or_else(walk_last),
        End::VisitedCap | End::Deadline => walk_last(),
    }
    .map(|cursor| cursor.render());
    let mut text = String::new();
    for hit in &collect.hits {
        text.push_str(&format!(
            "{}:{}:{}: {}\n",
            hit.path, hit.line, hit.column, hit.preview
        ));
    }
    if collect.hits.is_empty() {
        text.push_str("No matches found\n");
    }
    let ending = Ending::new(
        &report,
        next,
        format!(
            "results were cut at the budget after {} matches",
            collect.hits.len()
        ),
        collect.unreadable_files,
    );
    text.push_str(&ending.line("search_file_contents"));
    Ok(structured(
        text.clone(),
        &Output {
            content: text,
            matches: collect.hits,
            files_searched: collect.files_searched,
            ending,
        },
    ))
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use super::{SLICE_MAX_BYTES, Small, read_small};

    /// A small file whose read returns its size is searched whole; one that
    /// grew or shrank since it was opened, or is too big, is streamed from
    /// where the read stopped, so nothing is lost or read twice.
    #[test]
    fn small_files_are_read_whole_and_others_streamed() {
        let mut buffer = Vec::new();
        let text = b"line one\nneedle\n";
        let whole = read_small(&mut Cursor::new(text), text.len() as u64, &mut buffer);
        assert!(matches!(whole, Ok(Small::Whole(bytes)) if bytes == text));
        for size in [text.len() as u64 - 3, text.len() as u64 + 5] {
            let mut reader = Cursor::new(text);
            let Ok(Small::Started(start)) = read_small(&mut reader, size, &mut buffer) else {
                panic!("size {size}: not streamed");
            };
            let mut all = start.to_vec();
            reader.read_to_end(&mut all).expect("read");
            assert_eq!(all, text, "size {size}");
        }
        let mut reader = Cursor::new(text);
        let big = read_small(&mut reader, SLICE_MAX_BYTES + 1, &mut buffer);
        assert!(matches!(big, Ok(Small::Started(bytes)) if bytes.is_empty()));
        assert_eq!(reader.position(), 0, "a big file is not read ahead");
    }
}
