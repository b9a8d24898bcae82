#!/usr/bin/env bash
# tests/cluster/copy_bench.sh — cqlish COPY FROM / COPY TO of a large CSV on a 3-node
# cluster, two cqlish binaries measured pairwise in one sitting (A, B, A, B ...), so a
# shared machine's load hits both alike.  Not a test (ctest does not run it); the figures
# in docs/BENCHMARKS.md "cqlish COPY" come from it.
#
#   COPY_CSV=/tmp/big1m.csv CQLISH_A=old/cqlish CQLISH_B=build/cli/cqlish \
#   COLONNADE_BIN=build/cli/colonnade COLONNADE_TEST_NET=127.0.34 tests/cluster/copy_bench.sh
#
# The CSV has rows of (pk int, ck int, name text, v double, ts timestamp, u uuid), as
# docs/BENCHMARKS.md generates it.  Env: RF (3), PAIRS (2).  Each run loads a fresh table
# through node 1, exports it through node 1, checks the export (sorted) against the input
# (sorted), drops the table, and prints its summary lines and cqlish's CPU time.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TEST=copy_bench
FIRST=91
CSV=${COPY_CSV:?set COPY_CSV to the CSV to load}
A=${CQLISH_A:?set CQLISH_A to the first cqlish binary}
B=${CQLISH_B:?set CQLISH_B to the second cqlish binary}
RF=${RF:-3}
PAIRS=${PAIRS:-2}
# shellcheck source=py_cluster_lib.sh
. "$HERE/py_cluster_lib.sh"

cluster_start
H1=$NET.$FIRST
"$B" "$H1" --request-timeout 60 -e "CREATE KEYSPACE bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': $RF}" ||
	exit 1
LC_ALL=C sort "$CSV" >"$ROOT/in.sorted"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
run() { # label binary n
	local label=$1 bin=$2 n=$3 t=copy_$1_$3 out
	"$bin" "$H1" --request-timeout 60 -e "CREATE TABLE bench.$t (pk int, ck int, name text, v double, ts timestamp, u uuid, PRIMARY KEY (pk, ck))" || return 1
	out=$( { /usr/bin/time -f "cqlish CPU %U s user %S s sys" "$bin" "$H1" --request-timeout 60 -e \
		"COPY bench.$t (pk, ck, name, v, ts, u) FROM '$CSV'" | grep -v '^Processed'; } 2>&1)
	echo "$label run $n FROM: $(tr '\n' ' ' <<<"$out")"
	out=$( { /usr/bin/time -f "cqlish CPU %U s user %S s sys" "$bin" "$H1" --request-timeout 60 -e \
		"COPY bench.$t (pk, ck, name, v, ts, u) TO '$ROOT/out.csv'" | grep -v '^Processed'; } 2>&1)
	echo "$label run $n TO:   $(tr '\n' ' ' <<<"$out")"
	if LC_ALL=C sort "$ROOT/out.csv" | cmp -s - "$ROOT/in.sorted"; then
		echo "$label run $n: export identical to the input (sorted)"
	else
		echo "$label run $n: EXPORT DIFFERS from the input"
	fi
	rm -f "$ROOT/out.csv"
	"$bin" "$H1" --request-timeout 60 -e "DROP TABLE bench.$t"
	echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}
for n in $(seq 1 "$PAIRS"); do
	run A "$A" "$n"
	run B "$B" "$n"
done
RC=0
