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
