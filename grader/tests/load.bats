#!/usr/bin/env bats
# Load changes how long a grade takes, never its score: one graded row
# beside a CPU hog passes, or is NOT RUN in an incomplete grade (exit 3),
# never fails.

# run_grade sets status and output in the test, read by the helpers.
# shellcheck disable=SC2030,SC2031

setup() {
	load helpers
	require_kit_built
	grade_tmpdir
	hogs=()
}

teardown() {
	local pid
	for pid in "${hogs[@]}"; do
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
	done
	helpers_teardown
}

# start_hogs N: N busy loops, each in a process group of its own (stopped
# by that pid in teardown), with bats's descriptors closed.
start_hogs() {
	local i
	for ((i = 0; i < $1; i++)); do
		setsid sh -c 'while :; do :; done' 3>&- 4>&- &
		hogs+=("$!")
	done
}

@test "load: a row graded beside busy loops passes or is NOT RUN, never FAIL" {
	local sub out=$BATS_TEST_TMPDIR/out row='tests/solution_transfer:a miss gets' st
	sub=$(make_submission solution "$GRADE_TMP")
	# A loop per core keeps every core busy; more would only take CPU from
	# the suites beside this one.
	start_hogs "$(nproc)"
	# The grade measures the machine with the loops running: its own scale.
	GRADER_TIMEOUT_SCALE=auto run_grade 300 64400 "$sub" -o "$out" --only 'a miss gets'
	check_nothing_left 64400 20 "$GRADE_TMP"
	st=$(jq -r --arg id "$row" '.rows[] | select(.id == $id) | .status' "$out/grade.json")
	case $status in
	0) [[ $st == PASS ]] || fail "graded beside the loops, the row is $st: $(row_reason "$out/grade.json" "$row")" ;;
	3)
		[[ $st == "NOT RUN" ]] || fail "an incomplete grade, yet the row is $st"
		jq -e '.status == "incomplete"' "$out/grade.json" >/dev/null
		head -n 1 "$out/report.txt" | grep -q '^INCOMPLETE' || fail "report.txt does not start INCOMPLETE"
		;;
	*) fail "grade exited $status: $output" ;;
	esac
	# The header shows what the grade measured of the machine.
	grep -qE '^machine: calibration [0-9]+ ms.*time scale x[0-9.]+; [0-9]+ slot' "$out/report.txt" ||
		fail "no machine line in report.txt: $(head -n 4 "$out/report.txt")"
}
