#!/usr/bin/env bash
# moat against its peers (issue 6), one command: builds moat in release
# mode, installs the peers from their registries into target/bench-peers/
# (skipped when already there), runs moat-compare on every server, and
# rewrites docs/BENCHMARKS.md and docs/bench/*.svg.
#
# Usage: scripts/bench-compare.sh
# Environment: ROUNDS (3), BUDGET_MS per workload per round (2000), SPAWNS
# per round (5), TREE (a folder to keep the generated tree in and reuse on
# later runs, instead of a fresh temp one). Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
peers=target/bench-peers
say() { echo "bench-compare: $*" >&2; }

say "building moat (release)"
cargo build --release -q -p moat-fs -p moat-scrape -p moat-benches \
  --bin moat-fs --bin moat-scrape --bin moat-compare --bin moat-echo --bin moat-echo-http
# A hot-symbol list made stale by a change to the code (a renamed or newly
# hot function) would measure moat-fs's start-up and memory with its code
# scattered.
scripts/hot-symbols.sh --check || scripts/hot-symbols.sh

mkdir -p "$peers"
# The content-search row is measured against ripgrep's own command line;
# a fresh Debian machine has no `rg`, which would leave that row empty.
if ! command -v rg >/dev/null 2>&1; then
  say "installing ripgrep (Debian)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -qq ripgrep >/dev/null 2>&1 || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq ripgrep >/dev/null; }
fi
reference=$peers/npm/node_modules/@modelcontextprotocol/server-filesystem
if [ ! -f "$reference/dist/index.js" ]; then
  say "installing @modelcontextprotocol/server-filesystem (npm)"
  npm install --prefix "$peers/npm" --no-audit --no-fund --silent @modelcontextprotocol/server-filesystem >&2
fi
rust_peer=$peers/cargo/bin/rust-mcp-filesystem
if [ ! -x "$rust_peer" ]; then
  say "installing rust-mcp-filesystem (crates.io; a few minutes of compiling)"
  cargo install --locked --quiet --root "$peers/cargo" --target-dir "$peers/cargo-build" rust-mcp-filesystem
fi
venv=$peers/venv
if ! "$venv/bin/python" -c 'import mcp_server_fetch' 2>/dev/null; then
  say "installing mcp-server-fetch (PyPI)"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet mcp-server-fetch >&2
fi

moat_version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1) ($(git rev-parse --short HEAD))"
reference_version=$(node -p "require('./$reference/package.json').version")
rust_peer_version=$("$rust_peer" --version | awk '{print $NF}')
fetch_version=$("$venv/bin/python" -m pip show mcp-server-fetch | sed -n 's/^Version: //p')
budget=2097152 # moat-fs result budget: 2 MiB, so a 1 MiB read fits in one call
# moat-scrape's per-host politeness (default 10 requests started per second
# and 8 in flight to one host) would time its own pacing on the one local
# host, not the scrape: the peer has no such limit, so the bench lifts it
# for this run. Real users keep the polite default.
scrape_policy=target/bench-compare/scrape-policy.toml
mkdir -p "$(dirname "$scrape_policy")"
printf '[scrape.politeness]\nper_host_per_second = 100000.0\nper_host_concurrency = 64\n' >"$scrape_policy"

say "measuring (ROUNDS=${ROUNDS:-3})"
target/release/moat-compare \
  --rounds "${ROUNDS:-3}" --budget-ms "${BUDGET_MS:-2000}" --spawns "${SPAWNS:-5}" \
  ${TREE:+--tree "$TREE"} \
  --machine "moat=$moat_version" \
  --machine "rustc=$(rustc --version)" \
  --machine "node=$(node --version)" \
  --machine "python=$("$venv/bin/python" --version)" \
  --machine "chromium=$(/usr/bin/chromium --version 2>/dev/null || echo none)" \
  --machine "load average (1, 5, 15 min) at the start=$(cut -d' ' -f1-3 /proc/loadavg)" \
  --floor "moat-echo|$moat_version|protocol floor: answers at once|stdio:target/release/moat-echo" \
  --floor "moat-echo-http|$moat_version|the floor over Streamable HTTP: rmcp's own service, answers at once|http:target/release/moat-echo-http" \
  --fs "moat-fs|$moat_version|--max-result-bytes $budget; directory_tree and searches stop at 1,000 entries (its default cap) with a cursor|stdio:target/release/moat-fs --max-result-bytes $budget {root}" \
  --fs "moat-fs (HTTP)|$moat_version|same, over Streamable HTTP on loopback (one session)|http:target/release/moat-fs --max-result-bytes $budget {root} serve --http 127.0.0.1:0" \
  --fs "reference|$reference_version|no content search; directory_tree has no depth limit|stdio:node $reference/dist/index.js {root}" \
  --fs "rust-mcp-filesystem|$rust_peer_version|read-only (its default); directory_tree walks everything unless max_depth|stdio:$rust_peer {root}" \
  --scrape "moat-scrape|$moat_version|render=auto: plain HTTP, Chromium when the page needs JavaScript; --allow-private {site} --ignore-robots-txt; per-host politeness lifted (policy: per_host_per_second 100000, per_host_concurrency 64; the defaults, 10/s and 8, would pace the one local host) as the peer has none|stdio:target/release/moat-scrape --policy $scrape_policy --allow-private {site} --ignore-robots-txt" \
  --scrape "mcp-server-fetch|$fetch_version|--allow-private-ips --ignore-robots-txt; Node is on PATH (its readability step then runs in Node)|stdio:$venv/bin/python -m mcp_server_fetch --allow-private-ips --ignore-robots-txt"

say "done in $((SECONDS - started)) s: docs/BENCHMARKS.md, docs/bench/*.svg"
