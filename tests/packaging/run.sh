#!/usr/bin/env bash
# Packaging tests: the Docker build recipe without a Docker engine, the systemd unit and the
# install script. CI runs this after the Rust tests (`make packaging-test`).
#
#   - the Dockerfile and docker-compose.yml are parsed and checked (BuildKit's parser,
#     docker-compose config); every shell script passes shellcheck;
#   - the UI stage's script runs for real on exactly what the stage COPYs (a scratch dir);
#   - the Rust stage's script runs for real: natively (dev profile, reusing target/), and as a
#     cross build for arm64 (install-build-deps.sh + build-rust.sh --arch arm64), the
#     Raspberry Pi's architecture, whose binary then runs under qemu-user (serve, health
#     check, backup, SIGTERM), built with the cheap cross-smoke profile (opt-level 0, no debug
#     info); VS_PACKAGING_CROSS=0 skips the cross build;
#     VS_PACKAGING_RELEASE=1 also builds the release binary and checks that it embeds the UI;
#   - the runtime stage's packages resolve (apt-get --simulate);
#   - the binary behaves as the container expects: serve from VS_* variables, healthcheck,
#     backup beside the running appliance, exit 0 on SIGTERM;
#   - the systemd unit passes `systemd-analyze verify`; install.sh installs into a scratch
#     root, twice (idempotent).
# Needs root to install missing tools (shellcheck, systemd, docker-compose, cross gcc,
# qemu-user).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
root_dir=$(pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
pass=0
fail=0
failed=()

run() {
  local name=$1
  shift
  echo "=== $name"
  local t0=$SECONDS
  if "$@"; then
    pass=$((pass + 1))
    echo "--- ok: $name ($((SECONDS - t0)) s)"
  else
    fail=$((fail + 1))
    failed+=("$name")
    echo "--- FAILED: $name ($((SECONDS - t0)) s)"
  fi
}

# shellcheck source=packaging/docker/dpkg-installed.sh
source packaging/docker/dpkg-installed.sh

need_apt() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    installed "$pkg" || missing+=("$pkg")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ $(id -u) -eq 0 ]] || { echo "missing packages ${missing[*]} (run as root to install)"; return 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
}

prefixed() {
  local line
  while IFS= read -r line; do echo "$1$line"; done <<<"$2"
}

tools() {
  need_apt shellcheck systemd docker-compose || return 1
  python3 -c 'import dockerfile, yaml' 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check "dockerfile==3.4.0" "pyyaml>=6" >/dev/null 2>&1
  python3 -c 'import dockerfile, yaml'
}

lint_scripts() {
  shellcheck packaging/install.sh packaging/docker/*.sh tests/packaging/run.sh scripts/*.sh
}

docker_recipe() {
  python3 tests/packaging/check_docker.py check || return 1
  # docker-compose validates the file against the Compose schema, without an engine.
  docker-compose -f docker-compose.yml config -q
}

ui_stage() {
  # Only what the ui stage COPYs, then its two RUN steps, as in the Dockerfile.
  python3 tests/packaging/check_docker.py materialize ui "$scratch/ui" || return 1
  bash "$scratch/ui/packaging/docker/build-ui.sh" deps >/dev/null || return 1
  bash "$scratch/ui/packaging/docker/build-ui.sh" build | tail -1 || return 1
  [[ -s "$scratch/ui/web/dist/index.html" ]]
}

# The platforms the image builds for (Dockerfile: linux/amd64 and linux/arm64).
image_triples=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)

rust_stage_context() {
  # The rust stage's context (with web/dist from the ui stage) holds a complete workspace: the
  # manifests load and Cargo.lock is up to date (--locked). Only the image's platforms count:
  # an unfiltered `cargo metadata` resolves every platform's crates (android, windows, wasm),
  # which no build here downloads, so it passed only where an old cache happened to hold them.
  # The crates those two platforms need are fetched first (the registry is reachable wherever
  # a build is); the check itself then runs offline.
  python3 tests/packaging/check_docker.py materialize rust "$scratch/rust" --from-ui "$scratch/ui" || return 1
  [[ -s "$scratch/rust/web/dist/index.html" ]] || { echo "web/dist not copied from the ui stage"; return 1; }
  local targets=() filters=() t
  for t in "${image_triples[@]}"; do
    targets+=(--target "$t")
    filters+=(--filter-platform "$t")
  done
  (cd "$scratch/rust" && cargo fetch --locked "${targets[@]}" --quiet) || return 1
  (cd "$scratch/rust" && cargo metadata --locked --offline "${filters[@]}" --format-version 1 >/dev/null) || return 1
  echo "workspace complete and Cargo.lock current for ${image_triples[*]}"
}

rust_native() {
  # Native build with the repository's target/ (nothing is built twice in CI).
  [[ -s web/dist/index.html ]] || bash packaging/docker/build-ui.sh all >/dev/null || return 1
  bash packaging/docker/build-rust.sh --profile dev --out "$scratch/bin" | tail -2 || return 1
  [[ -x "$scratch/bin/vistterstream" ]] || return 1
  decoder_smoke "$scratch/bin/vistterstream-decoder"
}

rust_release() {
  bash packaging/docker/build-rust.sh --profile release --out "$scratch/release" | tail -2
}

rust_cross_arm64() {
  # The aarch64 standard library comes from rustup's own servers, which a machine limited to
  # the package registries may not reach: then say so plainly instead of failing the build.
  if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
    && ! rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1; then
    echo "SKIPPED: the aarch64 Rust standard library cannot be fetched on this machine"
    return 0
  fi
  bash packaging/docker/install-build-deps.sh arm64 | tail -1 || return 1
  # A target directory of its own: the cross build must not hold the workspace's build lock.
  CARGO_TARGET_DIR="$root_dir/target/cross" \
    bash packaging/docker/build-rust.sh --arch arm64 --profile cross-smoke --out "$scratch/arm64" | tail -1 \
    || return 1
  # The arm64 binaries run under user-mode QEMU with the arm64 libc and libav that multiarch
  # installed (/lib/ld-linux-aarch64.so.1; not the cross gcc's libc in /usr/aarch64-linux-gnu:
  # a loader of one glibc build with the libc.so.6 of another spins in pthread_create).
  need_apt qemu-user || return 1
  [[ -e /lib/ld-linux-aarch64.so.1 ]] || { echo "no arm64 libc (multiarch)"; return 1; }
  decoder_smoke qemu-aarch64 "$scratch/arm64/vistterstream-decoder" || return 1
  # The appliance: serve, health check, backup, SIGTERM, as on a Pi.
  appliance_smoke qemu-aarch64 "$scratch/arm64/vistterstream"
}

decoder_smoke() {
  # The camera decoder as the program runs it: MPEG-TS H.264 on stdin, descriptor 4 where
  # slots come back. Ten 640x360 pictures, 16 slots (none needs to come back): the hello, then
  # one record per picture, numbered 0..9, each naming a distinct slot. "$@" runs the binary.
  local clip="$scratch/clip.ts" out="$scratch/decoder.out"
  [[ -s "$clip" ]] || ffmpeg -v error -y -f lavfi -i testsrc=size=640x360:rate=15 -frames:v 10 \
    -c:v libx264 -pix_fmt yuv420p -f mpegts "$clip" || return 1
  "$@" 320 180 16 <"$clip" 4</dev/null >"$out" || { echo "the decoder failed"; return 1; }
  python3 - "$out" <<'PY' || return 1
import struct, sys
raw = open(sys.argv[1], "rb").read()
assert raw[:8] == b"VSDW0001", f"no hello: {raw[:8]!r}"
_fd, slots, slot_len, w, h = struct.unpack("<IIQII", raw[8:32])
assert (slots, slot_len, w, h) == (16, 320 * 180 * 3 // 2, 320, 180), (slots, slot_len, w, h)
recs = [struct.unpack("<IIQ", raw[i:i + 16]) for i in range(32, len(raw), 16)]
assert [r[2] for r in recs] == list(range(10)), f"pictures {[r[2] for r in recs]}"
assert len({r[0] for r in recs}) == 10 and all(r[0] < 16 for r in recs), recs
print(f"decoder: hello {w}x{h}, {slots} slots; pictures 0..9 in 10 distinct slots")
PY
}

runtime_stage() {
  bash packaging/docker/install-runtime.sh --dry-run || return 1
  # The decoder's shared libraries (libav...) come with the runtime's packages: each library
  # it needs belongs to a package in the dependency closure of what install-runtime.sh
  # installs (the image has nothing else).
  local decoder="$scratch/bin/vistterstream-decoder" closure lib path pkg absent=0
  [[ -x "$decoder" ]] || { echo "no native decoder built"; return 1; }
  closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances ffmpeg ca-certificates tini | grep -v '^ ' | sort -u)
  for lib in $(readelf -d "$decoder" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|AArch64/ {print $NF; exit}')
    pkg=$({ dpkg -S "$path" || dpkg -S "$(readlink -f "$path")"; } 2>/dev/null | head -1 | cut -d: -f1)
    if [[ -z "$pkg" ]] || ! grep -qx "$pkg" <<<"$closure"; then
      echo "the decoder needs $lib (${pkg:-no package}), not installed with the runtime's packages"
      absent=1
    fi
  done
  [[ $absent -eq 0 ]] && echo "the decoder's libraries come with the runtime packages"
}

no_openssl() {
  # rustls only: OpenSSL would tie the build to the build machine's libssl and complicate
  # cross builds. The dependency graph of the binary, on each platform of the image, has no
  # openssl crate (their crates were fetched by rust_stage_context).
  local tree t targets=()
  for t in "${image_triples[@]}"; do targets+=(--target "$t"); done
  cargo fetch --locked "${targets[@]}" --quiet || return 1
  tree=$(cargo tree --locked --offline "${targets[@]}" -p vistterstream -e normal,build -i openssl-sys 2>&1)
  if grep -q '^openssl-sys' <<<"$tree"; then
    echo "$tree"
    return 1
  fi
  echo "no openssl-sys in the dependency graph"
}

appliance_smoke() {
  # What the image does: `vistterstream serve` configured by VS_* only, probed by
  # `vistterstream healthcheck` with VS_LISTEN=0.0.0.0:PORT, backed up while running, stopped
  # by SIGTERM with exit code 0. "$@" is the command that runs the binary.
  local data port pid rc
  data=$(mktemp -d -p "$scratch")
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  VS_DATA_DIR="$data" VS_LISTEN="127.0.0.1:$port" VS_LOG=warn "$@" serve &
  pid=$!
  local ok=1
  for _ in $(seq 150); do
    VS_LISTEN="0.0.0.0:$port" "$@" healthcheck 2>/dev/null && { ok=0; break; }
    sleep 0.1
  done
  [[ $ok -eq 0 ]] || { echo "healthcheck never passed"; kill "$pid"; return 1; }
  [[ -s "$data/vistterstream.db" && -s "$data/secret.key" ]] \
    || { echo "no database or key in VS_DATA_DIR"; kill "$pid"; return 1; }
  VS_DATA_DIR="$data" "$@" admin backup "$data.tar.gz" \
    || { echo "backup beside the running appliance failed"; kill "$pid"; return 1; }
  kill -TERM "$pid"
  wait "$pid"
  rc=$?
  [[ $rc -eq 0 ]] || { echo "exit code $rc after SIGTERM"; return 1; }
  if VS_LISTEN="127.0.0.1:$port" "$@" healthcheck 2>/dev/null; then
    echo "healthcheck passed with nothing listening"
    return 1
  fi
  echo "serve, healthcheck, backup, SIGTERM: ok ($*)"
}

container_behaviour() {
  appliance_smoke "$scratch/bin/vistterstream"
}

unit_verify() {
  # verify needs ExecStart's binary to exist: check a copy pointing at the built one. It exits
  # 0 even on unknown keys (only warnings), so any output at all is a failure.
  local unit="$scratch/unit/vistterstream.service" out
  mkdir -p "$scratch/unit"
  sed "s#^ExecStart=/usr/local/bin/vistterstream#ExecStart=$scratch/bin/vistterstream#" \
    packaging/systemd/vistterstream.service >"$unit"
  out=$(systemd-analyze verify "$unit" 2>&1) || { echo "$out"; return 1; }
  [[ -z "$out" ]] || { echo "$out"; return 1; }
  local key
  for key in 'User=vistterstream' 'StateDirectory=vistterstream' \
    'Environment=VS_DATA_DIR=/var/lib/vistterstream' 'Restart=on-failure' 'RestartSec=5' \
    'TimeoutStopSec=30' 'KillMode=mixed' 'NoNewPrivileges=yes' 'ProtectSystem=strict' \
    'ProtectHome=yes' 'PrivateTmp=yes' 'ReadWritePaths=/var/lib/vistterstream' \
    'SupplementaryGroups=video' 'Environment=VS_LOG_JSON=false'; do
    grep -qx "$key" "$unit" || { echo "the unit lacks $key"; return 1; }
  done
  systemd-analyze security --offline=yes "$unit" 2>/dev/null | tail -1
  echo "systemd-analyze verify: clean"
}

install_script() {
  # Into a scratch root with a copy of this machine's user database, twice.
  local r="$scratch/root" out
  mkdir -p "$r/etc"
  cp /etc/passwd /etc/group /etc/shadow /etc/gshadow "$r/etc/"
  [[ -f /etc/login.defs ]] && cp /etc/login.defs "$r/etc/"
  grep -q '^video:' "$r/etc/group" || echo 'video:x:44:' >>"$r/etc/group"
  sed -i '/^vistterstream:/d' "$r/etc/passwd" "$r/etc/shadow" "$r/etc/group" "$r/etc/gshadow"
  out=$(bash packaging/install.sh --binary "$scratch/bin/vistterstream" --root "$r" 2>&1) \
    || { echo "$out"; return 1; }
  prefixed "  first: " "$out"
  [[ -x "$r/usr/local/bin/vistterstream" ]] || { echo "binary not installed"; return 1; }
  cmp -s packaging/systemd/vistterstream.service "$r/etc/systemd/system/vistterstream.service" \
    || { echo "unit not installed"; return 1; }
  [[ -L "$r/etc/systemd/system/multi-user.target.wants/vistterstream.service" ]] \
    || { echo "unit not enabled"; return 1; }
  grep -q '^vistterstream:x:[0-9]*:[0-9]*::/var/lib/vistterstream:/usr/sbin/nologin$' "$r/etc/passwd" \
    || { echo "user not created as expected: $(grep vistterstream "$r/etc/passwd")"; return 1; }
  grep -q '^video:.*vistterstream' "$r/etc/group" || { echo "user not in group video"; return 1; }
  [[ -f "$r/etc/default/vistterstream" ]] || { echo "no /etc/default/vistterstream"; return 1; }
  echo "VS_LOG=debug" >>"$r/etc/default/vistterstream"
  out=$(bash packaging/install.sh --binary "$scratch/bin/vistterstream" --root "$r" 2>&1) \
    || { echo "$out"; return 1; }
  prefixed "  again: " "$out"
  for expect in "is up to date" "user vistterstream exists" "is in group video" "keeping local settings"; do
    grep -q "$expect" <<<"$out" || { echo "second run did not say '$expect'"; return 1; }
  done
  grep -q '^VS_LOG=debug' "$r/etc/default/vistterstream" || { echo "local settings overwritten"; return 1; }
  [[ $(grep -c '^vistterstream:' "$r/etc/passwd") -eq 1 ]] || { echo "user created twice"; return 1; }
  # Not root: refused with a clear message.
  if command -v setpriv >/dev/null; then
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups bash packaging/install.sh 2>&1) \
      && { echo "ran as non-root"; return 1; }
    grep -q "must run as root" <<<"$out" || { echo "unclear non-root message: $out"; return 1; }
  fi
}

run "tools" tools
run "shellcheck" lint_scripts
run "Dockerfile and compose file" docker_recipe
run "ui stage (build-ui.sh on the stage's COPYs)" ui_stage
run "rust stage context (workspace complete, lock file current)" rust_stage_context
run "rust stage, native (build-rust.sh, dev profile)" rust_native
run "container behaviour (serve, healthcheck, backup, SIGTERM)" container_behaviour
if [[ "${VS_PACKAGING_CROSS:-1}" == 1 ]]; then
  run "rust stage, cross to arm64, run under qemu-user" rust_cross_arm64
fi
if [[ "${VS_PACKAGING_RELEASE:-0}" == 1 ]]; then
  run "rust stage, release (UI embedded)" rust_release
fi
run "runtime stage packages (apt-get --simulate)" runtime_stage
run "no OpenSSL in the dependency graph" no_openssl
run "systemd unit (systemd-analyze verify)" unit_verify
run "install.sh into a scratch root, twice" install_script

echo
[[ $fail -eq 0 ]] || printf 'failed: %s\n' "${failed[@]}"
echo "packaging: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
