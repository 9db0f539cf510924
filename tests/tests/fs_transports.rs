//! moat-fs over every transport (stdio, Streamable HTTP) and protocol era:
//! the core tools behave the same everywhere, bad arguments, read-only
//! roots and budget cuts answer alike (each tool's own behaviour is in
//! `fs_full.rs`).

use moat_tests::{ERAS, Session, TRANSPORTS, fixture::Tree, is_error, text};
use serde_json::json;

/// Every tool behaves the same over each transport and era.
#[tokio::test(flavor = "multi_thread")]
async fn four_tools_over_every_transport_and_era() {
    for transport in TRANSPORTS {
        for era in ERAS {
            let tree = Tree::new();
            let root = tree.root_arg();
            let session = Session::start("moat-fs", &[&root], transport, era)
                .await
                .unwrap_or_else(|error| panic!("{transport:?}/{era:?}: {error:#}"));
            let label = format!("{transport:?}/{era:?}");

            let tools = session.client.list_all_tools().await.expect("tools/list");
            let names: Vec<_> = tools.iter().map(|tool| tool.name.to_string()).collect();
            for name in [
                "read_text_file",
                "read_file",
                "write_file",
                "list_directory",
                "move_file",
            ] {
                assert!(
                    names.contains(&name.to_string()),
                    "{label}: {name} missing from {names:?}"
                );
            }

            let read = session
                .call("read_text_file", json!({"path": "hello.txt"}))
                .await
                .expect("call");
            assert_eq!(text(&read), "hello\nworld\n", "{label}");
            let structured = read.structured_content.clone().expect("structuredContent");
            assert_eq!(structured["content"], "hello\nworld\n", "{label}");

            let head = session
                .call(
                    "read_text_file",
                    json!({"path": format!("{root}/hello.txt"), "head": 1}),
                )
                .await
                .expect("call");
            assert_eq!(text(&head), "hello\n", "{label}");
            let tail = session
                .call("read_file", json!({"path": "hello.txt", "tail": 1}))
                .await
                .expect("call");
            assert_eq!(text(&tail), "world\n", "{label}");
            let both = session
                .call(
                    "read_text_file",
                    json!({"path": "hello.txt", "head": 1, "tail": 1}),
                )
                .await
                .expect("call");
            assert!(is_error(&both), "{label}: head+tail must fail");

            let write = session
                .call(
                    "write_file",
                    json!({"path": "new.txt", "content": "fresh\n"}),
                )
                .await
                .expect("call");
            assert!(!is_error(&write), "{label}: {}", text(&write));
            let written = std::fs::read_to_string(tree.root.join("new.txt")).expect("written");
            assert_eq!(written, "fresh\n", "{label}");

            let listing = session
                .call("list_directory", json!({"path": "."}))
                .await
                .expect("call");
            assert_eq!(
                text(&listing),
                "[FILE] hello.txt\n[FILE] new.txt\n[DIR] sub\n",
                "{label}"
            );

            let moved = session
                .call(
                    "move_file",
                    json!({"source": "new.txt", "destination": "sub/moved.txt"}),
                )
                .await
                .expect("call");
            assert!(!is_error(&moved), "{label}: {}", text(&moved));
            assert!(
                tree.root.join("sub/moved.txt").symlink_metadata().is_ok(),
                "{label}"
            );

            let clash = session
                .call(
                    "move_file",
                    json!({"source": "hello.txt", "destination": "sub/moved.txt"}),
                )
                .await
                .expect("call");
            assert!(
                is_error(&clash),
                "{label}: move over an existing file must fail"
            );
            assert!(
                text(&clash).contains("already exists"),
                "{label}: {}",
                text(&clash)
            );
            let kept = std::fs::read_to_string(tree.root.join("sub/moved.txt")).expect("kept");
            assert_eq!(kept, "fresh\n", "{label}: the destination was overwritten");

            let _ = session.client.cancel().await;
        }
    }
}

/// Bad arguments get one clear line naming what was wrong; unknown tools are
/// protocol errors; the server keeps serving.
#[tokio::test(flavor = "multi_thread")]
async fn bad_arguments_are_clear_errors() {
    let tree = Tree::new();
    let session = Session::start(
        "moat-fs",
        &[&tree.root_arg()],
        moat_tests::Transport::Stdio,
        moat_tests::Era::Handshake,
    )
    .await
    .expect("start");
    let cases = [
        (json!({}), "missing field `path`"),
        (json!({"path": 3}), "expected a string"),
        (json!({"path": "hello.txt", "head": "x"}), "invalid type"),
        (
            json!({"path": "hello.txt", "bogus": 1}),
            "unknown field `bogus`",
        ),
        (json!({"path": "nope.txt"}), "not found: nope.txt"),
        (json!({"path": "sub"}), "is a directory"),
    ];
    for (arguments, expected) in cases {
        let result = session
            .call("read_text_file", arguments.clone())
            .await
            .expect("call");
        assert!(is_error(&result), "{arguments}");
        let message = text(&result);
        assert!(message.contains(expected), "{arguments}: {message}");
        assert!(!message.contains('\n'), "one line: {message}");
    }
    let unknown = session.call("no_such_tool", json!({})).await;
    assert!(unknown.is_err(), "unknown tools are protocol errors");
    let still = session
        .call("read_text_file", json!({"path": "hello.txt"}))
        .await
        .expect("call");
    assert!(!is_error(&still));
}

/// A read-only root refuses writes and hides the write tools.
#[tokio::test(flavor = "multi_thread")]
async fn read_only_root_hides_and_refuses_writes() {
    let tree = Tree::new();
    let spec = format!("{}:ro", tree.root_arg());
    let session = Session::start(
        "moat-fs",
        &[&spec],
        moat_tests::Transport::Stdio,
        moat_tests::Era::Handshake,
    )
    .await
    .expect("start");
    let tools = session.client.list_all_tools().await.expect("tools/list");
    assert!(
        tools
            .iter()
            .all(|tool| tool.name != "write_file" && tool.name != "move_file")
    );
    let refused = session
        .call("write_file", json!({"path": "x.txt", "content": "x"}))
        .await;
    assert!(refused.is_err(), "an unlisted tool is unknown");
    assert!(tree.root.join("x.txt").symlink_metadata().is_err());
}

/// With one writable and one read-only root, writes into the read-only one
/// are refused with a clear error.
#[tokio::test(flavor = "multi_thread")]
async fn write_into_read_only_root_is_refused() {
    let tree = Tree::new();
    let ro = format!("{}:ro", tree.sibling.to_string_lossy());
    let session = Session::start(
        "moat-fs",
        &[&tree.root_arg(), &ro],
        moat_tests::Transport::Stdio,
        moat_tests::Era::Handshake,
    )
    .await
    .expect("start");
    let path = tree.sibling.join("secret.txt");
    let result = session
        .call("write_file", json!({"path": path, "content": "changed"}))
        .await
        .expect("call");
    assert!(is_error(&result));
    assert!(text(&result).contains("read-only"), "{}", text(&result));
    let content = std::fs::read_to_string(&path).expect("read");
    assert_eq!(content, moat_tests::fixture::SECRET);
}

/// A result past the byte budget is cut at a line and says how to continue;
/// the continuation returns the rest.
#[tokio::test(flavor = "multi_thread")]
async fn read_is_cut_at_the_budget_and_continues() {
    let tree = Tree::new();
    let lines: String = (1..=100).fold(String::new(), |mut all, n| {
        all.push_str(&format!("line {n:03}\n"));
        all
    });
    std::fs::write(tree.root.join("long.txt"), &lines).expect("write");
    let session = Session::start(
        "moat-fs",
        &[&tree.root_arg(), "--max-result-bytes", "100"],
        moat_tests::Transport::Stdio,
        moat_tests::Era::Handshake,
    )
    .await
    .expect("start");
    let mut collected = String::new();
    let mut offset = 1;
    for _ in 0..20 {
        let page = session
            .call(
                "read_text_file",
                json!({"path": "long.txt", "offset": offset}),
            )
            .await
            .expect("call");
        let structured = page.structured_content.clone().expect("structured");
        collected.push_str(structured["content"].as_str().expect("content"));
        match structured["nextOffset"].as_u64() {
            Some(next) => {
                assert!(
                    text(&page).contains(&format!("offset={next}")),
                    "{}",
                    text(&page)
                );
                offset = next;
            }
            None => break,
        }
    }
    assert_eq!(collected, lines);
}

/// moat-fs on stdio enlarges its stdout pipe to 1 MiB, so a big answer (a
/// 1 MiB read is 2 MiB on the wire) goes out in a few writes instead of
/// one round trip with the client per 64 KiB.
#[cfg(target_os = "linux")]
#[test]
fn stdio_stdout_pipe_is_enlarged() {
    use std::{
        io::{BufRead, BufReader, Write},
        process::Stdio,
    };

    use moat_tests::{
        native_linux_server,
        raw_stdio::{initialize_params, request},
        server_command,
    };

    // F_SETPIPE_SZ is Linux's; the Windows build under Wine has no such call.
    if !native_linux_server("the stdout pipe's size") {
        return;
    }
    let tree = Tree::new();
    let mut child = server_command("moat-fs")
        .arg(tree.root_arg())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn moat-fs");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = request(&json!(1), "initialize", &initialize_params());
    line.push(b'\n');
    stdin.write_all(&line).expect("send initialize");
    let mut answer = String::new();
    stdout.read_line(&mut answer).expect("read the answer");
    assert!(answer.contains("\"result\""), "initialize failed: {answer}");
    let after = rustix::pipe::fcntl_getpipe_size(stdout.get_ref()).expect("pipe size");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        after,
        1 << 20,
        "the server left its stdout pipe at {after} bytes"
    );
}
