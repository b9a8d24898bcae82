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
TEST=roles_test
FIRST=71
PW="su-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
VALIDITY_MS=1500
extra_yaml() {
	cat <<YAML
authenticator: PasswordAuthenticator
authorizer: CassandraAuthorizer
auth_superuser_password: '$PW'
permissions_validity: ${VALIDITY_MS}ms
credentials_validity: 1000ms
YAML
}
# shellcheck source=py_cluster_lib.sh
. "$HERE/py_cluster_lib.sh"
CQLISH=${CQLISH_BIN:-$(dirname "$BIN")/cqlish}

cluster_start
for k in $(seq 1 $N); do
	for _ in $(seq 150); do
		grep -q "system_auth is ready" "$ROOT/node$k/node.log" && break
		sleep 0.2
	done
done
echo "roles_test: superuser written by $(grep -l "creating superuser" "$ROOT"/node*/node.log | wc -l) node(s)"
ROLES_SUPERUSER_PASSWORD="$PW" ROLES_VALIDITY_S=$(awk "BEGIN{print $VALIDITY_MS/1000}") \
	/usr/bin/python3 "$HERE/py/roles_test.py" "$HOSTS"

# the node driver, as bob (password changed by the python part) through node 2
if command -v node >/dev/null && command -v npm >/dev/null; then
	node_driver_ready
	CQL_HOST="$NET.$((FIRST + 1))" BOB_PW=bob-pw2 node "$HERE/node/roles_test.js"
else
	echo "roles_test: FAIL: nodejs/npm missing (deploy/install-deps.sh)"
	exit 1
fi

# cqlish -u/-p and LOGIN as bob through node 3
H3="$NET.$((FIRST + 2))"
out=$(node_env "$CQLISH" -u bob -p bob-pw2 "$H3" -e "SELECT v FROM ks.t WHERE k = 1;" 2>&1) ||
	{ echo "roles_test: FAIL: cqlish -u bob: $out"; exit 1; }
grep -q "secret row" <<<"$out" || { echo "roles_test: FAIL: cqlish read as bob: $out"; exit 1; }
out=$(node_env "$CQLISH" -u cassandra -p "$PW" "$H3" -e \
	"LOGIN bob 'bob-pw2'; INSERT INTO ks.t (k, v) VALUES (9, 'x'); LIST ROLES;" 2>&1) || true
grep -q "Logged in as bob" <<<"$out" && grep -q "code=2100" <<<"$out" &&
	grep -q "has no MODIFY permission on <table ks.t>" <<<"$out" ||
	{ echo "roles_test: FAIL: cqlish LOGIN bob: $out"; exit 1; }
echo "roles_test: cqlish -u bob reads; after LOGIN bob an INSERT is refused: $(grep -o 'User bob has no MODIFY[^)]*' <<<"$out" | head -1)"
RC=0
echo "roles_test: ok"
