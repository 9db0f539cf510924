//! A panicking tool becomes an `isError` result and the server keeps
//! serving; a slow tool is stopped at its deadline.

use std::{sync::Arc, time::Duration};

use moat_shared::{
    Call, CallContext, ServerIdentity, ToolError, ToolFuture, ToolOutput, Toolbox,
    runtime::inprocess,
};
use rmcp::model::{CallToolRequestParams, ContentBlock, JsonObject, Tool};

struct Flaky;

impl Toolbox for Flaky {
    fn identity(&self) -> ServerIdentity {
        ServerIdentity {
            name: "flaky",
            title: "flaky",
            version: "0",
            instructions: String::new(),
        }
    }

    fn tools(&self) -> Vec<Tool> {
        ["panic", "panic_blocking", "ok", "slow", "fail"]
            .into_iter()
            .map(|name| Tool::new(name, name, Arc::new(JsonObject::new())))
            .collect()
    }

    fn call(
        self: Arc<Self>,
        name: &str,
        _arguments: JsonObject,
        _context: CallContext,
    ) -> Option<Call> {
        if name == "panic_blocking" {
            return Some(Call::Blocking(Box::new(|| {
                panic!("boom on the blocking pool at /secret/host/path")
            })));
        }
        let future: ToolFuture = match name {
            "panic" => Box::pin(async { panic!("boom at /secret/host/path") }),
            "ok" => Box::pin(async { Ok(ToolOutput::text("fine")) }),
            "slow" => Box::pin(async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(ToolOutput::text("late"))
            }),
            "fail" => Box::pin(async { Err(ToolError::failed("line one\nline two")) }),
            _ => return None,
        };
        Some(Call::Async(future))
    }

    fn call_timeout(&self) -> Duration {
        Duration::from_millis(300)
    }
}

fn first_text(result: &rmcp::model::CallToolResult) -> String {
    match result.content.first() {
        Some(ContentBlock::Text(text)) => text.text.clone(),
        _ => String::new(),
    }
}

/// Panics (in async and in blocking bodies alike), timeouts and
/// multi-line errors all become one-line isError results, and the next call
/// still works.
#[tokio::test]
async fn panics_and_timeouts_become_is_error_results() {
    let client = inprocess::connect(Arc::new(Flaky)).await.expect("connect");
    let call = |name: &'static str| {
        let client = &client;
        async move {
            client
                .call_tool(CallToolRequestParams::new(name))
                .await
                .expect("call")
        }
    };
    let panicked = call("panic").await;
    assert_eq!(panicked.is_error, Some(true));
    assert!(first_text(&panicked).contains("internal error in tool `panic`"));
    assert!(
        !first_text(&panicked).contains("/secret/host/path"),
        "no panic message leaks"
    );
    let blocking = call("panic_blocking").await;
    assert_eq!(blocking.is_error, Some(true));
    assert!(first_text(&blocking).contains("internal error in tool `panic_blocking`"));
    assert!(!first_text(&blocking).contains("/secret/host/path"));
    let slow = call("slow").await;
    assert_eq!(slow.is_error, Some(true));
    assert!(
        first_text(&slow).contains("took longer than"),
        "{}",
        first_text(&slow)
    );
    let fail = call("fail").await;
    assert_eq!(first_text(&fail), "line one line two");
    let ok = call("ok").await;
    assert_eq!(ok.is_error, Some(false));
    assert_eq!(first_text(&ok), "fine");
    let unknown = client.call_tool(CallToolRequestParams::new("nope")).await;
    assert!(unknown.is_err(), "unknown tool is a protocol error");
}
