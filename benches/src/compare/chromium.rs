//! The bare chromiumoxide scraper the JavaScript-page row is measured
//! against (issue 15's goal: a warm moat-scrape within 1.3× of it). One
//! headless Chromium, launched before timing with moat-scrape's quiet
//! flags (no idle tab, no spare renderer), and per run what a minimal
//! chromiumoxide scraper does per URL: open a tab at the URL, wait for the
//! navigation, read the HTML, close the tab. It has none of what moat adds
//! (the egress proxy and its policy, a browser context per call, the settle
//! wait, text extraction): the ratio is the price of those. Its answer is
//! checked like the servers': the script-built text must be in the HTML.
//! It only reads the local site, and never times a browser that is not
//! there: that is reported as not found.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use chromiumoxide::{Browser, BrowserConfig};
use futures::StreamExt;

use crate::{
    Timed,
    workload::{self, Workload},
};

/// The workload it is the equivalent of.
pub const WORKLOAD: &str = "spa";

/// What one run does, as the report shows it.
pub const SHOWN: &str = "chromiumoxide new_page(URL), wait_for_navigation(), content(), close()";

/// Where Debian puts Chromium, as moat-scrape looks for it; `$CHROME`
/// overrides both.
const DEFAULT_CHROME: &str = "/usr/bin/chromium";

/// How long Chromium may take to start and print its DevTools address:
/// ~0.3 s measured, a few seconds on a loaded machine.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(15);

/// The Chromium to launch: `$CHROME`, else Debian's.
fn chrome() -> PathBuf {
    std::env::var_os("CHROME").map_or_else(|| DEFAULT_CHROME.into(), PathBuf::from)
}

/// Why it cannot run here (no Chromium), if so.
pub fn missing() -> Option<String> {
    let chrome = chrome();
    (!chrome.is_file()).then(|| format!("Chromium not found at {}", chrome.display()))
}

/// A running headless Chromium driven by chromiumoxide.
pub struct Bare {
    browser: Browser,
    /// Its profile folder, removed when dropped (after the browser exits).
    _profile: tempfile::TempDir,
}

impl Bare {
    /// Launch Chromium in a fresh temp profile. Err when it does not start.
    pub async fn launch() -> Result<Self> {
        let profile = tempfile::Builder::new()
            .prefix("moat-compare-chromium-")
            .tempdir()?;
        let mut builder = BrowserConfig::builder()
            .chrome_executable(chrome())
            .user_data_dir(profile.path())
            .no_sandbox()
            .launch_timeout(LAUNCH_TIMEOUT);
        // moat-scrape's flags less its egress ones (the proxy and the
        // host-resolver rule), which are moat's policy and so part of what
        // is priced.
        for flag in moat_scrape::browser::QUIET_CHROME_FLAGS {
            builder = builder.arg(*flag);
        }
        let config = builder.build().map_err(anyhow::Error::msg)?;
        let (mut browser, mut handler) =
            Browser::launch(config).await.context("launch Chromium")?;
        // chromiumoxide drives the DevTools connection only while its
        // handler is polled.
        tokio::spawn(async move { while handler.next().await.is_some() {} });
        // It reads Chromium's stderr only until the DevTools address; the
        // rest is drained, or a chatty Chromium blocks on a full pipe.
        if let Some(mut stderr) = browser
            .get_mut_child()
            .and_then(|child| child.as_mut_inner().stderr.take())
        {
            tokio::spawn(async move { tokio::io::copy(&mut stderr, &mut tokio::io::sink()).await });
        }
        Ok(Self {
            browser,
            _profile: profile,
        })
    }

    /// One run on a fresh URL of `workload`'s page on `site`: the time from
    /// opening the tab to its close, and the check of the HTML read. Err
    /// when a step failed or the whole ran past `deadline`.
    pub async fn once(&self, workload: &Workload, site: &str, deadline: Duration) -> Result<Timed> {
        let url = workload::page_url(workload, site);
        let began = Instant::now();
        let html = tokio::time::timeout(deadline, async {
            let page = self.browser.new_page(url).await.context("new_page")?;
            page.wait_for_navigation()
                .await
                .context("wait_for_navigation")?;
            let html = page.content().await.context("content")?;
            page.close().await.context("close the page")?;
            anyhow::Ok(html)
        })
        .await
        .with_context(|| format!("chromiumoxide ran past {} s", deadline.as_secs()))??;
        let took = began.elapsed();
        let verdict =
            workload::check(workload, &html).map(|_| format!("{} KiB of HTML", html.len() / 1024));
        Ok((took, verdict))
    }

    /// Close the browser and wait for it to exit (killed if it will not).
    pub async fn close(mut self) {
        if self.browser.close().await.is_err() {
            let _ = self.browser.kill().await;
        }
        let _ = self.browser.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::WORKLOADS;

    /// The row it is held against is a scrape workload the servers run,
    /// so a run that measures the JavaScript page measures it too.
    #[test]
    fn its_workload_is_the_javascript_page() {
        let workload = WORKLOADS.iter().find(|workload| workload.id == WORKLOAD);
        assert_eq!(
            workload.map(|workload| (workload.kind, workload.concurrency)),
            Some((workload::Kind::Scrape, 1))
        );
    }
}
