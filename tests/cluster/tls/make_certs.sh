#!/usr/bin/env bash
# Test certificates, made at test time (never committed): a cluster CA, one
# certificate per address given (CN=node-<address>, the address as IP SAN,
# usable as server and client), a client certificate (CN=client) and an
# unrelated CA with a certificate of its own (CN=rogue) for the refusals.
#   make_certs.sh DIR ADDRESS...
# Writes DIR/ca.pem, DIR/<address>.pem + .key, DIR/client.pem + .key,
# DIR/rogue-ca.pem, DIR/rogue.pem + .key (EC P-256 keys, 2 days).
#   make_certs.sh --renew DIR ADDRESS
# Replaces DIR/<address>.pem + .key with a new certificate from the same CA
# (CN=node-<address>-renewed): what an operator does before SIGHUP.
set -euo pipefail
renew=0
if [ "$1" = --renew ]; then renew=1; shift; fi
dir=$1; shift
mkdir -p "$dir"
cd "$dir"
ossl() { openssl "$@" 2>/dev/null; }
make_ca() { # name cn
	ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/O=Colonnade test/CN=$2" -keyout "$1.key" -out "$1.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
make_leaf() { # name cn ca san
	local ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth"
	[ -n "$4" ] && ext="$ext
subjectAltName=$4"
	ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=Colonnade test/CN=$2" \
		-keyout "$1.key" -out "$1.csr"
	ossl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days 2 \
		-extfile <(printf '%s\n' "$ext") -out "$1.pem"
	rm -f "$1.csr"
	chmod 600 "$1.key"
}
if [ "$renew" = 1 ]; then
	make_leaf "new-$1" "node-$1-renewed" ca "IP:$1"
	mv "new-$1.key" "$1.key"
	mv "new-$1.pem" "$1.pem"
	exit 0
fi
make_ca ca "Colonnade test CA"
make_ca rogue-ca "Some other CA"
for a in "$@"; do make_leaf "$a" "node-$a" ca "IP:$a"; done
make_leaf client client ca ""
make_leaf rogue rogue rogue-ca "IP:127.0.0.1"
