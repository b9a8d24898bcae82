#!/usr/bin/env bash
# broadcast_address behind NAT, end to end on loopback.  Nodes 1 and 2 listen on
# $NET.61 and $NET.62; node 3 listens on $NET.63 but announces $NET.73
# (broadcast_address and broadcast_rpc_address), and an nftables table plays the
# NAT box: traffic to $NET.73 is DNATed to $NET.63, and traffic straight to
# $NET.63's internode and CQL ports is dropped, so node 3 is reachable only at the
# address it announces.  The cluster must form (3 UN, node 3 shown at $NET.73),
# writes and reads at ALL must cross the NAT both ways, and clients must be told
# $NET.73 (system.peers).  Needs root for nftables; exits 77 (skipped) without.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=script_lib.sh
. "$HERE/script_lib.sh"
: "${COLONNADE_BIN:?COLONNADE_BIN must name the colonnade binary}"
CQLISH=${CQLISH_BIN:-$(dirname "$COLONNADE_BIN")/cqlish}
NET=${COLONNADE_TEST_NET:-127.0.0}
TABLE="colonnade_nat_${NET//./_}"
PUB="$NET.73"
PRIV="$NET.63"
ROOT=$(mktemp -d /tmp/colonnade-nat.XXXXXX)
PIDS=()

if [ "$(id -u)" -ne 0 ] || ! nft list tables >/dev/null 2>&1; then
	echo "nat_test: SKIPPED: needs root and nftables to play the NAT box"
	rm -rf "$ROOT"
	exit 77
fi

cleanup() {
	local rc=$?
	stop_pids 5 "${PIDS[@]}"
	nft delete table ip "$TABLE" 2>/dev/null || true
	if [ "$rc" -ne 0 ]; then
		for k in 1 2 3; do
			echo "---- node $k log (last 30 lines)"
			tail -30 "$ROOT/n$k/node.log" 2>/dev/null || true
		done
		echo "kept $ROOT"
	else
		rm -rf "$ROOT"
	fi
	exit "$rc"
}
trap cleanup EXIT

nft delete table ip "$TABLE" 2>/dev/null || true
nft -f - <<EOF
table ip $TABLE {
	chain nat_out {
		type nat hook output priority -100; policy accept;
		ip daddr $PUB dnat to $PRIV
	}
	chain filter_out {
		type filter hook output priority 0; policy accept;
		ip daddr $PRIV tcp dport { 7000, 9042 } ct status dnat accept
		ip daddr $PRIV tcp dport { 7000, 9042 } counter drop
	}
}
EOF

# The NAT box bites: straight to the private address fails, through the public one works.
/usr/bin/python3 - "$NET.61" "$PRIV" "$PUB" <<'EOF'
import socket, sys
src, priv, pub = sys.argv[1:]
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((priv, 7000)); srv.listen(1)
def dial(host):
    s = socket.socket(); s.settimeout(1.0); s.bind((src, 0))
    try:
        s.connect((host, 7000)); return True
    except OSError:
        return False
    finally:
        s.close()
assert not dial(priv), "direct connection to the private address got through"
assert dial(pub), "connection to the public address was not forwarded"
srv.close()
print("ok: %s:7000 is reachable only as %s:7000" % (priv, pub))
EOF

start() { # k listen [extra flags]
	local k=$1 addr=$2
	shift 2
	mkdir -p "$ROOT/n$k"
	(cd "$ROOT/n$k" && exec "$COLONNADE_BIN" server --cluster_name=nat \
		--listen_address="$addr" --seeds="$NET.61" --gossip_interval=100ms \
		--data_file_directories="$ROOT/n$k/data" --dc=dc1 --rack="r$k" "$@" \
		</dev/null >"$ROOT/n$k/node.log" 2>&1) &
	PIDS+=($!)
}
start 1 "$NET.61"
start 2 "$NET.62"
start 3 "$PRIV" --broadcast_address="$PUB" --broadcast_rpc_address="$PUB"

status=""
for _ in $(seq 1 300); do
	status=$("$COLONNADE_BIN" status -h "$NET.61" 2>/dev/null || true)
	[ "$(grep -c '^UN ' <<<"$status")" -eq 3 ] && break
	sleep 0.1
done
[ "$(grep -c '^UN ' <<<"$status")" -eq 3 ] || { echo "FAIL: not 3 UN:"; echo "$status"; exit 1; }
grep -q "^UN  *$PUB " <<<"$status" || { echo "FAIL: node 3 is not shown at $PUB:"; echo "$status"; exit 1; }
if grep -q "$PRIV" <<<"$status"; then echo "FAIL: node 1 knows the private $PRIV:"; echo "$status"; exit 1; fi
# The other views may be a gossip round behind node 1's (a first-boot node is UJ until
# gossip has settled): wait for each, as for node 1's.
for h in "$NET.62" "$PRIV"; do
	for _ in $(seq 1 300); do
		s=$("$COLONNADE_BIN" status -h "$h" 2>/dev/null || true)
		[ "$(grep -c '^UN ' <<<"$s")" -eq 3 ] && grep -q "^UN  *$PUB " <<<"$s" && break
		sleep 0.1
	done
	[ "$(grep -c '^UN ' <<<"$s")" -eq 3 ] && grep -q "^UN  *$PUB " <<<"$s" ||
		{ echo "FAIL: from $h:"; echo "$s"; exit 1; }
done
echo "ok: 3 UN in every view, node 3 at $PUB"

# Writes coordinated by node 1 must reach node 3 (ALL), reads coordinated by node 3
# (a client through the NAT) must get node 1 and 2's answers back (ALL).
"$CQLISH" "$NET.61" -e "CREATE KEYSPACE nat WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3};
CREATE TABLE nat.t (k int PRIMARY KEY, v text);
CONSISTENCY ALL;
INSERT INTO nat.t (k, v) VALUES (1, 'across the nat');" >/dev/null
out=$("$CQLISH" "$PUB" -e "CONSISTENCY ALL; SELECT v FROM nat.t WHERE k = 1; SELECT peer, rpc_address FROM system.peers; SELECT broadcast_address, rpc_address FROM system.local;")
grep -q "across the nat" <<<"$out" || { echo "FAIL: read at ALL through node 3:"; echo "$out"; exit 1; }
echo "ok: write at ALL from node 1 and read at ALL through node 3 ($PUB)"
out1=$("$CQLISH" "$NET.61" -e "SELECT peer, rpc_address FROM system.peers;")
[ "$(grep -c "$PUB" <<<"$out1")" -eq 1 ] && ! grep -q "$PRIV" <<<"$out1" ||
	{ echo "FAIL: node 1's system.peers should list node 3 at $PUB only:"; echo "$out1"; exit 1; }
grep -qE "^ *$PUB +\| +$PUB *$" <<<"$out" ||
	{ echo "FAIL: node 3's system.local should say $PUB:"; echo "$out"; exit 1; }
echo "ok: clients are told $PUB (system.peers, system.local)"
dropped=$(nft list chain ip "$TABLE" filter_out | grep -o 'packets [0-9]*' | tail -1 | cut -d' ' -f2)
echo "ok: nat_test passed (direct packets dropped by the NAT box: ${dropped:-0})"
