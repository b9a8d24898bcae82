#!/usr/bin/env bash
# tests/cluster/cqlsh_test.sh — Apache cqlsh 6 (unmodified) against a real node: DESCRIBE
# KEYSPACES / KEYSPACE / TABLE / SCHEMA / TABLES print what Cassandra 4 prints, and cqlish
# prints the same (both show the server's DESCRIBE rows).
#
# cqlsh is not part of this repository or of the build machine: the test runs when
# $CQLSH names a cqlsh command (e.g. "python3 -m cqlsh" with PYTHONPATH at a cqlsh 6.1.2
# checkout, see docs/CQL.md) or `cqlsh` is on PATH, and exits 77 (skipped) saying so
# otherwise.  Env: COLONNADE_BIN, CQLISH_BIN, COLONNADE_SRC, COLONNADE_TEST_NET.
set -uo pipefail
# shellcheck source=script_lib.sh
. "$(dirname "$0")/script_lib.sh"

SRC=${COLONNADE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${COLONNADE_BIN:?set COLONNADE_BIN to the colonnade binary}
CQLISH=${CQLISH_BIN:?set CQLISH_BIN to the cqlish binary}
NET=${COLONNADE_TEST_NET:-127.0.0}
ADDR=$NET.23
CQLSH_CMD=${CQLSH:-$(command -v cqlsh || true)}
if [ -z "$CQLSH_CMD" ]; then
	echo "cqlsh_test: SKIPPED: no cqlsh here (set CQLSH to a cqlsh 6 command to run it)"
	exit 77
fi
if ! $CQLSH_CMD --version >/dev/null 2>&1; then
	echo "cqlsh_test: SKIPPED: '$CQLSH_CMD --version' fails (not a working cqlsh)"
	exit 77
fi
echo "cqlsh: $CQLSH_CMD ($($CQLSH_CMD --version 2>&1))"

TMP=$(mktemp -d /tmp/cqlsh-test.XXXXXX)
NODE_PID=""
cleanup() {
	[ -n "$NODE_PID" ] && stop_pids 5 "$NODE_PID"
	rm -rf "$TMP"
}
trap cleanup EXIT

"$BIN" server --listen_address="$ADDR" --seeds="$ADDR" --cluster_name='cqlsh test' \
	--data_file_directories="$TMP/data" >"$TMP/node.log" 2>&1 &
NODE_PID=$!
for _ in $(seq 300); do
	(exec 3<>"/dev/tcp/$ADDR/9042") 2>/dev/null && break
	kill -0 "$NODE_PID" 2>/dev/null || { echo "the node exited:"; tail -30 "$TMP/node.log"; exit 1; }
	sleep 0.1
done

FAILED=0
CASE=$SRC/tests/cluster/cqlsh/describe.cql
# The session creates its schema, describes it and drops it again: cqlsh runs it, then
# cqlish runs it on the same node.
(cd "$TMP" && HOME=$TMP $CQLSH_CMD "$ADDR" 9042 -f "$CASE") >"$TMP/cqlsh.out" 2>&1
(cd "$TMP" && HOME=$TMP "$CQLISH" "$ADDR" 9042 -f "$CASE") >"$TMP/cqlish.out" 2>&1
# Error lines name the file and a line (cqlsh counts one further) and cqlish prints its
# exit status: the rest must be byte for byte the same.
norm() { sed -e 's/^[^ :]*\.cql:[0-9]*://' -e "s/${ADDR//./\\.}/ADDR/g" -e '/^\[exit [0-9]*\]$/d' "$1"; }
if diff <(norm "$TMP/cqlsh.out") "$SRC/tests/cluster/cqlsh/describe.expected" >"$TMP/d1"; then
	echo "ok   cqlsh prints the expected DESCRIBE output"
else
	echo "FAIL cqlsh output differs from describe.expected:"; cat "$TMP/d1"; FAILED=1
fi
if diff <(norm "$TMP/cqlsh.out") <(norm "$TMP/cqlish.out") >"$TMP/d2"; then
	echo "ok   cqlish prints what cqlsh prints"
else
	echo "FAIL cqlish differs from cqlsh:"; cat "$TMP/d2"; FAILED=1
fi
exit $FAILED
