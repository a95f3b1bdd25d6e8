#!/usr/bin/env bash
# Camera hub benchmark, engine side (the appliance-level figure — first preview picture in
# Chromium — comes with the server integration).
#
# Runs the hub's measuring tests in release mode against the fake camera (GStreamer RTSP
# server, loopback only) with real FFmpeg, one at a time, and prints their figures:
#   - camera connections: the cameras run with --max-clients 1, so every consumer at once
#     (two fMP4 previews, a program decoder, a copy stream, a TS consumer, a snapshot) on ONE
#     connection is the test passing;
#   - subscribe → first keyframe packet (keyframe cache), decoder first frame and catch-up;
#   - cold decoder start to first live frame, 720p30 with a 2 s GOP (p50/p95 of 8 starts);
#   - CPU of one connected 720p30 4 Mb/s camera that nobody consumes (the session's thread).
# Then take-to-air through a running program (examples/program_run.rs --take-bench): two
# 720p30 cameras with a 2 s GOP at 4 Mb/s (fake_camera.py --time-bars --color red|blue, with
# --busy noise so the decoders work as on a real scene), each with --max-clients 1, read by a
# camera hub; a 720p30 libx264 program to an RTMP receiver; 20 takes of a connected camera
# that is not pre-rolled (the other camera is released after each take), then 20 pre-rolled
# takes, spread over the GOP. Printed: p50/p95 from the take() call to the tick that put the
# camera's first frame on air, and to the encoder's output carrying it (told by its colour in
# the decoded output), and how old that first frame was.
# Usage: [TAKES=20] [BUSY=1] bash bench/hub.sh [--takes-only]
set -euo pipefail
cd "$(dirname "$0")/.."
for t in ffmpeg ffprobe nginx; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || { echo "$t is missing: run scripts/install-deps.sh test" >&2; exit 1; }
done
TAKES=${TAKES:-20}
BUSY=${BUSY:-1}

if [ "${1:-}" != "--takes-only" ]; then
  cargo test --release -q -p vs-engine --test hub --no-run
  for test in one_session_serves_every_consumer standby_cpu cold_decoder a_frozen_camera; do
    echo "--- $test"
    cargo test --release -q -p vs-engine --test hub -- --nocapture --test-threads 1 "$test" 2>&1 \
      | grep -E '^figure|test result' || { echo "$test failed" >&2; exit 1; }
  done
fi

echo "--- take-to-air through a program (720p30 cameras, 2 s GOP, $TAKES takes each)"
cargo build --release -q -p vs-engine --example program_run
BIN=target/release/examples/program_run
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
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
