//! Fuzz target: the URL policy (`moat_shared::policy::url`).
//!
//! Input: any string, taken as a URL (and, split at its first newline, as
//! an HTTP CONNECT authority).
//!
//! Invariants, for the default policy (no allow list, no private door):
//! - `check` never panics;
//! - an allowed URL is http or https, carries no credentials, has a host,
//!   and its host is neither a denied local name nor, read as an IP address
//!   in any notation the WHATWG parser or `std` accepts, in a blocked class;
//! - re-checking the normalised URL gives the same verdict (idempotence);
//! - `check_authority` allows only what `check` allows for the same
//!   `scheme://authority/`;
//! - `check_address` refuses exactly the addresses `blocked_class` names.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use moat_shared::policy::url::{UrlPolicy, blocked_class};

fuzz_target!(|input: &str| {
    let policy = UrlPolicy::default();
    if let Ok(allowed) = policy.check(input) {
        let url = allowed.as_url();
        assert!(
            matches!(url.scheme(), "http" | "https"),
            "{input:?}: scheme {}",
            url.scheme()
        );
        assert!(
            url.username().is_empty() && url.password().is_none(),
            "{input:?}: credentials passed"
        );
        let host = allowed.host();
        assert!(!host.is_empty(), "{input:?}: empty host passed");
        assert_public_host(input, &host);
        if let Some(ip) = allowed.ip() {
            assert_eq!(blocked_class(ip), None, "{input:?}: {ip} passed");
        }
        // The normalised URL must get the same verdict as the raw one.
        let again = policy
            .check(allowed.as_str())
            .unwrap_or_else(|error| panic!("{input:?} -> {allowed} refused on re-check: {error}"));
        assert_eq!(
            again.as_str(),
            allowed.as_str(),
            "{input:?}: not idempotent"
        );
    }

    // CONNECT targets: never more permissive than the URL check.
    let (scheme, authority) = input.split_once('\n').unwrap_or(("https", input));
    if let Ok(allowed) = policy.check_authority(scheme, authority) {
        assert!(
            policy.check(&format!("{scheme}://{authority}/")).is_ok(),
            "{input:?}: authority allowed but URL refused"
        );
        assert_public_host(input, &allowed.host());
    }

    // Raw addresses: check_address agrees with blocked_class.
    for address in addresses_in(input.as_bytes()) {
        let verdict = policy.check_address("fuzz.example", 443, address);
        assert_eq!(
            verdict.is_err(),
            blocked_class(address).is_some(),
            "{address}: check_address and blocked_class disagree"
        );
    }
});

/// A host that passed must not be a local name or a blocked address in any
/// notation we can think of.
fn assert_public_host(input: &str, host: &str) {
    assert!(
        !host.contains(['/', '@', '\\', ' ', '#', '?']),
        "{input:?}: odd host {host:?} passed"
    );
    assert!(
        host != "localhost" && !host.ends_with(".localhost") && !host.ends_with(".internal"),
        "{input:?}: local name {host:?} passed"
    );
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        assert_eq!(blocked_class(ip), None, "{input:?}: {ip} passed");
    }
    // The WHATWG parser's own reading of the host as a URL host: decimal,
    // octal, hex and shortened IPv4 all become an IPv4 address here.
    if let Ok(url) = url::Url::parse(&format!("http://{host}/")) {
        match url.host() {
            Some(url::Host::Ipv4(ip)) => {
                assert_eq!(
                    blocked_class(IpAddr::V4(ip)),
                    None,
                    "{input:?}: {ip} passed"
                );
            }
            Some(url::Host::Ipv6(ip)) => {
                assert_eq!(
                    blocked_class(IpAddr::V6(ip)),
                    None,
                    "{input:?}: {ip} passed"
                );
            }
            _ => {}
        }
    }
}

/// Addresses built from the raw bytes (first 4 as IPv4, first 16 as IPv6),
/// so `check_address` sees every corner of both spaces.
fn addresses_in(bytes: &[u8]) -> Vec<IpAddr> {
    let mut out = Vec::new();
    if let Some(four) = bytes.get(..4) {
        let octets: [u8; 4] = four.try_into().expect("4 bytes");
        out.push(IpAddr::V4(Ipv4Addr::from(octets)));
    }
    if let Some(sixteen) = bytes.get(..16) {
        let octets: [u8; 16] = sixteen.try_into().expect("16 bytes");
        let v6 = Ipv6Addr::from(octets);
        out.push(IpAddr::V6(v6));
        // The same IPv4 address mapped into IPv6 must be refused whenever
        // the IPv4 one is.
        if let Some(IpAddr::V4(v4)) = out.first().copied() {
            let mapped = IpAddr::V6(v4.to_ipv6_mapped());
            assert!(blocked_class(mapped).is_some(), "{mapped} passed");
        }
    }
    out
}
