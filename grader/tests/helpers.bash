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

# One time scale for every grade of a bats run and for the bounds its tests
# hold those grades to: the machine's, measured once (sandbox.bash
# calibrate), unless GRADER_TIMEOUT_SCALE sets one.
if [[ -z ${GRADER_TIMEOUT_SCALE:-} || $GRADER_TIMEOUT_SCALE == auto ]]; then
	if [[ ! -s $BATS_RUN_TMPDIR/grader-scale ]]; then
		bash "$KIT/tests/lib/sandbox.bash" calibrate | cut -d' ' -f1 >"$BATS_RUN_TMPDIR/grader-scale"
	fi
	GRADER_TIMEOUT_SCALE=$(cat "$BATS_RUN_TMPDIR/grader-scale")
fi
export GRADER_TIMEOUT_SCALE

# The variant graded: make_submission takes its files, run_grade passes it
# to the grader. grade_expected sets it for each of GRADER_TEST_VARIANTS.
GRADE_VARIANT=${GRADE_VARIANT:-mqueue}
GRADER_TEST_VARIANTS=${GRADER_TEST_VARIANTS:-mqueue socket}

# variants_for NAME: the variants whose starter or fixture NAME is graded
# (each reference has a test of its own in grader.bats): all of
# GRADER_TEST_VARIANTS under IPCLAB_KIT_FULL=1 (make kit-check); otherwise,
# to keep make test quick, one of them, taking turns down expected.tsv so
# that the fixtures of both variants are graded. (The other variant's
# untouched starter is still checked in make test: handout.bats runs a
# student's make test on it, and design.bats grades both design starters.)
variants_for() {
	local n
	if [[ ${IPCLAB_KIT_FULL:-} == 1 ]]; then
		echo "$GRADER_TEST_VARIANTS"
		return
	fi
	n=$(grep -v '^#' "$EXPECTED" | cut -f1 | grep -nxF "$1" | cut -d: -f1)
	local -a all
	read -ra all <<<"$GRADER_TEST_VARIANTS"
	echo "${all[$((${n:-0} % ${#all[@]}))]}"
}

# make_submission NAME DIR: writes DIR/NAME holding the editable files of
# GRADE_VARIANT: solution/<variant>/'s for "solution", starter/<variant>/'s
# for "starter", else solution/<variant>/'s patched with
# grader/fixtures/<variant>/NAME.patch. Prints the folder.
make_submission() {
	local name=$1 dir=$2/$1 from=solution
	[[ $name == starter ]] && from=starter
	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$KIT/$from/$GRADE_VARIANT"/*.[ch] "$dir/"
	if [[ $name != solution && $name != starter ]]; then
		patch -p1 -s -d "$dir" --no-backup-if-mismatch <"$FIXTURES/$GRADE_VARIANT/$name.patch" ||
			fail "the fixture $GRADE_VARIANT/$name.patch does not apply to solution/$GRADE_VARIANT/"
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
	n=$(grep -o '<testcase ' "$1" | wc -l)
	[[ $n -eq $2 ]] || fail "$1 has $n testcases, expected $2 (one per rubric row)"
}

rubric_rows() {
	python3 "$KIT/grader/lib/rubric.py" count "$KIT/grader/rubric.tsv"
}

# check_failing GRADE_JSON IDS: every rubric id in IDS (separated by " ; ")
# failed in GRADE_JSON (the grader's records; results.json numbers rows).
check_failing() {
	local grade=$1 ids=$2 id st
	[[ $ids == - ]] && return 0
	while IFS= read -r id; do
		[[ -n $id ]] || continue
		st=$(jq -r --arg id "$id" '[.rows[] | select(.id == $id) | .status][0] // "absent"' "$grade")
		[[ $st == FAIL ]] || fail "rubric row '$id' should have failed; its status is $st"
	done <<<"${ids// ; /$'\n'}"
}

# failed_rows GRADE_JSON: the ids of the rows that failed and were graded
# (neither "not graded (--only)" nor "not run"), one a line.
failed_rows() {
	jq -r '.rows[] | select(.status == "FAIL" and (.reason | test("^not (graded|run)") | not)) | .id' "$1"
}

# row_reason GRADE_JSON ID: the reason a row failed.
row_reason() {
	jq -r --arg id "$2" '.rows[] | select(.id == $id) | .reason' "$1"
}

# check_grade_clean OUT: the grade's own machinery made no error: no shell
# error in any test's log (an error of the harness or of a test is the
# kit's bug, never the student's), no Python traceback on stderr.
check_grade_clean() {
	local hits
	hits=$(grep -HE 'unbound variable|command not found|syntax error|bad substitution|Traceback' \
		"$1"/logs/*.tap 2>/dev/null | head -n 5)
	[[ -z $hits ]] || fail "the grade's logs show errors of the kit: $hits"
}

# uid_leftovers FIRST COUNT DIR: processes of those uids running a program
# under DIR (a grade of another kit on this machine may use the same uids),
# and IPC objects they own or that carry their names, in the machine's
# /dev/shm and /dev/mqueue.
uid_leftovers() {
	local uid
	for ((uid = $1; uid < $1 + $2; uid++)); do
		pgrep -a -u "$uid" 2>/dev/null | grep -F -- "$3/" | sed "s/^/process of uid $uid: /"
		find /dev/shm /dev/mqueue -maxdepth 1 \( -user "$uid" -o -name "ipclab.$uid*" \) \
			-printf "IPC object of uid $uid: %p\n" 2>/dev/null
	done
	return 0
}

# dir_processes DIR: processes whose command line or program lies under DIR.
# A process may end between the glob and the reads: the loop's errors are
# not ours to show.
dir_processes() {
	local p exe
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe")
		if [[ $exe == "$1"/* ]] || tr '\0' ' ' <"$p/cmdline" | grep -qF "$1/"; then
			printf 'process %s: %s\n' "${p#/proc/}" "$(tr '\0' ' ' <"$p/cmdline")"
		fi
	done 2>/dev/null
	return 0
}

# check_nothing_left FIRST_UID COUNT DIR: nothing of a finished grade is
# left running or lying around.
check_nothing_left() {
	local left
	left=$(uid_leftovers "$1" "$2" "$3"; dir_processes "$3"
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
# elapsed is read by the callers; lines and output are set by run.
# shellcheck disable=SC2034,SC2154
run_grade() {
	local limit=$1 uid=$2 sub=$3 t0
	shift 3
	t0=$SECONDS
	run env TMPDIR="$GRADE_TMP" timeout -k 5 "$((limit * 3))" \
		"$GRADE" --quiet --no-kit-build -j 2 --uid "$uid" --variant "$GRADE_VARIANT" "$@" "$sub" 3>&- 4>&-
	elapsed=$((SECONDS - t0))
	# --quiet prints one line (ending INCOMPLETE when the machine kept rows
	# from running): anything more (a traceback, a warning) is the
	# grader's own error.
	local quiet_line=$'^[^[:space:]]+\t[0-9.]+\t[0-9.]+(\tINCOMPLETE)?$'
	[[ ${#lines[@]} -eq 1 && ${lines[0]} =~ $quiet_line ]] ||
		fail "grade --quiet printed more than its line: $output"
}

# plant_others DIR: another submission and another grade's report in DIR,
# world-readable (as a careless course server keeps them), each holding a
# marker that check_no_secrets looks for.
plant_others() {
	mkdir -p "$1/other/submission" "$1/other/grade"
	echo '/* ipclab-other-submission-marker */' >"$1/other/submission/simplecached.c"
	echo 'ipclab-other-report-marker' >"$1/other/grade/report.txt"
	chmod -R a+rX "$1/other"
}

# check_no_secrets OUT [unsealed]: the grade of the reads-secrets fixture,
# whose cache searches the whole file system for files that look secret
# and prints what it reads: in a sealed root it read none (its log shows
# it tried, and counted 0); without one (a container that refuses
# namespaces: the uid and file modes are the guard) it reads the public
# files such a search also matches (the lab, the starter, its own
# submission), so only its count shows it ran. Either way no byte of a
# secret reached any report. The markers are lines only those sources
# hold: the reference, the hidden tests, the rubric, grader/independent/, a
# .git (its config, or a worktree's .git file), and plant_others' files.
check_no_secrets() {
	local out=$1 f marker
	if [ "${2:-}" = unsealed ]; then
		grep -qsE 'reads-secrets: read [0-9]+ secret files' "$out"/logs/*.tap ||
			fail "the fixture's search does not show in its logs"
	else
		grep -qsE 'No such file|Permission denied|cannot open' "$out"/logs/*.tap ||
			fail "the fixture's attempts do not show in its logs"
		grep -qsF 'reads-secrets: read 0 secret files' "$out"/logs/*.tap ||
			fail "the fixture read secret files: $(grep -hs -m3 'reads-secrets: read\|^# == ' "$out"/logs/*.tap | head -n 5)"
	fi
	for marker in '//@ begin' 'hidden_setup' '#= budget' "load 'common'" '(independent implementation)' \
		'repositoryformatversion' 'gitdir:' 'ipclab-other-submission-marker' 'ipclab-other-report-marker'; do
		for f in "$out"/results.json "$out"/report.txt "$out"/junit.xml "$out"/logs/*.tap; do
			! grep -qF -- "$marker" "$f" || fail "$(basename "$f") holds '$marker', read by student code"
		done
	done
	# Another grade's TAP log would show its plan line in the fixture's output.
	! grep -qE '^#[[:space:]]+1\.\.1$' "$out"/logs/*.tap || fail "the fixture read a grader's TAP log"
	# Nor any grader path or hidden test file name in what students see.
	! grep -qE 'grader/|hidden/[a-z]+\.bats|ipclab-grade\.' "$out/results.json" ||
		fail "results.json names grader files: $(grep -oE '.{30}(grader/|hidden/|ipclab-grade\.).{30}' "$out/results.json" | head -n 3)"
}
