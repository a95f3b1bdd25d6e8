#!/usr/bin/env bash
# Does the program hold real time for a long stretch? Runs one program (camera A on air with an
# image, a text and a clock overlay, economy, libx264 with the given preset) for SECONDS and
# prints, from its once-a-second STAT lines after a 10 s warm-up: the encoder's speed (min,
# median), frames written against the program clock's ticks, frames dropped and duplicated,
# and the program process's RSS at the end.
#
# The fake camera replays a clip it encodes at start (--replay 8), as in bench/program.sh: a
# live-encoding one would take half a core of this 2-core machine at 1080p, which a real camera
# (a device of its own) does not.
#
# The camera is decoded as the appliance does: by vistterstream-decoder, pictures in shared
# memory (DECODER=ffmpeg: FFmpeg, pictures through pipes).
#
# Usage: [SIZE=1920x1080] [FPS=30] [PRESET=veryfast] [DECODER=worker|ffmpeg] bash bench/program-soak.sh [seconds]
#        (default 600 s; loopback only; fake camera from testrig/)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TOTAL=${1:-600}
SIZE=${SIZE:-1920x1080}
FPS=${FPS:-30}
PRESET=${PRESET:-veryfast}
DECODER=${DECODER:-worker}
W=${SIZE%x*} H=${SIZE#*x}
cargo build --release -q -p vs-engine --example program_run
BIN=${CARGO_TARGET_DIR:-target}/release/examples/program_run
# shellcheck source=bench/lib.sh
source bench/lib.sh
set_decoder_flag

PORT=$(free_port)
/usr/bin/python3 testrig/fake_camera.py --port "$PORT" --path /a --name a --width "$W" --height "$H" \
  --fps "$FPS" --gop $((2 * FPS)) --replay 8 >"$TMP/cam.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 600); do grep -q '^READY' "$TMP/cam.log" && break; sleep 0.1; done
grep -q '^READY' "$TMP/cam.log" || { cat "$TMP/cam.log" >&2; exit 1; }
RPORT=$(free_port)
ffmpeg -hide_banner -loglevel error -nostdin -listen 1 -f flv -i "rtmp://127.0.0.1:$RPORT/live/s" -c copy -f null - &
PIDS+=("$!")
sleep 0.5
KBPS=$(( W * H * FPS * 2500 / (1280 * 720 * 30) ))
echo "== ${W}x${H} ${FPS} fps, libx264 $PRESET ${KBPS}k, camera A on air, image + text + clock overlays, economy, ${SECONDS_TOTAL} s, cameras decoded by $([ "$DECODER" = worker ] && echo "vistterstream-decoder (shared memory)" || echo "FFmpeg (pipes)")"
"$BIN" --economy "${DECODER_FLAG[@]}" --preset "$PRESET" --size "$SIZE" --fps "$FPS" --bitrate "$KBPS" --seconds "$SECONDS_TOTAL" \
  --take-every 0 --camera "rtsp://127.0.0.1:$PORT/a" --output "rtmp://127.0.0.1:$RPORT/live/s" >"$TMP/out" 2>"$TMP/err" &
PROGRAM=$!
PIDS+=("$PROGRAM")
for _ in $(seq 600); do grep -q '^READY' "$TMP/out" && break; kill -0 $PROGRAM 2>/dev/null || break; sleep 0.1; done
grep -q '^READY' "$TMP/out" || { echo "program did not start:" >&2; cat "$TMP/err" >&2; exit 1; }
while kill -0 $PROGRAM 2>/dev/null && ! grep -q '^DONE' "$TMP/out"; do
  RSS=$(awk '/VmRSS/ { print $2 }' "/proc/$PROGRAM/status" 2>/dev/null || echo "${RSS:-0}")
  sleep 2
done
wait $PROGRAM || { echo "program failed:" >&2; tail -20 "$TMP/err" >&2; exit 1; }
# STAT t=… ticks=… dropped=… duplicated=… speed=… (program_run), after a 10 s warm-up.
grep '^STAT' "$TMP/out" | sed 's/^STAT //; s/[a-z]*=//g' | awk '$1 >= 10 && $5 != "-"' >"$TMP/stats" || true
[ -s "$TMP/stats" ] || { echo "no STAT line after the warm-up" >&2; exit 1; }
N=$(wc -l <"$TMP/stats")
sort -g -k5,5 "$TMP/stats" | awk -v n="$N" '{ s[NR] = $5 } END {
  printf "   encoder speed after 10 s: min %.3f, median %.3f, max %.3f (%d samples)\n", s[1], s[int((n + 1) / 2)], s[n], n }'
awk -v rss="$RSS" 'NR == 1 { t0 = $1; k0 = $2; d0 = $3; u0 = $4 } { t = $1; k = $2; d = $3; u = $4 } END {
  printf "   %.0f s: %d ticks (%.2f/s), %d dropped, %d duplicated\n", t - t0, k - k0, (k - k0) / (t - t0), d - d0, u - u0
  printf "   program process RSS near the end: %d MiB\n", rss / 1024 }' "$TMP/stats"
grep '^RESULT' "$TMP/out" | sed 's/^/   /' | head -3
