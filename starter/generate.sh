#!/usr/bin/env bash
# generate.sh [--check] [SOURCE DEST]: writes the student skeleton DEST/<file>
# from SOURCE/<file> for each editable file. Without a pair it does every
# variant's: solution/<variant>/ -> starter/<variant>/ (mqueue, socket).
# Folders are relative to the kit's top. In a solution file,
# a region the student writes is marked, each marker alone on its line:
#   //@ begin <title>     the solution code below is left out of the starter
#   //@ todo <text>       becomes a line of a "TODO(<title>):" comment
#   //@ stub <code>       becomes a line of code in the starter
#   //@ end
# With --check nothing is written: it lists the starter files that differ
# from what it would generate and exits 1 if there are any.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

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

# generate SOURCE DEST: renders (or with --check compares) one folder pair.
# The student's files are every .c and .h directly in SOURCE.
generate() {
	local f files=()
	for f in "$root/$1"/*.[ch]; do
		files+=("$(basename "$f")")
	done
	for f in "${files[@]}"; do
		if [ $check -eq 1 ]; then
			if ! render "$root/$1/$f" | cmp -s - "$root/$2/$f"; then
				stale+=("$2/$f")
			fi
		else
			mkdir -p "$root/$2"
			render "$root/$1/$f" >"$root/$2/$f"
		fi
	done
}

check=0
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi
stale=()
if [ $# -eq 2 ]; then
	generate "$1" "$2"
elif [ $# -eq 0 ]; then
	for variant in "$root"/solution/*/; do
		variant=$(basename "$variant")
		generate "solution/$variant" "starter/$variant"
	done
else
	echo "usage: generate.sh [--check] [SOURCE DEST]" >&2
	exit 2
fi
if [ ${#stale[@]} -gt 0 ]; then
	echo "starter differs from its solution for: ${stale[*]}" >&2
	echo "run: bash starter/generate.sh" >&2
	exit 1
fi
