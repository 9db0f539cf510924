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
#   (scripts/check-server-json.py, the registry's vendored schema).
# The macOS binaries are linked by zig (scripts/zig-link.sh) and built
# without default features: the JWKS fetch's TLS verifier links Apple's
# Security framework, which no cross build can link.
# Usage: scripts/release.sh [--check-only]
#   --check-only: no release builds or archives; bundle the builds
#   scripts/test-platforms.sh just made (cargo profile $PROFILE, default
#   `ci`) and run every check on them.
# Needs what scripts/test-platforms.sh installs (run it once first).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools=$root/target/platforms
python=$tools/venv/bin/python
ZIG=$("$python" -c 'import ziglang, pathlib; print(pathlib.Path(ziglang.__file__).parent / "zig")')
export ZIG ZIG_GLOBAL_CACHE_DIR=$tools/zig-cache ZIG_LOCAL_CACHE_DIR=$tools/zig-cache
export CARGO_TARGET_AARCH64_APPLE_DARWIN_LINKER=$root/scripts/zig-link.sh
export CARGO_TARGET_X86_64_APPLE_DARWIN_LINKER=$root/scripts/zig-link.sh
check_only=0
[ "${1:-}" = "--check-only" ] && check_only=1
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
lipo=$(ls /usr/lib/llvm-*/bin/llvm-lipo | sort -V | tail -n 1)
targets=(x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin x86_64-unknown-linux-musl)

if [ "$check_only" = 1 ]; then
  profile=${PROFILE:-ci}
  out=$tools/release-check
else
  profile=release
  out=$root/target/release-artifacts
  echo "== release build for x86_64-pc-windows-gnu and x86_64-unknown-linux-musl" >&2
  cargo build --quiet --release -p moat-fs --bin moat-fs \
    --target x86_64-pc-windows-gnu --target x86_64-unknown-linux-musl
  echo "== release build for aarch64-apple-darwin and x86_64-apple-darwin" >&2
  cargo build --quiet --release -p moat-fs --bin moat-fs --no-default-features \
    --target aarch64-apple-darwin --target x86_64-apple-darwin
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
"$python" scripts/check-server-json.py deploy/registry/server.json --version "$version" \
  --sha256 "$(sha256sum "$out/moat-fs.mcpb" | cut -d' ' -f1)" --write "$out/server.json"
ls -l "$out" >&2
