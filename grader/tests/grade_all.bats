#!/usr/bin/env bats
# grader/grade-all on a tiny batch: the reference as a folder and the
# no-compile fixture as a .tar.gz, graded on one rubric row to stay quick.

setup() {
	load helpers
	require_kit_built
	grade_tmpdir
}

teardown() {
	helpers_teardown
}

@test "grade-all: a batch gives a CSV of per-row scores, a summary and a progress bar" {
	local subs=$GRADE_TMP/subs out=$BATS_TEST_TMPDIR/out rows
	mkdir -p "$subs"
	make_submission solution "$subs" >/dev/null
	make_submission no-compile "$GRADE_TMP" >/dev/null
	tar -czf "$subs/no-compile.tar.gz" -C "$GRADE_TMP" no-compile
	run env TMPDIR="$GRADE_TMP" timeout -k 5 240 "$KIT/grader/grade-all" \
		-j 2 --uid 64300 --only 'malformed' -o "$out" "$subs" 3>&- 4>&-
	echo "$output"
	assert_success
	assert_output --regexp '\[#+\] 2/2'
	rows=$(rubric_rows)
	# A header and one line per submission, each with a name, a total and
	# one field per rubric row.
	run awk -F, '{ print NF }' "$out/scores.csv"
	assert_output "$(printf '%s\n' "$((rows + 2))" "$((rows + 2))" "$((rows + 2))")"
	assert_equal "$(head -n1 "$out/scores.csv" | cut -d, -f1-3)" "submission,total,compile"
	assert_equal "$(grep '^solution,' "$out/scores.csv" | cut -d, -f2-3)" "11,10"
	assert_equal "$(grep '^no-compile,' "$out/scores.csv" | cut -d, -f2-3)" "0,0"
	run cat "$out/summary.txt"
	assert_output --partial "graded 2 submission(s)"
	assert_output --regexp "median 5\.5 +min 0 +max 11"
	# The histogram: ten bins, the two totals in the lowest two.
	assert_equal "$(grep -cE '^ *[0-9]+-[0-9]+ +[0-9]+' "$out/summary.txt")" 10
	assert_equal "$(awk '$1 ~ /^[0-9]+-/ { n += $2 } END { print n }' "$out/summary.txt")" 2
	check_results_json "$out/solution/results.json"
	check_results_json "$out/no-compile/results.json"
	check_nothing_left 64300 20 "$GRADE_TMP"
}

@test "grade-all: bad usage gets a usage line and status 2" {
	run "$KIT/grader/grade-all"
	assert_failure 2
	assert_output --partial "usage:"
	run "$KIT/grader/grade-all" -j 0 "$BATS_TEST_TMPDIR"
	assert_failure 2
	run "$KIT/grader/grade-all" "$BATS_TEST_TMPDIR"
	assert_failure 2
	assert_output --partial "no submission"
}
