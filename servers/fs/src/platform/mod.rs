//! What differs between Linux, macOS and Windows, one module per concern,
//! so the tools call one portable function and no `cfg` is scattered
//! through them.
//!
//! Every function here takes a cap-std `Dir` (or a file opened through
//! one) and a single-component name: none of them reaches the ambient
//! filesystem.
//!
//! # Must never
//! - take a path with more than one component, or an absolute one;
//! - widen what a root allows: each function refuses or fails where the
//!   platform cannot give the guarantee its doc states.
//!
//! # Layout
//! - [`no_replace_rename`]: move a name without ever replacing the target.
//! - [`atomic_replace`]: put a finished temporary file over a name.
//! - [`write_permission`]: may this user write an existing file?
//! - [`special_file`]: open without blocking on a FIFO or device.
//! - [`directory_entries`]: a directory's entry names and types, read
//!   through its handle without an allocation per entry where the platform
//!   allows.
//! - [`file_mode`]: keep a file's permissions across a rewrite or copy,
//!   and describe them.
//! - [`result_path`]: spell a result path the way the client spelled its
//!   base (`\` on Windows when the client used it).
//! - [`windows_path`]: Windows path classes (drive letters, UNC, device
//!   names, streams), parsed on every OS so they are tested everywhere.

pub mod atomic_replace;
pub mod directory_entries;
pub mod file_mode;
pub mod no_replace_rename;
pub mod result_path;
pub mod special_file;
pub mod windows_path;
pub mod write_permission;
