#!/usr/bin/env bats
# The grader is design-agnostic: grader/independent/, a second queue-variant
# implementation designed apart from the reference (its design.md says
# how), scores full marks on every rubric row, within a time bound, and
# leaves nothing behind.

setup() {
	load helpers
	require_kit_built
	grade_tmpdir
}

teardown() {
	helpers_teardown
}

# Seconds for the whole grade (times GRADER_TIMEOUT_SCALE). It takes 65-75 s
# on a quiet two-core machine and took up to 107 s with other suites
# running beside it; the bound catches a grade that hangs, not a slow one.
INDEPENDENT_GRADE_SECONDS=150
INDEPENDENT_UID=64400

# shellcheck disable=SC2154 # run_grade sets elapsed
@test "grader: the independent implementation scores full marks on every row" {
	local sub=$GRADE_TMP/independent out=$BATS_TEST_TMPDIR/out bound short
	bound=$(scaled_bound "$INDEPENDENT_GRADE_SECONDS")
	mkdir -p "$sub"
	cp "$KIT"/grader/independent/*.[ch] "$sub/"
	run_grade "$bound" "$INDEPENDENT_UID" "$sub" -o "$out"
	echo "graded the independent implementation in ${elapsed}s: $output"
	check_nothing_left "$INDEPENDENT_UID" 20 "$GRADE_TMP"
	[[ $status -eq 0 ]] || fail "grade exited $status: $output"
	check_results_json "$out/results.json"
	short=$(jq -r '.tests[] | select(.score != .max_score or .status != "passed") |
		"\(.number): \(.score) of \(.max_score)\n\(.output | .[0:1500])"' "$out/results.json")
	[[ -z $short ]] || fail "rows below full marks: $short"
	[[ $elapsed -le $bound ]] || fail "the grade took ${elapsed}s, over its bound of ${bound}s"
}
