#!/usr/bin/env bats
# The grader on the reference, the untouched starter and every hostile
# fixture of grader/fixtures/: each gets the score expected.tsv gives, within
# its time bound, with a valid results.json (Gradescope) and junit.xml, and
# nothing left running or lying in /dev/shm or /dev/mqueue afterwards.

setup() {
	load helpers
	require_kit_built
	grade_tmpdir
}

teardown() {
	helpers_teardown
}

# grade_expected NAME UID: grades NAME as expected.tsv describes it (all
# rows, or only those its "rows" regex matches) with uids from UID, and
# checks everything the file says about it. (run_grade sets elapsed.)
# shellcheck disable=SC2154
grade_expected() {
	local name=$1 uid=$2 rows score seconds failing sub out got
	rows=$(expected_field "$name" 2)
	score=$(expected_field "$name" 3)
	seconds=$(scaled_bound "$(expected_field "$name" 4)")
	failing=$(expected_field "$name" 5)
	sub=$(make_submission "$name" "$GRADE_TMP")
	out=$BATS_TEST_TMPDIR/out
	local -a only=()
	[[ $rows == '*' ]] || only=(--only "$rows")
	run_grade "$seconds" "$uid" "$sub" -o "$out" "${only[@]}"
	echo "graded $name in ${elapsed}s: $output"
	check_nothing_left "$uid" 20 "$GRADE_TMP"
	[[ $status -eq 0 ]] || fail "grade exited $status: $output"
	[[ -s $out/results.json && -s $out/junit.xml ]] || fail "no results.json or junit.xml in $out"
	check_results_json "$out/results.json"
	check_junit "$out/junit.xml" "$(rubric_rows)"
	got=$(jq -r .score "$out/results.json")
	[[ $output == "$name"$'\t'"$got"$'\t'* ]] || fail "the summary line '$output' does not match results.json's score $got"
	score_matches "$got" "$score" ||
		fail "$name scored $got, expected $score; failed: $(jq -r '[.tests[] | select(.status == "failed") | .number] | join(" ; ")' "$out/results.json")"
	check_failing "$out/results.json" "$failing"
	[[ $elapsed -le $seconds ]] || fail "the grade of $name took ${elapsed}s, over its bound of ${seconds}s"
}

@test "grader: the reference solution scores full marks" {
	grade_expected solution 64000
}

@test "grader: the untouched starter scores only the compile points" {
	grade_expected starter 64020
	jq -e '.tests[] | select(.number == "compile") | .status == "passed"' "$BATS_TEST_TMPDIR/out/results.json"
}

@test "grader: fixture no-compile scores 0 and shows the compiler's error" {
	grade_expected no-compile 64040
	grep -q 'fre' "$BATS_TEST_TMPDIR/out/build.log"
	jq -e '.tests[] | select(.number == "compile") | .output | contains("error")' "$BATS_TEST_TMPDIR/out/results.json"
}

@test "grader: fixture segfault-start" {
	grade_expected segfault-start 64060
}

@test "grader: fixture deadlock" {
	grade_expected deadlock 64080
}

@test "grader: fixture busy-loop" {
	grade_expected busy-loop 64100
}

@test "grader: fixture fork-bomb" {
	grade_expected fork-bomb 64120
}

@test "grader: fixture ipc-leak" {
	grade_expected ipc-leak 64140
}

@test "grader: fixture ignores-sigterm" {
	grade_expected ignores-sigterm 64160
}

@test "grader: fixture stdout-flood keeps its reports small" {
	grade_expected stdout-flood 64180
	local size
	size=$(du -sk "$BATS_TEST_TMPDIR/out" | cut -f1)
	[[ $size -lt 65536 ]] || fail "the reports take ${size} KiB"
}

@test "grader: fixture leftover-process" {
	grade_expected leftover-process 64200
}

@test "grader: every fixture has a row in expected.tsv and every row a fixture" {
	local f name
	for f in "$FIXTURES"/*.patch; do
		name=$(basename "$f" .patch)
		expected_field "$name" 1 >/dev/null
	done
	while IFS=$'\t' read -r name _; do
		[[ $name == \#* || $name == name || $name == solution || $name == starter ]] && continue
		[[ -f $FIXTURES/$name.patch ]] || fail "expected.tsv names $name, which has no patch"
	done <"$EXPECTED"
}
