#!/usr/bin/env bash
# Installs the Debian packages Strata builds, tests and benchmarks with.
# Idempotent: packages already present are skipped, so repeated `make` calls stay fast.
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build ccache mold pkg-config clang libclang-rt-14-dev clang-tidy-22 python3
  libboost-dev libsnappy-dev libre2-dev libroaring-dev libxxhash-dev
  zlib1g-dev libzstd-dev liblmdb-dev libsimdjson-dev libcurl4-openssl-dev libssl-dev libmemcached-dev libgrpc++-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# Real peers the integration tests and benchmarks run against.
peer_pkgs=(prometheus prometheus-node-exporter victoria-metrics memcached curl python3 util-linux nodejs
  syslog-ng-core syslog-ng-mod-http chromium)

# What only the benchmarks compare with (bench/logs): not needed by `make test`.
bench_pkgs=(clickhouse-server clickhouse-client zstd ripgrep)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--with-peers" || "${1:-}" == "--with-bench" ]]; then
  want+=("${peer_pkgs[@]}")
fi
if [[ "${1:-}" == "--with-bench" ]]; then
  want+=("${bench_pkgs[@]}")
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# npm may come with a Node.js that is not Debian's; only its absence matters.
if [[ -n "${1:-}" ]] && ! command -v npm >/dev/null; then
  missing+=(npm)
fi
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
