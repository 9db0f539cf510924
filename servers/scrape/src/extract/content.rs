//! Finds a page's main content in the arena: every block of text is
//! classified as content, boilerplate or undecided from its own length,
//! punctuation and link density (jusText, Boilerpipe), page furniture is
//! recognised by tag, role and class/id words (Readability, trafilatura),
//! and the element whose subtree holds the most content for the least
//! boilerplate is chosen.
//!
//! It must never drop a whole element type blindly: `<form>`, `<header>`
//! and `<section>` are judged by their text like any `<div>`, and even a
//! `<nav>`, `<aside>` or a "sidebar" class keeps its text when it wraps
//! most of the page (the article is inside it). It decides what to render;
//! it never renders.

use super::dom::{Data, Dom, is_block};

/// A block this long (non-whitespace characters) with few links is
/// content on its own: a real paragraph, not a label or a menu item.
const CONTENT_MIN_CHARS: usize = 80;

/// A shorter block is still content when it is a sentence: this long and
/// holding sentence punctuation.
const SENTENCE_MIN_CHARS: usize = 30;

/// A block with more than this share of its text inside links is
/// navigation (menus, related links, previous/next post).
const MAX_LINK_DENSITY: f64 = 0.5;

/// An element with a furniture hint still counts as content when it holds
/// at least this share (percent) of the body's text with few links: pages
/// wrap the whole article in an ASP.NET `<form>`, a `content-sidebar`
/// layout div or an `<aside>`.
const WRAPPER_SHARE_PERCENT: usize = 50;

/// How much one character of boilerplate costs against one of content
/// when choosing the main element.
const BOILER_WEIGHT: f64 = 1.0;

/// What one character of furniture (text under a furniture hint) costs
/// when choosing the main element: rendering leaves furniture out, so it
/// only tips the balance towards the tighter of two elements; at full
/// weight, comment threads or related-post lists beside the article's
/// paragraphs made a single paragraph the winner.
const FURNITURE_WEIGHT: f64 = 0.5;

/// An element with at least this many children that each hold a
/// link-titled heading and a short summary is a list of teasers (related
/// posts, "you may also like"), however long: teasers point at other
/// pages, an article's sections are not links.
const MIN_TEASERS: usize = 3;

/// Most content characters one teaser holds: a summary, not a section.
const MAX_TEASER_CHARS: usize = 400;

/// What an undecided character (short text without links: dates, labels,
/// captions) costs: a little, so that of two elements with the same
/// content the tighter one wins.
const UNDECIDED_WEIGHT: f64 = 0.1;

/// A sibling of the chosen element scoring at least this share (percent)
/// of its score is another part of the article (Readability uses a
/// fifth).
const SIBLING_SHARE_PERCENT: usize = 20;

/// ...and at least this score (content characters, net: two short
/// paragraphs): a caption, a byline or a one-line notice beside the
/// article is not another part of it.
const SIBLING_MIN_VALUE: f64 = 150.0;

/// An element holding this share (percent) of the chosen root's content
/// is the article body; what follows it inside the root is its tail.
const DOMINANT_SHARE_PERCENT: usize = 75;

/// The first `<h1>` under the chosen root starts the article when at most
/// this share (percent) of the root's content comes before it; a title
/// further down is a sidebar's or a teaser's, not the article's.
const LEAD_SHARE_PERCENT: usize = 25;

/// Once this share (percent) of the root's content has been seen, a run
/// of [`GAP_MIN_CHARS`] link-dense characters with no content between
/// (share bar, tags, related links) ends the article.
const GAP_AFTER_PERCENT: usize = 80;

/// Link-dense characters that make a gap after the article.
const GAP_MIN_CHARS: usize = 150;

/// Sentence punctuation in the scripts the web mostly uses.
const PUNCTUATION: &[char] = &[
    '.', ',', ';', ':', '!', '?', '。', '，', '、', '！', '？', '؟', '،', '।',
];

/// What a block's own text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Content,
    Undecided,
    Boiler,
}

/// The text classes summed over each subtree.
pub(super) struct Analysis {
    /// The class of each block's own text, by its text alone.
    class: Vec<Option<Class>>,
    /// Characters of each block's own text.
    own_chars: Vec<usize>,
    /// Furniture (by hint, inherited), per node.
    pub boiler: Vec<bool>,
    /// Content characters in the subtree.
    pub content: Vec<usize>,
    /// Boilerplate characters in the subtree.
    pub junk: Vec<usize>,
    /// Of those, inside furniture: rendering leaves them out whatever
    /// element is chosen.
    pub furniture: Vec<usize>,
    /// Undecided characters in the subtree.
    pub undecided: Vec<usize>,
    /// Headings whose next block of text is boilerplate: they title a
    /// list of links or a widget, not the article.
    orphan: Vec<bool>,
}

impl Analysis {
    /// Classify every block of `dom`; with `hints`, furniture hints count
    /// (the strict pass), without, only link density does (the loose one).
    pub fn new(dom: &Dom, hints: bool) -> Self {
        let len = dom.nodes.len();
        // Own text of each block: the text whose nearest block ancestor
        // it is (one forward sweep finds that ancestor for every node).
        let mut nearest = vec![0usize; len];
        let mut own = vec![(0usize, 0usize, 0usize); len];
        let mut in_link = vec![false; len];
        let mut boiler = vec![false; len];
        let body_chars = dom.nodes[dom.body].chars;
        for index in 1..len {
            let node = &dom.nodes[index];
            let parent = node.parent;
            in_link[index] = node.href.is_some() || in_link[parent];
            nearest[index] = if is_block(node.tag()) {
                index
            } else {
                nearest[parent]
            };
            let wrapper = node.holds_main
                || (!node.sidebar
                    && node.chars * 100 >= body_chars * WRAPPER_SHARE_PERCENT
                    && node.link_density() < MAX_LINK_DENSITY);
            boiler[index] = hints && (boiler[parent] || (node.boiler_hint && !wrapper));
            if let Data::Text(text) = &node.data {
                let chars = node.chars;
                let punctuation = text.chars().filter(|c| PUNCTUATION.contains(c)).count();
                let entry = &mut own[nearest[index]];
                entry.0 += chars;
                if in_link[index] {
                    entry.1 += chars;
                }
                entry.2 += punctuation;
            }
        }
        let mut classes = vec![None; len];
        let mut own_chars = vec![0usize; len];
        for (index, &(chars, links, punctuation)) in own.iter().enumerate() {
            if chars > 0 {
                classes[index] = Some(classify(dom.nodes[index].tag(), chars, links, punctuation));
                own_chars[index] = chars;
            }
        }
        let mut analysis = Self {
            class: classes,
            own_chars,
            boiler,
            content: Vec::new(),
            junk: Vec::new(),
            furniture: Vec::new(),
            undecided: Vec::new(),
            orphan: Vec::new(),
        };
        analysis.sum(dom);
        if hints {
            analysis.drop_teasers(dom);
        }
        analysis.mark_orphans(dom, &nearest);
        analysis
    }

    /// Mark the short headings whose next block of text (in page order)
    /// is link-dense or furniture, or that nothing follows: "More on this
    /// topic", "Related posts", "Share this" title what the rendering
    /// leaves out. A long heading is a lead paragraph set as one. A
    /// heading followed by bare prose in its own parent (`<h2>..</h2><br>
    /// text`, `nearest` giving each node's nearest block) titles that
    /// prose, which block order alone does not see: the parent comes
    /// before the heading.
    fn mark_orphans(&mut self, dom: &Dom, nearest: &[usize]) {
        self.orphan = vec![false; dom.nodes.len()];
        let mut pending: Vec<usize> = Vec::new();
        for index in 1..dom.nodes.len() {
            let Some(class) = self.class[index] else {
                continue;
            };
            let heading = is_heading(dom.nodes[index].tag());
            let junk = self.boiler[index] || class == Class::Boiler;
            if heading && !junk && self.own_chars[index] < CONTENT_MIN_CHARS {
                pending.push(index);
            } else if junk {
                for &title in &pending {
                    self.orphan[title] = true;
                }
                pending.clear();
            } else {
                pending.clear();
            }
        }
        for title in pending {
            self.orphan[title] = true;
        }
        for title in 1..dom.nodes.len() {
            if self.orphan[title] && self.titles_parent_prose(dom, nearest, title) {
                self.orphan[title] = false;
            }
        }
    }

    /// Whether the first text after heading `title` is prose owned by
    /// the heading's parent block.
    fn titles_parent_prose(&self, dom: &Dom, nearest: &[usize], title: usize) -> bool {
        let parent = dom.nodes[title].parent;
        let Some(next) = (title + 1..dom.nodes.len()).find(|&index| {
            matches!(dom.nodes[index].data, Data::Text(_))
                && dom.nodes[index].chars > 0
                && nearest[index] != title
        }) else {
            return false;
        };
        nearest[next] == parent && !self.boiler[next] && self.class[parent] == Some(Class::Content)
    }

    /// Sum each class over every subtree, furniture counting as
    /// boilerplate (one reverse sweep: children follow their parent).
    fn sum(&mut self, dom: &Dom) {
        let len = dom.nodes.len();
        self.content = vec![0; len];
        self.junk = vec![0; len];
        self.furniture = vec![0; len];
        self.undecided = vec![0; len];
        for index in (0..len).rev() {
            let chars = self.own_chars[index];
            match (self.boiler[index], self.class[index]) {
                (_, None) => {}
                (true, _) => {
                    self.junk[index] += chars;
                    self.furniture[index] += chars;
                }
                (false, Some(Class::Boiler)) => self.junk[index] += chars,
                (false, Some(Class::Content)) => self.content[index] += chars,
                (false, Some(Class::Undecided)) => self.undecided[index] += chars,
            }
            if index > 0 {
                let parent = dom.nodes[index].parent;
                self.content[parent] += self.content[index];
                self.junk[parent] += self.junk[index];
                self.furniture[parent] += self.furniture[index];
                self.undecided[parent] += self.undecided[index];
            }
        }
    }

    /// Mark lists of teasers as furniture, then sum the classes again.
    fn drop_teasers(&mut self, dom: &Dom) {
        let len = dom.nodes.len();
        // Link-titled headings in each subtree.
        let mut linked = vec![0usize; len];
        for index in (1..len).rev() {
            if self.class[index] == Some(Class::Boiler)
                && is_heading(dom.nodes[index].tag())
                && !self.boiler[index]
            {
                linked[index] += 1;
            }
            linked[dom.nodes[index].parent] += linked[index];
        }
        for index in 1..len {
            if self.boiler[index] {
                continue;
            }
            let node = &dom.nodes[index];
            let teasers: Vec<usize> = node
                .children
                .iter()
                .copied()
                .filter(|&child| {
                    linked[child] == 1
                        && self.content[child] > 0
                        && self.content[child] <= MAX_TEASER_CHARS
                })
                .collect();
            if teasers.len() < MIN_TEASERS {
                continue;
            }
            // Teasers making most of the element: a teaser list. Else
            // boxes of them among an article's paragraphs: only they go.
            let teaser_content: usize = teasers.iter().map(|&child| self.content[child]).sum();
            let marked = if teaser_content * 2 >= self.content[index] {
                vec![index]
            } else {
                teasers
            };
            for root in marked {
                self.mark_boiler(dom, root);
            }
        }
        self.sum(dom);
    }

    /// Mark `root` and its subtree as furniture.
    fn mark_boiler(&mut self, dom: &Dom, root: usize) {
        let mut stack = vec![root];
        while let Some(index) = stack.pop() {
            self.boiler[index] = true;
            stack.extend(dom.nodes[index].children.iter().copied());
        }
    }

    /// The element under the body (or the body) with the best balance of
    /// content against boilerplate; ties go to the deeper element. A body
    /// with less text than [`super::MIN_MAIN_CHARS`] is chosen whole.
    pub fn best(&self, dom: &Dom) -> usize {
        if dom.nodes[dom.body].chars < super::MIN_MAIN_CHARS {
            // A page this short is its content; only furniture goes.
            return dom.body;
        }
        let mut best = dom.body;
        let mut best_value = f64::MIN;
        let mut stack = vec![dom.body];
        while let Some(index) = stack.pop() {
            let node = &dom.nodes[index];
            if !matches!(node.data, Data::Element(_)) || self.boiler[index] {
                continue;
            }
            let value = self.value(index);
            if value > best_value || (value >= best_value && self.content[index] > 0) {
                best = index;
                best_value = value;
            }
            stack.extend(node.children.iter().rev().copied());
        }
        best
    }

    /// `root` and those of its siblings that belong with it, in page
    /// order (Readability's sibling pass): the winner is often one part
    /// of the article (its body without the lead paragraph above it, one
    /// section of a wiki page), and the other parts sit beside it. A
    /// sibling joins when it is not furniture and scores at least
    /// [`SIBLING_SHARE_PERCENT`] of the root's score, or is a paragraph
    /// of prose on its own.
    pub fn with_siblings(&self, dom: &Dom, root: usize) -> Vec<usize> {
        if root == dom.body || root == 0 {
            return vec![root];
        }
        let bar = self.value(root) * SIBLING_SHARE_PERCENT as f64 / 100.0;
        dom.nodes[dom.nodes[root].parent]
            .children
            .iter()
            .copied()
            .filter(|&sibling| {
                sibling == root
                    || (matches!(dom.nodes[sibling].data, Data::Element(_))
                        && !self.boiler[sibling]
                        && self.content[sibling] > 0
                        && (self.value(sibling) >= bar.max(SIBLING_MIN_VALUE)
                            || (dom.nodes[sibling].tag() == "p"
                                && self.class[sibling] == Some(Class::Content)
                                && dom.nodes[sibling].link_chars == 0)))
            })
            .collect()
    }

    /// The choice's score of one element: content characters less
    /// boilerplate, furniture and undecided ones at their weights.
    fn value(&self, index: usize) -> f64 {
        self.content[index] as f64
            - BOILER_WEIGHT * (self.junk[index] - self.furniture[index]) as f64
            - FURNITURE_WEIGHT * self.furniture[index] as f64
            - UNDECIDED_WEIGHT * self.undecided[index] as f64
    }

    /// The page-order span of the content under `root`: from its first
    /// content paragraph (headings excluded) to its last content block.
    /// Short text outside it (a date above the article, "share this" or a
    /// copyright line under it) is left out; inside it, short text (list
    /// items, captions, table cells) belongs to the article (jusText's
    /// context rule).
    pub fn span(&self, dom: &Dom, root: usize) -> Span {
        let mut span = Span {
            first: usize::MAX,
            last: 0,
            cut: self.tail_cut(dom, root),
            start: 0,
        };
        // Content before the first title heading, in page order (the
        // pre-order walk visits nodes in arena order).
        let mut seen = 0;
        let mut title = None;
        // A run of link-dense text once most of the content is seen.
        let mut gap = (usize::MAX, 0usize);
        let mut stack = vec![root];
        while let Some(index) = stack.pop() {
            if self.boiler[index] {
                continue;
            }
            if title.is_none() && dom.nodes[index].tag() == "h1" {
                title = Some((index, seen));
            }
            if self.class[index] == Some(Class::Boiler)
                && seen * 100 >= self.content[root] * GAP_AFTER_PERCENT
            {
                if gap.0 == usize::MAX {
                    gap.0 = index;
                }
                gap.1 += self.own_chars[index];
                if gap.1 >= GAP_MIN_CHARS {
                    span.cut = span.cut.min(gap.0);
                }
            }
            if self.class[index] == Some(Class::Content) {
                gap = (usize::MAX, 0);
                seen += self.own_chars[index];
                if !is_heading(dom.nodes[index].tag()) {
                    span.first = span.first.min(index);
                }
                span.last = span.last.max(index);
            }
            stack.extend(dom.nodes[index].children.iter().rev().copied());
        }
        span.first = list_start(dom, span.first);
        span.last = list_end(dom, span.last);
        if span.first == usize::MAX {
            // No paragraph to anchor on: keep all the short text.
            span = Span {
                first: 0,
                last: usize::MAX,
                cut: span.cut,
                start: 0,
            };
        }
        if let Some((index, before)) = title
            && before * 100 <= self.content[root] * LEAD_SHARE_PERCENT
        {
            span.start = index;
        }
        span
    }

    /// Where the article's tail starts under `root`: follow the chain of
    /// elements each holding [`DOMINANT_SHARE_PERCENT`] of the root's
    /// content in blocks below it (a container, not one paragraph or a
    /// heading); the first sibling after the deepest of them opens the
    /// tail (author boxes, notices, comment threads sit beside the
    /// article body, after it). `usize::MAX` when nothing dominates.
    fn tail_cut(&self, dom: &Dom, root: usize) -> usize {
        let total = self.content[root];
        let mut cut = usize::MAX;
        let mut node = root;
        loop {
            let children = &dom.nodes[node].children;
            let Some(position) = children.iter().position(|&child| {
                self.class[child].is_none()
                    && self.content[child] * 100 >= total * DOMINANT_SHARE_PERCENT
            }) else {
                return cut;
            };
            if let Some(&next) = children.get(position + 1) {
                cut = next;
            }
            node = children[position];
        }
    }

    /// Whether rendering leaves out the element: furniture; a block
    /// holding boilerplate and no content (a menu, a list of related
    /// links); short text or a heading outside the content's `span`.
    /// Table rows and cells are never left out one by one: a data table
    /// keeps its shape.
    pub fn skip(&self, dom: &Dom, span: Span, index: usize) -> bool {
        if self.boiler[index] || index >= span.cut || span.before_title(dom, index) {
            return true;
        }
        let tag = dom.nodes[index].tag();
        if !is_block(tag) || matches!(tag, "tr" | "td" | "th" | "tbody" | "thead" | "tfoot") {
            return false;
        }
        if !is_heading(tag) && self.junk[index] as f64 * BOILER_WEIGHT > self.content[index] as f64
        {
            return true;
        }
        if is_heading(tag) && self.orphan[index] {
            return true;
        }
        let outside = match self.class[index] {
            Some(Class::Undecided) => index < span.first || index > span.last,
            Some(_) if is_heading(tag) => index > span.last,
            _ => false,
        };
        outside && (self.content[index] == 0 || is_heading(tag))
    }
}

impl Analysis {
    /// The chosen `root` for [`super::explain`]: its ancestry, scores, the
    /// span, and its children with theirs.
    pub fn describe(&self, dom: &Dom, root: usize, span: Span) -> String {
        let label = |index: usize| {
            dom.nodes[index]
                .label
                .as_deref()
                .unwrap_or(dom.nodes[index].tag())
                .to_string()
        };
        let scores = |index: usize| {
            format!(
                "[{index} c={} j={} u={}{}]",
                self.content[index],
                self.junk[index],
                self.undecided[index],
                if self.boiler[index] { " boiler" } else { "" }
            )
        };
        let mut chain = vec![root];
        while let Some(&top) = chain.last()
            && top != 0
        {
            chain.push(dom.nodes[top].parent);
        }
        let path: Vec<String> = chain
            .iter()
            .rev()
            .skip(1)
            .map(|&index| format!("{} {}", label(index), scores(index)))
            .collect();
        let mut out = format!("{span:?}\n  {}", path.join("\n  > "));
        for &child in &dom.nodes[root].children {
            if dom.nodes[child].chars > 0 && matches!(dom.nodes[child].data, Data::Element(_)) {
                out.push_str(&format!("\n    {} {}", label(child), scores(child)));
            }
        }
        out
    }
}

/// Where a page's content starts and ends, in arena (page) order.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    first: usize,
    last: usize,
    /// First node of the tail after the article body.
    cut: usize,
    /// The article's title heading: what precedes it (breadcrumbs,
    /// teasers, dates) is left out, its ancestors are not.
    start: usize,
}

impl Span {
    /// Whether the node comes before the title and does not hold it.
    fn before_title(&self, dom: &Dom, index: usize) -> bool {
        if index >= self.start {
            return false;
        }
        let mut node = self.start;
        while node != 0 {
            node = dom.nodes[node].parent;
            if node == index {
                return false;
            }
        }
        true
    }
}

/// Where the content starting at `first` starts once a list is taken
/// whole: when the first content block is an item of a list, the items
/// before it are the same list (a recipe's ingredients, where only the
/// longest line reads as a sentence; a feature list), not short text
/// above the article.
fn list_start(dom: &Dom, first: usize) -> usize {
    let Some(list) = enclosing_list(dom, first) else {
        return first;
    };
    dom.nodes[list]
        .children
        .iter()
        .copied()
        .find(|&child| dom.nodes[child].tag() == "li")
        .map_or(first, |item| item.min(first))
}

/// Where the content ending at `end` ends once a list is taken whole:
/// when the last content block is an item of a list, the items after it
/// (and what they hold) are the same list, not short text under the
/// article.
fn list_end(dom: &Dom, end: usize) -> usize {
    let Some(list) = enclosing_list(dom, end) else {
        return end;
    };
    // The last node of the list's subtree in page order.
    let mut node = list;
    while let Some(&child) = dom.nodes[node].children.last() {
        node = child;
    }
    node.max(end)
}

/// The `<ul>` or `<ol>` whose item `index` is, if it is one.
fn enclosing_list(dom: &Dom, index: usize) -> Option<usize> {
    let node = dom.nodes.get(index)?;
    (node.tag() == "li" && matches!(dom.nodes[node.parent].tag(), "ul" | "ol"))
        .then_some(node.parent)
}

fn is_heading(tag: &str) -> bool {
    matches!(tag, "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
}

/// A block's own text: navigation when link-dense, content when long or a
/// sentence (headings count as content: they title what follows),
/// undecided otherwise.
fn classify(tag: &str, chars: usize, links: usize, punctuation: usize) -> Class {
    if links as f64 > chars as f64 * MAX_LINK_DENSITY {
        return Class::Boiler;
    }
    if is_heading(tag)
        || chars >= CONTENT_MIN_CHARS
        || (chars >= SENTENCE_MIN_CHARS && punctuation > 0)
    {
        Class::Content
    } else {
        Class::Undecided
    }
}
