//! A page's metadata: title, author, published date, site name, language
//! and description, read from `<meta>` tags, OpenGraph and JSON-LD.
//!
//! Its job is to read what the page says about itself, bounded: at most
//! [`MAX_JSON_LD_SCRIPTS`] JSON-LD blocks of at most [`MAX_JSON_LD_BYTES`]
//! each, at most [`MAX_JSON_LD_NODES`] nodes, every field cut to
//! [`MAX_FIELD_CHARS`]. It must never fail a scrape (bad JSON-LD is
//! skipped), never fetch anything, and never return markup.

use std::collections::HashMap;

use scraper::{Html, Selector};
use serde_json::Value;

/// JSON-LD blocks read per page. Real pages have one to three; a page with
/// hundreds is a listing whose blocks describe other pages.
const MAX_JSON_LD_SCRIPTS: usize = 16;

/// Largest JSON-LD block parsed. Article metadata is a few KiB; larger
/// blocks are product catalogues or embedded data, not worth the parse.
const MAX_JSON_LD_BYTES: usize = 256 * 1024;

/// JSON-LD nodes considered per page (after flattening arrays and
/// `@graph`), so a hostile block cannot make the search quadratic.
const MAX_JSON_LD_NODES: usize = 256;

/// Authors listed at most; past this the byline ends with "et al.".
const MAX_AUTHORS: usize = 8;

/// Longest field kept, in characters: a description is a sentence or two,
/// and a model does not need a page's whole abstract twice.
const MAX_FIELD_CHARS: usize = 500;

/// What a page says about itself. Every field is optional.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Metadata {
    /// The headline (OpenGraph or JSON-LD), when the page gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The byline: one author, or several joined with ", ".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// When it was published, as the page wrote it (usually ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// The site or publisher's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_name: Option<String>,
    /// The language (`<html lang>`, `og:locale` or JSON-LD `inLanguage`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The page's own summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Metadata {
    /// True when no field is known.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Read the metadata of an HTML page.
pub fn read(html: &str) -> Metadata {
    let document = Html::parse_document(html);
    let meta = MetaTags::read(&document);
    let ld = JsonLd::read(&document);
    let article = ld.article();
    let pick = |candidates: &[Option<String>]| candidates.iter().flatten().next().cloned();
    Metadata {
        title: pick(&[
            article.and_then(|node| text_field(node, &["headline", "name"])),
            meta.get(&["og:title", "twitter:title"]),
        ]),
        author: pick(&[
            article.and_then(|node| ld.authors(node)),
            meta.get(&["author", "article:author", "byl", "dc.creator"])
                .filter(|author| !author.starts_with("http"))
                .map(|author| author.trim_start_matches("By ").to_string()),
        ]),
        published: pick(&[
            article.and_then(|node| text_field(node, &["datePublished", "dateCreated"])),
            meta.get(&[
                "article:published_time",
                "date",
                "pubdate",
                "dc.date",
                "dc.date.issued",
                "citation_publication_date",
            ]),
        ]),
        site_name: pick(&[
            meta.get(&["og:site_name", "application-name"]),
            article.and_then(|node| ld.named(node.get("publisher")?)),
            ld.website_name(),
        ]),
        language: pick(&[
            html_lang(&document),
            meta.get(&["content-language", "og:locale", "language"]),
            article.and_then(|node| text_field(node, &["inLanguage"])),
        ]),
        description: pick(&[
            meta.get(&["description", "og:description", "twitter:description"]),
            article.and_then(|node| text_field(node, &["description"])),
        ]),
    }
}

/// `<meta name|property|http-equiv=KEY content=VALUE>`, keys lowercased;
/// the first value of each key wins.
struct MetaTags(HashMap<String, String>);

impl MetaTags {
    fn read(document: &Html) -> Self {
        let mut tags = HashMap::new();
        let Ok(selector) = Selector::parse("meta[content]") else {
            return Self(tags);
        };
        for element in document.select(&selector) {
            let element = element.value();
            let key = ["property", "name", "http-equiv", "itemprop"]
                .iter()
                .find_map(|attribute| element.attr(attribute));
            let (Some(key), Some(content)) = (key, element.attr("content").and_then(clean)) else {
                continue;
            };
            tags.entry(key.trim().to_ascii_lowercase())
                .or_insert(content);
        }
        Self(tags)
    }

    /// The first of `keys` the page has.
    fn get(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|key| self.0.get(*key).cloned())
    }
}

fn html_lang(document: &Html) -> Option<String> {
    let selector = Selector::parse("html[lang]").ok()?;
    document
        .select(&selector)
        .next()
        .and_then(|element| element.value().attr("lang"))
        .and_then(clean)
}

/// The JSON-LD nodes of a page, flattened (top-level arrays and `@graph`),
/// with an index of their `@id`s to follow references.
struct JsonLd {
    nodes: Vec<Value>,
    by_id: HashMap<String, usize>,
}

impl JsonLd {
    fn read(document: &Html) -> Self {
        let mut nodes = Vec::new();
        if let Ok(selector) = Selector::parse(r#"script[type="application/ld+json"]"#) {
            for script in document.select(&selector).take(MAX_JSON_LD_SCRIPTS) {
                let source: String = script.text().collect();
                if source.len() > MAX_JSON_LD_BYTES {
                    continue;
                }
                if let Ok(value) = serde_json::from_str::<Value>(source.trim()) {
                    flatten(value, &mut nodes);
                }
            }
        }
        let by_id = nodes
            .iter()
            .enumerate()
            .filter_map(|(index, node)| Some((node.get("@id")?.as_str()?.to_string(), index)))
            .collect();
        Self { nodes, by_id }
    }

    /// The node describing the page's content: an article type first, then
    /// a web page, then anything with a headline.
    fn article(&self) -> Option<&Value> {
        let ranked = |node: &&Value| {
            let types = types(node);
            if types.iter().any(|kind| is_article_type(kind)) {
                0
            } else if types.iter().any(|kind| kind.ends_with("WebPage")) {
                1
            } else if node.get("headline").is_some() {
                2
            } else {
                3
            }
        };
        self.nodes
            .iter()
            .filter(|node| ranked(node) < 3)
            .min_by_key(ranked)
    }

    /// The `WebSite` node's name.
    fn website_name(&self) -> Option<String> {
        self.nodes
            .iter()
            .find(|node| types(node).contains(&"WebSite"))
            .and_then(|node| text_field(node, &["name"]))
    }

    /// `node`'s `author` as a byline: a name, an object with a name, a
    /// reference to a node with a name, or an array of those.
    fn authors(&self, node: &Value) -> Option<String> {
        let author = node.get("author").or_else(|| node.get("creator"))?;
        let names: Vec<String> = match author {
            Value::Array(items) => items.iter().filter_map(|item| self.named(item)).collect(),
            single => self.named(single).into_iter().collect(),
        };
        if names.is_empty() {
            return None;
        }
        let mut byline = names
            .iter()
            .take(MAX_AUTHORS)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if names.len() > MAX_AUTHORS {
            byline.push_str(" et al.");
        }
        Some(byline)
    }

    /// The name of a string, an object with `name`, or an `@id` reference.
    fn named(&self, value: &Value) -> Option<String> {
        match value {
            Value::String(name) => clean(name),
            Value::Object(object) => object
                .get("name")
                .and_then(Value::as_str)
                .and_then(clean)
                .or_else(|| {
                    let id = object.get("@id")?.as_str()?;
                    let target = self.nodes.get(*self.by_id.get(id)?)?;
                    target.get("name").and_then(Value::as_str).and_then(clean)
                }),
            _ => None,
        }
    }
}

/// Push the nodes of a JSON-LD value: an array's items, a `@graph`'s
/// items, or the object itself; at most [`MAX_JSON_LD_NODES`] in all.
fn flatten(value: Value, nodes: &mut Vec<Value>) {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        if nodes.len() >= MAX_JSON_LD_NODES {
            return;
        }
        match value {
            Value::Array(items) => pending.extend(items.into_iter().rev()),
            Value::Object(mut object) => {
                if let Some(graph) = object.remove("@graph") {
                    pending.push(graph);
                }
                if !object.is_empty() {
                    nodes.push(Value::Object(object));
                }
            }
            _ => {}
        }
    }
}

/// `@type` as a list (it may be a string or an array of strings).
fn types(node: &Value) -> Vec<&str> {
    match node.get("@type") {
        Some(Value::String(kind)) => vec![kind.as_str()],
        Some(Value::Array(kinds)) => kinds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// schema.org's article types (`Article` and its subtypes in common use).
fn is_article_type(kind: &str) -> bool {
    kind.ends_with("Article")
        || matches!(
            kind,
            "BlogPosting" | "LiveBlogPosting" | "SocialMediaPosting" | "Report" | "Review"
        )
}

/// The first of `keys` that holds a string.
fn text_field(node: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|key| node.get(*key).and_then(Value::as_str).and_then(clean))
}

/// Whitespace collapsed, cut to [`MAX_FIELD_CHARS`]; `None` when empty.
fn clean(value: &str) -> Option<String> {
    let mut text = value.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((cut, _)) = text.char_indices().nth(MAX_FIELD_CHARS) {
        text.truncate(cut);
        text.push('…');
    }
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// JSON-LD in a `@graph` with an array `@type`, an author given by
    /// reference and a publisher object is read; JSON-LD wins over
    /// OpenGraph for the headline and the author.
    #[test]
    fn json_ld_graph_and_references() {
        let html = r#"<html lang="en-GB"><head>
            <meta property="og:title" content="OG title">
            <meta name="description" content="  A  short
              summary. ">
            <script type="application/ld+json">{"@context":"https://schema.org","@graph":[
              {"@type":"WebSite","@id":"https://x.test/#site","name":"X Site"},
              {"@type":["NewsArticle","Article"],"headline":"The Headline",
               "author":[{"@id":"https://x.test/#ada"},{"@type":"Person","name":"Grace Hopper"},"Alan Turing"],
               "datePublished":"2026-03-01T10:00:00Z","publisher":{"@type":"Organization","name":"X Press"}},
              {"@type":"Person","@id":"https://x.test/#ada","name":"Ada Lovelace"}
            ]}</script></head><body></body></html>"#;
        let metadata = read(html);
        assert_eq!(metadata.title.as_deref(), Some("The Headline"));
        assert_eq!(
            metadata.author.as_deref(),
            Some("Ada Lovelace, Grace Hopper, Alan Turing")
        );
        assert_eq!(metadata.published.as_deref(), Some("2026-03-01T10:00:00Z"));
        assert_eq!(metadata.site_name.as_deref(), Some("X Press"));
        assert_eq!(metadata.language.as_deref(), Some("en-GB"));
        assert_eq!(metadata.description.as_deref(), Some("A short summary."));
    }

    /// Without JSON-LD, OpenGraph and `<meta>` give every field; an author
    /// that is a profile URL is not a byline.
    #[test]
    fn open_graph_and_meta() {
        let html = r#"<html><head>
            <meta property="og:title" content="OG title">
            <meta property="og:site_name" content="The Site">
            <meta property="og:locale" content="fr_FR">
            <meta property="og:description" content="OG description">
            <meta property="article:author" content="https://x.test/ada">
            <meta name="author" content="Ada Lovelace">
            <meta property="article:published_time" content="2025-12-31">
            </head><body></body></html>"#;
        let metadata = read(html);
        assert_eq!(metadata.title.as_deref(), Some("OG title"));
        assert_eq!(metadata.author.as_deref(), Some("Ada Lovelace"));
        assert_eq!(metadata.published.as_deref(), Some("2025-12-31"));
        assert_eq!(metadata.site_name.as_deref(), Some("The Site"));
        assert_eq!(metadata.language.as_deref(), Some("fr_FR"));
        assert_eq!(metadata.description.as_deref(), Some("OG description"));
    }

    /// Broken JSON-LD is skipped, huge author lists and fields are bounded,
    /// and a page without metadata gives an empty record.
    #[test]
    fn bounded_and_forgiving() {
        let authors: Vec<String> = (0..50).map(|n| format!("\"Author {n}\"")).collect();
        let html = format!(
            r#"<script type="application/ld+json">{{not json</script>
            <script type="application/ld+json">[{{"@type":"BlogPosting","author":[{}],
              "description":"{}"}}]</script>"#,
            authors.join(","),
            "word ".repeat(1000)
        );
        let metadata = read(&html);
        let byline = metadata.author.expect("authors");
        assert!(byline.ends_with("Author 7 et al."), "{byline}");
        let description = metadata.description.expect("description");
        assert_eq!(description.chars().count(), MAX_FIELD_CHARS + 1);
        assert!(read("<p>plain</p>").is_empty());
    }
}
