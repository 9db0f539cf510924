//! File watches behind resource subscriptions: one `notify` watcher for
//! the process (inotify on Linux, kqueue on macOS, ReadDirectoryChangesW on
//! Windows), one non-recursive watch per watched directory shared by every
//! subscription in it, and a debounce task per subscription.
//!
//! A file is watched through its directory (a write_file replaces the
//! file by rename, which a watch on the file itself would miss); events
//! are matched to subscriptions by name. A burst of events becomes one
//! notification after [`DEBOUNCE`]. Before each notification the
//! subscription's `confirm` check runs (the caller re-resolves the path
//! through its root), so a path swapped for a symlink that leads out is
//! never reported.
//!
//! # Must never
//! - notify without the subscription's confirm check passing;
//! - keep a watch after the last subscription on its directory is dropped;
//! - hold more than [`MAX_WATCHED_DIRECTORIES`] watches.

use std::{
    collections::HashMap,
    ffi::OsString,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use notify::{
    EventKind, RecursiveMode, Watcher as _,
    event::{AccessKind, AccessMode},
};
use tokio::sync::Notify;

use crate::error::FsError;

/// How long a subscription waits after a change before notifying, so an
/// editor's save (truncate, write, rename: several events) is one
/// notification, not five.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// Most directories the process watches at once: each is a kernel watch
/// counted against a per-user limit (`fs.inotify.max_user_watches`, 8192
/// on older kernels) that other programs of the same user share.
pub const MAX_WATCHED_DIRECTORIES: usize = 1024;

/// One subscription's interest in a watched directory.
struct Interest {
    id: u64,
    /// The file watched in the directory; `None` for the directory itself.
    name: Option<OsString>,
    dirty: Arc<AtomicBool>,
    wake: Arc<Notify>,
}

impl Interest {
    fn poke(&self) {
        self.dirty.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

/// Interests by watched directory.
type ByDir = HashMap<PathBuf, Vec<Interest>>;

/// Two locks, never held in the other order: `watcher` serialises watch
/// and unwatch (which wait for notify's event thread), `by_dir` is all the
/// event callback takes, so that thread never waits on a watch call.
#[derive(Default)]
struct State {
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
    by_dir: Mutex<ByDir>,
}

impl State {
    fn by_dir(&self) -> std::sync::MutexGuard<'_, ByDir> {
        self.by_dir
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn watcher(&self) -> std::sync::MutexGuard<'_, Option<notify::RecommendedWatcher>> {
        self.watcher
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The process's watches. Cheap to share (`Arc`).
#[derive(Default)]
pub struct Watches {
    state: Arc<State>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Watches {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let directories = self.state.by_dir().len();
        formatter
            .debug_struct("Watches")
            .field("directories", &directories)
            .finish_non_exhaustive()
    }
}

/// A live subscription's watch; dropping it removes the interest (and the
/// directory's watch when it was the last) and stops its debounce task.
pub struct WatchGuard {
    state: Weak<State>,
    dir: PathBuf,
    id: u64,
    task: tokio::task::AbortHandle,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.task.abort();
        let Some(state) = self.state.upgrade() else {
            return;
        };
        let mut watcher = state.watcher();
        let last = {
            let mut by_dir = state.by_dir();
            let interests = by_dir.entry(self.dir.clone()).or_default();
            interests.retain(|interest| interest.id != self.id);
            let last = interests.is_empty();
            if last {
                by_dir.remove(&self.dir);
            }
            last
        };
        if last && let Some(watcher) = watcher.as_mut() {
            let _ = watcher.unwatch(&self.dir);
        }
    }
}

impl Watches {
    /// Watch `dir` (an absolute path the caller resolved through a root)
    /// for changes to `name` in it, or to anything in it when `name` is
    /// `None`. After each debounced burst `confirm` runs on the blocking
    /// pool and, when it returns true, `notify` is called.
    ///
    /// # Errors
    /// Too many watched directories, or the watch cannot be made.
    pub fn watch(
        &self,
        runtime: &tokio::runtime::Handle,
        dir: &Path,
        name: Option<OsString>,
        confirm: impl Fn() -> bool + Send + Sync + 'static,
        notify: impl Fn() + Send + Sync + 'static,
    ) -> Result<WatchGuard, FsError> {
        let mut watcher = self.state.watcher();
        let (fresh, directories) = {
            let by_dir = self.state.by_dir();
            (!by_dir.contains_key(dir), by_dir.len())
        };
        if fresh {
            if directories >= MAX_WATCHED_DIRECTORIES {
                return Err(FsError::Refused(format!(
                    "the server already watches {MAX_WATCHED_DIRECTORIES} directories, the most it may; unsubscribe from something first"
                )));
            }
            if watcher.is_none() {
                *watcher = Some(make_watcher(Arc::downgrade(&self.state))?);
            }
            if let Some(watcher) = watcher.as_mut() {
                watcher
                    .watch(dir, RecursiveMode::NonRecursive)
                    .map_err(|error| {
                        FsError::Refused(format!("cannot watch for changes: {error}"))
                    })?;
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let dirty = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(Notify::new());
        self.state
            .by_dir()
            .entry(dir.to_path_buf())
            .or_default()
            .push(Interest {
                id,
                name,
                dirty: dirty.clone(),
                wake: wake.clone(),
            });
        drop(watcher);
        let confirm = Arc::new(confirm);
        let task = runtime.spawn(async move {
            loop {
                wake.notified().await;
                tokio::time::sleep(DEBOUNCE).await;
                if !dirty.swap(false, Ordering::SeqCst) {
                    continue;
                }
                let confirm = confirm.clone();
                let confirmed = moat_shared::runtime::blocking::spawn(move || confirm())
                    .await
                    .unwrap_or(false);
                if confirmed {
                    notify();
                }
            }
        });
        Ok(WatchGuard {
            state: Arc::downgrade(&self.state),
            dir: dir.to_path_buf(),
            id,
            task: task.abort_handle(),
        })
    }
}

/// The process's watcher: each event pokes the interests it concerns.
fn make_watcher(state: Weak<State>) -> Result<notify::RecommendedWatcher, FsError> {
    notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else {
            return;
        };
        // Opening or reading a file (a resources/read among them) changes
        // nothing; a close after writing does.
        if let EventKind::Access(kind) = event.kind
            && kind != AccessKind::Close(AccessMode::Write)
        {
            return;
        }
        let Some(state) = state.upgrade() else {
            return;
        };
        let by_dir = state.by_dir();
        for path in &event.paths {
            // An event on a watched directory itself (deleted, moved).
            if let Some(interests) = by_dir.get(path) {
                interests.iter().for_each(Interest::poke);
            }
            let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                continue;
            };
            if let Some(interests) = by_dir.get(parent) {
                interests
                    .iter()
                    .filter(|interest| interest.name.as_deref().is_none_or(|wanted| wanted == name))
                    .for_each(Interest::poke);
            }
        }
    })
    .map_err(|error| FsError::Refused(format!("cannot watch for changes: {error}")))
}
