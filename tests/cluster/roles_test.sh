#!/usr/bin/env bash
# Roles and permissions on a real 3-node cluster with PasswordAuthenticator and
# CassandraAuthorizer (roles in the replicated system_auth): the python driver
# (tests/cluster/py/roles_test.py: a role made through node 1 logs in through
# node 3, wrong password 0x0100, Unauthorized 0x2100 until GRANT, role
# inheritance, LIST ROLES / PERMISSIONS, misuse with Cassandra's words, the
# system_auth RF warning), then the node driver (tests/cluster/node/roles_test.js)
# and cqlish -u/-p and LOGIN as that role.
#
# Env: COLONNADE_BIN (required), COLONNADE_TEST_NET (default 127.0.0: nodes .71-.73),
# CQLISH_BIN, COLONNADE_KEEP=1 keeps the temp directory.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${COLONNADE_BIN:?set COLONNADE_BIN to the colonnade binary}
CQLISH=${CQLISH_BIN:-$(dirname "$BIN")/cqlish}
NET=${COLONNADE_TEST_NET:-127.0.0}
N=3
FIRST=71
ROOT=$(mktemp -d /tmp/colonnade-roles-test.XXXXXX)
declare -a PIDS=()
RC=1
PW="su-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
VALIDITY_MS=1500

/usr/bin/python3 -c 'import cassandra' || {
	echo "python3-cassandra is not installed (deploy/install-deps.sh)"
	exit 1
}

cleanup() {
	local p k
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ "$RC" -ne 0 ]; then
		for k in $(seq 1 $N); do
			echo "--- node $k log (tail)"
			grep -v DEBUG "$ROOT/node$k/node.log" 2>/dev/null | tail -n 25 || true
		done
	fi
	if [ "${COLONNADE_KEEP:-0}" = 1 ]; then echo "kept $ROOT"; else rm -rf "$ROOT"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

UNSET=()
for v in $(env | grep -o '^COLONNADE_[A-Za-z0-9_]*' || true); do
	UNSET+=(-u "$v")
done

start_node() {
	local k=$1 dir="$ROOT/node$1" addr="$NET.$((FIRST + $1 - 1))"
	mkdir -p "$dir/data"
	cat >"$dir/colonnade.yaml" <<YAML
cluster_name: 'roles-test'
listen_address: $addr
rpc_address: $addr
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$NET.$FIRST"
data_file_directories:
  - $dir/data
num_tokens: 16
gossip_interval: 50ms
endpoint_snitch: GossipingPropertyFileSnitch
dc: dc1
rack: rack1
authenticator: PasswordAuthenticator
authorizer: CassandraAuthorizer
auth_superuser_password: '$PW'
permissions_validity: ${VALIDITY_MS}ms
credentials_validity: 1000ms
YAML
	(cd "$dir" && exec env "${UNSET[@]}" "$BIN" server -c "$dir/colonnade.yaml" \
		>"$dir/node.log" 2>&1) &
	PIDS[$k]=$!
}

for k in $(seq 1 $N); do start_node "$k"; done
HOSTS=""
for k in $(seq 1 $N); do HOSTS="$HOSTS${HOSTS:+,}$NET.$((FIRST + k - 1))"; done
up=0
for _ in $(seq 300); do
	up=$(env "${UNSET[@]}" "$BIN" status -h "$NET.$FIRST" 2>/dev/null | grep -c '^UN ' || true)
	[ "$up" -ge $N ] && break
	sleep 0.2
done
if [ "$up" -lt $N ]; then
	echo "roles_test: only $up of $N nodes up after 60 s"
	exit 1
fi
for k in $(seq 1 $N); do
	for _ in $(seq 150); do
		grep -q "system_auth is ready" "$ROOT/node$k/node.log" && break
		sleep 0.2
	done
done
echo "roles_test: $N nodes up ($HOSTS); superuser written by $(grep -l "creating superuser" "$ROOT"/node*/node.log | wc -l) node(s)"
ROLES_SUPERUSER_PASSWORD="$PW" ROLES_VALIDITY_S=$(awk "BEGIN{print $VALIDITY_MS/1000}") \
	/usr/bin/python3 "$HERE/py/roles_test.py" "$HOSTS"

# the node driver, as bob (password changed by the python part) through node 2
if command -v node >/dev/null && command -v npm >/dev/null; then
	if [ ! -d "$HERE/node/node_modules/cassandra-driver" ]; then
		(cd "$HERE/node" && npm ci --no-audit --no-fund --loglevel=error)
	fi
	CQL_HOST="$NET.$((FIRST + 1))" BOB_PW=bob-pw2 node "$HERE/node/roles_test.js"
else
	echo "roles_test: FAIL: nodejs/npm missing (deploy/install-deps.sh)"
	exit 1
fi

# cqlish -u/-p and LOGIN as bob through node 3
H3="$NET.$((FIRST + 2))"
out=$(env "${UNSET[@]}" "$CQLISH" -u bob -p bob-pw2 "$H3" -e "SELECT v FROM ks.t WHERE k = 1;" 2>&1) ||
	{ echo "roles_test: FAIL: cqlish -u bob: $out"; exit 1; }
grep -q "secret row" <<<"$out" || { echo "roles_test: FAIL: cqlish read as bob: $out"; exit 1; }
out=$(env "${UNSET[@]}" "$CQLISH" -u cassandra -p "$PW" "$H3" -e \
	"LOGIN bob 'bob-pw2'; INSERT INTO ks.t (k, v) VALUES (9, 'x'); LIST ROLES;" 2>&1) || true
grep -q "Logged in as bob" <<<"$out" && grep -q "code=2100" <<<"$out" &&
	grep -q "has no MODIFY permission on <table ks.t>" <<<"$out" ||
	{ echo "roles_test: FAIL: cqlish LOGIN bob: $out"; exit 1; }
echo "roles_test: cqlish -u bob reads; after LOGIN bob an INSERT is refused: $(grep -o 'User bob has no MODIFY[^)]*' <<<"$out" | head -1)"
RC=0
echo "roles_test: ok"
