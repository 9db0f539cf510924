//! `[fs.confirm]`: when moat-fs asks the user before destroying data, and
//! what it does when the client cannot be asked.
//!
//! Each class of destructive step has one rule:
//! - `refuse`: ask through MCP elicitation when the client can; when it
//!   cannot, refuse ("not done").
//! - `allow`: ask when the client can; when it cannot, go ahead.
//! - `never`: never ask; go ahead.
//!
//! # Must never
//! - let a client that cannot be asked delete by default: `delete`
//!   defaults to `refuse`.

use serde::Deserialize;

/// What to do about one class of destructive step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfirmRule {
    /// Ask when the client can; refuse when it cannot.
    Refuse,
    /// Ask when the client can; go ahead when it cannot.
    Allow,
    /// Never ask; go ahead.
    Never,
}

/// The rules per class of destructive step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfirmPolicy {
    /// `delete_file`. Default `refuse`: most clients cannot show the
    /// question yet, and a delete has no undo.
    pub delete: ConfirmRule,
    /// `write_file` over an existing file, `move_file` / `copy_file` onto
    /// an existing destination. Default `allow`: what the reference server
    /// does, and what clients expect of write_file.
    pub overwrite: ConfirmRule,
    /// `edit_file`. Default `never`: an edit changes only the text it
    /// names, and a model makes many of them.
    pub edit: ConfirmRule,
}

impl Default for ConfirmPolicy {
    fn default() -> Self {
        Self {
            delete: ConfirmRule::Refuse,
            overwrite: ConfirmRule::Allow,
            edit: ConfirmRule::Never,
        }
    }
}
