//! The URL policy: which destinations a moat server may reach on a model's
//! behalf.
//!
//! Its job is to turn a string the model sent into an [`AllowedUrl`], and an
//! [`AllowedUrl`] into the exact socket addresses a connection may go to.
//! Everything that touches the network on a model's behalf accepts only those
//! two values, so a grep for `UrlPolicy::check` finds every door.
//!
//! It must never let a model reach the operator's own network: loopback,
//! private, link-local, CGNAT, multicast, unspecified, reserved and
//! documentation ranges, IPv4-mapped, IPv4-compatible and NAT64 IPv6,
//! unique-local IPv6 and the cloud metadata endpoints are refused in every
//! notation (decimal, octal, hex and shortened IPv4 are normalised by the
//! WHATWG URL parser before the check; brackets and trailing dots are
//! stripped). Only an explicit `allow_private` entry opens one of those
//! destinations, and nothing else does.
//!
//! # Security
//! A check that resolves a name and a connection that resolves it again can
//! be split by DNS rebinding (the reference fetch server's flaw). Here
//! [`UrlPolicy::resolve`] resolves once, checks every address and returns
//! them; callers connect only to those addresses.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    path::Path,
    time::Duration,
};

use serde::Deserialize;
use url::{Host, Url};

use crate::policy::{PolicyError, entry_offset};

/// Longest URL accepted: real pages fit easily; a longer string is a probe or
/// a payload, not an address.
pub const MAX_URL_CHARS: usize = 8 * 1024;

/// How long one DNS resolution may take before the destination is refused.
/// Resolvers answer in milliseconds or retry for many seconds; the model
/// should hear "could not resolve" well inside a call's deadline.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// Names refused before any lookup: they name the local machine or a cloud
/// metadata service on every platform, whatever DNS says.
const DENIED_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "ip6-localhost",
    "ip6-loopback",
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
];

/// Name suffixes refused before any lookup (RFC 6761 `.localhost`, and the
/// `.internal` suffix cloud providers use for their own services).
const DENIED_SUFFIXES: &[&str] = &[".localhost", ".internal"];

/// `[url]`: where a server may go on a model's behalf.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UrlPolicy {
    /// When not empty, only these hosts may be reached. `example.com` is
    /// exact; `.example.com` or `*.example.com` match every subdomain (and
    /// not `example.com` itself).
    pub allow_hosts: Vec<String>,
    /// Hosts that are never reached, same syntax as `allow_hosts`. Checked
    /// first.
    pub deny_hosts: Vec<String>,
    /// Private destinations the operator opens on purpose (internal
    /// deployments, tests): `10.1.2.3`, `10.1.2.3:8080`, `[fd00::1]:443`,
    /// `wiki.corp` or `wiki.corp:8443`. An IP entry opens that address (on
    /// that port, when given); a name entry lets that name resolve to private
    /// addresses. Nothing else opens a private destination.
    pub allow_private: Vec<String>,
}

/// Why a destination was refused. Each renders as one short line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlDenied {
    /// Not a URL at all.
    #[error("not a valid URL: {0}")]
    Invalid(String),
    /// A scheme other than http or https.
    #[error("only http and https URLs are allowed, not {0}:")]
    Scheme(String),
    /// A URL with a user name or password in it.
    #[error("URLs with credentials (user:password@) are refused")]
    Credentials,
    /// The host is not on the policy's allow list.
    #[error("the host {0} is not on this server's allow list")]
    NotAllowed(String),
    /// The host is on the policy's deny list or is a local/metadata name.
    #[error("the host {0} is blocked by policy")]
    HostDenied(String),
    /// The address (written or resolved) is in a blocked range.
    #[error("{host} is blocked: {address} is a {class} address")]
    Address {
        /// The host as the URL gave it.
        host: String,
        /// The offending address.
        address: IpAddr,
        /// Which blocked class it falls in.
        class: &'static str,
    },
    /// The name could not be resolved.
    #[error("could not resolve {0}")]
    Resolve(String),
}

/// A URL that passed [`UrlPolicy::check`]: http(s), no credentials, host
/// allowed, and, if the host is an IP literal, that address allowed. Only
/// [`UrlPolicy::check`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedUrl {
    url: Url,
}

impl AllowedUrl {
    /// The URL, normalised by the WHATWG parser.
    pub fn as_url(&self) -> &Url {
        &self.url
    }

    /// The URL as a string.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The host, without brackets or trailing dots.
    pub fn host(&self) -> String {
        host_string(&self.url)
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.url.port_or_known_default().unwrap_or(80)
    }

    /// The host as an IP address, when the URL names one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.url.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        }
    }
}

impl fmt::Display for AllowedUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.url.as_str())
    }
}

/// One `allow_private` entry, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PrivateDoor {
    Ip(IpAddr, Option<u16>),
    Name(String, Option<u16>),
}

impl PrivateDoor {
    fn parse(entry: &str) -> Result<Self, String> {
        let entry = entry.trim();
        if let Ok(socket) = entry.parse::<SocketAddr>() {
            return Ok(Self::Ip(socket.ip(), Some(socket.port())));
        }
        let bare = entry.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Self::Ip(ip, None));
        }
        let (name, port) = match entry.rsplit_once(':') {
            Some((name, port)) => (
                name,
                Some(
                    port.parse::<u16>()
                        .map_err(|_| format!("{entry:?}: bad port"))?,
                ),
            ),
            None => (entry, None),
        };
        let name = normalize_name(name);
        if name.is_empty() || name.contains(['/', '@', ' ', '[', ']']) {
            return Err(format!(
                "{entry:?}: expected IP, IP:PORT, NAME or NAME:PORT"
            ));
        }
        if let Ok(ip) = name.parse::<IpAddr>() {
            return Ok(Self::Ip(ip, port));
        }
        Ok(Self::Name(name, port))
    }

    fn opens(&self, host: &str, port: u16, address: IpAddr) -> bool {
        match self {
            Self::Ip(ip, want) => *ip == address && want.is_none_or(|want| want == port),
            Self::Name(name, want) => name == host && want.is_none_or(|want| want == port),
        }
    }
}

impl UrlPolicy {
    /// Check that the policy's entries make sense.
    ///
    /// # Errors
    /// A [`PolicyError`] naming the field and entry.
    pub fn validate(&self, file: &Path, source: &str) -> Result<(), PolicyError> {
        for (index, entry) in self.allow_private.iter().enumerate() {
            PrivateDoor::parse(entry).map_err(|message| {
                PolicyError::at(
                    file,
                    source,
                    entry_offset(source, &["url", "allow_private"], index),
                    format!("field `allow_private`: {message}"),
                )
            })?;
        }
        for (field, list) in [
            ("allow_hosts", &self.allow_hosts),
            ("deny_hosts", &self.deny_hosts),
        ] {
            for (index, entry) in list.iter().enumerate() {
                let pattern = entry.trim_start_matches("*.").trim_start_matches('.');
                if pattern.is_empty() || pattern.contains(['/', '@', ':', ' ', '*']) {
                    return Err(PolicyError::at(
                        file,
                        source,
                        entry_offset(source, &["url", field], index),
                        format!("field `{field}`: {entry:?} is not a host name or `.suffix`"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Check a URL without touching the network: scheme, credentials, host
    /// lists, local names, and the address when the host is an IP literal.
    ///
    /// # Errors
    /// [`UrlDenied`] saying why the URL is refused.
    ///
    /// # Security
    /// A name that passes still has to go through [`UrlPolicy::resolve`]
    /// before anything connects: DNS may point it anywhere.
    pub fn check(&self, input: &str) -> Result<AllowedUrl, UrlDenied> {
        let input = input.trim();
        if input.chars().count() > MAX_URL_CHARS {
            return Err(UrlDenied::Invalid(format!(
                "longer than {MAX_URL_CHARS} characters"
            )));
        }
        let url = Url::parse(input).map_err(|error| UrlDenied::Invalid(error.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(UrlDenied::Scheme(url.scheme().to_string()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlDenied::Credentials);
        }
        let host = host_string(&url);
        if host.is_empty() {
            return Err(UrlDenied::Invalid("no host".into()));
        }
        if self
            .deny_hosts
            .iter()
            .any(|pattern| host_matches(pattern, &host))
        {
            return Err(UrlDenied::HostDenied(host));
        }
        if !self.allow_hosts.is_empty()
            && !self
                .allow_hosts
                .iter()
                .any(|pattern| host_matches(pattern, &host))
        {
            return Err(UrlDenied::NotAllowed(host));
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let allowed = AllowedUrl { url };
        if let Some(ip) = allowed.ip() {
            self.check_address(&host, port, ip)?;
        } else {
            let door_open = self
                .doors()
                .any(|door| matches!(door, PrivateDoor::Name(name, _) if *name == host));
            if !door_open && is_denied_name(&host) {
                return Err(UrlDenied::HostDenied(host));
            }
            // A name spelled like an IP address that the parser kept as a
            // name still must not slip through: `http://2130706433../` keeps
            // `2130706433..` as a name (two empty labels), but once its
            // trailing dots go it is 127.0.0.1 to the WHATWG parser and to
            // the system resolver alike (found by the url_policy fuzzer).
            if let Some(ip) = host_as_ip(&host) {
                self.check_address(&host, port, ip)?;
            }
        }
        Ok(allowed)
    }

    /// Check a host and port given without a URL (an HTTP CONNECT target),
    /// as if it were `scheme://host:port/`.
    ///
    /// # Errors
    /// [`UrlDenied`] saying why.
    pub fn check_authority(&self, scheme: &str, authority: &str) -> Result<AllowedUrl, UrlDenied> {
        if authority.is_empty() || authority.contains(['/', '@', '?', '#', '\\', ' ']) {
            return Err(UrlDenied::Invalid(format!("bad authority {authority:?}")));
        }
        self.check(&format!("{scheme}://{authority}/"))
    }

    /// Check one resolved (or literal) address for `host:port`.
    ///
    /// # Errors
    /// [`UrlDenied::Address`] when the address is in a blocked class and no
    /// `allow_private` entry opens it.
    pub fn check_address(&self, host: &str, port: u16, address: IpAddr) -> Result<(), UrlDenied> {
        let Some(class) = blocked_class(address) else {
            return Ok(());
        };
        if self.doors().any(|door| door.opens(host, port, address)) {
            return Ok(());
        }
        Err(UrlDenied::Address {
            host: host.to_string(),
            address,
            class,
        })
    }

    /// Check every resolved address of `url`; all must pass, since a
    /// connection may use any of them.
    ///
    /// # Errors
    /// The first refused address, or [`UrlDenied::Resolve`] when there is
    /// none.
    pub fn check_resolved(
        &self,
        url: &AllowedUrl,
        addresses: &[IpAddr],
    ) -> Result<Vec<SocketAddr>, UrlDenied> {
        if addresses.is_empty() {
            return Err(UrlDenied::Resolve(url.host()));
        }
        let host = url.host();
        let port = url.port();
        let mut checked = Vec::with_capacity(addresses.len());
        for &address in addresses {
            self.check_address(&host, port, address)?;
            let socket = SocketAddr::new(address, port);
            if !checked.contains(&socket) {
                checked.push(socket);
            }
        }
        Ok(checked)
    }

    /// Resolve `url`'s host once and check every address. Connect only to
    /// the addresses returned.
    ///
    /// # Errors
    /// [`UrlDenied::Resolve`] when DNS fails or times out, or the first
    /// refused address.
    ///
    /// # Security
    /// The returned addresses are the only ones checked: resolving the name
    /// again to connect would reopen the DNS-rebinding hole.
    pub async fn resolve(&self, url: &AllowedUrl) -> Result<Vec<SocketAddr>, UrlDenied> {
        if let Some(ip) = url.ip() {
            return self.check_resolved(url, &[ip]);
        }
        let host = url.host();
        #[expect(
            clippy::disallowed_methods,
            reason = "the one name lookup: its answer is checked here and is the only one a connection may use"
        )]
        let lookup = tokio::net::lookup_host((host.as_str(), url.port()));
        let found = tokio::time::timeout(DNS_TIMEOUT, lookup).await;
        let addresses: Vec<IpAddr> = match found {
            Ok(Ok(found)) => found.map(|socket| socket.ip()).collect(),
            Ok(Err(_)) | Err(_) => Vec::new(),
        };
        self.check_resolved(url, &addresses)
    }

    /// The policy for one endpoint the operator named (a search provider,
    /// a JWKS URL), with that endpoint checked: every blocked range stays
    /// blocked except the URL's own host and port, which are opened by name
    /// (an internal SearXNG or identity provider is the usual case).
    ///
    /// # Errors
    /// [`UrlDenied`] when `url` is not an http(s) URL without credentials.
    ///
    /// # Security
    /// The opening is for that host and port only: a redirect or a second
    /// URL to any other private destination is still refused.
    pub fn operator_endpoint(url: &str) -> Result<(Self, AllowedUrl), UrlDenied> {
        let parsed =
            Url::parse(url.trim()).map_err(|error| UrlDenied::Invalid(error.to_string()))?;
        let port = parsed.port_or_known_default().unwrap_or(80);
        let door = match parsed.host() {
            Some(Host::Ipv6(ip)) => format!("[{ip}]:{port}"),
            _ => format!("{}:{port}", host_string(&parsed)),
        };
        let policy = Self {
            allow_private: vec![door],
            ..Self::default()
        };
        let allowed = policy.check(url)?;
        Ok((policy, allowed))
    }

    fn doors(&self) -> impl Iterator<Item = PrivateDoor> + '_ {
        self.allow_private
            .iter()
            .filter_map(|entry| PrivateDoor::parse(entry).ok())
    }
}

/// The URL's host as a plain string: lowercase, no brackets, no trailing
/// dots.
fn host_string(url: &Url) -> String {
    match url.host() {
        Some(Host::Domain(name)) => normalize_name(name),
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) => ip.to_string(),
        None => String::new(),
    }
}

/// `host` read as an IP address in any notation `std` or the WHATWG host
/// parser accepts (decimal, octal, hex, shortened IPv4; IPv6).
fn host_as_ip(host: &str) -> Option<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ip);
    }
    match Url::parse(&format!("http://{host}/")).ok()?.host()? {
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        Host::Domain(_) => None,
    }
}

fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `example.com` matches exactly; `.example.com` and `*.example.com` match
/// subdomains.
fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = normalize_name(pattern);
    if let Some(suffix) = pattern
        .strip_prefix("*.")
        .or_else(|| pattern.strip_prefix('.'))
    {
        return host.len() > suffix.len()
            && host.ends_with(suffix)
            && host.as_bytes()[host.len() - suffix.len() - 1] == b'.';
    }
    host == pattern
}

fn is_denied_name(host: &str) -> bool {
    DENIED_NAMES.contains(&host) || DENIED_SUFFIXES.iter().any(|suffix| host.ends_with(suffix))
}

/// The blocked class `address` falls in, or `None` for a public address.
pub fn blocked_class(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(ip) => blocked_v4(ip),
        IpAddr::V6(ip) => blocked_v6(ip),
    }
}

fn in_v4(ip: Ipv4Addr, network: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(network)) & mask
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    /// IANA special-purpose IPv4 ranges (RFC 6890 and successors) that must
    /// never be reached from a model's URL.
    const TABLE: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "unspecified (this-network)"),
        ([10, 0, 0, 0], 8, "private"),
        ([100, 64, 0, 0], 10, "carrier-grade NAT"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([169, 254, 0, 0], 16, "link-local (cloud metadata)"),
        ([172, 16, 0, 0], 12, "private"),
        ([192, 0, 0, 0], 24, "IETF protocol assignment"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([192, 88, 99, 0], 24, "6to4 relay"),
        ([192, 168, 0, 0], 16, "private"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([240, 0, 0, 0], 4, "reserved (or broadcast)"),
    ];
    TABLE
        .iter()
        .find(|(network, prefix, _)| in_v4(ip, *network, *prefix))
        .map(|(_, _, class)| *class)
}

fn in_v6(ip: Ipv6Addr, network: Ipv6Addr, prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    u128::from(ip) & mask == u128::from(network) & mask
}

fn blocked_v6(ip: Ipv6Addr) -> Option<&'static str> {
    /// Special-purpose ranges inside 2000::/3 (RFC 6890, RFC 9637).
    const TABLE: &[([u16; 8], u32, &str)] = &[
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            23,
            "IETF special-purpose IPv6 (Teredo, benchmarking)",
        ),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation IPv6"),
        ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4 IPv6"),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation IPv6"),
    ];
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if ip.to_ipv4_mapped().is_some() {
        return Some("IPv4-mapped IPv6");
    }
    let segments = ip.segments();
    if segments[..6] == [0; 6] {
        return Some("IPv4-compatible IPv6");
    }
    if in_v6(ip, Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96)
        || in_v6(ip, Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48)
    {
        return Some("NAT64 IPv6");
    }
    if ip.is_multicast() {
        return Some("multicast");
    }
    if in_v6(ip, Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7) {
        return Some("unique-local IPv6 (cloud metadata)");
    }
    if in_v6(ip, Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10) {
        return Some("link-local IPv6");
    }
    if in_v6(ip, Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10) {
        return Some("site-local IPv6");
    }
    // Everything outside global unicast 2000::/3 is special or unassigned.
    if !in_v6(ip, Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3) {
        return Some("non-global IPv6");
    }
    TABLE
        .iter()
        .find(|(network, prefix, _)| in_v6(ip, Ipv6Addr::from(*network), *prefix))
        .map(|(_, _, class)| *class)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> UrlPolicy {
        UrlPolicy::default()
    }

    /// Hostile URLs, each refused by `check` alone: no DNS, no connection.
    const HOSTILE: &[&str] = &[
        // schemes
        "file:///etc/passwd",
        "ftp://example.com/",
        "gopher://127.0.0.1:25/",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ws://example.com/",
        "chrome://settings",
        "view-source:http://example.com/",
        // loopback in every notation
        "http://127.0.0.1/",
        "http://127.1/",
        "http://127.0.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0x7f.0x0.0x0.0x1/",
        "http://0177.0.0.1/",
        "http://017700000001/",
        "http://0177.1/",
        "http://127.0.0.1./",
        "http://127.000.000.001/",
        "http://127.255.255.254:8080/",
        "http://[::1]/",
        "http://[0:0:0:0:0:0:0:1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::127.0.0.1]/",
        "http://[64:ff9b::127.0.0.1]/",
        "http://[64:ff9b:1::a00:1]/",
        "http://localhost/",
        "http://LOCALHOST./",
        "http://localhost:22/",
        "http://foo.localhost/",
        "http://ip6-localhost/",
        // unspecified
        "http://0.0.0.0/",
        "http://0/",
        "http://[::]/",
        // private, CGNAT, link-local, metadata
        "http://10.0.0.1/",
        "http://012.0.0.1/",
        "http://167772161/",
        "http://172.16.0.1/",
        "http://172.31.255.255/",
        "http://192.168.1.1/",
        "http://0xc0a80101/",
        "http://100.64.0.1/",
        "http://100.100.100.200/latest/meta-data",
        "http://169.254.169.254/latest/meta-data/",
        "http://0xa9fea9fe/",
        "http://2852039166/",
        "http://0251.0376.0251.0376/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://metadata/",
        "http://192.0.0.192/",
        // IPv6 special ranges
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[fec0::1]/",
        "http://[ff02::1]/",
        "http://[2001:db8::1]/",
        "http://[2002:7f00:1::]/",
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
        "http://[100::1]/",
        // multicast, broadcast, reserved, documentation
        "http://224.0.0.1/",
        "http://239.255.255.250/",
        "http://255.255.255.255/",
        "http://240.0.0.1/",
        "http://192.0.2.1/",
        "http://198.18.0.1/",
        // userinfo tricks
        "http://example.com@127.0.0.1/",
        "http://user:pass@example.com/",
        "http://example.com:80@169.254.169.254/",
        "http://%6c%6f%63%61%6c%68%6f%73%74/",
        // garbage
        "http:///",
        "not a url",
        "",
    ];

    /// Every hostile URL in the table is refused before any connection.
    #[test]
    fn hostile_urls_are_refused() {
        assert!(HOSTILE.len() >= 50, "table has {} rows", HOSTILE.len());
        let policy = policy();
        for url in HOSTILE {
            assert!(
                policy.check(url).is_err(),
                "{url} was allowed: {:?}",
                policy.check(url)
            );
        }
    }

    /// The numeric notations are normalised, and the message names the class.
    #[test]
    fn notations_name_the_class() {
        let error = policy().check("http://0x7f.1/").expect_err("loopback");
        assert_eq!(
            error.to_string(),
            "127.0.0.1 is blocked: 127.0.0.1 is a loopback address"
        );
        let error = policy().check("http://2852039166/").expect_err("metadata");
        assert!(error.to_string().contains("link-local"), "{error}");
    }

    /// Ordinary public URLs pass.
    #[test]
    fn public_urls_pass() {
        for url in [
            "https://example.com/",
            "http://example.com:8080/a?b=c#d",
            "https://93.184.215.14/",
            "http://[2606:2800:21f:cb07:6820:80da:af6b:bdb1]/",
            "https://EXAMPLE.com./path",
        ] {
            policy()
                .check(url)
                .unwrap_or_else(|error| panic!("{url}: {error}"));
        }
        let allowed = policy()
            .check("https://EXAMPLE.com./path")
            .expect("allowed");
        assert_eq!(allowed.host(), "example.com");
        assert_eq!(allowed.port(), 443);
    }

    /// A name is refused when any one of its addresses is private: DNS
    /// answers are checked whole, so round-robin tricks do not help.
    #[test]
    fn resolved_addresses_are_all_checked() {
        let policy = policy();
        let url = policy.check("http://rebind.example/").expect("name passes");
        let public: IpAddr = "93.184.215.14".parse().expect("ip");
        let private: IpAddr = "10.0.0.5".parse().expect("ip");
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().expect("ip");
        assert!(policy.check_resolved(&url, &[public]).is_ok());
        assert!(policy.check_resolved(&url, &[public, private]).is_err());
        assert!(policy.check_resolved(&url, &[mapped]).is_err());
        assert!(policy.check_resolved(&url, &[]).is_err());
        let checked = policy
            .check_resolved(&url, &[public, public])
            .expect("public");
        assert_eq!(checked, vec![SocketAddr::new(public, 80)]);
    }

    /// `allow_private` opens exactly what it names: that address, on that
    /// port.
    #[test]
    fn allow_private_opens_only_its_entry() {
        let policy = UrlPolicy {
            allow_private: vec![
                "127.0.0.1:8080".into(),
                "wiki.corp".into(),
                "[::1]:99".into(),
            ],
            ..UrlPolicy::default()
        };
        assert!(policy.check("http://127.0.0.1:8080/").is_ok());
        assert!(policy.check("http://127.1:8080/").is_ok());
        assert!(policy.check("http://127.0.0.1:8081/").is_err());
        assert!(policy.check("http://127.0.0.2:8080/").is_err());
        assert!(policy.check("http://[::1]:99/").is_ok());
        assert!(policy.check("http://[::1]:98/").is_err());
        let url = policy.check("http://wiki.corp/").expect("name");
        assert!(
            policy
                .check_resolved(&url, &["10.9.9.9".parse().expect("ip")])
                .is_ok()
        );
        let other = policy.check("http://other.corp/").expect("name");
        assert!(
            policy
                .check_resolved(&other, &["10.9.9.9".parse().expect("ip")])
                .is_err()
        );
    }

    /// Allow and deny lists match exactly or by `.suffix`.
    #[test]
    fn host_lists_match_exact_and_suffix() {
        let policy = UrlPolicy {
            allow_hosts: vec!["example.com".into(), "*.docs.rs".into()],
            deny_hosts: vec![".bad.example.com".into()],
            ..UrlPolicy::default()
        };
        assert!(policy.check("https://example.com/").is_ok());
        assert!(policy.check("https://a.docs.rs/").is_ok());
        assert!(policy.check("https://docs.rs/").is_err());
        assert!(policy.check("https://evildocs.rs/").is_err());
        assert!(policy.check("https://www.example.com/").is_err());
        let denied = UrlPolicy {
            deny_hosts: vec![".bad.example.com".into()],
            ..UrlPolicy::default()
        };
        assert!(matches!(
            denied.check("https://x.bad.example.com/"),
            Err(UrlDenied::HostDenied(_))
        ));
        assert!(denied.check("https://bad.example.com/").is_ok());
    }

    /// CONNECT targets go through the same check.
    #[test]
    fn authorities_are_checked() {
        let policy = policy();
        assert!(policy.check_authority("https", "example.com:443").is_ok());
        assert!(policy.check_authority("https", "127.0.0.1:443").is_err());
        assert!(policy.check_authority("https", "[::1]:443").is_err());
        assert!(
            policy
                .check_authority("https", "example.com@127.0.0.1:443")
                .is_err()
        );
        assert!(
            policy
                .check_authority("https", "example.com/@127.0.0.1")
                .is_err()
        );
    }

    /// Regression (url_policy fuzzer): a numeric host with two or more
    /// trailing dots is kept as a name by the WHATWG parser, and becomes an
    /// address once the dots are trimmed; `check` refuses it.
    #[test]
    fn numeric_host_with_trailing_dots_is_refused() {
        let policy = policy();
        for url in [
            "http://717../",
            "http://2130706433../",
            "http://0x7f000001.../",
            "http://0177.0.0.1../",
            "http://169.254.169.254../",
        ] {
            assert!(
                matches!(policy.check(url), Err(UrlDenied::Address { .. })),
                "{url}: {:?}",
                policy.check(url)
            );
        }
        assert!(policy.check("http://93.184.215.14../").is_ok());
    }

    /// An operator-named endpoint opens its own host and port, even on a
    /// refused address, and nothing else; unnamed, the same URL is refused.
    #[test]
    fn operator_endpoint_opens_only_its_own_host_and_port() {
        let (named, url) =
            UrlPolicy::operator_endpoint("http://127.0.0.1:8080/search").expect("named");
        assert_eq!(url.port(), 8080);
        assert!(policy().check("http://127.0.0.1:8080/search").is_err());
        assert!(named.check("http://127.0.0.1:8081/").is_err());
        assert!(named.check("http://10.0.0.1:8080/").is_err());
        let (named, url) = UrlPolicy::operator_endpoint("https://searxng.corp/").expect("named");
        let private: IpAddr = "10.1.2.3".parse().expect("ip");
        assert!(named.check_resolved(&url, &[private]).is_ok());
        let other = named.check("https://other.corp/").expect("name passes");
        assert!(named.check_resolved(&other, &[private]).is_err());
        let (named, url) = UrlPolicy::operator_endpoint("http://[::1]:99/jwks").expect("v6");
        assert!(
            named
                .check_resolved(&url, &["::1".parse().expect("ip")])
                .is_ok()
        );
        for bad in ["ftp://example.com/", "http://u:p@example.com/", "not a url"] {
            assert!(UrlPolicy::operator_endpoint(bad).is_err(), "{bad}");
        }
    }

    /// Bad `allow_private` entries are refused when the policy loads.
    #[test]
    fn bad_entries_fail_validation() {
        let policy = UrlPolicy {
            allow_private: vec!["host:port".into()],
            ..UrlPolicy::default()
        };
        assert!(policy.validate(Path::new("p.toml"), "").is_err());
        let policy = UrlPolicy {
            deny_hosts: vec!["http://x/".into()],
            ..UrlPolicy::default()
        };
        assert!(policy.validate(Path::new("p.toml"), "").is_err());
    }
}
