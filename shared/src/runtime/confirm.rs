//! Asking the user to confirm a destructive step, through MCP elicitation
//! (form mode): one yes/no question, answered before the deadline of the
//! call that asks.
//!
//! A tool gets a [`Confirmer`] in its [`CallContext`](super::CallContext)
//! only when the client declared the elicitation capability (form mode) on
//! a protocol that allows server-to-client requests (before 2026-07-28);
//! without one the tool applies its policy fallback.
//!
//! # Must never
//! - treat anything but an explicit accept with `confirm: true` as a yes;
//! - wait past the call's deadline for an answer.

use std::time::Duration;

use rmcp::{
    RoleServer,
    model::{ElicitRequestParams, ElicitationAction, ElicitationSchema, ProtocolVersion},
    service::{ElicitationMode, Peer},
};
use tokio::time::Instant;

/// The property the confirmation form asks for.
const CONFIRM_FIELD: &str = "confirm";

/// What the user answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Accepted, with `confirm: true`: go ahead.
    Yes,
    /// Declined, or accepted with `confirm` false or missing.
    Declined,
    /// Cancelled or dismissed.
    Cancelled,
    /// No answer: the request failed or the deadline passed (the reason).
    NoAnswer(String),
}

impl Answer {
    /// The one line a tool returns when it did not act: what was not done
    /// and why.
    pub fn not_done(&self, what: &str) -> String {
        let why = match self {
            Self::Yes => return format!("{what}: confirmed"),
            Self::Declined => "the user declined".to_string(),
            Self::Cancelled => "the user cancelled the confirmation".to_string(),
            Self::NoAnswer(reason) => format!("no confirmation ({reason})"),
        };
        format!("Not done: {what} was not performed because {why}; nothing was changed")
    }
}

/// Asks one client for confirmations.
#[derive(Clone)]
pub struct Confirmer {
    peer: Peer<RoleServer>,
    /// Where the request is sent from, so a tool on a blocking thread can
    /// ask without an async context of its own.
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for Confirmer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Confirmer")
    }
}

impl Confirmer {
    /// A confirmer for `peer`, or `None` when it cannot be asked: no form
    /// elicitation capability, or a protocol (2026-07-28 and later) that
    /// forbids server-to-client requests. Must be made inside the runtime.
    pub fn for_peer(peer: &Peer<RoleServer>) -> Option<Self> {
        let info = peer.peer_info()?;
        if info.protocol_version >= ProtocolVersion::V_2026_07_28 {
            return None;
        }
        if !peer
            .supported_elicitation_modes()
            .contains(&ElicitationMode::Form)
        {
            return None;
        }
        Some(Self {
            peer: peer.clone(),
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// Ask `message` and wait for the answer until `deadline`. For a tool
    /// on the blocking pool (it blocks the calling thread; never call it
    /// from async code).
    pub fn ask_blocking(&self, message: &str, deadline: Instant) -> Answer {
        self.runtime.block_on(self.ask(message, deadline))
    }

    /// Ask `message` and wait for the answer until `deadline`.
    pub async fn ask(&self, message: &str, deadline: Instant) -> Answer {
        let schema = ElicitationSchema::builder()
            .required_bool_with(CONFIRM_FIELD, |schema| {
                schema
                    .title("Go ahead")
                    .description("Check to confirm; anything else leaves everything as it is")
            })
            .build_unchecked();
        let params = ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: message.to_string(),
            requested_schema: schema,
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining == Duration::ZERO {
            return Answer::NoAnswer("the call's deadline passed".into());
        }
        match self
            .peer
            .create_elicitation_with_timeout(params, Some(remaining))
            .await
        {
            Ok(result) => match result.action {
                ElicitationAction::Accept => {
                    let confirmed = result
                        .content
                        .as_ref()
                        .and_then(|content| content.get(CONFIRM_FIELD))
                        .and_then(serde_json::Value::as_bool)
                        == Some(true);
                    if confirmed {
                        Answer::Yes
                    } else {
                        Answer::Declined
                    }
                }
                ElicitationAction::Cancel => Answer::Cancelled,
                // Decline, or a future action this runtime does not know:
                // not a yes.
                _ => Answer::Declined,
            },
            Err(error) => Answer::NoAnswer(format!("the confirmation request failed: {error}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Answer;

    /// Every refusal line says plainly that nothing was done, and why.
    #[test]
    fn not_done_lines_say_nothing_was_changed() {
        for answer in [
            Answer::Declined,
            Answer::Cancelled,
            Answer::NoAnswer("timed out".into()),
        ] {
            let line = answer.not_done("deleting a.txt (12 bytes)");
            assert!(
                line.starts_with("Not done: deleting a.txt (12 bytes)"),
                "{line}"
            );
            assert!(line.ends_with("nothing was changed"), "{line}");
        }
    }
}
