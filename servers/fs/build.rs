//! Link flags for the `moat-fs` binary (Linux with glibc only; other
//! targets link as cargo does by default).
//!
//! - `-no-pie`: a fixed-address executable. A PIE moat-fs carries ~34,000
//!   relative relocations that the dynamic linker applies at every start
//!   (half of the start-up instructions), and applying them dirties ~600 KB
//!   of `.data.rel.ro` that then stays resident.
//! - `link/hot-symbols.txt`: the functions start-up and the common tools
//!   run, placed together at the front of `.text` (lld's
//!   `--symbol-ordering-file`). Scattered over 15 MB of code they were ~1.6
//!   MB of code on ~135 different 64 KiB windows, and the kernel maps a whole
//!   window around every code page fault: ~8 MiB of the process's resident
//!   memory was code. A stale list (other dependency versions, another
//!   compiler) only costs the gain: names lld does not find are skipped.
//!   scripts/hot-symbols.sh regenerates it.
//!
//! # Must never
//! - change code generation (only the final link), or touch other targets;
//! - pass the ordering file to a linker that may not be lld (GNU ld rejects
//!   the option): only rustc's own default linker on x86_64 Linux gets it.

use std::{env, process::Command};

/// First rustc whose default linker for x86_64-unknown-linux-gnu is its own
/// lld (`rust-lld`); older ones use the system `cc` and GNU ld.
const RUST_LLD_DEFAULT_SINCE: u32 = 90;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link/hot-symbols.txt");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let target = env::var("TARGET").unwrap_or_default();
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os != "linux" || target_env != "gnu" {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-no-pie");
    if target == "x86_64-unknown-linux-gnu" && default_lld() {
        let list = format!(
            "{}/link/hot-symbols.txt",
            env::var("CARGO_MANIFEST_DIR").unwrap_or_default()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={list}");
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// True when this build links with rustc's default lld: no linker or
/// linker flags chosen by the user, and a rustc recent enough.
fn default_lld() -> bool {
    if env::var_os("RUSTC_LINKER").is_some() {
        return false;
    }
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if flags.contains("link") {
        return false;
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(output) = Command::new(rustc).arg("--version").output() else {
        return false;
    };
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let version = String::from_utf8_lossy(&output.stdout);
    let minor = version
        .split_whitespace()
        .nth(1)
        .and_then(|number| number.split('.').nth(1))
        .and_then(|minor| minor.parse::<u32>().ok());
    minor.is_some_and(|minor| minor >= RUST_LLD_DEFAULT_SINCE)
}
