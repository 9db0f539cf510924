//! robots.txt (RFC 9309): fetched with its own short timeout through the
//! same policy-checked fetcher, cached per origin in the [`Store`] (shared
//! by a fleet's replicas), matched longest-rule-wins.
//!
//! It must never slow a call by more than its timeout, and never be fetched
//! from anywhere the URL policy refuses.

use std::{sync::Arc, time::Duration};

use moat_shared::policy::AllowedUrl;

use crate::{
    error::ScrapeError,
    fetcher::Fetcher,
    state::{Kind, Store},
};

/// Largest robots.txt read. RFC 9309 section 2.5: crawlers must parse at
/// least 500 KiB.
const MAX_ROBOTS_BYTES: usize = 512 * 1024;

/// How long a host's rules are reused before being fetched again.
const ROBOTS_TTL: Duration = Duration::from_secs(3600);

/// The product token matched against `User-agent:` lines.
pub const PRODUCT_TOKEN: &str = "moat-scrape";

/// The rules of the group that applies to us.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rules {
    /// `(allow, pattern)` pairs.
    rules: Vec<(bool, String)>,
    /// Everything disallowed (robots.txt unreachable, RFC 9309 2.3.1.4).
    deny_all: bool,
}

impl Rules {
    /// Parse robots.txt for `agent` (our product token): the group naming it,
    /// else the `*` group.
    pub fn parse(text: &str, agent: &str) -> Self {
        let agent = agent.to_ascii_lowercase();
        let mut specific: Vec<(bool, String)> = Vec::new();
        let mut generic: Vec<(bool, String)> = Vec::new();
        let mut found_specific = false;
        let mut current_agents: Vec<String> = Vec::new();
        let mut in_rules = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            match key.as_str() {
                "user-agent" => {
                    if in_rules {
                        current_agents.clear();
                        in_rules = false;
                    }
                    current_agents.push(value.to_ascii_lowercase());
                }
                "allow" | "disallow" => {
                    in_rules = true;
                    if value.is_empty() {
                        continue;
                    }
                    let rule = (key == "allow", value.to_string());
                    if current_agents
                        .iter()
                        .any(|name| agent.contains(name.as_str()) && name != "*")
                    {
                        found_specific = true;
                        specific.push(rule.clone());
                    }
                    if current_agents.iter().any(|name| name == "*") {
                        generic.push(rule);
                    }
                }
                _ => {}
            }
        }
        Self {
            rules: if found_specific { specific } else { generic },
            deny_all: false,
        }
    }

    /// Everything disallowed.
    pub fn deny_all() -> Self {
        Self {
            rules: Vec::new(),
            deny_all: true,
        }
    }

    /// Whether `path` (path and query) may be fetched: the longest matching
    /// rule wins, allow wins a tie, no match allows.
    pub fn allows(&self, path: &str) -> bool {
        if self.deny_all {
            return false;
        }
        if path == "/robots.txt" {
            return true;
        }
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in &self.rules {
            if matches(pattern, path) {
                let length = pattern.len();
                best = match best {
                    Some((best_length, best_allow))
                        if best_length > length || (best_length == length && best_allow) =>
                    {
                        Some((best_length, best_allow))
                    }
                    _ => Some((length, *allow)),
                };
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// Match a robots pattern (`*` any run, `$` end) against a path.
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(stripped) => (stripped, true),
        None => (pattern, false),
    };
    let pattern = pattern.as_bytes();
    let path = path.as_bytes();
    // reachable[j]: the pattern prefix consumed so far can end at path[..j].
    let mut reachable = vec![false; path.len() + 1];
    reachable[0] = true;
    for &symbol in pattern {
        if symbol == b'*' {
            for index in 1..=path.len() {
                reachable[index] |= reachable[index - 1];
            }
        } else {
            for index in (1..=path.len()).rev() {
                reachable[index] = reachable[index - 1] && path[index - 1] == symbol;
            }
            reachable[0] = false;
        }
    }
    if anchored {
        reachable[path.len()]
    } else {
        reachable.iter().any(|&ok| ok)
    }
}

/// Per-origin cache of rules.
#[derive(Debug)]
pub struct RobotsCache {
    store: Arc<Store>,
}

impl RobotsCache {
    /// Rules kept in `store`.
    pub fn new(store: Arc<Store>) -> Self {
        Self { store }
    }

    /// Refuse `url` when its origin's robots.txt disallows it.
    ///
    /// # Errors
    /// [`ScrapeError::Robots`] when disallowed.
    pub async fn check(
        &self,
        fetcher: &Fetcher,
        url: &AllowedUrl,
        timeout: Duration,
    ) -> Result<(), ScrapeError> {
        let origin = url.as_url().origin().ascii_serialization();
        let rules = self.rules(fetcher, &origin, timeout).await;
        let mut path = url.as_url().path().to_string();
        if let Some(query) = url.as_url().query() {
            path.push('?');
            path.push_str(query);
        }
        if rules.allows(&path) {
            Ok(())
        } else {
            Err(ScrapeError::Robots(origin))
        }
    }

    async fn rules(&self, fetcher: &Fetcher, origin: &str, timeout: Duration) -> Rules {
        if let Some(bytes) = self.store.get(Kind::Robots, origin).await
            && let Ok(rules) = serde_json::from_slice(&bytes)
        {
            return rules;
        }
        let rules = fetch_rules(fetcher, origin, timeout).await;
        if let Ok(bytes) = serde_json::to_vec(&rules) {
            self.store
                .put(Kind::Robots, origin, bytes, ROBOTS_TTL)
                .await;
        }
        rules
    }
}

/// RFC 9309 2.3.1: 2xx is parsed; 4xx means no rules; 5xx, network errors
/// and timeouts mean "unreachable", which is a complete disallow. A robots
/// URL the policy refuses counts as unavailable (no rules): the page
/// itself is checked separately.
async fn fetch_rules(fetcher: &Fetcher, origin: &str, timeout: Duration) -> Rules {
    let Ok(url) = fetcher.policy().check(&format!("{origin}/robots.txt")) else {
        return Rules::default();
    };
    match fetcher
        .without_politeness()
        .get_with(url, false, timeout, MAX_ROBOTS_BYTES)
        .await
    {
        Ok(response) if (200..300).contains(&response.status) => {
            Rules::parse(&String::from_utf8_lossy(&response.body), PRODUCT_TOKEN)
        }
        Ok(response) if (400..500).contains(&response.status) => Rules::default(),
        Err(ScrapeError::Denied(_)) => Rules::default(),
        Ok(_) | Err(_) => {
            tracing::info!(
                origin,
                "robots.txt unreachable; treating the site as disallowed (RFC 9309)"
            );
            Rules::deny_all()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Longest match wins, allow wins ties, our own group beats `*`.
    #[test]
    fn rules_match() {
        let text = "User-agent: *\nDisallow: /private\nAllow: /private/ok\nDisallow: /*.pdf$\n\n\
                    User-agent: otherbot\nDisallow: /\n";
        let rules = Rules::parse(text, PRODUCT_TOKEN);
        assert!(rules.allows("/"));
        assert!(!rules.allows("/private/x"));
        assert!(rules.allows("/private/ok/y"));
        assert!(!rules.allows("/a/b.pdf"));
        assert!(rules.allows("/a/b.pdf?x"));
        let ours = Rules::parse(
            "User-agent: *\nAllow: /\n\nUser-agent: moat-scrape\nDisallow: /\n",
            PRODUCT_TOKEN,
        );
        assert!(!ours.allows("/anything"));
        assert!(ours.allows("/robots.txt"));
        assert!(Rules::parse("", PRODUCT_TOKEN).allows("/x"));
        assert!(!Rules::deny_all().allows("/x"));
    }
}
