//! The deployment manifests repeat decisions the code makes. The remote
//! browser's Chromium is started from YAML in its own container, so it
//! cannot share moat-scrape's flag lists: these tests keep the two in step.

use moat_scrape::browser::{EGRESS_CHROME_FLAGS, PROFILE_PREFERENCES, QUIET_CHROME_FLAGS};
use moat_tests::workspace_root;

/// The remote browser's manifest, relative to the workspace.
const REMOTE_BROWSER: &str = "deploy/kubernetes/remote-browser/browser.yaml";

/// The remote browser's manifest, as text.
fn manifest() -> String {
    let path = workspace_root().join(REMOTE_BROWSER);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

/// The `--flag` arguments in the manifest's command lists, without `--`
/// (tini's bare `--` separator is not a flag).
fn manifest_flags() -> Vec<String> {
    manifest()
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- --"))
        .map(|flag| flag.trim_matches(['"', '\'']).to_string())
        .filter(|flag| !flag.is_empty())
        .collect()
}

/// Every flag moat-scrape gives its own Chromium (quiet start-up, no spare
/// renderer, no name resolution of its own) is also given to the remote one:
/// a flag added to the code and not to the manifest would make the fleet's
/// browser noisier, heavier or able to resolve names past the URL policy.
#[test]
fn remote_browser_gets_moat_scrapes_chromium_flags() {
    let flags = manifest_flags();
    let missing: Vec<&str> = QUIET_CHROME_FLAGS
        .iter()
        .chain(EGRESS_CHROME_FLAGS)
        .copied()
        .filter(|flag| !flags.iter().any(|given| given == flag))
        .collect();
    assert!(
        missing.is_empty(),
        "{REMOTE_BROWSER} lacks --{}: it gives {flags:?}",
        missing.join(", --")
    );
}

/// The remote browser's init container writes the profile preferences
/// moat-scrape writes for its own Chromium (a search engine that is not
/// Google, whose preconnect would leave through the egress proxy on every
/// call), into the profile folder Chromium is started with.
#[test]
fn remote_browser_profile_gets_moat_scrapes_preferences() {
    let text = manifest();
    let written = format!("printf '%s' '{PROFILE_PREFERENCES}' >/tmp/profile/Default/Preferences");
    assert!(
        text.lines().any(|line| line.trim() == written),
        "{REMOTE_BROWSER} does not write {PROFILE_PREFERENCES} into the profile: expected the line {written:?}"
    );
    assert!(
        manifest_flags()
            .iter()
            .any(|flag| flag == "user-data-dir=/tmp/profile"),
        "{REMOTE_BROWSER} starts Chromium on another profile folder"
    );
}
