//! Hostile protocol input against both real binaries (moat-fs on a temp
//! root, moat-scrape with no search provider), over stdio (raw lines on the
//! child's stdin) and Streamable HTTP (raw POST bodies to /mcp).
//!
//! Every case must get a correct JSON-RPC answer (or none, where JSON-RPC
//! says so), the next valid request must be answered, and the server's
//! resident memory must stay bounded. The static cases are in
//! `tests/corpus/hostile_protocol.json`; the ones that must be built (a
//! 20 MiB line, 10,000-deep nesting, huge ids, every wrong argument type,
//! huge strings in every string argument) are built here.
//!
//! Issue 7, deliverable 2.

use moat_tests::{
    HttpServer,
    fixture::Tree,
    raw_stdio::{ANSWER_LIMIT, PROTOCOL_VERSION, RawStdio, initialize_params, request},
    sse_messages,
};
use serde_json::{Value, json};

/// Resident memory the server must stay under, whatever it was sent.
const RSS_LIMIT_KIB: u64 = 512 * 1024;

/// Bigger than the 16 MiB stdio line limit and the 16 MiB HTTP body cap.
const OVERSIZED_BYTES: usize = 20 * 1024 * 1024;

/// Nesting depth of the deep-nesting cases.
const DEEP_NESTING: usize = 10_000;

/// Length of the huge strings put in every string argument.
const HUGE_STRING_BYTES: usize = 1024 * 1024;

// ---------------------------------------------------------------- corpus

/// One static case of the corpus file.
struct Case {
    name: String,
    bytes: Vec<u8>,
    id: Option<Value>,
    /// The JSON-RPC error code the answer must carry, when given.
    code: Option<i64>,
    stdio: String,
    http: String,
}

fn corpus() -> Vec<Case> {
    let path = moat_tests::workspace_root().join("tests/corpus/hostile_protocol.json");
    let text = std::fs::read_to_string(&path).expect("read the corpus");
    let file: Value = serde_json::from_str(&text).expect("the corpus is JSON");
    file["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|case| {
            let bytes = match (case.get("line"), case.get("line_hex")) {
                (Some(Value::String(line)), _) => line.as_bytes().to_vec(),
                (_, Some(Value::String(hex))) => decode_hex(hex),
                _ => panic!("case without line: {case}"),
            };
            Case {
                name: case["name"].as_str().expect("name").to_string(),
                bytes,
                id: case.get("id").cloned(),
                code: case.get("code").and_then(Value::as_i64),
                stdio: case["stdio"].as_str().expect("stdio").to_string(),
                http: case["http"].as_str().expect("http").to_string(),
            }
        })
        .collect()
}

fn decode_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).expect("hex"))
        .collect()
}

/// `{"x":[[[...]]]}` nested `depth` deep inside a ping's params.
fn deeply_nested_ping(id: u64, depth: usize) -> Vec<u8> {
    let mut line =
        format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"ping\",\"params\":{{\"x\":")
            .into_bytes();
    line.extend(std::iter::repeat_n(b'[', depth));
    line.extend(std::iter::repeat_n(b']', depth));
    line.extend_from_slice(b"}}");
    line
}

/// A ping padded with `size` bytes inside its params.
fn padded_ping(id: u64, size: usize) -> Vec<u8> {
    let mut line =
        format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"ping\",\"params\":{{\"pad\":\"")
            .into_bytes();
    line.extend(std::iter::repeat_n(b'a', size));
    line.extend_from_slice(b"\"}}");
    line
}

/// `VmRSS` of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn assert_rss_bounded(pid: u32, after: &str) {
    let rss = rss_kib(pid);
    assert!(
        rss < RSS_LIMIT_KIB,
        "server RSS {rss} KiB after {after} (limit {RSS_LIMIT_KIB} KiB)"
    );
}

/// Is `message` a JSON-RPC error with this id?
fn is_error_with_id(message: &Value, id: &Value) -> bool {
    message.get("id") == Some(id)
        && message["error"]["code"].is_i64()
        && message["error"]["message"].is_string()
}

/// Is `message` a JSON-RPC error with `"id": null` (present, as JSON-RPC
/// 2.0 section 5 requires)?
fn is_null_id_error(message: &Value) -> bool {
    message.get("id").is_some_and(Value::is_null)
        && message["error"]["code"].is_i64()
        && message["error"]["message"].is_string()
}

/// Is `message` the -32600 refusing a request whose id is in flight?
fn is_duplicate_refusal(message: &Value, id: &Value) -> bool {
    is_error_with_id(message, id)
        && message["error"]["code"] == -32600
        && message["error"]["message"]
            .as_str()
            .is_some_and(|text| text.contains("already in flight"))
}

/// Does `message` carry the error code `case` asks for (any, when none)?
fn has_code(message: &Value, case: &Case) -> bool {
    case.code
        .is_none_or(|code| message["error"]["code"].as_i64() == Some(code))
}

// ----------------------------------------------------------------- stdio

/// Check one case's stdio outcome; `None` when correct.
fn check_stdio(server: &mut RawStdio, case: &Case) -> Option<String> {
    server.send(&case.bytes);
    let (answer, before) = match (&case.id, case.stdio.as_str()) {
        (Some(id), "reply" | "error") => {
            let (answer, mut before) = server.answer(id);
            before.extend(server.ping());
            (Some(answer), before)
        }
        _ => (None, server.ping()),
    };
    let stray: Vec<&Value> = before
        .iter()
        .filter(|message| message.get("method").is_none())
        .collect();
    let ok = match case.stdio.as_str() {
        "reply" | "silent" => stray.is_empty(),
        "error" => {
            stray.is_empty()
                && answer
                    .as_ref()
                    .zip(case.id.as_ref())
                    .is_some_and(|(answer, id)| {
                        is_error_with_id(answer, id) && has_code(answer, case)
                    })
        }
        "null_error" => stray.len() == 1 && is_null_id_error(stray[0]) && has_code(stray[0], case),
        other => return Some(format!("{}: unknown expectation {other}", case.name)),
    };
    (!ok).then(|| {
        format!(
            "{}: expected {}, got answer {answer:?} and before the next ping {stray:?}",
            case.name, case.stdio
        )
    })
}

/// The static corpus against one server on stdio.
fn run_corpus_stdio(name: &str, args: &[&str]) {
    let mut server = RawStdio::start(name, args);
    let mut failures = Vec::new();
    for case in corpus() {
        if let Some(failure) = check_stdio(&mut server, &case) {
            failures.push(failure);
        }
    }
    assert_rss_bounded(server.pid(), "the corpus");
    assert!(
        failures.is_empty(),
        "{name} over stdio:\n{}",
        failures.join("\n")
    );
}

/// The built cases (size, depth, ids, duplicates) against one server on
/// stdio.
fn run_generated_stdio(name: &str, args: &[&str]) {
    let mut server = RawStdio::start(name, args);
    let pid = server.pid();

    // A 20 MiB line is dropped whole (the limit is 16 MiB) and the stream
    // recovers at the next line.
    server.send(&padded_ping(1, OVERSIZED_BYTES));
    let before = server.ping();
    assert!(
        before
            .iter()
            .all(|message| message.get("id") != Some(&json!(1))),
        "the oversized line was answered: {before:?}"
    );
    assert_rss_bounded(pid, "a 20 MiB line");

    // Just under the limit: parsed and answered.
    server.send(&padded_ping(2, 15 * 1024 * 1024));
    let (answer, _) = server.answer(&json!(2));
    assert!(answer["result"].is_object(), "{answer}");
    assert_rss_bounded(pid, "a 15 MiB line");

    // 10,000-deep nesting: refused by the parser's recursion limit (or
    // answered), never a stack overflow.
    server.send(&deeply_nested_ping(3, DEEP_NESTING));
    let before = server.ping();
    assert!(
        before
            .iter()
            .all(|message| message.get("id").is_none_or(Value::is_null)
                || message.get("method").is_some()),
        "{before:?}"
    );
    let mut bare = vec![b'['; DEEP_NESTING];
    bare.extend(vec![b']'; DEEP_NESTING]);
    server.send(&bare);
    let mut objects = b"{\"a\":".repeat(DEEP_NESTING);
    objects.extend(b"1");
    objects.extend(vec![b'}'; DEEP_NESTING]);
    server.send(&objects);
    server.ping();

    // A 1 MiB string id is echoed back exactly.
    let huge_id = json!("i".repeat(HUGE_STRING_BYTES));
    server.send(&request(&huge_id, "ping", &json!({})));
    let (answer, _) = server.answer(&huge_id);
    assert!(answer["result"].is_object());

    // Duplicate ids in flight (JSON-RPC 2.0 section 4: ids should be
    // unique): every copy gets exactly one answer, the list or its own
    // -32600 for repeating an id in flight, and the server keeps serving.
    let duplicate = json!(77);
    for _ in 0..8 {
        server.send(&request(&duplicate, "tools/list", &json!({})));
    }
    let mut listed = 0;
    for _ in 0..8 {
        let (answer, _) = server.answer(&duplicate);
        if answer["result"]["tools"].is_array() {
            listed += 1;
        } else {
            assert!(is_duplicate_refusal(&answer, &duplicate), "{answer}");
        }
    }
    assert!(listed >= 1, "the first copy was not answered");
    let stray = server.ping();
    assert!(
        stray
            .iter()
            .all(|message| message.get("id") != Some(&duplicate)),
        "more than one answer per copy: {stray:?}"
    );

    // 5,000 lines of garbage in one burst, then a valid request.
    let mut burst = Vec::new();
    for index in 0..5_000 {
        burst.extend_from_slice(
            format!("{{\"jsonrpc\":\"2.0\",\"id\":{index},\"method\":").as_bytes(),
        );
        burst.push(b'\n');
    }
    server.send_raw(&burst);
    server.ping();
    assert_rss_bounded(pid, "the generated cases");
}

/// Calls before initialize: refused with the id (a request lacking the
/// 2026-07-28 inline metadata), ping answered, and initialize still works.
fn run_before_initialize_stdio(name: &str, args: &[&str]) {
    let mut server = RawStdio::spawn(name, args);
    for (id, method, params) in [
        (1, "tools/list", json!({})),
        (
            2,
            "tools/call",
            json!({ "name": "search", "arguments": {} }),
        ),
        (3, "no/such/method", json!({})),
    ] {
        let id = json!(id);
        server.send(&request(&id, method, &params));
        let (answer, _) = server.answer(&id);
        assert!(is_error_with_id(&answer, &id), "{method}: {answer}");
    }
    server.send(&request(&json!(4), "ping", &json!({})));
    let (answer, _) = server.answer(&json!(4));
    assert!(answer["result"].is_object(), "{answer}");
    server.send(b"garbage before initialize");
    server.send(&request(&json!(5), "initialize", &initialize_params()));
    let (answer, _) = server.answer(&json!(5));
    assert!(answer["result"]["protocolVersion"].is_string(), "{answer}");
    server.send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    server.ping();
}

// ------------------------------------------------------------- arguments

/// The JSON types a schema property accepts, when it says so plainly.
fn declared_types(schema: &Value) -> Option<Vec<String>> {
    match schema.get("type") {
        Some(Value::String(kind)) => Some(vec![kind.clone()]),
        Some(Value::Array(kinds)) => Some(
            kinds
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        _ => None,
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn accepts(types: &[String], value: &Value) -> bool {
    let kind = json_type(value);
    types
        .iter()
        .any(|declared| declared == kind || (declared == "number" && kind == "integer"))
}

/// A plausible value for a required property, so that the property under
/// test is the one that decides.
fn filler(schema: &Value) -> Value {
    match declared_types(schema)
        .unwrap_or_default()
        .first()
        .map(String::as_str)
    {
        Some("integer" | "number") => json!(1),
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        Some("object") => json!({}),
        _ => json!("hello.txt"),
    }
}

/// Every call of `tools` with one argument replaced by a value of each wrong
/// type, or by a huge string: (tool, arguments, must the call fail).
fn hostile_arguments(tools: &[Value]) -> Vec<(String, Value, bool)> {
    let wrong = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5),
        json!(18_446_744_073_709_551_615_u64),
        json!("a string"),
        json!([]),
        json!(["x", 1]),
        json!({}),
        json!({ "nested": { "x": 1 } }),
    ];
    let mut calls = Vec::new();
    for tool in tools {
        let name = tool["name"].as_str().expect("tool name").to_string();
        let schema = &tool["inputSchema"];
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let base: serde_json::Map<String, Value> = properties
            .iter()
            .filter(|(key, _)| required.contains(&key.as_str()))
            .map(|(key, property)| (key.clone(), filler(property)))
            .collect();
        // Every argument missing.
        calls.push((name.clone(), json!({}), !required.is_empty()));
        // An argument nobody declared.
        let mut unknown = base.clone();
        unknown.insert("no_such_argument".into(), json!("x"));
        calls.push((name.clone(), Value::Object(unknown), false));
        for (key, property) in &properties {
            let types = declared_types(property);
            for value in &wrong {
                if value.is_null() && !required.contains(&key.as_str()) {
                    continue; // null is "absent" for an optional argument
                }
                let must_fail = types.as_ref().is_some_and(|types| !accepts(types, value));
                let mut arguments = base.clone();
                arguments.insert(key.clone(), value.clone());
                calls.push((name.clone(), Value::Object(arguments), must_fail));
            }
            let string_like = types
                .as_ref()
                .is_none_or(|types| types.iter().any(|kind| kind == "string"));
            if string_like {
                let mut arguments = base.clone();
                arguments.insert(key.clone(), json!("a".repeat(HUGE_STRING_BYTES)));
                calls.push((name.clone(), Value::Object(arguments), false));
                let mut arguments = base.clone();
                arguments.insert(key.clone(), json!("../\u{0}/é\u{202e}".repeat(20_000)));
                calls.push((name.clone(), Value::Object(arguments), false));
            }
        }
    }
    calls
}

/// A correct answer to a tools/call: a result with content (an `isError`
/// one when `must_fail`), or a JSON-RPC error with the id.
fn tool_answer_ok(answer: &Value, id: &Value, must_fail: bool) -> bool {
    if is_error_with_id(answer, id) {
        return true;
    }
    let result = &answer["result"];
    result["content"].is_array() && (!must_fail || result["isError"] == json!(true))
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 300 {
        format!("{}... ({} bytes)", &text[..300], text.len())
    } else {
        text
    }
}

fn run_arguments_stdio(name: &str, args: &[&str]) {
    let mut server = RawStdio::start(name, args);
    let tools = server.call("tools/list", &json!({}))["result"]["tools"]
        .as_array()
        .cloned()
        .expect("tools");
    assert!(!tools.is_empty());
    let mut failures = Vec::new();
    for (tool, arguments, must_fail) in hostile_arguments(&tools) {
        let answer = server.call(
            "tools/call",
            &json!({ "name": tool, "arguments": arguments }),
        );
        let id = answer["id"].clone();
        if !tool_answer_ok(&answer, &id, must_fail) {
            failures.push(format!(
                "{tool} {} -> {}",
                short(&arguments),
                short(&answer)
            ));
        }
    }
    server.ping();
    assert_rss_bounded(server.pid(), "hostile arguments");
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
}

// ------------------------------------------------------------------ HTTP

/// A server on Streamable HTTP driven by raw POSTs in one session.
struct RawHttp {
    server: HttpServer,
    client: reqwest::Client,
    session: Option<String>,
    next_id: u64,
}

/// What one POST got back.
struct HttpAnswer {
    status: u16,
    messages: Vec<Value>,
    body: String,
}

impl RawHttp {
    async fn start(name: &str, args: &[&str]) -> Self {
        let server = HttpServer::start(name, args, &[]).expect("server starts");
        // One connection per POST: a case that makes the server close its
        // connection must not fail the next case on a stale pooled socket.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(ANSWER_LIMIT)
            .build()
            .expect("client");
        let mut raw = Self {
            server,
            client,
            session: None,
            next_id: 1_000_000,
        };
        let response = raw
            .post_raw(request(&json!(0), "initialize", &initialize_params()))
            .await;
        assert_eq!(response.status, 200, "{}", response.body);
        assert!(
            response
                .messages
                .iter()
                .any(|m| m["result"]["protocolVersion"].is_string()),
            "{}",
            response.body
        );
        let initialized = raw
            .post_raw(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_vec())
            .await;
        assert_eq!(initialized.status, 202, "{}", initialized.body);
        raw
    }

    fn pid(&self) -> u32 {
        self.server.child.id()
    }

    async fn post_raw(&mut self, body: Vec<u8>) -> HttpAnswer {
        let mut builder = self
            .client
            .post(&self.server.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", PROTOCOL_VERSION);
        if let Some(session) = &self.session {
            builder = builder.header("Mcp-Session-Id", session);
        }
        let response = match builder.body(body).send().await {
            Ok(response) => response,
            Err(error) => panic!(
                "POST failed ({error}); server exit {:?}; stderr:\n{}",
                self.server.child.try_wait(),
                self.stderr_tail()
            ),
        };
        if self.session.is_none()
            && let Some(session) = response.headers().get("mcp-session-id")
        {
            self.session = Some(session.to_str().expect("session id").to_string());
        }
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        let messages = sse_messages(&body);
        HttpAnswer {
            status,
            messages,
            body,
        }
    }

    fn stderr_tail(&self) -> String {
        let lines = self
            .server
            .stderr
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let start = lines.len().saturating_sub(30);
        lines[start..].join("\n")
    }

    async fn ping(&mut self) {
        self.next_id += 1;
        let id = json!(self.next_id);
        let answer = self.post_raw(request(&id, "ping", &json!({}))).await;
        assert!(
            answer.status == 200
                && answer
                    .messages
                    .iter()
                    .any(|m| m["id"] == id && m["result"].is_object()),
            "ping: {} {}; stderr:\n{}",
            answer.status,
            answer.body,
            self.stderr_tail()
        );
    }

    async fn call(&mut self, method: &str, params: &Value) -> Value {
        self.next_id += 1;
        let id = json!(self.next_id);
        let answer = self.post_raw(request(&id, method, params)).await;
        answer
            .messages
            .into_iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("{method}: {} {}", answer.status, answer.body))
    }
}

fn check_http(answer: &HttpAnswer, case: &Case) -> Option<String> {
    let answered = |error_only: bool| {
        answer.status == 200
            && case.id.as_ref().is_some_and(|id| {
                answer.messages.iter().any(|m| {
                    if error_only {
                        is_error_with_id(m, id)
                    } else {
                        m.get("id") == Some(id)
                    }
                })
            })
    };
    // 400 whose body is the JSON-RPC error: the case's id, or null.
    let refused = answer.status == 400
        && answer.messages.len() == 1
        && has_code(&answer.messages[0], case)
        && match &case.id {
            Some(id) => is_error_with_id(&answer.messages[0], id),
            None => is_null_id_error(&answer.messages[0]),
        };
    let ok = match case.http.as_str() {
        "reply" => answered(false),
        "error" => answered(true),
        "refused" => refused,
        "accepted" => answer.status == 202 && answer.messages.is_empty(),
        other => return Some(format!("{}: unknown expectation {other}", case.name)),
    };
    (!ok).then(|| {
        format!(
            "{}: expected {}, got {} {:?}",
            case.name,
            case.http,
            answer.status,
            &answer.body[..answer.body.len().min(300)]
        )
    })
}

async fn run_corpus_http(name: &str, args: &[&str]) {
    let mut server = RawHttp::start(name, args).await;
    let mut failures = Vec::new();
    for case in corpus() {
        let answer = server.post_raw(case.bytes.clone()).await;
        if let Some(failure) = check_http(&answer, &case) {
            failures.push(failure);
        }
        server.ping().await;
    }
    assert_rss_bounded(server.pid(), "the corpus");
    assert!(
        failures.is_empty(),
        "{name} over HTTP:\n{}",
        failures.join("\n")
    );
}

async fn run_generated_http(name: &str, args: &[&str]) {
    let mut server = RawHttp::start(name, args).await;
    let pid = server.pid();

    // A 20 MiB body is refused with 413 (the cap is 16 MiB), before the
    // body is read.
    let status = post_oversized(&server.server.url, server.session.as_deref()).await;
    assert_eq!(status, 413);
    server.ping().await;
    assert_rss_bounded(pid, "a 20 MiB body");

    // 10,000-deep nesting.
    for body in [deeply_nested_ping(2, DEEP_NESTING), {
        let mut bare = vec![b'['; DEEP_NESTING];
        bare.extend(vec![b']'; DEEP_NESTING]);
        bare
    }] {
        let answer = server.post_raw(body).await;
        assert!(
            (400..500).contains(&answer.status),
            "{} {}",
            answer.status,
            answer.body
        );
        server.ping().await;
    }

    // A 1 MiB string id is echoed back.
    let huge_id = json!("i".repeat(HUGE_STRING_BYTES));
    let answer = server.post_raw(request(&huge_id, "ping", &json!({}))).await;
    assert!(
        answer.messages.iter().any(|m| m["id"] == huge_id),
        "{}",
        answer.status
    );

    // Duplicate ids in flight, in one session: every POST gets an answer.
    let duplicate = json!(77);
    let body = request(&duplicate, "tools/list", &json!({}));
    let posts: Vec<_> = (0..8)
        .map(|_| {
            let builder = server
                .client
                .post(&server.server.url)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json, text/event-stream")
                .header("MCP-Protocol-Version", PROTOCOL_VERSION)
                .header("Mcp-Session-Id", server.session.clone().unwrap_or_default())
                .body(body.clone());
            async move {
                let response = builder.send().await.expect("duplicate POST answered");
                let status = response.status().as_u16();
                (status, response.text().await.unwrap_or_default())
            }
        })
        .collect();
    // Every POST is answered: the list, or 400 with its own -32600 for
    // repeating an id in flight in the session. At least one lists.
    let mut listed = 0;
    for (status, body) in futures_join_all(posts).await {
        let messages = sse_messages(&body);
        if status == 200 {
            assert!(
                messages
                    .iter()
                    .any(|m| m["id"] == duplicate && m["result"]["tools"].is_array()),
                "{body}"
            );
            listed += 1;
        } else {
            assert_eq!(status, 400, "{body}");
            assert!(
                messages.len() == 1 && is_duplicate_refusal(&messages[0], &duplicate),
                "{body}"
            );
        }
    }
    assert!(listed >= 1, "no copy was answered");
    server.ping().await;

    // Without a session, and with a made-up one: refused, not served.
    let saved = server.session.take();
    let answer = server
        .post_raw(request(&json!(5), "tools/list", &json!({})))
        .await;
    assert!(
        (400..500).contains(&answer.status),
        "{} {}",
        answer.status,
        answer.body
    );
    server.session = Some("00000000-0000-0000-0000-000000000000".into());
    let answer = server
        .post_raw(request(&json!(6), "tools/list", &json!({})))
        .await;
    assert!(
        (400..500).contains(&answer.status),
        "{} {}",
        answer.status,
        answer.body
    );
    server.session = saved;
    server.ping().await;
    assert_rss_bounded(pid, "the generated cases");
}

/// POST a 20 MiB body the way curl does (`Expect: 100-continue`) over a raw
/// socket: a server that refuses on Content-Length answers before the body
/// is sent, so the status is read without racing a connection reset.
async fn post_oversized(url: &str, session: Option<&str>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("authority");
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connect");
    let session = session.map_or_else(String::new, |id| format!("Mcp-Session-Id: {id}\r\n"));
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: {PROTOCOL_VERSION}\r\n\
         {session}Content-Length: {OVERSIZED_BYTES}\r\nExpect: 100-continue\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    let mut response = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        let read = tokio::time::timeout(ANSWER_LIMIT, stream.read(&mut chunk))
            .await
            .expect("an answer to the oversized POST")
            .unwrap_or(0);
        if read == 0 {
            break;
        }
        response.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&response).to_string();
        if text.starts_with("HTTP/1.1 100") && text.contains("\r\n\r\n") {
            // The server wants the body: send it, then read the verdict.
            response.clear();
            let body = padded_ping(1, OVERSIZED_BYTES - 64);
            let _ = stream
                .write_all(&body[..OVERSIZED_BYTES.min(body.len())])
                .await;
            continue;
        }
        if text.contains("\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"))
}

/// Join futures without a dependency on the futures crate.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: Vec<F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.expect("task"));
    }
    outputs
}

async fn run_arguments_http(name: &str, args: &[&str]) {
    let mut server = RawHttp::start(name, args).await;
    let tools = server.call("tools/list", &json!({})).await["result"]["tools"]
        .as_array()
        .cloned()
        .expect("tools");
    let mut failures = Vec::new();
    for (tool, arguments, must_fail) in hostile_arguments(&tools) {
        let answer = server
            .call(
                "tools/call",
                &json!({ "name": tool, "arguments": arguments }),
            )
            .await;
        let id = answer["id"].clone();
        if !tool_answer_ok(&answer, &id, must_fail) {
            failures.push(format!(
                "{tool} {} -> {}",
                short(&arguments),
                short(&answer)
            ));
        }
    }
    server.ping().await;
    assert_rss_bounded(server.pid(), "hostile arguments");
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
}

// ----------------------------------------------------------------- tests

/// moat-fs on stdio: every corpus case is answered correctly or ignored
/// where JSON-RPC says so, and the server keeps serving.
#[test]
fn fs_stdio_corpus() {
    let tree = Tree::new();
    run_corpus_stdio("moat-fs", &[&tree.root_arg()]);
}

/// moat-scrape on stdio: the same corpus.
#[test]
fn scrape_stdio_corpus() {
    run_corpus_stdio("moat-scrape", &[]);
}

/// moat-fs on stdio: a 20 MiB line, 10,000-deep nesting, a 1 MiB id,
/// duplicate ids in flight and a garbage burst leave it serving, RSS bounded.
#[test]
fn fs_stdio_generated() {
    let tree = Tree::new();
    run_generated_stdio("moat-fs", &[&tree.root_arg()]);
}

/// moat-scrape on stdio: the same generated cases.
#[test]
fn scrape_stdio_generated() {
    run_generated_stdio("moat-scrape", &[]);
}

/// Requests before initialize get errors carrying their ids; initialize
/// still works afterwards (both servers).
#[test]
fn stdio_calls_before_initialize() {
    let tree = Tree::new();
    run_before_initialize_stdio("moat-fs", &[&tree.root_arg()]);
    run_before_initialize_stdio("moat-scrape", &[]);
}

/// moat-fs on stdio: every argument of every tool given every wrong type,
/// and a huge string in every string argument: an error each time.
#[test]
fn fs_stdio_arguments() {
    let tree = Tree::new();
    run_arguments_stdio("moat-fs", &[&tree.root_arg()]);
}

/// moat-scrape on stdio: the same for its tools (no provider, no network).
#[test]
fn scrape_stdio_arguments() {
    run_arguments_stdio("moat-scrape", &[]);
}

/// moat-fs over HTTP: the corpus as POST bodies.
#[tokio::test(flavor = "multi_thread")]
async fn fs_http_corpus() {
    let tree = Tree::new();
    run_corpus_http("moat-fs", &[&tree.root_arg()]).await;
}

/// moat-scrape over HTTP: the corpus as POST bodies.
#[tokio::test(flavor = "multi_thread")]
async fn scrape_http_corpus() {
    run_corpus_http("moat-scrape", &[]).await;
}

/// moat-fs over HTTP: 413 for 20 MiB, deep nesting, huge id, duplicate ids
/// in flight, missing and made-up sessions.
#[tokio::test(flavor = "multi_thread")]
async fn fs_http_generated() {
    let tree = Tree::new();
    run_generated_http("moat-fs", &[&tree.root_arg()]).await;
}

/// moat-scrape over HTTP: the same generated cases.
#[tokio::test(flavor = "multi_thread")]
async fn scrape_http_generated() {
    run_generated_http("moat-scrape", &[]).await;
}

/// moat-fs over HTTP: every wrong argument type and huge strings.
#[tokio::test(flavor = "multi_thread")]
async fn fs_http_arguments() {
    let tree = Tree::new();
    run_arguments_http("moat-fs", &[&tree.root_arg()]).await;
}

/// moat-scrape over HTTP: every wrong argument type and huge strings.
#[tokio::test(flavor = "multi_thread")]
async fn scrape_http_arguments() {
    run_arguments_http("moat-scrape", &[]).await;
}

/// Regression: a notification before the first request used to end the
/// stdio server (rmcp expects `initialize` first and gave up); it is now
/// dropped, and the initialize that follows is answered.
#[test]
fn notification_before_initialize_keeps_the_server() {
    let tree = Tree::new();
    for (name, args) in [
        ("moat-fs", vec![tree.root_arg()]),
        ("moat-scrape", Vec::new()),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut server = RawStdio::spawn(name, &args);
        server.send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        server.send(
            br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}"#,
        );
        server.send(&request(&json!(1), "initialize", &initialize_params()));
        let (answer, _) = server.answer(&json!(1));
        assert!(
            answer["result"]["protocolVersion"].is_string(),
            "{name}: {answer}"
        );
        server.send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        server.ping();
    }
}
