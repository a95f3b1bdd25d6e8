#!/usr/bin/env bash
# Memory benchmark: the appliance's own resident memory (VmRSS of the `vistterstream` process,
# split into anonymous memory — heap, raw frames — and file pages — the binary's code and the
# embedded web UI as far as it was touched), at four moments of one run:
#   1. idle: just started on an empty data directory (no user, no camera), after 5 s;
#   2. idle after IDLE_WAIT s more (the background loops have all run once, and the code pages
#      start-up ran once were released at 15 s);
#   3. an admin and two cameras online, no program;
#   4. one WxH@FPS program on air for WINDOW s (default 90: the appliance releases the code pages
#      that ran once every 60 s, see vs_engine::memory::release_code_pages, so the window holds
#      at least one release and the median is the steady state): camera A (sending an AAC tone)
#      with an image, a text and a clock overlay, sound mixed, metered and AAC-encoded, to an
#      RTMP receiver; sampled every second: min/median/max VmRSS and the peak (VmHWM), and the
#      raw-frame buffers the appliance allocated and keeps free (/metrics). The children (the
#      camera decoder, the idle spare, the encoder) are separate processes: their RSS is printed
#      beside, not added; the decoder's shared slots count in the appliance's RSS as far as the
#      appliance has mapped them (RssShmem).
# Usage: [W=1920] [H=1080] [FPS=30] [PREROLL=economy|instant] [IDLE_WAIT=25]
#        bash bench/memory.sh [window-seconds]       (loopback only; fake cameras from testrig/)
set -euo pipefail
cd "$(dirname "$0")/.."
WINDOW=${1:-90}
W=${W:-1920} H=${H:-1080} FPS=${FPS:-30}
PREROLL=${PREROLL:-economy}
IDLE_WAIT=${IDLE_WAIT:-25}
command -v ffmpeg >/dev/null || { echo "ffmpeg is missing: run scripts/install-deps.sh test" >&2; exit 1; }
# The appliance and its camera decoder (vistterstream-decoder, beside it: the program's cameras
# are decoded into memory shared with the appliance; the slots it maps count in its RSS).
cargo build --release -q -p vistterstream --bin vistterstream
cargo build --release -q -p vs-decoder
BIN=${CARGO_TARGET_DIR:-target}/release/vistterstream
# shellcheck source=bench/lib.sh
source bench/lib.sh

field_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# "RSS x MiB (anonymous a, file f)" of a process.
rss_line() {
  printf 'RSS %s MiB (anonymous %s, file %s, shared memory %s)' "$(mib "$(field_kib "$1" VmRSS)")" \
    "$(mib "$(field_kib "$1" RssAnon)")" "$(mib "$(field_kib "$1" RssFile)")" "$(mib "$(field_kib "$1" RssShmem)")"
}
children_of() { for f in /proc/[0-9]*/stat; do awk -v p="$1" '{ sub(/^[0-9]+ \(.*\) /, ""); if ($2 == p) print FILENAME }' "$f" 2>/dev/null; done | sed -E 's#/proc/([0-9]+)/stat#\1#'; }

start_camera() {
  local name=$1 freq=$2 port; port=$(free_port)
  /usr/bin/python3 testrig/fake_camera.py --port "$port" --path "/$name" --name "$name" \
    --width "$W" --height "$H" --fps "$FPS" --gop $((2 * FPS)) --audio-freq "$freq" \
    --replay 8 >"$TMP/cam-$name.log" 2>&1 &
  PIDS+=("$!")
  # It encodes its 8 s clip first (a few seconds), then replays it.
  for _ in $(seq 600); do grep -qs "^READY" "$TMP/cam-$name.log" && break; sleep 0.1; done
  grep -q '^READY' "$TMP/cam-$name.log" || { cat "$TMP/cam-$name.log" >&2; exit 1; }
  CAM_URL="rtsp://127.0.0.1:$port/$name"
}

echo "appliance memory: $(nproc) cores; $(uname -m); release build; program ${W}x${H}@${FPS} ($PREROLL), window ${WINDOW}s"

# 1-2. Idle.
PORT=$(free_port)
API="http://127.0.0.1:$PORT/api"
$BIN serve --listen "127.0.0.1:$PORT" --data-dir "$TMP/data" --log-level warn >"$TMP/app.log" 2>&1 &
APP=$!
PIDS+=("$APP")
for _ in $(seq 100); do curl -sf "$API/health" >/dev/null && break; sleep 0.1; done
sleep 5
echo "1. idle, 5 s after start (no user, no camera): $(rss_line $APP)"
sleep "$IDLE_WAIT"
echo "2. idle, $((5 + IDLE_WAIT)) s after start: $(rss_line $APP); peak so far $(mib "$(field_kib $APP VmHWM)") MiB"

# 3. An admin, two cameras with sound, health checked.
J=(-sf -b "$TMP/jar" -c "$TMP/jar" -H 'content-type: application/json')
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
curl "${J[@]}" -X POST "$API/auth/setup" -d '{"username":"admin","password":"bench password 1"}' >/dev/null
start_camera a 500; CAM_A_URL=$CAM_URL
start_camera b 1300; CAM_B_URL=$CAM_URL
CAM_A=$(curl "${J[@]}" -X POST "$API/cameras" \
  -d "{\"name\":\"A\",\"type\":\"STATIC\",\"protocol\":\"RTSP\",\"address\":\"$CAM_A_URL\"}" | json '["id"]')
CAM_B=$(curl "${J[@]}" -X POST "$API/cameras" \
  -d "{\"name\":\"B\",\"type\":\"STATIC\",\"protocol\":\"RTSP\",\"address\":\"$CAM_B_URL\"}" | json '["id"]')
for _ in $(seq 60); do
  online=$(curl "${J[@]}" "$API/cameras/health" | python3 -c 'import json,sys; print(sum(1 for c in json.load(sys.stdin) if c["state"] == "online"))')
  [ "$online" = 2 ] && break
  sleep 1
done
sleep 5
echo "3. two cameras online (status: $online of 2), no program: $(rss_line $APP)"

# 4. One program on air.
RPORT=$(free_port)
ffmpeg -hide_banner -loglevel error -nostdin -listen 1 -f flv -i "rtmp://127.0.0.1:$RPORT/live/bench" -c copy -f null - \
  2>"$TMP/receiver.err" &
PIDS+=("$!")
DEST=$(curl "${J[@]}" -X POST "$API/destinations" \
  -d "{\"name\":\"Receiver\",\"platform\":\"custom\",\"url\":\"rtmp://127.0.0.1:$RPORT/live/bench\"}" | json '["id"]')
ffmpeg -hide_banner -loglevel error -nostdin -f lavfi -i "color=c=orange:s=240x80" -frames:v 1 "$TMP/logo.png"
ASSET=$(curl -sf -b "$TMP/jar" -X POST "$API/assets?name=logo" -H 'content-type: image/png' \
  --data-binary "@$TMP/logo.png" | json '["id"]')
OV_IMG=$(curl "${J[@]}" -X POST "$API/overlays" -d "{\"name\":\"Logo\",\"kind\":\"image\",\"asset_id\":$ASSET,\"definition\":{\"x\":1640,\"y\":24,\"width\":240,\"height\":80}}" | json '["id"]')
OV_TXT=$(curl "${J[@]}" -X POST "$API/overlays" -d '{"name":"Title","kind":"text","definition":{"x":24,"y":24,"text":"VistterStream bench","font_size":54,"color":"#ffffff"}}' | json '["id"]')
OV_CLK=$(curl "${J[@]}" -X POST "$API/overlays" -d '{"name":"Clock","kind":"clock","definition":{"x":24,"y":980,"font_size":60,"color":"#ffffff","background":"#000000a0"}}' | json '["id"]')
PROG=$(curl "${J[@]}" -X POST "$API/programs" \
  -d "{\"name\":\"Bench\",\"width\":$W,\"height\":$H,\"fps\":$FPS,\"destination_ids\":[$DEST],\"preroll\":\"$PREROLL\"}" | json '["id"]')
curl "${J[@]}" -X POST "$API/programs/$PROG/start" >/dev/null
curl "${J[@]}" -X POST "$API/programs/$PROG/take" -d "{\"camera_id\":$CAM_A}" >/dev/null
curl "${J[@]}" -X PUT "$API/programs/$PROG/overlays" \
  -d "[{\"overlay_id\":$OV_IMG,\"visible\":true},{\"overlay_id\":$OV_TXT,\"visible\":true},{\"overlay_id\":$OV_CLK,\"visible\":true}]" >/dev/null
[ "$PREROLL" = instant ] && curl "${J[@]}" -X POST "$API/programs/$PROG/preroll" -d "{\"camera_id\":$CAM_B}" >/dev/null
sleep 10
: >"$TMP/samples"
for _ in $(seq "$WINDOW"); do
  field_kib $APP VmRSS >>"$TMP/samples"
  sleep 1
done
LIVE=$(curl "${J[@]}" "$API/programs/$PROG")
python3 - "$LIVE" <<'EOF'
import json, sys
p = json.loads(sys.argv[1]); live = p.get("live") or {}
outs = ", ".join(f'{o["destination"]}: {o["state"]}' for o in live.get("outputs", []))
print(f'   program: on air camera {live.get("on_air_camera_id")}, {live.get("fps_measured")} fps measured, '
      f'speed {live.get("speed")}, {live.get("frames")} frames, {live.get("dropped_frames")} dropped; outputs: {outs}')
EOF
curl -sf -b "$TMP/jar" "http://127.0.0.1:$PORT/metrics" | grep -E '^vistterstream_frame_buffers' | sed 's/^/   /' || true
sort -n "$TMP/samples" | awk '{ v[NR] = $1 } END {
  printf "4. one program on air, %d samples: appliance VmRSS min %.1f / median %.1f / max %.1f MiB\n", NR, v[1] / 1024, v[int((NR + 1) / 2)] / 1024, v[NR] / 1024 }'
echo "   at the end: $(rss_line $APP); peak (VmHWM) over the whole run $(mib "$(field_kib $APP VmHWM)") MiB"
for c in $(children_of $APP); do
  echo "   child $(tr '\0' ' ' <"/proc/$c/cmdline" | cut -c1-60)…: $(rss_line "$c")"
done
echo "   (targets of issue 15: idle <= 16 MiB; one 1080p30 program <= 64 MiB, the appliance's own process)"
