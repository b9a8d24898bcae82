#!/usr/bin/env bash
# The docker-compose acceptance scenario (deploy/docker-compose.yml, 2 DCs x 3
# nodes): tests/cluster/py/compose_test.py drives it with the python driver.
#
# This script provides the engine.  It installs Debian's docker.io and
# docker-compose when missing, uses a running engine ($DOCKER_HOST or
# /var/run/docker.sock) or else starts its own dockerd with its data and exec
# roots under a temporary folder (no docker0: --bridge=none), builds the
# offline FROM scratch image from this build, runs the scenario, and on exit
# removes everything it made: the compose project (containers, network,
# volumes), the image, and, if it started dockerd, dockerd itself (by pid),
# its folders, the nftables tables and the ip_forward setting it changed.
#
# Where no engine can run here (no root, no kernel support, no package) it
# prints one line saying why and exits 77, which ctest reports as SKIPPED.
# Runs one at a time per machine (flock on /tmp/colonnade-compose-test.lock).
#
# Env: COLONNADE_TEST_NET (addresses the published CQL ports bind to, and the
# compose subnet), COLONNADE_SRC, COLONNADE_BIN (…/cli/colonnade of the build
# to pack), COLONNADE_KEEP=1 (leave the project running for a look).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${COLONNADE_SRC:-$(cd "$HERE/../.." && pwd)}
BIN=${COLONNADE_BIN:-$SRC/build/cli/colonnade}
BUILD=$(cd "$(dirname "$BIN")/.." && pwd)
NET=${COLONNADE_TEST_NET:-127.0.0}
OCT=${NET##*.}
SKIP=77
DOCKER=/usr/bin/docker
COMPOSE=/usr/bin/docker-compose
PROJECT="colonnadetest${OCT}"
IMAGE="colonnade:compose-test-${OCT}"
OWN_DOCKERD=""
NFT_BEFORE=""
FWD_BEFORE=""
DOCKER0_BEFORE=""

skip() {
  echo "compose_test: SKIPPED: $*"
  exit $SKIP
}
log() { echo "compose_test: $*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  sudo -n true 2>/dev/null || skip "needs root (or passwordless sudo) to install and run Docker"
  SUDO="sudo -n"
fi

TMP=$(mktemp -d /tmp/colonnade-compose.XXXXXX)

compose() {
  $COMPOSE -p "$PROJECT" -f "$SRC/deploy/docker-compose.yml" -f "$TMP/override.yml" "$@"
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "${COLONNADE_KEEP:-0}" = 1 ] && [ $rc -ne $SKIP ]; then
    log "COLONNADE_KEEP=1: project $PROJECT left running (DOCKER_HOST=${DOCKER_HOST:-})"
    exit $rc
  fi
  if [ -n "${DOCKER_HOST:-}" ] && $DOCKER info >/dev/null 2>&1; then
    compose down -v --remove-orphans --timeout 5 >/dev/null 2>&1
    $DOCKER image rm -f "$IMAGE" >/dev/null 2>&1
    local left
    left=$($DOCKER ps -aq --filter "label=com.docker.compose.project=$PROJECT";
           $DOCKER volume ls -q --filter "label=com.docker.compose.project=$PROJECT";
           $DOCKER network ls -q --filter "label=com.docker.compose.project=$PROJECT")
    if [ -n "$left" ]; then
      log "FAIL: down -v left behind: $(echo $left)"
      rc=1
    fi
  fi
  $SUDO nft delete table bridge "colonnade_compose_cut_${OCT}" 2>/dev/null
  stop_own_dockerd
  $SUDO rm -rf "$TMP" 2>/dev/null
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

install_docker() {
  local missing=()
  [ -x $DOCKER ] && command -v dockerd >/dev/null || missing+=(docker.io)
  [ -x $COMPOSE ] || missing+=(docker-compose)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      --no-install-recommends "${missing[@]}"; } >"$TMP/apt.log" 2>&1; then
    skip "cannot install ${missing[*]}: $(tail -1 "$TMP/apt.log")"
  fi
}

# The engine: one that runs, or our own.
start_engine() {
  if [ -n "${DOCKER_HOST:-}" ] && $DOCKER info >/dev/null 2>&1; then
    log "using the engine at $DOCKER_HOST"
    return 0
  fi
  if [ -S /var/run/docker.sock ] && DOCKER_HOST=unix:///var/run/docker.sock $DOCKER info >/dev/null 2>&1; then
    export DOCKER_HOST=unix:///var/run/docker.sock
    log "using the engine at $DOCKER_HOST"
    return 0
  fi
  NFT_BEFORE=$($SUDO nft list tables 2>/dev/null)
  FWD_BEFORE=$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null)
  ip link show docker0 >/dev/null 2>&1 && DOCKER0_BEFORE=1
  mkdir -p "$TMP/dk/data" "$TMP/dk/exec"
  export DOCKER_HOST="unix://$TMP/dk/docker.sock"
  $SUDO dockerd --host "$DOCKER_HOST" --data-root "$TMP/dk/data" --exec-root "$TMP/dk/exec" \
    --pidfile "$TMP/dk/dockerd.pid" --bridge=none >"$TMP/dk/dockerd.log" 2>&1 &
  OWN_DOCKERD=$!
  for _ in $(seq 1 150); do
    $DOCKER info >/dev/null 2>&1 && break
    kill -0 "$OWN_DOCKERD" 2>/dev/null || break
    sleep 0.2
  done
  if ! $DOCKER info >/dev/null 2>&1; then
    local why
    why=$(grep -iE "level=(fatal|error)" "$TMP/dk/dockerd.log" | tail -1 | sed 's/.*msg="\([^"]*\)".*/\1/')
    skip "dockerd does not start here: ${why:-no answer in 30 s}"
  fi
  log "started dockerd (pid $OWN_DOCKERD) under $TMP/dk"
}

stop_own_dockerd() {
  [ -n "$OWN_DOCKERD" ] || return 0
  $SUDO kill "$OWN_DOCKERD" 2>/dev/null
  for _ in $(seq 1 100); do
    kill -0 "$OWN_DOCKERD" 2>/dev/null || break
    sleep 0.2
  done
  kill -0 "$OWN_DOCKERD" 2>/dev/null && $SUDO kill -9 "$OWN_DOCKERD" 2>/dev/null
  # Mounts the engine may have left under its roots (overlay, shm, netns).
  grep -o " $TMP/dk[^ ]*" /proc/mounts | sort -r | while read -r m; do $SUDO umount -l "$m" 2>/dev/null; done
  # Tables the engine made: iptables-nft's ip/ip6 nat and filter, when they were not
  # there before.  Other tables (other tests' partitions) are not ours to touch.
  local t
  for t in "table ip nat" "table ip filter" "table ip6 nat" "table ip6 filter"; do
    grep -qxF "$t" <<<"$NFT_BEFORE" && continue
    $SUDO nft list tables 2>/dev/null | grep -qxF "$t" && $SUDO nft delete $t 2>/dev/null
  done
  if [ -n "$FWD_BEFORE" ] && [ "$(cat /proc/sys/net/ipv4/ip_forward)" != "$FWD_BEFORE" ]; then
    echo "$FWD_BEFORE" | $SUDO tee /proc/sys/net/ipv4/ip_forward >/dev/null
  fi
  [ -n "$DOCKER0_BEFORE" ] || { ip link show docker0 >/dev/null 2>&1 && $SUDO ip link delete docker0 2>/dev/null; }
  local after
  after=$($SUDO nft list tables 2>/dev/null | grep -E '^table ip6? (nat|filter)$')
  [ "$after" = "$(grep -E '^table ip6? (nat|filter)$' <<<"$NFT_BEFORE")" ] ||
    log "WARNING: the ip/ip6 nat and filter tables differ from before: $(echo $after)"
  OWN_DOCKERD=""
}

# One compose test per machine at a time: two engines would share the host's
# nftables tables and ip_forward, and each would undo the other's on exit.
exec 9>/tmp/colonnade-compose-test.lock
if ! flock -w 900 9; then
  log "FAIL: another compose test held /tmp/colonnade-compose-test.lock for 15 minutes"
  exit 1
fi
install_docker
start_engine
"$SRC/deploy/docker/build-offline-image.sh" -b "$BUILD" -t "$IMAGE" || exit 1

# The subnet is fixed so that a DC cut off with `docker network disconnect`
# is connected back at its own addresses (--ip needs a configured subnet).
cat >"$TMP/override.yml" <<EOF
version: "2.4"
networks:
  colonnade:
    ipam:
      config:
        - subnet: 172.31.${OCT}.0/24
EOF
export COLONNADE_IMAGE="$IMAGE" DC1_CQL="$NET.250:9042" DC2_CQL="$NET.251:9042"
# The nodes' admin token (docker-compose.yml passes it in); compose_test.py sends it for /v1/dump.
COLONNADE_ADMIN_TOKEN=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
export COLONNADE_ADMIN_TOKEN
# Everything secured from the environment (docs/DOCKER.md "TLS"): clients over TLS, nodes over
# mutual TLS with the internode secret too; certificates made now, removed with $TMP.
"$SRC/deploy/docker/make-tls.sh" "$TMP/tls" >/dev/null || exit 1
COLONNADE_INTERNODE_AUTHENTICATOR_SECRET=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
export COLONNADE_TLS_DIR="$TMP/tls" COLONNADE_CLIENT_TLS=true COLONNADE_INTERNODE_ENCRYPTION=all \
  COLONNADE_INTERNODE_AUTHENTICATOR_SECRET COMPOSE_CA="$TMP/tls/ca.pem"
export COMPOSE_PROJECT="$PROJECT" COMPOSE_FILES="$SRC/deploy/docker-compose.yml:$TMP/override.yml"
export DOCKER_BIN=$DOCKER COMPOSE_BIN=$COMPOSE CUT_TABLE="colonnade_compose_cut_${OCT}" NFT_CMD="$SUDO nft"
/usr/bin/python3 -c 'import cassandra' 2>/dev/null || { log "FAIL: python3-cassandra is not installed (deploy/install-deps.sh)"; exit 1; }
/usr/bin/python3 "$HERE/py/compose_test.py"
