#!/usr/bin/env bash
# Installs the OpenTelemetry JS SDK and its OTLP exporters (npm, pinned) under $1 unless they
# are already there.
set -euo pipefail
prefix="$1"
marker="$prefix/node_modules/@opentelemetry/exporter-trace-otlp-grpc/package.json"
[[ -f "$marker" ]] && exit 0
command -v npm >/dev/null || "$(dirname "$0")/../../scripts/install-deps.sh" --with-peers
mkdir -p "$prefix"
npm install --silent --no-audit --no-fund --prefix "$prefix" \
  @opentelemetry/api@1.10.0 @opentelemetry/api-logs@0.223.1 @opentelemetry/core@3.1.0 \
  @opentelemetry/resources@3.1.0 @opentelemetry/sdk-metrics@3.1.0 \
  @opentelemetry/sdk-logs@3.1.0 @opentelemetry/sdk-trace@3.1.0 \
  @opentelemetry/exporter-metrics-otlp-proto@0.301.0 \
  @opentelemetry/exporter-metrics-otlp-http@0.301.0 \
  @opentelemetry/exporter-metrics-otlp-grpc@0.301.0 \
  @opentelemetry/exporter-logs-otlp-proto@0.301.0 \
  @opentelemetry/exporter-logs-otlp-http@0.301.0 \
  @opentelemetry/exporter-logs-otlp-grpc@0.301.0 \
  @opentelemetry/exporter-trace-otlp-proto@0.301.0 \
  @opentelemetry/exporter-trace-otlp-http@0.301.0 \
  @opentelemetry/exporter-trace-otlp-grpc@0.301.0 >/dev/null
[[ -f "$marker" ]] || { echo "the OpenTelemetry SDK did not install" >&2; exit 1; }
