#!/usr/bin/env bash
# SELECT JSON / INSERT JSON / toJson / fromJson through Debian's python3-cassandra
# driver against one real node (tests/cluster/py/json_test.py): rows of every type
# round trip through INSERT JSON with bind markers and SELECT JSON, prepared and not,
# and Cassandra's messages for misuse.
#
# Env: COLONNADE_BIN (required), COLONNADE_TEST_NET (default 127.0.0: the node is .91).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cql_node_lib.sh
. "$HERE/cql_node_lib.sh"
/usr/bin/python3 -c 'import cassandra' || { echo "python3-cassandra is not installed (deploy/install-deps.sh)"; exit 1; }
cql_node_start 91
/usr/bin/python3 "$HERE/py/json_test.py" "$CQL_HOST"
