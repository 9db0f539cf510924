//! Main-content extraction on small hand-made pages, one per class of
//! page that went wrong: each test checks what is kept and what is dropped.
#![expect(
    clippy::format_collect,
    reason = "test pages are built from repeated fragments; clarity over allocations"
)]

use super::{Format, Pass, html_to_text};

/// A paragraph of real prose, long enough to count as content.
fn prose(topic: &str) -> String {
    format!(
        "<p>The {topic} was discussed at length by the council, which heard from residents, \
         engineers and the mayor before it voted, by a narrow margin, to fund the work.</p>"
    )
}

fn article(topic: &str, paragraphs: usize) -> String {
    (0..paragraphs)
        .map(|n| prose(&format!("{topic} {n}")))
        .collect()
}

/// `count` list items, each one link (`/{path}{n}`, text `{label} {n}`):
/// a menu or a list of related links.
fn link_items(path: &str, label: &str, count: usize) -> String {
    (0..count)
        .map(|n| format!("<li><a href=/{path}{n}>{label} {n}</a></li>"))
        .collect()
}

fn text_of(html: &str) -> super::Extracted {
    let base = url::Url::parse("https://news.example/2026/story.html").expect("base");
    html_to_text(html, Some(&base), None, Format::Text).expect("extracts")
}

fn assert_kept(text: &str, kept: &[&str], dropped: &[&str]) {
    for word in kept {
        assert!(text.contains(word), "{word:?} missing from:\n{text}");
    }
    for word in dropped {
        assert!(!text.contains(word), "{word:?} kept in:\n{text}");
    }
}

/// A whole page inside one `<form>` (ASP.NET) keeps its article; the menu
/// and footer inside the same form are dropped.
#[test]
fn form_wrapped_body_keeps_its_article() {
    let html = format!(
        "<html><body><form id=aspnetForm method=post>\
         <div class=top><ul><li><a href=/a>Alpha section</a></li><li><a href=/b>Beta section</a></li>\
         <li><a href=/c>Gamma section</a></li></ul></div>\
         <div id=story><h1>Bridge repair</h1>{}</div>\
         <div class=footer>Copyright Example Media</div></form></body></html>",
        article("bridge", 4)
    );
    let extracted = text_of(&html);
    assert_eq!(extracted.pass, Pass::Main);
    assert_kept(
        &extracted.text,
        &[
            "Bridge repair",
            "The bridge 0 was discussed",
            "The bridge 3",
        ],
        &["Alpha section", "Copyright Example Media"],
    );
}

/// An article inside a `<header>` element is kept; the header's menu is not.
#[test]
fn article_inside_a_header_is_kept() {
    let html = format!(
        "<html><body><header><nav><a href=/>Home</a> <a href=/news>News desk</a></nav>\
         <article><h1>Harbour plans</h1>{}</article></header>\
         <footer><a href=/imprint>Imprint</a></footer></body></html>",
        article("harbour", 3)
    );
    let extracted = text_of(&html);
    assert_kept(
        &extracted.text,
        &["Harbour plans", "The harbour 0", "The harbour 2"],
        &["News desk", "Imprint"],
    );
}

/// A "you may also like" box of teasers three times longer than the
/// article, with no class naming it, does not replace the article.
#[test]
fn related_posts_box_larger_than_the_article_is_dropped() {
    let teasers: String = (0..9)
        .map(|n| {
            format!(
                "<article><h3><a href=/story-{n}>Another story number {n} worth a click</a></h3>\
                 <p>A summary of story {n}, which tells readers what happened and why it matters \
                 to them, in two lines.</p></article>"
            )
        })
        .collect();
    let html = format!(
        "<html><body><article><h1>Library opens</h1>{}</article>\
         <section><h2>More stories</h2>{teasers}</section></body></html>",
        article("library", 3)
    );
    let extracted = text_of(&html);
    assert_kept(
        &extracted.text,
        &["Library opens", "The library 0", "The library 2"],
        &["Another story number", "A summary of story"],
    );
}

/// A mega-menu built from nested plain lists (no `<nav>`, no class) is
/// dropped; the article and its own list stay.
#[test]
fn list_built_mega_menu_without_nav_is_dropped() {
    let menu: String = (0..6)
        .map(|n| {
            let sub: String = (0..8)
                .map(|m| format!("<li><a href=/s{n}/{m}>Menu entry {n}.{m}</a></li>"))
                .collect();
            format!("<li><a href=/s{n}>Section {n}</a><ul>{sub}</ul></li>")
        })
        .collect();
    let html = format!(
        "<html><body><div><ul>{menu}</ul></div><div><h1>Garden tips</h1>{}\
         <ul><li>Water early in the morning</li><li>Mulch the beds</li></ul>{}</div></body></html>",
        article("garden", 2),
        prose("compost")
    );
    let extracted = text_of(&html);
    assert_kept(
        &extracted.text,
        &[
            "Garden tips",
            "The garden 1",
            "- Water early in the morning",
            "The compost",
        ],
        &["Menu entry", "Section 3"],
    );
}

/// A comment thread inside `<main>` is dropped, the article kept.
#[test]
fn comments_inside_main_are_dropped() {
    let comments: String = (0..5)
        .map(|n| {
            format!(
                "<li class=comment><p>Commenter {n} writes: I fully agree with everything the author \
                 says here, and I would add a long story about my own experience.</p></li>"
            )
        })
        .collect();
    let html = format!(
        "<html><body><main><article><h1>Tax reform</h1>{}</article>\
         <section id=comments><h2>5 responses</h2><ol>{comments}</ol></section></main></body></html>",
        article("tax", 2)
    );
    let extracted = text_of(&html);
    assert_kept(
        &extracted.text,
        &["Tax reform", "The tax 0", "The tax 1"],
        &["Commenter", "5 responses"],
    );
}

/// Soft hyphens and zero-width characters never reach the text, so words
/// match; non-breaking spaces become spaces.
#[test]
fn soft_hyphens_and_zero_width_characters_are_removed() {
    let html = format!(
        "<html><body><article><p>Die Ver\u{AD}siche\u{AD}rung zahlt\u{200B} nicht&nbsp;mehr.</p>{}</article></body></html>",
        article("insurance", 3)
    );
    let text = text_of(&html).text;
    assert_kept(
        &text,
        &["Die Versicherung zahlt nicht mehr."],
        &["\u{AD}", "\u{200B}", "\u{A0}"],
    );
}

/// A page with no main content (a short list of links and labels) still
/// returns its text, and says it came from a fallback pass.
#[test]
fn page_without_main_content_returns_its_text() {
    let html = "<html><body><div><a href=/one>First link</a> <a href=/two>Second link</a></div>\
        <div>Opening hours: 9 to 5</div></body></html>";
    let extracted = text_of(html);
    assert_ne!(extracted.pass, Pass::Main, "{}", extracted.text);
    assert_kept(
        &extracted.text,
        &["First link", "Second link", "Opening hours"],
        &[],
    );
}

/// A page whose text exists only inside a script asks for a browser and
/// never shows the script.
#[test]
fn text_only_in_a_script_needs_a_browser() {
    let html = "<html><body><div id=app></div><script>document.getElementById('app')\
        .textContent = 'Rendered by script';</script></body></html>";
    let extracted = text_of(html);
    assert!(extracted.needs_browser.is_some());
    assert_kept(
        &extracted.text,
        &[],
        &["Rendered by script", "getElementById"],
    );
}

const FORMATTED: &str = "<html><body><article><h1>Release notes</h1>\
    <p>Version 2 adds <a href=\"/docs/sync\">sync support</a> and fixes many bugs in the \
    importer, which users had reported over the last year.</p>\
    <h2>Changes</h2><ul><li>Faster start</li><li>Smaller files</li></ul>\
    <table><tr><th>Name</th><th>Size</th></tr><tr><td>core</td><td>12 KB</td></tr></table>\
    <pre><code>cargo install tool\ntool --help</code></pre>\
    <p>Thanks to everyone who tested the beta versions and sent detailed reports to us.</p>\
    </article></body></html>";

/// The text format has headings on their own lines, `- ` items, ` | `
/// cells and no link markup; Markdown has `#` headings, a table rule,
/// fenced code and inline absolute links.
#[test]
fn markdown_and_text_formats_of_the_same_page() {
    let base = url::Url::parse("https://tool.example/news/v2").expect("base");
    let text = html_to_text(FORMATTED, Some(&base), None, Format::Text)
        .expect("text")
        .text;
    assert_kept(
        &text,
        &[
            "Release notes\n\nVersion 2 adds sync support and fixes",
            "\n\nChanges\n\n- Faster start\n- Smaller files",
            "Name | Size\ncore | 12 KB",
            "cargo install tool\ntool --help",
        ],
        &["[", "](", "#", "```"],
    );
    let markdown = html_to_text(FORMATTED, Some(&base), None, Format::Markdown)
        .expect("markdown")
        .text;
    assert_kept(
        &markdown,
        &[
            "# Release notes",
            "[sync support](https://tool.example/docs/sync)",
            "## Changes\n\n- Faster start",
            "| Name | Size |\n| --- | --- |\n| core | 12 KB |",
            "```\ncargo install tool\ntool --help\n```",
        ],
        &["[1]"],
    );
}

/// Links inside the content come back absolute and once each; script,
/// mail and fragment-only links, and links outside the content, do not.
#[test]
fn links_are_absolute_deduplicated_and_from_the_content() {
    let html = format!(
        "<html><body><div class=menu><a href=/menu>Menu link</a></div><article>\
         <p>Read the <a href=\"report.pdf\">full report</a>, the <a href=\"report.pdf\">same report</a>, \
         <a href=\"javascript:void(0)\">a script</a>, <a href=\"mailto:a@b.example\">mail us</a> or \
         <a href=\"#top\">go up</a>, and <a href=\"https://other.example/x\">another site</a> for \
         the details of this long announcement.</p>{}</article></body></html>",
        article("budget", 2)
    );
    let extracted = text_of(&html);
    let links: Vec<(&str, &str)> = extracted
        .links
        .iter()
        .map(|link| (link.text.as_str(), link.url.as_str()))
        .collect();
    assert_eq!(
        links,
        [
            ("full report", "https://news.example/2026/report.pdf"),
            ("another site", "https://other.example/x"),
        ]
    );
}

/// However many links a page has, at most `MAX_LINKS` come back.
#[test]
fn links_are_bounded() {
    let many: String = (0..super::MAX_LINKS + 50)
        .map(|n| format!("word <a href=/l{n}>link {n}</a> and more words to keep this prose, "))
        .collect();
    let html = format!("<html><body><article><p>{many}</p></article></body></html>");
    assert_eq!(text_of(&html).links.len(), super::MAX_LINKS);
}

/// A long author box and a notice beside the article body, after it, in
/// the same wrapper, are the article's tail and are dropped; the title
/// before the body is kept.
#[test]
fn tail_after_the_article_body_is_dropped() {
    let html = format!(
        "<html><body><div class=wrap><h1>Dam inspection</h1>\
         <div class=text>{}</div>\
         <div class=bio><p>Jane Roe studied civil engineering before she joined the paper, \
         where she has covered transport, housing and the regional council for ten years.</p></div>\
         <div class=note><p>All rights reserved. Reproduction of this article, in whole or in part, \
         is not allowed without the written permission of the publisher.</p></div>\
         </div></body></html>",
        article("dam", 8)
    );
    let extracted = text_of(&html);
    assert_eq!(extracted.pass, Pass::Main);
    assert_kept(
        &extracted.text,
        &["Dam inspection", "The dam 0 was discussed", "The dam 7"],
        &["Jane Roe studied", "All rights reserved"],
    );
}

/// Teaser sentences and a tagline before the article's `<h1>`, in the
/// same wrapper, are left out; the title and the body are kept.
#[test]
fn text_before_the_title_heading_is_dropped() {
    let html = format!(
        "<html><body><div class=wrap>\
         <p>Insights from the newsroom on the council, the schools and the roads of the county.</p>\
         <h1>Tunnel opening</h1><div class=text>{}</div>\
         </div></body></html>",
        article("tunnel", 6)
    );
    let extracted = text_of(&html);
    assert_eq!(extracted.pass, Pass::Main);
    assert_kept(
        &extracted.text,
        &[
            "Tunnel opening",
            "The tunnel 0 was discussed",
            "The tunnel 5",
        ],
        &["Insights from the newsroom"],
    );
}

/// After most of the article, a long run of links (tags, related links)
/// ends it: a notice paragraph after that run is dropped, even though the
/// body is not one element the tail could be cut after.
#[test]
fn text_after_a_link_run_at_the_article_end_is_dropped() {
    let links: String = (0..8)
        .map(|n| format!("<p><a href=/tag/{n}>Regional transport topic {n}</a></p>"))
        .collect();
    let html = format!(
        "<html><body><div class=wrap><h1>Ferry timetable</h1>{}{links}\
         <p>Subscribe to our morning letter for the news of the county, delivered daily, free.</p>\
         </div></body></html>",
        article("ferry", 6)
    );
    let extracted = text_of(&html);
    assert_eq!(extracted.pass, Pass::Main);
    assert_kept(
        &extracted.text,
        &[
            "Ferry timetable",
            "The ferry 0 was discussed",
            "The ferry 5",
        ],
        &[
            "Regional transport topic",
            "Subscribe to our morning letter",
        ],
    );
}

/// An article beside a one-link `<nav>`: the article's links come back,
/// the menu's do not, and a link repeated with only a fragment (`#top`)
/// is listed once.
#[test]
fn article_links_leave_the_menu_out_and_ignore_fragments() {
    let page = format!(
        r#"<html><head><title>M</title></head><body><nav><a href="/nav-only">Nav link</a></nav><article><h1>Metadata Article</h1>
<p>This article links to <a href="/article">the static article</a> and to
<a href="https://example.org/elsewhere">an external page</a>, and again to
<a href="/article#top">the static article</a> once more, because a model reading it may want
to follow the references that the author gave while the council debated the budget.</p>{}</article></body></html>"#,
        article("links", 3)
    );
    let extracted = text_of(&page);
    assert_kept(
        &extracted.text,
        &["Metadata Article", "links 2"],
        &["Nav link"],
    );
    let urls: Vec<&str> = extracted
        .links
        .iter()
        .map(|link| link.url.as_str())
        .collect();
    assert_eq!(
        urls,
        [
            "https://news.example/article",
            "https://example.org/elsewhere"
        ],
        "{:?}",
        extracted.links
    );
}

/// Boxes of teasers between an article's paragraphs (a linked heading and
/// a short summary each) are dropped one by one; the article around them,
/// much longer than the boxes, is kept whole.
#[test]
fn teaser_boxes_inside_an_article_leave_the_article() {
    let teaser = |n: usize| {
        format!(
            "<div><h3><a href=/more-{n}>Read more about topic {n}</a></h3>\
             <p>Teaser summary {n}: the gist of another story, in a sentence.</p></div>"
        )
    };
    let html = format!(
        "<html><body><div class=copytext><h1>Podcast transcript</h1>{}{}{}{}{}{}{}</div></body></html>",
        article("first part", 4),
        teaser(1),
        article("second part", 4),
        teaser(2),
        article("third part", 4),
        teaser(3),
        article("last part", 2),
    );
    let extracted = text_of(&html);
    assert_eq!(extracted.pass, Pass::Main);
    assert_kept(
        &extracted.text,
        &[
            "Podcast transcript",
            "The first part 0",
            "The second part 3",
            "The last part 1",
        ],
        &["Read more about topic", "Teaser summary"],
    );
}

/// An article whose paragraphs sit beside a long recommendation widget in
/// one container is kept whole: the widget's text is left out when
/// rendering, so it must not make a single paragraph the better choice.
#[test]
fn paragraphs_beside_a_long_widget_are_kept_together() {
    let teasers: String = (0..40)
        .map(|n| {
            format!(
                "<div class=entry><a href=/s{n}>Story {n} in the series</a>\
                 <div>A recommended story number {n}</div></div>"
            )
        })
        .collect();
    let footer: String = (0..60)
        .map(|n| format!("<a href=/f{n}>Footer link {n}</a> "))
        .collect();
    let html = format!(
        "<html><body><div class=story><h1>Cocktail classics</h1>{}\
         <div class=\"widget chronicle\">{teasers}</div></div><footer>{footer}</footer></body></html>",
        (0..5)
            .map(|n| format!("<div>{0}{0}</div>", prose(&format!("drink {n}"))))
            .collect::<String>()
    );
    let extracted = text_of(&html);
    assert_kept(
        &extracted.text,
        &["Cocktail classics", "The drink 0", "The drink 4"],
        &["recommended story", "Story 7 in the series"],
    );
}

/// Class tokens naming the post's tags and categories (`tag-comments`,
/// `category-sidebar`) do not make the post furniture; a real tag box
/// (`tags`) still is.
#[test]
fn taxonomy_classes_do_not_hide_the_post() {
    let html = format!(
        "<html><body><div class=site><article class=\"post tag-comments tag-share category-sidebar\">\
         <h1>Election night</h1>{}<div class=tags><a href=/t/1>Politics</a> <a href=/t/2>Votes</a></div>\
         </article><div class=menu-list><a href=/a>Home page</a> <a href=/b>Archive page</a></div>\
         <div id=comments>{}</div><aside>{}</aside></div></body></html>",
        article("count", 4),
        article("reader comment", 3),
        (0..30)
            .map(|n| format!("<a href=/s{n}>Sidebar link {n}</a> "))
            .collect::<String>()
    );
    let extracted = text_of(&html);
    assert_eq!(extracted.pass, Pass::Main);
    assert_kept(
        &extracted.text,
        &["Election night", "The count 0", "The count 3"],
        &["Politics", "Home page", "reader comment", "Sidebar link"],
    );
}

/// Image captions (`<figcaption>`, a `caption` class) are left out with
/// the images they describe, which are never rendered; the paragraphs
/// around them stay.
#[test]
fn image_captions_are_dropped_with_their_images() {
    let html = format!(
        "<html><body><article><h1>Harbour at dawn</h1>{}\
         <figure><img src=/a.jpg><figcaption>Boats at the pier, photo: Jane Roe</figcaption></figure>{}\
         <div class=wp-caption><img src=/b.jpg><p class=wp-caption-text>The old crane, seen from the east</p></div>\
         {}</article></body></html>",
        prose("harbour"),
        prose("pier"),
        prose("crane")
    );
    let extracted = text_of(&html);
    assert_kept(
        &extracted.text,
        &["Harbour at dawn", "The harbour", "The pier", "The crane"],
        &[
            "Boats at the pier",
            "photo: Jane Roe",
            "The old crane, seen",
        ],
    );
}

/// A heading whose next block is a list of links ("More on this topic")
/// or that nothing follows is dropped with what it titles; a heading
/// over a paragraph stays.
#[test]
fn headings_over_links_or_nothing_are_dropped() {
    let links: String = (0..4)
        .map(|n| format!("<li><a href=/more/{n}>Another article on the river, part {n}</a></li>"))
        .collect();
    let html = format!(
        "<html><body><div class=post><h1>River cleanup</h1>{}<h2>Background</h2>{}\
         <h2>More on this topic</h2><ul>{links}</ul>{}<h3>Stay in touch</h3></div></body></html>",
        article("river", 3),
        prose("volunteer"),
        prose("council vote")
    );
    let extracted = text_of(&html);
    assert_kept(
        &extracted.text,
        &[
            "River cleanup",
            "Background",
            "The volunteer",
            "The council vote",
        ],
        &["More on this topic", "Another article", "Stay in touch"],
    );
}

/// A results table of short cells under one heading is not reduced to
/// that heading: the winner rendering too little climbs to the container
/// holding the table, while the page's menu stays out.
#[test]
fn short_winner_climbs_to_its_table() {
    let rows: String = (0..60)
        .map(|n| {
            format!("<tr><td>{n}.</td><td>Runner {n}</td><td>Club {n}</td><td>12,{n}</td></tr>")
        })
        .collect();
    let menu = link_items("m", "Menu link", 12);
    let html = format!(
        "<html><body><div class=top><ul>{menu}</ul></div>\
         <div class=entry><h3>Results of the regional championship for the under-fourteens, 20 May</h3>\
         <table>{rows}</table></div></body></html>"
    );
    let extracted = text_of(&html);
    assert_eq!(extracted.pass, Pass::Main, "{}", extracted.text);
    assert_kept(
        &extracted.text,
        &["Results of the regional", "Runner 0", "Club 59 | 12,59"],
        &["Menu link"],
    );
}

/// Short lines after the article that introduce what was left out
/// ("Read more:", a heading over a dropped list of links) are trimmed; a
/// closing sentence stays.
#[test]
fn trailing_labels_after_the_article_are_trimmed() {
    let related = link_items("r", "Related story", 6);
    let html = format!(
        "<html><body><article><h1>Ferry timetable</h1>{}<p>Thanks for reading!</p>\
         <p>Read more on this topic:</p><h3>Further information</h3><ul>{related}</ul>\
         </article></body></html>",
        article("ferry", 3)
    );
    let extracted = text_of(&html);
    assert_kept(
        &extracted.text,
        &["Ferry timetable", "The ferry 2", "Thanks for reading!"],
        &[
            "Read more on this topic",
            "Further information",
            "Related story",
        ],
    );
}

/// A lead paragraph beside the article's body (not inside the element
/// that wins) is kept, while the link list beside both is not.
#[test]
fn lead_paragraph_beside_the_body_is_kept() {
    let menu = link_items("t", "Topic link", 30);
    let html = format!(
        "<html><body><div><p>LEAD: the city will close the old harbour bridge for two years from \
         next spring, the transport office said on Monday evening.</p><div>{}</div>\
         <ul>{menu}</ul></div></body></html>",
        article("bridge works", 4)
    );
    let extracted = text_of(&html);
    assert_kept(
        &extracted.text,
        &["LEAD: the city", "The bridge works 0", "The bridge works 3"],
        &["Topic link"],
    );
}

/// The site's own notices after an article (a subscription pitch, a
/// follow-us line, a rights notice, in any of several languages) and a
/// photo credit line are dropped, while the article's closing sentence
/// that mentions a newsletter in passing stays.
#[test]
fn trailing_site_notices_and_credit_lines_are_dropped() {
    let html = format!(
        "<html><body><article><h1>Harbour reopens</h1>{}<p>Foto: Jane Roe</p>{}\
         <p>The harbour office said the change would be announced in its newsletter and on \
         the notice boards at the pier, where the ferry company also posts its timetable.</p>\
         <p>Subscribe now to our e-edition for the full story.</p>\
         <p>Síguenos en Telegram, Instagram y Twitter para recibir nuestras actualizaciones</p>\
         <p>© 2024 Harbour News. All rights reserved.</p></article></body></html>",
        article("harbour", 2),
        article("pier", 2)
    );
    let extracted = text_of(&html);
    assert_kept(
        &extracted.text,
        &[
            "Harbour reopens",
            "The harbour 1",
            "The pier 1",
            "announced in its newsletter",
        ],
        &[
            "Foto: Jane Roe",
            "Subscribe now",
            "Síguenos",
            "All rights reserved",
        ],
    );
}

/// A post's metadata bar under its title (date, categories, comment
/// count, separated by `|`) is dropped; the title and the article stay.
#[test]
fn dateline_bar_under_the_title_is_dropped() {
    let html = format!(
        "<html><body><article><h1>Porting the tool to Python 3</h1>\
         <p>January 13, 2020 at 08:45 AM | categories: Python | View Comments</p>{}\
         </article></body></html>",
        article("port", 3)
    );
    let extracted = text_of(&html);
    assert_kept(
        &extracted.text,
        &["Porting the tool to Python 3", "The port 0", "The port 2"],
        &["January 13, 2020", "View Comments"],
    );
}

/// A subheading followed by bare prose in its own parent (`<h2>..</h2><br>
/// text`, no `<p>`) is kept with that prose; a heading over a list of
/// related links is still dropped.
#[test]
fn heading_over_bare_text_in_its_parent_is_kept() {
    let bare = "The second part of the review covers the contracts, the domain law and the data \
                protection rules, each with the court decisions that shaped them over the years.";
    let html = format!(
        "<html><body><div class=review><h1>Internet law, reviewed</h1>{}\
         <h2>Structure and contents</h2><br>{bare}<br><br>\
         <h2>Related posts</h2><ul>{}</ul></div></body></html>",
        article("book", 3),
        link_items("post", "Another review", 6)
    );
    assert_kept(
        &text_of(&html).text,
        &["Structure and contents", "the domain law", "book 2"],
        &["Related posts", "Another review"],
    );
}

/// A subheading whose id is its anchor made from its first words, with a
/// generator's prefix and counter (`nav_how_the_bridge__1`), is not taken
/// for navigation by the `nav` in its id; a real navigation block is.
#[test]
fn heading_with_prefixed_truncated_anchor_id_is_kept() {
    let html = format!(
        "<html><body><div id=nav-menu><p>Home, sections and archive of the whole site.</p></div>\
         <article><h1>Bridge repair</h1>{}\
         <h3 id=nav_how_the_bridge__1>How the bridge was rebuilt</h3>{}</article></body></html>",
        article("bridge", 2),
        article("rebuild", 2)
    );
    assert_kept(
        &text_of(&html).text,
        &["How the bridge was rebuilt", "rebuild 1"],
        &["archive of the whole site"],
    );
}

/// An opinion piece in a container labelled `commentary` (the genre news
/// sites give their columns) is the article, not readers' comments; the
/// comment thread and the sidebar after it are still dropped.
#[test]
fn commentary_column_is_the_article() {
    let html = format!(
        "<html><body><div class=\"sect sect_article commentary\"><article><h1>Coal and banks</h1>{}</article></div>\
         <div id=comments><h3>What readers say</h3>{}</div><aside>{}</aside></body></html>",
        article("opinion", 3),
        article("reader remark", 2),
        article("sidebar teaser", 2)
    );
    let extracted = text_of(&html);
    assert_eq!(extracted.pass, Pass::Main);
    assert_kept(
        &extracted.text,
        &["opinion 2"],
        &["reader remark", "sidebar teaser"],
    );
}

/// A short post beside a column named `sidebar` whose widgets (recent
/// comments quoted in full) hold most of the page's text keeps the post:
/// that column is never taken for the frame around the article.
#[test]
fn sidebar_holding_most_text_is_not_the_article() {
    let html = format!(
        "<html><body><div id=wrapper><div id=content><div class=post><h2>Number two</h2>{}</div></div>\
         <div id=sidebar><h2>Latest comments</h2>{}</div></div></body></html>",
        article("newborn", 2),
        article("widget quote", 3)
    );
    assert_kept(&text_of(&html).text, &["newborn 1"], &["widget quote"]);
}

/// A modal (an age check, a lightbox, a sign-in popup: `class="dark-modal"`)
/// inside the article's container is furniture, whatever prose it holds.
#[test]
fn modal_inside_the_article_is_dropped() {
    let html = format!(
        "<html><body><div class=story><h1>Bridge repair</h1>{}\
         <div class=\"b-dialog dark-modal\"><h2>Check your age</h2><p>To watch programmes with an \
         age restriction at any time of day, you can now verify your age once in your account.</p></div>\
         </div></body></html>",
        article("bridge", 3)
    );
    assert_kept(
        &text_of(&html).text,
        &["bridge 2"],
        &["verify your age", "Check your age"],
    );
}

/// A list that opens the article (a recipe's ingredients) is kept whole
/// when only a later item reads as a sentence: the short items before it
/// are the same list, not short text above the article; a date line above
/// the list is still left out.
#[test]
fn short_items_before_the_first_sentence_of_a_list_are_kept() {
    let html = format!(
        "<html><body><div class=recipe><div class=byline>12 May</div><ul>\
         <li>1 whole chicken</li><li>2 tablespoons oil</li><li>1 teaspoon ground cinnamon</li>\
         <li>2 cups of long-grain rice, soaked in water for an hour and drained</li></ul>{}\
         </div></body></html>",
        article("method", 3)
    );
    assert_kept(
        &text_of(&html).text,
        &[
            "1 whole chicken",
            "2 tablespoons oil",
            "ground cinnamon",
            "method 2",
        ],
        &["12 May"],
    );
}

/// A list that closes the article (a summary of findings) is kept whole
/// when only an earlier item reads as a sentence: the short items after it
/// are the same list; a short line under the list is still left out.
#[test]
fn short_items_after_the_last_sentence_of_a_list_are_kept() {
    let html = format!(
        "<html><body><div class=post>{}<ul>\
         <li>Generators save memory only for large tuples, but are faster to iterate</li>\
         <li>Slotted classes save memory</li><li>Map is sometimes faster</li></ul>\
         <div class=footer-line>Posted in Python</div></div></body></html>",
        article("benchmark", 3)
    );
    assert_kept(
        &text_of(&html).text,
        &[
            "benchmark 2",
            "Slotted classes save memory",
            "Map is sometimes faster",
        ],
        &["Posted in Python"],
    );
}
