#!/usr/bin/env bash
# server_encryption_options between real nodes (docs/SECURITY.md "Between
# nodes"), with certificates made now (tests/cluster/tls/make_certs.sh).
#
# The capture: node 1 listens on $NET.61 but announces $NET.71, where a
# recording relay (tests/cluster/tls/tap.py) forwards to it, so every byte the
# other nodes send to node 1 on port 7000 passes the tap.  A write at ALL
# coordinated by node 2 sends node 1 its MUTATION through it.
#   1. internode_encryption: none — the control: the distinctive value is in
#      the capture (the capture sees plaintext mutations when there are any).
#   2. internode_encryption: all, mutual TLS, with the HMAC secret too — the
#      cluster forms, the write at ALL and a read at ALL work, every connection
#      through the tap starts with a TLS record (0x16) and the value is not in
#      the capture.
#      SIGHUP on node 2 with a renewed certificate reloads it; the cluster goes on.
#   3. A fourth node with the right cluster name and secret but a certificate
#      from another CA cannot join: its handshakes fail, nobody lists it.
#   4. internode_encryption: dc with a second datacenter: node 3 (dc2) reaches
#      node 1 (dc1) over TLS only; a write and a read at ALL span both; a dc2 node
#      without TLS is answered NEEDS_TLS and cannot join.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=script_lib.sh
. "$HERE/script_lib.sh"
: "${COLONNADE_BIN:?COLONNADE_BIN must name the colonnade binary}"
command -v openssl >/dev/null || { echo "openssl CLI missing (deploy/install-deps.sh)"; exit 1; }
CQLISH=${CQLISH_BIN:-$(dirname "$COLONNADE_BIN")/cqlish}
NET=${COLONNADE_TEST_NET:-127.0.0}
ROOT=$(mktemp -d /tmp/colonnade-tlsnodes.XXXXXX)
CERTS="$ROOT/certs"
SECRET="tls-test-secret-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
PIDS=()
TAP=""

stop_all() {
	# shellcheck disable=SC2086 # TAP: no pid or one
	stop_pids 5 "${PIDS[@]}" $TAP
	PIDS=()
	TAP=""
}
cleanup() {
	local rc=$?
	stop_all
	if [ "$rc" -ne 0 ]; then
		for d in "$ROOT"/run*/n*; do
			[ -f "$d/node.log" ] || continue
			echo "---- $d (last 25 lines)"
			tail -25 "$d/node.log"
		done
	fi
	rm -rf "$ROOT"
	exit "$rc"
}
trap cleanup EXIT
"$HERE/tls/make_certs.sh" "$CERTS" "$NET.61" "$NET.62" "$NET.63" "$NET.64" >/dev/null

RUN=""
start() { # k dc [extra flags]
	local k=$1 dc=$2 addr="$NET.6$1"
	shift 2
	local d="$RUN/n$k"
	mkdir -p "$d"
	local extra=()
	[ "$k" = 1 ] && extra=(--broadcast_address="$NET.71")
	(cd "$d" && exec "$COLONNADE_BIN" server --cluster_name=tlsnodes \
		--listen_address="$addr" --rpc_address="$addr" --seeds="$NET.62" \
		--gossip_interval=100ms --data_file_directories="$d/data" --dc="$dc" --rack=r1 \
		--internode_authenticator_secret="$SECRET" "${extra[@]}" "$@" \
		</dev/null >"$d/node.log" 2>&1) &
	PIDS+=($!)
}
tls_flags() { # k mode
	echo "--server_encryption_options.internode_encryption=$2" \
		"--server_encryption_options.certificate=$CERTS/$NET.6$1.pem" \
		"--server_encryption_options.private_key=$CERTS/$NET.6$1.key" \
		"--server_encryption_options.truststore=$CERTS/ca.pem"
}
tap_start() {
	/usr/bin/python3 "$HERE/tls/tap.py" "$NET.71" 7000 "$NET.61" 7000 "$RUN/capture" &
	TAP=$!
	for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/$NET.71/7000") 2>/dev/null && return 0; sleep 0.1; done
	echo "FAIL: the tap did not listen"; exit 1
}
# wait_log SECONDS MIN_SECONDS FILE PATTERN: wait up to SECONDS until FILE has a line matching
# PATTERN (grep -a), and at least MIN_SECONDS in all (a node kept out must stay out that long
# before the check that it is not listed); 1 if the line never came.
wait_log() {
	local max=$(($1 * 10)) min=$(($2 * 10)) file=$3 pat=$4 i
	for i in $(seq 1 "$max"); do
		if [ "$i" -ge "$min" ] && grep -qa -- "$pat" "$file" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	grep -qa -- "$pat" "$file" 2>/dev/null
}
wait_un() { # n hosts...
	local n=$1 s=""
	shift
	for h in "$@"; do
		for _ in $(seq 1 400); do
			s=$("$COLONNADE_BIN" status -h "$h" 2>/dev/null || true)
			[ "$(grep -c '^UN ' <<<"$s")" -eq "$n" ] && break
			sleep 0.1
		done
		[ "$(grep -c '^UN ' <<<"$s")" -eq "$n" ] || { echo "FAIL: $h does not see $n UN:"; echo "$s"; exit 1; }
	done
}
write_read() { # value
	"$CQLISH" "$NET.62" -e "CREATE KEYSPACE IF NOT EXISTS t WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3};
CREATE TABLE IF NOT EXISTS t.t (k int PRIMARY KEY, v text);
CONSISTENCY ALL;
INSERT INTO t.t (k, v) VALUES (1, '$1');" >/dev/null
	local out
	out=$("$CQLISH" "$NET.63" -e "CONSISTENCY ALL; SELECT v FROM t.t WHERE k = 1;")
	grep -q "$1" <<<"$out" || { echo "FAIL: read at ALL: $out"; exit 1; }
}

# 1. The control: plaintext.
RUN="$ROOT/run1"; mkdir -p "$RUN"
tap_start
start 2 dc1; start 1 dc1; start 3 dc1
wait_un 3 "$NET.61" "$NET.62" "$NET.63"
V1="plain-mutation-$RANDOM$RANDOM"
write_read "$V1"
sleep 0.5
grep -qa "$V1" "$RUN/capture" ||
	{ echo "FAIL: control: the plaintext mutation is not in the capture ($(wc -c <"$RUN/capture") bytes)"; exit 1; }
echo "ok: control (internode_encryption: none): '$V1' is in the capture of port 7000 ($(wc -c <"$RUN/capture") bytes)"
stop_all

# 2. internode_encryption: all.
RUN="$ROOT/run2"; mkdir -p "$RUN"
tap_start
# shellcheck disable=SC2046
{ start 2 dc1 $(tls_flags 2 all); start 1 dc1 $(tls_flags 1 all); start 3 dc1 $(tls_flags 3 all); }
wait_un 3 "$NET.61" "$NET.62" "$NET.63"
echo "ok: 3 nodes formed a cluster over mutual TLS (and the HMAC secret)"
V2="secret-mutation-$RANDOM$RANDOM"
write_read "$V2"
sleep 0.5
if grep -qa "$V2" "$RUN/capture"; then echo "FAIL: '$V2' crossed port 7000 in plaintext"; exit 1; fi
conns=$(grep -c ' c2s ' "$RUN/capture.first")
nontls=$(grep ' c2s ' "$RUN/capture.first" | grep -vc ' c2s 16 ' || true)
[ "$conns" -gt 0 ] && [ "$nontls" -eq 0 ] ||
	{ echo "FAIL: connections through the tap not starting with a TLS record:"; cat "$RUN/capture.first"; exit 1; }
echo "ok: internode_encryption all: '$V2' written and read at ALL, not in the capture ($(wc -c <"$RUN/capture") bytes, $conns connections, each opening with a TLS record)"
# SIGHUP on node 2 with a renewed certificate: reloaded, and the cluster goes on.
"$HERE/tls/make_certs.sh" --renew "$CERTS" "$NET.62" >/dev/null
kill -HUP "${PIDS[0]}"
for _ in $(seq 1 50); do grep -q "server_encryption_options reloaded: certificate .*renewed" "$RUN/n2/node.log" && break; sleep 0.1; done
grep -q "server_encryption_options reloaded: certificate .*renewed" "$RUN/n2/node.log" ||
	{ echo "FAIL: node 2 did not reload its internode certificate on SIGHUP"; exit 1; }
write_read "after-reload-$RANDOM"
echo "ok: SIGHUP: node 2 reloaded its internode certificate ($(grep -o 'CN=node-[^,]*renewed' "$RUN/n2/node.log" | head -1)); writes and reads at ALL go on"

# 3. A node with a certificate from another CA (same cluster name, same secret).
start 4 dc1 --server_encryption_options.internode_encryption=all \
	--server_encryption_options.certificate="$CERTS/rogue.pem" \
	--server_encryption_options.private_key="$CERTS/rogue.key" \
	--server_encryption_options.truststore="$CERTS/ca.pem"
# node 4 starts (seconds under a sanitizer on a shared machine), then its handshakes fail
wait_log 60 6 "$RUN/n2/node.log" "TLS handshake failed" ||
	{ echo "FAIL: node 2 logged no refused handshake within 60 s"; exit 1; }
s=$("$COLONNADE_BIN" status -h "$NET.62")
if grep -q "$NET.64" <<<"$s"; then echo "FAIL: the node of another CA is listed:"; echo "$s"; exit 1; fi
echo "ok: a node with a certificate from another CA cannot join; node 2 logged: $(grep -o "$NET.64:[0-9]*: TLS handshake failed.*" "$RUN/n2/node.log" | head -1)"
echo "ok: node 4's side: $(grep -ao 'TLS [a-z]* *[a-z]*: [^;]*alert[^;]*\|TLS handshake failed.*\|refused our handshake.*' "$RUN/n4/node.log" | head -1)"
stop_all

# 4. internode_encryption: dc — plaintext within dc1, TLS to dc2.
RUN="$ROOT/run3"; mkdir -p "$RUN"
tap_start
# shellcheck disable=SC2046
{ start 2 dc1 $(tls_flags 2 dc); start 1 dc1 $(tls_flags 1 dc); start 3 dc2 $(tls_flags 3 dc); }
wait_un 3 "$NET.61" "$NET.62" "$NET.63"
V3="dc-mutation-$RANDOM$RANDOM"
"$CQLISH" "$NET.62" -e "CREATE KEYSPACE t WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 2, 'dc2': 1};
CREATE TABLE t.t (k int PRIMARY KEY, v text);
CONSISTENCY ALL;
INSERT INTO t.t (k, v) VALUES (1, '$V3');" >/dev/null
sleep 0.5
from3=$(grep -c " c2s [0-9a-f]* $NET.63$" "$RUN/capture.first" || true)
plain3=$(grep " c2s [0-9a-f]* $NET.63$" "$RUN/capture.first" | grep -vc ' c2s 16 ' || true)
from2=$(grep -c " c2s [0-9a-f]* $NET.62$" "$RUN/capture.first" || true)
plain2=$(grep " c2s [0-9a-f]* $NET.62$" "$RUN/capture.first" | grep -vc ' c2s 16 ' || true)
[ "$from3" -gt 0 ] && [ "$plain3" -eq 0 ] ||
	{ echo "FAIL: dc mode: node 3 (dc2) must reach node 1 (dc1) over TLS only:"; cat "$RUN/capture.first"; exit 1; }
"$CQLISH" "$NET.63" -e "CONSISTENCY ALL; SELECT v FROM t.t WHERE k = 1;" | grep -q "$V3" ||
	{ echo "FAIL: dc mode: read at ALL through dc2"; exit 1; }
echo "ok: internode_encryption dc: node 3 (dc2) -> node 1 (dc1): $from3 connection(s), all TLS; node 2 (dc1) -> node 1: $from2 connection(s), $plain2 plaintext (TLS while node 1's dc was not yet known)"
# A node without TLS (internode_encryption: none, the right secret) in dc2: every dc-mode
# node asks it for TLS (handshake status 5) and it cannot join.
start 4 dc2
wait_log 60 5 "$RUN/n4/node.log" "refused our handshake: .*must use TLS" ||
	{ echo "FAIL: the plaintext node was not told to use TLS within 60 s"; tail -5 "$RUN/n4/node.log"; exit 1; }
s=$("$COLONNADE_BIN" status -h "$NET.62")
if grep -q "$NET.64" <<<"$s"; then echo "FAIL: a plaintext node of dc2 is listed:"; echo "$s"; exit 1; fi
echo "ok: dc mode: a plaintext node of dc2 is refused: $(grep -o 'refused our handshake: .*must use TLS' "$RUN/n4/node.log" | head -1 | cut -c1-160)"
echo "tls_internode_test: ok"
