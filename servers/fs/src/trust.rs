//! How far a client's MCP roots are trusted, decided once at start-up from
//! the transport, the configured roots and the operator's flags.
//!
//! With configured roots, client roots can only narrow them, whatever the
//! transport. With none, a client root is a directory of the host that the
//! client names: on stdio the client is the user's own app and its roots
//! are served as given (the reference server's behaviour); over HTTP the
//! client is whoever holds a token, so the server refuses to start unless
//! the operator says `--trust-client-roots`, and then serves client roots
//! read-only unless the operator says `--trust-client-roots=rw`.
//!
//! # Must never
//! - let an HTTP client's roots open anything outside the configured roots
//!   without `--trust-client-roots`;
//! - make an HTTP client's roots writable without `--trust-client-roots=rw`;
//! - change stdio's behaviour when the flag is not given.

use moat_shared::policy::Mode;

use crate::error::FsError;

/// What a client's MCP roots may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientTrust {
    /// Client roots can only narrow the configured roots; with no
    /// configured root they open nothing.
    #[default]
    Narrow,
    /// With no configured root, client roots are opened as given, with
    /// this mode. (With configured roots they still only narrow.)
    Trusted(Mode),
}

/// Where the server answers clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serving {
    /// stdio, or in-process (`tools`, `call`): the client is the user's own
    /// program.
    Local,
    /// Streamable HTTP and legacy SSE: the client is anyone who reaches the
    /// port with a token.
    Http {
        /// No sessions: no `roots/list` can ever reach the client.
        stateless: bool,
    },
}

/// Decide how far client roots are trusted.
///
/// `flag` is `--trust-client-roots` (`Some(Mode::Ro)` bare,
/// `Some(Mode::Rw)` for `=rw`); `read_only` is `--read-only`.
///
/// # Errors
/// [`FsError::Config`], one line naming the fix: HTTP with no configured
/// root and no flag; the flag on stateless HTTP (no session to ask for
/// roots) or beside configured roots (where it would do nothing); `=rw`
/// beside `--read-only`.
///
/// # Security
/// This is the one place that lets client roots open host directories the
/// operator did not configure.
pub fn client_trust(
    configured: bool,
    serving: Serving,
    flag: Option<Mode>,
    read_only: bool,
) -> Result<ClientTrust, FsError> {
    let refuse = |message: &str| Err(FsError::Config(message.to_string()));
    if read_only && flag == Some(Mode::Rw) {
        return refuse("--read-only contradicts --trust-client-roots=rw: drop one of them");
    }
    if configured {
        if flag.is_some() {
            return refuse(
                "--trust-client-roots applies only when no root is configured: client roots \
                 already narrow the configured roots; drop the flag",
            );
        }
        return Ok(ClientTrust::Narrow);
    }
    let mode = match (serving, flag) {
        (Serving::Http { stateless: false }, None) => {
            return refuse(
                "no root to serve over HTTP, and any client could then name any host directory \
                 as its root: give a root (moat-fs DIR serve --http ADDR) or a policy with \
                 [[roots]], or pass --trust-client-roots to serve the clients' roots read-only",
            );
        }
        (Serving::Http { stateless: true }, _) => {
            return refuse(
                "no root to serve over stateless HTTP, which cannot ask a client for its roots: \
                 give a root (moat-fs DIR serve --http ADDR --stateless) or a policy with [[roots]]",
            );
        }
        (_, Some(mode)) => mode,
        // Today's stdio behaviour: the reference server's, client roots
        // read-write.
        (Serving::Local, None) => Mode::Rw,
    };
    Ok(ClientTrust::Trusted(if read_only {
        Mode::Ro
    } else {
        mode
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HTTP: Serving = Serving::Http { stateless: false };
    const STATELESS: Serving = Serving::Http { stateless: true };

    /// Each row: configured roots?, transport, flag, --read-only, and the
    /// trust granted (`None`: refused at start-up).
    #[test]
    fn client_roots_are_trusted_only_where_the_operator_said_so() {
        use ClientTrust::{Narrow, Trusted};
        use Mode::{Ro, Rw};
        let rows = [
            // stdio keeps today's behaviour.
            (false, Serving::Local, None, false, Some(Trusted(Rw))),
            (false, Serving::Local, None, true, Some(Trusted(Ro))),
            (false, Serving::Local, Some(Ro), false, Some(Trusted(Ro))),
            (true, Serving::Local, None, false, Some(Narrow)),
            // HTTP with no root: refused unless the operator trusts clients.
            (false, HTTP, None, false, None),
            (false, HTTP, None, true, None),
            (false, HTTP, Some(Ro), false, Some(Trusted(Ro))),
            (false, HTTP, Some(Ro), true, Some(Trusted(Ro))),
            (false, HTTP, Some(Rw), false, Some(Trusted(Rw))),
            (false, HTTP, Some(Rw), true, None),
            // Stateless HTTP never learns a client's roots.
            (false, STATELESS, None, false, None),
            (false, STATELESS, Some(Ro), false, None),
            // Configured roots: client roots only narrow, on every transport.
            (true, HTTP, None, false, Some(Narrow)),
            (true, STATELESS, None, false, Some(Narrow)),
            (true, HTTP, Some(Ro), false, None),
        ];
        for (configured, serving, flag, read_only, expected) in rows {
            let got = client_trust(configured, serving, flag, read_only).ok();
            assert_eq!(
                got, expected,
                "configured={configured} {serving:?} flag={flag:?} read_only={read_only}"
            );
        }
    }

    /// Every refusal is one line that names a flag to change.
    #[test]
    fn refusals_are_one_line_naming_the_fix() {
        for (configured, serving, flag, read_only) in [
            (false, HTTP, None, false),
            (false, STATELESS, Some(Mode::Ro), false),
            (true, HTTP, Some(Mode::Ro), false),
            (false, HTTP, Some(Mode::Rw), true),
        ] {
            let message = client_trust(configured, serving, flag, read_only)
                .expect_err("refused")
                .to_string();
            assert!(!message.contains('\n'), "{message}");
            assert!(message.contains("--"), "{message}");
        }
    }
}
