#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script).
# Installs what the tests need when it is missing: Chromium (browser tests),
# Python's venv module (the official Python SDK interop test), redis-server
# (the three-replica fleet test), buildah and debootstrap (the container
# check); scripts/test-platforms.sh installs wine, mingw-w64, llvm and
# musl-tools, zig and the mcpb CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need_apt+=(chromium)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v buildah >/dev/null 2>&1 || need_apt+=(buildah)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The container's base images (debootstrap from Debian's mirror) are mostly
# network and disk work: made in the background while the compiler uses the
# cores, waited for before the container check.
mkdir -p target/test-logs
base_images_log=target/test-logs/base-images.log
if [ "$(id -u)" -eq 0 ]; then
  deploy/container/make-base-images.sh >"$base_images_log" 2>&1 &
  base_images_pid=$!
else
  base_images_pid=""
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# Build every binary first: the end-to-end suites spawn them.
cargo build --workspace --bins --quiet
cargo test --workspace --quiet
# moat-fs for Windows (its stdio suites under Wine), macOS (linked by zig,
# checked with `file`) and static musl; the MCP Bundle validated and packed
# with the mcpb CLI; server.json against the registry's schema.
scripts/test-platforms.sh
# Kubernetes manifests rendered and validated offline, and the remote
# browser pieces run on loopback (docs/fleet.md).
scripts/test-k8s.sh
# Dockerfile.scrape built with buildah and checked from outside; the `ci`
# cargo profile keeps the cold in-image build inside CI's budget.
if [ -n "$base_images_pid" ] && ! wait "$base_images_pid"; then
  cat "$base_images_log" >&2
  echo "making the container's base images failed" >&2
  exit 1
fi
CARGO_PROFILE=ci scripts/test-container.sh
# Every fuzz target for a short bounded time (docs/FUZZING.md).
scripts/fuzz.sh 20
