#!/usr/bin/env bash
# Runtime stage: FFmpeg (with ffprobe), CA certificates (RTMPS to YouTube/Facebook), tini (PID 1:
# forwards SIGTERM, reaps zombies), and the unprivileged user `vistter` (uid 10001) owning /data.
# The user is in group `video` so that the Raspberry Pi's encoder devices (/dev/video1x) open.
#
# Usage: install-runtime.sh [--dry-run]
#   --dry-run  resolve the packages with apt-get --simulate and print the user set-up without
#              changing the system (tests/packaging/run.sh runs this on the CI machine).
set -euo pipefail

PACKAGES=(ffmpeg ca-certificates tini)
USER_NAME=vistter
USER_ID=10001
DATA_DIR=/data

dry=0
[[ "${1:-}" == "--dry-run" ]] && dry=1

export DEBIAN_FRONTEND=noninteractive
if [[ $dry -eq 1 ]]; then
  apt-get install --simulate -q --no-install-recommends "${PACKAGES[@]}" >/dev/null
  echo "install-runtime: ${PACKAGES[*]} resolve on $(grep -oP '^PRETTY_NAME="\K[^"]*' /etc/os-release)"
  echo "install-runtime: would create user $USER_NAME ($USER_ID) in group video, owning $DATA_DIR"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || { echo "install-runtime: must run as root" >&2; exit 1; }
apt-get update -q
apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
# Nothing of apt's lists in the image: they only add size.
apt-get clean
rm -rf /var/lib/apt/lists/*

groupadd --system --gid "$USER_ID" "$USER_NAME"
useradd --system --uid "$USER_ID" --gid "$USER_ID" --groups video \
  --home-dir "$DATA_DIR" --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
install -d -o "$USER_ID" -g "$USER_ID" -m 0700 "$DATA_DIR"

ffmpeg -hide_banner -version | head -1
tini --version
