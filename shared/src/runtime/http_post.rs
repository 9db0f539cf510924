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
//! # Must never
//! - hand rmcp a body other than the bytes it checked (less a byte order
//!   mark, which rmcp refuses);
//! - read more than the body cap (413 past it, as rmcp answers);
//! - keep a request id claimed after its answer stream is gone.

use std::sync::Arc;

use axum::{
    Json,
    body::Body,
    extract::{Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use rmcp::model::{JsonRpcMessage, RequestId};

use crate::runtime::jsonrpc::{self, InflightIds, Refusal};

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
}

impl PostCheck {
    /// A check refusing bodies over `max_body_bytes`, and repeated ids in
    /// a session unless the server is `stateless`.
    pub fn new(max_body_bytes: usize, stateless: bool) -> Self {
        Self {
            max_body_bytes,
            inflight: (!stateless).then(Arc::default),
        }
    }
}

/// The middleware (see the module documentation).
pub async fn check_post(
    State(check): State<Arc<PostCheck>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::DELETE {
        let mut response = next.run(request).await;
        if response.status() == StatusCode::ACCEPTED {
            *response.status_mut() = StatusCode::NO_CONTENT;
        }
        return response;
    }
    if request.method() != Method::POST || !declares_json(&request) {
        return next.run(request).await;
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
    let mut bytes = Vec::new();
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
        if bytes.len().saturating_add(chunk.len()) > check.max_body_bytes {
            return too_large();
        }
        bytes.extend_from_slice(&chunk);
    }
    let message = match jsonrpc::check(&bytes) {
        Ok(message) => message,
        Err(refusal) => return refused(&refusal),
    };
    let session = parts
        .headers
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let claim = match (&message, session, &check.inflight) {
        (JsonRpcMessage::Request(request), Some(session), Some(inflight)) => {
            match inflight.guard((session, request.id.clone())) {
                Some(claim) => Some(claim),
                None => return refused(&Refusal::duplicate(&request.id)),
            }
        }
        _ => None,
    };
    // rmcp refuses a byte order mark that the check skipped.
    let bytes = axum::body::Bytes::from(bytes);
    let skip = bytes.len() - jsonrpc::without_bom(&bytes).len();
    let body = Body::from(bytes.slice(skip..));
    let response = next.run(Request::from_parts(parts, body)).await;
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
