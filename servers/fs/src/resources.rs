//! moat-fs as MCP resources: each root is a resource (its `file://` URI,
//! read as the `text/uri-list` of its entries), each root has a `file://`
//! resource template for everything under it, and a file reads as text
//! (UTF-8) or as a base64 blob with its MIME type.
//!
//! Reads go through the same resolution as the tools (the root's cap-std
//! `Dir`, the deny globs, the client's roots) and the same limits
//! (`max_read_bytes` for text, `max_media_bytes` for a blob,
//! `max_entries` for a listing). Subscriptions watch through [`watch`],
//! and each notification first re-resolves the path through its root.
//!
//! # Must never
//! - read or report a path outside the session's roots, even through a
//!   symlink swapped in after the subscription;
//! - name a denied path in a listing.

use std::{ffi::OsString, io::Read, path::PathBuf, sync::Arc};

use base64::Engine as _;
use moat_shared::{
    CallContext,
    runtime::resources::{ResourceError, ResourcePage, Resources, Subscription, UpdateSink},
};
use rmcp::model::{Resource, ResourceContents, ResourceTemplate};

use crate::{FsServer, Root, Roots, error::FsError, tool::read_media_file::mime_of};

/// Resources on one `resources/list` page: roots are few, but a client
/// given hundreds (MCP roots from an IDE workspace) pages through them.
pub const LIST_PAGE: usize = 100;

/// The MIME type of a directory's listing: one `file://` URI per line.
const LISTING_MIME: &str = "text/uri-list";

/// The `file://` URI of `path`, with a trailing slash for a directory.
fn uri_of(path: &std::path::Path, directory: bool) -> String {
    let url = if directory {
        url::Url::from_directory_path(path)
    } else {
        url::Url::from_file_path(path)
    };
    url.map_or_else(|()| format!("file://{}", path.display()), String::from)
}

/// The local path a `file://` URI names.
fn path_of(uri: &str) -> Result<PathBuf, ResourceError> {
    url::Url::parse(uri)
        .ok()
        .filter(|url| url.scheme() == "file")
        .and_then(|url| url.to_file_path().ok())
        .ok_or_else(|| {
            ResourceError::NotFound(format!("not a file:// URI this server serves: {uri}"))
        })
}

/// A tool-side failure as a resource failure: anything that would reveal
/// or reach a path outside the allowed ones is "not found".
fn resource_error(error: FsError) -> ResourceError {
    match error {
        FsError::OutsideRoots(_) | FsError::DeniedByPolicy(_) | FsError::BadPath { .. } => {
            ResourceError::NotFound(error.to_string())
        }
        FsError::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            ResourceError::NotFound(error.to_string())
        }
        other => ResourceError::Refused(other.into()),
    }
}

/// A root's resource entry.
fn root_resource(root: &Root) -> Resource {
    let name = root.given.file_name().map_or_else(
        || root.given.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    let mode = match root.mode {
        moat_shared::policy::Mode::Rw => "read-write",
        moat_shared::policy::Mode::Ro => "read-only",
    };
    Resource::new(uri_of(&root.given, true), name)
        .with_description(format!(
            "Allowed directory {} ({mode}); reads as the list of its entries",
            root.given.display()
        ))
        .with_mime_type(LISTING_MIME)
}

impl FsServer {
    fn roots_for(&self, context: &CallContext) -> Arc<Roots> {
        self.for_call(context).roots
    }

    /// A directory's entries as `file://` URIs, denied ones left out, cut
    /// at the entry budget.
    fn listing(
        &self,
        roots: &Roots,
        target: &crate::Target<'_>,
        uri: &str,
    ) -> Result<String, FsError> {
        let dir = target
            .root
            .dir
            .open_dir(&target.rel)
            .map_err(|error| FsError::io(&target.shown, error))?;
        let base = target.root.given.join(&target.rel);
        let mut lines: Vec<String> = dir
            .entries()
            .map_err(|error| FsError::io(&target.shown, error))?
            .filter_map(Result::ok)
            .filter(|entry| !roots.is_denied(target.root, &target.rel.join(entry.file_name())))
            .map(|entry| {
                let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
                uri_of(&base.join(entry.file_name()), is_dir)
            })
            .collect();
        lines.sort();
        let budget = self.policy.max_entries;
        if lines.len() > budget {
            tracing::debug!(%uri, entries = lines.len(), budget, "listing cut at the entry budget");
            lines.truncate(budget);
        }
        Ok(lines.join("\n"))
    }

    /// A file's contents: text when it is UTF-8 and not a known media
    /// type, else a base64 blob with its MIME type.
    fn file_contents(
        &self,
        target: &crate::Target<'_>,
        uri: &str,
    ) -> Result<ResourceContents, FsError> {
        let (file, metadata) = target.open_regular()?;
        let (mime, kind) = mime_of(&target.shown);
        let limit = if kind == "blob" {
            self.policy.max_read_bytes
        } else {
            self.policy.max_media_bytes
        };
        let too_big = |size: u64| {
            FsError::Refused(format!(
                "{} is {size} bytes, over the {limit}-byte limit for one resource read; \
                 read part of it with read_text_file",
                target.shown
            ))
        };
        if metadata.len() > limit {
            return Err(too_big(metadata.len()));
        }
        let mut bytes = Vec::with_capacity(metadata.len() as usize);
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|error| FsError::io(&target.shown, error))?;
        if bytes.len() as u64 > limit {
            return Err(too_big(bytes.len() as u64));
        }
        if kind == "blob" {
            match String::from_utf8(bytes) {
                Ok(text) => {
                    return Ok(ResourceContents::text(text, uri).with_mime_type("text/plain"));
                }
                Err(error) => bytes = error.into_bytes(),
            }
            if bytes.len() as u64 > self.policy.max_media_bytes {
                return Err(FsError::Refused(format!(
                    "{} is binary and {} bytes, over the {}-byte media limit",
                    target.shown,
                    bytes.len(),
                    self.policy.max_media_bytes
                )));
            }
        }
        let blob = base64::engine::general_purpose::STANDARD.encode(&bytes);
        Ok(ResourceContents::blob(blob, uri).with_mime_type(mime))
    }
}

impl Resources for FsServer {
    fn list(
        &self,
        context: &CallContext,
        cursor: Option<&str>,
    ) -> Result<ResourcePage, ResourceError> {
        let roots = self.roots_for(context);
        let all: Vec<Resource> = roots.all().iter().map(root_resource).collect();
        let start = match cursor {
            None => 0,
            Some(cursor) => cursor
                .parse::<usize>()
                .ok()
                .filter(|start| *start <= all.len())
                .ok_or_else(|| {
                    ResourceError::Refused(moat_shared::ToolError::invalid(format!(
                        "cursor {cursor:?} was not given by this server"
                    )))
                })?,
        };
        let end = (start + LIST_PAGE).min(all.len());
        Ok(ResourcePage {
            resources: all[start..end].to_vec(),
            next_cursor: (end < all.len()).then(|| end.to_string()),
        })
    }

    fn templates(&self, context: &CallContext) -> Vec<ResourceTemplate> {
        let roots = self.roots_for(context);
        roots
            .all()
            .iter()
            .map(|root| {
                let base = uri_of(&root.given, true);
                ResourceTemplate::new(format!("{base}{{+path}}"), format!("files in {}", root.given.display()))
                    .with_description(
                        "A file (text, or a base64 blob with its MIME type) or a directory (the list of its entries) under this allowed directory",
                    )
            })
            .collect()
    }

    fn read(
        &self,
        context: &CallContext,
        uri: &str,
    ) -> Result<Vec<ResourceContents>, ResourceError> {
        let path = path_of(uri)?;
        let roots = self.roots_for(context);
        let target = roots
            .resolve(&path.to_string_lossy())
            .map_err(resource_error)?;
        let metadata = target
            .root
            .dir
            .metadata(&target.rel)
            .map_err(|error| resource_error(FsError::io(&target.shown, error)))?;
        if metadata.is_dir() {
            let listing = self.listing(&roots, &target, uri).map_err(resource_error)?;
            return Ok(vec![
                ResourceContents::text(listing, uri).with_mime_type(LISTING_MIME),
            ]);
        }
        let contents = self.file_contents(&target, uri).map_err(resource_error)?;
        Ok(vec![contents])
    }

    fn subscribe(
        &self,
        context: &CallContext,
        sink: UpdateSink,
    ) -> Result<Subscription, ResourceError> {
        let path = path_of(sink.uri())?.to_string_lossy().into_owned();
        let roots = self.roots_for(context);
        let target = roots.resolve(&path).map_err(resource_error)?;
        // Where the path really is inside the root now (cap-std resolves
        // symlinks and refuses any that leads out).
        let real = target
            .root
            .dir
            .canonicalize(&target.rel)
            .map_err(|error| resource_error(FsError::io(&target.shown, error)))?;
        let is_dir = target
            .root
            .dir
            .metadata(&real)
            .map_err(|error| resource_error(FsError::io(&target.shown, error)))?
            .is_dir();
        let absolute = target.root.canonical.join(&real);
        let (dir, name): (PathBuf, Option<OsString>) = if is_dir {
            (absolute, None)
        } else {
            let name = absolute.file_name().map(OsString::from);
            let parent = absolute.parent().map(PathBuf::from).unwrap_or_default();
            (parent, name)
        };
        let confirm_roots = roots.clone();
        let confirm = move || still_inside(&confirm_roots, &path);
        let notify_sink = sink.clone();
        let guard = self
            .watches
            .watch(sink.runtime(), &dir, name, confirm, move || {
                notify_sink.send();
            })
            .map_err(resource_error)?;
        Ok(Subscription::new(guard))
    }
}

/// True when `path` still resolves inside its root (or is gone, which is a
/// change worth reporting): a symlink swapped in that leads out, or onto
/// a denied path, is never reported.
fn still_inside(roots: &Roots, path: &str) -> bool {
    let Ok(target) = roots.resolve(path) else {
        return false;
    };
    match target.root.dir.canonicalize(&target.rel) {
        Ok(real) => !roots.is_denied(target.root, &real),
        Err(error) => error.kind() == std::io::ErrorKind::NotFound,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use cap_std::{ambient_authority, fs::Dir};
    use moat_shared::policy::Mode;

    use super::*;

    /// A watched path is reported while it stays inside its root (or is
    /// gone), never once it was swapped for a symlink that leads out.
    #[test]
    fn swapped_symlink_out_of_the_root_is_never_reported() {
        let temp = tempfile::tempdir().expect("tempdir");
        let base = Dir::open_ambient_dir(temp.path(), ambient_authority()).expect("open");
        base.create_dir_all("project").expect("mkdir");
        base.create_dir_all("outside").expect("mkdir");
        base.write("project/a.txt", "a").expect("write");
        base.write("outside/secret.txt", "secret").expect("write");
        let root = temp.path().join("project");
        let roots = Roots::open(
            &[(root.to_string_lossy().into_owned(), Mode::Rw)],
            globset::GlobSet::empty(),
        )
        .expect("roots");
        let watched = root.join("a.txt").to_string_lossy().into_owned();
        assert!(still_inside(&roots, &watched), "a file inside");
        base.remove_file("project/a.txt").expect("remove");
        assert!(still_inside(&roots, &watched), "a deleted file is a change");
        std::os::unix::fs::symlink(temp.path().join("outside/secret.txt"), root.join("a.txt"))
            .expect("symlink");
        assert!(!still_inside(&roots, &watched), "a symlink out");
    }
}
