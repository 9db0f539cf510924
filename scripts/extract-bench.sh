#!/usr/bin/env bash
# Main-content extraction benchmark: unpack the public set (trafilatura's
# evaluation pages and snippets) into target/extract-bench/ once, build
# moat-extract-bench in release, and score html_to_text on it.
# Usage: scripts/extract-bench.sh [path-to-extract-bench] [bench options]
# (options: --split even|odd, --worst N, --dump DIR, --explain N).
# When target/bench-venv exists (see docs/scrape.md), trafilatura and
# readability-lxml are scored on the same pages after it.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: scripts/extract-bench.sh path-to-extract-bench [bench options]}
shift
out=target/extract-bench
if [ ! -f "$out/evaldata.json" ]; then
  mkdir -p "$out"
  tar -xJf "$data/html.tar.xz" -C "$out"
  gzip -dc "$data/evaldata.json.gz" > "$out/evaldata.json"
fi
cargo build --release -q -p moat-scrape --bin moat-extract-bench
target/release/moat-extract-bench "$out" "$out/evaldata.json" "$@"
if [ -x target/bench-venv/bin/python ] && [ "$#" -eq 0 ]; then
  target/bench-venv/bin/python scripts/extract-bench-py.py "$out" "$out/evaldata.json"
fi
