//! The confirmation a destructive tool asks for before it acts: the
//! question (what exactly will be destroyed), and the policy's rule for a
//! client that cannot be asked (`[fs.confirm]`).
//!
//! Outcomes, as the tools return them:
//! - confirmed, or the rule says go ahead: the tool acts;
//! - the user declined or cancelled: a "Not done" result with `isError`
//!   false (the user decided; the model should not retry the same step);
//! - the client cannot be asked and the rule is `refuse`, or no answer came
//!   before the deadline: a "Not done" tool error (`isError` true).
//!
//! # Must never
//! - act on anything but a confirmation, unless the rule lets it;
//! - change anything itself: it only asks.

use moat_shared::{CallContext, ToolError, policy::ConfirmRule, runtime::confirm::Answer};

use crate::FsServer;

/// Which `[fs.confirm]` rule applies.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// `delete_file`.
    Delete,
    /// Replacing an existing file's content.
    Overwrite,
    /// `edit_file`.
    Edit,
}

/// Ask before the step `what` (e.g. "delete file a.txt (12 bytes)").
/// `Ok(None)`: go ahead. `Ok(Some(line))`: the user said no; the tool
/// returns `line` as its result, in its own output shape with nothing
/// done (its outputSchema holds for every success). `Err`: refused or
/// unanswered.
///
/// # Errors
/// The client cannot be asked and the rule is `refuse`, or no answer came.
pub fn before(
    server: &FsServer,
    context: &CallContext,
    step: Step,
    what: &str,
) -> Result<Option<String>, ToolError> {
    let rule = match step {
        Step::Delete => server.policy.confirm.delete,
        Step::Overwrite => server.policy.confirm.overwrite,
        Step::Edit => server.policy.confirm.edit,
    };
    if rule == ConfirmRule::Never {
        return Ok(None);
    }
    let Some(confirmer) = &context.confirmer else {
        return match rule {
            ConfirmRule::Refuse => Err(ToolError::denied(format!(
                "Not done: {what} needs the user's confirmation, and this client cannot ask \
                 (no elicitation support); the policy ([fs.confirm] {}) refuses without it",
                key(step)
            ))),
            ConfirmRule::Allow | ConfirmRule::Never => Ok(None),
        };
    };
    let question = format!("{} There is no undo.", capitalised(&format!("{what}?")));
    match confirmer.ask_blocking(&question, context.deadline) {
        Answer::Yes => Ok(None),
        answer @ (Answer::Declined | Answer::Cancelled) => Ok(Some(answer.not_done(what))),
        answer @ Answer::NoAnswer(_) => Err(ToolError::failed(answer.not_done(what))),
    }
}

/// The full path of `target` for a question: the user sees exactly which
/// file, whatever relative form the model used.
pub fn full_path(target: &crate::Target<'_>) -> String {
    target.root.given.join(&target.rel).display().to_string()
}

/// The policy key of a step.
fn key(step: Step) -> &'static str {
    match step {
        Step::Delete => "delete",
        Step::Overwrite => "overwrite",
        Step::Edit => "edit",
    }
}

/// `text` with its first letter upper-case.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}
