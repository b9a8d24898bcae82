#!/usr/bin/env bash
# tests/cluster/cqlish_test.sh — cqlish end to end against a real node.
#
# Starts one `colonnade server` on ${COLONNADE_TEST_NET:-127.0.0}.21 with a
# temporary data directory (always stopped and removed at exit), then:
#   1. runs every tests/cluster/cqlish/NN_*.cql with `cqlish -f` and compares
#      stdout+stderr and the exit status with NN_*.expected (the node address
#      is written ADDR there).  A case whose first lines say
#      "-- cqlish-test: sleep-before=N" runs N seconds after the previous one
#      (TTL expiry).
#   2. checks the command line: -e, -k, --consistency, piped stdin, exit
#      statuses, the connection-refused message;
#   3. drives an interactive session under tmux (send-keys / capture-pane):
#      prompt, tab completion of keyspaces, tables, keywords and levels,
#      multi-line statements, ---MORE--- paging, colours, Ctrl-C, history.
#
# Env: COLONNADE_BIN, CQLISH_BIN (required), COLONNADE_SRC (source tree),
#      CQLISH_TEST_UPDATE=1 rewrites the .expected files from this run.
# Prints "N passed, M failed" and exits non-zero on any failure.
set -uo pipefail
# shellcheck source=script_lib.sh
. "$(dirname "$0")/script_lib.sh"

SRC=${COLONNADE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${COLONNADE_BIN:?set COLONNADE_BIN to the colonnade binary}
CQLISH=${CQLISH_BIN:?set CQLISH_BIN to the cqlish binary}
NET=${COLONNADE_TEST_NET:-127.0.0}
ADDR=$NET.21
DEAD=$NET.22 # nothing listens there
CASES=$SRC/tests/cluster/cqlish
TMP=$(mktemp -d /tmp/cqlish-test.XXXXXX)
TSESSION=cqlish-test-$$
# A tmux server of our own (its socket in $TMP): a session made in a server that is already
# running (another test's, anyone's) gets that server's environment, not ours, and the shell
# would keep its history under that server's HOME.
tm() { tmux -S "$TMP/tmux.sock" "$@"; }
NODE_PID=""
PASSED=0
FAILED=0

cleanup() {
	tm kill-server 2>/dev/null
	[ -n "$NODE_PID" ] && stop_pids 5 "$NODE_PID"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() {
	FAILED=$((FAILED + 1))
	echo "FAIL $1"
	[ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/     /'
	return 0
}

# Replace what differs between runs: the node address, the server version, the
# node's random tokens (DESCRIBE CLUSTER's range ownership).
normalise() {
	sed -e "s/${ADDR//./\\.}/ADDR/g" -e "s/${DEAD//./\\.}/DEAD/g" \
		-e 's/Cassandra [0-9][0-9.]*/Cassandra X.Y.Z/' \
		-e 's/^ *-\{0,1\}[0-9]\{1,19\}  \[/ <token>  [/'
}

# A TRACING session's output: session ids, times and elapsed µs differ between runs, and so
# does the padding they set; squeeze blanks and the rule under the header.
normalise_trace() {
	sed -e 's/Tracing session: [0-9a-f-]\{36\}/Tracing session: <uuid>/' \
		-e 's/[0-9]\{4\}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]\(\.[0-9]\{6\}\)\{0,1\}/<time>/g' \
		-e '/<time>/s/| *[0-9][0-9]* |/| <us> |/' \
		-e 's/^--*\(+--*\)\{1,\}$/<rule>/' -e 's/  */ /g' -e 's/ *$//'
}

export HOME=$TMP # history file goes here
export TERM=xterm

# ---- the node -----------------------------------------------------------------------------
[ -x "$BIN" ] || { echo "cqlish_test: $BIN is not executable"; exit 1; }
[ -x "$CQLISH" ] || { echo "cqlish_test: $CQLISH is not executable"; exit 1; }
mkdir -p "$TMP/data"
start_node() { # starts the node (same data directory every time) and waits for CQL
	"$BIN" server --listen_address="$ADDR" --seeds="$ADDR" --cluster_name='cqlish test' \
		--data_file_directories="$TMP/data" >>"$TMP/node.log" 2>&1 &
	NODE_PID=$!
	for _ in $(seq 300); do
		if ! kill -0 "$NODE_PID" 2>/dev/null; then
			echo "cqlish_test: the node exited; its log:"
			tail -30 "$TMP/node.log"
			return 1
		fi
		"$CQLISH" "$ADDR" -e 'SHOW HOST' >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "cqlish_test: no CQL on $ADDR:9042 after 60 s; node log:"
	tail -30 "$TMP/node.log"
	return 1
}
stop_node() {
	stop_pids 10 "$NODE_PID"
	NODE_PID=""
}
if ! start_node; then
	echo "0 passed, 1 failed"
	exit 1
fi

# ---- 1. scripted sessions ------------------------------------------------------------------
cd "$CASES" || exit 1
for cql in [0-9][0-9]_*.cql; do
	name=${cql%.cql}
	sleep_s=$(sed -n 's/^-- cqlish-test: sleep-before=\([0-9]*\).*/\1/p' "$cql" | head -1)
	[ -n "$sleep_s" ] && sleep "$sleep_s"
	"$CQLISH" "$ADDR" -f "$cql" >"$TMP/$name.raw" 2>&1 </dev/null
	echo "[exit $?]" >>"$TMP/$name.raw"
	if grep -q '^-- cqlish-test: trace' "$cql"; then
		normalise <"$TMP/$name.raw" | normalise_trace >"$TMP/$name.out"
	else
		normalise <"$TMP/$name.raw" >"$TMP/$name.out"
	fi
	if [ "${CQLISH_TEST_UPDATE:-}" = 1 ]; then
		cp "$TMP/$name.out" "$CASES/$name.expected"
	fi
	if d=$(diff -u "$CASES/$name.expected" "$TMP/$name.out"); then
		pass "session $name"
	else
		fail "session $name" "$d"
	fi
done
cd "$TMP" || exit 1

# ---- 2. the command line -------------------------------------------------------------------
# expect NAME WANT_RC WANT_OUTPUT cqlish-args...  (output = stdout+stderr, normalised)
expect() {
	local name=$1 want_rc=$2 want=$3
	shift 3
	local out rc
	out=$("$CQLISH" "$@" 2>&1 </dev/null)
	rc=$?
	out=$(printf '%s' "$out" | normalise)
	if [ "$rc" = "$want_rc" ] && [ "$out" = "$want" ]; then
		pass "$name"
	else
		fail "$name" "exit $rc (want $want_rc); output:
$out
--- wanted:
$want"
	fi
}

expect "-e runs statements, appends the missing ';'" 0 \
	"$(printf '\n id | item\n----+------\n  1 | kiwi\n\n(1 rows)')" \
	"$ADDR" -e "SELECT id, item FROM shop.orders WHERE customer = 'carol' AND id = 1"
expect "-k sets the keyspace, host:port form" 0 \
	"$(printf '\n id\n----\n  2\n  1\n\n(2 rows)')" \
	"$ADDR:9042" -k shop -e "SELECT id FROM orders WHERE customer = 'carol'"
expect "--consistency sets the initial level" 0 \
	"Current consistency level is LOCAL_QUORUM." \
	"$ADDR" --consistency local_quorum -e "CONSISTENCY"
expect "-e failure exits 2 with <stdin>:1: prefix" 2 \
	'<stdin>:1:InvalidRequest: Error from server: code=2200 [Invalid query] message="unconfigured table nope"' \
	"$ADDR" -k shop -e "SELECT * FROM nope"
expect "connection refused names the address" 1 \
	"Connection error: cannot connect to DEAD:9042: Connection refused" \
	"$DEAD" -e "SHOW HOST"
expect "unknown keyspace at connect" 1 \
	"Connection error: InvalidRequest: Error from server: code=2200 [Invalid query] message=\"Keyspace 'nowhere' does not exist\"" \
	"$ADDR" -k nowhere -e "SHOW HOST"
expect "bad consistency option" 1 \
	"cqlish: 'SOMETIMES' is not a consistency level (ANY, ONE, TWO, THREE, QUORUM, ALL, LOCAL_QUORUM, EACH_QUORUM, SERIAL, LOCAL_SERIAL, LOCAL_ONE)" \
	"$ADDR" --consistency SOMETIMES -e "SHOW HOST"
expect "unknown option" 1 "cqlish: unknown option --frobnicate (see cqlish --help)" \
	"$ADDR" --frobnicate
VERSION=$(sed -n 's/^project(colonnade VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
expect "SHOW VERSION" 0 "[cqlish $VERSION | Cassandra X.Y.Z | CQL spec 3.4.5 | Native protocol v4]" \
	"$ADDR" -e "SHOW VERSION"

expect "CAPTURE sends results, not messages, to a file" 0 \
	"$(printf "Now capturing query output to '%s'.\nCurrently capturing query output to '%s'." "$TMP/cap.txt" "$TMP/cap.txt")" \
	"$ADDR" -k shop -e "CAPTURE '$TMP/cap.txt'; SELECT id, item FROM orders WHERE customer = 'carol'; CAPTURE; CAPTURE OFF"
want=$(printf '\n id | item\n----+------\n  2 | lime\n  1 | kiwi\n\n(2 rows)')
if [ "$(cat "$TMP/cap.txt" 2>&1)" = "$want" ]; then
	pass "CAPTURE file holds the result"
else
	fail "CAPTURE file holds the result" "$(cat "$TMP/cap.txt" 2>&1)"
fi

out=$(printf "USE shop;\nSELECT id FROM orders\n WHERE customer = 'carol' AND id = 2;\nSELECT * FROM nope;\n" |
	"$CQLISH" "$ADDR" 2>&1)
rc=$?
want=$(printf '\n id\n----\n  2\n\n(1 rows)\n<stdin>:4:InvalidRequest: Error from server: code=2200 [Invalid query] message="unconfigured table nope"')
if [ "$rc" = 2 ] && [ "$out" = "$want" ]; then
	pass "piped stdin runs as a script (line numbers, exit 2)"
else
	fail "piped stdin runs as a script (line numbers, exit 2)" "exit $rc; output:
$out"
fi

# SHOW SESSION: the trace of a session traced before, and of one that does not exist
out=$("$CQLISH" "$ADDR" -e $'TRACING ON\nINSERT INTO shop.orders (customer, id, item) VALUES (\'show\', 1, \'x\')' 2>&1 </dev/null)
sid=$(printf '%s\n' "$out" | sed -n 's/^Tracing session: \([0-9a-f-]\{36\}\)$/\1/p')
shown=$("$CQLISH" "$ADDR" -e "SHOW SESSION $sid" 2>&1 </dev/null)
if [ -n "$sid" ] && printf '%s\n' "$shown" | grep -qx "Tracing session: $sid" &&
	printf '%s\n' "$shown" | grep -q "Parsing INSERT INTO shop.orders"; then
	pass "SHOW SESSION prints a traced statement's trace"
else
	fail "SHOW SESSION prints a traced statement's trace" "traced: $out
shown: $shown"
fi
expect "SHOW SESSION of an unknown session" 2 \
	"<stdin>:1:Session 00000000-0000-1000-8000-000000000000 wasn't found." \
	"$ADDR" -e "SHOW SESSION 00000000-0000-1000-8000-000000000000"
expect "SHOW SESSION of an id starting with a letter" 2 \
	"<stdin>:1:Session cb81c010-f184-11f1-965b-46f5514dcd2e wasn't found." \
	"$ADDR" -e "SHOW SESSION cb81c010-f184-11f1-965b-46f5514dcd2e"
expect "SHOW SESSION of something else" 2 \
	"<stdin>:1:Improper SHOW command: 'nope' is not a session id." \
	"$ADDR" -e "SHOW SESSION nope"

# ---- 3. interactive, under tmux -------------------------------------------------------------
screen() { tm capture-pane -t "$TSESSION" -p -S -200; }
# wait_for TEXT: until the screen shows TEXT (fixed string), at most 30 s: on a loaded
# machine one step (a reconnection, the shell's exit) can take seconds, and keys typed
# meanwhile wait in the terminal, so a step given up early fails every later one too
wait_for() {
	local end=$((SECONDS + 30))
	while [ "$SECONDS" -lt "$end" ]; do
		screen | grep -qF -- "$1" && return 0
		sleep 0.1
	done
	screen | grep -qF -- "$1"
}
# type TEXT: literal keys; a trailing ';' is sent apart (tmux reads it as a separator)
type_text() {
	local t=$1
	if [ "${t%;}" != "$t" ]; then
		[ -n "${t%;}" ] && tm send-keys -t "$TSESSION" -l -- "${t%;}"
		tm send-keys -t "$TSESSION" '\;'
	else
		tm send-keys -t "$TSESSION" -l -- "$t"
	fi
}
key() { tm send-keys -t "$TSESSION" "$@"; }
check() { # check NAME TEXT: the screen shows TEXT
	if wait_for "$2"; then pass "interactive: $1"; else fail "interactive: $1" "screen:
$(screen | grep -v '^$' | tail -15)"; fi
}

tm new-session -d -s "$TSESSION" -x 160 -y 50 \
	"'$CQLISH' $ADDR; echo EXITED:\$?; sleep 60"
check "banner" "Use HELP for help."
check "banner names the cluster" "Connected to cqlish test at $ADDR:9042"
type_text "USE sh"
key Tab
type_text ";"
key Enter
check "keyspace completion and the keyspace prompt" "cqlish:shop>"
type_text "SELECT id, item FROM ord"
key Tab
type_text "WHERE customer = 'dave'"
key Enter
check "multi-line statement gets the continuation prompt" "         ..."
type_text ";"
key Enter
check "table completion ran the statement" "(5 rows)"
type_text "PAGING 2"
key Enter
type_text "SELECT id, item FROM orders WHERE customer = 'dave';"
key Enter
check "paging stops at ---MORE---" "---MORE---"
if screen | grep -qF "(5 rows)" && [ "$(screen | grep -cF '(5 rows)')" -gt 1 ]; then
	fail "interactive: paging waits for Enter" "the result ended without waiting"
fi
key Enter
key Enter
check "paging goes on with Enter" "eeeee"
wait_for "cqlish:shop>" >/dev/null
if tm capture-pane -t "$TSESSION" -p -e -S -200 | grep -F 'eeeee' | grep -q $'\033'; then
	pass "interactive: colours on a terminal"
else
	fail "interactive: colours on a terminal" "no escape sequence around the value 'eeeee'"
fi
type_text "CONS"
key Tab
type_text "LOCAL_Q"
key Tab
key Enter
check "keyword and level completion" "Consistency level set to LOCAL_QUORUM."
type_text "EXPAND ON"
key Enter
type_text "SELECT item FROM orders WHERE customer = 'dave' AND id = 5;"
key Enter
check "expanded output" "@ Row 1"
type_text "SELECT"
key Enter
key C-c
type_text "SELECT * FROM nope;"
key Enter
check "Ctrl-C drops the partial statement; errors without line prefix" \
	'InvalidRequest: Error from server: code=2200 [Invalid query] message="unconfigured table nope"'
# The node goes away: the statement fails; it comes back: the shell reconnects by itself,
# in the same keyspace.
stop_node
type_text "SELECT item FROM orders WHERE customer = 'carol' AND id = 2;"
key Enter
check "a lost node is reported" "NoHostAvailable: cannot connect to $ADDR:9042"
if start_node; then
	type_text "SELECT item FROM orders WHERE customer = 'carol' AND id = 2;"
	key Enter
	check "reconnects after the node restarted" "lime"
else
	fail "interactive: reconnects after the node restarted" "the node did not restart"
fi
type_text "EXIT"
key Enter
check "EXIT leaves with status 0" "EXITED:0"
# libedit stores blanks as \040
if grep -qF 'USE\040shop' "$TMP/.cqlish_history" 2>/dev/null; then
	pass "interactive: history saved in ~/.cqlish_history"
else
	fail "interactive: history saved in ~/.cqlish_history" "$(cat "$TMP/.cqlish_history" 2>&1)"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
