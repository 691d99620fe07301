# shellcheck shell=bash
# helpers.bash: what the grader's own suites share: making a submission
# folder (the reference, the starter, or a hostile fixture applied to the
# reference), reading grader/fixtures/expected.tsv, checking the reports
# (results.json in Gradescope's format, junit.xml) and checking that a grade
# left nothing behind: no process of its uids or under its folder, no IPC
# object of its uids, no work folder.

KIT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
GRADE=$KIT/grader/grade
FIXTURES=$KIT/grader/fixtures
EXPECTED=$FIXTURES/expected.tsv

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

# The kit's tools and test content must exist: the suites grade with
# --no-kit-build, so that no grade regenerates content other suites read.
require_kit_built() {
	local need
	for need in "$KIT/build/lab/gfclient_download" "$KIT/build/content/locals.txt"; do
		[[ -e $need ]] || fail "missing $need: run make lab content first"
	done
}

# make_submission NAME DIR: writes DIR/NAME holding the editable files:
# solution/'s for "solution", starter/'s for "starter", else solution/'s
# patched with grader/fixtures/NAME.patch. Prints the folder.
make_submission() {
	local name=$1 dir=$2/$1 from=solution
	[[ $name == starter ]] && from=starter
	mkdir -p "$dir"
	cp "$KIT/$from"/*.[ch] "$dir/"
	if [[ $name != solution && $name != starter ]]; then
		patch -p1 -s -d "$dir" --no-backup-if-mismatch <"$FIXTURES/$name.patch" ||
			fail "the fixture $name.patch does not apply to solution/"
	fi
	printf '%s\n' "$dir"
}

# expected_field NAME COLUMN: one field of NAME's row in expected.tsv
# (columns: name, rows, score, seconds, failing).
expected_field() {
	awk -F'\t' -v n="$1" -v c="$2" '
		/^#/ || NR == 1 { next }
		$1 == n { print $c; found = 1; exit }
		END { exit !found }' "$EXPECTED" || fail "no row for $1 in expected.tsv"
}

# score_matches SCORE EXPECTED: EXPECTED is a number or MIN-MAX.
score_matches() {
	awk -v s="$1" -v e="$2" 'BEGIN {
		if (split(e, r, "-") == 2) exit !(s + 0 >= r[1] + 0 && s + 0 <= r[2] + 0)
		exit !(s + 0 == e + 0)
	}'
}

# check_results_json FILE: Gradescope's format: a numeric score equal to the
# sum of its tests', and every test with a name, a score within
# 0..max_score, a status and an output.
check_results_json() {
	jq -e . "$1" >/dev/null || fail "$1 is not valid JSON"
	jq -e '
		(.score | type == "number") and (.tests | type == "array") and
		(.tests | length > 0) and
		all(.tests[]; (.name | type == "string") and (.score | type == "number") and
			(.max_score | type == "number") and .score >= 0 and .score <= .max_score and
			(.status == "passed" or .status == "failed") and (.output | type == "string") and
			(.visibility | IN("visible", "hidden", "after_due_date", "after_published"))) and
		(([.tests[].score] | add) - .score | fabs) < 0.01' "$1" >/dev/null ||
		fail "$1 is not in Gradescope's format: $(head -c 600 "$1")"
}

# check_junit FILE ROWS: well-formed XML with one testcase per rubric row.
check_junit() {
	local n
	if command -v xmllint >/dev/null; then
		xmllint --noout "$1" || fail "$1 is not well-formed XML"
	elif command -v python3 >/dev/null; then
		python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$1" ||
			fail "$1 is not well-formed XML"
	fi
	n=$(grep -c '<testcase ' "$1")
	[[ $n -eq $2 ]] || fail "$1 has $n testcases, expected $2 (one per rubric row)"
}

rubric_rows() {
	grep -v '^#' "$KIT/grader/rubric.tsv" | tail -n +2 | grep -c .
}

# check_failing RESULTS IDS: every rubric id in IDS (separated by " ; ")
# failed in RESULTS.
check_failing() {
	local results=$1 ids=$2 id st
	[[ $ids == - ]] && return 0
	while IFS= read -r id; do
		[[ -n $id ]] || continue
		st=$(jq -r --arg id "$id" '[.tests[] | select(.number == $id) | .status][0] // "absent"' "$results")
		[[ $st == failed ]] || fail "rubric row '$id' should have failed; its status is $st"
	done <<<"${ids// ; /$'\n'}"
}

# uid_leftovers FIRST COUNT: processes of those uids, and IPC objects they
# own or that carry their names, in the machine's /dev/shm and /dev/mqueue.
uid_leftovers() {
	local uid
	for ((uid = $1; uid < $1 + $2; uid++)); do
		pgrep -a -u "$uid" 2>/dev/null | sed "s/^/process of uid $uid: /"
		find /dev/shm /dev/mqueue -maxdepth 1 \( -user "$uid" -o -name "ipclab.$uid*" \) \
			-printf "IPC object of uid $uid: %p\n" 2>/dev/null
	done
	return 0
}

# dir_processes DIR: processes whose command line or program lies under DIR.
dir_processes() {
	local p exe
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null)
		if [[ $exe == "$1"/* ]] || tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF "$1/"; then
			printf 'process %s: %s\n' "${p#/proc/}" "$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
		fi
	done
	return 0
}

# check_nothing_left FIRST_UID COUNT DIR: nothing of a finished grade is
# left running or lying around.
check_nothing_left() {
	local left
	left=$(uid_leftovers "$1" "$2"; dir_processes "$3"
		find "$3" -maxdepth 2 -name 'ipclab-grade.*' -printf 'work folder left: %p\n' 2>/dev/null)
	[[ -z $left ]] || fail "left behind after the grade: $left"
}

# grade_tmpdir: a fresh folder for the grades of this test, which the
# graded uids can reach (bats's own folders are private to root). Sets
# GRADE_TMP; helpers_teardown removes it.
grade_tmpdir() {
	GRADE_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ipclab-gradertest.XXXXXX")
	chmod 755 "$GRADE_TMP"
}

helpers_teardown() {
	[[ -n ${GRADE_TMP:-} ]] && rm -rf "$GRADE_TMP"
	return 0
}

# scaled_bound SECONDS: a time bound times GRADER_TIMEOUT_SCALE (which
# the grader applies to its own limits too), in whole seconds.
scaled_bound() {
	awk -v s="$1" -v k="${GRADER_TIMEOUT_SCALE:-1}" 'BEGIN { printf "%d\n", s * k + 0.999 }'
}

# run_grade SECONDS UID SUBMISSION [GRADE OPTIONS...]: grades as uids from
# UID; stops the grade only at three times the bound, so that a slow grade
# is reported with its time. Sets status, output, and elapsed (seconds).
# Its TMPDIR is GRADE_TMP, so that every file and process of the grade is
# recognisable there.
# elapsed is read by the callers.
# shellcheck disable=SC2034
run_grade() {
	local limit=$1 uid=$2 sub=$3 t0
	shift 3
	t0=$SECONDS
	run env TMPDIR="$GRADE_TMP" timeout -k 5 "$((limit * 3))" \
		"$GRADE" --quiet --no-kit-build -j 2 --uid "$uid" "$@" "$sub" 3>&- 4>&-
	elapsed=$((SECONDS - t0))
}
