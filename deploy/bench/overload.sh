#!/usr/bin/env bash
# Overload A/B (docs/PERFORMANCE.md, "Where the accepted requests waited"): a fresh
# 3-node cluster (RF 3) of BIN on NET.1-3, 200,000 partitions populated, then
# `colonnade bench write --rate RATE --throw-on-overload` for DUR; prints the bench
# summary and, per node, the change of colonnade_cql_queue_wait_seconds (time in the
# socket of the requests run), colonnade_client_request_latency_seconds{op="write"}
# (time in the server), colonnade_replica_mutation_wait_seconds (the MUTATIONs' time in
# the replicas' sockets) and the overload counters over the run.
# Usage: BIN=build/cli/colonnade NET=127.0.4x [BASE=0 (nodes NET.BASE+1..3) RATE=40000
#        DUR=20s TAG=name EXTRA="yaml: v"] deploy/bench/overload.sh
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/build/cli/colonnade}
NET=${NET:?set NET}; BASE=${BASE:-0}; RATE=${RATE:-40000}; DUR=${DUR:-20s}; TAG=${TAG:-x}
WORK=$(mktemp -d /tmp/ovlrun.XXXX)
PIDS=()
cleanup(){ set +e; for p in "${PIDS[@]}"; do kill -TERM $p 2>/dev/null||true; done; sleep 0.5; for p in "${PIDS[@]}"; do kill -KILL $p 2>/dev/null||true; done; wait 2>/dev/null||true; rm -rf $WORK; }
trap cleanup EXIT
for k in 1 2 3; do d=$WORK/n$k; mkdir -p $d/data
 sed -e "s|@ADDRESS@|$NET.$((BASE + k))|g" -e "s|@SEEDS@|$NET.$((BASE + 1)),$NET.$((BASE + 2))|g" -e "s|@DATA@|$d/data|g" $ROOT/deploy/conf/local-node.yaml.in > $d/colonnade.yaml
 sed -i 's/^log_level: .*/log_level: warn/' $d/colonnade.yaml
 [ -n "${EXTRA:-}" ] && echo "$EXTRA" >> $d/colonnade.yaml
 (cd $d && exec $BIN server -c $d/colonnade.yaml > $d/node.log 2>&1) & PIDS+=($!)
done
until [ "$($BIN status -h $NET.$((BASE + 1)) 2>/dev/null | grep -c '^UN ')" = 3 ]; do sleep 0.5; done
C=(--nodes $NET.$((BASE + 1)),$NET.$((BASE + 2)),$NET.$((BASE + 3)) --keyspace hl --records 200000 --value-size 100 --total-connections 50)
until $BIN bench write "${C[@]}" --drop --replication "{'class':'SimpleStrategy','replication_factor':3}" --populate 200000 --inflight 8 --ops 1 --quiet >/dev/null 2>$WORK/pop.err; do sleep 1; done
m(){ for k in 1 2 3; do curl -s --max-time 5 http://$NET.$((BASE + k)):7199/metrics > $WORK/$1.$k; done; }
m a
echo "== $TAG $(date -u +%T) $(uptime | sed 's/.*load/load/')"
$BIN bench write "${C[@]}" --dist uniform --rate $RATE --throw-on-overload --duration $DUR --quiet 2>&1 | grep -E "Results|^  \(|^  all|errors:|node|127.0|first|client:"
m b
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
for k in 1 2 3; do
 printf "node %s wait: " $k; join <(grep '^colonnade_cql_queue_wait_seconds_bucket{takes_overloaded="true"' $WORK/a.$k | sed 's/.*le="\([^"]*\)"} /\1 /') <(grep '^colonnade_cql_queue_wait_seconds_bucket{takes_overloaded="true"' $WORK/b.$k | sed 's/.*le="\([^"]*\)"} /\1 /') | awk '{printf "%s:%d ", $1, $3-$2}'; echo
 printf "node %s in-server: " $k; join <(grep '^colonnade_client_request_latency_seconds_bucket{op="write"' $WORK/a.$k | sed 's/.*le="\([^"]*\)"} /\1 /') <(grep '^colonnade_client_request_latency_seconds_bucket{op="write"' $WORK/b.$k | sed 's/.*le="\([^"]*\)"} /\1 /') | awk '{printf "%s:%d ", $1, $3-$2}'; echo
 printf "node %s replica MUTATION wait: " $k; join <(grep '^colonnade_replica_mutation_wait_seconds_bucket' $WORK/a.$k | sed 's/.*le="\([^"]*\)"} /\1 /') <(grep '^colonnade_replica_mutation_wait_seconds_bucket' $WORK/b.$k | sed 's/.*le="\([^"]*\)"} /\1 /') | awk '{printf "%s:%d ", $1, $3-$2}'; echo
 for mm in colonnade_replica_mutations_shed_total colonnade_cql_overloaded_total colonnade_cql_queue_wait_refused_total colonnade_replicated_write_timeouts_total colonnade_messaging_dropped_total colonnade_cql_overload_pauses_total colonnade_hints_stored_total; do
  a=$(awk -v m=$mm '$1==m{print $2}' $WORK/a.$k); b=$(awk -v m=$mm '$1==m{print $2}' $WORK/b.$k); printf "%s %s  " ${mm#colonnade_} $(python3 -c "print(int(float('${b:-0}')-float('${a:-0}')))"); done; echo
done
