#!/usr/bin/env bash
# moat-fs on every platform Claude Desktop runs on, from this Linux machine
# (scripts/test.sh runs it):
#   1. builds moat-fs for x86_64-pc-windows-gnu, static
#      x86_64-unknown-linux-musl, aarch64-apple-darwin and x86_64-apple-darwin
#      (cargo profile `ci`: dev without debug info), in one cargo
#      invocation, all without default features: the one default, `jwks-fetch`, brings reqwest, rustls and
#      aws-lc's C build for each target, minutes of CI's two cores, and is
#      target-independent code the native suites test (http_oauth);
#      scripts/release.sh builds Windows and Linux with it;
#   2. runs the moat-fs stdio end-to-end suites (fs_transports, fs_full,
#      fs_escape, fs_windows) against the Windows .exe under Wine, while
#      steps 3-5 run;
#   3. clippy for the Windows target (moat-fs, moat-shared, tests included);
#   4. checks both macOS binaries and their universal lipo with `file`, and
#      that the musl binary is static;
#   5. validates and packs the MCP Bundle with the official mcpb CLI and
#      validates deploy/registry/server.json against the registry's schema
#      (scripts/release.sh --check-only, on these builds).
# Installs what is missing: apt (wine, mingw-w64, llvm, musl-tools), rustup
# targets, zig (PyPI `ziglang`) and jsonschema in a venv under
# target/platforms, and the mcpb CLI (npm, under target/platforms).
# Usage: scripts/test-platforms.sh [--no-wine | --install-only]
#   --install-only: only install what is missing (and make the Wine
#   prefix), then exit; scripts/test.sh runs this in the background while
#   it compiles.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools=$root/target/platforms
logs=$root/target/test-logs
mkdir -p "$tools" "$logs"
run_wine=1
install_only=0
case "${1:-}" in
  --no-wine) run_wine=0 ;;
  --install-only) install_only=1 ;;
  "") ;;
  *) echo "test-platforms.sh: unknown argument '$1' (expected --no-wine or --install-only)" >&2; exit 2 ;;
esac
started=$SECONDS
last=$SECONDS
timings=()
# step NAME: close the previous step's timing and start this one.
step() {
  timings+=("$((SECONDS - last)) s  ${current:-setup}")
  last=$SECONDS
  current=$*
  echo "== $* (at $((SECONDS - started)) s)" >&2
}
profile=ci

# --- what this script needs -------------------------------------------------
need_apt=()
command -v x86_64-w64-mingw32-gcc >/dev/null || need_apt+=(gcc-mingw-w64-x86-64)
command -v wine >/dev/null || need_apt+=(wine wine64)
ls /usr/lib/llvm-*/bin/llvm-lipo >/dev/null 2>&1 || need_apt+=(llvm)
command -v musl-gcc >/dev/null || need_apt+=(musl-tools)
command -v file >/dev/null || need_apt+=(file)
if [ ${#need_apt[@]} -gt 0 ]; then
  step "apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
targets=(x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin x86_64-unknown-linux-musl)
installed=$(rustup target list --installed)
for target in "${targets[@]}"; do
  grep -qx "$target" <<<"$installed" || { step "rustup target add $target"; rustup target add "$target"; }
done
venv=$tools/venv
if ! "$venv/bin/python" -c 'import ziglang, jsonschema' 2>/dev/null; then
  step "zig (PyPI ziglang) and jsonschema into target/platforms/venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q ziglang jsonschema
fi
mcpb=$tools/npm/node_modules/.bin/mcpb
if [ ! -x "$mcpb" ]; then
  step "the mcpb CLI (npm @anthropic-ai/mcpb) into target/platforms/npm"
  mkdir -p "$tools/npm"
  npm install --silent --no-audit --no-fund --prefix "$tools/npm" @anthropic-ai/mcpb@2
fi
export WINEPREFIX=$tools/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=;bcryptprimitives=n"
if [ "$run_wine" = 1 ] && [ ! -f "$WINEPREFIX/system.reg" ]; then
  # Half a minute of Wine start-up that is mostly waiting: part of the
  # installs, which scripts/test.sh overlaps with its compile steps.
  step "create the Wine prefix (once)"
  wineboot --init >/dev/null 2>&1 || true
  wineserver --wait || true
fi
if [ "$install_only" = 1 ]; then
  step "done"
  if [ ${#timings[@]} -gt 1 ]; then printf '   %s\n' "${timings[@]:1}" >&2; fi
  exit 0
fi
# zig as the macOS linker (scripts/zig-link.sh); no cargo-zigbuild to build.
ZIG=$("$venv/bin/python" -c 'import ziglang, pathlib; print(pathlib.Path(ziglang.__file__).parent / "zig")')
export ZIG
export CARGO_TARGET_AARCH64_APPLE_DARWIN_LINKER=$root/scripts/zig-link.sh
export CARGO_TARGET_X86_64_APPLE_DARWIN_LINKER=$root/scripts/zig-link.sh
# zig keeps its cache under $HOME by default; keep it with the other tools.
export ZIG_GLOBAL_CACHE_DIR=$tools/zig-cache ZIG_LOCAL_CACHE_DIR=$tools/zig-cache

# --- the builds -------------------------------------------------------------
step "build moat-fs for x86_64-pc-windows-gnu, aarch64-apple-darwin, x86_64-apple-darwin (zig links) and x86_64-unknown-linux-musl"
# One invocation: cargo keeps both cores busy across the four targets, and
# the build scripts and proc-macros they share are built once. (The macOS
# binaries could not have the JWKS fetch anyway: its TLS verifier links
# Apple's Security framework, which no cross build can link.)
cargo build --quiet --profile "$profile" -p moat-fs --bin moat-fs --no-default-features \
  --target x86_64-pc-windows-gnu --target aarch64-apple-darwin --target x86_64-apple-darwin \
  --target x86_64-unknown-linux-musl

# --- the stdio suites under Wine --------------------------------------------
exe_dir=$root/target/x86_64-pc-windows-gnu/$profile
wine_pid=""
if [ "$run_wine" = 1 ]; then
  step "build the e2e suites (host)"
  # Built now and then run directly: a `cargo test` would hold the build
  # directory's lock while the tests run, and the clippy below needs it.
  # Taken from the workspace's test build (the one scripts/test.sh has just
  # made, so nothing is compiled here): `-p moat-tests` alone would unify
  # the dependencies' features differently and rebuild moat-shared, moat-fs
  # and the suites (211 s on a clean clone, on a loaded 2-core machine).
  suites=$(cargo test --quiet --no-run --message-format=json --workspace |
    python3 -c 'import json, sys
wanted = {"fs_transports", "fs_full", "fs_escape", "fs_windows"}
for line in sys.stdin:
    message = json.loads(line)
    if (message.get("reason") == "compiler-artifact" and message["target"]["kind"] == ["test"]
            and message["target"]["name"] in wanted):
        print(message["executable"])')
  [ "$(wc -w <<<"$suites")" -eq 4 ] || { echo "FAIL: expected the 4 Wine suites, found: $suites" >&2; exit 1; }
  # Rust's std imports ProcessPrng from bcryptprimitives.dll, which Wine 8
  # lacks: a shim next to the .exe (Windows looks there first).
  if [ ! -f "$exe_dir/bcryptprimitives.dll" ] || [ scripts/wine/processprng.c -nt "$exe_dir/bcryptprimitives.dll" ]; then
    x86_64-w64-mingw32-gcc -shared -O2 -o "$exe_dir/bcryptprimitives.dll" scripts/wine/processprng.c -ladvapi32
  fi
  step "moat-fs.exe under Wine (background): fs_transports, fs_full, fs_escape, fs_windows"
  # The suites mostly wait on Wine starting servers; the clippy and the
  # bundle below use the cores meanwhile. One wineserver stays up for the
  # whole run (each server start is then cheap) and is stopped afterwards.
  # What Wine cannot show (Unix symlinks and FIFOs look like plain files to
  # the .exe) is skipped inside the tests, each with its reason printed:
  # moat_tests::server_sees_host_symlinks and README "Windows".
  # (wineserver dumps its objects to stderr when it stops: into the log.)
  wineserver --persistent=120 2>>"$logs/wine-suites.log" || true
  (
    export MOAT_FS_BIN=$exe_dir/moat-fs.exe MOAT_BIN_WRAPPER=wine
    cd tests # where `cargo test` runs them
    failed=0
    for suite in $suites; do
      echo "running $(basename "$suite")"
      "$suite" --nocapture || failed=1
    done
    exit "$failed"
  ) >"$logs/wine-suites.log" 2>&1 &
  wine_pid=$!
fi


step "clippy for x86_64-pc-windows-gnu (moat-fs, moat-shared, all targets)"
# The Windows-only code is moat-fs's platform/; the network code behind
# the default `jwks-fetch` is the same on every OS and linted by the
# workspace clippy. With default features this step would also build
# aws-lc's C code for Windows: about 2 more CPU-minutes for no line of
# moat's own code that is not linted already.
cargo clippy --quiet -p moat-fs -p moat-shared --no-default-features --all-targets \
  --target x86_64-pc-windows-gnu -- -D warnings

step "check the binaries with file"
lipo=$(ls /usr/lib/llvm-*/bin/llvm-lipo | sort -V | tail -n 1)
check() { # check FILE PATTERN
  local described
  described=$(file -b "$1")
  echo "$1: $described" >&2
  grep -Eq "$2" <<<"$described" || { echo "FAIL: $1 is not $2" >&2; exit 1; }
}
check "target/aarch64-apple-darwin/$profile/moat-fs" 'Mach-O 64-bit.*arm64'
check "target/x86_64-apple-darwin/$profile/moat-fs" 'Mach-O 64-bit.*x86_64'
"$lipo" -create -output "$tools/moat-fs-universal" \
  "target/aarch64-apple-darwin/$profile/moat-fs" "target/x86_64-apple-darwin/$profile/moat-fs"
check "$tools/moat-fs-universal" 'Mach-O universal binary with 2 architectures'
rm -f "$tools/moat-fs-universal"
check "$exe_dir/moat-fs.exe" 'PE32\+ executable.*x86-64'
musl=target/x86_64-unknown-linux-musl/$profile/moat-fs
check "$musl" 'ELF 64-bit.*static(-pie)? linked'
if ldd "$musl" 2>&1 | grep -q '=>'; then
  echo "FAIL: $musl links shared libraries" >&2; ldd "$musl" >&2; exit 1
fi
"$musl" --version

# --- MCP Bundle and registry metadata ---------------------------------------
step "MCP Bundle and server.json (release.sh --check-only)"
PROFILE=$profile scripts/release.sh --check-only

if [ -n "$wine_pid" ]; then
  step "wait for the Wine suites"
  wine_status=0
  wait "$wine_pid" || wine_status=$?
  wineserver --kill 2>/dev/null || true
  grep -E '^(test result|running|skipped under Wine)|FAILED|panicked' "$logs/wine-suites.log" >&2 || true
  if [ "$wine_status" != 0 ]; then
    echo "FAIL: the Windows suites under Wine (full log: $logs/wine-suites.log)" >&2
    exit 1
  fi
fi
step "done"
printf '   %s\n' "${timings[@]:1}" >&2
echo "test-platforms: all green in $((SECONDS - started)) s" >&2
