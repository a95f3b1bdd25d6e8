#!/usr/bin/env bash
# What splitting decode and encode into two processes costs, with nothing else in between:
# the lower bound of bench/program.sh's ratio for any design that moves raw frames between
# FFmpeg processes through pipes (today's), and what the shared-memory worker design costs.
#
# Both sides do the same work on the same input, one after the other, over the same length:
# a camera's H.264 (a clip recorded from testrig/fake_camera.py, the picture bench/program.sh's
# cameras send) decoded at its real-time rate (-re) and encoded with the program's libx264
# settings to MPEG-TS, thrown away.
#   one process: ffmpeg -re -i clip -c:v libx264 ... -f mpegts -
#   split:       ffmpeg -re -i clip -f rawvideo - | ffmpeg -f rawvideo -i pipe:0 -c:v libx264 ...
# (the pipe between them is the shell's: 64 KiB, where the appliance's are 1 MiB). It also
# prints the decoder alone, frames thrown away inside FFmpeg (-f null) and frames written raw
# to a pipe (read by cat), which is the raw-output share.
#
# And a third design, which keeps the codecs out of the appliance's process without pipes for
# raw frames: a codec worker (bench/worker, a measuring prototype in Rust on libavcodec) decodes
# the same clip at the same rate with the same decoder and threads, copies each picture into a
# slot of a shared memory file, and sends the slot's number to its parent (the appliance's role,
# touching no pixel here, like the pipe above); the parent sends it back and the worker's libx264,
# with the same settings, encodes straight from the slot to MPEG-TS, thrown away.
#   worker:      appliance -> worker (decode -> shared slot -> parent -> encode from the slot)
# and half of it: the worker only decodes into the shared slots, and the parent vmsplices each
# slot into an FFmpeg encoder's stdin (today's program encoder, same settings).
#   decode worker: appliance -> worker (decode -> shared slot) -> parent -> pipe -> ffmpeg encode
# Building it needs libav's headers and libclang (bindgen): pkg-config libavcodec-dev
# libavformat-dev libclang-dev; without them that line is skipped, with a message.
#
# Usage: [SIZES="1280x720 1920x1080"] [RUNS=3] bash bench/split.sh [seconds]   (loopback only)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_=${1:-20}
SIZES=${SIZES:-"1280x720 1920x1080"}
RUNS=${RUNS:-3}
FPS=30
command -v ffmpeg >/dev/null || { echo "ffmpeg is missing: run scripts/install-deps.sh test" >&2; exit 1; }
# shellcheck source=bench/lib.sh
source bench/lib.sh

WORKER=""
if pkg-config --exists libavcodec libavformat 2>/dev/null && compgen -G "/usr/lib/llvm-*/lib/libclang*.so*" >/dev/null; then
  echo "== building the shared-memory worker prototype (bench/worker)"
  CARGO_TARGET_DIR=target/bench-worker cargo build --quiet --release --manifest-path bench/worker/Cargo.toml
  WORKER=target/bench-worker/release
else
  echo "== the shared-memory worker is skipped: apt-get install pkg-config libavcodec-dev libavformat-dev libclang-dev"
fi

# CPU seconds (user + system) of the command line $1 and all it starts, run under bash -c (both
# sides alike); the output goes away.
cpu_of() {
  /usr/bin/time -o "$TMP/t" -f "%U %S" bash -c "$1" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; exit 1; }
  awk '{ printf "%.2f", $1 + $2 }' "$TMP/t"
}
pct() { echo "100 * $1 / $SECONDS_" | bc -l; }
med() { sort -g | awk '{ v[NR] = $1 } END { printf "%.3f / %.3f / %.3f", v[1], v[int((NR + 1) / 2)], v[NR] }'; }

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); ${SECONDS_} s of video per measure, $RUNS runs"
for size in $SIZES; do
  W=${size%x*} H=${size#*x}
  kbps=$((W * H * FPS * 2500 / (1280 * 720 * 30)))
  port=$(free_port)
  /usr/bin/python3 testrig/fake_camera.py --port "$port" --path /cam --name cam --width "$W" --height "$H" \
    --fps "$FPS" --gop $((2 * FPS)) --replay 8 >"$TMP/cam.log" 2>&1 &
  cam=$!
  PIDS+=("$cam")
  for _ in $(seq 600); do grep -q '^READY' "$TMP/cam.log" && break; sleep 0.1; done
  grep -q '^READY' "$TMP/cam.log" || { cat "$TMP/cam.log" >&2; exit 1; }
  clip="$TMP/clip-$size.mkv"
  ffmpeg -hide_banner -loglevel error -nostdin -rtsp_transport tcp -i "rtsp://127.0.0.1:$port/cam" \
    -t $((SECONDS_ + 2)) -c copy "$clip"
  kill "$cam"; wait "$cam" 2>/dev/null || true

  IN="ffmpeg -hide_banner -loglevel error -nostdin -re -i $clip -t $SECONDS_"
  X264="-c:v libx264 -preset veryfast -tune zerolatency -sc_threshold 0 -b:v ${kbps}k -maxrate ${kbps}k"
  X264+=" -bufsize $((2 * kbps))k -g $((2 * FPS)) -keyint_min $((2 * FPS)) -bf 0 -f mpegts -"
  ENC="ffmpeg -hide_banner -loglevel error -nostdin -f rawvideo -pix_fmt yuv420p -s ${W}x${H} -r $FPS -i pipe:0 -pix_fmt yuv420p"
  echo "== ${W}x${H} ${FPS} fps, libx264 veryfast at ${kbps} kb/s (the program's settings)"
  : >"$TMP/ratios"
  : >"$TMP/wratios"
  : >"$TMP/dratios"
  for run in $(seq "$RUNS"); do
    one=$(cpu_of "$IN -pix_fmt yuv420p $X264")
    split=$(cpu_of "$IN -f rawvideo -pix_fmt yuv420p - | $ENC $X264")
    null=$(cpu_of "$IN -f null -")
    raw=$(cpu_of "$IN -f rawvideo -pix_fmt yuv420p - | cat")
    ratio=$(echo "$split / $one" | bc -l)
    echo "$ratio" >>"$TMP/ratios"
    printf '  run %d: one process %.1f%% of a core, split %.1f%% -> ratio %.3f | decoder alone: frames dropped inside %.1f%%, written raw to a pipe and read %.1f%% (+%.1f)\n' \
      "$run" "$(pct "$one")" "$(pct "$split")" "$ratio" "$(pct "$null")" "$(pct "$raw")" "$(pct "$(echo "$raw - $null" | bc -l)")"
    if [ -n "$WORKER" ]; then
      worker=$(cpu_of "$WORKER/appliance $WORKER/worker $clip $SECONDS_ $W $H $FPS $kbps")
      wratio=$(echo "$worker / $one" | bc -l)
      echo "$wratio" >>"$TMP/wratios"
      printf '         shared-memory worker %.1f%% of a core -> ratio %.3f (%s)\n' "$(pct "$worker")" "$wratio" "$(grep -h '^appliance:' "$TMP/err")"
      dworker=$(cpu_of "ENCODER_FFMPEG=1 $WORKER/appliance $WORKER/worker $clip $SECONDS_ $W $H $FPS $kbps")
      dratio=$(echo "$dworker / $one" | bc -l)
      echo "$dratio" >>"$TMP/dratios"
      printf '         decode worker + FFmpeg encoder %.1f%% of a core -> ratio %.3f (%s)\n' "$(pct "$dworker")" "$dratio" "$(grep -h '^appliance:' "$TMP/err")"
    fi
  done
  echo "  split / one process: min / median / max $(med <"$TMP/ratios")"
  if [ -n "$WORKER" ]; then
    echo "  shared-memory worker / one process: min / median / max $(med <"$TMP/wratios")"
    echo "  decode worker + FFmpeg encoder / one process: min / median / max $(med <"$TMP/dratios")"
  fi
done
