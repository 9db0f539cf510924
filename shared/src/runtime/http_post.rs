//! The check in front of rmcp's Streamable HTTP service at `/mcp`: a POST
//! body that is not one JSON-RPC message, or a request repeating the id of
//! one still in flight in its session, gets `400 Bad Request` with a
//! JSON-RPC error body (MCP 2025-11-25 basic/transports: "The HTTP response
//! body MAY comprise a JSON-RPC error response"); a session `DELETE`
//! answers 204 instead of rmcp's 202 (the Python SDK treats anything but
//! 200 and 204 as a failed termination).
//!
//! Header errors stay rmcp's: a wrong `Content-Type` is 415, a wrong
//! `Accept` 406 (the spec's own statuses); only bodies declared as JSON
//! are read here.
//!
//! A request's answer goes back as one `application/json` body when its
//! first message is the final answer and comes within
//! [`JSON_ANSWER_WAIT`](json_or_sse::JSON_ANSWER_WAIT) (the rule is
//! [`json_or_sse`]'s; the spec lets the server pick JSON or SSE for any
//! request; the client must accept both): rmcp always opens an SSE stream,
//! whose priming event, answer and end leave as separate chunked writes,
//! each waking the client. An answer that starts with anything else (a
//! progress notification, a request to the client) or takes longer streams
//! as SSE, untouched. A request in a live session whose headers pass
//! every check of rmcp's is handed to the session's worker directly
//! ([`SessionRoute`]), skipping rmcp's second read of the body and its SSE
//! framing.
//!
//! # Must never
//! - hand rmcp a body other than the bytes it checked (less a byte order
//!   mark, which rmcp refuses);
//! - read more than the body cap (413 past it, as rmcp answers);
//! - keep a request id claimed after its answer stream is gone;
//! - turn into JSON an answer stream that carries anything besides the
//!   final answer (and rmcp's empty priming event).

use std::{future::Future, sync::Arc};

use axum::{
    Json,
    body::Body,
    extract::Request,
    http::{Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use rmcp::model::{JsonRpcMessage, RequestId};

use crate::runtime::{
    http_session::SessionRoute,
    json_or_sse::{self, First, Kind},
    jsonrpc::{self, InflightIds, Refusal},
};

/// What the check keeps across requests.
#[derive(Debug)]
pub struct PostCheck {
    /// Largest body accepted.
    max_body_bytes: usize,
    /// Requests in flight, by session id and request id; `None` when the
    /// server keeps no sessions (each stateless POST is its own rmcp
    /// service, so equal ids never meet, and a client's stray
    /// `Mcp-Session-Id` names nothing).
    inflight: Option<Arc<InflightIds<(String, RequestId)>>>,
    /// Where a live session's requests go without rmcp's HTTP layer, when
    /// the server keeps sessions.
    sessions: Option<SessionRoute>,
}

impl PostCheck {
    /// A check refusing bodies over `max_body_bytes`, and repeated ids in
    /// a session unless the server is `stateless`.
    pub fn new(max_body_bytes: usize, stateless: bool) -> Self {
        Self {
            max_body_bytes,
            inflight: (!stateless).then(Arc::default),
            sessions: None,
        }
    }

    /// The same check, answering a live session's requests through
    /// `sessions` (see [`SessionRoute`]).
    #[must_use]
    pub fn with_sessions(mut self, sessions: SessionRoute) -> Self {
        self.sessions = Some(sessions);
        self
    }
}

/// The check (see the module documentation); `next` hands the request on
/// to rmcp's service.
pub async fn check_post<F, Fut>(check: &PostCheck, request: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    if request.method() == Method::DELETE {
        let mut response = next(request).await;
        if response.status() == StatusCode::ACCEPTED {
            *response.status_mut() = StatusCode::NO_CONTENT;
        }
        return response;
    }
    if request.method() != Method::POST || !declares_json(&request) {
        return next(request).await;
    }
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Payload Too Large: request body exceeds {} bytes",
                check.max_body_bytes
            ),
        )
            .into_response()
    };
    // Refused before the body is read (and before `100 Continue`).
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > check.max_body_bytes) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    let mut chunks = body.into_data_stream();
    // A small body arrives as one chunk: it is kept as it came, and copied
    // into one buffer only when a second chunk follows.
    let mut first = axum::body::Bytes::new();
    let mut joined: Option<Vec<u8>> = None;
    while let Some(chunk) = chunks.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the request body: {error}"),
                )
                    .into_response();
            }
        };
        let read = joined.as_ref().map_or(first.len(), Vec::len);
        if read.saturating_add(chunk.len()) > check.max_body_bytes {
            return too_large();
        }
        match &mut joined {
            Some(bytes) => bytes.extend_from_slice(&chunk),
            None if first.is_empty() => first = chunk,
            None => joined = Some([&first[..], &chunk[..]].concat()),
        }
    }
    let bytes = joined.map_or(first, axum::body::Bytes::from);
    let message = match jsonrpc::check(&bytes) {
        Ok(message) => message,
        Err(refusal) => return refused(&refusal),
    };
    let session = parts
        .headers
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let is_request = matches!(message, JsonRpcMessage::Request(_));
    let claim = match (&message, session, &check.inflight) {
        (JsonRpcMessage::Request(request), Some(session), Some(inflight)) => {
            match inflight.guard((session, request.id.clone())) {
                Some(claim) => Some(claim),
                None => return refused(&Refusal::duplicate(&request.id)),
            }
        }
        _ => None,
    };
    let routed = match &check.sessions {
        Some(sessions) if claim.is_some() => sessions
            .admits(&parts.headers, &message)
            .await
            .map(|session| (sessions, session)),
        _ => None,
    };
    let answered = if let Some((sessions, session)) = routed {
        sessions.answer(&session, parts, message).await
    } else {
        // rmcp refuses a byte order mark that the check skipped.
        let skip = bytes.len() - jsonrpc::without_bom(&bytes).len();
        let body = Body::from(bytes.slice(skip..));
        let response = next(Request::from_parts(parts, body)).await;
        if is_request {
            as_json(response).await
        } else {
            Err(response)
        }
    };
    let response = match answered {
        // The answer is complete: the id is free again.
        Ok(answer) => return answer,
        Err(stream) => stream,
    };
    match claim {
        // The id stays claimed until the answer stream ends or the client
        // drops it.
        Some(claim) => response.map(|body| {
            Body::from_stream(body.into_data_stream().map(move |chunk| {
                let _held = &claim;
                chunk
            }))
        }),
        None => response,
    }
}

/// rmcp's SSE answer to a request as one JSON body (`Ok`), when its first
/// message is the final answer and comes within
/// [`JSON_ANSWER_WAIT`](json_or_sse::JSON_ANSWER_WAIT); else
/// (`Err`) the same stream, what was read of it first.
async fn as_json(response: Response) -> Result<Response, Response> {
    let is_stream = response.status() == StatusCode::OK
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"));
    if !is_stream {
        return Err(response);
    }
    let (mut parts, body) = response.into_parts();
    let first = json_or_sse::read_first(
        body.into_data_stream(),
        |frame| match frame {
            Ok(frame) => sse_frame(frame).map(|data| frame.slice(data)),
            Err(_) => Kind::Other,
        },
        std::future::pending(),
    )
    .await;
    match first {
        First::Answer(json) => {
            parts.headers.insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            parts.headers.remove(header::CACHE_CONTROL);
            parts.headers.remove("x-accel-buffering");
            Ok(Response::from_parts(parts, Body::from(json)))
        }
        First::Stream(replay) => Err(Response::from_parts(
            parts,
            Body::from_stream(replay.into_stream()),
        )),
    }
}

/// What one frame of rmcp's SSE body (one event a frame) holds: no
/// message (the priming event or a keep-alive comment) is quiet; a
/// JSON-RPC result or error is the final answer, whose JSON text is at the
/// range given; anything else, including anything this does not
/// recognise, is other (the stream then stays SSE, which is always right).
fn sse_frame(frame: &[u8]) -> Kind<std::ops::Range<usize>> {
    let Some(event) = frame.strip_suffix(b"\n\n") else {
        return Kind::Other;
    };
    // CR line ends are not rmcp's shape. Both scans are memchr's: an
    // answer's data line is the whole answer (kilobytes for a file read),
    // and a byte-at-a-time split cost more than the rest of the check.
    if memchr::memchr(b'\r', event).is_some() {
        return Kind::Other;
    }
    let mut data = None;
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', event).chain(std::iter::once(event.len())) {
        let line = &event[start..end];
        let line_start = start;
        start = end + 1;
        if line.is_empty() {
            // Two events in one frame: not rmcp's shape.
            return Kind::Other;
        }
        if let Some(value) = line.strip_prefix(b"data:") {
            if data.is_some() {
                return Kind::Other;
            }
            let skip = usize::from(value.first() == Some(&b' '));
            data = Some(line_start + 5 + skip..end);
        } else if !(line.starts_with(b":")
            || line.starts_with(b"id:")
            || line.starts_with(b"retry:"))
        {
            return Kind::Other;
        }
    }
    match data {
        None => Kind::Quiet,
        Some(range) if range.is_empty() => Kind::Quiet,
        Some(range) if is_final_answer(&frame[range.clone()]) => Kind::Answer(range),
        Some(_) => Kind::Other,
    }
}

/// Whether `json` (as rmcp writes a message: `jsonrpc`, then `id`, then
/// `result`, `error` or `method`) is a JSON-RPC result or error. Read
/// from its first bytes, so a large answer is not parsed twice; any other
/// spelling reads as "no", which keeps the answer SSE.
fn is_final_answer(json: &[u8]) -> bool {
    let Some(rest) = json.strip_prefix(br#"{"jsonrpc":"2.0","#) else {
        return false;
    };
    if rest.starts_with(br#""error":"#) {
        return true;
    }
    let Some(id) = rest.strip_prefix(br#""id":"#) else {
        return false;
    };
    let after = match id.first() {
        Some(b'"') => match id[1..].iter().position(|byte| matches!(byte, b'"' | b'\\')) {
            Some(end) if id[1 + end] == b'"' => &id[end + 2..],
            _ => return false,
        },
        Some(byte) if byte.is_ascii_digit() || *byte == b'-' => {
            let end = id
                .iter()
                .position(|byte| !(byte.is_ascii_digit() || *byte == b'-'))
                .unwrap_or(id.len());
            &id[end..]
        }
        _ => return false,
    };
    after.starts_with(br#","result":"#) || after.starts_with(br#","error":"#)
}

/// Whether the request says its body is JSON (else rmcp answers 415).
fn declares_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
}

/// `400 Bad Request` with the JSON-RPC error as the body.
pub fn refused(refusal: &Refusal) -> Response {
    tracing::debug!(reason = %refusal.message, "refused a POST body");
    (StatusCode::BAD_REQUEST, Json(refusal.to_json())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rmcp's frames as sse-stream writes them: the priming event and a
    /// keep-alive carry no message; a result or error is the final answer,
    /// with the range of its JSON; a notification or a server request is
    /// not.
    #[test]
    fn frames_are_read_as_rmcp_writes_them() {
        assert_eq!(sse_frame(b"data: \nid: 0/3\nretry: 3000\n\n"), Kind::Quiet);
        assert_eq!(sse_frame(b":\n\n"), Kind::Quiet);
        let answer = br#"data: {"jsonrpc":"2.0","id":7,"result":{}}
id: 0/3

"#;
        let Kind::Answer(range) = sse_frame(answer) else {
            panic!("not an answer");
        };
        assert_eq!(&answer[range], br#"{"jsonrpc":"2.0","id":7,"result":{}}"#);
        for other in [
            &br#"data: {"jsonrpc":"2.0","method":"notifications/progress","params":{}}
id: 0/4

"#[..],
            br#"data: {"jsonrpc":"2.0","id":0,"method":"roots/list"}

"#,
            // Two events in one frame, or no blank line at the end.
            br#"data: {"jsonrpc":"2.0","id":7,"result":{}}

data: {"jsonrpc":"2.0","id":8,"result":{}}

"#,
            br#"data: {"jsonrpc":"2.0","id":7,"result":{}}
"#,
            br#"event: message
data: {"jsonrpc":"2.0","id":7,"result":{}}

"#,
        ] {
            assert_eq!(
                sse_frame(other),
                Kind::Other,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    /// A long answer (a file read's whole text on one data line) is found
    /// whole, and a CR or an extra line anywhere in it keeps the stream SSE
    /// (the scans that find line ends cover every byte of the frame).
    #[test]
    fn long_answers_are_scanned_whole() {
        let text = "x".repeat(10_000);
        let json = format!(r#"{{"jsonrpc":"2.0","id":3,"result":{{"text":"{text}"}}}}"#);
        let frame = format!("data: {json}\nid: 1/0\n\n");
        let Kind::Answer(range) = sse_frame(frame.as_bytes()) else {
            panic!("not an answer");
        };
        assert_eq!(&frame.as_bytes()[range], json.as_bytes());
        for inserted in ["\r", "\n", "\n\n"] {
            let mut broken = json.clone();
            broken.insert_str(5_000, inserted);
            let frame = format!("data: {broken}\nid: 1/0\n\n");
            assert_eq!(sse_frame(frame.as_bytes()), Kind::Other, "{inserted:?}");
        }
    }

    /// Results and errors, with number or string ids, are final answers;
    /// requests, notifications, escaped string ids and other spellings
    /// are not (they stay SSE).
    #[test]
    fn final_answers_are_told_from_their_first_bytes() {
        for yes in [
            &br#"{"jsonrpc":"2.0","id":12,"result":{"content":[]}}"#[..],
            br#"{"jsonrpc":"2.0","id":-1,"error":{"code":-32602,"message":"x"}}"#,
            br#"{"jsonrpc":"2.0","id":"a-b","result":{}}"#,
            br#"{"jsonrpc":"2.0","error":{"code":-32700,"message":"x"}}"#,
        ] {
            assert!(is_final_answer(yes), "{}", String::from_utf8_lossy(yes));
        }
        for no in [
            &br#"{"jsonrpc":"2.0","id":3,"method":"sampling/createMessage"}"#[..],
            br#"{"jsonrpc":"2.0","method":"notifications/message","params":{}}"#,
            br#"{"jsonrpc":"2.0","id":"a\"b","result":{}}"#,
            br#"{"id":1,"jsonrpc":"2.0","result":{}}"#,
            b"",
        ] {
            assert!(!is_final_answer(no), "{}", String::from_utf8_lossy(no));
        }
    }
}
