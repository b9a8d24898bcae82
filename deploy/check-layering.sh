#!/usr/bin/env bash
# Fails when an #include points up or sideways in the layering
#
#   core  <-  storage, gossip  <-  coordinator  <-  cli
#
# (arrows point down: a module includes only itself and what lies below it;
# storage and gossip never know each other; core knows nobody), or between
# the rooms of coordinator/ against the ROOMS table below.  Every violation is
# printed as file:line, the include, and the rule it breaks.  Tests (tests/)
# may include anything.  Run by deploy/test.sh; by hand: deploy/check-layering.sh [REPO]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

# Modules and what each may include (itself included).
declare -A MODULES=(
	[core]="core"
	[storage]="core storage"
	[gossip]="core gossip"
	[coordinator]="core storage gossip coordinator"
	[cli]="core cli"
)
# The single upward edge: the `colonnade` program's `server` subcommand runs the node.
#   file            include prefix it may use
EXCEPTIONS=(
	"cli/colonnade/cmd_server.c coordinator/node"
)

# Rooms of coordinator/ (coordinator/<room>/...) and the rooms each may include (itself
# included): the order of coordinator/CMakeLists.txt,
#
#   node ─┬─ transport ─┬─ query ─┬─ cql
#         │             └─ auth ──┤
#         ├─ admin ───────────────┤
#         │                       ├─ replication ─┬─ schema
#         ├───────────────────────┴───────────────┴─ hints
#         ├─ batchlog ── replication, schema, hints
#         └─ repair ── schema, hints
#   tracing (core only) ── used by replication, transport and node
#
# A file directly in coordinator/ is in room "-".  Every room that holds a file must be
# named here (a new room fails the check until its line is added).
declare -A ROOMS=(
	[cql]="cql"
	[tracing]="tracing"
	[auth]="auth query cql replication schema hints"
	[schema]="schema"
	[hints]="hints"
	[replication]="replication schema hints tracing"
	[query]="query cql replication schema hints"
	[transport]="transport auth query cql replication schema hints tracing"
	[admin]="admin cql replication schema hints"
	[repair]="repair schema hints"
	[batchlog]="batchlog replication schema hints"
	[node]="node transport auth admin query cql replication schema hints repair batchlog tracing"
)

violations=0
bad() { # file:line include rule
	echo "layering: $1: #include \"$2\": $3"
	violations=$((violations + 1))
}

room_of() { # path under coordinator/ -> room name
	local rest=${1#coordinator/}
	if [[ $rest == */* ]]; then echo "${rest%%/*}"; else echo "-"; fi
}

allowed_exception() { # file include
	local e
	for e in "${EXCEPTIONS[@]}"; do
		read -r ef ep <<<"$e"
		[[ $1 == "$ef" && $2 == "$ep"* ]] && return 0
	done
	return 1
}

check_file() { # file module
	local file=$1 mod=$2 line inc target
	while IFS=: read -r line inc; do
		inc=${inc#*\"}
		inc=${inc%%\"*}
		if [[ $inc != */* ]]; then
			bad "$file:$line" "$inc" "includes are written from the repository root (module/file.h)"
			continue
		fi
		target=${inc%%/*}
		if [[ -z ${MODULES[$target]+x} ]]; then
			bad "$file:$line" "$inc" "$mod may include only: ${MODULES[$mod]}"
			continue
		fi
		if [[ " ${MODULES[$mod]} " != *" $target "* ]]; then
			allowed_exception "$file" "$inc" && continue
			bad "$file:$line" "$inc" "$mod may include only: ${MODULES[$mod]} (arrows point down)"
			continue
		fi
		if [[ $mod == coordinator && $target == coordinator && ${#ROOMS[@]} -gt 0 ]]; then
			local from to
			from=$(room_of "$file")
			to=$(room_of "$inc")
			if [[ -z ${ROOMS[$from]+x} ]]; then
				bad "$file:$line" "$inc" "room '$from' is not in the ROOMS table"
			elif [[ -z ${ROOMS[$to]+x} ]]; then
				bad "$file:$line" "$inc" "room '$to' is not in the ROOMS table"
			elif [[ " ${ROOMS[$from]} " != *" $to "* ]]; then
				bad "$file:$line" "$inc" "coordinator room '$from' may include only: ${ROOMS[$from]}"
			fi
		fi
	done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" || true)
}

files=0
for mod in "${!MODULES[@]}"; do
	[ -d "$mod" ] || { echo "layering: module directory $mod/ is missing"; exit 1; }
	while IFS= read -r -d '' f; do
		check_file "$f" "$mod"
		files=$((files + 1))
	done < <(find "$mod" -type f \( -name '*.c' -o -name '*.h' \) -print0)
done

if [ "$violations" -gt 0 ]; then
	echo "layering: $violations include(s) break the layering ($files files checked)"
	exit 1
fi
echo "layering: ok ($files files checked)"
