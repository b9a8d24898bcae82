#!/usr/bin/env bash
# Certificates to try TLS with the compose files (docs/DOCKER.md "TLS"):
#   deploy/docker/make-tls.sh DIR [HOST...]
# makes in DIR a CA (ca.pem; its key ca.key stays here, keep it away from the
# nodes), one node certificate for every container of the compose files
# (node.pem, node.key: DNS names dc1-n1..dc2-n3, colonnade, localhost, the HOSTs
# given, and IP 127.0.0.1), and a client certificate (client.pem, client.key)
# for require_client_auth and the admin port.  EC P-256, valid 365 days.
#
# The keys are made readable by the containers' user (uid 999): point
# COLONNADE_TLS_DIR at DIR.  This is for trying things out; in production use
# your own CA, one certificate per node, and key files owned by 999:999, mode 0400.
set -euo pipefail
dir=${1:?usage: make-tls.sh DIR [HOST...]}
shift
mkdir -p "$dir"
cd "$dir"
san="DNS:colonnade,DNS:localhost,IP:127.0.0.1"
for n in dc1-n1 dc1-n2 dc1-n3 dc2-n1 dc2-n2 dc2-n3 "$@"; do san="$san,DNS:$n"; done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
	-subj "/O=Colonnade/CN=Colonnade compose CA" -keyout ca.key -out ca.pem \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
leaf() { # name cn san
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=Colonnade/CN=$2" \
		-keyout "$1.key" -out "$1.csr" 2>/dev/null
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 \
		-extfile <(printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n%s\n' "$3") \
		-out "$1.pem" 2>/dev/null
	rm -f "$1.csr"
}
leaf node "colonnade node" "subjectAltName=$san"
leaf client "colonnade client" ""
chmod 600 ca.key
chmod 644 node.key client.key ca.pem node.pem client.pem
echo "made $dir/{ca,node,client}.pem and keys; use: COLONNADE_TLS_DIR=$dir"
