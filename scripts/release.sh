#!/usr/bin/env bash
# Release artefacts for moat-fs, into target/release-artifacts/:
#   moat-fs-VERSION-TARGET.tar.gz (zip for Windows) for x86_64-pc-windows-gnu,
#   aarch64-apple-darwin, x86_64-apple-darwin, universal-apple-darwin
#   (llvm-lipo) and x86_64-unknown-linux-musl (static); SHA256SUMS; and
#   moat-fs.mcpb, the MCP Bundle for Claude Desktop (deploy/mcpb/manifest.json,
#   one binary per OS), validated and packed with the official mcpb CLI, then
#   unpacked again to check every binary kept its run bit. Finally the
#   release copy of deploy/registry/server.json (this version, the bundle's
#   SHA-256) is written and checked against the MCP Registry's rules
#   (scripts/check-server-json.py).
# Usage: scripts/release.sh [--check-only]
#   --check-only: no release builds or archives; bundle the debug builds
#   scripts/test-platforms.sh just made and run every check on them.
# Needs what scripts/test-platforms.sh installs (it installs, this does not).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools=$root/target/platforms
export PATH="$tools/zig-venv/bin:$tools/cargo/bin:$PATH"
check_only=0
[ "${1:-}" = "--check-only" ] && check_only=1
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
lipo=$(ls /usr/lib/llvm-*/bin/llvm-lipo | sort -V | tail -n 1)
targets=(x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin x86_64-unknown-linux-musl)

if [ "$check_only" = 1 ]; then
  profile=debug
  out=$tools/release-check
else
  profile=release
  out=$root/target/release-artifacts
  for target in "${targets[@]}"; do
    echo "== release build for $target" >&2
    case $target in
      *-apple-darwin) cargo zigbuild --quiet --release -p moat-fs --bin moat-fs --target "$target" ;;
      *) cargo build --quiet --release -p moat-fs --bin moat-fs --target "$target" ;;
    esac
  done
fi
rm -rf "$out"
mkdir -p "$out"
bin() { echo "$root/target/$1/$profile/moat-fs$2"; }
"$lipo" -create -output "$out/moat-fs-universal" \
  "$(bin aarch64-apple-darwin '')" "$(bin x86_64-apple-darwin '')"

# --- archives and checksums --------------------------------------------------
if [ "$check_only" = 0 ]; then
  stage=$out/stage
  for target in "${targets[@]}" universal-apple-darwin; do
    name=moat-fs-$version-$target
    rm -rf "${stage:?}/$name"
    mkdir -p "$stage/$name"
    cp README.md LICENSE* "$stage/$name/" 2>/dev/null || cp README.md "$stage/$name/"
    case $target in
      universal-apple-darwin) cp "$out/moat-fs-universal" "$stage/$name/moat-fs" ;;
      *windows*) cp "$(bin "$target" .exe)" "$stage/$name/" ;;
      *) cp "$(bin "$target" '')" "$stage/$name/" ;;
    esac
    if [[ $target == *windows* ]]; then
      (cd "$stage" && python3 -m zipfile -c "$out/$name.zip" "$name")
    else
      tar -C "$stage" -czf "$out/$name.tar.gz" --owner=0 --group=0 "$name"
    fi
  done
  rm -rf "$stage"
fi

# --- the MCP Bundle ----------------------------------------------------------
mcpb=$tools/npm/node_modules/.bin/mcpb
if [ ! -x "$mcpb" ]; then
  echo "== installing the mcpb CLI into target/platforms/npm" >&2
  mkdir -p "$tools/npm"
  npm install --silent --no-audit --no-fund --prefix "$tools/npm" @anthropic-ai/mcpb@2
fi
bundle=$out/bundle
mkdir -p "$bundle/server/darwin" "$bundle/server/win32" "$bundle/server/linux"
python3 - "$version" deploy/mcpb/manifest.json "$bundle/manifest.json" <<'PY'
import json, sys
version, source, target = sys.argv[1:]
manifest = json.load(open(source))
manifest["version"] = version
json.dump(manifest, open(target, "w"), indent=2)
PY
cp deploy/mcpb/icon.png "$bundle/" 2>/dev/null || true
cp "$out/moat-fs-universal" "$bundle/server/darwin/moat-fs"
cp "$(bin x86_64-pc-windows-gnu .exe)" "$bundle/server/win32/moat-fs.exe"
cp "$(bin x86_64-unknown-linux-musl '')" "$bundle/server/linux/moat-fs"
if [ "$check_only" = 1 ]; then
  # Debug builds carry ~250 MB of debug info each; the checks need none of it.
  x86_64-w64-mingw32-strip "$bundle/server/win32/moat-fs.exe"
  strip "$bundle/server/linux/moat-fs"
fi
chmod 755 "$bundle"/server/*/moat-fs*
echo "== mcpb validate + pack" >&2
"$mcpb" validate "$bundle/manifest.json"
"$mcpb" pack "$bundle" "$out/moat-fs.mcpb" >/dev/null
rm -rf "$bundle"
echo "== unpack and check the run bits" >&2
unpacked=$out/unpacked
"$mcpb" unpack "$out/moat-fs.mcpb" "$unpacked" >/dev/null
for binary in darwin/moat-fs win32/moat-fs.exe linux/moat-fs; do
  if [ ! -x "$unpacked/server/$binary" ]; then
    echo "FAIL: server/$binary lost its run bit in moat-fs.mcpb" >&2
    ls -l "$unpacked/server/$binary" >&2
    exit 1
  fi
done
"$unpacked/server/linux/moat-fs" --version >/dev/null
rm -rf "$unpacked"
(cd "$out" && sha256sum -- $(ls *.tar.gz *.zip 2>/dev/null) moat-fs.mcpb > SHA256SUMS)
rm -f "$out/moat-fs-universal"

# --- MCP Registry metadata ---------------------------------------------------
echo "== server.json" >&2
python3 scripts/check-server-json.py deploy/registry/server.json --version "$version" \
  --sha256 "$(sha256sum "$out/moat-fs.mcpb" | cut -d' ' -f1)" --write "$out/server.json"
ls -l "$out" >&2
