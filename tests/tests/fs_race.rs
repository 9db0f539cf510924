//! The race test: one thread keeps swapping a directory inside the root for
//! a symlink to the outside while the server reads, writes and lists
//! through it. Confinement is checked at every access (directory handles),
//! so no call may ever reach the outside, however the swaps interleave.

use std::{
    fs,
    os::unix::fs::symlink,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use moat_tests::{
    Era, Session, Transport,
    fixture::{SECRET, Tree},
    is_error, text,
};
use serde_json::json;

/// Calls made while the swapper runs (each round makes six).
const ROUNDS: usize = 250;
/// A name only the outside directory holds: a listing showing it escaped.
const OUTSIDE_MARKER: &str = "outside-only-marker.txt";

/// Make `dir` a real directory holding `file.txt`, or a symlink out.
fn swap_forever(root: &Path, outside: &Path, stop: &AtomicBool) -> usize {
    let dir = root.join("dir");
    let mut swaps = 0;
    while !stop.load(Ordering::Relaxed) {
        let _ = fs::remove_file(&dir);
        let _ = fs::remove_dir_all(&dir);
        if swaps % 2 == 0 {
            let _ = fs::create_dir(&dir);
            let _ = fs::write(dir.join("file.txt"), "inside\n");
        } else {
            let _ = symlink(outside, &dir);
        }
        swaps += 1;
    }
    swaps
}

/// Reads, writes, listings, searches and edits racing a directory/symlink
/// swap: zero escapes, nothing outside read or changed.
#[tokio::test(flavor = "multi_thread")]
async fn swapping_a_directory_for_a_link_out_never_escapes() {
    let tree = Tree::new();
    fs::write(tree.outside.join("file.txt"), SECRET).expect("write");
    fs::write(tree.outside.join(OUTSIDE_MARKER), SECRET).expect("write");
    let before = tree.outside_snapshot();
    let session = Session::start(
        "moat-fs",
        &[&tree.root_arg()],
        Transport::Stdio,
        Era::Handshake,
    )
    .await
    .expect("start");

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let root = tree.root.clone();
        let outside = tree.outside.clone();
        std::thread::spawn(move || swap_forever(&root, &outside, &stop))
    };
    let mut calls = 0;
    let mut succeeded = 0;
    for round in 0..ROUNDS {
        let attempts = [
            ("read_text_file", json!({"path": "dir/file.txt"})),
            (
                "write_file",
                json!({"path": "dir/file.txt", "content": format!("PWNED {round}\n")}),
            ),
            ("list_directory", json!({"path": "dir"})),
            ("directory_tree", json!({"path": "dir"})),
            (
                "search_file_contents",
                json!({"path": "dir", "query": "TOP", "respectGitignore": false}),
            ),
            (
                "edit_file",
                json!({"path": "dir/file.txt", "edits": [{"oldText": "TOP", "newText": "PWNED"}]}),
            ),
        ];
        for (tool, arguments) in attempts {
            let result = session.call(tool, arguments).await.expect("call");
            calls += 1;
            let shown = text(&result);
            assert!(!shown.contains(SECRET), "{tool} escaped: {shown}");
            assert!(
                !shown.contains(OUTSIDE_MARKER),
                "{tool} listed outside: {shown}"
            );
            if !is_error(&result) {
                succeeded += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().expect("swapper");
    assert!(calls >= 1000, "{calls} calls");
    assert!(swaps > 1, "the swapper never ran");
    assert_eq!(
        tree.outside_snapshot(),
        before,
        "something outside changed ({succeeded} of {calls} calls succeeded)"
    );
    let _ = session.client.cancel().await;
}
