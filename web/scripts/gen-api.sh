#!/usr/bin/env bash
# Generates the UI's API types from the appliance's own OpenAPI document:
#   src/api/openapi.json  the document, as `vistterstream openapi` prints it
#   src/api/schema.d.ts   its TypeScript types (openapi-typescript)
# Both are committed. With --check, nothing is written: the run fails when the committed files
# differ from what the current binary gives (the document changed and the types were not
# regenerated).
#
#   VS_BIN   the binary to ask (default: ../target/debug/vistterstream; `make api-types` builds it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

check=0
case "${1:-}" in
  --check) check=1 ;;
  '') ;;
  *)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac

bin=${VS_BIN:-../target/debug/vistterstream}
if [[ ! -x $bin ]]; then
  echo "gen-api: no appliance binary at $bin: run \`cargo build -p vistterstream\` or set VS_BIN" >&2
  exit 1
fi

# Generated in a scratch directory: a failure leaves the committed pair untouched.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp

"$bin" openapi >"$out/openapi.json"
npx --no-install openapi-typescript "$out/openapi.json" --output "$out/schema.d.ts" --alphabetize >/dev/null 2>"$tmp/gen.log" || {
  grep -v '^    at \|^$\|^Node.js' "$tmp/gen.log" | head -n 20 >&2
  echo "gen-api: openapi-typescript rejected the document that \`$bin openapi\` prints; fix the" >&2
  echo "         OpenAPI annotations (crates/server/src/web/*.rs, web/openapi.rs) and run it again." >&2
  exit 1
}

if [[ $check -eq 0 ]]; then
  cp "$out/openapi.json" "$out/schema.d.ts" src/api/
  echo "gen-api: wrote src/api/openapi.json and src/api/schema.d.ts"
  exit 0
fi

stale=0
for f in openapi.json schema.d.ts; do
  if ! diff -u "src/api/$f" "$out/$f" >"$tmp/$f.diff" 2>&1; then
    stale=1
    echo "gen-api: web/src/api/$f differs from what the current binary generates:" >&2
    head -n 40 "$tmp/$f.diff" >&2
  fi
done
if [[ $stale -eq 1 ]]; then
  echo >&2
  echo "gen-api: the committed API types are stale. Regenerate them with \`make api-types\`" >&2
  echo "         (or: cargo build -p vistterstream && cd web && npm run gen:api) and commit web/src/api/." >&2
  exit 1
fi
echo "gen-api: web/src/api/openapi.json and schema.d.ts match the binary"
