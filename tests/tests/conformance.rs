//! The official MCP conformance suite (npm `@modelcontextprotocol/conformance`)
//! against moat over Streamable HTTP, for 2025-11-25 and 2026-07-28, through
//! `scripts/conformance.sh` so CI and a developer run the same thing.
//!
//! - The fixture server (`moat-conformance-fixture`, moat-shared's runtime
//!   serving every fixture the suite calls) must pass every scored scenario.
//! - moat-fs and moat-scrape must pass every scenario that needs no fixture;
//!   the fixture-dependent ones are listed with their reasons in
//!   `tests/conformance/expected-failures-products-*.yml`, and a listed one
//!   that starts passing fails the run too.
//!
//! The script installs Node 22, the suite and the TypeScript SDK into
//! target/conformance the first time (npm, never global); the test never
//! skips.

use std::{path::PathBuf, process::Command, sync::OnceLock};

use moat_tests::{binary, workspace_root};

/// The directory holding the freshly built binaries, and the install done
/// once per test process (the three tests share it).
fn prepared() -> &'static PathBuf {
    static BIN_DIR: OnceLock<PathBuf> = OnceLock::new();
    BIN_DIR.get_or_init(|| {
        for name in ["moat-fs", "moat-scrape"] {
            binary(name);
        }
        let fixture = binary("moat-conformance-fixture");
        let install = Command::new(workspace_root().join("scripts/conformance.sh"))
            .arg("install")
            .output()
            .expect("run scripts/conformance.sh install");
        assert!(
            install.status.success(),
            "installing the conformance suite failed:\n{}",
            String::from_utf8_lossy(&install.stderr)
        );
        fixture
            .parent()
            .map(PathBuf::from)
            .expect("the binaries' directory")
    })
}

/// Run the suite for both protocol versions against one server.
fn run_suite(server: &str) {
    let output = Command::new(workspace_root().join("scripts/conformance.sh"))
        .arg(server)
        .env("MOAT_BIN_DIR", prepared())
        .output()
        .expect("run scripts/conformance.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "conformance suite against {server} failed:\n{stdout}\n{stderr}"
    );
    // One summary line per protocol version.
    for version in ["2025-11-25", "2026-07-28"] {
        assert!(
            stdout.contains(&format!("{server} {version}: Total:")),
            "no {version} summary for {server}:\n{stdout}\n{stderr}"
        );
    }
}

/// Every scored scenario passes against the runtime serving the suite's
/// fixtures, in both protocol eras.
#[test]
fn fixture_server_passes_every_scenario() {
    run_suite("fixture");
}

/// moat-fs passes every scenario that needs no fixture.
#[test]
fn moat_fs_passes_every_scenario_without_a_fixture() {
    run_suite("fs");
}

/// moat-scrape passes every scenario that needs no fixture.
#[test]
fn moat_scrape_passes_every_scenario_without_a_fixture() {
    run_suite("scrape");
}
