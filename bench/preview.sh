#!/usr/bin/env bash
# Live preview benchmark: camera→viewer latency and the appliance's CPU and memory with 1 and
# 10 WebSocket viewers of one 720p30 camera (loopback only; the fake camera from testrig/).
#
# Latency (see crates/server/examples/preview_client.rs): for every fragment viewer 0 receives,
# arrival time − connect time − media end time of the fragment. The remux is cold when the
# client connects (its RTSP session starts after), so this is an UPPER BOUND of the time from
# the camera producing a frame to the viewer's socket receiving it. It does not include the
# browser's MSE buffer; the e2e test (e2e/tests/preview.test.mjs) checks that the player stays
# under 1.5 s behind its newest buffered frame, and the player jumps forward past 1 s.
#
# CPU: utime+stime of the appliance and its FFmpeg children over the window, in % of one core.
# RSS: VmRSS of the appliance process and of the remux at the end of the window.
#
# Usage: bash bench/preview.sh [window-seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
WINDOW=${1:-15}
WARMUP=3
W=1280 H=720 FPS=30

command -v ffmpeg >/dev/null || { echo "ffmpeg is missing: run scripts/install-deps.sh test" >&2; exit 1; }
cargo build --release -q -p vistterstream --bin vistterstream --example preview_client
BIN=target/release/vistterstream
CLIENT=target/release/examples/preview_client
HZ=$(getconf CLK_TCK)
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
children_of() { for f in /proc/[0-9]*/stat; do awk -v p="$1" '{ sub(/^[0-9]+ \(.*\) /, ""); if ($2 == p) print FILENAME }' "$f" 2>/dev/null; done | sed -E 's#/proc/([0-9]+)/stat#\1#'; }
ticks_of() { awk '{ sub(/^[0-9]+ \(.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_mb() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# Ticks of the appliance plus its live children plus children reaped during the window.
tree_ticks() {
  local t; t=$(ticks_of "$1")
  for c in $(children_of "$1"); do t=$((t + $(ticks_of "$c"))); done
  echo $((t + $(awk '{ sub(/^[0-9]+ \(.*\) /, ""); print $14 + $15 }' "/proc/$1/stat")))
}

# The camera.
"${VS_RIG_PYTHON:-/usr/bin/python3}" testrig/fake_camera.py --port 0 --path /bench --name Bench --width $W --height $H --fps $FPS \
  >"$TMP/camera.out" 2>"$TMP/camera.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q READY "$TMP/camera.out" && break; sleep 0.2; done
CAM_PORT=$(sed -nE 's/.*READY port=([0-9]+).*/\1/p' "$TMP/camera.out")
[ -n "$CAM_PORT" ] || { cat "$TMP/camera.err" >&2; exit 1; }

# The appliance (health checks rare, so their ffprobe runs stay out of the window).
PORT=$(free_port)
$BIN serve --listen 127.0.0.1:$PORT --data-dir "$TMP/data" --log-level warn --health-interval-s 600 \
  >"$TMP/app.log" 2>&1 &
APP=$!
PIDS+=($APP)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null && break; sleep 0.1; done
API="http://127.0.0.1:$PORT/api"
J=(-s -b "$TMP/jar" -c "$TMP/jar" -H 'content-type: application/json')
curl "${J[@]}" -X POST "$API/auth/setup" -d '{"username":"admin","password":"bench password 1"}' >/dev/null
TOKEN=$(curl "${J[@]}" -X POST "$API/auth/tokens" -d '{"name":"bench"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])')
CAM=$(curl "${J[@]}" -X POST "$API/cameras" \
  -d "{\"name\":\"Bench\",\"type\":\"STATIC\",\"protocol\":\"RTSP\",\"address\":\"rtsp://127.0.0.1:$CAM_PORT/bench\"}" |
  python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
WS="ws://127.0.0.1:$PORT/api/cameras/$CAM/live"

echo "preview of one ${W}x${H}@${FPS} camera, window ${WINDOW}s (100% CPU = one core)"
IDLE_RSS=$(rss_mb $APP)
for N in 1 10; do
  # Cold start each time: wait until the previous remux has stopped.
  for _ in $(seq 100); do
    curl -s -H "authorization: Bearer $TOKEN" "$API/cameras/$CAM/live/stats" | grep -q '"running":false' && break
    sleep 0.5
  done
  $CLIENT "$WS" "$TOKEN" $N $((WARMUP + WINDOW + 1)) >"$TMP/client-$N.json" &
  CL=$!
  sleep $WARMUP
  REMUX=$(children_of $APP | head -1)
  T0=$(tree_ticks $APP) R0=$(ticks_of "${REMUX:-0}")
  sleep "$WINDOW"
  T1=$(tree_ticks $APP) R1=$(ticks_of "${REMUX:-0}")
  printf '  %2d viewer(s): CPU appliance+remux %5.1f%% (remux ffmpeg %4.1f%%); RSS appliance %s MB, remux %s MB; ffmpeg processes on the camera: %s\n' \
    $N "$(echo "100 * ($T1 - $T0) / $HZ / $WINDOW" | bc -l)" "$(echo "100 * ($R1 - $R0) / $HZ / $WINDOW" | bc -l)" \
    "$(rss_mb $APP)" "$(rss_mb "${REMUX:-0}")" \
    "$(pgrep -fc "127.0.0.1:$CAM_PORT/bench" || true)"
  wait $CL
  echo "      client: $(cat "$TMP/client-$N.json")"
done
echo "  idle appliance RSS before the first viewer: ${IDLE_RSS} MB"
