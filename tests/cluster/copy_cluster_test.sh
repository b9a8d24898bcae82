#!/usr/bin/env bash
# tests/cluster/copy_cluster_test.sh — cqlish COPY on a real 3-node cluster:
#
#   1. COPY FROM is token-aware: into an RF 1 table with a composite partition key, every
#      INSERT reaches the row's only replica directly (no node applies a mutation for
#      another coordinator: colonnade_replica_mutations_total stays put), and every row
#      is there;
#   2. COPY TO reads the token ranges in parallel through another node and writes the
#      rows back identical (sorted), with the progress line and summary;
#   3. a node killed during COPY FROM (RF 3, QUORUM): its INSERTs fail, are reported,
#      retried on the rows' other replicas, and every row is imported; COPY TO at QUORUM
#      with the node dead reads its ranges from the other replicas;
#   4. RF 1 with the node dead: its ranges fail MAXATTEMPTS times each, are reported and
#      COPY TO ends with cqlsh's "Exported N ranges out of M total ranges" (exit 2); COPY
#      FROM puts the rows no live replica holds in ERRFILE after MAXATTEMPTS tries.
#
# Env: COLONNADE_BIN, CQLISH_BIN (required), COLONNADE_TEST_NET (default 127.0.0: nodes
# .71-.73), COLONNADE_KEEP=1 keeps the temp directory.  Prints "N passed, M failed".
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TEST=copy_cluster_test
FIRST=71
CQLISH=${CQLISH_BIN:?set CQLISH_BIN to the cqlish binary}
# shellcheck source=py_cluster_lib.sh
. "$HERE/py_cluster_lib.sh"

cluster_start
H1=$NET.$FIRST
H2=$NET.$((FIRST + 1))
H3=$NET.$((FIRST + 2))
W=$ROOT/work
mkdir -p "$W" && cd "$W" || exit 1
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/     /'; return 0; }
q() { local h=$1; shift; "$CQLISH" "$h" --request-timeout 30 -e "$1"; }
# The sum over the live nodes of a counter in /metrics.
metric_sum() {
	local name=$1 h total=0 v
	shift
	for h in "$@"; do
		v=$(curl -sf "http://$h:7199/metrics" | awk -v n="$name" '$1 == n { print $2 }')
		total=$(awk -v a="$total" -v b="${v:-0}" 'BEGIN { print a + b }')
	done
	echo "$total"
}

q "$H1" "CREATE KEYSPACE k1 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};
   CREATE KEYSPACE k3 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3};
   CREATE TABLE k1.t (a int, b text, c int, v text, PRIMARY KEY ((a, b), c));
   CREATE TABLE k3.t (a int, b text, c int, v text, PRIMARY KEY ((a, b), c));" ||
	{ echo "schema failed"; exit 1; }

ROWS=6000
/usr/bin/python3 -c "
for i in range($ROWS):
    print('%d,k%d,%d,\"v %d, with a comma\"' % (i // 3, i % 7, i % 3, i))" >in.csv

# ---- 1. token-aware COPY FROM ----------------------------------------------------------------
before=$(metric_sum colonnade_replica_mutations_total "$H1" "$H2" "$H3")
out=$(q "$H1" "COPY k1.t (a, b, c, v) FROM 'in.csv'" 2>&1)
after=$(metric_sum colonnade_replica_mutations_total "$H1" "$H2" "$H3")
if grep -q "^$ROWS rows imported from 1 files in [0-9.]* seconds (0 skipped)\.$" <<<"$out" &&
	[ "$before" = "$after" ]; then
	pass "COPY FROM RF 1: $ROWS rows, each sent to its replica (replica mutations $before -> $after)"
else
	fail "token-aware COPY FROM (replica mutations $before -> $after)" "$out"
fi

# ---- 2. COPY TO by token ranges through another node -----------------------------------------
out=$(q "$H2" "COPY k1.t (a, b, c, v) TO 'out.csv' WITH PAGESIZE = 100 AND NUMPROCESSES = 4" 2>&1)
if grep -q "^$ROWS rows exported to 1 files in [0-9.]* seconds\.$" <<<"$out" &&
	grep -q "^Processed: $ROWS rows; Rate: *[0-9]* rows/s; Avg. rate: *[0-9]* rows/s$" <<<"$out" &&
	cmp -s <(LC_ALL=C sort in.csv) <(LC_ALL=C sort out.csv); then
	pass "COPY TO through node 2: every row back, identical (sorted)"
else
	fail "COPY TO round trip" "$out
$(diff <(LC_ALL=C sort in.csv) <(LC_ALL=C sort out.csv) | head -6)"
fi

# ---- 3. a replica dies during COPY FROM (RF 3) -------------------------------------------------
# INGESTRATE makes the import last at least 6 s.  Once the first progress line shows rows
# went in, node 3 is frozen (SIGSTOP): the INSERTs routed to it stay in flight; a second
# later it is killed, so they fail on the lost connection and must be retried elsewhere.
# Both COPYs run at QUORUM: at ONE a write node 3 coordinated, applied and acknowledged
# just before the SIGSTOP may not have left its outbound queue, and is then on node 3
# alone (Cassandra's promise for ONE too); at QUORUM every acknowledged row is on node 1
# or node 2, and a QUORUM read with node 3 dead asks both.
"$CQLISH" "$H1" --consistency QUORUM --request-timeout 60 -e "COPY k3.t (a, b, c, v) FROM 'in.csv' WITH INGESTRATE = 1000 AND ERRFILE = 'k3.err'" >kill.out 2>&1 &
cq=$!
for _ in $(seq 600); do
	grep -q '^Processed: [1-9]' kill.out && break
	kill -0 "$cq" 2>/dev/null || break
	sleep 0.1
done
P3=$(cat "$ROOT/node3/pid")
kill -STOP "$P3"
sleep 1
kill -KILL "$P3"
rm -f "$ROOT/node3/pid"
wait "$cq"
rc=$?
out=$(cat kill.out)
if [ $rc -eq 0 ] && grep -q "^$ROWS rows imported from 1 files in [0-9.]* seconds (0 skipped)\.$" <<<"$out" &&
	grep -q "will retry, attempt 2 of 5" <<<"$out" && [ ! -s k3.err ]; then
	pass "node 3 killed during COPY FROM: its INSERTs reported, retried elsewhere, all $ROWS rows in"
else
	fail "COPY FROM with a replica killed (rc $rc)" "$out"
fi
for _ in $(seq 300); do # node 1 sees node 3 down
	node_env "$BIN" status -h "$H1" 2>/dev/null | grep -q "^DN .*$H3\b" && break
	sleep 0.2
done
out=$("$CQLISH" "$H1" --consistency QUORUM --request-timeout 30 -e "COPY k3.t (a, b, c, v) TO 'k3.csv' WITH PAGESIZE = 500" 2>&1)
if grep -q "^$ROWS rows exported to 1 files in [0-9.]* seconds\.$" <<<"$out" &&
	cmp -s <(LC_ALL=C sort in.csv) <(LC_ALL=C sort k3.csv); then
	pass "COPY TO with node 3 dead (RF 3): its ranges read from the other replicas"
else
	fail "COPY TO with a dead replica" "$out"
fi

# ---- 4. RF 1 with a dead node: failures reported -------------------------------------------------
out=$(q "$H1" "COPY k1.t (a, b, c, v) TO 'part.csv' WITH MAXATTEMPTS = 2" 2>&1)
rc=$?
got=$(wc -l <part.csv)
if [ $rc -eq 2 ] && grep -q "failed 2 times, giving up: " <<<"$out" &&
	grep -q "Exported [0-9]* ranges out of [0-9]* total ranges, some records might be missing" <<<"$out" &&
	grep -q "^$got rows exported to 1 files" <<<"$out" && [ "$got" -gt 0 ] && [ "$got" -lt $ROWS ]; then
	pass "COPY TO RF 1 with node 3 dead: its ranges given up after MAXATTEMPTS, reported ($got rows)"
else
	fail "COPY TO with lost ranges (rc $rc, $got rows)" "$out"
fi
/usr/bin/python3 -c "
for i in range(300):
    print('%d,z%d,0,x' % (100000 + i, i))" >lost.csv
out=$(q "$H1" "COPY k1.t (a, b, c, v) FROM 'lost.csv' WITH MAXATTEMPTS = 2 AND ERRFILE = 'lost.err'" 2>&1)
rc=$?
n_err=$(wc -l <lost.err 2>/dev/null || echo 0)
if [ $rc -eq 2 ] && [ "$n_err" -gt 0 ] && [ "$n_err" -lt 300 ] &&
	grep -q "InsertError - " <<<"$out" &&
	grep -q "^$((300 - n_err)) rows imported from 1 files in [0-9.]* seconds ($n_err skipped)\.$" <<<"$out"; then
	pass "COPY FROM RF 1 with node 3 dead: $n_err rows of node 3 to ERRFILE after MAXATTEMPTS"
else
	fail "COPY FROM with no live replica (rc $rc, $n_err in ERRFILE)" "$out"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && RC=0
exit "$RC"
