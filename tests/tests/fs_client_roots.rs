//! MCP Roots end to end: a real rmcp client that declares roots. The
//! operator's roots are a ceiling (a client root outside them is ignored);
//! with no configured roots the client's roots are used as given.
#![expect(
    deprecated,
    reason = "MCP Roots are deprecated from 2026-07-28 but handshake-era clients use them"
)]

use moat_tests::{binary, fixture::Tree, is_error, text};
use rmcp::{
    ClientHandler, ErrorData, RoleClient, ServiceExt,
    model::{
        CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, ListRootsResult,
        Root,
    },
    service::{RequestContext, RunningService},
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::{Value, json};

/// A client whose roots are fixed `file://` URIs.
#[derive(Clone)]
struct RootsClient(Vec<String>);

impl ClientHandler for RootsClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder().enable_roots().build(),
            Implementation::new("roots-test", "0"),
        )
    }

    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        Ok(ListRootsResult::new(
            self.0.iter().map(|uri| Root::new(uri.clone())).collect(),
        ))
    }
}

async fn connect(args: &[String], roots: Vec<String>) -> RunningService<RoleClient, RootsClient> {
    let command = tokio::process::Command::new(binary("moat-fs"));
    let transport = TokioChildProcess::new(command.configure(|command| {
        command.args(args).env("RUST_LOG", "warn");
    }))
    .expect("spawn");
    RootsClient(roots)
        .serve(transport)
        .await
        .expect("initialize")
}

async fn call(
    client: &RunningService<RoleClient, RootsClient>,
    tool: &str,
    arguments: Value,
) -> rmcp::model::CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await
        .expect("call")
}

/// Wait until the server has asked for and applied the client's roots.
async fn allowed(client: &RunningService<RoleClient, RootsClient>, expect: &str) -> String {
    let mut listing = String::new();
    for _ in 0..100 {
        listing = text(&call(client, "list_allowed_directories", json!({})).await);
        if listing.contains(expect) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    listing
}

/// Configured roots are a ceiling: a client root inside one narrows access
/// to it; a client root outside every configured root is ignored.
#[tokio::test(flavor = "multi_thread")]
async fn client_roots_are_capped_by_configured_roots() {
    let tree = Tree::new();
    let sub = tree.root.join("sub");
    let roots = vec![
        format!("file://{}", sub.display()),
        format!("file://{}", tree.outside.display()),
    ];
    let client = connect(&[tree.root_arg()], roots).await;
    let listing = allowed(&client, "sub").await;
    assert!(listing.contains(&sub.display().to_string()), "{listing}");
    assert!(
        !listing.contains(&tree.outside.display().to_string()),
        "an outside client root was granted: {listing}"
    );
    let outside = call(
        &client,
        "read_text_file",
        json!({"path": tree.outside.join("secret.txt")}),
    )
    .await;
    assert!(is_error(&outside), "{}", text(&outside));
    assert!(!text(&outside).contains(moat_tests::fixture::SECRET));
    let inside = call(
        &client,
        "read_text_file",
        json!({"path": sub.join("inner.txt")}),
    )
    .await;
    assert_eq!(text(&inside), "inner\n");
}

/// With no configured roots, the client's roots are used as given.
#[tokio::test(flavor = "multi_thread")]
async fn client_roots_are_used_when_none_are_configured() {
    let tree = Tree::new();
    let roots = vec![format!("file://{}", tree.root.display())];
    let client = connect(&[], roots).await;
    let listing = allowed(&client, &tree.root.display().to_string()).await;
    assert!(
        listing.contains(&tree.root.display().to_string()),
        "{listing}"
    );
    let read = call(
        &client,
        "read_text_file",
        json!({"path": tree.root.join("hello.txt")}),
    )
    .await;
    assert_eq!(text(&read), "hello\nworld\n");
    let outside = call(
        &client,
        "read_text_file",
        json!({"path": tree.outside.join("secret.txt")}),
    )
    .await;
    assert!(is_error(&outside));
}
