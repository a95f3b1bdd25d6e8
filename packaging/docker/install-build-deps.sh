#!/usr/bin/env bash
# Build stage, step 1: what the Rust build needs beyond the rust:1-bookworm image.
#
# The image is built by cross-compiling: the Rust stage always runs on the machine that builds
# (BUILDPLATFORM) and compiles for the platform being built (TARGETARCH).
#
# Both binaries of the image are built here: `vistterstream` and the camera decoder
# `vistterstream-decoder` (crates/decoder), which links the system's libav. So, always:
#   - libav's headers and pkg-config files for the TARGET architecture (libavcodec-dev,
#     libavformat-dev, libavfilter-dev; for a foreign target through Debian multiarch, e.g.
#     libavcodec-dev:arm64, which installs beside the build machine's own and brings the
#     target's libav and libc to link against and to run under qemu-user);
#   - pkg-config and libclang (bindgen, run by ffmpeg-sys-next's build script, on the build
#     machine).
# And for a foreign target: Debian's cross gcc (it links, and compiles the C in
# libsqlite3-sys and ring) and the target's Rust standard library.
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

packages=(pkg-config libclang-dev)
libav=(libavcodec-dev libavformat-dev libavfilter-dev)
if [[ "$target_arch" == "$build_arch" ]]; then
  packages+=("${libav[@]}")
else
  packages+=("$gcc_pkg" "$libc_pkg")
  for pkg in "${libav[@]}"; do packages+=("$pkg:$target_arch"); done
fi

# shellcheck source=packaging/docker/dpkg-installed.sh
source "$(dirname "${BASH_SOURCE[0]}")/dpkg-installed.sh"

missing=()
for pkg in "${packages[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  [[ $(id -u) -eq 0 ]] || die "must run as root to install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [[ "$target_arch" != "$build_arch" ]] \
    && ! dpkg --print-foreign-architectures | grep -qx "$target_arch"; then
    dpkg --add-architecture "$target_arch"
  fi
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ "$target_arch" == "$build_arch" ]]; then
  echo "install-build-deps: native build for $target_arch: libav headers and bindgen ready"
  exit 0
fi
if ! rustup target list --installed | grep -qx "$triple"; then
  rustup target add "$triple"
fi
echo "install-build-deps: cross build $build_arch -> $target_arch ($triple) ready, with $target_arch libav"
