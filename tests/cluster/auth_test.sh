#!/usr/bin/env bash
# PasswordAuthenticator on a real node: the node refuses to enable it without a
# first superuser password; the python driver logs in with PlainTextAuthProvider
# and a wrong password gets AuthenticationError 0x0100 (tests/cluster/py/auth_test.py);
# a data directory of the per-node roles file (earlier versions) starts without a
# password, its roles are copied into system_auth and log in, and it restarts without
# one; logins per second with the credentials cache on and off; queries are answered
# promptly while uncached logins hash (argon2id runs on password threads).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${COLONNADE_BIN:?COLONNADE_BIN must name the colonnade binary}"
/usr/bin/python3 -c "import cassandra" || { echo "python3-cassandra is not installed (deploy/install-deps.sh)"; exit 1; }
# shellcheck source=tests/cluster/cql_node_lib.sh
. "$HERE/cql_node_lib.sh"
NET=${COLONNADE_TEST_NET:-127.0.0}

# 1. No password for the first superuser: the node does not start, and says why.
tmp=$(mktemp -d /tmp/colonnade-authtest.XXXXXX)
if COLONNADE_AUTHENTICATOR=PasswordAuthenticator timeout 30 "$COLONNADE_BIN" server \
	--cluster_name=cqltest --listen_address="$NET.40" --seeds="$NET.40" \
	--data_file_directories="$tmp/data" >"$tmp/log" 2>&1; then
	echo "auth_test: FAIL: the node started without a superuser password"; cat "$tmp/log"; exit 1
fi
grep -q "no password is given for the first superuser 'cassandra'" "$tmp/log" ||
	{ echo "auth_test: FAIL: no clear refusal"; cat "$tmp/log"; exit 1; }
echo "auth_test: without a first password the node refuses: $(grep -o 'no password is given[^;]*' "$tmp/log" | head -1)"
rm -rf "$tmp"

# 2. With one: the driver scenario, then the cache-on figure.
COLONNADE_AUTH_SUPERUSER_PASSWORD="p-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export COLONNADE_AUTHENTICATOR=PasswordAuthenticator COLONNADE_AUTH_SUPERUSER_PASSWORD
PW_SAVED=$COLONNADE_AUTH_SUPERUSER_PASSWORD
cql_node_start 41
/usr/bin/python3 "$HERE/py/auth_test.py" full
grep -q "failed login from $NET.202 as role 'cassandra'" "$CQL_LOG" ||
	{ echo "auth_test: FAIL: failed logins are not logged with address and role"; exit 1; }
# cqlish: -u/-p log in; a wrong password and no credentials are refused with the reason.
CQLISH=${CQLISH_BIN:-$(dirname "$COLONNADE_BIN")/cqlish}
out=$("$CQLISH" -u cassandra -p "$COLONNADE_AUTH_SUPERUSER_PASSWORD" "$CQL_HOST" \
	-e "SELECT v FROM a.t WHERE k = 1;" 2>&1) || { echo "auth_test: FAIL: cqlish -u/-p: $out"; exit 1; }
grep -q "secret row" <<<"$out" || { echo "auth_test: FAIL: cqlish read: $out"; exit 1; }
if out=$("$CQLISH" -u cassandra -p wrongpw "$CQL_HOST" -e "SELECT v FROM a.t;" 2>&1) ||
	! grep -q "0x0100" <<<"$out" || grep -q "secret row" <<<"$out"; then
	echo "auth_test: FAIL: cqlish with a wrong password: $out"; exit 1
fi
echo "auth_test: cqlish wrong password: $(head -1 <<<"$out")"
if out=$("$CQLISH" "$CQL_HOST" -e "SELECT v FROM a.t;" 2>&1) ||
	! grep -q "requires authentication" <<<"$out"; then
	echo "auth_test: FAIL: cqlish without credentials: $out"; exit 1
fi
echo "auth_test: cqlish -u/-p reads; without credentials: $(head -1 <<<"$out")"
out=$("$CQLISH" -u cassandra -p "$COLONNADE_AUTH_SUPERUSER_PASSWORD" "$CQL_HOST" -e \
	"LOGIN nobody 'x'; LOGIN cassandra '$COLONNADE_AUTH_SUPERUSER_PASSWORD'; SELECT v FROM a.t WHERE k = 1;" 2>&1) || true
grep -q "Login failed: .*0x0100" <<<"$out" && grep -q "Logged in as cassandra" <<<"$out" &&
	grep -q "secret row" <<<"$out" || { echo "auth_test: FAIL: cqlish LOGIN: $out"; exit 1; }
echo "auth_test: cqlish LOGIN: a wrong one keeps the session, the right one logs in again"
CACHE="cache 2 s" /usr/bin/python3 "$HERE/py/auth_test.py" bench
kill -TERM "$CQL_PID"; wait "$CQL_PID" || true; rm -rf "$CQL_DATA"

# 3. A data directory of the per-node roles file (earlier versions): started without a
#    password, its roles are copied into system_auth and log in; the file is renamed, and a
#    restart still needs no password (the node has seen the superuser: setup_done).
unset COLONNADE_AUTH_SUPERUSER_PASSWORD
MIG=$(mktemp -d /tmp/colonnade-authmig.XXXXXX)
mkdir -p "$MIG/data/auth"
/usr/bin/python3 - "$MIG/data/auth/roles" <<'PY'
import ctypes, ctypes.util, sys
s = ctypes.CDLL(ctypes.util.find_library("sodium"))
s.sodium_init()
s.crypto_pwhash_str.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong,
                                ctypes.c_ulonglong, ctypes.c_size_t]
lines = []
for name, sup, pw in (("cassandra", 1, b"legacy-super-pw"), ("olduser", 0, b"old-pw")):
    out = ctypes.create_string_buffer(128)
    assert s.crypto_pwhash_str(out, pw, len(pw), 2, 64 << 20) == 0
    lines.append("%s\t%d\t%s\n" % (name, sup, out.value.decode()))
open(sys.argv[1], "w").write("".join(lines))
PY
mig_start() {
	"$COLONNADE_BIN" server --cluster_name=cqltest --listen_address="$NET.43" \
		--rpc_address="$NET.43" --seeds="$NET.43" --data_file_directories="$MIG/data" \
		--native_transport_port=9042 --dc=datacenter1 --rack=rack1 >"$MIG/log" 2>&1 &
	MIG_PID=$!
	for _ in $(seq 150); do
		grep -q "system_auth is ready" "$MIG/log" && grep -q "CQL native transport on" "$MIG/log" && return 0
		kill -0 "$MIG_PID" 2>/dev/null || { echo "auth_test: FAIL: migrated node exited"; cat "$MIG/log"; exit 1; }
		sleep 0.2
	done
	echo "auth_test: FAIL: migrated node not ready"; cat "$MIG/log"; exit 1
}
mig_login() { # role password -> the answer's first line
	CQL_HOST="$NET.43" COLONNADE_AUTH_SUPERUSER_PASSWORD=x /usr/bin/python3 - "$1" "$2" <<'PY'
import sys
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster
c = Cluster(["%s" % __import__("os").environ["CQL_HOST"]], protocol_version=4,
            auth_provider=PlainTextAuthProvider(sys.argv[1], sys.argv[2]))
s = c.connect()
print(s.execute("SELECT role, is_superuser FROM system_auth.roles WHERE role = %s",
                [sys.argv[1]]).one())
c.shutdown()
PY
}
trap 'kill -TERM "${MIG_PID:-}" 2>/dev/null || true; rm -rf "$MIG"' EXIT
mig_start
grep -q "copying 2 roles of the per-node roles file into system_auth" "$MIG/log" ||
	{ echo "auth_test: FAIL: no copy of the roles file"; cat "$MIG/log"; exit 1; }
[ -f "$MIG/data/auth/roles.migrated" ] && [ ! -f "$MIG/data/auth/roles" ] ||
	{ echo "auth_test: FAIL: roles file not renamed"; ls -la "$MIG/data/auth"; exit 1; }
out=$(mig_login olduser old-pw 2>&1) && grep -q "olduser" <<<"$out" ||
	{ echo "auth_test: FAIL: a copied role does not log in: $out"; exit 1; }
echo "auth_test: roles file copied into system_auth: $out"
kill -TERM "$MIG_PID"; wait "$MIG_PID" || true
mig_start
out=$(mig_login cassandra legacy-super-pw 2>&1) && grep -q "is_superuser=True" <<<"$out" ||
	{ echo "auth_test: FAIL: login after a restart without a password: $out"; cat "$MIG/log"; exit 1; }
echo "auth_test: restarted without a password: $out"
kill -TERM "$MIG_PID"; wait "$MIG_PID" || true
rm -rf "$MIG"
trap - EXIT
export COLONNADE_AUTH_SUPERUSER_PASSWORD="$PW_SAVED"

# 4. Cache off: every login costs an argon2id hash.
COLONNADE_CREDENTIALS_VALIDITY=0ms cql_node_start 42
CACHE="cache off" /usr/bin/python3 "$HERE/py/auth_test.py" bench
# ... and the loop keeps answering queries while those hashes run.
/usr/bin/python3 "$HERE/py/auth_test.py" stall
echo "auth_test: ok"
