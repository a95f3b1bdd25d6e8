#!/usr/bin/env bash
# Build stage, step 1: what the Rust build needs beyond the rust:1-bookworm image.
#
# The image is built by cross-compiling: the Rust stage always runs on the machine that builds
# (BUILDPLATFORM) and compiles for the platform being built (TARGETARCH). Nothing to add for a
# native build (gcc and libc are in the image); for a foreign one, Debian's cross gcc (it links,
# and compiles the C in libsqlite3-sys and ring) and the target's Rust standard library.
#
# Usage: install-build-deps.sh [TARGETARCH]   (amd64 | arm64; default: this machine's)
# Also run by tests/packaging/run.sh in CI, which is how the cross recipe is tested here.
set -euo pipefail

die() { echo "install-build-deps: $*" >&2; exit 1; }

build_arch=$(dpkg --print-architecture)
target_arch=${1:-$build_arch}
case "$target_arch" in
  amd64) triple=x86_64-unknown-linux-gnu; gcc_pkg=gcc-x86-64-linux-gnu; libc_pkg=libc6-dev-amd64-cross ;;
  arm64) triple=aarch64-unknown-linux-gnu; gcc_pkg=gcc-aarch64-linux-gnu; libc_pkg=libc6-dev-arm64-cross ;;
  *) die "unsupported target architecture '$target_arch' (amd64 or arm64)" ;;
esac

if [[ "$target_arch" == "$build_arch" ]]; then
  echo "install-build-deps: native build for $target_arch: nothing to install"
  exit 0
fi

missing=()
for pkg in "$gcc_pkg" "$libc_pkg"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  [[ $(id -u) -eq 0 ]] || die "must run as root to install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! rustup target list --installed | grep -qx "$triple"; then
  rustup target add "$triple"
fi
echo "install-build-deps: cross build $build_arch -> $target_arch ($triple) ready"
