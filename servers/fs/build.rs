//! Link flags for the `moat-fs` binary.
//!
//! On Linux with glibc the binary is linked as a fixed-address executable
//! (`-no-pie`) instead of a position-independent one: a PIE moat-fs carries
//! ~34,000 relative relocations that the dynamic linker applies at every
//! start (half of the start-up instructions), and applying them dirties
//! ~600 KB of `.data.rel.ro` that then stays resident in every process.
//!
//! # Must never
//! - change code generation (only the final link), or touch other targets.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
