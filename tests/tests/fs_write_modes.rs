//! `write_file`'s `mode` through the real binary, over stdio and
//! Streamable HTTP: `append` adds at the end (creating a missing file),
//! `create` refuses an existing file and leaves it as it was, `overwrite`
//! stays the default, and an unknown mode is a clear one-line error.

use std::fs;

use moat_tests::{Era, Session, TRANSPORTS, Transport, fixture::Tree, is_error, text};
use serde_json::{Value, json};

/// moat-fs on a fresh tree over `transport`.
async fn serve(transport: Transport) -> (Tree, Session) {
    let tree = Tree::new();
    let root = tree.root_arg();
    let session = Session::start("moat-fs", &[&root], transport, Era::Handshake)
        .await
        .expect("start");
    (tree, session)
}

/// Call write_file: (isError, text).
async fn write(session: &Session, arguments: Value) -> (bool, String) {
    let result = session.call("write_file", arguments).await.expect("call");
    (is_error(&result), text(&result))
}

/// The content of `name` under the tree's root.
fn content(tree: &Tree, name: &str) -> String {
    fs::read_to_string(tree.root.join(name)).expect("read")
}

/// append adds to the end of an existing file and creates a missing one;
/// the result says how much was added and the new size.
#[tokio::test(flavor = "multi_thread")]
async fn append_adds_to_the_end_and_creates_a_missing_file() {
    for transport in TRANSPORTS {
        let (tree, session) = serve(transport).await;
        let arguments = json!({"path": "hello.txt", "content": "third\n", "mode": "append"});
        let (failed, line) = write(&session, arguments).await;
        assert!(
            !failed && line.contains("now 18 bytes"),
            "{transport:?}: {line}"
        );
        assert_eq!(content(&tree, "hello.txt"), "hello\nworld\nthird\n");
        let arguments = json!({"path": "log.txt", "content": "one\n", "mode": "append"});
        let (failed, line) = write(&session, arguments).await;
        assert!(!failed, "{transport:?}: {line}");
        assert_eq!(content(&tree, "log.txt"), "one\n");
    }
}

/// create makes a new file, and refuses an existing one with a line that
/// says so, leaving its content untouched and no stray temporary file.
#[tokio::test(flavor = "multi_thread")]
async fn create_refuses_an_existing_file_and_leaves_it_untouched() {
    for transport in TRANSPORTS {
        let (tree, session) = serve(transport).await;
        let arguments = json!({"path": "hello.txt", "content": "replaced", "mode": "create"});
        let (failed, line) = write(&session, arguments).await;
        assert!(
            failed && line.contains("already exists"),
            "{transport:?}: {line}"
        );
        assert_eq!(content(&tree, "hello.txt"), "hello\nworld\n");
        let arguments = json!({"path": "new.txt", "content": "fresh", "mode": "create"});
        let (failed, line) = write(&session, arguments).await;
        assert!(!failed, "{transport:?}: {line}");
        assert_eq!(content(&tree, "new.txt"), "fresh");
        let mut names: Vec<String> = fs::read_dir(&tree.root)
            .expect("list")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        assert_eq!(names, ["hello.txt", "new.txt", "sub"], "{transport:?}");
    }
}

/// Without a mode the file is replaced (the reference server's behaviour);
/// an unknown mode is refused with a line naming it, and nothing changes.
#[tokio::test(flavor = "multi_thread")]
async fn overwrite_is_the_default_and_an_unknown_mode_is_refused() {
    let (tree, session) = serve(Transport::Stdio).await;
    let (failed, line) = write(&session, json!({"path": "hello.txt", "content": "new"})).await;
    assert!(!failed, "{line}");
    assert_eq!(content(&tree, "hello.txt"), "new");
    let arguments = json!({"path": "hello.txt", "content": "x", "mode": "prepend"});
    let (failed, line) = write(&session, arguments).await;
    assert!(
        failed && line.contains("prepend") && !line.contains('\n'),
        "{line}"
    );
    assert_eq!(content(&tree, "hello.txt"), "new");
}
