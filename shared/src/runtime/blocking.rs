//! The threads that run blocking work (tool bodies, resource reads: calls
//! into the filesystem) off the async runtime, so a slow disk never stalls
//! the protocol.
//!
//! Why not tokio's `spawn_blocking`: a tokio blocking thread counts itself
//! idle only after the task's result has reached the waiting task. A client
//! that sends its next call as soon as the answer arrives often wins that
//! race, and tokio starts another thread for it. glibc gives each new
//! thread an allocator arena of its own, and an arena keeps the freed
//! buffers of a large call (a 1 MiB read holds its text twice) for the next
//! call on that thread. Measured on moat-fs over stdio, 1 MiB reads one
//! after another: peak RSS 9.4 to 9.9 MiB when they ran on one blocking
//! thread, 11.3 to 14.1 MiB when tokio had started two or three. Here a
//! worker counts itself idle *before* it hands back the result, so calls
//! made one after another run on one thread, and a new thread starts only
//! for work that runs at the same time as other work.
//!
//! # Must never
//! - run a body whose caller has stopped waiting before it began (an
//!   aborted or timed-out call does no work it was not already doing);
//! - let a panicking body take its thread or the process down (the panic
//!   is the caller's [`Failed::Panicked`]);
//! - hold the process open at exit (the threads are detached; [`drain`]
//!   waits a bounded time for work already running).

use std::{
    collections::VecDeque,
    future::Future,
    panic::{AssertUnwindSafe, catch_unwind},
    pin::Pin,
    sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, PoisonError},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use tokio::sync::oneshot;

/// Most threads the process's pool runs at once: tokio's own default for
/// its blocking pool. Each session's in-flight calls are capped well below
/// this; past it, work waits in the queue for a free thread.
const MAX_THREADS: usize = 512;

/// How long an idle thread waits for work before it exits: tokio's
/// default. Long enough that a client's burst of calls reuses its threads,
/// short enough that a quiet server holds only the threads it needs.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Stack of each thread: std's default, stated so it does not change
/// under us (directory walks recurse through the `ignore` crate's walker).
const STACK_BYTES: usize = 2 * 1024 * 1024;

/// The process's pool.
static POOL: LazyLock<Pool> = LazyLock::new(|| Pool::new(MAX_THREADS, KEEP_ALIVE));

/// Run `body` on the process's pool; await the returned [`Pending`] for its
/// value. Dropping the `Pending` before the body starts means it never runs.
pub fn spawn<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> Pending<T> {
    POOL.spawn(body)
}

/// Wait until the process's pool runs nothing, or `limit` has passed: at
/// exit, work already running (a write half done) gets a bounded time to
/// finish. Returns whether the pool became idle.
pub fn drain(limit: Duration) -> bool {
    POOL.drain(limit)
}

/// Why a body gave no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// The body panicked; the panic message went to stderr as usual.
    Panicked,
    /// The work was dropped unrun: its pool went away first.
    Dropped,
}

/// A body's value, once it has run.
#[must_use = "a body whose Pending is dropped before it starts never runs"]
pub struct Pending<T> {
    value: oneshot::Receiver<Result<T, Failed>>,
}

impl<T> Future for Pending<T> {
    type Output = Result<T, Failed>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.value)
            .poll(context)
            .map(|received| received.unwrap_or(Err(Failed::Dropped)))
    }
}

/// One queued piece of work: it runs the body, then calls `idle` on its
/// worker *before* it delivers the value.
type Job = Box<dyn FnOnce(&dyn Fn()) + Send>;

/// A pool of threads for blocking work.
pub struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when work is queued.
    work: Condvar,
    /// Signalled when a worker finishes a job (for [`Pool::drain`]).
    done: Condvar,
    max_threads: usize,
    keep_alive: Duration,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Threads alive.
    threads: usize,
    /// Threads not running a job: waiting, or about to wait.
    idle: usize,
    /// Threads ever started (for tests and the pool's own accounting).
    started: usize,
    /// Callers waiting in [`Pool::drain`]: only then does a finished job
    /// signal `done` (a signal costs a system call).
    drainers: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A job runs outside the lock, so a poisoned lock can only come
        // from a panic in this file's few lines of bookkeeping; the state
        // is still consistent then.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Count one more thread idle, and tell [`Pool::drain`] if it waits.
    fn count_idle(&self, state: &mut State) {
        state.idle += 1;
        if state.drainers > 0 {
            self.done.notify_all();
        }
    }
}

impl Pool {
    /// A pool of at most `max_threads` threads, each exiting after
    /// `keep_alive` without work.
    #[must_use]
    pub fn new(max_threads: usize, keep_alive: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                done: Condvar::new(),
                max_threads: max_threads.max(1),
                keep_alive,
            }),
        }
    }

    /// Run `body` on this pool (see [`spawn`]).
    pub fn spawn<T: Send + 'static>(
        &self,
        body: impl FnOnce() -> T + Send + 'static,
    ) -> Pending<T> {
        let (deliver, value) = oneshot::channel();
        // Bodies may use the runtime (its timers, `Handle::current`), as
        // they could on tokio's blocking pool.
        let runtime = tokio::runtime::Handle::try_current().ok();
        let job: Job = Box::new(move |idle: &dyn Fn()| {
            if deliver.is_closed() {
                idle();
                return;
            }
            let _entered = runtime.as_ref().map(tokio::runtime::Handle::enter);
            let outcome = catch_unwind(AssertUnwindSafe(body)).map_err(|_| Failed::Panicked);
            idle();
            // The caller may have stopped waiting (timeout, cancel): then
            // the value is dropped here.
            let _ = deliver.send(outcome);
        });
        let (start_thread, waiting) = {
            let mut state = self.shared.lock();
            state.queue.push_back(job);
            let start = state.queue.len() > state.idle && state.threads < self.shared.max_threads;
            if start {
                state.threads += 1;
                state.started += 1;
            }
            (start, state.idle > 0)
        };
        if start_thread {
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new()
                .name("moat-blocking".into())
                .stack_size(STACK_BYTES)
                .spawn(move || work(&shared));
            if let Err(error) = spawned {
                // The job stays queued for a thread that is alive; with
                // none, it runs when one is next started.
                self.shared.lock().threads -= 1;
                tracing::error!(%error, "cannot start a blocking-pool thread");
            }
        } else if waiting {
            self.shared.work.notify_one();
        }
        Pending { value }
    }

    /// Threads started since the pool was made.
    #[must_use]
    pub fn threads_started(&self) -> usize {
        self.shared.lock().started
    }

    /// See [`drain`].
    pub fn drain(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut state = self.shared.lock();
        state.drainers += 1;
        let drained = loop {
            if state.queue.is_empty() && state.idle == state.threads {
                break true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            state = self
                .shared
                .done
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        };
        state.drainers -= 1;
        drained
    }
}

/// A worker: take jobs until none comes for the keep-alive time.
fn work(shared: &Shared) {
    let mut state = shared.lock();
    // A new thread is busy until it finds the queue empty; a thread that
    // finished a job was counted idle by the job itself.
    let mut counted_idle = false;
    loop {
        if let Some(job) = state.queue.pop_front() {
            if counted_idle {
                state.idle -= 1;
            }
            drop(state);
            let mark_idle = || shared.count_idle(&mut shared.lock());
            job(&mark_idle);
            counted_idle = true;
            state = shared.lock();
            continue;
        }
        if !counted_idle {
            shared.count_idle(&mut state);
            counted_idle = true;
        }
        let (next, waited) = shared
            .work
            .wait_timeout(state, shared.keep_alive)
            .unwrap_or_else(PoisonError::into_inner);
        state = next;
        if waited.timed_out() && state.queue.is_empty() {
            state.idle -= 1;
            state.threads -= 1;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[tokio::test]
    async fn calls_one_after_another_run_on_one_thread() {
        // tokio's blocking pool started a second and third thread here:
        // its thread counted itself idle only after the value arrived.
        let pool = Pool::new(8, KEEP_ALIVE);
        let mut names = std::collections::HashSet::new();
        for index in 0..200u32 {
            let (value, thread) = pool
                .spawn(move || (index * 2, std::thread::current().id()))
                .await
                .expect("the body does not panic");
            assert_eq!(value, index * 2);
            names.insert(thread);
        }
        assert_eq!(pool.threads_started(), 1);
        assert_eq!(names.len(), 1);
    }

    #[tokio::test]
    async fn work_at_the_same_time_gets_threads_of_its_own() {
        let pool = Pool::new(8, KEEP_ALIVE);
        let barrier = Arc::new(std::sync::Barrier::new(3));
        let pending: Vec<_> = (0..3)
            .map(|_| {
                let barrier = barrier.clone();
                // Each waits for the other two: this only finishes when all
                // three run at once.
                pool.spawn(move || barrier.wait().is_leader())
            })
            .collect();
        let mut leaders = 0;
        for one in pending {
            leaders += usize::from(one.await.expect("no panic"));
        }
        assert_eq!(leaders, 1);
        assert_eq!(pool.threads_started(), 3);
    }

    #[tokio::test]
    async fn a_panic_is_the_callers_failure_and_the_thread_lives_on() {
        let pool = Pool::new(1, KEEP_ALIVE);
        let failed = pool.spawn(|| -> u8 { panic!("a body that panics (expected in this test)") });
        assert_eq!(failed.await, Err(Failed::Panicked));
        assert_eq!(pool.spawn(|| 7).await, Ok(7));
        assert_eq!(pool.threads_started(), 1);
    }

    #[tokio::test]
    async fn a_body_whose_caller_left_before_it_began_never_runs() {
        let pool = Pool::new(1, KEEP_ALIVE);
        let gate = Arc::new(std::sync::Barrier::new(2));
        let held = {
            let gate = gate.clone();
            pool.spawn(move || {
                gate.wait();
            })
        };
        let ran = Arc::new(AtomicBool::new(false));
        let abandoned = {
            let ran = ran.clone();
            pool.spawn(move || ran.store(true, Ordering::SeqCst))
        };
        drop(abandoned);
        gate.wait();
        held.await.expect("no panic");
        // The one thread has passed the abandoned job once this runs.
        assert_eq!(pool.spawn(|| 1).await, Ok(1));
        assert!(!ran.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn bodies_see_the_runtime_they_were_spawned_from() {
        let pool = Pool::new(1, KEEP_ALIVE);
        let seen = pool
            .spawn(|| tokio::runtime::Handle::try_current().is_ok())
            .await;
        assert_eq!(seen, Ok(true));
    }

    #[test]
    fn drain_waits_for_running_work_and_gives_up_at_its_limit() {
        let pool = Pool::new(2, KEEP_ALIVE);
        assert!(pool.drain(Duration::ZERO));
        let gate = Arc::new(std::sync::Barrier::new(2));
        let pending = {
            let gate = gate.clone();
            pool.spawn(move || {
                gate.wait();
            })
        };
        assert!(!pool.drain(Duration::from_millis(20)));
        gate.wait();
        assert!(pool.drain(Duration::from_secs(30)));
        drop(pending);
    }

    #[test]
    fn an_idle_thread_exits_after_its_keep_alive() {
        let pool = Pool::new(2, Duration::from_millis(20));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        assert_eq!(runtime.block_on(pool.spawn(|| 1)), Ok(1));
        let deadline = Instant::now() + Duration::from_secs(30);
        while pool.shared.lock().threads > 0 {
            assert!(Instant::now() < deadline, "the idle thread never exited");
            std::thread::sleep(Duration::from_millis(5));
        }
        // A later job starts a fresh thread.
        assert_eq!(runtime.block_on(pool.spawn(|| 2)), Ok(2));
        assert_eq!(pool.threads_started(), 2);
    }
}
