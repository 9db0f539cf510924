#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this script, with
# lighter debug info and no incremental caches: see there).
# Installs what the tests need when it is missing: Chromium (browser tests),
# Python's venv module (the official Python SDK interop test), redis-server
# (the three-replica fleet test), buildah and debootstrap (the container
# check); scripts/test-platforms.sh installs wine, mingw-w64, llvm and
# musl-tools, zig and the mcpb CLI.
#
# Prints each step's wall time to stderr ("== step clippy: 312 s") and the
# total at the end, so a CI log shows where the time goes.
#
# Installing is network and disk work, and the container's base images
# (debootstrap from Debian's mirror) mostly are too: both run in the
# background while the compiler uses the cores (fmt, clippy, the builds),
# and are waited for just before the first step that needs them.
set -euo pipefail
cd "$(dirname "$0")/.."
logs=target/test-logs
mkdir -p "$logs"

# --- step timing --------------------------------------------------------
started=$SECONDS
step_name=""
step_started=$SECONDS
end_step() {
  if [ -n "$step_name" ]; then
    echo "== step $step_name: $((SECONDS - step_started)) s${1:+ ($1)}" >&2
  fi
  step_name=""
}
# step NAME: ends the running step (printing its wall time) and starts NAME.
step() {
  end_step
  step_name=$1
  step_started=$SECONDS
  echo "== $1 (at $((SECONDS - started)) s)" >&2
}
# A suite still running in the background (the conformance suite, below)
# is stopped with the script.
trap 'status=$?; end_step "stopped with status $status"; [ -z "${conformance_pid:-}" ] || kill "$conformance_pid" 2>/dev/null || true; echo "== total: $((SECONDS - started)) s" >&2' EXIT

# --- installs and base images, in the background ------------------------
need_apt=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need_apt+=(chromium)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v buildah >/dev/null 2>&1 || need_apt+=(buildah)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
installs_done=$logs/installs.done
rm -f "$installs_done"
(
  if [ ${#need_apt[@]} -gt 0 ]; then
    echo "installing: ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
  # wine, mingw-w64, llvm, musl-tools, rustup targets, zig, the mcpb CLI
  # and the Wine prefix.
  scripts/test-platforms.sh --install-only
  touch "$installs_done"
  # After the rustup targets: the rust base image copies this toolchain.
  if [ "$(id -u)" -eq 0 ]; then
    deploy/container/make-base-images.sh
  fi
) >"$logs/installs.log" 2>&1 &
installs_pid=$!
# wait_for_installs: returns once the installs are done; fails with their
# log when they failed.
wait_for_installs() {
  while [ ! -e "$installs_done" ]; do
    if ! kill -0 "$installs_pid" 2>/dev/null; then
      wait "$installs_pid" || true
      [ -e "$installs_done" ] && return 0
      cat "$logs/installs.log" >&2
      echo "installing what the tests need failed (log: $logs/installs.log)" >&2
      exit 1
    fi
    sleep 1
  done
}

step fmt
cargo fmt --all --check
# fuzz/ is its own workspace with its own lock file: a dependency added to a
# moat crate must be recorded there too, or the fuzz step fails at the very
# end of the run. Checked here, in a second, instead: offline first; on a
# fresh machine whose cargo cache lacks the fuzz workspace's crates that
# fails without saying anything about the lock file, so it is asked again
# online, and only a refusal then means the lock file is out of date.
fuzz_locked() { (cd fuzz && cargo metadata --format-version 1 --locked "$@" >/dev/null 2>&1); }
if ! fuzz_locked --offline && ! fuzz_locked; then
  echo "fuzz/Cargo.lock is out of date: run (cd fuzz && cargo metadata --format-version 1 >/dev/null) and commit it" >&2
  exit 1
fi
step clippy
cargo clippy --workspace --all-targets --quiet -- -D warnings
# Build every binary first: the end-to-end suites spawn them.
step "build the binaries"
cargo build --workspace --bins --quiet
step "build the tests"
cargo test --workspace --quiet --no-run
step "wait for the installs"
wait_for_installs
step "run the tests"
# The official conformance suite (one test binary: three servers, each
# driven by the suite's Node client in two protocol eras) is the longest
# suite and mostly waits on Node and loopback: it runs beside everything
# else, from here to just before the container step, instead of holding up
# the other suites. Its binary is run directly, as `cargo test` would (from
# tests/), since a second `cargo test` would wait for the first one's lock;
# the other suites run every test but that binary's (`--exact --skip` of
# each name it lists, so a test added there runs twice rather than never).
conformance_bin=$(cargo test --quiet --no-run --message-format=json -p moat-tests --test conformance |
  python3 -c 'import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message["target"]["kind"] == ["test"]:
        print(message["executable"])')
conformance_skips=()
while IFS= read -r name; do
  conformance_skips+=(--skip "$name")
done < <(cd tests && "$conformance_bin" --list --format terse | sed -n 's/: test$//p')
[ ${#conformance_skips[@]} -gt 0 ] || { echo "the conformance binary lists no tests" >&2; exit 1; }
# The binaries it serves were built above; named here, the test does not
# ask cargo for them (cargo would wait for the lock too).
bin_dir=$(dirname "$(dirname "$conformance_bin")")
(
  cd tests
  export MOAT_FS_BIN=$bin_dir/moat-fs MOAT_SCRAPE_BIN=$bin_dir/moat-scrape \
    MOAT_CONFORMANCE_FIXTURE_BIN=$bin_dir/moat-conformance-fixture
  exec "$conformance_bin" --quiet
) >"$logs/conformance.log" 2>&1 &
conformance_pid=$!
cargo test --workspace --quiet -- --exact "${conformance_skips[@]}"
# moat-fs for Windows (its stdio suites under Wine), macOS (linked by zig,
# checked with `file`) and static musl; the MCP Bundle validated and packed
# with the mcpb CLI; server.json against the registry's schema.
step "platforms (test-platforms.sh)"
scripts/test-platforms.sh
# Kubernetes manifests rendered and validated offline, and the remote
# browser pieces run on loopback (docs/fleet.md).
step "kubernetes (test-k8s.sh)"
scripts/test-k8s.sh
step "wait for the conformance suite"
conformance_status=0
wait "$conformance_pid" || conformance_status=$?
conformance_pid=""
grep -E '^test result|FAILED|panicked' "$logs/conformance.log" >&2 || true
if [ "$conformance_status" != 0 ]; then
  cat "$logs/conformance.log" >&2
  echo "FAIL: the conformance suite (log: $logs/conformance.log)" >&2
  exit 1
fi
# Dockerfile.scrape built with buildah and checked from outside; the `ci`
# cargo profile keeps the cold in-image build inside CI's budget.
step "wait for the container's base images"
if ! wait "$installs_pid"; then
  cat "$logs/installs.log" >&2
  echo "making the container's base images failed (log: $logs/installs.log)" >&2
  exit 1
fi
step "container (test-container.sh)"
CARGO_PROFILE=ci scripts/test-container.sh
# Every fuzz target for a short bounded time (docs/FUZZING.md).
step "fuzz (fuzz.sh 20)"
scripts/fuzz.sh 20
end_step
