//! Plain-HTTP fetching behind the URL policy.
//!
//! Its job: GET an [`AllowedUrl`], following redirects by hand (each hop is
//! checked again), with a connect timeout, a total timeout and a streamed
//! body cap. It must never connect to an address the policy did not check:
//! every hop asks [`net::pinned_client`] for a client, which resolves the
//! hop once through [`UrlPolicy::resolve`] and hands out a client that can
//! only connect to those addresses (one kept from an earlier hop to the
//! very same addresses, or a new one), so a second DNS answer (rebinding)
//! is never asked for.
//!
//! Two more duties: each hop carries the headers and cookies the policy
//! declares for that hop's exact host (so a redirect to another host gets
//! none of them), and when the operator set an upstream proxy every hop
//! goes through moat's own egress proxy on loopback, which checks the hop
//! again and asks the upstream for the checked address.

use std::{sync::Arc, time::Duration};

use moat_shared::{
    net::{self, ClientSettings, LocalProxy, NetError, Outbound},
    policy::{AllowedUrl, UrlPolicy},
};
use reqwest::{StatusCode, header};

use crate::{
    egress::{LazyEgress, REFUSAL_HEADER, REFUSAL_MARKER},
    error::ScrapeError,
    extract::{self, Kind},
    pdf,
    politeness::Politeness,
};

/// What the fetcher may do.
#[derive(Debug, Clone)]
pub struct FetchLimits {
    /// Largest body read; past it the body is cut.
    pub max_body_bytes: usize,
    /// TCP/TLS connect timeout per hop.
    pub connect_timeout: Duration,
    /// The whole fetch, all hops included.
    pub total_timeout: Duration,
    /// Redirects followed.
    pub max_redirects: usize,
    /// User-Agent header.
    pub user_agent: String,
}

/// A fetched response.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Where the last hop went.
    pub final_url: AllowedUrl,
    /// Its status.
    pub status: u16,
    /// Its Content-Type header.
    pub content_type: Option<String>,
    /// The body, at most `max_body_bytes`.
    pub body: Vec<u8>,
    /// True when the body was cut at the cap.
    pub truncated: bool,
    /// HTML or text (only when gating was asked for and it is not a PDF).
    pub kind: Option<Kind>,
    /// True when gating found a PDF (its body is kept as bytes for
    /// [`crate::pdf`]).
    pub pdf: bool,
}

/// GETs pages behind the URL policy.
#[derive(Debug, Clone)]
pub struct Fetcher {
    policy: Arc<UrlPolicy>,
    limits: FetchLimits,
    /// Per-host limits: every hop waits for a turn at its host.
    politeness: Option<Arc<Politeness>>,
    outbound: Arc<Outbound>,
    /// The loopback egress proxy every hop goes through when an upstream
    /// proxy is set; started by the first fetch.
    egress: LazyEgress,
}

impl Fetcher {
    /// A fetcher that checks every hop against `policy`.
    pub fn new(policy: Arc<UrlPolicy>, limits: FetchLimits) -> Self {
        Self {
            policy,
            limits,
            politeness: None,
            outbound: Arc::default(),
            egress: LazyEgress::default(),
        }
    }

    /// This fetcher, taking a turn from `politeness` before every hop.
    #[must_use]
    pub fn with_politeness(mut self, politeness: Arc<Politeness>) -> Self {
        self.politeness = Some(politeness);
        self
    }

    /// The same fetcher with an upstream proxy and per-host headers.
    #[must_use]
    pub fn with_outbound(mut self, outbound: Arc<Outbound>) -> Self {
        self.outbound = outbound;
        self
    }

    /// The loopback egress proxy, when an upstream proxy is set.
    async fn via(&self) -> Result<Option<&LocalProxy>, ScrapeError> {
        self.egress
            .via(&self.policy, &self.outbound, self.limits.connect_timeout)
            .await
            .map_err(ScrapeError::Network)
    }

    /// The URL policy this fetcher applies.
    pub fn policy(&self) -> &Arc<UrlPolicy> {
        &self.policy
    }

    /// This fetcher without per-host turns (robots.txt: one request per
    /// origin per hour, which must not be refused as "unreachable", and so
    /// cached as a full disallow, because the host is busy).
    #[must_use]
    pub fn without_politeness(&self) -> Self {
        Self {
            politeness: None,
            ..self.clone()
        }
    }

    /// The limits.
    pub fn limits(&self) -> &FetchLimits {
        &self.limits
    }

    /// GET `url`, following redirects. With `gate`, a body that is neither
    /// text nor a PDF is refused as soon as its first bytes arrive.
    ///
    /// # Errors
    /// A policy denial (of the URL or of any redirect), a network failure, a
    /// timeout, too many redirects, or an unsupported content type.
    ///
    /// # Security
    /// Connects only to addresses returned by [`UrlPolicy::resolve`] for the
    /// hop's own URL.
    pub async fn get(&self, url: AllowedUrl, gate: bool) -> Result<Fetched, ScrapeError> {
        self.get_with(
            url,
            gate,
            self.limits.total_timeout,
            self.limits.max_body_bytes,
        )
        .await
    }

    /// [`Fetcher::get`] with its own total timeout and body cap (robots.txt).
    ///
    /// # Errors
    /// As [`Fetcher::get`].
    pub async fn get_with(
        &self,
        url: AllowedUrl,
        gate: bool,
        total: Duration,
        max_body_bytes: usize,
    ) -> Result<Fetched, ScrapeError> {
        tokio::time::timeout(total, self.follow(url, gate, max_body_bytes))
            .await
            .map_err(|_| ScrapeError::Timeout {
                what: "fetching the page",
                limit: total,
            })?
    }

    async fn follow(
        &self,
        mut url: AllowedUrl,
        gate: bool,
        max_body_bytes: usize,
    ) -> Result<Fetched, ScrapeError> {
        let mut redirects = 0;
        loop {
            // Held until this hop's body is read (or the hop redirects).
            let _turn = match &self.politeness {
                Some(politeness) => Some(politeness.turn(&url.host()).await?),
                None => None,
            };
            let response = self.one_hop(&url).await?;
            let status = response.status();
            if status.is_redirection()
                && status != StatusCode::NOT_MODIFIED
                && let Some(location) = response.headers().get(header::LOCATION)
            {
                if redirects >= self.limits.max_redirects {
                    return Err(ScrapeError::TooManyRedirects(self.limits.max_redirects));
                }
                redirects += 1;
                let location = location.to_str().map_err(|_| {
                    ScrapeError::Network("a redirect had an unreadable Location header".into())
                })?;
                let next = url.as_url().join(location).map_err(|_| {
                    ScrapeError::Network("a redirect had an invalid Location header".into())
                })?;
                url = self.policy.check(next.as_str()).map_err(|denied| {
                    ScrapeError::Network(format!("a redirect was refused: {denied}"))
                })?;
                continue;
            }
            return read_body(url, response, gate, max_body_bytes).await;
        }
    }

    async fn one_hop(&self, url: &AllowedUrl) -> Result<reqwest::Response, ScrapeError> {
        let settings = ClientSettings {
            connect_timeout: self.limits.connect_timeout,
            user_agent: self.limits.user_agent.clone(),
        };
        let via = self.via().await?;
        let client = net::pinned_client_via(&self.policy, url, &settings, via)
            .await
            .map_err(|error| match error {
                NetError::Denied(denied) => ScrapeError::Denied(denied),
                other => ScrapeError::Network(other.to_string()),
            })?;
        let response = client
            .get(url.as_str())
            .header(
                header::ACCEPT,
                "text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.8,*/*;q=0.5",
            )
            // Only this hop's exact host's declared headers: a redirect to
            // another host is a new hop and gets its own (none).
            .headers(self.outbound.headers_for(url.as_url()))
            .send()
            .await
            .map_err(|error| ScrapeError::Network(describe(url, &error)))?;
        if via.is_some() && response.headers().contains_key(REFUSAL_HEADER) {
            // The egress proxy's own refusal (a rebinding answer, or the
            // upstream proxy unreachable or refusing): one line from it.
            let text = response.text().await.unwrap_or_default();
            let reason = text
                .trim_start_matches(REFUSAL_MARKER)
                .trim_start_matches(':');
            return Err(ScrapeError::Network(format!(
                "the request could not leave: {}",
                reason.trim()
            )));
        }
        Ok(response)
    }
}

async fn read_body(
    url: AllowedUrl,
    mut response: reqwest::Response,
    gate: bool,
    max_body_bytes: usize,
) -> Result<Fetched, ScrapeError> {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let mut body: Vec<u8> = Vec::new();
    let mut kind = None;
    let mut pdf = false;
    let mut truncated = false;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| ScrapeError::Network(describe(&url, &error)))?
    {
        let room = max_body_bytes - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
        } else {
            body.extend_from_slice(&chunk);
        }
        if gate && kind.is_none() && !pdf {
            (kind, pdf) = gate_body(&url, content_type.as_deref(), &body)?;
        }
        if truncated {
            break;
        }
    }
    if gate && kind.is_none() && !pdf {
        (kind, pdf) = gate_body(&url, content_type.as_deref(), &body)?;
    }
    Ok(Fetched {
        final_url: url,
        status,
        content_type,
        body,
        truncated,
        kind,
        pdf,
    })
}

/// A PDF (by type, or by magic bytes or `.pdf` path under a generic type),
/// else what [`extract::classify`] says.
fn gate_body(
    url: &AllowedUrl,
    content_type: Option<&str>,
    head: &[u8],
) -> Result<(Option<Kind>, bool), ScrapeError> {
    if pdf::is_pdf(content_type, head, url.as_url().path()) {
        return Ok((None, true));
    }
    Ok((Some(extract::classify(content_type, head)?), false))
}

/// One line about a reqwest failure, without its error chain's noise.
fn describe(url: &AllowedUrl, error: &reqwest::Error) -> String {
    let what = if error.is_connect() {
        "could not connect to"
    } else if error.is_timeout() {
        "timed out talking to"
    } else if error.is_body() || error.is_decode() {
        "the response body failed from"
    } else {
        "the request failed for"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut root = String::new();
    while let Some(cause) = source {
        root = cause.to_string();
        source = cause.source();
    }
    if root.is_empty() {
        format!("{what} {}", url.host())
    } else {
        format!("{what} {}: {root}", url.host())
    }
}
