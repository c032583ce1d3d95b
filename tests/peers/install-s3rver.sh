#!/usr/bin/env bash
# Installs s3rver (an S3-compatible server, from npm) under $1 unless it is already there.
set -euo pipefail
prefix="$1"
bin="$prefix/node_modules/.bin/s3rver"
[[ -x "$bin" ]] && exit 0
command -v npm >/dev/null || "$(dirname "$0")/../../scripts/install-deps.sh" --with-peers
mkdir -p "$prefix"
npm install --silent --no-audit --no-fund --prefix "$prefix" s3rver@3.7.1 >/dev/null
[[ -x "$bin" ]] || { echo "s3rver did not install" >&2; exit 1; }
