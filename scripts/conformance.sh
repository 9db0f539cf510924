#!/usr/bin/env bash
# The official MCP conformance suite (npm @modelcontextprotocol/conformance)
# against moat over Streamable HTTP, for protocol 2025-11-25 and 2026-07-28:
#
#   fixture  tests' moat-conformance-fixture: moat-shared's runtime serving
#            every fixture the suite calls. Every scored scenario must pass.
#   fs       moat-fs on a temp directory.
#   scrape   moat-scrape.
#            The products carry none of the suite's fixture tools, resources
#            or prompts: scenarios that need them are listed, each with its
#            reason, in tests/conformance/expected-failures-products-*.yml.
#            Every other scenario must pass, and a listed one that starts
#            passing fails the run (the suite calls the entry stale).
#
# Usage: scripts/conformance.sh [install | fixture | fs | scrape ...]
#   no argument  run all three servers
#   install      only install Node 22, the suite and the TypeScript SDK, then
#                print the folder holding their node_modules
#
# What it installs, once, into target/conformance (npm, never global): Node
# 22 from the `node` npm package (the suite crashes on Node 20: globSync),
# the suite and the TypeScript SDK (for tests/tests/interop_typescript.rs),
# all at pinned versions. Only npm's registry is contacted; every server
# binds 127.0.0.1.
#
# Binaries: from $MOAT_BIN_DIR when set (the Rust test sets it), else built
# here with cargo into ${CARGO_TARGET_DIR:-target}/debug.
#
# Reports: target/conformance/results/<server>-<version>/ (checks.json per
# scenario) and <server>-<version>.log (the suite's output).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

suite_version=0.2.0-alpha.12
node_version=22.23.3
sdk_version=1.32.2
cache=${MOAT_CONFORMANCE_CACHE:-$root/target/conformance}
# One scenario's time limit (the suite's default is 30 s); every scenario
# here takes well under a second.
scenario_timeout_ms=20000
versions=(2025-11-25 2026-07-28)

install() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "conformance: installing npm (Debian package)" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq npm >/dev/null
  fi
  local stamp="$cache/.installed-$node_version-$suite_version-$sdk_version"
  if [ -f "$stamp" ] && [ -x "$cache/node_modules/.bin/node" ]; then
    return
  fi
  mkdir -p "$cache"
  echo "conformance: installing node@$node_version, @modelcontextprotocol/conformance@$suite_version, @modelcontextprotocol/sdk@$sdk_version into $cache" >&2
  [ -f "$cache/package.json" ] || echo '{ "private": true, "description": "moat: conformance suite and interop clients (scripts/conformance.sh)" }' >"$cache/package.json"
  (cd "$cache" && npm install --no-audit --no-fund --loglevel=error --save-exact \
    "node@$node_version" \
    "@modelcontextprotocol/conformance@$suite_version" \
    "@modelcontextprotocol/sdk@$sdk_version" >&2)
  "$cache/node_modules/.bin/node" --version >/dev/null
  touch "$stamp"
}

install
export PATH="$cache/node_modules/.bin:$PATH"
if [ "${1:-}" = install ]; then
  echo "$cache"
  exit 0
fi

servers=("$@")
[ ${#servers[@]} -gt 0 ] || servers=(fixture fs scrape)
for server in "${servers[@]}"; do
  case $server in
    fixture | fs | scrape) ;;
    *) echo "conformance: unknown server '$server' (fixture, fs, scrape)" >&2; exit 2 ;;
  esac
done

if [ -n "${MOAT_BIN_DIR:-}" ]; then
  bin=$MOAT_BIN_DIR
else
  cargo build --quiet --bin moat-fs --bin moat-scrape --bin moat-conformance-fixture
  bin=${CARGO_TARGET_DIR:-$root/target}/debug
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/moat-conformance.XXXXXX")
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT

# Start one server on an ephemeral loopback port; sets $url.
start_server() {
  local name=$1 log="$work/$1.stderr"
  local policy="$root/tests/conformance/policy.toml"
  case $name in
    fixture) "$bin/moat-conformance-fixture" --policy "$policy" serve --http 127.0.0.1:0 2>"$log" & ;;
    fs)
      mkdir -p "$work/root"
      printf 'hello\n' >"$work/root/hello.txt"
      "$bin/moat-fs" --policy "$policy" "$work/root" serve --http 127.0.0.1:0 2>"$log" &
      ;;
    scrape) "$bin/moat-scrape" --policy "$policy" serve --http 127.0.0.1:0 2>"$log" & ;;
  esac
  server_pid=$!
  url=""
  for _ in $(seq 200); do
    url=$(sed -n 's/.* listening on \(http:[^ ]*\/mcp\).*/\1/p' "$log" | head -n 1)
    [ -n "$url" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "conformance: $name did not start:" >&2
  cat "$log" >&2
  return 1
}

results="$cache/results"
mkdir -p "$results"
failed=()
summary=()
for server in "${servers[@]}"; do
  start_server "$server"
  for version in "${versions[@]}"; do
    out="$results/$server-$version"
    rm -rf "$out"
    baseline=()
    if [ "$server" != fixture ]; then
      baseline=(--expected-failures "$root/tests/conformance/expected-failures-products-$version.yml")
    fi
    status=0
    conformance server --url "$url" --requirements "$version" --timeout "$scenario_timeout_ms" \
      -o "$out" "${baseline[@]}" >"$out.log" 2>&1 || status=$?
    total=$(grep -E '^Total: ' "$out.log" | tail -n 1 || true)
    summary+=("$server $version: ${total:-no summary} (exit $status)")
    if [ "$status" -ne 0 ]; then
      failed+=("$server $version")
      echo "conformance: $server $version failed; the suite said:" >&2
      sed -n '/=== SUMMARY ===/,$p' "$out.log" >&2
    fi
  done
  stop_server
done

printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "conformance: FAILED: ${failed[*]} (reports in $results)" >&2
  exit 1
fi
echo "conformance: all runs passed (reports in $results)"
