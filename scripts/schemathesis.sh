#!/usr/bin/env bash
# `make api-contract`: the OpenAPI document checked against the live appliance by schemathesis
# (PyPI): every operation, with generated valid and invalid requests; a server error, a
# response that does not match its schema, an undocumented status or content type fails.
#
# 1. A venv under target/ with a pinned schemathesis (created once, kept while the pin holds).
# 2. The rest runs in a network namespace of its own (`unshare --net`) holding only loopback:
#    generated cameras, destinations and overlay URLs point anywhere, and starting a stream or
#    a program makes FFmpeg connect to them. Nothing can leave the machine from in there.
# 3. The debug binary starts on 127.0.0.1 with a fresh data directory and no demo cameras;
#    set-up, an API token and one resource of each kind are made through the API;
#    schemathesis runs with the token (every operation but the endless event stream).
#
#   VS_BIN=path             the binary (default target/debug/vistterstream; `make` builds it)
#   ST_MAX_EXAMPLES=N       generated cases per operation and phase (default 40: about a minute)
#   ST_SEED=N               hypothesis seed (default fixed, so a run is reproducible)
#   ST_CHECKS=a,b           schemathesis checks (default: see CHECKS below)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV=target/schemathesis-venv
BIN=${VS_BIN:-target/debug/vistterstream}
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-40}
SEED=${ST_SEED:-20240612}

# No 500; every status, content type, body and header as documented; auth enforced where the
# document says so (and only there); 405 for methods a path does not have; a deleted resource
# is gone and a created one is there. Not positive_data_acceptance: the schemas say what a
# field is, while the server also checks what it means (a camera that exists, an even width),
# so valid-looking bodies are refused by design.
CHECKS=${ST_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,ignored_auth,unsupported_method,use_after_free,ensure_resource_availability}

die() { echo "api-contract: $*" >&2; exit 1; }

if [[ ${1:-} != --isolated ]]; then
  [[ -x $BIN ]] || die "$BIN not found; build it with: cargo build -p vistterstream"
  if [[ "$(cat "$VENV/.schemathesis-version" 2>/dev/null)" != "$SCHEMATHESIS_VERSION" ]]; then
    echo "api-contract: installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
    echo "$SCHEMATHESIS_VERSION" >"$VENV/.schemathesis-version"
  fi
  unshare --net --map-root-user true 2>/dev/null \
    || die "cannot create a network namespace (unshare --net --map-root-user); the contract \
test runs there so that no generated address is reached. Run as root, or enable unprivileged \
user namespaces (sysctl kernel.unprivileged_userns_clone=1)."
  exec unshare --net --map-root-user bash "${BASH_SOURCE[0]}" --isolated
fi

# ---- inside the namespace: only `lo`, down until brought up
ip link set lo up 2>/dev/null || "$VENV/bin/python" - <<'EOF'
# No `ip` (iproute2): SIOCSIFFLAGS by hand.
import fcntl, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0)))[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))
EOF

PY=$VENV/bin/python
LISTEN=127.0.0.1:8080 # a fresh namespace: every port is free
BASE=http://$LISTEN
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vs-api-contract.XXXXXX")
REPORT=target/api-contract
mkdir -p "$REPORT"
PID=
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [[ -n $PID ]]; then
    # A graceful stop (its FFmpeg children stopped with it), bounded.
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 300); do
      kill -0 "$PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A low bcrypt cost: schemathesis calls login and set-up hundreds of times.
VS_DATA_DIR=$WORK/data VS_BCRYPT_COST=4 VS_LOG=warn \
  "$BIN" serve --listen "$LISTEN" >"$REPORT/appliance.log" 2>&1 &
PID=$!

# Set-up and a token, through the API. Prints the token.
TOKEN=$("$PY" - "$BASE" <<'EOF'
import json, secrets, sys, time, urllib.request, urllib.error
base = sys.argv[1]
def call(method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, method=method, headers=headers or {},
                                 data=None if body is None else json.dumps(body).encode())
    if body is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.headers, json.loads(r.read() or b"null")
for _ in range(300):
    try:
        call("GET", "/api/health")
        break
    except (urllib.error.URLError, ConnectionError):
        time.sleep(0.1)
else:
    sys.exit("the appliance did not answer /api/health within 30 s")
status, headers, _ = call("POST", "/api/auth/setup",
                          {"username": "admin", "password": secrets.token_urlsafe(24)})
assert status == 201, status
cookie = headers["Set-Cookie"].split(";")[0]
status, _, token = call("POST", "/api/auth/tokens", {"name": "schemathesis"}, {"Cookie": cookie})
assert status == 201, status
auth = {"Authorization": "Bearer " + token["token"]}
# One of each resource (each gets id 1; schemathesis.toml has generated ids hit them half of
# the time). Every address is on loopback, where nothing listens.
seed = [
    ("/api/cameras", {"name": "Harbour", "type": "PTZ", "protocol": "RTSP",
                      "address": "rtsp://127.0.0.1:9/stream", "onvif_port": 9}),
    ("/api/cameras/1/presets", {"name": "Pier", "pan": 10, "tilt": 0, "zoom": 0}),
    ("/api/destinations", {"name": "Local", "platform": "custom",
                           "url": "rtmp://127.0.0.1:9/live", "stream_key": "key"}),
    ("/api/streams", {"name": "Harbour live", "camera_id": 1, "destination_ids": [1]}),
    ("/api/programs", {"name": "Main", "width": 320, "height": 180, "fps": 10,
                       "destination_ids": [1]}),
    ("/api/overlays", {"name": "Title", "kind": "text",
                       "definition": {"x": 10, "y": 10, "text": "Harbour"}}),
    ("/api/timelines", {"id": "harbour", "name": "Harbour", "duration_ms": 60000, "tracks": [
        {"kind": "video", "name": "Cameras", "clips": [
            {"id": "a", "start_ms": 0, "end_ms": 60000,
             "source": {"type": "camera", "camera_id": 1, "preset_id": 1}}]},
        {"kind": "overlay", "clips": [
            {"id": "o", "start_ms": 0, "end_ms": 60000,
             "source": {"type": "overlay", "overlay_id": 1, "x": 10, "y": 10,
                        "width": 200, "height": 80}}]}]}),
]
for path, body in seed:
    status, _, created = call("POST", path, body, auth)
    assert status == 201 and created.get("id") in (1, "harbour"), (path, status, created)
png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
req = urllib.request.Request(base + "/api/assets?name=logo.png", method="POST", data=png,
                             headers={**auth, "Content-Type": "image/png"})
with urllib.request.urlopen(req, timeout=10) as r:
    assert r.status == 201 and json.loads(r.read())["id"] == 1
print(token["token"])
EOF
) || die "set-up through the API failed; see $REPORT/appliance.log"

st() {
  "$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml run "$BASE/api/openapi.json" \
    --header "Authorization: Bearer $TOKEN" \
    --generation-with-security-parameters false \
    --checks "$CHECKS" \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --generation-database none \
    --request-timeout 30 \
    --no-color \
    "$@"
}

rc=0
# Every operation but two:
# - GET /api/events is a Server-Sent Events stream that does not end while the appliance
#   runs, and schemathesis reads a whole body (the route is tested in crates/server/tests);
# - DELETE /api/auth/tokens/{id} would revoke the token this run uses (ids are small
#   integers, generated ones hit it): it runs on its own, last.
echo "===== api-contract: every operation"
st --exclude-operation-id stream_events --exclude-operation-id revoke_token \
  --report junit --report-junit-path "$REPORT/junit.xml" \
  2>&1 | tee "$REPORT/schemathesis.txt" || rc=1

echo "===== api-contract: token revocation (last: it may revoke the token in use)"
st --include-operation-id revoke_token 2>&1 | tee "$REPORT/schemathesis-revoke.txt" || rc=1

if ! kill -0 "$PID" 2>/dev/null; then
  echo "api-contract: the appliance exited during the run; see $REPORT/appliance.log" >&2
  rc=1
fi
# schemathesis' own summary lines ("===== 3 warnings in 65.35s =====", "===== 1 failure, …").
summary() { grep -E '^=+ .* in [0-9.]+s =+$' "$1" | tail -1; }
echo "api-contract: every operation: $(summary "$REPORT/schemathesis.txt")"
echo "api-contract: token revocation: $(summary "$REPORT/schemathesis-revoke.txt")"
exit $rc
