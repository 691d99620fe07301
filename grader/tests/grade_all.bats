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

@test "grade-all: a batch gives a CSV with status and time, a summary and a progress bar" {
	local subs=$GRADE_TMP/subs out=$BATS_TEST_TMPDIR/out rows
	mkdir -p "$subs"
	make_submission solution "$subs" >/dev/null
	make_submission no-compile "$GRADE_TMP" >/dev/null
	tar -czf "$subs/no-compile.tar.gz" -C "$GRADE_TMP" no-compile
	# A folder the grader must not follow, and a file that is no submission.
	ln -s "$KIT/solution/mqueue" "$subs/linked"
	echo hello >"$subs/notes.txt"
	run env TMPDIR="$GRADE_TMP" timeout -k 5 240 "$KIT/grader/grade-all" \
		-j 2 --uid 64300 --only 'malformed' -o "$out" "$subs" 3>&- 4>&-
	echo "$output"
	assert_success
	assert_output --regexp '\[#+\] 4/4'
	rows=$(rubric_rows)
	# A header and one line per submission: name, status, seconds, total,
	# one field per rubric row, reason.
	run python3 -c 'import csv, sys; print("\n".join(str(len(r)) for r in csv.reader(open(sys.argv[1]))))' "$out/scores.csv"
	assert_output "$(printf '%s\n' "$((rows + 5))" "$((rows + 5))" "$((rows + 5))" "$((rows + 5))" "$((rows + 5))")"
	assert_equal "$(head -n1 "$out/scores.csv" | cut -d, -f1-5)" "submission,status,seconds,total,compile"
	assert_equal "$(grep '^solution,' "$out/scores.csv" | cut -d, -f2,4,5)" "graded,11,10"
	assert_equal "$(grep '^no-compile,' "$out/scores.csv" | cut -d, -f2,4,5)" "graded,0,0"
	[[ $(grep '^solution,' "$out/scores.csv" | cut -d, -f3) =~ ^[0-9]+(\.[0-9])?$ ]]
	# The link and the stray file are errors with their reason, not zeros.
	assert_equal "$(grep '^linked,' "$out/scores.csv" | cut -d, -f2,4)" "error,"
	grep '^linked,' "$out/scores.csv" | grep -q 'symbolic link'
	grep '^notes.txt,\|^notes,' "$out/scores.csv" | grep -q 'neither a folder'
	run cat "$out/summary.txt"
	assert_output --partial "graded 2 of 4 submission(s)"
	assert_output --regexp "median 5\.5 +min 0 +max 11"
	assert_output --partial "2 submission(s) could not be read"
	# The histogram: ten bins, the two graded totals in them.
	assert_equal "$(grep -cE '^ *[0-9]+-[0-9]+ +[0-9]+' "$out/summary.txt")" 10
	assert_equal "$(awk '$1 ~ /^[0-9]+-/ { n += $2 } END { print n }' "$out/summary.txt")" 2
	check_results_json "$out/solution/results.json"
	check_results_json "$out/no-compile/results.json"
	check_nothing_left 64300 20 "$GRADE_TMP"
}

@test "grade-all: a grader failure is listed apart, not scored, and the status is 1" {
	local subs=$GRADE_TMP/subs out=$BATS_TEST_TMPDIR/out
	mkdir -p "$subs"
	make_submission solution "$subs" >/dev/null
	# A scale the grader refuses: every grade fails before it starts.
	run env TMPDIR="$GRADE_TMP" GRADER_TIMEOUT_SCALE=fast timeout -k 5 120 "$KIT/grader/grade-all" \
		--uid 64320 -o "$out" "$subs" 3>&- 4>&-
	assert_failure 1
	assert_equal "$(grep '^solution,' "$out/scores.csv" | cut -d, -f2,4)" "grader-failure,"
	run cat "$out/summary.txt"
	assert_output --partial "graded 0 of 1 submission(s)"
	assert_output --partial "1 submission(s) hit a grader failure"
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
