#!/usr/bin/env bash
# Where the program's CPU goes: samples every process of the pipeline (the Rust process and its
# FFmpeg children) with `perf record` for WINDOW seconds while camera A is on air with an image,
# a text and a clock overlay (economy: one camera decoded), and prints the CPU budget by stage:
# ingest decode, scaling, the Rust process's copies, overlay blending, the rest of the Rust
# process (camera sessions, clock, audio mix, RTMP publisher), encode, AAC, TS mux, the kernel.
# Each stage's share is of the pipeline's samples; the pipeline's total CPU (percent of one core)
# comes from /proc over the same window.
#
# The fake camera replays a clip it encodes at start (--replay 8), as in bench/program.sh: a
# live-encoding one would take half a core of this 2-core machine at 1080p. The camera is
# decoded as the appliance does: by vistterstream-decoder, pictures in shared memory
# (DECODER=ffmpeg: FFmpeg, pictures through pipes).
#
# Usage: [SIZE=1920x1080] [FPS=30] [DECODER=worker|ffmpeg] bash bench/program-profile.sh [window-seconds]
#        (needs perf: linux-perf; loopback only; fake cameras from testrig/)
set -euo pipefail
cd "$(dirname "$0")/.."
WINDOW=${1:-15}
SIZE=${SIZE:-1920x1080}
FPS=${FPS:-30}
DECODER=${DECODER:-worker}
W=${SIZE%x*} H=${SIZE#*x}
command -v perf >/dev/null || { echo "perf is missing (apt-get install linux-perf)" >&2; exit 1; }
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
ffmpeg -hide_banner -loglevel error -nostdin -listen 1 -f flv -i "rtmp://127.0.0.1:$RPORT/live/p" -c copy -f null - &
PIDS+=("$!")
sleep 0.5
KBPS=$(( W * H * FPS * 2500 / (1280 * 720 * 30) ))
"$BIN" --economy "${DECODER_FLAG[@]}" --size "$SIZE" --fps "$FPS" --bitrate "$KBPS" --seconds $((WINDOW + 12)) --take-every 0 \
  --camera "rtsp://127.0.0.1:$PORT/a" --output "rtmp://127.0.0.1:$RPORT/live/p" >"$TMP/out" 2>"$TMP/err" &
PROGRAM=$!
PIDS+=("$PROGRAM")
for _ in $(seq 600); do grep -q '^READY' "$TMP/out" && break; kill -0 $PROGRAM 2>/dev/null || break; sleep 0.1; done
grep -q '^READY' "$TMP/out" || { echo "program did not start:" >&2; cat "$TMP/err" >&2; exit 1; }
sleep 4
PIPE=$(pgrep -P "$PROGRAM" | paste -sd, -)
ALL="$PROGRAM${PIPE:+,$PIPE}"
ticks() { local t=0; for p in ${ALL//,/ }; do t=$((t + $(awk '{ sub(/^[0-9]+ \(.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
T0=$(ticks)
perf record -q -F 999 -p "$ALL" -o "$TMP/perf.data" -- sleep "$WINDOW" 2>/dev/null
T1=$(ticks)
CPU=$(echo "100 * ($T1 - $T0) / $(getconf CLK_TCK) / $WINDOW" | bc -l)

# thread id -> role, from the command line of the process the thread belongs to (perf names
# samples by thread).
for p in ${ALL//,/ }; do
  cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)
  case "$cmd" in
    *"-f rawvideo -pix_fmt yuv420p -s "*"-i pipe:0"*) role=encoder ;;
    *"-f rawvideo"*"pipe:1"*) role=decoder ;;
    *program_run*) role=rust ;;
    *vistterstream-decoder*) role=decoder ;;
    *) role=other ;;
  esac
  for t in /proc/"$p"/task/*; do echo "${t##*/} $role"; done
done >"$TMP/roles"

perf report -i "$TMP/perf.data" --stdio --no-children --sort pid,dso,sym -F overhead,pid,dso,sym 2>/dev/null |
  grep -E '^ +[0-9]' | sort -rn >"$TMP/rows" || true
awk -v roles="$TMP/roles" '
  BEGIN { while ((getline l < roles) > 0) { split(l, a, " "); role[a[1]] = a[2] } }
  {
    pct = $1; sub(/%/, "", pct)
    match($0, /[0-9]+:/); pid = substr($0, RSTART, RLENGTH - 1)
    r = role[pid]; line = tolower($0)
    if (r == "") r = "a thread gone before the end"
    if (line ~ /\[k\]/) s = "kernel (pipes, sockets, page faults, scheduling) in " r
    else if (r == "decoder") {
      if (line ~ /libswscale/) s = "scaling to the program size (decoder, swscale)"
      else if (line ~ /memcpy|memmove|copy_picture/) s = "decoder: the picture copied out (into a pipe buffer or a shared slot)"
      else s = "ingest decode (decoder, libavcodec h264 and the rest)"
    }
    else if (r == "encoder") {
      if (line ~ /libx264/) s = "encode (libx264)"
      else if (line ~ /aac/) s = "AAC encode"
      else if (line ~ /libavformat/) s = "TS mux (encoder, libavformat)"
      else s = "encoder: reading frames, conversions, the rest"
    } else if (r == "rust") {
      if (line ~ /memcpy|memmove/) s = "copies (Rust: frames into and out of the switcher, pipes)"
      else if (line ~ /blend|yuvoverlay/) s = "overlay blending (Rust, only inside their rectangles)"
      else if (line ~ /rml_|publish|flv|rustls|ring_core|aes|gcm/) s = "egress (Rust: FLV tagging, RTMP publisher)"
      else if (line ~ /symphonia|mix|ebur|audio|resampl|limiter/) s = "audio (Rust: decode, mix, meters)"
      else if (line ~ /memset/) s = "zeroing buffers (Rust)"
      else s = "the rest of the Rust process (sessions, clock, tokio, allocator)"
    } else s = "other"
    sum[s] += pct
  }
  END { for (s in sum) printf "%6.1f%%  %s\n", sum[s], s }' "$TMP/rows" | sort -rn >"$TMP/budget"
echo "== CPU budget of a ${W}x${H} ${FPS} fps program (camera A on air, image + text + clock overlays, economy: 1 decode), ${WINDOW} s, cameras decoded by $([ "$DECODER" = worker ] && echo "vistterstream-decoder (shared memory)" || echo "FFmpeg (pipes)")"
printf '   pipeline total: %.1f%% of one core (Rust process + decoder + idle spare + encoder)\n' "$CPU"
echo "   share of the pipeline's samples, and that share in % of one core:"
awk -v cpu="$CPU" '{ p = $1; sub(/%/, "", p); printf "   %6.1f%%  (%5.1f%% of a core)  %s\n", p, p * cpu / 100, substr($0, index($0, $2)) }' "$TMP/budget"
echo "   top symbols:"
head -25 "$TMP/rows" | sed 's/^/     /'
