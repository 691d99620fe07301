# shellcheck shell=bash
# grading.bash: what grader/grade and grader/grade-all share: reading the
# rubric, finding the tests a rubric row names, and escaping text for JSON,
# regular expressions and shell command lines.
#
# Launching programs, namespaces, waiting and stopping belong to the one
# harness (tests/lib/harness.bash); nothing of that kind lives here.

# The rubric: grader/rubric.tsv. Loads every row into the arrays R_ID,
# R_POINTS, R_CAT, R_DESC (same index). Returns 1 with a message on stderr if
# the file does not have the expected shape.
rubric_load() {
	local file=$1 line n=0 header_seen=0 id points cat desc extra
	R_ID=() R_POINTS=() R_CAT=() R_DESC=()
	while IFS= read -r line || [[ -n $line ]]; do
		n=$((n + 1))
		[[ -z $line || $line == \#* ]] && continue
		if ((header_seen == 0)); then
			if [[ $line != $'id\tpoints\tcategory\tdescription' ]]; then
				echo "$file:$n: expected the header 'id<TAB>points<TAB>category<TAB>description'" >&2
				return 1
			fi
			header_seen=1
			continue
		fi
		IFS=$'\t' read -r id points cat desc extra <<<"$line"
		if [[ -z $id || -z $cat || -z $desc || -n ${extra:-} ]]; then
			echo "$file:$n: a row has exactly four tab-separated fields" >&2
			return 1
		fi
		if ! [[ $points =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
			echo "$file:$n: points must be a number, not '$points'" >&2
			return 1
		fi
		if [[ $id != compile && $id != *:* ]]; then
			echo "$file:$n: an id is 'compile' or FILE:NAME, not '$id'" >&2
			return 1
		fi
		R_ID+=("$id") R_POINTS+=("$points") R_CAT+=("$cat") R_DESC+=("$desc")
	done <"$file"
	if ((${#R_ID[@]} == 0)); then
		echo "$file: no rows" >&2
		return 1
	fi
	local i j
	for ((i = 0; i < ${#R_ID[@]}; i++)); do
		for ((j = i + 1; j < ${#R_ID[@]}; j++)); do
			if [[ ${R_ID[i]} == "${R_ID[j]}" ]]; then
				echo "$file: the id '${R_ID[i]}' appears twice" >&2
				return 1
			fi
		done
	done
}

# The bats file a rubric id names, relative to the kit root:
# "tests/x:..." is tests/x.bats, "hidden/x:..." is grader/hidden/x.bats.
rubric_id_file() {
	local stem=${1%%:*}
	case $stem in
	tests/*) printf 'tests/%s.bats\n' "${stem#tests/}" ;;
	hidden/*) printf 'grader/hidden/%s.bats\n' "${stem#hidden/}" ;;
	*) return 1 ;;
	esac
}

# The test-name prefix a rubric id names (everything after the first ':').
rubric_id_prefix() {
	printf '%s\n' "${1#*:}"
}

# Prints the name of every @test in a bats file, one per line, as written
# between its quotes (bats files here do not build names from variables).
bats_test_names() {
	sed -nE \
		-e 's/^[[:space:]]*@test[[:space:]]+"((\\.|[^"\\])*)"[[:space:]]*\{.*$/\1/p' \
		-e "s/^[[:space:]]*@test[[:space:]]+'([^']*)'[[:space:]]*\{.*$/\1/p" \
		"$1" | sed -e 's/\\\(["\\$`]\)/\1/g'
}

# Escapes a literal string for an extended regular expression.
ere_escape() {
	printf '%s' "$1" | sed -e 's/[][\.*^$+?(){}|/]/\\&/g'
}

# Quotes a word for a shell command line a person will copy.
shell_quote() {
	if [[ $1 =~ ^[A-Za-z0-9_./=:@%+,-]+$ ]]; then
		printf '%s' "$1"
	else
		printf "'%s'" "${1//\'/\'\\\'\'}"
	fi
}

# A JSON string literal (with its quotes) holding the text of $1, printable
# ASCII only. Used for the fallback report, which must not depend on jq.
json_string() {
	local s
	s=$(printf '%s' "$1" | LC_ALL=C tr -cd '\011\012\015\040-\176'; echo x)
	s=${s%x}
	s=${s//"\\"/"\\\\"}
	s=${s//'"'/'\"'}
	s=${s//$'\n'/'\n'}
	s=${s//$'\t'/'\t'}
	s=${s//$'\r'/'\r'}
	printf '"%s"' "$s"
}

# Runs "CALLBACK ITEM SLOT" for every ITEM, in N slots at once (slot numbers
# 0..N-1); each slot takes the next item left. Items are single lines.
queue_run() {
	local n=$1 cb=$2 dir k
	shift 2
	(($# == 0)) && return 0
	dir=$(mktemp -d "${TMPDIR:-/tmp}/ipclab-queue.XXXXXX") || return 1
	printf '%s\n' "$@" >"$dir/items"
	echo 0 >"$dir/next"
	for ((k = 0; k < n; k++)); do
		queue_worker "$dir" "$cb" "$k" &
	done
	wait
	rm -rf "$dir"
}

queue_worker() {
	local dir=$1 cb=$2 k=$3 n lock item
	while :; do
		exec {lock}>"$dir/lock"
		flock "$lock"
		read -r n <"$dir/next"
		echo $((n + 1)) >"$dir/next"
		exec {lock}>&-
		item=$(sed -n "$((n + 1))p" "$dir/items")
		[[ -z $item ]] && return 0
		"$cb" "$item" "$k"
	done
}
