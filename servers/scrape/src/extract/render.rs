//! Renders chosen subtrees of the arena as plain text or Markdown, and
//! collects the links they hold.
//!
//! Plain text: paragraphs separated by blank lines, headings on their own
//! lines, list items as `- `, table rows with cells joined by ` | `, no
//! link markup. Markdown adds `#` headings, fenced code blocks, table
//! header rules and inline `[text](absolute URL)` links.
//!
//! It must stay linear in the page: every text character is written at
//! most once, each element adds a bounded decoration, and link URLs (which
//! can be longer than their `href`) are written only within a byte budget
//! the size of the page. It never writes soft hyphens or zero-width
//! characters, and it walks the tree with an explicit stack.

use std::collections::HashSet;

use url::Url;

use super::dom::{Data, Dom, is_block, is_invisible};
use super::{Format, Link};

/// Most links returned with a page: enough for an article's references,
/// bounded so a link farm cannot flood the reply.
pub const MAX_LINKS: usize = 200;

/// Pending separation before the next word, weakest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Break {
    None,
    Space,
    Line,
    Paragraph,
}

/// A table being rendered.
#[derive(Debug)]
struct Table {
    /// Laid-out page structure, not data: cells render as blocks.
    layout: bool,
    rows: usize,
    first_row_cells: usize,
}

/// An `<a>` being rendered.
#[derive(Debug)]
struct OpenLink {
    url: Option<String>,
    text: String,
    /// Markdown `[` written.
    opened: bool,
    /// No Markdown link: the URL budget ran out.
    declined: bool,
}

/// What to render and how.
pub(super) struct Renderer<'a> {
    dom: &'a Dom,
    format: Format,
    base: Option<&'a Url>,
    out: String,
    pending: Break,
    /// Written at the start of the next line (list marker, heading hashes).
    marker: String,
    /// Written before the next word (table cell separator).
    separator: &'static str,
    list_depth: usize,
    pre_depth: usize,
    cell_depth: usize,
    row_written: bool,
    row_cells: usize,
    tables: Vec<Table>,
    link: Option<OpenLink>,
    links: Vec<Link>,
    /// URLs already listed, without their fragment: `page#top` and `page`
    /// are one page to a model that wants to read it.
    seen: HashSet<String>,
    /// Bytes of Markdown link URLs still allowed.
    url_budget: usize,
}

/// Resolve an `href` to an absolute http(s) URL; `None` for script,
/// mail and fragment-only links, and for relative ones without a base.
pub(super) fn resolve(base: Option<&Url>, href: &str) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    let url = match base {
        Some(base) => base.join(href).ok()?,
        None => Url::parse(href).ok()?,
    };
    matches!(url.scheme(), "http" | "https").then_some(url)
}

impl<'a> Renderer<'a> {
    pub fn new(dom: &'a Dom, format: Format, base: Option<&'a Url>, url_budget: usize) -> Self {
        Self {
            dom,
            format,
            base,
            out: String::new(),
            pending: Break::None,
            marker: String::new(),
            separator: "",
            list_depth: 0,
            pre_depth: 0,
            cell_depth: 0,
            row_written: false,
            row_cells: 0,
            tables: Vec::new(),
            link: None,
            links: Vec::new(),
            seen: HashSet::new(),
            url_budget,
        }
    }

    /// Render the subtree at `root`, leaving out every element for which
    /// `skip` is true (and its subtree).
    pub fn render(&mut self, root: usize, skip: &dyn Fn(usize) -> bool) {
        self.request(Break::Paragraph);
        // (node, closing): the close entry runs after the children.
        let mut stack = vec![(root, false)];
        while let Some((index, closing)) = stack.pop() {
            let node = &self.dom.nodes[index];
            match &node.data {
                Data::Text(text) => self.text(text),
                Data::Element(tag) if closing => self.close(index, tag),
                Data::Element(tag) => {
                    if index != root && skip(index) {
                        continue;
                    }
                    self.open(index, tag);
                    stack.push((index, true));
                    stack.extend(node.children.iter().rev().map(|&child| (child, false)));
                }
            }
        }
        self.request(Break::Paragraph);
    }

    /// The text, tidied, and the links.
    pub fn finish(self) -> (String, Vec<Link>) {
        (super::tidy(&self.out), self.links)
    }

    fn markdown(&self) -> bool {
        self.format == Format::Markdown
    }

    fn request(&mut self, wanted: Break) {
        let wanted = if self.cell_depth > 0 && wanted > Break::Space {
            Break::Space
        } else {
            wanted
        };
        self.pending = self.pending.max(wanted);
    }

    fn data_table(&self) -> bool {
        self.tables.last().is_some_and(|table| !table.layout)
    }

    fn open(&mut self, index: usize, tag: &str) {
        match tag {
            "br" => self.request(Break::Line),
            "li" => {
                self.request(Break::Line);
                let indent = "  ".repeat(self.list_depth.saturating_sub(1));
                self.marker = format!("{indent}- ");
            }
            "ul" | "ol" | "dl" => {
                self.request(if self.list_depth == 0 {
                    Break::Paragraph
                } else {
                    Break::Line
                });
                self.list_depth += 1;
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.request(Break::Paragraph);
                if self.markdown() && self.cell_depth == 0 {
                    let level = usize::from(tag.as_bytes()[1] - b'0');
                    self.marker = format!("{} ", "#".repeat(level));
                }
            }
            "pre" => {
                self.request(Break::Paragraph);
                if self.markdown() && self.pre_depth == 0 && self.cell_depth == 0 {
                    self.flush();
                    self.out.push_str("```\n");
                }
                self.pre_depth += 1;
            }
            "table" => {
                self.request(Break::Paragraph);
                let node = &self.dom.nodes[index];
                // A table holding blocks (paragraphs, lists, other tables)
                // lays out the page; its cells are read as blocks.
                let layout = node.children.is_empty() || self.has_block_cells(index);
                self.tables.push(Table {
                    layout,
                    rows: 0,
                    first_row_cells: 0,
                });
            }
            "tr" if self.data_table() => {
                self.request(Break::Line);
                self.row_written = false;
                self.row_cells = 0;
            }
            "td" | "th" if self.data_table() => {
                self.separator = match (self.row_written, self.markdown()) {
                    (false, true) => "| ",
                    (false, false) => "",
                    (true, _) => " | ",
                };
                self.row_cells += 1;
                self.cell_depth += 1;
            }
            "a" => {
                let url = self.dom.nodes[index]
                    .href
                    .as_deref()
                    .and_then(|href| resolve(self.base, href))
                    .map(String::from);
                self.link = Some(OpenLink {
                    url,
                    text: String::new(),
                    opened: false,
                    declined: false,
                });
            }
            _ if is_block(tag) => self.request(Break::Paragraph),
            _ => {}
        }
    }

    fn close(&mut self, _index: usize, tag: &str) {
        match tag {
            "li" | "dt" | "dd" => self.request(Break::Line),
            "ul" | "ol" | "dl" => {
                self.list_depth = self.list_depth.saturating_sub(1);
                self.request(if self.list_depth == 0 {
                    Break::Paragraph
                } else {
                    Break::Line
                });
            }
            "pre" => {
                self.pre_depth = self.pre_depth.saturating_sub(1);
                if self.markdown() && self.pre_depth == 0 && self.cell_depth == 0 {
                    self.out.push_str("\n```");
                }
                self.request(Break::Paragraph);
            }
            "table" => {
                self.tables.pop();
                self.request(Break::Paragraph);
            }
            "td" | "th" if self.data_table() => {
                self.cell_depth = self.cell_depth.saturating_sub(1);
                self.separator = "";
            }
            "tr" if self.data_table() => {
                let markdown = self.markdown();
                let cells = self.row_cells;
                if let Some(table) = self.tables.last_mut()
                    && self.row_written
                {
                    table.rows += 1;
                    if table.rows == 1 {
                        table.first_row_cells = cells;
                    }
                    let rule = table.rows == 1;
                    if markdown {
                        self.out.push_str(" |");
                        if rule {
                            self.out.push('\n');
                            self.out.push('|');
                            self.out.push_str(&" --- |".repeat(cells.max(1)));
                        }
                    }
                }
                self.request(Break::Line);
            }
            "a" => self.close_link(),
            _ if is_block(tag) => self.request(Break::Paragraph),
            _ => {}
        }
    }

    /// Whether any cell of this table (not of a nested one) holds block
    /// elements, which makes it layout rather than data.
    fn has_block_cells(&self, table: usize) -> bool {
        self.dom.nodes[table].blocks_inside > 0 && {
            // Rows and row groups are blocks too; count only what is
            // inside cells.
            let mut stack = vec![table];
            let mut found = false;
            while let Some(index) = stack.pop() {
                let node = &self.dom.nodes[index];
                match node.tag() {
                    "td" | "th" | "caption" => {
                        if node.blocks_inside > 0 {
                            found = true;
                            break;
                        }
                    }
                    _ => stack.extend(node.children.iter().copied()),
                }
            }
            found
        }
    }

    fn close_link(&mut self) {
        let Some(link) = self.link.take() else {
            return;
        };
        if link.opened
            && let Some(url) = &link.url
        {
            self.out.push_str("](");
            self.out.push_str(url);
            self.out.push(')');
        }
        let text = link.text.trim();
        if let Some(url) = link.url
            && !text.is_empty()
            && self.links.len() < MAX_LINKS
            && self
                .seen
                .insert(url.split('#').next().unwrap_or(&url).to_string())
        {
            self.links.push(Link {
                text: text.to_string(),
                url,
            });
        }
    }

    fn text(&mut self, raw: &str) {
        if self.pre_depth > 0 {
            self.flush();
            let clean: String = raw
                .chars()
                .filter(|c| !is_invisible(*c) && *c != '\r')
                .collect();
            if let Some(link) = &mut self.link {
                link.text.push_str(&clean);
            }
            self.out.push_str(&clean);
            return;
        }
        if raw.starts_with(char::is_whitespace) {
            self.request(Break::Space);
        }
        for word in raw.split_whitespace() {
            let word: String = word.chars().filter(|c| !is_invisible(*c)).collect();
            if word.is_empty() {
                continue;
            }
            self.word(&word);
            self.request(Break::Space);
        }
        if !raw.ends_with(char::is_whitespace) {
            // The next text may continue this word ("foo<b>bar</b>").
            if self.pending == Break::Space {
                self.pending = Break::None;
            }
        }
    }

    /// Write the pending break and line marker.
    fn flush(&mut self) {
        if !self.out.is_empty() {
            match self.pending {
                Break::Paragraph => self.out.push_str("\n\n"),
                Break::Line => self.out.push('\n'),
                Break::Space => self.out.push(' '),
                Break::None => {}
            }
        }
        if self.pending >= Break::Line || self.out.is_empty() {
            let marker = std::mem::take(&mut self.marker);
            self.out.push_str(&marker);
        }
        self.pending = Break::None;
    }

    fn word(&mut self, word: &str) {
        let space = self.pending == Break::Space;
        self.flush();
        if !self.separator.is_empty() || self.cell_depth > 0 {
            self.out.push_str(self.separator);
            self.separator = "";
            self.row_written = true;
        }
        let markdown = self.markdown();
        if let Some(link) = &mut self.link {
            if space && !link.text.is_empty() {
                link.text.push(' ');
            }
            link.text.push_str(word);
            if markdown
                && !link.opened
                && !link.declined
                && let Some(url) = &link.url
            {
                if url.len() <= self.url_budget {
                    self.url_budget -= url.len();
                    link.opened = true;
                    self.out.push('[');
                } else {
                    link.declined = true;
                }
            }
        }
        self.out.push_str(word);
    }
}
