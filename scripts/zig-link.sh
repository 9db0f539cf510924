#!/usr/bin/env bash
# zig as the linker for moat-fs's macOS cross builds (cargo's
# CARGO_TARGET_<TRIPLE>_LINKER; scripts/test-platforms.sh and
# scripts/release.sh set it). zig carries libSystem's stubs, so a Mach-O
# binary links without Apple's SDK as long as nothing asks for a framework
# (moat-fs built with --no-default-features asks for none).
#
# rustc talks to it as to clang: it names the architecture with `-arch` and
# the deployment target with `-mmacosx-version-min`; zig wants one `-target`.
# Needs ZIG: the zig to run (a path, or e.g. "python3 -m ziglang").
set -euo pipefail
args=()
arch=""
while [ $# -gt 0 ]; do
  case "$1" in
    -arch) arch=$2; shift 2; continue ;;
    -target) shift 2; continue ;;
    -target=* | --target=*) shift; continue ;;
    # The libc crate names libiconv for every Apple target; zig carries no
    # libiconv stub and moat-fs calls no iconv function, so a missing
    # symbol would still fail the link loudly.
    -liconv) shift; continue ;;
  esac
  args+=("$1")
  shift
done
case "$arch" in
  arm64 | aarch64) triple=aarch64-macos ;;
  x86_64) triple=x86_64-macos ;;
  *) echo "zig-link.sh: unknown -arch '$arch' (expected arm64 or x86_64)" >&2; exit 2 ;;
esac
# shellcheck disable=SC2086 # ZIG may be a command with arguments.
exec ${ZIG:?set ZIG to the zig command} cc -target "$triple" "${args[@]}"
