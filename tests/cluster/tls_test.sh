#!/usr/bin/env bash
# client_encryption_options with real clients (docs/SECURITY.md): certificates
# made now with the openssl CLI (tests/cluster/tls/make_certs.sh, removed at
# exit); a node that requires TLS: the python driver (ssl_context with the CA
# file), the node driver (sslOptions), cqlish --ssl --cafile connect; plaintext
# clients fail with the server's reason and the node logs their address; a
# client trusting another CA fails; the handshake deadline; SIGHUP reloads the
# certificate (tests/cluster/py/tls_test.py).  Then require_client_auth with
# optional plaintext on the same port.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${COLONNADE_BIN:?COLONNADE_BIN must name the colonnade binary}"
/usr/bin/python3 -c "import cassandra" || { echo "python3-cassandra is not installed (deploy/install-deps.sh)"; exit 1; }
command -v openssl >/dev/null || { echo "openssl CLI missing (deploy/install-deps.sh)"; exit 1; }
# shellcheck source=tests/cluster/cql_node_lib.sh
. "$HERE/cql_node_lib.sh"
NET=${COLONNADE_TEST_NET:-127.0.0}
CQLISH=${CQLISH_BIN:-$(dirname "$COLONNADE_BIN")/cqlish}
CERTS=$(mktemp -d /tmp/colonnade-tlscerts.XXXXXX)
export CERTS
cleanup() {
	local rc=$?
	rm -rf "$CERTS"
	(exit "$rc")
	cql_node_stop
}
"$HERE/tls/make_certs.sh" "$CERTS" "$NET.51" "$NET.52" >/dev/null

# 1. TLS required.
export COLONNADE_CLIENT_ENCRYPTION_OPTIONS_ENABLED=true \
	COLONNADE_CLIENT_ENCRYPTION_OPTIONS_CERTIFICATE="$CERTS/$NET.51.pem" \
	COLONNADE_CLIENT_ENCRYPTION_OPTIONS_PRIVATE_KEY="$CERTS/$NET.51.key"
cql_node_start 51
trap cleanup EXIT
export CQL_PID
/usr/bin/python3 "$HERE/py/tls_test.py" required
grep -q "plaintext connection to TLS-only port $NET.51:9042" "$CQL_LOG" ||
	{ echo "tls_test: FAIL: no log line for the plaintext client"; exit 1; }
echo "tls_test: node log: $(grep -o 'plaintext connection to TLS-only port.*' "$CQL_LOG" | head -1)"
grep -q "TLS handshake not completed within 10000 ms" "$CQL_LOG" ||
	{ echo "tls_test: FAIL: no log line for the handshake timeout"; exit 1; }

out=$("$CQLISH" --ssl --cafile "$CERTS/ca.pem" "$CQL_HOST" -e "SELECT v FROM tls.t WHERE k = 1;" 2>&1) ||
	{ echo "tls_test: FAIL: cqlish --ssl: $out"; exit 1; }
grep -q "over-tls" <<<"$out" || { echo "tls_test: FAIL: cqlish --ssl read: $out"; exit 1; }
echo "tls_test: cqlish --ssl --cafile reads over TLS"
if out=$(SSL_CERTFILE="$CERTS/rogue-ca.pem" "$CQLISH" --ssl "$CQL_HOST" -e "SELECT v FROM tls.t;" 2>&1) ||
	! grep -q "certificate verify failed" <<<"$out"; then
	echo "tls_test: FAIL: cqlish trusting another CA: $out"; exit 1
fi
echo "tls_test: cqlish with another CA: $out"
if out=$("$CQLISH" "$CQL_HOST" -e "SELECT v FROM tls.t;" 2>&1) || ! grep -q "requires TLS" <<<"$out"; then
	echo "tls_test: FAIL: plaintext cqlish: $out"; exit 1
fi
echo "tls_test: plaintext cqlish: $out"

if command -v node >/dev/null && command -v npm >/dev/null; then
	if [ ! -d "$HERE/node/node_modules/cassandra-driver" ]; then
		(cd "$HERE/node" && npm ci --no-audit --no-fund --loglevel=error)
	fi
	CA_FILE="$CERTS/ca.pem" node "$HERE/node/tls_test.js"
else
	echo "tls_test: FAIL: nodejs/npm missing (deploy/install-deps.sh)"; exit 1
fi
kill -TERM "$CQL_PID"; wait "$CQL_PID" || true; rm -rf "$CQL_DATA"

# 2. require_client_auth, plaintext allowed on the same port.
export COLONNADE_CLIENT_ENCRYPTION_OPTIONS_CERTIFICATE="$CERTS/$NET.52.pem" \
	COLONNADE_CLIENT_ENCRYPTION_OPTIONS_PRIVATE_KEY="$CERTS/$NET.52.key" \
	COLONNADE_CLIENT_ENCRYPTION_OPTIONS_REQUIRE_CLIENT_AUTH=true \
	COLONNADE_CLIENT_ENCRYPTION_OPTIONS_TRUSTSTORE="$CERTS/ca.pem" \
	COLONNADE_CLIENT_ENCRYPTION_OPTIONS_OPTIONAL=true
cql_node_start 52
trap cleanup EXIT
/usr/bin/python3 -c "
from cassandra.cluster import Cluster
c = Cluster(['$CQL_HOST'], protocol_version=4); s = c.connect()
s.execute(\"CREATE KEYSPACE tls WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}\")
s.execute('CREATE TABLE tls.t (k int PRIMARY KEY, v text)'); c.shutdown()"
/usr/bin/python3 "$HERE/py/tls_test.py" clientauth
if out=$("$CQLISH" --ssl --cafile "$CERTS/ca.pem" "$CQL_HOST" -e "SELECT v FROM tls.t;" 2>&1); then
	echo "tls_test: FAIL: cqlish without a client certificate connected: $out"; exit 1
fi
echo "tls_test: cqlish without a client certificate: $out"
out=$("$CQLISH" --ssl --cafile "$CERTS/ca.pem" --certfile "$CERTS/client.pem" --keyfile "$CERTS/client.key" \
	"$CQL_HOST" -e "SELECT v FROM tls.t WHERE k = 3;" 2>&1) || { echo "tls_test: FAIL: cqlish --certfile: $out"; exit 1; }
grep -q "with-client-cert" <<<"$out" || { echo "tls_test: FAIL: cqlish --certfile read: $out"; exit 1; }
echo "tls_test: cqlish --certfile/--keyfile reads with require_client_auth"
CA_FILE="$CERTS/ca.pem" CLIENT_CERT="$CERTS/client.pem" CLIENT_KEY="$CERTS/client.key" node "$HERE/node/tls_test.js"
echo "tls_test: ok"
