#!/usr/bin/env bash
# Build the fuzz targets (fuzz/) and run each one for a bounded time over a
# copy of its committed seed corpus. Fails on the first crash, leak-free
# panic, timeout or out-of-memory. See docs/FUZZING.md.
#
#   scripts/fuzz.sh                  # every target, 20 s each (CI)
#   scripts/fuzz.sh 3600             # every target, one hour each (release)
#   scripts/fuzz.sh 300 url_policy   # one target
#
# Stable toolchain only: libFuzzer (libfuzzer-sys) with the SanitizerCoverage
# flags cargo-fuzz passes for `--sanitizer none`, plus debug assertions and
# overflow checks. No AddressSanitizer (it needs nightly's -Zsanitizer);
# moat forbids unsafe code, so Rust's own checks are the oracle.
#
# Environment:
#   FUZZ_KEEP_CORPUS=1  merge new inputs back into fuzz/corpus/<target>/
#                       (for a release run you mean to commit from);
#                       by default the committed corpus is never written.
#   FUZZ_JOBS=N         parallel fuzzing processes per target (default 1;
#                       libFuzzer fork mode).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
shift || true
all_targets=(url_policy fs_path mcp_stdio edit_apply html_extract pdf_extract)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

# Limits for one run; each is past what a healthy input needs by far.
rss_limit_mb=2048      # memory of the whole fuzzing process
unit_timeout_s=10      # one input; mcp_stdio's own bound is 5 s
max_len=8192           # bytes per input: enough for every seed and attack

host="$(rustc -vV | sed -n 's/^host: //p')"
# The flags cargo-fuzz passes with `--sanitizer none`, plus `--cfg fuzzing`
# and Rust's runtime checks. --target keeps them off build scripts and
# proc-macros, which cannot link the coverage callbacks.
export RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR="$PWD/fuzz/target"

echo "fuzz: building ${targets[*]}" >&2
bin_args=()
for target in "${targets[@]}"; do bin_args+=(--bin "$target"); done
( cd fuzz && cargo build --locked --release --quiet --target "$host" "${bin_args[@]}" )

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
repo="$PWD"
artifacts="$repo/fuzz/artifacts"
# FUZZ_JOBS>1 uses libFuzzer's fork mode, which stops at the first crash
# like a single process does (-jobs would not, and writes fuzz-N.log files
# into the current directory).
parallel=()
[ "${FUZZ_JOBS:-1}" -gt 1 ] && parallel=(-fork="$FUZZ_JOBS" -ignore_crashes=0 -ignore_timeouts=0 -ignore_ooms=0)
failed=()
for target in "${targets[@]}"; do
  corpus="$work/$target"
  mkdir -p "$corpus" "$artifacts/$target"
  cp fuzz/corpus/"$target"/* "$corpus"/
  dict=()
  [ -f "fuzz/$target.dict" ] && dict=("-dict=$repo/fuzz/$target.dict")
  echo "fuzz: $target for ${seconds}s" >&2
  log="$work/$target.log"
  # Run from the scratch directory: whatever libFuzzer writes beside
  # itself stays out of the repository.
  if (cd "$work" && "$CARGO_TARGET_DIR/$host/release/$target" "$corpus" "${dict[@]}" \
      -max_total_time="$seconds" -rss_limit_mb="$rss_limit_mb" -timeout="$unit_timeout_s" \
      -max_len="$max_len" "${parallel[@]}" -print_final_stats=1 \
      -artifact_prefix="$artifacts/$target/") >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^stat::new_units_added|^#[0-9]+.*DONE' "$log" \
      | sed "s/^/fuzz: $target /" >&2 || true
    if [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ]; then
      "$CARGO_TARGET_DIR/$host/release/$target" -merge=1 "fuzz/corpus/$target" "$corpus" \
        -max_len="$max_len" >/dev/null 2>&1
    fi
  else
    echo "fuzz: $target FAILED; last lines of its log:" >&2
    tail -n 60 "$log" >&2
    echo "fuzz: crashing input saved under fuzz/artifacts/$target/ (see docs/FUZZING.md)" >&2
    failed+=("$target")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each without a crash" >&2
