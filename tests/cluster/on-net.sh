#!/bin/sh
# on-net.sh COMMAND [ARGS...]
#
# Runs a cluster test on the block of loopback addresses ctest gave it.  ctest -jN with
# --resource-spec-file (deploy/test.sh writes one: a resource "nets" whose ids name address
# blocks, net_127_0_0 for 127.0.0 and so on, as ctest allows only [a-z0-9_] in an id) runs
# up to N cluster tests at once, each holding one block, and names it in
# CTEST_RESOURCE_GROUP_0_NETS ("id:net_127_0_1,slots:1").  Without resource allocation
# (plain ctest, or the test run by hand) COLONNADE_TEST_NET is left as it is.
# Either way the test holds a lock on its block while it runs, so tests that share a block
# (ctest -jN without the resource spec, or two engineers on one net) take turns instead of
# starting nodes on each other's addresses.
set -eu
case "${CTEST_RESOURCE_GROUP_0_NETS:-}" in
id:net_*)
	net=${CTEST_RESOURCE_GROUP_0_NETS#id:net_}
	COLONNADE_TEST_NET=$(echo "${net%%,*}" | tr _ .)
	export COLONNADE_TEST_NET
	echo "[on-net] COLONNADE_TEST_NET=$COLONNADE_TEST_NET"
	;;
esac
lock="${TMPDIR:-/tmp}/colonnade-test-net-${COLONNADE_TEST_NET:-127.0.0}.lock"
# -o: the lock is flock's own, not inherited by the nodes the test starts
exec flock -o "$lock" "$@"
