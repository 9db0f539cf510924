//! Confirmation before destruction, with the official Python SDK as the
//! client, over stdio and Streamable HTTP: a client that accepts, one that
//! declines, one that cancels, and one without the elicitation capability
//! (where `[fs.confirm]` decides: delete refused, overwrite allowed by
//! default).

use std::fs;

use moat_tests::{fixture::Tree, python::run_fs_features};
use serde_json::{Value, json};

/// A tree served with deletion offered and `extra` policy lines.
struct Served {
    tree: Tree,
    policy: String,
}

impl Served {
    fn new(extra: &str) -> Self {
        let tree = Tree::new();
        let policy = tree.temp.path().join("policy.toml");
        fs::write(&policy, format!("[fs]\nallow_delete = true\n{extra}")).expect("policy");
        Self {
            tree,
            policy: policy.to_string_lossy().into_owned(),
        }
    }

    /// Call `tool` through a Python client answering `answer` over
    /// `transport`; the report the script printed.
    async fn call(&self, transport: &str, answer: &str, tool: &str, arguments: &Value) -> Value {
        let root = self.tree.root_arg();
        let args = [answer.to_string(), tool.to_string(), arguments.to_string()];
        run_fs_features(
            "confirm",
            transport,
            &[&root, "--policy", &self.policy],
            &args,
        )
        .await
    }

    fn read(&self, name: &str) -> Option<String> {
        fs::read_to_string(self.tree.root.join(name)).ok()
    }
}

fn asked(report: &Value) -> Vec<String> {
    report["asked"]
        .as_array()
        .expect("asked")
        .iter()
        .map(|message| message.as_str().unwrap_or_default().to_string())
        .collect()
}

/// A client that accepts is asked once, with the path and size of what
/// will be destroyed, and the delete happens.
#[tokio::test(flavor = "multi_thread")]
async fn accepted_confirmation_deletes_and_names_what_is_destroyed() {
    for transport in ["stdio", "http"] {
        let served = Served::new("");
        let report = served
            .call(
                transport,
                "accept",
                "delete_file",
                &json!({"path": "hello.txt"}),
            )
            .await;
        let questions = asked(&report);
        assert_eq!(questions.len(), 1, "{transport}: {report}");
        assert!(
            questions[0].contains("hello.txt") && questions[0].contains("12 bytes"),
            "{transport}: {report}"
        );
        assert_eq!(report["is_error"], false, "{transport}: {report}");
        assert_eq!(served.read("hello.txt"), None, "{transport}: still there");
    }
}

/// Decline and cancel leave the file as it was, with a plain "Not done"
/// result that is not a tool error (the user decided).
#[tokio::test(flavor = "multi_thread")]
async fn declined_or_cancelled_confirmation_changes_nothing() {
    for (transport, answer) in [("stdio", "decline"), ("http", "cancel")] {
        let served = Served::new("");
        let report = served
            .call(
                transport,
                answer,
                "delete_file",
                &json!({"path": "hello.txt"}),
            )
            .await;
        assert_eq!(asked(&report).len(), 1, "{answer}: {report}");
        assert_eq!(report["is_error"], false, "{answer}: {report}");
        let text = report["text"].as_str().unwrap_or_default();
        assert!(
            text.starts_with("Not done:") && text.contains("nothing was changed"),
            "{answer}: {report}"
        );
        assert_eq!(served.read("hello.txt").as_deref(), Some("hello\nworld\n"));
        let report = served
            .call(
                transport,
                answer,
                "write_file",
                &json!({"path": "hello.txt", "content": "gone"}),
            )
            .await;
        assert!(asked(&report)[0].contains("12 bytes"), "{answer}: {report}");
        assert_eq!(served.read("hello.txt").as_deref(), Some("hello\nworld\n"));
    }
}

/// Without the elicitation capability the defaults apply: delete is
/// refused as a tool error saying why, overwrite goes ahead unasked.
#[tokio::test(flavor = "multi_thread")]
async fn client_without_elicitation_gets_the_policy_defaults() {
    for transport in ["stdio", "http"] {
        let served = Served::new("");
        let report = served
            .call(
                transport,
                "none",
                "delete_file",
                &json!({"path": "hello.txt"}),
            )
            .await;
        assert_eq!(report["is_error"], true, "{transport}: {report}");
        let text = report["text"].as_str().unwrap_or_default();
        assert!(
            text.contains("Not done") && text.contains("[fs.confirm] delete"),
            "{transport}: {report}"
        );
        assert_eq!(served.read("hello.txt").as_deref(), Some("hello\nworld\n"));
        let report = served
            .call(
                transport,
                "none",
                "write_file",
                &json!({"path": "hello.txt", "content": "replaced"}),
            )
            .await;
        assert_eq!(report["is_error"], false, "{transport}: {report}");
        assert_eq!(served.read("hello.txt").as_deref(), Some("replaced"));
    }
}

/// The policy's rules: `edit = "refuse"` asks before an edit (and refuses
/// without a way to ask); `delete = "allow"` deletes for a client that
/// cannot be asked; a new file is never a question.
#[tokio::test(flavor = "multi_thread")]
async fn policy_rules_choose_when_to_ask() {
    let served = Served::new("[fs.confirm]\nedit = \"refuse\"\ndelete = \"allow\"\n");
    let edit = json!({"path": "hello.txt", "edits": [{"oldText": "world", "newText": "moat"}]});
    let report = served.call("stdio", "none", "edit_file", &edit).await;
    assert_eq!(report["is_error"], true, "{report}");
    assert_eq!(served.read("hello.txt").as_deref(), Some("hello\nworld\n"));
    let report = served.call("stdio", "accept", "edit_file", &edit).await;
    assert_eq!(asked(&report).len(), 1, "{report}");
    assert!(asked(&report)[0].contains("1 replacement"), "{report}");
    assert_eq!(served.read("hello.txt").as_deref(), Some("hello\nmoat\n"));
    let report = served
        .call(
            "stdio",
            "accept",
            "write_file",
            &json!({"path": "fresh.txt", "content": "new"}),
        )
        .await;
    assert!(asked(&report).is_empty(), "{report}");
    assert_eq!(served.read("fresh.txt").as_deref(), Some("new"));
    let report = served
        .call(
            "stdio",
            "none",
            "delete_file",
            &json!({"path": "fresh.txt"}),
        )
        .await;
    assert_eq!(report["is_error"], false, "{report}");
    assert_eq!(served.read("fresh.txt"), None);
}
