#!/usr/bin/env bash
# generate.sh [--check] [SOURCE DEST]: writes the student skeleton DEST/<file>
# from SOURCE/<file> for each editable file. Without a pair it does every
# variant's: solution/<variant>/ -> starter/<variant>/ (mqueue, socket).
# Folders are relative to the kit's top. In a solution file, a region the
# student writes is two lines, each alone on its line:
#   //@ begin <title>     the solution code below is left out of the starter
#   //@ end
# What the starter holds in its place is in SOURCE/<file>.todo, under a line
# "== <title>": the lines up to a "--" line become a "TODO(<title>):"
# comment, the lines after it code (at the begin line's indent). Blank lines,
# and the note above the first "==", are left out. A region with no text, a
# text with no region, a title used twice or a stray //@ line is an error
# "file:line: what" (exit 1), and that starter file is not written.
# With --check nothing is written: it lists the starter files that differ
# from what it would generate and exits 1 if there are any.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# render SOURCE/FILE: prints the starter's FILE (the paths relative to the
# kit's top, as the errors name them).
render() {
	local side="$root/$1.todo"
	[ -e "$side" ] || side=/dev/null
	awk -v src="$1" -v side="$1.todo" '
	function fail(where, what) {
		printf "%s: %s\n", where, what >"/dev/stderr"
		bad = 1
	}
	function emit(t, i) {
		if (ntodo[t] > 0) {
			print indent "/*"
			print indent " * TODO(" t "):"
			for (i = 1; i <= ntodo[t]; i++)
				print indent " * " todo[t, i]
			print indent " */"
		}
		for (i = 1; i <= ncode[t]; i++)
			print indent code[t, i]
	}
	# The side file: each title owns the lines up to the next one.
	FILENAME == ARGV[1] {
		if (/^== /) {
			cur = substr($0, 4)
			if (cur in text_at) {
				fail(side ":" FNR, "a second text \"" cur "\" (the first is at line " text_at[cur] ")")
				cur = SUBSEP    # its lines go nowhere
			} else {
				text_at[cur] = FNR
				titles[++ntitles] = cur
			}
			in_code = 0
		} else if (cur == "" || $0 == "") {
			next
		} else if ($0 == "--") {
			if (in_code)
				fail(side ":" FNR, "a second \"--\" in the text \"" cur "\"")
			in_code = 1
		} else if (in_code) {
			code[cur, ++ncode[cur]] = $0
		} else {
			todo[cur, ++ntodo[cur]] = $0
		}
		next
	}
	/^[ \t]*\/\/@ begin / {
		if (inside)
			fail(src ":" FNR, "a region begins inside \"" title "\" (begun at line " begun ")")
		match($0, /^[ \t]*/)
		indent = substr($0, 1, RLENGTH)
		title = $0
		sub(/^[ \t]*\/\/@ begin /, "", title)
		if (title in region_at)
			fail(src ":" FNR, "a second region \"" title "\" (the first begins at line " region_at[title] ")")
		else
			region_at[title] = FNR
		if (!(title in text_at))
			fail(src ":" FNR, "region \"" title "\" has no text (\"== " title "\") in " side)
		inside = 1
		begun = FNR
		next
	}
	/^[ \t]*\/\/@ end[ \t]*$/ {
		if (!inside)
			fail(src ":" FNR, "an end with no region begun")
		else
			emit(title)
		inside = 0
		next
	}
	/^[ \t]*\/\/@/ {
		fail(src ":" FNR, "not a region line (//@ begin TITLE, //@ end): " $0)
		next
	}
	!inside { print }
	END {
		if (inside)
			fail(src ":" begun, "region \"" title "\" has no //@ end")
		for (i = 1; i <= ntitles; i++)
			if (!(titles[i] in region_at))
				fail(side ":" text_at[titles[i]], "text \"" titles[i] "\" has no region (//@ begin) in " src)
		exit bad
	}
	' "$side" "$root/$1"
}

# generate SOURCE DEST: renders (or with --check compares) one folder pair.
# The student's files are every .c and .h directly in SOURCE.
generate() {
	local f
	for f in "$root/$1"/*.todo; do
		if [ -e "$f" ] && [ ! -e "${f%.todo}" ]; then
			echo "$1/${f##*/}:1: text for $1/$(basename "${f%.todo}"), which is not there" >&2
			failed=1
		fi
	done
	for f in "$root/$1"/*.[ch]; do
		f=${f##*/}
		if ! render "$1/$f" >"$tmp"; then
			failed=1
		elif [ $check -eq 1 ]; then
			cmp -s "$tmp" "$root/$2/$f" || stale+=("$2/$f")
		else
			mkdir -p "$root/$2"
			cat "$tmp" >"$root/$2/$f"
		fi
	done
}

check=0
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi
stale=()
failed=0
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
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
exit $failed
