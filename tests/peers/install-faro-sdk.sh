#!/usr/bin/env bash
# Installs the Grafana Faro Web SDK and its tracing package (npm, pinned), and esbuild to bundle
# a test page with them, under $1 unless they are already there; and Debian's Chromium to run
# the page, unless it is installed.
set -euo pipefail
prefix="$1"
command -v chromium >/dev/null || "$(dirname "$0")/../../scripts/install-deps.sh" --with-peers
marker="$prefix/node_modules/@grafana/faro-web-tracing/package.json"
[[ -f "$marker" ]] && exit 0
command -v npm >/dev/null || "$(dirname "$0")/../../scripts/install-deps.sh" --with-peers
mkdir -p "$prefix"
npm install --silent --no-audit --no-fund --prefix "$prefix" \
  @grafana/faro-web-sdk@2.12.1 @grafana/faro-web-tracing@2.12.1 esbuild@0.28.2 >/dev/null
[[ -f "$marker" ]] || { echo "the Faro Web SDK did not install" >&2; exit 1; }
