#!/usr/bin/env bash
# Installs the Debian packages that the test rig (crates/testrig, testrig/) and `make run`
# need: FFmpeg and libav's headers (the camera decoder is built on them), GStreamer with its RTSP server (fake cameras), nginx with the RTMP module
# (fake YouTube), Chromium (UI tests), fonts for overlays, wrk (load tests) and Mosquitto with
# openssl (the studio link's broker and its test certificates).
#
# Idempotent: when every package is already installed it only runs dpkg-query and exits.
# Runs `apt-get update` only when something is missing. Must run as root (or via sudo).
#
# Usage: sudo scripts/install-deps.sh [run|test] [--check]
#   run       only what `make run` needs: FFmpeg and libav's headers, fonts, and the demo
#             cameras (GStreamer)
#   test      everything (the default): also nginx-rtmp, Chromium, wrk
#   --check   only report what is missing; exit 1 if anything is.
set -euo pipefail

PACKAGES=(
  ffmpeg                         # ffmpeg, ffprobe (libx264, aac)
  libavcodec-dev                 # building vistterstream-decoder (crates/decoder): libav's
  libavformat-dev                #   headers and pkg-config files ...
  libavfilter-dev                #
  pkg-config                     #
  libclang-dev                   #   ... and libclang for bindgen (ffmpeg-sys-next)
  gstreamer1.0-tools             # gst-launch-1.0, gst-inspect-1.0
  gstreamer1.0-plugins-base      # videotestsrc, audiotestsrc, videoconvert
  gstreamer1.0-plugins-good      # rtph264pay, rtpmp4gpay
  gstreamer1.0-plugins-bad       # h264parse
  gstreamer1.0-plugins-ugly      # x264enc (Debian has no separate gstreamer1.0-x264)
  gstreamer1.0-libav             # avenc_aac
  gstreamer1.0-x                 # pango: timeoverlay, textoverlay (burned-in clock and name)
  gir1.2-gst-rtsp-server-1.0     # GstRtspServer introspection data (fake camera)
  python3-gi                     # PyGObject for /usr/bin/python3
  nginx                          # fake RTMP ingest ...
  libnginx-mod-rtmp              # ... via /usr/lib/nginx/modules/ngx_rtmp_module.so
  chromium                       # headless UI tests
  fonts-dejavu-core              # fonts for text overlays
  wrk                            # HTTP load tests
  python3-venv                   # the venv of schemathesis (scripts/schemathesis.sh)
  iproute2                       # `ip netns`, `ip link`, `tc`: network namespaces (shaped uplink test)
  mosquitto                      # MQTT broker of the studio link tests (TLS, ACL)
  mosquitto-clients              # mosquitto_pub / mosquitto_sub, to try a broker by hand
  openssl                        # the link tests' CA and broker certificate (CLI only)
)

check_only=0
mode="test"
for arg in "$@"; do
  case "$arg" in
    --check) check_only=1 ;;
    run|test) mode=$arg ;;
    *) echo "usage: $0 [run|test] [--check]" >&2; exit 2 ;;
  esac
done
if [[ $mode == run ]]; then
  # The appliance itself needs FFmpeg and a font; the demo's simulated cameras need GStreamer.
  keep=()
  for pkg in "${PACKAGES[@]}"; do
    case "$pkg" in nginx|libnginx-mod-rtmp|chromium|wrk|python3-venv|iproute2|mosquitto|mosquitto-clients|openssl) ;; *) keep+=("$pkg") ;; esac
  done
  PACKAGES=("${keep[@]}")
fi

die() { echo "install-deps: $*" >&2; exit 1; }

command -v dpkg-query >/dev/null 2>&1 \
  || die "dpkg-query not found: this script supports Debian/Ubuntu only. Install by hand: ${PACKAGES[*]}"

# shellcheck source=packaging/docker/dpkg-installed.sh
source "$(dirname "${BASH_SOURCE[0]}")/../packaging/docker/dpkg-installed.sh"

missing=()
for pkg in "${PACKAGES[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [[ $check_only -eq 1 ]]; then
  exit 1
fi

command -v apt-get >/dev/null 2>&1 \
  || die "apt-get not found; install by hand: ${missing[*]}"

if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    exec sudo -n "$0" "$@"
  fi
  die "must run as root to install packages: sudo $0"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${missing[@]}"

# Verify: a package name that does not exist on this release fails apt-get above, but check
# the state anyway so that CI fails loudly here rather than in a test.
still=()
for pkg in "${missing[@]}"; do
  installed "$pkg" || still+=("$pkg")
done
[[ ${#still[@]} -eq 0 ]] || die "still missing after apt-get install: ${still[*]}"
echo "install-deps: installed ${missing[*]}"
