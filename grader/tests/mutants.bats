#!/usr/bin/env bats
# The mutation suite (grader/mutants/): every patch still applies to the
# reference and names rubric rows that exist, the bug classes are all
# there, and a few mutants (the CI subset, a few minutes) are each caught
# by a row whose reason names the bug. `make mutants` grades them all.

setup() {
	load helpers
	require_kit_built
	run_mutants=$KIT/grader/mutants/run
}

@test "mutants: at least 15, every class of bug, each applying to solution/ and naming real rows" {
	run timeout 120 python3 "$run_mutants" --check
	assert_success
	assert_output --regexp '^([0-9]+)/\1 mutants apply to solution/$'
	[ "$(find "$KIT/grader/mutants" -name '*.patch' | wc -l)" -ge 15 ]
	local class
	for class in "cleanup" "chunk arithmetic" "flags ignored" "synchronisation misuse" "busy waiting" \
		"leak per request" "signal handling" "unbounded waits" "shared offsets"; do
		grep -qF "($class):" "$KIT"/grader/mutants/*.patch || fail "no mutant of the class $class"
	done
}

@test "mutants: --check reports a patch that no longer applies, or names no row" {
	sed -e 's/o.segment_size = (size_t)v;/o.segment_size = (size_t)w;/' \
		"$KIT/grader/mutants/flag-z-ignored.patch" >"$BATS_TEST_TMPDIR/stale.patch"
	sed -e 's/^Must fail: .*/Must fail: tests\/no_such:row/' \
		"$KIT/grader/mutants/flag-n-ignored.patch" >"$BATS_TEST_TMPDIR/norow.patch"
	run timeout 120 python3 "$run_mutants" --check "$BATS_TEST_TMPDIR/stale.patch" "$BATS_TEST_TMPDIR/norow.patch"
	assert_failure
	assert_line --partial "BROKEN  stale.patch: does not apply"
	assert_line --partial "BROKEN  norow.patch: 'Must fail: tests/no_such:row' names no rubric row"
	assert_line "0/2 mutants apply to solution/"
}

# The CI subset: a cleanup bug, a flag ignored and a busy wait, each graded
# on its own rows (grader/grade --only).
@test "mutants: the CI subset is caught, each by a row that names its bug" {
	local limit
	limit=$(awk -v s="${GRADER_TIMEOUT_SCALE:-1}" 'BEGIN { printf "%d", 600 * s }')
	run timeout "$limit" python3 "$run_mutants" -o "$BATS_TEST_TMPDIR/out" \
		cleanup-mq-unlink flag-z-ignored busy-wait-turn
	echo "$output"
	assert_success
	assert_line "caught 3/3"
	assert_output --regexp 'caught  Mutant busy-wait-turn .*'
	assert_output --partial "CPU"
}

@test "mutants: a mutant whose rows do not fail is reported missed" {
	# flag-z-ignored does not touch the handling of a malformed request.
	sed -e 's/^Must fail: .*/Must fail: tests\/solution_transfer:a malformed request/' \
		"$KIT/grader/mutants/flag-z-ignored.patch" >"$BATS_TEST_TMPDIR/wrong-rows.patch"
	run timeout 300 python3 "$run_mutants" -o "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/wrong-rows.patch"
	assert_failure
	assert_line --partial "MISSED  Mutant flag-z-ignored"
	assert_line --partial "NOT FAILED: tests/solution_transfer:a malformed request"
	assert_line "caught 0/1"
}
