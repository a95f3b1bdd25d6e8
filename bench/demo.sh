#!/usr/bin/env bash
# What demo mode's simulated cameras cost the machine: the appliance started with --demo on an
# empty data directory (three cameras, 1280x720 at 25 fps, one with an AAC tone, each replaying
# a 10 s clip it encodes at start), one RTSP client per camera (ffmpeg -c copy, like the hub's
# one session), CPU of each camera process over WINDOW seconds; then, in the same run, the same
# three camera command lines without --replay (encoding live for their client), measured alike.
# Also: how long after start every camera serves a snapshot.
# Usage: bash bench/demo.sh [window-seconds=20]       (loopback only; cameras from testrig/)
set -euo pipefail
cd "$(dirname "$0")/.."
WINDOW=${1:-20}
cargo build --release -q -p vistterstream --bin vistterstream
BIN=target/release/vistterstream
# shellcheck source=bench/lib.sh
source bench/lib.sh

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
T0=$(date +%s.%N)
"$BIN" serve --demo --listen "127.0.0.1:$PORT" --data-dir "$TMP/data" --log-level warn \
  --testrig-dir testrig >"$TMP/app.log" 2>&1 &
APP=$!
PIDS+=("$APP")
for _ in $(seq 100); do curl -sf "$BASE/api/health" >/dev/null && break; sleep 0.1; done
COOKIE=$(curl -s -i -X POST "$BASE/api/auth/setup" -H 'content-type: application/json' \
  -d '{"username":"admin","password":"bench password"}' | awk -F'[=;]' 'tolower($1) ~ /^set-cookie: vs_session/ {print $2}')
ids=$(curl -sf -H "cookie: vs_session=$COOKIE" "$BASE/api/cameras" | python3 -c 'import json,sys;print(" ".join(str(c["id"]) for c in json.load(sys.stdin)))')
serving=0
for _ in $(seq 120); do
  serving=0
  for id in $ids; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "cookie: vs_session=$COOKIE" "$BASE/api/cameras/$id/snapshot")
    [ "$code" = 200 ] && serving=$((serving + 1))
  done
  [ "$serving" = 3 ] && break
  sleep 0.5
done
echo "demo mode: $(nproc) cores, $(uname -m); $serving of 3 simulated cameras serving a snapshot $(echo "$(date +%s.%N) - $T0" | bc | cut -c1-4) s after start"

# The appliance's simulated cameras: fake_camera.py processes it started.
CAMS=()
for p in $(pgrep -f 'testrig/fake_camera.py'); do
  [ "$(awk '{print $4}' "/proc/$p/stat")" = "$APP" ] && CAMS+=("$p")
done

# measure LABEL PID...: one ffmpeg client per camera, CPU of each camera process.
measure() {
  local label=$1; shift
  local clients=()
  for p in "$@"; do
    local port path
    port=$(tr '\0' '\n' <"/proc/$p/cmdline" | awk 'prev == "--port" { print } { prev = $0 }')
    path=$(tr '\0' '\n' <"/proc/$p/cmdline" | awk 'prev == "--path" { print } { prev = $0 }')
    ffmpeg -nostdin -loglevel fatal -rtsp_transport tcp -i "rtsp://127.0.0.1:$port$path" -c copy -f null - &
    clients+=("$!")
  done
  PIDS+=("${clients[@]}")
  sleep 5
  python3 - "$label" "$WINDOW" "$@" <<'PY'
import os, sys, time
label, window, pids = sys.argv[1], float(sys.argv[2]), [int(p) for p in sys.argv[3:]]
hz = os.sysconf("SC_CLK_TCK")
def ticks(p):
    s = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
    return int(s[11]) + int(s[12])
before = {p: ticks(p) for p in pids}
t0 = time.time(); time.sleep(window); wall = time.time() - t0
total = 0.0
for p in pids:
    cmd = open(f"/proc/{p}/cmdline").read().split("\0")
    name = cmd[cmd.index("--name") + 1]
    pct = (ticks(p) - before[p]) / hz / wall * 100
    total += pct
    print(f"  {label}: {name}{' (with sound)' if '--audio' in cmd else ''}: {pct:.1f} % of a core")
print(f"  {label}: all three: {total:.1f} % of a core ({wall:.0f} s, one client each)")
PY
  for c in "${clients[@]}"; do kill "$c" 2>/dev/null || true; done
}

echo "== the demo's cameras (replaying their clips)"
measure replay "${CAMS[@]}"

# The same command lines without --replay, on new ports.
LIVE=()
for p in "${CAMS[@]}"; do
  mapfile -t argv < <(tr '\0' '\n' <"/proc/$p/cmdline")
  out=() skip=0 port=$(free_port)
  for a in "${argv[@]}"; do
    if [ "$skip" = 1 ]; then skip=0; continue; fi
    case "$a" in
      --replay) skip=1 ;;
      --port) out+=(--port "$port"); skip=1 ;;
      *) out+=("$a") ;;
    esac
  done
  "${out[@]}" >"$TMP/live-$port.log" 2>&1 &
  LIVE+=("$!")
  PIDS+=("$!")
  for _ in $(seq 100); do grep -qs '^READY' "$TMP/live-$port.log" && break; sleep 0.1; done
done
echo "== the same cameras encoding live (same command lines without --replay)"
measure live "${LIVE[@]}"
