#!/usr/bin/env bash
# Installs what Colonnade needs to build and test (and, with --bench, to
# benchmark), from Debian 12's packages only.  Idempotent; needs root (or
# sudo).  Used by the README's two commands, deploy/test.sh and .ci/run.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# Building: compiler, CMake, the libraries we link.
PKGS=(
  build-essential cmake pkg-config git
  librocksdb-dev libev-dev libmsgpack-dev libzstd-dev libcriterion-dev
  libyaml-dev libxxhash-dev libedit-dev libmicrohttpd-dev libssl-dev libsodium-dev
)
# Testing (deploy/test.sh): every program a test runs.
#   clang + libclang-rt-dev   the libFuzzer smoke (tests/fuzz: -fsanitize=fuzzer needs the runtime,
#                             which clang only recommends)
#   python3 python3-cassandra py_driver_test, discovery_test, test_getendpoints, bench_test (JSON)
#   nodejs npm ca-certificates node_driver_test, discovery_test (npm ci fetches cassandra-driver
#                             over TLS)
#   nftables                  partitions in the cluster tests (harness/cluster.c)
#   iproute2 (ss) procps      bench_test waits for listeners; node processes from /proc
#   tmux                      cqlish_test drives the interactive shell in a terminal
#   curl                      bench_test reads /metrics
#   gnuplot-nox               bench_test: `colonnade bench --plot` runs gnuplot
#   docker.io docker-compose  compose_test: Debian's engine (20.10) and compose (1.29), no pulls
#   openssl                   tls_test, tls_internode_test, compose_test: test certificates made at run time
PKGS+=(
  clang libclang-rt-dev python3 python3-cassandra ca-certificates nftables iproute2 procps tmux
  curl gnuplot-nox docker.io docker-compose openssl
)
# Node.js: this machine image may carry its own build (with npm bundled), which
# conflicts with Debian's npm package; install Debian's only when missing.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)
# Benchmarking (deploy/bench/): the systems we compare against and the load generator.
if [ "${1:-}" = "--bench" ]; then
  PKGS+=(rocksdb-tools redis-server redis-tools etcd-server etcd-client wrk)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Installing ca-certificates rebuilds /etc/ssl/certs/ca-certificates.crt from its own list;
# certificates this machine already trusted there (a proxy's CA placed by hand) would be
# dropped and TLS through that proxy (npm) would fail.  They are kept as a local
# certificate, which the rebuild includes.
BUNDLE=/etc/ssl/certs/ca-certificates.crt
KEPT=/usr/local/share/ca-certificates/preinstalled-bundle.crt
if [[ " ${missing[*]:-} " == *" ca-certificates "* ]] && [ -s "$BUNDLE" ] && [ ! -e "$KEPT" ]; then
  echo "install-deps: keeping the certificates of $BUNDLE in $KEPT"
  $SUDO mkdir -p "$(dirname "$KEPT")"
  $SUDO cp "$BUNDLE" "$KEPT"
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
