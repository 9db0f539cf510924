//! A request POSTed to a live Streamable HTTP session, handed straight to
//! that session's rmcp worker, with its answer written as one
//! `application/json` body by the same writer as on stdio ([`wire`]).
//!
//! rmcp's own POST handling reads the body a second time (its parse of a
//! request tries every request type in turn), writes the answer as an SSE
//! event with serde_json (a file read's text escaped twice), and the POST
//! check then reads that event back to send it as JSON. Here the message
//! the POST check already read goes to the same worker rmcp would give it
//! to ([`SessionManager::create_stream`]), so the call, its cancellation,
//! its progress and any request to the client (a confirmation's
//! elicitation) run exactly as through rmcp; only the HTTP framing around
//! them is moat's.
//!
//! A request is taken here only when every check rmcp's POST handling
//! makes would pass and route it to that worker: `Host` on rmcp's own list,
//! no `Origin` (rmcp's origin rules stay rmcp's), an `Accept` naming both
//! media types without parameters, a known `MCP-Protocol-Version` from
//! before per-request metadata and standard headers (2026-07-28), no
//! protocol version in `_meta`, and a session the manager holds. Anything
//! else goes to rmcp's service unchanged.
//!
//! # Must never
//! - take a request rmcp would refuse, or route other than to the session's
//!   worker: when in doubt, [`SessionRoute::admits`] says no;
//! - answer as JSON anything but a final answer first (after rmcp's empty
//!   priming event): a notification or a request to the client turns the
//!   answer into the SSE stream rmcp would have sent, from its first event;
//! - write answer bytes other than serde_json's.

use std::{convert::Infallible, pin::Pin, sync::Arc, task::Poll, time::Duration};

use axum::{
    body::Body,
    http::{HeaderMap, StatusCode, header, request::Parts, uri::Authority},
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use rmcp::{
    model::{
        ClientJsonRpcMessage, ClientRequest, GetExtensions, GetMeta, JsonRpcMessage,
        ProtocolVersion,
    },
    transport::{
        common::server_side_http::ServerSseMessage,
        streamable_http_server::{
            SessionId, SessionManager, StreamableHttpServerConfig,
            session::local::LocalSessionManager,
        },
    },
};
use sse_stream::{KeepAlive, Sse, SseBody};
use tokio_util::sync::CancellationToken;

use crate::runtime::{
    json_or_sse::{self, First, Kind},
    wire,
};

/// The header naming the session.
const SESSION_HEADER: &str = "mcp-session-id";

/// The header naming the protocol version.
const VERSION_HEADER: &str = "mcp-protocol-version";

/// Where a live session's requests go, and what rmcp's POST handling
/// would check them against.
pub struct SessionRoute {
    sessions: Arc<LocalSessionManager>,
    /// rmcp's `Host` allow-list, parsed as rmcp parses it; empty: any host.
    hosts: Vec<(String, Option<u16>)>,
    keep_alive: Option<Duration>,
    /// rmcp's shutdown token: an answer stream ends when it is cancelled.
    cancel: CancellationToken,
}

impl std::fmt::Debug for SessionRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRoute")
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

impl SessionRoute {
    /// The route to `sessions`, the manager of the rmcp service configured
    /// with `config`.
    pub fn new(sessions: Arc<LocalSessionManager>, config: &StreamableHttpServerConfig) -> Self {
        Self {
            sessions,
            hosts: config
                .allowed_hosts
                .iter()
                .filter_map(|allowed| allowed_authority(allowed))
                .collect(),
            keep_alive: config.sse_keep_alive,
            cancel: config.cancellation_token.clone(),
        }
    }

    /// The session `message` (read from a POST with `headers`) belongs to,
    /// when rmcp would pass every check and hand it to that session's
    /// worker; `None` leaves the request to rmcp.
    pub async fn admits(
        &self,
        headers: &HeaderMap,
        message: &ClientJsonRpcMessage,
    ) -> Option<SessionId> {
        let JsonRpcMessage::Request(request) = message else {
            return None;
        };
        if matches!(
            request.request,
            ClientRequest::InitializeRequest(_) | ClientRequest::DiscoverRequest(_)
        ) || headers.contains_key(header::ORIGIN)
            || !accepts_json_and_sse(headers)
            || !self.host_allowed(headers)
        {
            return None;
        }
        if let Some(version) = headers.get(VERSION_HEADER) {
            let version = version.to_str().ok()?;
            let known = ProtocolVersion::KNOWN_VERSIONS
                .iter()
                .any(|known| known.as_str() == version);
            if !known || version >= ProtocolVersion::STANDARD_HEADERS.as_str() {
                return None;
            }
        }
        let meta = request.request.get_meta();
        if meta.protocol_version().is_some()
            || meta
                .missing_required_keys(&ProtocolVersion::V_2026_07_28)
                .is_empty()
        {
            return None;
        }
        let id: SessionId = headers.get(SESSION_HEADER)?.to_str().ok()?.into();
        self.sessions.has_session(&id).await.ok()?.then_some(id)
    }

    /// Hand `message` to session `id`'s worker, as rmcp does (the request's
    /// HTTP parts in its extensions). `Ok`: the answer, complete (one JSON
    /// body, or an error); `Err`: the answer stream as SSE, still running.
    pub async fn answer(
        &self,
        id: &SessionId,
        parts: Parts,
        mut message: ClientJsonRpcMessage,
    ) -> Result<Response, Response> {
        if let JsonRpcMessage::Request(request) = &mut message {
            request.request.extensions_mut().insert(parts);
        }
        let stream = match self.sessions.create_stream(id, message).await {
            Ok(stream) => stream,
            Err(error) => {
                // As rmcp answers a session that ended since the check.
                tracing::error!("Internal server error when get session: {error}");
                return Ok((
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("Encounter an error when get session: {error}"),
                )
                    .into_response());
            }
        };
        let first = json_or_sse::read_first(
            Box::pin(stream),
            |event| match &event.message {
                None => Kind::Quiet,
                Some(answer)
                    if matches!(
                        **answer,
                        JsonRpcMessage::Response(_) | JsonRpcMessage::Error(_)
                    ) =>
                {
                    Kind::Answer(Arc::clone(answer))
                }
                Some(_) => Kind::Other,
            },
            self.cancel.cancelled(),
        )
        .await;
        match first {
            First::Answer(answer) => Ok(as_json(answer)),
            First::Stream(replay) => Err(self.as_sse(replay.into_stream())),
        }
    }

    /// Whether the `Host` header passes rmcp's check (which reads it as an
    /// authority, unlike the listener's own check).
    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| Authority::try_from(value).ok())
        else {
            return false;
        };
        let host = (normal_host(host.host()), host.port_u16());
        self.hosts.is_empty()
            || self.hosts.iter().any(|(allowed, port)| {
                *allowed == host.0 && port.is_none_or(|port| host.1 == Some(port))
            })
    }

    /// The SSE response rmcp writes for `events`: each message as compact
    /// JSON on one `data:` line, its event id and retry, keep-alive
    /// comments while idle, and the end at shutdown.
    fn as_sse(
        &self,
        events: impl futures::Stream<Item = ServerSseMessage> + Send + 'static,
    ) -> Response {
        let events = events
            .map(|event| {
                let data = event.message.as_ref().map_or_else(String::new, |message| {
                    serde_json::to_string(message.as_ref()).unwrap_or_default()
                });
                let mut sse = Sse::default().data(data);
                sse.id = event.event_id;
                sse.retry = event
                    .retry
                    .map(|retry| u64::try_from(retry.as_millis()).unwrap_or(u64::MAX));
                Ok::<_, Infallible>(sse)
            })
            .take_until(self.cancel.clone().cancelled_owned());
        let body = SseBody::new(events);
        let body = match self.keep_alive {
            Some(interval) => Body::new(
                body.with_keep_alive::<KeepAliveTimer>(KeepAlive::new().interval(interval)),
            ),
            None => Body::new(body),
        };
        (
            [
                (header::CONTENT_TYPE, "text/event-stream"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            [("x-accel-buffering", "no")],
            body,
        )
            .into_response()
    }
}

/// A final answer as one JSON body: the bytes serde_json writes, with a
/// tool result's text escaped once.
fn as_json(answer: Arc<rmcp::model::ServerJsonRpcMessage>) -> Response {
    let answer = Arc::try_unwrap(answer).unwrap_or_else(|shared| (*shared).clone());
    match wire::to_line(answer) {
        Ok(line) => {
            let mut bytes = line.into_bytes();
            bytes.pop();
            (
                [(header::CONTENT_TYPE, "application/json")],
                Body::from(bytes),
            )
                .into_response()
        }
        Err(error) => {
            tracing::error!(%error, "cannot serialise an answer");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot serialise the answer: {error}"),
            )
                .into_response()
        }
    }
}

/// Whether `Accept` names both `application/json` and `text/event-stream`,
/// read only when no value carries parameters or quotes (which rmcp
/// weighs; such a request is left to it).
fn accepts_json_and_sse(headers: &HeaderMap) -> bool {
    let mut json = false;
    let mut sse = false;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            return false;
        };
        if value.contains([';', '"']) {
            return false;
        }
        for essence in value.split(',').map(str::trim) {
            json |= essence.eq_ignore_ascii_case("application/json");
            sse |= essence.eq_ignore_ascii_case("text/event-stream");
        }
    }
    json && sse
}

/// An allow-list entry as rmcp reads it: an authority (host and port) when
/// it parses as one, else a host alone.
fn allowed_authority(allowed: &str) -> Option<(String, Option<u16>)> {
    let allowed = allowed.trim();
    if allowed.is_empty() {
        return None;
    }
    Some(match Authority::try_from(allowed) {
        Ok(authority) => (normal_host(authority.host()), authority.port_u16()),
        Err(_) => (normal_host(allowed), None),
    })
}

/// A host as rmcp compares it: brackets off, lower case.
fn normal_host(host: &str) -> String {
    host.trim_matches('[')
        .trim_matches(']')
        .to_ascii_lowercase()
}

/// The keep-alive clock of an SSE answer (a boxed tokio sleep, so it can
/// be reset through a plain `&mut`).
struct KeepAliveTimer(Pin<Box<tokio::time::Sleep>>);

impl std::future::Future for KeepAliveTimer {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, context: &mut std::task::Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(context)
    }
}

impl sse_stream::Timer for KeepAliveTimer {
    fn from_duration(duration: Duration) -> Self {
        Self(Box::pin(tokio::time::sleep(duration)))
    }

    fn reset(mut self: Pin<&mut Self>, when: std::time::Instant) {
        self.0.as_mut().reset(tokio::time::Instant::from_std(when));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, header::HeaderValue::from_static(value));
        }
        headers
    }

    /// `Accept` is read only in its plain form: both types named, no
    /// parameters or quotes (those are rmcp's to weigh).
    #[test]
    fn accept_is_read_only_when_plain() {
        assert!(accepts_json_and_sse(&headers(&[(
            "accept",
            "application/json, text/event-stream"
        )])));
        assert!(accepts_json_and_sse(&headers(&[
            ("accept", "Application/JSON"),
            ("accept", "text/event-stream"),
        ])));
        for refused in [
            "application/json",
            "application/json;q=0, text/event-stream",
            "application/json, text/event-stream;q=1",
            "\"application/json\", text/event-stream",
            "*/*",
        ] {
            assert!(
                !accepts_json_and_sse(&headers(&[("accept", refused)])),
                "{refused}"
            );
        }
    }

    /// The `Host` check is rmcp's: an entry without a port matches any
    /// port, brackets and case do not matter, and a trailing dot (which
    /// the listener's own check forgives) is not the same host.
    #[test]
    fn host_is_checked_as_rmcp_checks_it() {
        let config = StreamableHttpServerConfig::default().with_allowed_hosts([
            "localhost",
            "127.0.0.1",
            "[::1]",
            "mcp.example.com:443",
        ]);
        let route = SessionRoute::new(Arc::default(), &config);
        for good in [
            "localhost:8080",
            "LOCALHOST",
            "127.0.0.1:1",
            "[::1]:9",
            "mcp.example.com:443",
        ] {
            assert!(route.host_allowed(&headers(&[("host", good)])), "{good}");
        }
        for bad in ["localhost.", "evil.example.com", "mcp.example.com:80", ""] {
            assert!(!route.host_allowed(&headers(&[("host", bad)])), "{bad}");
        }
        assert!(!route.host_allowed(&HeaderMap::new()));
        let any = SessionRoute::new(
            Arc::default(),
            &StreamableHttpServerConfig::default().disable_allowed_hosts(),
        );
        assert!(any.host_allowed(&headers(&[("host", "anything.example")])));
    }
}
