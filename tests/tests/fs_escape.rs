//! The escape suite: every way out of a root that the reference server's
//! CVEs and peers' tests name, through every tool that takes a path. Each
//! attempt must be refused **and** leave everything outside the root
//! unread and unchanged.

use std::os::unix::fs::symlink;

use moat_tests::{
    Era, Session, Transport,
    fixture::{SECRET, Tree},
    is_error, text,
};
use serde_json::{Value, json};

/// The attacks on a path argument, given the tree; each is a path string.
fn hostile_paths(tree: &Tree) -> Vec<(String, String)> {
    let outside = tree.outside.to_string_lossy().into_owned();
    let sibling = tree.sibling.to_string_lossy().into_owned();
    let root = tree.root_arg();
    let attacks: Vec<(String, String)> = vec![
        ("dot-dot".into(), "../outside/secret.txt".into()),
        ("deep dot-dot".into(), "sub/../../outside/secret.txt".into()),
        ("absolute outside".into(), format!("{outside}/secret.txt")),
        (
            "absolute root-relative dot-dot".into(),
            format!("{root}/../outside/secret.txt"),
        ),
        (
            "sibling prefix (CVE-2025-53110)".into(),
            format!("{sibling}/secret.txt"),
        ),
        (
            "symlink out (CVE-2025-53109)".into(),
            "link_out/secret.txt".into(),
        ),
        ("symlink to a file out".into(), "file_link".into()),
        (
            "relative symlink climbing out".into(),
            "rel_link/secret.txt".into(),
        ),
        ("symlink chain out".into(), "chain_a/secret.txt".into()),
        ("dangling symlink out".into(), "dangling".into()),
        (
            "NUL byte".into(),
            "hello.txt\u{0}/../../outside/secret.txt".into(),
        ),
        ("slash root".into(), "/etc/passwd".into()),
        ("home".into(), "~/.bashrc".into()),
        (
            "percent-encoded dot-dot".into(),
            "%2e%2e/outside/secret.txt".into(),
        ),
    ];
    attacks
        .into_iter()
        .filter(|(attack, _)| {
            moat_tests::server_sees_host_symlinks() || !attack.contains("symlink")
        })
        .collect()
}

/// Plant the symlinks the attacks use inside the root.
fn plant_links(tree: &Tree) {
    symlink(&tree.outside, tree.root.join("link_out")).expect("symlink");
    symlink(tree.outside.join("secret.txt"), tree.root.join("file_link")).expect("symlink");
    symlink("../outside", tree.root.join("rel_link")).expect("symlink");
    symlink("chain_b", tree.root.join("chain_a")).expect("symlink");
    symlink(&tree.outside, tree.root.join("chain_b")).expect("symlink");
    symlink(
        tree.outside.join("created-through-link.txt"),
        tree.root.join("dangling"),
    )
    .expect("symlink");
}

/// The calls that take a path, with the hostile path put in each slot.
/// A path that names a symlink *entry* inside the root (`file_link`,
/// `dangling`) may be moved or deleted as an entry: that renames or unlinks
/// the link inside the root and touches nothing outside, so those slots are
/// not attacks.
fn calls(path: &str) -> Vec<(&'static str, Value)> {
    let names_link_entry = matches!(path, "file_link" | "dangling");
    let mut calls = vec![
        ("read_text_file", json!({"path": path})),
        ("read_text_file", json!({"path": path, "tail": 1})),
        ("read_file", json!({"path": path})),
        ("read_media_file", json!({"path": path})),
        ("read_multiple_files", json!({"paths": ["hello.txt", path]})),
        ("list_directory", json!({"path": path})),
        ("list_directory_with_sizes", json!({"path": path})),
        ("directory_tree", json!({"path": path})),
        ("search_files", json!({"path": path, "pattern": "*"})),
        (
            "search_file_contents",
            json!({"path": path, "query": "SECRET", "respectGitignore": false}),
        ),
        ("get_file_info", json!({"path": path})),
        ("write_file", json!({"path": path, "content": "PWNED"})),
        (
            "edit_file",
            json!({"path": path, "edits": [{"oldText": "TOP", "newText": "PWNED"}]}),
        ),
        ("create_directory", json!({"path": path})),
        ("create_directory", json!({"path": format!("{path}/made")})),
        (
            "move_file",
            json!({"source": path, "destination": "moved-in"}),
        ),
        (
            "move_file",
            json!({"source": "hello.txt", "destination": path}),
        ),
        (
            "copy_file",
            json!({"source": path, "destination": "copied-in", "recursive": true}),
        ),
        (
            "copy_file",
            json!({"source": "hello.txt", "destination": path}),
        ),
        (
            "copy_file",
            json!({"source": "sub", "destination": path, "recursive": true}),
        ),
        ("delete_file", json!({"path": path, "recursive": true})),
    ];
    if path.starts_with('%') {
        // `%2e%2e` is a literal name, not `..`: creating it makes a folder
        // inside the root (checked in `percent_names_stay_literal`).
        calls.retain(|(tool, _)| *tool != "create_directory");
    }
    if names_link_entry {
        calls.retain(|(tool, arguments)| {
            !((*tool == "move_file" && arguments["source"] == path)
                || (*tool == "delete_file" && arguments["path"] == path))
        });
    }
    calls
}

/// Start moat-fs on the tree with deletion allowed (so delete_file is
/// attacked too).
async fn start(tree: &Tree, transport: Transport) -> Session {
    let policy = tree.temp.path().join("allow-delete.toml");
    std::fs::write(
        &policy,
        "[fs]\nallow_delete = true\n[fs.confirm]\ndelete = \"allow\"\n",
    )
    .expect("policy");
    Session::start(
        "moat-fs",
        &[&tree.root_arg(), "--policy", &policy.to_string_lossy()],
        transport,
        Era::Handshake,
    )
    .await
    .expect("start")
}

/// Every hostile path through every path-taking tool, on both transports:
/// refused, and nothing outside the root read or changed.
#[tokio::test(flavor = "multi_thread")]
async fn every_escape_is_refused_and_nothing_outside_changes() {
    for transport in [Transport::Stdio, Transport::Http] {
        let tree = Tree::new();
        plant_links(&tree);
        let before = tree.outside_snapshot();
        let session = start(&tree, transport).await;
        for (attack, path) in hostile_paths(&tree) {
            for (tool, arguments) in calls(&path) {
                let result = session.call(tool, arguments.clone()).await.expect("call");
                let message = text(&result);
                if tool == "read_multiple_files" {
                    // One failing file does not fail the call: the hostile
                    // one must be reported as an error in its place.
                    assert!(
                        message.contains("Error - "),
                        "{transport:?} {attack}: {tool} {arguments} was not refused: {message}"
                    );
                } else {
                    assert!(
                        is_error(&result),
                        "{transport:?} {attack}: {tool} {arguments} was not refused: {message}"
                    );
                    assert!(!message.contains('\n'), "{attack}: one line: {message}");
                }
                assert!(
                    !message.contains(SECRET),
                    "{attack}: {tool} leaked the secret"
                );
                // hello.txt must still be in place (the destination attack
                // moves it nowhere).
                assert!(
                    tree.root.join("hello.txt").exists(),
                    "{attack}: {tool} moved hello.txt"
                );
            }
        }
        assert_eq!(
            tree.outside_snapshot(),
            before,
            "{transport:?}: something outside changed"
        );
        assert!(
            !tree.outside.join("created-through-link.txt").exists(),
            "a write followed the dangling link out"
        );
        let _ = session.client.cancel().await;
    }
}

/// A directory swapped for a symlink to the outside between two calls: the
/// second call is refused (the check happens at the access, not before).
#[tokio::test(flavor = "multi_thread")]
async fn symlink_swapped_between_calls_is_refused() {
    if !moat_tests::links_and_fifos_visible("symlink_swapped_between_calls_is_refused") {
        return;
    }
    let tree = Tree::new();
    let before = tree.outside_snapshot();
    let session = start(&tree, Transport::Stdio).await;
    let first = session
        .call("read_text_file", json!({"path": "sub/inner.txt"}))
        .await
        .expect("call");
    assert_eq!(text(&first), "inner\n");
    std::fs::remove_dir_all(tree.root.join("sub")).expect("remove");
    symlink(&tree.outside, tree.root.join("sub")).expect("symlink");
    for (tool, arguments) in [
        ("read_text_file", json!({"path": "sub/secret.txt"})),
        ("list_directory", json!({"path": "sub"})),
        (
            "write_file",
            json!({"path": "sub/secret.txt", "content": "PWNED"}),
        ),
        (
            "write_file",
            json!({"path": "sub/new.txt", "content": "PWNED"}),
        ),
        (
            "move_file",
            json!({"source": "sub/secret.txt", "destination": "stolen.txt"}),
        ),
        (
            "move_file",
            json!({"source": "hello.txt", "destination": "sub/planted.txt"}),
        ),
        ("read_media_file", json!({"path": "sub/secret.txt"})),
        ("list_directory_with_sizes", json!({"path": "sub"})),
        ("directory_tree", json!({"path": "sub"})),
        ("search_files", json!({"path": "sub", "pattern": "*"})),
        (
            "search_file_contents",
            json!({"path": "sub", "query": "SECRET"}),
        ),
        ("get_file_info", json!({"path": "sub/secret.txt"})),
        (
            "edit_file",
            json!({"path": "sub/secret.txt", "edits": [{"oldText": "TOP", "newText": "X"}]}),
        ),
        ("create_directory", json!({"path": "sub/made"})),
        (
            "copy_file",
            json!({"source": "sub/secret.txt", "destination": "stolen2.txt"}),
        ),
        (
            "copy_file",
            json!({"source": "hello.txt", "destination": "sub/planted2.txt"}),
        ),
        ("delete_file", json!({"path": "sub/secret.txt"})),
    ] {
        let result = session.call(tool, arguments.clone()).await.expect("call");
        assert!(is_error(&result), "{tool} {arguments}: {}", text(&result));
        assert!(!text(&result).contains(SECRET));
    }
    assert_eq!(tree.outside_snapshot(), before);
}

/// A symlink that stays inside the root is followed.
#[tokio::test(flavor = "multi_thread")]
async fn symlink_inside_the_root_is_followed() {
    if !moat_tests::links_and_fifos_visible("symlink_inside_the_root_is_followed") {
        return;
    }
    let tree = Tree::new();
    symlink("sub/inner.txt", tree.root.join("inside_link")).expect("symlink");
    let session = Session::start(
        "moat-fs",
        &[&tree.root_arg()],
        Transport::Stdio,
        Era::Handshake,
    )
    .await
    .expect("start");
    let read = session
        .call("read_text_file", json!({"path": "inside_link"}))
        .await
        .expect("call");
    assert_eq!(text(&read), "inner\n");
    let listing = session
        .call("list_directory", json!({"path": "."}))
        .await
        .expect("call");
    assert!(
        text(&listing).contains("[LINK] inside_link"),
        "{}",
        text(&listing)
    );
    let write = session
        .call(
            "write_file",
            json!({"path": "inside_link", "content": "through the link\n"}),
        )
        .await
        .expect("call");
    assert!(!is_error(&write), "{}", text(&write));
    let content = std::fs::read_to_string(tree.root.join("sub/inner.txt")).expect("read");
    assert_eq!(content, "through the link\n");
}

/// A percent-encoded `..` is a literal name: creating it stays inside the
/// root.
#[tokio::test(flavor = "multi_thread")]
async fn percent_names_stay_literal() {
    let tree = Tree::new();
    let before = tree.outside_snapshot();
    let session = start(&tree, Transport::Stdio).await;
    let result = session
        .call("create_directory", json!({"path": "%2e%2e/outside/made"}))
        .await
        .expect("call");
    assert!(!is_error(&result), "{}", text(&result));
    assert!(tree.root.join("%2e%2e/outside/made").is_dir());
    assert!(!tree.outside.join("made").exists());
    assert_eq!(tree.outside_snapshot(), before);
}
