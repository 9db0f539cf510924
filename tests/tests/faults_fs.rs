//! Filesystem faults: permission denied, and entries that vanish or are
//! replaced while a walk runs. Each fault gives a clear answer (one line
//! naming the path, or a walk result that says what it skipped), nothing
//! outside the fault changes, no call hangs, and the next call works.
//!
//! The suite runs as root (as CI does here), and root ignores file modes;
//! so the permission test runs moat-fs as `nobody` through `setpriv`
//! (util-linux), on a tree the test builds and hands to that user.

use std::{
    fs,
    os::unix::fs::{PermissionsExt, symlink},
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use moat_tests::{Era, Session, Transport, binary, fixture::SECRET, is_error, text};
use rmcp::{
    ServiceExt,
    model::{CallToolResult, ClientConfig},
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::{Value, json};

/// The unprivileged user and group moat-fs runs as (`nobody`/`nogroup`).
const NOBODY: u32 = 65534;

/// Every file and folder under `dir`, with its mode, owner and content (or
/// link target), sorted: compared before and after the faults.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u32, u32, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt;
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in fs::read_dir(&next).expect("list").flatten() {
            let path = entry.path();
            let metadata = fs::symlink_metadata(&path).expect("stat");
            let content = if metadata.is_dir() {
                pending.push(path.clone());
                Vec::new()
            } else if metadata.file_type().is_symlink() {
                fs::read_link(&path)
                    .expect("link")
                    .into_os_string()
                    .into_encoded_bytes()
            } else {
                fs::read(&path).expect("read")
            };
            let rel = path.strip_prefix(dir).expect("inside").to_path_buf();
            found.push((rel, metadata.mode() & 0o7777, metadata.uid(), content));
        }
    }
    found.sort();
    found
}

/// Give `path` to `nobody` with `mode`.
fn own(path: &Path, mode: u32) {
    std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).expect("chown");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Write `content` to `path`, owned by `nobody` with `mode`.
fn file(path: &Path, content: &str, mode: u32) {
    fs::write(path, content).expect("write");
    own(path, mode);
}

/// The permission tree, all of it owned by `nobody`:
/// - `open.txt` (0644), `readonly.txt` (0444), `locked.txt` (000);
/// - `locked/inner.txt` in a 000 folder;
/// - `sealed/file.txt` in a 0555 folder (nothing can be added or removed);
/// - `policy.toml` beside the root, offering `delete_file`.
struct LockedTree {
    temp: tempfile::TempDir,
    root: PathBuf,
}

impl LockedTree {
    fn new() -> Self {
        let temp = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let root = temp.path().join("project");
        for dir in ["", "locked", "sealed"] {
            fs::create_dir_all(root.join(dir)).expect("mkdir");
        }
        file(&root.join("open.txt"), "open needle\n", 0o644);
        file(&root.join("readonly.txt"), "keep me\n", 0o444);
        file(&root.join("locked.txt"), "locked needle\n", 0o000);
        file(&root.join("locked/inner.txt"), "inner needle\n", 0o644);
        file(&root.join("sealed/file.txt"), "sealed needle\n", 0o644);
        own(&root.join("locked"), 0o000);
        own(&root.join("sealed"), 0o555);
        own(&root, 0o755);
        let policy = temp.path().join("policy.toml");
        fs::write(
            &policy,
            "[fs]\nallow_delete = true\n[fs.confirm]\ndelete = \"allow\"\n",
        )
        .expect("policy");
        fs::set_permissions(&policy, fs::Permissions::from_mode(0o644)).expect("chmod");
        Self { temp, root }
    }

    /// moat-fs on this tree as `nobody`, over stdio.
    async fn unprivileged_session(&self) -> Session {
        let mut command = tokio::process::Command::new("setpriv");
        command
            .arg(format!("--reuid={NOBODY}"))
            .arg(format!("--regid={NOBODY}"))
            .arg("--clear-groups")
            .arg(binary("moat-fs"))
            .arg("--policy")
            .arg(self.temp.path().join("policy.toml"))
            .arg(&self.root)
            .env("RUST_LOG", "warn");
        let transport = TokioChildProcess::new(command.configure(|command| {
            command.stderr(Stdio::inherit());
        }))
        .expect("spawn setpriv");
        let client = ClientConfig::default()
            .serve(transport)
            .await
            .expect("moat-fs starts as nobody");
        Session {
            client,
            server: None,
        }
    }
}

/// Call a tool and return the result; protocol errors fail the test.
async fn call(session: &Session, tool: &str, arguments: Value) -> CallToolResult {
    session
        .call(tool, arguments.clone())
        .await
        .unwrap_or_else(|error| panic!("{tool} {arguments} got a protocol error: {error}"))
}

/// What is wrong with `result`, which should be one line, an error, saying
/// "permission denied" and naming `path`.
fn denial_problem(tool: &str, result: &CallToolResult, path: &str) -> Option<String> {
    let message = text(result);
    let clear = is_error(result)
        && message.contains("permission denied")
        && message.contains(path)
        && !message.contains('\n');
    (!clear).then(|| format!("{tool} on {path}: {message:?}"))
}

/// Every tool on a file or folder the server's user may not read or change:
/// one clear line naming the path; nothing on disk changes; the walk tools
/// skip what they cannot read and say so; the server keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn permission_denied_is_one_clear_line_and_changes_nothing() {
    let tree = LockedTree::new();
    let before = snapshot(tree.temp.path());
    let session = tree.unprivileged_session().await;

    let denied: Vec<(&str, Value, &str)> = vec![
        (
            "read_text_file",
            json!({"path": "locked.txt"}),
            "locked.txt",
        ),
        (
            "read_text_file",
            json!({"path": "locked/inner.txt"}),
            "locked/inner.txt",
        ),
        (
            "write_file",
            json!({"path": "readonly.txt", "content": "changed\n"}),
            "readonly.txt",
        ),
        (
            "write_file",
            json!({"path": "locked.txt", "content": "changed\n"}),
            "locked.txt",
        ),
        (
            "write_file",
            json!({"path": "sealed/file.txt", "content": "changed\n"}),
            "sealed/file.txt",
        ),
        (
            "write_file",
            json!({"path": "sealed/new.txt", "content": "new\n"}),
            "sealed/new.txt",
        ),
        (
            "write_file",
            json!({"path": "locked/new.txt", "content": "new\n"}),
            "locked/new.txt",
        ),
        (
            "edit_file",
            json!({"path": "locked.txt", "edits": [{"oldText": "needle", "newText": "pin"}]}),
            "locked.txt",
        ),
        (
            "edit_file",
            json!({"path": "readonly.txt", "edits": [{"oldText": "keep", "newText": "lose"}]}),
            "readonly.txt",
        ),
        (
            "edit_file",
            json!({"path": "sealed/file.txt", "edits": [{"oldText": "needle", "newText": "pin"}]}),
            "sealed/file.txt",
        ),
        ("list_directory", json!({"path": "locked"}), "locked"),
        (
            "list_directory_with_sizes",
            json!({"path": "locked"}),
            "locked",
        ),
        ("directory_tree", json!({"path": "locked"}), "locked"),
        (
            "search_files",
            json!({"path": "locked", "pattern": "*.txt"}),
            "locked",
        ),
        (
            "search_file_contents",
            json!({"path": "locked", "query": "needle"}),
            "locked",
        ),
        (
            "search_file_contents",
            json!({"path": "locked.txt", "query": "needle"}),
            "locked.txt",
        ),
        (
            "get_file_info",
            json!({"path": "locked/inner.txt"}),
            "locked/inner.txt",
        ),
        (
            "move_file",
            json!({"source": "sealed/file.txt", "destination": "moved.txt"}),
            "sealed/file.txt",
        ),
        (
            "move_file",
            json!({"source": "locked/inner.txt", "destination": "moved.txt"}),
            "locked/inner.txt",
        ),
        (
            "move_file",
            json!({"source": "open.txt", "destination": "sealed/open.txt"}),
            "open.txt",
        ),
        (
            "delete_file",
            json!({"path": "sealed/file.txt"}),
            "sealed/file.txt",
        ),
        (
            "delete_file",
            json!({"path": "locked/inner.txt"}),
            "locked/inner.txt",
        ),
        (
            "copy_file",
            json!({"source": "locked.txt", "destination": "copy.txt"}),
            "locked.txt",
        ),
        (
            "copy_file",
            json!({"source": "open.txt", "destination": "sealed/copy.txt"}),
            "sealed/copy.txt",
        ),
        (
            "copy_file",
            json!({"source": "locked", "destination": "copy", "recursive": true}),
            "locked",
        ),
    ];
    let mut problems = Vec::new();
    for (tool, arguments, path) in denied {
        let result = call(&session, tool, arguments).await;
        problems.extend(denial_problem(tool, &result, path));
    }
    assert!(problems.is_empty(), "{problems:#?}");

    // The walks from the root list what they can and name what they skip.
    let tree_result = call(&session, "directory_tree", json!({"path": "."})).await;
    let shown = text(&tree_result);
    assert!(!is_error(&tree_result), "{shown}");
    assert!(
        shown.contains("open.txt") && shown.contains("sealed") && !shown.contains("inner.txt"),
        "{shown}"
    );
    assert!(shown.contains("1 unreadable directory skipped"), "{shown}");
    let files = call(
        &session,
        "search_files",
        json!({"path": ".", "pattern": "*.txt"}),
    )
    .await;
    let shown = text(&files);
    assert!(!is_error(&files), "{shown}");
    assert!(
        shown.contains("sealed/file.txt") && !shown.contains("inner.txt"),
        "{shown}"
    );
    assert!(shown.contains("1 unreadable directory skipped"), "{shown}");
    let contents = call(
        &session,
        "search_file_contents",
        json!({"path": ".", "query": "needle"}),
    )
    .await;
    let shown = text(&contents);
    assert!(!is_error(&contents), "{shown}");
    assert!(
        shown.contains("open.txt:1") && shown.contains("sealed/file.txt:1"),
        "{shown}"
    );
    assert!(
        !shown.contains("inner needle") && !shown.contains("locked needle"),
        "{shown}"
    );
    assert!(
        shown.contains("1 unreadable directory skipped")
            && shown.contains("1 unreadable file skipped"),
        "{shown}"
    );
    let sizes = call(&session, "list_directory_with_sizes", json!({"path": "."})).await;
    assert!(!is_error(&sizes), "{}", text(&sizes));
    assert!(text(&sizes).contains("locked.txt"), "{}", text(&sizes));
    let several = call(
        &session,
        "read_multiple_files",
        json!({"paths": ["open.txt", "locked.txt"]}),
    )
    .await;
    let shown = text(&several);
    assert!(
        shown.contains("open needle") && shown.contains("locked.txt: Error - permission denied"),
        "{shown}"
    );
    assert!(!shown.contains("locked needle"), "{shown}");

    let after = snapshot(tree.temp.path());
    let changed: Vec<_> = after
        .iter()
        .filter(|entry| !before.contains(entry))
        .chain(before.iter().filter(|entry| !after.contains(entry)))
        .map(|(path, mode, uid, _)| format!("{} {mode:o} {uid}", path.display()))
        .collect();
    assert!(changed.is_empty(), "refused calls changed: {changed:?}");

    // The server keeps serving, and the user can write where it may.
    let write = call(
        &session,
        "write_file",
        json!({"path": "new.txt", "content": "fresh\n"}),
    )
    .await;
    assert!(!is_error(&write), "{}", text(&write));
    let read = call(&session, "read_text_file", json!({"path": "new.txt"})).await;
    assert_eq!(text(&read), "fresh\n");
    let _ = session.client.cancel().await;
}

/// Folders the churner works on, and files in each.
const CHURN_DIRS: usize = 12;
const CHURN_FILES: usize = 15;
/// Rounds of calls made while the churner runs (each round makes six).
const CHURN_ROUNDS: usize = 60;
/// The deadline moat-fs gets per call in the churn test.
const CALL_DEADLINE: Duration = Duration::from_secs(5);
/// Slack over the deadline before a call counts as hung: generous, so a
/// slow machine does not fail the test, yet far below "forever".
const HANG_SLACK: Duration = Duration::from_secs(10);
/// A name only the outside directory holds: a listing showing it escaped.
const OUTSIDE_MARKER: &str = "outside-only-marker.txt";

/// Fill `dir` with the churn files, each holding "needle".
fn fill(dir: &Path, tag: &str) {
    let _ = fs::create_dir_all(dir);
    for index in 0..CHURN_FILES {
        let _ = fs::write(dir.join(format!("f{index}.txt")), format!("needle {tag}\n"));
    }
}

/// Until `stop`: take each churn folder in turn and delete its files one by
/// one (files vanish mid-walk), or replace it by a file, by a symlink to
/// the outside, or by another folder (renamed over it). Returns the number
/// of replacements.
fn churn(churn_dir: &Path, outside: &Path, stop: &AtomicBool, rounds: &AtomicUsize) {
    let mut turn = 0_usize;
    while !stop.load(Ordering::Relaxed) {
        let dir = churn_dir.join(format!("d{}", turn % CHURN_DIRS));
        let _ = fs::remove_file(&dir);
        let _ = fs::remove_dir_all(&dir);
        match (turn / CHURN_DIRS) % 4 {
            0 => {
                fill(&dir, "original");
                for index in 0..CHURN_FILES {
                    let _ = fs::remove_file(dir.join(format!("f{index}.txt")));
                }
            }
            1 => {
                let _ = fs::write(&dir, "needle a file now\n");
            }
            2 => {
                let _ = symlink(outside, &dir);
            }
            _ => {
                let spare = churn_dir.join(format!(".spare{turn}"));
                fill(&spare, "replacement");
                let _ = fs::rename(&spare, &dir);
                let _ = fs::remove_dir_all(&spare);
            }
        }
        turn += 1;
        rounds.store(turn, Ordering::Relaxed);
    }
}

/// What is wrong with a call's answer during the churn, if anything: it
/// must not show the outside, and an error must be one non-empty line.
fn churn_problem(tool: &str, result: &CallToolResult) -> Option<String> {
    let shown = text(result);
    if shown.contains(SECRET) || shown.contains(OUTSIDE_MARKER) {
        return Some(format!("{tool} escaped: {shown}"));
    }
    if is_error(result) && (shown.trim().is_empty() || shown.contains('\n')) {
        return Some(format!("{tool}: unclear error {shown:?}"));
    }
    None
}

/// Folders whose files vanish, and folders replaced by a file, by a symlink
/// to the outside or by another folder, while directory_tree,
/// search_files, search_file_contents, list_directory_with_sizes and
/// read_multiple_files run over them: every call answers within the
/// deadline with a result or a clear one-line error, nothing from outside
/// shows, nothing outside changes, and once the churn stops the next call
/// sees the whole tree.
#[tokio::test(flavor = "multi_thread")]
async fn entries_vanishing_or_replaced_mid_walk_give_results_or_clear_errors() {
    let tree = moat_tests::fixture::Tree::new();
    fs::write(tree.outside.join(OUTSIDE_MARKER), SECRET).expect("write");
    for index in 0..CHURN_FILES {
        fs::write(
            tree.outside.join(format!("f{index}.txt")),
            format!("needle {SECRET}\n"),
        )
        .expect("write");
    }
    let churn_dir = tree.root.join("churn");
    for index in 0..CHURN_DIRS {
        fill(&churn_dir.join(format!("d{index}")), "original");
    }
    let before = tree.outside_snapshot();
    let deadline_ms = CALL_DEADLINE.as_millis().to_string();
    let session = Session::start(
        "moat-fs",
        &["--timeout-ms", &deadline_ms, &tree.root_arg()],
        Transport::Stdio,
        Era::Handshake,
    )
    .await
    .expect("start");

    let stop = Arc::new(AtomicBool::new(false));
    let turns = Arc::new(AtomicUsize::new(0));
    let churner = {
        let (stop, turns) = (stop.clone(), turns.clone());
        let (churn_dir, outside) = (churn_dir.clone(), tree.outside.clone());
        std::thread::spawn(move || churn(&churn_dir, &outside, &stop, &turns))
    };
    let mut problems = Vec::new();
    let mut errors = 0;
    for round in 0..CHURN_ROUNDS {
        let one = format!("churn/d{}", round % CHURN_DIRS);
        let other = format!("churn/d{}", (round + 5) % CHURN_DIRS);
        let calls = [
            ("directory_tree", json!({"path": "churn"})),
            ("directory_tree", json!({"path": one})),
            ("search_files", json!({"path": "churn", "pattern": "*.txt"})),
            (
                "search_file_contents",
                json!({"path": "churn", "query": "needle", "respectGitignore": false}),
            ),
            ("list_directory_with_sizes", json!({"path": other})),
            (
                "read_multiple_files",
                json!({"paths": [format!("{one}/f0.txt"), format!("{other}/f1.txt")]}),
            ),
        ];
        for (tool, arguments) in calls {
            let started = Instant::now();
            let answer =
                tokio::time::timeout(CALL_DEADLINE + HANG_SLACK, session.call(tool, arguments))
                    .await;
            let Ok(answer) = answer else {
                panic!("{tool} hung for {:?}", started.elapsed());
            };
            let result = answer.unwrap_or_else(|error| panic!("{tool}: protocol error {error}"));
            errors += usize::from(is_error(&result));
            problems.extend(churn_problem(tool, &result));
        }
    }
    stop.store(true, Ordering::Relaxed);
    churner.join().expect("churner");
    let turns = turns.load(Ordering::Relaxed);
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(
        turns > CHURN_DIRS * 4,
        "the churner made only {turns} replacements"
    );
    assert_eq!(
        tree.outside_snapshot(),
        before,
        "something outside changed ({errors} errors)"
    );

    // Calm again: the next walk sees every folder as a folder, whole.
    for index in 0..CHURN_DIRS {
        let dir = churn_dir.join(format!("d{index}"));
        let _ = fs::remove_file(&dir);
        let _ = fs::remove_dir_all(&dir);
        fill(&dir, "calm");
    }
    let calm = session
        .call(
            "search_files",
            json!({"path": "churn", "pattern": "f0.txt"}),
        )
        .await
        .expect("call");
    let shown = text(&calm);
    assert!(!is_error(&calm), "{shown}");
    assert_eq!(shown.lines().count(), CHURN_DIRS, "{shown}");
    assert!(!shown.contains("unreadable"), "{shown}");
    let _ = session.client.cancel().await;
}
