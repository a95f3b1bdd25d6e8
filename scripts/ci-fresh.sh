#!/usr/bin/env bash
# Runs CI as CI does, to find a missing install step before CI does: the committed HEAD is
# cloned into a scratch folder with a read-only copy of ../shared beside it, and `.ci/run`
# runs there with CI=true, no standard input, a fresh CARGO_HOME (empty registry cache) and a
# fresh npm cache. Debian packages are the machine's: remove some first to test their install.
#
# Usage: scripts/ci-fresh.sh [--keep] [--rev REV]
#   --keep     keep the scratch folder (its path is printed)
#   --rev REV  test REV instead of HEAD
# Prints the total time and the time of each stage (scripts/test.sh's table); exits with
# .ci/run's exit code. The full log is in the scratch folder (ci.log).
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
keep=0
rev=HEAD
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keep) keep=1; shift ;;
    --rev) rev=$2; shift 2 ;;
    *) echo "usage: $0 [--keep] [--rev REV]" >&2; exit 2 ;;
  esac
done
[[ -d "$repo/../shared" ]] || { echo "ci-fresh: ../shared not found beside $repo" >&2; exit 2; }
if [[ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]]; then
  echo "ci-fresh: note: uncommitted changes are not tested (only $rev is cloned)"
fi

scratch=$(mktemp -d /tmp/ci-fresh.XXXXXX)
# A CI folder is readable by other users (install.sh is checked as nobody): not mktemp's 0700.
chmod 755 "$scratch"
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [[ $keep -eq 1 ]]; then echo "ci-fresh: kept $scratch"; else rm -rf "$scratch"; fi
}
trap cleanup EXIT

commit=$(git -C "$repo" rev-parse --verify "$rev^{commit}") || exit 2
git clone --quiet --no-local --no-checkout "$repo" "$scratch/main" || exit 1
git -C "$scratch/main" checkout --quiet "$commit" || exit 1
cp -r "$repo/../shared" "$scratch/shared"
chmod -R a-w "$scratch/shared"
mkdir -p "$scratch/cargo-home" "$scratch/npm-cache"
# The toolchain stays where rustup put it; only the registry cache and build state are new.
[[ -d "${CARGO_HOME:-$HOME/.cargo}/bin" ]] && cp -r "${CARGO_HOME:-$HOME/.cargo}/bin" "$scratch/cargo-home/bin"

echo "ci-fresh: $commit in $scratch/main (CARGO_HOME and npm cache empty)"
t0=$SECONDS
(
  cd "$scratch/main" || exit 1
  export CI=true CARGO_HOME="$scratch/cargo-home" npm_config_cache="$scratch/npm-cache"
  export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
  export PATH="$scratch/cargo-home/bin:$PATH"
  bash .ci/run </dev/null
) >"$scratch/ci.log" 2>&1
rc=$?
total=$((SECONDS - t0))

echo "ci-fresh: .ci/run exited $rc after $total s ($((total / 60)) min $((total % 60)) s)"
# The per-stage table that scripts/test.sh prints last, and the test runners' closing lines.
sed -n '/^===== make test: time per stage/,$p' "$scratch/ci.log"
grep -E '^test result:|^# (pass|fail) |^packaging: |Tests +[0-9]+ passed|tests? +[0-9]+ (passed|failed)' "$scratch/ci.log" \
  | sort | uniq -c | sort -rn | head -20
if [[ $rc -ne 0 ]]; then
  echo "ci-fresh: last lines of the log:"
  tail -40 "$scratch/ci.log"
  keep=1
fi
exit $rc
