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
//!   run, placed together in a `.text.hot` section before `.text` by a
//!   linker script generated from the list. Scattered over 15 MB of code
//!   they were ~1.6 MB of code on ~135 different 64 KiB windows, and the
//!   kernel maps a whole window around every code page fault: ~8 MiB of the
//!   process's resident memory was code.
//!
//! # Why a linker script of v0 names, not `--symbol-ordering-file`
//! A list of exact names only worked on the checkout that wrote it. Every
//! legacy name of a function compiled in the moat crates (their own and the
//! generics of tokio, rmcp, serde, core they instantiate) carries a
//! `17h<hash>E` of the crate graph, and ThinLTO adds `.llvm.<hash of the
//! module>` to the locals it promotes: a fresh checkout of the commit that
//! wrote the list found 384 of its 1,776 names. Wildcards over the legacy
//! hash do not help: two instances of one generic (tokio's `raw::poll<T,
//! S>` for each future) differ only by it, and such a script put 4.6 MB in
//! the hot section (RSS 9.7 MiB at initialize).
//!
//! So x86_64 Linux builds with v0 mangling (`.cargo/config.toml`), whose
//! names spell the generic arguments out. The list is stored normalised:
//! crate disambiguators `Cs<base62>_` (hashes of each crate's `-C metadata`)
//! and back-references `B<base62>_` (byte offsets, which shift when a
//! disambiguator's length does) become `*`, `.llvm.N` is dropped; each line
//! becomes patterns matching the function's section under any
//! disambiguator. Measured on a copy of the tree at another path, built with
//! its own target directory, with the list written in the first: 1,756 of
//! 1,759 listed functions in a 1.74 MB `.text.hot` (the other 3 are aws-lc's
//! C constructors), RSS at initialize 5.9-6.1 MiB against 10.0-10.5 for the
//! legacy list. The script costs ~5 s of CPU in the final link (0.2 s
//! without it).
//!
//! A list that no longer matches (the code changed) only loses the gain:
//! scripts/hot-symbols.sh `--check`s it and regenerates it, and
//! scripts/bench-compare.sh does both before measuring. A RUSTFLAGS
//! variable replaces the config's flags: the build is then legacy-mangled,
//! the patterns would match std's functions only, and no script is passed.
//!
//! # Must never
//! - change code generation (only the final link and the symbol names of
//!   `.cargo/config.toml`), or touch other targets;
//! - pass the script to a linker that may not be lld (GNU ld's `INSERT`
//!   and glob rules differ): only rustc's own default linker on x86_64
//!   Linux gets it.

use std::{
    env,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

/// First rustc whose default linker for x86_64-unknown-linux-gnu is its own
/// lld (`rust-lld`); older ones use the system `cc` and GNU ld.
const RUST_LLD_DEFAULT_SINCE: u32 = 90;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link/hot-symbols.txt");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    println!("cargo:rerun-if-env-changed={HOT_TEXT_ENV}");
    let target = env::var("TARGET").unwrap_or_default();
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os != "linux" || target_env != "gnu" {
        return;
    }
    if env::var("HOST").is_ok_and(|host| host == target) && glibc_loads_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    if target == "x86_64-unknown-linux-gnu"
        && default_lld()
        && v0_mangling()
        && !env::var(HOT_TEXT_ENV).is_ok_and(|value| value == "off")
        && let Ok(script) = write_hot_text_script()
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
}

/// `off` links without the script: scripts/hot-symbols.sh profiles such a
/// build, because valgrind names only the functions in `.text`, so in a
/// binary linked with the script the listed functions ran unnamed and a
/// regenerated list kept only the few new ones (157 names instead of
/// ~1,760).
const HOT_TEXT_ENV: &str = "MOAT_HOT_TEXT";

/// Reads `link/hot-symbols.txt` and writes its linker script to
/// `OUT_DIR/hot-text.ld`, returning that path.
///
/// # Errors
/// The list cannot be read or the script written (the binary then links
/// without it).
#[expect(
    clippy::disallowed_methods,
    reason = "a build script reads its own package's file and writes to OUT_DIR; the cap-std rule is for the server's runtime access"
)]
fn write_hot_text_script() -> std::io::Result<PathBuf> {
    let manifest = env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let list = fs::read_to_string(Path::new(&manifest).join("link/hot-symbols.txt"))?;
    let script = Path::new(&env::var("OUT_DIR").unwrap_or_default()).join("hot-text.ld");
    fs::write(&script, hot_text_script(&list))?;
    Ok(script)
}

/// The rustc flag the list's names are written in (see the module doc).
const V0_MANGLING: &str = "symbol-mangling-version=v0";

/// True when this build mangles names with v0 (`-C symbol-mangling-version=v0`
/// from `.cargo/config.toml`, unless a RUSTFLAGS variable replaced it).
fn v0_mangling() -> bool {
    env::var("CARGO_ENCODED_RUSTFLAGS")
        .unwrap_or_default()
        .split('\x1f')
        .any(|flag| flag.ends_with(V0_MANGLING))
}

/// A linker script placing the sections of the listed functions in
/// `.text.hot` before `.text`. Each line is a normalised name whose `*`s
/// stand for crate disambiguators and back-references. A function's
/// section is `.text.<name>`, `.text.unlikely.<name>` for a `#[cold]` one
/// (`OnceLock::initialize`, `reserve_rehash`: 137 of 1,636 hot functions),
/// plus `.llvm.<hash>` for a ThinLTO-promoted local. All patterns sit in
/// one input description: lld tests every input section against every
/// pattern of every description, and one `*(..)` per name made the link
/// take 14 s of CPU instead of 4.9-5.8 s (0.2 s without a script;
/// measured on an `lld --reproduce` of moat-fs). The price is that the hot functions
/// keep their input order inside `.text.hot`; only being together counts.
/// Lines a script cannot quote (blank, spaces, parentheses) are skipped.
fn hot_text_script(list: &str) -> String {
    let mut script = String::from("SECTIONS {\n  .text.hot : {\n    *(\n");
    for name in list.lines().map(str::trim) {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()\"".contains(&b))
        {
            continue;
        }
        let _ = writeln!(
            script,
            "      .text.{name} .text.{name}.llvm.* .text.unlikely.{name} .text.unlikely.{name}.llvm.*"
        );
    }
    script.push_str("    )\n  }\n}\nINSERT BEFORE .text;\n");
    script
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
