#!/usr/bin/env bash
# Installs VistterStream as a systemd service on Debian / Raspberry Pi OS / Ubuntu:
#   - the binary to /usr/local/bin/vistterstream (and vistterstream-decoder beside it, if built)
#   - the system user `vistterstream` (no login, in group video for the Pi's hardware encoder)
#   - /etc/systemd/system/vistterstream.service, enabled and (re)started
#   - /etc/default/vistterstream for local settings (created once, never overwritten)
# Data lives in /var/lib/vistterstream (systemd's StateDirectory). Run it again to upgrade: it
# replaces the binary and the unit, keeps the data and the settings, and restarts the service.
#
# Usage: sudo packaging/install.sh [--binary PATH] [--no-start] [--root DIR]
#   --binary PATH  the vistterstream binary (default: target/release/vistterstream of this
#                  repository, else ./vistterstream)
#   --no-start     install and enable, but do not start or restart now
#   --root DIR     install into DIR instead of / (packaging and tests): no daemon-reload, no
#                  start; DIR must hold an etc/ with passwd and group for useradd --root
set -euo pipefail

# Root first, before anything touches the file system: as another user even this script's own
# folder may be unreadable, and "Permission denied" from cd would not say what to do.
if [[ $(id -u) -ne 0 && "${1:-}" != -h && "${1:-}" != --help ]]; then
  echo "install: error: must run as root: sudo $0 $*" >&2
  exit 1
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
binary=
start=1
root=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --no-start) start=0; shift ;;
    --root) root=$(cd "$2" && pwd); shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "install: $*"; }
die() { echo "install: error: $*" >&2; exit 1; }

if [[ -z "$binary" ]]; then
  for candidate in "$repo/target/release/vistterstream" "./vistterstream"; do
    [[ -x "$candidate" ]] && { binary=$candidate; break; }
  done
fi
[[ -n "$binary" && -x "$binary" ]] \
  || die "no binary found: build it with 'make release' or pass --binary PATH"
"$binary" --version >/dev/null 2>&1 \
  || die "$binary does not run on this machine (built for another architecture?)"
unit_src="$here/systemd/vistterstream.service"
[[ -f "$unit_src" ]] || die "missing $unit_src"

bin_dst="$root/usr/local/bin/vistterstream"
unit_dst="$root/etc/systemd/system/vistterstream.service"
defaults="$root/etc/default/vistterstream"
user=vistterstream

# FFmpeg does the streaming; the appliance starts without it but cannot stream.
if [[ -z "$root" ]] && ! command -v ffmpeg >/dev/null; then
  say "warning: ffmpeg is not installed; install it with: apt-get install ffmpeg"
fi

# 1. The binary, replaced atomically (a running service keeps its old inode until restarted).
install -d "$(dirname "$bin_dst")"
if [[ -f "$bin_dst" ]] && cmp -s "$binary" "$bin_dst"; then
  say "binary $bin_dst is up to date ($("$bin_dst" --version))"
else
  install -m 0755 "$binary" "$bin_dst.new"
  mv -f "$bin_dst.new" "$bin_dst"
  say "installed $bin_dst ($("$binary" --version))"
fi
# Its camera decoder (pictures in shared memory), when it was built beside it; without it the
# appliance decodes with FFmpeg through pipes.
decoder="$(dirname "$binary")/vistterstream-decoder"
if [[ -x "$decoder" ]]; then
  install -m 0755 "$decoder" "$bin_dst-decoder.new"
  mv -f "$bin_dst-decoder.new" "$bin_dst-decoder"
  say "installed $bin_dst-decoder"
fi

# 2. The user: a system account without a shell or a home of its own, in group video (on the
# Pi the encoder devices belong to it; the group exists on Debian and Raspberry Pi OS).
root_args=()
[[ -n "$root" ]] && root_args=(--root "$root")
user_exists() {
  if [[ -n "$root" ]]; then grep -q "^$1:" "$root/etc/passwd"; else getent passwd "$1" >/dev/null; fi
}
group_entry() {
  if [[ -n "$root" ]]; then grep "^$1:" "$root/etc/group"; else getent group "$1"; fi
}
if user_exists "$user"; then
  say "user $user exists"
else
  useradd "${root_args[@]}" --system --user-group --home-dir /var/lib/vistterstream \
    --no-create-home --shell /usr/sbin/nologin "$user"
  say "created system user $user"
fi
video=$(group_entry video) \
  || die "there is no group video here (the unit's SupplementaryGroups=video needs it): groupadd --system video"
if [[ ",${video##*:}," == *",$user,"* ]]; then
  say "user $user is in group video"
else
  usermod "${root_args[@]}" -a -G video "$user"
  say "added $user to group video (hardware encoder)"
fi

# 3. Local settings: created once with the defaults commented out, never overwritten.
if [[ -f "$defaults" ]]; then
  say "keeping local settings in $defaults"
else
  install -d "$(dirname "$defaults")"
  cat > "$defaults" <<'DEFAULTS'
# Local settings of VistterStream (systemd reads this file; restart the service after a change:
# sudo systemctl restart vistterstream). One VS_* variable per line; see README.md.
#VS_LISTEN=0.0.0.0:8080
#VS_LOG=info
#VS_HEALTH_INTERVAL=15
#VS_SECURE_COOKIE=true
DEFAULTS
  chmod 0644 "$defaults"
  say "created $defaults"
fi

# 4. The unit.
install -d "$(dirname "$unit_dst")"
unit_changed=0
if [[ -f "$unit_dst" ]] && cmp -s "$unit_src" "$unit_dst"; then
  say "unit $unit_dst is up to date"
else
  install -m 0644 "$unit_src" "$unit_dst"
  unit_changed=1
  say "installed $unit_dst"
fi

# 5. Enable, and (re)start so that a new binary or unit takes effect.
if [[ -n "$root" ]]; then
  systemctl --root="$root" enable vistterstream.service >/dev/null 2>&1 \
    || die "systemctl --root=$root enable failed"
  say "enabled in $root (not started: --root)"
  exit 0
fi
if ! command -v systemctl >/dev/null || [[ ! -d /run/systemd/system ]]; then
  die "systemd is not running here; the files are installed, start the service by hand"
fi
[[ $unit_changed -eq 1 ]] && systemctl daemon-reload
systemctl enable vistterstream.service >/dev/null 2>&1
say "enabled vistterstream.service (starts at boot)"
if [[ $start -eq 1 ]]; then
  systemctl restart vistterstream.service
  sleep 2
  if systemctl is-active --quiet vistterstream.service; then
    say "vistterstream is running: open http://$(hostname -I 2>/dev/null | awk '{print $1}'):8080"
  else
    systemctl --no-pager status vistterstream.service || true
    die "the service did not start; see: journalctl -u vistterstream -n 50"
  fi
else
  say "not started (--no-start): sudo systemctl start vistterstream"
fi
say "logs: journalctl -u vistterstream -f    data: /var/lib/vistterstream"
