#!/usr/bin/env bash
# Soak (issue 7): both servers over Streamable HTTP under mixed concurrent
# calls, browser scrapes included, for SECONDS (default 600), then a leak
# check. Prints markdown; exits 1 when a bound in benches/src/soak.rs fails.
# Needs Chromium (/usr/bin/chromium; `apt-get install chromium`).
# Usage: scripts/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p moat-fs -p moat-scrape -p moat-benches --bins
exec target/release/moat-soak "${1:-600}"
