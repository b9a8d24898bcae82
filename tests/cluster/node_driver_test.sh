#!/usr/bin/env bash
# Acceptance with a real driver: npm's cassandra-driver (version pinned in
# tests/cluster/node/package-lock.json, installed here at test time into
# tests/cluster/node/node_modules), unmodified, against a node this script starts.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cql_node_lib.sh
. "$HERE/cql_node_lib.sh"
command -v node >/dev/null && command -v npm >/dev/null || { echo "nodejs/npm missing (deploy/install-deps.sh)"; exit 1; }
node_driver_ready
cql_node_start 32
node "$HERE/node/driver_test.js"
