//! A compact copy of the parsed page for extraction: elements and text in
//! one arena (pre-order, so a parent always comes before its children),
//! with what the scoring needs read once (tag, class/id hints, href), and
//! per-node text statistics summed bottom-up.
//!
//! It must never copy invisible or executable content: `<script>`,
//! `<style>`, `<noscript>`, `<template>`, form controls, embedded objects
//! and elements marked hidden are left out here, so no later stage can
//! render them. Every walk is iterative: nesting depth is the page's choice.

use scraper::{Html, Node as HtmlNode, Selector};

/// Elements never copied: code, invisible content, embedded objects and
/// form controls (their text is labels and option lists, not content).
const SKIPPED: &[&str] = &[
    "head", "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object",
    "embed", "button", "select", "option", "input", "textarea", "dialog", "img", "picture",
    "video", "audio", "map", "math",
];

/// Elements that start a block of text: text inside them up to the next
/// such element belongs to one block for scoring and rendering.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "center",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "html",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
];

/// Class or id words (whole words of the attribute, split at anything
/// that is not a letter or digit) that mark page furniture: comments,
/// related-content boxes, share bars, cookie and newsletter notices,
/// menus, bylines, image captions and post metadata. A word matches when
/// it equals one of these or, for the longer ones, starts with it
/// (`comments`, `sharebar`).
const BOILER_WORDS: &[&str] = &[
    "ad",
    "ads",
    "advert",
    "advertisement",
    "author",
    "banner",
    "breadcrumb",
    "breadcrumbs",
    "byline",
    "caption",
    "comentario",
    "comment",
    "commentaire",
    "community",
    "kommentar",
    "consent",
    "cookie",
    "copyright",
    "disqus",
    "dateline",
    "footer",
    "gdpr",
    "login",
    "masthead",
    "menu",
    "modal",
    "meta",
    "nav",
    "navbar",
    "navigation",
    "newsletter",
    "outbrain",
    "pagination",
    "pager",
    "popup",
    "promo",
    "rating",
    "recommend",
    "related",
    "replies",
    "reply",
    "respond",
    "rss",
    "share",
    "sharing",
    "sidebar",
    "signup",
    "skip",
    "social",
    "sponsor",
    "subscribe",
    "subscription",
    "tag",
    "tags",
    "taboola",
    "toolbar",
    "widget",
];

/// Words a furniture word starts but that name the article itself:
/// "commentary" is the opinion-piece genre news sites label their columns
/// with (`sect_article commentary`), not the readers' comments below them.
const ARTICLE_GENRE_WORDS: &[&str] = &["commentary", "commentaries"];

/// First words of the class tokens that name the post's taxonomy
/// (`tag-berlin`, `category-newsletter`: blog engines put one per tag and
/// category on the element holding the post), not a box of tags.
const TAXONOMY_WORDS: &[&str] = &["tag", "category"];

/// First words of the class tokens that name the post's author
/// (`author-sarah`) when the same class list names its taxonomy: the
/// element holds the post. Alone, `author-bio` or `author-box` is the bio
/// box after the article, which stays furniture.
const POST_AUTHOR_WORDS: &[&str] = &["author"];

/// Words of [`BOILER_WORDS`] this long or longer also match as prefixes.
const PREFIX_MIN_LEN: usize = 5;

/// ARIA roles of page furniture.
const BOILER_ROLES: &[&str] = &[
    "navigation",
    "contentinfo",
    "complementary",
    "banner",
    "search",
    "menu",
    "menubar",
    "dialog",
    "alertdialog",
];

/// Tags that are page furniture by their HTML meaning. `<header>`,
/// `<form>` and `<section>` are not: pages wrap their article in them.
/// `<figcaption>` describes an image, and images are never rendered: a
/// caption ("Boats at the pier, photo: Jane Roe") without its picture is
/// noise in the text.
const BOILER_TAGS: &[&str] = &["nav", "aside", "footer", "figcaption"];

/// What one arena node is.
#[derive(Debug)]
pub(super) enum Data {
    /// An element, by lower-case local name.
    Element(String),
    /// A text node, as in the source.
    Text(String),
}

/// One node of the arena.
#[derive(Debug)]
pub(super) struct Node {
    pub data: Data,
    pub parent: usize,
    pub children: Vec<usize>,
    /// The `href` of an `<a>`.
    pub href: Option<String>,
    /// Class, id or role say page furniture, or the tag does.
    pub boiler_hint: bool,
    /// Its id or a class token is exactly a [`SIDEBAR_TOKENS`] word: a
    /// column beside the article, never the frame holding it.
    pub sidebar: bool,
    /// The caller's selector matches this element.
    pub selected: bool,
    /// A `<main>` or `role="main"` element is in the subtree (itself
    /// included): what holds it is the page's frame, not furniture.
    pub holds_main: bool,
    /// Non-whitespace characters of text in the subtree.
    pub chars: usize,
    /// Of those, inside a link.
    pub link_chars: usize,
    /// Block-level elements in the subtree (itself excluded).
    pub blocks_inside: usize,
    /// `tag#id.class`, kept only when the arena is built for
    /// [`super::explain`].
    pub label: Option<Box<str>>,
}

impl Node {
    /// The tag name, or "" for text.
    pub fn tag(&self) -> &str {
        match &self.data {
            Data::Element(name) => name,
            Data::Text(_) => "",
        }
    }

    /// Share of the subtree's text inside links (0 when there is none).
    pub fn link_density(&self) -> f64 {
        if self.chars == 0 {
            0.0
        } else {
            self.link_chars as f64 / self.chars as f64
        }
    }
}

/// Whether `tag` starts a block of text.
pub(super) fn is_block(tag: &str) -> bool {
    BLOCKS.contains(&tag)
}

/// The arena; index 0 is the document root.
#[derive(Debug)]
pub(super) struct Dom {
    pub nodes: Vec<Node>,
    /// The `<body>`, or the root when there is none.
    pub body: usize,
}

impl Dom {
    /// Copy the visible part of `document`, marking the elements matching
    /// `selector`; with `labels`, each element keeps its `tag#id.class`.
    pub fn build(document: &Html, selector: Option<&Selector>, labels: bool) -> Self {
        let mut nodes = vec![leaf(Data::Element(String::new()), 0)];
        let mut body = None;
        // The arena index of each open element; None for skipped subtrees.
        let mut open: Vec<Option<usize>> = vec![Some(0)];
        let mut skipping = 0usize;
        for edge in document.tree.root().traverse() {
            match edge {
                ego_tree::iter::Edge::Open(node) => {
                    if node.id() == document.tree.root().id() {
                        continue;
                    }
                    let parent = open.last().copied().flatten();
                    let is_element = matches!(node.value(), HtmlNode::Element(_));
                    if skipping > 0 || parent.is_none() {
                        if is_element {
                            skipping += 1;
                            open.push(None);
                        }
                        continue;
                    }
                    let parent = parent.unwrap_or(0);
                    match node.value() {
                        HtmlNode::Text(text) => {
                            let index = nodes.len();
                            nodes.push(leaf(Data::Text(text.to_string()), parent));
                            nodes[parent].children.push(index);
                        }
                        HtmlNode::Element(element) => {
                            let name = element.name().to_ascii_lowercase();
                            if SKIPPED.contains(&name.as_str()) || is_hidden(element) {
                                skipping += 1;
                                open.push(None);
                                continue;
                            }
                            let index = nodes.len();
                            let mut entry = leaf(Data::Element(name), parent);
                            entry.boiler_hint = boiler_hint(node, element);
                            entry.sidebar = is_sidebar(element);
                            if labels {
                                entry.label = Some(
                                    format!(
                                        "{}#{}.{}",
                                        entry.tag(),
                                        element.attr("id").unwrap_or(""),
                                        element.attr("class").unwrap_or("")
                                    )
                                    .into(),
                                );
                            }
                            entry.holds_main = entry.tag() == "main"
                                || element
                                    .attr("role")
                                    .is_some_and(|role| role.trim().eq_ignore_ascii_case("main"));
                            if entry.tag() == "a" {
                                entry.href = element.attr("href").map(str::to_string);
                            }
                            entry.selected = selector.is_some_and(|selector| {
                                scraper::ElementRef::wrap(node)
                                    .is_some_and(|element| selector.matches(&element))
                            });
                            if entry.tag() == "body" && body.is_none() {
                                body = Some(index);
                            }
                            nodes.push(entry);
                            nodes[parent].children.push(index);
                            open.push(Some(index));
                        }
                        _ => {}
                    }
                }
                ego_tree::iter::Edge::Close(node) => {
                    if matches!(node.value(), HtmlNode::Element(_))
                        && node.id() != document.tree.root().id()
                        && open.pop().flatten().is_none()
                    {
                        skipping = skipping.saturating_sub(1);
                    }
                }
            }
        }
        let mut dom = Self {
            nodes,
            body: body.unwrap_or(0),
        };
        dom.count();
        dom
    }

    /// Sum the text statistics bottom-up: children have larger indices
    /// than their parent, so one forward sweep passes "inside a link"
    /// down and one reverse sweep sees every child before its parent.
    fn count(&mut self) {
        let mut in_link = vec![false; self.nodes.len()];
        for index in 1..self.nodes.len() {
            in_link[index] = self.nodes[index].href.is_some() || in_link[self.nodes[index].parent];
        }
        for index in (0..self.nodes.len()).rev() {
            let (chars, link_chars) = match &self.nodes[index].data {
                Data::Text(text) => {
                    let chars = visible_chars(text);
                    (chars, if in_link[index] { chars } else { 0 })
                }
                Data::Element(_) => (self.nodes[index].chars, self.nodes[index].link_chars),
            };
            let block = is_block(self.nodes[index].tag());
            let node = &mut self.nodes[index];
            node.chars = chars;
            node.link_chars = link_chars;
            let blocks_inside = node.blocks_inside + usize::from(block);
            let holds_main = node.holds_main;
            if index > 0 {
                let parent = self.nodes[index].parent;
                let parent = &mut self.nodes[parent];
                parent.holds_main |= holds_main;
                parent.chars += chars;
                parent.link_chars += link_chars;
                parent.blocks_inside += blocks_inside;
            }
        }
    }
}

fn leaf(data: Data, parent: usize) -> Node {
    Node {
        data,
        parent,
        children: Vec::new(),
        href: None,
        boiler_hint: false,
        sidebar: false,
        selected: false,
        holds_main: false,
        chars: 0,
        link_chars: 0,
        blocks_inside: 0,
        label: None,
    }
}

/// Characters that are not whitespace, soft hyphens or zero-width.
pub(super) fn visible_chars(text: &str) -> usize {
    text.chars()
        .filter(|c| !c.is_whitespace() && !is_invisible(*c))
        .count()
}

/// Soft hyphen and zero-width characters: never part of the text.
pub(super) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// `hidden`, `aria-hidden="true"` or an inline `display:none` /
/// `visibility:hidden`.
fn is_hidden(element: &scraper::node::Element) -> bool {
    if element.attr("hidden").is_some() {
        return true;
    }
    if element
        .attr("aria-hidden")
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
    {
        return true;
    }
    element.attr("style").is_some_and(|style| {
        let style: String = style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        style.contains("display:none") || style.contains("visibility:hidden")
    })
}

/// Whether tag, role, class or id mark the element as page furniture.
/// An id that is the anchor of the element's own heading says nothing
/// about its role: documentation generators (Sphinx, MkDocs, wikis) derive
/// section ids from the heading's words, so a section titled "Sharing with
/// a single developer" gets `id="sharing-with-a-single-developer"`.
fn boiler_hint(node: ego_tree::NodeRef<'_, HtmlNode>, element: &scraper::node::Element) -> bool {
    let tag = element.name().to_ascii_lowercase();
    if BOILER_TAGS.contains(&tag.as_str()) {
        return true;
    }
    if element.attr("role").is_some_and(|role| {
        let role = role.trim().to_ascii_lowercase();
        BOILER_ROLES.contains(&role.as_str())
    }) {
        return true;
    }
    // A token's first word when more words follow it (`tag-berlin` ->
    // `tag`), the words that name a post's terms.
    let term_word = |token: &str| {
        let mut words = token
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|word| !word.is_empty());
        let first = words.next()?.to_ascii_lowercase();
        words.next().is_some().then_some(first)
    };
    let post_terms = element.attr("class").is_some_and(|class| {
        class
            .split_ascii_whitespace()
            .filter_map(term_word)
            .any(|word| TAXONOMY_WORDS.contains(&word.as_str()))
    });
    let boiler_token = |token: &str| {
        if term_word(token).is_some_and(|word| {
            TAXONOMY_WORDS.contains(&word.as_str())
                || (post_terms && POST_AUTHOR_WORDS.contains(&word.as_str()))
        }) {
            return false;
        }
        token
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|word| !word.is_empty())
            .any(|word| boiler_word(&word.to_ascii_lowercase()))
    };
    let boiler_attr = |name: &str| {
        element
            .attr(name)
            .is_some_and(|value| value.split_ascii_whitespace().any(boiler_token))
    };
    boiler_attr("class")
        || (boiler_attr("id")
            && !element
                .attr("id")
                .is_some_and(|id| is_heading_anchor(node, element, id)))
}

/// An id holding the first this many words of the heading, in order, is
/// the heading's anchor too: generators truncate long headings and add a
/// prefix or a counter (`nav_nur_die_folie__1` for "Nur die Folie bleibt
/// zurück"). One word alone could be a furniture word the heading shares.
const ANCHOR_PREFIX_WORDS: usize = 2;

/// Ids and class tokens that name a side column as a whole (`id="sidebar"`):
/// unlike compound layout names (`content-sidebar`), such an element never
/// wraps the article, however much text its widgets hold.
const SIDEBAR_TOKENS: &[&str] = &["sidebar", "aside"];

fn is_sidebar(element: &scraper::node::Element) -> bool {
    let exact = |value: &str| {
        value
            .split_ascii_whitespace()
            .any(|token| SIDEBAR_TOKENS.contains(&token.to_ascii_lowercase().as_str()))
    };
    element.attr("id").is_some_and(exact) || element.attr("class").is_some_and(exact)
}

/// Elements looked at when searching a section for its heading: the
/// heading opens the section, so it is among the first few.
const HEADING_SEARCH_NODES: usize = 32;

/// Whether `id` spells the words of the element's heading, or its first
/// [`ANCHOR_PREFIX_WORDS`] among others (the element
/// itself when it is one, else the first heading near the start of its
/// subtree).
fn is_heading_anchor(
    node: ego_tree::NodeRef<'_, HtmlNode>,
    element: &scraper::node::Element,
    id: &str,
) -> bool {
    let id_words = slug_words(id);
    if id_words.is_empty() {
        return false;
    }
    let heading = if is_heading_tag(element.name()) {
        Some(node)
    } else {
        node.descendants()
            .take(HEADING_SEARCH_NODES)
            .find(|descendant| {
                descendant
                    .value()
                    .as_element()
                    .is_some_and(|element| is_heading_tag(element.name()))
            })
    };
    heading.is_some_and(|heading| {
        let text: String = heading
            .descendants()
            .filter_map(|descendant| descendant.value().as_text().map(|text| &**text))
            .collect();
        let heading_words = slug_words(&text);
        heading_words == id_words
            || (heading_words.len() >= ANCHOR_PREFIX_WORDS
                && id_words
                    .windows(ANCHOR_PREFIX_WORDS)
                    .any(|run| run == &heading_words[..ANCHOR_PREFIX_WORDS]))
    })
}

fn is_heading_tag(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6"
    )
}

/// Lower-case words of letters and digits, as slugs keep them.
fn slug_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn boiler_word(word: &str) -> bool {
    !ARTICLE_GENRE_WORDS.contains(&word)
        && BOILER_WORDS.iter().any(|boiler| {
            word == *boiler || (boiler.len() >= PREFIX_MIN_LEN && word.starts_with(boiler))
        })
}
