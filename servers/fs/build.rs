//! Link flags for the `moat-fs` binary (Linux with glibc only; other
//! targets link as cargo does by default).
//!
//! - `-z pack-relative-relocs` (DT_RELR): moat-fs stays a position-
//!   independent executable (ASLR is part of the sandbox's defence in
//!   depth), but its ~34,000 relative relocations are stored as a 10 KB
//!   bitmap instead of an 820 KB table the dynamic linker walked at every
//!   start (half of the start-up instructions). A fixed-address `-no-pie`
//!   link was measured a little faster still and rejected: it gives up
//!   ASLR for the binary's own code. Only a native build on glibc 2.36 or
//!   later gets it (older glibc cannot load DT_RELR, and a build is usually
//!   run where it was linked); linkers without the option (GNU ld before
//!   2.38) warn and ignore it.
//! - `link/hot-symbols.txt`: the functions start-up and the common tools
//!   run, placed together at the front of `.text` (lld's
//!   `--symbol-ordering-file`). Scattered over 15 MB of code they were ~1.6
//!   MB of code on ~135 different 64 KiB windows, and the kernel maps a whole
//!   window around every code page fault: ~8 MiB of the process's resident
//!   memory was code. The names carry ThinLTO's `.llvm.N` suffixes (which
//!   change with the code of their module) and hashes of the crate graph
//!   (which a dependency or toolchain update changes), so the list goes
//!   stale; a stale list only costs the gain: names lld does not find are
//!   skipped. scripts/hot-symbols.sh `--check`s it and regenerates it, and
//!   scripts/bench-compare.sh does both before measuring.
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
    if env::var("HOST").is_ok_and(|host| host == target) && glibc_loads_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    if target == "x86_64-unknown-linux-gnu" && default_lld() {
        let list = format!(
            "{}/link/hot-symbols.txt",
            env::var("CARGO_MANIFEST_DIR").unwrap_or_default()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={list}");
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// First glibc (2.x) whose dynamic linker applies DT_RELR relocations.
const GLIBC_RELR_SINCE: u32 = 36;

/// True when the glibc of this (native) build is 2.36 or later, asked of
/// `getconf GNU_LIBC_VERSION` ("glibc 2.36").
fn glibc_loads_relr() -> bool {
    let Ok(output) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    minor_version(&output.stdout).is_some_and(|minor| minor >= GLIBC_RELR_SINCE)
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
    minor_version(&output.stdout).is_some_and(|minor| minor >= RUST_LLD_DEFAULT_SINCE)
}

/// The minor number of a "NAME 1.95.0 ..." version line.
fn minor_version(line: &[u8]) -> Option<u32> {
    String::from_utf8_lossy(line)
        .split_whitespace()
        .nth(1)?
        .split('.')
        .nth(1)?
        .trim()
        .parse()
        .ok()
}
