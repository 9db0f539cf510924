//! `copy_file`: copy a file, or a directory tree with `recursive: true`,
//! never over an existing destination.
//!
//! Files are streamed (never loaded whole) from a non-blocking, type-checked
//! open into a destination created with `O_CREAT|O_EXCL` (so a name that
//! appears meanwhile, even a symlink, is never written through). A tree is
//! copied with the shared walker (directory handles, no symlink following,
//! denied entries left out, visited-entry cap, deadline, progress);
//! symlinks and special files inside it are skipped and counted.
//!
//! # Must never
//! - overwrite anything, or write through a symlink at the destination;
//! - copy a directory into itself;
//! - leave a partial file behind when a file copy fails.

use std::{
    io,
    path::{Path, PathBuf},
};

use cap_std::fs::{Dir, OpenOptions};
use moat_shared::{CallContext, ToolError, ToolOutput, runtime::tool::structured};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::walk::Kind;
use crate::{
    FsServer,
    error::FsError,
    platform::file_mode,
    root::open_regular_in,
    walk::{self, End, Entry, Limits, Options, Step, Visitor},
};

/// Arguments of `copy_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// What to copy.
    pub source: String,
    /// Where the copy goes; must not exist yet.
    pub destination: String,
    /// Copy a directory with everything in it.
    #[serde(default)]
    pub recursive: bool,
}

const DESCRIPTION: &str = "Copy a file, or a whole directory with recursive: true. Never \
overwrites: the destination must not exist. Symlinks inside a copied directory are skipped (and \
counted). A very large tree may stop at the time or entry limit; the result then says the copy \
is partial.";

moat_shared::tool! {
    /// The `copy_file` tool.
    pub CopyFile: BlockingTool<FsServer> = "copy_file", "Copy file", super::writes(false, false) {
        /// What happened, as in the text.
        pub content: String,
        /// Files copied.
        pub files: usize,
        /// Directories created.
        pub directories: usize,
        /// Bytes copied.
        pub bytes: u64,
        /// Symlinks and special files skipped.
        pub skipped: usize,
        /// False when the copy stopped early (the destination holds part).
        pub complete: bool,
    }
}

/// Copy the regular file `name` in `from` to a new file `to_name` in `to`;
/// `shown` and `to_shown` are the two paths as the client sees them.
fn copy_one(
    from: &Dir,
    name: &Path,
    to: &Dir,
    to_name: &Path,
    (shown, to_shown): (&str, &str),
    limits: &Limits,
) -> Result<u64, FsError> {
    let (source, metadata) = open_regular_in(from, name, shown)?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    let mut destination = to
        .open_with(to_name, &options)
        .map_err(|error| match error.kind() {
            io::ErrorKind::AlreadyExists => FsError::Refused(format!(
                "destination already exists: {to_shown} (copy_file never overwrites)"
            )),
            _ => FsError::io(to_shown, error),
        })?;
    let mut reader = super::Bounded {
        inner: source,
        deadline: limits.deadline,
        cancel: limits.cancel.clone(),
    };
    let copied = io::copy(&mut reader, &mut destination).and_then(|bytes| {
        destination.set_permissions(file_mode::preserved(&metadata))?;
        Ok(bytes)
    });
    match copied {
        Ok(bytes) => Ok(bytes),
        Err(error) => {
            drop(destination);
            let _ = to.remove_file(to_name);
            Err(FsError::io(shown, error))
        }
    }
}

struct Copy<'a> {
    to: &'a Dir,
    base: &'a str,
    to_base: &'a str,
    limits: &'a Limits,
    files: usize,
    directories: usize,
    bytes: u64,
    skipped: usize,
    failure: Option<FsError>,
}

impl Visitor for Copy<'_> {
    fn entry(&mut self, entry: &Entry<'_>) -> Step {
        let shown = walk::shown(self.base, entry.rel);
        let result = match entry.kind {
            Kind::Dir => self.to.create_dir(entry.rel).map(|()| {
                self.directories += 1;
            }),
            Kind::File => {
                match copy_one(
                    entry.parent,
                    Path::new(entry.name),
                    self.to,
                    entry.rel,
                    (&shown, &walk::shown(self.to_base, entry.rel)),
                    self.limits,
                ) {
                    Ok(bytes) => {
                        self.files += 1;
                        self.bytes += bytes;
                        Ok(())
                    }
                    Err(error) => {
                        self.failure = Some(error);
                        return Step::Stop;
                    }
                }
            }
            Kind::Link | Kind::Other => {
                self.skipped += 1;
                Ok(())
            }
        };
        match result {
            Ok(()) => Step::Continue,
            Err(error) => {
                self.failure = Some(FsError::io(&shown, error));
                Step::Stop
            }
        }
    }
}

/// Run the tool.
pub fn run(server: &FsServer, args: &Args, context: &CallContext) -> Result<ToolOutput, ToolError> {
    let source = server.roots.resolve(&args.source)?;
    let destination = server.roots.resolve(&args.destination)?;
    destination.writable()?;
    let (destination_dir, destination_name) = destination.open_parent()?;
    let metadata = source
        .root
        .dir
        .metadata(&source.rel)
        .map_err(|error| FsError::io(&source.shown, error))?;
    let limits = Limits::for_call(server.policy.max_visited, context);
    if !metadata.is_dir() {
        let (source_dir, source_name) = source.open_parent()?;
        let bytes = copy_one(
            &source_dir,
            Path::new(&source_name),
            &destination_dir,
            Path::new(&destination_name),
            (&source.shown, &destination.shown),
            &limits,
        )?;
        let message = format!(
            "Successfully copied {} to {} ({bytes} bytes)",
            args.source, args.destination
        );
        return Ok(structured(
            message.clone(),
            &Output {
                content: message,
                files: 1,
                directories: 0,
                bytes,
                skipped: 0,
                complete: true,
            },
        ));
    }
    if !args.recursive {
        return Err(FsError::Invalid(format!(
            "{} is a directory: set recursive: true to copy it with its contents",
            args.source
        ))
        .into());
    }
    if std::ptr::eq(source.root, destination.root) && destination.rel.starts_with(&source.rel) {
        return Err(FsError::Refused(format!(
            "cannot copy {} into itself ({})",
            args.source, args.destination
        ))
        .into());
    }
    destination_dir
        .create_dir(&destination_name)
        .map_err(|error| match error.kind() {
            io::ErrorKind::AlreadyExists => FsError::Refused(format!(
                "destination already exists: {} (copy_file never overwrites)",
                args.destination
            )),
            _ => FsError::io(&destination.shown, error),
        })?;
    let to = destination_dir
        .open_dir(&destination_name)
        .map_err(|error| FsError::io(&destination.shown, error))?;
    let start = source
        .root
        .dir
        .open_dir(&source.rel)
        .map_err(|error| FsError::io(&source.shown, error))?;
    let start_rel: PathBuf = source.rel.clone();
    let options = Options {
        root: source.root,
        start: &start_rel,
        max_depth: None,
        resume_after: None,
        resume_inclusive: false,
    };
    let mut copy = Copy {
        to: &to,
        base: &args.source,
        to_base: &args.destination,
        limits: &limits,
        files: 0,
        directories: 1,
        bytes: 0,
        skipped: 0,
        failure: None,
    };
    let report =
        walk::walk(start, &server.roots, &options, &limits, &mut copy).map_err(|error| {
            // The source could not be listed (e.g. no read permission): take
            // back the destination folder made for it, which is still empty.
            let _ = destination_dir.remove_dir(&destination_name);
            FsError::io(&source.shown, error)
        })?;
    if let Some(failure) = copy.failure {
        let error = ToolError::from(failure);
        return Err(ToolError::failed(format!(
            "copy stopped after {} files: {}; {} holds a partial copy",
            copy.files,
            error.to_line(),
            args.destination
        )));
    }
    let complete = report.end == End::Complete;
    let mut message = format!(
        "Copied {} to {}: {} files, {} directories, {} bytes",
        args.source, args.destination, copy.files, copy.directories, copy.bytes
    );
    if copy.skipped > 0 {
        message.push_str(&format!(
            "; {} symlinks or special files skipped",
            copy.skipped
        ));
    }
    if report.unreadable > 0 {
        message.push_str(&format!(
            "; {} unreadable directories skipped",
            report.unreadable
        ));
    }
    if let Some(note) = report.end.explain(report.visited) {
        message.push_str(&format!(
            "; {note}: {} holds a partial copy",
            args.destination
        ));
    }
    Ok(structured(
        message.clone(),
        &Output {
            content: message,
            files: copy.files,
            directories: copy.directories,
            bytes: copy.bytes,
            skipped: copy.skipped,
            complete,
        },
    ))
}
