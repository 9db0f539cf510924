//! `moat-echo`: the protocol floor. A minimal MCP server over stdio that
//! answers `initialize`, `tools/list` and `tools/call` (echoing the
//! arguments back as text) at once, with no runtime and no work, so
//! `moat-compare` can measure what the client, the pipes and JSON cost on
//! this machine and report every server as a ratio to it.
//!
//! It reads one JSON-RPC message a line on stdin and writes one answer a
//! line on stdout; notifications get no answer. It must never do anything
//! else (no files, no network).

use std::io::{BufRead, Write};

use serde_json::{Value, json};

/// The answer to one request, or `None` for a notification.
fn answer(request: &Value) -> Option<Value> {
    let id = request.get("id")?.clone();
    let result = match request["method"].as_str().unwrap_or_default() {
        "initialize" => json!({
            "protocolVersion": request["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "moat-echo", "version": env!("CARGO_PKG_VERSION")}
        }),
        "tools/list" => json!({"tools": [{
            "name": "echo",
            "description": "Returns its arguments as text.",
            "inputSchema": {"type": "object"}
        }]}),
        "tools/call" => json!({"content": [{
            "type": "text",
            "text": request["params"]["arguments"].to_string()
        }]}),
        "ping" => json!({}),
        _ => {
            return Some(json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32601, "message": "method not found"}}));
        }
    };
    Some(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

fn main() {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lines() {
        let Ok(line) = line else { break };
        let Ok(request) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Some(reply) = answer(&request)
            && writeln!(stdout, "{reply}")
                .and_then(|()| stdout.flush())
                .is_err()
        {
            break;
        }
    }
}
