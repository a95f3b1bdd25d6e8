#!/usr/bin/env bash
# API benchmark: idle resident memory of the server, then requests/s and latency percentiles
# of GET /api/cameras with 50 cameras at concurrency 16 and 64 (wrk, loopback only).
# Usage: bash bench/api.sh [seconds-per-run]   (builds the release binary if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
BIN=target/release/vistterstream
[ -x "$BIN" ] || cargo build --release -p vistterstream
command -v wrk >/dev/null || { echo "wrk is missing: run scripts/install-deps.sh test" >&2; exit 1; }

DATA=$(mktemp -d)
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
"$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" --log-level warn &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do curl -sf "$BASE/api/health" >/dev/null && break; sleep 0.1; done

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
sleep 2
echo "idle RSS after start (no user, no camera): $(( $(rss_kib) / 1024 )) MiB ($(rss_kib) KiB)"

COOKIE=$(curl -s -i -X POST "$BASE/api/auth/setup" -H 'content-type: application/json' \
  -d '{"username":"admin","password":"bench password"}' | awk -F'[=;]' 'tolower($1) ~ /^set-cookie: vs_session/ {print $2}')
for i in $(seq 1 50); do
  curl -sf -o /dev/null -X POST "$BASE/api/cameras" -H "cookie: vs_session=$COOKIE" -H 'content-type: application/json' \
    -d "{\"name\":\"Camera $i\",\"type\":\"PTZ\",\"protocol\":\"RTSP\",\"address\":\"rtsp://user:pw@127.0.0.$((i % 200 + 1)):554/stream$i\"}"
done
COUNT=$(curl -s "$BASE/api/cameras" -H "cookie: vs_session=$COOKIE" | python3 -c 'import json,sys;print(len(json.load(sys.stdin)))')
echo "cameras: $COUNT; response size: $(curl -s "$BASE/api/cameras" -H "cookie: vs_session=$COOKIE" | wc -c) bytes"
sleep 1
echo "idle RSS with 50 cameras: $(( $(rss_kib) / 1024 )) MiB"

for C in 16 64; do
  echo "--- GET /api/cameras, concurrency $C, ${DURATION}s, 2 threads"
  wrk -t2 -c"$C" -d"${DURATION}s" --latency -H "cookie: vs_session=$COOKIE" "$BASE/api/cameras" \
    | grep -E 'Requests/sec|Latency  |50%|90%|99%|Non-2xx|errors'
done
echo "RSS after load: $(( $(rss_kib) / 1024 )) MiB"
