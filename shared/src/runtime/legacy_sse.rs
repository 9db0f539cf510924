//! The legacy HTTP+SSE transport (MCP 2024-11-05 basic/transports), beside
//! `/mcp`, for clients that never moved to Streamable HTTP.
//!
//! `GET /sse` opens a session's event stream; its first event is `endpoint`,
//! whose data is the URL to POST to (`/messages?sessionId=…`). Every POST
//! carries one JSON-RPC message and gets `202 Accepted`; the answers come
//! back on the event stream as `message` events. A body that is not one
//! JSON-RPC message, or a request repeating the id of one still in flight
//! in the session, gets `400` with the JSON-RPC error as its body (checked
//! as on stdio and `/mcp`, see [`jsonrpc`]). This is a transport only:
//! each session is an rmcp service over a Sink/Stream pair, so the protocol
//! is the same code as stdio and Streamable HTTP.
//!
//! # Must never
//! - deliver a message to a session other than the one named by its id
//!   (ids are random UUIDs, unguessable);
//! - deliver a request whose id is in flight in its session (rmcp keys
//!   answers by id: one of the two would be lost);
//! - keep a session after its event stream closed.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex},
};

use axum::{
    body::Bytes,
    extract::{Query, State},
    http::StatusCode,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::{StreamExt, channel::mpsc};
use rmcp::{RoleServer, ServiceExt, model::RequestId, service::RxJsonRpcMessage};
use serde::Deserialize;

use crate::runtime::{
    handler::RuntimeState,
    http_post::refused,
    jsonrpc::{self, InflightIds},
};

/// Messages buffered per direction per session: a client that floods POSTs
/// faster than the server answers gets 503 instead of growing memory.
const SESSION_BUFFER: usize = 64;

/// Makes the rmcp handler for a new session.
pub type HandlerFactory<H> = Arc<dyn Fn() -> H + Send + Sync>;

/// Where a session's POSTs go, and the ids of its requests in flight.
#[derive(Clone)]
struct Inbox {
    sender: mpsc::Sender<RxJsonRpcMessage<RoleServer>>,
    inflight: Arc<InflightIds<RequestId>>,
}

/// Open sessions by id.
type Inboxes = Arc<Mutex<HashMap<String, Inbox>>>;

/// Open legacy sessions, by id.
pub struct LegacySessions<H> {
    factory: HandlerFactory<H>,
    state: Arc<RuntimeState>,
    senders: Inboxes,
}

impl<H> Clone for LegacySessions<H> {
    fn clone(&self) -> Self {
        Self {
            factory: self.factory.clone(),
            state: self.state.clone(),
            senders: self.senders.clone(),
        }
    }
}

impl<H> LegacySessions<H> {
    /// No sessions yet.
    pub fn new(factory: HandlerFactory<H>, state: Arc<RuntimeState>) -> Self {
        Self {
            factory,
            state,
            senders: Arc::default(),
        }
    }

    /// Sessions open now.
    pub fn len(&self) -> usize {
        self.senders.lock().map_or(0, |senders| senders.len())
    }

    /// True when no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Removes a session from the table when its event stream is dropped.
struct Unregister {
    senders: Inboxes,
    id: String,
}

impl Drop for Unregister {
    fn drop(&mut self) {
        if let Ok(mut senders) = self.senders.lock() {
            senders.remove(&self.id);
        }
        tracing::debug!(session = %self.id, "legacy SSE session closed");
    }
}

/// `GET /sse`: start a session and stream its messages.
pub async fn open<H: rmcp::ServerHandler>(State(sessions): State<LegacySessions<H>>) -> Response {
    if sessions.state.is_shutting_down() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        )
            .into_response();
    }
    let id = uuid::Uuid::new_v4().to_string();
    let (to_server, from_client) = mpsc::channel::<RxJsonRpcMessage<RoleServer>>(SESSION_BUFFER);
    let (to_client, from_server) = mpsc::channel(SESSION_BUFFER);
    let inflight = Arc::new(InflightIds::default());
    if let Ok(mut senders) = sessions.senders.lock() {
        senders.insert(
            id.clone(),
            Inbox {
                sender: to_server,
                inflight: inflight.clone(),
            },
        );
    }
    let handler = (sessions.factory)();
    let shutdown = sessions.state.shutdown.clone();
    tokio::spawn(async move {
        match handler.serve((to_client, from_client)).await {
            Ok(running) => {
                let cancel = running.cancellation_token();
                tokio::select! {
                    _ = running.waiting() => {}
                    () = shutdown.cancelled() => cancel.cancel(),
                }
            }
            Err(error) => tracing::debug!(%error, "legacy SSE client left before initialising"),
        }
    });
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("/messages?sessionId={id}"));
    let guard = Unregister {
        senders: sessions.senders.clone(),
        id,
    };
    let messages = from_server.map(
        move |message: rmcp::service::TxJsonRpcMessage<RoleServer>| {
            let _keep = &guard;
            inflight.answered(&message);
            let data = serde_json::to_string(&message).unwrap_or_default();
            Ok::<_, Infallible>(Event::default().event("message").data(data))
        },
    );
    let stream =
        futures::stream::once(async move { Ok::<_, Infallible>(endpoint) }).chain(messages);
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The `sessionId` query parameter of `POST /messages`.
#[derive(Debug, Deserialize)]
pub struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

/// `POST /messages?sessionId=…`: deliver one message to a session.
pub async fn post<H>(
    State(sessions): State<LegacySessions<H>>,
    Query(query): Query<SessionQuery>,
    body: Bytes,
) -> Response {
    let message = match jsonrpc::check(&body) {
        Ok(message) => message,
        Err(refusal) => return refused(&refusal),
    };
    let inbox = sessions
        .senders
        .lock()
        .ok()
        .and_then(|senders| senders.get(&query.session_id).cloned());
    let Some(mut inbox) = inbox else {
        return (StatusCode::NOT_FOUND, "no such session").into_response();
    };
    if let Err(refusal) = inbox.inflight.admit(&message) {
        return refused(&refusal);
    }
    let request_id = match &message {
        rmcp::model::JsonRpcMessage::Request(request) => Some(request.id.clone()),
        _ => None,
    };
    match inbox.sender.try_send(message) {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(error) => {
            // Not delivered: the id is not in flight after all.
            if let Some(id) = &request_id {
                inbox.inflight.release(id);
            }
            if error.is_full() {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many messages in flight for this session",
                )
                    .into_response()
            } else {
                (StatusCode::NOT_FOUND, "the session has ended").into_response()
            }
        }
    }
}
