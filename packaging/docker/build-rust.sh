#!/usr/bin/env bash
# Rust stage: builds the image's two binaries for one architecture, `vistterstream` (web/dist
# embedded) and the camera decoder `vistterstream-decoder` (libav, crates/decoder), copies them
# to an output directory, then checks what came out.
#
# Usage: build-rust.sh [--arch amd64|arm64] [--profile release|dev|cross-smoke] [--out DIR]
#   --arch     target architecture (default: $TARGETARCH, else this machine's)
#   --profile  cargo profile (default release; CI uses dev natively and cross-smoke for arm64)
#   --out      where to copy the binaries (default: target/packaging/<arch>)
# Any --arch needs install-build-deps.sh ARCH first (libav headers, libclang; for a foreign one
# also the target's libav through multiarch, cross gcc and the Rust std).
# CARGO_TARGET_DIR is honoured: CI reuses the workspace's target/ so nothing is built twice.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
die() { echo "build-rust: $*" >&2; exit 1; }

arch=${TARGETARCH:-}
profile=release
out=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) die "unknown argument '$1'" ;;
  esac
done
host_triple=$(rustc -vV | sed -n 's/^host: //p')
case "$host_triple" in
  x86_64-unknown-linux-gnu) host_arch=amd64 ;;
  aarch64-unknown-linux-gnu) host_arch=arm64 ;;
  *) host_arch=unknown ;;
esac
arch=${arch:-$host_arch}
case "$arch" in
  amd64) triple=x86_64-unknown-linux-gnu; elf_machine=62; cross_prefix=x86_64-linux-gnu ;;
  arm64) triple=aarch64-unknown-linux-gnu; elf_machine=183; cross_prefix=aarch64-linux-gnu ;;
  *) die "unsupported architecture '$arch' (amd64 or arm64)" ;;
esac
out=${out:-$root/target/packaging/$arch}

# rust-embed takes web/dist as it is at compile time: a binary built without it serves no UI.
[[ -s "$root/web/dist/index.html" ]] || die "web/dist/index.html is missing: run build-ui.sh first"

target_dir=${CARGO_TARGET_DIR:-$root/target}
profile_dir=$profile
[[ "$profile" == dev ]] && profile_dir=debug
args=(build --locked --profile "$profile" -p vistterstream -p vs-decoder)
if [[ "$triple" == "$host_triple" ]]; then
  # No --target for a native build: the artefacts land in target/<profile> like every other
  # build of the workspace, so an existing target directory is reused.
  bin_dir="$target_dir/$profile_dir"
else
  upper=$(echo "$triple" | tr 'a-z-' 'A-Z_')
  export "CARGO_TARGET_${upper}_LINKER=${cross_prefix}-gcc"
  export "CC_${triple//-/_}=${cross_prefix}-gcc"
  export "AR_${triple//-/_}=${cross_prefix}-ar"
  command -v "${cross_prefix}-gcc" >/dev/null || die "${cross_prefix}-gcc missing: run install-build-deps.sh $arch"
  # libav for the target: its pkg-config files (multiarch), which name its headers (for
  # bindgen, which ffmpeg-sys-next's build script runs with the target's triple) and libraries
  # (for the cross linker).
  export PKG_CONFIG_ALLOW_CROSS=1
  export PKG_CONFIG_LIBDIR="/usr/lib/$cross_prefix/pkgconfig:/usr/share/pkgconfig"
  [[ -s "/usr/lib/$cross_prefix/pkgconfig/libavcodec.pc" ]] \
    || die "no $arch libav (libavcodec.pc) in /usr/lib/$cross_prefix: run install-build-deps.sh $arch"
  args+=(--target "$triple")
  bin_dir="$target_dir/$triple/$profile_dir"
fi
bin="$bin_dir/vistterstream"
decoder="$bin_dir/vistterstream-decoder"

echo "build-rust: cargo ${args[*]} (host $host_triple)"
(cd "$root" && cargo "${args[@]}")
# The binaries are for the right machine (ELF e_machine: 62 x86-64, 183 AArch64) ...
for b in "$bin" "$decoder"; do
  [[ -x "$b" ]] || die "no binary at $b"
  machine=$(od -An -tu2 -j18 -N2 "$b" | tr -d ' ')
  [[ "$machine" == "$elf_machine" ]] || die "$b is for ELF machine $machine, expected $elf_machine ($arch)"
done
# ... and carries the UI: the hashed asset names of this web/dist are inside it. Only release
# builds embed it (rust-embed reads web/dist from disk at run time in debug builds); a change of
# web/dist rebuilds the crate because index.html, which names the hashed files, is embedded.
if [[ "$profile" == release ]]; then
  asset=$(grep -o 'assets/index-[A-Za-z0-9_-]*\.js' "$root/web/dist/index.html" | head -1)
  [[ -n "$asset" ]] || die "cannot find the UI's script in web/dist/index.html"
  grep -aq "$asset" "$bin" || die "the binary does not embed web/dist ($asset not found)"
fi
# ... and links no OpenSSL (rustls only): nothing to install in the image, nothing x86-only.
if grep -aq 'libssl.so' "$bin"; then die "the binary links OpenSSL"; fi

mkdir -p "$out"
cp "$bin" "$decoder" "$out/"
if [[ "$triple" == "$host_triple" ]]; then
  "$out/vistterstream" --version
fi
echo "build-rust: $out/vistterstream and vistterstream-decoder ($arch, $profile, $(du -h "$out/vistterstream" | cut -f1) and $(du -h "$out/vistterstream-decoder" | cut -f1))"
