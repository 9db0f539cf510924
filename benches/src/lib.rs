//! moat-benches: bench binaries (they measure, they never assert) and the
//! little they share.
//!
//! Layout: `load.rs` (`moat-load`, load and capacity of the HTTP runtime),
//! `compare/` (`moat-compare`, moat against its peers, issue 6), `echo.rs`
//! (`moat-echo`, the protocol floor `moat-compare` measures first), and
//! [`memory`], the /proc readings they all report.

pub mod memory;
