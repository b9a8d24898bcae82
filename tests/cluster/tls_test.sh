#!/usr/bin/env bash
# client_encryption_options with real clients (docs/SECURITY.md): certificates
# made now with the openssl CLI (tests/cluster/tls/make_certs.sh, removed at
# exit); a node that requires TLS: the python driver (ssl_context with the CA
# file), the node driver (sslOptions), cqlish --ssl --cafile connect; plaintext
# clients fail with the server's reason and the node logs their address; a
# client trusting another CA fails; the handshake deadline; SIGHUP reloads the
# certificate (tests/cluster/py/tls_test.py).  Then require_client_auth with
# optional plaintext on the same port.  Then the admin port over HTTPS
# (admin_encryption_options): the operator tool with a CA file, and a client
# certificate of the cluster's CA opening /v1/dump and POSTs as the token does.
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
	set +e # cql_node_stop reads the status from $?
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

# colonnade health (the container healthcheck) reads the node's own TLS settings.
out=$(SSL_CERTFILE="$CERTS/ca.pem" "$COLONNADE_BIN" health -h "$CQL_HOST" 2>&1) ||
	{ echo "tls_test: FAIL: colonnade health on a TLS node: $out"; exit 1; }
echo "tls_test: colonnade health: $out"
if out=$(SSL_CERTFILE="$CERTS/rogue-ca.pem" "$COLONNADE_BIN" health -h "$CQL_HOST" 2>&1); then
	echo "tls_test: FAIL: health trusting another CA: $out"; exit 1
fi
echo "tls_test: colonnade health trusting another CA: $out"

if command -v node >/dev/null && command -v npm >/dev/null; then
	node_driver_ready
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
kill -TERM "$CQL_PID"; wait "$CQL_PID" || true; rm -rf "$CQL_DATA"

# 3. The admin port over HTTPS, with a token and client certificates.
unset COLONNADE_CLIENT_ENCRYPTION_OPTIONS_ENABLED
export COLONNADE_ADMIN_ENCRYPTION_OPTIONS_ENABLED=true \
	COLONNADE_ADMIN_ENCRYPTION_OPTIONS_CERTIFICATE="$CERTS/$NET.52.pem" \
	COLONNADE_ADMIN_ENCRYPTION_OPTIONS_PRIVATE_KEY="$CERTS/$NET.52.key" \
	COLONNADE_ADMIN_ENCRYPTION_OPTIONS_TRUSTSTORE="$CERTS/ca.pem" \
	COLONNADE_ADMIN_TOKEN="tok-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cql_node_start 52
trap cleanup EXIT
ADMIN="https://$CQL_HOST:7199"
out=$(COLONNADE_ADMIN_CAFILE="$CERTS/ca.pem" "$COLONNADE_BIN" status -h "$CQL_HOST" 2>&1) ||
	{ echo "tls_test: FAIL: colonnade status over HTTPS: $out"; exit 1; }
grep -q "^UN " <<<"$out" || { echo "tls_test: FAIL: status over HTTPS: $out"; exit 1; }
echo "tls_test: colonnade status over HTTPS (COLONNADE_ADMIN_CAFILE): $(grep '^UN ' <<<"$out" | head -1)"
if out=$("$COLONNADE_BIN" status -h "$CQL_HOST" 2>&1); then
	echo "tls_test: FAIL: plain HTTP to the HTTPS admin port answered: $out"; exit 1
fi
echo "tls_test: plain HTTP to the HTTPS admin port fails: $(head -1 <<<"$out")"
"$CQLISH" "$CQL_HOST" -e "CREATE KEYSPACE tls WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1};
CREATE TABLE tls.t (k int PRIMARY KEY, v text); INSERT INTO tls.t (k, v) VALUES (5, 'dumped');" >/dev/null
dump="$ADMIN/v1/dump?keyspace=tls&table=t&key=5"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CERTS/ca.pem" "$dump")
[ "$code" = 401 ] || { echo "tls_test: FAIL: /v1/dump without token or certificate: HTTP $code"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CERTS/ca.pem" --cert "$CERTS/rogue.pem" --key "$CERTS/rogue.key" "$dump")
[ "$code" != 200 ] || { echo "tls_test: FAIL: /v1/dump with a certificate of another CA: HTTP $code"; exit 1; }
out=$(curl -s -w ' HTTP %{http_code}' --cacert "$CERTS/ca.pem" --cert "$CERTS/client.pem" --key "$CERTS/client.key" "$dump")
grep -q "dumped.* HTTP 200$" <<<"$out" || { echo "tls_test: FAIL: /v1/dump with a client certificate: $out"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CERTS/ca.pem" -H "Authorization: Bearer $COLONNADE_ADMIN_TOKEN" "$dump")
[ "$code" = 200 ] || { echo "tls_test: FAIL: /v1/dump with the token: HTTP $code"; exit 1; }
echo "tls_test: /v1/dump over HTTPS: 401 without token or certificate, refused with another CA's certificate, 200 with a client certificate or the token"
out=$(env -u COLONNADE_ADMIN_TOKEN COLONNADE_ADMIN_CAFILE="$CERTS/ca.pem" COLONNADE_ADMIN_CERTFILE="$CERTS/client.pem" \
	COLONNADE_ADMIN_KEYFILE="$CERTS/client.key" "$COLONNADE_BIN" disablehandoff -h "$CQL_HOST" 2>&1) ||
	{ echo "tls_test: FAIL: colonnade disablehandoff with a client certificate: $out"; exit 1; }
if out2=$(env -u COLONNADE_ADMIN_TOKEN COLONNADE_ADMIN_CAFILE="$CERTS/ca.pem" "$COLONNADE_BIN" enablehandoff -h "$CQL_HOST" 2>&1); then
	echo "tls_test: FAIL: a POST without token or certificate worked: $out2"; exit 1
fi
echo "tls_test: colonnade disablehandoff (POST) with COLONNADE_ADMIN_CERTFILE/KEYFILE: ok; without: $(head -1 <<<"$out2")"
echo "tls_test: ok"
