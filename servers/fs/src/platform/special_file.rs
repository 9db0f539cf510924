//! Opening for reading without blocking on a FIFO or a device, so the type
//! check after the open can refuse it.
//!
//! Unix: `O_NONBLOCK` (its value differs: 0o4000 on Linux, 0x4 on macOS,
//! so it comes from rustix, never a literal). Windows has no FIFOs or
//! devices inside a directory tree (named pipes and devices live in the
//! `\\.\` namespace, which [`super::windows_path`] refuses), so nothing is
//! added there.

use cap_std::fs::OpenOptions;

/// Make `options` open without blocking on a FIFO or device.
#[cfg(unix)]
#[expect(
    clippy::cast_possible_wrap,
    reason = "O_NONBLOCK is a small positive flag (0o4000 or 0x4), never past i32::MAX"
)]
pub fn non_blocking(options: &mut OpenOptions) {
    use cap_std::fs::OpenOptionsExt;
    options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
}

/// Make `options` open without blocking on a FIFO or device (nothing to
/// do on Windows).
#[cfg(windows)]
pub fn non_blocking(_options: &mut OpenOptions) {}
