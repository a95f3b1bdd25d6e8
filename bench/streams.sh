#!/usr/bin/env bash
# CPU of the appliance itself while N camera-to-destination copy streams run (each reads its
# camera's hub session and publishes RTMP in process; an FFmpeg child, if any, is printed
# beside). Everything on 127.0.0.1: one simulated RTSP camera (GStreamer, 1280x720 at 25 fps
# with AAC, replaying a clip it encoded at start) per stream and nginx-rtmp as the ingest.
# Usage: bash bench/streams.sh [streams=4] [seconds=30]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-4}
SECS=${2:-30}
BIN=target/release/vistterstream
[ -x "$BIN" ] || cargo build --release -p vistterstream
MOD=$(ls /usr/lib/nginx/modules/ngx_rtmp_module.so 2>/dev/null || true)
[ -n "$MOD" ] || { echo "nginx rtmp module missing: run scripts/install-deps.sh test" >&2; exit 1; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

RTMP_PORT=$(free_port)
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<CONF
load_module $MOD;
daemon off; master_process off; worker_processes 1;
pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/error.log warn;
events { worker_connections 256; }
rtmp { server { listen 127.0.0.1:$RTMP_PORT; access_log off;
  application live2 { live on; record off; } } }
CONF
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" & PIDS+=($!)

CAM_PORTS=()
for i in $(seq 1 "$N"); do
  p=$(free_port); CAM_PORTS+=("$p")
  /usr/bin/python3 testrig/fake_camera.py --port "$p" --path /cam --name "Bench $i" --width 1280 --height 720 --fps 25 --audio \
    --replay 8 >"$WORK/cam-$i.log" 2>&1 & PIDS+=($!)
done
# Each camera encodes its 8 s clip once, then replays it (a few % of a core, like a real
# camera, where live encoding took a quarter of a core per client from the machine measured).
for i in $(seq 1 "$N"); do
  for _ in $(seq 600); do grep -qs "^READY" "$WORK/cam-$i.log" && break; sleep 0.1; done
  grep -q '^READY' "$WORK/cam-$i.log" || { cat "$WORK/cam-$i.log" >&2; exit 1; }
done

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
"$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --log-level warn --health-interval-s 15 & APP=$!
PIDS+=("$APP")
for _ in $(seq 100); do curl -sf "$BASE/api/health" >/dev/null && break; sleep 0.1; done
COOKIE=$(curl -s -i -X POST "$BASE/api/auth/setup" -H 'content-type: application/json' \
  -d '{"username":"admin","password":"bench password"}' | awk -F'[=;]' 'tolower($1) ~ /^set-cookie: vs_session/ {print $2}')
api() { curl -sf -H "cookie: vs_session=$COOKIE" -H 'content-type: application/json' "$@"; }
DEST=$(api -X POST "$BASE/api/destinations" -d "{\"name\":\"ingest\",\"platform\":\"custom\",\"url\":\"rtmp://127.0.0.1:$RTMP_PORT/live2\",\"stream_key\":\"bench\"}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
for i in $(seq 1 "$N"); do
  CAM=$(api -X POST "$BASE/api/cameras" -d "{\"name\":\"Bench $i\",\"type\":\"STATIC\",\"protocol\":\"RTSP\",\"address\":\"rtsp://127.0.0.1:${CAM_PORTS[$((i-1))]}/cam\"}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
  D2=$(api -X POST "$BASE/api/destinations" -d "{\"name\":\"ingest $i\",\"platform\":\"custom\",\"url\":\"rtmp://127.0.0.1:$RTMP_PORT/live2\",\"stream_key\":\"bench$i\"}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
  SID=$(api -X POST "$BASE/api/streams" -d "{\"name\":\"S$i\",\"camera_id\":$CAM,\"destination_ids\":[$D2]}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
  api -X POST "$BASE/api/streams/$SID/start" >/dev/null
done
: "$DEST"
sleep 10
RUNNING=$(api "$BASE/api/streams" | python3 -c 'import json,sys;print(sum(1 for s in json.load(sys.stdin) if s["status"]["state"]=="running"))')
echo "streams running: $RUNNING / $N (1280x720@25 H.264 + AAC, copy)"

python3 - "$APP" "$SECS" "$N" <<'PY'
import os, sys, time
app, secs = int(sys.argv[1]), float(sys.argv[2])
hz = os.sysconf("SC_CLK_TCK")
def ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])
def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    s = f.read()
                ppid = int(s.rsplit(")", 1)[1].split()[1])
                comm = s.split("(", 1)[1].rsplit(")", 1)[0]
                if ppid == pid and comm == "ffmpeg":
                    out.append(int(d))
            except OSError:
                pass
    return out
kids = children(app)
a0 = ticks(app); k0 = {k: ticks(k) for k in kids}; t0 = time.time()
time.sleep(secs)
a1 = ticks(app); t1 = time.time()
k1 = {}
for k in kids:
    try: k1[k] = ticks(k)
    except OSError: pass
wall = t1 - t0
app_pct = (a1 - a0) / hz / wall * 100
per = [(k1[k] - k0[k]) / hz / wall * 100 for k in k1]
with open(f"/proc/{app}/status") as f:
    rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
print(f"measured over {wall:.1f} s")
n = int(sys.argv[3])
print(f"appliance process CPU: {app_pct:.2f} % of one core for {n} streams, {app_pct / n:.2f} % per stream "
      f"(camera read and RTMP publish, in process), RSS {rss/1024:.1f} MiB")
if per:
    print(f"ffmpeg copy-streams: {len(per)} processes, {sum(per)/len(per):.2f} % of one core each on average (min {min(per):.2f}, max {max(per):.2f})")
else:
    print("ffmpeg children: none (a copy stream spawns no FFmpeg)")
PY
