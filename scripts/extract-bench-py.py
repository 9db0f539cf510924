#!/usr/bin/env python3
"""Score the Python extractors (trafilatura, readability-lxml) on the pages
scripts/extract-bench.sh unpacked, with the bench's rule: a snippet counts
when its whitespace-normalised form is a substring of the whitespace-
normalised output; `with` found = TP, missing = FN, `without` found = FP;
counts pooled over the pages; F1 = 2TP / (2TP + FP + FN).

Usage: extract-bench-py.py UNPACKED_DIR EVALDATA_JSON [--split even|odd]
       [--dump DIR]   (writes DIR/<system>/NNNN.txt, NNNN the page's index
                       in URL order, as the Rust bench's --dump does)
Needs a venv with trafilatura and readability-lxml (extract-bench.sh makes
target/bench-venv when asked to, see there). Prints one Markdown row a system.
"""

import argparse
import json
import os
import re
import statistics
import sys
import time


def norm(text):
    "Python's own rule from eval_common.py: \\s+ to one space, trimmed."
    return re.sub(r"\s+", " ", text).strip()


def page_path(root, name):
    for sub in ("cache", "eval"):
        path = os.path.join(root, "tests", sub, name)
        if os.path.isfile(path):
            return path
    raise SystemExit(f"{name}: not found under {root}/tests/{{cache,eval}}")


def read_html(path):
    # trafilatura's own evaluation decodes the bytes with its loader.
    from trafilatura.utils import load_html  # noqa: PLC0415

    with open(path, "rb") as handle:
        return load_html(handle.read())


def run_trafilatura(tree, url):
    from trafilatura import extract  # noqa: PLC0415

    # The settings of trafilatura's own benchmark (eval_common.EXTRACT_OPTS).
    return extract(
        tree, url=url, include_comments=False, include_tables=True, include_formatting=False
    ) or ""


def run_readability(tree, url):
    from lxml import html as lxml_html  # noqa: PLC0415
    from readability import Document  # noqa: PLC0415

    summary = Document(lxml_html.tostring(tree, encoding="unicode"), url=url).summary(
        html_partial=True
    )
    return lxml_html.fromstring(summary).text_content() if summary.strip() else ""


SYSTEMS = {"trafilatura": run_trafilatura, "readability-lxml": run_readability}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("root")
    parser.add_argument("evaldata")
    parser.add_argument("--split", choices=["even", "odd"])
    parser.add_argument("--dump")
    args = parser.parse_args()
    with open(args.evaldata, encoding="utf-8") as handle:
        evaldata = json.load(handle)
    # Python sorts str by code point, as the Rust bench's BTreeMap sorts
    # UTF-8 by byte: the indices match.
    items = sorted(evaldata.items())
    print("| system | F1 | precision | recall | empty outputs | p50 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    for name, run in SYSTEMS.items():
        tp = fp = fn = empties = 0
        times = []
        for index, (url, item) in enumerate(items):
            if args.split and index % 2 != (args.split == "odd"):
                continue
            started = time.perf_counter()
            try:
                tree = read_html(page_path(args.root, item["file"]))
                text = run(tree, url) if tree is not None else ""
            except Exception as error:  # noqa: BLE001 - a failed page scores empty
                print(f"{name}: {item['file']}: {error}", file=sys.stderr)
                text = ""
            times.append((time.perf_counter() - started) * 1000)
            out = norm(text)
            empties += not out
            found = sum(norm(s) in out for s in item["with"])
            tp += found
            fn += len(item["with"]) - found
            fp += sum(norm(s) in out for s in item["without"])
            if args.dump:
                folder = os.path.join(args.dump, name)
                os.makedirs(folder, exist_ok=True)
                with open(os.path.join(folder, f"{index:04d}.txt"), "w", encoding="utf-8") as handle:
                    handle.write(text)
        f1 = 2 * tp / max(1, 2 * tp + fp + fn)
        print(
            f"| {name} | {f1:.3f} | {tp / max(1, tp + fp):.3f} | {tp / max(1, tp + fn):.3f} "
            f"| {empties} | {statistics.median(times):.1f} | {max(times):.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
