#!/usr/bin/env bash
# UI stage: builds the React UI into web/dist, which the release binary embeds (rust-embed).
#
# Usage: build-ui.sh [deps|build|all]   (default: all)
#   deps   npm ci (the Dockerfile runs it with only package*.json copied, so the layer and the
#          npm cache survive source changes)
#   build  npm run build (type check + vite), then checks that web/dist has an index.html
# Works on the repository the script sits in (packaging/docker/ -> ../..), in the image and in
# CI alike (tests/packaging/run.sh runs it for real).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
web="$root/web"
step=${1:-all}

die() { echo "build-ui: $*" >&2; exit 1; }
[[ -f "$web/package-lock.json" ]] || die "no $web/package-lock.json"
command -v npm >/dev/null || die "npm is missing (Node.js 20 with npm)"

deps() {
  (cd "$web" && npm ci --no-audit --no-fund)
}

build() {
  [[ -d "$web/node_modules" ]] || die "run '$0 deps' first"
  (cd "$web" && npm run build)
  [[ -s "$web/dist/index.html" ]] || die "the build produced no web/dist/index.html"
  grep -q '<div id="root">' "$web/dist/index.html" || die "web/dist/index.html is not the app"
  echo "build-ui: web/dist ready ($(find "$web/dist" -type f | wc -l) files)"
}

case "$step" in
  deps) deps ;;
  build) build ;;
  all) deps; build ;;
  *) die "usage: $0 [deps|build|all]" ;;
esac
