#!/usr/bin/env bash
# Installs the Loki client libraries applications log with (npm, pinned) under $1 unless they
# are already there: pino + pino-loki (JSON push), winston + winston-loki (snappy protobuf
# push; its snappy binding comes as an npm package).
set -euo pipefail
prefix="$1"
marker="$prefix/node_modules/winston-loki/package.json"
[[ -f "$marker" ]] && exit 0
command -v npm >/dev/null || "$(dirname "$0")/../../scripts/install-deps.sh" --with-peers
mkdir -p "$prefix"
npm install --silent --no-audit --no-fund --prefix "$prefix" \
  pino@9.14.0 pino-loki@3.0.0 winston@3.19.0 winston-loki@6.1.7 >/dev/null
[[ -f "$marker" ]] || { echo "the Loki client libraries did not install" >&2; exit 1; }
