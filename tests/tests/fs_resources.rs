//! moat-fs as MCP resources, through the real binary.
//!
//! - The official Python SDK, over stdio and Streamable HTTP, lists the
//!   roots and templates, reads a file, subscribes to it, changes it from
//!   its own process, and receives `notifications/resources/updated`.
//! - An rmcp client (both eras) reads text, a blob with its MIME type, a
//!   directory listing, and is refused paths outside the roots or denied
//!   by the policy, with the same rules as the tools.

use std::fs;

use moat_tests::{Era, Session, TRANSPORTS, fixture::Tree, python::run_fs_features};
use rmcp::model::{ReadResourceRequestParams, ResourceContents};
use serde_json::Value;

/// The `file://` URI of a path under the tree.
fn uri(path: &std::path::Path) -> String {
    format!("file://{}", path.display())
}

/// Subscribe with the Python SDK over `transport` and change the file from
/// the client's process: the notification names the subscribed URI.
async fn subscribe_and_change(transport: &str) -> (Tree, Value) {
    let tree = Tree::new();
    let root = tree.root_arg();
    let file = tree.root.join("hello.txt");
    let args = [uri(&file), file.to_string_lossy().into_owned()];
    let report = run_fs_features("subscribe", transport, &[&root], &args).await;
    (tree, report)
}

/// Check what the Python client saw.
fn check_report(tree: &Tree, transport: &str, report: &Value) {
    let file_uri = uri(&tree.root.join("hello.txt"));
    assert_eq!(
        report["subscribe_capability"], true,
        "{transport}: {report}"
    );
    assert_eq!(
        report["resources"][0],
        format!("{}/", uri(&tree.root)),
        "{transport}: {report}"
    );
    assert_eq!(
        report["templates"][0],
        format!("{}/{{+path}}", uri(&tree.root)),
        "{transport}: {report}"
    );
    assert_eq!(report["read"][0], "hello\nworld\n", "{transport}: {report}");
    assert_eq!(report["mime"][0], "text/plain", "{transport}: {report}");
    let updated = report["updated"].as_array().expect("updated");
    assert!(
        !updated.is_empty(),
        "{transport}: no notification: {report}"
    );
    assert!(
        updated.iter().all(|seen| *seen == file_uri),
        "{transport}: {report}"
    );
}

/// A subscription over stdio reports a change made by another process.
#[tokio::test(flavor = "multi_thread")]
async fn python_subscription_sees_a_change_over_stdio() {
    let (tree, report) = subscribe_and_change("stdio").await;
    check_report(&tree, "stdio", &report);
}

/// A subscription over Streamable HTTP reports a change made by another
/// process.
#[tokio::test(flavor = "multi_thread")]
async fn python_subscription_sees_a_change_over_http() {
    let (tree, report) = subscribe_and_change("http").await;
    check_report(&tree, "http", &report);
}

/// resources/read applies the tools' rules: text as text, a PNG as a blob
/// with its MIME type, a directory as the list of its entries without the
/// denied ones, and paths outside the roots or denied are not found.
#[tokio::test(flavor = "multi_thread")]
async fn read_follows_the_tools_rules() {
    let tree = Tree::new();
    fs::write(
        tree.root.join("pixel.png"),
        [0x89, b'P', b'N', b'G', 0xff, 0x00],
    )
    .expect("png");
    fs::write(tree.root.join(".env"), "SECRET=1").expect("env");
    let policy = tree.temp.path().join("policy.toml");
    fs::write(&policy, "[fs]\ndeny = [\"**/.env\"]\n").expect("policy");
    let root = tree.root_arg();
    let policy = policy.to_string_lossy().into_owned();
    for transport in TRANSPORTS {
        for era in [Era::Handshake, Era::Stateless] {
            let session = Session::start("moat-fs", &[&root, "--policy", &policy], transport, era)
                .await
                .expect("start");
            let read = |path: std::path::PathBuf| {
                session
                    .client
                    .read_resource(ReadResourceRequestParams::new(uri(&path)))
            };
            let contents = read(tree.root.join("pixel.png"))
                .await
                .expect("png")
                .contents;
            assert!(
                matches!(&contents[0], ResourceContents::BlobResourceContents { mime_type: Some(mime), .. } if mime == "image/png"),
                "{transport:?} {era:?}: {contents:?}"
            );
            let contents = read(tree.root.join("sub")).await.expect("dir").contents;
            let ResourceContents::TextResourceContents {
                text, mime_type, ..
            } = &contents[0]
            else {
                panic!("{transport:?} {era:?}: {contents:?}");
            };
            assert_eq!(mime_type.as_deref(), Some("text/uri-list"));
            assert_eq!(text, &uri(&tree.root.join("sub/inner.txt")));
            let contents = read(tree.root.clone()).await.expect("root").contents;
            let ResourceContents::TextResourceContents { text, .. } = &contents[0] else {
                panic!("{contents:?}");
            };
            assert!(
                text.contains("hello.txt") && !text.contains(".env"),
                "{text}"
            );
            for refused in [tree.root.join(".env"), tree.outside.join("secret.txt")] {
                let error = read(refused.clone()).await.expect_err("refused");
                assert!(!error.to_string().contains("TOP-SECRET"), "{error}");
            }
        }
    }
}

/// A client whose roots move from a read-only root to a writable one gets
/// `notifications/tools/list_changed` each time the tool set changes, and
/// the write tools appear in the new list (Python SDK, stdio and HTTP).
#[tokio::test(flavor = "multi_thread")]
async fn tool_list_follows_client_roots_with_list_changed() {
    for transport in ["stdio", "http"] {
        let tree = Tree::new();
        let writable = tree.root_arg();
        let read_only = format!("{}:ro", tree.sibling.display());
        let args = [uri(&tree.sibling), uri(&tree.root)];
        let report = run_fs_features("roots", transport, &[&writable, &read_only], &args).await;
        assert_eq!(
            report["list_changed_capability"], true,
            "{transport}: {report}"
        );
        let has = |list: &str, tool: &str| {
            report[list]
                .as_array()
                .is_some_and(|tools| tools.iter().any(|name| name == tool))
        };
        assert!(
            !has("before", "write_file") && has("before", "read_text_file"),
            "{transport}: {report}"
        );
        assert!(has("after", "write_file"), "{transport}: {report}");
        assert_eq!(
            report["changes"].as_array().map(Vec::len),
            Some(2),
            "{transport}: {report}"
        );
    }
}
