#!/usr/bin/env bash
# `make test`: every stage in order, each timed, with a table of the times at the end.
#
# deps and ui are prerequisites (nothing else can run without them) and stop the run when they
# fail; every later stage runs even when an earlier one failed, so one run shows every failure.
# The exit code is non-zero when any stage failed.
#
#   VS_TEST_STAGES="lint rust-test"   run only these stages (after deps and ui)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

prerequisites=(deps ui)
read -r -a stages <<<"${VS_TEST_STAGES:-ui-check api-types-check lint deny rust-test api-contract faults packaging-test e2e}"

names=()
secs=()
results=()
t_all=$SECONDS

stage() {
  local name=$1 t0=$SECONDS rc
  echo
  echo "===== make $name"
  make --no-print-directory "$name"
  rc=$?
  names+=("$name")
  secs+=($((SECONDS - t0)))
  if [[ $rc -eq 0 ]]; then results+=(ok); else results+=("FAILED (exit $rc)"); fi
  return $rc
}

summary() {
  echo
  echo "===== make test: time per stage"
  local i
  for i in "${!names[@]}"; do
    printf '  %-16s %5d s  %s\n' "${names[$i]}" "${secs[$i]}" "${results[$i]}"
  done
  printf '  %-16s %5d s\n' total $((SECONDS - t_all))
}

failed=0
for s in "${prerequisites[@]}"; do
  if ! stage "$s"; then
    summary
    echo "make test: stage '$s' failed; nothing after it can run"
    exit 1
  fi
done
for s in "${stages[@]}"; do
  stage "$s" || failed=1
done
summary
exit $failed
