#!/usr/bin/env bash
# generate.sh [--check]: writes the student skeleton starter/<file> from
# solution/<file> for each editable file. In a solution file, a region the
# student writes is marked, each marker alone on its line:
#   //@ begin <title>     the solution code below is left out of the starter
#   //@ todo <text>       becomes a line of a "TODO(<title>):" comment
#   //@ stub <code>       becomes a line of code in the starter
#   //@ end
# With --check nothing is written: it lists the starter files that differ
# from what it would generate and exits 1 if there are any.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
solution=$here/../solution
files=(cache-student.h shm_channel.h shm_channel.c segment_pool.h webproxy.c handle_with_cache.c simplecached.c)

render() {
	awk '
	function flush_todo() {
		if (ntodo == 0) return
		print indent "/*"
		print indent " * TODO(" title "):"
		for (i = 1; i <= ntodo; i++)
			print indent " * " todo[i]
		print indent " */"
		ntodo = 0
	}
	/^[ \t]*\/\/@ begin/ {
		match($0, /^[ \t]*/); indent = substr($0, 1, RLENGTH)
		title = $0; sub(/^[ \t]*\/\/@ begin[ ]*/, "", title)
		inside = 1; ntodo = 0; next
	}
	inside && /^[ \t]*\/\/@ todo/ {
		line = $0; sub(/^[ \t]*\/\/@ todo[ ]?/, "", line)
		todo[++ntodo] = line; next
	}
	inside && /^[ \t]*\/\/@ stub/ {
		flush_todo()
		line = $0; sub(/^[ \t]*\/\/@ stub[ ]?/, "", line)
		print indent line; next
	}
	inside && /^[ \t]*\/\/@ end/ { flush_todo(); inside = 0; next }
	inside { next }
	{ print }
	' "$1"
}

check=0
[ "${1:-}" = --check ] && check=1
stale=()
for f in "${files[@]}"; do
	if [ $check -eq 1 ]; then
		if ! render "$solution/$f" | cmp -s - "$here/$f"; then
			stale+=("starter/$f")
		fi
	else
		render "$solution/$f" >"$here/$f"
	fi
done
if [ ${#stale[@]} -gt 0 ]; then
	echo "starter differs from solution/ for: ${stale[*]}" >&2
	echo "run: bash starter/generate.sh" >&2
	exit 1
fi
