//! The fixture handler: every tool, resource, prompt and completion the
//! conformance suite's server scenarios call by name, with the payloads its
//! checks expect (`@modelcontextprotocol/conformance`,
//! `src/scenarios/server/*.ts`, reference fixture
//! `examples/servers/typescript/everything-server.ts`).
//!
//! Era-specific fixtures: the 2025-11-25 ones ask the client for sampling
//! and elicitation through server-to-client requests; the 2026-07-28 ones
//! (SEP-2322 multi round-trip requests) answer with an
//! `InputRequiredResult` instead and read the client's answers from the
//! retried request. Both sets are listed in both eras: the suite only calls
//! each in its own.
//!
//! # Must never
//! - hand-write JSON-RPC: everything goes through rmcp's handler trait and
//!   model types, so the suite measures rmcp behind moat's runtime;
//! - trust an echoed `requestState` it did not issue (the tampered-state
//!   scenario checks exactly that).

// Logging, sampling, roots and resources/subscribe are deprecated in rmcp
// (SEP-2577) but are exactly what the 2025-11-25 scenarios exercise.
#![expect(
    deprecated,
    reason = "the 2025-11-25 fixtures use the deprecated features"
)]

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        AudioContent, CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities,
        ClientResult, CompleteRequestParams, CompleteResult, CompletionInfo, ContentBlock,
        CreateMessageRequest, CreateMessageRequestParams, ElicitRequest, ElicitRequestParams,
        ElicitationAction, ElicitationSchema, GetPromptRequestParams, GetPromptResponse,
        GetPromptResult, ImageContent, Implementation, InputRequest, InputRequests,
        InputRequiredResult, JsonObject, ListPromptsResult, ListResourceTemplatesResult,
        ListResourcesResult, ListRootsRequest, ListToolsResult, LoggingLevel,
        LoggingMessageNotificationParam, PaginatedRequestParams, ProgressNotificationParam, Prompt,
        PromptArgument, PromptListChangedNotification, PromptMessage, ReadResourceRequestParams,
        ReadResourceResponse, ReadResourceResult, Reference, Resource, ResourceContents,
        ResourceTemplate, Role, SamplingCapability, SamplingMessage, ServerCapabilities,
        ServerConfig, ServerNotification, ServerRequest, SetLevelRequestParams,
        SubscribeRequestParams, SubscriptionFilter, Tool, ToolListChangedNotification,
        UnsubscribeRequestParams,
    },
    service::{RequestContext, SubscriptionContext},
};
use serde_json::{Value, json};
use tokio::sync::broadcast;

/// A 1x1 red PNG, base64 (the suite only checks the type and MIME type).
const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

/// A 44-byte WAV header with no samples, base64.
const WAV_BASE64: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEARKwAAIhYAQACABAAZGF0YQAAAAA=";

/// Pause between the logging and progress notifications: the scenarios
/// describe "~50 ms" so a client sees them arrive during the call.
const NOTIFICATION_GAP: Duration = Duration::from_millis(50);

/// How many list-changed events a slow subscriber may lag behind before it
/// misses some (it then only misses notifications, never blocks a call).
const CHANGE_BACKLOG: usize = 16;

/// Which list a `test_trigger_*_change` tool changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The tool list.
    Tools,
    /// The prompt list.
    Prompts,
}

/// State shared by every session and every stateless request.
#[derive(Debug)]
pub struct Shared {
    /// `requestState` values this process issued and has not seen back.
    issued_states: Mutex<HashSet<String>>,
    /// List changes, fanned out to every `subscriptions/listen` stream.
    changes: broadcast::Sender<Change>,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            issued_states: Mutex::default(),
            changes: broadcast::channel(CHANGE_BACKLOG).0,
        }
    }
}

impl Shared {
    /// A fresh opaque `requestState` bound to `purpose`, remembered so a
    /// tampered echo can be told apart.
    fn issue_state(&self, purpose: &str) -> String {
        let state = format!("{purpose}:{}", uuid_like());
        self.issued_states
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(state.clone());
        state
    }

    /// True when `state` was issued by this process for `purpose`.
    fn verify_state(&self, state: &str, purpose: &str) -> bool {
        state
            .split_once(':')
            .is_some_and(|(kind, _)| kind == purpose)
            && self
                .issued_states
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(state)
    }
}

/// 128 random-enough bits from the standard library's hasher seed (the
/// fixture needs unguessable-by-accident values, not cryptography: the
/// state is checked against the issued set, not against a key).
fn uuid_like() -> String {
    use std::hash::{BuildHasher, RandomState};
    let high = RandomState::new().hash_one(std::time::SystemTime::now());
    let low = RandomState::new().hash_one(high);
    format!("{high:016x}{low:016x}")
}

/// One session's handler (stateless requests each get a fresh one).
#[derive(Debug, Clone)]
pub struct Fixture {
    shared: Arc<Shared>,
    /// The level `logging/setLevel` chose for this session.
    log_level: Arc<Mutex<LoggingLevel>>,
    /// URIs this session subscribed to.
    subscriptions: Arc<Mutex<HashSet<String>>>,
}

impl Fixture {
    /// A handler over the process-wide state.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            log_level: Arc::new(Mutex::new(LoggingLevel::Debug)),
            subscriptions: Arc::default(),
        }
    }
}

/// A JSON object literal as rmcp's `JsonObject`.
fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

/// The schema of a tool without arguments.
fn no_arguments() -> JsonObject {
    object(json!({ "type": "object", "properties": {} }))
}

/// Every tool, in a fixed order (tools-list wants a deterministic one).
fn tools() -> Vec<Tool> {
    let plain = [
        ("test_simple_text", "Returns simple text content"),
        ("test_image_content", "Returns image content"),
        ("test_audio_content", "Returns audio content"),
        (
            "test_embedded_resource",
            "Returns embedded resource content",
        ),
        (
            "test_multiple_content_types",
            "Returns text, image and resource content",
        ),
        (
            "test_tool_with_logging",
            "Sends three log notifications while it runs",
        ),
        ("test_error_handling", "Always returns a tool error"),
        (
            "test_tool_with_progress",
            "Reports progress 0, 50 and 100 of 100",
        ),
        (
            "test_elicitation_sep1034_defaults",
            "Elicits a form whose fields all have defaults (SEP-1034)",
        ),
        (
            "test_elicitation_sep1330_enums",
            "Elicits a form with every enum variant (SEP-1330)",
        ),
        (
            "test_missing_capability",
            "Needs the client's sampling capability",
        ),
        (
            "test_streaming_elicitation",
            "Asks for input through an InputRequiredResult",
        ),
        (
            "test_logging_tool",
            "Logs only when the request asked for a log level",
        ),
        (
            "test_trigger_tool_change",
            "Announces a tool list change to listen streams",
        ),
        (
            "test_trigger_prompt_change",
            "Announces a prompt list change to listen streams",
        ),
        (
            "test_input_required_result_elicitation",
            "Asks for a name (SEP-2322)",
        ),
        (
            "test_input_required_result_sampling",
            "Asks for a sampled answer (SEP-2322)",
        ),
        (
            "test_input_required_result_list_roots",
            "Asks for the client's roots (SEP-2322)",
        ),
        (
            "test_input_required_result_request_state",
            "Round-trips a requestState (SEP-2322)",
        ),
        (
            "test_input_required_result_multiple_inputs",
            "Asks for three inputs at once (SEP-2322)",
        ),
        (
            "test_input_required_result_multi_round",
            "Asks in two rounds (SEP-2322)",
        ),
        (
            "test_input_required_result_tampered_state",
            "Refuses a tampered requestState (SEP-2322)",
        ),
        (
            "test_input_required_result_capabilities",
            "Asks only for declared capabilities (SEP-2322)",
        ),
    ];
    let mut tools: Vec<Tool> = plain
        .into_iter()
        .map(|(name, description)| Tool::new(name, description, no_arguments()))
        .collect();
    tools.push(Tool::new(
        "test_sampling",
        "Asks the client to sample an answer to a prompt",
        object(json!({
            "type": "object",
            "properties": { "prompt": { "type": "string", "description": "The prompt to send" } },
            "required": ["prompt"]
        })),
    ));
    tools.push(Tool::new(
        "test_elicitation",
        "Asks the user for a username and an email",
        object(json!({
            "type": "object",
            "properties": { "message": { "type": "string", "description": "The message to show" } },
            "required": ["message"]
        })),
    ));
    tools.push(Tool::new(
        "json_schema_2020_12_tool",
        "Takes arguments described with JSON Schema 2020-12 keywords",
        object(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {
                "address": {
                    "$anchor": "address",
                    "type": "object",
                    "properties": { "street": { "type": "string" }, "city": { "type": "string" } }
                }
            },
            "properties": {
                "name": { "type": "string" },
                "address": { "$ref": "#/$defs/address" },
                "contact": {
                    "anyOf": [
                        { "type": "string", "format": "email" },
                        { "type": "string", "pattern": "^\\+?[0-9]+$" }
                    ]
                },
                "kind": { "type": "string", "enum": ["person", "company"] },
                "details": { "allOf": [{ "type": "object" }, { "properties": { "note": { "type": "string" } } }] }
            },
            "allOf": [{ "anyOf": [{ "required": ["name"] }, { "required": ["address"] }] }],
            "if": { "properties": { "kind": { "const": "company" } } },
            "then": { "required": ["address"] },
            "else": { "required": ["name"] },
            "additionalProperties": false
        })),
    ));
    tools
}

/// A successful result of one text block.
fn text_result(text: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(text)])
}

/// A form elicitation request with `message` and a JSON schema.
fn elicit(message: &str, schema: Value) -> Result<ElicitRequestParams, ErrorData> {
    let requested_schema: ElicitationSchema = serde_json::from_value(schema)
        .map_err(|error| ErrorData::internal_error(format!("fixture schema: {error}"), None))?;
    Ok(ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: message.into(),
        requested_schema,
    })
}

/// The schema asking for one string field `field`.
fn one_string(field: &str) -> Value {
    json!({
        "type": "object",
        "properties": { field: { "type": "string" } },
        "required": [field]
    })
}

/// An MRTR elicitation input request.
fn elicitation_input(message: &str, schema: Value) -> Result<InputRequest, ErrorData> {
    Ok(InputRequest::Elicitation(ElicitRequest::new(elicit(
        message, schema,
    )?)))
}

/// An MRTR sampling input request.
fn sampling_input(prompt: &str, max_tokens: u32) -> InputRequest {
    InputRequest::CreateMessage(CreateMessageRequest::new(CreateMessageRequestParams::new(
        vec![SamplingMessage::user_text(prompt)],
        max_tokens,
    )))
}

/// An MRTR roots input request.
fn roots_input() -> InputRequest {
    InputRequest::ListRoots(ListRootsRequest::default())
}

/// An `InputRequiredResult` of the given named requests.
fn input_required(
    requests: impl IntoIterator<Item = (&'static str, InputRequest)>,
    state: Option<String>,
) -> InputRequiredResult {
    let requests: InputRequests = requests
        .into_iter()
        .map(|(key, request)| (key.to_string(), request))
        .collect();
    InputRequiredResult::new(Some(requests), state)
}

/// The client's answer to input request `key`, when it sent one.
fn response<'a>(request: &'a CallToolRequestParams, key: &str) -> Option<&'a Value> {
    request.input_responses.as_ref()?.get(key)
}

/// True when `value` looks like an elicitation result (an `action`).
fn is_elicit_result(value: &Value) -> bool {
    value
        .get("action")
        .and_then(Value::as_str)
        .is_some_and(|action| matches!(action, "accept" | "decline" | "cancel"))
}

impl Fixture {
    /// The 2025-11-25 tools and the 2026-07-28 diagnostic tools.
    async fn call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let result = match request.name.as_ref() {
            "test_simple_text" => text_result("This is a simple text response for testing."),
            "test_image_content" => {
                CallToolResult::success(vec![ContentBlock::image(PNG_BASE64, "image/png")])
            }
            "test_audio_content" => CallToolResult::success(vec![ContentBlock::Audio(
                AudioContent::new(WAV_BASE64, "audio/wav"),
            )]),
            "test_embedded_resource" => CallToolResult::success(vec![ContentBlock::resource(
                ResourceContents::TextResourceContents {
                    uri: "test://embedded-resource".into(),
                    mime_type: Some("text/plain".into()),
                    text: "This is an embedded resource content.".into(),
                    meta: None,
                },
            )]),
            "test_multiple_content_types" => CallToolResult::success(vec![
                ContentBlock::text("Multiple content types test:"),
                ContentBlock::image(PNG_BASE64, "image/png"),
                ContentBlock::resource(ResourceContents::TextResourceContents {
                    uri: "test://mixed-content-resource".into(),
                    mime_type: Some("application/json".into()),
                    text: r#"{"test":"data","value":123}"#.into(),
                    meta: None,
                }),
            ]),
            "test_tool_with_logging" | "test_logging_tool" => {
                self.log_three(&context).await;
                text_result("Logging test completed")
            }
            "test_error_handling" => CallToolResult::error(vec![ContentBlock::text(
                "This tool intentionally returns an error for testing",
            )]),
            "test_tool_with_progress" => {
                let token = context.meta.get_progress_token();
                for progress in [0.0, 50.0, 100.0] {
                    if let Some(token) = &token {
                        let _ = context
                            .peer
                            .notify_progress(
                                ProgressNotificationParam::new(token.clone(), progress)
                                    .with_total(100.0),
                            )
                            .await;
                    }
                    if progress < 100.0 {
                        tokio::time::sleep(NOTIFICATION_GAP).await;
                    }
                }
                text_result("Progress test completed")
            }
            "test_sampling" => {
                let prompt = request
                    .arguments
                    .as_ref()
                    .and_then(|arguments| arguments.get("prompt"))
                    .and_then(Value::as_str)
                    .unwrap_or("Hello");
                sampling(&context, prompt).await
            }
            "test_elicitation" => {
                let message = request
                    .arguments
                    .as_ref()
                    .and_then(|arguments| arguments.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("Please provide your information");
                let params = elicit(
                    message,
                    json!({
                        "type": "object",
                        "properties": {
                            "username": { "type": "string", "description": "User's response" },
                            "email": { "type": "string", "description": "User's email address" }
                        },
                        "required": ["username", "email"]
                    }),
                )?;
                elicitation(&context, params, "User response").await
            }
            "test_elicitation_sep1034_defaults" => {
                let params = elicit(
                    "Please provide values (all have defaults)",
                    json!({
                        "type": "object",
                        "properties": {
                            "name": { "type": "string", "description": "User's name", "default": "John Doe" },
                            "age": { "type": "integer", "description": "User's age", "default": 30 },
                            "score": { "type": "number", "description": "User's score", "default": 95.5 },
                            "status": {
                                "type": "string",
                                "description": "User's status",
                                "enum": ["active", "inactive", "pending"],
                                "default": "active"
                            },
                            "verified": { "type": "boolean", "description": "Whether user is verified", "default": true }
                        }
                    }),
                )?;
                elicitation(&context, params, "Elicitation completed").await
            }
            "test_elicitation_sep1330_enums" => {
                let params = elicit(
                    "Test enum schema improvements",
                    json!({
                        "type": "object",
                        "properties": {
                            "untitledSingle": { "type": "string", "enum": ["option1", "option2", "option3"] },
                            "titledSingle": {
                                "type": "string",
                                "oneOf": [
                                    { "const": "value1", "title": "First Option" },
                                    { "const": "value2", "title": "Second Option" },
                                    { "const": "value3", "title": "Third Option" }
                                ]
                            },
                            "legacyEnum": {
                                "type": "string",
                                "enum": ["opt1", "opt2", "opt3"],
                                "enumNames": ["Option One", "Option Two", "Option Three"]
                            },
                            "untitledMulti": {
                                "type": "array",
                                "items": { "type": "string", "enum": ["option1", "option2", "option3"] }
                            },
                            "titledMulti": {
                                "type": "array",
                                "items": {
                                    "anyOf": [
                                        { "const": "value1", "title": "First Choice" },
                                        { "const": "value2", "title": "Second Choice" },
                                        { "const": "value3", "title": "Third Choice" }
                                    ]
                                }
                            }
                        }
                    }),
                )?;
                elicitation(&context, params, "Elicitation completed").await
            }
            "json_schema_2020_12_tool" => {
                let name = request
                    .arguments
                    .as_ref()
                    .and_then(|arguments| arguments.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("world");
                text_result(format!("Hello, {name}!"))
            }
            "test_missing_capability" => {
                let declared = context.client_capabilities().unwrap_or_default();
                if declared.sampling.is_none() {
                    let mut required = ClientCapabilities::default();
                    required.sampling = Some(SamplingCapability::default());
                    return Err(ErrorData::missing_required_client_capability(required));
                }
                text_result("The client declared sampling")
            }
            "test_trigger_tool_change" => {
                let _ = self.shared.changes.send(Change::Tools);
                text_result("Tool list changed")
            }
            "test_trigger_prompt_change" => {
                let _ = self.shared.changes.send(Change::Prompts);
                text_result("Prompt list changed")
            }
            name if name.starts_with("test_input_required_result_")
                || name == "test_streaming_elicitation" =>
            {
                return self.input_required_tool(&request, &context);
            }
            other => {
                return Err(ErrorData::invalid_params(
                    format!("Unknown tool: {other}"),
                    Some(json!({ "name": other })),
                ));
            }
        };
        Ok(result.into())
    }

    /// Three info log notifications, ~50 ms apart, when the session's (or
    /// the request's) level lets info through. A 2026-07-28 request that
    /// set no `logLevel` gets none (SEP-2575).
    async fn log_three(&self, context: &RequestContext<RoleServer>) {
        let threshold = if is_stateless(context) {
            context.meta.log_level()
        } else {
            Some(
                *self
                    .log_level
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            )
        };
        let enabled =
            threshold.is_some_and(|level| severity(level) <= severity(LoggingLevel::Info));
        for (index, message) in [
            "Tool execution started",
            "Tool processing data",
            "Tool execution completed",
        ]
        .into_iter()
        .enumerate()
        {
            if index > 0 {
                tokio::time::sleep(NOTIFICATION_GAP).await;
            }
            if enabled {
                let _ = context
                    .peer
                    .notify_logging_message(
                        LoggingMessageNotificationParam::new(LoggingLevel::Info, json!(message))
                            .with_logger("moat-conformance-fixture"),
                    )
                    .await;
            }
        }
    }

    /// The SEP-2322 tools: round one asks, the retry answers.
    fn input_required_tool(
        &self,
        request: &CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name_question = || elicitation_input("What is your name?", one_string("name"));
        let state = request.request_state.as_deref();
        let result: CallToolResult = match request.name.as_ref() {
            "test_input_required_result_elicitation" | "test_streaming_elicitation" => {
                match response(request, "user_name") {
                    Some(answer) if is_elicit_result(answer) => {
                        let name = answer["content"]["name"].as_str().unwrap_or("stranger");
                        text_result(format!("Hello, {name}!"))
                    }
                    Some(_) => {
                        return Err(ErrorData::invalid_params(
                            "inputResponses.user_name is not an elicitation result",
                            None,
                        ));
                    }
                    None => {
                        return Ok(input_required([("user_name", name_question()?)], None).into());
                    }
                }
            }
            "test_input_required_result_sampling" => match response(request, "capital_question") {
                Some(answer) => {
                    let text = answer["content"]["text"].as_str().unwrap_or("");
                    text_result(format!("LLM response: {text}"))
                }
                None => {
                    return Ok(input_required(
                        [(
                            "capital_question",
                            sampling_input("What is the capital of France?", 100),
                        )],
                        None,
                    )
                    .into());
                }
            },
            "test_input_required_result_list_roots" => match response(request, "client_roots") {
                Some(answer) => {
                    let uris: Vec<&str> = answer["roots"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|root| root["uri"].as_str())
                        .collect();
                    text_result(format!("Client roots: {}", uris.join(", ")))
                }
                None => return Ok(input_required([("client_roots", roots_input())], None).into()),
            },
            "test_input_required_result_request_state" => {
                match (response(request, "confirm"), state) {
                    (Some(_), Some(state)) if self.shared.verify_state(state, "confirm") => {
                        text_result("Confirmed: state-ok")
                    }
                    (Some(_), Some(_)) => return Err(tampered()),
                    _ => {
                        let ask = elicitation_input(
                            "Please confirm",
                            json!({
                                "type": "object",
                                "properties": { "ok": { "type": "boolean" } },
                                "required": ["ok"]
                            }),
                        )?;
                        let state = self.shared.issue_state("confirm");
                        return Ok(input_required([("confirm", ask)], Some(state)).into());
                    }
                }
            }
            "test_input_required_result_multiple_inputs" => {
                let keys = ["user_name", "greeting", "client_roots"];
                let all = keys.iter().all(|key| response(request, key).is_some());
                match state {
                    Some(state) if all && self.shared.verify_state(state, "multiple") => {
                        text_result("Received all three inputs")
                    }
                    Some(state) if all && !self.shared.verify_state(state, "multiple") => {
                        return Err(tampered());
                    }
                    _ => {
                        let state = self.shared.issue_state("multiple");
                        return Ok(input_required(
                            [
                                ("user_name", name_question()?),
                                ("greeting", sampling_input("Generate a greeting", 50)),
                                ("client_roots", roots_input()),
                            ],
                            Some(state),
                        )
                        .into());
                    }
                }
            }
            "test_input_required_result_multi_round" => {
                let round_two =
                    state.is_some_and(|state| self.shared.verify_state(state, "round2"));
                let round_one =
                    state.is_some_and(|state| self.shared.verify_state(state, "round1"));
                if round_two && response(request, "step2").is_some() {
                    let color = response(request, "step2")
                        .and_then(|answer| answer["content"]["color"].as_str())
                        .unwrap_or("unknown");
                    text_result(format!("Both steps done; favorite color {color}"))
                } else if round_one && response(request, "step1").is_some() {
                    let ask = elicitation_input(
                        "Step 2: What is your favorite color?",
                        one_string("color"),
                    )?;
                    let state = self.shared.issue_state("round2");
                    return Ok(input_required([("step2", ask)], Some(state)).into());
                } else if state.is_some() && !round_one && !round_two {
                    return Err(tampered());
                } else {
                    let ask = elicitation_input("Step 1: What is your name?", one_string("name"))?;
                    let state = self.shared.issue_state("round1");
                    return Ok(input_required([("step1", ask)], Some(state)).into());
                }
            }
            "test_input_required_result_tampered_state" => match state {
                Some(state) if self.shared.verify_state(state, "sealed") => {
                    text_result("requestState verified")
                }
                Some(_) => return Err(tampered()),
                None => {
                    let state = self.shared.issue_state("sealed");
                    return Ok(
                        input_required([("user_name", name_question()?)], Some(state)).into(),
                    );
                }
            },
            "test_input_required_result_capabilities" => {
                if request.input_responses.is_some() {
                    text_result("Received the inputs the client could give")
                } else {
                    let declared = context.client_capabilities().unwrap_or_default();
                    let mut asks = Vec::new();
                    if declared.elicitation.is_some() {
                        asks.push(("user_name", name_question()?));
                    }
                    if declared.sampling.is_some() {
                        asks.push(("greeting", sampling_input("Generate a greeting", 50)));
                    }
                    if declared.roots.is_some() {
                        asks.push(("client_roots", roots_input()));
                    }
                    if asks.is_empty() {
                        text_result("The client declared no input capability")
                    } else {
                        return Ok(input_required(asks, None).into());
                    }
                }
            }
            other => {
                return Err(ErrorData::invalid_params(
                    format!("Unknown tool: {other}"),
                    Some(json!({ "name": other })),
                ));
            }
        };
        Ok(result.into())
    }
}

/// True for a 2026-07-28 request: it carries its protocol version in
/// `_meta` (SEP-2575); handshake-era requests never do.
fn is_stateless(context: &RequestContext<RoleServer>) -> bool {
    context.meta.protocol_version().is_some()
}

/// A log level's rank, debug lowest (RFC 5424 order, as the spec lists).
fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// The error for a `requestState` this process did not issue.
fn tampered() -> ErrorData {
    ErrorData::invalid_params("requestState failed its integrity check", None)
}

/// Ask the client to sample (2025-11-25 server-to-client request).
async fn sampling(context: &RequestContext<RoleServer>, prompt: &str) -> CallToolResult {
    let params = CreateMessageRequestParams::new(vec![SamplingMessage::user_text(prompt)], 100);
    match context.peer.create_message(params).await {
        Ok(result) => {
            let text = result
                .message
                .content
                .first()
                .and_then(|content| content.as_text())
                .map_or_else(|| "no text".to_string(), |text| text.text.clone());
            text_result(format!("LLM response: {text}"))
        }
        Err(error) => {
            CallToolResult::error(vec![ContentBlock::text(format!("Sampling error: {error}"))])
        }
    }
}

/// Ask the user through the client (2025-11-25 server-to-client request).
async fn elicitation(
    context: &RequestContext<RoleServer>,
    params: ElicitRequestParams,
    label: &str,
) -> CallToolResult {
    // `Peer::create_elicitation` sits behind rmcp's `elicitation` feature;
    // the generic request path needs no extra feature for the workspace.
    let answer = context
        .peer
        .send_request(ServerRequest::ElicitRequest(ElicitRequest::new(params)))
        .await;
    match answer {
        Ok(ClientResult::ElicitResult(result)) => {
            let action = match result.action {
                ElicitationAction::Accept => "accept",
                ElicitationAction::Decline => "decline",
                _ => "cancel",
            };
            let answer = result.content.unwrap_or(Value::Null);
            text_result(format!("{label}: action={action}, content={answer}"))
        }
        Ok(_) => CallToolResult::error(vec![ContentBlock::text(
            "Elicitation error: the client answered with another result type",
        )]),
        Err(error) => CallToolResult::error(vec![ContentBlock::text(format!(
            "Elicitation error: {error}"
        ))]),
    }
}

/// The fixed prompts.
fn prompts() -> Vec<Prompt> {
    vec![
        Prompt::new(
            "test_simple_prompt",
            Some("A simple prompt without arguments"),
            None,
        ),
        Prompt::new(
            "test_prompt_with_arguments",
            Some("A prompt with two required arguments"),
            Some(vec![
                PromptArgument::new("arg1")
                    .with_description("First test argument")
                    .with_required(true),
                PromptArgument::new("arg2")
                    .with_description("Second test argument")
                    .with_required(true),
            ]),
        ),
        Prompt::new(
            "test_prompt_with_embedded_resource",
            Some("A prompt that embeds a resource"),
            Some(vec![
                PromptArgument::new("resourceUri")
                    .with_description("URI of the resource to embed")
                    .with_required(true),
            ]),
        ),
        Prompt::new(
            "test_prompt_with_image",
            Some("A prompt that includes an image"),
            None,
        ),
        Prompt::new(
            "test_input_required_result_prompt",
            Some("A prompt that asks for context first (SEP-2322)"),
            None,
        ),
    ]
}

/// The text of prompt argument `name`.
fn argument<'a>(request: &'a GetPromptRequestParams, name: &str) -> Option<&'a str> {
    request.arguments.as_ref()?.get(name)?.as_str()
}

/// A missing-argument protocol error (25-11/server/prompts: -32602).
fn missing_argument(name: &str) -> ErrorData {
    ErrorData::invalid_params(format!("missing required argument {name:?}"), None)
}

/// The contents of resource `uri`, or `None` when there is no such resource.
fn read(uri: &str) -> Option<ResourceContents> {
    let text = |mime: &str, text: String| ResourceContents::TextResourceContents {
        uri: uri.into(),
        mime_type: Some(mime.into()),
        text,
        meta: None,
    };
    match uri {
        "test://static-text" => Some(text(
            "text/plain",
            "This is the content of the static text resource.".into(),
        )),
        "test://static-binary" => Some(ResourceContents::BlobResourceContents {
            uri: uri.into(),
            mime_type: Some("image/png".into()),
            blob: PNG_BASE64.into(),
            meta: None,
        }),
        "test://watched-resource" => Some(text("text/plain", "Watched resource content.".into())),
        _ => {
            let id = uri
                .strip_prefix("test://template/")?
                .strip_suffix("/data")
                .filter(|id| !id.is_empty() && !id.contains('/'))?;
            Some(text(
                "application/json",
                json!({ "id": id, "templateTest": true, "data": format!("Data for ID: {id}") })
                    .to_string(),
            ))
        }
    }
}

impl ServerHandler for Fixture {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_prompts()
                .enable_prompts_list_changed()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_logging()
                .enable_completions()
                .build(),
        )
        .with_server_info(Implementation::new(
            "moat-conformance-fixture",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions("The MCP conformance suite's fixtures, served by moat's runtime.")
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.call(request, context).await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![
            Resource::new("test://static-text", "Static Text Resource")
                .with_description("A static text resource")
                .with_mime_type("text/plain"),
            Resource::new("test://static-binary", "Static Binary Resource")
                .with_description("A static PNG image")
                .with_mime_type("image/png"),
            Resource::new("test://watched-resource", "Watched Resource")
                .with_description("A resource clients may subscribe to")
                .with_mime_type("text/plain"),
        ]))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("test://template/{id}/data", "Dynamic Resource")
                .with_description("A JSON document for any id")
                .with_mime_type("application/json"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        // rmcp turns RESOURCE_NOT_FOUND into -32602 for 2026-07-28 peers
        // (SEP-2164) and keeps -32002 for older ones.
        match read(&request.uri) {
            Some(contents) => Ok(ReadResourceResult::new(vec![contents]).into()),
            None => Err(ErrorData::resource_not_found(
                "Resource not found",
                Some(json!({ "uri": request.uri })),
            )),
        }
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(request.uri);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(requested.clone())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let mut changes = self.shared.changes.subscribe();
        loop {
            tokio::select! {
                () = context.cancelled() => return Ok(()),
                change = changes.recv() => {
                    let notification = match change {
                        Ok(Change::Tools) => ServerNotification::ToolListChangedNotification(
                            ToolListChangedNotification::default(),
                        ),
                        Ok(Change::Prompts) => ServerNotification::PromptListChangedNotification(
                            PromptListChangedNotification::default(),
                        ),
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    };
                    // A category outside the accepted filter is refused by
                    // the sink: that is the filtering the suite checks.
                    let _ = context.sink().send(notification).await;
                }
            }
        }
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(prompts()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let result = match request.name.as_str() {
            "test_simple_prompt" => GetPromptResult::new(vec![PromptMessage::new_text(
                Role::User,
                "This is a simple prompt for testing.",
            )]),
            "test_prompt_with_arguments" => {
                let arg1 = argument(&request, "arg1").ok_or_else(|| missing_argument("arg1"))?;
                let arg2 = argument(&request, "arg2").ok_or_else(|| missing_argument("arg2"))?;
                GetPromptResult::new(vec![PromptMessage::new_text(
                    Role::User,
                    format!("Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"),
                )])
            }
            "test_prompt_with_embedded_resource" => {
                let uri = argument(&request, "resourceUri")
                    .ok_or_else(|| missing_argument("resourceUri"))?;
                GetPromptResult::new(vec![
                    PromptMessage::new(
                        Role::User,
                        ContentBlock::resource(ResourceContents::TextResourceContents {
                            uri: uri.into(),
                            mime_type: Some("text/plain".into()),
                            text: "Embedded resource content for testing.".into(),
                            meta: None,
                        }),
                    ),
                    PromptMessage::new_text(
                        Role::User,
                        "Please process the embedded resource above.",
                    ),
                ])
            }
            "test_prompt_with_image" => GetPromptResult::new(vec![
                PromptMessage::new(
                    Role::User,
                    ContentBlock::Image(ImageContent::new(PNG_BASE64, "image/png")),
                ),
                PromptMessage::new_text(Role::User, "Please analyze the image above."),
            ]),
            "test_input_required_result_prompt" => {
                let answer = request
                    .input_responses
                    .as_ref()
                    .and_then(|responses| responses.get("user_context"));
                if let Some(answer) = answer {
                    let context = answer["content"]["context"].as_str().unwrap_or("none");
                    GetPromptResult::new(vec![PromptMessage::new_text(
                        Role::User,
                        format!("Use this context: {context}"),
                    )])
                } else {
                    let ask = elicitation_input(
                        "What context should the prompt use?",
                        one_string("context"),
                    )?;
                    return Ok(input_required([("user_context", ask)], None).into());
                }
            }
            other => {
                return Err(ErrorData::invalid_params(
                    format!("Unknown prompt: {other}"),
                    Some(json!({ "name": other })),
                ));
            }
        };
        Ok(result.into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let candidates: &[&str] = match (&request.r#ref, request.argument.name.as_str()) {
            (Reference::Prompt(_), "arg1" | "arg2") => &["paris", "park", "party"],
            (Reference::Resource(_), "id") => &["1", "2", "3", "123"],
            _ => &[],
        };
        let prefix = request.argument.value.as_str();
        let values: Vec<String> = candidates
            .iter()
            .filter(|value| value.starts_with(prefix))
            .map(ToString::to_string)
            .collect();
        let info = CompletionInfo::with_all_values(values)
            .map_err(|error| ErrorData::internal_error(error, None))?;
        Ok(CompleteResult::new(info))
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        *self
            .log_level
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = request.level;
        Ok(())
    }
}
