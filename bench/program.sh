#!/usr/bin/env bash
# Program feed benchmark: CPU of the whole pipeline (the appliance-side process — with the two
# camera sessions, read in-process — and its FFmpeg children: two camera decoders, the idle
# spare decoder, the encoder, the egress) for a 720p30 program with two cameras,
# an image and a clock overlay, against the physical floor measured during the same window: a plain
# `ffmpeg` that only decodes one camera, scales it and does the same libx264 encode.
# Also reports the take-to-air latency (ms) and the switch gap (frames) of takes between the
# two pre-rolled cameras, and the largest timestamp gap of what the RTMP receiver got.
# Then the CPU cost of camera audio: the same program with two cameras that send AAC (decoded,
# mixed, metered, encoded) against two that send none (silence mixed and encoded), each for
# AUDIO_WINDOW seconds (default 10; AUDIO_WINDOW=0 skips it).
#
# Usage: [W=1920 H=1080 FPS=30 KBPS=4500] bash bench/program.sh [window-seconds]   (loopback only; fake cameras from testrig/)
set -euo pipefail
cd "$(dirname "$0")/.."
WINDOW=${1:-20}
WARMUP=4
W=${W:-1280} H=${H:-720} FPS=${FPS:-30} KBPS=${KBPS:-2500}
RUN_SECONDS=$((WARMUP + WINDOW + 6))

command -v ffmpeg >/dev/null || { echo "ffmpeg is missing: run scripts/install-deps.sh test" >&2; exit 1; }
cargo build --release -q -p vs-engine --example program_run
BIN=target/release/examples/program_run
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

# Every process below $1 (children, grandchildren, ...).
descendants() {
  local all
  all=$(for f in /proc/[0-9]*/stat; do awk '{ sub(/^[0-9]+ \(.*\) /, ""); print FILENAME, $2 }' "$f" 2>/dev/null; done |
    sed -E 's#/proc/([0-9]+)/stat#\1#')
  local queue=("$1") out=()
  while ((${#queue[@]})); do
    local p=${queue[0]}; queue=("${queue[@]:1}")
    for c in $(awk -v p="$p" '$2 == p { print $1 }' <<<"$all"); do out+=("$c"); queue+=("$c"); done
  done
  echo "${out[@]:-}"
}

# utime+stime (clock ticks) of one process.
ticks_of() { awk '{ sub(/^[0-9]+ \(.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# What a process of the pipeline is, from its command line.
role_of() {
  local cmd; cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true)
  case "$cmd" in
    *"-i pipe:4"*) echo "encoder ($(sed -E 's/.*-c:v ([^ ]+).*/\1/' <<<"$cmd"))" ;;
    *"-f rawvideo"*"pipe:1"*) echo "decoder (camera session -> raw frames; one is the idle spare)" ;;
    *"-f mpegts -i pipe:0"*) echo "egress" ;;
    *program_run*) echo "program (Rust: camera sessions, clock, overlays, fan-out)" ;;
    *) echo "$(cat "/proc/$1/comm" 2>/dev/null)" ;;
  esac
}

# CPU ticks of every process in the tree of $1, one "pid ticks" line each, plus the children
# already reaped (a restart during the window), which the kernel adds to the parent's cutime.
sample() {
  local root=$1
  for p in "$root" $(descendants "$root"); do echo "$p $(ticks_of "$p")"; done
  echo "reaped $(awk '{ sub(/^[0-9]+ \(.*\) /, ""); print $14 + $15 }' "/proc/$root/stat")"
}

# Prints the CPU of each process between two samples and the total, in percent of one core.
report() {
  local label=$1 before=$2 after=$3 total=0
  echo "  $label, CPU over ${WINDOW}s (100% = one core):"
  while read -r p t1; do
    local t0; t0=$(awk -v p="$p" '$1 == p { print $2 }' "$before")
    [ -n "$t0" ] || t0=0
    local d=$((t1 - t0)); ((d < 0)) && d=0
    total=$((total + d))
    [ "$p" = reaped ] && { ((d > 0)) && printf '    %-62s %6.1f%%\n' "(reaped during the window)" "$(echo "100 * $d / $HZ / $WINDOW" | bc -l)"; continue; }
    printf '    %-62s %6.1f%%\n' "$(role_of "$p")" "$(echo "100 * $d / $HZ / $WINDOW" | bc -l)"
  done <"$after"
  local pct; pct=$(echo "100 * $total / $HZ / $WINDOW" | bc -l)
  printf '    %-62s %6.1f%%\n' "TOTAL" "$pct"
  echo "$pct" >"$TMP/$label.cpu"
}

# Starts a fake camera and sets CAM_URL (not in a subshell: its pid must reach the cleanup).
start_camera() {
  local name=$1 port; port=$(free_port)
  /usr/bin/python3 testrig/fake_camera.py --port "$port" --path "/$name" --name "$name" \
    --width $W --height $H --fps $FPS >"$TMP/cam-$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 150); do grep -q '^READY' "$TMP/cam-$name.log" && break; sleep 0.1; done
  grep -q '^READY' "$TMP/cam-$name.log" || { cat "$TMP/cam-$name.log" >&2; exit 1; }
  CAM_URL="rtsp://127.0.0.1:$port/$name"
}

echo "== fake cameras: 2 x ${W}x${H} ${FPS} fps H.264 (GStreamer; not counted)"
start_camera a; CAM_A=$CAM_URL
start_camera b; CAM_B=$CAM_URL

# The receiving end: one RTMP connection, recorded, to check what went out.
RTMP_PORT=$(free_port)
ffmpeg -hide_banner -loglevel error -nostdin -listen 1 -f flv -i "rtmp://127.0.0.1:$RTMP_PORT/live/bench" \
  -c copy -f flv "$TMP/received.flv" 2>"$TMP/receiver.err" &
RECEIVER=$!
PIDS+=($RECEIVER)
sleep 0.5

echo "== program: ${W}x${H} ${FPS} fps, libx264 ${KBPS}k, 2 cameras pre-rolled, image + clock overlays, take every 5 s"
"$BIN" --size ${W}x${H} --fps $FPS --bitrate $KBPS --seconds $RUN_SECONDS --take-every 5 \
  --camera "$CAM_A" --camera "$CAM_B" --output "rtmp://127.0.0.1:$RTMP_PORT/live/bench" >"$TMP/program.out" 2>"$TMP/program.err" &
PROGRAM=$!
PIDS+=($PROGRAM)
for _ in $(seq 600); do grep -q '^READY' "$TMP/program.out" && break; kill -0 $PROGRAM 2>/dev/null || break; sleep 0.1; done
grep -q '^READY' "$TMP/program.out" || { echo "program did not start:" >&2; cat "$TMP/program.err" >&2; exit 1; }

# The floor runs during the same window as the program: both see the same machine (other
# load, clock frequency), which matters more than the little they take from each other.
ffmpeg -hide_banner -loglevel error -nostdin -rtsp_transport tcp -i "$CAM_A" -an \
  -vf "scale=$W:$H" -r $FPS -pix_fmt yuv420p \
  -c:v libx264 -preset veryfast -tune zerolatency -sc_threshold 0 -g $((2 * FPS)) -bf 0 \
  -b:v ${KBPS}k -maxrate ${KBPS}k -bufsize $((2 * KBPS))k -f null - &
FLOOR=$!
PIDS+=($FLOOR)
sleep "$WARMUP"
sample "$PROGRAM" >"$TMP/p0"; sample "$FLOOR" >"$TMP/f0"
sleep "$WINDOW"
sample "$PROGRAM" >"$TMP/p1"; sample "$FLOOR" >"$TMP/f1"
echo "== measured over the same ${WINDOW} s"
report pipeline "$TMP/p0" "$TMP/p1"
echo "  floor = ffmpeg decode + scale + the same libx264 encode of one camera (no audio, no output):"
report floor "$TMP/f0" "$TMP/f1"
kill -INT $FLOOR 2>/dev/null || true
wait $FLOOR 2>/dev/null || true
wait $PROGRAM || { echo "program failed:" >&2; tail -20 "$TMP/program.err" >&2; exit 1; }
wait $RECEIVER 2>/dev/null || true

echo "== results"
grep '^TAKE\|^RESULT' "$TMP/program.out" | sed 's/^/  /'
PIPE=$(cat "$TMP/pipeline.cpu") FLR=$(cat "$TMP/floor.cpu")
printf '  CPU: pipeline %.1f%% of a core, floor %.1f%%, ratio %.2f\n' "$PIPE" "$FLR" "$(echo "$PIPE / $FLR" | bc -l)"
if [ -s "$TMP/received.flv" ]; then
  ffprobe -v error -select_streams v:0 -show_entries packet=dts_time -of csv=p=0 "$TMP/received.flv" |
    awk -v fps=$FPS 'NR > 1 { g = $1 - prev; if (g > max) max = g } { prev = $1; n++ }
      END { printf "  received: %d video frames over %.1f s, largest timestamp gap %.3f s (%.1f frames)\n", n, prev, max, max * fps }'
  ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$TMP/received.flv" | paste -sd, | sed 's/^/  received codecs: /'
fi

# ---- the CPU cost of camera audio: the same program, cameras with sound vs without ----
AUDIO_WINDOW=${AUDIO_WINDOW:-10}
if ((AUDIO_WINDOW > 0)); then
  # Starts a fake camera that sends AAC (a tone) and sets CAM_URL.
  start_audio_camera() {
    local name=$1 tone=$2 port; port=$(free_port)
    /usr/bin/python3 testrig/fake_camera.py --port "$port" --path "/$name" --name "$name" \
      --width $W --height $H --fps $FPS --audio-freq "$tone" >"$TMP/cam-$name.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 150); do grep -q '^READY' "$TMP/cam-$name.log" && break; sleep 0.1; done
    grep -q '^READY' "$TMP/cam-$name.log" || { cat "$TMP/cam-$name.log" >&2; exit 1; }
    CAM_URL="rtsp://127.0.0.1:$port/$name"
  }
  # Runs the program on two cameras for AUDIO_WINDOW seconds (after the warm-up) to a receiver
  # that discards, and reports its CPU as `$label`.
  audio_run() {
    local label=$1 cam1=$2 cam2=$3 port; port=$(free_port)
    ffmpeg -hide_banner -loglevel error -nostdin -listen 1 -f flv -i "rtmp://127.0.0.1:$port/live/audio" \
      -c copy -f null - 2>/dev/null &
    local rx=$!
    PIDS+=($rx)
    sleep 0.5
    "$BIN" --size ${W}x${H} --fps $FPS --bitrate $KBPS --seconds $((WARMUP + AUDIO_WINDOW + 4)) --take-every 5 \
      --camera "$cam1" --camera "$cam2" --output "rtmp://127.0.0.1:$port/live/audio" \
      >"$TMP/$label.out" 2>"$TMP/$label.err" &
    local prog=$!
    PIDS+=($prog)
    for _ in $(seq 600); do grep -q '^READY' "$TMP/$label.out" && break; kill -0 $prog 2>/dev/null || break; sleep 0.1; done
    grep -q '^READY' "$TMP/$label.out" || { echo "program did not start:" >&2; cat "$TMP/$label.err" >&2; exit 1; }
    sleep "$WARMUP"
    sample "$prog" >"$TMP/$label.0"
    sleep "$AUDIO_WINDOW"
    sample "$prog" >"$TMP/$label.1"
    local saved=$WINDOW
    WINDOW=$AUDIO_WINDOW
    report "$label" "$TMP/$label.0" "$TMP/$label.1"
    WINDOW=$saved
    wait $prog || true
    wait $rx 2>/dev/null || true
  }
  echo "== audio cost: 2 cameras with AAC sound vs 2 without, ${AUDIO_WINDOW} s each"
  start_audio_camera sa 500; CAM_SA=$CAM_URL
  start_audio_camera sb 1300; CAM_SB=$CAM_URL
  audio_run audio-on "$CAM_SA" "$CAM_SB"
  audio_run audio-off "$CAM_A" "$CAM_B"
  ON=$(cat "$TMP/audio-on.cpu") OFF=$(cat "$TMP/audio-off.cpu")
  printf '  CPU: with camera audio %.1f%% of a core, without %.1f%%: audio costs %.1f points\n' \
    "$ON" "$OFF" "$(echo "$ON - $OFF" | bc -l)"
fi
