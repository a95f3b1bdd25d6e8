#!/usr/bin/env bash
# Camera hub benchmark (issue 14), on loopback only: the fake camera (GStreamer RTSP server),
# real FFmpeg, the appliance binary and headless Chromium.
#
# Engine figures (`--engine`): the hub's measuring tests (`#[ignore]` in the test suite, run here
# with --include-ignored) in release mode, one at a time:
#   - camera connections: the cameras run with --max-clients 1, so every consumer at once
#     (two fMP4 previews, a program decoder, a copy stream, a TS consumer, a snapshot) on ONE
#     connection is the test passing;
#   - subscribe → first keyframe packet (keyframe cache), decoder first frame and catch-up;
#   - cold decoder start to first live frame, 720p30 with a 2 s GOP (p50/p95 of 8 starts);
#   - CPU of one connected 720p30 4 Mb/s camera that nobody consumes (the session's thread):
#     the cost of a standby camera.
#
# Take-to-air (`--takes`) through a running program (examples/program_run.rs --take-bench): two
# 720p30 cameras with a 2 s GOP at 4 Mb/s (fake_camera.py --time-bars --color red|blue, with
# --busy noise so the decoders work as on a real scene), each with --max-clients 1, read by a
# camera hub; a 720p30 libx264 program to an RTMP receiver; TAKES takes of a connected camera
# that is not pre-rolled (the other camera is released after each take), then TAKES pre-rolled
# takes, spread over the GOP. Printed: p50/p95 from the take() call to the tick that put the
# camera's first frame on air, and to the encoder's output carrying it (told by its colour in
# the decoded output), and how old that first frame was.
#
# Appliance figures (`--appliance`), for the appliance binary of this tree and, with OLD_BIN, for
# another one (e.g. the code before the hub, for the comparison), each against a fresh
# 1280x720@30 camera (2 s GOP, a password, no session limit so an old design can open all it
# wants; no audio: the fake camera's --time-bars, which the picture reader needs, refuses PLAY
# with it):
#   - camera connections with all consumers running: a program with the camera on air (an
#     FFmpeg RTMP sink), a copy stream to two destinations (two more sinks), two preview viewers
#     (the preview_client example), a snapshot every second and health checks every 2 s.
#     Counted as the ESTABLISHED TCP connections to the camera's RTSP port (/proc/net/tcp,
#     server side), sampled every 0.1 s for WINDOW s: the usual count and the peak. Then again
#     without the program;
#   - first preview picture in Chromium: bench/preview_latency.mjs opens the camera page in
#     headless Chromium and reports when the live player presented its first frame, in ms from
#     the start of the navigation; 5 cold runs (no preview running: each waits until the last
#     one's has stopped), min / median / max. The UI is the one the binary embeds (release) or
#     reads from web/dist (debug): build it first (make ui).
#
# Usage: [TAKES=20] [BUSY=1] [WINDOW=15] bash bench/hub.sh [--engine | --takes | --appliance]
#   (no part named: all three; --takes-only is --takes)
#   OLD_BIN=path       also measure the appliance figures with that binary
#   BENCH_PROFILE=dev  build and run this tree's debug binaries (default: release)
set -euo pipefail
cd "$(dirname "$0")/.."
PART=all
case "${1:-}" in
  --engine) PART=engine ;;
  --takes | --takes-only) PART=takes ;;
  --appliance) PART=appliance ;;
  "") ;;
  *) echo "usage: bash bench/hub.sh [--engine | --takes | --appliance]" >&2; exit 2 ;;
esac
TAKES=${TAKES:-20}
BUSY=${BUSY:-1}
WINDOW=${WINDOW:-15}
PROFILE=${BENCH_PROFILE:-release}
for t in ffmpeg ffprobe nginx; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || { echo "$t is missing: run scripts/install-deps.sh test" >&2; exit 1; }
done
PROFILE_FLAG=()
TARGET_DIR=target/debug
if [ "$PROFILE" = release ]; then
  PROFILE_FLAG=(--release)
  TARGET_DIR=target/release
fi

# shellcheck source=bench/lib.sh
source bench/lib.sh
json() { python3 -c "import json,sys;d=json.load(sys.stdin);print($1)"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
# ESTABLISHED TCP connections whose local (server) port is $1: the camera's sessions.
connections() {
  local hex
  hex=$(printf ':%04X' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p="$hex" '$2 ~ p"$" && $4 == "01" { n++ } END { print n + 0 }'
}
# Samples connections() every 0.1 s for $2 s; prints "usual peak".
sample_connections() {
  local port=$1 seconds=$2 end
  end=$(($(date +%s%N) + seconds * 1000000000))
  while [ "$(date +%s%N)" -lt "$end" ]; do
    connections "$port"
    sleep 0.1
  done | sort -n | uniq -c | awk '{ if ($1 > best) { best = $1; usual = $2 } if ($2 > peak) peak = $2 } END { print usual + 0, peak + 0 }'
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# appliance_figures BINARY LABEL
appliance_figures() {
  local bin=$1 label=$2 cam_pw="camPw-b3nch" pw="bench password 1"
  echo "=== appliance: $label ($bin)"
  "${VS_RIG_PYTHON:-/usr/bin/python3}" testrig/fake_camera.py --port 0 --path /hub --name Hub \
    --width 1280 --height 720 --fps 30 --gop 60 --time-bars --user admin --password "$cam_pw" \
    >"$TMP/camera.out" 2>"$TMP/camera.err" &
  local cam_pid=$!
  PIDS+=("$cam_pid")
  for _ in $(seq 100); do grep -q READY "$TMP/camera.out" && break; sleep 0.2; done
  local cam_port
  cam_port=$(sed -nE 's/.*READY port=([0-9]+).*/\1/p' "$TMP/camera.out")
  [ -n "$cam_port" ] || { cat "$TMP/camera.err" >&2; exit 1; }

  local sinks=() sink_pids=()
  for key in a b p; do
    local port
    port=$(free_port)
    ffmpeg -hide_banner -loglevel error -listen 1 -i "rtmp://127.0.0.1:$port/live/$key" -c copy -f null - \
      >"$TMP/sink-$key.out" 2>&1 &
    sink_pids+=($!)
    PIDS+=($!)
    sinks+=("$port")
  done

  local port app api
  port=$(free_port)
  rm -rf "$TMP/data"
  "$bin" serve --listen 127.0.0.1:"$port" --data-dir "$TMP/data" --log-level warn --health-interval-s 2 \
    >"$TMP/app.log" 2>&1 &
  app=$!
  PIDS+=("$app")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.1; done
  api="http://127.0.0.1:$port/api"
  local ui="http://127.0.0.1:$port"
  local J=(-s -b "$TMP/jar" -c "$TMP/jar" -H 'content-type: application/json')
  rm -f "$TMP/jar"
  curl "${J[@]}" -X POST "$api/auth/setup" -d "{\"username\":\"admin\",\"password\":\"$pw\"}" >/dev/null
  local token cam d1 d2 dp stream prog
  token=$(curl "${J[@]}" -X POST "$api/auth/tokens" -d '{"name":"bench"}' | json 'd["token"]')
  cam=$(curl "${J[@]}" -X POST "$api/cameras" \
    -d "{\"name\":\"Hub\",\"type\":\"STATIC\",\"protocol\":\"RTSP\",\"address\":\"rtsp://127.0.0.1:$cam_port/hub\",\"username\":\"admin\",\"password\":\"$cam_pw\"}" |
    json 'd["id"]')
  dest() { curl "${J[@]}" -X POST "$api/destinations" \
    -d "{\"name\":\"Sink $1\",\"platform\":\"custom\",\"url\":\"rtmp://127.0.0.1:$2/live\",\"stream_key\":\"$1\"}" | json 'd["id"]'; }
  d1=$(dest a "${sinks[0]}")
  d2=$(dest b "${sinks[1]}")
  dp=$(dest p "${sinks[2]}")
  stream=$(curl "${J[@]}" -X POST "$api/streams" -d "{\"name\":\"Copy\",\"camera_id\":$cam,\"destination_ids\":[$d1,$d2]}" | json 'd["id"]')
  prog=$(curl "${J[@]}" -X POST "$api/programs" \
    -d "{\"name\":\"Bench\",\"width\":1280,\"height\":720,\"fps\":30,\"destination_ids\":[$dp]}" | json 'd["id"]')
  curl "${J[@]}" -X POST "$api/streams/$stream/start" -d '{}' >/dev/null
  curl "${J[@]}" -X POST "$api/programs/$prog/start" -d '{}' >/dev/null
  curl "${J[@]}" -X POST "$api/programs/$prog/take" -d "{\"camera_id\":$cam}" >/dev/null
  "$CLIENT" "ws://127.0.0.1:$port/api/cameras/$cam/live" "$token" 2 $((WINDOW + 20)) >"$TMP/viewers.json" 2>&1 &
  local viewers=$!
  PIDS+=("$viewers")
  (while true; do curl -s -o /dev/null -b "$TMP/jar" "$api/cameras/$cam/snapshot?width=640"; sleep 1; done) &
  local snaps=$!
  PIDS+=("$snaps")
  sleep 8
  echo "camera connections (ESTABLISHED TCP to the camera's RTSP port, sampled every 0.1 s for ${WINDOW} s; load $(load)):"
  local all without
  all=$(sample_connections "$cam_port" "$WINDOW")
  echo "  all consumers running (copy stream to 2 destinations, program on air, 2 preview viewers,"
  echo "  a snapshot every second, health every 2 s): usual ${all% *}, peak ${all#* }"
  if curl -sf -b "$TMP/jar" "$api/cameras/$cam/session" >"$TMP/session.json"; then
    echo "  the session says: $(json '"state %s, consumers %s, reconnects %s" % (d["state"], {k: v for k, v in d["consumers"].items() if v}, d["reconnects"])' <"$TMP/session.json")"
  fi
  curl "${J[@]}" -X POST "$api/programs/$prog/stop" -d '{}' >/dev/null
  sleep 3
  without=$(sample_connections "$cam_port" 5)
  echo "  the same without the program: usual ${without% *}, peak ${without#* }"
  stop_pid "$snaps"
  stop_pid "$viewers"
  curl "${J[@]}" -X POST "$api/streams/$stream/stop" -d '{}' >/dev/null

  echo "first preview picture in Chromium (ms from opening the camera page to the first frame"
  echo "  presented; cold: no preview running before each run; load $(load)):"
  if [ -n "$BROWSER_MISSING" ]; then
    echo "  NOT MEASURED: $BROWSER_MISSING"
  else
    local runs=()
    for i in 1 2 3 4 5; do
      for _ in $(seq 60); do
        curl -s -b "$TMP/jar" "$api/cameras/$cam/live/stats" | grep -q '"running":false' && break
        sleep 0.5
      done
      local line
      line=$(node bench/preview_latency.mjs --base "$ui" --user admin --password "$pw" \
        --page "/cameras/$cam" --seconds 1 --warmup 0 2>"$TMP/latency.err" | tail -1) || true
      local ms
      ms=$(echo "$line" | json 'd["first_frame_ms"]' 2>/dev/null || echo "")
      if [ -z "$ms" ] || [ "$ms" = None ]; then
        echo "  run $i: failed: $(head -c 300 "$TMP/latency.err")"
      else
        runs+=("$ms")
      fi
    done
    if [ ${#runs[@]} -gt 0 ]; then
      printf '%s\n' "${runs[@]}" | sort -n | awk '{ v[NR] = $1 } END {
        printf "  %d runs: min %d, median %d, max %d ms (each: ", NR, v[1], v[int((NR + 1) / 2)], v[NR]
        for (i = 1; i <= NR; i++) printf "%s%d", (i > 1 ? " " : ""), v[i]; print ")" }'
    fi
  fi
  stop_pid "$app"
  for p in "${sink_pids[@]}"; do stop_pid "$p"; done
  stop_pid "$cam_pid"
}

if [ "$PART" = all ] || [ "$PART" = engine ]; then
  echo "### engine figures"
  cargo test "${PROFILE_FLAG[@]}" -q -p vs-engine --test hub --no-run
  for test in one_session_serves_every_consumer standby_cpu cold_decoder a_frozen_camera; do
    echo "--- $test"
    cargo test "${PROFILE_FLAG[@]}" -q -p vs-engine --test hub -- --nocapture --test-threads 1 --include-ignored "$test" 2>&1 \
      | grep -E '^figure|test result' || { echo "$test failed" >&2; exit 1; }
  done
fi

if [ "$PART" = all ] || [ "$PART" = takes ]; then
  echo "--- take-to-air through a program (720p30 cameras, 2 s GOP, $TAKES takes each)"
  cargo build "${PROFILE_FLAG[@]}" -q -p vs-engine --example program_run
  BIN=$TARGET_DIR/examples/program_run
  start_camera() {
    local name=$1 color=$2 port; port=$(free_port)
    local busy=(); [ "$BUSY" = 1 ] && busy=(--busy)
    /usr/bin/python3 testrig/fake_camera.py --port "$port" --path "/$name" --name "$name" \
      --width 1280 --height 720 --fps 30 --gop 60 --bitrate 4000 --no-overlay --max-clients 1 \
      --time-bars --color "$color" "${busy[@]}" >"$TMP/cam-$name.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 150); do grep -q '^READY' "$TMP/cam-$name.log" && break; sleep 0.1; done
    grep -q '^READY' "$TMP/cam-$name.log" || { cat "$TMP/cam-$name.log" >&2; exit 1; }
    CAM_URL="rtsp://127.0.0.1:$port/$name"
  }
  start_camera red red; CAM_A=$CAM_URL
  start_camera blue blue; CAM_B=$CAM_URL
  RTMP_PORT=$(free_port)
  ffmpeg -hide_banner -loglevel error -nostdin -listen 1 -f flv -i "rtmp://127.0.0.1:$RTMP_PORT/live/bench" \
    -c copy -f null - 2>"$TMP/receiver.err" &
  PIDS+=($!)
  sleep 0.5
  echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
  "$BIN" --hub --take-bench "$TAKES" --colors red,blue --size 1280x720 --fps 30 --bitrate 2500 \
    --camera "$CAM_A" --camera "$CAM_B" --output "rtmp://127.0.0.1:$RTMP_PORT/live/bench" \
    >"$TMP/program.out" 2>"$TMP/program.err" || { echo "program_run failed:" >&2; tail -20 "$TMP/program.err" >&2; exit 1; }
  echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  grep '^RESULT' "$TMP/program.out" | sed 's/^RESULT /  /'
fi

if [ "$PART" = all ] || [ "$PART" = appliance ]; then
  BROWSER_MISSING=""
  command -v node >/dev/null || BROWSER_MISSING="node is missing (scripts/install-deps.sh test)"
  [ -n "$BROWSER_MISSING" ] || [ -d e2e/node_modules/playwright-core ] ||
    BROWSER_MISSING="e2e/node_modules/playwright-core is missing (cd e2e && npm ci)"
  [ -n "$BROWSER_MISSING" ] || [ -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ] ||
    BROWSER_MISSING="Chromium is missing at ${CHROMIUM_BIN:-/usr/bin/chromium} (scripts/install-deps.sh test, or set CHROMIUM_BIN)"
  cargo build "${PROFILE_FLAG[@]}" -q -p vistterstream --bin vistterstream --example preview_client
  CLIENT=$TARGET_DIR/examples/preview_client
  echo "### appliance figures"
  echo "Before the hub every consumer opened its own RTSP session: the program's ingest (1), each"
  echo "copy stream output (1 per destination: 2), the preview remux (1, shared by its viewers), a"
  echo "snapshot grab while it runs (1) and a health probe while it runs (1; skipped while a"
  echo "program decodes the camera): 4 at all times here, up to 5-6 during a grab or probe."
  appliance_figures "$TARGET_DIR/vistterstream" "this tree ($PROFILE)"
  if [ -n "${OLD_BIN:-}" ]; then
    appliance_figures "$OLD_BIN" "OLD_BIN"
  fi
  [ -z "$BROWSER_MISSING" ] || exit 1
fi
