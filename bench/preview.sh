#!/usr/bin/env bash
# Live preview benchmark: camera→viewer latency and the appliance's CPU and memory with 1 and
# 10 WebSocket viewers of one 720p30 camera (loopback only; the fake camera from testrig/,
# started with --time-bars so each frame carries the time it was made).
#
# Socket latency (see crates/server/examples/preview_client.rs): for every fragment viewer 0
# receives, arrival time − connect time − media end time of the fragment. The remux is cold
# when the client connects (its RTSP session starts after), so this is an UPPER BOUND of the
# time from the camera producing a frame to the viewer's socket receiving it. It does not
# include the browser.
#
# Picture latency (bench/preview_latency.mjs): headless Chromium logs in, opens the camera
# page and, for every frame its live player presents (requestVideoFrameCallback), reads the
# capture time the fake camera coded into the picture; latency = presentation time − capture
# time, both on this host's clock. This is the whole chain: the fake camera's own x264 encoder
# and RTSP server, the appliance's remux and WebSocket, MSE buffering and Chromium's decoder.
# Limits: loopback only (no network), the fake camera's encoder latency is included (a real
# camera has its own), Chromium decodes in software in headless mode (no GPU), and everything
# shares this machine's cores, so a busy machine (see the load printed) reads slower.
# The same measurement is then made on the Program page's player of the program output, with
# the camera on air in a program of the same size (sent to an FFmpeg RTMP sink on loopback).
# Needs e2e/node_modules (`cd e2e && npm ci`) and Chromium (`scripts/install-deps.sh test`);
# without them the other figures are still printed and the script exits 1.
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
# The picture-latency section needs Node, playwright-core and Chromium; say so now, fail at the end.
BROWSER_MISSING=""
command -v node >/dev/null || BROWSER_MISSING="node is missing (scripts/install-deps.sh test)"
[ -n "$BROWSER_MISSING" ] || [ -d e2e/node_modules/playwright-core ] ||
  BROWSER_MISSING="e2e/node_modules/playwright-core is missing (cd e2e && npm ci)"
[ -n "$BROWSER_MISSING" ] || [ -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ] ||
  BROWSER_MISSING="Chromium is missing at ${CHROMIUM_BIN:-/usr/bin/chromium} (scripts/install-deps.sh test, or set CHROMIUM_BIN)"
[ -z "$BROWSER_MISSING" ] || echo "warning: $BROWSER_MISSING; the picture latency will not be measured" >&2
cargo build --release -q -p vistterstream --bin vistterstream --example preview_client
BIN=target/release/vistterstream
CLIENT=target/release/examples/preview_client
HZ=$(getconf CLK_TCK)
# shellcheck source=bench/lib.sh
source bench/lib.sh
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
"${VS_RIG_PYTHON:-/usr/bin/python3}" testrig/fake_camera.py --port 0 --path /bench --name Bench --width $W --height $H --fps $FPS --time-bars \
  >"$TMP/camera.out" 2>"$TMP/camera.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q READY "$TMP/camera.out" && break; sleep 0.2; done
CAM_PORT=$(sed -nE 's/.*READY port=([0-9]+).*/\1/p' "$TMP/camera.out")
[ -n "$CAM_PORT" ] || { cat "$TMP/camera.err" >&2; exit 1; }

# The appliance (health checks rare, so their ffprobe runs stay out of the window).
PORT=$(free_port)
$BIN serve --listen "127.0.0.1:$PORT" --data-dir "$TMP/data" --log-level warn --health-interval-s 600 \
  >"$TMP/app.log" 2>&1 &
APP=$!
PIDS+=("$APP")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null && break; sleep 0.1; done
API="http://127.0.0.1:$PORT/api"
J=(-s -b "$TMP/jar" -c "$TMP/jar" -H 'content-type: application/json')
PASSWORD="bench password 1"
curl "${J[@]}" -X POST "$API/auth/setup" -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" >/dev/null
TOKEN=$(curl "${J[@]}" -X POST "$API/auth/tokens" -d '{"name":"bench"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])')
CAM=$(curl "${J[@]}" -X POST "$API/cameras" \
  -d "{\"name\":\"Bench\",\"type\":\"STATIC\",\"protocol\":\"RTSP\",\"address\":\"rtsp://127.0.0.1:$CAM_PORT/bench\"}" |
  python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
WS="ws://127.0.0.1:$PORT/api/cameras/$CAM/live"

load() { cut -d' ' -f1-3 /proc/loadavg; }
# Waits until the previous remux has stopped (each measurement starts cold).
remux_stopped() {
  for _ in $(seq 100); do
    curl -s -H "authorization: Bearer $TOKEN" "$API/cameras/$CAM/live/stats" | grep -q '"running":false' && return
    sleep 0.5
  done
}

echo "preview of one ${W}x${H}@${FPS} camera, window ${WINDOW}s (100% CPU = one core); load average $(load) on $(nproc) cores"
IDLE_RSS=$(rss_mb $APP)
for N in 1 10; do
  remux_stopped
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

echo "picture latency: capture in the fake camera → frame presented by headless Chromium's live"
echo "  player on the camera page (/cameras/$CAM), same host clock; includes the fake camera's"
echo "  encoder, the remux, the WebSocket, MSE buffering and software decoding"
if [ -n "$BROWSER_MISSING" ]; then
  echo "  NOT MEASURED: $BROWSER_MISSING" >&2
  exit 1
fi
remux_stopped
echo "  load average before: $(load)"
if ! node bench/preview_latency.mjs --base "http://127.0.0.1:$PORT" --user admin --password "$PASSWORD" \
  --page "/cameras/$CAM" --seconds "$WINDOW" 2>&1 | sed 's/^/  /'; then
  echo "  picture latency: FAILED (see above)" >&2
  exit 1
fi
echo "  load average after: $(load)"

# The program's output: the same camera on air in a program of the same size, sent to an RTMP
# sink (FFmpeg listening on loopback), and played on the Program page from the program's own
# encoded output (GET /api/programs/{id}/live).
RTMP_PORT=$(free_port)
ffmpeg -hide_banner -loglevel error -listen 1 -i "rtmp://127.0.0.1:$RTMP_PORT/live/bench" -c copy -f null - \
  >"$TMP/sink.out" 2>&1 &
PIDS+=($!)
DEST=$(curl "${J[@]}" -X POST "$API/destinations" \
  -d "{\"name\":\"Sink\",\"platform\":\"custom\",\"url\":\"rtmp://127.0.0.1:$RTMP_PORT/live\",\"stream_key\":\"bench\"}" |
  python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
PROG=$(curl "${J[@]}" -X POST "$API/programs" \
  -d "{\"name\":\"Bench\",\"width\":$W,\"height\":$H,\"fps\":$FPS,\"destination_ids\":[$DEST]}" |
  python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
curl "${J[@]}" -X POST "$API/programs/$PROG/start" -d '{}' >/dev/null
curl "${J[@]}" -X POST "$API/programs/$PROG/take" -d "{\"camera_id\":$CAM}" >/dev/null
sleep 3
echo "program picture latency: capture in the fake camera → frame presented by Chromium's player of"
echo "  the program output on the Program page; adds the program's decode, compositing on its"
echo "  clock, its ${W}x${H}@${FPS} encode and the remux of its MPEG-TS to the camera path above"
echo "  load average before: $(load)"
if ! node bench/preview_latency.mjs --base "http://127.0.0.1:$PORT" --user admin --password "$PASSWORD" \
  --page "/program" --selector 'video[data-testid=program-video]' --seconds "$WINDOW" 2>&1 | sed 's/^/  /'; then
  echo "  program picture latency: FAILED (see above)" >&2
  exit 1
fi
echo "  load average after: $(load)"
curl "${J[@]}" -X POST "$API/programs/$PROG/stop" -d '{}' >/dev/null
