#!/usr/bin/env bash
# Program feed benchmark: the whole pipeline's CPU against a physical floor doing exactly the
# same work, measured over the same window (so other load on the machine hits both alike).
#
# Pipeline (examples/program_run.rs, as in the appliance): the Rust process (the two camera
# sessions read in-process over RTSP, the program clock, the overlays, the audio mix, the
# fan-out and the RTMP publisher), one decoder per decoded camera (the camera on air, plus the
# pre-rolled one in "instant" mode): vistterstream-decoder, pictures in shared memory, as the
# appliance does (DECODER=ffmpeg: FFmpeg, pictures through pipes), the idle spare decoder, and
# the encoder FFmpeg
# (libx264 + AAC of the mix -> MPEG-TS). The cameras send no sound here (the mix is silence, as
# the floor's). On air: camera A with an image, a text and a clock overlay; no takes during
# the window.
# Floor: ONE ffmpeg reading the same cameras over RTSP, decoding 1 (economy) or 2 (instant)
# of them, scaling each to the program size exactly as the decoders do, drawing the same
# overlays with FFmpeg's own filters (overlay of the same PNG, drawtext, drawtext with
# %{gmtime}), the same libx264 settings and silent AAC, to an RTMP receiver of its own.
#
# Each run measures both sides over windows of the same length, one after the other so that
# each has the machine to itself (CONCURRENT=1: side by side over the same window, which on 2
# cores with two 1080p fake cameras starves both); RUNS runs per mode and size, modes
# interleaved. "per frame" divides each side's CPU by the frames it delivered. Prints per run
# and then min/median/max of both ratios per size, the Rust process's own share, the program
# process's RSS, and the machine's load.
#
# Then what sound costs, in the same run: the same pipeline (economy, first size) with two
# cameras that send AAC tones, sound on (decoded, mixed, metered, limited, AAC-encoded)
# against sound off (--no-sound: no audio taps, no mix, no AAC), AUDIO_WINDOW s each
# (default 15; 0 skips it).
#
# The fake cameras (testrig/fake_camera.py) replay a clip of REPLAY seconds (default 8: four
# 2 s GOPs) that each encodes once at start, with the same x264 settings as when it encodes
# live: about 2 % of a core each at 1080p30 instead of 56 % per client. A real camera is a
# device of its own and costs the appliance nothing; a live-encoding fake one loads this
# 2-core machine unevenly (the pipeline's hub holds a session to both cameras, so in economy
# the fake cameras encode two streams during the pipeline's window and one during the
# floor's). REPLAY=0 brings back the live-encoding cameras.
#
# Usage: [SIZES="1280x720 1920x1080"] [FPS=30] [RUNS=3] [BUSY=0] [MODES="economy instant"]
#        [AUDIO_WINDOW=15] [CONCURRENT=0] [REPLAY=8] [DECODER=worker|ffmpeg]
#        (a mode with "-ffmpeg" appended, e.g. MODES="economy economy-ffmpeg", decodes with
#        FFmpeg through pipes whatever DECODER says: both ways interleaved in one run)
#        bash bench/program.sh [window-seconds]
#        (loopback only; fake cameras from testrig/)
# BUSY=1 gives the cameras a noisy bottom third (a real scene: the encoder works harder; the
# cameras then encode live, REPLAY is ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
WINDOW=${1:-20}
WARMUP=${WARMUP:-5}
SIZES=${SIZES:-"1280x720 1920x1080"}
FPS=${FPS:-30}
RUNS=${RUNS:-3}
BUSY=${BUSY:-0}
MODES=${MODES:-"economy instant"}
CONCURRENT=${CONCURRENT:-0}
REPLAY=${REPLAY:-8}
DECODER=${DECODER:-worker}
[ "$BUSY" = 1 ] && REPLAY=0
RUN_SECONDS=$((WARMUP + WINDOW + 4))

command -v ffmpeg >/dev/null || { echo "ffmpeg is missing: run scripts/install-deps.sh test" >&2; exit 1; }
cargo build --release -q -p vs-engine --example program_run
BIN=${CARGO_TARGET_DIR:-target}/release/examples/program_run
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
[ -f "$FONT" ] || { echo "$FONT is missing (fonts-dejavu-core)" >&2; exit 1; }
HZ=$(getconf CLK_TCK)
# shellcheck source=bench/lib.sh
source bench/lib.sh
set_decoder_flag

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
    *"-f rawvideo -pix_fmt yuv420p -s "*"-i pipe:0"*) echo "encoder ($(sed -E 's/.*-c:v ([^ ]+).*/\1/' <<<"$cmd"))" ;;
    *"-f rawvideo"*"pipe:1"*) echo "decoder" ;;
    *"-f mpegts -i pipe:0"*) echo "egress" ;;
    *program_run*) echo "program (Rust: sessions, clock, overlays, mix, RTMP)" ;;
    *vistterstream-decoder*) echo "decoder (vistterstream-decoder, shared memory)" ;;
    *"-filter_complex"*) echo "floor ffmpeg" ;;
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

pct() { echo "100 * $1 / $HZ / $WINDOW" | bc -l; }

# Per-process CPU between two samples (percent of one core) into $TMP/lines; prints the total.
# The Rust process's own share goes to $TMP/own.
account() {
  local before=$1 after=$2 total=0 own=0
  : >"$TMP/lines"
  while read -r p t1; do
    local t0; t0=$(awk -v p="$p" '$1 == p { print $2 }' "$before")
    [ -n "$t0" ] || t0=0
    local d=$((t1 - t0)); ((d < 0)) && d=0
    total=$((total + d))
    if [ "$p" = reaped ]; then
      ((d > 0)) && printf '      %-52s %6.1f%%\n' "(children reaped during the window)" "$(pct $d)" >>"$TMP/lines"
      continue
    fi
    local role; role=$(role_of "$p")
    [ "$role" = decoder ] && ((d <= 1)) && role="decoder (the idle spare)"
    [[ "$role" == program* ]] && own=$d
    printf '      %-52s %6.1f%%\n' "$role" "$(pct $d)" >>"$TMP/lines"
  done <"$after"
  echo "$(pct $own)" >"$TMP/own"
  pct $total
}

last_stat() { grep '^STAT' "$TMP/program.out" | tail -1; }
stat_field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$2"; }
floor_frame() { { grep '^frame=' "$TMP/floor.progress" 2>/dev/null || true; } | tail -1 | cut -d= -f2; }

# Starts a fake camera and sets CAM_URL (not in a subshell: its pid must reach the cleanup).
start_camera() {
  local name=$1 w=$2 h=$3 port; port=$(free_port)
  local extra=(); [ "$BUSY" = 1 ] && extra=(--time-bars --busy)
  [ "$REPLAY" != 0 ] && extra=(--replay "$REPLAY")
  /usr/bin/python3 testrig/fake_camera.py --port "$port" --path "/$name" --name "$name" \
    --width "$w" --height "$h" --fps "$FPS" --gop $((2 * FPS)) "${extra[@]}" >"$TMP/cam-$name.log" 2>&1 &
  PIDS+=("$!")
  # A replay camera encodes its clip before it serves (a few seconds at 1080p).
  for _ in $(seq 600); do grep -q '^READY' "$TMP/cam-$name.log" && break; sleep 0.1; done
  grep -q '^READY' "$TMP/cam-$name.log" || { cat "$TMP/cam-$name.log" >&2; exit 1; }
  CAM_URL="rtsp://127.0.0.1:$port/$name"
}

# An RTMP receiver that only checks what arrives (one connection); sets RECV_URL and RECV.
start_receiver() {
  local port; port=$(free_port)
  RECV_URL="rtmp://127.0.0.1:$port/live/$1"
  ffmpeg -hide_banner -loglevel error -nostdin -listen 1 -f flv -i "$RECV_URL" -c copy -f null - \
    2>"$TMP/receiver-$1.err" &
  RECV=$!
  PIDS+=("$RECV")
}

# The floor's filter graph: the same scale/pad as the decoders (decoder_args), the same
# overlays (positions and sizes as examples/program_run.rs draws them).
floor_graph() {
  local w=$1 h=$2 decodes=$3 logo=$4
  local scale="scale=$w:$h:force_original_aspect_ratio=decrease,pad=$w:$h:(ow-iw)/2:(oh-ih)/2,setsar=1"
  local text_px clock_px; text_px=$(( h / 20 > 16 ? h / 20 : 16 )); clock_px=$(( h / 16 > 16 ? h / 16 : 16 ))
  local g="movie=${logo}[logo];[0:v]${scale}[cam];[cam][logo]overlay=x=$((w - 264)):y=24[o1]"
  g+=";[o1]drawtext=fontfile=$FONT:text='VistterStream bench':fontsize=$text_px:fontcolor=white:x=24:y=24"
  g+=",drawtext=fontfile=$FONT:text='%{gmtime}':fontsize=$clock_px:fontcolor=white:box=1:boxcolor=black@0.63:boxborderw=6:x=24:y=$((h - 80))[v]"
  ((decodes == 2)) && g+=";[1:v]$scale,nullsink"
  echo "$g"
}

# One run of one mode at one size: pipeline and floor side by side. Appends a result line
# "mode size pipeline floor own ratio rss_kib pipe_fps floor_fps load" to $TMP/results.
one_run() {
  local mode=$1 w=$2 h=$3 run=$4
  local decodes=1 flag=(--economy) dflag=("${DECODER_FLAG[@]}")
  [ "${mode%-ffmpeg}" = instant ] && { decodes=2; flag=(); }
  [ "${mode%-ffmpeg}" != "$mode" ] && dflag=()
  local kbps; kbps=$(( w * h * FPS * 2500 / (1280 * 720 * 30) ))
  start_receiver pipeline; local recv_p=$RECV url_p=$RECV_URL
  start_receiver floor; local recv_f=$RECV url_f=$RECV_URL
  sleep 0.5
  "$BIN" --hub "${flag[@]}" "${dflag[@]}" --size "${w}x${h}" --fps "$FPS" --bitrate "$kbps" --seconds "$RUN_SECONDS" \
    --take-every 0 --logo "$TMP/logo.png" --camera "$CAM_A" --camera "$CAM_B" --output "$url_p" \
    >"$TMP/program.out" 2>"$TMP/program.err" &
  local program=$!
  PIDS+=("$program")
  for _ in $(seq 600); do grep -q '^READY' "$TMP/program.out" && break; kill -0 $program 2>/dev/null || break; sleep 0.1; done
  grep -q '^READY' "$TMP/program.out" || { echo "program did not start:" >&2; cat "$TMP/program.err" >&2; exit 1; }

  local inputs=(-rtsp_transport tcp -i "$CAM_A")
  ((decodes == 2)) && inputs+=(-rtsp_transport tcp -i "$CAM_B")
  start_floor() {
    rm -f "$TMP/floor.progress"
    ffmpeg -hide_banner -loglevel error -nostdin -progress "$TMP/floor.progress" "${inputs[@]}" \
      -f lavfi -i anullsrc=r=48000:cl=stereo \
      -filter_complex "$(floor_graph "$w" "$h" "$decodes" "$TMP/logo.png")" \
      -map '[v]' -map "$decodes:a" -r "$FPS" -pix_fmt yuv420p \
      -c:v libx264 -preset veryfast -tune zerolatency -sc_threshold 0 \
      -b:v "${kbps}k" -maxrate "${kbps}k" -bufsize "$((2 * kbps))k" -g $((2 * FPS)) -keyint_min $((2 * FPS)) -bf 0 \
      -c:a aac -b:a 128k -ar 48000 -ac 2 -f flv "$url_f" 2>"$TMP/floor.err" &
    floor=$!
    PIDS+=("$floor")
  }
  local floor s0 f0 s1 f1 load0 load1 rss hwm pipe own flr
  # The pipeline's accounting reads its processes' command lines: done while they run.
  account_pipeline() { pipe=$(account "$TMP/p0" "$TMP/p1"); own=$(cat "$TMP/own"); cp "$TMP/lines" "$TMP/pipe.lines"; }
  if [ "$CONCURRENT" = 1 ]; then
    start_floor
    sleep "$WARMUP"
    kill -0 $floor 2>/dev/null || { echo "floor ffmpeg failed:" >&2; cat "$TMP/floor.err" >&2; exit 1; }
    load0=$(cut -d' ' -f1 /proc/loadavg)
    sample "$program" >"$TMP/p0"; sample "$floor" >"$TMP/f0"
    s0=$(last_stat); f0=$(floor_frame)
    sleep "$WINDOW"
    sample "$program" >"$TMP/p1"; sample "$floor" >"$TMP/f1"
    s1=$(last_stat); f1=$(floor_frame)
    account_pipeline
    rss=$(awk '/VmRSS/ { print $2 }' "/proc/$program/status")
    hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$program/status")
  else
    # One after the other, each with the machine to itself (beside the cameras), over windows
    # of the same length.
    sleep "$WARMUP"
    load0=$(cut -d' ' -f1 /proc/loadavg)
    sample "$program" >"$TMP/p0"; s0=$(last_stat)
    sleep "$WINDOW"
    sample "$program" >"$TMP/p1"; s1=$(last_stat)
    account_pipeline
    rss=$(awk '/VmRSS/ { print $2 }' "/proc/$program/status")
    hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$program/status")
    local kids; kids=$(descendants "$program")
    kill -INT $program 2>/dev/null || true
    wait $program 2>/dev/null || true
    # Its FFmpeg children end at the end of their input; none may run into the floor's window.
    for k in $kids; do for _ in $(seq 50); do kill -0 "$k" 2>/dev/null || break; sleep 0.1; done; kill -9 "$k" 2>/dev/null || true; done
    start_floor
    sleep "$WARMUP"
    kill -0 $floor 2>/dev/null || { echo "floor ffmpeg failed:" >&2; cat "$TMP/floor.err" >&2; exit 1; }
    sample "$floor" >"$TMP/f0"; f0=$(floor_frame)
    sleep "$WINDOW"
    sample "$floor" >"$TMP/f1"; f1=$(floor_frame)
  fi
  load1=$(cut -d' ' -f1 /proc/loadavg)

  flr=$(account "$TMP/f0" "$TMP/f1"); cp "$TMP/lines" "$TMP/floor.lines"
  local dt; dt=$(echo "$(stat_field t "$s1") - $(stat_field t "$s0")" | bc -l)
  local pfps; pfps=$(echo "($(stat_field ticks "$s1") - $(stat_field ticks "$s0") - $(stat_field dropped "$s1") + $(stat_field dropped "$s0")) / $dt" | bc -l)
  local ffps; ffps=$(echo "(${f1:-0} - ${f0:-0}) / $WINDOW" | bc -l)
  local ratio; ratio=$(echo "$pipe / $flr" | bc -l)
  # The same ratio per frame delivered: a side that could not keep up did less work.
  local per_frame; per_frame=$(echo "($pipe / $pfps) / ($flr / $ffps)" | bc -l)

  printf '  run %d, %s, %dx%d: pipeline %.1f%% of a core vs floor %.1f%% -> ratio %.3f, per frame %.3f (Rust process %.1f%%; program RSS %d MiB, peak %d MiB; load %s -> %s)\n' \
    "$run" "$mode" "$w" "$h" "$pipe" "$flr" "$ratio" "$per_frame" "$own" $((rss / 1024)) $((hwm / 1024)) "$load0" "$load1"
  if [ "${VERBOSE:-1}" = 1 ]; then
    echo "    pipeline does: $decodes camera decode(s) at ${w}x${h}, clock + image/text/clock overlays in Rust, libx264, TS, egress to RTMP; $(printf '%.1f' "$pfps") frames/s written, encoder speed $(stat_field speed "$s1")"
    cat "$TMP/pipe.lines"
    echo "    floor does: one ffmpeg, $decodes RTSP decode(s) scaled+padded to ${w}x${h}, overlay(PNG) + drawtext(text) + drawtext(%{gmtime}), same libx264, silent AAC, FLV to RTMP; $(printf '%.1f' "$ffps") frames/s"
    cat "$TMP/floor.lines"
  fi
  echo "$mode ${w}x${h} $pipe $flr $own $ratio $rss $pfps $ffps $load0 $per_frame" >>"$TMP/results"

  kill -INT $floor 2>/dev/null || true
  wait $floor 2>/dev/null || true
  if [ "$CONCURRENT" = 1 ]; then
    wait $program || { echo "program failed:" >&2; tail -20 "$TMP/program.err" >&2; exit 1; }
  fi
  for r in $recv_p $recv_f; do kill $r 2>/dev/null || true; wait $r 2>/dev/null || true; done
}

# min/median/max of column $2 of the lines of $1.
mmm() { awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f / %.3f / %.3f", v[1], v[int((NR + 1) / 2)], v[NR] }'; }
mmm1() { awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { printf "%.1f / %.1f / %.1f", v[1], v[int((NR + 1) / 2)], v[NR] }'; }

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start; window ${WINDOW} s after ${WARMUP} s warm-up; $RUNS runs per mode; cameras decoded by $([ "$DECODER" = worker ] && echo "vistterstream-decoder (shared memory)" || echo "FFmpeg (pipes)")"
: >"$TMP/results"
for size in $SIZES; do
  W=${size%x*} H=${size#*x}
  echo "== ${W}x${H} ${FPS} fps: fake cameras A and B (GStreamer, not counted), GOP 2 s$([ "$BUSY" = 1 ] && echo ', busy scene'), $([ "$REPLAY" != 0 ] && echo "each replaying a ${REPLAY} s clip it encoded at start" || echo "each encoding live for every client")"
  start_camera a "$W" "$H"; CAM_A=$CAM_URL; cams=("${PIDS[-1]}")
  start_camera b "$W" "$H"; CAM_B=$CAM_URL; cams+=("${PIDS[-1]}")
  for run in $(seq "$RUNS"); do
    for mode in $MODES; do one_run "$mode" "$W" "$H" "$run"; done
  done
  # This size's cameras must not load the machine while the next size is measured.
  for c in "${cams[@]}"; do kill "$c" 2>/dev/null || true; wait "$c" 2>/dev/null || true; done
done

echo "== summary (min / median / max over $RUNS runs; CPU in % of one core, ratio = pipeline / floor)"
for size in $SIZES; do
  for mode in $MODES; do
    grep "^$mode $size " "$TMP/results" >"$TMP/sel" || continue
    case ${mode%-ffmpeg} in
      economy) what="no pre-roll (1 decode) vs one-decode floor" ;;
      *) what="pre-roll (2 decodes) vs two-decode floor" ;;
    esac
    [ "${mode%-ffmpeg}" != "$mode" ] && what+=", cameras decoded by FFmpeg through pipes"
    printf '  %-9s %-8s %s\n' "$size" "$mode" "$what"
    printf '      ratio %s | per frame %s | pipeline %s | floor %s | Rust process %s | program RSS %s MiB | fps pipeline %s floor %s | load %s\n' \
      "$(mmm "$TMP/sel" 6)" "$(mmm "$TMP/sel" 11)" "$(mmm1 "$TMP/sel" 3)" "$(mmm1 "$TMP/sel" 4)" "$(mmm1 "$TMP/sel" 5)" \
      "$(awk '{ print $7 / 1024 }' "$TMP/sel" | sort -g | awk '{ v[NR] = $1 } END { printf "%.0f / %.0f / %.0f", v[1], v[int((NR + 1) / 2)], v[NR] }')" \
      "$(mmm1 "$TMP/sel" 8)" "$(mmm1 "$TMP/sel" 9)" "$(mmm1 "$TMP/sel" 10)"
  done
done

# ---- what sound costs: the same program, sound on vs off, cameras that send AAC ----
AUDIO_WINDOW=${AUDIO_WINDOW:-15}
if ((AUDIO_WINDOW > 0)); then
  size=${SIZES%% *}; W=${size%x*} H=${size#*x}
  # Starts a fake camera that sends an AAC tone and sets CAM_URL.
  start_audio_camera() {
    local name=$1 tone=$2 port extra=(); port=$(free_port)
    [ "$REPLAY" != 0 ] && extra=(--replay "$REPLAY")
    /usr/bin/python3 testrig/fake_camera.py --port "$port" --path "/$name" --name "$name" \
      --width "$W" --height "$H" --fps "$FPS" --gop $((2 * FPS)) --audio-freq "$tone" "${extra[@]}" >"$TMP/cam-$name.log" 2>&1 &
    PIDS+=("$!")
    for _ in $(seq 600); do grep -q '^READY' "$TMP/cam-$name.log" && break; sleep 0.1; done
    grep -q '^READY' "$TMP/cam-$name.log" || { cat "$TMP/cam-$name.log" >&2; exit 1; }
    CAM_URL="rtsp://127.0.0.1:$port/$name"
  }
  # One program on the two sound cameras (camera A on air, economy, the same overlays) for
  # AUDIO_WINDOW s after the warm-up; appends "label cpu own" to $TMP/audio.
  audio_run() {
    local label=$1; shift
    local kbps; kbps=$(( W * H * FPS * 2500 / (1280 * 720 * 30) ))
    start_receiver "audio-$label"; local recv=$RECV url=$RECV_URL
    sleep 0.5
    "$BIN" --economy "${DECODER_FLAG[@]}" "$@" --size "${W}x${H}" --fps "$FPS" --bitrate "$kbps" \
      --seconds $((WARMUP + AUDIO_WINDOW + 4)) --take-every 0 --camera "$CAM_SA" --camera "$CAM_SB" \
      --output "$url" >"$TMP/$label.out" 2>"$TMP/$label.err" &
    local prog=$!
    PIDS+=("$prog")
    for _ in $(seq 600); do grep -q '^READY' "$TMP/$label.out" && break; kill -0 $prog 2>/dev/null || break; sleep 0.1; done
    grep -q '^READY' "$TMP/$label.out" || { echo "program did not start:" >&2; cat "$TMP/$label.err" >&2; exit 1; }
    sleep "$WARMUP"
    sample "$prog" >"$TMP/a0"
    sleep "$AUDIO_WINDOW"
    sample "$prog" >"$TMP/a1"
    local saved=$WINDOW; WINDOW=$AUDIO_WINDOW
    local cpu; cpu=$(account "$TMP/a0" "$TMP/a1")
    WINDOW=$saved
    printf '  sound %-3s: %.1f%% of a core (Rust process %.1f%%)\n' "$label" "$cpu" "$(cat "$TMP/own")"
    [ "${VERBOSE:-1}" = 1 ] && cat "$TMP/lines"
    echo "$label $cpu $(cat "$TMP/own")" >>"$TMP/audio"
    wait $prog || { echo "program failed:" >&2; tail -20 "$TMP/$label.err" >&2; exit 1; }
    kill $recv 2>/dev/null || true; wait $recv 2>/dev/null || true
  }
  echo "== what sound costs at ${W}x${H} ${FPS} fps: two cameras sending AAC tones (500 and 1300 Hz), camera A on air, economy, ${AUDIO_WINDOW} s each"
  start_audio_camera sa 500; CAM_SA=$CAM_URL
  start_audio_camera sb 1300; CAM_SB=$CAM_URL
  : >"$TMP/audio"
  audio_run on
  audio_run off --no-sound
  ON=$(awk '$1 == "on" { print $2 }' "$TMP/audio") OFF=$(awk '$1 == "off" { print $2 }' "$TMP/audio")
  ON_OWN=$(awk '$1 == "on" { print $3 }' "$TMP/audio") OFF_OWN=$(awk '$1 == "off" { print $3 }' "$TMP/audio")
  printf '  sound costs %.1f points of a core (%.1f%% on vs %.1f%% off); in the Rust process (decode, mix, meters, limiter) %.1f points\n' \
    "$(echo "$ON - $OFF" | bc -l)" "$ON" "$OFF" "$(echo "$ON_OWN - $OFF_OWN" | bc -l)"
fi
echo "== machine load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
