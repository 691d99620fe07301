#!/usr/bin/env bats
# The mutation suite (grader/mutants/, and grader/mutants/socket/ for the
# socket variant): every patch still applies to its variant's reference and
# names rubric rows that exist, the bug classes are all there in both sets,
# and a few mutants (the CI subset, a few minutes) are each caught by a row
# whose reason names the bug. `make mutants` grades them all.

setup() {
	load helpers
	require_kit_built
	run_mutants=$KIT/grader/mutants/run
}

@test "mutants: at least 15 of mqueue and 8 of socket, every class of bug in each, each applying to its reference and naming real rows" {
	run timeout 120 python3 "$run_mutants" --check
	assert_success
	assert_line --regexp '^([0-9]+)/\1 mutants apply to solution/mqueue/$'
	assert_line --regexp '^([0-9]+)/\1 mutants apply to solution/socket/$'
	[ "$(find "$KIT/grader/mutants" -maxdepth 1 -name '*.patch' | wc -l)" -ge 15 ]
	[ "$(find "$KIT/grader/mutants/socket" -name '*.patch' | wc -l)" -ge 8 ]
	local class set
	for set in "$KIT/grader/mutants" "$KIT/grader/mutants/socket"; do
		# No "signal handling": since issue 21 lab/ alone blocks and waits for
		# the stop signals, so a student has no signal code to get wrong.
		for class in "cleanup" "chunk arithmetic" "flags ignored" "synchronisation misuse" "busy waiting" \
			"leak per request" "unbounded waits" "shared offsets"; do
			grep -qF "($class):" "$set"/*.patch || fail "no mutant of the class $class in $set"
		done
	done
	# Classes only the socket design can have.
	for class in "peer hang-up" "command-channel backlog"; do
		grep -qF "($class):" "$KIT/grader/mutants/socket"/*.patch || fail "no socket mutant of the class $class"
	done
}

@test "mutants: --check reports a patch that no longer applies, or names no row" {
	sed -e 's/^ \tmemset(seg, 0, / \tmemset(seg, 1, /' \
		"$KIT/grader/mutants/flag-z-ignored.patch" >"$BATS_TEST_TMPDIR/stale.patch"
	sed -e 's/^Must fail: .*/Must fail: tests\/no_such:row/' \
		"$KIT/grader/mutants/chunk-last-dropped.patch" >"$BATS_TEST_TMPDIR/norow.patch"
	# A socket mutant applies to solution/socket/, so a stale one is counted there.
	sed -e 's/^ \tmemset(seg, 0, / \tmemset(seg, 1, /' \
		"$KIT/grader/mutants/socket/flag-z-ignored.patch" >"$BATS_TEST_TMPDIR/stale-socket.patch"
	run timeout 120 python3 "$run_mutants" --check "$BATS_TEST_TMPDIR/stale.patch" "$BATS_TEST_TMPDIR/norow.patch" \
		"$BATS_TEST_TMPDIR/stale-socket.patch" socket/flag-z-ignored
	assert_failure
	assert_line --partial "BROKEN  stale.patch: does not apply"
	assert_line --partial "BROKEN  norow.patch: 'Must fail: tests/no_such:row' names no rubric row"
	assert_line --partial "BROKEN  stale-socket.patch: does not apply"
	assert_line "0/2 mutants apply to solution/mqueue/"
	assert_line "1/2 mutants apply to solution/socket/"
}

# The CI subset: a cleanup bug and a busy wait in mqueue, and a cleanup bug
# in socket (graded as the socket variant), each graded on its own rows
# (grader/grade --only): a reason naming a leftover, one naming CPU use,
# and the socket variant's own leftover. make mutants grades every mutant.
@test "mutants: the CI subset is caught, each by a row that names its bug" {
	local limit
	limit=$(awk -v s="${GRADER_TIMEOUT_SCALE:-1}" 'BEGIN { printf "%d", 600 * s }')
	run timeout "$limit" python3 "$run_mutants" -o "$BATS_TEST_TMPDIR/out" \
		cleanup-mq-unlink busy-wait-turn socket/cleanup-socket-unlink
	echo "$output"
	assert_success
	assert_line "caught 3/3"
	assert_output --regexp 'caught  Mutant busy-wait-turn .*'
	assert_output --partial "CPU"
	assert_output --regexp 'caught  Mutant cleanup-socket-unlink .*'
	# The socket mutant's rows ran the socket variant: its leftover is a socket file.
	assert_output --regexp 'SIGTERM: both .*sock /dev/shm/[^ ]*\.sock'
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
