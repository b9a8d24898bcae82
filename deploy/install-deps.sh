#!/usr/bin/env bash
# Installs what Colonnade needs to build, test and benchmark, from Debian 12's
# packages only.  Idempotent; needs root (or sudo).  Used by the README's two
# commands and by .ci/run.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
PKGS=(
  build-essential cmake pkg-config git clang
  librocksdb-dev libev-dev libmsgpack-dev libzstd-dev libcriterion-dev
  libyaml-dev libxxhash-dev libedit-dev libmicrohttpd-dev
  python3 python3-cassandra nftables iproute2 tmux procps curl
)
# Node.js: this machine image may carry its own build (with npm bundled), which
# conflicts with Debian's npm package; install Debian's only when missing.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)
if [ "${1:-}" = "--bench" ]; then
  PKGS+=(rocksdb-tools redis-server redis-tools etcd-server etcd-client wrk gnuplot-nox)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
