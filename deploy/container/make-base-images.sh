#!/usr/bin/env bash
# Makes the two base images Dockerfile.scrape starts FROM, locally, for a
# machine that reaches Debian's mirror but no image registry:
#
#   docker.io/library/debian:bookworm-slim  debootstrap --variant=minbase bookworm,
#                                           with the official slim image's dpkg
#                                           excludes (no docs, man pages, locales)
#   docker.io/library/rust:1-bookworm       that image + the compilers and headers the
#                                           build needs (gcc, g++, make, cmake,
#                                           pkg-config, git) + this host's Rust
#                                           toolchain (rustc, cargo, std) copied in
#
# They are stand-ins, named exactly as the registry images are so the
# Dockerfile is unchanged; a machine with a registry uses the real ones. The
# host's toolchain is copied rather than fetched with rustup because
# static.rust-lang.org is not a network the tests may use; it is the same
# compiler the rest of CI builds with.
#
# Each image is saved as an OCI archive under target/container-cache/base/ and
# loaded from there when the image store lacks it, so debootstrap runs once
# per clone. Delete that directory (and `buildah rmi` the two names) to
# remake them. Needs root, buildah and debootstrap.
#
# Usage: deploy/container/make-base-images.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/../.."

MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
SLIM=docker.io/library/debian:bookworm-slim
RUST=docker.io/library/rust:1-bookworm
CACHE="$PWD/target/container-cache/base"
mkdir -p "$CACHE"

force=0
[ "${1:-}" = "--force" ] && force=1

log() { echo "make-base-images: $*" >&2; }

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

# Loads $1 from its cached archive $2 when the store lacks it; returns 1 when
# neither exists (the caller makes it).
load_cached() {
  local name=$1 archive=$2
  if [ $force -eq 0 ] && have_image "$name"; then
    log "$name: present"
    return 0
  fi
  if [ $force -eq 0 ] && [ -s "$archive" ]; then
    log "$name: loading $archive"
    local id
    id="$(buildah pull --quiet "oci-archive:$archive")"
    buildah tag "$id" "$name"
    return 0
  fi
  return 1
}

save() {
  local name=$1 archive=$2
  rm -f "$archive"
  buildah push --quiet "$name" "oci-archive:$archive:$name"
  log "$name: saved to $archive ($(du -h "$archive" | cut -f1))"
}

make_slim() {
  local root tarball
  root="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
  tarball="$CACHE/debian-bookworm-slim.rootfs.tar"
  log "debootstrap $SUITE from $MIRROR (a few minutes)"
  debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
    log "debootstrap failed, see $CACHE/debootstrap.log"
    tail -5 "$CACHE/debootstrap.log" >&2
    rm -rf "$root"
    return 1
  }
  # What the official slim image adds: dpkg leaves docs out of every later
  # install, and apt sees the security and update suites.
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -rf "$root"/usr/share/doc/*/[!c]* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log "$root"/var/log/apt/*
  # The root file system must not carry this host's name or resolver.
  : >"$root/etc/resolv.conf"
  echo localhost >"$root/etc/hostname"
  tar --numeric-owner --xattrs -C "$root" -cf "$tarball" .
  rm -rf "$root"

  local ctr
  ctr="$(buildah from scratch)"
  buildah add --quiet "$ctr" "$tarball" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash "$ctr"
  buildah commit --quiet --rm "$ctr" "$SLIM" >/dev/null
  rm -f "$tarball"
  save "$SLIM" "$CACHE/debian-bookworm-slim.oci.tar"
}

make_rust() {
  local sysroot version ctr
  sysroot="$(rustc --print sysroot)"
  version="$(rustc --version | cut -d' ' -f2)"
  log "$RUST: $SLIM + build tools + the host's Rust $version"
  ctr="$(buildah from --pull=never "$SLIM")"
  buildah run --isolation chroot --network host "$ctr" sh -c \
    'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
       ca-certificates curl git gcc g++ libc6-dev make cmake perl pkg-config >/dev/null \
     && rm -rf /var/lib/apt/lists/*'
  # rustc, cargo and the standard library for this target: the rust image's
  # "minimal" rustup profile, laid out as the rust image lays it out.
  local mount
  mount="$(buildah mount "$ctr")"
  mkdir -p "$mount/usr/local/rustup/toolchains/$version" "$mount/usr/local/cargo/bin"
  # Only the host's standard library: the cross targets scripts/test-platforms.sh
  # adds (Windows, macOS, musl: 600 MB) are of no use to the image's build
  # and would be copied, saved and loaded with it on every run.
  local host excludes=()
  host="$(rustc -vV | sed -n 's/^host: //p')"
  for std in "$sysroot"/lib/rustlib/*/lib; do
    std="${std%/lib}"
    [ "${std##*/}" = "$host" ] || excludes+=(--exclude="lib/rustlib/${std##*/}")
  done
  tar -C "$sysroot" "${excludes[@]}" -cf - bin/cargo bin/rustc bin/rustdoc lib \
    | tar -C "$mount/usr/local/rustup/toolchains/$version" -xf -
  ln -s "../../rustup/toolchains/$version/bin/cargo" "$mount/usr/local/cargo/bin/cargo"
  ln -s "../../rustup/toolchains/$version/bin/rustc" "$mount/usr/local/cargo/bin/rustc"
  ln -s "../../rustup/toolchains/$version/bin/rustdoc" "$mount/usr/local/cargo/bin/rustdoc"
  # The build downloads crates: it trusts what this host trusts, so a
  # machine whose egress goes through an inspecting proxy with its own CA
  # (added under /usr/local/share/ca-certificates) can still reach
  # crates.io. Only this build-stage stand-in gets them, never the final image.
  local extra_cas=(/usr/local/share/ca-certificates/*.crt)
  if [ -e "${extra_cas[0]}" ]; then
    cp "${extra_cas[@]}" "$mount/usr/local/share/ca-certificates/"
  fi
  buildah umount "$ctr" >/dev/null
  buildah run --isolation chroot "$ctr" update-ca-certificates >/dev/null
  buildah config \
    --env RUSTUP_HOME=/usr/local/rustup \
    --env CARGO_HOME=/usr/local/cargo \
    --env PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env RUST_VERSION="$version" \
    --label "org.opencontainers.image.description=local stand-in for rust:1-bookworm (host toolchain $version)" \
    "$ctr"
  buildah run --isolation chroot "$ctr" cargo --version >&2
  buildah commit --quiet --rm "$ctr" "$RUST" >/dev/null
  save "$RUST" "$CACHE/rust-1-bookworm.oci.tar"
}

load_cached "$SLIM" "$CACHE/debian-bookworm-slim.oci.tar" || make_slim
load_cached "$RUST" "$CACHE/rust-1-bookworm.oci.tar" || make_rust
for image in "$SLIM" "$RUST"; do buildah images "$image" | tail -n +2 >&2; done
