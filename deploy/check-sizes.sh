#!/usr/bin/env bash
# Fails when a source file outside tests/ (core, storage, gossip, coordinator, cli) is
# longer than 1,500 lines, or a function in one is longer than 120 lines, unless that
# function is listed in docs/ARCHITECTURE.md under "Functions longer than 120 lines" (a
# row naming `path` and `function`: flat tables and switch dispatchers, each with its
# reason).  Every violation is printed as file:line, the function and its length.
# Run by deploy/test.sh; by hand: deploy/check-sizes.sh [REPO]
#
# A function is what clang-format's Linux brace style makes of one: a line that is only
# "{" opens its body and the next line that is only "}" closes it.  Its signature is the
# lines above the "{" back to a blank line, a comment, a preprocessor line, "}" or ";";
# its name the first identifier followed by "(" there; its length runs from the first
# line of the signature to the closing "}".
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

MAX_FILE=1500
MAX_FUNC=120

# "path function" for each listed exception (table rows: | `path` `function` | ...).
allowed=$(sed -n '/^## Functions longer than 120 lines/,/^## /p' docs/ARCHITECTURE.md |
	sed -n 's/^| `\([^`]*\)` `\([^`]*\)`.*/\1 \2/p')

status=0
while IFS= read -r f; do
	lines=$(wc -l <"$f")
	if [ "$lines" -gt "$MAX_FILE" ]; then
		echo "$f: $lines lines (the limit is $MAX_FILE outside tests/)"
		status=1
	fi
	while read -r start name len; do
		if ! grep -qxF "$f $name" <<<"$allowed"; then
			echo "$f:$start: $name is $len lines (the limit is $MAX_FUNC; flat tables and" \
				"dispatchers go in docs/ARCHITECTURE.md with their reason)"
			status=1
		fi
	done < <(awk -v max="$MAX_FUNC" '
		open && /^}$/ {
			open = 0
			if (NR - sig + 1 > max)
				print sig, name, NR - sig + 1
			sig = NR + 1
			text = ""
			next
		}
		open { next }
		/^\{$/ {
			open = 1
			name = "?"
			if (match(text, /[A-Za-z_][A-Za-z0-9_]*\(/))
				name = substr(text, RSTART, RLENGTH - 1)
			next
		}
		/^$/ || /^}/ || /^#/ || /^\/\*/ || /^ \*/ || /;[ \t]*$/ { sig = NR + 1; text = ""; next }
		{ text = text " " $0 }
	' "$f")
done < <(find core storage gossip coordinator cli -type f \( -name '*.c' -o -name '*.h' \) | sort)
if [ "$status" = 0 ]; then
	echo "sizes: every file within $MAX_FILE lines, every function within $MAX_FUNC" \
		"(or listed in docs/ARCHITECTURE.md)"
fi
exit $status
