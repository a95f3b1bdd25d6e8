# Shared by the benchmark scripts (source it after `cd` to the repository root):
# a scratch directory $TMP, the PIDS array whose processes are stopped on exit (then $TMP is
# removed), and free_port (a free TCP port on 127.0.0.1).
# shellcheck shell=bash
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
# DECODER_FLAG: program_run's flag for how the cameras are decoded, from DECODER (worker:
# vistterstream-decoder, built here, pictures in shared memory, as the appliance does;
# ffmpeg: FFmpeg through pipes). Exits with a message on any other value.
# shellcheck disable=SC2034  # DECODER_FLAG is read by the scripts that source this file
set_decoder_flag() {
  DECODER_FLAG=()
  case "${DECODER:-worker}" in
    worker)
      cargo build --release -q -p vs-decoder
      DECODER_FLAG=(--decoder "${CARGO_TARGET_DIR:-target}/release/vistterstream-decoder") ;;
    ffmpeg) ;;
    *) echo "DECODER is worker or ffmpeg" >&2; exit 2 ;;
  esac
}
