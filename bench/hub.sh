#!/usr/bin/env bash
# Camera hub benchmark, engine side (groundwork for issue 14's bench; the appliance-level
# figures — take-to-air through a running program, first preview picture in Chromium — come
# with the server integration).
#
# Runs the hub's measuring tests in release mode against the fake camera (GStreamer RTSP
# server, loopback only) with real FFmpeg, one at a time, and prints their figures:
#   - camera connections: the cameras run with --max-clients 1, so every consumer at once
#     (two fMP4 previews, a program decoder, a copy stream, a TS consumer, a snapshot) on ONE
#     connection is the test passing;
#   - subscribe → first keyframe packet (keyframe cache), decoder first frame and catch-up;
#   - cold decoder start to first live frame, 720p30 with a 2 s GOP (p50/p95 of 8 starts);
#   - CPU of one connected 720p30 4 Mb/s camera that nobody consumes (the session's thread).
# Usage: bash bench/hub.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for t in ffmpeg ffprobe nginx; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || { echo "$t is missing: run scripts/install-deps.sh test" >&2; exit 1; }
done
cargo test --release -q -p vs-engine --test hub --no-run
for test in one_session_serves_every_consumer standby_cpu cold_decoder a_frozen_camera; do
  echo "--- $test"
  cargo test --release -q -p vs-engine --test hub -- --nocapture --test-threads 1 "$test" 2>&1 \
    | grep -E '^figure|test result' || { echo "$test failed" >&2; exit 1; }
done
