#!/usr/bin/env python3
"""A second, independent extraction dev set: Mozilla Readability's 130 test pages.

The pages (source.html + expected.html, Apache-2.0, as shipped inside the
`readabilityrs` crate on crates.io) are a different sample of the web from
trafilatura's evaluation set: English news, blogs, wikis and docs, plus
Readability's own edge cases. They serve as a check that extraction rules
generalise beyond the set they were tuned on.

  readability-set.py make OUT      download the crate into OUT, write OUT/tests/cache/*.html
                                   and OUT/evaldata.json (snippets: `with` = sentences of the
                                   expected text, `without` = source blocks absent from it),
                                   so moat-extract-bench scores it with the same rule
  readability-set.py score OUT DUMP  token-level precision/recall/F1 of DUMP/NNNN.txt
                                   (moat-extract-bench --dump) against the expected texts,
                                   beside the whole visible page text

Standard library only.
"""
import collections
import html.parser
import io
import json
import os
import re
import sys
import tarfile
import urllib.request

CRATE = "readabilityrs"
VERSION = "0.1.4"
URL = f"https://static.crates.io/crates/{CRATE}/{CRATE}-{VERSION}.crate"
# Pages whose expected article is shorter than this are Readability's unit
# cases (metadata, entities), not articles: scoring them says nothing.
MIN_EXPECTED_CHARS = 300
SNIPPETS = 6

BLOCK = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "pre", "blockquote",
         "section", "article", "br", "tr", "figcaption", "dd", "dt", "header", "footer", "nav",
         "aside", "main", "ul", "ol", "table", "form", "figure", "hr", "title", "option", "label",
         "button", "address", "caption"}
SKIP = {"script", "style", "noscript", "template", "head", "svg", "iframe", "select", "textarea"}


class Blocks(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks, self.cur, self.skip = [], [], 0

    def flush(self):
        text = re.sub(r"\s+", " ", "".join(self.cur)).strip()
        if text:
            self.blocks.append(text)
        self.cur = []

    def handle_starttag(self, tag, attrs):
        if tag in SKIP:
            self.skip += 1
        elif tag in BLOCK:
            self.flush()

    def handle_endtag(self, tag):
        if tag in SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in BLOCK:
            self.flush()

    def handle_data(self, data):
        if not self.skip:
            self.cur.append(data)


def blocks(markup):
    parser = Blocks()
    parser.feed(markup)
    parser.close()
    parser.flush()
    return parser.blocks


def norm(text):
    return re.sub(r"\s+", " ", text).strip()


def spread(items, n):
    if len(items) <= n:
        return items
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def make(out):
    pages = os.path.join(out, "crate")
    if not os.path.isdir(pages):
        data = urllib.request.urlopen(URL, timeout=60).read()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            members = [m for m in archive.getmembers() if "/tests/test-pages/" in m.name]
            archive.extractall(pages, members=members)
    root = os.path.join(pages, f"{CRATE}-{VERSION}", "tests", "test-pages")
    os.makedirs(os.path.join(out, "tests", "cache"), exist_ok=True)
    os.makedirs(os.path.join(out, "expected"), exist_ok=True)
    evaldata = {}
    for name in sorted(os.listdir(root)):
        src = open(os.path.join(root, name, "source.html"), encoding="utf-8", errors="replace").read()
        exp = open(os.path.join(root, name, "expected.html"), encoding="utf-8", errors="replace").read()
        exp_blocks = blocks(exp)
        exp_text = "\n".join(exp_blocks)
        if len(exp_text) < MIN_EXPECTED_CHARS:
            continue
        exp_norm = norm(exp_text)
        # `with`: a sentence-sized piece of several expected blocks, first and
        # last included (the article's edges are where extractors go wrong).
        prose = [b for b in exp_blocks if len(b) >= 40]
        with_ = [b[:80].rsplit(" ", 1)[0] for b in spread(prose, SNIPPETS)]
        # `without`: visible source blocks that are not in the expected text.
        src_blocks = [b for b in blocks(src) if len(b) >= 12 and norm(b) not in exp_norm]
        seen, without = set(), []
        for b in src_blocks:
            if b not in seen:
                seen.add(b)
                without.append(b[:80].rsplit(" ", 1)[0] if len(b) > 80 else b)
        without = spread(without, SNIPPETS)
        file = f"{name}.html"
        open(os.path.join(out, "tests", "cache", file), "w", encoding="utf-8").write(src)
        open(os.path.join(out, "expected", f"{name}.txt"), "w", encoding="utf-8").write(exp_text)
        evaldata[f"https://readability.test/{name}"] = {"file": file, "with": with_, "without": without}
    json.dump(evaldata, open(os.path.join(out, "evaldata.json"), "w"), indent=1)
    print(f"{len(evaldata)} pages in {out}", file=sys.stderr)


def tokens(text):
    return collections.Counter(re.findall(r"\w+", text.lower()))


def prf(output, expected):
    out, exp = tokens(output), tokens(expected)
    common = sum((out & exp).values())
    p = common / max(1, sum(out.values()))
    r = common / max(1, sum(exp.values()))
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score(out, dump):
    evaldata = json.load(open(os.path.join(out, "evaldata.json")))
    rows = {"moat": [], "whole page": []}
    for index, url in enumerate(sorted(evaldata)):
        name = url.rsplit("/", 1)[1]
        expected = open(os.path.join(out, "expected", f"{name}.txt"), encoding="utf-8").read()
        path = os.path.join(dump, f"{index:04}.txt")
        output = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
        rows["moat"].append(prf(output, expected))
        src = open(os.path.join(out, "tests", "cache", f"{name}.html"), encoding="utf-8").read()
        rows["whole page"].append(prf("\n".join(blocks(src)), expected))
    print("| extractor | token P | token R | token F1 (mean per page) | pages |")
    print("|---|---|---|---|---|")
    for name, values in rows.items():
        n = len(values)
        mean = [sum(v[i] for v in values) / n for i in range(3)]
        print(f"| {name} | {mean[0]:.3f} | {mean[1]:.3f} | {mean[2]:.3f} | {n} |")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "score":
        score(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
