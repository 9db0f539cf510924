//! The local site the scrapers read, on 127.0.0.1 only: a static article
//! (the 23 KB page of moat-scrape's own bench, included from there, not
//! copied) and a page whose text only exists once its script has run.
//! Served by the e2e harness's fake server (`moat_tests::fake_sites`).

use moat_tests::fake_sites::{FakeServer, Hit, Reply};

/// The static article: ~23 KB of HTML, 119 paragraphs.
const ARTICLE: &str = include_str!("../../../servers/scrape/benches/article.html");

/// A page built by its script as soon as it loads (no timer, so the time
/// measured is the scraper's, not the page's). The marker is assembled by
/// the script, so a scraper that does not run scripts cannot find it.
const SCRIPTED: &str = "<!DOCTYPE html><html><head><title>App</title></head><body>\
    <div id=\"root\"></div><script>\
    var words = []; for (var i = 0; i < 300; i++) { words.push('word' + i); }\
    document.getElementById('root').innerHTML = '<h1>' + 'BUILT-BY-' + 'JAVASCRIPT' + '</h1><p>' + words.join(' ') + '</p>';\
    </script></body></html>";

/// Start the site; it stops when the returned server is dropped.
pub async fn start() -> FakeServer {
    FakeServer::start(
        |hit: &Hit| match hit.target.split('?').next().unwrap_or_default() {
            "/article" => Reply::ok("text/html; charset=utf-8", ARTICLE),
            "/spa" => Reply::ok("text/html; charset=utf-8", SCRIPTED),
            _ => Reply::not_found(),
        },
    )
    .await
}
