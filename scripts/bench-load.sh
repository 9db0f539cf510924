#!/usr/bin/env bash
# Load and capacity of the HTTP runtime (issue 5): builds release binaries,
# then runs moat-load. Usage: scripts/bench-load.sh [SECONDS_PER_ROW] [SESSIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p moat-fs -p moat-benches
exec target/release/moat-load "${1:-10}" "${2:-10000}"
