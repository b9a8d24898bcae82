#!/usr/bin/env bash
# tests/cluster/copy_test.sh — cqlish COPY TO / COPY FROM against a real node.
#
#   1. a generated CSV (tests/cluster/py/copy_gen.py: every column type, NULLs, empty
#      text, quotes, commas, backslashes, newlines in text) goes in with COPY FROM and
#      comes back byte-identical (rows sorted) with COPY TO;
#   2. the same through other options (HEADER, DELIMITER, NULL, PAGESIZE) into a second
#      table and back;
#   3. MAXROWS, INGESTRATE (the import takes at least rows / rate seconds);
#   4. bad input: wrong field counts, values that do not fit, a torn quoted last line —
#      each reported with its line, the good rows loaded, the bad ones in ERRFILE, the
#      summary counts them as skipped; MAXPARSEERRORS stops an import;
#   5. failed inserts (consistency TWO on a single replica: Unavailable) are retried
#      MAXATTEMPTS times, then go to the error file; MAXINSERTERRORS stops the import.
#
# Env: COLONNADE_BIN, CQLISH_BIN, COLONNADE_TEST_NET.  Prints "N passed, M failed".
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cql_node_lib.sh
. "$HERE/cql_node_lib.sh"
CQLISH=${CQLISH_BIN:?set CQLISH_BIN to the cqlish binary}
cql_node_start 61 || exit 1
W=$CQL_DATA/copy
mkdir -p "$W"
cd "$W" || exit 1
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/     /'; return 0; }
q() { "$CQLISH" "$CQL_HOST" --request-timeout 30 -e "$1"; }
COLS="id, a, bi, b, bo, d, dec, db, du, f, ip, si, t, tm, ts, tu, ti, u, vi, l, s, m, tp"
TYPES="id int PRIMARY KEY, a ascii, bi bigint, b blob, bo boolean, d date, dec decimal, db double, du duration, f float, ip inet, si smallint, t text, tm time, ts timestamp, tu timeuuid, ti tinyint, u uuid, vi varint, l list<text>, s set<int>, m map<text, frozen<list<int>>>, tp tuple<int, text, timestamp>"
q "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};
   CREATE TABLE ks.t1 ($TYPES); CREATE TABLE ks.t2 ($TYPES);
   CREATE TABLE ks.t3 (k int PRIMARY KEY, v text);
   CREATE KEYSPACE ks2 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 2};
   CREATE TABLE ks2.t (k int PRIMARY KEY, v text);" || { echo "schema failed"; exit 1; }

# ---- 1. round trip --------------------------------------------------------------------------
ROWS=3000
/usr/bin/python3 "$HERE/py/copy_gen.py" in.csv $ROWS
out=$(q "COPY ks.t1 ($COLS) FROM 'in.csv' WITH CHUNKSIZE = 100 AND MAXREQUESTS = 64" 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -q "^$ROWS rows imported from 1 files in [0-9.]* seconds (0 skipped)\.$" <<<"$out" &&
	grep -q "^Processed: $ROWS rows; Rate: *[0-9]* rows/s; Avg. rate: *[0-9]* rows/s$" <<<"$out"; then
	pass "COPY FROM $ROWS rows: progress line and summary"
else
	fail "COPY FROM $ROWS rows (rc $rc)" "$out"
fi
out=$(q "COPY ks.t1 ($COLS) TO 'out.csv' WITH PAGESIZE = 250" 2>&1)
if grep -q "^$ROWS rows exported to 1 files in [0-9.]* seconds\.$" <<<"$out" &&
	cmp -s <(LC_ALL=C sort in.csv) <(LC_ALL=C sort out.csv); then
	pass "COPY TO writes the imported file back byte-identical (sorted)"
else
	fail "COPY TO round trip" "$out
$(diff <(LC_ALL=C sort in.csv) <(LC_ALL=C sort out.csv) | head -8)"
fi
n=$(q "SELECT count(*) FROM ks.t1 WHERE t = 'two
lines' ALLOW FILTERING" 2>/dev/null | sed -n 4p | tr -d ' ')
[ "$n" = "$(/usr/bin/python3 -c "print(sum(1 for i in range($ROWS) if i % 7 != 3 and i % 11 == 3))")" ] &&
	pass "a newline inside text arrives as a newline ($n rows)" || fail "newline rows: got '$n'"

# ---- 2. other options -------------------------------------------------------------------------
out=$(q "COPY ks.t1 TO 'hdr.csv' WITH HEADER = true AND DELIMITER = '|' AND NULL = 'null' AND PAGESIZE = 7" 2>&1)
head -1 hdr.csv | grep -q '^id|a|b|bi|bo|d|db|dec|du|f|ip|l|m|s|si|t|ti|tm|tp|ts|tu|u|vi$' &&
	pass "HEADER writes the column names with DELIMITER" || fail "header line" "$(head -2 hdr.csv)"
grep -q '^3|null|null|' hdr.csv && grep -q '|"null"|' hdr.csv &&
	pass "NULL = 'null': nulls unquoted, the text 'null' quoted" || fail "NULL option" "$(grep -m2 '^3|\|null' hdr.csv)"
out=$(q "COPY ks.t2 FROM 'hdr.csv' WITH HEADER = true AND DELIMITER = '|' AND NULL = 'null';
         COPY ks.t2 TO 'hdr2.csv' WITH HEADER = true AND DELIMITER = '|' AND NULL = 'null'" 2>&1)
cmp -s <(LC_ALL=C sort hdr.csv) <(LC_ALL=C sort hdr2.csv) &&
	pass "HEADER/DELIMITER/NULL round trip through a second table" ||
	fail "options round trip" "$out"

# ---- 3. MAXROWS, INGESTRATE -----------------------------------------------------------------
out=$(q "COPY ks.t1 TO 'max.csv' WITH MAXROWS = 10 AND PAGESIZE = 3" 2>&1)
[ "$(/usr/bin/python3 -c 'import csv; print(sum(1 for _ in csv.reader(open("max.csv"))))')" = 10 ] && grep -q '^10 rows exported' <<<"$out" &&
	pass "MAXROWS = 10 exports 10 rows" || fail "MAXROWS" "$out"
for i in $(seq 1 600); do echo "$i,v$i"; done >rate.csv
start=$(date +%s.%N)
out=$(q "COPY ks.t3 (k, v) FROM 'rate.csv' WITH INGESTRATE = 300" 2>&1)
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
if grep -q '^600 rows imported' <<<"$out" && awk -v s="$secs" 'BEGIN { exit !(s >= 1.8) }'; then
	pass "INGESTRATE = 300: 600 rows took ${secs}s"
else
	fail "INGESTRATE (${secs}s)" "$out"
fi

# ---- 4. bad input -----------------------------------------------------------------------------
printf '%s\n' '1,one' '2,two,extra' 'x,bad int' '4,"quoted, ok"' '5' '6,"six' 'still six"' \
	'7,"torn and never closed' >bad.csv
out=$(q "COPY ks.t3 (k, v) FROM 'bad.csv' WITH ERRFILE = 'bad.err'" 2>&1)
rc=$?
exp_err=$'2,two,extra\nx,bad int\n5\n7,"torn and never closed'
if [ $rc -eq 2 ] && grep -q '^3 rows imported from 1 files in [0-9.]* seconds (4 skipped)\.$' <<<"$out" &&
	grep -q 'line 2 of bad.csv: ParseError - expected 2 fields, got 3' <<<"$out" &&
	grep -q 'line 3 of bad.csv: ParseError - column k' <<<"$out" &&
	grep -q 'line 8 of bad.csv: ParseError - line 8: unterminated quoted field' <<<"$out" &&
	[ "$(cat bad.err)" = "$exp_err" ]; then
	pass "bad rows: reported with their line, kept in ERRFILE, good rows loaded"
else
	fail "bad rows (rc $rc)" "$out
--- bad.err:
$(cat bad.err 2>&1)"
fi
v=$(q "SELECT v FROM ks.t3 WHERE k = 6" | sed -n 4p | sed 's/^ *//')
[ "$v" = 'six\nstill six' ] && pass "a quoted field across lines" || fail "multi-line field: '$v'"
out=$(q "COPY ks.t3 (k, v) FROM 'bad.csv' WITH MAXPARSEERRORS = 1 AND ERRFILE = 'bad2.err'" 2>&1)
grep -q 'Exceeded maximum number of parse errors 1' <<<"$out" && [ "$(wc -l <bad2.err)" -le 3 ] &&
	pass "MAXPARSEERRORS = 1 stops the import" || fail "MAXPARSEERRORS" "$out"
out=$(q "COPY ks.t3 (k, nope) FROM 'rate.csv'" 2>&1)
grep -q 'Undefined column name nope\|nope' <<<"$out" && ! grep -q 'rows imported' <<<"$out" &&
	pass "an unknown column is refused before reading" || fail "unknown column" "$out"
out=$(q "COPY ks.t3 FROM 'no/such/file.csv'" 2>&1)
grep -q 'cannot open no/such/file.csv: No such file or directory' <<<"$out" &&
	pass "a missing file is named" || fail "missing file" "$out"
out=$(q "COPY ks.nope TO 'nope.csv'" 2>&1)
rc=$?
[ $rc -eq 2 ] && [ "$out" = '<stdin>:1:InvalidRequest: Error from server: code=2200 [Invalid query] message="unconfigured table nope"' ] &&
	pass "COPY TO of an unknown table: the server's error only, exit 2" || fail "unknown table (rc $rc)" "$out"
out=$(q "COPY ks.t3 FROM 'rate.csv' WITH BOGUS = 1" 2>&1)
grep -q 'Unrecognized COPY FROM options: BOGUS' <<<"$out" && pass "unknown option refused" ||
	fail "unknown option" "$out"

# ---- 5. failed inserts ------------------------------------------------------------------------
for i in $(seq 1 20); do echo "$i,v$i"; done >few.csv
out=$("$CQLISH" "$CQL_HOST" -e "CONSISTENCY TWO; COPY ks2.t (k, v) FROM 'few.csv' WITH MAXATTEMPTS = 2 AND MAXINSERTERRORS = 3 AND MAXREQUESTS = 1 AND ERRFILE = 'ins.err'" 2>&1)
if grep -q 'InsertError - Unavailable: ' <<<"$out" &&
	grep -q 'Exceeded maximum number of insert errors 3' <<<"$out" &&
	grep -q '^0 rows imported from 1 files in [0-9.]* seconds (4 skipped)\.$' <<<"$out" &&
	[ "$(cat ins.err)" = $'1,v1\n2,v2\n3,v3\n4,v4' ]; then
	pass "Unavailable inserts retried, then to ERRFILE; MAXINSERTERRORS stops"
else
	fail "failed inserts" "$out
--- ins.err:
$(cat ins.err 2>&1)"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
